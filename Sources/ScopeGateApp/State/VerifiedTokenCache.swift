import FoundationEssentials
import ScopeGateCore
import ScopeGateHTTP
import Synchronization

/// Remembers tokens that passed verification, keyed by their exact bytes, so a repeated token skips
/// base64url, JSON and HMAC work and the user lookup. A hit is still checked against `exp` (with the
/// verifier's leeway); the cache belongs to one key ring, one set of options and one set of principal
/// directories, and is bounded.
///
/// Each thread also keeps the entries it used recently in a table of its own (``PerThread``), read without
/// the shared table's lock (whose cache line every thread would otherwise write on every request).
final class VerifiedTokenCache: TokenCache {
    private let entries = Mutex<[TokenKey: AuthenticatedToken]>([:])
    private let recent = PerThread { [TokenKey: AuthenticatedToken]() }
    private static let recentCapacity = 1_024
    private let capacity: Int
    private let leeway: TimeInterval
    private let principals: PrincipalDirectories
    /// The identity-token headers every allow answer carries, empty until a token is put in one.
    private let identityTokenHeaders: [String]

    init(capacity: Int = 10_000, leeway: TimeInterval, principals: PrincipalDirectories, identityTokenHeaders: [String] = []) {
        self.capacity = capacity
        self.leeway = leeway
        self.principals = principals
        self.identityTokenHeaders = identityTokenHeaders
    }

    /// The cache entry for `bytes`: cached while it has not expired, else verified now by `verifier`. A hit
    /// copies nothing: the bytes may be a slice of the request's header buffer.
    func entry(_ bytes: ArraySlice<UInt8>, with verifier: TokenVerifier, now: Date) throws(TokenError) -> AuthenticatedToken {
        let kept = recent.withCurrent { mine -> AuthenticatedToken? in
            guard let kept = mine[TokenKey(bytes)] else { return nil }
            if isFresh(kept, now: now) { return kept }
            mine.removeValue(forKey: TokenKey(bytes))
            return nil
        }
        if let kept = kept ?? nil { return kept }
        let entry = try sharedEntry(bytes, with: verifier, now: now)
        recent.withCurrent { mine in
            if mine.count >= Self.recentCapacity { mine.removeAll(keepingCapacity: true) }
            mine[TokenKey(entry.bytes[...])] = entry
        }
        return entry
    }

    private func isFresh(_ entry: AuthenticatedToken, now: Date) -> Bool {
        now.timeIntervalSince1970 < entry.token.expiresAt.timeIntervalSince1970 + leeway
    }

    private func sharedEntry(_ bytes: ArraySlice<UInt8>, with verifier: TokenVerifier, now: Date) throws(TokenError) -> AuthenticatedToken {
        let cached = entries.withLock { $0[TokenKey(bytes)] }
        if let cached {
            if isFresh(cached, now: now) { return cached }
            _ = entries.withLock { $0.removeValue(forKey: TokenKey(bytes)) }
        }
        let owned = Array(bytes)
        let verified = AuthenticatedToken(
            try verifier.verify(bytes: owned, now: now), bytes: owned, principals: principals, identityTokenHeaders: identityTokenHeaders)
        let key = TokenKey(owned[...])
        entries.withLock { entries in
            if entries.count >= capacity {
                // Drop what has expired; if that is not enough, start over: correctness never depends on a hit.
                entries = entries.filter { isFresh($0.value, now: now) }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = verified
        }
        return verified
    }
}

/// A token's bytes as a cache key. Equality compares every byte; the hash reads only the length and the last
/// 16 bytes, which for a stored key lie inside its signature. The invariant the hash rests on: only verified
/// tokens are stored, so those bytes come from a configured key's signature (uniform and out of a client's
/// choosing for HMAC and for the asymmetric algorithms alike) and no client can pile entries into one bucket.
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
