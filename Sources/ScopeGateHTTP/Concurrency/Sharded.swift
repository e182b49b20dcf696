/// ``ThreadSlot/shardCount`` shards of something many threads change often and one thread reads rarely
/// (counters, statistics): each thread changes the shard of its slot, each shard on its own cache lines,
/// and a reader combines them all.
///
/// ```swift
/// final class Tally: ShardBase, @unchecked Sendable { let count = Atomic<Int>(0) }
/// let tallies = Sharded { Tally() }
/// tallies.current.count.add(1, ordering: .relaxed)
/// ```
public final class Sharded<Shard: ShardBase & Sendable>: Sendable {
    @usableFromInline let shards: [Shard]

    /// Shards made by `make`.
    public init(_ make: () -> Shard) {
        shards = (0..<ThreadSlot.shardCount).map { _ in make() }
    }

    /// The calling thread's shard.
    @inlinable
    public var current: Shard { shards[ThreadSlot.current & (shards.count - 1)] }

    /// Every shard, for a reader to combine.
    public var all: [Shard] { shards }
}

/// The base class of a ``Sharded`` shard: 64 bytes laid out before the shard's own fields keep them off the
/// cache line of whatever was allocated just before (another shard, most often).
open class ShardBase: @unchecked Sendable {
    // @unchecked: the padding is immutable; subclasses state their own safety.
    private let padding: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0)

    public init() {}
}
