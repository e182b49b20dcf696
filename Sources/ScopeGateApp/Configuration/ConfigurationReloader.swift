public import Logging
import ScopeGateCore
import Synchronization

/// Reloads the policy, users and secret into a running service. A load that fails validation changes
/// nothing: its errors are logged, `scopegate_config_reloads_total{result="failure"}` counts it, and the
/// configuration in force stays. Reloads run one at a time.
public final class ConfigurationReloader: Sendable {
    private let files: ConfigurationFiles
    private let service: ScopeGateService
    private let logger: Logger
    /// The bytes of the last load that succeeded; also the lock that runs reloads one at a time.
    private let lastLoaded: Mutex<ConfigurationFiles.Contents>

    /// A reloader for `service`, whose configuration was built from `initial`.
    public init(files: ConfigurationFiles, initial: ConfigurationFiles.Contents, service: ScopeGateService, logger: Logger) {
        self.files = files
        self.service = service
        self.logger = logger
        self.lastLoaded = Mutex(initial)
    }

    /// What a reload did.
    public enum Outcome: Equatable, Sendable {
        /// The new configuration is in force.
        case reloaded
        /// The files are as last loaded; nothing was done.
        case unchanged
        /// The files were refused; the old configuration stays.
        case failed(String)
    }

    /// Loads the files and puts them in force. With `onlyIfChanged`, files whose bytes are those of the
    /// last successful load are not loaded again (a file watcher sees many events for one edit).
    @discardableResult
    public func reload(reason: String, onlyIfChanged: Bool = false) -> Outcome {
        lastLoaded.withLock { last in
            if onlyIfChanged, let contents = try? files.read(), contents == last { return .unchanged }
            do throws(ConfigurationLoadError) {
                let loaded = try files.load(logger: logger)
                if onlyIfChanged, loaded.contents == last { return .unchanged }
                if let problem = service.identityTokenProblem(policy: loaded.policy, keyring: loaded.keyring, keySchedule: loaded.keySchedule) {
                    throw ConfigurationLoadError(description: problem)
                }
                let previous = service.configuration.keySchedule
                service.replace(
                    policy: loaded.policy, users: loaded.users, clients: loaded.clients, keyring: loaded.keyring, keySchedule: loaded.keySchedule)
                last = loaded.contents
                if let schedule = loaded.keySchedule, let path = files.keysPath {
                    for warning in service.keyScheduleWarnings(schedule, file: path, replacing: previous) { logger.warning("\(warning.description)") }
                }
                service.metrics.recordReload(succeeded: true)
                logger.notice(
                    "configuration reloaded",
                    metadata: [
                        "reload.reason": "\(reason)", "policy.rules": "\(loaded.policy.rules.count)", "users.count": "\(loaded.users.users.count)",
                        "clients.count": "\(loaded.clients.clients.count)",
                    ])
                return .reloaded
            } catch {
                service.metrics.recordReload(succeeded: false)
                logger.error(
                    "configuration refused; the previous one stays in force",
                    metadata: [
                        "reload.reason": "\(reason)", "error": "\(error.description)",
                    ])
                return .failed(error.description)
            }
        }
    }
}
