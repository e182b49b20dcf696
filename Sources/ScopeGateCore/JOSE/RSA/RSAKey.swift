internal import COpenSSL

extension JWSAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    public static let rs256 = JWSAlgorithm(rawValue: "RS256")
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256, salt as long as the hash (RFC 7518 §3.5).
    public static let ps256 = JWSAlgorithm(rawValue: "PS256")
}

/// An RS256 or PS256 key: RSA of at least 2048 bits that passes OpenSSL's public check. One key pins one of
/// the two algorithms; the same RSA key material under the other is a different key.
public struct RSAKey: JWSKey {
    /// The smallest modulus accepted, in bits (RFC 7518 §3.3).
    public static let minimumBits = 2048

    public let id: String?
    public let algorithm: JWSAlgorithm
    public let publicJWK: JSONValue?
    private let key: PKey
    private let contexts: SignatureContexts

    /// A key from PEM: a private key (signs and verifies) or a public key (verifies), for `algorithm`
    /// (``JWSAlgorithm/rs256`` or ``JWSAlgorithm/ps256``). Without `id`, the kid is the RFC 7638 thumbprint.
    public init(pem: [UInt8], algorithm: JWSAlgorithm, id: String? = nil) throws(KeyError) {
        try self.init(key: try PKey.load(pem: pem), algorithm: algorithm, id: id)
    }

    /// A new RSA key of `bits` bits.
    public static func generate(algorithm: JWSAlgorithm, bits: Int = 2048, id: String? = nil) throws(KeyError) -> RSAKey {
        try RSAKey(key: PKey.generate(type: "RSA", rsaBits: bits), algorithm: algorithm, id: id)
    }

    init(key: PKey, algorithm: JWSAlgorithm, id: String?) throws(KeyError) {
        guard algorithm == .rs256 || algorithm == .ps256 else { throw .wrongKeyType(algorithm: algorithm.rawValue, expected: "a matching") }
        guard key.isA("RSA") else { throw .wrongKeyType(algorithm: algorithm.rawValue, expected: "an RSA") }
        guard key.bits >= Self.minimumBits else { throw .rsaKeyTooSmall(bits: key.bits) }
        guard key.passesPublicCheck else { throw .invalidPublicKey("the RSA public exponent or modulus is unusable") }
        guard let n = key.bigNumber("n"), let e = key.bigNumber("e") else { throw .unreadableKey("the RSA modulus cannot be read") }
        let jwk = PublicJWK(required: ["kty": .string("RSA"), "n": .string(Base64URL.encode(n)), "e": .string(Base64URL.encode(e))])
        self.key = key
        self.contexts = unsafe try SignatureContexts.forKey(key, digest: "SHA256", configure: algorithm == .ps256 ? Self.pssPadding : nil)
        self.algorithm = algorithm
        self.id = try keyID(id, thumbprint: jwk.thumbprint)
        self.publicJWK = jwk.published(id: self.id, algorithm: algorithm)
    }

    /// The private key as PKCS#8 PEM.
    public func privateKeyPEM() throws(CryptoError) -> [UInt8] { try key.privateKeyPEM() }

    public func sign(_ input: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8] {
        try contexts.sign(input)
    }

    public func verify(_ signature: [UInt8], signs input: ArraySlice<UInt8>) throws(CryptoError) -> Bool {
        // A signature is exactly the modulus's length.
        guard signature.count == (key.bits + 7) / 8 else { return false }
        return try contexts.verify(signature, signs: input)
    }

    /// PS256: PSS padding with a salt as long as the digest.
    private static let pssPadding: PKey.Configure = { context in
        unsafe EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PSS_PADDING) == 1
            && EVP_PKEY_CTX_set_rsa_pss_saltlen(context, RSA_PSS_SALTLEN_DIGEST) == 1
    }
}
