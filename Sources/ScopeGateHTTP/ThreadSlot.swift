import CScopeGateShims
import Synchronization

/// A small number of the calling thread's own, given out in order of each thread's first call: statistics
/// that many threads record pick a shard by it, so each polling thread keeps to its own lock and cache line.
public func currentThreadSlot() -> Int {
    Int(CScopeGateShims_thread_slot())
}

/// A count that many threads change often and one thread reads rarely: each thread adds to its own cache
/// line (by ``currentThreadSlot()``), and reading sums them.
final class ShardedCounter: Sendable {
    private final class Shard: Sendable {
        let value = Atomic<Int>(0)
        /// Keeps the next shard's value off this one's cache line.
        private let padding: (Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0)
    }

    private let shards = (0..<16).map { _ in Shard() }

    func add(_ amount: Int) {
        shards[currentThreadSlot() & (shards.count - 1)].value.add(amount, ordering: .relaxed)
    }

    /// The sum; exact once the changes it should include have happened-before the call.
    var value: Int {
        shards.reduce(0) { $0 + $1.value.load(ordering: .acquiring) }
    }
}
