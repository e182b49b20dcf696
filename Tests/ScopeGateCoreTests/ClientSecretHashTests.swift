import ScopeGateTesting
import Testing

@testable import ScopeGateCore

/// Client secret hashes: passlib's PBKDF2-SHA256 form, both ways with passlib itself, and bcrypt.
@Suite struct ClientSecretHashTests {
    @Test func aGeneratedSecretVerifiesAndNothingElseDoes() throws {
        let (secret, encoded) = try ClientSecretHash.generate(rounds: 1_000)
        #expect(Base64URL.decode(secret)?.count == 32)
        #expect(encoded.hasPrefix("$pbkdf2-sha256$1000$"))
        let hash = try #require(ClientSecretHash(encoded))
        #expect(hash.verify(secret))
        #expect(!hash.verify(secret + "x"))
        #expect(!hash.verify(""))
        #expect(!ClientSecretHash.unmatchable().verify(secret))
    }

    /// Hashes passlib (the seed's library) writes verify as they are, and passlib verifies ScopeGate's.
    @Test func passlibReadsOursAndWeReadPasslibs() throws {
        let theirs = try runPython("from passlib.hash import pbkdf2_sha256; print(pbkdf2_sha256.using(rounds=2000).hash('s3cret/+.'))")
        let hash = try #require(ClientSecretHash(theirs), "\(theirs)")
        #expect(hash.verify("s3cret/+."))
        #expect(!hash.verify("s3cret/+"))
        let ours = try ClientSecretHash.hash("another secret é", rounds: 1_500)
        let verdict = try runPython(
            "import sys; from passlib.hash import pbkdf2_sha256; print(pbkdf2_sha256.verify(sys.argv[1], sys.argv[2]))",
            arguments: ["another secret é", ours])
        #expect(verdict == "True")
    }

    /// A fixed vector from Python's hashlib (an implementation of its own): password "password", salt
    /// "saltsaltsaltsalt", 1000 rounds.
    @Test func matchesAnIndependentComputation() throws {
        let encoded =
            "$pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA$"
            + ClientSecretHash.adaptedBase64Encode(
                Array(try runPython("import hashlib; print(hashlib.pbkdf2_hmac('sha256', b'password', b'saltsaltsaltsalt', 1000).hex())").utf8)
                    .chunked().compactMap { UInt8($0, radix: 16) })
        #expect(ClientSecretHash(encoded)?.verify("password") == true)
    }

    @Test func bcryptHashesWorkToo() throws {
        let bcrypt = try PasswordHasher(cost: 4).hash("machine secret")
        #expect(ClientSecretHash(bcrypt)?.verify("machine secret") == true)
        #expect(ClientSecretHash(bcrypt)?.verify("machine secreT") == false)
    }

    @Test(arguments: [
        "", "plain", "$pbkdf2-sha256$", "$pbkdf2-sha256$999$c2FsdHNhbHRzYWx0$" + String(repeating: "A", count: 43),
        "$pbkdf2-sha256$010000$c2FsdHNhbHRzYWx0$" + String(repeating: "A", count: 43),
        "$pbkdf2-sha256$1000$c2FsdA$" + String(repeating: "A", count: 43),
        "$pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0$AAAA", "$pbkdf2-sha256$1000$c2Fs-HNhbHRzYWx0$" + String(repeating: "A", count: 43),
        "$pbkdf2-sha256$99999999$c2FsdHNhbHRzYWx0$" + String(repeating: "A", count: 43), "$pbkdf2-sha1$1000$c2FsdHNhbHRzYWx0$AAAA",
        "$2b$04$short",
    ])
    func refusesMalformedHashes(encoded: String) {
        #expect(ClientSecretHash(encoded) == nil)
        #expect(ClientSecretHash.problem(with: encoded) != nil)
    }
}

extension Array where Element == UInt8 {
    /// Pairs of hex digits as strings.
    fileprivate func chunked() -> [String] {
        stride(from: 0, to: count, by: 2).map { String(decoding: self[$0..<Swift.min($0 + 2, count)], as: UTF8.self) }
    }
}
