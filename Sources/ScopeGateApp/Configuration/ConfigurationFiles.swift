import FoundationEssentials
import Glibc
public import Logging
public import ScopeGateCore

/// Where the policy, the users and the signing secret come from: files, or the embedded demo configuration
/// for whichever is not given. Loaded at start and again on every reload.
public struct ConfigurationFiles: Sendable {
    /// The policy file, or nil for the demo policy.
    public var policyPath: String?
    /// The users file, or nil for the demo users.
    public var usersPath: String?
    /// The secret file, or nil for the demo secret.
    public var secretPath: String?
    /// The keys file (keys with their activation times), in place of the secret file.
    public var keysPath: String?
    /// The clients file, or nil for no clients.
    public var clientsPath: String?
    /// Demo mode: the published demo secret is accepted from a file too.
    public var demo: Bool
    /// Users kept in the store (`--users store`) instead of a users file: loads take their current copy.
    public var storedUsers: StoredUsers?

    /// Names the files.
    public init(policyPath: String?, usersPath: String?, secretPath: String?, keysPath: String? = nil, clientsPath: String? = nil, demo: Bool) {
        self.policyPath = policyPath
        self.usersPath = usersPath
        self.secretPath = secretPath
        self.keysPath = keysPath
        self.clientsPath = clientsPath
        self.demo = demo
    }

    /// The files that exist on disk, for watching.
    public var paths: [String] { [policyPath, usersPath, secretPath, keysPath, clientsPath].compactMap { $0 } }

    /// One consistent reading of the sources: each file's bytes, empty for an embedded default. A new
    /// configuration file is one more field here.
    public struct Contents: Sendable, Equatable {
        /// The policy file's bytes.
        public var policy: [UInt8] = []
        /// The users file's bytes.
        public var users: [UInt8] = []
        /// The secret file's bytes.
        public var secret: [UInt8] = []
        /// The keys file's bytes, and those of every file it names, by the path as written.
        public var keys: [UInt8] = []
        public var keyFiles: [String: [UInt8]] = [:]
        /// The clients file's bytes.
        public var clients: [UInt8] = []
    }

    /// What a successful load produced.
    public struct Loaded: Sendable {
        /// The bytes the values were built from, to tell whether a file changed since.
        public let contents: Contents
        /// The policy.
        public let policy: Policy
        /// The users.
        public let users: UserDirectory
        /// The clients (none without a clients file).
        public let clients: ClientDirectory
        /// The keys in force when loaded.
        public let keyring: KeyRing
        /// The keys file's schedule, when the keys come from one.
        public let keySchedule: KeySchedule?
    }

    /// Reads the files.
    public func read() throws(ConfigurationLoadError) -> Contents {
        var contents = Contents()
        if let policyPath { contents.policy = try Self.readBytes(policyPath) }
        if let usersPath { contents.users = try Self.readBytes(usersPath) }
        if let clientsPath { contents.clients = try Self.readBytes(clientsPath) }
        if let secretPath {
            do {
                contents.secret = try Self.readBytes(secretPath)
            } catch {
                throw ConfigurationLoadError(description: "cannot read the secret file \(secretPath); create one with: openssl rand -hex 32 > \(secretPath)")
            }
        }
        if let keysPath {
            contents.keys = try Self.readBytes(keysPath)
            // Every file the keys file names, so a changed key file counts as a change and loading reads
            // exactly these bytes.
            for name in KeySchedule.referencedFiles(yaml: String(decoding: contents.keys, as: UTF8.self)) {
                contents.keyFiles[name] = FileManager.default.contents(atPath: Self.resolve(name, against: keysPath)).map { [UInt8]($0) }
            }
        }
        return contents
    }

    /// `path` as written in the file at `file`: relative paths are relative to that file's folder.
    public static func resolve(_ path: String, against file: String) -> String {
        guard !path.hasPrefix("/"), let slash = file.lastIndex(of: "/") else { return path }
        return String(file[...slash]) + path
    }

    /// Reads and validates every file; any problem fails the whole load.
    public func load(logger: Logger) throws(ConfigurationLoadError) -> Loaded {
        let contents = try read()
        let policy: Policy
        let users: UserDirectory
        let clients: ClientDirectory
        do {
            if let policyPath {
                policy = try Policy.load(yaml: try Self.text(contents.policy, path: policyPath), file: policyPath)
            } else {
                policy = try Policy.load(yaml: DemoConfiguration.policyYAML, file: "policies/demo.yaml")
            }
            if let storedUsers {
                users = storedUsers.directory
            } else if let usersPath {
                users = try UserDirectory.load(yaml: try Self.text(contents.users, path: usersPath), file: usersPath)
            } else {
                users = try UserDirectory.load(yaml: DemoConfiguration.usersYAML, file: "demo-users.yaml")
            }
            if let clientsPath {
                clients = try ClientDirectory.load(yaml: try Self.text(contents.clients, path: clientsPath), file: clientsPath)
            } else {
                clients = ClientDirectory([])
            }
        } catch let error as ConfigurationError {
            throw ConfigurationLoadError(description: error.description)
        } catch let error as ConfigurationLoadError {
            throw error
        } catch {
            throw ConfigurationLoadError(description: "\(error)")
        }
        // A user token obtained through a client names the client in client_id; a client's own token has
        // client_id equal to sub. A client sharing a user's name would make the two indistinguishable.
        if let clientsPath, let clash = clients.clients.keys.sorted().first(where: { users[$0] != nil }) {
            throw ConfigurationLoadError(
                description: "\(clientsPath): client \(quotedForMessage(clash)) has the name of a user; client ids and user names must differ")
        }
        if let keysPath {
            let schedule = try loadKeySchedule(contents, path: keysPath)
            let keyring: KeyRing
            do {
                keyring = try schedule.ring(at: Date(), tokenLifetime: 0, leeway: 0).ring
            } catch {
                throw ConfigurationLoadError(description: "\(keysPath): \(error)")
            }
            return Loaded(contents: contents, policy: policy, users: users, clients: clients, keyring: keyring, keySchedule: schedule)
        }
        let keyring = try loadKeyRing(contents.secret, logger: logger)
        return Loaded(contents: contents, policy: policy, users: users, clients: clients, keyring: keyring, keySchedule: nil)
    }

    private func loadKeySchedule(_ contents: Contents, path: String) throws(ConfigurationLoadError) -> KeySchedule {
        let text = try Self.text(contents.keys, path: path)
        do {
            return try KeySchedule.load(yaml: text, file: path, loadedAt: Date()) { contents.keyFiles[$0] }
        } catch {
            throw ConfigurationLoadError(description: error.description)
        }
    }

    private func loadKeyRing(_ bytes: [UInt8], logger: Logger) throws(ConfigurationLoadError) -> KeyRing {
        guard let secretPath else {
            do {
                return try KeyRing(signingKey: HMACKey(secretFileContents: Array(DemoConfiguration.secret.utf8)))
            } catch {
                throw ConfigurationLoadError(description: "demo secret: \(error)")
            }
        }
        if !demo, String(decoding: bytes, as: UTF8.self).trimmingWhitespace() == DemoConfiguration.secret {
            throw ConfigurationLoadError(
                description: "\(secretPath) holds the secret published in FastAPI's tutorial; anyone could forge "
                    + "tokens. Create a new one with: openssl rand -hex 32 > \(secretPath)")
        }
        var information = Glibc.stat()
        if stat(secretPath, &information) == 0, information.st_mode & 0o004 != 0 {
            logger.warning("the secret file is readable by every user; restrict it with: chmod 600 \(secretPath)")
        }
        do {
            return try KeyRing(signingKey: HMACKey(secretFileContents: bytes))
        } catch {
            throw ConfigurationLoadError(description: "\(secretPath): \(error)")
        }
    }

    private static func readBytes(_ path: String) throws(ConfigurationLoadError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationLoadError(description: "cannot read \(path)")
        }
        return [UInt8](data)
    }

    /// A configuration file's text, or why it cannot be read.
    public static func readText(_ path: String) throws(ConfigurationLoadError) -> String {
        try text(try readBytes(path), path: path)
    }

    private static func text(_ bytes: [UInt8], path: String) throws(ConfigurationLoadError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationLoadError(description: "\(path) is not UTF-8 text")
        }
        return text
    }
}

/// Why the configuration could not be loaded: the compiler-style diagnostics, or the file problem.
public struct ConfigurationLoadError: Error, Sendable, CustomStringConvertible {
    /// One or more lines, each naming the file.
    public let description: String

    /// Wraps a message.
    public init(description: String) {
        self.description = description
    }
}
