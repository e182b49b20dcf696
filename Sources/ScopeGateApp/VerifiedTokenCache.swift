import Foundation
import ScopeGateCore
import ScopeGateHTTP
import Synchronization

/// A verified token as cached, with the forward-auth answer that allows it once one has been built: the
/// identity headers depend only on the token and the users file, and the cache belongs to one configuration.
final class CachedToken: Sendable {
    let token: VerifiedToken
    private let allowAnswer = Mutex<HTTPResponse?>(nil)

    init(_ token: VerifiedToken) {
        self.token = token
    }

    /// The allow answer for this token, built by `make` the first time.
    func allowResponse(_ make: () -> HTTPResponse) -> HTTPResponse {
        if let built = allowAnswer.withLock({ $0 }) { return built }
        let built = make().prepared()
        allowAnswer.withLock { $0 = built }
        return built
    }
}

/// Remembers tokens that passed verification, keyed by their exact bytes, so a repeated token skips
/// base64url, JSON and HMAC work. A hit is still checked against `exp` (with the verifier's leeway); the
/// cache belongs to one key ring and one set of options, and is bounded.
final class VerifiedTokenCache: Sendable {
    private let entries = Mutex<[ByteKey: CachedToken]>([:])
    private let capacity: Int
    private let leeway: TimeInterval

    init(capacity: Int = 10_000, leeway: TimeInterval) {
        self.capacity = capacity
        self.leeway = leeway
    }

    /// The cache entry for `bytes`: cached while it has not expired, else verified now by `verifier`.
    func entry(_ bytes: [UInt8], with verifier: TokenVerifier, now: Date) throws(TokenError) -> CachedToken {
        let key = ByteKey(bytes)
        let cached = entries.withLock { $0[key] }
        if let cached {
            if now.timeIntervalSince1970 < cached.token.expiresAt.timeIntervalSince1970 + leeway { return cached }
            _ = entries.withLock { $0.removeValue(forKey: key) }
        }
        let verified = CachedToken(try verifier.verify(bytes: bytes, now: now))
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
