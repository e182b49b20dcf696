import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP

extension ScopeGateService {
    /// `POST /token`: the steps every grant shares, around the grant the form names (``GrantRegistry``).
    ///
    /// On the polling thread: the form (duplicates refused, RFC 6749 §3.2), client authentication, the
    /// grant type and the grant's own cheap checks. On a worker: login regulation, the grant, the token.
    func issueToken(_ request: HTTPRequest) -> HTTPHandlerResult {
        let state = current
        let form: TokenForm
        switch tokenForm(request, state: state) {
        case .success(let value): form = value
        case .failure(let refusal): return .respond(refusal.response)
        }
        let client: AuthenticatedClient?
        switch clientAuthentication.authenticate(request, form: form) {
        case .success(let value): client = value
        case .failure(let refusal): return .respond(refusal.response)
        }
        let grant: any GrantType
        if let name = form["grant_type"] {
            guard let named = grants.grants[name] else { return .respond(FastAPIResponses.oauthError("unsupported_grant_type")) }
            grant = named
        } else {
            grant = grants.defaultGrant
        }
        let job: GrantJob
        switch grant.prepare(form) {
        case .success(let value): job = value
        case .failure(let refusal): return .respond(refusal.response)
        }
        let context = GrantContext(state: state, client: client, metrics: metrics, logger: logger)
        return .deferred(overloaded: { [metrics] reason in
            metrics.recordLoginOverloaded(reason)
            return Self.loginsOverloaded
        }) { [self] in
            run(job, context: context, address: form.clientAddress)
        }
    }

    /// The form's parameters that some grant reads, each at most once.
    private func tokenForm(_ request: HTTPRequest, state: ServiceState) -> Result<TokenForm, GrantRefusal> {
        let fields: [(name: String, value: String)]
        do {
            fields = try FormParser.fields(body: request.body, contentType: request.headers["Content-Type"])
        } catch {
            return .failure(GrantRefusal(response: FastAPIResponses.oauthError("invalid_request", description: error.description)))
        }
        var values: [String: String] = [:]
        for (name, value) in fields where grants.parameters.contains(name) {
            // RFC 6749 §3.2: a parameter must not appear twice; two parsers picking different ones is an attack.
            guard values.updateValue(value, forKey: name) == nil else {
                return .failure(
                    GrantRefusal(
                        response: FastAPIResponses.oauthError(
                            "invalid_request",
                            description: "parameter \"\(name)\" appears more than once")))
            }
        }
        return .success(TokenForm(values: values, clientAddress: clientAddress(of: request, trusting: state.configuration.trustedProxies)))
    }

    /// Runs on a worker thread: regulation, the grant, then the token.
    private func run(_ job: GrantJob, context: GrantContext, address: IPAddress?) -> HTTPResponse {
        if let name = job.regulatedName, let wait = loginAttempts.retryAfter(username: name, address: address, now: clock()) {
            let seconds = Int(wait.rounded(.up))
            metrics.recordLoginThrottled()
            logger.notice("login throttled", metadata: ["auth.subject": "\(name.prefix(128))", "client.address": "\(address.map(\.description) ?? "-")"])
            return FastAPIResponses.detail(
                429, "Too many failed logins; retry in \(seconds) \(seconds == 1 ? "second" : "seconds")",
                headers: [("Retry-After", "\(seconds)")] + FastAPIResponses.noStore)
        }
        switch job.run(context) {
        case .refused(let refusal, let failedLogin):
            if failedLogin, let name = job.regulatedName { loginAttempts.recordFailure(username: name, address: address, now: clock()) }
            return refusal.response
        case .granted(let principal, let scopes):
            if let name = job.regulatedName { loginAttempts.recordSuccess(username: name, address: address) }
            return tokenResponse(for: principal, scopes: scopes, state: context.state)
        }
    }

    /// A signed access token for `principal` and the RFC 6749 §5.1 response that carries it.
    private func tokenResponse(for principal: any Principal, scopes: [String], state: ServiceState) -> HTTPResponse {
        let configuration = state.configuration
        let now = clock()
        let claims: AccessTokenClaims
        let token: String
        do {
            let tokenID = Base64URL.encode(try SecureRandom.bytes(16))
            claims = AccessTokenClaims(
                subject: principal.subject, scopes: scopes, issuedAt: now,
                expiresAt: now + configuration.tokenLifetime, tokenID: tokenID,
                issuer: configuration.issuer, audience: configuration.audience)
            token = try state.signer.sign(claims)
        } catch {
            logger.error("cannot sign a token", metadata: ["error": "\(error)"])
            return FastAPIResponses.detail(503, "Cannot issue a token right now", headers: [("Retry-After", "1")] + FastAPIResponses.noStore)
        }
        metrics.recordTokenIssued()
        logger.info(
            "token issued",
            metadata: [
                "auth.subject": "\(principal.subject)", "auth.scopes": "\(scopes.joined(separator: " "))", "auth.jti": "\(claims.tokenID)",
            ])
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("access_token"); writer.string(token)
        writer.raw(","); writer.key("token_type"); writer.string("bearer")
        writer.raw(","); writer.key("expires_in"); writer.integer(Int64(configuration.tokenLifetime.rounded(.down)))
        writer.raw(","); writer.key("scope"); writer.string(scopes.joined(separator: " "))
        writer.raw("}")
        return .json(200, writer.bytes, headers: FastAPIResponses.noStore)
    }

    private static let loginsOverloaded = FastAPIResponses.detail(
        503, "Too many logins in progress; retry shortly",
        headers: [("Retry-After", "1")] + FastAPIResponses.noStore)
}
