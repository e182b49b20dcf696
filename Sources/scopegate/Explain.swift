import ArgumentParser
import FoundationEssentials
import Logging
import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain the forward-auth decision for one request: canonical path, matched rule, scopes, answer.",
        discussion: """
            The decision is made by the same code /auth runs, as if nginx asked from loopback. Without --policy, \
            --users or --secret-file the demo configuration stands in for what is missing.
            Example: scopegate explain --policy policies/demo.yaml GET /users/me/items/ --token "$TOKEN"
            """
    )

    @Option(help: "Policy file (default: the demo policy).")
    var policy: String?

    @Option(help: "Users file (default: the demo users).")
    var users: String?

    @Option(name: .customLong("secret-file"), help: "Secret file that signed the token (default: the demo secret).")
    var secretFile: String?

    @Option(help: "Challenge wording: scopes or rfc6750.")
    var challenge = ChallengeMode.scopes

    @Argument(help: "The original request's method, such as GET.")
    var method: String

    @Argument(help: "The original request's target, such as /users/me/items/?page=2.")
    var target: String

    @Option(help: "The bearer token the request carries.")
    var token: String?

    func run() throws {
        let logger = Logger(label: "scopegate") { _ in SwiftLogNoOpLogHandler() }
        let files = ConfigurationFiles(policyPath: policy, usersPath: users, secretPath: secretFile, demo: secretFile == nil)
        let loaded: ConfigurationFiles.Loaded
        do {
            loaded = try files.load(logger: logger)
        } catch {
            throw StartupError(description: error.description)
        }
        var configuration = ServiceConfiguration(policy: loaded.policy, users: loaded.users, keyring: loaded.keyring,
                                                 passwordHasher: try PasswordHasher(cost: 4))
        configuration.challenge = challenge
        configuration.accessLog = false

        print("request:   \(method) \(target)")
        var required: [String]?
        do {
            let path = try CanonicalPath(target: Array(target.utf8))
            print("canonical: \(path)")
            switch loaded.policy.match(method: method, path: path) {
            case .rule(let rule, let parameters):
                let methods = rule.methods.map { " methods \($0.sorted().joined(separator: ","))" } ?? ""
                print("rule:      \(rule.pattern)\(methods) (\(policy ?? "policies/demo.yaml"):\(rule.line))")
                if !parameters.isEmpty {
                    print("params:    " + parameters.keys.sorted().map { "\($0)=\(parameters[$0]!)" }.joined(separator: " "))
                }
                if rule.isPublic {
                    print("required:  nothing (public)")
                } else {
                    required = rule.scopes
                    print("required:  a valid token" + (rule.scopes.isEmpty ? "" : " with scopes \(rule.scopes.joined(separator: " "))"))
                }
            case .methodNotAllowed(let rule):
                print("rule:      \(rule.pattern) (\(policy ?? "policies/demo.yaml"):\(rule.line)) does not allow \(method)")
            case .noRule:
                print("rule:      none; default is \(loaded.policy.defaultAction.rawValue)")
                if loaded.policy.defaultAction == .authenticated { required = [] }
            }
        } catch {
            print("canonical: refused: \(error)")
        }
        if let token {
            let verifier = TokenVerifier(keyring: loaded.keyring, options: configuration.verification)
            do {
                let verified = try verifier.verify(token, now: Date())
                print("token:     valid for \(verified.subject), scopes \(verified.scopes.isEmpty ? "(none)" : verified.scopes.joined(separator: " "))")
                if let user = loaded.users[verified.subject] {
                    let effective = verified.scopes.filter(user.scopes.contains)
                    print("granted:   \(effective.isEmpty ? "(none)" : effective.joined(separator: " "))"
                        + (user.disabled ? " (user disabled)" : ""))
                    if let required {
                        let missing = required.filter { !effective.contains($0) }
                        if !missing.isEmpty { print("missing:   \(missing.joined(separator: " "))") }
                    }
                } else {
                    print("granted:   none; user \(verified.subject) is not in the users file")
                }
            } catch {
                print("token:     refused: \(error)")
            }
        } else if required != nil {
            print("token:     none given")
        }

        var fields = [("X-Original-Method", method), ("X-Original-URI", target)]
        if let token { fields.append(("Authorization", "Bearer \(token)")) }
        let headers = HTTPHeaders(fields)
        let service = ScopeGateService(configuration: configuration, logger: logger)
        let request = HTTPRequest(method: "GET", path: Array("/auth".utf8), headers: headers, clientAddress: IPAddress("127.0.0.1"))
        guard case .respond(let response) = service.handle(request) else { throw StartupError(description: "unexpected deferred answer") }
        let verdict = response.status == 200 ? "allow" : "refuse"
        print("decision:  \(verdict), \(response.status)")
        for (name, value) in response.headers where name != "Content-Type" {
            print("  \(name): \(value.isEmpty ? "(empty)" : value)")
        }
        if !response.body.isEmpty { print("  body: \(String(decoding: response.body, as: UTF8.self))") }
        if response.status != 200 { throw ExitCode(1) }
    }
}
