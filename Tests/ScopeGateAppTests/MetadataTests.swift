import Foundation
import ScopeGateApp
import ScopeGateCore
import ScopeGateTesting
import Testing

/// RFC 8414 metadata and the OpenID discovery subset, from the running configuration.
@Suite struct MetadataTests {
    func object(_ answer: TestHTTPResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
    }

    @Test func describesTheRunningServerUnderItsIssuer() throws {
        let es = try ECDSAKey.generate(id: "es")
        let daemon = try TestDaemon(configure: { configuration in
            configuration.issuer = "https://auth.example.com/tenant"
            configuration.keyring = try! KeyRing(signingKey: configuration.keyring.signingKey, verificationKeys: [es])
        })
        for path in ["/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/tenant"] {
            let answer = try daemon.get(path)
            #expect(answer.status == 200, "\(path)")
            #expect(answer.header("Cache-Control") == "public, max-age=300")
            let metadata = try object(answer)
            #expect(metadata["issuer"] as? String == "https://auth.example.com/tenant")
            #expect(metadata["token_endpoint"] as? String == "https://auth.example.com/tenant/token")
            #expect(metadata["jwks_uri"] as? String == "https://auth.example.com/tenant/.well-known/jwks.json")
            #expect(metadata["grant_types_supported"] as? [String] == ["password"])
            #expect(metadata["token_endpoint_auth_methods_supported"] as? [String] == ["none"])
            #expect(Set(metadata["scopes_supported"] as? [String] ?? []).isSuperset(of: ["me", "items"]))
        }
        for path in ["/.well-known/openid-configuration", "/tenant/.well-known/openid-configuration"] {
            let discovery = try object(try daemon.get(path))
            #expect(discovery["issuer"] as? String == "https://auth.example.com/tenant", "\(path)")
            #expect(discovery["id_token_signing_alg_values_supported"] as? [String] == ["ES256"])
            #expect(discovery["authorization_endpoint"] == nil)
        }
        #expect(try sendRequest(port: daemon.port, method: "POST", target: "/.well-known/openid-configuration").status == 405)
    }

    @Test func withoutAnIssuerThereIsNoMetadata() throws {
        let daemon = try TestDaemon()
        #expect(try daemon.get("/.well-known/oauth-authorization-server").status == 404)
        #expect(try daemon.get("/.well-known/openid-configuration").status == 404)
        // Still documented: other methods are refused as on every read-only endpoint.
        #expect(try sendRequest(port: daemon.port, method: "TRACE", target: "/.well-known/openid-configuration").status == 405)
    }

    @Test(arguments: [
        ("https://auth.example.com", true), ("https://auth.example.com/a/b", true), ("http://127.0.0.1:8000", true),
        ("http://localhost:8000", true), ("http://[::1]:8000", true), ("http://auth.example.com", false),
        ("https://auth.example.com/", false), ("https://auth.example.com?x=1", false), ("https://auth.example.com#f", false),
        ("auth.example.com", false), ("https://", false), ("https://user@auth.example.com", false), ("scopegate", false),
    ])
    func issuersMustBeBaseURLs(issuer: String, valid: Bool) {
        #expect(ScopeGateService.isValidIssuer(issuer) == valid)
    }
}
