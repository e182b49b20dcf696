import Foundation
import ScopeGateTesting
import Testing

/// `scopegate policy test`: the shipped demo policy passes its own cases; a failing case is reported with
/// the rule that decided it and fails the run; a malformed cases file is refused with its place.
@Suite struct PolicyTestCommandTests {
    @Test func theDemoPolicyPassesItsCases() throws {
        let root = repositoryRoot.path
        let result = try run(["policy", "test", root + "/policies/demo.cases.yaml", "--policy", root + "/policies/demo.yaml"])
        #expect(result.status == 0, "\(result.output)\(result.errors)")
        #expect(result.output.hasSuffix("12 of 12 cases pass\n"), "\(result.output)")
    }

    @Test func aFailingCaseNamesItsRuleAndFailsTheRun() throws {
        let policy = try temporaryFile(
            "policy.yaml", "rules:\n  - hosts: [admin.example.com]\n    path: /**\n    scopes: [admin]\n  - path: /public/**\n    public: true\n")
        let cases = try temporaryFile(
            "cases.yaml",
            """
            cases:
              - name: public elsewhere
                host: www.example.com
                path: /public/a
                expect: 200
              - name: wrongly expected open
                host: admin.example.com
                path: /public/a
                expect: 200
              - name: an admin scope the user's record lacks counts for nothing
                host: admin.example.com
                path: /x
                user: johndoe
                scopes: [admin]
                expect: 401
            """)
        let result = try run(["policy", "test", cases, "--policy", policy])
        #expect(result.status == 1)
        #expect(result.output.contains("ok    public elsewhere"))
        #expect(result.output.contains("FAIL  wrongly expected open (\(cases):6): expected 200, got 401 from rule admin.example.com /**"), "\(result.output)")
        #expect(result.output.contains("ok    an admin scope the user's record lacks counts for nothing"))
        #expect(result.output.hasSuffix("2 of 3 cases pass\n"))
    }

    @Test func aMalformedCasesFileIsRefusedWithItsPlace() throws {
        let cases = try temporaryFile(
            "cases.yaml", "cases:\n  - path: /x\n    expect: 302\n  - expect: 200\n  - path: /y\n    user: a\n    client: b\n    expect: 200\n    colour: red\n"
        )
        let result = try run(["policy", "test", cases])
        #expect(result.status != 0)
        #expect(result.errors.contains("cases.yaml:3:13"), "\(result.errors)")
        #expect(result.errors.contains("/auth answers 200, 401 or 403"))
        #expect(result.errors.contains("needs a \"path\""))
        #expect(result.errors.contains("unknown key \"colour\""), "\(result.errors)")
        let unknownUser = try temporaryFile("cases.yaml", "cases:\n  - path: /x\n    user: nobody\n    expect: 200\n")
        let missing = try run(["policy", "test", unknownUser])
        #expect(missing.status != 0 && missing.errors.contains("no user \"nobody\""))
    }
}
