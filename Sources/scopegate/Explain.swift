import ArgumentParser
import FoundationEssentials
import Logging
import ScopeGateApp
import ScopeGateCore

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain the forward-auth decision for one request: canonical path, matched rule, scopes, answer.",
        discussion: """
            The decision and every step shown are those of the decider /auth runs, as a trusted proxy would ask. Without --policy, \
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

    @Option(help: "Keys file whose keys verify the token, instead of --secret-file.")
    var keys: String?

    @Option(help: "Clients file, for clients' tokens.")
    var clients: String?

    @Option(help: "Challenge wording: scopes or rfc6750.")
    var challenge = ChallengeMode.scopes

    @Argument(help: "The original request's method, such as GET.")
    var method: String

    @Argument(help: "The original request's target, such as /users/me/items/?page=2.")
    var target: String

    @Option(help: "The bearer token the request carries.")
    var token: String?

    @Option(help: "The original host, for policies with host rules (default: the authority of an absolute-form target).")
    var host: String?

    func run() throws {
        let logger = Logger(label: "scopegate") { _ in SwiftLogNoOpLogHandler() }
        let files = ConfigurationFiles(
            policyPath: policy, usersPath: users, secretPath: secretFile, keysPath: keys, clientsPath: clients,
            demo: secretFile == nil && keys == nil)
        let loaded: ConfigurationFiles.Loaded
        do {
            loaded = try files.load(logger: logger)
        } catch {
            throw StartupError(description: error.description)
        }
        var configuration = ServiceConfiguration(
            policy: loaded.policy, users: loaded.users, keyring: loaded.keyring,
            passwordHasher: try PasswordHasher(cost: 4))
        configuration.keySchedule = loaded.keySchedule
        configuration.clients = loaded.clients
        configuration.challenge = challenge
        configuration.accessLog = false

        let service = ScopeGateService(configuration: configuration, logger: logger)
        let explanation = service.explain(method: method, target: target, host: host, token: token, policyName: policy ?? "policies/demo.yaml")
        for line in explanation.lines { print(line) }
        if !explanation.isAllowed { throw ExitCode(1) }
    }
}
