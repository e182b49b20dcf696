public import FoundationEssentials
import ScopeGateCore
import ScopeGateHTTP
public import ScopeGateStore
import Synchronization

/// The revocations in force, as decisions read them: revoked access tokens (by `jti` and `iss`) and
/// per-subject "not before" times, copied from the ``StateStore`` and kept current by a poll of its change
/// count every second (so a `scopegate revoke` run against the same store is seen within a second) and at
/// once for revocations this process makes. Decisions only read the copy: the polling threads never wait
/// on the store. Without a store, revocations live in this process's memory only.
public final class Revocations: Sendable {
    final class Table: Sendable {
        /// jti → issuer → until.
        let tokens: [String: [String: Date]]
        /// "kind NUL subject" → not before.
        let notBefore: [String: Date]
        /// Revoked refresh-token family (`sid`) → until.
        let families: [String: Date]

        init(tokens: [String: [String: Date]] = [:], notBefore: [String: Date] = [:], families: [String: Date] = [:]) {
            self.tokens = tokens
            self.notBefore = notBefore
            self.families = families
        }

        var isEmpty: Bool { tokens.isEmpty && notBefore.isEmpty && families.isEmpty }
    }

    private let table = Snapshot(Table())
    /// Whether any revocation is in force: one atomic load on a decision when none is.
    private let inForce = Atomic<Bool>(false)
    /// Where revocations and refresh-token families are kept; nil: this process's memory only.
    let store: (any StateStore)?
    private let seenChanges = Mutex<Int64>(-1)
    private let poll = RepeatingPoll(label: "scopegate.revocations")
    private let lastPurge = Mutex(Date.distantPast)

    /// Revocations kept in `store`, loaded now.
    public init(store: any StateStore, now: Date = Date()) throws(StoreError) {
        self.store = store
        try refresh(now: now)
    }

    /// Revocations kept in this process's memory only.
    public init() {
        store = nil
    }

    /// Polls the store every `interval` seconds from a thread of its own until ``stop()``: its changes,
    /// its housekeeping, and once an hour a purge of what ended (any replica may do it). A store that
    /// cannot be read keeps the copy in force; the next poll tries again.
    public func startPolling(every interval: Double = 1, clock: @escaping @Sendable () -> Date = { Date() }) {
        guard let store else { return }
        poll.start(every: interval) { [self] in
            let now = clock()
            // Only the poll's queue touches lastPurge; a purge that failed is tried again at the next poll.
            if now.timeIntervalSince(lastPurge.withLock { $0 }) >= Self.purgeInterval, (try? store.purge(before: now)) != nil {
                lastPurge.withLock { $0 = now }
            }
            try? refresh(now: now)
            try? store.maintain()
        }
    }

    private static let purgeInterval: TimeInterval = 3600

    /// Ends the poll.
    public func stop() {
        poll.stop()
    }

    /// Reads the store again if it changed since the last read. One refresh at a time, so an older read
    /// can never replace a newer one (a revocation just made is never undone by a poll that began before it).
    func refresh(now: Date) throws(StoreError) {
        guard let store else { return }
        try seenChanges.withLock { (seen: inout Int64) throws(StoreError) in
            let count = try store.changeCount()
            guard count != seen else { return }
            let revoked = try store.revokedTokens(at: now)
            let notBefores = try store.notBefores()
            let families = try store.revokedFamilies(at: now)
            var tokens: [String: [String: Date]] = [:]
            for token in revoked { tokens[token.tokenID, default: [:]][token.issuer] = token.until }
            var notBefore: [String: Date] = [:]
            for entry in notBefores { notBefore[Self.subjectKey(entry.kind, entry.subject)] = entry.notBefore }
            let fresh = Table(
                tokens: tokens, notBefore: notBefore, families: Dictionary(families.map { ($0.id, $0.until) }, uniquingKeysWith: max))
            table.update { _ in fresh }
            inForce.store(!fresh.isEmpty, ordering: .releasing)
            seen = count
        }
    }

    private static func subjectKey(_ kind: String, _ subject: String) -> String { kind + "\u{0}" + subject }

    /// Why `token` (about a principal of `kind`) is refused, or nil when no revocation touches it.
    func refusal(for token: VerifiedToken, kind: PrincipalKind, now: Date) -> String? {
        guard inForce.load(ordering: .acquiring) else { return nil }
        let current = table.read()
        if let id = token.tokenID, let until = current.tokens[id]?[token.issuer ?? ""], until > now { return "the token was revoked" }
        if let family = token.sessionID, current.families[family] != nil { return "the token's login was revoked" }
        if let notBefore = current.notBefore[Self.subjectKey(kind.rawValue, token.subject)],
            (token.issuedAt ?? .distantPast) < notBefore
        {
            return "the \(kind)'s tokens issued before \(KeySchedule.formatTimestamp(notBefore)) were revoked"
        }
        return nil
    }

    /// Whether a login of `subject` (of `kind`) at `loginTime` was revoked by a "not before" set since:
    /// then its refresh tokens are no longer redeemed.
    func revokedLogin(kind: PrincipalKind, subject: String, at loginTime: Date) -> Bool {
        guard inForce.load(ordering: .acquiring), let notBefore = table.read().notBefore[Self.subjectKey(kind.rawValue, subject)] else { return false }
        return loginTime < notBefore
    }

    /// Revokes the access token `id` of `issuer` until `until`: in the store, then in this copy at once.
    /// May block on the store: call it from a worker thread.
    public func revoke(id: String, issuer: String, until: Date, now: Date) throws(StoreError) {
        if let store {
            try store.revokeToken(id: id, issuer: issuer, until: until)
            try refresh(now: now)
        } else {
            table.update { current in
                var tokens = current.tokens
                tokens[id, default: [:]][issuer] = max(until, tokens[id]?[issuer] ?? until)
                return Table(tokens: tokens, notBefore: current.notBefore, families: current.families)
            }
            inForce.store(true, ordering: .releasing)
        }
    }
}

extension Revocations {
    /// Revokes the refresh-token family `id` (its refresh tokens and, through their `sid`, its access
    /// tokens): in the store, then in this copy at once. False when the store knows no such family. May
    /// block: call it from a worker thread.
    @discardableResult
    func revokeFamily(id: String, now: Date) throws(StoreError) -> Bool {
        guard let store else { return false }
        let known = try store.revokeRefreshFamily(id: id, at: now)
        try refresh(now: now)
        return known
    }
}
