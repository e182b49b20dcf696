public import FoundationEssentials
public import ScopeGateCore
public import ScopeGateHTTP

/// How `/auth` words a refusal for lack of scope.
public enum ChallengeMode: String, Sendable, CaseIterable {
    /// FastAPI's tutorial: 401 with `WWW-Authenticate: Bearer scope="…"` for every token problem.
    case scopes
    /// RFC 6750 §3.1: 401 `error="invalid_token"` for bad tokens, 403 `error="insufficient_scope"` for
    /// missing scopes.
    case rfc6750
}

/// Everything a running ScopeGate decides with: immutable once built.
public struct ServiceConfiguration: Sendable {
    /// Route → scope rules for `/auth`.
    public var policy: Policy
    /// The users who can log in and whose tokens are honoured.
    public var users: UserDirectory
    /// The machine clients (none without a clients file).
    public var clients = ClientDirectory([])
    /// Where the principal a verified token is about is looked up: the clients, for a client's own tokens,
    /// then the users.
    public var principals: PrincipalDirectories { PrincipalDirectories([clients, users]) }
    /// The keys file's schedule, when keys come from one: the ring in force then follows the clock, and
    /// `keyring` is the ring at load.
    public var keySchedule: KeySchedule?
    /// Signing and verification keys.
    public var keyring: KeyRing
    /// Password verification (and the cost the dummy check for unknown users spends).
    public var passwordHasher: PasswordHasher
    /// Lifetime of issued tokens, in seconds (FastAPI's tutorial: 30 minutes).
    public var tokenLifetime: TimeInterval = 30 * 60
    /// Claim checks on incoming tokens.
    public var verification: VerificationOptions = VerificationOptions()
    /// How `/auth` words scope refusals.
    public var challenge: ChallengeMode = .scopes
    /// Peers whose forwarded headers `/auth` believes (default: loopback only).
    public var trustedProxies: [CIDRRange] = ServiceConfiguration.loopback
    /// `iss` written into issued tokens, if any.
    public var issuer: String?
    /// `aud` written into issued tokens, if any.
    public var audience: String?
    /// How failed logins slow further tries.
    public var loginLimits = LoginThrottle.Limits()
    /// One log line per request at level info (method, path, status, decision, rule, user, latency).
    public var accessLog = true
    /// Whether the main listener serves `/metrics`; off when an operator listener does.
    public var metricsOnMainListener = true
    /// Revoked tokens and subjects, kept in the store (`--store`) or, without one, in memory. Not replaced
    /// by a reload.
    public var revocations = Revocations()
    /// Refresh tokens: off unless a lifetime or a client's `refresh_token` grant turns them on (and a store
    /// keeps them).
    public var refreshTokens = RefreshTokenSettings()
    /// Users kept in the store (`--users store`); nil: the users file (or the demo users).
    public var storedUsers: StoredUsers?
    /// What logins do about hashes weaker than preferred. Not replaced by a reload.
    public var passwordUpgrades = PasswordUpgrades()
    /// A local Swagger UI for `/docs` (`--docs-assets`); nil: `/docs` loads it from a CDN.
    public var docsAssets: DocsAssets?
    /// How long a signed-in browser stays signed in.
    public var sessions = SessionSettings()

    /// 127.0.0.0/8 and ::1.
    public static let loopback = [CIDRRange("127.0.0.0/8")!, CIDRRange("::1/128")!]

    /// Creates a configuration with the defaults for everything but the loaded files and keys.
    public init(policy: Policy, users: UserDirectory, keyring: KeyRing, passwordHasher: PasswordHasher) {
        self.policy = policy
        self.users = users
        self.keyring = keyring
        self.passwordHasher = passwordHasher
    }

    /// This configuration with what a reload loads replaced: the settings stay.
    func replacing(
        policy: Policy, users: UserDirectory, clients: ClientDirectory, keyring: KeyRing, keySchedule: KeySchedule?
    ) -> ServiceConfiguration {
        var configuration = self
        configuration.policy = policy
        // Users kept in the store: always their latest copy, whoever asks for the replacement.
        configuration.users = storedUsers?.directory ?? users
        configuration.clients = clients
        configuration.keyring = keyring
        configuration.keySchedule = keySchedule
        return configuration
    }
}
