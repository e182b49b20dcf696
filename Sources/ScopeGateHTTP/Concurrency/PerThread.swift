/// A value for each of the first ``ThreadSlot/perThreadLimit`` threads, read and written by that thread
/// alone, without a lock or a shared cache line.
///
/// ```swift
/// let recent = PerThread { [TokenKey: Entry]() }
/// let hit = recent.withCurrent { $0[key] } ?? nil    // nil: this thread has no value; use the shared path
/// ```
public final class PerThread<Value>: @unchecked Sendable {
    // @unchecked: a box is touched only by the thread whose slot indexes it, and slots are never reused.
    @usableFromInline final class Box {
        @usableFromInline var value: Value

        @usableFromInline init(_ value: Value) {
            self.value = value
        }
    }

    @usableFromInline let boxes: [Box]

    /// Values made by `make`, one per thread slot.
    public init(_ make: () -> Value) {
        boxes = (0..<ThreadSlot.perThreadLimit).map { _ in Box(make()) }
    }

    /// Runs `body` on the calling thread's value; nil when the thread is beyond the limit.
    @inlinable
    public func withCurrent<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result? {
        let slot = ThreadSlot.current
        guard slot < boxes.count else { return nil }
        return try body(&boxes[slot].value)
    }
}
