import ScopeGateCore

/// The outcome of one forward-auth check. Only ``allow(user:scopes:rule:)`` becomes a 200.
enum ForwardAuthDecision: Sendable {
    /// The request may pass; `user` is nil on public routes.
    case allow(user: UserRecord?, scopes: [String], rule: String)
    /// No usable credentials: 401 with a challenge naming the required scopes.
    case unauthenticated(Unauthenticated, requiredScopes: [String])
    /// A valid token lacking scopes: 401 (tutorial wording) or 403 (RFC 6750 mode).
    case insufficientScope(requiredScopes: [String], user: String)
    /// Refused whatever the credentials: 403.
    case forbidden(String)

    enum Unauthenticated: Sendable {
        case noToken
        case invalidToken(String)
    }
}
