import Foundation
import ScopeGateTesting
import Testing

@testable import ScopeGateCore

/// One asymmetric algorithm under test: how to make a key, and how PyJWT names it.
struct AsymmetricCase: Sendable, CustomStringConvertible {
    let algorithm: JWSAlgorithm
    let generate: @Sendable () throws -> any JWSKey
    let fromPEM: @Sendable ([UInt8]) throws -> any JWSKey
    let privatePEM: @Sendable (any JWSKey) throws -> [UInt8]

    var description: String { algorithm.rawValue }

    static let all: [AsymmetricCase] = [
        AsymmetricCase(
            algorithm: .es256, generate: { try ECDSAKey.generate() }, fromPEM: { try ECDSAKey(pem: $0) },
            privatePEM: { try ($0 as! ECDSAKey).privateKeyPEM() }),
        AsymmetricCase(
            algorithm: .rs256, generate: { try RSAKey.generate(algorithm: .rs256) }, fromPEM: { try RSAKey(pem: $0, algorithm: .rs256) },
            privatePEM: { try ($0 as! RSAKey).privateKeyPEM() }),
        AsymmetricCase(
            algorithm: .ps256, generate: { try RSAKey.generate(algorithm: .ps256) }, fromPEM: { try RSAKey(pem: $0, algorithm: .ps256) },
            privatePEM: { try ($0 as! RSAKey).privateKeyPEM() }),
        AsymmetricCase(
            algorithm: .edDSA, generate: { try Ed25519Key.generate() }, fromPEM: { try Ed25519Key(pem: $0) },
            privatePEM: { try ($0 as! Ed25519Key).privateKeyPEM() }),
    ]
}

@Suite struct AsymmetricKeyTests {
    let now = Date()

    func claims(_ subject: String = "bob") -> AccessTokenClaims {
        AccessTokenClaims(subject: subject, scopes: ["me"], issuedAt: now, expiresAt: now + 600, tokenID: "t-\(subject)")
    }

    /// RFC 7638 §3.1: the thumbprint of the example RSA key.
    @Test func thumbprintMatchesRFC7638() {
        let n =
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        let jwk = PublicJWK(required: ["kty": .string("RSA"), "n": .string(n), "e": .string("AQAB")])
        #expect(jwk.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test(arguments: AsymmetricCase.all)
    func signsAndVerifiesAndPublishesOnlyThePublicHalf(algorithm: AsymmetricCase) throws {
        let key = try algorithm.generate()
        let ring = try KeyRing(signingKey: key)
        let token = try TokenSigner(key: key).sign(claims())
        let verified = try TokenVerifier(keyring: ring).verify(token, now: now)
        #expect(verified.subject == "bob" && verified.keyID == key.id)
        let jwk = try #require(key.publicJWK)
        guard case .object(let members) = jwk else { Issue.record("JWK is not an object"); return }
        #expect(members["kid"] == .string(key.id!) && members["use"] == .string("sig") && members["alg"] == .string(algorithm.algorithm.rawValue))
        for secret in ["d", "p", "q", "dp", "dq", "qi", "k"] { #expect(members[secret] == nil, "\(secret)") }
        #expect(ring.jwks == .object(["keys": .array([jwk])]))
        // Tampering with the payload breaks the signature.
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = Base64URL.encode(Array(#"{"sub":"mallory","exp":9999999999}"#.utf8))
        #expect(throws: TokenError.badSignature) { try TokenVerifier(keyring: ring).verify(parts.joined(separator: "."), now: now) }
    }

    /// PyJWT (with `cryptography`) verifies ScopeGate's tokens with the public JWK, and ScopeGate verifies
    /// PyJWT's with the same private key's PEM.
    @Test(arguments: AsymmetricCase.all)
    func interoperatesWithPyJWT(algorithm: AsymmetricCase) throws {
        let key = try algorithm.generate()
        let pem = String(decoding: try algorithm.privatePEM(key), as: UTF8.self)
        var writer = JSONWriter()
        writer.value(try #require(key.publicJWK))
        let jwk = String(decoding: writer.bytes, as: UTF8.self)
        let token = try TokenSigner(key: key).sign(claims())
        let decoded = try runPython(
            """
            import jwt, sys, json
            key = jwt.PyJWK(json.loads(sys.argv[1]))
            claims = jwt.decode(sys.argv[2], key.key, algorithms=[sys.argv[3]])
            header = jwt.get_unverified_header(sys.argv[2])
            print(claims["sub"], header["kid"])
            minted = jwt.encode({"sub": "carol", "exp": 4102444800}, sys.argv[4], algorithm=sys.argv[3], headers={"kid": header["kid"]})
            print(minted)
            """, arguments: [jwk, token, algorithm.algorithm.rawValue, pem])
        let lines = decoded.split(separator: "\n").map(String.init)
        #expect(lines.first == "bob \(key.id!)")
        let reloaded = try algorithm.fromPEM(Array(pem.utf8))
        #expect(reloaded.id == key.id)
        let theirs = try TokenVerifier(keyring: KeyRing(signingKey: reloaded)).verify(try #require(lines.last), now: now)
        #expect(theirs.subject == "carol")
    }

    @Test func es256SignaturesAreRawRAndSNeverDER() throws {
        let key = try ECDSAKey.generate()
        let ring = try KeyRing(signingKey: key)
        let token = try TokenSigner(key: key).sign(claims())
        var parts = token.split(separator: ".").map(String.init)
        let raw = try #require(Base64URL.decode(parts[2]))
        #expect(raw.count == 64)
        let der = try #require(ECDSAKey.der(fromRaw: raw))
        parts[2] = Base64URL.encode(der)
        #expect(throws: TokenError.badSignature) { try TokenVerifier(keyring: ring).verify(parts.joined(separator: "."), now: now) }
    }

    /// s → n − s is a second valid signature of the same token: it verifies, to the same claims.
    @Test func malleatedECDSASignaturesVerifyToTheSameIdentity() throws {
        let key = try ECDSAKey.generate()
        let ring = try KeyRing(signingKey: key)
        let token = try TokenSigner(key: key).sign(claims())
        var parts = token.split(separator: ".").map(String.init)
        let raw = try #require(Base64URL.decode(parts[2]))
        parts[2] = Base64URL.encode(Array(raw[..<32]) + P256VerifierTests.negated(raw[32...]))
        let malleated = parts.joined(separator: ".")
        #expect(malleated != token)
        let verified = try TokenVerifier(keyring: ring).verify(malleated, now: now)
        let original = try TokenVerifier(keyring: ring).verify(token, now: now)
        #expect(verified.subject == original.subject && verified.tokenID == original.tokenID)
    }

    @Test func theKeyPinsTheAlgorithm() throws {
        let es = try ECDSAKey.generate(id: "k1")
        let ring = try KeyRing(signingKey: es)
        let payload = claims().json
        for alg in ["RS256", "PS256", "HS256", "EdDSA", "none", "ES384"] {
            let header = Array(#"{"alg":"\#(alg)","kid":"k1"}"#.utf8)
            let token = try TokenSigner(key: es).sign(header: header, payload: payload)
            #expect(throws: TokenError.unsupportedAlgorithm(alg)) { try TokenVerifier(keyring: ring).verify(token, now: now) }
        }
        // An RS256 key does not verify PS256 signatures made with the same RSA key, and the reverse.
        let rsa = try RSAKey.generate(algorithm: .rs256, id: "r")
        let pss = try RSAKey(pem: rsa.privateKeyPEM(), algorithm: .ps256, id: "r")
        let signedPSS = try TokenSigner(key: pss).sign(header: Array(#"{"alg":"RS256","kid":"r"}"#.utf8), payload: payload)
        #expect(throws: TokenError.badSignature) { try TokenVerifier(keyring: KeyRing(signingKey: rsa)).verify(signedPSS, now: now) }
        // Ed25519 keys take both names.
        let ed = try Ed25519Key.generate(id: "e")
        let fullySpecified = try TokenSigner(key: ed).sign(header: Array(#"{"alg":"Ed25519","kid":"e"}"#.utf8), payload: payload)
        #expect(try TokenVerifier(keyring: KeyRing(signingKey: ed)).verify(fullySpecified, now: now).keyID == "e")
    }

    @Test func refusesUnsuitableKeys() throws {
        #expect(throws: KeyError.rsaKeyTooSmall(bits: 1024)) { try RSAKey(key: PKey.generate(type: "RSA", rsaBits: 1024), algorithm: .rs256, id: nil) }
        let ec = try ECDSAKey.generate().privateKeyPEM()
        #expect(throws: KeyError.wrongKeyType(algorithm: "RS256", expected: "an RSA")) { try RSAKey(pem: ec, algorithm: .rs256) }
        #expect(throws: KeyError.wrongKeyType(algorithm: "EdDSA", expected: "an Ed25519")) { try Ed25519Key(pem: ec) }
        let p384 = try PKey.generate(type: "EC", group: "P-384")
        #expect(throws: KeyError.wrongCurve(algorithm: "ES256", curve: "secp384r1")) { try ECDSAKey(key: p384, id: nil) }
        #expect(throws: KeyError.unreadableKey("not a PEM public key")) { try ECDSAKey(pem: Array("not a key".utf8)) }
    }

    @Test func aPublicKeyVerifiesButCannotSign() throws {
        let key = try ECDSAKey.generate()
        let publicOnly = try ECDSAKey(pem: try PKey.privateKey(pem: key.privateKeyPEM()).publicKeyPEM())
        #expect(publicOnly.id == key.id)
        let token = try TokenSigner(key: key).sign(claims())
        #expect(try TokenVerifier(keyring: KeyRing(signingKey: publicOnly)).verify(token, now: now).subject == "bob")
        #expect(throws: CryptoError.self) { try TokenSigner(key: publicOnly).sign(claims()) }
    }
}
