import Foundation
import Testing
@testable import ScopeGateCore

@Suite struct PasswordHasherTests {
    let hasher: PasswordHasher

    init() throws {
        hasher = try PasswordHasher(cost: 12)
    }

    @Test func seedHashesVerify() {
        #expect(hasher.verify("secret", against: seedHash))
        #expect(!hasher.verify("Secret", against: seedHash))
        #expect(!hasher.verify("", against: seedHash))
        #expect(hasher.verify("secretalice", against: aliceHash))
    }

    @Test(arguments: [
        "$2a$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO",
        "$2y$05$EixZaYVK1fsbw1ZfbX3OXeBq3U5o44WJZ9mFBxf2BanarY8j.j8KW",
        "$2b$10$EixZaYVK1fsbw1ZfbX3OXeCBc1Lzf5B2Hc9C1.0/lB92/uQG04v/a",
        // `openssl passwd -6 -salt scopegatesalt secret`
        "$6$scopegatesalt$wjMoiUhCVG9MDyJWfYzSVEYzA/nM5Rh1OUgEpjy6zLYAP2v.HQZ5We47TP.9oTBg/3U1R9QcP6HJbHNudkc3I.",
        "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$GmcwIgvdUC9qLWcKCi6gklUa1dM3ziD43YxYNURLKy0",
    ])
    func otherSchemesVerifyAndNeedRehash(hash: String) throws {
        #expect(hasher.verify("secret", against: hash))
        #expect(!hasher.verify("secreT", against: hash))
        #expect(hasher.needsRehash(hash))
        try PasswordHasher.validate(hash: hash)
    }

    @Test func preferredHashesDoNotNeedRehash() throws {
        #expect(!hasher.needsRehash(seedHash))
        #expect(try PasswordHasher(cost: 10).needsRehash(seedHash))
    }

    @Test func hashesWithFreshSaltsAtTheConfiguredCost() throws {
        let fast = try PasswordHasher(cost: 4)
        let first = try fast.hash("correct horse")
        let second = try fast.hash("correct horse")
        #expect(first.hasPrefix("$2b$04$"))
        #expect(first.count == 60)
        #expect(first != second)
        #expect(fast.verify("correct horse", against: first))
        #expect(fast.verify("correct horse", against: second))
        #expect(!fast.verify("correct horse ", against: first))
    }

    @Test func passwordsPastBcrypts72BytesNeverVerify() throws {
        let fast = try PasswordHasher(cost: 4)
        let seventyTwo = String(repeating: "a", count: 72)
        let stored = try fast.hash(seventyTwo)
        #expect(fast.verify(seventyTwo, against: stored))
        // libcrypt alone would accept this: bcrypt never reads the 73rd byte.
        #expect(!fast.verify(seventyTwo + "b", against: stored))
        #expect(throws: PasswordHashError.passwordTooLong(bytes: 73, limit: 72)) { try fast.hash(seventyTwo + "b") }
        let multibyte = String(repeating: "é", count: 37)
        let error = #expect(throws: PasswordHashError.self) { try fast.hash(multibyte) }
        #expect(error?.description == "the password is 74 bytes long; bcrypt reads only the first 72, so it is refused")
    }

    @Test func nulBytesAndUnknownSchemesNeverVerify() throws {
        #expect(!hasher.verify("secret\u{0}x", against: seedHash))
        #expect(throws: PasswordHashError.passwordContainsNUL) { try hasher.hash("a\u{0}b") }
        #expect(!hasher.verify("secret", against: "secret"))
        #expect(!hasher.verify("secret", against: "$1$abc$def"))
        #expect(!hasher.verify("secret", against: "$2b$12$tooShort"))
        #expect(!hasher.verify("secret", against: ""))
    }

    @Test(arguments: [
        (
            "$1$salt$hash",
            "unsupported password hash scheme \"$1$\"; expected one of $2b$, $2a$, $2y$ (bcrypt), $y$ (yescrypt), $6$ (sha512crypt), pbkdf2_sha256$ (Django), pbkdf2:sha256: (Werkzeug)"
        ),
        (
            "plaintext",
            "unsupported password hash scheme \"\"; expected one of $2b$, $2a$, $2y$ (bcrypt), $y$ (yescrypt), $6$ (sha512crypt), pbkdf2_sha256$ (Django), pbkdf2:sha256: (Werkzeug)"
        ),
        ("$2b$12$short", "malformed password hash: a bcrypt hash is $2b$, a two-digit cost, $ and 53 characters"),
        ("$2b$03$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW", "bcrypt cost 3 is out of range; expected 4 to 31"),
        ("$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31l!", "malformed password hash: unexpected characters or length"),
    ])
    func validatesStoredHashes(hash: String, message: String) {
        let error = #expect(throws: PasswordHashError.self) { try PasswordHasher.validate(hash: hash) }
        #expect(error?.description == message)
    }

    @Test func refusesCostsOutOfRange() {
        #expect(throws: PasswordHashError.invalidCost(3)) { try PasswordHasher(cost: 3) }
        #expect(throws: PasswordHashError.invalidCost(32)) { try PasswordHasher(cost: 32) }
    }

    @Test func unknownUsersCostWhatWrongPasswordsCost() throws {
        // Compared with a tolerance, on medians, at a cost where one check takes tens of milliseconds.
        let moderate = try PasswordHasher(cost: 8)
        let stored = try moderate.hash("right")
        func median(_ work: () -> Void) -> Double {
            var samples: [Double] = []
            for _ in 0..<7 {
                let start = ContinuousClock.now
                work()
                let elapsed = ContinuousClock.now - start
                samples.append(Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds))
            }
            return samples.sorted()[3]
        }
        let wrong = median { _ = moderate.verify("wrong", against: stored) }
        let dummy = median { moderate.verifyDummy("wrong") }
        let ratio = dummy / wrong
        #expect(ratio > 0.6 && ratio < 1.6, "dummy/real verification time ratio \(ratio)")
    }
}
