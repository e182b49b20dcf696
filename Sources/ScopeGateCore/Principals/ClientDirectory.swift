public import FoundationEssentials

/// The machine clients ScopeGate knows, loaded from a clients file and immutable once loaded.
public struct ClientDirectory: PrincipalDirectory {
    /// Clients by id.
    public let clients: [String: ClientRecord]

    /// The keys a client entry may have.
    static let clientKeys = ["secret_hashes", "grant_types", "scopes", "default_scopes", "audiences", "token_lifetime", "disabled", "introspect"]
    /// The longest `token_lifetime` a client may have, in seconds.
    public static let maximumTokenLifetime = 86_400

    /// A directory of `records` (later duplicates replace earlier ones).
    public init(_ records: [ClientRecord]) {
        var clients: [String: ClientRecord] = [:]
        for record in records { clients[record.id] = record }
        self.clients = clients
    }

    /// The client with `id`, if there is one.
    public subscript(id: String) -> ClientRecord? { clients[id] }

    /// The client a token is about: one the token names in both `sub` and `client_id`, the form of the
    /// tokens a client gets in its own name.
    public func principal(for token: VerifiedToken) -> (any Principal)? {
        guard let clientID = token.clientID, clientID == token.subject else { return nil }
        return clients[clientID]
    }

    /// Every scope some client may be granted, sorted.
    public var grantableScopes: [String] { Set(clients.values.flatMap(\.scopes)).sorted() }

    /// Loads a clients file:
    ///
    /// ```yaml
    /// clients:
    ///   billing-worker:
    ///     secret_hashes:                       # one or two (two while a secret is being rotated)
    ///       - "$pbkdf2-sha256$600000$<salt>$<hash>"
    ///     grant_types: [client_credentials]    # client_credentials, password, refresh_token, token_exchange
    ///     scopes: [items, invoices:read]       # the most this client may be granted
    ///     default_scopes: [items]              # granted when a request names none (default: none)
    ///     audiences: [billing]                 # optional: aud values it may ask for
    ///     token_lifetime: 300                  # optional, seconds
    ///     disabled: false
    ///     introspect: false                    # may ask /introspect about tokens
    /// ```
    public static func load(yaml text: String, file: String) throws(ConfigurationError) -> ClientDirectory {
        var document = YAMLDocument(file: file)
        guard let root = document.root(of: text) else { throw ConfigurationError(diagnostics: document.diagnostics) }
        let records = document.namedRecords(in: root, key: "clients", file: "clients file", entry: "client id to client", load: loadClient(key:value:document:))
        guard document.diagnostics.isEmpty else { throw ConfigurationError(diagnostics: document.diagnostics) }
        return ClientDirectory(records)
    }

    /// A client id: 1 to 128 printable ASCII characters without space (RFC 6749's VSCHAR, less space).
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    private static func loadClient(key: YAMLNode, value: YAMLNode, document: inout YAMLDocument) -> ClientRecord? {
        guard let id = document.string(key, what: "a client id") else { return nil }
        let label = "client \(quotedForMessage(id))"
        let errorsBefore = document.diagnostics.count
        if !isValidID(id) {
            document.error(at: key, "\(label): a client id is 1 to 128 printable ASCII characters without space")
        }
        guard let members = document.members(of: value, what: label, allowed: clientKeys) else { return nil }

        var hashes: [ClientSecretHash] = []
        if let node = members["secret_hashes"]?.value {
            if let list = document.strings(node, what: "\(label): \"secret_hashes\"") {
                for (text, item) in list {
                    if let hash = ClientSecretHash(text) {
                        hashes.append(hash)
                    } else {
                        document.error(at: item, "\(label): secret hash \(ClientSecretHash.problem(with: text) ?? "is not valid")")
                    }
                }
                if !(1...2).contains(list.count) {
                    document.error(at: node, "\(label): \"secret_hashes\" holds one hash, or two while a secret is being rotated")
                }
            }
        } else {
            document.error(at: value, "\(label): needs \"secret_hashes\" (make a secret and its hash with: scopegate clients secret)")
        }

        var grantTypes: Set<ClientGrantType> = []
        if let node = members["grant_types"]?.value {
            if let list = document.strings(node, what: "\(label): \"grant_types\"") {
                for (name, item) in list {
                    if let grant = ClientGrantType(rawValue: name) {
                        grantTypes.insert(grant)
                    } else {
                        let known = ClientGrantType.allCases.map(\.rawValue).joined(separator: ", ")
                        document.error(at: item, "\(label): grant type \(quotedForMessage(name)) is not one ScopeGate offers clients (\(known))")
                    }
                }
                if list.isEmpty { document.error(at: node, "\(label): \"grant_types\" must name at least one grant type") }
                if grantTypes.contains(.refreshToken) && !grantTypes.contains(.password) {
                    document.error(at: node, "\(label): \"refresh_token\" needs \"password\" too (refresh tokens come with users' logins)")
                }
            }
        } else {
            document.error(at: value, "\(label): needs \"grant_types\" (such as [client_credentials])")
        }

        func scopeList(_ name: String) -> [String] {
            guard let node = members[name]?.value, let list = document.strings(node, what: "\(label): \"\(name)\"") else { return [] }
            for (scope, item) in list where !isScopeToken(scope) {
                document.error(at: item, "\(label): \"\(scope)\" is not a valid scope (RFC 6749 §3.3: printable ASCII except space, \" and \\)")
            }
            var seen = Set<String>()
            return list.map(\.0).filter { seen.insert($0).inserted }
        }
        let scopes = scopeList("scopes")
        let defaultScopes = scopeList("default_scopes")
        if let node = members["default_scopes"]?.value {
            for scope in defaultScopes where !scopes.contains(scope) {
                document.error(at: node, "\(label): default scope \(quotedForMessage(scope)) is not in its \"scopes\"")
            }
        }

        var audiences: [String] = []
        if let node = members["audiences"]?.value, let list = document.strings(node, what: "\(label): \"audiences\"") {
            for (audience, item) in list where audience.isEmpty || audience.unicodeScalars.count > 256 || audience.unicodeScalars.contains(where: isControl) {
                document.error(at: item, "\(label): an audience is 1 to 256 characters with no control characters")
            }
            var seen = Set<String>()
            audiences = list.map(\.0).filter { seen.insert($0).inserted }
        }

        var lifetime: TimeInterval?
        if let node = members["token_lifetime"]?.value, let text = document.string(node, what: "\(label): \"token_lifetime\"") {
            if let seconds = Int(text), (1...maximumTokenLifetime).contains(seconds) {
                lifetime = TimeInterval(seconds)
            } else {
                document.error(at: node, "\(label): \"token_lifetime\" must be 1 to \(maximumTokenLifetime) seconds")
            }
        }
        var disabled = false
        if let node = members["disabled"]?.value, let flag = document.bool(node, what: "\(label): \"disabled\"") { disabled = flag }
        var introspect = false
        if let node = members["introspect"]?.value, let flag = document.bool(node, what: "\(label): \"introspect\"") { introspect = flag }

        guard document.diagnostics.count == errorsBefore else { return nil }
        return ClientRecord(
            id: id, secretHashes: hashes, grantTypes: grantTypes, scopes: scopes, defaultScopes: defaultScopes, audiences: audiences,
            tokenLifetime: lifetime, disabled: disabled, introspect: introspect, line: key.mark.line, column: key.mark.column)
    }
}
