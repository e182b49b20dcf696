import ScopeGateCore
import ScopeGateHTTP

/// `GET /.well-known/jwks.json`: the public keys that verify ScopeGate's tokens (RFC 7517 §5), for the
/// services behind the proxy. Secret (HMAC) keys are never in it.
struct JWKSDocument: Sendable {
    /// How long clients may cache the set. Shorter than the time a new key is published before it signs,
    /// so every cache has it before the first token it signs.
    static let maximumAge = 300

    /// The answer to a plain GET, prepared once per configuration.
    let answer: HTTPResponse
    /// The strong entity tag of the set's bytes.
    let entityTag: String

    init(_ keyring: KeyRing) {
        var writer = JSONWriter()
        writer.value(keyring.jwks)
        let body = writer.bytes
        entityTag = "\"" + Base64URL.encode(sha256(body).prefix(16)) + "\""
        answer = HTTPResponse(status: 200, headers: Self.headers(entityTag) + [("Content-Type", "application/jwk-set+json")], body: body).prepared()
    }

    /// The answer to `request`: 304 when its `If-None-Match` names the current set, else the set.
    func response(to request: HTTPRequest) -> HTTPResponse {
        if let condition = request.headers["If-None-Match"], Self.matches(condition, entityTag) {
            return HTTPResponse(status: 304, headers: Self.headers(entityTag))
        }
        return answer
    }

    private static func headers(_ entityTag: String) -> [(name: String, value: String)] {
        [("Cache-Control", "public, max-age=\(maximumAge)"), ("ETag", entityTag), ("Access-Control-Allow-Origin", "*")]
    }

    /// RFC 9110 §13.1.2: `*`, or any listed tag equal to ours under the weak comparison.
    static func matches(_ condition: String, _ entityTag: String) -> Bool {
        condition.split(separator: ",").contains { candidate in
            let tag = candidate.trimmingWhitespace()
            return tag == "*" || tag == entityTag || tag == "W/" + entityTag
        }
    }
}
