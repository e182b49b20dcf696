import Dispatch
public import FoundationEssentials
public import ScopeGateHTTP
public import ScopeGateStore
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
///
/// With a store, every failure is also counted there (atomically, from a queue of their own: no caller
/// waits on the store) and the store's count, which every replica sharing it adds to, comes back into this
/// one's counters; ``catchUp(now:)`` (run by the watch of the store about once a second) reads what the
/// others counted. So one attacker spread over replicas has about the budget he would have against one
/// (each replica may let one more try through before it hears of a ban another set), a restart lifts no
/// ban and forgets no failure, and when the store cannot be reached each replica still regulates alone.
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

        /// The key as the store keeps it.
        var stored: String {
            switch self {
            case .pair(let user, let address): "pair\u{0}\(user)\u{0}\(address?.description ?? "")"
            case .address(let address): "address\u{0}\(address)"
            case .user(let user): "user\u{0}\(user)"
            }
        }

        init?(stored: String) {
            let parts = stored.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
            switch (parts.first, parts.count) {
            case ("pair", 3):
                if parts[2].isEmpty {
                    self = .pair(parts[1], nil)
                } else if let address = IPAddress(parts[2]) {
                    self = .pair(parts[1], address)
                } else {
                    return nil
                }
            case ("address", 2):
                guard let address = IPAddress(parts[1]) else { return nil }
                self = .address(address)
            case ("user", 2): self = .user(parts[1])
            default: return nil
            }
        }
    }

    private struct Entry {
        var failures = 0
        var blockedUntil = Date.distantPast
        var lastFailure = Date.distantPast
    }

    private let limits: Limits
    private let entries = Mutex<[Key: Entry]>([:])
    private let store: (any StateStore)?
    private let writes = DispatchQueue(label: "scopegate.login-failures")
    /// Where ``catchUp(now:)`` last read the store up to (the writes' queue only).
    private let readUpTo = Mutex(Date.distantPast)

    /// Creates a throttle; with `store`, its counters still of use at `now` are read back first.
    public init(limits: Limits = Limits(), store: (any StateStore)? = nil, now: Date = Date()) {
        self.limits = limits
        self.store = store
        if let saved = try? store?.loginFailures(at: now, memory: limits.memory) {
            merge(saved)
            readUpTo.withLock { $0 = now }
        }
    }

    /// Takes in counters the store holds: a key's count is the larger of this replica's and the store's
    /// (which includes this replica's own, unless a write was lost), and its ban the one that count earns.
    private func merge(_ shared: [LoginFailure]) {
        guard !shared.isEmpty else { return }
        entries.withLock { entries in
            for failure in shared {
                guard let key = Key(stored: failure.key) else { continue }
                var entry = entries[key] ?? Entry()
                if failure.lastFailure.timeIntervalSince(entry.lastFailure) > limits.memory { entry = Entry() }
                guard failure.failures > entry.failures else { continue }
                entry.failures = failure.failures
                entry.lastFailure = max(entry.lastFailure, failure.lastFailure)
                entry.blockedUntil = max(entry.blockedUntil, failure.blockedUntil, ban(key, failures: failure.failures, at: failure.lastFailure))
                entries[key] = entry
            }
        }
    }

    /// When a key with `failures` failures, the last at `last`, may try again (distant past: at once).
    private func ban(_ key: Key, failures: Int, at last: Date) -> Date {
        let (free, cap): (Int, TimeInterval) =
            switch key {
            case .pair: (limits.pairFreeFailures, limits.maximumDelay)
            case .address: (limits.addressFreeFailures, limits.maximumDelay)
            case .user: (limits.userFreeFailures, limits.maximumUserDelay)
            }
        guard failures >= free else { return .distantPast }
        return last + min(cap, limits.firstBan * Double(1 << min(failures - free, 30)))
    }

    /// Reads the failures other replicas counted since the last read (a second's overlap: a commit may
    /// land a little after its failure's time). Without a store, nothing. May block: the watch of the
    /// store runs it, about once a second.
    public func catchUp(now: Date) {
        guard let store else { return }
        writes.async { [self] in
            let since = readUpTo.withLock { $0 } - 1
            guard let shared = try? store.loginFailures(after: since) else { return }
            merge(shared)
            readUpTo.withLock { $0 = now }
        }
    }

    /// Waits until every counter written so far is in the store (for tests and for stopping).
    public func flush() {
        writes.sync {}
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
        let changed = entries.withLock { entries -> [Key] in
            if entries.count >= limits.capacity { prune(&entries, now: now) }
            var changed: [Key] = []
            for key in keys {
                var entry = entries[key] ?? Entry()
                if now.timeIntervalSince(entry.lastFailure) > limits.memory { entry = Entry() }
                entry.failures += 1
                entry.lastFailure = now
                entry.blockedUntil = max(entry.blockedUntil, ban(key, failures: entry.failures, at: now))
                entries[key] = entry
                changed.append(key)
            }
            return changed
        }
        guard let store else { return }
        let memory = limits.memory
        writes.async { [self] in
            if let shared = try? store.addLoginFailures(changed.map(\.stored), at: now, memory: memory) { merge(shared) }
        }
    }

    /// Clears the pair and the user name after a successful login.
    public func recordSuccess(username: String, address: IPAddress?) {
        let removed = entries.withLock { entries -> [Key] in
            [Key.pair(username, address), .user(username)].filter { entries.removeValue(forKey: $0) != nil }
        }
        guard let store, !removed.isEmpty else { return }
        let keys = removed.map(\.stored)
        writes.async { try? store.saveLoginFailures([], removing: keys) }
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
