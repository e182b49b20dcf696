import ScopeGateCore
import ScopeGateHTTP

/// The headers a forward-auth allow answer gives the proxy to pass upstream, built from the principal.
enum IdentityHeaders {
    /// 200 with `X-Auth-User` (a user's name), `X-Auth-Client` (a client's id), `X-Auth-Scopes`,
    /// `X-Auth-Email` and `X-Auth-Name`, each present and empty where it does not apply (all of them on
    /// public routes, where there is no principal), then `extra` (the identity-token headers).
    static func allowAnswer(for principal: (any Principal)?, scopes: [String], extra: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(
            status: 200,
            headers: [
                ("X-Auth-User", principal?.kind == .user ? principal?.subject ?? "" : ""),
                ("X-Auth-Client", principal?.kind == .client ? principal?.subject ?? "" : ""),
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
