import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP

extension ScopeGateService {
    /// `/auth`: decides whether a proxy may pass the request it describes.
    ///
    /// - nginx `auth_request`: `GET /auth` with `X-Original-URI` and `X-Original-Method`.
    /// - Traefik `forwardAuth`, Caddy `forward_auth`: `X-Forwarded-Uri` and `X-Forwarded-Method`.
    /// - Envoy `ext_authz` with `path_prefix: /auth`: the original path after `/auth`, the original method.
    ///
    /// Every path through this function that is not the single allow branch answers 401 or 403.
    func forwardAuth(_ request: HTTPRequest, record: inout RequestRecord?) -> HTTPResponse {
        let start = monotonicNanoseconds()
        let state = current
        var trace = DecisionTrace(describesRequest: record != nil)
        let decision = decide(request, state: state, trace: &trace)
        let response: HTTPResponse
        if case .allow(_?, _, _) = decision, let prepared = trace.token?.allowResponse {
            response = prepared
        } else {
            response = respond(to: decision, mode: state.configuration.challenge)
        }
        let outcome = Self.outcome(of: decision)
        metrics.recordDecision(outcome, rule: trace.rule ?? "none", since: start)
        if record != nil {
            if let method = trace.method { record?.method = method }
            if let path = trace.path { record?.path = path }
            record?.decision = outcome.rawValue
            record?.rule = trace.rule
            if case .allow(let user?, _, _) = decision { record?.user = user.username }
            if case .insufficientScope(_, let user) = decision { record?.user = user }
        }
        if logsDecisions {
            logger.debug("forward-auth decision", metadata: [
                "http.status": "\(response.status)",
                "auth.decision": "\(Self.summary(of: decision))",
            ])
        }
        return response
    }

    /// What the check learned on its way, for the access log and the metrics.
    struct DecisionTrace {
        /// Whether the original method and path are wanted (for the access log); the rule always is.
        let describesRequest: Bool
        var method: String?
        /// The original target's bytes, then its canonical path's once it has one.
        var path: ArraySlice<UInt8>?
        var rule: String?
        /// The cached token the decision rests on, which keeps its allow answer.
        var token: CachedToken?
    }

    private func decide(_ request: HTTPRequest, state: State, trace: inout DecisionTrace) -> ForwardAuthDecision {
        do {
            return try decideOrThrow(request, state: state, trace: &trace)
        } catch {
            // Whatever failed, the answer is a refusal: no failure can fall through to the allow branch.
            logger.error("forward-auth check failed; refusing", metadata: ["error": "\(error)"])
            return .forbidden("the request could not be checked")
        }
    }

    private func decideOrThrow(_ request: HTTPRequest, state: State, trace: inout DecisionTrace) throws -> ForwardAuthDecision {
        let configuration = state.configuration
        try faults?.check(.start)
        guard let peer = request.clientAddress, configuration.trustedProxies.contains(where: { $0.contains(peer) }) else {
            return .forbidden("forward-auth requests are accepted only from trusted proxies")
        }
        let fields = DescribingFields(request.headers)
        let original: (method: String, target: ArraySlice<UInt8>)
        switch originalRequest(of: request, fields: fields) {
        case .success(let value): original = value
        case .failure(let refusal): return .forbidden(refusal.reason)
        }
        if trace.describesRequest {
            trace.method = original.method
            trace.path = original.target.prefix(512)
        }
        // Intermediaries are told to drop headers a Connection header names; naming the ones that describe the
        // original request is an attempt to make some hop forget them.
        if fields.hasConnection {
            let hopByHop = request.headers.rawValues("Connection").flatMap { String(decoding: $0, as: UTF8.self).split(separator: ",") }
                .map { $0.trimmingWhitespace().lowercased() }
            if let named = hopByHop.first(where: Self.describingHeaders.contains) {
                return .forbidden("the Connection header names \(named)")
            }
        }
        let path: CanonicalPath
        do {
            path = try CanonicalPath(target: original.target)
            if trace.describesRequest { trace.path = path.bytes.prefix(512) }
        } catch {
            return .forbidden("ambiguous original URI: \(error)")
        }
        try faults?.check(.match)

        let required: [String]
        let ruleName: String
        switch configuration.policy.match(method: original.method, path: path) {
        case .rule(let rule, _):
            trace.rule = rule.pattern.description
            if rule.isPublic { return .allow(user: nil, scopes: [], rule: rule.pattern.description) }
            required = rule.scopes
            ruleName = rule.pattern.description
        case .methodNotAllowed(let rule):
            trace.rule = rule.pattern.description
            return .forbidden("method \(original.method) is not allowed on \(rule.pattern)")
        case .noRule:
            guard configuration.policy.defaultAction == .authenticated else { return .forbidden("no rule allows this path") }
            required = []
            ruleName = "default"
            trace.rule = ruleName
        }

        guard let authorization = fields.authorization.first else { return .unauthenticated(.noToken, requiredScopes: required) }
        guard fields.authorization.count == 1 else {
            return .unauthenticated(.invalidToken("more than one Authorization header"), requiredScopes: required)
        }
        guard let token = strictBearerToken(authorization) else {
            return .unauthenticated(.noToken, requiredScopes: required)
        }
        try faults?.check(.verify)
        let entry: CachedToken
        do {
            entry = try state.tokenCache.entry(token, with: state.verifier, now: clock())
            trace.token = entry
        } catch {
            return .unauthenticated(.invalidToken(error.description), requiredScopes: required)
        }
        try faults?.check(.lookup)
        // The entry was resolved against this state's users when it was cached.
        guard let user = entry.user else {
            return .unauthenticated(.invalidToken("user \"\(entry.token.subject.prefix(64))\" no longer exists"), requiredScopes: required)
        }
        if user.disabled { return .forbidden("user \"\(user.username)\" is disabled") }
        guard required.allSatisfy(entry.effectiveScopes.contains) else {
            return .insufficientScope(requiredScopes: required, user: user.username)
        }
        try faults?.check(.allow)
        return .allow(user: user, scopes: entry.effectiveScopes, rule: ruleName)
    }

    private static let describingHeaders: Set<String> = [
        "x-original-uri", "x-original-method", "x-forwarded-uri", "x-forwarded-method", "x-forwarded-host",
        "x-forwarded-proto", "x-forwarded-for", "authorization",
    ]

    private struct Refusal: Error {
        let reason: String
    }

    /// The headers a forward-auth check reads, found in one pass: for each, its first value and how many
    /// times it appears.
    private struct DescribingFields {
        struct Field {
            var first: ArraySlice<UInt8>?
            var count = 0

            mutating func add(_ value: ArraySlice<UInt8>) {
                if count == 0 { first = value }
                count += 1
            }
        }

        var originalURI = Field()
        var forwardedURI = Field()
        var originalMethod = Field()
        var forwardedMethod = Field()
        var authorization = Field()
        var hasConnection = false

        init(_ headers: HTTPHeaders) {
            headers.forEachField { name, value in
                switch name.count {
                case 14 where ByteKey(name) == Self.originalURIName: originalURI.add(value)
                case 15 where ByteKey(name) == Self.forwardedURIName: forwardedURI.add(value)
                case 17 where ByteKey(name) == Self.originalMethodName: originalMethod.add(value)
                case 18 where ByteKey(name) == Self.forwardedMethodName: forwardedMethod.add(value)
                case 13 where ByteKey(name) == Self.authorizationName: authorization.add(value)
                case 10 where ByteKey(name) == Self.connectionName: hasConnection = true
                default: break
                }
            }
        }

        // Lower-case, as HTTPHeaders stores names; byte keys compare with one memcmp.
        private static let originalURIName = ByteKey(Array("x-original-uri".utf8))
        private static let forwardedURIName = ByteKey(Array("x-forwarded-uri".utf8))
        private static let originalMethodName = ByteKey(Array("x-original-method".utf8))
        private static let forwardedMethodName = ByteKey(Array("x-forwarded-method".utf8))
        private static let authorizationName = ByteKey(Array("authorization".utf8))
        private static let connectionName = ByteKey(Array("connection".utf8))
    }

    /// The original method and target, from whichever proxy convention the request uses. Conflicting or
    /// repeated descriptions are refused. The target is a slice of the request's own bytes.
    private func originalRequest(of request: HTTPRequest, fields: DescribingFields) -> Result<(method: String, target: ArraySlice<UInt8>), Refusal> {
        if fields.originalURI.count > 1 { return .failure(Refusal(reason: "header X-Original-URI appears more than once")) }
        if fields.forwardedURI.count > 1 { return .failure(Refusal(reason: "header X-Forwarded-Uri appears more than once")) }
        if fields.originalMethod.count > 1 { return .failure(Refusal(reason: "header X-Original-Method appears more than once")) }
        if fields.forwardedMethod.count > 1 { return .failure(Refusal(reason: "header X-Forwarded-Method appears more than once")) }
        // Envoy: the original path follows the /auth prefix, and the method is the request's own.
        let envoy = request.path.count > 5
        guard let target = fields.originalURI.first ?? fields.forwardedURI.first ?? (envoy ? request.path[5...] : nil) else {
            return .failure(Refusal(reason: "missing original URI (X-Original-URI or X-Forwarded-Uri)"))
        }
        let targetsAgree = agree(fields.originalURI.first, target) && agree(fields.forwardedURI.first, target)
            && (!envoy || request.path[5...].elementsEqual(target))
        guard targetsAgree else { return .failure(Refusal(reason: "the original URI headers disagree")) }
        let methodText: String
        if let method = fields.originalMethod.first ?? fields.forwardedMethod.first {
            let methodsAgree = agree(fields.originalMethod.first, method) && agree(fields.forwardedMethod.first, method)
                && (!envoy || request.method.utf8.elementsEqual(method))
            guard methodsAgree else { return .failure(Refusal(reason: "the original method headers disagree")) }
            methodText = String(decoding: method, as: UTF8.self)
        } else if envoy {
            methodText = request.method
        } else {
            return .failure(Refusal(reason: "missing original method (X-Original-Method or X-Forwarded-Method)"))
        }
        guard (1...32).contains(methodText.utf8.count), methodText.utf8.allSatisfy(isTokenCharacter) else {
            return .failure(Refusal(reason: "the original method is not an HTTP method token"))
        }
        return .success((methodText, target))
    }

    private static let bearerLetters: [UInt8] = Array("bearer".utf8)

    /// RFC 6750 §2.1: `Bearer` (any case), one space, a b64token.
    private func strictBearerToken(_ value: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let start = value.startIndex
        guard value.count > 7, value[start + 6] == UInt8(ascii: " ") else { return nil }
        // "bearer" in any case: setting the 0x20 bit lower-cases letters (and no other byte becomes a letter of it).
        for (offset, letter) in Self.bearerLetters.enumerated() where value[start + offset] | 0x20 != letter { return nil }
        return value[(start + 7)...]
    }

    private func respond(to decision: ForwardAuthDecision, mode: ChallengeMode) -> HTTPResponse {
        switch decision {
        case .allow(let user, let scopes, _):
            return Responses.allow(user: user, scopes: scopes)
        case .unauthenticated(.noToken, let required):
            return Responses.detail(401, "Not authenticated", headers: [("WWW-Authenticate", Responses.bearerChallenge(scopes: required))])
        case .unauthenticated(.invalidToken, let required):
            let challenge = mode == .rfc6750
                ? Self.rfc6750Challenge(error: "invalid_token", scopes: required)
                : Responses.bearerChallenge(scopes: required)
            return Responses.detail(401, "Could not validate credentials", headers: [("WWW-Authenticate", challenge)])
        case .insufficientScope(let required, _):
            if mode == .rfc6750 {
                return Responses.detail(403, "Not enough permissions",
                                        headers: [("WWW-Authenticate", Self.rfc6750Challenge(error: "insufficient_scope", scopes: required))])
            }
            return Responses.detail(401, "Not enough permissions", headers: [("WWW-Authenticate", Responses.bearerChallenge(scopes: required))])
        case .forbidden(let reason):
            return Responses.detail(403, "Forbidden: \(reason)")
        }
    }

    private static func rfc6750Challenge(error: String, scopes: [String]) -> String {
        "Bearer error=\"\(error)\"" + (scopes.isEmpty ? "" : ", scope=\"\(scopes.joined(separator: " "))\"")
    }

    private static func outcome(of decision: ForwardAuthDecision) -> ServiceMetrics.Outcome {
        switch decision {
        case .allow: .allow
        case .unauthenticated(.noToken, _): .unauthenticated
        case .unauthenticated(.invalidToken, _): .invalidToken
        case .insufficientScope: .insufficientScope
        case .forbidden: .forbidden
        }
    }

    private static func summary(of decision: ForwardAuthDecision) -> String {
        switch decision {
        case .allow(let user, _, let rule): "allow \(user?.username ?? "-") by \(rule)"
        case .unauthenticated(.noToken, _): "no token"
        case .unauthenticated(.invalidToken(let reason), _): "invalid token: \(reason)"
        case .insufficientScope(let required, let user): "\(user) lacks \(required.joined(separator: " "))"
        case .forbidden(let reason): "forbidden: \(reason)"
        }
    }
}

/// Whether an optional description is absent or says the same as `other`.
private func agree(_ value: ArraySlice<UInt8>?, _ other: ArraySlice<UInt8>) -> Bool {
    value.map { $0.elementsEqual(other) } ?? true
}

/// RFC 9110 tchar.
private func isTokenCharacter(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"): true
    default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}
