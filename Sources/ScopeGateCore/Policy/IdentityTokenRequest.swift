/// A policy's request for an identity token on each allow: a short-lived JWT, signed by ScopeGate's
/// asymmetric key, that the proxy forwards to the upstream so it can verify who is calling.
///
/// ```yaml
/// identity_token:
///   header: X-Auth-Token      # response header the proxy forwards to the upstream
///   audience: billing         # aud of the identity token
///   lifetime: 60              # seconds (1 to 3600), never beyond the access token's exp
/// ```
public struct IdentityTokenRequest: Sendable, Equatable {
    /// The answer's header that carries the token.
    public let header: String
    /// The token's `aud`.
    public let audience: String
    /// The token's lifetime in seconds.
    public let lifetime: Int

    /// The keys the mapping may have.
    static let keys = ["header", "audience", "lifetime"]

    /// A request; `header` must be an HTTP field name.
    public init(header: String, audience: String, lifetime: Int) {
        self.header = header
        self.audience = audience
        self.lifetime = lifetime
    }

    /// Reads an `identity_token` mapping, reporting problems to `document`.
    static func load(_ node: YAMLNode, label: String, document: inout YAMLDocument) -> IdentityTokenRequest? {
        guard let members = document.members(of: node, what: "\(label)\"identity_token\"", allowed: keys) else { return nil }
        let errors = document.diagnostics.count
        var header: String?
        if let value = members["header"]?.value, let text = document.string(value, what: "\(label)\"header\"") {
            if text.isEmpty || !text.utf8.allSatisfy(isTokenCharacter) {
                document.error(at: value, "\(label)\"header\" must be an HTTP header name")
            } else if [
                "x-auth-user", "x-auth-client", "x-auth-scopes", "x-auth-email", "x-auth-name", "cache-control", "content-type", "content-length",
                "www-authenticate",
                "set-cookie",
            ]
            .contains(text.lowercased()) {
                document.error(at: value, "\(label)\"header\" \(quotedForMessage(text, limit: 64)) is a header ScopeGate's answer already uses")
            } else {
                header = text
            }
        } else if members["header"] == nil {
            document.error(at: node, "\(label)\"identity_token\" needs \"header\"")
        }
        var audience: String?
        if let value = members["audience"]?.value, let text = document.string(value, what: "\(label)\"audience\"") {
            if text.isEmpty || text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                document.error(at: value, "\(label)\"audience\" must be a non-empty string without control characters")
            } else {
                audience = text
            }
        } else if members["audience"] == nil {
            document.error(at: node, "\(label)\"identity_token\" needs \"audience\"")
        }
        var lifetime = 60
        if let value = members["lifetime"]?.value, let text = document.string(value, what: "\(label)\"lifetime\"") {
            if let seconds = Int(text), (1...3600).contains(seconds) {
                lifetime = seconds
            } else {
                document.error(at: value, "\(label)\"lifetime\" must be 1 to 3600 seconds")
            }
        }
        guard let header, let audience, document.diagnostics.count == errors else { return nil }
        return IdentityTokenRequest(header: header, audience: audience, lifetime: lifetime)
    }
}
