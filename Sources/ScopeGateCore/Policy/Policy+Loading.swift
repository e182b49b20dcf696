extension Policy {
    /// The keys a policy file's top level may have.
    static let topLevelKeys = ["rules", "default", "scopes", "identity_token"]
    /// The keys a rule may have.
    static let ruleKeys = ["hosts", "path", "methods", "scopes", "public", "description", "identity_token", "principals", "mode", "browser"]

    /// Loads a policy file:
    ///
    /// ```yaml
    /// rules:
    ///   - hosts: [admin.example.com]  # optional: the hosts the rule is for (*.example.com: any below)
    ///     path: /**
    ///     scopes: [admin]
    ///   - path: /users/me/items/
    ///     scopes: [me, items]        # all listed scopes required
    ///   - path: /public/**
    ///     public: true               # no token needed
    ///   - path: /admin/**
    ///     methods: [GET]
    ///     scopes: [admin]
    ///   - path: /admin/**
    ///     scopes: [admin, mfa]
    ///     mode: report               # counted and logged, never enforced (default: enforce)
    /// default: deny                  # or: authenticated
    /// scopes:                        # optional: what each scope means, shown in /openapi.json
    ///   me: Read information about the current user.
    /// ```
    ///
    /// Every problem is reported at once, compiler-style, with `file` in each line.
    public static func load(yaml text: String, file: String) throws(ConfigurationError) -> Policy {
        var document = YAMLDocument(file: file)
        guard let root = document.root(of: text) else { throw ConfigurationError(diagnostics: document.diagnostics) }
        var rules: [PolicyRule] = []
        var defaultAction = DefaultAction.deny
        var scopeDescriptions: [String: String] = [:]
        var identityToken: IdentityTokenRequest?
        if let top = document.members(of: root, what: "policy", allowed: topLevelKeys) {
            if let value = top["identity_token"]?.value {
                identityToken = IdentityTokenRequest.load(value, label: "", document: &document)
            }
            if let value = top["default"]?.value, let text = document.string(value, what: "\"default\"") {
                if let action = DefaultAction(rawValue: text) {
                    defaultAction = action
                } else {
                    document.error(at: value, "\"default\" is \"\(text)\"; expected \"deny\" or \"authenticated\"")
                }
            }
            if let scopesNode = top["scopes"]?.value {
                if case .mapping(let mapping) = scopesNode {
                    for (key, value) in mapping {
                        guard let scope = document.string(key, what: "a scope name"),
                            let description = document.string(value, what: "the description of scope \"\(scope)\"")
                        else { continue }
                        if !isScopeToken(scope) {
                            document.error(at: key, "\"\(scope)\" is not a valid scope (RFC 6749 §3.3: printable ASCII except space, \" and \\)")
                        }
                        if scopeDescriptions.updateValue(description, forKey: scope) != nil {
                            document.error(at: key, "scope \"\(scope)\" is described twice")
                        }
                    }
                } else {
                    document.error(at: scopesNode, "\"scopes\" must map each scope to its description")
                }
            }
            if let list = top["rules"]?.value {
                if case .sequence(let items) = list {
                    for item in items {
                        if let rule = loadRule(item, document: &document) { rules.append(rule) }
                    }
                } else {
                    document.error(at: list, "\"rules\" must be a list of rules")
                }
            } else {
                document.error(at: root, "the policy has no \"rules\" list")
            }
        }
        var diagnostics = document.diagnostics
        if diagnostics.isEmpty {
            // Report every conflict: compile again without each offending rule until none is left.
            var remaining = rules
            while true {
                do {
                    var policy = try Policy(rules: remaining, defaultAction: defaultAction)
                    policy.scopeDescriptions = scopeDescriptions
                    policy.identityToken = identityToken
                    if diagnostics.isEmpty { return policy }
                    break
                } catch {
                    diagnostics.append(Diagnostic(file: file, line: error.rule.line, column: error.rule.column, message: error.description))
                    remaining.removeAll { $0.line == error.rule.line && $0.column == error.rule.column }
                }
            }
        }
        throw ConfigurationError(diagnostics: diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
    }

    private static func loadRule(_ node: YAMLNode, document: inout YAMLDocument) -> PolicyRule? {
        guard let members = document.members(of: node, what: "a rule", allowed: ruleKeys) else { return nil }
        let errorsBefore = document.diagnostics.count
        guard let pathNode = members["path"]?.value else {
            document.error(at: node, "a rule needs a \"path\"")
            return nil
        }
        guard let pathText = document.string(pathNode, what: "\"path\"") else { return nil }
        let label = "rule \"\(pathText)\""
        var pattern: PathPattern?
        do {
            pattern = try PathPattern(pathText)
        } catch {
            document.error(at: pathNode, "\(label): \(error)")
        }

        var methods: [String]?
        if let methodsNode = members["methods"]?.value, let list = document.strings(methodsNode, what: "\(label): \"methods\"") {
            if list.isEmpty { document.error(at: methodsNode, "\(label): \"methods\" is empty; leave it out to match every method") }
            var seen = Set<String>()
            for (method, item) in list {
                if !PolicyRule.knownMethods.contains(method) {
                    document.error(at: item, "\(label): unknown method \"\(method)\"; expected one of \(PolicyRule.knownMethods.joined(separator: ", "))")
                } else if !seen.insert(method).inserted {
                    document.error(at: item, "\(label): method \"\(method)\" is listed twice")
                }
            }
            methods = list.map(\.0)
        }

        var isPublic = false
        if let publicNode = members["public"]?.value {
            // An unreadable flag was reported already; treat it as public so "needs scopes" is not said too.
            isPublic = document.bool(publicNode, what: "\(label): \"public\"") ?? true
        }
        var scopes: [String] = []
        if let scopesNode = members["scopes"]?.value {
            if isPublic {
                document.error(at: scopesNode, "\(label): a public rule cannot require scopes")
            } else if let list = document.strings(scopesNode, what: "\(label): \"scopes\"") {
                for (scope, item) in list where !isScopeToken(scope) {
                    document.error(at: item, "\(label): \"\(scope)\" is not a valid scope (RFC 6749 §3.3: printable ASCII except space, \" and \\)")
                }
                scopes = list.map(\.0)
                if Set(scopes).count != scopes.count { document.error(at: scopesNode, "\(label): a scope is listed twice") }
            }
        } else if !isPublic {
            document.error(at: node, "\(label): needs \"scopes\" (use [] for any valid token) or \"public: true\"")
        }
        if let description = members["description"]?.value { _ = document.string(description, what: "\(label): \"description\"") }
        var identityToken: IdentityTokenRequest?
        if let value = members["identity_token"]?.value {
            if isPublic {
                document.error(at: value, "\(label): a public rule has no caller to vouch for; it cannot ask for an identity token")
            } else {
                identityToken = IdentityTokenRequest.load(value, label: "\(label): ", document: &document)
            }
        }

        var principals: Set<PrincipalKind>?
        if let value = members["principals"]?.value, let list = document.strings(value, what: "\(label): \"principals\"") {
            if isPublic {
                document.error(at: value, "\(label): a public rule has no principal to limit")
            } else if list.isEmpty {
                document.error(at: value, "\(label): \"principals\" is empty; leave it out to admit users and clients")
            }
            var kinds = Set<PrincipalKind>()
            for (name, item) in list {
                let kind = PrincipalKind(rawValue: name)
                if PolicyRule.principalKinds.contains(kind) {
                    kinds.insert(kind)
                } else {
                    document.error(at: item, "\(label): unknown principal kind \(quotedForMessage(name)); expected user or client")
                }
            }
            principals = kinds
        }

        var hosts: [HostPattern] = []
        if let value = members["hosts"]?.value, let list = document.strings(value, what: "\(label): \"hosts\"") {
            if list.isEmpty { document.error(at: value, "\(label): \"hosts\" is empty; leave it out to match every host") }
            for (text, item) in list {
                switch HostPattern.parse(text) {
                case .success(let host):
                    if hosts.contains(host) {
                        document.error(at: item, "\(label): host \(quotedForMessage(text)) is listed twice")
                    } else {
                        hosts.append(host)
                    }
                case .failure(let error):
                    let hint = text.unicodeScalars.contains { !$0.isASCII } ? "; write international names as A-labels (xn--…)" : ""
                    document.error(
                        at: item, "\(label): host \(quotedForMessage(text)): \(error)\(hint) (a host is a name, or *. and a name, with an optional :port)")
                }
            }
        }

        var isReport = false
        if let value = members["mode"]?.value, let mode = document.string(value, what: "\(label): \"mode\"") {
            switch mode {
            case "enforce": isReport = false
            case "report": isReport = true
            default: document.error(at: value, "\(label): \"mode\" is \(quotedForMessage(mode)); expected \"enforce\" or \"report\"")
            }
        }

        var acceptsSession = false
        if let value = members["browser"]?.value, let flag = document.bool(value, what: "\(label): \"browser\"") {
            if flag, isPublic { document.error(at: value, "\(label): a public rule needs no sign-in; it cannot be a browser rule") }
            if flag, principals?.contains(.user) == false {
                document.error(at: value, "\(label): a browser rule is for users, and \"principals\" leaves them out")
            }
            acceptsSession = flag
        }

        guard let pattern, document.diagnostics.count == errorsBefore else { return nil }
        let mark = node.mark
        return PolicyRule(
            pattern: pattern, methods: methods, scopes: scopes, isPublic: isPublic, identityToken: identityToken,
            principals: principals, hosts: hosts, isReport: isReport, acceptsSession: acceptsSession, line: mark.line, column: mark.column)
    }
}
