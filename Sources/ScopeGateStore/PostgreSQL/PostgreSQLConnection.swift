internal import CPostgreSQL
import Glibc

/// A value bound to or read from a PostgreSQL statement, always in binary form: text travels as `bytea`
/// (so a value holding a NUL byte, which `text` cannot, is stored whole), integers as `bigint`.
enum PostgreSQLValue: Equatable, Sendable {
    case text(String)
    case integer(Int64)
    case null

    /// The type PostgreSQL is told the parameter has.
    fileprivate var type: Oid {
        switch self {
        case .text: 17  // bytea
        case .integer: 20  // int8
        case .null: 0  // inferred from the statement
        }
    }

    fileprivate var bytes: [UInt8]? {
        switch self {
        case .text(let text): Array(text.utf8)
        case .integer(let value): (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
        case .null: nil
        }
    }
}

/// One column of a result row as PostgreSQL sent it (binary), read as the type the query gives it.
struct PostgreSQLField: Sendable {
    let bytes: [UInt8]?

    var isNull: Bool { bytes == nil }

    /// A `bytea` column as UTF-8 text.
    var text: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    /// A `smallint`, `integer` or `bigint` column.
    var integer: Int64? {
        guard let bytes, [2, 4, 8].contains(bytes.count) else { return nil }
        var value: Int64 = bytes[0] & 0x80 != 0 ? -1 : 0
        for byte in bytes { value = value << 8 | Int64(byte) }
        return value
    }
}

/// What PostgreSQL (or libpq) reported, with the statement's context and the SQLSTATE when there is one.
struct PostgreSQLError: Error, Sendable, CustomStringConvertible {
    let state: String?
    let description: String

    /// A deadlock or a serialization failure: the transaction may simply be run again.
    var isRetryable: Bool { state == "40P01" || state == "40001" }
}

/// One libpq connection this object owns and closes, used by one caller at a time (``PostgreSQLStore``
/// hands each out from its pool). Every value is bound, never interpolated; results come back binary.
/// Every wait on the server (connecting, each statement) ends at ``deadline``: a server that stopped
/// answering costs the caller that long, never a hang, and the connection is then dropped.
@safe final class PostgreSQLConnection: @unchecked Sendable {
    // @unchecked: a connection is used by one caller at a time (the pool hands it out and takes it back
    // under its lock); libpq allows a connection to move between threads (PQisthreadsafe).
    private let handle: OpaquePointer
    /// When a wait on the server gives up; nil: never. The store sets it for each use.
    var deadline: ContinuousClock.Instant?
    /// Set when a wait gave up or the socket failed: what the server would say next is unknown.
    private var broken = false

    /// Connects with a libpq connection string or `postgres://` URL (TLS, passwords and the rest as libpq
    /// reads them: the URL, `PGPASSFILE`, the `PG*` environment), giving up at `deadline`.
    init(_ conninfo: String, deadline: ContinuousClock.Instant? = nil) throws(PostgreSQLError) {
        guard let connection = unsafe PQconnectStart(conninfo) else {
            throw PostgreSQLError(state: nil, description: "cannot connect: out of memory")
        }
        unsafe handle = unsafe connection
        self.deadline = deadline
        guard unsafe PQstatus(connection) != CONNECTION_BAD else {
            throw PostgreSQLError(state: nil, description: "cannot connect: \(lastMessage)")
        }
        var polling = PGRES_POLLING_WRITING
        while polling != PGRES_POLLING_OK {
            switch polling {
            case PGRES_POLLING_READING: try wait(for: Int16(POLLIN), doing: "cannot connect")
            case PGRES_POLLING_WRITING: try wait(for: Int16(POLLOUT), doing: "cannot connect")
            default:
                // libpq's message names the host and what failed, never the password.
                throw PostgreSQLError(state: nil, description: "cannot connect: \(lastMessage)")
            }
            polling = unsafe PQconnectPoll(connection)
        }
    }

    deinit {
        unsafe PQfinish(handle)
    }

    /// Whether the connection still works (a server restart breaks it, and so does a wait that gave up).
    var isHealthy: Bool { unsafe !broken && PQstatus(handle) == CONNECTION_OK }

    private var lastMessage: String {
        guard let message = unsafe PQerrorMessage(handle) else { return "unknown error" }
        return unsafe String(cString: message).trimmingSpace()
    }

    /// Waits until the socket is ready for `events` or the deadline passes (then the connection is broken).
    private func wait(for events: Int16, doing context: @autoclosure () -> String) throws(PostgreSQLError) {
        guard try ready(for: events, until: deadline, doing: context()) else {
            broken = true
            throw PostgreSQLError(state: nil, description: "\(context()): no answer from the server in time")
        }
    }

    /// Whether the socket became ready for `events` before `deadline` (nil: waits as long as it takes).
    private func ready(
        for events: Int16, until deadline: ContinuousClock.Instant?, doing context: @autoclosure () -> String
    ) throws(PostgreSQLError)
        -> Bool
    {
        while true {
            var timeout: Int32 = -1
            if let deadline {
                let left = deadline - .now
                guard left > .zero else { return false }
                let (seconds, attoseconds) = left.components
                timeout = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            }
            var descriptor = pollfd(fd: unsafe PQsocket(handle), events: events, revents: 0)
            let ready = poll(&descriptor, 1, timeout)
            if ready > 0 { return true }
            if ready < 0, errno != EINTR {
                broken = true
                throw PostgreSQLError(state: nil, description: "\(context()): error \(errno)")
            }
        }
    }

    /// Reads what the server sent until a whole result is there (or the deadline passes).
    private func awaitResult(_ sql: String) throws(PostgreSQLError) {
        while unsafe PQisBusy(handle) == 1 {
            try wait(for: Int16(POLLIN), doing: String(sql.prefix(60)))
            guard unsafe PQconsumeInput(handle) == 1 else {
                broken = true
                throw PostgreSQLError(state: nil, description: "\(sql.prefix(60)): \(lastMessage)")
            }
        }
    }

    /// Collects the results of what was sent: the first that failed, else the last.
    private func results(_ sql: String) throws(PostgreSQLError) -> OpaquePointer {
        var kept: OpaquePointer?
        while true {
            try awaitResult(sql)
            guard let result = unsafe PQgetResult(handle) else { break }
            if let previous = unsafe kept, unsafe PQresultStatus(previous) == PGRES_FATAL_ERROR {
                unsafe PQclear(result)
            } else {
                if let previous = unsafe kept { unsafe PQclear(previous) }
                unsafe kept = unsafe result
            }
        }
        guard let kept = unsafe kept else { throw PostgreSQLError(state: nil, description: "\(sql.prefix(60)): \(lastMessage)") }
        return unsafe kept
    }

    /// Runs statements that take no values (schema changes, `LISTEN`), several in one string.
    func execute(_ sql: String) throws(PostgreSQLError) {
        guard unsafe PQsendQuery(handle, sql) == 1 else { throw PostgreSQLError(state: nil, description: "\(sql.prefix(60)): \(lastMessage)") }
        let result = try unsafe results(sql)
        defer { unsafe PQclear(result) }
        try unsafe check(result, sql)
    }

    private func check(_ result: OpaquePointer, _ sql: String) throws(PostgreSQLError) {
        let status = unsafe PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let state = unsafe PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { unsafe String(cString: $0) }
            let message = unsafe PQresultErrorMessage(result).map { unsafe String(cString: $0) } ?? "error"
            throw PostgreSQLError(state: state, description: "\(sql.prefix(60)): \(message.trimmingSpace())")
        }
    }

    /// Runs one statement with `values` bound to its `$n` parameters and returns its rows.
    @discardableResult
    func query(_ sql: String, _ values: [PostgreSQLValue] = []) throws(PostgreSQLError) -> [[PostgreSQLField]] {
        let types = values.map(\.type)
        let encoded = values.map(\.bytes)
        let lengths = encoded.map { Int32($0?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: values.count)
        let sent = unsafe Self.withPointers(to: encoded) { pointers in
            unsafe PQsendQueryParams(handle, sql, Int32(values.count), types, pointers, lengths, formats, 1)
        }
        guard sent == 1 else { throw PostgreSQLError(state: nil, description: "\(sql.prefix(60)): \(lastMessage)") }
        let result = try unsafe results(sql)
        defer { unsafe PQclear(result) }
        try unsafe check(result, sql)
        let rowCount = unsafe PQntuples(result)
        let columnCount = unsafe PQnfields(result)
        var rows: [[PostgreSQLField]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            rows.append(
                (0..<columnCount).map { column in
                    if unsafe PQgetisnull(result, row, column) == 1 { return PostgreSQLField(bytes: nil) }
                    let length = Int(unsafe PQgetlength(result, row, column))
                    guard let start = unsafe PQgetvalue(result, row, column) else { return PostgreSQLField(bytes: []) }
                    return unsafe PostgreSQLField(bytes: Array(UnsafeRawBufferPointer(start: start, count: length).bindMemory(to: UInt8.self)))
                })
        }
        return rows
    }

    /// Waits up to `timeout` for a notification on a channel this connection listens on (`LISTEN`); true
    /// when one or more came (all of them are consumed).
    func awaitNotification(timeout: Duration) throws(PostgreSQLError) -> Bool {
        if consumeNotifications() { return true }
        guard try ready(for: Int16(POLLIN), until: .now + timeout, doing: "LISTEN") else { return false }
        guard unsafe PQconsumeInput(handle) == 1 else {
            broken = true
            throw PostgreSQLError(state: nil, description: "LISTEN: \(lastMessage)")
        }
        return consumeNotifications()
    }

    private func consumeNotifications() -> Bool {
        var any = false
        while let notification = unsafe PQnotifies(handle) {
            unsafe PQfreemem(notification)
            any = true
        }
        return any
    }

    /// `body` with a C array of pointers to each value's bytes (nil for NULL), valid for the call.
    private static func withPointers<Result>(
        to values: [[UInt8]?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    ) -> Result {
        var pointers: [UnsafePointer<CChar>?] = unsafe []
        var kept: [UnsafeMutableRawPointer] = unsafe []
        for value in values {
            guard let value else {
                unsafe pointers.append(nil)
                continue
            }
            let copy = UnsafeMutableRawPointer.allocate(byteCount: max(value.count, 1), alignment: 1)
            if !value.isEmpty { unsafe value.withUnsafeBytes { unsafe copy.copyMemory(from: $0.baseAddress!, byteCount: value.count) } }
            unsafe kept.append(copy)
            unsafe pointers.append(UnsafePointer(copy.assumingMemoryBound(to: CChar.self)))
        }
        defer { unsafe kept.forEach { unsafe $0.deallocate() } }
        return unsafe pointers.withUnsafeBufferPointer { unsafe body($0.baseAddress) }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<Result>(_ begin: String = "BEGIN", _ body: () throws(PostgreSQLError) -> Result) throws(PostgreSQLError) -> Result {
        try query(begin)
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

extension String {
    fileprivate func trimmingSpace() -> String {
        var text = self[...]
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
