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
}
