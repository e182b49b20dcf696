import Foundation
import Synchronization

/// The running postmasters' pids and data folders, for the exit handler (which cannot capture anything).
private let postmasters = Mutex<[pid_t: String]>([:])
private let exitHandler: Void = {
    atexit {
        for (pid, folder) in postmasters.withLock({ $0 }) {
            // SIGINT: a fast shutdown. Wait for it, then remove the folder.
            kill(pid, SIGINT)
            for _ in 0..<100 where kill(pid, 0) == 0 { usleep(50_000) }
            try? FileManager.default.removeItem(atPath: folder)
        }
    }
}()

/// Debian's PostgreSQL for the tests, made with `initdb` in a temporary folder and listening on a
/// loopback port (and a unix socket in that folder), run as the `postgres` user when the tests run as root
/// (PostgreSQL refuses root), stopped by its pid when the process exits. ``shared`` is the test process's
/// server; a test that stops and restarts its database (an outage) makes one of its own.
public final class PostgreSQLServer: Sendable {
    /// The test process's server, started at first use.
    public static let shared: Result<PostgreSQLServer, TestHTTPError> = Result { () throws(TestHTTPError) in try PostgreSQLServer() }

    public let port: UInt16
    private let bin: String
    private let folder: String
    private let databases = Mutex(0)
    /// The postmaster's pid while it runs.
    private let pid = Mutex<pid_t?>(nil)
    /// `-c name=value` settings beyond the tests' defaults.
    private let settings: [String]

    /// A new server of the caller's own, started. `prepare` may write into the data folder (certificates,
    /// `pg_hba.conf`) before the first start; `settings` are more `name=value` settings (`ssl=on`). The
    /// helpers here (`newDatabase`, `psql`) connect through the unix socket, as the superuser, whatever
    /// `pg_hba.conf` asks of TCP clients.
    public init(settings: [String] = [], prepare: ((_ dataFolder: String) throws -> Void)? = nil) throws(TestHTTPError) {
        self.settings = settings
        _ = exitHandler
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.sorted().last, FileManager.default.fileExists(atPath: "/usr/lib/postgresql/\(version)/bin/initdb") else {
            throw TestHTTPError(description: "PostgreSQL is not installed: apt-get install postgresql (script/setup does)")
        }
        bin = "/usr/lib/postgresql/\(version)/bin"
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-postgres-\(UUID().uuidString)").path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            if getuid() == 0 { try Self.run("/usr/bin/chown", ["postgres", folder]) }
            let (initdb, arguments) = Self.asPostgres(bin + "/initdb", ["-D", folder + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            try Self.run(initdb, arguments)
            if let prepare {
                try prepare(folder + "/data")
                if getuid() == 0 { try Self.run("/usr/bin/chown", ["-R", "postgres", folder + "/data"]) }
            }
        } catch {
            throw TestHTTPError(description: "initdb: \(error)")
        }
        port = try Self.freeLoopbackPort()
        try start()
    }

    /// Starts the server (again) on its port and waits until it accepts connections.
    public func start() throws(TestHTTPError) {
        let server = Process()
        let (postgres, arguments) = Self.asPostgres(
            bin + "/postgres",
            [
                "-D", folder + "/data", "-p", "\(port)", "-k", folder, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
            ] + settings.flatMap { ["-c", $0] })
        server.executableURL = URL(fileURLWithPath: postgres)
        server.arguments = arguments
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle(forWritingAtPath: "/dev/null")
        do {
            try server.run()
        } catch {
            throw TestHTTPError(description: "cannot start postgres: \(error)")
        }
        // Ready when the postmaster has written its pid file and accepts connections.
        let deadline = Date() + 30
        var started: pid_t?
        while Date() < deadline {
            if let text = try? String(contentsOfFile: folder + "/data/postmaster.pid", encoding: .utf8),
                let first = text.split(separator: "\n").first, let value = pid_t(first),
                (try? Self.run(bin + "/pg_isready", ["-h", "127.0.0.1", "-p", "\(port)", "-q"])) != nil
            {
                started = value
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard let started else { throw TestHTTPError(description: "postgres did not start on port \(port)") }
        pid.withLock { $0 = started }
        postmasters.withLock { $0[started] = folder }
    }

    /// Stops the server (a fast shutdown: every connection is closed) and waits until it has exited.
    public func stop() {
        guard let running = pid.withLock({ $0 }) else { return }
        kill(running, SIGINT)
        for _ in 0..<200 where kill(running, 0) == 0 { usleep(25_000) }
        pid.withLock { $0 = nil }
        postmasters.withLock { _ = $0.removeValue(forKey: running) }
    }

    /// A new, empty database on the server; its URL.
    public func newDatabase() throws -> String {
        let index = databases.withLock { count in
            count += 1
            return count
        }
        let name = "scopegate_\(getpid())_\(index)"
        try Self.run(bin + "/createdb", ["-h", folder, "-p", "\(port)", "-U", "postgres", name])
        return "postgres://postgres@127.0.0.1:\(port)/\(name)"
    }

    /// Runs SQL against database `name` with psql, returning its unaligned output.
    public func psql(_ database: String, _ sql: String) throws -> String {
        try Self.run("/usr/bin/psql", ["-h", folder, "-p", "\(port)", "-U", "postgres", "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
    }

    /// The command that runs `path` as the `postgres` user when this process is root, as itself otherwise.
    private static func asPostgres(_ path: String, _ arguments: [String]) -> (String, [String]) {
        getuid() == 0 ? ("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments) : (path, arguments)
    }

    /// A loopback port nothing listens on (bound, read, released).
    private static func freeLoopbackPort() throws(TestHTTPError) -> UInt16 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestHTTPError(description: "socket failed") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw TestHTTPError(description: "bind failed") }
        return UInt16(bigEndian: address.sin_port)
    }

    @discardableResult
    private static func run(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestHTTPError(description: "\(path) \(arguments.joined(separator: " ")): exit \(process.terminationStatus): \(problems)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
