internal import CSQLite

/// A value bound to or read from an SQLite statement.
public enum SQLiteValue: Equatable, Sendable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case null

    /// The integer, or nil.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The text, or nil.
    public var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }
}

/// What SQLite reported, with the statement's context.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// SQLite's result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT`, …).
    public let code: Int32
    public let description: String
}

/// One SQLite connection this object owns and closes, used by one thread at a time (opened with
/// `SQLITE_OPEN_NOMUTEX`; ``SQLiteStore`` hands each out to one caller at a time). WAL, `synchronous=NORMAL`,
/// a busy timeout, defensive mode and no extension loading. Every value is bound, never interpolated.
@safe final class SQLiteConnection: @unchecked Sendable {
    // @unchecked: a connection is used by one caller at a time (the pool hands it out and takes it back
    // under its lock); it moves between threads, which SQLite allows for a connection opened NOMUTEX.
    private let handle: OpaquePointer
    /// Prepared statements by their SQL, kept for the connection's life: a statement is compiled once,
    /// not on every call (compiling was most of a refresh-token redemption's time).
    private var statements: [String: OpaquePointer] = unsafe [:]

    /// Opens (creating it if needed) the database at `path`.
    init(path: String, busyTimeoutMilliseconds: Int32 = 5_000) throws(SQLiteError) {
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = unsafe sqlite3_open_v2(path, &opened, flags, nil)
        guard let database = unsafe opened else { throw SQLiteError(code: status, description: "cannot open \(path): out of memory") }
        guard status == SQLITE_OK else {
            let message = unsafe String(cString: sqlite3_errmsg(database))
            unsafe sqlite3_close_v2(database)
            throw SQLiteError(code: status, description: "cannot open \(path): \(message)")
        }
        unsafe handle = unsafe database
        guard unsafe scopegate_sqlite_harden(database) == SQLITE_OK else { throw error("cannot harden the connection") }
        unsafe sqlite3_busy_timeout(database, busyTimeoutMilliseconds)
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = NORMAL")
        // A commit checkpoints once the log holds 1,000 pages (SQLite's default, which keeps the log a few
        // MB); SQLiteStore.maintain checkpoints once a second besides, so a commit seldom has much to copy.
        try execute("PRAGMA wal_autocheckpoint = 1000")
        try execute("PRAGMA foreign_keys = ON")
    }

    deinit {
        unsafe statements.values.forEach { unsafe sqlite3_finalize($0) }
        unsafe sqlite3_close_v2(handle)
    }

    /// The compiled statement for `sql`, from the cache or compiled now.
    private func statement(_ sql: String) throws(SQLiteError) -> OpaquePointer {
        if let cached = unsafe statements[sql] { return unsafe cached }
        var prepared: OpaquePointer?
        guard unsafe sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil) == SQLITE_OK,
            let statement = unsafe prepared
        else {
            throw error(String(sql.prefix(60)))
        }
        unsafe statements[sql] = unsafe statement
        return unsafe statement
    }

    private func error(_ context: String) -> SQLiteError {
        SQLiteError(code: unsafe sqlite3_extended_errcode(handle), description: "\(context): \(unsafe String(cString: sqlite3_errmsg(handle)))")
    }

    /// Runs statements that take no values (schema changes, pragmas).
    func execute(_ sql: String) throws(SQLiteError) {
        guard unsafe sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw error(String(sql.prefix(60))) }
    }

    /// Runs one statement with `values` bound to its `?` parameters and returns its rows.
    @discardableResult
    func query(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> [[SQLiteValue]] {
        let statement = try unsafe self.statement(sql)
        defer {
            unsafe sqlite3_reset(statement)
            unsafe sqlite3_clear_bindings(statement)
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32 =
                switch value {
                case .integer(let number): unsafe sqlite3_bind_int64(statement, index, number)
                case .real(let number): unsafe sqlite3_bind_double(statement, index, number)
                // With its byte count: a value holding a NUL byte is stored whole, not cut there.
                case .text(let text): unsafe sqlite3_bind_text(statement, index, text, Int32(text.utf8.count), scopegate_sqlite_transient())
                case .null: unsafe sqlite3_bind_null(statement, index)
                }
            guard status == SQLITE_OK else { throw error("binding \(index)") }
        }
        var rows: [[SQLiteValue]] = []
        while true {
            let status = unsafe sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw error(String(sql.prefix(60))) }
            let columns = unsafe sqlite3_column_count(statement)
            rows.append(
                (0..<columns).map { column in
                    switch unsafe sqlite3_column_type(statement, column) {
                    case SQLITE_INTEGER: .integer(unsafe sqlite3_column_int64(statement, column))
                    case SQLITE_FLOAT: .real(unsafe sqlite3_column_double(statement, column))
                    case SQLITE_TEXT:
                        .text(
                            unsafe String(
                                decoding: UnsafeBufferPointer(
                                    start: sqlite3_column_text(statement, column), count: Int(sqlite3_column_bytes(statement, column))),
                                as: UTF8.self))
                    default: .null
                    }
                })
        }
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction: committed when it returns, rolled back when it throws.
    func transaction<Result>(_ body: () throws(SQLiteError) -> Result) throws(SQLiteError) -> Result {
        try query("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try query("COMMIT")
            return result
        } catch {
            _ = try? query("ROLLBACK")
            throw error
        }
    }
}
