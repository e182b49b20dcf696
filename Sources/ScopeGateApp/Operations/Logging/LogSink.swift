import FoundationEssentials
import Glibc
import Synchronization

/// Where log lines go without stalling the threads that write them: lines are appended to a bounded buffer
/// in memory and one background thread writes the buffer to the destination (a file descriptor, standard
/// error by default) every ``interval``.
///
/// - Order: lines reach the destination in the order they were appended, from every thread.
/// - Latency: a line is written within ``interval`` (20 ms) of being appended while the destination keeps
///   up; ``flush(timeout:)`` writes whatever is left (on shutdown).
/// - Back-pressure: a destination that stops reading (a full pipe) blocks only the writing thread. Once
///   ``capacity`` bytes are waiting, further lines are dropped and counted (``dropped``), and when writing
///   resumes one line says how many were lost. Appending never blocks on the destination.
///
/// ```swift
/// let sink = LogSink()
/// sink.append(Array("{\"message\":\"hello\"}\n".utf8))
/// sink.flush()
/// ```
public final class LogSink: Sendable {
    /// The most bytes waiting to be written; lines beyond it are dropped.
    public let capacity: Int
    /// How often the background thread writes what is waiting.
    public let interval: Duration

    private let descriptor: Int32
    /// Lines appended and not yet taken by a writer.
    private let pending: Mutex<[UInt8]>
    /// Held while a batch is taken and written (by the background thread or a flush), so batches keep their
    /// order; holds the spare buffer batches are swapped into.
    private let writing: Mutex<[UInt8]>
    private let droppedLines = Atomic<Int>(0)
    /// Dropped lines already reported in the log.
    private let reportedDrops = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let dropNotice: @Sendable (_ count: Int) -> [UInt8]

    /// A sink writing to `descriptor` (standard error by default). `dropNotice` makes the line that says
    /// how many lines were dropped, in the destination's format.
    public init(
        descriptor: Int32 = 2, capacity: Int = 4 << 20, interval: Duration = .milliseconds(20),
        dropNotice: @escaping @Sendable (_ count: Int) -> [UInt8] = { Array("\($0) log lines dropped: the log destination did not keep up\n".utf8) }
    ) {
        self.descriptor = descriptor
        self.capacity = capacity
        self.interval = interval
        self.dropNotice = dropNotice
        var buffer: [UInt8] = []
        buffer.reserveCapacity(64 << 10)
        pending = Mutex(buffer)
        writing = Mutex(buffer)
        let thread = Thread(sink: self)
        thread.start()
    }

    /// Lines dropped so far because the destination did not keep up.
    public var dropped: Int { droppedLines.load(ordering: .relaxed) }

    /// Queues one line (with its newline) for writing. Never blocks on the destination.
    public func append(_ line: [UInt8]) {
        let kept = pending.withLock { buffer in
            guard buffer.count + line.count <= capacity else { return false }
            buffer.append(contentsOf: line)
            return true
        }
        if !kept { droppedLines.add(1, ordering: .relaxed) }
    }

    /// Writes everything appended so far, waiting at most `timeout` for a destination that does not take
    /// it. Returns whether everything was written.
    @discardableResult
    public func flush(timeout: Duration = .seconds(2)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        // The background thread may be stuck writing to a destination that does not read: wait for it only
        // until the deadline.
        while ContinuousClock.now < deadline {
            if let written = writeWaiting(deadline: deadline, waitingForTurn: false) { return written }
            var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            nanosleep(&pause, nil)
        }
        return false
    }

    /// Flushes, then ends the background thread.
    public func stop(timeout: Duration = .seconds(2)) {
        flush(timeout: timeout)
        stopped.store(true, ordering: .releasing)
    }

    /// Takes the waiting lines and writes them; with a deadline, gives up on a destination that is not
    /// writable by then. Without `waitingForTurn`, returns nil at once when another writer is busy.
    private func writeWaiting(deadline: ContinuousClock.Instant?, waitingForTurn: Bool = true) -> Bool? {
        if waitingForTurn { return writing.withLock { writeBatch(&$0, deadline: deadline) } }
        return writing.withLockIfAvailable { writeBatch(&$0, deadline: deadline) }
    }

    /// Swaps the waiting lines into `batch` (the spare buffer) and writes them, then the drop notice if
    /// lines were dropped since the last one.
    private func writeBatch(_ batch: inout [UInt8], deadline: ContinuousClock.Instant?) -> Bool {
        pending.withLock { swap(&$0, &batch) }
        defer { batch.removeAll(keepingCapacity: true) }
        var complete = write(batch, deadline: deadline)
        let dropped = droppedLines.load(ordering: .relaxed)
        let reported = reportedDrops.load(ordering: .relaxed)
        if complete && dropped > reported {
            reportedDrops.store(dropped, ordering: .relaxed)
            complete = write(dropNotice(dropped - reported), deadline: deadline)
        }
        return complete
    }

    private func write(_ bytes: [UInt8], deadline: ContinuousClock.Instant?) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                if let deadline {
                    // Wait for the destination only as long as the caller allows.
                    let remaining = deadline - ContinuousClock.now
                    guard remaining > .zero else { return false }
                    var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                    let milliseconds = Int32(min(remaining / .milliseconds(1), 60_000)) + 1
                    let ready = poll(&poller, 1, milliseconds)
                    if ready < 0 && errno == EINTR { continue }
                    guard ready > 0 else { return false }
                }
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }

    /// The background writer: wakes every interval and writes what is waiting.
    private final class Thread: Sendable {
        let sink: LogSink

        init(sink: LogSink) {
            self.sink = sink
        }

        func start() {
            var thread: pthread_t = 0
            let context = Unmanaged.passRetained(self).toOpaque()
            let created = pthread_create(
                &thread, nil,
                { context in
                    let thread = Unmanaged<Thread>.fromOpaque(context!).takeRetainedValue()
                    thread.run()
                    return nil
                }, context)
            if created == 0 {
                pthread_detach(thread)
            } else {
                Unmanaged<Thread>.fromOpaque(context).release()
            }
        }

        private func run() {
            let (seconds, attoseconds) = sink.interval.components
            while !sink.stopped.load(ordering: .acquiring) {
                var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
                var remaining = timespec()
                while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
                _ = sink.writeWaiting(deadline: nil)
            }
        }
    }
}
