public import FoundationEssentials
import ScopeGateCore
import ScopeGateStore

/// How refresh tokens (RFC 6749 §6) are issued: opaque, 256-bit random, kept in the store only as their
/// SHA-256; one family per login, every redemption rotating the token.
public struct RefreshTokenSettings: Sendable {
    /// How long a login's family lasts, in seconds, for logins without a client; 0: such logins get no
    /// refresh token.
    public var lifetime: TimeInterval = 0
    /// A token unused this long expires; nil: the lifetime.
    public var idle: TimeInterval?
    /// How long after a redemption the same client may present the spent token again and get the same
    /// successor (for a retry after a lost answer); 0: never, a spent token again revokes its family.
    public var reuseGrace: TimeInterval = 0
    /// The longest reuse grace allowed.
    public static let maximumReuseGrace: TimeInterval = 5
    /// A family's lifetime for clients with the `refresh_token` grant when `lifetime` is 0.
    public static let clientLifetime: TimeInterval = 30 * 86_400

    public init() {}

    /// The family lifetime for a login through `client` (nil: none), or nil when such a login gets no
    /// refresh token: a client needs the `refresh_token` grant; a login without one needs `lifetime`.
    func familyLifetime(for client: ClientRecord?) -> TimeInterval? {
        if let client {
            guard client.grantTypes.contains(.refreshToken) else { return nil }
            return lifetime > 0 ? lifetime : Self.clientLifetime
        }
        return lifetime > 0 ? lifetime : nil
    }

    /// Whether any login can get a refresh token.
    func isOffered(by configuration: ServiceConfiguration) -> Bool {
        configuration.revocations.store != nil
            && (lifetime > 0 || configuration.clients.clients.values.contains { $0.grantTypes.contains(.refreshToken) })
    }
}

/// The refresh token's bytes and what the store keeps of it.
enum RefreshToken {
    /// A new token: 32 random bytes, base64url (43 characters).
    static func generate() throws(CryptoError) -> String {
        Base64URL.encode(try SecureRandom.bytes(32))
    }

    /// What the store keys a token by: its SHA-256, base64url. The token is 256 random bits, so no salt or
    /// slow hash is needed; a leaked store holds nothing a client could present.
    static func hash(_ token: String) -> String {
        Base64URL.encode(sha256(Array(token.utf8)))
    }

    /// Whether `text` could be a refresh token (43 base64url characters), before asking the store.
    static func isWellFormed(_ text: String) -> Bool {
        text.utf8.count == 43 && Base64URL.decode(text)?.count == 32
    }

    /// `successor` sealed under `token`, the one it replaces: XOR with a SHA-256 of `token` under a label of
    /// its own (a one-time pad from 256 bits only `token`'s holder has). Opened by ``unseal(_:under:)``.
    static func seal(_ successor: String, under token: String) -> String {
        guard let bytes = Base64URL.decode(successor), bytes.count == 32 else { return "" }
        return Base64URL.encode(zip(bytes, pad(token)).map { $0 ^ $1 })
    }

    /// The successor `sealed` holds, or nil when it is not one sealed under `token`.
    static func unseal(_ sealed: String, under token: String) -> String? {
        guard let bytes = Base64URL.decode(sealed), bytes.count == 32 else { return nil }
        return Base64URL.encode(zip(bytes, pad(token)).map { $0 ^ $1 })
    }

    private static func pad(_ token: String) -> [UInt8] {
        sha256(Array("scopegate refresh successor\u{0}".utf8) + Array(token.utf8))
    }
}
