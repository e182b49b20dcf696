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
        let loaded = try load(policy) { text, file throws(ConfigurationError) in try Policy.load(yaml: text, file: file) }
        let directory = try users.map { try load($0, UserDirectory.load) }
        let clientDirectory = try clients.map { try load($0, ClientDirectory.load) }
        let warnings = PolicyLinter.warnings(for: loaded, users: directory, clients: clientDirectory, file: policy)
        for warning in warnings { print(warning.description) }
        let levels = PolicyLinter.hostLevels(of: loaded)
        if !levels.isEmpty {
            // The precedence a request's host follows, with each pattern as requests are compared with it.
            print("hosts, in the order a request's host tries them (a level that matches the path decides):")
            let width = levels.map { ($0.host?.description ?? "every host").count }.max() ?? 0
            for (host, rules) in levels {
                let name = host?.description ?? "every host"
                let lines = rules.map { "\($0.line)" + ($0.isReport ? " report" : "") }.joined(separator: ", ")
                print(
                    "  \(name + String(repeating: " ", count: width - name.count))  \(rules.count) rule\(rules.count == 1 ? "" : "s") (line\(rules.count == 1 ? "" : "s") \(lines))"
                )
            }
        }
        if !warnings.isEmpty { throw ExitCode.failure }
        let reports = loaded.rules.filter(\.isReport).count
        print("\(policy): \(loaded.rules.count) rules\(reports > 0 ? " (\(reports) report-only)" : ""), no problems")
    }

    /// The file at `path` loaded by `load`; its errors are printed and end the command with status 1.
    private func load<Loaded>(_ path: String, _ load: (String, String) throws(ConfigurationError) -> Loaded) throws -> Loaded {
        let text = try readText(path)
        do {
            return try load(text, path)
        } catch {
            print(error.description)
            throw ExitCode.failure
        }
    }

    private func readText(_ path: String) throws -> String {
        do {
            return try ConfigurationFiles.readText(path)
        } catch {
            throw StartupError(description: error.description)
        }
    }
}
