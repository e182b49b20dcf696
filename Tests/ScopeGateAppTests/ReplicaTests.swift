import Foundation
import ScopeGateHTTP
import ScopeGateTesting
import Synchronization
import Testing

/// Three `serve` replicas on one PostgreSQL database of the test's own, behind Debian's nginx as an
/// upstream pool (docker/nginx/default.conf.template with every replica listed): a revocation on one is
/// refused on the others within a second (the distribution printed), one refresh token redeemed 100
/// times at once across the three rotates once, a password guesser spread over them has one replica's
/// budget, a replica with another secret is reported at start, the database stopped under load costs no 5xx while
/// writes answer 503 and the replicas say they are degraded, and once it returns they read everything
/// again, `scopegate revoke` made meanwhile included; a replica restarted under load fails no decision.
@Suite(.serialized) struct ReplicaTests {
    static let users = try! temporaryFile(
        "users.yaml", "users:\n  bob:\n    password_hash: \"$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO\"\n    scopes: [me]\n")
    static let secret = try! temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n")
    static let policy = try! temporaryFile("policy.yaml", "rules:\n  - path: /app/**\n    scopes: [me]\n")

    static func arguments(store: String) -> [String] {
        [
            "--policy", policy, "--users", users, "--secret-file", secret, "--store", store, "--refresh-token-lifetime", "3600",
            "--refresh-reuse-grace", "0", "--store-timeout", "500", "--log-format", "json",
        ]
    }

    @Test func replicasShareOneTruthAndSurviveTheDatabaseGoing() throws {
        let database = try PostgreSQLServer()
        defer { database.stop() }
        let store = try database.newDatabase()
        let a = try ServingProcess(Self.arguments(store: store))
        let b = try ServingProcess(Self.arguments(store: store))
        let c = try ServingProcess(Self.arguments(store: store) + ["--on-store-loss", "deny"])
        var replicas = [a, b, c]
        defer { replicas.forEach { $0.stop() } }
        let app = try makeEchoApp()
        defer { app.stop() }
        let nginx = try startNginx(replicas: replicas.map(\.port), app: app.port)

        // Through nginx: a login, and a request the policy lets through.
        let login = try Self.tokens(try Self.login(nginx.port))
        #expect(try Self.app(nginx.port, login.access) == 200)

        // Revoked on A: refused on B and C, measured from A's answer to the first refusal seen.
        var latencies: [Double] = []
        for _ in 0..<20 {
            let access = try Self.tokens(try Self.login(a.port)).access
            for replica in [b, c] { #expect(try Self.auth(replica.port, access) == 200) }
            let revoked = try sendRequest(
                port: a.port, method: "POST", target: "/revoke", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: formBody([("token", access)]))
            #expect(revoked.status == 200)
            let start = ContinuousClock.now
            #expect(try Self.auth(a.port, access) == 401)
            var seen: Set<UInt16> = []
            while seen.count < 2, ContinuousClock.now - start < .seconds(2) {
                for replica in [b, c] where try !seen.contains(replica.port) && Self.auth(replica.port, access) == 401 {
                    seen.insert(replica.port)
                    latencies.append(Double((ContinuousClock.now - start) / .microseconds(1)) / 1000)
                }
            }
            #expect(seen.count == 2, "a revocation was not seen by every replica within 2 s")
        }
        latencies.sort()
        print("revocation propagation over \(latencies.count): p50 \(latencies[latencies.count / 2]) ms, max \(latencies.last ?? 0) ms")
        #expect((latencies.last ?? 10_000) < 1000)

        // A replica whose secret differs from the others' is reported as soon as it starts (a warning and
        // a metric), never by its tokens failing elsewhere first.
        let otherSecret = try temporaryFile("other-secret", "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0\n")
        let stray = try ServingProcess(
            Self.arguments(store: store).map { $0 == Self.secret ? otherSecret : $0 })
        #expect(stray.waitForLog("the key without a kid.{0,40}different material on another replica", timeout: 5) != nil, "\(stray.log)")
        #expect(try Self.metric(stray.port, "scopegate_key_mismatches") == 1)
        stray.stop()
        #expect(!a.log.contains(otherSecret) && !stray.log.contains("0f1e2d3c"))

        // One refresh token redeemed 100 times at once, spread over the three replicas: one success.
        let contested = try Self.tokens(try Self.login(a.port)).refresh
        let statuses = Mutex<[Int]>([])
        let ports = replicas.map(\.port)
        DispatchQueue.concurrentPerform(iterations: 100) { index in
            let status = (try? Self.redeem(ports[index % 3], contested).status) ?? 0
            statuses.withLock { $0.append(status) }
        }
        let answered = statuses.withLock { $0 }
        #expect(answered.filter { $0 == 200 }.count == 1, "\(answered.sorted())")
        #expect(answered.filter { $0 == 400 }.count == 99, "\(answered.sorted())")

        // One guesser spread over the three replicas has about one replica's budget: five free failures
        // for a (user, address) pair, and each replica lets at most one more through before it hears of
        // the ban (fifteen if each counted alone).
        var answers: [Int] = []
        for attempt in 0..<12 {
            let guess = try sendRequest(
                port: ports[attempt % 3], method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: formBody([("username", "mallory"), ("password", "guess-\(attempt)")]))
            answers.append(guess.status)
        }
        let refusedLogins = answers.prefix { $0 != 429 }
        print("a guesser over three replicas: \(refusedLogins.count) tries before the first 429 (one replica alone: 5)")
        #expect(refusedLogins.count >= 5 && refusedLogins.count <= 8, "\(answers)")
        #expect(answers.suffix(3) == [429, 429, 429], "\(answers)")

        // The database stops under load through nginx.
        let token = try Self.tokens(try Self.login(nginx.port))
        let load = Load(port: nginx.port, token: token.access)
        defer { load.stop() }
        #expect(waitUntil(timeout: 5) { load.counts.values.reduce(0, +) > 100 })
        database.stop()
        let lost = ContinuousClock.now
        #expect(waitUntil(timeout: 3) { (try? Self.metric(a.port, "scopegate_store_up")) == 0 })
        #expect(ContinuousClock.now - lost < .milliseconds(1500 + 500))
        let degraded = try sendRequest(port: a.port, target: "/readyz")
        #expect(degraded.status == 200 && degraded.text.contains(#""status":"degraded""#), "\(degraded.text)")
        #expect(waitUntil(timeout: 3) { (try? sendRequest(port: c.port, target: "/readyz").status) == 503 })
        // keep: A and B go on deciding; deny: C refuses every token.
        #expect(try Self.auth(a.port, token.access) == 200 && Self.auth(b.port, token.access) == 200)
        #expect(try Self.auth(c.port, token.access) == 401)
        // Writes answer 503 with Retry-After within the store's timeout; a login still gets an access token.
        let writeStarted = ContinuousClock.now
        let refresh = try Self.redeem(b.port, token.refresh)
        #expect(refresh.status == 503 && refresh.header("Retry-After") != nil, "\(refresh.text)")
        let revoke = try sendRequest(
            port: a.port, method: "POST", target: "/revoke", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("token", token.access)]))
        #expect(revoke.status == 503 && revoke.header("Retry-After") != nil, "\(revoke.text)")
        #expect(ContinuousClock.now - writeStarted < .seconds(2))
        let outageLogin = try Self.login(a.port)
        #expect(outageLogin.status == 200 && outageLogin.text.contains("access_token") && !outageLogin.text.contains("refresh_token"))
        #expect(try Self.auth(b.port, try Self.json(outageLogin)["access_token"] as? String ?? "") == 200)

        // It returns; bob's tokens revoked from the CLI meanwhile are refused everywhere once the replicas
        // are back (each reconnects within its back-off of at most 10 s).
        try database.start()
        let cli = try run(["revoke", "--store", store, "--user", "bob"])
        #expect(cli.status == 0, "\(cli.errors)")
        #expect(waitUntil(timeout: 15) { replicas.allSatisfy { (try? Self.auth($0.port, token.access)) == 401 } })
        #expect(waitUntil(timeout: 5) { replicas.allSatisfy { (try? sendRequest(port: $0.port, target: "/readyz").text) == #"{"status":"ready"}"# } })
        #expect(try Self.metric(a.port, "scopegate_store_up") == 1)
        #expect(a.log.contains("store unreachable") && a.log.contains("store reachable again"))
        load.stop()
        let outageCounts = load.counts
        #expect(outageCounts.keys.allSatisfy { $0 < 500 }, "answers through nginx during the outage: \(outageCounts)")

        // A replica restarted under load: no failed decision through nginx.
        Thread.sleep(forTimeInterval: 1.1)
        let fresh = try Self.tokens(try Self.login(nginx.port))
        let steady = Load(port: nginx.port, token: fresh.access)
        defer { steady.stop() }
        #expect(waitUntil(timeout: 5) { steady.counts.values.reduce(0, +) > 100 })
        replicas[0].stop()
        replicas[0] = try ServingProcess(Self.arguments(store: store), port: a.port)
        #expect(waitUntil(timeout: 5) { steady.counts.values.reduce(0, +) > 400 })
        steady.stop()
        #expect(steady.counts.keys.sorted() == [200], "answers through nginx while a replica restarted: \(steady.counts)")
    }

    /// Users kept in the database (`--users store`) still log in while it is away, as last read, with
    /// access tokens only.
    @Test func storedUsersLogInWhileTheDatabaseIsAway() throws {
        let database = try PostgreSQLServer()
        defer { database.stop() }
        let store = try database.newDatabase()
        let imported = try run(["users", "import", Self.users, "--store", store])
        #expect(imported.status == 0, "\(imported.errors)")
        let replica = try ServingProcess(
            [
                "--policy", Self.policy, "--users", "store", "--secret-file", Self.secret, "--store", store, "--store-timeout", "500",
                "--refresh-token-lifetime", "600",
            ])
        defer { replica.stop() }
        #expect(try Self.login(replica.port).text.contains("refresh_token"))
        database.stop()
        #expect(waitUntil(timeout: 3) { (try? Self.metric(replica.port, "scopegate_store_up")) == 0 })
        let started = ContinuousClock.now
        let login = try Self.login(replica.port)
        #expect(ContinuousClock.now - started < .milliseconds(400), "a login while the store is lost does not wait on it")
        #expect(login.status == 200 && !login.text.contains("refresh_token"), "\(login.text)")
        #expect(try Self.auth(replica.port, try Self.json(login)["access_token"] as? String ?? "") == 200)
        let wrong = try sendRequest(
            port: replica.port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("username", "bob"), ("password", "wrong")]))
        #expect(wrong.status == 400 && wrong.text.contains("Incorrect username or password"))
    }

    // MARK: - Requests

    static func login(_ port: UInt16) throws -> TestHTTPResponse {
        try sendRequest(
            port: port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("username", "bob"), ("password", "secret"), ("scope", "me")]))
    }

    static func json(_ response: TestHTTPResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], "\(response.text)")
    }

    static func tokens(_ response: TestHTTPResponse) throws -> (access: String, refresh: String) {
        let body = try json(response)
        return (try #require(body["access_token"] as? String), try #require(body["refresh_token"] as? String))
    }

    static func redeem(_ port: UInt16, _ refresh: String) throws -> TestHTTPResponse {
        try sendRequest(
            port: port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("grant_type", "refresh_token"), ("refresh_token", refresh)]))
    }

    static func auth(_ port: UInt16, _ token: String) throws -> Int {
        try sendRequest(
            port: port, target: "/auth", headers: [("X-Original-URI", "/app/x"), ("X-Original-Method", "GET"), ("Authorization", "Bearer \(token)")]
        ).status
    }

    static func app(_ port: UInt16, _ token: String) throws -> Int {
        try sendRequest(port: port, target: "/app/x", headers: [("Authorization", "Bearer \(token)")]).status
    }

    static func metric(_ port: UInt16, _ name: String) throws -> Double? {
        let text = try sendRequest(port: port, target: "/metrics").text
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }
}

/// Requests through a proxy from two threads until stopped, counted by status (0: no answer).
private final class Load: Sendable {
    private let running = Atomic<Bool>(true)
    private let statuses = Mutex<[Int: Int]>([:])
    private let finished = DispatchGroup()

    init(port: UInt16, token: String) {
        for _ in 0..<2 {
            finished.enter()
            Thread.detachNewThread { [self] in
                defer { finished.leave() }
                while running.load(ordering: .acquiring) {
                    let status = (try? ReplicaTests.app(port, token)) ?? 0
                    statuses.withLock { $0[status, default: 0] += 1 }
                }
            }
        }
    }

    var counts: [Int: Int] { statuses.withLock { $0 } }

    func stop() {
        running.store(false, ordering: .releasing)
        finished.wait()
    }
}
