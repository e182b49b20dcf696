import ScopeGateCore

/// The state every request sees one consistent copy of: a configuration and what is built from it (the
/// verifier, the signer, the token cache, the API description). A class, so taking it costs one retain; a
/// reload replaces it whole.
final class ServiceState: Sendable {
    let configuration: ServiceConfiguration
    let verifier: TokenVerifier
    let signer: TokenSigner
    let tokenCache: any TokenCache
    /// `/openapi.json`, whose scopes come from this policy and these users.
    let openAPI: [UInt8]
    /// `/.well-known/jwks.json`: this key ring's public keys.
    let jwks: JWKSDocument

    init(_ configuration: ServiceConfiguration) {
        self.configuration = configuration
        verifier = TokenVerifier(keyring: configuration.keyring, options: configuration.verification)
        signer = TokenSigner(key: configuration.keyring.signingKey)
        tokenCache = VerifiedTokenCache(leeway: configuration.verification.leeway, principals: configuration.principals)
        openAPI = OpenAPIDocument.build(for: configuration)
        jwks = JWKSDocument(configuration.keyring)
    }
}
