public import FoundationEssentials

/// Where a key is in its life, derived from the keys file's `activate_at` times and the clock alone.
public enum KeyState: String, Sendable, CaseIterable {
    /// Published and accepted, never signing yet: its `activate_at` is in the future.
    case next
    /// The newest key of its algorithm whose `activate_at` has passed: it signs.
    case active
    /// Superseded, still accepted and published until no token it signed can be valid.
    case retiring
    /// Neither published nor accepted.
    case retired
}

/// One key of a keys file with its activation time.
public struct ScheduledKey: Sendable {
    /// The key.
    public let key: any JWSKey
    /// When it starts signing; nil: from when the file was loaded.
    public let activateAt: Date?
    /// Where the key is written, for messages.
    public let line: Int
    public let column: Int

    /// A key that starts signing at `activateAt`.
    public init(key: any JWSKey, activateAt: Date?, line: Int = 0, column: Int = 0) {
        self.key = key
        self.activateAt = activateAt
        self.line = line
        self.column = column
    }
}

/// A key's state at one moment, with the times that bound it.
public struct KeyStatus: Sendable {
    public let key: ScheduledKey
    public let state: KeyState
    /// When the key entered its state.
    public let since: Date
    /// When nothing needs the key any more and it may be deleted from the file (the end of retiring); nil
    /// while no successor is active.
    public let deletableAt: Date?
    /// Whether the key signs access tokens now: the active key of the signing algorithm. An active key of
    /// another algorithm only verifies (and is published) until it is removed from the file.
    public let signs: Bool
}

/// The keys of a keys file and their lifecycle: per algorithm, the key with the latest `activate_at` at or
/// before now signs; later ones are *next*; earlier ones are *retiring* until their successor's activation
/// plus the longest token lifetime plus the leeway, then *retired*. Nothing is stored: every state follows
/// from the file and the clock, so replicas agree and a restart changes nothing.
public struct KeySchedule: Sendable {
    /// The keys, in file order.
    public let keys: [ScheduledKey]
    /// The algorithm that signs access tokens; nil: the algorithm of the newest active key.
    public let signingAlgorithm: JWSAlgorithm?
    /// When the file was loaded: the activation of keys without `activate_at`.
    public let loadedAt: Date

    /// A schedule; ``KeySchedule/load(yaml:file:loadedAt:readFile:)`` builds and checks one from a file.
    public init(keys: [ScheduledKey], signingAlgorithm: JWSAlgorithm?, loadedAt: Date) {
        self.keys = keys
        self.signingAlgorithm = signingAlgorithm
        self.loadedAt = loadedAt
    }

    /// Every key's state at `now`, for tokens that live at most `tokenLifetime` with `leeway` of clock skew.
    public func statuses(at now: Date, tokenLifetime: TimeInterval, leeway: TimeInterval) -> [KeyStatus] {
        let phases = keys.map { phase(of: $0, at: now, tokenLifetime: tokenLifetime, leeway: leeway) }
        let active = phases.indices.filter { phases[$0].state == .active }
        let algorithm = signingAlgorithm ?? active.max { phases[$0].since < phases[$1].since }.map { keys[$0].key.algorithm }
        let signer = active.first { keys[$0].key.algorithm == algorithm }
        return keys.indices.map { index in
            let (state, since, deletableAt) = phases[index]
            return KeyStatus(key: keys[index], state: state, since: since, deletableAt: deletableAt, signs: index == signer)
        }
    }

    /// When `key` starts signing.
    public func activation(_ key: ScheduledKey) -> Date { key.activateAt ?? loadedAt }

    private func phase(
        of key: ScheduledKey, at now: Date, tokenLifetime: TimeInterval, leeway: TimeInterval
    ) -> (
        state: KeyState, since: Date, deletableAt: Date?
    ) {
        let start = activation(key)
        guard start <= now else { return (.next, loadedAt, nil) }
        // The earliest later key of the same algorithm that is active by now supersedes this one.
        let successor = keys.filter { $0.key.algorithm == key.key.algorithm && activation($0) > start && activation($0) <= now }
            .map(activation).min()
        guard let successor else { return (.active, start, nil) }
        let end = successor + tokenLifetime + leeway
        if now < end { return (.retiring, successor, end) }
        return (.retired, end, end)
    }

    /// The key ring in force at `now`: the active key of the signing algorithm signs; every key that is not
    /// retired verifies; a token without `kid` is checked against the active HS256 key only. Also when the
    /// ring next changes (an activation or a retirement), for the caller to build it again then.
    public func ring(at now: Date, tokenLifetime: TimeInterval, leeway: TimeInterval) throws(KeyError) -> (ring: KeyRing, changesAt: Date?) {
        let statuses = statuses(at: now, tokenLifetime: tokenLifetime, leeway: leeway)
        guard let signing = statuses.firstIndex(where: \.signs) else { throw .noSigningKey(algorithm: signingAlgorithm?.rawValue) }
        let verifying = statuses.indices.filter { $0 != signing && statuses[$0].state != .retired }.map { statuses[$0].key.key }
        let keyless = statuses.first { $0.state == .active && $0.key.key.algorithm == .hs256 }.map(\.key.key)
        let ring = try KeyRing(signingKey: statuses[signing].key.key, verificationKeys: verifying, keylessKey: .some(keyless))
        let changes = keys.flatMap { key -> [Date] in
            var times = [activation(key)]
            let later = keys.filter { $0.key.algorithm == key.key.algorithm && activation($0) > activation(key) }.map(activation)
            if let successor = later.min() { times.append(successor + tokenLifetime + leeway) }
            return times
        }
        return (ring, changes.filter { $0 > now }.min())
    }
}
