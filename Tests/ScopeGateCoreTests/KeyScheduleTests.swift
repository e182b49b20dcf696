import Foundation
import ScopeGateTesting
import Testing

@testable import ScopeGateCore

/// The keys file and the lifecycle that follows from `activate_at` and the clock.
@Suite struct KeyScheduleTests {
    /// 2026-12-01T12:00:00Z.
    let t0 = Date(timeIntervalSince1970: 1_796_126_400)
    let lifetime: TimeInterval = 1800
    let leeway: TimeInterval = 5
    let old: ECDSAKey
    let new: ECDSAKey
    let files: [String: [UInt8]]

    init() throws {
        old = try ECDSAKey.generate(id: "es-old")
        new = try ECDSAKey.generate(id: "es-new")
        files = [
            "old.pem": try old.privateKeyPEM(), "new.pem": try new.privateKeyPEM(),
            "rsa.pem": try RSAKey.generate(algorithm: .rs256).privateKeyPEM(), "secret": Array(seedSecret.utf8),
            "ed.pem": try Ed25519Key.generate(id: "ed").privateKeyPEM(),
        ]
    }

    var yaml: String {
        """
        signing_algorithm: ES256
        keys:
          - id: es-new
            algorithm: ES256
            private_key_file: new.pem
            activate_at: 2026-12-01T12:20:00Z
          - id: es-old
            algorithm: ES256
            private_key_file: old.pem
            activate_at: 2026-11-01T12:00:00Z
          - id: hs
            algorithm: HS256
            secret_file: secret
        """
    }

    func load(_ text: String, at loadedAt: Date? = nil) throws -> KeySchedule {
        try KeySchedule.load(yaml: text, file: "keys.yaml", loadedAt: loadedAt ?? t0) { files[$0] }
    }

    func states(_ schedule: KeySchedule, at now: Date) -> [String: KeyState] {
        Dictionary(uniqueKeysWithValues: schedule.statuses(at: now, tokenLifetime: lifetime, leeway: leeway).map { ($0.key.key.id!, $0.state) })
    }

    @Test func aKeyIsPublishedBeforeItSignsAndAcceptedUntilItsTokensHaveExpired() throws {
        let schedule = try load(yaml)
        let switchover = t0 + 20 * 60
        #expect(states(schedule, at: t0) == ["es-new": .next, "es-old": .active, "hs": .active])
        let (before, changesAt) = try schedule.ring(at: t0, tokenLifetime: lifetime, leeway: leeway)
        #expect(before.signingKey.id == "es-old")
        #expect(changesAt == switchover)
        guard case .object(let set) = before.jwks, case .array(let published) = set["keys"] else { Issue.record("no keys"); return }
        #expect(Set(published.compactMap { if case .object(let m) = $0, case .string(let id) = m["kid"] { id } else { nil } }) == ["es-new", "es-old"])

        #expect(states(schedule, at: switchover) == ["es-new": .active, "es-old": .retiring, "hs": .active])
        let (after, retirement) = try schedule.ring(at: switchover, tokenLifetime: lifetime, leeway: leeway)
        #expect(after.signingKey.id == "es-new")
        #expect(retirement == switchover + lifetime + leeway)
        let status = try #require(schedule.statuses(at: switchover, tokenLifetime: lifetime, leeway: leeway).first { $0.key.key.id == "es-old" })
        #expect(status.since == switchover && status.deletableAt == switchover + lifetime + leeway)

        // A token the old key signed just before the switch stays valid to its end, and no longer.
        let lastOld = try TokenSigner(key: before.signingKey).sign(
            AccessTokenClaims(subject: "bob", scopes: [], issuedAt: switchover - 1, expiresAt: switchover - 1 + lifetime, tokenID: "x"))
        let nearEnd = switchover + lifetime
        #expect(
            try TokenVerifier(keyring: schedule.ring(at: nearEnd, tokenLifetime: lifetime, leeway: leeway).ring).verify(lastOld, now: nearEnd - 2).keyID
                == "es-old")
        let retired = switchover + lifetime + leeway
        #expect(states(schedule, at: retired)["es-old"] == .retired)
        let ring = try schedule.ring(at: retired, tokenLifetime: lifetime, leeway: leeway).ring
        #expect(throws: TokenError.unknownKey(kid: "es-old")) { try TokenVerifier(keyring: ring).verify(lastOld, now: retired) }
    }

    func warnings(_ schedule: KeySchedule, at now: Date, previous: KeySchedule? = nil) -> [String] {
        KeyScheduleLinter.warnings(for: schedule, file: "keys.yaml", at: now, tokenLifetime: lifetime, leeway: leeway, previous: previous)
            .map(\.description)
    }

    /// Switching `signing_algorithm` hands signing over at once; the old algorithm's key stays active (it
    /// verifies and is published, so its tokens live out their lifetime) and is reported until removed.
    @Test func anActiveKeyOfAnotherAlgorithmVerifiesOnlyAndIsReported() throws {
        let switched =
            yaml.replacingOccurrences(of: "signing_algorithm: ES256", with: "signing_algorithm: EdDSA")
            + "\n  - id: ed\n    algorithm: EdDSA\n    private_key_file: ed.pem\n    activate_at: 2026-12-01T11:00:00Z\n"
        let schedule = try load(switched)
        let statuses = schedule.statuses(at: t0, tokenLifetime: lifetime, leeway: leeway)
        #expect(statuses.filter(\.signs).map { $0.key.key.id } == ["ed"])
        #expect(states(schedule, at: t0) == ["es-new": .next, "es-old": .active, "hs": .active, "ed": .active])
        let ring = try schedule.ring(at: t0, tokenLifetime: lifetime, leeway: leeway).ring
        #expect(ring.signingKey.id == "ed")
        let esToken = try TokenSigner(key: old).sign(AccessTokenClaims(subject: "bob", scopes: [], issuedAt: t0, expiresAt: t0 + 60, tokenID: "x"))
        #expect(try TokenVerifier(keyring: ring).verify(esToken, now: t0).keyID == "es-old")
        let reported = warnings(schedule, at: t0)
        #expect(reported.count == 1, "\(reported)")
        #expect(reported.contains { $0.hasPrefix("keys.yaml:7:5: warning: key \"es-old\" (ES256) is active but does not sign: EdDSA signs") })
        // The same file signing ES256 reports nothing of the kind.
        #expect(warnings(try load(yaml), at: t0).allSatisfy { !$0.contains("does not sign") })
    }

    /// A reload that drops a key whose tokens can still be valid logs their holders out: reported with the
    /// time until which the key was needed. Keys that signed nothing yet, or whose tokens have all expired,
    /// may go.
    @Test func aKeyRemovedWhileItsTokensCanBeValidIsReported() throws {
        let before = try load(yaml)
        let switchover = t0 + 20 * 60
        let withoutOld = try load(
            yaml.replacingOccurrences(
                of: "  - id: es-old\n    algorithm: ES256\n    private_key_file: old.pem\n    activate_at: 2026-11-01T12:00:00Z\n", with: ""),
            at: switchover + 60)
        let reported = warnings(withoutOld, at: switchover + 60, previous: before)
        #expect(
            reported == [
                "keys.yaml:1:1: warning: key \"es-old\" (ES256) was removed while retiring: tokens it signed are refused from now on, though they "
                    + "could be valid until 2026-12-01T12:50:05Z; put it back until then"
            ])
        #expect(warnings(withoutOld, at: switchover + lifetime + leeway, previous: before).isEmpty)
        let withoutNew = try load(
            yaml.replacingOccurrences(
                of: "  - id: es-new\n    algorithm: ES256\n    private_key_file: new.pem\n    activate_at: 2026-12-01T12:20:00Z\n", with: ""))
        #expect(warnings(withoutNew, at: t0, previous: before).isEmpty)
        let withoutSecret = try load(yaml.replacingOccurrences(of: "  - id: hs\n    algorithm: HS256\n    secret_file: secret", with: ""))
        let secretReport = warnings(withoutSecret, at: t0, previous: before)
        #expect(secretReport.count == 1)
        #expect(secretReport.first?.contains("key \"hs\" (HS256) was removed while active: tokens it signed (and tokens without kid") == true)
    }

    /// A file read on its own cannot show a deleted key, only a key that started signing less than a token
    /// lifetime ago with nothing before it.
    @Test func aRecentSignerWithNoPredecessorIsReported() throws {
        let switchover = t0 + 20 * 60
        let alone = try load(
            "keys:\n  - id: es-new\n    algorithm: ES256\n    private_key_file: new.pem\n    activate_at: 2026-12-01T12:20:00Z\n", at: switchover)
        #expect(
            warnings(alone, at: switchover + 60).first?.hasPrefix(
                "keys.yaml:2:5: warning: key \"es-new\" (ES256) started signing at 2026-12-01T12:20:00Z and no key that signed before it is listed") == true)
        #expect(warnings(alone, at: switchover + lifetime + leeway).isEmpty)
        #expect(warnings(try load(yaml), at: switchover + 60).isEmpty)
        // A key without activate_at signs from when the file was loaded: nothing to suspect.
        #expect(warnings(try load("keys:\n  - id: es-new\n    algorithm: ES256\n    private_key_file: new.pem\n"), at: t0 + 60).isEmpty)
    }

    @Test func tokensWithoutKidAreCheckedAgainstTheActiveHS256KeyOnly() throws {
        let ring = try load(yaml).ring(at: t0, tokenLifetime: lifetime, leeway: leeway).ring
        let seedToken = try makeToken(claims: #"{"sub":"johndoe","exp":4102444800}"#)
        #expect(try TokenVerifier(keyring: ring).verify(seedToken, now: t0).subject == "johndoe")
        let onlyES = try load(yaml.replacingOccurrences(of: "  - id: hs\n    algorithm: HS256\n    secret_file: secret", with: ""))
            .ring(at: t0, tokenLifetime: lifetime, leeway: leeway).ring
        #expect(throws: TokenError.unknownKey(kid: "")) { try TokenVerifier(keyring: onlyES).verify(seedToken, now: t0) }
    }

    /// A verifier that caches the key set for 10 minutes and never refetches on an unknown kid goes through
    /// pre-publication, activation and retirement with a token every 5 seconds, and refuses none.
    @Test func aTenMinuteCachingVerifierNeverMissesAKid() throws {
        let schedule = try load(yaml, at: t0 - 3600)
        var cached: Set<String> = []
        var fetchedAt = Date.distantPast
        var minted = 0
        var time = t0 - 3600
        while time < t0 + 3 * 3600 {
            if time.timeIntervalSince(fetchedAt) >= 600 {
                guard case .object(let set) = try schedule.ring(at: time, tokenLifetime: lifetime, leeway: leeway).ring.jwks,
                    case .array(let keys) = set["keys"]
                else { Issue.record("no set"); return }
                cached = Set(keys.compactMap { if case .object(let m) = $0, case .string(let id) = m["kid"] { id } else { nil } })
                fetchedAt = time
            }
            let ring = try schedule.ring(at: time, tokenLifetime: lifetime, leeway: leeway).ring
            let signer = try #require(ring.signingKey.id)
            #expect(cached.contains(signer), "kid \(signer) unknown to the cache at \(time)")
            minted += 1
            time += 5
        }
        #expect(minted > 2000)
    }

    @Test func everyProblemIsReportedWithItsPlace() throws {
        let bad = """
            signing_algorithm: ES512
            keys:
              - id: a
                algorithm: ES256
                private_key_file: missing.pem
              - id: b
                algorithm: RS256
                private_key_file: old.pem
              - algorithm: HS256
                secret_file: secret
              - id: d
                algorithm: ES256
                private_key_file: old.pem
                activate_at: 2026-02-30T00:00:00Z
              - id: e
                algorithm: XS1
                private_key_file: old.pem
              - id: f
                algorithm: ES256
                secret_file: secret
            """
        let error = #expect(throws: ConfigurationError.self) { try load(bad) }
        let lines = try #require(error).diagnostics.map(\.description)
        #expect(lines.contains { $0.hasPrefix("keys.yaml:1:20: error: \"signing_algorithm\" is \"ES512\"") })
        #expect(lines.contains("keys.yaml:5:23: error: cannot read \"missing.pem\""))
        #expect(lines.contains("keys.yaml:8:23: error: \"old.pem\": RS256 needs an RSA key"))
        #expect(lines.contains { $0.hasPrefix("keys.yaml:9:5: error: an HS256 key needs an \"id\"") })
        #expect(lines.contains("keys.yaml:14:18: error: \"activate_at\" must be a UTC time such as 2026-12-01T12:00:00Z"))
        #expect(lines.contains { $0.hasPrefix("keys.yaml:16:16: error: \"algorithm\" is \"XS1\"") })
        #expect(lines.contains("keys.yaml:18:5: error: an ES256 key needs exactly one of \"private_key_file\" or \"public_key_file\""))

        let duplicate =
            "keys:\n  - id: k\n    algorithm: ES256\n    private_key_file: old.pem\n  - id: k\n    algorithm: ES256\n    private_key_file: new.pem\n"
        let repeated = #expect(throws: ConfigurationError.self) { try load(duplicate) }
        #expect(repeated?.diagnostics.map(\.description) == ["keys.yaml:5:5: error: key id \"k\" is also used at line 2"])
        let future = "keys:\n  - id: k\n    algorithm: ES256\n    private_key_file: old.pem\n    activate_at: 2030-01-01T00:00:00Z\n"
        let nothing = #expect(throws: ConfigurationError.self) { try load(future) }
        #expect(nothing?.diagnostics.map(\.description) == ["keys.yaml:1:1: error: no key is active now, so nothing can sign access tokens"])
        let wrongAlgorithm = "signing_algorithm: RS256\nkeys:\n  - algorithm: ES256\n    private_key_file: old.pem\n"
        let unsigned = #expect(throws: ConfigurationError.self) { try load(wrongAlgorithm) }
        #expect(unsigned?.diagnostics.map(\.description) == ["keys.yaml:1:1: error: no RS256 key is active now, so nothing can sign access tokens"])
    }

    @Test func timestampsAreStrictUTC() {
        #expect(KeySchedule.parseTimestamp("2026-12-01T12:00:00Z") == t0)
        #expect(KeySchedule.parseTimestamp("2024-02-29T23:59:59Z") == Date(timeIntervalSince1970: 1_709_251_199))
        for bad in [
            "2026-02-29T00:00:00Z", "2026-12-01T12:00:00", "2026-12-01 12:00:00Z", "2026-12-01T24:00:00Z", "2026-13-01T00:00:00Z", "２026-12-01T12:00:00Z",
        ] {
            #expect(KeySchedule.parseTimestamp(bad) == nil, "\(bad)")
        }
    }

    @Test func theFilesAKeysFileNamesAreTheOnesLoadingReads() throws {
        #expect(KeySchedule.referencedFiles(yaml: yaml) == ["new.pem", "old.pem", "secret"])
        let flow = "keys:\n  - {id: a, algorithm: ES256, private_key_file: \"a b.pem\"}\n  - {algorithm: HS256, id: h, secret_file: s}\n"
        #expect(KeySchedule.referencedFiles(yaml: flow) == ["a b.pem", "s"])
        #expect(KeySchedule.referencedFiles(yaml: "keys: [") == [])
        var asked: [String] = []
        _ = try? KeySchedule.load(yaml: yaml, file: "keys.yaml", loadedAt: t0) { name in
            asked.append(name)
            return files[name]
        }
        #expect(asked == KeySchedule.referencedFiles(yaml: yaml))
    }

    @Test func timestampsRoundTrip() {
        #expect(KeySchedule.formatTimestamp(t0) == "2026-12-01T12:00:00Z")
        var generator = SeededRandom()
        for _ in 0..<1000 {
            let date = Date(timeIntervalSince1970: TimeInterval(Int.random(in: -2_000_000_000...8_000_000_000, using: &generator)))
            #expect(KeySchedule.parseTimestamp(KeySchedule.formatTimestamp(date)) == date, "\(date)")
        }
    }

    @Test func anAsymmetricKeyWithoutIdIsNamedByItsThumbprint() throws {
        let schedule = try load("keys:\n  - algorithm: RS256\n    private_key_file: rsa.pem\n")
        let key = try #require(schedule.keys.first?.key)
        let jwk = try #require(key.publicJWK)
        guard case .object(let members) = jwk, case .string(let n) = members["n"], case .string(let e) = members["e"] else { return }
        #expect(key.id == PublicJWK(required: ["kty": .string("RSA"), "n": .string(n), "e": .string(e)]).thumbprint)
    }
}
