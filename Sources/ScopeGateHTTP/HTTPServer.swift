internal import CMicroHTTPD
internal import CScopeGateShims
import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// How a server listens and what it allows.
public struct HTTPServerConfiguration: Sendable {
    /// The address to listen on: an IPv4 or IPv6 literal, or `localhost`.
    public var host: String = "127.0.0.1"
    /// The port; 0 picks a free one (read it back from ``HTTPServer/port``).
    public var port: UInt16 = 8000
    /// libmicrohttpd polling threads (epoll, one per core by default).
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Threads for deferred (slow) work.
    public var workerThreads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Deferred jobs that may wait for a worker; past it the handler's overloaded answer (503) is sent. Two
    /// per worker keeps a queued login's wait near two hash times instead of letting clients time out.
    public var workerQueueLimit: Int = 2 * ProcessInfo.processInfo.activeProcessorCount
    /// The longest a deferred job waits for a worker; one that waited longer gets the overloaded answer
    /// instead of running. When other work holds the cores (a decision burst) queued logins slow down, and
    /// this turns what would be a client's timeout into a prompt 503.
    public var workerQueueWait: Duration = .seconds(1)
    /// The worker threads' scheduling priority (a nice value; the polling threads keep the process's). At 19,
    /// the lowest, a waking polling thread preempts a hash at once, so decisions keep their latency while
    /// logins flood (p99 about 4 ms against about 6 ms at nice 5 in `bench/`); hashing gets the cores decisions
    /// leave, and a login that waits too long for them is answered 503 (``workerQueueWait``).
    public var workerNiceness: Int = 19
    /// Threads for work that waits rather than computes (a store's disk or network), at normal priority and
    /// with a queue of their own: such work never waits behind a password hash.
    public var waitingWorkerThreads: Int = 4
    /// Waiting jobs that may queue for those threads; past it the handler's overloaded answer (503) is sent.
    public var waitingQueueLimit: Int = 256
    /// The longest a waiting job waits for a thread.
    public var waitingQueueWait: Duration = .seconds(5)
    /// How long an overloaded answer (503) waits before it is sent, the connection parked meanwhile.
    public var overloadDelay: Duration = .milliseconds(500)
    /// The largest request body accepted; larger ones get 413.
    public var maximumBodySize: Int = 16 * 1024
    /// Seconds a connection may stay idle or unfinished before it is closed.
    public var connectionTimeout: Int = 30
    /// Concurrent connections per client address; 0 for no limit.
    public var perIPConnectionLimit: Int = 0
    /// Bytes libmicrohttpd keeps per connection for the request head and the answer's headers; a request head
    /// larger than about half of it is refused (431). libmicrohttpd clears this memory between requests, so
    /// the default (heads up to 8 KiB: a large token and the usual headers, not a browser's cookies, which
    /// the shipped proxy recipes keep out of `/auth`) is a cost paid on every request.
    public var connectionMemoryLimit: Int = 16 * 1024
    /// Request paths nearly every request has (`/auth`, `/healthz`): a request with one of them shares a
    /// constant instead of copying its path.
    public var commonPaths: [String] = []

    /// The defaults: 127.0.0.1:8000, one polling and one worker thread per core.
    public init() {}
}

/// Why a server could not start.
public enum HTTPServerError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidHost(String)
    case cannotListen(host: String, port: UInt16)

    public var description: String {
        switch self {
        case .invalidHost(let host): "cannot listen on \"\(host)\": expected an IPv4 or IPv6 address or localhost"
        case .cannotListen(let host, let port): "cannot listen on \(host):\(port) (address in use, or not permitted?)"
        }
    }
}

/// An HTTP/1.1 server on libmicrohttpd: internal epoll polling threads, keep-alive, and a worker pool for
/// slow handlers whose connections are suspended meanwhile, so slow work never blocks other requests.
///
/// ```swift
/// let server = try HTTPServer(configuration: configuration) { request in
///     .respond(HTTPResponse(status: 200, body: Array("hello".utf8)))
/// }
/// defer { server.stop() }
/// print(server.port)
/// ```
@safe public final class HTTPServer: @unchecked Sendable {
    // @unchecked: `daemon` and `context` are set once in init; stopping is serialised by `stopped`.
    private let daemon: OpaquePointer
    private let context: ServerContext
    private let stopped = Mutex(false)

    /// The port the server listens on.
    public let port: UInt16

    /// Starts listening at once. `rejection` words the answer to a request refused before `handler` sees it.
    public init(
        configuration: HTTPServerConfiguration, rejection: @escaping @Sendable (RequestRejection) -> HTTPResponse = RequestRejection.plainAnswer,
        handler: @escaping HTTPHandler
    ) throws(HTTPServerError) {
        let host = configuration.host == "localhost" ? "127.0.0.1" : configuration.host
        guard let address = IPAddress(host) else { throw .invalidHost(configuration.host) }
        let context = ServerContext(configuration: configuration, rejection: rejection, handler: handler)
        let contextPointer = unsafe Unmanaged.passRetained(context).toOpaque()

        var flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue
        if !address.isIPv4 { flags |= MHD_USE_IPv6.rawValue }
        let socketAddress = SocketAddress(address: address, port: configuration.port)

        let started: OpaquePointer? = unsafe socketAddress.withPointer { sockaddrPointer in
            var options: [MHD_OptionItem] = unsafe [
                MHD_OptionItem(option: .THREAD_POOL_SIZE, value: max(1, configuration.threads), ptr_value: nil),
                MHD_OptionItem(option: .CONNECTION_TIMEOUT, value: max(1, configuration.connectionTimeout), ptr_value: nil),
                MHD_OptionItem(option: .STRICT_FOR_CLIENT, value: 1, ptr_value: nil),
                MHD_OptionItem(option: .LISTEN_BACKLOG_SIZE, value: 1024, ptr_value: nil),
                MHD_OptionItem(option: .CONNECTION_MEMORY_LIMIT, value: configuration.connectionMemoryLimit, ptr_value: nil),
                MHD_OptionItem(option: .SOCK_ADDR, value: 0, ptr_value: sockaddrPointer),
            ]
            if configuration.perIPConnectionLimit > 0 {
                unsafe options.append(MHD_OptionItem(option: .PER_IP_CONNECTION_LIMIT, value: configuration.perIPConnectionLimit, ptr_value: nil))
            }
            unsafe options.append(MHD_OptionItem(option: .END, value: 0, ptr_value: nil))
            return unsafe CScopeGateShims_start_daemon(
                flags, configuration.port,
                { cls, connection, url, method, version, uploadData, uploadSize, requestContext in
                    guard let cls = unsafe cls, let connection = unsafe connection, let url = unsafe url, let method = unsafe method,
                        let version = unsafe version, let uploadSize = unsafe uploadSize, let requestContext = unsafe requestContext
                    else { return .NO }
                    let context = unsafe Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()
                    return unsafe context.access(
                        connection: connection, url: url, method: method, version: version, uploadData: uploadData,
                        uploadSize: uploadSize, requestContext: requestContext)
                },
                unsafe contextPointer,
                { cls, _, requestContext, _ in
                    guard let cls = unsafe cls, let requestContext = unsafe requestContext, let state = unsafe requestContext.pointee else { return }
                    unsafe requestContext.pointee = nil
                    unsafe Unmanaged<RequestState>.fromOpaque(state).release()
                    unsafe Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue().requestFinished()
                },
                unsafe contextPointer,
                &options)
        }
        guard let started = unsafe started else {
            unsafe Unmanaged<ServerContext>.fromOpaque(contextPointer).release()
            context.shutdownWorkers()
            throw .cannotListen(host: configuration.host, port: configuration.port)
        }
        unsafe self.daemon = unsafe started
        self.context = context
        self.port = unsafe CScopeGateShims_bound_port(started)
    }

    /// Deferred jobs waiting or running.
    public var pendingWork: Int { context.workers.depth + context.waitingWorkers.depth }

    /// Deferred jobs running now (not waiting).
    public var runningWork: Int { context.workers.runningJobs + context.waitingWorkers.runningJobs }

    /// Stops accepting, lets suspended work finish (up to 10 s), closes every connection and ends the
    /// threads. libmicrohttpd aborts when stopped with suspended connections, so the order matters.
    public func stop() {
        let alreadyStopped = stopped.withLock { value in
            defer { value = true }
            return value
        }
        if alreadyStopped { return }
        context.beginStopping()
        let listening = unsafe MHD_quiesce_daemon(daemon)
        let deadline = ContinuousClock.now + .seconds(10)
        while context.suspendedCount > 0 && ContinuousClock.now < deadline {
            sleep(for: .milliseconds(5))
        }
        let settle = ContinuousClock.now + .milliseconds(500)
        while context.activeRequests > 0 && context.suspendedCount == 0 && ContinuousClock.now < settle {
            sleep(for: .milliseconds(5))
        }
        if context.suspendedCount > 0 {
            // Work that never finished holds a connection suspended, and libmicrohttpd aborts the process when
            // stopped with one. Stop listening and leave the daemon to the process's exit instead.
            if listening >= 0 { close(listening) }
            return
        }
        unsafe MHD_stop_daemon(daemon)
        if listening >= 0 { close(listening) }
        context.shutdownWorkers()
        unsafe Unmanaged.passUnretained(context).release()
    }

    deinit {
        stop()
    }
}

/// Per-request state, kept in libmicrohttpd's `*con_cls` from the first callback to the completion notice.
private final class RequestState: @unchecked Sendable {
    // @unchecked: while a request is suspended only the worker writes `response`; libmicrohttpd's
    // suspend/resume (with its inter-thread channel) orders that write before the next callback reads it.
    let method: String
    let path: [UInt8]
    let headers: HTTPHeaders
    let query: [(name: String, value: String)]
    let clientAddress: IPAddress?
    var body: [UInt8] = []
    var rejection: HTTPResponse?
    var response: HTTPResponse?

    init(method: String, path: [UInt8], headers: HTTPHeaders, query: [(name: String, value: String)], clientAddress: IPAddress?) {
        self.method = method
        self.path = path
        self.headers = headers
        self.query = query
        self.clientAddress = clientAddress
    }
}

/// A connection handle handed to a worker thread, which only resumes it.
@safe private struct SuspendedConnection: @unchecked Sendable {
    // @unchecked: MHD_resume_connection is documented as callable from any thread.
    let pointer: OpaquePointer
}

private final class ServerContext: @unchecked Sendable {
    // @unchecked: the counters are atomics; everything else is immutable after init.
    let configuration: HTTPServerConfiguration
    let handler: HTTPHandler
    let rejection: @Sendable (RequestRejection) -> HTTPResponse
    let workers: WorkerPool
    let waitingWorkers: WorkerPool
    private let delayQueue = DispatchQueue(label: "scopegate.overload-delay")
    private let stopping = Atomic<Bool>(false)
    private let suspended = Atomic<Int>(0)
    /// Requests begun and not yet completed: changed twice per request, so kept per thread.
    private let active = ShardedCounter()
    private let commonPaths: [[UInt8]]

    init(configuration: HTTPServerConfiguration, rejection: @escaping @Sendable (RequestRejection) -> HTTPResponse, handler: @escaping HTTPHandler) {
        self.configuration = configuration
        self.rejection = rejection
        self.handler = handler
        self.commonPaths = configuration.commonPaths.map { Array($0.utf8) }
        self.workers = WorkerPool(
            threads: configuration.workerThreads, queueLimit: configuration.workerQueueLimit,
            maximumWait: configuration.workerQueueWait, name: "sg-worker",
            niceness: Int32(configuration.workerNiceness))
        self.waitingWorkers = WorkerPool(
            threads: configuration.waitingWorkerThreads, queueLimit: configuration.waitingQueueLimit,
            maximumWait: configuration.waitingQueueWait, name: "sg-wait")
    }

    func shutdownWorkers() {
        workers.shutdown()
        waitingWorkers.shutdown()
    }

    var suspendedCount: Int { suspended.load(ordering: .acquiring) }
    var activeRequests: Int { active.value }
    func beginStopping() { stopping.store(true, ordering: .releasing) }
    func requestFinished() { active.add(-1) }

    func access(
        connection: OpaquePointer, url: UnsafePointer<CChar>, method: UnsafePointer<CChar>,
        version: UnsafePointer<CChar>, uploadData: UnsafePointer<CChar>?, uploadSize: UnsafeMutablePointer<Int>,
        requestContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        guard let existing = unsafe requestContext.pointee else {
            active.add(1)
            let (headers, query, defect) = unsafe RequestHead.read(connection: connection, method: method, target: url, version: version)
            let state = unsafe RequestState(
                method: Self.methodName(method), path: path(of: url),
                headers: headers, query: query, clientAddress: clientAddress(of: connection))
            unsafe requestContext.pointee = unsafe Unmanaged.passRetained(state).toOpaque()
            if let defect {
                // Never decide on what is left of a head libmicrohttpd could not hand over whole.
                return unsafe queue(rejection(.badHead(defect.description)), on: connection, closing: true)
            }
            if let rejection = earlyRejection(for: state) {
                // Answer before reading a body that must not be read; the connection closes after it.
                return unsafe queue(rejection, on: connection, closing: true)
            }
            // Queuing on a later call keeps the connection alive (queuing now would close it).
            return .YES
        }
        let state = unsafe Unmanaged<RequestState>.fromOpaque(existing).takeUnretainedValue()
        if unsafe uploadSize.pointee > 0 {
            if state.rejection == nil, let uploadData = unsafe uploadData {
                if unsafe state.body.count + uploadSize.pointee > configuration.maximumBodySize {
                    state.rejection = rejection(.bodyTooLarge(limit: configuration.maximumBodySize))
                    state.body = []
                } else {
                    unsafe state.body.append(contentsOf: UnsafeRawBufferPointer(start: uploadData, count: uploadSize.pointee))
                }
            }
            unsafe uploadSize.pointee = 0
            return .YES
        }
        if let response = state.response { return unsafe queue(response, on: connection) }
        if let rejection = state.rejection { return unsafe queue(rejection, on: connection, closing: true) }

        let request = HTTPRequest(
            method: state.method, path: state.path, headers: state.headers, body: state.body,
            clientAddress: state.clientAddress, query: state.query)
        switch handler(request) {
        case .respond(let response):
            return unsafe queue(response, on: connection)
        case .deferred(let overloaded, let work):
            return unsafe runLater(work, overloaded: overloaded, to: workers, connection: connection, state: state)
        case .waiting(let overloaded, let work):
            return unsafe runLater(work, overloaded: overloaded, to: waitingWorkers, connection: connection, state: state)
        }
    }

    /// Runs `work` on `pool`, the connection suspended until its response is set.
    private func runLater(
        _ work: @escaping @Sendable () -> HTTPResponse, overloaded: @escaping @Sendable (OverloadReason) -> HTTPResponse, to pool: WorkerPool,
        connection: OpaquePointer, state: RequestState
    ) -> MHD_Result {
        guard !stopping.load(ordering: .acquiring) else { return unsafe queue(overloaded(.stopping), on: connection) }
        guard pool.reserve() else { return unsafe answerLater(overloaded(.queueFull), on: connection, state: state) }
        let resume = unsafe suspend(connection)
        pool.submit(
            reserved: {
                state.response = work()
                resume()
            },
            expired: {
                state.response = overloaded(.waitedTooLong)
                resume()
            })
        return .YES
    }

    /// Suspends the connection; the returned function, called from any thread once `response` of the
    /// request's state is set, resumes it so the next callback sends that response.
    private func suspend(_ connection: OpaquePointer) -> @Sendable () -> Void {
        suspended.add(1, ordering: .relaxed)
        unsafe MHD_suspend_connection(connection)
        let handle = unsafe SuspendedConnection(pointer: connection)
        return { [self] in
            unsafe MHD_resume_connection(handle.pointer)
            suspended.subtract(1, ordering: .releasing)
        }
    }

    /// Sends the overloaded answer after `overloadDelay`, the connection suspended meanwhile: a client that
    /// retries at once (ignoring Retry-After) then costs a few answers a second, not the cores the queued
    /// work needs.
    private func answerLater(_ response: HTTPResponse, on connection: OpaquePointer, state: RequestState) -> MHD_Result {
        guard configuration.overloadDelay > .zero else { return unsafe queue(response, on: connection) }
        state.response = response
        let resume = unsafe suspend(connection)
        let delay = configuration.overloadDelay.components
        let nanoseconds = Int(delay.seconds) * 1_000_000_000 + Int(delay.attoseconds / 1_000_000_000)
        delayQueue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { resume() }
        return .YES
    }

    /// The method as a String; the common ones are constants (no validation or copy).
    private static func methodName(_ method: UnsafePointer<CChar>) -> String {
        if unsafe strcmp(method, "GET") == 0 { return "GET" }
        if unsafe strcmp(method, "POST") == 0 { return "POST" }
        if unsafe strcmp(method, "HEAD") == 0 { return "HEAD" }
        return unsafe String(cString: method)
    }

    /// The request's path: one of the common paths, or the C string's bytes copied in one go.
    private func path(of text: UnsafePointer<CChar>) -> [UInt8] {
        let count = unsafe strlen(text)
        for common in commonPaths where common.count == count {
            if unsafe common.withUnsafeBytes({ unsafe memcmp($0.baseAddress!, text, count) }) == 0 { return common }
        }
        return unsafe [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { unsafe memcpy(buffer.baseAddress!, text, count) }
            initialized = count
        }
    }

    private func earlyRejection(for state: RequestState) -> HTTPResponse? {
        guard state.headers.hasFramingFields else { return nil }
        let lengths = state.headers.rawValues("Content-Length")
        let encodings = state.headers.rawValues("Transfer-Encoding")
        if !lengths.isEmpty && !encodings.isEmpty || lengths.count > 1 || encodings.count > 1 {
            return rejection(.ambiguousFraming)
        }
        if let length = lengths.first {
            guard !length.isEmpty, length.count <= 18, length.allSatisfy({ (0x30...0x39).contains($0) }),
                let value = Int(String(decoding: length, as: UTF8.self))
            else {
                return rejection(.invalidContentLength)
            }
            if value > configuration.maximumBodySize { return rejection(.bodyTooLarge(limit: configuration.maximumBodySize)) }
        }
        return nil
    }

    private func queue(_ response: HTTPResponse, on connection: OpaquePointer, closing: Bool = false) -> MHD_Result {
        if !closing, let prepared = response.preparedForm {
            return unsafe MHD_queue_response(connection, UInt32(response.status), prepared.pointer)
        }
        guard let made = unsafe makeMHDResponse(response, closing: closing) else { return .NO }
        defer { unsafe MHD_destroy_response(made) }
        return unsafe MHD_queue_response(connection, UInt32(response.status), made)
    }

    private func clientAddress(of connection: OpaquePointer) -> IPAddress? {
        unsafe withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer in
            let length = unsafe CScopeGateShims_client_ip(connection, buffer.baseAddress!)
            guard length == 4 || length == 16 else { return nil }
            return unsafe IPAddress(bytes: buffer.prefix(Int(length)))
        }
    }
}

/// A response in libmicrohttpd's form: the body copied, the safe headers added.
func makeMHDResponse(_ response: HTTPResponse, closing: Bool) -> OpaquePointer? {
    var body = response.body
    let made = unsafe body.withUnsafeMutableBytes { buffer in
        unsafe MHD_create_response_from_buffer(buffer.count, buffer.baseAddress, .RESPMEM_MUST_COPY)
    }
    guard let made = unsafe made else { return nil }
    for (name, value) in response.headers where isSafeHeader(name: name, value: value) {
        // libmicrohttpd refuses empty values. One space is optional white space, which every HTTP parser
        // strips (RFC 9110 §5.5), so the field still arrives present and empty.
        // withCString: no intermediate array for each name and value.
        _ = unsafe name.withCString { name in unsafe (value.isEmpty ? " " : value).withCString { unsafe MHD_add_response_header(made, name, $0) } }
    }
    if closing { _ = unsafe MHD_add_response_header(made, "Connection", "close") }
    return unsafe made
}

/// A response built once into libmicrohttpd's form and queued on many connections: libmicrohttpd counts its
/// references under a lock, so any polling thread may queue it.
@safe public final class PreparedResponse: @unchecked Sendable {
    // @unchecked: the pointer is set once; libmicrohttpd synchronizes its own reference count.
    let pointer: OpaquePointer

    init?(_ response: HTTPResponse) {
        guard let made = unsafe makeMHDResponse(response, closing: false) else { return nil }
        unsafe pointer = unsafe made
    }

    deinit {
        unsafe MHD_destroy_response(pointer)
    }
}

/// A header libmicrohttpd may send: a token name, and a value with no control characters (so no CR or LF
/// from any source can split the response).
func isSafeHeader(name: String, value: String) -> Bool {
    !name.isEmpty && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }
        && value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
}

/// A `sockaddr_in` or `sockaddr_in6` for binding.
private struct SocketAddress {
    let address: IPAddress
    let port: UInt16

    func withPointer<Result>(_ body: (UnsafeMutableRawPointer) -> Result) -> Result {
        if address.isIPv4 {
            var storage = sockaddr_in()
            storage.sin_family = sa_family_t(AF_INET)
            storage.sin_port = port.bigEndian
            unsafe withUnsafeMutableBytes(of: &storage.sin_addr) { unsafe $0.copyBytes(from: address.bytes) }
            return unsafe withUnsafeMutableBytes(of: &storage) { unsafe body($0.baseAddress!) }
        }
        var storage = sockaddr_in6()
        storage.sin6_family = sa_family_t(AF_INET6)
        storage.sin6_port = port.bigEndian
        unsafe withUnsafeMutableBytes(of: &storage.sin6_addr) { unsafe $0.copyBytes(from: address.bytes) }
        return unsafe withUnsafeMutableBytes(of: &storage) { unsafe body($0.baseAddress!) }
    }
}
