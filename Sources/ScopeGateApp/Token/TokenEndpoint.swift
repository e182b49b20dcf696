import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore

extension ScopeGateService {
    /// `POST /token`: the steps every grant shares, around the grant the form names (``GrantRegistry``).
    ///
    /// On the polling thread: the form (duplicates refused, RFC 6749 §3.2), client authentication, the
    /// grant type and the grant's own cheap checks. On a worker: login regulation, the grant, the token.
    func issueToken(_ request: HTTPRequest) -> HTTPHandlerResult {
        let state = current
        let (form, credentials): (TokenForm, ClientCredentials?)
        switch clientRequest(request, accepting: grants.parameters, state: state) {
        case .success(let value): (form, credentials) = value
        case .failure(let refusal): return .respond(refusal.response)
        }
        let grant: any GrantType
        if let name = form["grant_type"] {
            guard let named = grants.grants[name], named.isOffered(by: state.configuration) else {
                return .respond(FastAPIResponses.oauthError("unsupported_grant_type"))
            }
            grant = named
        } else {
            grant = grants.defaultGrant
        }
        let job: GrantJob
        switch grant.prepare(form) {
        case .success(let value): job = value
        case .failure(let refusal): return .respond(refusal.response)
        }
        let address = form.clientAddress
        let overloaded: @Sendable (OverloadReason) -> HTTPResponse = { [metrics] reason in
            metrics.recordLoginOverloaded(reason)
            return Self.loginsOverloaded
        }
        // A grant that needs no hash, for a client that needs none either, skips the hashing workers:
        // signing is answered here, and store work (a redemption) waits on the waiting workers.
        let pair: ClientPair = job.cost == .hashing ? ClientPair(remembered: nil, needsHash: true) : clientPair(credentials, state: state)
        let work: @Sendable () -> HTTPResponse = { [self] in
            run(job, credentials: credentials, remembered: pair.remembered, state: state, address: address)
        }
        if pair.needsHash { return .deferred(overloaded: overloaded, work: work) }
        if job.cost == .nothing { return .respond(work()) }
        return .waiting(overloaded: overloaded, work: work)
    }

    /// Whether checking `credentials` needs a hash, and the client they name when a recently verified pair
    /// spares it (found once, then passed on rather than looked up again).
    struct ClientPair: Sendable {
        let remembered: ClientRecord?
        let needsHash: Bool
    }

    func clientPair(_ credentials: ClientCredentials?, state: ServiceState) -> ClientPair {
        guard let credentials else { return ClientPair(remembered: nil, needsHash: false) }
        let remembered = clientAuthentication.rememberedClient(credentials, clients: state.configuration.clients, memory: clientSecrets, now: clock())
        return ClientPair(remembered: remembered, needsHash: remembered == nil)
    }

    /// The form parameters `/revoke` (RFC 7009 §2.1) and `/introspect` (RFC 7662 §2.1) read.
    static let tokenParameters: Set<String> = ["token", "token_type_hint", "client_id", "client_secret"]

    /// What `/token`, `/revoke` and `/introspect` read on the polling thread: the form's parameters among
    /// `accepted` and the client credentials they or the `Authorization` field present.
    func clientRequest(
        _ request: HTTPRequest, accepting accepted: Set<String>, state: ServiceState
    ) -> Result<(TokenForm, ClientCredentials?), GrantRefusal> {
        let form: TokenForm
        switch oauthForm(request, accepting: accepted, state: state) {
        case .success(let value): form = value
        case .failure(let refusal): return .failure(refusal)
        }
        switch clientAuthentication.credentials(request, form: form, clients: state.configuration.clients) {
        case .success(let credentials): return .success((form, credentials))
        case .failure(let refusal): return .failure(refusal)
        }
    }

    /// Runs `work` off the polling thread with the client `credentials` prove (nil for none): on the
    /// waiting workers when they need no hash (none, or a pair verified recently), so store work never
    /// queues behind password checks; else on the hashing workers. Failed authentication answers for it.
    func withAuthenticatedClient(
        _ credentials: ClientCredentials?, state: ServiceState, address: IPAddress?, overloaded: HTTPResponse,
        _ work: @escaping @Sendable (ClientRecord?) -> HTTPResponse
    ) -> HTTPHandlerResult {
        let pair = clientPair(credentials, state: state)
        let job: @Sendable () -> HTTPResponse = { [self] in
            switch authenticatedClient(credentials, remembered: pair.remembered, state: state, address: address) {
            case .success(let client): return work(client)
            case .failure(let refusal): return refusal.response
            }
        }
        if pair.needsHash { return .deferred(overloaded: { _ in overloaded }, work: job) }
        return .waiting(overloaded: { _ in overloaded }, work: job)
    }

    /// On a worker: the client `credentials` prove (nil for none), with failed client authentication
    /// regulated as failed logins are, under a name no user can have (user names hold no space).
    /// `remembered`: the client already found for them without a hash, not looked up again.
    func authenticatedClient(
        _ credentials: ClientCredentials?, remembered: ClientRecord? = nil, state: ServiceState, address: IPAddress?
    ) -> Result<ClientRecord?, GrantRefusal> {
        guard let credentials else { return .success(nil) }
        let regulated = "client \(credentials.id)"
        if let wait = loginAttempts.retryAfter(username: regulated, address: address, now: clock()) {
            let seconds = Int(wait.rounded(.up))
            metrics.recordLoginThrottled()
            logger.notice(
                "client authentication throttled",
                metadata: ["auth.client": "\(credentials.id.prefix(128))", "client.address": "\(address.map(\.description) ?? "-")"])
            return .failure(
                GrantRefusal(
                    response: FastAPIResponses.oauthError(
                        "invalid_client", description: "too many failed authentications; retry in \(seconds) \(seconds == 1 ? "second" : "seconds")",
                        status: 429, headers: [("Retry-After", "\(seconds)")])))
        }
        guard
            let client = remembered
                ?? clientAuthentication.authenticate(credentials, clients: state.configuration.clients, memory: clientSecrets, now: clock())
        else {
            loginAttempts.recordFailure(username: regulated, address: address, now: clock())
            metrics.recordLoginFailure(unknownUser: state.configuration.clients[credentials.id] == nil)
            logger.info("client authentication refused", metadata: ["auth.client": "\(credentials.id.prefix(128))"])
            return .failure(ClientAuthentication.invalidClient("client authentication failed", basic: credentials.method == .basic))
        }
        loginAttempts.recordSuccess(username: regulated, address: address)
        return .success(client)
    }

    /// The form's parameters among `accepted` (what some grant, or the endpoint, reads), each at most once.
    func oauthForm(_ request: HTTPRequest, accepting accepted: Set<String>, state: ServiceState) -> Result<TokenForm, GrantRefusal> {
        let fields: [(name: String, value: String)]
        do {
            fields = try FormParser.fields(body: request.body, contentType: request.headers["Content-Type"])
        } catch {
            return .failure(GrantRefusal(response: FastAPIResponses.oauthError("invalid_request", description: error.description)))
        }
        var values: [String: String] = [:]
        for (name, value) in fields where accepted.contains(name) {
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

    /// Runs on a worker thread (or on the polling thread when nothing in it can block): client
    /// authentication and its regulation, the grant's regulation, the grant, then the token.
    private func run(
        _ job: GrantJob, credentials: ClientCredentials?, remembered: ClientRecord? = nil, state: ServiceState, address: IPAddress?
    ) -> HTTPResponse {
        let client: ClientRecord?
        switch authenticatedClient(credentials, remembered: remembered, state: state, address: address) {
        case .success(let value): client = value
        case .failure(let refusal): return refusal.response
        }
        if let name = job.regulatedName, let wait = loginAttempts.retryAfter(username: name, address: address, now: clock()) {
            let seconds = Int(wait.rounded(.up))
            metrics.recordLoginThrottled()
            logger.notice("login throttled", metadata: ["auth.subject": "\(name.prefix(128))", "client.address": "\(address.map(\.description) ?? "-")"])
            return FastAPIResponses.detail(
                429, "Too many failed logins; retry in \(seconds) \(seconds == 1 ? "second" : "seconds")",
                headers: [("Retry-After", "\(seconds)")] + FastAPIResponses.noStore)
        }
        let context = GrantContext(state: state, client: client, now: clock(), metrics: metrics, logger: logger)
        switch job.run(context) {
        case .refused(let refusal, let failedLogin):
            if failedLogin, let name = job.regulatedName { loginAttempts.recordFailure(username: name, address: address, now: clock()) }
            return refusal.response
        case .granted(let principal, let scopes, let details):
            if let name = job.regulatedName { loginAttempts.recordSuccess(username: name, address: address) }
            return tokenResponse(for: principal, scopes: scopes, details: details, client: client, state: state)
        }
    }

    /// A signed access token for `principal` and the RFC 6749 §5.1 response that carries it.
    /// The token carries `client_id` when a client authenticated, lives the client's `token_lifetime` when
    /// it has one (never longer than the service's, nor past the grant's `notAfter`), and has the grant's
    /// audience as `aud` when it chose one.
    private func tokenResponse(
        for principal: any Principal, scopes: [String], details: IssueDetails, client: ClientRecord?, state: ServiceState
    ) -> HTTPResponse {
        let configuration = state.configuration
        let now = clock()
        var lifetime = min(client?.tokenLifetime ?? configuration.tokenLifetime, configuration.tokenLifetime)
        if let notAfter = details.notAfter { lifetime = min(lifetime, notAfter.timeIntervalSince(now).rounded(.down)) }
        let claims: AccessTokenClaims
        let token: String
        let refresh: (token: String, family: String)?
        do {
            refresh = try refreshToken(
                details.refresh, for: principal, scopes: scopes, client: client, configuration: configuration, accessUntil: now + lifetime, now: now)
        } catch {
            logger.error("cannot start a refresh-token family", metadata: ["error": "\(error)"])
            return FastAPIResponses.oauthError(
                "temporarily_unavailable", description: "cannot issue a token right now; retry", status: 503,
                headers: [("Retry-After", "1")])
        }
        do {
            let tokenID = try details.tokenID ?? Base64URL.encode(SecureRandom.bytes(16))
            claims = AccessTokenClaims(
                subject: principal.subject, scopes: scopes, issuedAt: now,
                expiresAt: now + lifetime, tokenID: tokenID,
                issuer: configuration.issuer, audience: details.audience ?? configuration.audience, clientID: details.clientID ?? client?.id,
                actor: details.actor, sessionID: refresh?.family)
            token = try state.signer.sign(claims)
        } catch {
            logger.error("cannot sign a token", metadata: ["error": "\(error)"])
            return FastAPIResponses.detail(503, "Cannot issue a token right now", headers: [("Retry-After", "1")] + FastAPIResponses.noStore)
        }
        metrics.recordTokenIssued()
        logger.info(
            "token issued",
            metadata: [
                "auth.subject": "\(principal.subject)", "auth.principal": "\(principal.kind)", "auth.scopes": "\(scopes.joined(separator: " "))",
                "auth.jti": "\(claims.tokenID)", "auth.sid": "\(refresh?.family ?? "-")",
            ])
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("access_token"); writer.string(token)
        if let issuedTokenType = details.issuedTokenType {
            writer.raw(","); writer.key("issued_token_type"); writer.string(issuedTokenType)
        }
        writer.raw(","); writer.key("token_type"); writer.string("bearer")
        writer.raw(","); writer.key("expires_in"); writer.integer(Int64(lifetime.rounded(.down)))
        if let refresh { writer.raw(","); writer.key("refresh_token"); writer.string(refresh.token) }
        writer.raw(","); writer.key("scope"); writer.string(scopes.joined(separator: " "))
        writer.raw("}")
        return .json(200, writer.bytes, headers: FastAPIResponses.noStore)
    }

    /// The refresh token a response carries and its family's id, or nil: a login's new family when refresh
    /// tokens are on for its client (the family row written before the access token is signed, so `sid`
    /// never names a family the store lacks), or a redemption's successor.
    private func refreshToken(
        _ issue: RefreshIssue, for principal: any Principal, scopes: [String], client: ClientRecord?, configuration: ServiceConfiguration,
        accessUntil: Date, now: Date
    ) throws -> (token: String, family: String)? {
        switch issue {
        case .none:
            return nil
        case .successor(let token, let family):
            return (token, family.id)
        case .startFamily(let id):
            guard principal.kind == .user, let store = configuration.revocations.store,
                let lifetime = configuration.refreshTokens.familyLifetime(for: client)
            else { return nil }
            let token = try RefreshToken.generate()
            let family = RefreshFamily(
                id: try id ?? Base64URL.encode(SecureRandom.bytes(16)), kind: principal.kind.rawValue, subject: principal.subject, clientID: client?.id,
                scopes: scopes, createdAt: now, endsAt: now + lifetime, idleLimit: min(configuration.refreshTokens.idle ?? lifetime, lifetime))
            // While the store is lost a login still gets its access token, without a refresh token (RFC 6749
            // §5.1 makes it optional): the client logs in again later rather than failing now.
            guard configuration.revocations.health.isUp else {
                logger.warning("store unreachable: the login gets no refresh token", metadata: ["auth.subject": "\(principal.subject)"])
                return nil
            }
            do {
                try store.createRefreshFamily(family, tokenHash: RefreshToken.hash(token), accessUntil: accessUntil)
            } catch {
                logger.warning(
                    "cannot start a refresh-token family: the login gets no refresh token",
                    metadata: ["auth.subject": "\(principal.subject)", "error": "\(error)"])
                return nil
            }
            return (token, family.id)
        }
    }

    private static let loginsOverloaded = FastAPIResponses.detail(
        503, "Too many logins in progress; retry shortly",
        headers: [("Retry-After", "1")] + FastAPIResponses.noStore)
}
