public import ScopeGateHTTP
import Synchronization

extension ScopeGateService {
    /// The answer to a request the server refuses before routing it (framing, size, a cut head), worded as
    /// FastAPI words errors: `{"detail":"…"}`.
    public func rejection(_ rejection: RequestRejection) -> HTTPResponse {
        FastAPIResponses.detail(rejection.status, rejection.reason)
    }

    /// The operator listener of `--metrics-address`: `/metrics`, `/healthz` and `/readyz` only.
    public func handleOperator(_ request: HTTPRequest) -> HTTPHandlerResult {
        switch request.pathText {
        case "/metrics", "/healthz", "/readyz": operatorEndpoint(request) ?? .respond(FastAPIResponses.notFound)
        default: .respond(FastAPIResponses.notFound)
        }
    }

    func operatorEndpoint(_ request: HTTPRequest) -> HTTPHandlerResult? {
        if let refused = refusedUnlessRead(request) { return refused }
        switch request.pathText {
        case "/healthz":
            return .respond(Self.healthy)
        case "/readyz":
            return .respond(
                isReady
                    ? Self.ready
                    : .json(503, Array(#"{"status":"not ready"}"#.utf8), headers: [("Retry-After", "1")]))
        case "/metrics":
            if let source = queueDepth.withLock({ $0 }) { metrics.recordLoginQueueDepth(source()) }
            if let accessLogSink { metrics.recordLogLinesDropped(total: accessLogSink.dropped) }
            return .respond(
                HTTPResponse(
                    status: 200,
                    headers: [
                        ("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),
                        ("Cache-Control", "no-store"),
                    ],
                    body: metrics.exposition()))
        default:
            return nil
        }
    }

    /// The probes' answers, built once into libmicrohttpd's form (probes come often and never change).
    private static let healthy = HTTPResponse.json(200, Array(#"{"status":"ok"}"#.utf8)).prepared()
    private static let ready = HTTPResponse.json(200, Array(#"{"status":"ready"}"#.utf8)).prepared()

}
