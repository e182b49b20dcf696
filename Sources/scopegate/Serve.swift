public import ArgumentParser
import FoundationEssentials
import Glibc
import Logging
public import ScopeGateApp
import ScopeGateCore
import ScopeGateStore
import ScopeGateHTTP

extension ChallengeMode: ExpressibleByArgument {}
extension StoreLossPolicy: ExpressibleByArgument {}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve /token, /auth, the demo endpoints, /openapi.json, /docs, /healthz, /readyz and /metrics.",
        discussion: """
            Outside --demo, --policy, --users and --secret-file are required. The secret file holds at least 32 \
            bytes; create one with: openssl rand -hex 32 > secret

            Every option can also come from the environment: --secret-file as SCOPEGATE_SECRET_FILE, --demo as \
            SCOPEGATE_DEMO=true, --no-watch as SCOPEGATE_WATCH=false. The command line wins.

            SIGHUP, or a change to one of the files, reloads policy, users and secret; files that fail validation \
            are refused with their errors logged and the configuration in force stays. SIGINT or SIGTERM stops.
            """
    )

    @Option(help: "Address to listen on (IPv4 or IPv6 literal, or localhost).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free port.")
    var port: UInt16 = 8000

    @Option(help: "Policy file (YAML): route → required scopes.")
    var policy: String?

    @Option(help: "Users file (YAML): names, password hashes, grantable scopes; or \"store\": the users scopegate users keeps in the store.")
    var users: String?

    @Option(name: .customLong("secret-file"), help: "File holding the HS256 signing secret (at least 32 bytes).")
    var secretFile: String?

    @Option(help: "Keys file (YAML): signing keys with activation times, for rotation; instead of --secret-file.")
    var keys: String?

    @Option(help: "Clients file (YAML): machine clients, their secret hashes, grant types and scopes.")
    var clients: String?

    @Option(
        help:
            "Where refresh tokens, revocations and stored users are kept, shared with scopegate revoke and users: sqlite:PATH (default: sqlite:scopegate.db in --state-dir), or postgres://USER@HOST/DATABASE for several replicas (libpq's URL: sslmode, PGPASSFILE and the PG* environment apply)."
    )
    var store: String?

    @Option(
        name: .customLong("state-dir"),
        help: "Folder of the default store (default: the working directory; with --demo, a new temporary folder removed at exit).")
    var stateDir: String?

    @Option(name: .customLong("session-idle"), help: "Seconds a browser's sign-in may go unused before it ends.")
    var sessionIdle = Int(SessionSettings().idle)

    @Option(name: .customLong("session-lifetime"), help: "Seconds after signing in when a browser's sign-in ends whatever happens.")
    var sessionLifetime = Int(SessionSettings().lifetime)

    @Option(
        name: .customLong("session-domain"),
        help:
            "A parent domain (example.com) for the sign-in cookie, so that one sign-in on ScopeGate's own host serves every application host below it.")
    var sessionDomain: String?

    @Option(
        name: .customLong("docs-assets"),
        help: "A swagger-ui-dist folder (swagger-ui-bundle.js, swagger-ui.css) that /docs loads from ScopeGate instead of a CDN.")
    var docsAssets: String?

    @Option(
        name: .customLong("store-timeout"),
        help:
            "Milliseconds one use of the store may wait on it (connecting included); past it a write is answered 503 with Retry-After and the store counts as lost."
    )
    var storeTimeout = 2000

    @Option(
        name: .customLong("on-store-loss"),
        help:
            "What /auth does with tokens while the store cannot be reached: keep (decide from the revocations last read; /readyz says degraded) or deny (refuse every token; /readyz answers 503)."
    )
    var onStoreLoss = StoreLossPolicy.keep

    @Option(
        name: .customLong("refresh-token-lifetime"),
        help:
            "Seconds a login's refresh tokens last (rotated on each use); 0: none for logins without a client. Clients with the refresh_token grant always get them."
    )
    var refreshTokenLifetime = 0

    @Option(name: .customLong("refresh-token-idle"), help: "Seconds a refresh token may go unused before it expires (default: the lifetime).")
    var refreshTokenIdle: Int?

    @Option(
        name: .customLong("refresh-reuse-grace"),
        help:
            "Seconds (0 to 5) in which the client that redeemed a refresh token may present it again and get the same successor; 0: a spent token again revokes its login."
    )
    var refreshReuseGrace = 0

    @Flag(help: "Use the demo users, policies/demo.yaml and the tutorial's published secret. For trying out only.")
    var demo = false

    @Option(name: .customLong("token-lifetime"), help: "Lifetime of issued tokens, in seconds.")
    var tokenLifetime = 1800

    @Option(help: "Seconds of clock skew tolerated on exp, nbf and iat.")
    var leeway = 0

    @Option(name: .customLong("trusted-proxies"), help: "Comma-separated CIDR ranges whose forwarded headers /auth believes.")
    var trustedProxies = "127.0.0.0/8,::1/128"

    @Option(help: "How /auth refuses for missing scope: scopes (401, FastAPI's wording) or rfc6750 (403 insufficient_scope).")
    var challenge = ChallengeMode.scopes

    @Option(name: .customLong("bcrypt-cost"), help: "bcrypt cost: hashes of another cost are reported for upgrade.")
    var bcryptCost = 12

    @Option(help: "Polling threads (default: one per core).")
    var threads: Int?

    @Option(
        name: .customLong("login-queue"), help: "Logins that may wait for a password check; more are answered 503 with Retry-After (default: two per core).")
    var loginQueue: Int?

    @Option(
        name: .customLong("login-max-wait"),
        help: "Milliseconds a queued login may wait for a password check; one that waited longer is answered 503 with Retry-After.")
    var loginMaxWait = Int(HTTPServerConfiguration().workerQueueWait / .milliseconds(1))

    @Option(
        name: .customLong("login-nice"),
        help:
            "Scheduling niceness of the password-check threads, 0 to 19: at 19 decisions always come first; lower it when other busy processes share the cores and logins must keep pace."
    )
    var loginNice = HTTPServerConfiguration().workerNiceness

    @Option(name: .customLong("regulate-after-pair"), help: "Failed logins of one user from one address before the first ban.")
    var regulateAfterPair = LoginThrottle.Limits().pairFreeFailures

    @Option(name: .customLong("regulate-after-address"), help: "Failed logins from one address, across users, before the first ban.")
    var regulateAfterAddress = LoginThrottle.Limits().addressFreeFailures

    @Option(name: .customLong("regulate-after-user"), help: "Failed logins of one user, across addresses, before the first ban.")
    var regulateAfterUser = LoginThrottle.Limits().userFreeFailures

    @Option(name: .customLong("regulation-first-ban"), help: "Seconds of the first ban; each further failure doubles it.")
    var regulationFirstBan = Int(LoginThrottle.Limits().firstBan)

    @Option(name: .customLong("regulation-max-ban"), help: "Longest ban, in seconds, of a user from one address and of an address.")
    var regulationMaxBan = Int(LoginThrottle.Limits().maximumDelay)

    @Option(
        name: .customLong("regulation-max-user-ban"),
        help: "Longest ban, in seconds, of a user across addresses (what a stranger could lock a real user out for).")
    var regulationMaxUserBan = Int(LoginThrottle.Limits().maximumUserDelay)

    @Option(name: .customLong("regulation-window"), help: "Seconds a failed login is remembered.")
    var regulationWindow = Int(LoginThrottle.Limits().memory)

    @Option(name: .customLong("max-connections-per-ip"), help: "Concurrent connections one address may hold; 0 for no limit.")
    var maxConnectionsPerIP = 256

    @Option(name: .customLong("connection-timeout"), help: "Seconds an idle or unfinished connection is kept open.")
    var connectionTimeout = 30

    @Option(
        name: .customLong("max-request-head"),
        help: "Largest request head (request line and headers) accepted, in KiB; larger ones are answered 431. Each connection reserves twice this.")
    var maxRequestHead = 8

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .customLong("log-format"), help: "json (one object per line), text, or auto: text on a terminal, json otherwise.")
    var logFormat = LogFormat.auto

    @Flag(name: .customLong("access-log"), inversion: .prefixedNo, help: "Log one line per request (method, path, status, decision, rule, user, latency).")
    var accessLog = true

    @Flag(inversion: .prefixedNo, help: "Reload when the policy, users or secret file changes (SIGHUP always reloads).")
    var watch = true

    @Option(
        name: .customLong("metrics-address"),
        help: "HOST:PORT of a separate listener for /metrics, /healthz and /readyz; /metrics then leaves the main listener.")
    var metricsAddress: String?

    @Option(help: "Issuer (iss) written into tokens and required of incoming ones.")
    var issuer: String?

    @Option(help: "Audience (aud) written into tokens and required of incoming ones.")
    var audience: String?

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard tokenLifetime > 0 else { throw ValidationError("--token-lifetime must be positive") }
        guard sessionIdle >= 60, sessionLifetime >= sessionIdle else {
            throw ValidationError("--session-idle must be at least 60 seconds and --session-lifetime at least --session-idle")
        }
        guard (100...60_000).contains(storeTimeout) else { throw ValidationError("--store-timeout must be 100 to 60000 (milliseconds)") }
        guard refreshTokenLifetime >= 0 else { throw ValidationError("--refresh-token-lifetime must not be negative") }
        if let refreshTokenIdle, refreshTokenIdle < 1 { throw ValidationError("--refresh-token-idle must be at least 1") }
        guard (0...Int(RefreshTokenSettings.maximumReuseGrace)).contains(refreshReuseGrace) else {
            throw ValidationError("--refresh-reuse-grace must be 0 to \(Int(RefreshTokenSettings.maximumReuseGrace)) (seconds)")
        }
        guard leeway >= 0 else { throw ValidationError("--leeway must not be negative") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let loginQueue, loginQueue < 1 { throw ValidationError("--login-queue must be at least 1") }
        guard (1...600_000).contains(loginMaxWait) else { throw ValidationError("--login-max-wait must be 1 to 600000 (milliseconds)") }
        guard (0...19).contains(loginNice) else { throw ValidationError("--login-nice must be 0 to 19") }
        for (option, value) in [
            ("--regulate-after-pair", regulateAfterPair), ("--regulate-after-address", regulateAfterAddress),
            ("--regulate-after-user", regulateAfterUser), ("--regulation-first-ban", regulationFirstBan),
            ("--regulation-max-ban", regulationMaxBan), ("--regulation-max-user-ban", regulationMaxUserBan),
            ("--regulation-window", regulationWindow),
        ] where value < 1 {
            throw ValidationError("\(option) must be at least 1")
        }
        for (option, cap) in [("--regulation-max-ban", regulationMaxBan), ("--regulation-max-user-ban", regulationMaxUserBan)]
        where regulationFirstBan > cap {
            throw ValidationError("--regulation-first-ban (\(regulationFirstBan) s) must not be longer than \(option) (\(cap) s)")
        }
        guard regulationWindow >= regulationFirstBan else {
            throw ValidationError("--regulation-window (\(regulationWindow) s) must not be shorter than --regulation-first-ban (\(regulationFirstBan) s)")
        }
        guard maxConnectionsPerIP >= 0 else { throw ValidationError("--max-connections-per-ip must not be negative") }
        guard connectionTimeout > 0 else { throw ValidationError("--connection-timeout must be positive") }
        guard (4...1024).contains(maxRequestHead) else { throw ValidationError("--max-request-head must be 4 to 1024 (KiB)") }
        if let metricsAddress, Self.hostAndPort(metricsAddress) == nil {
            throw ValidationError("--metrics-address must be HOST:PORT, such as 127.0.0.1:9090 or [::1]:9090")
        }
        if let issuer, !ScopeGateService.isValidIssuer(issuer) {
            throw ValidationError(
                "--issuer must be an absolute https:// URL without query, fragment or trailing slash (http:// only for a loopback host): ScopeGate's public base URL"
            )
        }
        if secretFile != nil && keys != nil {
            throw ValidationError("--secret-file and --keys are exclusive: list the HS256 secret in the keys file instead")
        }
        if !demo {
            let missing = [("--policy", policy), ("--users", users), ("--secret-file", secretFile ?? keys)].filter { $0.1 == nil }
                .map { $0.0 == "--secret-file" ? "--secret-file or --keys" : $0.0 }
            if !missing.isEmpty {
                throw ValidationError("missing \(missing.joined(separator: ", ")) (or use --demo to try ScopeGate with its demo configuration)")
            }
        }
    }

    func run() throws {
        let (logger, sink) = makeLogger()
        // Whatever way run ends, the lines still waiting in memory are written.
        defer { sink?.stop() }
        // Before anything else, so a termination signal that arrives as soon as the server is up is never lost.
        let termination = TerminationSignal()
        // --demo keeps its store in a folder of its own, removed at exit: every demo starts afresh.
        let demoFolder = demo && store == nil && stateDir == nil ? try Self.temporaryFolder() : nil
        defer { if let demoFolder { try? FileManager.default.removeItem(atPath: demoFolder) } }
        let storeURL = store ?? "sqlite:\(demoFolder ?? Self.stateFolder(stateDir))/scopegate.db"
        // The store is opened (and, the first time, created) only once the files load, so a start that
        // fails on a file leaves no empty store behind; with --users store the users come from it first.
        func openStore() throws -> (any StateStore, StoredUsers?) {
            let opened: any StateStore
            let storedUsers: StoredUsers?
            do {
                opened = try Self.openStore(storeURL, timeout: .milliseconds(storeTimeout))
                storedUsers = usersInStore ? try StoredUsers(store: opened) : nil
            } catch {
                throw StartupError(description: "--store \(Self.storeName(storeURL)): \(error)")
            }
            logger.info("store opened", metadata: ["store": "\(Self.storeName(storeURL))"])
            if let storedUsers, storedUsers.count == 0 {
                logger.warning("the store holds no users yet; add them with: scopegate users add NAME (or scopegate users import users.yaml)")
            }
            return (opened, storedUsers)
        }
        var files = ConfigurationFiles(
            policyPath: policy, usersPath: usersInStore ? nil : users, secretPath: secretFile, keysPath: keys, clientsPath: clients, demo: demo)
        var storeAndUsers: (any StateStore, StoredUsers?)?
        if usersInStore {
            storeAndUsers = try openStore()
            files.storedUsers = storeAndUsers?.1
        }
        let loaded: ConfigurationFiles.Loaded
        do {
            loaded = try files.load(logger: logger)
        } catch {
            throw StartupError(description: error.description)
        }
        let (opened, storedUsers) = try storeAndUsers ?? openStore()
        let configuration = try makeConfiguration(loaded, store: opened, storedUsers: storedUsers)
        if demo {
            sink?.flush()
            writeToStandardError(
                """
                ************************************************************************************
                WARNING: demo mode. The demo users (johndoe/secret, alice/secretalice) are active and tokens
                are signed with the secret published in FastAPI's tutorial: anyone can forge them.
                For trying ScopeGate out only. Never expose this instance.
                ************************************************************************************

                """)
        }
        if let problem = ScopeGateService.identityTokenProblem(configuration) { throw StartupError(description: problem) }
        var options = ScopeGateDaemon.Options()
        options.http.host = host
        options.http.port = port
        if let threads { options.http.threads = threads }
        if let loginQueue { options.http.workerQueueLimit = loginQueue }
        options.http.workerQueueWait = .milliseconds(loginMaxWait)
        options.http.workerNiceness = loginNice
        options.http.perIPConnectionLimit = maxConnectionsPerIP
        options.http.connectionTimeout = connectionTimeout
        options.http.connectionMemoryLimit = maxRequestHead * 2 * 1024
        options.operatorListener = metricsAddress.flatMap(Self.hostAndPort)
        options.watchFiles = watch
        let daemon: ScopeGateDaemon
        do {
            daemon = try ScopeGateDaemon(configuration: configuration, files: (files, loaded), options: options, logger: logger, accessLogSink: sink)
        } catch {
            throw StartupError(description: error.description)
        }
        termination.wait()
        logger.info("stopping")
        daemon.stop()
    }

    /// `--state-dir`, or the working directory.
    static func stateFolder(_ option: String?) -> String {
        if let option, !option.isEmpty { return option.hasSuffix("/") && option.count > 1 ? String(option.dropLast()) : option }
        return FileManager.default.currentDirectoryPath
    }

    /// A new folder only this user can read, for --demo's store.
    private static func temporaryFolder() throws -> String {
        var template = Array((FileManager.default.temporaryDirectory.path + "/scopegate-demo-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StartupError(description: "cannot create a temporary folder for the demo's store: \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// A `--store` URL as messages and logs show it: a PostgreSQL URL's password hidden.
    static func storeName(_ url: String) -> String {
        url.hasPrefix("sqlite:") ? url : PostgreSQLStore.redacted(url)
    }

    /// The store a `--store` URL names: `sqlite:PATH`, or `postgres://…` (a libpq URL).
    static func openStore(_ url: String, timeout: Duration = .seconds(2)) throws -> any StateStore {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") { return try PostgreSQLStore(url: url, timeout: timeout) }
        guard url.hasPrefix("sqlite:"), url.count > "sqlite:".count else {
            throw StartupError(description: "\(storeName(url)) is not a store URL; expected sqlite:PATH or postgres://…")
        }
        return try SQLiteStore(path: String(url.dropFirst("sqlite:".count)))
    }

    /// The logger, and for JSON lines the sink they are written through (a background thread writes
    /// standard error, so a slow reader of it never stalls a request).
    private func makeLogger() -> (Logger, LogSink?) {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json =
            switch logFormat {
            case .json: true
            case .text: false
            case .auto: isatty(STDERR_FILENO) == 0
            }
        let sink = json ? LogSink(dropNotice: JSONLogHandler.dropNotice) : nil
        var logger = Logger(label: "scopegate") { label -> any LogHandler in
            sink.map { JSONLogHandler(label: label, sink: $0) } ?? StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = level
        return (logger, sink)
    }

    /// Whether `--users store` keeps the users in the store.
    private var usersInStore: Bool { users == "store" }

    private func makeConfiguration(_ loaded: ConfigurationFiles.Loaded, store opened: any StateStore, storedUsers: StoredUsers?) throws -> ServiceConfiguration
    {
        let hasher: PasswordHasher
        do {
            hasher = try PasswordHasher(cost: bcryptCost)
        } catch {
            throw StartupError(description: "--bcrypt-cost: \(error)")
        }
        var trusted: [CIDRRange] = []
        for text in trustedProxies.split(separator: ",").map({ $0.trimmingWhitespace() }) where !text.isEmpty {
            guard let range = CIDRRange(text) else { throw StartupError(description: "--trusted-proxies: \"\(text)\" is not an address or CIDR range") }
            trusted.append(range)
        }
        var configuration = ServiceConfiguration(policy: loaded.policy, users: loaded.users, keyring: loaded.keyring, passwordHasher: hasher)
        configuration.keySchedule = loaded.keySchedule
        configuration.clients = loaded.clients
        do {
            configuration.revocations = try Revocations(store: opened, onStoreLoss: onStoreLoss)
        } catch {
            throw StartupError(description: "--store: \(error)")
        }
        configuration.storedUsers = storedUsers
        configuration.refreshTokens.lifetime = TimeInterval(refreshTokenLifetime)
        configuration.refreshTokens.idle = refreshTokenIdle.map(TimeInterval.init)
        configuration.refreshTokens.reuseGrace = TimeInterval(refreshReuseGrace)
        configuration.tokenLifetime = TimeInterval(tokenLifetime)
        configuration.verification = VerificationOptions(leeway: TimeInterval(leeway), issuer: issuer, audience: audience)
        configuration.challenge = challenge
        configuration.trustedProxies = trusted
        configuration.issuer = issuer
        configuration.sessions.idle = TimeInterval(sessionIdle)
        configuration.sessions.lifetime = TimeInterval(sessionLifetime)
        if let sessionDomain {
            guard let domain = try? CanonicalHost(Array(sessionDomain.utf8)), domain.port == nil, domain.name.contains("."),
                domain.name.first?.isLetter == true || domain.name.first?.isNumber == true
            else {
                throw StartupError(description: "--session-domain must be a domain name such as example.com")
            }
            if let issuer, let host = URL(string: issuer)?.host?.lowercased(), host != domain.name, !host.hasSuffix("." + domain.name) {
                throw StartupError(
                    description: "--session-domain \(domain.name) does not contain the issuer's host \(host): browsers would refuse the cookie")
            }
            configuration.sessions.domain = domain.name
        }
        if let docsAssets {
            do {
                configuration.docsAssets = try DocsAssets(folder: docsAssets)
            } catch {
                throw StartupError(description: "--docs-assets: \(error)")
            }
        }
        configuration.audience = audience
        configuration.accessLog = accessLog
        configuration.loginLimits.pairFreeFailures = regulateAfterPair
        configuration.loginLimits.addressFreeFailures = regulateAfterAddress
        configuration.loginLimits.userFreeFailures = regulateAfterUser
        configuration.loginLimits.firstBan = TimeInterval(regulationFirstBan)
        configuration.loginLimits.maximumDelay = TimeInterval(regulationMaxBan)
        configuration.loginLimits.maximumUserDelay = TimeInterval(regulationMaxUserBan)
        configuration.loginLimits.memory = TimeInterval(regulationWindow)
        configuration.metricsOnMainListener = metricsAddress == nil
        return configuration
    }

    /// `127.0.0.1:9090`, `[::1]:9090` or `localhost:9090`.
    static func hostAndPort(_ text: String) -> (String, UInt16)? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, host == "localhost" || IPAddress(host) != nil else { return nil }
        return (host, port)
    }
}

/// The formats of `--log-format`.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case auto, json, text
}
