public import Foundation
import Synchronization

/// A clock that moves only when a test moves it: what a service under test reads as now.
///
/// ```swift
/// let clock = TestClock()
/// let daemon = try TestDaemon(clock: clock.read)
/// clock.advance(by: 5)
/// ```
public final class TestClock: Sendable {
    private let current: Mutex<Date>

    /// Starts at `start` (by default a fixed instant, so runs repeat).
    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    /// The time now.
    public var now: Date { current.withLock { $0 } }

    /// The reading function to hand to the code under test.
    public var read: @Sendable () -> Date { { [self] in now } }

    /// Moves the clock forward.
    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 += seconds }
    }
}
