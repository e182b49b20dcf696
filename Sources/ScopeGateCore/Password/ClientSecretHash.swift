internal import COpenSSL

/// A stored client secret hash: PBKDF2-HMAC-SHA256 in passlib's `$pbkdf2-sha256$<rounds>$<salt>$<hash>`
/// form (its adapted base64: `.` for `+`, no padding), so hashes passlib makes work as they are, or a
/// bcrypt hash as the users file holds. Verification is constant-time and costs the hash's full work: run
/// it on a worker thread.
///
/// ```swift
/// let (secret, hash) = try ClientSecretHash.generate()
/// ClientSecretHash(hash)!.verify(secret)  // true
/// ```
public struct ClientSecretHash: Sendable, Equatable {
    /// The hash as written in the clients file.
    public let encoded: String
    private let scheme: Scheme

    private enum Scheme: Equatable {
        case pbkdf2(rounds: Int, salt: [UInt8], hash: [UInt8])
        case bcrypt
    }

    /// The fewest PBKDF2 rounds accepted, and the rounds `scopegate clients secret` writes (OWASP's 2023
    /// figure for PBKDF2-HMAC-SHA256).
    public static let minimumRounds = 1_000
    public static let defaultRounds = 600_000
    /// At most this many rounds, so one hostile file cannot make every check cost minutes.
    public static let maximumRounds = 10_000_000

    /// Parses a stored hash; nil when it is neither a well-formed passlib PBKDF2-SHA256 hash nor bcrypt.
    public init?(_ encoded: String) {
        self.encoded = encoded
        if encoded.hasPrefix("$2") {
            guard (try? PasswordHasher.validate(hash: encoded)) != nil else { return nil }
            scheme = .bcrypt
            return
        }
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty, fields[1] == "pbkdf2-sha256",
            fields[2].allSatisfy(\.isASCII), fields[2].first != "0", let rounds = Int(fields[2]),
            (Self.minimumRounds...Self.maximumRounds).contains(rounds),
            let salt = Self.adaptedBase64Decode(fields[3]), salt.count >= 8,
            let hash = Self.adaptedBase64Decode(fields[4]), hash.count == 32
        else { return nil }
        scheme = .pbkdf2(rounds: rounds, salt: salt, hash: hash)
    }

    /// Why `encoded` is refused, for configuration messages.
    public static func problem(with encoded: String) -> String? {
        if ClientSecretHash(encoded) != nil { return nil }
        if encoded.hasPrefix("$pbkdf2-sha256$") {
            return "is not a valid PBKDF2-SHA256 hash ($pbkdf2-sha256$<rounds>$<salt>$<hash> with \(minimumRounds) to "
                + "\(maximumRounds) rounds, a salt of at least 8 bytes and a 32-byte hash, in passlib's base64)"
        }
        return "is not a $pbkdf2-sha256$ or bcrypt hash (make one with: scopegate clients secret)"
    }

    /// Whether `secret` is the one this hash was made from.
    public func verify(_ secret: String) -> Bool {
        switch scheme {
        case .bcrypt:
            return PasswordHasher.verifyHash(secret, against: encoded)
        case .pbkdf2(let rounds, let salt, let hash):
            guard let derived = try? Self.pbkdf2(Array(secret.utf8), salt: salt, rounds: rounds) else { return false }
            return constantTimeEquals(derived, hash)
        }
    }

    /// A new secret (256 random bits, base64url) and its PBKDF2-SHA256 hash.
    public static func generate(rounds: Int = defaultRounds) throws(CryptoError) -> (secret: String, hash: String) {
        let secret = Base64URL.encode(try SecureRandom.bytes(32))
        return (secret, try hash(secret, rounds: rounds))
    }

    /// The passlib-form PBKDF2-SHA256 hash of `secret` with a new 16-byte salt.
    public static func hash(_ secret: String, rounds: Int = defaultRounds) throws(CryptoError) -> String {
        let salt = try SecureRandom.bytes(16)
        let derived = try pbkdf2(Array(secret.utf8), salt: salt, rounds: rounds)
        return "$pbkdf2-sha256$\(rounds)$\(adaptedBase64Encode(salt))$\(adaptedBase64Encode(derived))"
    }

    /// A well-formed hash at ``defaultRounds`` that no secret matches (random salt and hash): checking it
    /// costs what checking a real one does, and making it costs nothing.
    public static func unmatchable() -> ClientSecretHash {
        let salt = (try? SecureRandom.bytes(16)) ?? [UInt8](repeating: 1, count: 16)
        let hash = (try? SecureRandom.bytes(32)) ?? [UInt8](repeating: 2, count: 32)
        return ClientSecretHash("$pbkdf2-sha256$\(defaultRounds)$\(adaptedBase64Encode(salt))$\(adaptedBase64Encode(hash))")!
    }

    static func pbkdf2(_ secret: [UInt8], salt: [UInt8], rounds: Int) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let status = unsafe secret.withUnsafeBufferPointer { password in
            unsafe salt.withUnsafeBufferPointer { saltBytes in
                unsafe out.withUnsafeMutableBufferPointer { output in
                    unsafe password.withMemoryRebound(to: CChar.self) { chars in
                        unsafe PKCS5_PBKDF2_HMAC(
                            chars.baseAddress, Int32(chars.count), saltBytes.baseAddress, Int32(saltBytes.count), Int32(rounds), EVP_sha256(),
                            Int32(output.count), output.baseAddress)
                    }
                }
            }
        }
        guard status == 1 else { throw .fromErrorQueue("PKCS5_PBKDF2_HMAC") }
        return out
    }

    /// passlib's adapted base64: the standard alphabet with `.` for `+`, without padding.
    static func adaptedBase64Decode(_ text: Substring) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: "_") && $0 != UInt8(ascii: "=") }) else {
            return nil
        }
        let url = text.utf8.map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "."): UInt8(ascii: "-")
            case UInt8(ascii: "/"): UInt8(ascii: "_")
            default: byte
            }
        }
        return Base64URL.decode(url)
    }

    static func adaptedBase64Encode(_ bytes: [UInt8]) -> String {
        String(
            decoding: Base64URL.encodeToBytes(bytes).map { byte -> UInt8 in
                switch byte {
                case UInt8(ascii: "-"): UInt8(ascii: ".")
                case UInt8(ascii: "_"): UInt8(ascii: "/")
                default: byte
                }
            }, as: UTF8.self)
    }

    public static func == (lhs: ClientSecretHash, rhs: ClientSecretHash) -> Bool { lhs.encoded == rhs.encoded }
}
