public import FoundationEssentials
import Synchronization

/// The shared ``StateStore`` for several replicas: one PostgreSQL database (`--store postgres://…`).
/// Connections are pooled, one caller each at a time; the schema is versioned in `scopegate_schema` and
/// brought up to date when the store is opened, under an advisory lock so replicas starting together
/// migrate once. Concurrent writers on any replica are ordered by row locks: a refresh token's row for its
/// redemption, the change counter's row for every counted change (so user revisions commit in order).
public final class PostgreSQLStore: StateStore {
    /// The schema this binary writes. A database with a newer one is refused rather than misread.
    public static var schemaVersion: Int { migrations.count }

    /// `migrations[n]` brings the schema from version n to n + 1, all in one transaction. Text is `bytea`
    /// (binary-exact, NUL bytes included), times are milliseconds since 1970.
    static let migrations: [String] = [
        """
        CREATE TABLE revoked_tokens (
            issuer BYTEA NOT NULL,
            token_id BYTEA NOT NULL,
            until_ms BIGINT NOT NULL,
            PRIMARY KEY (issuer, token_id)
        );
        CREATE INDEX revoked_tokens_until ON revoked_tokens (until_ms);
        CREATE TABLE subject_not_before (
            kind BYTEA NOT NULL,
            subject BYTEA NOT NULL,
            not_before_ms BIGINT NOT NULL,
            PRIMARY KEY (kind, subject)
        );
        CREATE TABLE change_count (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            count BIGINT NOT NULL
        );
        INSERT INTO change_count (id, count) VALUES (1, 0);
        """,
        """
        CREATE TABLE refresh_families (
            id BYTEA PRIMARY KEY,
            kind BYTEA NOT NULL,
            subject BYTEA NOT NULL,
            client_id BYTEA,
            scopes BYTEA NOT NULL,
            created_ms BIGINT NOT NULL,
            ends_ms BIGINT NOT NULL,
            idle_ms BIGINT NOT NULL,
            access_until_ms BIGINT NOT NULL,
            revoked_ms BIGINT
        );
        CREATE INDEX refresh_families_revoked ON refresh_families (access_until_ms) WHERE revoked_ms IS NOT NULL;
        CREATE INDEX refresh_families_ends ON refresh_families (ends_ms);
        CREATE TABLE refresh_tokens (
            hash BYTEA PRIMARY KEY,
            family_id BYTEA NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
            created_ms BIGINT NOT NULL,
            spent_ms BIGINT,
            successor_hash BYTEA,
            sealed_successor BYTEA
        );
        CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
        """,
        """
        CREATE TABLE users (
            name BYTEA PRIMARY KEY,
            password_hash BYTEA NOT NULL,
            scopes BYTEA NOT NULL,
            email BYTEA,
            full_name BYTEA,
            disabled BOOLEAN NOT NULL,
            revision BIGINT NOT NULL
        );
        CREATE INDEX users_revision ON users (revision);
        """,
        """
        CREATE TABLE login_failures (
            key BYTEA PRIMARY KEY,
            failures BIGINT NOT NULL,
            blocked_until_ms BIGINT NOT NULL,
            last_failure_ms BIGINT NOT NULL
        );
        """,
        """
        CREATE TABLE signing_keys (
            kid BYTEA NOT NULL,
            fingerprint BYTEA NOT NULL,
            last_seen_ms BIGINT NOT NULL,
            PRIMARY KEY (kid, fingerprint)
        );
        """,
        """
        CREATE TABLE authorization_codes (
            hash BYTEA PRIMARY KEY,
            client_id BYTEA NOT NULL,
            redirect_uri BYTEA NOT NULL,
            subject BYTEA NOT NULL,
            scopes BYTEA NOT NULL,
            challenge BYTEA NOT NULL,
            created_ms BIGINT NOT NULL,
            expires_ms BIGINT NOT NULL,
            token_id BYTEA NOT NULL,
            family_id BYTEA NOT NULL,
            used_ms BIGINT
        );
        CREATE INDEX authorization_codes_expires ON authorization_codes (expires_ms);
        """,
        """
        CREATE TABLE browser_sessions (
            hash BYTEA PRIMARY KEY,
            subject BYTEA NOT NULL,
            created_ms BIGINT NOT NULL,
            last_seen_ms BIGINT NOT NULL,
            ends_ms BIGINT NOT NULL,
            idle_ms BIGINT NOT NULL
        );
        CREATE INDEX browser_sessions_subject ON browser_sessions (subject);
        CREATE INDEX browser_sessions_ends ON browser_sessions (ends_ms);
        """,
        """
        CREATE TABLE remembered_consents (
            subject BYTEA NOT NULL,
            client_id BYTEA NOT NULL,
            scopes BYTEA NOT NULL,
            granted_ms BIGINT NOT NULL,
            PRIMARY KEY (subject, client_id)
        );
        """,
    ]

    /// The advisory lock migrations run under ("SCOPEGAT" in ASCII).
    private static let migrationLock: Int64 = 0x5343_4F50_4547_4154

    /// The connection string, never shown: it may hold a password.
    private let conninfo: String
    /// How the store is named in messages: the URL without its password.
    public let name: String
    private let idle = Mutex<[PostgreSQLConnection]>([])
    private static let idleLimit = 8
    /// The connection that listens for other processes' changes (``waitForChange(after:timeout:)``).
    private let listener = Mutex<PostgreSQLConnection?>(nil)
    /// The channel every counted change notifies.
    private static let channel = "scopegate_changes"
    /// How long one use of a connection (connecting included) may wait on the server.
    public let timeout: Duration
    /// How many times a transaction that met a deadlock or a serialization failure is run again.
    private static let attempts = 5

    /// Connects to the database `url` names (`postgres://user@host:port/database?sslmode=verify-full`, or
    /// any libpq connection string) and brings its schema up to date. Every use of a connection,
    /// connecting included, gives up after `timeout`: a server that stopped answering is an error then.
    public init(url: String, timeout: Duration = .seconds(2)) throws(StoreError) {
        conninfo = url
        name = Self.redacted(url)
        self.timeout = timeout
        let connection = try Self.open(url, name: name, deadline: .now + timeout)
        try Self.migrate(connection, name: name)
        idle.withLock { $0.append(connection) }
    }

    /// `url` with the password of its userinfo replaced by `***`; other connection strings are named by
    /// their keywords only.
    public static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.firstIndex(of: ":"), url[schemeEnd...].hasPrefix("://") else { return "postgres (a connection string)" }
        let restStart = url.index(schemeEnd, offsetBy: 3)
        let rest = url[restStart...]
        // The query may carry a password too (password=…): it is never shown.
        let withoutQuery = { (text: Substring) in String(text.prefix { $0 != "?" }) }
        guard let at = rest.firstIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") else { return withoutQuery(url[...]) }
        return withoutQuery((url[..<restStart] + rest[..<colon] + ":***" + rest[at...])[...])
    }

    private static func open(_ conninfo: String, name: String, deadline: ContinuousClock.Instant) throws(StoreError) -> PostgreSQLConnection {
        do {
            return try PostgreSQLConnection(conninfo, deadline: deadline)
        } catch {
            throw StoreError("\(name): \(error.description)")
        }
    }

    private static func migrate(_ connection: PostgreSQLConnection, name: String) throws(StoreError) {
        do {
            try connection.transaction { () throws(PostgreSQLError) in
                try connection.query("SELECT pg_advisory_xact_lock($1)", [.integer(migrationLock)])
                try connection.query("CREATE TABLE IF NOT EXISTS scopegate_schema (version BIGINT NOT NULL)")
                let rows = try connection.query("SELECT version FROM scopegate_schema")
                let version = Int(rows.first?.first?.integer ?? 0)
                guard version <= migrations.count else {
                    throw PostgreSQLError(
                        state: nil,
                        description: "the database has schema version \(version); this ScopeGate knows versions up to \(migrations.count): use a newer one")
                }
                for next in version..<migrations.count { try connection.execute(migrations[next]) }
                if rows.isEmpty {
                    try connection.query("INSERT INTO scopegate_schema (version) VALUES ($1)", [.integer(Int64(migrations.count))])
                } else {
                    try connection.query("UPDATE scopegate_schema SET version = $1", [.integer(Int64(migrations.count))])
                }
            }
        } catch {
            throw StoreError("\(name): \(error.description)")
        }
    }

    /// Runs `body` with a connection of the pool (a new one when every one is in use); a connection that
    /// broke is dropped rather than kept.
    private func withConnection<Result>(_ body: (PostgreSQLConnection) throws(PostgreSQLError) -> Result) throws(StoreError) -> Result {
        let deadline = ContinuousClock.now + timeout
        let connection: PostgreSQLConnection
        if let pooled = idle.withLock({ $0.popLast() }), pooled.isHealthy {
            connection = pooled
            connection.deadline = deadline
        } else {
            connection = try Self.open(conninfo, name: name, deadline: deadline)
        }
        defer {
            if connection.isHealthy {
                idle.withLock { connections in
                    if connections.count < Self.idleLimit { connections.append(connection) }
                }
            }
        }
        do {
            return try body(connection)
        } catch {
            throw StoreError("\(name): \(error.description)")
        }
    }

    /// One transaction, run again (up to ``attempts`` times) when PostgreSQL aborts it for a deadlock or
    /// a serialization failure.
    private func write<Result>(_ body: (PostgreSQLConnection) throws(PostgreSQLError) -> Result) throws(StoreError) -> Result {
        try withConnection { (connection: PostgreSQLConnection) throws(PostgreSQLError) -> Result in
            var attempt = 1
            while true {
                do throws(PostgreSQLError) {
                    return try connection.transaction { () throws(PostgreSQLError) -> Result in try body(connection) }
                } catch {
                    guard error.isRetryable, attempt < Self.attempts else { throw error }
                    attempt += 1
                }
            }
        }
    }

    /// A change, counted in the same transaction (which is what pollers of ``changeCount()`` notice).
    private func change(_ body: (PostgreSQLConnection) throws(PostgreSQLError) -> Void) throws(StoreError) {
        try write { connection throws(PostgreSQLError) in
            try body(connection)
            _ = try Self.count(connection)
        }
    }

    /// Counts a change and returns the new count, and notifies the listening replicas (PostgreSQL
    /// delivers the notification when the transaction commits, not before). The row stays locked until the
    /// transaction ends, so counted changes commit in the order of their counts.
    @discardableResult
    private static func count(_ connection: PostgreSQLConnection) throws(PostgreSQLError) -> Int64 {
        try connection.query(
            """
            WITH counted AS (UPDATE change_count SET count = count + 1 WHERE id = 1 RETURNING count)
            SELECT count FROM counted, pg_notify('\(channel)', '')
            """
        ).first?.first?.integer ?? 0
    }

    /// Takes the change counter's row lock without counting: users' writes run one at a time from here.
    private static func lockChanges(_ connection: PostgreSQLConnection) throws(PostgreSQLError) {
        try connection.query("SELECT count FROM change_count WHERE id = 1 FOR UPDATE")
    }

    private static func milliseconds(_ date: Date) -> Int64 { ScopeGateStore.milliseconds(date) }
    private static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
    private static func optional(_ text: String?) -> PostgreSQLValue { text.map(PostgreSQLValue.text) ?? .null }

    public func revokeToken(id tokenID: String, issuer: String, until: Date) throws(StoreError) {
        try change { connection throws(PostgreSQLError) in
            try connection.query(
                """
                INSERT INTO revoked_tokens (issuer, token_id, until_ms) VALUES ($1, $2, $3)
                ON CONFLICT (issuer, token_id) DO UPDATE SET until_ms = GREATEST(revoked_tokens.until_ms, excluded.until_ms)
                """, [.text(issuer), .text(tokenID), .integer(Self.milliseconds(until))])
        }
    }

    public func revokedTokens(at now: Date) throws(StoreError) -> [RevokedToken] {
        try withConnection { connection throws(PostgreSQLError) in try Self.revokedTokens(at: now, in: connection) }
    }

    private static func revokedTokens(at now: Date, in connection: PostgreSQLConnection) throws(PostgreSQLError) -> [RevokedToken] {
        let rows = try connection.query("SELECT issuer, token_id, until_ms FROM revoked_tokens WHERE until_ms > $1", [.integer(Self.milliseconds(now))])
        return rows.compactMap { row in
            guard row.count == 3, let issuer = row[0].text, let id = row[1].text, let until = row[2].integer else { return nil }
            return RevokedToken(issuer: issuer, tokenID: id, until: Self.date(until))
        }
    }

    public func setNotBefore(_ date: Date, kind: String, subject: String) throws(StoreError) {
        try change { connection throws(PostgreSQLError) in
            try connection.query(
                """
                INSERT INTO subject_not_before (kind, subject, not_before_ms) VALUES ($1, $2, $3)
                ON CONFLICT (kind, subject) DO UPDATE SET not_before_ms = GREATEST(subject_not_before.not_before_ms, excluded.not_before_ms)
                """, [.text(kind), .text(subject), .integer(Self.milliseconds(date))])
        }
    }

    public func notBefores() throws(StoreError) -> [SubjectNotBefore] {
        try withConnection { connection throws(PostgreSQLError) in try Self.notBefores(in: connection) }
    }

    private static func notBefores(in connection: PostgreSQLConnection) throws(PostgreSQLError) -> [SubjectNotBefore] {
        let rows = try connection.query("SELECT kind, subject, not_before_ms FROM subject_not_before")
        return rows.compactMap { row in
            guard row.count == 3, let kind = row[0].text, let subject = row[1].text, let time = row[2].integer else { return nil }
            return SubjectNotBefore(kind: kind, subject: subject, notBefore: Self.date(time))
        }
    }

    @discardableResult
    public func purge(before date: Date) throws(StoreError) -> Int {
        var removed = 0
        let cutoff = PostgreSQLValue.integer(Self.milliseconds(date))
        try change { connection throws(PostgreSQLError) in
            removed = Int(
                try connection.query("WITH gone AS (DELETE FROM revoked_tokens WHERE until_ms <= $1 RETURNING 1) SELECT count(*) FROM gone", [cutoff])
                    .first?.first?.integer ?? 0)
            removed += Int(
                try connection.query(
                    """
                    WITH gone AS (DELETE FROM refresh_families WHERE ends_ms <= $1 AND access_until_ms <= $1 RETURNING 1)
                    SELECT count(*) FROM gone
                    """, [cutoff]
                ).first?.first?.integer ?? 0)
            // Regulation counters a day past their last failure and their ban are of no use to anyone.
            try connection.query(
                "DELETE FROM login_failures WHERE last_failure_ms <= $1 AND blocked_until_ms <= $1", [.integer(Self.milliseconds(date - 86_400))])
            // Codes an hour past their end: long enough that a second use within their life is seen as one.
            try connection.query("DELETE FROM authorization_codes WHERE expires_ms <= $1", [.integer(Self.milliseconds(date - 3600))])
            try connection.query(
                "DELETE FROM browser_sessions WHERE ends_ms <= $1 OR last_seen_ms + idle_ms <= $2",
                [.integer(Self.milliseconds(date)), .integer(Self.milliseconds(date))])
        }
        return removed
    }

    // MARK: Login regulation

    public func saveLoginFailures(_ failures: [LoginFailure], removing removed: [String]) throws(StoreError) {
        try write { connection throws(PostgreSQLError) in
            for failure in failures {
                try connection.query(
                    """
                    INSERT INTO login_failures (key, failures, blocked_until_ms, last_failure_ms) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, blocked_until_ms = excluded.blocked_until_ms,
                        last_failure_ms = excluded.last_failure_ms
                    """,
                    [
                        .text(failure.key), .integer(Int64(failure.failures)), .integer(Self.milliseconds(failure.blockedUntil)),
                        .integer(Self.milliseconds(failure.lastFailure)),
                    ])
            }
            for key in removed { try connection.query("DELETE FROM login_failures WHERE key = $1", [.text(key)]) }
        }
    }

    public func loginFailures(at now: Date, memory: TimeInterval) throws(StoreError) -> [LoginFailure] {
        try withConnection { connection throws(PostgreSQLError) in
            Self.loginFailures(
                try connection.query(
                    "SELECT key, failures, blocked_until_ms, last_failure_ms FROM login_failures WHERE last_failure_ms > $1 OR blocked_until_ms > $2",
                    [.integer(Self.milliseconds(now - memory)), .integer(Self.milliseconds(now))]))
        }
    }

    public func addLoginFailures(_ keys: [String], at now: Date, memory: TimeInterval) throws(StoreError) -> [LoginFailure] {
        try write { connection throws(PostgreSQLError) in
            var counted: [[PostgreSQLField]] = []
            for key in keys {
                counted += try connection.query(
                    """
                    INSERT INTO login_failures (key, failures, blocked_until_ms, last_failure_ms) VALUES ($1, 1, 0, $2)
                    ON CONFLICT (key) DO UPDATE SET
                        failures = CASE WHEN login_failures.last_failure_ms < $3 THEN 1 ELSE login_failures.failures + 1 END,
                        last_failure_ms = GREATEST(login_failures.last_failure_ms, excluded.last_failure_ms)
                    RETURNING key, failures, blocked_until_ms, last_failure_ms
                    """, [.text(key), .integer(Self.milliseconds(now)), .integer(Self.milliseconds(now - memory))])
            }
            return Self.loginFailures(counted)
        }
    }

    public func loginFailures(after date: Date) throws(StoreError) -> [LoginFailure] {
        try withConnection { connection throws(PostgreSQLError) in
            Self.loginFailures(
                try connection.query(
                    "SELECT key, failures, blocked_until_ms, last_failure_ms FROM login_failures WHERE last_failure_ms > $1",
                    [.integer(Self.milliseconds(date))]))
        }
    }

    private static func loginFailures(_ rows: [[PostgreSQLField]]) -> [LoginFailure] {
        rows.compactMap { row in
            guard row.count == 4, let key = row[0].text, let failures = row[1].integer, let blocked = row[2].integer, let last = row[3].integer
            else { return nil }
            return LoginFailure(key: key, failures: Int(failures), blockedUntil: Self.date(blocked), lastFailure: Self.date(last))
        }
    }

    public func recordKeys(_ keys: [KeyRecord], at now: Date, since: Date) throws(StoreError) -> [KeyRecord] {
        try write { connection throws(PostgreSQLError) in
            var seen: [KeyRecord] = []
            for key in keys {
                try connection.query(
                    """
                    INSERT INTO signing_keys (kid, fingerprint, last_seen_ms) VALUES ($1, $2, $3)
                    ON CONFLICT (kid, fingerprint) DO UPDATE SET last_seen_ms = GREATEST(signing_keys.last_seen_ms, excluded.last_seen_ms)
                    """, [.text(key.keyID), .text(key.fingerprint), .integer(Self.milliseconds(now))])
            }
            for id in Set(keys.map(\.keyID)) {
                for row in try connection.query(
                    "SELECT fingerprint, last_seen_ms FROM signing_keys WHERE kid = $1 AND last_seen_ms >= $2",
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
        try write { connection throws(PostgreSQLError) in
            try connection.query(
                """
                INSERT INTO authorization_codes (hash, client_id, redirect_uri, subject, scopes, challenge, created_ms, expires_ms, token_id, family_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                """,
                [
                    .text(code.hash), .text(code.clientID), .text(code.redirectURI), .text(code.subject), .text(code.scopes.joined(separator: " ")),
                    .text(code.challenge), .integer(Self.milliseconds(code.createdAt)), .integer(Self.milliseconds(code.expiresAt)), .text(code.tokenID),
                    .text(code.familyID),
                ])
        }
    }

    public func redeemAuthorizationCode(hash: String, at now: Date) throws(StoreError) -> CodeRedemption {
        try write { connection throws(PostgreSQLError) -> CodeRedemption in
            let rows = try connection.query(
                """
                SELECT client_id, redirect_uri, subject, scopes, challenge, created_ms, expires_ms, token_id, family_id, used_ms
                FROM authorization_codes WHERE hash = $1 FOR UPDATE
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
            try connection.query("UPDATE authorization_codes SET used_ms = $1 WHERE hash = $2", [.integer(Self.milliseconds(now)), .text(hash)])
            return .redeemed(code)
        }
    }

    public func createSession(_ session: BrowserSession) throws(StoreError) {
        try write { connection throws(PostgreSQLError) in
            try connection.query(
                "INSERT INTO browser_sessions (hash, subject, created_ms, last_seen_ms, ends_ms, idle_ms) VALUES ($1, $2, $3, $4, $5, $6)",
                [
                    .text(session.hash), .text(session.subject), .integer(Self.milliseconds(session.createdAt)), .integer(Self.milliseconds(session.lastSeen)),
                    .integer(Self.milliseconds(session.endsAt)), .integer(Int64((session.idleLimit * 1000).rounded())),
                ])
        }
    }

    public func session(hash: String, at now: Date) throws(StoreError) -> BrowserSession? {
        let rows = try withConnection { connection throws(PostgreSQLError) in
            try connection.query("SELECT subject, created_ms, last_seen_ms, ends_ms, idle_ms FROM browser_sessions WHERE hash = $1", [.text(hash)])
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
        try write { connection throws(PostgreSQLError) in
            try connection.query(
                "UPDATE browser_sessions SET last_seen_ms = GREATEST(last_seen_ms, $1) WHERE hash = $2", [.integer(Self.milliseconds(now)), .text(hash)])
        }
    }

    @discardableResult
    public func endSession(hash: String) throws(StoreError) -> Bool {
        var ended = false
        try change { connection throws(PostgreSQLError) in
            ended = !(try connection.query("DELETE FROM browser_sessions WHERE hash = $1 RETURNING hash", [.text(hash)]).isEmpty)
        }
        return ended
    }

    @discardableResult
    public func endSessions(subject: String) throws(StoreError) -> Int {
        var ended = 0
        try change { connection throws(PostgreSQLError) in
            ended = try connection.query("DELETE FROM browser_sessions WHERE subject = $1 RETURNING hash", [.text(subject)]).count
        }
        return ended
    }

    public func rememberConsent(_ consent: RememberedConsent) throws(StoreError) {
        try write { connection throws(PostgreSQLError) in
            try connection.query(
                """
                INSERT INTO remembered_consents (subject, client_id, scopes, granted_ms) VALUES ($1, $2, $3, $4)
                ON CONFLICT (subject, client_id) DO UPDATE SET scopes = excluded.scopes, granted_ms = excluded.granted_ms
                """,
                [.text(consent.subject), .text(consent.clientID), .text(consent.scopes.joined(separator: " ")), .integer(Self.milliseconds(consent.grantedAt))])
        }
    }

    public func consents(of subject: String) throws(StoreError) -> [RememberedConsent] {
        let rows = try withConnection { connection throws(PostgreSQLError) in
            try connection.query(
                "SELECT client_id, scopes, granted_ms FROM remembered_consents WHERE subject = $1 ORDER BY client_id", [.text(subject)])
        }
        return rows.compactMap { row in
            guard row.count == 3, let client = row[0].text, let scopes = row[1].text, let granted = row[2].integer else { return nil }
            return RememberedConsent(
                subject: subject, clientID: client, scopes: scopes.split(separator: " ").map(String.init), grantedAt: Self.date(granted))
        }
    }

    @discardableResult
    public func withdrawConsents(of subject: String, clientID: String?) throws(StoreError) -> Int {
        try write { connection throws(PostgreSQLError) -> Int in
            if let clientID {
                return try connection.query(
                    "DELETE FROM remembered_consents WHERE subject = $1 AND client_id = $2 RETURNING client_id", [.text(subject), .text(clientID)]
                ).count
            }
            return try connection.query("DELETE FROM remembered_consents WHERE subject = $1 RETURNING client_id", [.text(subject)]).count
        }
    }

    // MARK: Users

    private static let userColumns = "name, password_hash, scopes, email, full_name, disabled::int4"

    private static func storedUser(_ row: [PostgreSQLField]) -> StoredUser? {
        guard row.count >= 6, let name = row[0].text, let hash = row[1].text, let scopes = row[2].text, let disabled = row[5].integer else { return nil }
        return StoredUser(
            username: name, passwordHash: hash, scopes: scopes.split(separator: " ").map(String.init), email: row[3].text, fullName: row[4].text,
            disabled: disabled != 0)
    }

    private static func write(_ user: StoredUser, revision: Int64, in connection: PostgreSQLConnection) throws(PostgreSQLError) {
        try connection.query(
            """
            INSERT INTO users (name, password_hash, scopes, email, full_name, disabled, revision) VALUES ($1, $2, $3, $4, $5, $6 <> 0, $7)
            ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, scopes = excluded.scopes, email = excluded.email,
                full_name = excluded.full_name, disabled = excluded.disabled, revision = excluded.revision
            """,
            [
                .text(user.username), .text(user.passwordHash), .text(user.scopes.joined(separator: " ")), optional(user.email),
                optional(user.fullName), .integer(user.disabled ? 1 : 0), .integer(revision),
            ])
    }

    private static func user(named name: String, in connection: PostgreSQLConnection) throws(PostgreSQLError) -> StoredUser? {
        try connection.query("SELECT \(userColumns) FROM users WHERE name = $1", [.text(name)]).first.flatMap(storedUser)
    }

    public func addUser(_ user: StoredUser) throws(StoreError) -> Bool {
        try write { connection throws(PostgreSQLError) -> Bool in
            try Self.lockChanges(connection)
            guard try Self.user(named: user.username, in: connection) == nil else { return false }
            try Self.write(user, revision: try Self.count(connection), in: connection)
            return true
        }
    }

    @discardableResult
    public func changeUser(_ name: String, _ change: UserChange) throws(StoreError) -> StoredUser? {
        try write { connection throws(PostgreSQLError) -> StoredUser? in
            try Self.lockChanges(connection)
            guard let user = try Self.user(named: name, in: connection)?.applying(change) else { return nil }
            try Self.write(user, revision: try Self.count(connection), in: connection)
            return user
        }
    }

    public func replacePasswordHash(of name: String, expected: String, with new: String) throws(StoreError) -> Bool {
        try write { connection throws(PostgreSQLError) -> Bool in
            try Self.lockChanges(connection)
            guard var user = try Self.user(named: name, in: connection), user.passwordHash == expected else { return false }
            user.passwordHash = new
            try Self.write(user, revision: try Self.count(connection), in: connection)
            return true
        }
    }

    public func importUsers(_ users: [StoredUser]) throws(StoreError) -> (added: Int, replaced: Int) {
        try write { connection throws(PostgreSQLError) -> (added: Int, replaced: Int) in
            let revision = try Self.count(connection)
            var replaced = 0
            for user in users {
                if try !connection.query("SELECT 1 FROM users WHERE name = $1", [.text(user.username)]).isEmpty { replaced += 1 }
                try Self.write(user, revision: revision, in: connection)
            }
            return (users.count - replaced, replaced)
        }
    }

    public func user(named name: String) throws(StoreError) -> StoredUser? {
        try withConnection { connection throws(PostgreSQLError) in try Self.user(named: name, in: connection) }
    }

    public func users(changedAfter revision: Int64) throws(StoreError) -> UserChanges {
        let rows = try withConnection { connection throws(PostgreSQLError) in
            try connection.query("SELECT \(Self.userColumns), revision FROM users WHERE revision > $1 ORDER BY name", [.integer(revision)])
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
        try write { connection throws(PostgreSQLError) in
            try connection.query(
                """
                INSERT INTO refresh_families (id, kind, subject, client_id, scopes, created_ms, ends_ms, idle_ms, access_until_ms)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """,
                [
                    .text(family.id), .text(family.kind), .text(family.subject), Self.optional(family.clientID),
                    .text(family.scopes.joined(separator: " ")), .integer(Self.milliseconds(family.createdAt)),
                    .integer(Self.milliseconds(family.endsAt)), .integer(Int64((family.idleLimit * 1000).rounded(.down))),
                    .integer(Self.milliseconds(accessUntil)),
                ])
            try connection.query(
                "INSERT INTO refresh_tokens (hash, family_id, created_ms) VALUES ($1, $2, $3)",
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

    private static func family(_ row: ArraySlice<PostgreSQLField>) -> FamilyRow? {
        let values = Array(row)
        guard values.count == 10, let id = values[0].text, let kind = values[1].text, let subject = values[2].text, let scopes = values[4].text,
            let created = values[5].integer, let ends = values[6].integer, let idle = values[7].integer
        else { return nil }
        let family = RefreshFamily(
            id: id, kind: kind, subject: subject, clientID: values[3].text, scopes: scopes.split(separator: " ").map(String.init),
            createdAt: date(created), endsAt: date(ends), idleLimit: Double(idle) / 1000)
        return FamilyRow(family: family, revoked: !values[9].isNull)
    }

    /// The token and its family; `locking`: with both rows locked until the transaction ends, so
    /// concurrent redemptions of one token (on any replica) take turns.
    private static func token(hash: String, locking: Bool, in connection: PostgreSQLConnection) throws(PostgreSQLError) -> StoredRefreshToken? {
        let rows = try connection.query(
            """
            SELECT t.created_ms, t.spent_ms, t.successor_hash, t.sealed_successor, \(familyColumns)
            FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = $1\(locking ? " FOR UPDATE OF t, f" : "")
            """, [.text(hash)])
        guard let row = rows.first, row.count == 14, let created = row[0].integer, let family = family(row[4...]) else { return nil }
        return StoredRefreshToken(
            family: family.family, familyRevoked: family.revoked, createdMilliseconds: created, spentMilliseconds: row[1].integer,
            successorHash: row[2].text, sealedSuccessor: row[3].text)
    }

    public func redeemRefreshToken(_ request: RefreshRedemptionRequest, admit: (RefreshFamily) -> Bool) throws(StoreError) -> RefreshRedemption {
        let now = Self.milliseconds(request.now)
        return try write { connection throws(PostgreSQLError) -> RefreshRedemption in
            guard let token = try Self.token(hash: request.tokenHash, locking: true, in: connection) else { return .refused(.unknown) }
            let family = token.family
            let accessUntil = Self.milliseconds(request.accessUntil)
            let step = try RedemptionStep.decide(
                token, request,
                successorIsLive: { (successor: String) throws(PostgreSQLError) -> Bool in
                    try connection.query("SELECT 1 FROM refresh_tokens WHERE hash = $1 AND spent_ms IS NULL", [.text(successor)]).count == 1
                }, admit: admit)
            switch step {
            case .refuse(let reason): return .refused(reason)
            case .replay(let sealed):
                try Self.extendAccess(family.id, until: accessUntil, in: connection)
                return .replayed(family, sealedSuccessor: sealed)
            case .revokeFamily:
                try connection.query("UPDATE refresh_families SET revoked_ms = $1 WHERE id = $2", [.integer(now), .text(family.id)])
                try Self.count(connection)
                return .reused(family)
            case .rotate: break
            }
            try connection.query(
                "UPDATE refresh_tokens SET spent_ms = $1, successor_hash = $2, sealed_successor = $3 WHERE hash = $4",
                [.integer(now), .text(request.successorHash), Self.optional(request.sealedSuccessor), .text(request.tokenHash)])
            try connection.query(
                "INSERT INTO refresh_tokens (hash, family_id, created_ms) VALUES ($1, $2, $3)",
                [.text(request.successorHash), .text(family.id), .integer(now)])
            try Self.extendAccess(family.id, until: accessUntil, in: connection)
            return .rotated(family)
        }
    }

    private static func extendAccess(_ id: String, until: Int64, in connection: PostgreSQLConnection) throws(PostgreSQLError) {
        try connection.query(
            "UPDATE refresh_families SET access_until_ms = GREATEST(access_until_ms, $1) WHERE id = $2", [.integer(until), .text(id)])
    }

    public func refreshToken(hash tokenHash: String) throws(StoreError) -> RefreshTokenState? {
        try withConnection { connection throws(PostgreSQLError) -> RefreshTokenState? in
            guard let token = try Self.token(hash: tokenHash, locking: false, in: connection) else { return nil }
            return RefreshTokenState(
                family: token.family, issuedAt: Self.date(token.createdMilliseconds), expiresAt: Self.date(token.expiresMilliseconds),
                spent: token.spentMilliseconds != nil, revoked: token.familyRevoked)
        }
    }

    @discardableResult
    public func revokeRefreshFamily(id: String, at now: Date) throws(StoreError) -> Bool {
        try write { connection throws(PostgreSQLError) -> Bool in
            let known = try connection.query("SELECT revoked_ms FROM refresh_families WHERE id = $1 FOR UPDATE", [.text(id)])
            guard let row = known.first else { return false }
            if row.first?.isNull == true {
                try connection.query("UPDATE refresh_families SET revoked_ms = $1 WHERE id = $2", [.integer(Self.milliseconds(now)), .text(id)])
                try Self.count(connection)
            }
            return true
        }
    }

    public func revokedFamilies(at now: Date) throws(StoreError) -> [RevokedFamily] {
        try withConnection { connection throws(PostgreSQLError) in try Self.revokedFamilies(at: now, in: connection) }
    }

    private static func revokedFamilies(at now: Date, in connection: PostgreSQLConnection) throws(PostgreSQLError) -> [RevokedFamily] {
        let rows = try connection.query(
            "SELECT id, access_until_ms FROM refresh_families WHERE revoked_ms IS NOT NULL AND access_until_ms > $1",
            [.integer(Self.milliseconds(now))])
        return rows.compactMap { row in
            guard row.count == 2, let id = row[0].text, let until = row[1].integer else { return nil }
            return RevokedFamily(id: id, until: Self.date(until))
        }
    }

    /// Nothing to do between requests: PostgreSQL's autovacuum keeps the tables.
    public func maintain() throws(StoreError) {}

    public func changeCount() throws(StoreError) -> Int64 {
        try withConnection { connection throws(PostgreSQLError) in try Self.changeCount(in: connection) }
    }

    private static func changeCount(in connection: PostgreSQLConnection) throws(PostgreSQLError) -> Int64 {
        try connection.query("SELECT count FROM change_count WHERE id = 1").first?.first?.integer ?? 0
    }

    /// Listens on a connection of its own (`LISTEN`, then the count read, so no commit falls between
    /// the two unseen) and wakes at the first notification.
    public func waitForChange(after count: Int64, timeout wait: Duration) throws(StoreError) -> Int64 {
        try listener.withLock { (listener: inout PostgreSQLConnection?) throws(StoreError) -> Int64 in
            do throws(PostgreSQLError) {
                if listener?.isHealthy != true {
                    listener = nil
                    let connection = try PostgreSQLConnection(conninfo, deadline: .now + timeout)
                    connection.deadline = .now + timeout
                    try connection.execute("LISTEN \(Self.channel)")
                    listener = connection
                }
                guard let connection = listener else { return count }
                connection.deadline = .now + timeout
                let current = try Self.changeCount(in: connection)
                guard current == count, try connection.awaitNotification(timeout: wait) else { return current }
                connection.deadline = .now + timeout
                return try Self.changeCount(in: connection)
            } catch {
                if listener?.isHealthy != true { listener = nil }
                throw StoreError("\(name): \(error.description)")
            }
        }
    }

    public func revocationSnapshot(at now: Date) throws(StoreError) -> RevocationSnapshot {
        try withConnection { connection throws(PostgreSQLError) in
            // One snapshot of the database for the four reads.
            try connection.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { () throws(PostgreSQLError) in
                RevocationSnapshot(
                    changeCount: try Self.changeCount(in: connection), tokens: try Self.revokedTokens(at: now, in: connection),
                    notBefores: try Self.notBefores(in: connection), families: try Self.revokedFamilies(at: now, in: connection))
            }
        }
    }
}
