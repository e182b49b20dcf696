public import Foundation
public import Logging
import ScopeGateCore
public import ScopeGateHTTP
import Synchronization

/// ScopeGate's endpoints over one configuration: `POST /token`, `/auth` (forward auth), the FastAPI
/// tutorial's `/users/me/`, `/users/me/items/` and `/status/`, and `/healthz`.
///
/// ```swift
/// let service = ScopeGateService(configuration: configuration, logger: logger)
/// let server = try HTTPServer(configuration: http, handler: service.handle)
/// ```
public final class ScopeGateService: Sendable {
    /// The state every request sees one consistent copy of.
    struct State: Sendable {
        let configuration: ServiceConfiguration
        let verifier: TokenVerifier
        let signer: TokenSigner
        let tokenCache: VerifiedTokenCache
    }

    private let state: Mutex<State>
    let logger: Logger
    let clock: @Sendable () -> Date
    let throttle: LoginThrottle
    /// Failures tests inject into the forward-auth pipeline; nil in service.
    let faults: FaultInjection?

    /// Creates the service. `clock` is read for token times; tests pass a fixed one.
    public convenience init(configuration: ServiceConfiguration, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.init(configuration: configuration, logger: logger, clock: clock, faults: nil)
    }

    /// A service whose forward-auth pipeline may fail where `faults` says, to prove every failure is a refusal.
    init(configuration: ServiceConfiguration, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }, faults: FaultInjection?) {
        self.state = Mutex(Self.makeState(configuration))
        self.logger = logger
        self.clock = clock
        self.throttle = LoginThrottle(limits: configuration.loginLimits)
        self.faults = faults
    }

    /// The configuration in force.
    public var configuration: ServiceConfiguration { current.configuration }

    var current: State { state.withLock { $0 } }

    private static func makeState(_ configuration: ServiceConfiguration) -> State {
        State(configuration: configuration,
              verifier: TokenVerifier(keyring: configuration.keyring, options: configuration.verification),
              signer: TokenSigner(key: configuration.keyring.signingKey),
              tokenCache: VerifiedTokenCache(leeway: configuration.verification.leeway))
    }

    /// Answers one request. Runs on the server's polling threads; password checks are deferred.
    public func handle(_ request: HTTPRequest) -> HTTPHandlerResult {
        let path = request.path
        if path == Self.authPath || path.starts(with: Self.authPrefix) {
            return .respond(forwardAuth(request))
        }
        switch request.pathText {
        case "/token":
            guard request.method == "POST" else { return .respond(Responses.methodNotAllowed(allow: "POST")) }
            return issueToken(request)
        case "/users/me/", "/users/me/items/", "/status/":
            guard request.method == "GET" else { return .respond(Responses.methodNotAllowed(allow: "GET")) }
            return .respond(demoEndpoint(request))
        case "/healthz":
            return .respond(.json(200, Array(#"{"status":"ok"}"#.utf8)))
        default:
            return .respond(redirectForSlash(request) ?? Responses.notFound)
        }
    }

    /// The address a request comes from: the peer, or, when the peer is a trusted proxy, the nearest
    /// untrusted address in `X-Forwarded-For` (read from the right, as only trusted proxies appended to it).
    func clientAddress(of request: HTTPRequest, trusting trusted: [CIDRRange]) -> IPAddress? {
        guard let peer = request.clientAddress else { return nil }
        let isTrusted = { (address: IPAddress) in trusted.contains { $0.contains(address) } }
        guard isTrusted(peer) else { return peer }
        let hops = request.headers.rawValues("X-Forwarded-For")
            .flatMap { String(decoding: $0, as: UTF8.self).split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard let address = IPAddress(hop) else { return peer }
            if !isTrusted(address) { return address }
        }
        return peer
    }

    private static let authPath = Array("/auth".utf8)
    private static let authPrefix = Array("/auth/".utf8)
    private static let slashRoutes: [String: String] = [
        "/users/me": "/users/me/", "/users/me/items": "/users/me/items/", "/status": "/status/", "/token/": "/token",
    ]

    /// FastAPI (Starlette) redirects a route written with the other trailing-slash form: 307 to the route.
    private func redirectForSlash(_ request: HTTPRequest) -> HTTPResponse? {
        guard let target = Self.slashRoutes[request.pathText] else { return nil }
        var location = target
        if let host = request.headers["Host"], !host.isEmpty,
           host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\\") && $0 != UInt8(ascii: "@") }) {
            location = "http://\(host)\(target)"
        }
        return HTTPResponse(status: 307, headers: [("Location", location)])
    }
}
