public import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore

/// How long a browser stays signed in (`--session-idle`, `--session-lifetime`).
public struct SessionSettings: Sendable {
    /// Seconds a session may go unused before it ends.
    public var idle: TimeInterval = 3600
    /// Seconds after sign-in when it ends whatever happens.
    public var lifetime: TimeInterval = 43_200
    /// The cookie's `Domain` (`--session-domain example.com`): one sign-in for every host below it, when
    /// ScopeGate's pages live on a host of their own; nil: the cookie is the pages' host's alone.
    public var domain: String?

    public init() {}
}

extension ScopeGateService {
    /// The session cookie's name: `__Host-` (Secure, the whole host) behind https.
    /// `__Secure-` when it names a `Domain` (which `__Host-` forbids).
    func sessionCookieName(_ configuration: ServiceConfiguration) -> String {
        guard Self.securePages(configuration) else { return "scopegate-session" }
        return configuration.sessions.domain == nil ? "__Host-scopegate-session" : "__Secure-scopegate-session"
    }

    /// The cookie's attributes after its value: the path, the domain when there is one, and the flags.
    private func sessionCookieAttributes(_ configuration: ServiceConfiguration, maxAge: Int) -> String {
        let domain = configuration.sessions.domain.map { "; Domain=\($0)" } ?? ""
        return "Path=/\(domain); Max-Age=\(maxAge); HttpOnly; SameSite=Lax\(Self.securePages(configuration) ? "; Secure" : "")"
    }

    /// Whether the request carries a session cookie at all (looking it up needs the store).
    func hasSessionCookie(_ request: HTTPRequest, configuration: ServiceConfiguration) -> Bool {
        Self.cookie(named: sessionCookieName(configuration), in: request) != nil
    }

    /// The signed-in user of the request's session: the session in force in the store, its user present
    /// and enabled. Touches the session (its idle time starts again) at most once a minute. May block:
    /// call it from a worker.
    func signedInUser(_ request: HTTPRequest, state: ServiceState) -> UserRecord? {
        let configuration = state.configuration
        guard let value = Self.cookie(named: sessionCookieName(configuration), in: request), let store = configuration.revocations.store else {
            return nil
        }
        let now = clock()
        let hash = AuthorizationCodes.hash(value)
        guard let session = try? store.session(hash: hash, at: now) else {
            sessionCache.forget(hash)
            return nil
        }
        sessionCache.remember(hash, subject: session.subject, createdAt: session.createdAt, now: now)
        if now.timeIntervalSince(session.lastSeen) >= 60 { try? store.touchSession(hash: hash, at: now) }
        return Self.sessionUser(session.subject, createdAt: session.createdAt, configuration: configuration)
    }

    /// The user a session in force belongs to, when the user is still there, enabled and not revoked
    /// since signing in.
    static func sessionUser(_ subject: String, createdAt: Date, configuration: ServiceConfiguration) -> UserRecord? {
        guard let user = configuration.users[subject], !user.isDisabled,
            !configuration.revocations.revokedLogin(kind: .user, subject: user.username, at: createdAt)
        else { return nil }
        return user
    }

    /// `/auth` under a policy with browser rules, for a request that carries a session cookie and no
    /// token: decided at once when the session was seen recently, else after reading it on a waiting
    /// worker (never on the polling thread; while the store is lost, not at all).
    func forwardAuthWithSession(_ request: HTTPRequest, record: inout RequestRecord?) -> HTTPHandlerResult {
        let state = current
        let configuration = state.configuration
        guard state.hasBrowserRules, request.headers["Authorization"] == nil,
            let value = Self.cookie(named: sessionCookieName(configuration), in: request)
        else { return .respond(forwardAuth(request, record: &record)) }
        let now = clock()
        let hash = AuthorizationCodes.hash(value)
        if let cached = sessionCache.lookup(hash, now: now) {
            return .respond(
                forwardAuth(request, record: &record, session: Self.sessionUser(cached.subject, createdAt: cached.createdAt, configuration: configuration)))
        }
        guard configuration.revocations.health.isUp else { return .respond(forwardAuth(request, record: &record)) }
        return .waiting(
            overloaded: { _ in FastAPIResponses.detail(503, "Too busy", headers: [("Retry-After", "1")]) },
            work: { [self] in
                var none: RequestRecord?
                return forwardAuth(request, record: &none, session: signedInUser(request, state: state))
            })
    }

    /// Where `/auth` sends a browser to sign in, and how: Traefik and Caddy pass a 302 with `Location` to
    /// the browser; nginx passes only 401 and 403, so its answer stays 401 and carries the address in
    /// `X-Auth-Signin` for the recipe's `error_page`. `rd` is the original request: an absolute URL when
    /// ScopeGate has an issuer (its pages may be on another host), else the path.
    static func signInAnswer(_ answer: HTTPResponse, request: HTTPRequest, configuration: ServiceConfiguration) -> HTTPResponse {
        let traefikOrCaddy = request.headers["X-Forwarded-Uri"] != nil
        let uri = (request.headers["X-Forwarded-Uri"] ?? request.headers["X-Original-URI"] ?? "/").trimmingWhitespace()
        var rd = uri.hasPrefix("/") ? uri : "/"
        if let issuer = configuration.issuer {
            let host = (request.headers["X-Forwarded-Host"] ?? request.headers["Host"] ?? "").trimmingWhitespace()
            let scheme = (request.headers["X-Forwarded-Proto"] ?? "https").trimmingWhitespace().lowercased() == "http" ? "http" : "https"
            if !host.isEmpty { rd = "\(scheme)://\(host)\(rd)" }
            rd = issuer + "/signin?rd=" + formEncode(rd)
        } else {
            rd = "/signin?rd=" + formEncode(rd)
        }
        if traefikOrCaddy {
            return HTTPResponse(status: 302, headers: [("Location", rd), ("Cache-Control", "no-store")])
        }
        return HTTPResponse(status: answer.status, headers: answer.headers + [("X-Auth-Signin", rd)], body: answer.body)
    }

    /// Starts a session for `user` (a new cookie value, so a session fixed before sign-in is never
    /// reused): the `Set-Cookie` field, or nil when the store cannot keep it (the sign-in then holds for
    /// this request only).
    func startSession(for user: UserRecord, state: ServiceState) -> (String, String)? {
        let configuration = state.configuration
        guard let store = configuration.revocations.store, let bytes = try? SecureRandom.bytes(32) else { return nil }
        let value = Base64URL.encode(bytes)
        let now = clock()
        let settings = configuration.sessions
        do {
            try store.createSession(
                BrowserSession(
                    hash: AuthorizationCodes.hash(value), subject: user.username, createdAt: now, lastSeen: now, endsAt: now + settings.lifetime,
                    idleLimit: settings.idle))
        } catch {
            logger.warning("cannot keep a browser session", metadata: ["error": "\(error)"])
            return nil
        }
        logger.info("signed in", metadata: ["auth.subject": "\(user.username)"])
        return ("Set-Cookie", "\(sessionCookieName(configuration))=\(value); \(sessionCookieAttributes(configuration, maxAge: Int(settings.lifetime)))")
    }

    // MARK: - /signin

    /// `GET /signin?rd=…` shows the sign-in form (or, when signed in already, sends the browser on);
    /// `POST /signin` checks the credentials on a worker with `/token`'s regulation, starts a session and
    /// sends the browser to `rd` when it is safe (``ReturnAddress``), else to `/signin`.
    func signInEndpoint(_ request: HTTPRequest) -> HTTPHandlerResult {
        let state = current
        let configuration = state.configuration
        switch request.method {
        case "GET", "HEAD":
            let query = (try? request.queryFields()) ?? []
            let rd = query.first { $0.name == "rd" }?.value
            let target = rd.flatMap {
                ReturnAddress.check($0, policy: configuration.policy, ownHost: request.headers["Host"], domain: configuration.sessions.domain)
            }
            if rd != nil, target == nil {
                return .respond(
                    HTMLPage.error(status: 400, title: "Sign-in refused", message: "The address to return to is not one ScopeGate sends browsers to."))
            }
            let csrf = csrfCookie(for: request, configuration: configuration)
            guard hasSessionCookie(request, configuration: configuration) else {
                return .respond(signInForm(rd: target, csrf: csrf, message: nil, username: nil, status: 200))
            }
            return .waiting(
                overloaded: { _ in HTMLPage.error(status: 503, title: "Too busy", message: "Try again in a moment.") },
                work: { [self] in
                    guard let user = signedInUser(request, state: state) else {
                        return signInForm(rd: target, csrf: csrf, message: nil, username: nil, status: 200)
                    }
                    if let target { return Self.seeOther(target) }
                    return signedInPage(user, csrf: csrf)
                })
        case "POST":
            let fields = (try? FormParser.fields(body: request.body, contentType: request.headers["Content-Type"])) ?? []
            let posted = Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
            guard sameSite(request, configuration: configuration), let cookie = csrfMatch(request, fields: fields) else {
                return .respond(HTMLPage.error(status: 403, title: "Sign-in refused", message: "The form was not sent from ScopeGate's own page: start again."))
            }
            let rd = posted["rd"].flatMap {
                ReturnAddress.check($0, policy: configuration.policy, ownHost: request.headers["Host"], domain: configuration.sessions.domain)
            }
            let csrf = (cookie, csrfCookie(for: request, configuration: configuration).header)
            let username = posted["username"] ?? ""
            let password = posted["password"] ?? ""
            guard !username.isEmpty, !password.isEmpty else {
                return .respond(signInForm(rd: rd, csrf: csrf, message: "Enter your username and password.", username: username, status: 400))
            }
            let address = clientAddress(of: request, trusting: configuration.trustedProxies)
            return .deferred(
                overloaded: signInsOverloaded,
                work: { [self] in
                    let user: UserRecord
                    switch pageSignIn(username: username, password: password, address: address, client: nil, state: state) {
                    case .refused(let status, let message): return signInForm(rd: rd, csrf: csrf, message: message, username: username, status: status)
                    case .signedIn(let signedIn): user = signedIn
                    }
                    guard let session = startSession(for: user, state: state) else {
                        return HTMLPage.error(
                            status: 503, title: "Sign-in unavailable", message: "ScopeGate cannot keep sessions right now: try again in a moment.")
                    }
                    return HTTPResponse(status: 303, headers: [("Location", rd ?? "/signin"), ("Cache-Control", "no-store"), session])
                })
        default:
            return .respond(FastAPIResponses.methodNotAllowed(allow: "GET, POST"))
        }
    }

    /// `GET /signout` shows the sign-out form; `POST /signout` (from it) ends the session everywhere
    /// (the store's copy, which every replica shares) and clears the cookie.
    func signOutEndpoint(_ request: HTTPRequest) -> HTTPHandlerResult {
        let state = current
        let configuration = state.configuration
        switch request.method {
        case "GET", "HEAD":
            let csrf = csrfCookie(for: request, configuration: configuration)
            return .respond(
                HTMLPage.response(
                    status: 200, title: "Sign out",
                    body: "<h1>Sign out of ScopeGate?</h1>\n" + Self.signOutForm(csrf: csrf.token, primary: true), headers: [csrf.header]))
        case "POST":
            let fields = (try? FormParser.fields(body: request.body, contentType: request.headers["Content-Type"])) ?? []
            guard sameSite(request, configuration: configuration), csrfMatch(request, fields: fields) != nil else {
                return .respond(HTMLPage.error(status: 403, title: "Sign-out refused", message: "The form was not sent from ScopeGate's own page."))
            }
            let value = Self.cookie(named: sessionCookieName(configuration), in: request)
            return .waiting(
                overloaded: { _ in HTMLPage.error(status: 503, title: "Too busy", message: "Try again in a moment.") },
                work: { [self] in
                    if let value, let store = configuration.revocations.store {
                        do {
                            sessionCache.forget(AuthorizationCodes.hash(value))
                            if try store.endSession(hash: AuthorizationCodes.hash(value)) { logger.info("signed out") }
                        } catch {
                            return HTMLPage.error(
                                status: 503, title: "Sign-out unavailable", message: "ScopeGate cannot end the session right now: try again in a moment.")
                        }
                    }
                    return HTMLPage.response(
                        status: 200, title: "Signed out",
                        body: "<h1>Signed out</h1>\n<p>You are signed out of ScopeGate.</p>\n<p><a href=\"/signin\">Sign in again</a></p>",
                        headers: [("Set-Cookie", "\(sessionCookieName(configuration))=; \(sessionCookieAttributes(configuration, maxAge: 0))")])
                })
        default:
            return .respond(FastAPIResponses.methodNotAllowed(allow: "GET, POST"))
        }
    }

    // MARK: - /consents

    /// `GET /consents`: the signed-in user's remembered consents, each with a Withdraw button; `POST
    /// /consents` (from that page) withdraws one. Without a session, the browser is sent to sign in.
    func consentsEndpoint(_ request: HTTPRequest) -> HTTPHandlerResult {
        let state = current
        let configuration = state.configuration
        guard request.method == "GET" || request.method == "HEAD" || request.method == "POST" else {
            return .respond(FastAPIResponses.methodNotAllowed(allow: "GET, POST"))
        }
        let csrf = csrfCookie(for: request, configuration: configuration)
        var withdraw: String?
        if request.method == "POST" {
            let fields = (try? FormParser.fields(body: request.body, contentType: request.headers["Content-Type"])) ?? []
            guard sameSite(request, configuration: configuration), csrfMatch(request, fields: fields) != nil,
                let client = fields.first(where: { $0.name == "client_id" })?.value
            else {
                return .respond(HTMLPage.error(status: 403, title: "Refused", message: "The form was not sent from ScopeGate's own page."))
            }
            withdraw = client
        }
        guard hasSessionCookie(request, configuration: configuration) else { return .respond(Self.seeOther("/signin?rd=%2Fconsents")) }
        let withdrawing = withdraw
        return .waiting(
            overloaded: { _ in HTMLPage.error(status: 503, title: "Too busy", message: "Try again in a moment.") },
            work: { [self] in
                guard let user = signedInUser(request, state: state), let store = configuration.revocations.store else {
                    return Self.seeOther("/signin?rd=%2Fconsents")
                }
                do {
                    if let withdraw = withdrawing {
                        try store.withdrawConsents(of: user.username, clientID: withdraw)
                        logger.info("consent withdrawn", metadata: ["auth.subject": "\(user.username)", "auth.client": "\(withdraw.prefix(128))"])
                        return Self.seeOther("/consents")
                    }
                    let consents = try store.consents(of: user.username)
                    var body = "<h1>Applications you let in</h1>\n"
                    if consents.isEmpty {
                        body += "<p>You have not asked ScopeGate to remember any consent.</p>\n"
                    }
                    for consent in consents {
                        body += """
                            <form method="post" action="/consents">
                            <fieldset><legend>\(HTMLPage.escape(consent.clientID))</legend>
                            <p>\(consent.scopes.map { "<code>\(HTMLPage.escape($0))</code>" }.joined(separator: " "))</p>
                            <input type="hidden" name="csrf" value="\(HTMLPage.escape(csrf.token))">
                            <input type="hidden" name="client_id" value="\(HTMLPage.escape(consent.clientID))">
                            <button type="submit" class="secondary">Withdraw</button>
                            </fieldset>
                            </form>

                            """
                    }
                    body += "<p>Signed in as <strong>\(HTMLPage.escape(user.username))</strong>.</p>\n" + Self.signOutForm(csrf: csrf.token, primary: false)
                    return HTMLPage.response(status: 200, title: "Your consents", body: body, headers: [csrf.header])
                } catch {
                    return HTMLPage.error(status: 503, title: "Unavailable", message: "ScopeGate cannot read consents right now: try again in a moment.")
                }
            })
    }

    /// What checking a person's credentials on a page found.
    enum PageSignIn {
        case signedIn(UserRecord)
        /// Show the form again with this message and status.
        case refused(status: Int, message: String)
    }

    /// On a hashing worker: `/token`'s regulation, the password (the same work and answer for an unknown
    /// user), an enabled user, and the hash upgraded when it is weaker than preferred.
    func pageSignIn(username: String, password: String, address: IPAddress?, client: ClientRecord?, state: ServiceState) -> PageSignIn {
        if let wait = loginAttempts.retryAfter(username: username, address: address, now: clock()) {
            let seconds = Int(wait.rounded(.up))
            metrics.recordLoginThrottled()
            return .refused(status: 429, message: "Too many failed sign-ins: try again in \(seconds) \(seconds == 1 ? "second" : "seconds").")
        }
        let context = GrantContext(state: state, client: client, now: clock(), metrics: metrics, logger: logger)
        guard let user = PasswordGrant.verifiedUser(username: username, password: password, context: context) else {
            loginAttempts.recordFailure(username: username, address: address, now: clock())
            return .refused(status: 400, message: "Incorrect username or password.")
        }
        loginAttempts.recordSuccess(username: username, address: address)
        guard !user.isDisabled else { return .refused(status: 403, message: "This account is disabled.") }
        state.configuration.passwordUpgrades.afterLogin(user, password: password, context: context)
        return .signedIn(user)
    }

    /// The answer to a page's sign-in the hashing workers cannot take now.
    var signInsOverloaded: @Sendable (OverloadReason) -> HTTPResponse {
        { [metrics] reason in
            metrics.recordLoginOverloaded(reason)
            return HTMLPage.error(status: 503, title: "Too busy", message: "Too many sign-ins in progress: try again in a moment.")
        }
    }

    // MARK: - Pages

    private func signInForm(rd: String?, csrf: (token: String, header: (String, String)), message: String?, username: String?, status: Int) -> HTTPResponse {
        var body = "<h1>Sign in</h1>\n"
        if let message { body += "<p class=\"error\" role=\"alert\">\(HTMLPage.escape(message))</p>\n" }
        body += "<form method=\"post\" action=\"/signin\">\n<input type=\"hidden\" name=\"csrf\" value=\"\(HTMLPage.escape(csrf.token))\">\n"
        if let rd { body += "<input type=\"hidden\" name=\"rd\" value=\"\(HTMLPage.escape(rd))\">\n" }
        body += HTMLPage.credentialFields(username: username)
        body += """
            <div class="actions"><button type="submit" class="primary">Sign in</button></div>
            </form>
            """
        let targets = rd.flatMap { Self.origin(of: $0) }.map { [$0] } ?? []
        return HTMLPage.response(status: status, title: "Sign in", body: body, formTargets: targets, headers: [csrf.header])
    }

    private func signedInPage(_ user: UserRecord, csrf: (token: String, header: (String, String))) -> HTTPResponse {
        HTMLPage.response(
            status: 200, title: "Signed in",
            body: "<h1>Signed in</h1>\n<p>You are signed in as <strong>\(HTMLPage.escape(user.username))</strong>.</p>\n"
                + Self.signOutForm(csrf: csrf.token, primary: false),
            headers: [csrf.header])
    }

    static func signOutForm(csrf: String, primary: Bool) -> String {
        """
        <form method="post" action="/signout">
        <input type="hidden" name="csrf" value="\(HTMLPage.escape(csrf))">
        <div class="actions"><button type="submit" class="\(primary ? "primary" : "secondary")">Sign out</button></div>
        </form>
        """
    }

    static func seeOther(_ location: String) -> HTTPResponse {
        HTTPResponse(status: 303, headers: [("Location", location), ("Cache-Control", "no-store")])
    }
}
