import CScopeGateShims

/// A small number of the calling thread's own, given out in order of each thread's first call: statistics
/// that many threads record pick a shard by it, so each polling thread keeps to its own lock and cache line.
public func currentThreadSlot() -> Int {
    Int(CScopeGateShims_thread_slot())
}
