/// The JWS algorithms ScopeGate can be configured with. A token's `alg` header never chooses one: each key
/// pins its algorithm, and a token whose header names another is refused.
public enum JWSAlgorithm: String, Sendable, CaseIterable {
    /// HMAC with SHA-256 (RFC 7518 §3.2).
    case hs256 = "HS256"
}

/// Why a key cannot be used.
public enum KeyError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooShort(length: Int, minimum: Int)
    case invalidKeyID(String)
    case duplicateKeyID(String)
    case missingKeyID
    case crypto(CryptoError)

    public var description: String {
        switch self {
        case .tooShort(let length, let minimum):
            "the HS256 secret is \(length) bytes long; at least \(minimum) are required (RFC 7518 §3.2). "
                + "Create one with: openssl rand -hex 32 > secret"
        case .invalidKeyID(let id): "key id \(quotedForMessage(id)) must be 1 to 128 printable ASCII characters"
        case .duplicateKeyID(let id): "key id \(quotedForMessage(id)) is used by more than one key"
        case .missingKeyID: "every verification key other than the signing key needs a key id"
        case .crypto(let error): error.description
        }
    }
}

/// A key that signs and verifies tokens, with its algorithm pinned.
public struct SigningKey: Sendable {
    /// The shortest HS256 secret accepted, in bytes (the hash output size, RFC 7518 §3.2).
    public static let minimumSecretLength = 32

    /// The `kid` this key answers to, if any.
    public let id: String?
    /// The only algorithm this key verifies.
    public let algorithm: JWSAlgorithm
    let hmac: HMACSHA256

    /// Creates an HS256 key from raw secret bytes.
    public init(hs256Secret secret: [UInt8], id: String? = nil) throws(KeyError) {
        guard secret.count >= Self.minimumSecretLength else {
            throw .tooShort(length: secret.count, minimum: Self.minimumSecretLength)
        }
        if let id {
            guard (1...128).contains(id.utf8.count), id.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw .invalidKeyID(id)
            }
        }
        do {
            hmac = try HMACSHA256(key: secret)
        } catch {
            throw .crypto(error)
        }
        self.id = id
        self.algorithm = .hs256
    }

    /// Creates an HS256 key from a secret file's content: surrounding white space is trimmed and the
    /// rest is the key, byte for byte (a hex string is not decoded). This is the key PyJWT derives from the
    /// same string, so tokens interoperate both ways.
    public init(secretFileContents contents: [UInt8], id: String? = nil) throws(KeyError) {
        try self.init(hs256Secret: trimmingWhitespace(contents), id: id)
    }
}

/// The keys a verifier accepts and the one a signer uses.
public struct Keyring: Sendable {
    /// The key new tokens are signed with; tokens without `kid` are verified with it alone.
    public let signingKey: SigningKey
    /// Every key a token may name with `kid`, the signing key included.
    public let keys: [SigningKey]

    /// Creates a keyring. Keys other than the signing key must have distinct ids: a token selects them
    /// only by `kid`, never by trying each in turn.
    public init(signingKey: SigningKey, verificationKeys: [SigningKey] = []) throws(KeyError) {
        var seen = Set<String>()
        if let id = signingKey.id { seen.insert(id) }
        for key in verificationKeys {
            guard let id = key.id else { throw .missingKeyID }
            guard seen.insert(id).inserted else { throw .duplicateKeyID(id) }
        }
        self.signingKey = signingKey
        self.keys = [signingKey] + verificationKeys
    }

    /// The key a token's `kid` selects: the signing key when the token names none, else the key with that
    /// id, else nothing.
    func key(forID id: String?) -> SigningKey? {
        guard let id else { return signingKey }
        return keys.first { $0.id == id }
    }
}

/// Bytes with leading and trailing ASCII white space removed.
func trimmingWhitespace(_ bytes: [UInt8]) -> [UInt8] {
    let isSpace: (UInt8) -> Bool = { $0 == 0x20 || (0x09...0x0D).contains($0) }
    guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
        return []
    }
    return Array(bytes[first...last])
}

/// A value from untrusted input, shortened and with control characters replaced, in quotes: safe to put in
/// an error message or log line.
func quotedForMessage(_ value: String, limit: Int = 64) -> String {
    var scalars = String.UnicodeScalarView()
    for scalar in value.unicodeScalars.prefix(limit) {
        scalars.append(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) ? "?" : scalar)
    }
    return "\"" + String(scalars) + (value.unicodeScalars.count > limit ? "…" : "") + "\""
}
