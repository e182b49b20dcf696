extension JWSAlgorithm {
    /// EdDSA (RFC 8037); ScopeGate's EdDSA keys are Ed25519.
    public static let edDSA = JWSAlgorithm(rawValue: "EdDSA")
}

/// An Ed25519 key (RFC 8037). Tokens name it `EdDSA`; `Ed25519` (RFC 9864's fully specified name) is
/// accepted for it too.
public struct Ed25519Key: JWSKey {
    public let id: String?
    public var algorithm: JWSAlgorithm { .edDSA }
    public let publicJWK: JSONValue?
    private let key: PKey
    private let contexts: SignatureContexts

    /// A key from PEM: a private key (signs and verifies) or a public key (verifies). Without `id`, the kid
    /// is the RFC 7638 thumbprint.
    public init(pem: [UInt8], id: String? = nil) throws(KeyError) {
        try self.init(key: try PKey.load(pem: pem), id: id)
    }

    /// A new Ed25519 key.
    public static func generate(id: String? = nil) throws(KeyError) -> Ed25519Key {
        try Ed25519Key(key: PKey.generate(type: "ED25519"), id: id)
    }

    init(key: PKey, id: String?) throws(KeyError) {
        guard key.isA("ED25519") else { throw .wrongKeyType(algorithm: "EdDSA", expected: "an Ed25519") }
        guard let x = key.rawPublicKey, x.count == 32 else { throw .unreadableKey("the Ed25519 public key cannot be read") }
        let jwk = PublicJWK(required: ["kty": .string("OKP"), "crv": .string("Ed25519"), "x": .string(Base64URL.encode(x))])
        self.key = key
        self.contexts = unsafe try SignatureContexts.forKey(key, digest: nil)
        self.id = try keyID(id, thumbprint: jwk.thumbprint)
        self.publicJWK = jwk.published(id: self.id, algorithm: .edDSA)
    }

    /// The private key as PKCS#8 PEM.
    public func privateKeyPEM() throws(CryptoError) -> [UInt8] { try key.privateKeyPEM() }

    public func accepts(algorithm name: String) -> Bool {
        name == "EdDSA" || name == "Ed25519"
    }

    public func sign(_ input: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8] {
        try contexts.sign(input)
    }

    public func verify(_ signature: [UInt8], signs input: ArraySlice<UInt8>) throws(CryptoError) -> Bool {
        guard signature.count == 64 else { return false }
        return try contexts.verify(signature, signs: input)
    }
}
