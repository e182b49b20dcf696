public import FoundationEssentials
import Synchronization

/// What a replica does about tokens while its store cannot be reached (`--on-store-loss`).
public enum StoreLossPolicy: String, Sendable, CaseIterable {
    /// Keep deciding from the revocations known when the store was last read (the default): a revocation
    /// made elsewhere during the outage is not seen until the store returns.
    case keep
    /// Refuse every token-based request until the store is back: nothing revoked elsewhere is honoured
    /// late, at the price of refusing everyone.
    case deny
}

/// Whether the store answers, as the watch of its changes finds it (``Revocations``): read by `/readyz`,
/// `/metrics` and, under ``StoreLossPolicy/deny``, by every decision.
public final class StoreHealth: Sendable {
    private struct State {
        var up = true
        /// When the store last answered the watch (a change read, or the consistency check).
        var lastSync: Date
        /// What the last failure said, while down.
        var failure: String?
    }
    private let state: Mutex<State>
    private let upFlag = Atomic<Bool>(true)

    init(now: Date) {
        state = Mutex(State(lastSync: now))
    }

    /// Whether the store answered the last time it was asked.
    public var isUp: Bool { upFlag.load(ordering: .acquiring) }

    /// Seconds since the store last answered: how old the revocations decisions read may be.
    public func staleness(now: Date) -> TimeInterval {
        max(0, now.timeIntervalSince(state.withLock { $0.lastSync }))
    }

    /// When the store last answered.
    public var lastSync: Date { state.withLock { $0.lastSync } }

    /// Records that the store answered at `now`; true when it had been lost.
    @discardableResult
    func recordSync(at now: Date) -> Bool {
        let wasDown = state.withLock { state in
            defer { (state.up, state.lastSync, state.failure) = (true, now, nil) }
            return !state.up
        }
        upFlag.store(true, ordering: .releasing)
        return wasDown
    }

    /// Records that the store failed; true when it had been up.
    @discardableResult
    func recordLoss(_ failure: String) -> Bool {
        let wasUp = state.withLock { state in
            defer { (state.up, state.failure) = (false, failure) }
            return state.up
        }
        upFlag.store(false, ordering: .releasing)
        return wasUp
    }
}
