import Glibc

/// A mutex with a condition variable (POSIX), for the worker pool's queue.
@safe final class Condition: @unchecked Sendable {
    // @unchecked: the pthread objects are used only through their own locking calls.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        unsafe pthread_mutex_init(mutex, nil)
        unsafe pthread_cond_init(condition, nil)
    }

    deinit {
        unsafe pthread_cond_destroy(condition)
        unsafe pthread_mutex_destroy(mutex)
        unsafe condition.deallocate()
        unsafe mutex.deallocate()
    }

    func lock() { unsafe pthread_mutex_lock(mutex) }
    func unlock() { unsafe pthread_mutex_unlock(mutex) }
    /// Waits for a signal; the lock must be held, and is held again on return.
    func wait() { unsafe pthread_cond_wait(condition, mutex) }
    func signal() { unsafe pthread_cond_signal(condition) }
    func broadcast() { unsafe pthread_cond_broadcast(condition) }
}

/// Starts a detached thread with its own stack size that runs `body`.
func startThread(stackSize: Int, _ body: @escaping @Sendable () -> Void) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let attributes = UnsafeMutablePointer<pthread_attr_t>.allocate(capacity: 1)
    unsafe pthread_attr_init(attributes)
    defer {
        unsafe pthread_attr_destroy(attributes)
        unsafe attributes.deallocate()
    }
    unsafe pthread_attr_setstacksize(attributes, stackSize)
    unsafe pthread_attr_setdetachstate(attributes, Int32(PTHREAD_CREATE_DETACHED))
    var thread: pthread_t = 0
    let context = unsafe Unmanaged.passRetained(Box(body)).toOpaque()
    let created = unsafe pthread_create(
        &thread, attributes,
        { context in
            unsafe Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, unsafe context)
    precondition(created == 0, "cannot start a thread (error \(created))")
}

/// Sleeps the calling thread.
func sleep(for duration: Duration) {
    let (seconds, attoseconds) = duration.components
    var remaining = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var request = remaining
    while unsafe nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
