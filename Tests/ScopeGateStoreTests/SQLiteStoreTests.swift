import Foundation
import ScopeGateStore
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

    @Test func anUnusableFileIsAClearError() throws {
        let fixture = try SQLiteFixture()
        try Data("not a database, just text that is long enough to have a header".utf8).write(to: URL(fileURLWithPath: fixture.path))
        let error = try #require(throws: StoreError.self) { _ = try fixture.open() }
        #expect(error.description.contains("file is not a database"))
        #expect(throws: StoreError.self) { _ = try SQLiteStore(path: "/nonexistent-folder/scopegate.db") }
    }

    /// Python's sqlite3 module (its own SQLite build) as a second reader and writer of the file.
    func sqlite3(_ path: String, _ sql: String) throws -> String {
        let python = """
            import sqlite3, sys
            connection = sqlite3.connect(sys.argv[1])
            rows = connection.execute(sys.argv[2]).fetchall()
            connection.commit()
            print("\\n".join(str(row[0]) for row in rows))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", python, path, sql]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
