import FoundationEssentials
import ScopeGateCore
import ScopeGateHTTP

/// The steps of a forward-auth check as values. Production uses ``standard``; tests wrap a step to make it
/// fail and check that every failure becomes a refusal, so no test hook sits in the checking code.
struct ForwardAuthStages: Sendable {
    /// Reads the original request and credentials out of a check request.
    var describe: @Sendable (HTTPRequest) throws -> Result<ForwardedRequestParser.Parsed, ForwardedRequestParser.Refusal>
    /// Finds the rule for the original request.
    var match: @Sendable (ForwardedRequest, CanonicalPath, CanonicalHost?, Policy) throws -> RouteMatch
    /// Verifies a bearer token (through the state's cache); throws ``TokenError`` for a token that fails.
    var verify: @Sendable (ArraySlice<UInt8>, ServiceState, Date) throws -> AuthenticatedToken
    /// The principal a verified token is about, if it still exists.
    var resolve: @Sendable (AuthenticatedToken) throws -> (any Principal)?
    /// Whether the token's effective scopes cover the required ones.
    var authorize: @Sendable (_ required: [String], AuthenticatedToken) throws -> Bool

    /// The checks ScopeGate runs.
    static let standard: ForwardAuthStages = {
        let parser = ForwardedRequestParser()
        return ForwardAuthStages(
            describe: { parser.parse($0) },
            match: { request, path, host, policy in policy.match(method: request.method, path: path, host: host) },
            verify: { bytes, state, now in try state.tokenCache.entry(bytes, with: state.verifier, now: now) },
            resolve: { $0.principal },
            authorize: { required, token in required.allSatisfy(token.effectiveScopes.contains) }
        )
    }()
}
