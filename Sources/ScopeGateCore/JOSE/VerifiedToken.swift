public import FoundationEssentials

/// What a token proved, once its signature and claims passed every check.
public struct VerifiedToken: Equatable, Sendable {
    /// The `sub` claim: the user name, or the client id of a client's own token.
    public let subject: String
    /// The scopes the token carries, in their order, without duplicates.
    public let scopes: [String]
    /// The `exp` claim.
    public let expiresAt: Date
    /// The `iat` claim, if present.
    public let issuedAt: Date?
    /// The `jti` claim, if present.
    public let tokenID: String?
    /// The `kid` of the key that verified the token, if it had one.
    public let keyID: String?
    /// The `client_id` claim (RFC 9068 §2.2), if present: the client the token was issued to.
    public let clientID: String?
    /// The `act` claim (RFC 8693 §4.1), if present: who the token was exchanged for, and before them.
    public let actor: JSONValue?
    /// The `iss` claim, if present.
    public let issuer: String?
    /// The `aud` claim's values (one string or a list), empty when absent.
    public let audiences: [String]
    /// The `nbf` claim, if present.
    public let notBefore: Date?
    /// The `sid` claim, if present: the login (refresh-token family) the token was issued in, which ends
    /// when the family is revoked.
    public let sessionID: String?

    /// What a token proved.
    public init(
        subject: String, scopes: [String], expiresAt: Date, issuedAt: Date? = nil, tokenID: String? = nil, keyID: String? = nil,
        clientID: String? = nil, actor: JSONValue? = nil, issuer: String? = nil, audiences: [String] = [], notBefore: Date? = nil,
        sessionID: String? = nil
    ) {
        self.subject = subject
        self.scopes = scopes
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
        self.tokenID = tokenID
        self.keyID = keyID
        self.clientID = clientID
        self.actor = actor
        self.issuer = issuer
        self.audiences = audiences
        self.notBefore = notBefore
        self.sessionID = sessionID
    }
}
