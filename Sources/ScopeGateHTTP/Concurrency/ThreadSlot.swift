import CScopeGateShims

/// A small number of the calling thread's own, given out in order of each thread's first call and never
/// reused (Swift has no `_Thread_local`, so the number lives in C). The per-thread and sharded types of
/// this folder index by it; their limits are stated here once:
///
/// - ``PerThread`` keeps a value for each of the first ``perThreadLimit`` threads; a later thread gets none
///   and takes the shared path. ScopeGate's threads (polling threads, workers, the log writer) stay far below.
/// - ``Sharded`` spreads over ``shardCount`` shards by slot, so threads beyond it share shards, which stays
///   correct and only contends more.
public enum ThreadSlot {
    /// How many threads get a ``PerThread`` value of their own.
    public static let perThreadLimit = 64
    /// How many shards a ``Sharded`` value has (a power of two).
    public static let shardCount = 16

    /// The calling thread's slot.
    public static var current: Int { Int(CScopeGateShims_thread_slot()) }
}
