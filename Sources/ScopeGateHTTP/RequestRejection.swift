/// A request the server refuses before any handler sees it. The server decides that and when (before a body
/// that must not be read is read); the application words the answer, as it words the overloaded one.
public enum RequestRejection: Sendable, Equatable {
    /// libmicrohttpd's view of the head does not account for every byte of it (see `RequestHead`).
    case badHead(String)
    /// `Content-Length` with `Transfer-Encoding`, or either repeated: two parsers could frame it differently.
    case ambiguousFraming
    /// A `Content-Length` that is not a plain decimal number.
    case invalidContentLength
    /// A body (declared or sent) larger than the configured limit.
    case bodyTooLarge(limit: Int)

    /// The status the answer carries: 400, or 413 for a body too large.
    public var status: Int {
        if case .bodyTooLarge = self { return 413 }
        return 400
    }

    /// What is wrong, in a sentence for the client.
    public var reason: String {
        switch self {
        case .badHead(let defect): "Bad request head: \(defect)"
        case .ambiguousFraming: "Ambiguous message framing: Content-Length with Transfer-Encoding, or repeated"
        case .invalidContentLength: "Invalid Content-Length"
        case .bodyTooLarge(let limit): "Request body larger than \(limit) bytes"
        }
    }

    /// A plain-text answer: the reason as the body, for servers whose application words none.
    public static func plainAnswer(_ rejection: RequestRejection) -> HTTPResponse {
        HTTPResponse(status: rejection.status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array((rejection.reason + "\n").utf8))
    }
}
