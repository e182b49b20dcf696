import ScopeGateCore

/// What a forward-auth check learned on its way to its decision, in the order it learned it: what the
/// access log, the metrics and `scopegate explain` report. Fields stay nil past the step the check
/// stopped at.
struct DecisionTrace: Sendable {
    /// The request the proxy asked about, once read.
    var request: ForwardedRequest?
    /// How the policy matched the canonical path.
    var match: RouteMatch?
    /// The original host, canonical, when the policy has host rules.
    var host: CanonicalHost?
    /// The rule's name for metrics and logs: its pattern, or `default` for the default action.
    var rule: String?
    /// The scopes the route requires; nil on public routes and before a route is found.
    var requiredScopes: [String]?
    /// The credentials the check request carried, once the route needs them.
    var credentials: BearerCredentials?
    /// The verified token, with its principal and effective scopes.
    var token: AuthenticatedToken?
    /// Why the token was refused.
    var tokenError: TokenError?
    /// An unexpected failure of a stage, which made the decision a refusal.
    var failure: String?
    /// What a report-only rule would have answered, when one would have decided the request.
    var report: ReportDecision?

    init(request: ForwardedRequest? = nil, failure: String? = nil) {
        self.request = request
        self.failure = failure
    }

    /// The bytes the access log shows as the path: the canonical path once there is one, else the raw target.
    var loggedPath: ArraySlice<UInt8>? {
        guard let request else { return nil }
        if case .success(let path) = request.path { return path.bytes.prefix(512) }
        return request.target.prefix(512)
    }
}

/// What a report-only rule (`mode: report`) would have answered a request it would have decided.
struct ReportDecision: Sendable {
    /// The report rule's name.
    let rule: String
    /// The decision the policy would make with the report rule switched on.
    let decision: ForwardAuthDecision

    /// Whether the report rule would have let the request through.
    var wouldAllow: Bool {
        switch decision {
        case .allow, .allowSession: return true
        default: return false
        }
    }
}
