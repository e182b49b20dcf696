/// A key that signs and verifies JWS compact tokens, with its algorithm pinned by the key.
///
/// A key type is one conforming type in its own folder (``HMACKey`` under `HMAC/`), registered with a
/// ``KeyRing``; the signer and verifier know keys only through this protocol.
///
/// ```swift
/// let key = try HMACKey(secretFileContents: secret, id: "2026-12")
/// let ring = try KeyRing(signingKey: key)
/// let token = try TokenSigner(key: ring.signingKey).sign(claims)
/// ```
public protocol JWSKey: Sendable {
    /// The `kid` this key answers to, if any.
    var id: String? { get }
    /// The only algorithm this key signs and verifies.
    var algorithm: JWSAlgorithm { get }
    /// The signature of a JWS signing input (`base64url(header).base64url(payload)`).
    func sign(_ input: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8]
    /// Whether `signature` is this key's signature of `input`; compared in constant time where the key is secret.
    func verify(_ signature: [UInt8], signs input: ArraySlice<UInt8>) throws(CryptoError) -> Bool
    /// The key as a public JWK (RFC 7517) for a JWKS document; nil for secret keys, which are never published.
    var publicJWK: JSONValue? { get }
    /// Whether a token's `alg` names this key's algorithm (some names have two spellings).
    func accepts(algorithm name: String) -> Bool
}

extension JWSKey {
    public func accepts(algorithm name: String) -> Bool {
        name == algorithm.rawValue
    }
}

extension JWSKey {
    /// A value equal for two copies of one key and different for two keys, safe to show and to share
    /// (replicas compare theirs through the store): for a public key the SHA-256 of its public JWK, for
    /// a secret key its own MAC of a fixed text (which tells nothing of the secret, nor of the MAC of
    /// anything else).
    public func fingerprint() throws(CryptoError) -> String {
        if let jwk = publicJWK {
            var writer = JSONWriter()
            writer.value(jwk)
            return Base64URL.encode(sha256(writer.bytes))
        }
        return Base64URL.encode(try sign(Array("ScopeGate key fingerprint".utf8)[...]))
    }
}
