import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP

extension ScopeGateService {
    /// `/auth`: decides whether a proxy may pass the request it describes, under any
    /// ``ProxyConvention``: nginx `auth_request` (`X-Original-*`), Traefik `forwardAuth` and Caddy
    /// `forward_auth` (`X-Forwarded-*`), Envoy `ext_authz` (the original path after `/auth`).
    ///
    /// The decision is ``ForwardAuthDecider``'s; this turns it into the answer, the metrics and the
    /// access-log fields.
    func forwardAuth(_ request: HTTPRequest, record: inout RequestRecord?, session: UserRecord? = nil) -> HTTPResponse {
        let start = monotonicNanoseconds()
        let state = current
        var (decision, trace) = check(request, state: state, session: session)
        var response = ForwardAuthResponses.response(for: decision, mode: state.configuration.challenge, publicAnswer: state.publicAnswer)
        if case .signIn = decision { response = Self.signInAnswer(response, request: request, configuration: state.configuration) }
        if let identityTokens = state.identityTokens, case .allow(let token?, let rule) = decision,
            let wanted = identityTokenRequest(trace, policy: state.configuration.policy)
        {
            do {
                response = try identityTokens.answer(for: token, rule: rule, request: wanted, now: clock())
            } catch {
                trace.failure = "cannot sign an identity token: \(error)"
                decision = .forbidden("the request could not be checked")
                response = ForwardAuthResponses.response(for: decision, mode: state.configuration.challenge, publicAnswer: state.publicAnswer)
            }
        }
        let outcome = decision.outcome
        metrics.recordDecision(outcome, rule: trace.rule ?? "none", since: start)
        if record != nil {
            if let forwarded = trace.request { record?.method = forwarded.method }
            if let path = trace.loggedPath { record?.path = path }
            record?.decision = outcome.rawValue
            record?.rule = trace.rule
            if let principal = decision.principal {
                record?.principal = principal.kind.rawValue
                if principal.kind == .client { record?.client = principal.subject } else { record?.user = principal.subject }
            }
        }
        if let report = trace.report {
            metrics.recordReportDecision(rule: report.rule, wouldAllow: report.wouldAllow)
            let wouldBe = report.decision.outcome
            if wouldBe != outcome {
                // Who and where, never the token: enough to judge the report rule before switching it on.
                var metadata: Logger.Metadata = [
                    "report.rule": "\(report.rule)", "report.outcome": "\(wouldBe.rawValue)", "auth.outcome": "\(outcome.rawValue)",
                    "auth.rule": "\(trace.rule ?? "none")",
                ]
                if let forwarded = trace.request {
                    metadata["http.method"] = "\(forwarded.method)"
                    if let path = trace.loggedPath { metadata["url.path"] = "\(String(decoding: path, as: UTF8.self))" }
                }
                if let host = trace.host { metadata["url.host"] = "\(host)" }
                if let principal = decision.principal ?? report.decision.principal { metadata["auth.subject"] = "\(principal.subject)" }
                logger.notice("report rule would answer differently", metadata: metadata)
            }
        }
        if let failure = trace.failure {
            logger.error("forward-auth check failed; refusing", metadata: ["error": "\(failure)"])
        }
        if logsDecisions {
            logger.debug(
                "forward-auth decision",
                metadata: [
                    "http.status": "\(response.status)",
                    "auth.decision": "\(decision.summary)",
                ])
        }
        return response
    }

    /// The identity token the matched rule (or, for it, the policy) asks the allow to carry.
    private func identityTokenRequest(_ trace: DecisionTrace, policy: Policy) -> IdentityTokenRequest? {
        if case .rule(let rule, _)? = trace.match { return rule.identityToken ?? policy.identityToken }
        return policy.identityToken
    }

    /// The check itself: only trusted proxies may ask, the check request must describe one original
    /// request, and the decider decides on it.
    private func check(_ request: HTTPRequest, state: ServiceState, session: UserRecord?) -> (ForwardAuthDecision, DecisionTrace) {
        guard let peer = request.clientAddress, state.configuration.trustedProxies.contains(where: { $0.contains(peer) }) else {
            return (.forbidden("forward-auth requests are accepted only from trusted proxies"), DecisionTrace())
        }
        let parsed: ForwardedRequestParser.Parsed
        do {
            switch try decider.stages.describe(request) {
            case .success(let value): parsed = value
            case .failure(let refusal): return (.forbidden(refusal.reason), DecisionTrace())
            }
        } catch {
            return (.forbidden("the request could not be checked"), DecisionTrace(failure: "\(error)"))
        }
        return decider.decide(parsed.request, credentials: parsed.credentials, state: state, now: clock(), session: session)
    }
}
