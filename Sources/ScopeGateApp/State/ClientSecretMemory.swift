import FoundationEssentials
import ScopeGateCore
import Synchronization

/// Remembers which (client id, secret) pairs a secret hash accepted, until a pair has gone unused for
/// ``lifetime``, so a busy client pays its PBKDF2 or bcrypt hash once instead of on every call (and never
/// again while it keeps calling: a busy client whose pair expired would otherwise send a burst of
/// concurrent calls to the hash at once). What is kept is an
/// HMAC of the pair under a key made at start and never written anywhere: never the secret, nothing an
/// attacker who reads the process's memory could replay elsewhere. A remembered pair counts only while
/// the hash that accepted it is still in the client's record, so removing a rotated-out hash ends it
/// at once.
final class ClientSecretMemory: Sendable {
    private struct Entry {
        let hash: String
        let until: Date
    }

    private let key: HMACKey
    private let entries = Mutex<[[UInt8]: Entry]>([:])
    /// How long an unused pair is remembered.
    let lifetime: TimeInterval
    private let capacity: Int
    /// The hash an unknown client id is checked against, so it takes a wrong secret's time.
    private let dummy: ClientSecretHash

    init(lifetime: TimeInterval = 300, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
        // Start-up only: a process without randomness has bigger problems than this key.
        key = try! HMACKey(hs256Secret: SecureRandom.bytes(32))
        // Random salt and hash: it matches nothing, and making it costs nothing (checking it costs the rounds).
        dummy = ClientSecretHash.unmatchable()
    }

    private func digest(_ id: String, _ secret: String) -> [UInt8]? {
        try? key.sign(ArraySlice(Array(id.utf8) + [0] + Array(secret.utf8)))
    }

    /// Whether this pair was accepted, and used since within ``lifetime``, by a hash `client` still has; a
    /// use keeps it for another ``lifetime``.
    func remembers(_ id: String, _ secret: String, for client: ClientRecord, now: Date) -> Bool {
        guard let digest = digest(id, secret) else { return false }
        return entries.withLock { entries in
            guard let entry = entries[digest], entry.until > now, client.secretHashes.contains(where: { $0.encoded == entry.hash }) else {
                return false
            }
            entries[digest] = Entry(hash: entry.hash, until: now + lifetime)
            return true
        }
    }

    /// Remembers that `hash` accepted this pair.
    func remember(_ id: String, _ secret: String, hash: ClientSecretHash, now: Date) {
        guard let digest = digest(id, secret) else { return }
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.until > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[digest] = Entry(hash: hash.encoded, until: now + lifetime)
        }
    }

    /// A wrong secret's work, for a client id that does not exist or is disabled.
    func dummyCheck(_ secret: String) -> Bool {
        dummy.verify(secret)
    }
}
