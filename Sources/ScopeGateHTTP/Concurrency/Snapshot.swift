public import Synchronization

/// A value that many threads read on every request and a reload replaces now and then: each thread keeps
/// the value it last read (in a ``PerThread``) and takes the lock again only after a replacement, so a read
/// writes no shared cache line. A read that began just before a replacement may still see the old value,
/// whole; a thread beyond ``ThreadSlot/perThreadLimit`` reads under the lock.
public final class Snapshot<Value: AnyObject & Sendable>: Sendable {
    @usableFromInline struct Kept {
        @usableFromInline var value: Value?
        @usableFromInline var generation = 0

        @usableFromInline init(value: Value? = nil, generation: Int = 0) {
            self.value = value
            self.generation = generation
        }
    }

    @usableFromInline let value: Mutex<Value>
    /// Bumped by every replacement, so threads can tell their kept value is stale.
    @usableFromInline let generation = Atomic<Int>(0)
    @usableFromInline let kept = PerThread { Kept() }

    /// A snapshot holding `value`.
    public init(_ value: Value) {
        self.value = Mutex(value)
    }

    /// The value in force.
    @inlinable
    public func read() -> Value {
        let current = kept.withCurrent { kept -> Value in
            if let value = kept.value, kept.generation == generation.load(ordering: .acquiring) { return value }
            let (fresh, freshGeneration) = value.withLock { ($0, generation.load(ordering: .relaxed)) }
            kept = Kept(value: fresh, generation: freshGeneration)
            return fresh
        }
        return current ?? value.withLock { $0 }
    }

    /// Replaces the value with what `make` builds from the one in force, atomically with respect to other
    /// replacements.
    public func update(_ make: (Value) -> Value) {
        value.withLock { value in
            value = make(value)
            generation.add(1, ordering: .releasing)
        }
    }
}
