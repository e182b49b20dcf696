public import FoundationEssentials
public import ScopeGateHTTP

/// Where failed logins are counted, for login regulation. ``LoginThrottle`` keeps them in memory; a store
/// shared by replicas implements the same calls. Every call may block, so the token endpoint makes them
/// only on worker threads.
public protocol LoginAttemptStore: Sendable {
    /// How long the pair (`username`, `address`) must still wait before another try; nil when it may try now.
    func retryAfter(username: String, address: IPAddress?, now: Date) -> TimeInterval?
    /// Counts a failed try.
    func recordFailure(username: String, address: IPAddress?, now: Date)
    /// Forgets the pair's failures after a successful try.
    func recordSuccess(username: String, address: IPAddress?)
}
