import CoreMetrics
import Prometheus
import ScopeGateHTTP
import Synchronization

/// ScopeGate's metrics, exposed on `GET /metrics`: recorded through the swift-metrics API into a Prometheus
/// registry of the service's own (so several services in one process, as in tests, never share counts),
/// except the two that every forward-auth decision records, which ``DecisionStatistics`` keeps per thread.
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
    /// Decision counts and durations: recorded on every request, so kept in per-thread shards.
    private let decisions = DecisionStatistics()
    private let tokensIssued: CoreMetrics.Counter
    private let refreshReuses: CoreMetrics.Counter
    private let passwordHashesOutdated: CoreMetrics.Counter
    private let passwordHashesUpgraded: CoreMetrics.Counter
    private let loginsUnknownUser: CoreMetrics.Counter
    private let loginsWrongPassword: CoreMetrics.Counter
    private let loginsThrottled: CoreMetrics.Counter
    private let loginsOverloaded: [OverloadReason: CoreMetrics.Counter]
    private let loginQueueDepth: CoreMetrics.Gauge
    private let reloadSuccesses: CoreMetrics.Counter
    private let reloadFailures: CoreMetrics.Counter
    private let lastReloadSuccessful: CoreMetrics.Gauge
    private let logLinesDropped: CoreMetrics.Counter
    /// The sink's dropped count when last read into `logLinesDropped`.
    private let logLinesDroppedSeen = Mutex(0)
    private let factory: PrometheusMetricsFactory
    /// `scopegate_report_decisions_total` by report rule and result, made at a rule's first decision.
    private let reportDecisions = Mutex([ReportKey: CoreMetrics.Counter]())

    /// `scopegate_store_up` and `scopegate_store_staleness_seconds`, made at the first scrape of a service
    /// that has a store.
    private let storeGauges = Mutex<(up: CoreMetrics.Gauge, staleness: CoreMetrics.Gauge)?>(nil)
    /// `scopegate_key_mismatches`, made at the first comparison of keys with other replicas.
    private let keyMismatches = Mutex<CoreMetrics.Gauge?>(nil)

    private struct ReportKey: Hashable {
        let rule: String
        let wouldAllow: Bool
    }

    /// The metrics of one service, all at zero.
    public init() {
        registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        self.factory = factory
        tokensIssued = CoreMetrics.Counter(label: "scopegate_tokens_issued_total", factory: factory)
        refreshReuses = CoreMetrics.Counter(label: "scopegate_refresh_token_reuse_total", factory: factory)
        passwordHashesOutdated = CoreMetrics.Counter(label: "scopegate_password_hashes_outdated_total", factory: factory)
        passwordHashesUpgraded = CoreMetrics.Counter(label: "scopegate_password_hashes_upgraded_total", factory: factory)
        loginsUnknownUser = CoreMetrics.Counter(label: "scopegate_login_failures_total", dimensions: [("reason", "unknown_user")], factory: factory)
        loginsWrongPassword = CoreMetrics.Counter(label: "scopegate_login_failures_total", dimensions: [("reason", "wrong_password")], factory: factory)
        loginsThrottled = CoreMetrics.Counter(label: "scopegate_login_throttled_total", factory: factory)
        loginsOverloaded = Dictionary(
            uniqueKeysWithValues: OverloadReason.allCases.map {
                ($0, CoreMetrics.Counter(label: "scopegate_login_overloaded_total", dimensions: [("reason", $0.rawValue)], factory: factory))
            })
        loginQueueDepth = CoreMetrics.Gauge(label: "scopegate_login_queue_depth", factory: factory)
        reloadSuccesses = CoreMetrics.Counter(label: "scopegate_config_reloads_total", dimensions: [("result", "success")], factory: factory)
        reloadFailures = CoreMetrics.Counter(label: "scopegate_config_reloads_total", dimensions: [("result", "failure")], factory: factory)
        lastReloadSuccessful = CoreMetrics.Gauge(label: "scopegate_config_last_reload_successful", factory: factory)
        lastReloadSuccessful.record(1)
        logLinesDropped = CoreMetrics.Counter(label: "scopegate_access_log_dropped_total", factory: factory)
    }

    /// Brings `scopegate_access_log_dropped_total` up to `total`, the log lines a sink has dropped so far.
    func recordLogLinesDropped(total: Int) {
        let added = logLinesDroppedSeen.withLock { seen in
            defer { seen = max(seen, total) }
            return max(0, total - seen)
        }
        if added > 0 { logLinesDropped.increment(by: added) }
    }

    /// Counts one forward-auth decision under its outcome and the rule that applied (`none` when no rule did),
    /// with the time it took since `start` (from ``monotonicNanoseconds()``).
    func recordDecision(_ outcome: Outcome, rule: String, since start: Int64) {
        decisions.record(outcome, rule: rule, nanoseconds: monotonicNanoseconds() - start)
    }

    /// Counts one request a report-only rule would have decided, under `would_allow` or `would_refuse`.
    func recordReportDecision(rule: String, wouldAllow: Bool) {
        let key = ReportKey(rule: rule, wouldAllow: wouldAllow)
        let counter = reportDecisions.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = CoreMetrics.Counter(
                label: "scopegate_report_decisions_total", dimensions: [("rule", rule), ("result", wouldAllow ? "would_allow" : "would_refuse")],
                factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    /// Counts an issued token.
    func recordTokenIssued() { tokensIssued.increment() }

    /// A spent refresh token was presented again (its family is revoked).
    func recordRefreshReuse() { refreshReuses.increment() }

    /// A user of the users file logged in with a hash weaker than preferred (counted once per user).
    func recordOutdatedPasswordHash() { passwordHashesOutdated.increment() }

    /// A stored user's hash was upgraded at login.
    func recordPasswordHashUpgraded() { passwordHashesUpgraded.increment() }

    /// Counts a failed login.
    func recordLoginFailure(unknownUser: Bool) { (unknownUser ? loginsUnknownUser : loginsWrongPassword).increment() }

    /// Counts a login refused by the throttle.
    func recordLoginThrottled() { loginsThrottled.increment() }

    /// Counts a login answered 503 without a password check.
    func recordLoginOverloaded(_ reason: OverloadReason) { loginsOverloaded[reason]?.increment() }

    /// Sets the number of logins queued or running.
    func recordLoginQueueDepth(_ depth: Int) { loginQueueDepth.record(depth) }

    /// Sets whether the store answers and how many seconds ago it last did.
    func recordStore(up: Bool, staleness: Double) {
        let gauges = storeGauges.withLock { gauges in
            if let gauges { return gauges }
            let made = (
                up: CoreMetrics.Gauge(label: "scopegate_store_up", factory: factory),
                staleness: CoreMetrics.Gauge(label: "scopegate_store_staleness_seconds", factory: factory)
            )
            gauges = made
            return made
        }
        gauges.up.record(up ? 1 : 0)
        gauges.staleness.record(staleness)
    }

    /// Sets how many key ids have different material on another replica.
    func recordKeyMismatches(_ count: Int) {
        let gauge = keyMismatches.withLock { gauge in
            if let gauge { return gauge }
            let made = CoreMetrics.Gauge(label: "scopegate_key_mismatches", factory: factory)
            gauge = made
            return made
        }
        gauge.record(count)
    }

    /// Records a reload's result.
    func recordReload(succeeded: Bool) {
        (succeeded ? reloadSuccesses : reloadFailures).increment()
        lastReloadSuccessful.record(succeeded ? 1 : 0)
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer() + Array(decisions.exposition().utf8)
    }
}
