internal import CCrypt
import Glibc

/// The password hash schemes ScopeGate verifies: libcrypt's, and the PBKDF2-SHA256 formats of Django and
/// Werkzeug (Flask), so that users imported from those applications keep their passwords.
public enum PasswordScheme: String, Sendable, CaseIterable {
    case bcrypt = "$2b$"
    case bcryptA = "$2a$"
    case bcryptY = "$2y$"
    case yescrypt = "$y$"
    case sha512crypt = "$6$"
    /// Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`.
    case djangoPBKDF2SHA256 = "pbkdf2_sha256$"
    /// Werkzeug's `pbkdf2:sha256:<iterations>$<salt>$<hex hash>`.
    case werkzeugPBKDF2SHA256 = "pbkdf2:sha256:"

    /// Whether the scheme is one of bcrypt's spellings, which read only the first 72 bytes of a password.
    public var isBcrypt: Bool { self == .bcrypt || self == .bcryptA || self == .bcryptY }

    /// The scheme a stored hash is written in, or `nil` for anything else.
    public init?(hash: String) {
        guard let scheme = Self.allCases.first(where: { hash.hasPrefix($0.rawValue) }) else { return nil }
        self = scheme
    }

    /// Whether libcrypt computes it.
    var isCrypt: Bool { rawValue.hasPrefix("$") }

    /// The scheme and cost of a stored hash as `scopegate users list` prints them (`bcrypt-12`,
    /// `sha512crypt`, `django-pbkdf2-sha256-260000`), never the hash; `unknown` for anything else.
    public static func label(of hash: String) -> String {
        switch PasswordScheme(hash: hash) {
        case .bcrypt?, .bcryptA?, .bcryptY?:
            let name = String(hash.prefix(4).dropFirst().dropLast()) == "2b" ? "bcrypt" : "bcrypt-" + String(hash.prefix(3).dropFirst())
            return PasswordHasher.bcryptCost(of: hash).map { "\(name)-\($0)" } ?? name
        case .yescrypt?: return "yescrypt"
        case .sha512crypt?: return "sha512crypt"
        case .djangoPBKDF2SHA256?: return "django-pbkdf2-sha256" + (ForeignPBKDF2(hash).map { "-\($0.iterations)" } ?? "")
        case .werkzeugPBKDF2SHA256?: return "werkzeug-pbkdf2-sha256" + (ForeignPBKDF2(hash).map { "-\($0.iterations)" } ?? "")
        case nil: return "unknown"
        }
    }
}

/// A PBKDF2-HMAC-SHA256 hash in Django's or Werkzeug's format: the salt is used as its text's bytes, the
/// 32-byte hash is base64 (Django) or hex (Werkzeug).
struct ForeignPBKDF2 {
    let iterations: Int
    let salt: [UInt8]
    let hash: [UInt8]

    /// At most this many iterations (Django 5 writes 870,000 to 1,000,000), so one hostile record cannot
    /// make a login cost minutes.
    static let maximumIterations = 10_000_000

    init?(_ encoded: String) {
        let fields: [Substring]
        let hexHash: Bool
        if encoded.hasPrefix(PasswordScheme.djangoPBKDF2SHA256.rawValue) {
            fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
            hexHash = false
        } else if encoded.hasPrefix(PasswordScheme.werkzeugPBKDF2SHA256.rawValue) {
            fields = encoded.dropFirst(PasswordScheme.werkzeugPBKDF2SHA256.rawValue.count - 1).split(separator: "$", omittingEmptySubsequences: false)
                .enumerated().map { $0.offset == 0 ? $0.element.dropFirst() : $0.element }
            hexHash = true
        } else {
            return nil
        }
        // Django: [pbkdf2_sha256, iterations, salt, hash]; Werkzeug after its "pbkdf2:sha256:": [iterations, salt, hash].
        let parts = hexHash ? Array(fields) : Array(fields.dropFirst())
        guard parts.count == 3, parts[0].utf8.allSatisfy({ (0x30...0x39).contains($0) }), parts[0].first != "0",
            let iterations = Int(parts[0]), (1...Self.maximumIterations).contains(iterations),
            !parts[1].isEmpty, parts[1].utf8.count <= 128, parts[1].utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "$") })
        else { return nil }
        let decoded: [UInt8]?
        if hexHash {
            decoded = Self.hex(parts[2])
        } else {
            decoded = Self.base64(parts[2])
        }
        guard let hash = decoded, hash.count == 32 else { return nil }
        self.iterations = iterations
        self.salt = Array(parts[1].utf8)
        self.hash = hash
    }

    func verify(_ password: String) -> Bool {
        guard let derived = try? ClientSecretHash.pbkdf2(Array(password.utf8), salt: salt, rounds: iterations) else { return false }
        return constantTimeEquals(derived, hash)
    }

    private static func hex(_ text: Substring) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard bytes.count % 2 == 0 else { return nil }
        var result: [UInt8] = []
        for index in stride(from: 0, to: bytes.count, by: 2) {
            guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else { return nil }
            result.append(high << 4 | low)
        }
        return result
    }

    /// Standard base64 with padding, as Django writes it.
    private static func base64(_ text: Substring) -> [UInt8]? {
        guard text.utf8.count % 4 == 0, text.utf8.allSatisfy({ $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: "_") }) else { return nil }
        let unpadded = text.utf8.reversed().drop(while: { $0 == UInt8(ascii: "=") }).reversed()
        guard text.utf8.count - unpadded.count <= 2 else { return nil }
        return Base64URL.decode(
            unpadded.map { byte -> UInt8 in
                switch byte {
                case UInt8(ascii: "+"): UInt8(ascii: "-")
                case UInt8(ascii: "/"): UInt8(ascii: "_")
                default: byte
                }
            })
    }
}

/// Creates and verifies password hashes with libcrypt (`crypt_rn`, one `struct crypt_data` per call, so it
/// is safe on any number of threads at once).
///
/// New hashes are `$2b$` bcrypt at ``cost``; `$2a$`, `$2y$`, yescrypt, sha512crypt and Django's and
/// Werkzeug's PBKDF2-SHA256 still verify and are reported by ``needsRehash(_:)``, the way passlib's
/// `CryptContext(deprecated="auto")` does.
///
/// ```swift
/// let hasher = try PasswordHasher(cost: 12)
/// let stored = try hasher.hash("correct horse")
/// hasher.verify("correct horse", against: stored)   // true
/// ```
public struct PasswordHasher: Sendable {
    /// bcrypt ignores every byte past this many.
    public static let bcryptPasswordLimit = 72
    /// The preferred bcrypt cost (log2 of the rounds).
    public let cost: Int
    private let dummyHash: String

    /// Creates a hasher whose new hashes use bcrypt at `cost` (4 to 31; 12 by default).
    public init(cost: Int = 12) throws(PasswordHashError) {
        guard (4...31).contains(cost) else { throw .invalidCost(cost) }
        self.cost = cost
        let costText = cost < 10 ? "0\(cost)" : "\(cost)"
        // A well-formed hash of no known password: verifying against it costs what a real check costs.
        dummyHash = "$2b$\(costText)$Q0sFvZ7mX3pK9tLw2rYhUeJb5nC8dGaRf1oIqTzV6yMxWkPsHlE4u"
    }

    /// Hashes a password with bcrypt at ``cost`` and a fresh 16-byte salt from `RAND_bytes`.
    public func hash(_ password: String) throws(PasswordHashError) -> String {
        try checkHashable(password)
        let random: [UInt8]
        do {
            random = try SecureRandom.bytes(16)
        } catch {
            throw .cryptFailed("RAND_bytes")
        }
        var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        let made = unsafe random.withUnsafeBufferPointer { bytes in
            unsafe bytes.withMemoryRebound(to: CChar.self) { randomChars in
                unsafe crypt_gensalt_rn("$2b$", UInt(cost), randomChars.baseAddress, Int32(randomChars.count), &setting, Int32(setting.count))
            }
        }
        guard unsafe made != nil else { throw .cryptFailed("crypt_gensalt_rn") }
        let settingText = String(decoding: setting.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let hash = Self.crypt(password, setting: settingText) else { throw .cryptFailed("crypt_rn") }
        return hash
    }

    /// Whether `password` matches the stored `hash`. Unknown schemes, malformed hashes, NUL bytes, and
    /// passwords past bcrypt's 72 bytes against a bcrypt hash never match.
    public func verify(_ password: String, against hash: String) -> Bool {
        guard let scheme = PasswordScheme(hash: hash), !password.utf8.contains(0) else {
            verifyDummy(password)
            return false
        }
        if scheme.isBcrypt, password.utf8.count > Self.bcryptPasswordLimit {
            verifyDummy(password)
            return false
        }
        return Self.verifyHash(password, against: hash)
    }

    /// ``verify(_:against:)`` without the dummy work for a hash or password that cannot match: for secrets
    /// that are not user passwords, where no timing tells a name apart.
    public static func verifyHash(_ password: String, against hash: String) -> Bool {
        guard let scheme = PasswordScheme(hash: hash), !password.utf8.contains(0) else { return false }
        if scheme.isBcrypt, password.utf8.count > bcryptPasswordLimit { return false }
        guard scheme.isCrypt else { return ForeignPBKDF2(hash)?.verify(password) ?? false }
        guard let computed = crypt(password, setting: hash) else { return false }
        return constantTimeEquals(Array(computed.utf8), Array(hash.utf8))
    }

    /// Spends the time of one real verification at ``cost`` and discards the result, so that "no such user"
    /// takes as long as "wrong password".
    public func verifyDummy(_ password: String) {
        let prefix = String(decoding: password.utf8.prefix(Self.bcryptPasswordLimit).filter { $0 != 0 }, as: UTF8.self)
        _ = Self.crypt(prefix, setting: dummyHash)
    }

    /// Whether a stored hash should be replaced at the next successful login: it is not `$2b$` at ``cost``.
    public func needsRehash(_ hash: String) -> Bool {
        guard PasswordScheme(hash: hash) == .bcrypt, let hashCost = Self.bcryptCost(of: hash) else { return true }
        return hashCost != cost
    }

    /// Checks that a stored hash is in a supported scheme and well formed, without running it.
    public static func validate(hash: String) throws(PasswordHashError) {
        guard let scheme = PasswordScheme(hash: hash) else {
            // Only the scheme marker is quoted: the rest of a hash is not for logs.
            throw .unsupportedHash(scheme: String(hash.prefix(hash.hasPrefix("$") ? 3 : 0)))
        }
        guard scheme.isCrypt else {
            guard ForeignPBKDF2(hash) != nil else {
                throw .malformedHash(
                    reason: scheme == .djangoPBKDF2SHA256
                        ? "a Django hash is pbkdf2_sha256$<iterations>$<salt>$<base64 of 32 bytes>"
                        : "a Werkzeug hash is pbkdf2:sha256:<iterations>$<salt>$<64 hex digits>")
            }
            return
        }
        let alphabet: (UInt8) -> Bool = { byte in
            byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "$") || byte == UInt8(ascii: "=")
                || byte == UInt8(ascii: ",") || (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
        guard hash.utf8.allSatisfy(alphabet), hash.utf8.count <= 256 else {
            throw .malformedHash(reason: "unexpected characters or length")
        }
        switch scheme {
        case .djangoPBKDF2SHA256, .werkzeugPBKDF2SHA256:
            return
        case .bcrypt, .bcryptA, .bcryptY:
            guard hash.utf8.count == 60, let cost = bcryptCost(of: hash) else {
                throw .malformedHash(reason: "a bcrypt hash is $2b$, a two-digit cost, $ and 53 characters")
            }
            guard (4...31).contains(cost) else { throw .invalidCost(cost) }
        case .yescrypt, .sha512crypt:
            guard hash.split(separator: "$", omittingEmptySubsequences: false).count >= 4 else {
                throw .malformedHash(reason: "missing salt or hash field")
            }
        }
    }

    static func bcryptCost(of hash: String) -> Int? {
        let bytes = Array(hash.utf8)
        guard bytes.count >= 7, bytes[6] == UInt8(ascii: "$"),
            let tens = hexValue(bytes[4]), let ones = hexValue(bytes[5]), tens < 10, ones < 10
        else { return nil }
        return Int(tens) * 10 + Int(ones)
    }

    private func checkHashable(_ password: String) throws(PasswordHashError) {
        if password.utf8.contains(0) { throw .passwordContainsNUL }
        if password.utf8.count > Self.bcryptPasswordLimit {
            throw .passwordTooLong(bytes: password.utf8.count, limit: Self.bcryptPasswordLimit)
        }
    }

    /// One `crypt_rn` call with its own zeroed 32 KiB `crypt_data`. `nil` on failure (including libcrypt's
    /// failure tokens, which start with `*`).
    private static func crypt(_ password: String, setting: String) -> String? {
        let size = MemoryLayout<crypt_data>.size
        guard let data = unsafe calloc(1, size) else { return nil }
        defer {
            unsafe memset(data, 0, size)
            unsafe free(data)
        }
        guard let output = unsafe crypt_rn(password, setting, data, Int32(size)) else { return nil }
        let result = unsafe String(cString: output)
        return result.hasPrefix("*") ? nil : result
    }
}
