import ArgumentParser
import ScopeGateApp
import ScopeGateCore

struct CheckPolicy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-policy",
        abstract: "Check a policy file: every load error, and warnings about rules that may not do what they seem to.",
        discussion: "Exits 0 when the policy is clean, 1 when it has errors or warnings. Messages are file:line:column: severity: text."
    )

    @Argument(help: "The policy file.")
    var policy: String

    @Option(help: "A users file, to warn about scopes no user can be granted.")
    var users: String?

    @Option(help: "A clients file, to warn about scopes no client can be granted.")
    var clients: String?

    func run() throws {
        let text = try readText(policy)
        let loaded: Policy
        do {
            loaded = try Policy.load(yaml: text, file: policy)
        } catch {
            print(error.description)
            throw ExitCode.failure
        }
        var directory: UserDirectory?
        if let users {
            let usersText = try readText(users)
            do {
                directory = try UserDirectory.load(yaml: usersText, file: users)
            } catch {
                print(error.description)
                throw ExitCode.failure
            }
        }
        var clientDirectory: ClientDirectory?
        if let clients {
            let clientsText = try readText(clients)
            do {
                clientDirectory = try ClientDirectory.load(yaml: clientsText, file: clients)
            } catch {
                print(error.description)
                throw ExitCode.failure
            }
        }
        let warnings = PolicyLinter.warnings(for: loaded, users: directory, clients: clientDirectory, file: policy)
        for warning in warnings { print(warning.description) }
        if !warnings.isEmpty { throw ExitCode.failure }
        print("\(policy): \(loaded.rules.count) rules, no problems")
    }

    private func readText(_ path: String) throws -> String {
        do {
            return try ConfigurationFiles.readText(path)
        } catch {
            throw StartupError(description: error.description)
        }
    }
}
