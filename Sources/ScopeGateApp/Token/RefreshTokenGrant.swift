import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore

/// The refresh token grant (RFC 6749 §6): a refresh token from a login is spent for a new access token and
/// its successor (rotation), atomically in the store. A spent token presented again revokes its whole
/// family, access tokens included (they carry its id as `sid`), except within `--refresh-reuse-grace` for
/// the client that redeemed it, which then gets the same successor back. The scopes are the login's, or
/// fewer when `scope` asks for fewer, and never more than the user's record allows now; a disabled or
/// removed user, or one revoked since the login, redeems nothing. No password check: the job only waits
/// on the store.
struct RefreshTokenGrant: GrantType {
    var name: String { "refresh_token" }
    var parameters: [String] { ["refresh_token", "scope"] }

    func isOffered(by configuration: ServiceConfiguration) -> Bool { configuration.refreshTokens.isOffered(by: configuration) }

    func prepare(_ form: TokenForm) -> Result<GrantJob, GrantRefusal> {
        guard let token = form["refresh_token"], !token.isEmpty else {
            return .failure(GrantRefusal(response: FastAPIResponses.oauthError("invalid_request", description: "refresh_token is required")))
        }
        let requested = form["scope"].map { $0.split(separator: " ").map(String.init) }
        return .success(
            GrantJob(regulatedName: nil, cost: .store) { context in
                Self.redeem(token, requested: requested, context: context)
            })
    }

    private static func redeem(_ token: String, requested: [String]?, context: GrantContext) -> GrantOutcome {
        let configuration = context.state.configuration
        if let client = context.client, !client.grantTypes.contains(.refreshToken) {
            return .oauthError("unauthorized_client", "this client may not use the refresh_token grant")
        }
        guard let store = configuration.revocations.store, RefreshToken.isWellFormed(token) else { return invalid }
        let successor: String
        do {
            successor = try RefreshToken.generate()
        } catch {
            return unavailable
        }
        let request = RefreshRedemptionRequest(
            tokenHash: RefreshToken.hash(token), successorHash: RefreshToken.hash(successor),
            // Kept only where a retry may ask for it again.
            sealedSuccessor: configuration.refreshTokens.reuseGrace > 0 ? RefreshToken.seal(successor, under: token) : nil,
            clientID: context.client?.id, now: context.now, grace: configuration.refreshTokens.reuseGrace,
            accessUntil: context.now + configuration.tokenLifetime)
        // Decided inside the redemption, before the token is spent: a refused request leaves it unspent.
        var admitted: (user: UserRecord, scopes: [String])?
        var refused: GrantOutcome?
        let redemption: RefreshRedemption
        do {
            redemption = try store.redeemRefreshToken(request) { family in
                guard family.kind == PrincipalKind.user.rawValue, let user = configuration.users[family.subject], !user.isDisabled,
                    !configuration.revocations.revokedLogin(kind: .user, subject: user.username, at: family.createdAt)
                else { return false }
                if let requested, let extra = requested.first(where: { !family.scopes.contains($0) }) {
                    refused = .oauthError("invalid_scope", "scope \(quotedForMessage(extra)) was not granted at the login")
                    return false
                }
                var granted: [String] = []
                for scope in requested ?? family.scopes where user.allows(scope: scope) && !granted.contains(scope) { granted.append(scope) }
                admitted = (user, granted)
                return true
            }
        } catch {
            context.logger.error("cannot redeem a refresh token", metadata: ["error": "\(error)"])
            return unavailable
        }
        let family: RefreshFamily
        let issued: String
        switch redemption {
        case .rotated(let redeemed):
            (family, issued) = (redeemed, successor)
        case .replayed(let redeemed, let sealed):
            guard let earlier = RefreshToken.unseal(sealed, under: token) else { return invalid }
            (family, issued) = (redeemed, earlier)
        case .reused(let redeemed):
            // Its access tokens are refused from now on: the copy /auth reads learns it at once.
            try? configuration.revocations.refresh(now: context.now)
            context.metrics.recordRefreshReuse()
            context.logger.warning(
                "refresh token reused; its login is revoked",
                metadata: ["auth.subject": "\(redeemed.subject)", "auth.sid": "\(redeemed.id)", "auth.client": "\(redeemed.clientID ?? "-")"])
            return invalid
        case .refused(.otherClient):
            return .oauthError("invalid_grant", "the refresh token was issued to another client")
        case .refused(.notAdmitted):
            return refused ?? invalid
        case .refused:
            return invalid
        }
        guard let (user, scopes) = admitted else { return invalid }
        return .granted(
            principal: user, scopes: scopes,
            details: IssueDetails(clientID: family.clientID, refresh: .successor(token: issued, family: family)))
    }

    private static let invalid = GrantOutcome.oauthError("invalid_grant", "the refresh token is invalid, expired or revoked")
    private static let unavailable = GrantOutcome.refused(
        GrantRefusal(
            response: FastAPIResponses.oauthError(
                "temporarily_unavailable", description: "the refresh token could not be redeemed; retry", status: 503, headers: [("Retry-After", "1")])),
        failedLogin: false)
}
