extension JWSAlgorithm {
    /// HMAC with SHA-256 (RFC 7518 §3.2).
    public static let hs256 = JWSAlgorithm(rawValue: "HS256")
}

/// An HS256 key: a shared secret that signs and verifies. Never published in a JWKS.
public struct HMACKey: JWSKey {
    /// The shortest HS256 secret accepted, in bytes (the hash output size, RFC 7518 §3.2).
    public static let minimumSecretLength = 32

    public let id: String?
    public var algorithm: JWSAlgorithm { .hs256 }
    public var publicJWK: JSONValue? { nil }
    private let hmac: HMACSHA256

    /// Creates an HS256 key from raw secret bytes.
    public init(hs256Secret secret: [UInt8], id: String? = nil) throws(KeyError) {
        guard secret.count >= Self.minimumSecretLength else {
            throw .tooShort(length: secret.count, minimum: Self.minimumSecretLength)
        }
        try KeyError.check(keyID: id)
        do {
            hmac = try HMACSHA256(key: secret)
        } catch {
            throw .crypto(error)
        }
        self.id = id
    }

    /// Creates an HS256 key from a secret file's content: surrounding white space is trimmed and the
    /// rest is the key, byte for byte (a hex string is not decoded). This is the key PyJWT derives from the
    /// same string, so tokens interoperate both ways.
    public init(secretFileContents contents: [UInt8], id: String? = nil) throws(KeyError) {
        try self.init(hs256Secret: trimmingWhitespace(contents), id: id)
    }

    public func sign(_ input: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8] {
        try hmac.authenticationCode(for: input)
    }

    public func verify(_ signature: [UInt8], signs input: ArraySlice<UInt8>) throws(CryptoError) -> Bool {
        guard signature.count == HMACSHA256.tagLength else { return false }
        return constantTimeEquals(try hmac.authenticationCode(for: input), signature)
    }
}
