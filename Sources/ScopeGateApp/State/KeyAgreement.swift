import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateStore
import Synchronization

/// Whether this replica's keys agree with the others': each replica records, through the store, every
/// key id it holds with a fingerprint of the material (never the material), and a key id seen with
/// another fingerprint in the last ten minutes is a replica whose keys file differs, whose tokens the
/// others refuse. Each such key id is a warning in the log (once) and counts in
/// `scopegate_key_mismatches`. Checked when the watch of the store starts and every minute after, and at
/// once when this replica's keys change.
final class KeyAgreement: Sendable {
    private struct State {
        var checkedAt = Date.distantPast
        var checkedKeys: [KeyRecord] = []
        var mismatched: Set<String> = []
    }
    private let state = Mutex(State())
    private static let interval: TimeInterval = 60
    /// How long a fingerprint counts after its replica last recorded it (a replica that stopped or was
    /// given the right key stops counting then).
    static let window: TimeInterval = 600

    /// The records `keys` make: each key's id ("" for a key without one) and fingerprint.
    static func records(_ keys: [any JWSKey], at now: Date) -> [KeyRecord] {
        var seen: Set<KeyRecord> = []
        return keys.compactMap { key in
            guard let fingerprint = try? key.fingerprint() else { return nil }
            let record = KeyRecord(keyID: key.id ?? "", fingerprint: fingerprint, lastSeen: .distantPast)
            return seen.insert(record).inserted ? KeyRecord(keyID: record.keyID, fingerprint: fingerprint, lastSeen: now) : nil
        }
    }

    /// Records `keys` and compares them with the other replicas' when a minute has passed or the keys
    /// changed; the key ids whose material differs elsewhere, or nil when nothing was checked. May block.
    @discardableResult
    func check(_ keys: [any JWSKey], store: any StateStore, now: Date, logger: Logger, metrics: ServiceMetrics) -> Set<String>? {
        let records = Self.records(keys, at: now)
        let mine = Set(records.map { "\($0.keyID)\u{0}\($0.fingerprint)" })
        let due = state.withLock { state in
            now.timeIntervalSince(state.checkedAt) >= Self.interval || Set(state.checkedKeys.map { "\($0.keyID)\u{0}\($0.fingerprint)" }) != mine
        }
        guard due, let seen = try? store.recordKeys(records, at: now, since: now - Self.window) else { return nil }
        let fingerprints = Dictionary(records.map { ($0.keyID, $0.fingerprint) }, uniquingKeysWith: { first, _ in first })
        let mismatched = Set(seen.filter { record in fingerprints[record.keyID].map { $0 != record.fingerprint } ?? false }.map(\.keyID))
        let new = state.withLock { state in
            defer { (state.checkedAt, state.checkedKeys, state.mismatched) = (now, records, mismatched) }
            return mismatched.subtracting(state.mismatched)
        }
        for id in new.sorted() {
            logger.warning(
                "\(id.isEmpty ? "the key without a kid" : "key \"\(id)\"") has different material on another replica: tokens one of them signs with it are refused by the other; give the replicas the same keys file",
                metadata: ["key.kid": "\(id)"])
        }
        metrics.recordKeyMismatches(mismatched.count)
        return mismatched
    }
}
