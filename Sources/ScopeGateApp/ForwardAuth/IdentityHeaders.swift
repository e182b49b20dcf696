import ScopeGateCore
import ScopeGateHTTP

/// The headers a forward-auth allow answer gives the proxy to pass upstream, built from the principal.
enum IdentityHeaders {
    /// 200 with `X-Auth-User`, `X-Auth-Scopes`, `X-Auth-Email` and `X-Auth-Name` (empty on public
    /// routes, where there is no principal).
    static func allowAnswer(for principal: (any Principal)?, scopes: [String]) -> HTTPResponse {
        HTTPResponse(
            status: 200,
            headers: [
                ("X-Auth-User", principal?.subject ?? ""),
                ("X-Auth-Scopes", scopes.joined(separator: " ")),
                ("X-Auth-Email", principal?.email ?? ""),
                ("X-Auth-Name", principal?.displayName ?? ""),
                ("Cache-Control", "no-store"),
            ])
    }

    /// The answer on public routes, prepared once.
    static let publicAnswer = allowAnswer(for: nil, scopes: []).prepared()
}
