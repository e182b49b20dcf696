import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore

/// The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636): the code `/authorize` gave the
/// client, traded once, by that client, with the same redirect URI and the verifier whose S256 hash is
/// the code's challenge. A code used a second time is refused and what its first use issued (the access
/// token's `jti`, the refresh-token family) is revoked. The user's record is read again: a user disabled
/// or removed since consenting gets nothing, and only scopes the user and the client may still have are
/// granted. No password check: the job only waits on the store.
struct AuthorizationCodeGrant: GrantType {
    var name: String { "authorization_code" }
    var parameters: [String] { ["code", "redirect_uri", "code_verifier"] }

    func isOffered(by configuration: ServiceConfiguration) -> Bool {
        configuration.revocations.store != nil && configuration.clients.clients.values.contains { $0.grantTypes.contains(.authorizationCode) }
    }

    func prepare(_ form: TokenForm) -> Result<GrantJob, GrantRefusal> {
        guard let code = form["code"], !code.isEmpty else {
            return .failure(GrantRefusal(response: FastAPIResponses.oauthError("invalid_request", description: "code is required")))
        }
        guard let verifier = form["code_verifier"] else {
            return .failure(GrantRefusal(response: FastAPIResponses.oauthError("invalid_request", description: "code_verifier is required (PKCE)")))
        }
        let redirect = form["redirect_uri"] ?? ""
        return .success(
            GrantJob(regulatedName: nil, cost: .store) { context in
                Self.redeem(code, verifier: verifier, redirect: redirect, context: context)
            })
    }

    private static func redeem(_ code: String, verifier: String, redirect: String, context: GrantContext) -> GrantOutcome {
        let client: ClientRecord
        switch context.client(allowedTo: .authorizationCode, "the authorization_code grant") {
        case .success(let value): client = value
        case .failure(let refusal): return .refused(refusal, failedLogin: false)
        }
        let configuration = context.state.configuration
        guard let store = configuration.revocations.store, AuthorizationCodes.isWellFormed(code) else { return invalid }
        let redemption: CodeRedemption
        do {
            redemption = try store.redeemAuthorizationCode(hash: AuthorizationCodes.hash(code), at: context.now)
        } catch {
            context.logger.error("cannot redeem an authorization code", metadata: ["error": "\(error)"])
            return .refused(
                GrantRefusal(
                    response: FastAPIResponses.oauthError(
                        "temporarily_unavailable", description: "the code could not be redeemed; retry", status: 503, headers: [("Retry-After", "1")])),
                failedLogin: false)
        }
        switch redemption {
        case .unknown:
            return invalid
        case .reused(let spent):
            // RFC 6749 §4.1.2: someone holds a copy of the code; what it issued ends now.
            try? configuration.revocations.revoke(
                id: spent.tokenID, issuer: configuration.issuer ?? "", until: context.now + configuration.tokenLifetime, now: context.now)
            try? configuration.revocations.revokeFamily(id: spent.familyID, now: context.now)
            context.logger.warning(
                "authorization code used twice; what it issued is revoked",
                metadata: ["auth.subject": "\(spent.subject)", "auth.client": "\(spent.clientID)", "auth.sid": "\(spent.familyID)"])
            return invalid
        case .redeemed(let redeemed):
            guard redeemed.clientID == client.id else { return .oauthError("invalid_grant", "the code was issued to another client") }
            guard redeemed.redirectURI == redirect else {
                return .oauthError("invalid_grant", "redirect_uri differs from the one the authorization request named")
            }
            guard AuthorizationCodes.verifies(verifier, challenge: redeemed.challenge) else {
                return .oauthError("invalid_grant", "code_verifier does not match the code_challenge (PKCE)")
            }
            guard let user = configuration.users[redeemed.subject], !user.isDisabled else { return invalid }
            let scopes = redeemed.scopes.filter { user.allows(scope: $0) && client.allows(scope: $0) }
            return .granted(
                principal: user, scopes: scopes,
                details: IssueDetails(clientID: client.id, refresh: .startFamily(id: redeemed.familyID), tokenID: redeemed.tokenID))
        }
    }

    private static let invalid = GrantOutcome.oauthError("invalid_grant", "the code is invalid, expired or used")
}

/// Authorization codes: made, hashed and checked as the grant and `/authorize` share them.
enum AuthorizationCodes {
    /// How long a code may wait for its redemption (RFC 6749 §4.1.2 recommends at most 10 minutes).
    static let lifetime: TimeInterval = 60

    /// A new code: 256 random bits, base64url (43 characters), made, hashed and checked as refresh tokens are.
    static func generate() throws -> String { try RefreshToken.generate() }

    /// What the store keeps of `code` (or of a session cookie's value).
    static func hash(_ code: String) -> String { RefreshToken.hash(code) }

    static func isWellFormed(_ code: String) -> Bool { RefreshToken.isWellFormed(code) }

    /// Whether `value` is a PKCE verifier or S256 challenge's form: 43 to 128 unreserved characters
    /// (RFC 7636 §4.1, §4.2).
    static func isPKCEValue(_ value: String) -> Bool {
        (43...128).contains(value.utf8.count)
            && value.utf8.allSatisfy { byte in
                (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || "-._~".utf8.contains(byte)
            }
    }

    /// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) equals the challenge, compared in constant time.
    static func verifies(_ verifier: String, challenge: String) -> Bool {
        guard isPKCEValue(verifier) else { return false }
        return constantTimeEquals(Array(Base64URL.encode(sha256(Array(verifier.utf8))).utf8), Array(challenge.utf8))
    }
}
