public import FoundationEssentials

/// One login's refresh tokens: every redemption spends one token and adds its successor to the family,
/// which ends at `endsAt` (the login plus the refresh-token lifetime) or when it is revoked.
public struct RefreshFamily: Hashable, Sendable {
    /// The family's id, carried by its access tokens as `sid`.
    public let id: String
    /// The principal's kind (`user`).
    public let kind: String
    public let subject: String
    /// The client the family was issued to; nil for a public login (the password grant without a client).
    public let clientID: String?
    /// The scopes granted at the login; a redemption may ask for fewer, never more.
    public let scopes: [String]
    /// The login.
    public let createdAt: Date
    /// After this no token of the family is redeemed.
    public let endsAt: Date
    /// A token unused this long after it was issued expires.
    public let idleLimit: TimeInterval

    public init(
        id: String, kind: String, subject: String, clientID: String?, scopes: [String], createdAt: Date, endsAt: Date, idleLimit: TimeInterval
    ) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.clientID = clientID
        self.scopes = scopes
        self.createdAt = createdAt
        self.endsAt = endsAt
        self.idleLimit = idleLimit
    }
}

/// One redemption asked of the store: `tokenHash` is spent and `successorHash` joins its family, in one
/// transaction, or nothing changes.
public struct RefreshRedemptionRequest: Sendable {
    /// The hash of the presented token (tokens themselves are never stored).
    public let tokenHash: String
    /// The hash of the token that replaces it.
    public let successorHash: String
    /// The successor sealed under the presented token, kept so that a retry within `grace` gets the same
    /// successor back; only the holder of the spent token can open it. Nil: nothing kept (no grace).
    public let sealedSuccessor: String?
    /// The client that authenticated; must be the family's.
    public let clientID: String?
    public let now: Date
    /// How long after a token was spent its client may present it again and get the same successor;
    /// zero: never (a spent token presented again revokes its family).
    public let grace: TimeInterval
    /// The `exp` of the access token the redemption issues: the family's revocation is kept until then.
    public let accessUntil: Date

    public init(
        tokenHash: String, successorHash: String, sealedSuccessor: String?, clientID: String?, now: Date, grace: TimeInterval, accessUntil: Date
    ) {
        self.tokenHash = tokenHash
        self.successorHash = successorHash
        self.sealedSuccessor = sealedSuccessor
        self.clientID = clientID
        self.now = now
        self.grace = grace
        self.accessUntil = accessUntil
    }
}

/// What a redemption did.
public enum RefreshRedemption: Equatable, Sendable {
    /// The token was spent and its successor issued.
    case rotated(RefreshFamily)
    /// The token was spent moments ago by the same client, within the grace: `sealedSuccessor` is the
    /// successor it got then (still unspent).
    case replayed(RefreshFamily, sealedSuccessor: String)
    /// A spent token was presented again: the family is revoked from now on.
    case reused(RefreshFamily)
    /// Nothing changed, for `reason`.
    case refused(RefreshRefusal)
}

/// Why a redemption changed nothing.
public enum RefreshRefusal: String, Equatable, Sendable {
    /// No such token.
    case unknown
    /// The family was revoked.
    case revoked
    /// The family ended, or the token was unused for longer than the family's idle limit.
    case expired
    /// The family was issued to another client (or to none, or to one while none authenticated).
    case otherClient = "other client"
    /// The caller's check of the family (its principal still enabled, not revoked) said no.
    case notAdmitted = "not admitted"
}

/// A refresh token as introspection and revocation see it.
public struct RefreshTokenState: Equatable, Sendable {
    public let family: RefreshFamily
    /// When this token was issued.
    public let issuedAt: Date
    /// When it stops being redeemable: its idle limit or its family's end, whichever is first.
    public let expiresAt: Date
    /// Whether it was redeemed already.
    public let spent: Bool
    /// Whether its family was revoked.
    public let revoked: Bool

    public init(family: RefreshFamily, issuedAt: Date, expiresAt: Date, spent: Bool, revoked: Bool) {
        self.family = family
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.spent = spent
        self.revoked = revoked
    }

    /// Whether it would be redeemed at `now` (its principal aside).
    public func isLive(at now: Date) -> Bool { !spent && !revoked && now < expiresAt }
}

/// A revoked family whose access tokens may still be unexpired.
public struct RevokedFamily: Hashable, Sendable {
    public let id: String
    /// The latest `exp` of an access token issued in the family: the revocation matters until then.
    public let until: Date

    public init(id: String, until: Date) {
        self.id = id
        self.until = until
    }
}

/// A stored refresh token as a backend reads it inside the redemption's transaction.
struct StoredRefreshToken {
    let family: RefreshFamily
    let familyRevoked: Bool
    let createdMilliseconds: Int64
    let spentMilliseconds: Int64?
    let successorHash: String?
    let sealedSuccessor: String?

    /// When it stops being redeemable: its idle limit or its family's end, whichever comes first.
    var expiresMilliseconds: Int64 {
        min(milliseconds(family.endsAt), createdMilliseconds + Int64((family.idleLimit * 1000).rounded(.down)))
    }
}

/// Milliseconds since 1970, as every backend stores times.
func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }

/// What a redemption does, decided once for every backend from the token as read in the transaction;
/// the backend then writes it.
enum RedemptionStep {
    /// Refused; nothing is written.
    case refuse(RefreshRefusal)
    /// A retry within the grace: the same successor again, the family's access extended.
    case replay(sealedSuccessor: String)
    /// A spent token again: the family is revoked.
    case revokeFamily
    /// Spend the token, store its successor, extend the family's access.
    case rotate

    /// The step for `token` and `request`. `successorIsLive` tells (when asked) whether the token's
    /// successor is still unspent; `admit` is the caller's check of the family, asked only when the
    /// token would otherwise be redeemed.
    static func decide<Failure: Error>(
        _ token: StoredRefreshToken, _ request: RefreshRedemptionRequest, successorIsLive: (String) throws(Failure) -> Bool,
        admit: (RefreshFamily) -> Bool
    ) throws(Failure) -> RedemptionStep {
        let now = milliseconds(request.now)
        let family = token.family
        guard family.clientID == request.clientID else { return .refuse(.otherClient) }
        guard !token.familyRevoked else { return .refuse(.revoked) }
        guard now < milliseconds(family.endsAt) else { return .refuse(.expired) }
        if let spent = token.spentMilliseconds {
            if request.grace > 0, now < spent + Int64((request.grace * 1000).rounded(.down)), let successor = token.successorHash,
                let sealed = token.sealedSuccessor, try successorIsLive(successor), admit(family)
            {
                return .replay(sealedSuccessor: sealed)
            }
            // A spent token again: whoever holds it now, the family can no longer be trusted.
            return .revokeFamily
        }
        guard now < token.expiresMilliseconds else { return .refuse(.expired) }
        guard admit(family) else { return .refuse(.notAdmitted) }
        return .rotate
    }
}
