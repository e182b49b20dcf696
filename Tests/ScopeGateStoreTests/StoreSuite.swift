import Foundation
import ScopeGateStore
import Synchronization
import Testing

/// Where a backend's store lives for one test: `open()` may be called again for the same data (a restart).
protocol StoreFixture {
    func open() throws -> any StateStore
}

/// The behaviour every ``StateStore`` backend must have. Each backend's tests run every check with a
/// fixture of its own: a new backend is one more `@Test(arguments: StoreCheck.allCases)`.
enum StoreCheck: String, CaseIterable, Sendable {
    case revocationsLastUntilTheTokenExpires
    case revokingTwiceKeepsTheLaterEnd
    case notBeforeOnlyMovesForward
    case purgeDropsOnlyWhatEnded
    case everyChangeIsCounted
    case aRestartLosesNothing
    case concurrentWritersAllLand
    case valuesAreStoredExactly
    case aRedemptionRotatesOnce
    case aSpentTokenAgainRevokesTheFamily
    case aRetryWithinTheGraceGetsTheSameSuccessor
    case familiesEndAndTokensIdleOut
    case aFamilyBelongsToItsClient
    case refusedRedemptionsChangeNothing
    case revokedFamiliesAreListedUntilTheirAccessTokensExpire
    case concurrentRedemptionsOfOneTokenRotateItOnce
    case purgeDropsEndedFamilies
    case usersAreAddedChangedAndReadByRevision
    case aHashIsReplacedOnlyIfUnchanged
    case importAddsAndReplacesAtOnce
    case loginFailuresAreKeptWhileOfUse
    case aWaitEndsAtAnotherHandlesChange
    case aSnapshotHoldsEveryRevocationAndItsCount
    case loginFailuresAddUpAcrossHandles
    case keyRecordsShowOtherMaterialUnderOneKeyID
    case anAuthorizationCodeIsRedeemedOnce
    case sessionsIdleEndAndAreEndedEverywhere
    case consentsAreRememberedAndWithdrawn

    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func family(_ id: String = "fam-1", client: String? = nil, idle: TimeInterval = 3600) -> RefreshFamily {
        RefreshFamily(
            id: id, kind: "user", subject: "alice", clientID: client, scopes: ["me", "items"], createdAt: now, endsAt: now + 86_400, idleLimit: idle)
    }

    static func redemption(
        _ token: String, successor: String, client: String? = nil, at time: Date = now + 10, grace: TimeInterval = 0, keepsSuccessor: Bool = true
    ) -> RefreshRedemptionRequest {
        RefreshRedemptionRequest(
            tokenHash: token, successorHash: successor, sealedSuccessor: keepsSuccessor ? "sealed-" + successor : nil, clientID: client, now: time,
            grace: grace,
            accessUntil: time + 1800)
    }

    func run(_ fixture: some StoreFixture) throws {
        let store = try fixture.open()
        let now = Self.now
        switch self {
        case .revocationsLastUntilTheTokenExpires:
            #expect(try store.revokedTokens(at: now).isEmpty)
            try store.revokeToken(id: "jti-1", issuer: "https://auth.example", until: now + 600)
            try store.revokeToken(id: "jti-2", issuer: "", until: now + 60)
            #expect(Set(try store.revokedTokens(at: now).map(\.tokenID)) == ["jti-1", "jti-2"])
            #expect(try store.revokedTokens(at: now + 60).map(\.tokenID) == ["jti-1"])
            #expect(try store.revokedTokens(at: now + 600).isEmpty)
            // The same id from another issuer is another token.
            try store.revokeToken(id: "jti-1", issuer: "https://other.example", until: now + 600)
            #expect(try store.revokedTokens(at: now).filter { $0.tokenID == "jti-1" }.count == 2)
        case .revokingTwiceKeepsTheLaterEnd:
            try store.revokeToken(id: "a", issuer: "", until: now + 100)
            try store.revokeToken(id: "a", issuer: "", until: now + 50)
            #expect(try store.revokedTokens(at: now) == [RevokedToken(issuer: "", tokenID: "a", until: now + 100)])
            try store.revokeToken(id: "a", issuer: "", until: now + 200)
            #expect(try store.revokedTokens(at: now + 150).map(\.until) == [now + 200])
        case .notBeforeOnlyMovesForward:
            #expect(try store.notBefores().isEmpty)
            try store.setNotBefore(now, kind: "user", subject: "bob")
            try store.setNotBefore(now - 100, kind: "user", subject: "bob")
            try store.setNotBefore(now + 5, kind: "client", subject: "bob")
            #expect(
                Set(try store.notBefores())
                    == [
                        SubjectNotBefore(kind: "user", subject: "bob", notBefore: now),
                        SubjectNotBefore(kind: "client", subject: "bob", notBefore: now + 5),
                    ])
        case .purgeDropsOnlyWhatEnded:
            try store.revokeToken(id: "old", issuer: "", until: now - 1)
            try store.revokeToken(id: "new", issuer: "", until: now + 1)
            #expect(try store.purge(before: now) == 1)
            #expect(try store.revokedTokens(at: now - 10).map(\.tokenID) == ["new"])
            #expect(try store.purge(before: now) == 0)
        case .everyChangeIsCounted:
            let first = try store.changeCount()
            try store.revokeToken(id: "x", issuer: "", until: now + 1)
            let second = try store.changeCount()
            try store.setNotBefore(now, kind: "user", subject: "carol")
            let third = try store.changeCount()
            #expect(first < second && second < third)
            // Another handle on the same store sees the other's changes.
            let other = try fixture.open()
            try other.revokeToken(id: "y", issuer: "", until: now + 1)
            #expect(try store.changeCount() > third)
            #expect(try store.revokedTokens(at: now).count == 2)
        case .aWaitEndsAtAnotherHandlesChange:
            let count = try store.changeCount()
            // Nothing changes: the wait lasts its timeout and reports the same count.
            let quiet = ContinuousClock.now
            #expect(try store.waitForChange(after: count, timeout: .milliseconds(300)) == count)
            #expect(ContinuousClock.now - quiet >= .milliseconds(250))
            // A count already different returns at once.
            #expect(try store.waitForChange(after: count - 1, timeout: .seconds(5)) == count)
            // Another handle (a replica, the CLI) changes the store while this one waits: the wait ends
            // well before its timeout.
            let other = try fixture.open()
            let started = ContinuousClock.now
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { try? other.revokeToken(id: "pushed", issuer: "", until: now + 60) }
            let after = try store.waitForChange(after: count, timeout: .seconds(5))
            #expect(after > count)
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(try store.revokedTokens(at: now).map(\.tokenID) == ["pushed"])
        case .aSnapshotHoldsEveryRevocationAndItsCount:
            let empty = try store.revocationSnapshot(at: now)
            #expect(empty.tokens.isEmpty && empty.notBefores.isEmpty && empty.families.isEmpty)
            try store.revokeToken(id: "jti", issuer: "iss", until: now + 60)
            try store.revokeToken(id: "ended", issuer: "iss", until: now - 1)
            try store.setNotBefore(now, kind: "user", subject: "erin")
            try store.createRefreshFamily(Self.family("fam-snap"), tokenHash: "h-snap", accessUntil: now + 600)
            try store.revokeRefreshFamily(id: "fam-snap", at: now)
            let snapshot = try store.revocationSnapshot(at: now)
            #expect(snapshot.changeCount == (try store.changeCount()))
            #expect(snapshot.changeCount > empty.changeCount)
            #expect(snapshot.tokens == [RevokedToken(issuer: "iss", tokenID: "jti", until: now + 60)])
            #expect(snapshot.notBefores == [SubjectNotBefore(kind: "user", subject: "erin", notBefore: now)])
            #expect(snapshot.families == [RevokedFamily(id: "fam-snap", until: now + 600)])
        case .loginFailuresAddUpAcrossHandles:
            // Two handles (two replicas) counting the same keys at once: every failure counts.
            let other = try fixture.open()
            let errors = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 20) { index in
                do {
                    _ = try (index % 2 == 0 ? store : other).addLoginFailures(["pair\u{0}eve\u{0}10.0.0.1", "user\u{0}eve"], at: now, memory: 900)
                } catch {
                    errors.withLock { $0.append("\(error)") }
                }
            }
            #expect(errors.withLock { $0 }.isEmpty)
            let counted = try store.addLoginFailures(["user\u{0}eve"], at: now + 1, memory: 900)
            #expect(counted.map(\.failures) == [21] && counted.map(\.lastFailure) == [now + 1])
            #expect(Set(try other.loginFailures(after: now - 1).map(\.key)) == ["pair\u{0}eve\u{0}10.0.0.1", "user\u{0}eve"])
            #expect(try other.loginFailures(after: now).map(\.key) == ["user\u{0}eve"])
            // A failure past the memory starts the count again.
            #expect(try store.addLoginFailures(["user\u{0}eve"], at: now + 1000, memory: 900).map(\.failures) == [1])
        case .keyRecordsShowOtherMaterialUnderOneKeyID:
            let other = try fixture.open()
            let mine = [KeyRecord(keyID: "k1", fingerprint: "f1", lastSeen: now), KeyRecord(keyID: "", fingerprint: "h1", lastSeen: now)]
            #expect(
                Set(try store.recordKeys(mine, at: now - 700, since: now - 1300))
                    == Set(mine.map { KeyRecord(keyID: $0.keyID, fingerprint: $0.fingerprint, lastSeen: now - 700) }))
            // The other handle holds k1 with other material: both records come back; recording again moves
            // only the time.
            let seen = try other.recordKeys([KeyRecord(keyID: "k1", fingerprint: "f2", lastSeen: now)], at: now, since: now - 600)
            #expect(Set(seen.map(\.fingerprint)) == ["f2"], "the first record is older than the window")
            let again = try store.recordKeys(mine, at: now, since: now - 600)
            #expect(Set(again.filter { $0.keyID == "k1" }.map(\.fingerprint)) == ["f1", "f2"])
            #expect(again.filter { $0.keyID == "" }.map(\.fingerprint) == ["h1"])
        case .anAuthorizationCodeIsRedeemedOnce:
            let code = AuthorizationCode(
                hash: "code-hash", clientID: "web-app", redirectURI: "https://app.example/cb", subject: "alice", scopes: ["me", "items"],
                challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", createdAt: now, expiresAt: now + 60, tokenID: "jti-c", familyID: "fam-c")
            try store.createAuthorizationCode(code)
            try store.createAuthorizationCode(
                AuthorizationCode(
                    hash: "late", clientID: "web-app", redirectURI: "https://app.example/cb", subject: "alice", scopes: [], challenge: "x",
                    createdAt: now, expiresAt: now + 60, tokenID: "j", familyID: "f"))
            // Two handles (two replicas) redeeming it at once: one redemption, every other one a reuse.
            let other = try fixture.open()
            let outcomes = Mutex<[CodeRedemption]>([])
            DispatchQueue.concurrentPerform(iterations: 20) { index in
                if let outcome = try? (index % 2 == 0 ? store : other).redeemAuthorizationCode(hash: "code-hash", at: now + 1) {
                    outcomes.withLock { $0.append(outcome) }
                }
            }
            let all = outcomes.withLock { $0 }
            #expect(all.count == 20)
            #expect(all.filter { $0 == .redeemed(code) }.count == 1)
            #expect(all.filter { $0 == .reused(code) }.count == 19)
            #expect(try store.redeemAuthorizationCode(hash: "late", at: now + 60) == .unknown, "expired")
            #expect(try store.redeemAuthorizationCode(hash: "none", at: now) == .unknown)
        case .sessionsIdleEndAndAreEndedEverywhere:
            let session = BrowserSession(hash: "s-1", subject: "alice", createdAt: now, lastSeen: now, endsAt: now + 7200, idleLimit: 600)
            try store.createSession(session)
            try store.createSession(BrowserSession(hash: "s-2", subject: "alice", createdAt: now, lastSeen: now, endsAt: now + 7200, idleLimit: 600))
            try store.createSession(BrowserSession(hash: "s-3", subject: "bob", createdAt: now, lastSeen: now, endsAt: now + 7200, idleLimit: 600))
            let other = try fixture.open()
            #expect(try other.session(hash: "s-1", at: now + 1) == session)
            #expect(try other.session(hash: "s-1", at: now + 600) == nil, "idle for its whole limit")
            try other.touchSession(hash: "s-1", at: now + 500)
            #expect(try store.session(hash: "s-1", at: now + 900)?.lastSeen == now + 500)
            #expect(try store.session(hash: "s-1", at: now + 7200) == nil, "past its end")
            #expect(try store.session(hash: "unknown", at: now) == nil)
            let count = try store.changeCount()
            #expect(try other.endSession(hash: "s-1") && !(try other.endSession(hash: "s-1")))
            #expect(try store.changeCount() > count, "ending a session is a change every replica hears of")
            #expect(try store.session(hash: "s-1", at: now + 1) == nil)
            #expect(try store.endSessions(subject: "alice") == 1)
            #expect(try store.session(hash: "s-2", at: now + 1) == nil && store.session(hash: "s-3", at: now + 1) != nil)
            #expect(try store.purge(before: now + 8000) >= 0)
            #expect(try store.session(hash: "s-3", at: now + 1) == nil, "purged once ended")
        case .consentsAreRememberedAndWithdrawn:
            #expect(try store.consents(of: "alice").isEmpty)
            try store.rememberConsent(RememberedConsent(subject: "alice", clientID: "spa", scopes: ["me"], grantedAt: now))
            try store.rememberConsent(RememberedConsent(subject: "alice", clientID: "spa", scopes: ["items", "me"], grantedAt: now + 5))
            try store.rememberConsent(RememberedConsent(subject: "alice", clientID: "crm", scopes: ["me"], grantedAt: now))
            try store.rememberConsent(RememberedConsent(subject: "bob", clientID: "spa", scopes: ["me"], grantedAt: now))
            let other = try fixture.open()
            #expect(
                try other.consents(of: "alice") == [
                    RememberedConsent(subject: "alice", clientID: "crm", scopes: ["me"], grantedAt: now),
                    RememberedConsent(subject: "alice", clientID: "spa", scopes: ["items", "me"], grantedAt: now + 5),
                ])
            #expect(try other.withdrawConsents(of: "alice", clientID: "spa") == 1)
            #expect(try store.consents(of: "alice").map(\.clientID) == ["crm"])
            #expect(try store.withdrawConsents(of: "alice", clientID: nil) == 1 && store.consents(of: "bob").count == 1)
        case .aRestartLosesNothing:
            try store.revokeToken(id: "kept", issuer: "iss", until: now + 3600)
            try store.setNotBefore(now, kind: "user", subject: "dave")
            let reopened = try fixture.open()
            #expect(try reopened.revokedTokens(at: now) == [RevokedToken(issuer: "iss", tokenID: "kept", until: now + 3600)])
            #expect(try reopened.notBefores() == [SubjectNotBefore(kind: "user", subject: "dave", notBefore: now)])
        case .concurrentWritersAllLand:
            let errors = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { thread in
                for index in 0..<25 {
                    do {
                        try store.revokeToken(id: "t\(thread)-\(index)", issuer: "", until: now + 60)
                    } catch {
                        errors.withLock { $0.append("\(error)") }
                    }
                }
            }
            #expect(errors.withLock { $0 }.isEmpty)
            #expect(try store.revokedTokens(at: now).count == 200)
        case .valuesAreStoredExactly:
            let odd = "jti\u{0}with nul, 'quotes'; DROP TABLE revoked_tokens; -- é 😀"
            try store.revokeToken(id: odd, issuer: "iss\u{0}x", until: now + 0.25)
            let stored = try store.revokedTokens(at: now)
            #expect(stored.map(\.tokenID) == [odd] && stored.map(\.issuer) == ["iss\u{0}x"])
            #expect(stored.first?.until == now + 0.25)
        case .aRedemptionRotatesOnce:
            let family = Self.family()
            try store.createRefreshFamily(family, tokenHash: "h1", accessUntil: now + 1800)
            #expect(try store.refreshToken(hash: "h1")?.isLive(at: now) == true)
            #expect(try store.redeemRefreshToken(Self.redemption("h1", successor: "h2")) { _ in true } == .rotated(family))
            let spent = try #require(try store.refreshToken(hash: "h1"))
            #expect(spent.spent && !spent.revoked && spent.family == family)
            let successor = try #require(try store.refreshToken(hash: "h2"))
            #expect(successor.isLive(at: now + 10) && successor.issuedAt == now + 10 && successor.expiresAt == now + 10 + 3600)
            #expect(try store.redeemRefreshToken(Self.redemption("h2", successor: "h3", at: now + 20)) { _ in true } == .rotated(family))
            #expect(try store.refreshToken(hash: "nope") == nil)
        case .aSpentTokenAgainRevokesTheFamily:
            let family = Self.family()
            try store.createRefreshFamily(family, tokenHash: "h1", accessUntil: now + 1800)
            _ = try store.redeemRefreshToken(Self.redemption("h1", successor: "h2")) { _ in true }
            let before = try store.changeCount()
            #expect(try store.redeemRefreshToken(Self.redemption("h1", successor: "h3", at: now + 11)) { _ in true } == .reused(family))
            #expect(try store.changeCount() > before)
            // The successor dies with the family, and so does the family's access.
            #expect(try store.redeemRefreshToken(Self.redemption("h2", successor: "h4", at: now + 12)) { _ in true } == .refused(.revoked))
            #expect(try store.refreshToken(hash: "h2")?.revoked == true)
            #expect(try store.revokedFamilies(at: now + 12) == [RevokedFamily(id: family.id, until: now + 10 + 1800)])
        case .aRetryWithinTheGraceGetsTheSameSuccessor:
            let family = Self.family(client: "app")
            try store.createRefreshFamily(family, tokenHash: "h1", accessUntil: now + 1800)
            _ = try store.redeemRefreshToken(Self.redemption("h1", successor: "h2", client: "app", grace: 5)) { _ in true }
            #expect(
                try store.redeemRefreshToken(Self.redemption("h1", successor: "h3", client: "app", at: now + 12, grace: 5)) { _ in true }
                    == .replayed(family, sealedSuccessor: "sealed-h2"))
            #expect(try store.refreshToken(hash: "h3") == nil)
            // A token spent without its successor kept (no grace then) is reuse even within a grace now.
            try store.createRefreshFamily(Self.family("unkept", client: "app"), tokenHash: "u1", accessUntil: now + 1800)
            _ = try store.redeemRefreshToken(Self.redemption("u1", successor: "u2", client: "app", keepsSuccessor: false)) { _ in true }
            #expect(
                try store.redeemRefreshToken(Self.redemption("u1", successor: "u3", client: "app", at: now + 11, grace: 5)) { _ in true }
                    == .reused(Self.family("unkept", client: "app")))
            // After the grace, a retry is reuse.
            #expect(
                try store.redeemRefreshToken(Self.redemption("h1", successor: "h3", client: "app", at: now + 16, grace: 5)) { _ in true }
                    == .reused(family))
        case .familiesEndAndTokensIdleOut:
            try store.createRefreshFamily(Self.family("idle", idle: 60), tokenHash: "i1", accessUntil: now + 1800)
            #expect(try store.redeemRefreshToken(Self.redemption("i1", successor: "i2", at: now + 61)) { _ in true } == .refused(.expired))
            #expect(try store.refreshToken(hash: "i1")?.isLive(at: now + 61) == false)
            try store.createRefreshFamily(Self.family("ends", idle: 86_400 * 2), tokenHash: "e1", accessUntil: now + 1800)
            #expect(try store.redeemRefreshToken(Self.redemption("e1", successor: "e2", at: now + 86_399)) { _ in true } != .refused(.expired))
            #expect(try store.redeemRefreshToken(Self.redemption("e2", successor: "e3", at: now + 86_400)) { _ in true } == .refused(.expired))
            #expect(try store.refreshToken(hash: "e2")?.expiresAt == now + 86_400)
        case .aFamilyBelongsToItsClient:
            try store.createRefreshFamily(Self.family("c", client: "app"), tokenHash: "c1", accessUntil: now + 1800)
            try store.createRefreshFamily(Self.family("p"), tokenHash: "p1", accessUntil: now + 1800)
            #expect(try store.redeemRefreshToken(Self.redemption("c1", successor: "c2", client: "other")) { _ in true } == .refused(.otherClient))
            #expect(try store.redeemRefreshToken(Self.redemption("c1", successor: "c2")) { _ in true } == .refused(.otherClient))
            #expect(try store.redeemRefreshToken(Self.redemption("p1", successor: "p2", client: "app")) { _ in true } == .refused(.otherClient))
            #expect(try store.refreshToken(hash: "c1")?.spent == false)
            #expect(
                try store.redeemRefreshToken(Self.redemption("c1", successor: "c2", client: "app")) { _ in true } == .rotated(Self.family("c", client: "app")))
        case .refusedRedemptionsChangeNothing:
            let family = Self.family()
            try store.createRefreshFamily(family, tokenHash: "h1", accessUntil: now + 1800)
            let before = try store.changeCount()
            var asked: [RefreshFamily] = []
            #expect(
                try store.redeemRefreshToken(Self.redemption("h1", successor: "h2")) { family in
                    asked.append(family)
                    return false
                } == .refused(.notAdmitted))
            #expect(asked == [family])
            #expect(try store.refreshToken(hash: "h1")?.spent == false && (try store.refreshToken(hash: "h2")) == nil)
            #expect(try store.redeemRefreshToken(Self.redemption("unknown", successor: "h2")) { _ in true } == .refused(.unknown))
            #expect(try store.changeCount() == before)
            #expect(try store.redeemRefreshToken(Self.redemption("h1", successor: "h2")) { _ in true } == .rotated(family))
        case .revokedFamiliesAreListedUntilTheirAccessTokensExpire:
            let family = Self.family()
            try store.createRefreshFamily(family, tokenHash: "h1", accessUntil: now + 1800)
            _ = try store.redeemRefreshToken(Self.redemption("h1", successor: "h2", at: now + 100)) { _ in true }
            #expect(try store.revokedFamilies(at: now).isEmpty)
            #expect(try store.revokeRefreshFamily(id: family.id, at: now + 200))
            #expect(try store.revokeRefreshFamily(id: family.id, at: now + 300))
            #expect(try !store.revokeRefreshFamily(id: "no-such-family", at: now))
            #expect(try store.revokedFamilies(at: now + 200) == [RevokedFamily(id: family.id, until: now + 100 + 1800)])
            #expect(try store.revokedFamilies(at: now + 1900).isEmpty)
            #expect(try store.redeemRefreshToken(Self.redemption("h2", successor: "h3", at: now + 201)) { _ in true } == .refused(.revoked))
            let reopened = try fixture.open()
            #expect(try reopened.refreshToken(hash: "h2")?.revoked == true)
        case .concurrentRedemptionsOfOneTokenRotateItOnce:
            let family = Self.family()
            try store.createRefreshFamily(family, tokenHash: "race", accessUntil: now + 1800)
            let outcomes = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 50) { index in
                let outcome: String
                do {
                    switch try store.redeemRefreshToken(Self.redemption("race", successor: "next-\(index)"), admit: { _ in true }) {
                    case .rotated: outcome = "rotated"
                    case .reused: outcome = "reused"
                    case .replayed: outcome = "replayed"
                    case .refused(let reason): outcome = reason.rawValue
                    }
                } catch {
                    outcome = "\(error)"
                }
                outcomes.withLock { $0.append(outcome) }
            }
            let all = outcomes.withLock { $0 }
            #expect(all.filter { $0 == "rotated" }.count == 1)
            #expect(all.filter { $0 == "reused" || $0 == "revoked" }.count == 49)
            #expect(try store.revokedFamilies(at: now + 10).map(\.id) == [family.id])
        case .purgeDropsEndedFamilies:
            try store.createRefreshFamily(Self.family("gone"), tokenHash: "g1", accessUntil: now + 1800)
            try store.createRefreshFamily(
                RefreshFamily(id: "kept", kind: "user", subject: "bob", clientID: nil, scopes: [], createdAt: now, endsAt: now + 200_000, idleLimit: 60),
                tokenHash: "k1", accessUntil: now + 1800)
            #expect(try store.purge(before: now + 86_399) == 0)
            #expect(try store.purge(before: now + 86_400) == 1)
            #expect(try store.refreshToken(hash: "g1") == nil)
            #expect(try store.refreshToken(hash: "k1")?.family.scopes == [])
        case .usersAreAddedChangedAndReadByRevision:
            let alice = StoredUser(username: "alice", passwordHash: "$2b$04$hash", scopes: ["me"], email: "a@example.com", fullName: "Älice 😀 'x'")
            #expect(try store.users(changedAfter: 0) == UserChanges(users: [], revision: 0))
            #expect(try store.addUser(alice))
            #expect(try !store.addUser(StoredUser(username: "alice", passwordHash: "other", scopes: [])))
            #expect(try store.addUser(StoredUser(username: "bob", passwordHash: "h", scopes: [])))
            let all = try store.users(changedAfter: 0)
            #expect(all.users.map(\.username) == ["alice", "bob"] && all.users.first == alice)
            #expect(try store.users(changedAfter: all.revision).users.isEmpty)
            let before = try store.changeCount()
            #expect(try store.changeUser("alice", .grant(["items", "me"]))?.scopes == ["me", "items"])
            #expect(try store.changeCount() > before)
            #expect(try store.changeUser("alice", .ungrant(["me"]))?.scopes == ["items"])
            #expect(try store.changeUser("alice", .disabled(true))?.disabled == true)
            #expect(try store.changeUser("alice", .passwordHash("new"))?.passwordHash == "new")
            #expect(try store.changeUser("nobody", .disabled(true)) == nil)
            let changed = try store.users(changedAfter: all.revision)
            #expect(changed.users.map(\.username) == ["alice"] && changed.revision > all.revision)
            #expect(
                try store.user(named: "alice")
                    == StoredUser(
                        username: "alice", passwordHash: "new", scopes: ["items"], email: "a@example.com", fullName: "Älice 😀 'x'", disabled: true))
            #expect(try store.user(named: "nobody") == nil)
            #expect(try fixture.open().user(named: "bob")?.passwordHash == "h")
        case .aHashIsReplacedOnlyIfUnchanged:
            _ = try store.addUser(StoredUser(username: "carol", passwordHash: "old", scopes: []))
            #expect(try !store.replacePasswordHash(of: "carol", expected: "wrong", with: "x"))
            #expect(try !store.replacePasswordHash(of: "nobody", expected: "old", with: "x"))
            let won = Mutex(0)
            DispatchQueue.concurrentPerform(iterations: 8) { index in
                if (try? store.replacePasswordHash(of: "carol", expected: "old", with: "new-\(index)")) == true { won.withLock { $0 += 1 } }
            }
            #expect(won.withLock { $0 } == 1)
            #expect(try store.user(named: "carol")?.passwordHash.hasPrefix("new-") == true)
        case .importAddsAndReplacesAtOnce:
            _ = try store.addUser(StoredUser(username: "dave", passwordHash: "old", scopes: ["me"]))
            let revision = try store.users(changedAfter: 0).revision
            let imported =
                (0..<500).map { StoredUser(username: "user\($0)", passwordHash: "h\($0)", scopes: ["me"]) }
                + [StoredUser(username: "dave", passwordHash: "new", scopes: [], disabled: true)]
            let counts = try store.importUsers(imported)
            #expect(counts.added == 500 && counts.replaced == 1)
            let changed = try store.users(changedAfter: revision)
            #expect(changed.users.count == 501)
            #expect(try store.user(named: "dave") == StoredUser(username: "dave", passwordHash: "new", scopes: [], disabled: true))
        case .loginFailuresAreKeptWhileOfUse:
            let banned = LoginFailure(key: "pair\u{0}bob\u{0}192.0.2.1", failures: 6, blockedUntil: now + 30, lastFailure: now)
            let old = LoginFailure(key: "user\u{0}carol", failures: 2, blockedUntil: .distantPast, lastFailure: now - 1000)
            try store.saveLoginFailures([banned, old], removing: [])
            #expect(Set(try store.loginFailures(at: now, memory: 900)) == [banned])
            #expect(Set(try store.loginFailures(at: now, memory: 2000)) == [banned, old])
            let later = LoginFailure(key: banned.key, failures: 7, blockedUntil: now + 60, lastFailure: now + 1)
            try store.saveLoginFailures([later], removing: [old.key])
            #expect(try fixture.open().loginFailures(at: now, memory: 2000) == [later])
            try store.saveLoginFailures([], removing: [later.key])
            #expect(try store.loginFailures(at: now, memory: 2000).isEmpty)
        }
    }
}
