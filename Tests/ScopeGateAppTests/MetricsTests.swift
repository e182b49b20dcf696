import Foundation
import Logging
import Testing
@testable import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateTesting

/// One sample of a Prometheus exposition, as the official Python client's parser reads it.
struct MetricSample: Decodable, Equatable {
    let name: String
    let labels: [String: String]
    let value: Double
}

/// Parses `/metrics` with `prometheus_client.parser` (a real parser: a malformed exposition fails the test).
func parseMetrics(_ text: String) throws -> [MetricSample] {
    let json = try runPython(
        """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        samples = []
        for family in text_string_to_metric_families(sys.argv[1]):
            for s in family.samples:
                samples.append({"name": s.name, "labels": s.labels, "value": s.value})
        print(json.dumps(samples))
        """, arguments: [text])
    return try JSONDecoder().decode([MetricSample].self, from: Data(json.utf8))
}

extension [MetricSample] {
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        first { $0.name == name && $0.labels == labels }?.value
    }
}

@Suite struct MetricsTests {
    @Test func countsDecisionsLoginsAndReloadsInPrometheusFormat() throws {
        let daemon = try TestDaemon()
        let token = try daemon.token(scopes: ["me", "items"])
        for _ in 0..<3 { #expect(try daemon.auth("/users/me/items/", token: token).status == 200) }
        #expect(try daemon.auth("/users/me/items/").status == 401)
        #expect(try daemon.auth("/users/me/items/", token: try daemon.token(scopes: ["me"])).status == 401)
        #expect(try daemon.auth("/users/me/", token: token + "x").status == 401)
        #expect(try daemon.auth("/nowhere").status == 403)
        #expect(try daemon.login("bob", "builder").status == 200)
        #expect(try daemon.login("bob", "wrong").status == 400)
        #expect(try daemon.login("nobody", "wrong").status == 400)

        let response = try daemon.get("/metrics")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        let samples = try parseMetrics(response.text)
        #expect(samples.value("scopegate_decisions_total", ["outcome": "allow", "rule": "/users/me/items/"]) == 3)
        #expect(samples.value("scopegate_decisions_total", ["outcome": "unauthenticated", "rule": "/users/me/items/"]) == 1)
        #expect(samples.value("scopegate_decisions_total", ["outcome": "insufficient_scope", "rule": "/users/me/items/"]) == 1)
        #expect(samples.value("scopegate_decisions_total", ["outcome": "invalid_token", "rule": "/users/me/"]) == 1)
        #expect(samples.value("scopegate_decisions_total", ["outcome": "forbidden", "rule": "none"]) == 1)
        #expect(samples.value("scopegate_decision_duration_seconds_count") == 7)
        #expect(samples.value("scopegate_decision_duration_seconds_bucket", ["le": "+Inf"]) == 7)
        #expect(samples.value("scopegate_tokens_issued_total") == 1)
        #expect(samples.value("scopegate_login_failures_total", ["reason": "wrong_password"]) == 1)
        #expect(samples.value("scopegate_login_failures_total", ["reason": "unknown_user"]) == 1)
        #expect(samples.value("scopegate_login_throttled_total") == 0)
        #expect(samples.value("scopegate_config_reloads_total", ["result": "failure"]) == 0)
        #expect(samples.value("scopegate_config_last_reload_successful") == 1)
        #expect(samples.contains { $0.name == "scopegate_login_queue_depth" })
    }

    @Test func countsThrottledLogins() throws {
        let daemon = try TestDaemon(configure: { $0.loginLimits.pairFreeFailures = 1 })
        #expect(try daemon.login("bob", "wrong").status == 400)
        #expect(try daemon.login("bob", "wrong").status == 429)
        let samples = try parseMetrics(try daemon.get("/metrics").text)
        #expect(samples.value("scopegate_login_throttled_total") == 1)
        #expect(samples.value("scopegate_login_failures_total", ["reason": "wrong_password"]) == 1)
    }

    @Test func countsAndLogsLoginsAnsweredAsOverloaded() throws {
        let logs = CapturedLogs()
        // One worker, one queued login, which may wait 50 ms; slow's cost-14 hash (about a second) holds the
        // worker far longer, however loaded the machine is when the second request is sent.
        let daemon = try TestDaemon(
            usersYAML: TestDaemon.testUsersYAML + "\n  slow:\n    password_hash: \"$2b$14$JmaNxy8QX.LsKkOWlX5/UOhyZdlB78C6oOwILLy0gpxAaQe44DKJe\"\n",
            logger: logs.logger(level: .info),
            http: {
                $0.workerThreads = 1
                $0.workerQueueLimit = 1
                $0.workerQueueWait = .milliseconds(50)
                $0.overloadDelay = .zero
            })
        let body = String(decoding: formBody([("username", "slow"), ("password", "slowpw")]), as: UTF8.self)
        let request =
            "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        let running = try TestHTTPConnection(port: daemon.port)
        try running.send(request)
        // Running, not only queued: else the next one would find the queue full.
        try #require(waitUntil { daemon.runningWork >= 1 })
        let queued = try TestHTTPConnection(port: daemon.port)
        try queued.send(request)
        try #require(waitUntil { daemon.pendingWork >= 2 })
        let full = try daemon.login("slow", "slowpw")
        #expect(full.status == 503)
        #expect(full.header("Retry-After") == "1")
        #expect(full.text == #"{"detail":"Too many logins in progress; retry shortly"}"#)
        #expect(try running.readResponse().status == 200)
        let late = try queued.readResponse()
        #expect(late.status == 503)
        #expect(late.header("Retry-After") == "1")

        let samples = try parseMetrics(try daemon.get("/metrics").text)
        #expect(samples.value("scopegate_login_overloaded_total", ["reason": "queue_full"]) == 1)
        #expect(samples.value("scopegate_login_overloaded_total", ["reason": "waited_too_long"]) == 1)
        #expect(samples.value("scopegate_login_overloaded_total", ["reason": "stopping"]) == 0)
        #expect(samples.value("scopegate_tokens_issued_total") == 1)
        let tokenLines = logs.lines.filter { $0.hasPrefix("info request ") && $0.contains("http.path=/token") }
        #expect(tokenLines.filter { $0.contains("http.status=503") }.count == 2)
        #expect(tokenLines.filter { $0.contains("http.status=200") }.count == 1)
    }

    @Test func metricsCanLeaveTheMainListener() throws {
        let daemon = try TestDaemon(configure: { $0.metricsOnMainListener = false })
        #expect(try daemon.get("/metrics").status == 404)
        var http = HTTPServerConfiguration()
        http.port = 0
        http.threads = 1
        http.workerThreads = 1
        let operatorServer = try HTTPServer(configuration: http, handler: daemon.service.handleOperator)
        defer { operatorServer.stop() }
        let metrics = try sendRequest(port: operatorServer.port, target: "/metrics")
        #expect(metrics.status == 200)
        #expect(try !parseMetrics(metrics.text).isEmpty)
        #expect(try sendRequest(port: operatorServer.port, target: "/healthz").status == 200)
        // Nothing but the operator endpoints there.
        #expect(try sendRequest(port: operatorServer.port, method: "POST", target: "/token").status == 404)
        #expect(try sendRequest(port: operatorServer.port, target: "/auth").status == 404)
    }

    @Test func readinessFollowsTheService() throws {
        let daemon = try TestDaemon()
        // A daemon is ready once it listens; the service says not ready while it starts or stops.
        #expect(try daemon.get("/readyz").status == 200)
        daemon.service.isReady = false
        let starting = try daemon.get("/readyz")
        #expect(starting.status == 503)
        #expect(starting.text == #"{"status":"not ready"}"#)
        daemon.service.isReady = true
        let ready = try daemon.get("/readyz")
        #expect(ready.status == 200)
        #expect(ready.text == #"{"status":"ready"}"#)
        #expect(try daemon.get("/healthz").status == 200)
        #expect(try sendRequest(port: daemon.port, method: "POST", target: "/readyz").status == 405)
    }
}
