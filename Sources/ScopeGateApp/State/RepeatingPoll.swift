import Dispatch
import Synchronization

/// Runs a poll every few seconds on a serial queue of its own until stopped: how the store's copies
/// (``Revocations``, ``StoredUsers``) keep current without a request ever waiting on the store.
final class RepeatingPoll: Sendable {
    private let running = Atomic<Bool>(false)
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// Runs `poll` every `interval` seconds from now on; false (and nothing changes) when already started.
    @discardableResult
    func start(every interval: Double, _ poll: @escaping @Sendable () -> Void) -> Bool {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return false }
        schedule(every: interval, poll)
        return true
    }

    private func schedule(every interval: Double, _ poll: @escaping @Sendable () -> Void) {
        queue.asyncAfter(deadline: .now() + interval) { [self] in
            guard running.load(ordering: .acquiring) else { return }
            poll()
            schedule(every: interval, poll)
        }
    }

    /// Ends the poll (a run under way finishes).
    func stop() {
        running.store(false, ordering: .releasing)
    }
}
