import Foundation
@testable import ScopeGateStore
import Testing

/// A store file in a folder of its own.
struct SQLiteFixture: StoreFixture {
    let path: String

    init() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent("scopegate.db").path
    }

    func open() throws -> any StateStore { try SQLiteStore(path: path) }
}

/// An existing store file.
struct ReopenedFixture: StoreFixture {
    let path: String
    func open() throws -> any StateStore { try SQLiteStore(path: path) }
}

@Suite struct SQLiteStoreTests {
    @Test(arguments: StoreCheck.allCases)
    func passesTheStoreSuite(_ check: StoreCheck) throws {
        try check.run(try SQLiteFixture())
    }

    /// A new file gets the current schema; a file from a newer ScopeGate is refused, not misread.
    @Test func theSchemaIsVersionedAndANewerOneRefused() throws {
        let fixture = try SQLiteFixture()
        _ = try fixture.open()
        #expect(try sqlite3(fixture.path, "PRAGMA user_version;") == "\(SQLiteStore.schemaVersion)")
        #expect(try sqlite3(fixture.path, "PRAGMA journal_mode;") == "wal")
        _ = try sqlite3(fixture.path, "PRAGMA user_version = \(SQLiteStore.schemaVersion + 1);")
        #expect(throws: StoreError.self) { _ = try fixture.open() }
        let error = try #require(throws: StoreError.self) { _ = try fixture.open() }
        #expect(error.description.contains("has schema version \(SQLiteStore.schemaVersion + 1)"))
    }

    /// Opening a store of the current version again changes nothing (no migration runs twice).
    @Test func reopeningMigratesNothing() throws {
        let fixture = try SQLiteFixture()
        let store = try fixture.open()
        try store.revokeToken(id: "a", issuer: "", until: StoreCheck.now + 60)
        for _ in 0..<3 { _ = try fixture.open() }
        #expect(try fixture.open().revokedTokens(at: StoreCheck.now).count == 1)
    }

    /// A file written by each earlier schema version, with what that version could hold, is brought up to
    /// date when opened, its data kept; another program (Python's SQLite) writes the old file.
    @Test(arguments: 0..<SQLiteStore.schemaVersion)
    func migratesFromEveryEarlierVersion(_ version: Int) throws {
        let fixture = try SQLiteFixture()
        var script = SQLiteStore.migrations[..<version].joined(separator: "\n") + "\nPRAGMA user_version = \(version);"
        if version >= 1 {
            script += "\nINSERT INTO revoked_tokens VALUES ('iss', 'old-jti', \(Int64(StoreCheck.now.timeIntervalSince1970 * 1000) + 60_000));"
            script += "\nINSERT INTO subject_not_before VALUES ('user', 'erin', 5);"
        }
        _ = try sqlite3(fixture.path, script, script: true)
        let store = try fixture.open()
        #expect(try sqlite3(fixture.path, "PRAGMA user_version;") == "\(SQLiteStore.schemaVersion)")
        if version >= 1 {
            #expect(try store.revokedTokens(at: StoreCheck.now).map(\.tokenID) == ["old-jti"])
            #expect(try store.notBefores().map(\.subject) == ["erin"])
        }
        // Everything the current schema holds works on the migrated file.
        try StoreCheck.aRedemptionRotatesOnce.run(ReopenedFixture(path: fixture.path))
    }

    @Test func anUnusableFileIsAClearError() throws {
        let fixture = try SQLiteFixture()
        try Data("not a database, just text that is long enough to have a header".utf8).write(to: URL(fileURLWithPath: fixture.path))
        let error = try #require(throws: StoreError.self) { _ = try fixture.open() }
        #expect(error.description.contains("file is not a database"))
        #expect(throws: StoreError.self) { _ = try SQLiteStore(path: "/nonexistent-folder/scopegate.db") }
    }

    /// Python's sqlite3 module (its own SQLite build) as a second reader and writer of the file.
    /// `script`: run several statements (no rows are printed).
    func sqlite3(_ path: String, _ sql: String, script: Bool = false) throws -> String {
        let python = """
            import sqlite3, sys
            connection = sqlite3.connect(sys.argv[1])
            if sys.argv[3] == "script":
                connection.executescript(sys.argv[2])
                rows = []
            else:
                rows = connection.execute(sys.argv[2]).fetchall()
            connection.commit()
            print("\\n".join(str(row[0]) for row in rows))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", python, path, sql, script ? "script" : "query"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
