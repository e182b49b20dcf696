public import FoundationEssentials

/// The machine clients ScopeGate knows, loaded from a clients file and immutable once loaded.
public struct ClientDirectory: PrincipalDirectory {
    /// Clients by id.
    public let clients: [String: ClientRecord]

    /// The keys a client entry may have.
    static let clientKeys = [
        "secret_hashes", "grant_types", "scopes", "default_scopes", "audiences", "token_lifetime", "disabled", "introspect", "redirect_uris", "public",
    ]
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
    ///   web-app:                               # the authorization code flow (a browser application)
    ///     public: true                         # no secret: PKCE (S256) proves its codes
    ///     grant_types: [authorization_code, refresh_token]
    ///     redirect_uris: ["https://app.example.com/callback", "http://127.0.0.1/callback"]
    ///     scopes: [me, items]
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

        var isPublic = false
        if let node = members["public"]?.value, let flag = document.bool(node, what: "\(label): \"public\"") { isPublic = flag }
        var hashes: [ClientSecretHash] = []
        if isPublic, let node = members["secret_hashes"]?.value {
            document.error(at: node, "\(label): a public client has no \"secret_hashes\" (it holds no secret; PKCE proves its codes)")
        } else if let node = members["secret_hashes"]?.value {
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
        } else if !isPublic {
            document.error(at: value, "\(label): needs \"secret_hashes\" (make a secret and its hash with: scopegate clients secret), or \"public: true\"")
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
                if grantTypes.contains(.refreshToken) && grantTypes.isDisjoint(with: [.password, .authorizationCode]) {
                    document.error(
                        at: node, "\(label): \"refresh_token\" needs \"password\" or \"authorization_code\" too (refresh tokens come with users' logins)")
                }
                let publicGrants: Set<ClientGrantType> = [.authorizationCode, .refreshToken]
                if isPublic, !grantTypes.isSubset(of: publicGrants) {
                    document.error(at: node, "\(label): a public client may use only \"authorization_code\" and \"refresh_token\" (it cannot keep a secret)")
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

        var redirectURIs: [String] = []
        if let node = members["redirect_uris"]?.value, let list = document.strings(node, what: "\(label): \"redirect_uris\"") {
            for (uri, item) in list {
                if let problem = redirectProblem(uri) { document.error(at: item, "\(label): redirect URI \(quotedForMessage(uri)) \(problem)") }
            }
            var seen = Set<String>()
            redirectURIs = list.map(\.0).filter { seen.insert($0).inserted }
        }
        if grantTypes.contains(.authorizationCode), redirectURIs.isEmpty {
            document.error(at: value, "\(label): \"authorization_code\" needs \"redirect_uris\" (where /authorize sends the user back)")
        }

        guard document.diagnostics.count == errorsBefore else { return nil }
        return ClientRecord(
            id: id, secretHashes: hashes, grantTypes: grantTypes, scopes: scopes, defaultScopes: defaultScopes, audiences: audiences,
            tokenLifetime: lifetime, disabled: disabled, introspect: introspect, redirectURIs: redirectURIs, isPublic: isPublic, line: key.mark.line,
            column: key.mark.column)
    }

    /// Why `uri` cannot be a redirect URI, or nil: an absolute URI without a fragment (RFC 6749 §3.1.2),
    /// `https`, or `http` only to a loopback address (RFC 8252 §7.3, §8.3), or a private-use scheme of a
    /// native application (`com.example.app:/callback`, RFC 8252 §7.1), at most 2,048 characters of
    /// printable ASCII.
    static func redirectProblem(_ uri: String) -> String? {
        guard uri.utf8.count <= 2048, uri.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return "must be at most 2048 printable ASCII characters"
        }
        guard !uri.contains("#") else { return "must not have a fragment (RFC 6749 §3.1.2)" }
        guard let colon = uri.firstIndex(of: ":") else { return "must be absolute (a scheme, then the rest)" }
        let scheme = uri[..<colon].lowercased()
        guard let first = scheme.first, first.isLetter, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else {
            return "must be absolute (a scheme, then the rest)"
        }
        let rest = uri[uri.index(after: colon)...]
        switch scheme {
        case "https":
            guard rest.hasPrefix("//"), rest.count > 2, !rest.dropFirst(2).hasPrefix("/") else { return "must name a host" }
        case "http":
            let loopback = ["//127.0.0.1/", "//127.0.0.1:", "//[::1]/", "//[::1]:", "//localhost/", "//localhost:"]
            guard loopback.contains(where: rest.hasPrefix) else { return "may use http only to a loopback address (127.0.0.1, [::1], localhost); use https" }
        case "javascript", "data", "file", "vbscript", "blob":
            return "must not use the \(scheme): scheme"
        default:
            // A private-use scheme (RFC 8252 §7.1) names the application: reverse domain name, with a dot.
            guard scheme.contains(".") else { return "must use https, http to a loopback address, or a private-use scheme such as com.example.app:" }
        }
        return nil
    }
}
