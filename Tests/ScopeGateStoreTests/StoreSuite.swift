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

    static let now = Date(timeIntervalSince1970: 1_800_000_000)

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
        }
    }
}
