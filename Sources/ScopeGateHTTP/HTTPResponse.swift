/// A response to send. Immutable once made, so a prepared response (``prepared()``) always says what its
/// built form sends.
public struct HTTPResponse: Sendable {
    /// The status code.
    public let status: Int
    /// Header fields in order. Values containing control characters are never sent: see ``HTTPServer``.
    public let headers: [(name: String, value: String)]
    /// The body.
    public let body: [UInt8]
    /// The same response built once for libmicrohttpd, sent instead of building it again; see ``prepared()``.
    public private(set) var preparedForm: PreparedResponse?

    /// Creates a response.
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// This response with its libmicrohttpd form built now, for a response that will be sent many times.
    public func prepared() -> HTTPResponse {
        var copy = self
        copy.preparedForm = PreparedResponse(self)
        return copy
    }

    /// A JSON response with `Content-Type: application/json`.
    public static func json(_ status: Int, _ body: [UInt8], headers: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// What a request handler answers: a response now, or work to run off the server's threads.
public enum HTTPHandlerResult: Sendable {
    /// Send this response.
    case respond(HTTPResponse)
    /// Suspend the connection, run `work` on the server's worker pool, then send what it returns. When the
    /// work cannot run (see ``OverloadReason``), what `overloaded` returns is sent instead.
    case deferred(overloaded: @Sendable (OverloadReason) -> HTTPResponse, work: @Sendable () -> HTTPResponse)
    /// Like ``deferred(overloaded:work:)``, for work that waits (on a disk or a network) rather than
    /// computes: it runs on the server's waiting workers, never queued behind deferred work.
    case waiting(overloaded: @Sendable (OverloadReason) -> HTTPResponse, work: @Sendable () -> HTTPResponse)
}

/// Why deferred work was not run.
public enum OverloadReason: String, Sendable, CaseIterable {
    /// The worker pool's queue was full.
    case queueFull = "queue_full"
    /// The work waited longer than the server's maximum wait for a worker.
    case waitedTooLong = "waited_too_long"
    /// The server is stopping.
    case stopping
}

/// The function a server calls for each complete request, on one of its polling threads: it must be quick
/// and must not block; slow work is returned as ``HTTPHandlerResult/deferred(overloaded:work:)``.
public typealias HTTPHandler = @Sendable (HTTPRequest) -> HTTPHandlerResult
