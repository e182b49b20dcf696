import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP

/// The resource owner password grant (RFC 6749 §4.3) with FastAPI's form semantics: `username`,
/// `password`, and the scopes asked for in `scope`. A user only ever gets the scopes its record allows,
/// and through a client (one with the `password` grant) only those the client's record allows too.
struct PasswordGrant: GrantType {
    var name: String { "password" }
    var parameters: [String] { ["username", "password", "scope"] }

    func prepare(_ form: TokenForm) -> Result<GrantJob, GrantRefusal> {
        let missing = ["username", "password"].filter { form[$0] == nil }
        guard missing.isEmpty, let username = form["username"], let password = form["password"] else {
            return .failure(GrantRefusal(response: FastAPIResponses.missingFields(missing)))
        }
        let requested = (form["scope"] ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        return .success(
            GrantJob(regulatedName: username) { context in
                Self.login(username: username, password: password, requested: requested, context: context)
            })
    }

    /// One password check (or its dummy, for an unknown user), then the scopes to grant.
    private static func login(username: String, password: String, requested: [String], context: GrantContext) -> GrantOutcome {
        let configuration = context.state.configuration
        if let client = context.client, !client.grantTypes.contains(.password) {
            return .refused(
                GrantRefusal(response: FastAPIResponses.oauthError("unauthorized_client", description: "this client may not use the password grant")),
                failedLogin: false)
        }
        guard let user = verifiedUser(username: username, password: password, context: context) else { return .refused(incorrect, failedLogin: true) }
        configuration.passwordUpgrades.afterLogin(user, password: password, context: context)
        var granted: [String] = []
        // Through a client, the user gets no more than the client may be granted either.
        for scope in requested where user.allows(scope: scope) && context.client?.allows(scope: scope) != false && !granted.contains(scope) {
            granted.append(scope)
        }
        return .granted(principal: user, scopes: granted, details: IssueDetails(refresh: .startFamily()))
    }

    /// The user `username` names when `password` is theirs; nil (the same work, the same answer) for an
    /// unknown user, a wrong password, or a user named like a client. Logged and counted.
    static func verifiedUser(username: String, password: String, context: GrantContext) -> UserRecord? {
        let configuration = context.state.configuration
        let hasher = configuration.passwordHasher
        let found: UserRecord?
        if let stored = configuration.storedUsers {
            found = stored.user(named: username, storeReachable: configuration.revocations.health.isUp)
        } else {
            found = configuration.users[username]
        }
        // A user named like a registered client (possible with users in the store, which the clients file's
        // check at load does not see) could get a token whose client_id equals its sub: a client's token.
        if let user = found, configuration.clients[user.username] != nil {
            hasher.verifyDummy(password)
            context.logger.warning(
                "login refused: the user has the name of a client; rename one of them", metadata: ["auth.subject": "\(user.username)"])
            return nil
        }
        guard let user = found else {
            hasher.verifyDummy(password)
            context.metrics.recordLoginFailure(unknownUser: true)
            context.logger.info("login refused", metadata: ["auth.subject": "\(username.prefix(128))", "auth.reason": "unknown user"])
            return nil
        }
        guard hasher.verify(password, against: user.passwordHash) else {
            context.metrics.recordLoginFailure(unknownUser: false)
            context.logger.info("login refused", metadata: ["auth.subject": "\(user.username)", "auth.reason": "wrong password"])
            return nil
        }
        return user
    }

    private static let incorrect = GrantRefusal(response: FastAPIResponses.detail(400, "Incorrect username or password", headers: FastAPIResponses.noStore))
}
