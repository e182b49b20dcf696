public import FoundationEssentials
public import Logging
public import ScopeGateCore
public import ScopeGateHTTP
import Synchronization

/// ScopeGate's endpoints over one configuration: `POST /token`, `/auth` (forward auth), the FastAPI
/// tutorial's `/users/me/`, `/users/me/items/` and `/status/`, `/openapi.json` and `/docs`, and the operator
/// endpoints `/healthz`, `/readyz` and `/metrics`.
///
/// ```swift
/// let service = ScopeGateService(configuration: configuration, logger: logger)
/// let server = try HTTPServer(configuration: http, handler: service.handle)
/// ```
public final class ScopeGateService: Sendable {
    /// The state in force, replaced whole by a reload.
    private let state: Snapshot<ServiceState>
    let logger: Logger
    let clock: @Sendable () -> Date
    /// Failed logins, for login regulation.
    let loginAttempts: any LoginAttemptStore
    /// The grant types `/token` accepts.
    let grants: GrantRegistry
    /// How `/token` authenticates clients.
    let clientAuthentication = ClientAuthentication()
    /// Client secrets a hash accepted recently (kept across reloads; each use checks the current record).
    let clientSecrets = ClientSecretMemory()
    /// Whether this replica's keys agree with the other replicas' (through the store).
    let keyAgreement = KeyAgreement()
    /// The browser sessions `/auth` saw recently.
    let sessionCache = SessionCache()
    /// The forward-auth decision and its steps.
    let decider: ForwardAuthDecider
    /// Counters and histograms behind `GET /metrics`.
    public let metrics: ServiceMetrics
    /// Settings a reload does not change, read without the lock. Whether a request is logged is settled
    /// here once: asking the logger means copying its handler, on every request.
    private let logsAccess: Bool
    let logsDecisions: Bool
    /// Where access-log lines are written directly as JSON, bypassing the logger; nil: through the logger.
    let accessLogSink: LogSink?
    private let metricsOnMainListener: Bool
    private let readiness = Atomic<Bool>(false)
    let queueDepth = Mutex<(@Sendable () -> Int)?>(nil)

    /// Creates the service. `clock` is read for token times; tests pass a fixed one. With `accessLogSink`,
    /// access-log lines are written to it as JSON lines (the ones ``JSONLogHandler`` writes, without the
    /// logger's metadata) instead of going through `logger`: the cheap path for one line per request.
    public convenience init(
        configuration: ServiceConfiguration, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() },
        accessLogSink: LogSink? = nil
    ) {
        self.init(configuration: configuration, logger: logger, clock: clock, stages: .standard, accessLogSink: accessLogSink)
    }

    /// A service whose forward-auth checks run `stages` (tests wrap them to make a step fail) and whose
    /// token endpoint offers `grants`.
    init(
        configuration: ServiceConfiguration, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() },
        stages: ForwardAuthStages, grants: GrantRegistry = .standard, accessLogSink: LogSink? = nil
    ) {
        self.state = Snapshot(ServiceState(configuration, now: clock(), grants: grants))
        self.logger = logger
        self.clock = clock
        self.loginAttempts = LoginThrottle(limits: configuration.loginLimits, store: configuration.revocations.store, now: clock())
        self.grants = grants
        self.decider = ForwardAuthDecider(stages: stages)
        self.metrics = ServiceMetrics()
        self.logsAccess = configuration.accessLog && logger.logLevel <= .info
        self.logsDecisions = logger.logLevel <= .debug
        self.metricsOnMainListener = configuration.metricsOnMainListener
        self.accessLogSink = accessLogSink
    }

    /// The configuration in force.
    public var configuration: ServiceConfiguration { current.configuration }

    /// The state in force (a request that began just before a replacement may still see the old state whole).
    var current: ServiceState {
        let state = state.read()
        guard let changesAt = state.keysChangeAt else { return state }
        return clock() < changesAt ? state : advanceKeys()
    }

    /// Builds the state again once its key schedule's ring has changed (a key activated or retired).
    private func advanceKeys() -> ServiceState {
        state.update { state in
            guard let changesAt = state.keysChangeAt, clock() >= changesAt else { return state }
            return ServiceState(state.configuration, now: clock(), grants: grants)
        }
        return state.read()
    }

    /// Puts a newly loaded policy, users and keys in force at once: a request sees the old state or the new
    /// one, never a mix. The cache of verified tokens starts empty, so no decision rests on an old key.
    public func replace(
        policy: Policy, users: UserDirectory, clients: ClientDirectory = ClientDirectory([]), keyring: KeyRing, keySchedule: KeySchedule? = nil
    ) {
        state.update { state in
            ServiceState(
                state.configuration.replacing(policy: policy, users: users, clients: clients, keyring: keyring, keySchedule: keySchedule),
                now: clock(), grants: grants)
        }
    }

    /// Puts the latest copy of the users kept in the store in force (after a change decisions see), the
    /// rest of the configuration as it is.
    func usersChanged() {
        let configuration = current.configuration
        replace(
            policy: configuration.policy, users: configuration.users, clients: configuration.clients, keyring: configuration.keyring,
            keySchedule: configuration.keySchedule)
    }

    /// Why the service could not mint the identity tokens `policy` asks for with these keys (and the
    /// configured issuer); nil when it can or need not.
    public func identityTokenProblem(policy: Policy, keyring: KeyRing, keySchedule: KeySchedule?) -> String? {
        let configuration = current.configuration
        return IdentityTokens.problem(
            configuration.replacing(
                policy: policy, users: configuration.users, clients: configuration.clients, keyring: keyring, keySchedule: keySchedule),
            keyring: keyring,
            now: clock())
    }

    /// Warnings about `schedule` (the keys file at `file`) at this moment, for this service's token lifetime
    /// and leeway; `previous` is the schedule it replaces on a reload.
    public func keyScheduleWarnings(_ schedule: KeySchedule, file: String, replacing previous: KeySchedule?) -> [Diagnostic] {
        let configuration = current.configuration
        return KeyScheduleLinter.warnings(
            for: schedule, file: file, at: clock(), tokenLifetime: configuration.tokenLifetime, leeway: configuration.verification.leeway,
            previous: previous)
    }

    /// What the watch of the store does on each turn besides reading revocations (about once a second):
    /// other replicas' login failures read, and this replica's keys compared with theirs. May block.
    func storeTurn(now: Date) {
        (loginAttempts as? LoginThrottle)?.catchUp(now: now)
        let state = current
        guard let store = state.configuration.revocations.store else { return }
        let keys = state.configuration.keySchedule?.keys.map(\.key) ?? state.keyring.keys
        keyAgreement.check(keys, store: store, now: now, logger: logger, metrics: metrics)
    }

    /// Whether `/readyz` answers 200: set once the service accepts requests, cleared when it starts stopping.
    public var isReady: Bool {
        get { readiness.load(ordering: .acquiring) }
        set { readiness.store(newValue, ordering: .releasing) }
    }

    /// Where `scopegate_login_queue_depth` is read from when `/metrics` is scraped (the server's pending work).
    public func setQueueDepthSource(_ source: @escaping @Sendable () -> Int) {
        queueDepth.withLock { $0 = source }
    }

    /// Answers one request. Runs on the server's polling threads; password checks are deferred.
    public func handle(_ request: HTTPRequest) -> HTTPHandlerResult {
        guard logsAccess else {
            var none: RequestRecord?
            return route(request, record: &none)
        }
        let start = ContinuousClock.now
        var record: RequestRecord? = RequestRecord(request)
        switch route(request, record: &record) {
        case .respond(let response):
            logRequest(record!, status: response.status, since: start)
            return .respond(response)
        case .deferred(let overloaded, let work):
            let (logOverloaded, logWork) = logging(overloaded, work, record: record!, since: start)
            return .deferred(overloaded: logOverloaded, work: logWork)
        case .waiting(let overloaded, let work):
            let (logOverloaded, logWork) = logging(overloaded, work, record: record!, since: start)
            return .waiting(overloaded: logOverloaded, work: logWork)
        }
    }

    /// Deferred work and its overloaded answer, each logging the request when it answers.
    private func logging(
        _ overloaded: @escaping @Sendable (OverloadReason) -> HTTPResponse, _ work: @escaping @Sendable () -> HTTPResponse, record: RequestRecord,
        since start: ContinuousClock.Instant
    ) -> (@Sendable (OverloadReason) -> HTTPResponse, @Sendable () -> HTTPResponse) {
        (
            { [self] reason in
                let response = overloaded(reason)
                logRequest(record, status: response.status, since: start)
                return response
            },
            { [self] in
                let response = work()
                logRequest(record, status: response.status, since: start)
                return response
            }
        )
    }

    private func route(_ request: HTTPRequest, record: inout RequestRecord?) -> HTTPHandlerResult {
        let path = request.path
        if path == Self.authPath || path.starts(with: Self.authPrefix) {
            return forwardAuthWithSession(request, record: &record)
        }
        switch request.pathText {
        case "/token":
            guard request.method == "POST" else { return .respond(FastAPIResponses.methodNotAllowed(allow: "POST")) }
            return issueToken(request)
        case "/revoke":
            guard request.method == "POST" else { return .respond(FastAPIResponses.methodNotAllowed(allow: "POST")) }
            return revokeToken(request)
        case "/introspect":
            guard request.method == "POST" else { return .respond(FastAPIResponses.methodNotAllowed(allow: "POST")) }
            return introspect(request)
        case "/logout":
            guard request.method == "POST" else { return .respond(FastAPIResponses.methodNotAllowed(allow: "POST")) }
            return logOut(request)
        case "/authorize":
            return authorize(request)
        case "/signin":
            return signInEndpoint(request)
        case "/signout":
            return signOutEndpoint(request)
        case "/consents":
            return consentsEndpoint(request)
        case "/static/scopegate.css":
            return refusedUnlessRead(request) ?? .respond(HTMLPage.stylesheet)
        case "/users/me/", "/users/me/items/", "/status/":
            guard request.method == "GET" else { return .respond(FastAPIResponses.methodNotAllowed(allow: "GET")) }
            return .respond(demoEndpoint(request))
        case "/healthz", "/readyz":
            return operatorEndpoint(request) ?? .respond(FastAPIResponses.notFound)
        case "/metrics":
            guard metricsOnMainListener else { return .respond(FastAPIResponses.notFound) }
            return operatorEndpoint(request) ?? .respond(FastAPIResponses.notFound)
        case "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration":
            // Documented paths: other methods are refused even when no issuer is configured (404 then).
            return refusedUnlessRead(request) ?? .respond(current.metadata.answers[request.pathText] ?? FastAPIResponses.notFound)
        case "/.well-known/jwks.json":
            return refusedUnlessRead(request) ?? .respond(current.jwks.response(to: request))
        case "/openapi.json":
            return refusedUnlessRead(request) ?? .respond(.json(200, current.openAPI))
        case "/docs":
            let local = current.configuration.docsAssets != nil
            return refusedUnlessRead(request)
                ?? .respond(
                    HTTPResponse(
                        status: 200, headers: [("Content-Type", "text/html; charset=utf-8")],
                        body: Array(OpenAPIDocument.swaggerUIPage(assets: local ? "/docs/assets" : OpenAPIDocument.swaggerUICDN).utf8)))
        case "/docs/reference":
            return refusedUnlessRead(request) ?? .respond(current.reference)
        default:
            if request.pathText.hasPrefix("/docs/assets/"), let answer = current.configuration.docsAssets?.answer(request.pathText) {
                return refusedUnlessRead(request) ?? .respond(answer)
            }
            if let metadata = current.metadata.answers[request.pathText] {
                return refusedUnlessRead(request) ?? .respond(metadata)
            }
            return .respond(redirectForSlash(request) ?? FastAPIResponses.notFound)
        }
    }

    /// 405 for anything but GET and HEAD on the read-only endpoints; nil when the method is one of them.
    func refusedUnlessRead(_ request: HTTPRequest) -> HTTPHandlerResult? {
        request.method == "GET" || request.method == "HEAD" ? nil : .respond(FastAPIResponses.methodNotAllowed(allow: "GET"))
    }

    private static let authPath = Array("/auth".utf8)
    /// The paths of the requests that come all the time, for the server to share rather than copy.
    public static let commonPaths = ["/auth", "/healthz", "/readyz", "/metrics"]
    private static let authPrefix = Array("/auth/".utf8)
    private static let slashRoutes: [String: String] = [
        "/users/me": "/users/me/", "/users/me/items": "/users/me/items/", "/status": "/status/", "/token/": "/token",
    ]

    /// FastAPI (Starlette) redirects a route written with the other trailing-slash form: 307 to the route.
    private func redirectForSlash(_ request: HTTPRequest) -> HTTPResponse? {
        guard let target = Self.slashRoutes[request.pathText] else { return nil }
        var location = target
        if let host = request.headers["Host"], !host.isEmpty,
            host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\\") && $0 != UInt8(ascii: "@") })
        {
            location = "http://\(host)\(target)"
        }
        return HTTPResponse(status: 307, headers: [("Location", location)])
    }
}
