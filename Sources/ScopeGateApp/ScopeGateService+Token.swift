import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP

extension ScopeGateService {
    /// `POST /token`: the OAuth2 password grant (RFC 6749 §4.3) with FastAPI's form semantics.
    func issueToken(_ request: HTTPRequest) -> HTTPHandlerResult {
        let fields: [(name: String, value: String)]
        do {
            fields = try FormParser.fields(body: request.body, contentType: request.headers["Content-Type"])
        } catch {
            return .respond(Responses.oauthError("invalid_request", description: error.description))
        }
        var form: [String: String] = [:]
        for (name, value) in fields where ["grant_type", "username", "password", "scope", "client_id", "client_secret"].contains(name) {
            // RFC 6749 §3.2: a parameter must not appear twice; two parsers picking different ones is an attack.
            guard form.updateValue(value, forKey: name) == nil else {
                return .respond(Responses.oauthError("invalid_request", description: "parameter \"\(name)\" appears more than once"))
            }
        }
        if let grantType = form["grant_type"], !grantType.isEmpty, grantType != "password" {
            return .respond(Responses.oauthError("unsupported_grant_type"))
        }
        // FastAPI treats an empty form value as missing.
        let missing = ["username", "password"].filter { (form[$0] ?? "").isEmpty }
        guard missing.isEmpty, let username = form["username"], let password = form["password"] else {
            return .respond(Responses.missingFields(missing))
        }
        let requested = (form["scope"] ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        let state = current
        let address = clientAddress(of: request, trusting: state.configuration.trustedProxies)
        if let wait = throttle.retryAfter(username: username, address: address, now: clock()) {
            let seconds = Int(wait.rounded(.up))
            metrics.recordLoginThrottled()
            logger.notice("login throttled", metadata: ["auth.subject": "\(username.prefix(128))", "client.address": "\(address.map(\.description) ?? "-")"])
            return .respond(Responses.detail(429, "Too many failed logins; retry in \(seconds) \(seconds == 1 ? "second" : "seconds")",
                                             headers: [("Retry-After", "\(seconds)")] + Responses.noStore))
        }
        let overloaded = Responses.detail(503, "Too many logins in progress; retry shortly",
                                          headers: [("Retry-After", "1")] + Responses.noStore)
        return .deferred(overloaded: { [metrics] reason in
            metrics.recordLoginOverloaded(reason)
            return overloaded
        }) { [self] in
            login(username: username, password: password, requested: requested, address: address, state: state)
        }
    }

    /// Runs on a worker thread: one password check (or its dummy), then a token.
    private func login(username: String, password: String, requested: [String], address: IPAddress?, state: ServiceState) -> HTTPResponse {
        let configuration = state.configuration
        let hasher = configuration.passwordHasher
        guard let user = configuration.users[username] else {
            hasher.verifyDummy(password)
            metrics.recordLoginFailure(unknownUser: true)
            throttle.recordFailure(username: username, address: address, now: clock())
            logger.info("login refused", metadata: ["auth.subject": "\(username.prefix(128))", "auth.reason": "unknown user"])
            return Responses.detail(400, "Incorrect username or password", headers: Responses.noStore)
        }
        guard hasher.verify(password, against: user.passwordHash) else {
            metrics.recordLoginFailure(unknownUser: false)
            throttle.recordFailure(username: username, address: address, now: clock())
            logger.info("login refused", metadata: ["auth.subject": "\(user.username)", "auth.reason": "wrong password"])
            return Responses.detail(400, "Incorrect username or password", headers: Responses.noStore)
        }
        throttle.recordSuccess(username: username, address: address)
        if hasher.needsRehash(user.passwordHash) {
            logger.notice("password hash is weaker than preferred; replace it with: scopegate hash-password",
                          metadata: ["auth.subject": "\(user.username)"])
        }
        var granted: [String] = []
        for scope in requested where user.scopes.contains(scope) && !granted.contains(scope) {
            granted.append(scope)
        }
        let now = clock()
        let claims: AccessTokenClaims
        let token: String
        do {
            let tokenID = Base64URL.encode(try SecureRandom.bytes(16))
            claims = AccessTokenClaims(subject: user.username, scopes: granted, issuedAt: now,
                                       expiresAt: now + configuration.tokenLifetime, tokenID: tokenID,
                                       issuer: configuration.issuer, audience: configuration.audience)
            token = try state.signer.sign(claims)
        } catch {
            logger.error("cannot sign a token", metadata: ["error": "\(error)"])
            return Responses.detail(503, "Cannot issue a token right now", headers: [("Retry-After", "1")] + Responses.noStore)
        }
        metrics.recordTokenIssued()
        logger.info("token issued", metadata: [
            "auth.subject": "\(user.username)", "auth.scopes": "\(granted.joined(separator: " "))", "auth.jti": "\(claims.tokenID)",
        ])
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("access_token"); writer.string(token)
        writer.raw(","); writer.key("token_type"); writer.string("bearer")
        writer.raw(","); writer.key("expires_in"); writer.integer(Int64(configuration.tokenLifetime.rounded(.down)))
        writer.raw(","); writer.key("scope"); writer.string(granted.joined(separator: " "))
        writer.raw("}")
        return .json(200, writer.bytes, headers: Responses.noStore)
    }
}
