internal import CCrypt
import Glibc

/// The password hash schemes ScopeGate verifies (all through libcrypt).
public enum PasswordScheme: String, Sendable, CaseIterable {
    case bcrypt = "$2b$"
    case bcryptA = "$2a$"
    case bcryptY = "$2y$"
    case yescrypt = "$y$"
    case sha512crypt = "$6$"

    /// Whether the scheme is one of bcrypt's spellings, which read only the first 72 bytes of a password.
    public var isBcrypt: Bool { self == .bcrypt || self == .bcryptA || self == .bcryptY }

    /// The scheme a stored hash is written in, or `nil` for anything else.
    public init?(hash: String) {
        guard let scheme = Self.allCases.first(where: { hash.hasPrefix($0.rawValue) }) else { return nil }
        self = scheme
    }
}

/// Creates and verifies password hashes with libcrypt (`crypt_rn`, one `struct crypt_data` per call, so it
/// is safe on any number of threads at once).
///
/// New hashes are `$2b$` bcrypt at ``cost``; `$2a$`, `$2y$`, yescrypt and sha512crypt still verify and are
/// reported by ``needsRehash(_:)``, the way passlib's `CryptContext(deprecated="auto")` does.
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
        let alphabet: (UInt8) -> Bool = { byte in
            byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "$") || byte == UInt8(ascii: "=")
                || byte == UInt8(ascii: ",") || (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
        guard hash.utf8.allSatisfy(alphabet), hash.utf8.count <= 256 else {
            throw .malformedHash(reason: "unexpected characters or length")
        }
        switch scheme {
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

    private static func bcryptCost(of hash: String) -> Int? {
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
