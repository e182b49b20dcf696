/// What a policy does with a request no rule matches.
public enum DefaultAction: String, Sendable {
    /// Refuse it (403).
    case deny
    /// Allow it for any valid token, with no scope required.
    case authenticated
}

/// The outcome of matching a request against a policy.
public enum RouteMatch: Sendable {
    /// The most specific rule for the path covers the method.
    case rule(PolicyRule, parameters: [String: String])
    /// The most specific rules for the path exist but none covers the method; the first is reported.
    case methodNotAllowed(PolicyRule)
    /// No rule's pattern matches the path.
    case noRule
    /// The policy has host rules and the request named no usable host.
    case noUsableHost
}

/// A loaded policy: immutable rules compiled into segment tries, one per host pattern and one for the
/// rules for every host.
///
/// Matching walks a trie by the path's segments, trying literal, then `*`/`{name}`, then `**` at each
/// level, so the first rule found is the most specific one and the cost follows the path's length, not the
/// number of rules; with host rules, the host's levels are tried most specific first, so the cost also
/// follows the host's label count, not the number of hosts. At equal specificity, a rule limited to the
/// request's method wins over one without `methods`.
public struct Policy: Sendable {
    /// The rules, in file order.
    public let rules: [PolicyRule]
    /// What happens to requests no rule matches.
    public let defaultAction: DefaultAction
    /// What each scope means, from the policy file's optional `scopes` map (shown in the API description).
    public var scopeDescriptions: [String: String] = [:]
    /// The identity token allows carry where the rule asks for none of its own (the policy's
    /// `identity_token`), if any.
    public var identityToken: IdentityTokenRequest?

    /// Whether any allow may carry an identity token.
    public var asksForIdentityTokens: Bool { identityToken != nil || rules.contains { $0.identityToken != nil } }

    /// The headers identity tokens travel in, each once: every allow answer carries them all (empty where
    /// it has no token), so a proxy that copies them never sees one missing.
    public var identityTokenHeaders: [String] {
        var names: [String] = []
        for request in [identityToken] + rules.map(\.identityToken) {
            if let request, !names.contains(where: { $0.lowercased() == request.header.lowercased() }) { names.append(request.header) }
        }
        return names
    }
    /// The rules for every host (those without `hosts`).
    private let anyHost: PathTrie
    /// Rules by the exact host they name (`admin.example.com`, `app.example.com:8443`).
    private let exactHosts: [String: PathTrie]
    /// Rules by the suffix of their `*.` host pattern (`*.tenant.example.com` under `tenant.example.com`,
    /// with `:port` when the pattern names one).
    private let suffixHosts: [String: PathTrie]

    /// Whether some rule names hosts: then every request needs a usable host.
    public var hasHostRules: Bool { !exactHosts.isEmpty || !suffixHosts.isEmpty }

    /// Compiles rules into a policy. Two rules that are equally specific (the same host pattern, or none,
    /// and the same path) and cover a common method are refused: which one applies would otherwise depend
    /// on file order.
    public init(rules: [PolicyRule], defaultAction: DefaultAction = .deny) throws(PolicyConflictError) {
        var anyHost = PathTrie()
        var exactHosts: [String: PathTrie] = [:]
        var suffixHosts: [String: PathTrie] = [:]
        for (ruleIndex, rule) in rules.enumerated() {
            if rule.hosts.isEmpty {
                try anyHost.insert(ruleIndex, of: rules)
            }
            for host in rule.hosts {
                switch host {
                case .exact(let name): try exactHosts[name, default: PathTrie()].insert(ruleIndex, of: rules)
                case .suffix(let suffix): try suffixHosts[suffix, default: PathTrie()].insert(ruleIndex, of: rules)
                }
            }
        }
        self.rules = rules
        self.defaultAction = defaultAction
        self.anyHost = anyHost
        self.exactHosts = exactHosts
        self.suffixHosts = suffixHosts
    }

    /// Finds the rule for a request. With host rules, the most specific host level whose rules match the
    /// path decides (the exact host, then `*.` patterns from the longest suffix to the shortest, then the
    /// rules for every host); a level whose rules match the path but not the method answers
    /// ``RouteMatch/methodNotAllowed(_:)`` without falling back. `host` nil: the request named no usable
    /// host, and only a policy without host rules can match it.
    public func match(method: String, path: CanonicalPath, host: CanonicalHost? = nil) -> RouteMatch {
        if hasHostRules {
            guard let host else { return .noUsableHost }
            if let trie = exactHosts[host.description], let found = trie.match(method: method, path: path, rules: rules) { return found }
            if !suffixHosts.isEmpty {
                let port = host.port.map { ":\($0)" } ?? ""
                for suffix in host.suffixes {
                    if let trie = suffixHosts[suffix + port], let found = trie.match(method: method, path: path, rules: rules) { return found }
                }
            }
        }
        return anyHost.match(method: method, path: path, rules: rules) ?? .noRule
    }

    /// How many trie nodes a match for `path` visits among the rules for every host: the measure of
    /// matching cost.
    func visitedNodes(path: CanonicalPath) -> Int {
        var visits = 0
        _ = anyHost.search(path: path.bytes, visits: &visits)
        return visits
    }
}

/// The rules of one host level compiled into a segment trie.
private struct PathTrie: Sendable {
    private var nodes = [TrieNode()]

    mutating func insert(_ ruleIndex: Int, of rules: [PolicyRule]) throws(PolicyConflictError) {
        let rule = rules[ruleIndex]
        var node = 0
        var endsWithGlobstar = false
        for segment in rule.pattern.segments {
            switch segment {
            case .literal(let bytes):
                if let next = nodes[node].literals[bytes[...]] {
                    node = next
                } else {
                    nodes.append(TrieNode())
                    nodes[node].literals.insert(bytes, child: nodes.count - 1)
                    node = nodes.count - 1
                }
            case .wildcard:
                if let next = nodes[node].wildcard {
                    node = next
                } else {
                    nodes.append(TrieNode())
                    nodes[node].wildcard = nodes.count - 1
                    node = nodes.count - 1
                }
            case .globstar:
                endsWithGlobstar = true
            }
        }
        let existing = endsWithGlobstar ? nodes[node].globstarRules : nodes[node].exactRules
        for other in existing {
            let first = rules[other]
            let shared: Set<String>? =
                switch (first.methods, rule.methods) {
                case (nil, nil): []
                case (nil, _), (_, nil): nil
                case (let a?, let b?): a.intersection(b)
                }
            if let shared, first.methods == nil || !shared.isEmpty {
                throw PolicyConflictError(rule: rule, other: first, methods: shared.sorted())
            }
        }
        if endsWithGlobstar {
            nodes[node].globstarRules.append(ruleIndex)
        } else {
            nodes[node].exactRules.append(ruleIndex)
        }
    }

    /// The match at this level, or nil when none of its rules matches the path. At equal specificity, a
    /// rule limited to the request's method wins over one without `methods`.
    func match(method: String, path: CanonicalPath, rules: [PolicyRule]) -> RouteMatch? {
        var visits = 0
        guard let ruleIndices = search(path: path.bytes, visits: &visits) else { return nil }
        var fallback: Int?
        for index in ruleIndices {
            let rule = rules[index]
            if rule.methods == nil {
                fallback = index
            } else if rule.applies(to: method) {
                return .rule(rule, parameters: rule.pattern.parameters(in: path))
            }
        }
        if let fallback {
            return .rule(rules[fallback], parameters: rules[fallback].pattern.parameters(in: path))
        }
        return .methodNotAllowed(rules[ruleIndices[0]])
    }

    func search(path: [UInt8], visits: inout Int) -> [Int]? {
        unsafe nodes.withUnsafeBufferPointer { nodes in
            unsafe Self.search(nodes, node: 0, path: path, slash: 0, visits: &visits)
        }
    }

    /// Depth-first, most specific branch first; returns the rules of the first node that matches fully.
    /// `slash` is the index in `path` of the `/` before the next segment, or the path's end when none is left.
    private static func search(
        _ nodes: UnsafeBufferPointer<TrieNode>, node: Int, path: [UInt8], slash: Int,
        visits: inout Int
    ) -> [Int]? {
        visits += 1
        if slash == path.count {
            if unsafe !nodes[node].exactRules.isEmpty { return unsafe nodes[node].exactRules }
            return unsafe nodes[node].globstarRules.isEmpty ? nil : nodes[node].globstarRules
        }
        let segmentStart = slash + 1
        let segmentEnd = path[segmentStart...].firstIndex(of: UInt8(ascii: "/")) ?? path.count
        if let next = unsafe nodes[node].literals[path[segmentStart..<segmentEnd]],
            let found = unsafe search(nodes, node: next, path: path, slash: segmentEnd, visits: &visits)
        {
            return found
        }
        if segmentEnd > segmentStart, let next = unsafe nodes[node].wildcard,
            let found = unsafe search(nodes, node: next, path: path, slash: segmentEnd, visits: &visits)
        {
            return found
        }
        return unsafe nodes[node].globstarRules.isEmpty ? nil : nodes[node].globstarRules
    }
}

private struct TrieNode: Sendable {
    var literals = LiteralChildren()
    var wildcard: Int?
    var exactRules: [Int] = []
    var globstarRules: [Int] = []
}

/// A trie node's literal children: a few are compared directly (a length check and a memcmp cost less than
/// hashing the segment), many are found through a dictionary.
private struct LiteralChildren: Sendable {
    private static let directLimit = 8
    private var keys: [ByteKey] = []
    private var children: [Int] = []
    private var table: [ByteKey: Int]?

    subscript(segment: ArraySlice<UInt8>) -> Int? {
        let key = ByteKey(segment)
        if let table { return table[key] }
        for index in keys.indices where keys[index] == key { return children[index] }
        return nil
    }

    mutating func insert(_ segment: [UInt8], child: Int) {
        let key = ByteKey(segment)
        if table != nil {
            table![key] = child
        } else if keys.count < Self.directLimit {
            keys.append(key)
            children.append(child)
        } else {
            table = Dictionary(uniqueKeysWithValues: zip(keys, children))
            table![key] = child
            keys = []
            children = []
        }
    }
}

/// Two rules are equally specific and both cover a method.
public struct PolicyConflictError: Error, Sendable, CustomStringConvertible {
    /// The later rule.
    public let rule: PolicyRule
    /// The earlier rule it collides with.
    public let other: PolicyRule
    /// The methods both cover (empty: all methods).
    public let methods: [String]

    public var description: String {
        let which = methods.isEmpty ? "every method" : methods.joined(separator: ", ")
        return "\(rule) is as specific as \(other) and both match \(which); give them distinct paths or disjoint methods"
    }
}
