public import FoundationEssentials
public import ScopeGateHTTP
import Synchronization

/// Slows password guessing on `/token`: failed logins are counted per (user, address) pair, per address and
/// per user name, and once a key has had its free failures each further one bans it for twice as long as the
/// one before (the first ban ``Limits/firstBan``, then doubling up to a cap).
///
/// The trade-off: a per-user limit is what stops a guesser who spreads over many addresses, but it is also
/// what a stranger could use to lock a real user out. So the per-user limit starts late and is capped at a
/// minute, while the pair and address limits, which only hurt the guesser, start early and grow to 15
/// minutes. A refused attempt costs no bcrypt time and is not counted. A success clears the pair and the
/// user name; an address's count fades only with time, so logging into one's own account cannot reset it.
public final class LoginThrottle: LoginAttemptStore {
    /// When a key starts waiting and how long it may wait at most.
    public struct Limits: Sendable {
        /// Failures a (user, address) pair gets for free: the attempt after the last free one is refused.
        public var pairFreeFailures = 5
        /// Failures an address gets for free, across user names.
        public var addressFreeFailures = 20
        /// Failures a user name gets for free, across addresses.
        public var userFreeFailures = 20
        /// The first ban, in seconds; each further failure doubles it.
        public var firstBan: TimeInterval = 1
        /// The longest wait for a pair or an address, in seconds.
        public var maximumDelay: TimeInterval = 15 * 60
        /// The longest wait a user name alone can be put under, in seconds.
        public var maximumUserDelay: TimeInterval = 60
        /// Seconds without failures after which a key is forgotten.
        public var memory: TimeInterval = 15 * 60
        /// Keys kept at most; the oldest are forgotten first.
        public var capacity = 100_000

        /// The defaults above.
        public init() {}
    }

    private enum Key: Hashable {
        case pair(String, IPAddress?)
        case address(IPAddress)
        case user(String)
    }

    private struct Entry {
        var failures = 0
        var blockedUntil = Date.distantPast
        var lastFailure = Date.distantPast
    }

    private let limits: Limits
    private let entries = Mutex<[Key: Entry]>([:])

    /// Creates a throttle.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Seconds to wait before `username` may try again from `address`, or `nil` when it may try now.
    public func retryAfter(username: String, address: IPAddress?, now: Date) -> TimeInterval? {
        let keys = Self.keys(username: username, address: address)
        return entries.withLock { entries in
            let waits = keys.compactMap { entries[$0].map { $0.blockedUntil.timeIntervalSince(now) } }.filter { $0 > 0 }
            return waits.max()
        }
    }

    /// Counts a failed login.
    public func recordFailure(username: String, address: IPAddress?, now: Date) {
        let keys = Self.keys(username: username, address: address)
        entries.withLock { entries in
            if entries.count >= limits.capacity { prune(&entries, now: now) }
            for key in keys {
                var entry = entries[key] ?? Entry()
                if now.timeIntervalSince(entry.lastFailure) > limits.memory { entry = Entry() }
                entry.failures += 1
                entry.lastFailure = now
                let (free, cap): (Int, TimeInterval) =
                    switch key {
                    case .pair: (limits.pairFreeFailures, limits.maximumDelay)
                    case .address: (limits.addressFreeFailures, limits.maximumDelay)
                    case .user: (limits.userFreeFailures, limits.maximumUserDelay)
                    }
                if entry.failures >= free {
                    let exponent = min(entry.failures - free, 30)
                    entry.blockedUntil = now + min(cap, limits.firstBan * Double(1 << exponent))
                }
                entries[key] = entry
            }
        }
    }

    /// Clears the pair and the user name after a successful login.
    public func recordSuccess(username: String, address: IPAddress?) {
        entries.withLock { entries in
            _ = entries.removeValue(forKey: .pair(username, address))
            _ = entries.removeValue(forKey: .user(username))
        }
    }

    private static func keys(username: String, address: IPAddress?) -> [Key] {
        var keys: [Key] = [.pair(username, address), .user(username)]
        if let address { keys.append(.address(address)) }
        return keys
    }

    private func prune(_ entries: inout [Key: Entry], now: Date) {
        entries = entries.filter { now.timeIntervalSince($0.value.lastFailure) <= limits.memory || $0.value.blockedUntil > now }
        if entries.count >= limits.capacity {
            let oldest = entries.sorted { $0.value.lastFailure < $1.value.lastFailure }.prefix(entries.count - limits.capacity / 2)
            for (key, _) in oldest { entries.removeValue(forKey: key) }
        }
    }
}
