import Foundation
import Testing
import ScopeGateTesting
@testable import ScopeGateCore

@Suite struct TokenVerifierTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let verifier: TokenVerifier

    init() throws {
        verifier = TokenVerifier(keyring: try seedKeyRing())
    }

    func claims(_ extra: String = #""scopes":["me","items"]"#, exp: Int = 1_800_000_600) -> String {
        #"{"sub":"johndoe","exp":\#(exp)\#(extra.isEmpty ? "" : ",")\#(extra)}"#
    }

    @Test func rfc7515AppendixA1() throws {
        let token =
            "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
            + ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
            + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        let key = Base64URL.decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")!
        let parts = token.split(separator: ".")
        let signingInput = Array("\(parts[0]).\(parts[1])".utf8)
        #expect(try HMACSHA256(key: key).authenticationCode(for: signingInput[...]) == Base64URL.decode(String(parts[2])))
        // The signature verifies; the example has no "sub", which an access token must have.
        let rfcVerifier = TokenVerifier(keyring: try KeyRing(signingKey: HMACKey(hs256Secret: key)))
        #expect(throws: TokenError.missingClaim("sub")) {
            try rfcVerifier.verify(token, now: Date(timeIntervalSince1970: 1_300_819_379))
        }
        #expect(throws: TokenError.badSignature) { try verifier.verify(token, now: Date(timeIntervalSince1970: 1_300_819_379)) }
    }

    @Test func seedExampleToken() throws {
        let token =
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        // It is signed with jwt.io's sample secret, 19 bytes: correct HMAC, but too short a key to configure.
        let parts = token.split(separator: ".")
        let mac = try HMACSHA256(key: Array("your-256-bit-secret".utf8))
        #expect(try mac.authenticationCode(for: Array("\(parts[0]).\(parts[1])".utf8)[...]) == Base64URL.decode(String(parts[2])))
        #expect(throws: KeyError.tooShort(length: 19, minimum: 32)) { try HMACKey(hs256Secret: Array("your-256-bit-secret".utf8)) }
        #expect(throws: TokenError.badSignature) { try verifier.verify(token, now: now) }
    }

    @Test func acceptsAWellFormedToken() throws {
        let token = try makeToken(claims: claims(#""scopes":["me","items","me"],"iat":1799999990,"nbf":1799999990,"jti":"abc""#))
        let verified = try verifier.verify(token, now: now)
        #expect(verified.subject == "johndoe")
        #expect(verified.scopes == ["me", "items"])
        #expect(verified.expiresAt == Date(timeIntervalSince1970: 1_800_000_600))
        #expect(verified.issuedAt == Date(timeIntervalSince1970: 1_799_999_990))
        #expect(verified.tokenID == "abc")
    }

    @Test func acceptsRFC9068ScopeString() throws {
        let token = try makeToken(header: #"{"alg":"HS256","typ":"at+jwt"}"#, claims: claims(#""scope":"me items""#))
        #expect(try verifier.verify(token, now: now).scopes == ["me", "items"])
        let none = try makeToken(claims: claims(""))
        #expect(try verifier.verify(none, now: now).scopes == [])
    }

    @Test func signedTokensRoundTrip() throws {
        let signer = TokenSigner(key: try seedKeyRing().signingKey)
        let claims = AccessTokenClaims(subject: "jöhn", scopes: ["me"], issuedAt: now, expiresAt: now + 1800, tokenID: "id1")
        let token = try signer.sign(claims)
        #expect(token.hasPrefix("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."))
        let verified = try verifier.verify(token, now: now)
        #expect(verified.subject == "jöhn")
        #expect(verified.scopes == ["me"])
        #expect(verified.tokenID == "id1")
    }

    // MARK: - refusals

    @Test(arguments: ["none", "None", "NONE", "HS384", "HS512", "RS256", "ES256", "hs256", ""])
    func refusesEveryOtherAlgorithm(alg: String) throws {
        let header = #"{"alg":"\#(alg)","typ":"JWT"}"#
        let signed = try makeToken(header: header, claims: claims())
        #expect(throws: TokenError.unsupportedAlgorithm(alg)) { try verifier.verify(signed, now: now) }
        let unsigned = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims().utf8)) + "."
        #expect(throws: TokenError.self) { try verifier.verify(unsigned, now: now) }
    }

    @Test func refusesHS256SignedWithAPublicKeyPEM() throws {
        // Algorithm confusion: an attacker signs with a public key's text as the HMAC secret.
        let pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
        let token = try makeToken(claims: claims(), secret: pem)
        #expect(throws: TokenError.badSignature) { try verifier.verify(token, now: now) }
    }

    @Test(arguments: [
        (#"{"alg":"HS256","crit":["exp"]}"#, TokenError.criticalExtension(["exp"])),
        (#"{"alg":"HS256","jwk":{"kty":"oct","k":"AAAA"}}"#, TokenError.unsupportedHeader("jwk")),
        (#"{"alg":"HS256","jku":"http://attacker/keys"}"#, TokenError.unsupportedHeader("jku")),
        (#"{"alg":"HS256","x5u":"http://attacker/cert"}"#, TokenError.unsupportedHeader("x5u")),
        (#"{"alg":"HS256","kid":"../../dev/null"}"#, TokenError.unknownKey(kid: "../../dev/null")),
        (#"{"alg":"HS256","kid":7}"#, TokenError.malformed("header \"kid\" is not a string")),
        (#"{"alg":"HS256","typ":"JWE"}"#, TokenError.malformed("header \"typ\" is not JWT or at+jwt")),
        (#"{"typ":"JWT"}"#, TokenError.malformed("header has no \"alg\"")),
        (#"{"alg":["HS256"]}"#, TokenError.malformed("header \"alg\" is not a string")),
        (#"{"alg":"HS256","alg":"none"}"#, TokenError.malformed("header is not valid JSON: duplicate member \"alg\"")),
        (#"["HS256"]"#, TokenError.malformed("header is not a JSON object")),
    ])
    func refusesHostileHeaders(header: String, expected: TokenError) throws {
        let token = try makeToken(header: header, claims: claims())
        #expect(throws: expected) { try verifier.verify(token, now: now) }
    }

    @Test func kidSelectsOnlyAmongConfiguredKeys() throws {
        let second = try HMACKey(hs256Secret: [UInt8](repeating: 7, count: 32), id: "k2")
        let keyring = try KeyRing(signingKey: HMACKey(hs256Secret: Array(seedSecret.utf8), id: "k1"), verificationKeys: [second])
        let multi = TokenVerifier(keyring: keyring)
        let k2Token = try TokenSigner(key: second).sign(header: Array(#"{"alg":"HS256","kid":"k2"}"#.utf8), payload: Array(claims().utf8))
        #expect(try multi.verify(k2Token, now: now).keyID == "k2")
        // The same token naming k1 is checked with k1 only, and fails.
        let relabelled = try TokenSigner(key: second).sign(header: Array(#"{"alg":"HS256","kid":"k1"}"#.utf8), payload: Array(claims().utf8))
        #expect(throws: TokenError.badSignature) { try multi.verify(relabelled, now: now) }
        #expect(throws: KeyError.duplicateKeyID("k2")) { try KeyRing(signingKey: second, verificationKeys: [second]) }
        #expect(throws: KeyError.missingKeyID) { try KeyRing(signingKey: second, verificationKeys: [HMACKey(hs256Secret: Array(seedSecret.utf8))]) }
    }

    @Test func refusesWrongShapes() throws {
        let good = try makeToken(claims: claims())
        let parts = good.split(separator: ".").map(String.init)
        let cases: [String] = [
            parts[0] + "." + parts[1],
            good + ".x",
            good + "=",
            parts[0] + "=." + parts[1] + "." + parts[2],
            " " + good,
            good + "\n",
            parts[0] + ".." + parts[2],
            "." + parts[1] + "." + parts[2],
            "",
        ]
        for token in cases {
            #expect(throws: TokenError.self, "\(token.count)") { try verifier.verify(token, now: now) }
        }
    }

    @Test func refusesTamperedAndSplicedSignatures() throws {
        let good = try makeToken(claims: claims())
        let other = try makeToken(claims: claims(#""scopes":["admin"]"#))
        let parts = good.split(separator: ".").map(String.init)
        let otherParts = other.split(separator: ".").map(String.init)
        #expect(throws: TokenError.badSignature) { try verifier.verify(parts[0] + "." + otherParts[1] + "." + parts[2], now: now) }
        var flipped = Array(parts[2].utf8)
        flipped[3] = flipped[3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(throws: TokenError.badSignature) { try verifier.verify(parts[0] + "." + parts[1] + "." + String(decoding: flipped, as: UTF8.self), now: now) }
        // A truncated signature is refused, not compared on its prefix.
        #expect(throws: TokenError.badSignature) { try verifier.verify(parts[0] + "." + parts[1] + "." + String(parts[2].prefix(40)), now: now) }
    }

    @Test func refusesHugeTokensBeforeDecoding() throws {
        let huge = String(repeating: "A", count: 8193)
        #expect(throws: TokenError.tooLarge(length: 8193, limit: 8192)) { try verifier.verify(huge, now: now) }
        let nested = try makeToken(claims: #"{"sub":"a","exp":1800000600,"x":"# + String(repeating: "[", count: 500) + String(repeating: "]", count: 500) + "}")
        #expect(throws: TokenError.malformed("payload is not valid JSON: JSON nested deeper than 16 levels")) { try verifier.verify(nested, now: now) }
    }

    @Test(arguments: [
        (#"{"exp":1800000600}"#, TokenError.missingClaim("sub")),
        (#"{"sub":42,"exp":1800000600}"#, TokenError.invalidClaim("sub", reason: "is a number, not a string")),
        (#"{"sub":null,"exp":1800000600}"#, TokenError.invalidClaim("sub", reason: "is a null, not a string")),
        (#"{"sub":"a\r\nX-Auth-User: root","exp":1800000600}"#, TokenError.invalidClaim("sub", reason: "is empty or contains control characters")),
        (#"{"sub":"","exp":1800000600}"#, TokenError.invalidClaim("sub", reason: "is empty or contains control characters")),
        (#"{"sub":"a"}"#, TokenError.missingClaim("exp")),
        (#"{"sub":"a","exp":"1800000600"}"#, TokenError.invalidClaim("exp", reason: "is a string, not a NumericDate")),
        (#"{"sub":"a","exp":1e300}"#, TokenError.invalidClaim("exp", reason: "is out of range")),
        (#"{"sub":"a","exp":-1e300}"#, TokenError.invalidClaim("exp", reason: "is out of range")),
        (#"{"sub":"a","exp":1800000600,"nbf":true}"#, TokenError.invalidClaim("nbf", reason: "is a boolean, not a NumericDate")),
        (#"{"sub":"a","exp":1800000600,"scopes":"me items"}"#, TokenError.invalidClaim("scopes", reason: "is a string, not a list of strings")),
        (#"{"sub":"a","exp":1800000600,"scopes":["me",1]}"#, TokenError.invalidClaim("scopes", reason: "contains a number, not only strings")),
        (#"{"sub":"a","exp":1800000600,"scopes":{"me":true}}"#, TokenError.invalidClaim("scopes", reason: "is a object, not a list of strings")),
        (
            #"{"sub":"a","exp":1800000600,"scopes":["me items"]}"#,
            TokenError.invalidClaim("scopes", reason: "contains \"me items\", which is not a valid scope")
        ),
        (#"{"sub":"a","exp":1800000600,"scope":["me"]}"#, TokenError.invalidClaim("scope", reason: "is a array, not a string")),
        (#"{"sub":"a","exp":1800000600,"scope":"me  items"}"#, TokenError.invalidClaim("scope", reason: "contains \"\", which is not a valid scope")),
        (#"{"sub":"a","exp":1800000600,"scope":"admin","scopes":["me"]}"#, TokenError.invalidClaim("scope", reason: "disagrees with claim \"scopes\"")),
        (#"{"sub":"a","exp":1800000600,"jti":5}"#, TokenError.invalidClaim("jti", reason: "is a number, not a string")),
        (#"{"sub":"a","exp":1800000600,"aud":5}"#, TokenError.invalidClaim("aud", reason: "is a number, not a string or a list of strings")),
        (#"{"sub":"a","exp":1800000600,"aud":["x",1]}"#, TokenError.invalidClaim("aud", reason: "contains a number, not only strings")),
        (#"{"sub":"a","exp":1800000600,"iss":true}"#, TokenError.invalidClaim("iss", reason: "is a boolean, not a string")),
        (#"{"sub":"a","sub":"root","exp":1800000600}"#, TokenError.malformed("payload is not valid JSON: duplicate member \"sub\"")),
    ])
    func refusesMalformedClaims(payload: String, expected: TokenError) throws {
        let token = try makeToken(claims: payload)
        #expect(throws: expected) { try verifier.verify(token, now: now) }
    }

    @Test func enforcesTimeClaimsWithExplicitLeeway() throws {
        let expired = try makeToken(claims: claims(exp: 1_800_000_000))
        #expect(throws: TokenError.expired(at: now, now: now)) { try verifier.verify(expired, now: now) }
        let lenient = TokenVerifier(keyring: verifier.keyring, options: VerificationOptions(leeway: 30))
        _ = try lenient.verify(expired, now: now)
        #expect(throws: TokenError.self) { try lenient.verify(expired, now: now + 30) }

        let early = try makeToken(claims: claims(#""nbf":1800000010"#))
        #expect(throws: TokenError.notYetValid(at: now + 10, now: now)) { try verifier.verify(early, now: now) }
        _ = try lenient.verify(early, now: now)

        let future = try makeToken(claims: claims(#""iat":1800000100"#))
        #expect(throws: TokenError.issuedInFuture(at: now + 100, now: now)) { try verifier.verify(future, now: now) }
    }

    @Test func checksIssuerAndAudienceWhenConfigured() throws {
        let strict = TokenVerifier(keyring: verifier.keyring, options: VerificationOptions(issuer: "scopegate", audience: "api"))
        let good = try makeToken(claims: claims(#""iss":"scopegate","aud":["web","api"]"#))
        _ = try strict.verify(good, now: now)
        #expect(throws: TokenError.wrongIssuer) { try strict.verify(try makeToken(claims: claims(#""aud":"api""#)), now: now) }
        #expect(throws: TokenError.wrongAudience) { try strict.verify(try makeToken(claims: claims(#""iss":"scopegate","aud":"web""#)), now: now) }
    }

    @Test func errorMessagesNeverContainTheToken() throws {
        let token = try makeToken(claims: claims(exp: 1))
        let error = #expect(throws: TokenError.self) { try verifier.verify(token, now: now) }
        let description = try #require(error?.description)
        for part in token.split(separator: ".") { #expect(!description.contains(part)) }
        #expect(description == "token expired at 1970-01-01T00:00:01Z (now 2027-01-15T08:00:00Z)")
    }

    // MARK: - PyJWT interoperability

    @Test func verifiesTokensMintedByPyJWT() throws {
        let token = try runPython(
            """
            import jwt, sys
            print(jwt.encode({"sub": "johndoe", "scopes": ["me", "items"], "exp": 1800000600}, sys.argv[1], algorithm="HS256"))
            """, arguments: [seedSecret])
        let verified = try verifier.verify(token, now: now)
        #expect(verified.subject == "johndoe")
        #expect(verified.scopes == ["me", "items"])
    }

    @Test func pyJWTVerifiesTokensScopeGateSigns() throws {
        let signer = TokenSigner(key: try seedKeyRing().signingKey)
        let issued = Date()
        let token = try signer.sign(
            AccessTokenClaims(
                subject: "johndoe", scopes: ["me", "items"], issuedAt: issued,
                expiresAt: issued + 1800, tokenID: "t1"))
        let decoded = try runPython(
            """
            import jwt, sys, json
            claims = jwt.decode(sys.argv[2], sys.argv[1], algorithms=["HS256"])
            print(json.dumps([claims["sub"], claims["scopes"], claims["jti"], claims["exp"] - claims["iat"]]))
            """, arguments: [seedSecret, token])
        #expect(decoded == #"["johndoe", ["me", "items"], "t1", 1800]"#)
    }
}
