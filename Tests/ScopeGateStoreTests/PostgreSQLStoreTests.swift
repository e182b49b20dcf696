import Foundation
import ScopeGateTesting
import Synchronization
import Testing

@testable import ScopeGateStore

/// A new database on the test process's PostgreSQL server.
struct PostgreSQLFixture: StoreFixture {
    let url: String

    init() throws {
        url = try PostgreSQLServer.shared.get().newDatabase()
    }

    func open() throws -> any StateStore { try PostgreSQLStore(url: url) }
}

/// The store suite and the schema against Debian's PostgreSQL, started by the tests.
@Suite struct PostgreSQLStoreTests {
    @Test(arguments: StoreCheck.allCases)
    func passesTheStoreSuite(_ check: StoreCheck) throws {
        try check.run(try PostgreSQLFixture())
    }

    /// A new database gets the current schema; one from a newer ScopeGate is refused, not misread.
    @Test func theSchemaIsVersionedAndANewerOneRefused() throws {
        let fixture = try PostgreSQLFixture()
        _ = try fixture.open()
        let server = try PostgreSQLServer.shared.get()
        let database = String(fixture.url.split(separator: "/").last!)
        #expect(try server.psql(database, "SELECT version FROM scopegate_schema") == "\(PostgreSQLStore.schemaVersion)")
        _ = try fixture.open()
        _ = try server.psql(database, "UPDATE scopegate_schema SET version = \(PostgreSQLStore.schemaVersion + 1)")
        let error = try #require(throws: StoreError.self) { _ = try fixture.open() }
        #expect(error.description.contains("has schema version \(PostgreSQLStore.schemaVersion + 1)"), "\(error)")
    }

    /// Replicas starting together on a new database migrate it once: every one opens it.
    @Test func replicasStartingTogetherMigrateOnce() throws {
        let fixture = try PostgreSQLFixture()
        let failures = Mutex<[String]>([])
        let threads = (0..<6).map { _ in
            Thread {
                do { _ = try fixture.open() } catch { failures.withLock { $0.append("\(error)") } }
            }
        }
        threads.forEach { $0.start() }
        #expect(waitUntil(timeout: 30) { threads.allSatisfy(\.isFinished) })
        #expect(failures.withLock { $0 }.isEmpty)
        let database = String(fixture.url.split(separator: "/").last!)
        #expect(try PostgreSQLServer.shared.get().psql(database, "SELECT count(*) FROM scopegate_schema") == "1")
    }

    /// A password in the URL is never part of what the store is called in messages.
    @Test func theNameHidesThePassword() throws {
        #expect(
            PostgreSQLStore.redacted("postgres://scopegate:s3cret@db.example.com:5432/scopegate?sslmode=verify-full")
                == "postgres://scopegate:***@db.example.com:5432/scopegate")
        #expect(PostgreSQLStore.redacted("postgresql://scopegate@db/x") == "postgresql://scopegate@db/x")
        #expect(PostgreSQLStore.redacted("host=db password=s3cret") == "postgres (a connection string)")
        let refused = try #require(throws: StoreError.self) { _ = try PostgreSQLStore(url: "postgres://scopegate:s3cret@127.0.0.1:1/none?connect_timeout=2") }
        #expect(!refused.description.contains("s3cret"), "\(refused)")
    }

    /// A server that accepts the connection and never answers (a hung database, a black-holed network)
    /// costs one use of the store its timeout, never a hang.
    @Test func aSilentServerCostsTheTimeoutOnly() throws {
        let listener = try SilentListener()
        let started = ContinuousClock.now
        let refused = try #require(throws: StoreError.self) {
            _ = try PostgreSQLStore(url: "postgres://scopegate@127.0.0.1:\(listener.port)/none", timeout: .milliseconds(400))
        }
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(350) && waited < .seconds(2), "\(waited)")
        #expect(refused.description.contains("no answer"), "\(refused)")
    }

    /// A database that stops and comes back: uses fail at once while it is gone (the pooled connections
    /// are dropped, not reused), work again when it returns, and a wait for changes fails rather than
    /// waiting on a dead connection, then listens again.
    @Test func aStoreSurvivesItsServerRestarting() throws {
        let server = try PostgreSQLServer()
        defer { server.stop() }
        let store = try PostgreSQLStore(url: try server.newDatabase(), timeout: .seconds(1))
        try store.revokeToken(id: "before", issuer: "", until: Date() + 600)
        let count = try store.changeCount()
        _ = try store.waitForChange(after: count, timeout: .milliseconds(10))
        server.stop()
        let started = ContinuousClock.now
        #expect(throws: StoreError.self) { try store.revokeToken(id: "during", issuer: "", until: Date() + 600) }
        #expect(throws: StoreError.self) { _ = try store.waitForChange(after: count, timeout: .seconds(5)) }
        #expect(ContinuousClock.now - started < .seconds(2))
        try server.start()
        try store.revokeToken(id: "after", issuer: "", until: Date() + 600)
        #expect(Set(try store.revocationSnapshot(at: Date()).tokens.map(\.tokenID)) == ["before", "after"])
        #expect(try store.waitForChange(after: count, timeout: .seconds(5)) > count)
    }
}

/// A loopback listener that completes TCP handshakes (the kernel does, from its backlog) and never reads
/// or answers.
private final class SilentListener {
    let port: UInt16
    private let socket: Int32

    init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.socket = socket
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && listen(socket, 16) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw StoreError("cannot listen") }
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(socket) }
}
