import FoundationEssentials
import ScopeGateCore
import ScopeGateHTTP
import Synchronization

/// A verified token as cached, resolved against the users of the cache's configuration once: its user
/// record, the scopes that record still allows, and the forward-auth answer that allows it (the identity
/// headers depend only on the token and the users file), built once into libmicrohttpd's form.
final class CachedToken: Sendable {
    let token: VerifiedToken
    /// The token's user, nil when the users file no longer has it.
    let user: UserRecord?
    /// The token's scopes that its user's record still allows (a scope removed from the record stops
    /// working at once, even in tokens issued before), in the token's order.
    let effectiveScopes: [String]
    /// The answer for a request this token is allowed; nil when the user is gone or disabled.
    let allowResponse: HTTPResponse?

    init(_ token: VerifiedToken, users: UserDirectory) {
        self.token = token
        let user = users[token.subject]
        self.user = user
        let effectiveScopes = user.map { user in token.scopes.filter(user.scopes.contains) } ?? []
        self.effectiveScopes = effectiveScopes
        allowResponse = user.flatMap { $0.disabled ? nil : Responses.allow(user: $0, scopes: effectiveScopes).prepared() }
    }
}

/// Remembers tokens that passed verification, keyed by their exact bytes, so a repeated token skips
/// base64url, JSON and HMAC work and the user lookup. A hit is still checked against `exp` (with the
/// verifier's leeway); the cache belongs to one key ring, one set of options and one users file, and is
/// bounded.
final class VerifiedTokenCache: Sendable {
    private let entries = Mutex<[TokenKey: CachedToken]>([:])
    private let capacity: Int
    private let leeway: TimeInterval
    private let users: UserDirectory

    init(capacity: Int = 10_000, leeway: TimeInterval, users: UserDirectory) {
        self.capacity = capacity
        self.leeway = leeway
        self.users = users
    }

    /// The cache entry for `bytes`: cached while it has not expired, else verified now by `verifier`. A hit
    /// copies nothing: the bytes may be a slice of the request's header buffer.
    func entry(_ bytes: ArraySlice<UInt8>, with verifier: TokenVerifier, now: Date) throws(TokenError) -> CachedToken {
        let cached = entries.withLock { $0[TokenKey(bytes)] }
        if let cached {
            if now.timeIntervalSince1970 < cached.token.expiresAt.timeIntervalSince1970 + leeway { return cached }
            _ = entries.withLock { $0.removeValue(forKey: TokenKey(bytes)) }
        }
        let owned = Array(bytes)
        let verified = CachedToken(try verifier.verify(bytes: owned, now: now), users: users)
        let key = TokenKey(owned[...])
        entries.withLock { entries in
            if entries.count >= capacity {
                // Drop what has expired; if that is not enough, start over: correctness never depends on a hit.
                entries = entries.filter { now.timeIntervalSince1970 < $0.value.token.expiresAt.timeIntervalSince1970 + leeway }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = verified
        }
        return verified
    }
}

/// A token's bytes as a cache key. Equality compares every byte; the hash reads only the length and the last
/// 16 bytes, which for a stored key lie inside its HMAC signature: ScopeGate's secret makes them uniform and
/// out of a client's choosing, and only verified tokens are stored, so no client can pile entries into one
/// bucket.
private struct TokenKey: Hashable {
    let bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.count)
        bytes.suffix(16).withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    static func == (lhs: TokenKey, rhs: TokenKey) -> Bool {
        ByteKey(lhs.bytes) == ByteKey(rhs.bytes)
    }
}
