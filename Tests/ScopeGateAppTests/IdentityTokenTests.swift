import Foundation
import ScopeGateApp
import ScopeGateCore
import ScopeGateTesting
import Testing

/// Identity tokens: the upstream gets a short-lived JWT it verifies through the JWKS instead of trusting
/// headers.
@Suite struct IdentityTokenTests {
    static let policyYAML = """
        identity_token:
          header: X-Identity
          audience: everyone
          lifetime: 30
        rules:
          - path: /users/me/items/
            scopes: [me, items]
            identity_token:
              header: X-Auth-Token
              audience: billing
              lifetime: 60
          - path: /status/
            scopes: []
          - path: /public/**
            public: true
        """

    func daemon(issuer: String? = "https://auth.example.com") throws -> (TestDaemon, ECDSAKey) {
        let es = try ECDSAKey.generate(id: "id-es")
        let daemon = try TestDaemon(
            policyYAML: Self.policyYAML,
            configure: { configuration in
                configuration.issuer = issuer
                configuration.keyring = try! KeyRing(signingKey: configuration.keyring.signingKey, verificationKeys: [es])
            })
        return (daemon, es)
    }

    @Test func anAllowCarriesATokenTheUpstreamVerifiesThroughTheJWKS() throws {
        let (daemon, _) = try daemon()
        let access = try daemon.token(scopes: ["me", "items"])
        let allowed = try daemon.auth("/users/me/items/", token: access)
        #expect(allowed.status == 200)
        let identity = try #require(allowed.header("X-Auth-Token"))
        #expect(allowed.header("X-Auth-User") == "johndoe")
        let claims = try runPython(
            """
            import jwt, sys, json, time
            client = jwt.PyJWKClient(sys.argv[1])
            key = client.get_signing_key_from_jwt(sys.argv[2])
            claims = jwt.decode(sys.argv[2], key.key, algorithms=["ES256"], audience="billing", issuer="https://auth.example.com")
            assert 0 < claims["exp"] - time.time() <= 61, claims
            print(claims["sub"], claims["scope"], jwt.get_unverified_header(sys.argv[2])["kid"])
            """, arguments: ["http://127.0.0.1:\(daemon.port)/.well-known/jwks.json", identity])
        #expect(claims == "johndoe me items id-es")
        // The same access token on the same rule reuses the minted token for a while.
        #expect(try daemon.auth("/users/me/items/", token: access).header("X-Auth-Token") == identity)
        // The policy's own request applies where the rule has none; public routes carry none. Every allow
        // carries every identity-token header of the policy, empty where it has no token (so proxies that
        // copy headers never meet a missing one); refusals carry none.
        let status = try daemon.auth("/status/", token: access)
        #expect(status.status == 200 && status.header("X-Identity")?.isEmpty == false && status.header("X-Auth-Token") == "")
        let publicAnswer = try daemon.auth("/public/a")
        #expect(publicAnswer.header("X-Identity") == "" && publicAnswer.header("X-Auth-Token") == "")
        let refused = try daemon.auth("/users/me/items/")
        #expect(refused.status == 401 && refused.header("X-Auth-Token") == nil)
    }

    @Test func aPolicyAskingForIdentityTokensNeedsAnIssuerAndAnAsymmetricKey() throws {
        let (withoutIssuer, _) = try daemon(issuer: nil)
        #expect(ScopeGateService.identityTokenProblem(withoutIssuer.service.configuration) == "the policy asks for identity tokens, which need --issuer")
        var hmacOnly = withoutIssuer.service.configuration
        hmacOnly.issuer = "https://auth.example.com"
        hmacOnly.keyring = try KeyRing(signingKey: HMACKey(secretFileContents: Array(DemoConfiguration.secret.utf8)))
        #expect(ScopeGateService.identityTokenProblem(hmacOnly)?.contains("need an asymmetric") == true)
    }

    @Test func thePolicyFileIsChecked() throws {
        let bad = """
            rules:
              - path: /a
                public: true
                identity_token: {header: X-T, audience: a}
              - path: /b
                scopes: []
                identity_token: {header: "Bad Header", audience: a, lifetime: 0}
              - path: /c
                scopes: []
                identity_token: {header: X-Auth-User, audience: ""}
            """
        let error = #expect(throws: ConfigurationError.self) { try Policy.load(yaml: bad, file: "p.yaml") }
        let lines = try #require(error).diagnostics.map(\.description)
        #expect(lines.contains { $0.hasPrefix("p.yaml:4:21: error: rule \"/a\": a public rule has no caller to vouch for") })
        #expect(lines.contains { $0.hasPrefix("p.yaml:7:30: error: rule \"/b\": \"header\" must be an HTTP header name") })
        #expect(lines.contains { $0.hasPrefix("p.yaml:7:67: error: rule \"/b\": \"lifetime\" must be 1 to 3600 seconds") })
        #expect(lines.contains { $0.hasPrefix("p.yaml:10:30: error: rule \"/c\": \"header\" \"X-Auth-User\" is a header ScopeGate's answer already uses") })
        #expect(lines.contains { $0.hasPrefix("p.yaml:10:53: error: rule \"/c\": \"audience\" must be a non-empty string") })
    }
}
