public import Foundation
import Glibc
import Synchronization

/// The `scopegate` binary the test build produced, beside the test bundle.
public let scopegateBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("scopegate")

/// What a finished process printed and how it ended.
public struct Run: Sendable {
    public let status: Int32
    public let output: String
    public let errors: String
}

/// A new empty folder for one `scopegate` process to run in: the default store (scopegate.db in
/// --state-dir, the working directory) is then never the repository's, nor shared between tests by accident.
func scratchWorkingDirectory() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

/// Runs `scopegate` with `arguments` to its end. Standard error is drained on its own thread while standard
/// output is read, so a process that fills one pipe never blocks on it.
public func run(_ arguments: [String], input: String? = nil, environment: [String: String] = [:]) throws -> Run {
    let process = Process()
    process.executableURL = scopegateBinary
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.arguments = arguments
    process.currentDirectoryURL = try scratchWorkingDirectory()
    let output = Pipe()
    let errors = Pipe()
    let stdin = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let drained = DrainedPipe(errors)
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = drained.wait()
    process.waitUntilExit()
    return Run(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self), errors: String(decoding: err, as: UTF8.self))
}

/// A file with `contents` in a directory of its own under the temporary directory; its path.
public func temporaryFile(_ name: String, _ contents: String, permissions: Int = 0o600) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(name)
    try contents.write(to: url, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: url.path)
    return url.path
}

/// Sends SIGTERM and waits up to 10 s for the exit status; a process that does not stop is killed, and nil
/// is returned.
public func terminate(_ process: Process) -> Int32? {
    kill(process.processIdentifier, SIGTERM)
    let deadline = Date().addingTimeInterval(10)
    while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return nil
    }
    return process.terminationStatus
}

/// A running `scopegate serve`, started and read until it logs the port it listens on. Its log is read
/// all along on a thread of its own (a busy replica never blocks on a full pipe).
public struct ServingProcess {
    public let process: Process
    public let port: UInt16
    private let reader: LogReader

    /// What the process has logged so far.
    public var log: String { reader.text }

    /// Starts `scopegate serve` with `arguments` and `--port port` (0: any free port).
    public init(_ arguments: [String], port requested: UInt16 = 0, environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = scopegateBinary
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.arguments = ["serve"] + arguments + ["--port", "\(requested)"]
        process.currentDirectoryURL = try scratchWorkingDirectory()
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        reader = LogReader(errors)
        var port: UInt16?
        let deadline = Date().addingTimeInterval(10)
        while port == nil, Date() < deadline, process.isRunning {
            let log = reader.text
            if let range = log.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = UInt16(log[range].split(separator: ":").last!)
            } else {
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        guard let port else {
            kill(process.processIdentifier, SIGKILL)
            Thread.sleep(forTimeInterval: 0.1)
            throw TestHTTPError(description: "scopegate serve did not start: \(reader.text)")
        }
        self.port = port
    }

    /// Reads the log until `pattern` (a regular expression) matches, for up to `timeout` seconds; the
    /// match, or nil.
    public func waitForLog(_ pattern: String, timeout: Double = 10) -> Substring? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let log = reader.text
            if let range = log.range(of: pattern, options: .regularExpression) { return log[range] }
            Thread.sleep(forTimeInterval: 0.01)
        } while Date() < deadline
        return nil
    }

    /// Sends SIGTERM and returns the exit status (nil if it had to be killed); the log keeps the rest.
    @discardableResult
    public func stop() -> Int32? {
        let status = terminate(process)
        reader.finish()
        return status
    }
}

/// A process's standard error, read as it comes on a thread of its own.
private final class LogReader: Sendable {
    private let buffer = Mutex(Data())
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.withLock { $0.append(chunk) }
            }
            done.signal()
        }
    }

    var text: String { String(decoding: buffer.withLock { $0 }, as: UTF8.self) }

    /// Waits (up to 5 s) until the process's end of the pipe is closed and everything is read.
    func finish() {
        _ = done.wait(timeout: .now() + 5)
    }
}

/// A pipe read to its end on a thread of its own.
private final class DrainedPipe: @unchecked Sendable {
    // @unchecked: `data` is written by the reading thread before `done` is signalled, read after.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
