public import FoundationEssentials

/// What ScopeGate keeps beyond one process's memory: refresh-token families, revoked access tokens and
/// per-subject "not before" times, so that a login and a revocation survive a restart and every replica
/// sees them. One protocol, one shared test
/// suite (`StoreSuite` in the tests): SQLite (embedded, ``SQLiteStore``) is the first backend; a second
/// only has to pass the same suite.
///
/// Calls may block (a disk, a network): the service makes them off libmicrohttpd's polling threads and
/// keeps an in-memory copy for its decisions.
public protocol StateStore: Sendable {
    /// Records that the access token `tokenID` issued by `issuer` is revoked; kept until `until` (the
    /// token's `exp`), after which the token is refused for having expired anyway. Revoking twice is one
    /// revocation (the later `until` is kept).
    func revokeToken(id tokenID: String, issuer: String, until: Date) throws(StoreError)

    /// The revocations still in force at `now`.
    func revokedTokens(at now: Date) throws(StoreError) -> [RevokedToken]

    /// Refuses every token issued to `subject` (of `kind`, such as `user` or `client`) before `date`. A later
    /// call replaces the time only with a later one.
    func setNotBefore(_ date: Date, kind: String, subject: String) throws(StoreError)

    /// Every subject's "not before" time.
    func notBefores() throws(StoreError) -> [SubjectNotBefore]

    /// Starts a refresh-token family with its first token (by hash); its revocation, should it come, is
    /// kept until `accessUntil` (the first access token's `exp`) at least.
    func createRefreshFamily(_ family: RefreshFamily, tokenHash: String, accessUntil: Date) throws(StoreError)

    /// Redeems one refresh token atomically: of any number of concurrent redemptions of one token at most
    /// one rotates it. `admit` is asked, inside the transaction, whether the family may still be used (its
    /// principal enabled, not revoked since the login); it must be quick and must not call the store.
    func redeemRefreshToken(_ request: RefreshRedemptionRequest, admit: (RefreshFamily) -> Bool) throws(StoreError) -> RefreshRedemption

    /// The refresh token with hash `tokenHash`, or nil when there is none.
    func refreshToken(hash tokenHash: String) throws(StoreError) -> RefreshTokenState?

    /// Revokes the family `id` at `now` (its tokens stop being redeemed, its access tokens are refused);
    /// false when there is no such family. Revoking twice keeps the first time.
    @discardableResult
    func revokeRefreshFamily(id: String, at now: Date) throws(StoreError) -> Bool

    /// Revoked families whose access tokens may be unexpired at `now`.
    func revokedFamilies(at now: Date) throws(StoreError) -> [RevokedFamily]

    /// Drops revocations that ended before `date`, and families that ended before it with no access token
    /// left; how many went.
    @discardableResult
    func purge(before date: Date) throws(StoreError) -> Int

    /// Adds `user`; false when a user of that name exists (nothing changes then).
    func addUser(_ user: StoredUser) throws(StoreError) -> Bool

    /// Applies `change` to the user `name`: the user after it, or nil when there is no such user.
    @discardableResult
    func changeUser(_ name: String, _ change: UserChange) throws(StoreError) -> StoredUser?

    /// Replaces the user's password hash only if it is still `expected` (compare and swap, for upgrading
    /// a hash at login while a `scopegate users passwd` may run); whether it was replaced.
    func replacePasswordHash(of name: String, expected: String, with new: String) throws(StoreError) -> Bool

    /// Adds the users, replacing those of the same name, in one transaction: how many were added and how
    /// many replaced.
    func importUsers(_ users: [StoredUser]) throws(StoreError) -> (added: Int, replaced: Int)

    /// The user `name`, or nil.
    func user(named name: String) throws(StoreError) -> StoredUser?

    /// The users added or changed after `revision` (0: every user), in name order, and the revision that
    /// reading brings the caller to.
    func users(changedAfter revision: Int64) throws(StoreError) -> UserChanges

    /// Writes login-regulation counters (replacing those with the same key), and removes those of
    /// `removed`, in one transaction.
    func saveLoginFailures(_ failures: [LoginFailure], removing removed: [String]) throws(StoreError)

    /// The login-regulation counters still of use at `now`: a failure within `memory` seconds, or a ban
    /// not over.
    func loginFailures(at now: Date, memory: TimeInterval) throws(StoreError) -> [LoginFailure]

    /// Counts one more failed login under each of `keys`, atomically (replicas counting the same key at
    /// once all count): a key whose last failure is more than `memory` seconds before `now` starts again
    /// at one. The counters after the change.
    func addLoginFailures(_ keys: [String], at now: Date, memory: TimeInterval) throws(StoreError) -> [LoginFailure]

    /// The login-regulation counters whose last failure is after `date` (what other replicas counted
    /// since a replica last looked).
    func loginFailures(after date: Date) throws(StoreError) -> [LoginFailure]

    /// Records that this process holds the keys `keys` at `now` (a key id and a fingerprint of its
    /// material each), and returns every record of those key ids seen since `since`, this process's
    /// included: a key id with two fingerprints means two replicas sign or verify with different
    /// material under one `kid`.
    func recordKeys(_ keys: [KeyRecord], at now: Date, since: Date) throws(StoreError) -> [KeyRecord]

    /// Keeps an authorization code until it is redeemed or expires.
    func createAuthorizationCode(_ code: AuthorizationCode) throws(StoreError)

    /// Redeems the code with hash `hash` at `now`, atomically: of any number of concurrent redemptions
    /// one finds it ``CodeRedemption/redeemed(_:)``, the others ``CodeRedemption/reused(_:)``.
    func redeemAuthorizationCode(hash: String, at now: Date) throws(StoreError) -> CodeRedemption

    /// Keeps a new browser session.
    func createSession(_ session: BrowserSession) throws(StoreError)

    /// The session with hash `hash` when it is still in force at `now`, else nil.
    func session(hash: String, at now: Date) throws(StoreError) -> BrowserSession?

    /// Records that the session was used at `now` (its idle time starts again).
    func touchSession(hash: String, at now: Date) throws(StoreError)

    /// Ends the session with hash `hash` (a counted change: every replica drops its copy); false when
    /// there was none.
    @discardableResult
    func endSession(hash: String) throws(StoreError) -> Bool

    /// Ends every session of `subject` (a counted change); how many ended.
    @discardableResult
    func endSessions(subject: String) throws(StoreError) -> Int

    /// Remembers a consent, replacing the one of the same user and client.
    func rememberConsent(_ consent: RememberedConsent) throws(StoreError)

    /// The consents `subject` asked to remember, by client id.
    func consents(of subject: String) throws(StoreError) -> [RememberedConsent]

    /// Withdraws `subject`'s consent for `clientID`, or all of them when it is nil; how many went.
    @discardableResult
    func withdrawConsents(of subject: String, clientID: String?) throws(StoreError) -> Int

    /// Housekeeping the service runs about once a second, off the request threads (SQLite: a checkpoint
    /// of its write-ahead log, so a request's commit seldom has one to do).
    func maintain() throws(StoreError)

    /// A number that grows with every change, from any process sharing the store: polling it is how a
    /// running service learns that the CLI changed something.
    func changeCount() throws(StoreError) -> Int64

    /// Waits up to `timeout` for the change count to differ from `count`, and returns the count then:
    /// how a replica learns of another's change (PostgreSQL: a notification, pushed at once; SQLite: read
    /// every tenth of a second). A count equal to `count` after the wait is the consistency check that
    /// a missed notification would fail.
    func waitForChange(after count: Int64, timeout: Duration) throws(StoreError) -> Int64

    /// The revocations in force at `now` (revoked access tokens, revoked families, "not before" times)
    /// and the change count they reflect, all read in one transaction.
    func revocationSnapshot(at now: Date) throws(StoreError) -> RevocationSnapshot
}

/// What ``StateStore/revocationSnapshot(at:)`` reads: one consistent view of the revocations.
public struct RevocationSnapshot: Sendable, Equatable {
    /// The change count the view reflects.
    public let changeCount: Int64
    public let tokens: [RevokedToken]
    public let notBefores: [SubjectNotBefore]
    public let families: [RevokedFamily]

    public init(changeCount: Int64, tokens: [RevokedToken], notBefores: [SubjectNotBefore], families: [RevokedFamily]) {
        self.changeCount = changeCount
        self.tokens = tokens
        self.notBefores = notBefores
        self.families = families
    }
}

/// A revoked access token.
public struct RevokedToken: Hashable, Sendable {
    public let issuer: String
    public let tokenID: String
    /// When the revocation may be forgotten (the token's `exp`).
    public let until: Date

    public init(issuer: String, tokenID: String, until: Date) {
        self.issuer = issuer
        self.tokenID = tokenID
        self.until = until
    }
}

/// A subject whose tokens issued before `notBefore` are refused.
public struct SubjectNotBefore: Hashable, Sendable {
    public let kind: String
    public let subject: String
    public let notBefore: Date

    public init(kind: String, subject: String, notBefore: Date) {
        self.kind = kind
        self.subject = subject
        self.notBefore = notBefore
    }
}

/// Why the store could not do what was asked.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A user kept in the store (`serve --users store`), as `scopegate users` manages them.
public struct StoredUser: Hashable, Sendable {
    public var username: String
    public var passwordHash: String
    /// The scopes the user may be granted, in their order.
    public var scopes: [String]
    public var email: String?
    public var fullName: String?
    public var disabled: Bool

    public init(username: String, passwordHash: String, scopes: [String], email: String? = nil, fullName: String? = nil, disabled: Bool = false) {
        self.username = username
        self.passwordHash = passwordHash
        self.scopes = scopes
        self.email = email
        self.fullName = fullName
        self.disabled = disabled
    }
}

/// One change to a stored user.
public enum UserChange: Sendable, Equatable {
    case passwordHash(String)
    case disabled(Bool)
    /// Adds these scopes (those it has already are kept where they are).
    case grant([String])
    /// Removes these scopes.
    case ungrant([String])
}

/// The users changed since a revision, and the revision they bring the reader to.
public struct UserChanges: Sendable, Equatable {
    public let users: [StoredUser]
    public let revision: Int64

    public init(users: [StoredUser], revision: Int64) {
        self.users = users
        self.revision = revision
    }
}

/// One login-regulation counter: failed logins under a key (a user and address, an address, a user), and
/// the ban they earned.
public struct LoginFailure: Hashable, Sendable {
    public let key: String
    public let failures: Int
    public let blockedUntil: Date
    public let lastFailure: Date

    public init(key: String, failures: Int, blockedUntil: Date, lastFailure: Date) {
        self.key = key
        self.failures = failures
        self.blockedUntil = blockedUntil
        self.lastFailure = lastFailure
    }
}

extension StoredUser {
    /// The user with `change` made, as every backend makes it.
    func applying(_ change: UserChange) -> StoredUser {
        var user = self
        switch change {
        case .passwordHash(let hash): user.passwordHash = hash
        case .disabled(let disabled): user.disabled = disabled
        case .grant(let scopes): for scope in scopes where !user.scopes.contains(scope) { user.scopes.append(scope) }
        case .ungrant(let scopes): user.scopes.removeAll(where: scopes.contains)
        }
        return user
    }
}

/// A signing key as replicas compare them through the store: its `kid` and a fingerprint of its material
/// (never the material), and when a process last said it holds it.
public struct KeyRecord: Hashable, Sendable {
    public let keyID: String
    public let fingerprint: String
    public let lastSeen: Date

    public init(keyID: String, fingerprint: String, lastSeen: Date) {
        self.keyID = keyID
        self.fingerprint = fingerprint
        self.lastSeen = lastSeen
    }
}
