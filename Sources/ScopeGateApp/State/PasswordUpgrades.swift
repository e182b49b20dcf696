import Logging
import ScopeGateCore
import ScopeGateStore
import Synchronization

/// What a successful login does about a hash weaker than preferred (bcrypt below `--bcrypt-cost`,
/// sha512crypt, yescrypt, Django's or Werkzeug's PBKDF2): with users in the store, the password is hashed
/// again and written back with compare-and-swap on the old hash (a `scopegate users passwd` in between
/// wins); with the users file, which ScopeGate never writes, the user is counted and logged once.
public final class PasswordUpgrades: Sendable {
    private let noticed = Mutex<Set<String>>([])

    public init() {}

    /// Runs on the worker that checked `password` against `user`'s hash.
    func afterLogin(_ user: UserRecord, password: String, context: GrantContext) {
        let configuration = context.state.configuration
        let hasher = configuration.passwordHasher
        guard hasher.needsRehash(user.passwordHash) else { return }
        let from = PasswordScheme.label(of: user.passwordHash)
        guard let store = configuration.storedUsers?.store else {
            guard noticed.withLock({ $0.insert(user.username).inserted }) else { return }
            context.metrics.recordOutdatedPasswordHash()
            context.logger.notice(
                "password hash is weaker than preferred; replace it with: scopegate hash-password",
                metadata: ["auth.subject": "\(user.username)", "password.scheme": "\(from)"])
            return
        }
        // While the store is lost the upgrade waits for a later login (it would only wait on the store).
        guard configuration.revocations.health.isUp else { return }
        let upgraded: String
        do {
            upgraded = try hasher.hash(password)
        } catch {
            // A password bcrypt cannot take whole (past 72 bytes) keeps the hash it has.
            context.logger.notice(
                "password hash kept: \(error)", metadata: ["auth.subject": "\(user.username)", "password.scheme": "\(from)"])
            return
        }
        do {
            if try store.replacePasswordHash(of: user.username, expected: user.passwordHash, with: upgraded) {
                context.metrics.recordPasswordHashUpgraded()
                context.logger.notice(
                    "password hash upgraded",
                    metadata: [
                        "auth.subject": "\(user.username)", "password.scheme": "\(from)", "password.upgraded_to": "\(PasswordScheme.label(of: upgraded))",
                    ])
            }
        } catch {
            context.logger.warning("cannot upgrade a password hash", metadata: ["auth.subject": "\(user.username)", "error": "\(error)"])
        }
    }
}
