import ArgumentParser
import FoundationEssentials
import ScopeGateCore
import ScopeGateStore

/// `scopegate users`: the users `serve --users store` reads, in the store it runs with. A running server
/// sees every change within a second.
struct Users: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the users kept in the store (serve --users store).",
        discussion:
            "Each command writes to the store serve finds (scopegate.db in --state-dir) or to --store; a running server sees the change within a second.",
        subcommands: [Add.self, Passwd.self, Disable.self, Enable.self, Grant.self, Ungrant.self, List.self, Import.self]
    )

    static func checkScopes(_ scopes: [String]) throws {
        if let bad = scopes.first(where: { !isScopeToken($0) }) {
            throw ValidationError("\(quotedForMessage(bad)) is not a valid scope (RFC 6749 §3.3: printable ASCII except space, \" and \\)")
        }
    }

    /// Runs `body` on the store, its errors made the command's.
    static func withStore<Result>(_ location: StoreOptions, _ body: (any StateStore) throws(StoreError) -> Result) throws -> Result {
        let store = try location.open()
        do {
            return try body(store)
        } catch {
            throw StartupError(description: error.description)
        }
    }

    static func missing(_ name: String) -> StartupError { StartupError(description: "no user \(quotedForMessage(name)) in the store") }

    /// Applies `change` to the user `name` in the store: the user after it, or the command's error when
    /// there is no such user.
    @discardableResult
    static func change(_ name: String, _ change: UserChange, in location: StoreOptions) throws -> StoredUser {
        guard let user = try withStore(location, { store throws(StoreError) in try store.changeUser(name, change) }) else { throw missing(name) }
        return user
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user; the password is read without echo from a terminal, or as one line from standard input.")
        @OptionGroup var location: StoreOptions
        @Argument(help: "The user name (1 to 128 characters, no white space).") var name: String
        @Option(help: "Comma-separated scopes the user may be granted.") var scopes = ""
        @Option(help: "The user's email address.") var email: String?
        @Option(name: .customLong("full-name"), help: "The user's full name.") var fullName: String?
        @Option(name: .customLong("bcrypt-cost"), help: "bcrypt cost of the new hash.") var bcryptCost = 12

        func validate() throws {
            guard UserDirectory.isValidUsername(name) else {
                throw ValidationError("a user name is 1 to 128 characters with no white space or control characters")
            }
            try checkScopes(scopeList)
        }

        var scopeList: [String] { scopes.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty } }

        func run() throws {
            let hash = try PasswordHasher(cost: bcryptCost).hash(try HashPassword.readPassword(confirm: true))
            let user = StoredUser(username: name, passwordHash: hash, scopes: scopeList, email: email, fullName: fullName)
            guard try withStore(location, { store throws(StoreError) in try store.addUser(user) }) else {
                throw StartupError(description: "user \(quotedForMessage(name)) exists already (change it with passwd, grant, ungrant, disable or enable)")
            }
            print("added user \(name)")
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password (read as add reads it).")
        @OptionGroup var location: StoreOptions
        @Argument var name: String
        @Option(name: .customLong("bcrypt-cost"), help: "bcrypt cost of the new hash.") var bcryptCost = 12

        func run() throws {
            guard try withStore(location, { store throws(StoreError) in try store.user(named: name) }) != nil else { throw missing(name) }
            let hash = try PasswordHasher(cost: bcryptCost).hash(try HashPassword.readPassword(confirm: true))
            try change(name, .passwordHash(hash), in: location)
            print("changed the password of user \(name)")
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user: no login, and its tokens are refused.")
        @OptionGroup var location: StoreOptions
        @Argument var name: String

        func run() throws {
            try change(name, .disabled(true), in: location)
            print("disabled user \(name)")
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user.")
        @OptionGroup var location: StoreOptions
        @Argument var name: String

        func run() throws {
            try change(name, .disabled(false), in: location)
            print("enabled user \(name)")
        }
    }

    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a user be granted more scopes.")
        @OptionGroup var location: StoreOptions
        @Argument var name: String
        @Argument(help: "Scopes to add.") var scopes: [String]

        func validate() throws {
            guard !scopes.isEmpty else { throw ValidationError("name at least one scope") }
            try checkScopes(scopes)
        }

        func run() throws {
            let user = try change(name, .grant(scopes), in: location)
            print("user \(name) may be granted: \(user.scopes.joined(separator: " "))")
        }
    }

    struct Ungrant: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop granting a user some scopes (its tokens lose them at once).")
        @OptionGroup var location: StoreOptions
        @Argument var name: String
        @Argument(help: "Scopes to remove.") var scopes: [String]

        func validate() throws {
            guard !scopes.isEmpty else { throw ValidationError("name at least one scope") }
        }

        func run() throws {
            let user = try change(name, .ungrant(scopes), in: location)
            print("user \(name) may be granted: \(user.scopes.isEmpty ? "(none)" : user.scopes.joined(separator: " "))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per user: name, enabled or disabled, scopes, and the hash's scheme and cost (never the hash).")
        @OptionGroup var location: StoreOptions

        func run() throws {
            let users = try withStore(location) { store throws(StoreError) in try store.users(changedAfter: 0).users }
            for user in users {
                let scopes = user.scopes.isEmpty ? "-" : user.scopes.joined(separator: ",")
                print("\(user.username)\t\(user.disabled ? "disabled" : "enabled")\t\(scopes)\t\(PasswordScheme.label(of: user.passwordHash))")
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add the users of a users file (YAML, as serve --users reads), replacing those of the same name, in one transaction.",
            discussion:
                "Hashes are kept as they are: bcrypt, sha512crypt, yescrypt, and Django's (pbkdf2_sha256$…) and Werkzeug's (pbkdf2:sha256:…) PBKDF2, so users of an existing Django or Flask application keep their passwords; each is upgraded to bcrypt at its next login."
        )
        @OptionGroup var location: StoreOptions
        @Argument(help: "The users file.") var file: String

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw StartupError(description: "cannot read \(file)") }
            let directory: UserDirectory
            do {
                directory = try UserDirectory.load(yaml: String(decoding: data, as: UTF8.self), file: file)
            } catch {
                throw StartupError(description: "\(error)")
            }
            let users = directory.users.values.sorted { $0.username < $1.username }.map { user in
                StoredUser(
                    username: user.username, passwordHash: user.passwordHash, scopes: user.scopes, email: user.email, fullName: user.fullName,
                    disabled: user.disabled)
            }
            let counts = try withStore(location) { store throws(StoreError) in try store.importUsers(users) }
            print("imported \(users.count) users from \(file): \(counts.added) added, \(counts.replaced) replaced")
        }
    }
}
