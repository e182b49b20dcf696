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
    /// The request's host has a port that no rule names, and the rules for its name (the one reported)
    /// cover the path: refused rather than decided by the rules for every host.
    case unnamedPort(PolicyRule)
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
    /// The enforced rules (every rule but the report-only ones).
    private let enforced: RuleIndex
    /// The policy as it would be with its report-only rules switched on, when it has some: each report rule
    /// stands in for an enforced rule as specific as it.
    private let trial: RuleIndex?

    /// Whether some enforced rule names hosts: then every request needs a usable host.
    public var hasHostRules: Bool { enforced.hasHostRules }
    /// Whether some rule, enforced or report-only, names hosts: then the request's host is read.
    public var readsHosts: Bool { enforced.hasHostRules || (trial?.hasHostRules ?? false) }
    /// Whether some rule is report-only (`mode: report`).
    public var hasReportRules: Bool { trial != nil }

    /// Compiles rules into a policy. Two rules that are equally specific (the same host pattern, or none,
    /// and the same path) and cover a common method are refused: which one applies would otherwise depend
    /// on file order. Report-only rules are refused so only among themselves: one as specific as an
    /// enforced rule is its trial replacement.
    public init(rules: [PolicyRule], defaultAction: DefaultAction = .deny) throws(PolicyConflictError) {
        let enforcedRules = rules.indices.filter { !rules[$0].isReport }
        let reportRules = rules.indices.filter { rules[$0].isReport }
        var enforced = RuleIndex()
        for index in enforcedRules { try enforced.insert(index, of: rules) }
        if reportRules.isEmpty {
            self.trial = nil
        } else {
            var trial = RuleIndex()
            for index in reportRules { try trial.insert(index, of: rules) }
            for index in enforcedRules {
                // An enforced rule stays out of the trial where a report rule is as specific as it.
                for level in rules[index].levels {
                    do { try trial.insert(index, of: rules, levels: [level]) } catch {}
                }
            }
            self.trial = trial
        }
        self.rules = rules
        self.defaultAction = defaultAction
        self.enforced = enforced
    }

    /// Finds the enforced rule for a request. With host rules, the most specific host level whose rules
    /// match the path decides (the exact host, then `*.` patterns from the longest suffix to the shortest,
    /// then the rules for every host); a level whose rules match the path but not the method answers
    /// ``RouteMatch/methodNotAllowed(_:)`` without falling back. `host` nil: the request named no usable
    /// host, and only a policy without host rules can match it.
    public func match(method: String, path: CanonicalPath, host: CanonicalHost? = nil) -> RouteMatch {
        enforced.match(method: method, path: path, host: host, rules: rules)
    }

    /// The match the policy would make with its report-only rules switched on, when a report rule is the
    /// one that would decide the request; nil otherwise (and always for a policy without report rules).
    /// Without a usable host, only the rules for every host are tried: a report rule never makes a
    /// request refused for lack of a host.
    public func reportMatch(method: String, path: CanonicalPath, host: CanonicalHost?) -> (RouteMatch, rule: PolicyRule)? {
        guard let trial else { return nil }
        let found = trial.match(method: method, path: path, host: host, rules: rules, hostless: true)
        switch found {
        case .rule(let rule, _) where rule.isReport: return (found, rule)
        case .methodNotAllowed(let rule) where rule.isReport: return (found, rule)
        default: return nil
        }
    }

    /// How many trie nodes a match for `path` visits among the rules for every host: the measure of
    /// matching cost.
    func visitedNodes(path: CanonicalPath) -> Int {
        enforced.visitedNodes(path: path)
    }
}

/// One set of rules compiled for matching: a trie for the rules for every host, one per exact host and
/// one per `*.` suffix.
private struct RuleIndex: Sendable {
    /// The rules for every host (those without `hosts`).
    private var anyHost = PathTrie()
    /// Rules by the exact host they name (`admin.example.com`, `app.example.com:8443`).
    private var exactHosts: [String: PathTrie] = [:]
    /// Rules by the suffix of their `*.` host pattern (`*.tenant.example.com` under `tenant.example.com`,
    /// with `:port` when the pattern names one).
    private var suffixHosts: [String: PathTrie] = [:]

    var hasHostRules: Bool { !exactHosts.isEmpty || !suffixHosts.isEmpty }

    /// Adds a rule to the trie of each level it is for; throws at the first where it conflicts with a rule
    /// already in.
    mutating func insert(_ ruleIndex: Int, of rules: [PolicyRule], levels: [HostPattern?]? = nil) throws(PolicyConflictError) {
        for level in levels ?? rules[ruleIndex].levels {
            switch level {
            case nil: try anyHost.insert(ruleIndex, of: rules)
            case .exact(let name)?: try exactHosts[name, default: PathTrie()].insert(ruleIndex, of: rules)
            case .suffix(let suffix)?: try suffixHosts[suffix, default: PathTrie()].insert(ruleIndex, of: rules)
            }
        }
    }

    /// The match at the most specific level; `host` nil: ``RouteMatch/noUsableHost`` where rules name
    /// hosts, unless `hostless` asks for the rules for every host then.
    func match(method: String, path: CanonicalPath, host: CanonicalHost?, rules: [PolicyRule], hostless: Bool = false) -> RouteMatch {
        if hasHostRules, host != nil || !hostless {
            guard let host else { return .noUsableHost }
            let port = host.port.map { ":\($0)" } ?? ""
            if let found = hostMatch(host, port: port, method: method, path: path, rules: rules) { return found }
            if !port.isEmpty, let found = hostMatch(host, port: "", method: method, path: path, rules: rules) {
                // The name's own rules cover the path, but none names this port: refused, never left to
                // the rules for every host (a port a proxy routes as the name must not escape its rules).
                switch found {
                case .rule(let rule, _), .methodNotAllowed(let rule): return .unnamedPort(rule)
                default: return found
                }
            }
        }
        return anyHost.match(method: method, path: path, rules: rules) ?? .noRule
    }

    /// The match at the host's own levels for `port` (`""` or `:8443`): the exact host, then its suffixes
    /// from the longest; nil when none of them has rules for the path.
    private func hostMatch(_ host: CanonicalHost, port: String, method: String, path: CanonicalPath, rules: [PolicyRule]) -> RouteMatch? {
        if let trie = exactHosts[port.isEmpty ? host.name : host.name + port], let found = trie.match(method: method, path: path, rules: rules) { return found }
        if !suffixHosts.isEmpty {
            for suffix in host.suffixes {
                if let trie = suffixHosts[suffix + port], let found = trie.match(method: method, path: path, rules: rules) { return found }
            }
        }
        return nil
    }

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
