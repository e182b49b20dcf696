import Glibc

/// The lock this process's writes to one store take turns under: a plain pthread mutex, which sleeps at
/// once when taken. A write holds it for a whole transaction (tens of microseconds to a commit's disk
/// write), longer than spinning pays for, and the priority-inheriting futex `Mutex` uses costs more than
/// the writes it orders when several workers wait.
@safe final class WriterLock: @unchecked Sendable {
    // @unchecked: the mutex is what makes it safe to share; it is never moved (allocated once, freed in deinit).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        unsafe mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        unsafe pthread_mutex_init(mutex, nil)
    }

    deinit {
        unsafe pthread_mutex_destroy(mutex)
        unsafe mutex.deallocate()
    }

    /// Runs `body` holding the lock.
    func withLock<Result, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        unsafe pthread_mutex_lock(mutex)
        defer { unsafe pthread_mutex_unlock(mutex) }
        return try body()
    }
}
