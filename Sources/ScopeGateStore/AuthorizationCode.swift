public import FoundationEssentials

/// An authorization code (RFC 6749 §4.1.2) as the store keeps it: by its hash, with everything its
/// redemption must match (the client, the redirect URI, the PKCE challenge) and the ids of what it will
/// issue, chosen when it is made, so that a second use can revoke them (RFC 6749 §4.1.2: "SHOULD revoke
/// … all tokens previously issued based on that authorization code").
public struct AuthorizationCode: Hashable, Sendable {
    /// SHA-256 of the code, base64url: the code itself is never kept.
    public let hash: String
    public let clientID: String
    /// The redirect URI `/authorize` was given (the token request must name the same).
    public let redirectURI: String
    /// The user who signed in and consented.
    public let subject: String
    /// What the user consented to.
    public let scopes: [String]
    /// The PKCE `code_challenge` (S256).
    public let challenge: String
    public let createdAt: Date
    public let expiresAt: Date
    /// The `jti` of the access token the redemption issues.
    public let tokenID: String
    /// The refresh-token family the redemption starts, if it starts one (its id is the tokens' `sid`).
    public let familyID: String

    public init(
        hash: String, clientID: String, redirectURI: String, subject: String, scopes: [String], challenge: String, createdAt: Date, expiresAt: Date,
        tokenID: String, familyID: String
    ) {
        self.hash = hash
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.subject = subject
        self.scopes = scopes
        self.challenge = challenge
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.tokenID = tokenID
        self.familyID = familyID
    }
}

/// What redeeming an authorization code found.
public enum CodeRedemption: Hashable, Sendable {
    /// Its first use, in time: the code is spent now.
    case redeemed(AuthorizationCode)
    /// Spent already: what its first use issued must be revoked.
    case reused(AuthorizationCode)
    /// No such code, or it expired unused.
    case unknown
}

/// A person's signed-in browser (a session): kept by the hash of its cookie's value, ending
/// `idleLimit` seconds after its last use or at `endsAt`, whichever comes first.
public struct BrowserSession: Hashable, Sendable {
    /// SHA-256 of the cookie's value, base64url: the value itself is never kept.
    public let hash: String
    /// The user signed in.
    public let subject: String
    public let createdAt: Date
    public let lastSeen: Date
    public let endsAt: Date
    public let idleLimit: TimeInterval

    public init(hash: String, subject: String, createdAt: Date, lastSeen: Date, endsAt: Date, idleLimit: TimeInterval) {
        self.hash = hash
        self.subject = subject
        self.createdAt = createdAt
        self.lastSeen = lastSeen
        self.endsAt = endsAt
        self.idleLimit = idleLimit
    }

    /// Whether the session is still in force at `now`.
    public func isLive(at now: Date) -> Bool {
        now < endsAt && now.timeIntervalSince(lastSeen) < idleLimit
    }
}

/// A consent a user asked ScopeGate to remember: `client` may have `scopes` for `subject` without asking
/// again, until withdrawn (at `/consents`, or with `scopegate consents revoke`).
public struct RememberedConsent: Hashable, Sendable {
    public let subject: String
    public let clientID: String
    /// The scopes consented to, sorted.
    public let scopes: [String]
    public let grantedAt: Date

    public init(subject: String, clientID: String, scopes: [String], grantedAt: Date) {
        self.subject = subject
        self.clientID = clientID
        self.scopes = Array(Set(scopes)).sorted()
        self.grantedAt = grantedAt
    }
}
