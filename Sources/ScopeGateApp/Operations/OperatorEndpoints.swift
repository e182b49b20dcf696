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
            guard isReady else { return .respond(.json(503, Array(#"{"status":"not ready"}"#.utf8), headers: [("Retry-After", "1")])) }
            let revocations = configuration.revocations
            guard revocations.store != nil, !revocations.health.isUp else { return .respond(Self.ready) }
            // The store is lost: under `keep` decisions go on from the last copy (ready, degraded); under
            // `deny` every token is refused, and the balancer had better send requests elsewhere.
            let staleness = Int(revocations.health.staleness(now: clock()).rounded(.down))
            return revocations.onStoreLoss == .deny
                ? .respond(
                    .json(
                        503, Array(#"{"status":"unavailable","store":"unreachable","store_staleness_seconds":\#(staleness)}"#.utf8),
                        headers: [("Retry-After", "1")]))
                : .respond(.json(200, Array(#"{"status":"degraded","store":"unreachable","store_staleness_seconds":\#(staleness)}"#.utf8)))
        case "/metrics":
            if let source = queueDepth.withLock({ $0 }) { metrics.recordLoginQueueDepth(source()) }
            let revocations = configuration.revocations
            if revocations.store != nil {
                metrics.recordStore(up: revocations.health.isUp, staleness: revocations.health.staleness(now: clock()))
            }
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
