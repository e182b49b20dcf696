import Foundation
import ScopeGateApp
import ScopeGateCore
import ScopeGateTesting
import Testing

/// A second JOSE implementation (joserfc) reads the key set and the metadata, and verifies tokens of every
/// algorithm ScopeGate signs with.
@Suite struct JOSEInteropTests {
    @Test func joserfcVerifiesEveryAlgorithmThroughTheSet() throws {
        let keys: [any JWSKey] = [
            try ECDSAKey.generate(id: "es"), try Ed25519Key.generate(id: "ed"), try RSAKey.generate(algorithm: .rs256, id: "rs"),
            try RSAKey.generate(algorithm: .ps256, id: "ps"),
        ]
        let daemon = try TestDaemon(configure: { configuration in
            configuration.issuer = "http://127.0.0.1:8000"
            configuration.keyring = try! KeyRing(signingKey: configuration.keyring.signingKey, verificationKeys: keys)
        })
        let now = Date()
        let tokens = try keys.map { key in
            try TokenSigner(key: key).sign(AccessTokenClaims(subject: "carol", scopes: ["me"], issuedAt: now, expiresAt: now + 600, tokenID: key.id!))
        }
        let output = try runPython(
            """
            import json, sys, urllib.request
            from joserfc import jwt
            from joserfc.jwk import KeySet
            base = sys.argv[1]
            metadata = json.load(urllib.request.urlopen(base + "/.well-known/oauth-authorization-server"))
            assert metadata["jwks_uri"] == "http://127.0.0.1:8000/.well-known/jwks.json", metadata
            key_set = KeySet.import_key_set(json.load(urllib.request.urlopen(base + "/.well-known/jwks.json")))
            for value, alg in zip(sys.argv[2:], ["ES256", "EdDSA", "RS256", "PS256"]):
                token = jwt.decode(value, key_set, algorithms=[alg])
                print(alg, token.header["kid"], token.claims["sub"])
            """, arguments: ["http://127.0.0.1:\(daemon.port)"] + tokens)
        #expect(output == "ES256 es carol\nEdDSA ed carol\nRS256 rs carol\nPS256 ps carol")
    }
}
