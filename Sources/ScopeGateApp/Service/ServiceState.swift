import FoundationEssentials
import ScopeGateCore
import ScopeGateHTTP

/// The state every request sees one consistent copy of: a configuration and what is built from it (the
/// verifier, the signer, the token cache, the API description). A class, so taking it costs one retain; a
/// reload replaces it whole.
final class ServiceState: Sendable {
    let configuration: ServiceConfiguration
    /// The keys in force: the configuration's ring, or its schedule's ring at the time this state was built.
    let keyring: KeyRing
    /// When the schedule's ring next changes (an activation or a retirement); nil: never.
    let keysChangeAt: Date?
    let verifier: TokenVerifier
    let signer: TokenSigner
    let tokenCache: any TokenCache
    /// The allow answer on public routes, prepared once.
    let publicAnswer: HTTPResponse
    /// `/openapi.json`, whose scopes come from this policy and these users.
    let openAPI: [UInt8]
    /// `/docs/reference`, built from the same description.
    let reference: HTTPResponse
    /// Whether some rule accepts a browser's session (`browser: true`): only then does `/auth` read
    /// the session cookie.
    let hasBrowserRules: Bool
    /// `/.well-known/jwks.json`: this key ring's public keys.
    let jwks: JWKSDocument
    /// The identity tokens the policy asks allows to carry; nil when it asks for none.
    let identityTokens: IdentityTokens?
    /// The authorization-server metadata documents, when an issuer is configured.
    let metadata: AuthorizationServerMetadata

    init(_ configuration: ServiceConfiguration, now: Date, grants: GrantRegistry = .standard) {
        self.configuration = configuration
        var keyring = configuration.keyring
        var keysChangeAt: Date?
        // A schedule that loaded can sign at every later time (keys only ever become active), so this
        // fallback to the ring at load is never expected to be taken.
        if let schedule = configuration.keySchedule,
            let scheduled = try? schedule.ring(at: now, tokenLifetime: configuration.tokenLifetime, leeway: configuration.verification.leeway)
        {
            keyring = scheduled.ring
            keysChangeAt = scheduled.changesAt
        }
        self.keyring = keyring
        self.keysChangeAt = keysChangeAt
        verifier = TokenVerifier(keyring: keyring, options: configuration.verification)
        signer = TokenSigner(key: keyring.signingKey)
        let identityTokenHeaders = configuration.policy.identityTokenHeaders
        tokenCache = VerifiedTokenCache(
            leeway: configuration.verification.leeway, principals: configuration.principals, identityTokenHeaders: identityTokenHeaders)
        publicAnswer = IdentityHeaders.allowAnswer(for: nil, scopes: [], extra: IdentityHeaders.emptyTokens(identityTokenHeaders)).prepared()
        openAPI = OpenAPIDocument.build(for: configuration)
        reference = ReferencePage.build(for: configuration)
        hasBrowserRules = configuration.policy.rules.contains(where: \.acceptsSession)
        jwks = JWKSDocument(keyring)
        identityTokens = IdentityTokens.make(for: configuration, keyring: keyring, now: now)
        metadata = AuthorizationServerMetadata(configuration: configuration, keyring: keyring, grants: grants)
    }
}

/// Why a token is not one `/auth` would honour.
enum TokenStanding: Error {
    /// It does not verify (signature, claims, expiry).
    case invalid(TokenError)
    /// Its user or client is gone or disabled.
    case principalGone
    /// It, or every token of its principal issued before now, was revoked.
    case revoked(String)
}

extension ServiceState {
    /// The token and its principal when `/auth` would honour it (verified through the token cache, the
    /// principal present and enabled, not revoked), for the endpoints that judge a token someone hands
    /// them (introspection, token exchange); `/auth` itself runs the same steps as its decider's stages.
    func liveToken(_ bytes: ArraySlice<UInt8>, now: Date) throws(TokenStanding) -> (AuthenticatedToken, any Principal) {
        let entry: AuthenticatedToken
        do {
            entry = try tokenCache.entry(bytes, with: verifier, now: now)
        } catch {
            throw .invalid(error)
        }
        guard let principal = entry.principal, !principal.isDisabled else { throw .principalGone }
        if let revoked = configuration.revocations.refusal(for: entry.token, kind: principal.kind, now: now) { throw .revoked(revoked) }
        return (entry, principal)
    }
}
