import CoreMetrics
import Prometheus
import Synchronization

/// ScopeGate's metrics, recorded through the swift-metrics API into a Prometheus registry of the service's
/// own (so several services in one process, as in tests, never share counts), exposed on `GET /metrics`.
public final class ServiceMetrics: Sendable {
    /// How a forward-auth check ended, the `outcome` label of `scopegate_decisions_total`.
    enum Outcome: String, Sendable {
        case allow
        case unauthenticated
        case invalidToken = "invalid_token"
        case insufficientScope = "insufficient_scope"
        case forbidden
    }

    private let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private struct DecisionKey: Hashable {
        let outcome: Outcome
        let rule: String
    }

    private let decisionCounters = Mutex<[DecisionKey: CoreMetrics.Counter]>([:])
    private let decisionDuration: CoreMetrics.Timer
    private let tokensIssued: CoreMetrics.Counter
    private let loginsUnknownUser: CoreMetrics.Counter
    private let loginsWrongPassword: CoreMetrics.Counter
    private let loginsThrottled: CoreMetrics.Counter
    private let loginQueueDepth: CoreMetrics.Gauge
    private let reloadSuccesses: CoreMetrics.Counter
    private let reloadFailures: CoreMetrics.Counter
    private let lastReloadSuccessful: CoreMetrics.Gauge

    /// The metrics of one service, all at zero.
    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["scopegate_decision_duration_seconds"] = [
            .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
            .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(100),
        ]
        self.factory = factory
        decisionDuration = CoreMetrics.Timer(label: "scopegate_decision_duration_seconds", factory: factory)
        tokensIssued = CoreMetrics.Counter(label: "scopegate_tokens_issued_total", factory: factory)
        loginsUnknownUser = CoreMetrics.Counter(label: "scopegate_login_failures_total", dimensions: [("reason", "unknown_user")], factory: factory)
        loginsWrongPassword = CoreMetrics.Counter(label: "scopegate_login_failures_total", dimensions: [("reason", "wrong_password")], factory: factory)
        loginsThrottled = CoreMetrics.Counter(label: "scopegate_login_throttled_total", factory: factory)
        loginQueueDepth = CoreMetrics.Gauge(label: "scopegate_login_queue_depth", factory: factory)
        reloadSuccesses = CoreMetrics.Counter(label: "scopegate_config_reloads_total", dimensions: [("result", "success")], factory: factory)
        reloadFailures = CoreMetrics.Counter(label: "scopegate_config_reloads_total", dimensions: [("result", "failure")], factory: factory)
        lastReloadSuccessful = CoreMetrics.Gauge(label: "scopegate_config_last_reload_successful", factory: factory)
        lastReloadSuccessful.record(1)
    }

    /// Records how long one forward-auth decision took.
    func recordDecisionDuration(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        decisionDuration.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    /// Counts an issued token.
    func recordTokenIssued() { tokensIssued.increment() }

    /// Counts a failed login.
    func recordLoginFailure(unknownUser: Bool) { (unknownUser ? loginsUnknownUser : loginsWrongPassword).increment() }

    /// Counts a login refused by the throttle.
    func recordLoginThrottled() { loginsThrottled.increment() }

    /// Sets the number of logins queued or running.
    func recordLoginQueueDepth(_ depth: Int) { loginQueueDepth.record(depth) }

    /// Counts one forward-auth decision under its outcome and the rule that applied (`none` when no rule did).
    func recordDecision(_ outcome: Outcome, rule: String) {
        let key = DecisionKey(outcome: outcome, rule: rule)
        let counter = decisionCounters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = CoreMetrics.Counter(label: "scopegate_decisions_total",
                                  dimensions: [("outcome", outcome.rawValue), ("rule", rule)], factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    /// Records a reload's result.
    func recordReload(succeeded: Bool) {
        (succeeded ? reloadSuccesses : reloadFailures).increment()
        lastReloadSuccessful.record(succeeded ? 1 : 0)
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}
