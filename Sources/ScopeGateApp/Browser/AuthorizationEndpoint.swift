import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore

/// An authorization request (RFC 6749 §4.1.1 with PKCE, RFC 7636 §4.3), checked: the client, where to
/// send the user back, the scopes it may ask for, and the challenge its code will be bound to.
struct AuthorizationRequest: Sendable {
    let client: ClientRecord
    /// The redirect URI the user is sent back to.
    let redirect: String
    /// The `redirect_uri` parameter as given ("" when the client's only one was meant): the token
    /// request must name the same.
    let redirectParameter: String
    /// The scopes asked for that the client may have, in the order asked.
    let scopes: [String]
    let state: String?
    let challenge: String

    /// The fields a form carries to send the request again (`POST /authorize`).
    var fields: [(String, String)] {
        var fields = [("response_type", "code"), ("client_id", client.id), ("scope", scopes.joined(separator: " "))]
        if !redirectParameter.isEmpty { fields.append(("redirect_uri", redirectParameter)) }
        if let state { fields.append(("state", state)) }
        fields += [("code_challenge", challenge), ("code_challenge_method", "S256")]
        return fields
    }
}

/// What checking an authorization request found.
enum AuthorizationCheck: Sendable {
    case valid(AuthorizationRequest)
    /// The client or the redirect URI cannot be trusted: an error page, never a redirect (no open redirect).
    case page(HTTPResponse)
    /// Any other error, sent back to the client at its redirect URI (RFC 6749 §4.1.2.1).
    case redirect(HTTPResponse)
}

extension ScopeGateService {
    /// The parameters of an authorization request, and the page's own.
    static let authorizationParameters: Set<String> = [
        "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method",
    ]

    /// `GET /authorize` shows the sign-in and consent page for a valid request; `POST /authorize` is that
    /// page's form: the user's choice (Allow with the ticked scopes, or Deny) and credentials.
    func authorize(_ request: HTTPRequest) -> HTTPHandlerResult {
        let state = current
        switch request.method {
        case "GET", "HEAD":
            let fields: [(name: String, value: String)]
            do {
                fields = try request.queryFields()
            } catch {
                return .respond(HTMLPage.error(status: 400, title: "Sign-in request refused", message: "The request's query is not valid: \(error)."))
            }
            switch checkAuthorization(fields, state: state, status: 302) {
            case .page(let response), .redirect(let response): return .respond(response)
            case .valid(let authorization):
                let csrf = csrfToken(in: request) ?? Base64URL.encode((try? SecureRandom.bytes(32)) ?? [])
                guard hasSessionCookie(request, configuration: state.configuration) else {
                    return .respond(signInPage(authorization, csrf: csrf, state: state, status: 200, message: nil))
                }
                // Signed in already: the consent page alone (the session is read on a waiting worker).
                return .waiting(
                    overloaded: { _ in HTMLPage.error(status: 503, title: "Too busy", message: "Try again in a moment.") },
                    work: { [self] in
                        let user = signedInUser(request, state: state)
                        if let user, rememberedConsentCovers(authorization, user: user, state: state) {
                            // Consented before, and asked to be remembered: straight back to the application.
                            return issueCode(authorization, for: user, ticked: Set(authorization.scopes), state: state, status: 302)
                        }
                        return signInPage(authorization, csrf: csrf, state: state, status: 200, message: nil, signedIn: user)
                    })
            }
        case "POST":
            return authorizeDecision(request, state: state)
        default:
            return .respond(FastAPIResponses.methodNotAllowed(allow: "GET, POST"))
        }
    }

    /// Checks an authorization request's parameters in RFC 6749 §4.1.2.1's order: client and redirect URI
    /// first (their errors stay on ScopeGate), then the rest (sent back to the client, with `state`).
    func checkAuthorization(_ fields: [(name: String, value: String)], state: ServiceState, status: Int) -> AuthorizationCheck {
        var values: [String: String] = [:]
        var repeated: [String] = []
        for (name, value) in fields where Self.authorizationParameters.contains(name) {
            if values.updateValue(value, forKey: name) != nil, !repeated.contains(name) { repeated.append(name) }
        }
        let configuration = state.configuration
        guard let clientID = values["client_id"] else {
            return .page(HTMLPage.error(status: 400, title: "Sign-in request refused", message: "The request names no application (client_id)."))
        }
        guard let client = configuration.clients[clientID], !client.disabled, client.grantTypes.contains(.authorizationCode) else {
            return .page(
                HTMLPage.error(
                    status: 400, title: "Sign-in request refused",
                    message: "The application \(clientID.prefix(128)) is not one that may ask for sign-in here."))
        }
        if let twice = repeated.first(where: { $0 == "client_id" || $0 == "redirect_uri" }) {
            return .page(HTMLPage.error(status: 400, title: "Sign-in request refused", message: "The request names its \(twice) twice."))
        }
        let redirect: String
        let parameter = values["redirect_uri"] ?? ""
        if parameter.isEmpty {
            guard client.redirectURIs.count == 1, let only = client.redirectURIs.first, values["redirect_uri"] == nil else {
                return .page(
                    HTMLPage.error(
                        status: 400, title: "Sign-in request refused",
                        message: "The request must say where to return (redirect_uri): the application has several addresses."))
            }
            redirect = only
        } else {
            guard let registered = client.registeredRedirect(parameter) else {
                return .page(
                    HTMLPage.error(
                        status: 400, title: "Sign-in request refused",
                        message: "The address to return to is not one registered for \(client.id): no redirect is made to it."))
            }
            redirect = registered
        }
        let returned = values["state"]
        func refuse(_ error: String, _ description: String) -> AuthorizationCheck {
            .redirect(
                authorizationRedirect(
                    to: redirect, ["error": error, "error_description": description], state: returned, status: status, configuration: configuration))
        }
        if let twice = repeated.first { return refuse("invalid_request", "\(twice) appears more than once") }
        guard values["response_type"] == "code" else {
            return values["response_type"] == nil
                ? refuse("invalid_request", "response_type is required")
                : refuse("unsupported_response_type", "only response_type=code is offered")
        }
        guard let challenge = values["code_challenge"] else { return refuse("invalid_request", "code_challenge is required (PKCE, RFC 7636)") }
        guard values["code_challenge_method"] == "S256" else {
            return refuse("invalid_request", "code_challenge_method must be S256 (plain is refused)")
        }
        guard AuthorizationCodes.isPKCEValue(challenge) else {
            return refuse("invalid_request", "code_challenge must be 43 to 128 unreserved characters (an S256 challenge is 43)")
        }
        let asked = values["scope"].map { $0.split(separator: " ").map(String.init) } ?? client.defaultScopes
        var scopes: [String] = []
        for scope in asked where client.allows(scope: scope) && !scopes.contains(scope) { scopes.append(scope) }
        guard !scopes.isEmpty else { return refuse("invalid_scope", "none of the scopes asked for may be granted to this application") }
        return .valid(
            AuthorizationRequest(client: client, redirect: redirect, redirectParameter: parameter, scopes: scopes, state: returned, challenge: challenge))
    }

    /// A redirect to the client (`status`: 302 after a GET, 303 after the page's POST) with `parameters`,
    /// `state` unchanged when there was one, and `iss` when ScopeGate has an issuer (RFC 9207).
    func authorizationRedirect(
        to redirect: String, _ parameters: [String: String], state: String?, status: Int, configuration: ServiceConfiguration
    ) -> HTTPResponse {
        var query = parameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if let state { query.append(("state", state)) }
        if let issuer = configuration.issuer { query.append(("iss", issuer)) }
        let encoded = query.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        let location = redirect + (redirect.contains("?") ? "&" : "?") + encoded
        return HTTPResponse(status: status, headers: [("Location", location), ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer")])
    }

    /// application/x-www-form-urlencoded: unreserved characters as they are, everything else escaped.
    static func formEncode(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            if (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || "-._~".utf8.contains(byte) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return encoded
    }

    // MARK: - The page

    /// The CSRF cookie's name: `__Host-` (Secure, the whole host, no Domain) behind https, where a
    /// sibling host cannot plant one.
    func csrfCookieName(_ configuration: ServiceConfiguration) -> String {
        Self.securePages(configuration) ? "__Host-scopegate-csrf" : "scopegate-csrf"
    }

    /// Whether ScopeGate's pages are served over https (its issuer says so): cookies are then `Secure`
    /// and `__Host-`.
    static func securePages(_ configuration: ServiceConfiguration) -> Bool {
        configuration.issuer?.hasPrefix("https://") == true
    }

    /// The CSRF token the browser's cookie holds, if it holds a well-formed one.
    func csrfToken(in request: HTTPRequest) -> String? {
        Self.cookie(named: csrfCookieName(current.configuration), in: request)
    }

    /// The value of the cookie `name` when it is a well-formed ScopeGate value (256 bits, base64url).
    static func cookie(named name: String, in request: HTTPRequest) -> String? {
        for raw in request.headers.rawValues("Cookie") {
            for pair in String(decoding: raw, as: UTF8.self).split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).trimmingWhitespace() }
                guard parts.count == 2, parts[0] == name else { continue }
                let value = parts[1]
                if value.utf8.count == 43, Base64URL.decode(value)?.count == 32 { return value }
            }
        }
        return nil
    }

    /// The CSRF cookie for a page, and its token (the browser's own when it has one).
    func csrfCookie(for request: HTTPRequest, configuration: ServiceConfiguration) -> (token: String, header: (String, String)) {
        let token = csrfToken(in: request) ?? Base64URL.encode((try? SecureRandom.bytes(32)) ?? [])
        return (token, csrfSetCookie(token, configuration: configuration))
    }

    /// The `Set-Cookie` field of the CSRF cookie holding `token`.
    func csrfSetCookie(_ token: String, configuration: ServiceConfiguration) -> (String, String) {
        ("Set-Cookie", "\(csrfCookieName(configuration))=\(token); Path=/; HttpOnly; SameSite=Lax\(Self.securePages(configuration) ? "; Secure" : "")")
    }

    /// The sign-in and consent page for `authorization`: each scope as a ticked checkbox with its
    /// description from the policy, the user's name and password, Allow and Deny. Sets the CSRF cookie
    /// the form's hidden field repeats.
    /// `ticked` and `username`: what the person chose and typed before, kept when the page comes back
    /// with a message (nil: every scope ticked, no name).
    func signInPage(
        _ authorization: AuthorizationRequest, csrf: String, state: ServiceState, status: Int, message: String?, ticked: Set<String>? = nil,
        username: String? = nil, signedIn: UserRecord? = nil
    ) -> HTTPResponse {
        let configuration = state.configuration
        let client = HTMLPage.escape(authorization.client.id)
        var body = signedIn == nil ? "<h1>Sign in to continue to \(client)</h1>\n" : "<h1>Continue to \(client)?</h1>\n"
        if let message { body += "<p class=\"error\" role=\"alert\">\(HTMLPage.escape(message))</p>\n" }
        body += "<form method=\"post\" action=\"/authorize\">\n"
        for (name, value) in authorization.fields {
            body += "<input type=\"hidden\" name=\"\(HTMLPage.escape(name))\" value=\"\(HTMLPage.escape(value))\">\n"
        }
        body += "<input type=\"hidden\" name=\"csrf\" value=\"\(HTMLPage.escape(csrf))\">\n"
        body += "<fieldset>\n<legend>\(client) asks to</legend>\n"
        for (index, scope) in authorization.scopes.enumerated() {
            let description = configuration.policy.scopeDescriptions[scope].map { "<small>\(HTMLPage.escape($0))</small>" } ?? ""
            body += """
                <div class="scope"><input type="checkbox" id="scope-\(index)" name="grant" value="\(HTMLPage.escape(scope))"\
                \(ticked?.contains(scope) == false ? "" : " checked")>\
                <label for="scope-\(index)"><code>\(HTMLPage.escape(scope))</code></label>\(description)</div>

                """
        }
        body += "</fieldset>\n"
        body += """
            <div class="scope"><input type="checkbox" id="remember" name="remember" value="1">\
            <label for="remember">Remember this decision for \(client)</label></div>

            """
        if let signedIn {
            body += "<p>Signed in as <strong>\(HTMLPage.escape(signedIn.username))</strong>. Not you? Sign out below.</p>\n"
        } else {
            body += HTMLPage.credentialFields(username: username)
        }
        body += """
            <div class="actions">
            <button type="submit" class="primary" name="action" value="allow">Allow</button>
            <button type="submit" class="secondary" name="action" value="deny">Deny</button>
            </div>
            </form>
            <p><small>You will be sent back to <code>\(HTMLPage.escape(Self.origin(of: authorization.redirect) ?? authorization.redirect))</code>.</small></p>
            """
        if signedIn != nil { body += "\n" + Self.signOutForm(csrf: csrf, primary: false) }
        return HTMLPage.response(
            status: status, title: "Sign in", body: body, formTargets: Self.origin(of: authorization.redirect).map { [$0] } ?? [],
            headers: [csrfSetCookie(csrf, configuration: configuration)])
    }

    /// `scheme://authority` of an absolute URI, for the page and its `form-action`; nil for other forms.
    static func origin(of uri: String) -> String? {
        guard let colon = uri.firstIndex(of: ":") else { return nil }
        let afterScheme = uri[uri.index(after: colon)...]
        // A private-use scheme: the scheme names the application.
        guard afterScheme.hasPrefix("//") else { return String(uri[...colon]) }
        let rest = afterScheme.dropFirst(2)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return String(uri[...colon]) + "//" + authority
    }

    // MARK: - The decision

    /// The page's form: refused unless it comes from ScopeGate's own page (the CSRF cookie and field
    /// agree, and `Origin` and `Sec-Fetch-Site`, when sent, are this site's); the request checked again;
    /// Deny sends the user back with `access_denied`; Allow checks the credentials on a worker (regulated
    /// as `/token`'s logins are), then issues a code for the ticked scopes the user may have.
    private func authorizeDecision(_ request: HTTPRequest, state: ServiceState) -> HTTPHandlerResult {
        let fields: [(name: String, value: String)]
        do {
            fields = try FormParser.fields(body: request.body, contentType: request.headers["Content-Type"])
        } catch {
            return .respond(HTMLPage.error(status: 400, title: "Sign-in refused", message: "The form is not valid: \(error)."))
        }
        guard sameSite(request, configuration: state.configuration) else {
            return .respond(HTMLPage.error(status: 403, title: "Sign-in refused", message: "The form was not sent from ScopeGate's own page."))
        }
        let posted = Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        guard let cookie = csrfMatch(request, fields: fields) else {
            return .respond(
                HTMLPage.error(status: 403, title: "Sign-in refused", message: "The form has expired or was not sent from ScopeGate's own page: start again."))
        }
        let authorization: AuthorizationRequest
        switch checkAuthorization(fields, state: state, status: 303) {
        case .page(let response), .redirect(let response): return .respond(response)
        case .valid(let value): authorization = value
        }
        let configuration = state.configuration
        guard posted["action"] == "allow" else {
            logger.info("authorization denied by the user", metadata: ["auth.client": "\(authorization.client.id)"])
            return .respond(
                authorizationRedirect(
                    to: authorization.redirect, ["error": "access_denied", "error_description": "the user denied the request"],
                    state: authorization.state, status: 303, configuration: configuration))
        }
        let username = posted["username"] ?? ""
        let password = posted["password"] ?? ""
        let ticked = Set(fields.filter { $0.name == "grant" }.map(\.value))
        let remember = posted["remember"] == "1"
        if username.isEmpty, password.isEmpty, hasSessionCookie(request, configuration: configuration) {
            // Signed in: no password, only the store (the session, then the code), on a waiting worker.
            return .waiting(
                overloaded: { _ in HTMLPage.error(status: 503, title: "Too busy", message: "Try again in a moment.") },
                work: { [self] in
                    guard let user = signedInUser(request, state: state) else {
                        return signInPage(
                            authorization, csrf: cookie, state: state, status: 400, message: "Your session has ended: sign in again.", ticked: ticked)
                    }
                    return issueCode(authorization, for: user, ticked: ticked, state: state, remember: remember)
                })
        }
        guard !username.isEmpty, !password.isEmpty else {
            return .respond(
                signInPage(
                    authorization, csrf: cookie, state: state, status: 400, message: "Enter your username and password.",
                    ticked: Set(fields.filter { $0.name == "grant" }.map(\.value)), username: username))
        }
        let address = clientAddress(of: request, trusting: configuration.trustedProxies)
        return .deferred(
            overloaded: signInsOverloaded,
            work: { [self] in
                signIn(
                    authorization, username: username, password: password, ticked: ticked, remember: remember, csrf: cookie, address: address, state: state)
            })
    }

    /// On a hashing worker: the credentials, then the code (and a session for the browser).
    private func signIn(
        _ authorization: AuthorizationRequest, username: String, password: String, ticked: Set<String>, remember: Bool, csrf: String,
        address: IPAddress?, state: ServiceState
    ) -> HTTPResponse {
        let user: UserRecord
        switch pageSignIn(username: username, password: password, address: address, client: authorization.client, state: state) {
        case .refused(let status, let message):
            return signInPage(authorization, csrf: csrf, state: state, status: status, message: message, ticked: ticked, username: username)
        case .signedIn(let signedIn): user = signedIn
        }
        // Signing in here signs the browser in: the next authorization asks for consent only.
        return issueCode(
            authorization, for: user, ticked: ticked, state: state, remember: remember, headers: startSession(for: user, state: state).map { [$0] } ?? [])
    }

    /// Whether `user` asked to remember a consent to `authorization`'s client that covers every scope it
    /// asks for (and the user may still have).
    private func rememberedConsentCovers(_ authorization: AuthorizationRequest, user: UserRecord, state: ServiceState) -> Bool {
        guard let store = state.configuration.revocations.store,
            let consent = try? store.consents(of: user.username).first(where: { $0.clientID == authorization.client.id })
        else { return false }
        let wanted = authorization.scopes.filter { user.allows(scope: $0) }
        return !wanted.isEmpty && Set(wanted).isSubset(of: consent.scopes)
    }

    /// A code for the ticked scopes `user` may have (none: `access_denied`), kept in the store, and the
    /// redirect that carries it (`status`: 303 after the page's form, 302 when a remembered consent skipped
    /// the page; with `headers`, such as a new session's cookie). With `remember`, the consent is kept for
    /// the next time.
    private func issueCode(
        _ authorization: AuthorizationRequest, for user: UserRecord, ticked: Set<String>, state: ServiceState, status: Int = 303,
        remember: Bool = false, headers: [(String, String)] = []
    ) -> HTTPResponse {
        let configuration = state.configuration
        let granted = authorization.scopes.filter { ticked.contains($0) && user.allows(scope: $0) }
        guard !granted.isEmpty else {
            return authorizationRedirect(
                to: authorization.redirect, ["error": "access_denied", "error_description": "no scope the application asked for was granted"],
                state: authorization.state, status: 303, configuration: configuration)
        }
        guard let store = configuration.revocations.store else {
            return HTMLPage.error(status: 503, title: "Sign-in unavailable", message: "ScopeGate has no store for codes.")
        }
        let code: String
        do {
            code = try AuthorizationCodes.generate()
            let now = clock()
            try store.createAuthorizationCode(
                AuthorizationCode(
                    hash: AuthorizationCodes.hash(code), clientID: authorization.client.id, redirectURI: authorization.redirectParameter,
                    subject: user.username, scopes: granted, challenge: authorization.challenge, createdAt: now,
                    expiresAt: now + AuthorizationCodes.lifetime, tokenID: Base64URL.encode(try SecureRandom.bytes(16)),
                    familyID: Base64URL.encode(try SecureRandom.bytes(16))))
        } catch {
            logger.error("cannot keep an authorization code", metadata: ["error": "\(error)"])
            return HTMLPage.error(
                status: 503, title: "Sign-in unavailable", message: "ScopeGate cannot complete sign-ins right now: try again in a moment.")
        }
        if remember {
            do {
                try store.rememberConsent(RememberedConsent(subject: user.username, clientID: authorization.client.id, scopes: granted, grantedAt: clock()))
            } catch {
                logger.warning("cannot remember a consent", metadata: ["error": "\(error)"])
            }
        }
        logger.info(
            "authorization granted",
            metadata: ["auth.subject": "\(user.username)", "auth.client": "\(authorization.client.id)", "auth.scopes": "\(granted.joined(separator: " "))"])
        var redirect = authorizationRedirect(
            to: authorization.redirect, ["code": code], state: authorization.state, status: status, configuration: configuration)
        if !headers.isEmpty { redirect = HTTPResponse(status: redirect.status, headers: redirect.headers + headers, body: redirect.body) }
        return redirect
    }

    /// Whether a POST comes from this site: `Sec-Fetch-Site` (when the browser sends it) is not
    /// cross-site, and `Origin` (when sent) is ScopeGate's issuer origin or the origin of the Host the
    /// request was sent to.
    func sameSite(_ request: HTTPRequest, configuration: ServiceConfiguration) -> Bool {
        if let site = request.headers["Sec-Fetch-Site"]?.trimmingWhitespace().lowercased(), site == "cross-site" || site == "same-site" {
            return false
        }
        guard let origin = request.headers["Origin"]?.trimmingWhitespace() else { return true }
        var allowed: [String] = []
        if let issuer = configuration.issuer, let issuerOrigin = Self.origin(of: issuer) { allowed.append(issuerOrigin) }
        if let host = request.headers["Host"]?.trimmingWhitespace(), !host.isEmpty {
            allowed += ["http://\(host)", "https://\(host)"]
        }
        return allowed.contains { $0.lowercased() == origin.lowercased() }
    }

    /// The CSRF token of the browser's cookie when the form's `csrf` field repeats it (compared in
    /// constant time): the form came from one of ScopeGate's own pages in this browser.
    func csrfMatch(_ request: HTTPRequest, fields: [(name: String, value: String)]) -> String? {
        guard let cookie = csrfToken(in: request), let field = fields.first(where: { $0.name == "csrf" })?.value,
            constantTimeEquals(Array(cookie.utf8), Array(field.utf8))
        else { return nil }
        return cookie
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
