import ArgumentParser
import FoundationEssentials
import Logging
import ScopeGateApp
import ScopeGateCore

/// `scopegate policy`: work with a policy file beyond checking it.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Test a policy against a table of requests and the answers they must get.", subcommands: [Test.self])

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a policy's test cases: each request decided as /auth decides it, its status checked.",
            discussion: """
                Each case names a method, an optional host, a path, who carries the token (user: or client:, neither for no \
                token), the token's scopes (default: all the principal may have) and the status /auth must answer. Prints \
                each failure with the rule that decided it; exits 1 if any case fails. Meant for the CI of the repository \
                that keeps the policy.
                """
        )

        @Argument(help: "The cases file (YAML).") var cases: String
        @Option(help: "Policy file (default: the demo policy).") var policy: String?
        @Option(help: "Users file (default: the demo users).") var users: String?
        @Option(help: "Clients file, for cases with client:.") var clients: String?

        func run() throws {
            let logger = Logger(label: "scopegate") { _ in SwiftLogNoOpLogHandler() }
            let files = ConfigurationFiles(policyPath: policy, usersPath: users, secretPath: nil, clientsPath: clients, demo: true)
            let loaded: ConfigurationFiles.Loaded
            let table: [PolicyTestCase]
            do {
                loaded = try files.load(logger: logger)
                guard let data = FileManager.default.contents(atPath: cases) else { throw StartupError(description: "cannot read \(cases)") }
                table = try PolicyTestCase.load(yaml: String(decoding: data, as: UTF8.self), file: cases)
            } catch let error as StartupError {
                throw error
            } catch {
                throw StartupError(description: "\(error)")
            }
            var configuration = ServiceConfiguration(
                policy: loaded.policy, users: loaded.users, keyring: loaded.keyring, passwordHasher: try PasswordHasher(cost: 4))
            configuration.clients = loaded.clients
            configuration.accessLog = false
            let service = ScopeGateService(configuration: configuration, logger: logger)
            let signer = TokenSigner(key: loaded.keyring.signingKey)
            let now = Date()
            var failures = 0
            for testCase in table {
                // The principal's token: sub, the scopes (default: all its record allows), client_id for a client's own.
                let claims: (subject: String, scopes: [String], clientID: String?)?
                switch testCase.caller {
                case .nobody:
                    claims = nil
                case .user(let name):
                    guard let user = loaded.users[name] else { throw StartupError(description: "\(cases):\(testCase.line): no user \(quotedForMessage(name))") }
                    claims = (name, user.scopes, nil)
                case .client(let id):
                    guard let client = loaded.clients[id] else {
                        throw StartupError(description: "\(cases):\(testCase.line): no client \(quotedForMessage(id))")
                    }
                    claims = (id, client.scopes, id)
                }
                let token = try claims.map { claims in
                    try signer.sign(
                        AccessTokenClaims(
                            subject: claims.subject, scopes: testCase.scopes ?? claims.scopes, issuedAt: now, expiresAt: now + 300, tokenID: "policy-test",
                            clientID: claims.clientID))
                }
                let decided = service.explain(
                    method: testCase.method, target: testCase.path, host: testCase.host, token: token, policyName: policy ?? "policies/demo.yaml",
                    now: now)
                if decided.status == testCase.expect {
                    print("ok    \(testCase.name)")
                } else {
                    failures += 1
                    print(
                        "FAIL  \(testCase.name) (\(cases):\(testCase.line)): expected \(testCase.expect), got \(decided.status) from \(decided.rule.map { "rule \($0)" } ?? "no rule")"
                    )
                }
            }
            print("\(table.count - failures) of \(table.count) cases pass")
            if failures > 0 { throw ExitCode(1) }
        }
    }
}
