import ScopeGateCore

/// The outcome of one forward-auth check. Only ``allow(_:rule:)`` becomes a 200.
enum ForwardAuthDecision: Sendable {
    /// The request may pass: with the token it rests on, or nil on a public route.
    case allow(AuthenticatedToken?, rule: String)
    /// A browser rule passes a signed-in browser: its user, with the rule's scopes.
    case allowSession(UserRecord, scopes: [String], rule: String)
    /// A browser rule, and neither a token nor a session: the browser is sent to sign in.
    case signIn(requiredScopes: [String])
    /// No usable credentials: 401 with a challenge naming the required scopes.
    case unauthenticated(Unauthenticated, requiredScopes: [String])
    /// A valid token lacking scopes: 401 (tutorial wording) or 403 (RFC 6750 mode).
    case insufficientScope(requiredScopes: [String], principal: any Principal)
    /// Refused whatever the credentials: 403.
    case forbidden(String)

    enum Unauthenticated: Sendable {
        case noToken
        case invalidToken(String)
    }

    /// The principal the decision is about, when it names one: for the access log.
    var principal: (any Principal)? {
        switch self {
        case .allow(let token?, _): token.principal
        case .allowSession(let user, _, _): user
        case .insufficientScope(_, let principal): principal
        default: nil
        }
    }

    /// The decision as the metrics count it.
    var outcome: ServiceMetrics.Outcome {
        switch self {
        case .allow, .allowSession: .allow
        case .unauthenticated(.noToken, _), .signIn: .unauthenticated
        case .unauthenticated(.invalidToken, _): .invalidToken
        case .insufficientScope: .insufficientScope
        case .forbidden: .forbidden
        }
    }

    /// One line for the debug log.
    var summary: String {
        switch self {
        case .allow(let token, let rule): "allow \(token?.principal?.subject ?? "-") by \(rule)"
        case .allowSession(let user, _, let rule): "allow \(user.username)'s browser session by \(rule)"
        case .signIn: "no token or session: sign in"
        case .unauthenticated(.noToken, _): "no token"
        case .unauthenticated(.invalidToken(let reason), _): "invalid token: \(reason)"
        case .insufficientScope(let required, let principal): "\(principal.subject) lacks \(required.joined(separator: " "))"
        case .forbidden(let reason): "forbidden: \(reason)"
        }
    }
}
