import Foundation
import ScopeGateCore
import Synchronization

/// Remembers tokens that passed verification, keyed by their exact bytes, so a repeated token skips
/// base64url, JSON and HMAC work. A hit is still checked against `exp` (with the verifier's leeway); the
/// cache belongs to one key ring and one set of options, and is bounded.
final class VerifiedTokenCache: Sendable {
    private let entries = Mutex<[ByteKey: VerifiedToken]>([:])
    private let capacity: Int
    private let leeway: TimeInterval

    init(capacity: Int = 10_000, leeway: TimeInterval) {
        self.capacity = capacity
        self.leeway = leeway
    }

    /// The verified token for `bytes`: from the cache while it has not expired, else from `verifier`.
    func verify(_ bytes: [UInt8], with verifier: TokenVerifier, now: Date) throws(TokenError) -> VerifiedToken {
        let key = ByteKey(bytes)
        let cached = entries.withLock { $0[key] }
        if let cached {
            if now.timeIntervalSince1970 < cached.expiresAt.timeIntervalSince1970 + leeway { return cached }
            _ = entries.withLock { $0.removeValue(forKey: key) }
        }
        let verified = try verifier.verify(bytes: bytes, now: now)
        entries.withLock { entries in
            if entries.count >= capacity {
                // Drop what has expired; if that is not enough, start over: correctness never depends on a hit.
                entries = entries.filter { now.timeIntervalSince1970 < $0.value.expiresAt.timeIntervalSince1970 + leeway }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = verified
        }
        return verified
    }
}
