import ScopeGateCore
import ScopeGateHTTP

/// The headers a forward-auth allow answer gives the proxy to pass upstream, built from the principal.
enum IdentityHeaders {
    /// 200 with `X-Auth-User`, `X-Auth-Scopes`, `X-Auth-Email` and `X-Auth-Name` (empty on public
    /// routes, where there is no principal), then `extra` (the identity-token headers).
    static func allowAnswer(for principal: (any Principal)?, scopes: [String], extra: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(
            status: 200,
            headers: [
                ("X-Auth-User", principal?.subject ?? ""),
                ("X-Auth-Scopes", scopes.joined(separator: " ")),
                ("X-Auth-Email", principal?.email ?? ""),
                ("X-Auth-Name", principal?.displayName ?? ""),
                ("Cache-Control", "no-store"),
            ] + extra)
    }

    /// The identity-token headers with no token in them.
    static func emptyTokens(_ names: [String]) -> [(name: String, value: String)] {
        names.map { ($0, "") }
    }
}
