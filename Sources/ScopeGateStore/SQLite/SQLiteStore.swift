public import FoundationEssentials
import Glibc
import Synchronization

/// The embedded ``StateStore``: one SQLite file (WAL), shared by the service and the `scopegate` commands
/// that change it. Connections are pooled, one caller each at a time; the schema is versioned with
/// `PRAGMA user_version` and brought up to date when the store is opened.
public final class SQLiteStore: StateStore {
    /// The schema this binary writes. A file with a newer one is refused rather than misread.
    public static var schemaVersion: Int { migrations.count }

    /// `migrations[n]` brings the schema from version n to n + 1; each runs in its own transaction.
    static let migrations: [String] = [
        """
        CREATE TABLE revoked_tokens (
            issuer TEXT NOT NULL,
            token_id TEXT NOT NULL,
            until_ms INTEGER NOT NULL,
            PRIMARY KEY (issuer, token_id)
        ) STRICT;
        CREATE INDEX revoked_tokens_until ON revoked_tokens (until_ms);
        CREATE TABLE subject_not_before (
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            not_before_ms INTEGER NOT NULL,
            PRIMARY KEY (kind, subject)
        ) STRICT;
        CREATE TABLE change_count (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            count INTEGER NOT NULL
        ) STRICT;
        INSERT INTO change_count (id, count) VALUES (1, 0);
        """,
        """
        CREATE TABLE refresh_families (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            client_id TEXT,
            scopes TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            ends_ms INTEGER NOT NULL,
            idle_ms INTEGER NOT NULL,
            access_until_ms INTEGER NOT NULL,
            revoked_ms INTEGER
        ) STRICT;
        CREATE INDEX refresh_families_revoked ON refresh_families (access_until_ms) WHERE revoked_ms IS NOT NULL;
        CREATE INDEX refresh_families_ends ON refresh_families (ends_ms);
        CREATE TABLE refresh_tokens (
            hash TEXT PRIMARY KEY,
            family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
            created_ms INTEGER NOT NULL,
            spent_ms INTEGER,
            successor_hash TEXT,
            sealed_successor TEXT
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
        """,
        """
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            email TEXT,
            full_name TEXT,
            disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),
            revision INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX users_revision ON users (revision);
        """,
        """
        CREATE TABLE login_failures (
            key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            blocked_until_ms INTEGER NOT NULL,
            last_failure_ms INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        """,
        """
        CREATE TABLE signing_keys (
            kid TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            last_seen_ms INTEGER NOT NULL,
            PRIMARY KEY (kid, fingerprint)
        ) STRICT, WITHOUT ROWID;
        """,
        """
        CREATE TABLE authorization_codes (
            hash TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            redirect_uri TEXT NOT NULL,
            subject TEXT NOT NULL,
            scopes TEXT NOT NULL,
            challenge TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            expires_ms INTEGER NOT NULL,
            token_id TEXT NOT NULL,
            family_id TEXT NOT NULL,
            used_ms INTEGER
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX authorization_codes_expires ON authorization_codes (expires_ms);
        """,
        """
        CREATE TABLE browser_sessions (
            hash TEXT PRIMARY KEY,
            subject TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            last_seen_ms INTEGER NOT NULL,
            ends_ms INTEGER NOT NULL,
            idle_ms INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX browser_sessions_subject ON browser_sessions (subject);
        CREATE INDEX browser_sessions_ends ON browser_sessions (ends_ms);
        """,
        """
        CREATE TABLE remembered_consents (
            subject TEXT NOT NULL,
            client_id TEXT NOT NULL,
            scopes TEXT NOT NULL,
            granted_ms INTEGER NOT NULL,
            PRIMARY KEY (subject, client_id)
        ) STRICT, WITHOUT ROWID;
        """,
    ]

    /// The file.
    public let path: String
    private let idle = Mutex<[SQLiteConnection]>([])
    /// Writes from this process take turns here rather than in SQLite's busy handler, which sleeps
    /// (milliseconds at a time) between tries; other processes (the CLI) still meet the busy timeout.
    private let writing = WriterLock()
    private static let idleLimit = 8

    /// Opens the store at `path`, creating it and bringing its schema up to date.
    public init(path: String) throws(StoreError) {
        self.path = path
        let connection = try Self.open(path)
        try Self.migrate(connection, path: path)
        idle.withLock { $0.append(connection) }
    }

    private static func open(_ path: String) throws(StoreError) -> SQLiteConnection {
        do {
            return try SQLiteConnection(path: path)
        } catch {
            throw StoreError(error.description)
        }
    }

    private static func migrate(_ connection: SQLiteConnection, path: String) throws(StoreError) {
        do {
            try connection.transaction { () throws(SQLiteError) in
                let version = Int(try connection.query("PRAGMA user_version").first?.first?.integer ?? 0)
                guard version <= migrations.count else {
                    throw SQLiteError(
                        code: 0,
                        description: "\(path) has schema version \(version); this ScopeGate knows versions up to \(migrations.count): use a newer one")
                }
                for next in version..<migrations.count {
                    try connection.execute(migrations[next])
                    try connection.execute("PRAGMA user_version = \(next + 1)")
                }
            }
        } catch {
            throw StoreError(error.description)
        }
    }

    /// Runs `body` with a connection of the pool (a new one when every one is in use).
    private func withConnection<Result>(_ body: (SQLiteConnection) throws(SQLiteError) -> Result) throws(StoreError) -> Result {
        let connection: SQLiteConnection
        if let pooled = idle.withLock({ $0.popLast() }) {
            connection = pooled
        } else {
            connection = try Self.open(path)
        }
        defer {
            idle.withLock { connections in
                if connections.count < Self.idleLimit { connections.append(connection) }
            }
        }
        do {
            return try body(connection)
        } catch {
            throw StoreError("\(path): \(error.description)")
        }
    }

    /// A change, counted in the same transaction (which is what pollers of ``changeCount()`` notice).
    private func change(_ body: (SQLiteConnection) throws(SQLiteError) -> Void) throws(StoreError) {
        try write { connection throws(SQLiteError) in
            try body(connection)
            try Self.count(connection)
        }
    }

    private static func count(_ connection: SQLiteConnection) throws(SQLiteError) {
        try connection.query("UPDATE change_count SET count = count + 1 WHERE id = 1")
    }

    /// One write transaction, this process's writes one at a time.
    private func write<Result: Sendable>(_ body: (SQLiteConnection) throws(SQLiteError) -> Result) throws(StoreError) -> Result {
        try writing.withLock { () throws(StoreError) -> Result in
            try withConnection { (connection: SQLiteConnection) throws(SQLiteError) -> Result in
                try connection.transaction { () throws(SQLiteError) -> Result in try body(connection) }
            }
        }
    }

    private static func milliseconds(_ date: Date) -> Int64 { ScopeGateStore.milliseconds(date) }
    private static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    public func revokeToken(id tokenID: String, issuer: String, until: Date) throws(StoreError) {
        try change { connection throws(SQLiteError) in
            try connection.query(
                """
                INSERT INTO revoked_tokens (issuer, token_id, until_ms) VALUES (?, ?, ?)
                ON CONFLICT (issuer, token_id) DO UPDATE SET until_ms = max(until_ms, excluded.until_ms)
                """, [.text(issuer), .text(tokenID), .integer(Self.milliseconds(until))])
        }
    }

    public func revokedTokens(at now: Date) throws(StoreError) -> [RevokedToken] {
        try withConnection { connection throws(SQLiteError) in try Self.revokedTokens(at: now, in: connection) }
    }

    private static func revokedTokens(at now: Date, in connection: SQLiteConnection) throws(SQLiteError) -> [RevokedToken] {
        let rows = try connection.query("SELECT issuer, token_id, until_ms FROM revoked_tokens WHERE until_ms > ?", [.integer(Self.milliseconds(now))])
        return rows.compactMap { row in
            guard row.count == 3, let issuer = row[0].text, let id = row[1].text, let until = row[2].integer else { return nil }
            return RevokedToken(issuer: issuer, tokenID: id, until: Self.date(until))
        }
    }

    public func setNotBefore(_ date: Date, kind: String, subject: String) throws(StoreError) {
        try change { connection throws(SQLiteError) in
            try connection.query(
                """
                INSERT INTO subject_not_before (kind, subject, not_before_ms) VALUES (?, ?, ?)
                ON CONFLICT (kind, subject) DO UPDATE SET not_before_ms = max(not_before_ms, excluded.not_before_ms)
                """, [.text(kind), .text(subject), .integer(Self.milliseconds(date))])
        }
    }

    public func notBefores() throws(StoreError) -> [SubjectNotBefore] {
        try withConnection { connection throws(SQLiteError) in try Self.notBefores(in: connection) }
    }

    private static func notBefores(in connection: SQLiteConnection) throws(SQLiteError) -> [SubjectNotBefore] {
        let rows = try connection.query("SELECT kind, subject, not_before_ms FROM subject_not_before")
        return rows.compactMap { row in
            guard row.count == 3, let kind = row[0].text, let subject = row[1].text, let time = row[2].integer else { return nil }
            return SubjectNotBefore(kind: kind, subject: subject, notBefore: Self.date(time))
        }
    }

    @discardableResult
    public func purge(before date: Date) throws(StoreError) -> Int {
        var removed = 0
        try change { connection throws(SQLiteError) in
            try connection.query("DELETE FROM revoked_tokens WHERE until_ms <= ?", [.integer(Self.milliseconds(date))])
            removed = Int(try connection.query("SELECT changes()").first?.first?.integer ?? 0)
            try connection.query(
                "DELETE FROM refresh_families WHERE ends_ms <= ?1 AND access_until_ms <= ?1", [.integer(Self.milliseconds(date))])
            removed += Int(try connection.query("SELECT changes()").first?.first?.integer ?? 0)
            // Regulation counters a day past their last failure and their ban are of no use to anyone.
            try connection.query(
                "DELETE FROM login_failures WHERE last_failure_ms <= ?1 AND blocked_until_ms <= ?1",
                [.integer(Self.milliseconds(date - 86_400))])
            // Codes an hour past their end: long enough that a second use within their life is seen as one.
            try connection.query("DELETE FROM authorization_codes WHERE expires_ms <= ?", [.integer(Self.milliseconds(date - 3600))])
            try connection.query(
                "DELETE FROM browser_sessions WHERE ends_ms <= ? OR last_seen_ms + idle_ms <= ?",
                [.integer(Self.milliseconds(date)), .integer(Self.milliseconds(date))])
        }
        return removed
    }

    // MARK: Login regulation

    public func saveLoginFailures(_ failures: [LoginFailure], removing removed: [String]) throws(StoreError) {
        try write { connection throws(SQLiteError) in
            for failure in failures {
                try connection.query(
                    """
                    INSERT INTO login_failures (key, failures, blocked_until_ms, last_failure_ms) VALUES (?, ?, ?, ?)
                    ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, blocked_until_ms = excluded.blocked_until_ms,
                        last_failure_ms = excluded.last_failure_ms
                    """,
                    [
                        .text(failure.key), .integer(Int64(failure.failures)), .integer(Self.milliseconds(failure.blockedUntil)),
                        .integer(Self.milliseconds(failure.lastFailure)),
                    ])
            }
            for key in removed { try connection.query("DELETE FROM login_failures WHERE key = ?", [.text(key)]) }
        }
    }

    public func loginFailures(at now: Date, memory: TimeInterval) throws(StoreError) -> [LoginFailure] {
        try withConnection { connection throws(SQLiteError) in
            Self.loginFailures(
                try connection.query(
                    "SELECT key, failures, blocked_until_ms, last_failure_ms FROM login_failures WHERE last_failure_ms > ? OR blocked_until_ms > ?",
                    [.integer(Self.milliseconds(now - memory)), .integer(Self.milliseconds(now))]))
        }
    }

    public func addLoginFailures(_ keys: [String], at now: Date, memory: TimeInterval) throws(StoreError) -> [LoginFailure] {
        try write { connection throws(SQLiteError) in
            var counted: [[SQLiteValue]] = []
            for key in keys {
                counted += try connection.query(
                    """
                    INSERT INTO login_failures (key, failures, blocked_until_ms, last_failure_ms) VALUES (?, 1, 0, ?)
                    ON CONFLICT (key) DO UPDATE SET
                        failures = CASE WHEN login_failures.last_failure_ms < ? THEN 1 ELSE login_failures.failures + 1 END,
                        last_failure_ms = max(login_failures.last_failure_ms, excluded.last_failure_ms)
                    RETURNING key, failures, blocked_until_ms, last_failure_ms
                    """, [.text(key), .integer(Self.milliseconds(now)), .integer(Self.milliseconds(now - memory))])
            }
            return Self.loginFailures(counted)
        }
    }

    public func loginFailures(after date: Date) throws(StoreError) -> [LoginFailure] {
        try withConnection { connection throws(SQLiteError) in
            Self.loginFailures(
                try connection.query(
                    "SELECT key, failures, blocked_until_ms, last_failure_ms FROM login_failures WHERE last_failure_ms > ?",
                    [.integer(Self.milliseconds(date))]))
        }
    }

    private static func loginFailures(_ rows: [[SQLiteValue]]) -> [LoginFailure] {
        rows.compactMap { row in
            guard row.count == 4, let key = row[0].text, let failures = row[1].integer, let blocked = row[2].integer, let last = row[3].integer
            else { return nil }
            return LoginFailure(key: key, failures: Int(failures), blockedUntil: Self.date(blocked), lastFailure: Self.date(last))
        }
    }

    public func recordKeys(_ keys: [KeyRecord], at now: Date, since: Date) throws(StoreError) -> [KeyRecord] {
        try write { connection throws(SQLiteError) in
            var seen: [KeyRecord] = []
            for key in keys {
                try connection.query(
                    """
                    INSERT INTO signing_keys (kid, fingerprint, last_seen_ms) VALUES (?, ?, ?)
                    ON CONFLICT (kid, fingerprint) DO UPDATE SET last_seen_ms = max(signing_keys.last_seen_ms, excluded.last_seen_ms)
                    """, [.text(key.keyID), .text(key.fingerprint), .integer(Self.milliseconds(now))])
            }
            for id in Set(keys.map(\.keyID)) {
                for row in try connection.query(
                    "SELECT fingerprint, last_seen_ms FROM signing_keys WHERE kid = ? AND last_seen_ms >= ?",
                    [.text(id), .integer(Self.milliseconds(since))])
                {
                    guard row.count == 2, let fingerprint = row[0].text, let seenAt = row[1].integer else { continue }
                    seen.append(KeyRecord(keyID: id, fingerprint: fingerprint, lastSeen: Self.date(seenAt)))
                }
            }
            return seen
        }
    }

    public func createAuthorizationCode(_ code: AuthorizationCode) throws(StoreError) {
        try write { connection throws(SQLiteError) in
            try connection.query(
                """
                INSERT INTO authorization_codes (hash, client_id, redirect_uri, subject, scopes, challenge, created_ms, expires_ms, token_id, family_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(code.hash), .text(code.clientID), .text(code.redirectURI), .text(code.subject), .text(code.scopes.joined(separator: " ")),
                    .text(code.challenge), .integer(Self.milliseconds(code.createdAt)), .integer(Self.milliseconds(code.expiresAt)), .text(code.tokenID),
                    .text(code.familyID),
                ])
        }
    }

    public func redeemAuthorizationCode(hash: String, at now: Date) throws(StoreError) -> CodeRedemption {
        try write { connection throws(SQLiteError) -> CodeRedemption in
            let rows = try connection.query(
                """
                SELECT client_id, redirect_uri, subject, scopes, challenge, created_ms, expires_ms, token_id, family_id, used_ms
                FROM authorization_codes WHERE hash = ?
                """, [.text(hash)])
            guard let row = rows.first, row.count == 10, let client = row[0].text, let redirect = row[1].text, let subject = row[2].text,
                let scopes = row[3].text, let challenge = row[4].text, let created = row[5].integer, let expires = row[6].integer,
                let tokenID = row[7].text, let familyID = row[8].text
            else { return .unknown }
            let code = AuthorizationCode(
                hash: hash, clientID: client, redirectURI: redirect, subject: subject, scopes: scopes.split(separator: " ").map(String.init),
                challenge: challenge, createdAt: Self.date(created), expiresAt: Self.date(expires), tokenID: tokenID, familyID: familyID)
            if row[9].integer != nil { return .reused(code) }
            guard expires > Self.milliseconds(now) else { return .unknown }
            try connection.query("UPDATE authorization_codes SET used_ms = ? WHERE hash = ?", [.integer(Self.milliseconds(now)), .text(hash)])
            return .redeemed(code)
        }
    }

    public func createSession(_ session: BrowserSession) throws(StoreError) {
        try write { connection throws(SQLiteError) in
            try connection.query(
                "INSERT INTO browser_sessions (hash, subject, created_ms, last_seen_ms, ends_ms, idle_ms) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    .text(session.hash), .text(session.subject), .integer(Self.milliseconds(session.createdAt)), .integer(Self.milliseconds(session.lastSeen)),
                    .integer(Self.milliseconds(session.endsAt)), .integer(Int64((session.idleLimit * 1000).rounded())),
                ])
        }
    }

    public func session(hash: String, at now: Date) throws(StoreError) -> BrowserSession? {
        let rows = try withConnection { connection throws(SQLiteError) in
            try connection.query("SELECT subject, created_ms, last_seen_ms, ends_ms, idle_ms FROM browser_sessions WHERE hash = ?", [.text(hash)])
        }
        guard let row = rows.first, row.count == 5, let subject = row[0].text, let created = row[1].integer, let seen = row[2].integer,
            let ends = row[3].integer, let idle = row[4].integer
        else { return nil }
        let session = BrowserSession(
            hash: hash, subject: subject, createdAt: Self.date(created), lastSeen: Self.date(seen), endsAt: Self.date(ends),
            idleLimit: Double(idle) / 1000)
        return session.isLive(at: now) ? session : nil
    }

    public func touchSession(hash: String, at now: Date) throws(StoreError) {
        try write { connection throws(SQLiteError) in
            try connection.query(
                "UPDATE browser_sessions SET last_seen_ms = max(last_seen_ms, ?) WHERE hash = ?", [.integer(Self.milliseconds(now)), .text(hash)])
        }
    }

    @discardableResult
    public func endSession(hash: String) throws(StoreError) -> Bool {
        var ended = false
        try change { connection throws(SQLiteError) in
            ended = !(try connection.query("DELETE FROM browser_sessions WHERE hash = ? RETURNING hash", [.text(hash)]).isEmpty)
        }
        return ended
    }

    @discardableResult
    public func endSessions(subject: String) throws(StoreError) -> Int {
        var ended = 0
        try change { connection throws(SQLiteError) in
            ended = try connection.query("DELETE FROM browser_sessions WHERE subject = ? RETURNING hash", [.text(subject)]).count
        }
        return ended
    }

    public func rememberConsent(_ consent: RememberedConsent) throws(StoreError) {
        try write { connection throws(SQLiteError) in
            try connection.query(
                """
                INSERT INTO remembered_consents (subject, client_id, scopes, granted_ms) VALUES (?, ?, ?, ?)
                ON CONFLICT (subject, client_id) DO UPDATE SET scopes = excluded.scopes, granted_ms = excluded.granted_ms
                """,
                [.text(consent.subject), .text(consent.clientID), .text(consent.scopes.joined(separator: " ")), .integer(Self.milliseconds(consent.grantedAt))])
        }
    }

    public func consents(of subject: String) throws(StoreError) -> [RememberedConsent] {
        let rows = try withConnection { connection throws(SQLiteError) in
            try connection.query(
                "SELECT client_id, scopes, granted_ms FROM remembered_consents WHERE subject = ? ORDER BY client_id", [.text(subject)])
        }
        return rows.compactMap { row in
            guard row.count == 3, let client = row[0].text, let scopes = row[1].text, let granted = row[2].integer else { return nil }
            return RememberedConsent(
                subject: subject, clientID: client, scopes: scopes.split(separator: " ").map(String.init), grantedAt: Self.date(granted))
        }
    }

    @discardableResult
    public func withdrawConsents(of subject: String, clientID: String?) throws(StoreError) -> Int {
        try write { connection throws(SQLiteError) -> Int in
            if let clientID {
                return try connection.query(
                    "DELETE FROM remembered_consents WHERE subject = ? AND client_id = ? RETURNING client_id", [.text(subject), .text(clientID)]
                ).count
            }
            return try connection.query("DELETE FROM remembered_consents WHERE subject = ? RETURNING client_id", [.text(subject)]).count
        }
    }

    // MARK: Users

    /// Counts a change and returns the count: the revision of the rows the change writes.
    private static func revision(_ connection: SQLiteConnection) throws(SQLiteError) -> Int64 {
        try count(connection)
        return try connection.query("SELECT count FROM change_count WHERE id = 1").first?.first?.integer ?? 0
    }

    private static let userColumns = "name, password_hash, scopes, email, full_name, disabled"

    private static func storedUser(_ row: [SQLiteValue]) -> StoredUser? {
        guard row.count >= 6, let name = row[0].text, let hash = row[1].text, let scopes = row[2].text, let disabled = row[5].integer else { return nil }
        return StoredUser(
            username: name, passwordHash: hash, scopes: scopes.split(separator: " ").map(String.init), email: row[3].text, fullName: row[4].text,
            disabled: disabled != 0)
    }

    private static func write(_ user: StoredUser, revision: Int64, in connection: SQLiteConnection) throws(SQLiteError) {
        try connection.query(
            """
            INSERT INTO users (name, password_hash, scopes, email, full_name, disabled, revision) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, scopes = excluded.scopes, email = excluded.email,
                full_name = excluded.full_name, disabled = excluded.disabled, revision = excluded.revision
            """,
            [
                .text(user.username), .text(user.passwordHash), .text(user.scopes.joined(separator: " ")), user.email.map(SQLiteValue.text) ?? .null,
                user.fullName.map(SQLiteValue.text) ?? .null, .integer(user.disabled ? 1 : 0), .integer(revision),
            ])
    }

    private static func user(named name: String, in connection: SQLiteConnection) throws(SQLiteError) -> StoredUser? {
        try connection.query("SELECT \(userColumns) FROM users WHERE name = ?", [.text(name)]).first.flatMap(storedUser)
    }

    public func addUser(_ user: StoredUser) throws(StoreError) -> Bool {
        try write { connection throws(SQLiteError) -> Bool in
            guard try Self.user(named: user.username, in: connection) == nil else { return false }
            try Self.write(user, revision: try Self.revision(connection), in: connection)
            return true
        }
    }

    @discardableResult
    public func changeUser(_ name: String, _ change: UserChange) throws(StoreError) -> StoredUser? {
        try write { connection throws(SQLiteError) -> StoredUser? in
            guard let user = try Self.user(named: name, in: connection)?.applying(change) else { return nil }
            try Self.write(user, revision: try Self.revision(connection), in: connection)
            return user
        }
    }

    public func replacePasswordHash(of name: String, expected: String, with new: String) throws(StoreError) -> Bool {
        try write { connection throws(SQLiteError) -> Bool in
            guard var user = try Self.user(named: name, in: connection), user.passwordHash == expected else { return false }
            user.passwordHash = new
            try Self.write(user, revision: try Self.revision(connection), in: connection)
            return true
        }
    }

    public func importUsers(_ users: [StoredUser]) throws(StoreError) -> (added: Int, replaced: Int) {
        try write { connection throws(SQLiteError) -> (added: Int, replaced: Int) in
            let revision = try Self.revision(connection)
            var replaced = 0
            for user in users {
                if try !connection.query("SELECT 1 FROM users WHERE name = ?", [.text(user.username)]).isEmpty { replaced += 1 }
                try Self.write(user, revision: revision, in: connection)
            }
            return (users.count - replaced, replaced)
        }
    }

    public func user(named name: String) throws(StoreError) -> StoredUser? {
        try withConnection { connection throws(SQLiteError) in try Self.user(named: name, in: connection) }
    }

    public func users(changedAfter revision: Int64) throws(StoreError) -> UserChanges {
        let rows = try withConnection { connection throws(SQLiteError) in
            try connection.query("SELECT \(Self.userColumns), revision FROM users WHERE revision > ? ORDER BY name", [.integer(revision)])
        }
        var latest = revision
        var users: [StoredUser] = []
        users.reserveCapacity(rows.count)
        for row in rows {
            guard let user = Self.storedUser(row), let rowRevision = row[6].integer else { continue }
            users.append(user)
            latest = max(latest, rowRevision)
        }
        return UserChanges(users: users, revision: latest)
    }

    // MARK: Refresh tokens

    public func createRefreshFamily(_ family: RefreshFamily, tokenHash: String, accessUntil: Date) throws(StoreError) {
        try write { connection throws(SQLiteError) in
            try connection.query(
                """
                INSERT INTO refresh_families (id, kind, subject, client_id, scopes, created_ms, ends_ms, idle_ms, access_until_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(family.id), .text(family.kind), .text(family.subject), family.clientID.map(SQLiteValue.text) ?? .null,
                    .text(family.scopes.joined(separator: " ")), .integer(Self.milliseconds(family.createdAt)),
                    .integer(Self.milliseconds(family.endsAt)), .integer(Int64((family.idleLimit * 1000).rounded(.down))),
                    .integer(Self.milliseconds(accessUntil)),
                ])
            try connection.query(
                "INSERT INTO refresh_tokens (hash, family_id, created_ms) VALUES (?, ?, ?)",
                [.text(tokenHash), .text(family.id), .integer(Self.milliseconds(family.createdAt))])
        }
    }

    /// The columns ``family(_:)`` reads, in its order, from `refresh_families` aliased `f`.
    private static let familyColumns =
        "f.id, f.kind, f.subject, f.client_id, f.scopes, f.created_ms, f.ends_ms, f.idle_ms, f.access_until_ms, f.revoked_ms"

    private struct FamilyRow {
        let family: RefreshFamily
        let revoked: Bool
    }

    private static func family(_ row: ArraySlice<SQLiteValue>) -> FamilyRow? {
        let values = Array(row)
        guard values.count == 10, let id = values[0].text, let kind = values[1].text, let subject = values[2].text, let scopes = values[4].text,
            let created = values[5].integer, let ends = values[6].integer, let idle = values[7].integer
        else { return nil }
        let family = RefreshFamily(
            id: id, kind: kind, subject: subject, clientID: values[3].text, scopes: scopes.split(separator: " ").map(String.init),
            createdAt: date(created), endsAt: date(ends), idleLimit: Double(idle) / 1000)
        return FamilyRow(family: family, revoked: values[9] != .null)
    }

    private static func token(hash: String, in connection: SQLiteConnection) throws(SQLiteError) -> StoredRefreshToken? {
        let rows = try connection.query(
            """
            SELECT t.created_ms, t.spent_ms, t.successor_hash, t.sealed_successor, \(familyColumns)
            FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = ?
            """, [.text(hash)])
        guard let row = rows.first, row.count == 14, let created = row[0].integer, let family = family(row[4...]) else { return nil }
        return StoredRefreshToken(
            family: family.family, familyRevoked: family.revoked, createdMilliseconds: created, spentMilliseconds: row[1].integer,
            successorHash: row[2].text, sealedSuccessor: row[3].text)
    }

    public func redeemRefreshToken(_ request: RefreshRedemptionRequest, admit: (RefreshFamily) -> Bool) throws(StoreError) -> RefreshRedemption {
        let now = Self.milliseconds(request.now)
        return try write { connection throws(SQLiteError) -> RefreshRedemption in
            guard let token = try Self.token(hash: request.tokenHash, in: connection) else { return .refused(.unknown) }
            let family = token.family
            let accessUntil = Self.milliseconds(request.accessUntil)
            let step = try RedemptionStep.decide(
                token, request,
                successorIsLive: { (successor: String) throws(SQLiteError) -> Bool in
                    try connection.query("SELECT 1 FROM refresh_tokens WHERE hash = ? AND spent_ms IS NULL", [.text(successor)]).count == 1
                }, admit: admit)
            switch step {
            case .refuse(let reason): return .refused(reason)
            case .replay(let sealed):
                try Self.extendAccess(family.id, until: accessUntil, in: connection)
                return .replayed(family, sealedSuccessor: sealed)
            case .revokeFamily:
                try connection.query("UPDATE refresh_families SET revoked_ms = ? WHERE id = ?", [.integer(now), .text(family.id)])
                try Self.count(connection)
                return .reused(family)
            case .rotate: break
            }
            try connection.query(
                "UPDATE refresh_tokens SET spent_ms = ?, successor_hash = ?, sealed_successor = ? WHERE hash = ?",
                [.integer(now), .text(request.successorHash), request.sealedSuccessor.map(SQLiteValue.text) ?? .null, .text(request.tokenHash)])
            try connection.query(
                "INSERT INTO refresh_tokens (hash, family_id, created_ms) VALUES (?, ?, ?)",
                [.text(request.successorHash), .text(family.id), .integer(now)])
            try Self.extendAccess(family.id, until: accessUntil, in: connection)
            return .rotated(family)
        }
    }

    private static func extendAccess(_ id: String, until: Int64, in connection: SQLiteConnection) throws(SQLiteError) {
        try connection.query(
            "UPDATE refresh_families SET access_until_ms = max(access_until_ms, ?) WHERE id = ?", [.integer(until), .text(id)])
    }

    public func refreshToken(hash tokenHash: String) throws(StoreError) -> RefreshTokenState? {
        try withConnection { connection throws(SQLiteError) -> RefreshTokenState? in
            guard let token = try Self.token(hash: tokenHash, in: connection) else { return nil }
            return RefreshTokenState(
                family: token.family, issuedAt: Self.date(token.createdMilliseconds), expiresAt: Self.date(token.expiresMilliseconds),
                spent: token.spentMilliseconds != nil, revoked: token.familyRevoked)
        }
    }

    @discardableResult
    public func revokeRefreshFamily(id: String, at now: Date) throws(StoreError) -> Bool {
        try write { connection throws(SQLiteError) -> Bool in
            let known = try connection.query("SELECT revoked_ms FROM refresh_families WHERE id = ?", [.text(id)])
            guard let row = known.first else { return false }
            if row.first == .null {
                try connection.query("UPDATE refresh_families SET revoked_ms = ? WHERE id = ?", [.integer(Self.milliseconds(now)), .text(id)])
                try Self.count(connection)
            }
            return true
        }
    }

    public func revokedFamilies(at now: Date) throws(StoreError) -> [RevokedFamily] {
        try withConnection { connection throws(SQLiteError) in try Self.revokedFamilies(at: now, in: connection) }
    }

    private static func revokedFamilies(at now: Date, in connection: SQLiteConnection) throws(SQLiteError) -> [RevokedFamily] {
        let rows = try connection.query(
            "SELECT id, access_until_ms FROM refresh_families WHERE revoked_ms IS NOT NULL AND access_until_ms > ?",
            [.integer(Self.milliseconds(now))])
        return rows.compactMap { row in
            guard row.count == 2, let id = row[0].text, let until = row[1].integer else { return nil }
            return RevokedFamily(id: id, until: Self.date(until))
        }
    }

    public func maintain() throws(StoreError) {
        // PASSIVE: copies what it can without waiting for readers or blocking writers.
        _ = try withConnection { connection throws(SQLiteError) in try connection.query("PRAGMA wal_checkpoint(PASSIVE)") }
    }

    public func changeCount() throws(StoreError) -> Int64 {
        try withConnection { connection throws(SQLiteError) in try Self.changeCount(in: connection) }
    }

    private static func changeCount(in connection: SQLiteConnection) throws(SQLiteError) -> Int64 {
        try connection.query("SELECT count FROM change_count WHERE id = 1").first?.first?.integer ?? 0
    }

    /// SQLite cannot tell one process of another's commit: the count is read every tenth of a second (a
    /// read of one row of a local file).
    public func waitForChange(after count: Int64, timeout: Duration) throws(StoreError) -> Int64 {
        let deadline = ContinuousClock.now + timeout
        while true {
            let current = try changeCount()
            let left = deadline - .now
            guard current == count, left > .zero else { return current }
            Self.sleep(min(left, .milliseconds(100)))
        }
    }

    private static func sleep(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
    }

    public func revocationSnapshot(at now: Date) throws(StoreError) -> RevocationSnapshot {
        try withConnection { connection throws(SQLiteError) in
            // A read transaction: the four reads see one version of the file.
            try connection.query("BEGIN")
            defer { _ = try? connection.query("COMMIT") }
            return RevocationSnapshot(
                changeCount: try Self.changeCount(in: connection), tokens: try Self.revokedTokens(at: now, in: connection),
                notBefores: try Self.notBefores(in: connection), families: try Self.revokedFamilies(at: now, in: connection))
        }
    }
}
