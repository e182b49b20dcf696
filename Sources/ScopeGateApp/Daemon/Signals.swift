import Dispatch
import Glibc

/// A signal handled by `action` on a Dispatch queue instead of by its default action, from creation on.
public final class SignalHandler: @unchecked Sendable {
    // @unchecked: `source` is set once in init.
    private let source: any DispatchSourceSignal

    /// Handles `signalNumber` with `action` from now on.
    public init(_ signalNumber: Int32, action: @escaping @Sendable () -> Void) {
        source = DispatchSource.makeSignalSource(signal: signalNumber, queue: DispatchQueue(label: "scopegate.signal"))
        source.setEventHandler(handler: action)
        source.resume()
        signal(signalNumber, SIG_IGN)
    }

    /// Stops handling the signal (it stays ignored).
    public func cancel() {
        source.cancel()
    }
}

/// SIGINT and SIGTERM, caught from creation on: create it first, so a signal that arrives while the
/// daemon starts is not lost.
public final class TerminationSignal: Sendable {
    private let semaphore: DispatchSemaphore
    private let handlers: [SignalHandler]

    public init() {
        let semaphore = DispatchSemaphore(value: 0)
        self.semaphore = semaphore
        handlers = [SIGINT, SIGTERM].map { SignalHandler($0) { semaphore.signal() } }
    }

    /// Blocks until one of the signals arrives.
    public func wait() {
        semaphore.wait()
        handlers.forEach { $0.cancel() }
    }
}
