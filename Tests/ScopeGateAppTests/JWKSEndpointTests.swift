import Foundation
import ScopeGateApp
import ScopeGateCore
import ScopeGateTesting
import Testing

/// `/.well-known/jwks.json`: the public keys, cacheable, never the HMAC secret.
@Suite struct JWKSEndpointTests {
    @Test func theDemoPublishesNoSecretKey() throws {
        let daemon = try TestDaemon()
        let answer = try daemon.get("/.well-known/jwks.json")
        #expect(answer.status == 200)
        #expect(answer.text == #"{"keys":[]}"#)
        #expect(answer.header("Content-Type") == "application/jwk-set+json")
        #expect(answer.header("Access-Control-Allow-Origin") == "*")
        let cacheControl = try #require(answer.header("Cache-Control"))
        let match = try #require(cacheControl.firstMatch(of: /max-age=(\d+)/))
        let maxAge = try #require(Int(match.output.1))
        #expect(cacheControl.hasPrefix("public") && maxAge <= 300)
        let tag = try #require(answer.header("ETag"))
        #expect(tag.hasPrefix("\"") && tag.hasSuffix("\"") && !tag.hasPrefix("W/"))
        for condition in [tag, "W/\(tag)", "*", "\"other\", \(tag)"] {
            let unchanged = try daemon.get("/.well-known/jwks.json", headers: [("If-None-Match", condition)])
            #expect(unchanged.status == 304, "\(condition)")
            #expect(unchanged.header("ETag") == tag && unchanged.body.isEmpty)
        }
        #expect(try daemon.get("/.well-known/jwks.json", headers: [("If-None-Match", "\"other\"")]).status == 200)
        #expect(try sendRequest(port: daemon.port, method: "POST", target: "/.well-known/jwks.json").status == 405)
    }

    /// An ES256 key in the ring is published, and PyJWT's `PyJWKClient` verifies a token it signed by
    /// fetching the set over HTTP; `/auth` accepts the same token.
    @Test func servicesBehindTheProxyVerifyThroughTheSet() throws {
        let es = try ECDSAKey.generate(id: "es-1")
        let daemon = try TestDaemon(configure: { configuration in
            configuration.keyring = try! KeyRing(signingKey: configuration.keyring.signingKey, verificationKeys: [es])
        })
        let now = Date()
        let token = try TokenSigner(key: es).sign(
            AccessTokenClaims(subject: "johndoe", scopes: ["me", "items"], issuedAt: now, expiresAt: now + 600, tokenID: "j1"))
        let subject = try runPython(
            """
            import jwt, sys
            client = jwt.PyJWKClient(sys.argv[1])
            key = client.get_signing_key_from_jwt(sys.argv[2])
            print(jwt.decode(sys.argv[2], key.key, algorithms=["ES256"])["sub"], key.key_id)
            """, arguments: ["http://127.0.0.1:\(daemon.port)/.well-known/jwks.json", token])
        #expect(subject == "johndoe es-1")
        #expect(try daemon.auth("/users/me/items/", token: token).status == 200)
    }
}
