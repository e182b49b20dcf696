import CScopeGateShims

/// A fixed set of threads with a bounded queue, for slow work (password hashing) that must not run on the
/// server's polling threads nor starve Dispatch's shared pool. A job that waited longer than `maximumWait`
/// for a thread is not run: its `expired` part is, so the client hears at once that it should come back.
final class WorkerPool: @unchecked Sendable {
    private struct Job {
        let run: @Sendable () -> Void
        let expired: @Sendable () -> Void
        let queued: ContinuousClock.Instant
    }

    // @unchecked: `jobs`, `running`, `busy` and `reserved` are only touched with `condition` locked.
    private let condition = Condition()
    private var jobs: [Job] = []
    private var running = true
    private var busy = 0
    private var reserved = 0
    private let queueLimit: Int
    private let maximumWait: Duration

    /// `niceness`: the workers' Linux thread nice value, higher (lower priority) than the polling threads' so that
    /// quick answers preempt slow work at once when both want the cores.
    init(threads count: Int, queueLimit: Int, maximumWait: Duration, name: String, niceness: Int32 = 0) {
        self.queueLimit = queueLimit
        self.maximumWait = maximumWait
        for index in 0..<max(1, count) {
            let threadName = "\(name)-\(index)"
            startThread(stackSize: 1 << 20) {
                // The kernel's thread name (what top -H and /proc show) holds 15 bytes.
                _ = unsafe CScopeGateShims_set_thread_name(String(threadName.utf8.prefix(15))!)
                if niceness != 0 { _ = CScopeGateShims_set_thread_niceness(niceness) }
                self.run()
            }
        }
    }

    /// Reserves a place in the queue; `false` when it is full or the pool is stopping. A reservation is
    /// always followed by ``submit(reserved:)``.
    func reserve() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard running, jobs.count + reserved < queueLimit else { return false }
        reserved += 1
        return true
    }

    /// Queues a job in a place taken with ``reserve()``: `job` runs on a worker thread, or `expired` does if
    /// none was free within the pool's maximum wait.
    func submit(reserved job: @escaping @Sendable () -> Void, expired: @escaping @Sendable () -> Void) {
        let entry = Job(run: job, expired: expired, queued: .now)
        condition.lock()
        defer { condition.unlock() }
        reserved -= 1
        jobs.append(entry)
        condition.signal()
    }

    /// Jobs waiting plus jobs running.
    var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count + busy
    }

    /// Jobs running now.
    var runningJobs: Int {
        condition.lock()
        defer { condition.unlock() }
        return busy
    }

    /// Lets the threads finish what is queued, then end.
    func shutdown() {
        condition.lock()
        running = false
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && running { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            busy += 1
            condition.unlock()
            if ContinuousClock.now - job.queued > maximumWait { job.expired() } else { job.run() }
            condition.lock()
            busy -= 1
            condition.unlock()
        }
    }
}
