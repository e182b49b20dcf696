public import FoundationEssentials
import ScopeGateCore
import ScopeGateHTTP
public import ScopeGateStore
import Dispatch
public import Logging
import Synchronization

/// The revocations in force, as decisions read them: revoked access tokens (by `jti` and `iss`), revoked
/// refresh-token families and per-subject "not before" times, copied from the ``StateStore`` and kept
/// current by a watch of its changes on a thread of its own: a snapshot when the watch starts, then a new
/// one each time the change count moves (PostgreSQL pushes it at once with `LISTEN`/`NOTIFY`; SQLite is
/// read every tenth of a second), and the count compared every second, which catches a missed
/// notification. Revocations this process makes are in its copy at once. Decisions only read the copy:
/// the polling threads never wait on the store, and when the store is lost decisions go on from the last
/// copy (``StoreLossPolicy/keep``) or refuse every token (``StoreLossPolicy/deny``) while the watch
/// reconnects, backing off up to 10 seconds, and reloads everything once the store answers again.
/// Without a store, revocations live in this process's memory only.
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
    /// Whether a decision must look further than this flag: a revocation is in force, or the store is
    /// lost under ``StoreLossPolicy/deny``. One atomic load on a decision when neither is.
    private let inForce = Atomic<Bool>(false)
    /// Where revocations and refresh-token families are kept; nil: this process's memory only.
    let store: (any StateStore)?
    /// What decisions do while the store cannot be read.
    public let onStoreLoss: StoreLossPolicy
    /// Whether the store answers.
    public let health: StoreHealth
    /// The change count of the copy in force; -1: nothing read yet, or the store was lost since.
    private let seenChanges = Mutex<Int64>(-1)
    private let watching = Atomic<Bool>(false)
    /// Wakes the watch from its back-off when it is stopped.
    private let wake = DispatchSemaphore(value: 0)

    /// Revocations kept in `store`, loaded now.
    public init(store: any StateStore, onStoreLoss: StoreLossPolicy = .keep, now: Date = Date()) throws(StoreError) {
        self.store = store
        self.onStoreLoss = onStoreLoss
        health = StoreHealth(now: now)
        try refresh(now: now)
    }

    /// Revocations kept in this process's memory only.
    public init() {
        store = nil
        onStoreLoss = .keep
        health = StoreHealth(now: Date())
    }

    /// Watches the store from a thread of its own until ``stop()``: its changes (then the revocations
    /// and, with `users`, the stored users are read again), `everyTurn` (about once a second, and after
    /// each change: other replicas' login failures are read there), `everyChange` (after each change another
    /// process made: cached sessions are dropped there), its housekeeping about once a second,
    /// and once an hour a purge of what ended (any replica may do it).
    public func startWatching(
        users: StoredUsers? = nil, everyTurn: @escaping @Sendable (Date) -> Void = { _ in }, everyChange: @escaping @Sendable () -> Void = {},
        logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        guard let store, watching.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        // A serial queue of its own: a thread that may wait on the store without taking one of the pool's.
        DispatchQueue(label: "scopegate.store-watch").async { [self] in
            watch(store, users: users, everyTurn: everyTurn, everyChange: everyChange, logger: logger, clock: clock)
        }
    }

    private static let purgeInterval: TimeInterval = 3600
    private static let longestBackoff: Double = 10

    private func watch(
        _ store: any StateStore, users: StoredUsers?, everyTurn: @Sendable (Date) -> Void, everyChange: @Sendable () -> Void, logger: Logger,
        clock: @Sendable () -> Date
    ) {
        var lastPurge = Date.distantPast
        var lastMaintenance = Date.distantPast
        var backoff = 0.5
        var reread = false
        while watching.load(ordering: .acquiring) {
            do throws(StoreError) {
                if reread {
                    // The first read after a loss: everything again, users included.
                    try refresh(now: clock())
                    try users?.catchUp()
                    everyChange()
                    reread = false
                }
                let now = clock()
                if now.timeIntervalSince(lastMaintenance) >= 1 {
                    // A purge that failed is tried again at the next turn.
                    if now.timeIntervalSince(lastPurge) >= Self.purgeInterval, (try? store.purge(before: now)) != nil { lastPurge = now }
                    try? store.maintain()
                    lastMaintenance = now
                }
                let count = try store.waitForChange(after: seenChanges.withLock { $0 }, timeout: .seconds(1))
                if count != seenChanges.withLock({ $0 }) {
                    try refresh(now: clock())
                    try users?.catchUp()
                    everyChange()
                }
                everyTurn(clock())
                if health.recordSync(at: clock()) {
                    // Under deny, decisions looked further while the store was lost; now only for revocations.
                    inForce.store(!table.read().isEmpty, ordering: .releasing)
                    logger.notice("store reachable again; revocations and users read again", metadata: ["store.changes": "\(count)"])
                }
                backoff = 0.5
            } catch {
                reread = true
                if health.recordLoss(error.description) {
                    if onStoreLoss == .deny { inForce.store(true, ordering: .releasing) }
                    logger.error(
                        "store unreachable; \(onStoreLoss == .deny ? "refusing every token" : "deciding from the revocations last read") until it returns",
                        metadata: ["error": "\(error)", "store.last_read": "\(KeySchedule.formatTimestamp(health.lastSync))"])
                }
                _ = wake.wait(timeout: .now() + backoff)
                backoff = min(backoff * 2, Self.longestBackoff)
            }
        }
    }

    /// Ends the watch (within a second).
    public func stop() {
        if watching.exchange(false, ordering: .acquiringAndReleasing) { wake.signal() }
    }

    /// Reads the store's revocations again, in one snapshot. One refresh at a time, and never an older
    /// snapshot over a newer one (a revocation just made is never undone by a read that began before it).
    func refresh(now: Date) throws(StoreError) {
        guard let store else { return }
        try seenChanges.withLock { (seen: inout Int64) throws(StoreError) in
            let snapshot = try store.revocationSnapshot(at: now)
            guard snapshot.changeCount >= seen || seen < 0 else { return }
            var tokens: [String: [String: Date]] = [:]
            for token in snapshot.tokens { tokens[token.tokenID, default: [:]][token.issuer] = token.until }
            var notBefore: [String: Date] = [:]
            for entry in snapshot.notBefores { notBefore[Self.subjectKey(entry.kind, entry.subject)] = entry.notBefore }
            let fresh = Table(
                tokens: tokens, notBefore: notBefore, families: Dictionary(snapshot.families.map { ($0.id, $0.until) }, uniquingKeysWith: max))
            table.update { _ in fresh }
            inForce.store(!fresh.isEmpty || (onStoreLoss == .deny && !health.isUp), ordering: .releasing)
            seen = snapshot.changeCount
        }
    }

    private static func subjectKey(_ kind: String, _ subject: String) -> String { kind + "\u{0}" + subject }

    /// Why `token` (about a principal of `kind`) is refused, or nil when no revocation touches it.
    func refusal(for token: VerifiedToken, kind: PrincipalKind, now: Date) -> String? {
        guard inForce.load(ordering: .acquiring) else { return nil }
        if onStoreLoss == .deny, !health.isUp { return "the store of revocations cannot be reached" }
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
            // Recorded: if the read that follows fails, the copy learns it here and the watch reads it later.
            if (try? refresh(now: now)) != nil { return }
        }
        table.update { current in
            var tokens = current.tokens
            tokens[id, default: [:]][issuer] = max(until, tokens[id]?[issuer] ?? until)
            return Table(tokens: tokens, notBefore: current.notBefore, families: current.families)
        }
        inForce.store(true, ordering: .releasing)
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
        if known, (try? refresh(now: now)) == nil {
            // Recorded but not read back: refused here until the watch's next read brings the family's end.
            table.update { current in
                var families = current.families
                families[id] = .distantFuture
                return Table(tokens: current.tokens, notBefore: current.notBefore, families: families)
            }
            inForce.store(true, ordering: .releasing)
        }
        return known
    }
}
