import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore

extension ScopeGateService {
    /// `POST /revoke` (RFC 7009): revokes an access token until its `exp`, by its `jti` and `iss` (never by
    /// its bytes: a malleated signature is another byte string for the same token). A token issued to a
    /// registered client is revoked only by that client, authenticated; a token issued to no client (the
    /// password grant without one) by whoever holds it. An unknown, invalid or already revoked token is
    /// answered 200 all the same.
    func revokeToken(_ request: HTTPRequest) -> HTTPHandlerResult {
        let state = current
        let (form, credentials): (TokenForm, ClientCredentials?)
        switch clientRequest(request, accepting: Self.tokenParameters, state: state) {
        case .success(let value): (form, credentials) = value
        case .failure(let refusal): return .respond(refusal.response)
        }
        guard let token = form["token"] else {
            return .respond(FastAPIResponses.oauthError("invalid_request", description: "token is required"))
        }
        let address = form.clientAddress
        // The store may block, and a client's secret may need its hash: on a worker.
        return withAuthenticatedClient(credentials, state: state, address: address, overloaded: Self.revocationOverloaded) { [self] client in
            revoke(Array(token.utf8), client: client, state: state)
        }
    }

    private func revoke(_ token: [UInt8], client: ClientRecord?, state: ServiceState) -> HTTPResponse {
        let now = clock()
        if !token.contains(UInt8(ascii: ".")) {
            return revokeRefreshToken(String(decoding: token, as: UTF8.self), client: client, state: state, now: now)
        }
        // RFC 7009 §2.2: an invalid token is answered as a revoked one; there is nothing to revoke.
        guard let verified = try? state.verifier.verify(bytes: token, now: now) else { return Self.revoked }
        if let owner = verified.clientID, state.configuration.clients[owner] != nil, let refusal = Self.refusal(owner: owner, client: client) {
            return refusal
        }
        guard let tokenID = verified.tokenID else {
            return FastAPIResponses.oauthError("unsupported_token_type", description: "a token without jti cannot be revoked; it lives until its exp")
        }
        return recording(Self.revoked) { () throws(StoreError) in
            try state.configuration.revocations.revoke(id: tokenID, issuer: verified.issuer ?? "", until: verified.expiresAt, now: now)
            logger.notice("token revoked", metadata: ["auth.subject": "\(verified.subject)", "auth.jti": "\(tokenID)"])
        }
    }

    /// A confidential client's token (or login): only that client, authenticated, revokes it, and it stays
    /// valid otherwise. Nil when `client` is its owner.
    private static func refusal(owner: String, client: ClientRecord?) -> HTTPResponse? {
        guard client?.id != owner else { return nil }
        return client == nil
            ? ClientAuthentication.invalidClient("this token was issued to a client, which must authenticate to revoke it", basic: false).response
            : FastAPIResponses.oauthError("unauthorized_client", description: "this token was issued to another client")
    }

    /// Runs `record` (writes to the store, then logs) and answers `answer`, or 503 when the store refused.
    private func recording(_ answer: HTTPResponse, _ record: () throws(StoreError) -> Void) -> HTTPResponse {
        do {
            try record()
            return answer
        } catch {
            logger.error("cannot record a revocation", metadata: ["error": "\(error)"])
            return Self.revocationOverloaded
        }
    }

    /// A refresh token: its whole family (the login) is revoked, its access tokens with it. A family issued
    /// to a client is revoked only by that client, authenticated.
    private func revokeRefreshToken(_ token: String, client: ClientRecord?, state: ServiceState, now: Date) -> HTTPResponse {
        guard RefreshToken.isWellFormed(token), let store = state.configuration.revocations.store else { return Self.revoked }
        var refused: HTTPResponse?
        let answer = recording(Self.revoked) { () throws(StoreError) in
            guard let family = try store.refreshToken(hash: RefreshToken.hash(token))?.family else { return }
            if let owner = family.clientID, let refusal = Self.refusal(owner: owner, client: client) {
                refused = refusal
                return
            }
            try state.configuration.revocations.revokeFamily(id: family.id, now: now)
            logger.notice("refresh token revoked; its login ends", metadata: ["auth.subject": "\(family.subject)", "auth.sid": "\(family.id)"])
        }
        return refused ?? answer
    }

    /// `POST /logout` with the bearer token: revokes it and, when it came with refresh tokens, its whole
    /// login (`sid`); 204, or 401 with a challenge when there is no valid token to revoke.
    func logOut(_ request: HTTPRequest) -> HTTPHandlerResult {
        let state = current
        let values = request.headers.rawValues("Authorization")
        guard case .token(let bytes) = BearerCredentials(first: values.first?[...], count: values.count),
            let verified = try? state.verifier.verify(bytes: Array(bytes), now: clock()), let tokenID = verified.tokenID
        else {
            return .respond(
                FastAPIResponses.detail(401, "Not authenticated", headers: [("WWW-Authenticate", "Bearer")] + FastAPIResponses.noStore))
        }
        return .waiting(overloaded: { _ in Self.revocationOverloaded }) { [self] in
            recording(HTTPResponse(status: 204, headers: FastAPIResponses.noStore)) { () throws(StoreError) in
                try state.configuration.revocations.revoke(id: tokenID, issuer: verified.issuer ?? "", until: verified.expiresAt, now: clock())
                if let family = verified.sessionID { try state.configuration.revocations.revokeFamily(id: family, now: clock()) }
                logger.notice(
                    "logged out", metadata: ["auth.subject": "\(verified.subject)", "auth.jti": "\(tokenID)", "auth.sid": "\(verified.sessionID ?? "-")"])
            }
        }
    }

    private static let revoked = HTTPResponse(status: 200, headers: FastAPIResponses.noStore)
    private static let revocationOverloaded = FastAPIResponses.oauthError(
        "temporarily_unavailable", description: "the revocation could not be recorded; retry", status: 503, headers: [("Retry-After", "1")])
}
