public import FoundationEssentials
import ScopeGateCore
import ScopeGateHTTP

/// One forward-auth decision told step by step, from the decider's own trace: what `scopegate explain`
/// prints.
public struct ForwardAuthExplanation: Sendable {
    /// The report, one line each: request, canonical path, rule, required scopes, token, decision, answer.
    public let lines: [String]
    /// Whether the answer is the 200 that lets the request pass.
    public let isAllowed: Bool
    /// The answer's status: 200, 401 or 403.
    public let status: Int
    /// The rule that decided, as metrics name it (`default` for the policy's default, nil for none).
    public let rule: String?
}

extension ScopeGateService {
    /// Decides on `method` and `target` as `/auth` would for a trusted proxy, with `token` as the bearer
    /// token, and explains the decision. `policyName` is how rules' locations are shown.
    public func explain(
        method: String, target: String, host: String? = nil, token: String?, policyName: String, now: Date = Date()
    )
        -> ForwardAuthExplanation
    {
        let state = current
        // The host: --host, and (checked against it, as at /auth) the authority of an absolute-form target.
        let hostBytes = host.map { Array($0.utf8)[...] }
        let request = ForwardedRequest(method: method, target: Array(target.utf8)[...], host: hostBytes)
        let credentials: BearerCredentials = token.map { .token(Array($0.utf8)[...]) } ?? .absent
        let (decision, trace) = decider.decide(request, credentials: credentials, state: state, now: now)
        var lines = ["request:   \(method) \(target)"]
        switch request.path {
        case .success(let path): lines.append("canonical: \(path)")
        case .failure(let error): lines.append("canonical: refused: \(error)")
        }
        if state.configuration.policy.readsHosts {
            if let canonical = trace.host {
                lines.append("host:      \(canonical)")
            } else if case .failure(let refusal) = request.canonicalHost() {
                lines.append("host:      refused: \(refusal.reason)")
            } else {
                lines.append("host:      none given")
            }
        }
        switch trace.match {
        case .rule(let rule, let parameters):
            let methods = rule.methods.map { " methods \($0.sorted().joined(separator: ","))" } ?? ""
            lines.append("rule:      \(rule.name)\(methods) (\(policyName):\(rule.line))")
            if !parameters.isEmpty {
                lines.append("params:    " + parameters.keys.sorted().map { "\($0)=\(parameters[$0]!)" }.joined(separator: " "))
            }
            if rule.isPublic {
                lines.append("required:  nothing (public)")
            } else {
                lines.append("required:  a valid token" + (rule.scopes.isEmpty ? "" : " with scopes \(rule.scopes.joined(separator: " "))"))
            }
        case .methodNotAllowed(let rule):
            lines.append("rule:      \(rule.name) (\(policyName):\(rule.line)) does not allow \(method)")
        case .unnamedPort(let rule):
            lines.append("rule:      none for this port; \(rule.name) (\(policyName):\(rule.line)) covers the name without it")
        case .noUsableHost:
            lines.append("rule:      none: the policy has host rules and no usable host was given (--host)")
        case .noRule:
            lines.append("rule:      none; default is \(state.configuration.policy.defaultAction.rawValue)")
        case nil:
            break
        }
        lines += tokenLines(trace)
        if let failure = trace.failure { lines.append("failure:   \(failure)") }
        let response = ForwardAuthResponses.response(for: decision, mode: state.configuration.challenge, publicAnswer: state.publicAnswer)
        let allowed = response.status == 200
        lines.append("decision:  \(allowed ? "allow" : "refuse"), \(response.status)")
        for (name, value) in response.headers where name != "Content-Type" {
            lines.append("  \(name): \(value.isEmpty ? "(empty)" : value)")
        }
        if !response.body.isEmpty { lines.append("  body: \(String(decoding: response.body, as: UTF8.self))") }
        if let report = trace.report {
            let wouldBe = ForwardAuthResponses.response(for: report.decision, mode: state.configuration.challenge, publicAnswer: state.publicAnswer)
            lines.append(
                "report:    \(report.rule) would \(report.wouldAllow ? "allow" : "refuse"), \(wouldBe.status) (\(report.decision.summary)); not enforced")
        }
        return ForwardAuthExplanation(lines: lines, isAllowed: allowed, status: response.status, rule: trace.rule)
    }

    private func tokenLines(_ trace: DecisionTrace) -> [String] {
        if let error = trace.tokenError { return ["token:     refused: \(error)"] }
        guard let authenticated = trace.token else {
            if case .absent? = trace.credentials { return ["token:     none given"] }
            if case .repeated? = trace.credentials { return ["token:     more than one given"] }
            return []
        }
        let token = authenticated.token
        let who = authenticated.principal?.kind == .client ? "client \(token.subject)" : token.subject
        var lines = ["token:     valid for \(who), scopes \(token.scopes.isEmpty ? "(none)" : token.scopes.joined(separator: " "))"]
        guard let principal = authenticated.principal else {
            return lines + ["granted:   none; \(quotedForMessage(token.subject)) is in no users file or client registry"]
        }
        let effective = authenticated.effectiveScopes
        lines.append(
            "granted:   \(effective.isEmpty ? "(none)" : effective.joined(separator: " "))"
                + (principal.isDisabled ? " (\(principal.kind) disabled)" : ""))
        let missing = (trace.requiredScopes ?? []).filter { !effective.contains($0) }
        if !missing.isEmpty { lines.append("missing:   \(missing.joined(separator: " "))") }
        return lines
    }
}
