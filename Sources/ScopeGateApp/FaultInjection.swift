/// Stages of the forward-auth pipeline where a test can make the check fail.
struct FaultInjection: Sendable {
    enum Stage: Sendable, CaseIterable {
        case start
        case match
        case verify
        case lookup
        case allow
    }

    struct InjectedFault: Error {}

    /// The stage to fail at.
    let stage: Stage

    func check(_ current: Stage) throws {
        if current == stage { throw InjectedFault() }
    }
}
