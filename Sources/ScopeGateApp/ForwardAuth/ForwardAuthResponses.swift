import ScopeGateHTTP

/// The answers `/auth` gives for each decision: 200 with identity headers, 401 with an RFC 6750 challenge
/// naming the required scopes, or 403.
enum ForwardAuthResponses {
    /// The answer for `decision`, in the challenge wording `mode` sets.
    static func response(for decision: ForwardAuthDecision, mode: ChallengeMode, publicAnswer: HTTPResponse) -> HTTPResponse {
        switch decision {
        case .allow(let token?, _):
            return token.allowAnswer ?? IdentityHeaders.allowAnswer(for: token.principal, scopes: token.effectiveScopes)
        case .allow(nil, _):
            return publicAnswer
        case .allowSession(let user, let scopes, _):
            return IdentityHeaders.allowAnswer(for: user, scopes: scopes)
        case .signIn(let required):
            // Where to sign in is the endpoint's to add (it knows the proxy and the address).
            return FastAPIResponses.detail(401, "Not authenticated", headers: [("WWW-Authenticate", FastAPIResponses.bearerChallenge(scopes: required))])
        case .unauthenticated(.noToken, let required):
            return FastAPIResponses.detail(401, "Not authenticated", headers: [("WWW-Authenticate", FastAPIResponses.bearerChallenge(scopes: required))])
        case .unauthenticated(.invalidToken, let required):
            let challenge =
                mode == .rfc6750
                ? rfc6750Challenge(error: "invalid_token", scopes: required)
                : FastAPIResponses.bearerChallenge(scopes: required)
            return FastAPIResponses.detail(401, "Could not validate credentials", headers: [("WWW-Authenticate", challenge)])
        case .insufficientScope(let required, _):
            if mode == .rfc6750 {
                return FastAPIResponses.detail(
                    403, "Not enough permissions",
                    headers: [("WWW-Authenticate", rfc6750Challenge(error: "insufficient_scope", scopes: required))])
            }
            return FastAPIResponses.detail(401, "Not enough permissions", headers: [("WWW-Authenticate", FastAPIResponses.bearerChallenge(scopes: required))])
        case .forbidden(let reason):
            return FastAPIResponses.detail(403, "Forbidden: \(reason)")
        }
    }

    private static func rfc6750Challenge(error: String, scopes: [String]) -> String {
        "Bearer error=\"\(error)\"" + (scopes.isEmpty ? "" : ", scope=\"\(scopes.joined(separator: " "))\"")
    }
}
