import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore

extension ScopeGateService {
    /// `POST /introspect` (RFC 7662), for authenticated clients whose record has `introspect: true`:
    /// `{"active":false}` and nothing else for any token `/auth` would refuse (invalid, expired, revoked,
    /// its principal gone or disabled); else `active`, the effective `scope`, `client_id`, `username` (a
    /// user's), `token_type`, `exp`, `iat`, `nbf`, `aud`, `sub`, `iss` and `jti`.
    func introspect(_ request: HTTPRequest) -> HTTPHandlerResult {
        let state = current
        let (form, presented): (TokenForm, ClientCredentials?)
        switch clientRequest(request, accepting: Self.tokenParameters, state: state) {
        case .success(let value): (form, presented) = value
        case .failure(let refusal): return .respond(refusal.response)
        }
        guard let credentials = presented else {
            return .respond(
                ClientAuthentication.invalidClient("introspection needs client authentication", basic: true).response)
        }
        guard let token = form["token"] else {
            return .respond(FastAPIResponses.oauthError("invalid_request", description: "token is required"))
        }
        let address = form.clientAddress
        return withAuthenticatedClient(credentials, state: state, address: address, overloaded: Self.introspectionOverloaded) { [self] authenticated in
            guard let client = authenticated else {
                return ClientAuthentication.invalidClient("introspection needs client authentication", basic: true).response
            }
            guard client.introspect else {
                return FastAPIResponses.oauthError("access_denied", description: "this client may not introspect tokens", status: 403)
            }
            return introspection(of: Array(token.utf8), state: state)
        }
    }

    private func introspection(of token: [UInt8], state: ServiceState) -> HTTPResponse {
        if !token.contains(UInt8(ascii: ".")) { return refreshIntrospection(of: String(decoding: token, as: UTF8.self), state: state) }
        guard let (entry, principal) = try? state.liveToken(token[...], now: clock()) else { return Self.inactive }
        let verified = entry.token
        var writer = JSONWriter()
        writer.raw(#"{"active":true"#)
        writer.raw(","); writer.key("scope"); writer.string(entry.effectiveScopes.joined(separator: " "))
        if let clientID = verified.clientID { writer.raw(","); writer.key("client_id"); writer.string(clientID) }
        if principal.kind == .user { writer.raw(","); writer.key("username"); writer.string(principal.subject) }
        writer.raw(","); writer.key("token_type"); writer.string("bearer")
        writer.raw(","); writer.key("exp"); writer.numericDate(verified.expiresAt)
        if let issuedAt = verified.issuedAt { writer.raw(","); writer.key("iat"); writer.numericDate(issuedAt) }
        if let notBefore = verified.notBefore {
            writer.raw(","); writer.key("nbf"); writer.numericDate(notBefore)
        }
        if verified.audiences.count == 1 {
            writer.raw(","); writer.key("aud"); writer.string(verified.audiences[0])
        } else if !verified.audiences.isEmpty {
            writer.raw(","); writer.key("aud"); writer.stringArray(verified.audiences)
        }
        writer.raw(","); writer.key("sub"); writer.string(verified.subject)
        if let issuer = verified.issuer { writer.raw(","); writer.key("iss"); writer.string(issuer) }
        if let tokenID = verified.tokenID { writer.raw(","); writer.key("jti"); writer.string(tokenID) }
        writer.raw("}")
        return .json(200, writer.bytes, headers: FastAPIResponses.noStore)
    }

    /// A refresh token: active while it would be redeemed (unspent, unexpired, its family not revoked, its
    /// user present, enabled and not revoked since the login).
    private func refreshIntrospection(of token: String, state: ServiceState) -> HTTPResponse {
        let configuration = state.configuration
        let now = clock()
        guard RefreshToken.isWellFormed(token), let store = configuration.revocations.store,
            let found = try? store.refreshToken(hash: RefreshToken.hash(token)), found.isLive(at: now),
            found.family.kind == PrincipalKind.user.rawValue, let user = configuration.users[found.family.subject], !user.isDisabled,
            !configuration.revocations.revokedLogin(kind: .user, subject: user.username, at: found.family.createdAt)
        else { return Self.inactive }
        let family = found.family
        var writer = JSONWriter()
        writer.raw(#"{"active":true"#)
        writer.raw(","); writer.key("scope"); writer.string(family.scopes.filter(user.allows(scope:)).joined(separator: " "))
        if let clientID = family.clientID { writer.raw(","); writer.key("client_id"); writer.string(clientID) }
        writer.raw(","); writer.key("username"); writer.string(user.username)
        writer.raw(","); writer.key("token_type"); writer.string("refresh_token")
        writer.raw(","); writer.key("exp"); writer.numericDate(found.expiresAt)
        writer.raw(","); writer.key("iat"); writer.numericDate(found.issuedAt)
        writer.raw(","); writer.key("sub"); writer.string(user.username)
        if let issuer = configuration.issuer { writer.raw(","); writer.key("iss"); writer.string(issuer) }
        writer.raw(","); writer.key("sid"); writer.string(family.id)
        writer.raw("}")
        return .json(200, writer.bytes, headers: FastAPIResponses.noStore)
    }

    private static let inactive = HTTPResponse.json(200, Array(#"{"active":false}"#.utf8), headers: FastAPIResponses.noStore)
    private static let introspectionOverloaded = FastAPIResponses.oauthError(
        "temporarily_unavailable", description: "too busy to introspect; retry", status: 503, headers: [("Retry-After", "1")])
}
