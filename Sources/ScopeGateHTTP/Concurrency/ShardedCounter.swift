import Synchronization

/// A count that many threads change often and one thread reads rarely.
public final class ShardedCounter: Sendable {
    private final class Count: ShardBase, @unchecked Sendable {
        // @unchecked: the only field is an atomic.
        let value = Atomic<Int>(0)
    }

    private let shards = Sharded { Count() }

    public init() {}

    /// Adds `amount` on the calling thread's shard.
    public func add(_ amount: Int) {
        shards.current.value.add(amount, ordering: .relaxed)
    }

    /// The sum; exact once the changes it should include have happened-before the call.
    public var value: Int {
        shards.all.reduce(0) { $0 + $1.value.load(ordering: .acquiring) }
    }
}
