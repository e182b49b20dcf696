import Foundation
import Testing
@testable import ScopeGateCore

/// A key type from outside the JOSE folder: the signer and verifier must take it as it is, which is what
/// makes a new key type one new file.
private struct ChecksumKey: JWSKey {
    let id: String?
    var algorithm: JWSAlgorithm { JWSAlgorithm(rawValue: "X-CHECKSUM") }
    var publicJWK: JSONValue? { .object(["kty": .string("test"), "kid": .string(id ?? "")]) }

    func sign(_ input: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8] {
        [input.reduce(UInt8(0)) { $0 &+ $1 }, UInt8(truncatingIfNeeded: input.count)]
    }

    func verify(_ signature: [UInt8], signs input: ArraySlice<UInt8>) throws(CryptoError) -> Bool {
        try signature == sign(input)
    }
}

@Suite struct KeyRingTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func kidSelectsTheKeyAndNoKidSelectsTheSigningKey() throws {
        let signing = try HMACKey(hs256Secret: Array(seedSecret.utf8), id: "a")
        let other = try HMACKey(hs256Secret: [UInt8](repeating: 9, count: 40), id: "b")
        let ring = try KeyRing(signingKey: signing, verificationKeys: [other])
        #expect(ring.key(forID: nil)?.id == "a")
        #expect(ring.key(forID: "a")?.id == "a")
        #expect(ring.key(forID: "b")?.id == "b")
        #expect(ring.key(forID: "c") == nil)
        #expect(ring.keys.map(\.id) == ["a", "b"])
    }

    @Test func secretKeysAreNeverPublished() throws {
        let ring = try KeyRing(signingKey: HMACKey(hs256Secret: Array(seedSecret.utf8), id: "a"))
        #expect(ring.jwks == .object(["keys": .array([])]))
    }

    @Test func aKeyTypeOfItsOwnSignsAndVerifiesThroughTheRing() throws {
        let ring = try KeyRing(
            signingKey: ChecksumKey(id: "c1"),
            verificationKeys: [HMACKey(hs256Secret: Array(seedSecret.utf8), id: "h1")])
        let claims = AccessTokenClaims(subject: "bob", scopes: ["me"], issuedAt: now, expiresAt: now + 60, tokenID: "t")
        let token = try TokenSigner(key: ring.signingKey).sign(claims)
        let header = try #require(Base64URL.decode(String(token.split(separator: ".")[0])))
        #expect(String(decoding: header, as: UTF8.self) == #"{"alg":"X-CHECKSUM","kid":"c1","typ":"JWT"}"#)
        let verified = try TokenVerifier(keyring: ring).verify(token, now: now)
        #expect(verified.subject == "bob" && verified.keyID == "c1")
        // The key pins its algorithm: the same token claiming HS256 for key c1 is refused.
        let relabelled = try TokenSigner(key: ChecksumKey(id: "c1"))
            .sign(header: Array(#"{"alg":"HS256","kid":"c1"}"#.utf8), payload: claims.json)
        #expect(throws: TokenError.unsupportedAlgorithm("HS256")) { try TokenVerifier(keyring: ring).verify(relabelled, now: now) }
        #expect(ring.jwks == .object(["keys": .array([.object(["kty": .string("test"), "kid": .string("c1")])])]))
    }
}
