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
/// With a store, the counters are also written there (from a queue of their own: no caller waits on the
/// store) and read back at start, so a restart lifts no ban and forgets no failure.
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

    /// Creates a throttle; with `store`, its counters still of use at `now` are read back first.
    public init(limits: Limits = Limits(), store: (any StateStore)? = nil, now: Date = Date()) {
        self.limits = limits
        self.store = store
        if let saved = try? store?.loginFailures(at: now, memory: limits.memory) {
            entries.withLock { entries in
                for failure in saved {
                    guard let key = Key(stored: failure.key) else { continue }
                    entries[key] = Entry(failures: failure.failures, blockedUntil: failure.blockedUntil, lastFailure: failure.lastFailure)
                }
            }
        }
    }

    /// Writes changed counters to the store, in the order they changed, off the caller's thread.
    private func persist(_ changed: [(Key, Entry)], removed: [Key]) {
        guard let store else { return }
        let failures = changed.map {
            LoginFailure(key: $0.0.stored, failures: $0.1.failures, blockedUntil: $0.1.blockedUntil, lastFailure: $0.1.lastFailure)
        }
        let keys = removed.map(\.stored)
        writes.async { try? store.saveLoginFailures(failures, removing: keys) }
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
        let changed = entries.withLock { entries -> [(Key, Entry)] in
            if entries.count >= limits.capacity { prune(&entries, now: now) }
            var changed: [(Key, Entry)] = []
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
                changed.append((key, entry))
            }
            return changed
        }
        persist(changed, removed: [])
    }

    /// Clears the pair and the user name after a successful login.
    public func recordSuccess(username: String, address: IPAddress?) {
        let removed = entries.withLock { entries -> [Key] in
            [Key.pair(username, address), .user(username)].filter { entries.removeValue(forKey: $0) != nil }
        }
        if !removed.isEmpty { persist([], removed: removed) }
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
