import FoundationEssentials
import Synchronization

/// The sessions `/auth` has seen recently, so that a signed-in browser's requests are decided on the
/// polling threads: an entry found in the store is trusted for ``freshness`` seconds, then read again (on
/// a waiting worker). Ending a session here, or any change another replica makes to the store (a
/// sign-out there), empties it.
final class SessionCache: Sendable {
    private struct Entry {
        let subject: String
        let createdAt: Date
        let checkedAt: Date
    }
    private let entries = Mutex<[String: Entry]>([:])
    static let freshness: TimeInterval = 30
    private static let capacity = 50_000

    /// The session with hash `hash` when it was found in the store less than ``freshness`` seconds ago.
    func lookup(_ hash: String, now: Date) -> (subject: String, createdAt: Date)? {
        entries.withLock { entries in
            guard let entry = entries[hash], now.timeIntervalSince(entry.checkedAt) < Self.freshness else { return nil }
            return (entry.subject, entry.createdAt)
        }
    }

    func remember(_ hash: String, subject: String, createdAt: Date, now: Date) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[hash] = Entry(subject: subject, createdAt: createdAt, checkedAt: now)
        }
    }

    func forget(_ hash: String) {
        _ = entries.withLock { $0.removeValue(forKey: hash) }
    }

    func removeAll() {
        entries.withLock { $0.removeAll() }
    }
}
