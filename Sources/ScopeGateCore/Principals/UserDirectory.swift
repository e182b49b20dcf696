/// The users ScopeGate knows, loaded from a users file and immutable once loaded.
public struct UserDirectory: PrincipalDirectory {
    /// Users by name.
    public let users: [String: UserRecord]

    /// The keys a user entry may have.
    static let userKeys = ["full_name", "email", "password_hash", "disabled", "scopes"]

    /// Creates a directory from records (later duplicates replace earlier ones).
    public init(_ records: [UserRecord]) {
        var users: [String: UserRecord] = [:]
        for record in records { users[record.username] = record }
        self.users = users
    }

    /// A directory of users already keyed by name.
    public init(byName users: [String: UserRecord]) {
        self.users = users
    }

    /// The user called `username`, if there is one.
    public subscript(username: String) -> UserRecord? { users[username] }

    /// The user a token's `sub` names, if there is one; never for a client's own token (`client_id` equal
    /// to `sub`), so a client's token cannot stand for a user who shares its name.
    public func principal(for token: VerifiedToken) -> (any Principal)? {
        guard token.clientID != token.subject else { return nil }
        return users[token.subject]
    }

    /// Every scope some user may be granted, sorted.
    public var grantableScopes: [String] { Set(users.values.flatMap(\.scopes)).sorted() }

    /// Loads a users file:
    ///
    /// ```yaml
    /// users:
    ///   johndoe:
    ///     full_name: John Doe
    ///     email: johndoe@example.com
    ///     password_hash: "$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW"
    ///     disabled: false
    ///     scopes: [me, items]        # the scopes this user may be granted
    /// ```
    ///
    /// Names, display names and emails are refused when they hold control characters, so no value from
    /// this file can break a response header.
    public static func load(yaml text: String, file: String) throws(ConfigurationError) -> UserDirectory {
        var document = YAMLDocument(file: file)
        guard let root = document.root(of: text) else { throw ConfigurationError(diagnostics: document.diagnostics) }
        let records = document.namedRecords(in: root, key: "users", file: "users file", entry: "user name to user", load: loadUser(key:value:document:))
        guard document.diagnostics.isEmpty else { throw ConfigurationError(diagnostics: document.diagnostics) }
        return UserDirectory(records)
    }

    /// Whether `name` may name a user: 1 to 128 characters, no white space or control characters.
    public static func isValidUsername(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.count <= 128 && !name.unicodeScalars.contains(where: { isControl($0) || $0.properties.isWhitespace })
    }

    private static func loadUser(key: YAMLNode, value: YAMLNode, document: inout YAMLDocument) -> UserRecord? {
        guard let username = document.string(key, what: "a user name") else { return nil }
        let label = "user \(quotedForMessage(username))"
        let errorsBefore = document.diagnostics.count
        if !isValidUsername(username) {
            document.error(at: key, "\(label): a user name is 1 to 128 characters with no white space or control characters")
        }
        guard let members = document.members(of: value, what: label, allowed: userKeys) else { return nil }
        func text(_ name: String) -> String? {
            guard let node = members[name]?.value else { return nil }
            if let scalar = node.scalar, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return nil }
            guard let value = document.string(node, what: "\(label): \"\(name)\"") else { return nil }
            if value.unicodeScalars.contains(where: isControl) || value.unicodeScalars.count > 256 {
                document.error(at: node, "\(label): \"\(name)\" must be at most 256 characters with no control characters or line breaks")
            }
            return value
        }
        let fullName = text("full_name")
        let email = text("email")
        var passwordHash = ""
        if let hashNode = members["password_hash"]?.value {
            if let hash = document.string(hashNode, what: "\(label): \"password_hash\"") {
                do {
                    try PasswordHasher.validate(hash: hash)
                    passwordHash = hash
                } catch {
                    document.error(at: hashNode, "\(label): \(error)")
                }
            }
        } else {
            document.error(at: value, "\(label): needs a \"password_hash\" (make one with: scopegate hash-password)")
        }
        var disabled = false
        if let node = members["disabled"]?.value, let flag = document.bool(node, what: "\(label): \"disabled\"") { disabled = flag }
        var scopes: [String] = []
        if let node = members["scopes"]?.value, let list = document.strings(node, what: "\(label): \"scopes\"") {
            for (scope, item) in list where !isScopeToken(scope) {
                document.error(at: item, "\(label): \"\(scope)\" is not a valid scope (RFC 6749 §3.3: printable ASCII except space, \" and \\)")
            }
            var seen = Set<String>()
            scopes = list.map(\.0).filter { seen.insert($0).inserted }
        }
        guard document.diagnostics.count == errorsBefore else { return nil }
        return UserRecord(
            username: username, fullName: fullName, email: email, passwordHash: passwordHash,
            disabled: disabled, scopes: scopes)
    }
}
