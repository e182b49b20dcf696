import Foundation
import ScopeGateTesting
import Testing
import ScopeGateApp
import ScopeGateCore

@Suite struct DemoConfigurationTests {
    @Test func embeddedPolicyIsTheShippedFile() throws {
        let shipped = try String(contentsOf: repositoryRoot.appendingPathComponent("policies/demo.yaml"), encoding: .utf8)
        #expect(DemoConfiguration.policyYAML == shipped)
    }

    @Test func demoFilesLoad() throws {
        let users = try UserDirectory.load(yaml: DemoConfiguration.usersYAML, file: "demo-users.yaml")
        #expect(users.users.keys.sorted() == ["alice", "johndoe"])
        #expect(users["alice"]?.disabled == true)
        let policy = try Policy.load(yaml: DemoConfiguration.policyYAML, file: "policies/demo.yaml")
        #expect(policy.rules.count == 5)
        #expect(DemoConfiguration.secret.utf8.count >= HMACKey.minimumSecretLength)
    }
}
