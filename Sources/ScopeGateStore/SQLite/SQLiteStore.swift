public import FoundationEssentials
import Synchronization

/// The embedded ``StateStore``: one SQLite file (WAL), shared by the service and the `scopegate` commands
/// that change it. Connections are pooled, one caller each at a time; the schema is versioned with
/// `PRAGMA user_version` and brought up to date when the store is opened.
public final class SQLiteStore: StateStore {
    /// The schema this binary writes. A file with a newer one is refused rather than misread.
    public static var schemaVersion: Int { migrations.count }

    /// `migrations[n]` brings the schema from version n to n + 1; each runs in its own transaction.
    static let migrations: [String] = [
        """
        CREATE TABLE revoked_tokens (
            issuer TEXT NOT NULL,
            token_id TEXT NOT NULL,
            until_ms INTEGER NOT NULL,
            PRIMARY KEY (issuer, token_id)
        ) STRICT;
        CREATE INDEX revoked_tokens_until ON revoked_tokens (until_ms);
        CREATE TABLE subject_not_before (
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            not_before_ms INTEGER NOT NULL,
            PRIMARY KEY (kind, subject)
        ) STRICT;
        CREATE TABLE change_count (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            count INTEGER NOT NULL
        ) STRICT;
        INSERT INTO change_count (id, count) VALUES (1, 0);
        """
    ]

    /// The file.
    public let path: String
    private let idle = Mutex<[SQLiteConnection]>([])
    private static let idleLimit = 8

    /// Opens the store at `path`, creating it and bringing its schema up to date.
    public init(path: String) throws(StoreError) {
        self.path = path
        let connection = try Self.open(path)
        try Self.migrate(connection, path: path)
        idle.withLock { $0.append(connection) }
    }

    private static func open(_ path: String) throws(StoreError) -> SQLiteConnection {
        do {
            return try SQLiteConnection(path: path)
        } catch {
            throw StoreError(error.description)
        }
    }

    private static func migrate(_ connection: SQLiteConnection, path: String) throws(StoreError) {
        do {
            try connection.transaction { () throws(SQLiteError) in
                let version = Int(try connection.query("PRAGMA user_version").first?.first?.integer ?? 0)
                guard version <= migrations.count else {
                    throw SQLiteError(
                        code: 0,
                        description: "\(path) has schema version \(version); this ScopeGate knows versions up to \(migrations.count): use a newer one")
                }
                for next in version..<migrations.count {
                    try connection.execute(migrations[next])
                    try connection.execute("PRAGMA user_version = \(next + 1)")
                }
            }
        } catch {
            throw StoreError(error.description)
        }
    }

    /// Runs `body` with a connection of the pool (a new one when every one is in use).
    private func withConnection<Result>(_ body: (SQLiteConnection) throws(SQLiteError) -> Result) throws(StoreError) -> Result {
        let connection: SQLiteConnection
        if let pooled = idle.withLock({ $0.popLast() }) {
            connection = pooled
        } else {
            connection = try Self.open(path)
        }
        defer {
            idle.withLock { connections in
                if connections.count < Self.idleLimit { connections.append(connection) }
            }
        }
        do {
            return try body(connection)
        } catch {
            throw StoreError("\(path): \(error.description)")
        }
    }

    /// A change, counted in the same transaction.
    private func change(_ body: (SQLiteConnection) throws(SQLiteError) -> Void) throws(StoreError) {
        try withConnection { connection throws(SQLiteError) in
            try connection.transaction { () throws(SQLiteError) in
                try body(connection)
                try connection.query("UPDATE change_count SET count = count + 1 WHERE id = 1")
            }
        }
    }

    private static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
    private static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    public func revokeToken(id tokenID: String, issuer: String, until: Date) throws(StoreError) {
        try change { connection throws(SQLiteError) in
            try connection.query(
                """
                INSERT INTO revoked_tokens (issuer, token_id, until_ms) VALUES (?, ?, ?)
                ON CONFLICT (issuer, token_id) DO UPDATE SET until_ms = max(until_ms, excluded.until_ms)
                """, [.text(issuer), .text(tokenID), .integer(Self.milliseconds(until))])
        }
    }

    public func revokedTokens(at now: Date) throws(StoreError) -> [RevokedToken] {
        let rows = try withConnection { connection throws(SQLiteError) in
            try connection.query("SELECT issuer, token_id, until_ms FROM revoked_tokens WHERE until_ms > ?", [.integer(Self.milliseconds(now))])
        }
        return rows.compactMap { row in
            guard row.count == 3, let issuer = row[0].text, let id = row[1].text, let until = row[2].integer else { return nil }
            return RevokedToken(issuer: issuer, tokenID: id, until: Self.date(until))
        }
    }

    public func setNotBefore(_ date: Date, kind: String, subject: String) throws(StoreError) {
        try change { connection throws(SQLiteError) in
            try connection.query(
                """
                INSERT INTO subject_not_before (kind, subject, not_before_ms) VALUES (?, ?, ?)
                ON CONFLICT (kind, subject) DO UPDATE SET not_before_ms = max(not_before_ms, excluded.not_before_ms)
                """, [.text(kind), .text(subject), .integer(Self.milliseconds(date))])
        }
    }

    public func notBefores() throws(StoreError) -> [SubjectNotBefore] {
        let rows = try withConnection { connection throws(SQLiteError) in
            try connection.query("SELECT kind, subject, not_before_ms FROM subject_not_before")
        }
        return rows.compactMap { row in
            guard row.count == 3, let kind = row[0].text, let subject = row[1].text, let time = row[2].integer else { return nil }
            return SubjectNotBefore(kind: kind, subject: subject, notBefore: Self.date(time))
        }
    }

    @discardableResult
    public func purge(before date: Date) throws(StoreError) -> Int {
        var removed = 0
        try change { connection throws(SQLiteError) in
            try connection.query("DELETE FROM revoked_tokens WHERE until_ms <= ?", [.integer(Self.milliseconds(date))])
            removed = Int(try connection.query("SELECT changes()").first?.first?.integer ?? 0)
        }
        return removed
    }

    public func changeCount() throws(StoreError) -> Int64 {
        try withConnection { connection throws(SQLiteError) in
            try connection.query("SELECT count FROM change_count WHERE id = 1").first?.first?.integer ?? 0
        }
    }
}
