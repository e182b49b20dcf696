import Foundation
import Testing
@testable import ScopeGateApp
import ScopeGateCore

@Suite struct VerifiedTokenCacheTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func setup() throws -> (TokenVerifier, TokenSigner) {
        let keyring = try KeyRing(signingKey: HMACKey(secretFileContents: Array(DemoConfiguration.secret.utf8)))
        return (TokenVerifier(keyring: keyring), TokenSigner(key: keyring.signingKey))
    }

    @Test func aCachedTokenStillExpires() throws {
        let (verifier, signer) = try setup()
        let cache = VerifiedTokenCache(capacity: 2, leeway: 0, principals: PrincipalDirectories([UserDirectory([])]))
        let token = Array(try signer.sign(AccessTokenClaims(subject: "a", scopes: ["me"], issuedAt: now, expiresAt: now + 60, tokenID: "1")).utf8)
        #expect(try cache.entry(token[...], with: verifier, now: now).token.scopes == ["me"])
        #expect(try cache.entry(token[...], with: verifier, now: now + 59).token.subject == "a")
        #expect(throws: TokenError.expired(at: now + 60, now: now + 60)) { try cache.entry(token[...], with: verifier, now: now + 60) }
    }

    @Test func onlyExactBytesHitAndTheCacheStaysBounded() throws {
        let (verifier, signer) = try setup()
        let cache = VerifiedTokenCache(capacity: 2, leeway: 0, principals: PrincipalDirectories([UserDirectory([])]))
        let token = try signer.sign(AccessTokenClaims(subject: "a", scopes: ["me"], issuedAt: now, expiresAt: now + 60, tokenID: "1"))
        _ = try cache.entry(Array(token.utf8)[...], with: verifier, now: now)
        var tampered = Array(token.utf8)
        tampered[tampered.count - 2] ^= 1
        #expect(throws: TokenError.self) { try cache.entry(tampered[...], with: verifier, now: now) }
        for index in 0..<5 {
            let other = try signer.sign(AccessTokenClaims(subject: "u\(index)", scopes: [], issuedAt: now, expiresAt: now + 60, tokenID: "\(index)"))
            #expect(try cache.entry(Array(other.utf8)[...], with: verifier, now: now).token.subject == "u\(index)")
        }
    }

    @Test func entriesAreResolvedAgainstTheCachesUsers() throws {
        let (verifier, signer) = try setup()
        let users = UserDirectory([UserRecord(username: "a", passwordHash: "x", scopes: ["items", "me"])])
        let cache = VerifiedTokenCache(capacity: 4, leeway: 0, principals: PrincipalDirectories([users]))
        let claims = AccessTokenClaims(subject: "a", scopes: ["me", "admin", "items"], issuedAt: now, expiresAt: now + 60, tokenID: "1")
        let entry = try cache.entry(Array(try signer.sign(claims).utf8)[...], with: verifier, now: now)
        #expect(entry.principal?.subject == "a")
        // Only what the record still allows, in the token's order.
        #expect(entry.effectiveScopes == ["me", "items"])
        let stranger = AccessTokenClaims(subject: "b", scopes: ["me"], issuedAt: now, expiresAt: now + 60, tokenID: "2")
        let unknown = try cache.entry(Array(try signer.sign(stranger).utf8)[...], with: verifier, now: now)
        #expect(unknown.principal == nil && unknown.effectiveScopes.isEmpty)
    }

    @Test func aHitNeedsNoCopyOfTheBytes() throws {
        let (verifier, signer) = try setup()
        let cache = VerifiedTokenCache(capacity: 4, leeway: 0, principals: PrincipalDirectories([UserDirectory([])]))
        let token = Array(try signer.sign(AccessTokenClaims(subject: "a", scopes: [], issuedAt: now, expiresAt: now + 60, tokenID: "1")).utf8)
        // The same token inside a larger buffer (as in a request's header buffer) finds the same entry.
        let buffer = Array("Bearer ".utf8) + token + Array("\r\nX-Other: 1".utf8)
        let first = try cache.entry(token[...], with: verifier, now: now)
        let second = try cache.entry(buffer[7..<(7 + token.count)], with: verifier, now: now)
        #expect(first === second)
    }
}
