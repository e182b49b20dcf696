public import Foundation
public import Logging
public import ScopeGateApp
import ScopeGateCore
public import ScopeGateHTTP

/// A ScopeGate daemon running in-process on a free loopback port, with the demo configuration plus fast
/// test users; the same ``ScopeGateDaemon`` `scopegate serve` runs, without its signal handling.
public final class TestDaemon {
    public let daemon: ScopeGateDaemon
    public var service: ScopeGateService { daemon.service }
    public var port: UInt16 { daemon.port }
    /// Logins waiting for or on a worker.
    public var pendingWork: Int { daemon.pendingWork }
    public var runningWork: Int { daemon.runningWork }

    /// bob (password "builder", cost 4, scopes me items admin) and carol (cost 4, scope me).
    public static let testUsersYAML: String = {
        let hasher = try! PasswordHasher(cost: 4)
        return """
            users:
              johndoe:
                full_name: John Doe
                email: johndoe@example.com
                password_hash: "$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW"
                scopes: [me, items]
              alice:
                full_name: Alice Chains
                email: alicechains@example.com
                password_hash: "$2b$12$gSvqqUPvlXP2tfVFaWK1Be7DlH.PKZbv5H8KnzzVgXXbVxpva.pFm"
                disabled: true
                scopes: [me, items]
              bob:
                full_name: Bob Builder
                password_hash: "\(try! hasher.hash("builder"))"
                scopes: [me, items, admin]
              carol:
                email: carol@example.com
                password_hash: "\(try! hasher.hash("carolpw"))"
                scopes: [me]
            """
    }()

    public convenience init(
        policyYAML: String = DemoConfiguration.policyYAML, usersYAML: String = TestDaemon.testUsersYAML,
        configure: (inout ServiceConfiguration) -> Void = { _ in }, logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        http configureHTTP: (inout HTTPServerConfiguration) -> Void = { _ in },
        clock: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        var configuration = ServiceConfiguration(
            policy: try Policy.load(yaml: policyYAML, file: "policy.yaml"),
            users: try UserDirectory.load(yaml: usersYAML, file: "users.yaml"),
            keyring: try KeyRing(signingKey: HMACKey(secretFileContents: Array(DemoConfiguration.secret.utf8))),
            passwordHasher: try PasswordHasher(cost: 12))
        configure(&configuration)
        try self.init(configuration: configuration, logger: logger, http: configureHTTP, clock: clock)
    }

    /// A daemon over a configuration built by the test; `clock` is what the service reads as now.
    public init(
        configuration: ServiceConfiguration, logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        http configureHTTP: (inout HTTPServerConfiguration) -> Void = { _ in },
        clock: @escaping @Sendable () -> Date = { Date() }, accessLogSink: LogSink? = nil
    ) throws {
        var options = ScopeGateDaemon.Options()
        options.http.port = 0
        options.http.threads = 2
        options.http.workerThreads = 2
        options.http.workerQueueLimit = 16
        // Tests share the cores with each other: logins wait for the worker as long as they need.
        options.http.workerQueueWait = .seconds(60)
        options.reloadOnHangup = false
        options.watchFiles = false
        configureHTTP(&options.http)
        daemon = try ScopeGateDaemon(configuration: configuration, options: options, logger: logger, clock: clock, accessLogSink: accessLogSink)
    }

    deinit {
        daemon.stop()
    }

    public func get(_ target: String, headers: [(String, String)] = []) throws -> TestHTTPResponse {
        try sendRequest(port: port, target: target, headers: headers)
    }

    public func login(_ username: String, _ password: String, scope: String? = nil) throws -> TestHTTPResponse {
        var fields = [("username", username), ("password", password)]
        if let scope { fields.append(("scope", scope)) }
        return try sendRequest(
            port: port, method: "POST", target: "/token",
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: formBody(fields))
    }

    /// A token signed with the daemon's key: any subject, scopes and lifetime.
    public func token(subject: String = "johndoe", scopes: [String], expiresIn: TimeInterval = 600) throws -> String {
        let now = Date()
        return try TokenSigner(key: service.configuration.keyring.signingKey).sign(
            AccessTokenClaims(subject: subject, scopes: scopes, issuedAt: now, expiresAt: now + expiresIn, tokenID: "test"))
    }

    /// An nginx-style `/auth` subrequest.
    public func auth(_ uri: String, method: String = "GET", token: String? = nil, headers: [(String, String)] = []) throws -> TestHTTPResponse {
        var all = [("X-Original-URI", uri), ("X-Original-Method", method)] + headers
        if let token { all.append(("Authorization", "Bearer \(token)")) }
        return try get("/auth", headers: all)
    }
}

/// Collects log lines, to check that secrets never reach them.
public final class CapturedLogs: @unchecked Sendable {
    // @unchecked: `lines` is only touched with `lock` held.
    private let lock = NSLock()
    private var storage: [String] = []

    public init() {}

    public var lines: [String] { lock.withLock { storage } }

    public func append(_ line: String) { lock.withLock { storage.append(line) } }

    public func logger(level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "test") { _ in CapturingHandler(logs: self) }
        logger.logLevel = level
        return logger
    }
}

struct CapturingHandler: LogHandler {
    let logs: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        logs.append("\(event.level) \(event.message) \(merged.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " "))")
    }
}
