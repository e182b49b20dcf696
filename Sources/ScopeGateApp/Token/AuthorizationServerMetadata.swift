import ScopeGateCore
import ScopeGateHTTP

/// `/.well-known/oauth-authorization-server` (RFC 8414) and the part of OpenID discovery that JWT
/// verifiers read (`/.well-known/openid-configuration`: issuer, `jwks_uri`, signing algorithms), built
/// from the running configuration when `--issuer` names ScopeGate's public base URL.
struct AuthorizationServerMetadata: Sendable {
    /// The metadata document's answer, by the paths it is served at.
    let answers: [String: HTTPResponse]

    /// Nothing when the configuration has no issuer.
    init(configuration: ServiceConfiguration, keyring: KeyRing, grants: GrantRegistry) {
        guard let issuer = configuration.issuer, let base = IssuerURL(issuer) else {
            answers = [:]
            return
        }
        let scopes = OpenAPIDocument.scopes(of: configuration).keys.sorted()
        let signing = Array(Set(keyring.keys.filter { $0.publicJWK != nil }.map(\.algorithm.rawValue))).sorted()
        // "none": the password grant needs no client, as in FastAPI's tutorial.
        let authMethods: JSONValue = .array(
            (["none"] + (configuration.clients.clients.isEmpty ? [] : ClientAuthentication.methods.map(\.rawValue))).map(JSONValue.string))
        var members: [String: JSONValue] = [
            "issuer": .string(issuer),
            "token_endpoint": .string(issuer + "/token"),
            "jwks_uri": .string(issuer + "/.well-known/jwks.json"),
            // Listed explicitly: RFC 8414's defaults (authorization_code, implicit; client_secret_basic) are not what ScopeGate offers.
            // Only what this configuration offers: client_credentials once a client may use it.
            "grant_types_supported": .array(
                grants.grants.values.filter { $0.isOffered(by: configuration) }.map(\.name).sorted().map(JSONValue.string)),
            "token_endpoint_auth_methods_supported": authMethods,
            "revocation_endpoint": .string(issuer + "/revoke"),
            "revocation_endpoint_auth_methods_supported": authMethods,
            "response_types_supported": .array([]),
            "scopes_supported": .array(scopes.map(JSONValue.string)),
        ]
        // The code flow, once some client may use it (RFC 6749 §4.1, PKCE S256 only, RFC 9207's iss).
        if AuthorizationCodeGrant().isOffered(by: configuration) {
            members["authorization_endpoint"] = .string(issuer + "/authorize")
            members["response_types_supported"] = .array([.string("code")])
            members["response_modes_supported"] = .array([.string("query")])
            members["code_challenge_methods_supported"] = .array([.string("S256")])
            members["authorization_response_iss_parameter_supported"] = .bool(true)
        }
        // RFC 7662: only where some client may introspect.
        if configuration.clients.clients.values.contains(where: \.introspect) {
            members["introspection_endpoint"] = .string(issuer + "/introspect")
            members["introspection_endpoint_auth_methods_supported"] = .array(ClientAuthentication.methods.map { .string($0.rawValue) })
        }
        let oauth: JSONValue = .object(members)
        let discovery: JSONValue = .object([
            "issuer": .string(issuer),
            "jwks_uri": .string(issuer + "/.well-known/jwks.json"),
            "id_token_signing_alg_values_supported": .array(signing.map(JSONValue.string)),
        ])
        let oauthAnswer = Self.answer(oauth)
        let discoveryAnswer = Self.answer(discovery)
        var answers = ["/.well-known/oauth-authorization-server": oauthAnswer, "/.well-known/openid-configuration": discoveryAnswer]
        if !base.path.isEmpty {
            // RFC 8414 §3.1: the well-known path goes between the host and the issuer's path; OpenID
            // discovery appends it to the issuer.
            answers["/.well-known/oauth-authorization-server" + base.path] = oauthAnswer
            answers[base.path + "/.well-known/openid-configuration"] = discoveryAnswer
        }
        self.answers = answers
    }

    private static func answer(_ document: JSONValue) -> HTTPResponse {
        var writer = JSONWriter()
        writer.value(document)
        return HTTPResponse.json(200, writer.bytes, headers: [("Cache-Control", "public, max-age=300"), ("Access-Control-Allow-Origin", "*")])
            .prepared()
    }
}

/// An issuer as RFC 8414 §2 wants it: an `https` URL (here also `http` for a loopback host, for testing)
/// with no query or fragment and no trailing slash.
struct IssuerURL: Sendable {
    /// The path after the authority, without a trailing slash; empty for none.
    let path: String

    init?(_ text: String) {
        let scheme: String
        if text.hasPrefix("https://") {
            scheme = "https"
        } else if text.hasPrefix("http://") {
            scheme = "http"
        } else {
            return nil
        }
        let rest = text.dropFirst(scheme.count + 3)
        guard !rest.isEmpty, !text.contains("?"), !text.contains("#"), !text.hasSuffix("/"),
            text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else { return nil }
        let authority = rest.prefix { $0 != "/" }
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        if scheme == "http" {
            let host = authority.hasPrefix("[") ? String(authority.prefix { $0 != "]" }.dropFirst()) : String(authority.prefix { $0 != ":" })
            guard ["localhost", "127.0.0.1", "::1"].contains(host) else { return nil }
        }
        path = String(rest.dropFirst(authority.count))
    }
}

extension ScopeGateService {
    /// Whether `issuer` can be `--issuer`: an https URL (http for a loopback host) without query, fragment or trailing slash.
    public static func isValidIssuer(_ issuer: String) -> Bool {
        IssuerURL(issuer) != nil
    }
}
