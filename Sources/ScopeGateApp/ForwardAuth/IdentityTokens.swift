import FoundationEssentials
import ScopeGateCore
import ScopeGateHTTP
import Synchronization

/// Mints the identity tokens a policy asks allows to carry: JWTs signed by ScopeGate's active asymmetric
/// key, with `iss`, `aud`, `sub`, the effective `scope`, `iat`, `exp` (never past the access token's),
/// `jti`. An answer with its token is reused for the same access token and rule during the first half of
/// the token's life; the minter belongs to one state, so nothing is reused across a reload or a key change.
final class IdentityTokens: Sendable {
    private let signer: TokenSigner
    private let issuer: String
    private let answers = Mutex<[Key: Minted]>([:])
    private static let capacity = 10_000

    private struct Key: Hashable {
        let token: ByteKey
        let rule: String
    }

    private struct Minted {
        let answer: HTTPResponse
        let renewAt: Date
    }

    /// A minter for `issuer` signing with `key` (asymmetric: an HMAC token would be verifiable only by
    /// whoever can also forge it).
    /// Every identity-token header of the policy: the ones an answer's token is not in go out empty.
    private let headers: [String]

    init(issuer: String, key: any JWSKey, headers: [String]) {
        self.issuer = issuer
        self.signer = TokenSigner(key: key)
        self.headers = headers
    }

    /// The minter a state needs: when the policy asks for identity tokens, with the issuer and the active
    /// asymmetric key (the signing key when it is one); nil otherwise.
    static func make(for configuration: ServiceConfiguration, keyring: KeyRing, now: Date) -> IdentityTokens? {
        guard configuration.policy.asksForIdentityTokens, let issuer = configuration.issuer, let key = signingKey(configuration, keyring, now: now)
        else { return nil }
        return IdentityTokens(issuer: issuer, key: key, headers: configuration.policy.identityTokenHeaders)
    }

    /// The key identity tokens are signed with: the ring's signing key when it is asymmetric, else the
    /// newest active asymmetric key of the schedule (or of the ring, when keys come from no schedule).
    static func signingKey(_ configuration: ServiceConfiguration, _ keyring: KeyRing, now: Date) -> (any JWSKey)? {
        if keyring.signingKey.publicJWK != nil { return keyring.signingKey }
        if let schedule = configuration.keySchedule {
            return schedule.statuses(at: now, tokenLifetime: configuration.tokenLifetime, leeway: configuration.verification.leeway)
                .filter { $0.state == .active && $0.key.key.publicJWK != nil }.max { $0.since < $1.since }?.key.key
        }
        return keyring.keys.first { $0.publicJWK != nil }
    }

    /// Why the configuration cannot mint the identity tokens its policy asks for; nil when it can.
    static func problem(_ configuration: ServiceConfiguration, keyring: KeyRing, now: Date) -> String? {
        guard configuration.policy.asksForIdentityTokens else { return nil }
        if configuration.issuer == nil { return "the policy asks for identity tokens, which need --issuer" }
        if signingKey(configuration, keyring, now: now) == nil {
            return "the policy asks for identity tokens, which need an asymmetric (ES256, EdDSA, RS256 or PS256) key in --keys"
        }
        return nil
    }

    /// The allow answer for `token` on `rule`, with an identity token in `request.header`.
    func answer(for token: AuthenticatedToken, rule: String, request: IdentityTokenRequest, now: Date) throws(CryptoError) -> HTTPResponse {
        let key = Key(token: ByteKey(token.bytes), rule: rule)
        if let minted = answers.withLock({ $0[key] }), now < minted.renewAt { return minted.answer }
        let expiresAt = min(now + TimeInterval(request.lifetime), token.token.expiresAt)
        var writer = JSONWriter(escapesNonASCII: true)
        writer.raw("{")
        writer.key("iss"); writer.string(issuer)
        writer.raw(","); writer.key("aud"); writer.string(request.audience)
        writer.raw(","); writer.key("sub"); writer.string(token.principal?.subject ?? token.token.subject)
        writer.raw(","); writer.key("scope"); writer.string(token.effectiveScopes.joined(separator: " "))
        writer.raw(","); writer.key("iat"); writer.numericDate(now)
        writer.raw(","); writer.key("exp"); writer.numericDate(expiresAt)
        writer.raw(","); writer.key("jti"); writer.string(Base64URL.encode(try SecureRandom.bytes(16)))
        writer.raw("}")
        let jwt = try signer.sign(payload: writer.bytes)
        let extra = headers.map { name in (name: name, value: name.lowercased() == request.header.lowercased() ? jwt : "") }
        let answer = IdentityHeaders.allowAnswer(for: token.principal, scopes: token.effectiveScopes, extra: extra).prepared()
        let renewAt = now + expiresAt.timeIntervalSince(now) / 2
        answers.withLock { answers in
            if answers.count >= Self.capacity { answers = answers.filter { now < $0.value.renewAt } }
            if answers.count >= Self.capacity { answers.removeAll(keepingCapacity: true) }
            answers[key] = Minted(answer: answer, renewAt: renewAt)
        }
        return answer
    }
}

extension ScopeGateService {
    /// Why `configuration` could not mint the identity tokens its policy asks for; nil when it can or need not.
    public static func identityTokenProblem(_ configuration: ServiceConfiguration) -> String? {
        IdentityTokens.problem(configuration, keyring: configuration.keyring, now: Date())
    }
}
