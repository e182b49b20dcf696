import Foundation
import ScopeGateCore
import Testing

@testable import ScopeGateApp

/// The memory of verified client secrets: what it keeps, for how long, and what ends it.
@Suite struct ClientSecretMemoryTests {
    let hash = ClientSecretHash(try! ClientSecretHash.hash("secret", rounds: 1_000))!
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func client(_ hashes: [ClientSecretHash]) -> ClientRecord {
        ClientRecord(id: "w", secretHashes: hashes, grantTypes: [.clientCredentials], scopes: ["a"])
    }

    @Test func aPairIsKeptWhileItIsUsedAndForgottenWhenIdle() {
        let memory = ClientSecretMemory(lifetime: 300)
        let record = client([hash])
        #expect(!memory.remembers("w", "secret", for: record, now: start))
        memory.remember("w", "secret", hash: hash, now: start)
        #expect(memory.remembers("w", "secret", for: record, now: start + 200))
        // Used at +200, so kept to +500: a busy client never goes back to the hash.
        #expect(memory.remembers("w", "secret", for: record, now: start + 450))
        #expect(!memory.remembers("w", "secret", for: record, now: start + 450 + 301))
        // Another secret, or the same secret under another id, is not the remembered pair.
        memory.remember("w", "secret", hash: hash, now: start)
        #expect(!memory.remembers("w", "secret2", for: record, now: start + 1))
        #expect(!memory.remembers("v", "secret", for: client([hash]), now: start + 1))
    }

    @Test func removingTheHashThatAcceptedAPairEndsIt() {
        let memory = ClientSecretMemory(lifetime: 300)
        memory.remember("w", "secret", hash: hash, now: start)
        let other = ClientSecretHash(try! ClientSecretHash.hash("other", rounds: 1_000))!
        #expect(memory.remembers("w", "secret", for: client([other, hash]), now: start + 1))
        #expect(!memory.remembers("w", "secret", for: client([other]), now: start + 2))
    }
}
