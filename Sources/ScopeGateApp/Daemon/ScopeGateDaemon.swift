public import FoundationEssentials
public import Logging
import Glibc
import ScopeGateCore
public import ScopeGateHTTP

/// A running ScopeGate: the service over its configuration, the main listener, the operator listener,
/// readiness, reloads on SIGHUP and on file changes. `scopegate serve` parses options and runs one; tests
/// run one in-process.
///
/// ```swift
/// let termination = TerminationSignal()
/// let daemon = try ScopeGateDaemon(configuration: configuration, files: (files, loaded), options: options, logger: logger)
/// termination.wait()
/// daemon.stop()
/// ```
public final class ScopeGateDaemon: Sendable {
    /// How the daemon listens and reloads.
    public struct Options: Sendable {
        /// The main listener's settings.
        public var http = HTTPServerConfiguration()
        /// Where the operator listener (`/metrics`, `/healthz`, `/readyz`) listens; nil: none.
        public var operatorListener: (host: String, port: UInt16)?
        /// Reload when a configuration file changes.
        public var watchFiles = true
        /// Reload on SIGHUP (the process's handler: off for daemons inside a test process).
        public var reloadOnHangup = true

        /// The defaults: 127.0.0.1:8000, no operator listener, reloads on SIGHUP and file changes.
        public init() {}
    }

    /// Why a daemon could not start.
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The service answering requests.
    public let service: ScopeGateService
    private let server: HTTPServer
    private let operatorServer: HTTPServer?
    private let watcher: FileWatcher?
    private let hangup: SignalHandler?
    /// Reloads the files; nil when the configuration came from no files.
    public let reloader: ConfigurationReloader?

    /// Starts a daemon over `configuration`, which was built from `files` when given (those are then
    /// reloaded on SIGHUP and on change), and listens. It is ready when this returns.
    public init(
        configuration: ServiceConfiguration, files: (ConfigurationFiles, ConfigurationFiles.Loaded)? = nil, options: Options = Options(),
        logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }, accessLogSink: LogSink? = nil
    ) throws(StartError) {
        let service = ScopeGateService(configuration: configuration, logger: logger, clock: clock, accessLogSink: accessLogSink)
        self.service = service
        if let (files, loaded) = files, let schedule = loaded.keySchedule, let path = files.keysPath {
            for warning in service.keyScheduleWarnings(schedule, file: path, replacing: nil) { logger.warning("\(warning.description)") }
        }
        let reloader = files.map { ConfigurationReloader(files: $0.0, initial: $0.1.contents, service: service, logger: logger) }
        self.reloader = reloader
        configuration.storedUsers?.onChange { [service] in service.usersChanged() }
        configuration.revocations.startWatching(
            users: configuration.storedUsers, everyTurn: { [service] in service.storeTurn(now: $0) },
            everyChange: { [service] in service.sessionCache.removeAll() }, logger: logger, clock: clock)
        // Still before listening: from here on SIGHUP reloads instead of ending the process.
        hangup = reloader.flatMap { reloader in options.reloadOnHangup ? SignalHandler(SIGHUP) { reloader.reload(reason: "SIGHUP") } : nil }
        if let reloader, let paths = files?.0.paths, options.watchFiles, !paths.isEmpty {
            do {
                watcher = try FileWatcher(paths: paths) { reloader.reload(reason: "file changed", onlyIfChanged: true) }
            } catch {
                hangup?.cancel()
                throw StartError(description: error.description)
            }
        } else {
            watcher = nil
        }
        var http = options.http
        http.commonPaths = ScopeGateService.commonPaths
        do {
            server = try HTTPServer(configuration: http, rejection: service.rejection, handler: service.handle)
            if let (host, port) = options.operatorListener {
                var operatorHTTP = http
                operatorHTTP.host = host
                operatorHTTP.port = port
                operatorHTTP.threads = 1
                operatorHTTP.workerThreads = 1
                operatorServer = try HTTPServer(configuration: operatorHTTP, rejection: service.rejection, handler: service.handleOperator)
            } else {
                operatorServer = nil
            }
        } catch {
            watcher?.cancel()
            hangup?.cancel()
            throw StartError(description: error.description)
        }
        let server = self.server
        service.setQueueDepthSource { server.pendingWork }
        service.isReady = true
        logger.info(
            "ScopeGate listening on http://\(Self.show(http.host)):\(server.port)",
            metadata: [
                "policy.rules": "\(configuration.policy.rules.count)", "users.count": "\(configuration.users.users.count)",
                "clients.count": "\(configuration.clients.clients.count)",
            ])
        if let operatorServer {
            logger.info("operator endpoints on http://\(Self.show(options.operatorListener?.host ?? http.host)):\(operatorServer.port)")
        }
    }

    /// The main listener's port (the one picked when the configuration asked for port 0).
    public var port: UInt16 { server.port }
    /// Requests waiting for or running on a worker (logins).
    public var pendingWork: Int { server.pendingWork }

    /// Deferred jobs running now.
    public var runningWork: Int { server.runningWork }
    /// The operator listener's port, if there is one.
    public var operatorPort: UInt16? { operatorServer?.port }

    /// Stops: no longer ready, no more reloads, listeners closed once their requests are answered.
    public func stop() {
        service.configuration.revocations.stop()
        // Regulation counters still on their way to the store get there before the process ends.
        (service.loginAttempts as? LoginThrottle)?.flush()
        hangup?.cancel()
        service.isReady = false
        watcher?.cancel()
        operatorServer?.stop()
        server.stop()
    }

    private static func show(_ host: String) -> String {
        host.contains(":") ? "[\(host)]" : host
    }
}
