import FoundationEssentials
import ScopeGateCore

/// The forward-auth decision as a function of the original request, its bearer credentials, one state of
/// the configuration and the time: no HTTP request, logger or metrics. `/auth` turns the decision into its
/// answer, metrics and access-log fields; `scopegate explain` prints the trace.
///
/// Every path that does not reach the single allow at the end of a protected route is a refusal, and so
/// is any failure of a stage.
struct ForwardAuthDecider: Sendable {
    /// The steps, replaceable by tests.
    var stages: ForwardAuthStages = .standard

    /// The decision for `request` and what was learned on the way.
    /// `session`: the user whose signed-in browser sent the request, when it carries a session in force
    /// (browser rules accept it in place of a token).
    func decide(
        _ request: ForwardedRequest, credentials: BearerCredentials, state: ServiceState, now: Date, session: UserRecord? = nil
    )
        -> (ForwardAuthDecision, DecisionTrace)
    {
        var trace = DecisionTrace(request: request)
        do {
            let decision = try decide(request, credentials: credentials, state: state, now: now, session: session, trace: &trace)
            return (decision, trace)
        } catch {
            // Whatever failed, the answer is a refusal: no failure can fall through to the allow branch.
            trace.failure = "\(error)"
            return (.forbidden("the request could not be checked"), trace)
        }
    }

    private func decide(
        _ request: ForwardedRequest, credentials: BearerCredentials, state: ServiceState, now: Date, session: UserRecord?,
        trace: inout DecisionTrace
    ) throws -> ForwardAuthDecision {
        let path: CanonicalPath
        switch request.path {
        case .success(let canonical): path = canonical
        case .failure(let error): return .forbidden("ambiguous original URI: \(error)")
        }
        let policy = state.configuration.policy
        // The host only where a rule names hosts: then a request without a usable one is refused, never
        // matched against the rules for every host instead (report rules alone never refuse it).
        var host: CanonicalHost?
        if policy.readsHosts {
            switch request.canonicalHost() {
            case .success(let canonical): host = canonical
            case .failure(let refusal): if policy.hasHostRules { return .forbidden(refusal.reason) }
            }
            trace.host = host
        }
        let match = try stages.match(request, path, host, policy)
        trace.match = match
        let decision = try decide(match, request, credentials: credentials, state: state, now: now, session: session, trace: &trace)
        if policy.hasReportRules, let (reported, rule) = policy.reportMatch(method: request.method, path: path, host: host) {
            // What the report rule would answer, on a trace of its own; nothing it does (not even a failure)
            // changes the enforced decision.
            var reportTrace = DecisionTrace(request: request)
            reportTrace.host = host
            if let wouldBe = try? decide(reported, request, credentials: credentials, state: state, now: now, session: session, trace: &reportTrace) {
                trace.report = ReportDecision(rule: rule.name, decision: wouldBe)
            }
        }
        return decision
    }

    /// The decision once the policy matched: the matched rule's requirement against the credentials.
    private func decide(
        _ match: RouteMatch, _ request: ForwardedRequest, credentials: BearerCredentials, state: ServiceState, now: Date, session: UserRecord?,
        trace: inout DecisionTrace
    ) throws -> ForwardAuthDecision {
        let policy = state.configuration.policy
        let required: [String]
        var admitted: PolicyRule?
        switch match {
        case .rule(let rule, _):
            let name = rule.name
            trace.rule = name
            if rule.isPublic { return .allow(nil, rule: name) }
            required = rule.scopes
            admitted = rule
        case .methodNotAllowed(let rule):
            trace.rule = rule.name
            return .forbidden("method \(request.method) is not allowed on \(rule.name)")
        case .unnamedPort(let rule):
            trace.rule = rule.name
            return .forbidden("no rule names the port of host \(trace.host?.description ?? "?"); \(rule.name) covers its name")
        case .noUsableHost:
            return .forbidden("the policy has host rules and the request names no usable host")
        case .noRule:
            guard policy.defaultAction == .authenticated else { return .forbidden("no rule allows this path") }
            required = []
            trace.rule = "default"
        }
        trace.requiredScopes = required
        trace.credentials = credentials

        if case .absent = credentials, let admitted, admitted.acceptsSession {
            // A browser rule: the signed-in browser's user stands in for a token, with the rule's scopes.
            guard let user = session else { return .signIn(requiredScopes: required) }
            guard required.allSatisfy(user.allows) else { return .insufficientScope(requiredScopes: required, principal: user) }
            return .allowSession(user, scopes: required, rule: trace.rule ?? admitted.name)
        }
        let bytes: ArraySlice<UInt8>
        switch credentials {
        case .absent: return .unauthenticated(.noToken, requiredScopes: required)
        case .repeated: return .unauthenticated(.invalidToken("more than one Authorization header"), requiredScopes: required)
        case .token(let token): bytes = token
        }
        let token: AuthenticatedToken
        do {
            token = try stages.verify(bytes, state, now)
        } catch let error as TokenError {
            trace.tokenError = error
            return .unauthenticated(.invalidToken(error.description), requiredScopes: required)
        }
        trace.token = token
        guard let principal = try stages.resolve(token) else {
            let kind = token.token.clientID == token.token.subject ? PrincipalKind.client : .user
            return .unauthenticated(.invalidToken("\(kind) \"\(token.token.subject.prefix(64))\" no longer exists"), requiredScopes: required)
        }
        if let revoked = state.configuration.revocations.refusal(for: token.token, kind: principal.kind, now: now) {
            return .unauthenticated(.invalidToken(revoked), requiredScopes: required)
        }
        if principal.isDisabled { return .forbidden("\(principal.kind) \"\(principal.subject)\" is disabled") }
        if let admitted, !admitted.admits(principal.kind) {
            return .forbidden("\(admitted.pattern) is not for a \(principal.kind)")
        }
        guard try stages.authorize(required, token) else {
            return .insufficientScope(requiredScopes: required, principal: principal)
        }
        return .allow(token, rule: trace.rule ?? "default")
    }
}
