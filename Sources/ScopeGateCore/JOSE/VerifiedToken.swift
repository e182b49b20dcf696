public import FoundationEssentials

/// What a token proved, once its signature and claims passed every check.
public struct VerifiedToken: Equatable, Sendable {
    /// The `sub` claim: the user name.
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
}
