/// Warnings about a policy that loads but may not do what its author meant.
public enum PolicyLinter {
    /// - Scopes a rule requires that no principal it admits may be granted: no user in `users`, no client in
    ///   `clients` (each checked when given; the rule can never allow anyone).
    /// - Rules that overlap a more specific rule with a different requirement: for the paths they share,
    ///   the more specific rule decides, which is easy to miss when reading the file.
    /// - Rules shadowed for some methods: where a more specific pattern's rules list methods, a request with
    ///   another method is refused there and never falls back to the less specific rule.
    ///
    /// Patterns that could never match a canonical path (dot segments, `%`, `;`, `\`, `?`, `#`, empty
    /// segments) are load errors, not warnings.
    public static func warnings(
        for policy: Policy, users: UserDirectory?, clients: ClientDirectory? = nil, file: String
    ) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for rule in policy.rules where !rule.isPublic {
            // Only the kinds the rule admits and whose file was given: an absent file proves nothing.
            var grantable = Set<String>()
            var kinds: [String] = []
            if let users, rule.admits(.user) {
                grantable.formUnion(users.grantableScopes)
                kinds.append("user")
            }
            if let clients, rule.admits(.client) {
                grantable.formUnion(clients.grantableScopes)
                kinds.append("client")
            }
            guard !kinds.isEmpty else { continue }
            for scope in rule.scopes where !grantable.contains(scope) {
                diagnostics.append(
                    Diagnostic(
                        file: file, line: rule.line, column: rule.column, severity: .warning,
                        message: "rule \"\(rule.pattern)\": scope \"\(scope)\" is granted to no \(kinds.joined(separator: " or ")), so this rule allows no one")
                )
            }
        }
        // Report-only rules differ from the enforced ones on purpose: only the enforced ones are compared.
        let enforced = policy.rules.filter { !$0.isReport }
        for (index, rule) in enforced.enumerated() {
            for other in enforced[(index + 1)...] {
                guard rule.isPublic != other.isPublic || rule.scopes != other.scopes else { continue }
                let methodsShared =
                    switch (rule.methods, other.methods) {
                    case (let a?, let b?): !a.isDisjoint(with: b)
                    default: true
                    }
                guard methodsShared, let (specific, general, host) = precedence(rule, other) else { continue }
                let whereBoth = host.map { "where both match on \($0)" } ?? "where both match"
                diagnostics.append(
                    Diagnostic(
                        file: file, line: general.line, column: general.column, severity: .warning,
                        message: "rule \"\(general.name)\" overlaps \(specific) with a different requirement; "
                            + "\(whereBoth), \"\(specific.name)\" decides (\(summary(specific)) instead of \(summary(general)))"))
            }
        }
        diagnostics += shadowWarnings(for: enforced, file: file)
        return diagnostics.sorted { ($0.line, $0.column, $0.message) < ($1.line, $1.column, $1.message) }
    }

    /// Which of two rules decides where both match, and on which hosts (nil: every host), when some request
    /// matches both: the more specific host level first, then the more specific path.
    private static func precedence(_ rule: PolicyRule, _ other: PolicyRule) -> (specific: PolicyRule, general: PolicyRule, host: HostPattern?)? {
        guard rule.pattern.overlaps(other.pattern) else { return nil }
        for mine in rule.levels {
            for theirs in other.levels {
                switch HostPattern.rank(mine, theirs) {
                case .some(1): return (rule, other, mine)
                case .some(-1): return (other, rule, theirs)
                case .some(0) where rule.pattern != other.pattern:
                    return rule.pattern.isMoreSpecific(than: other.pattern) ? (rule, other, mine) : (other, rule, mine)
                default: continue
                }
            }
        }
        return nil
    }

    /// The policy's host levels in the order a request's host tries them: exact hosts, then `*.` patterns
    /// from the longest suffix to the shortest, then (nil) the rules for every host; each with its rules
    /// in file order. Empty for a policy without host rules.
    public static func hostLevels(of policy: Policy) -> [(host: HostPattern?, rules: [PolicyRule])] {
        guard policy.readsHosts else { return [] }
        var byHost: [HostPattern?: [PolicyRule]] = [:]
        for rule in policy.rules {
            for host in rule.levels { byHost[host, default: []].append(rule) }
        }
        func order(_ host: HostPattern?) -> (Int, Int, String) {
            switch host {
            case .exact(let name)?: (0, 0, name)
            case .suffix(let suffix)?: (1, -suffix.split(separator: ".").count, suffix)
            case nil: (2, 0, "")
            }
        }
        return byHost.keys.sorted { order($0) < order($1) }.map { ($0, byHost[$0]!) }
    }

    private struct Level: Hashable {
        let host: HostPattern?
        let pattern: PathPattern
    }

    private static func shadowWarnings(for rules: [PolicyRule], file: String) -> [Diagnostic] {
        // The methods each (host level, pattern)'s rules cover together; nil: every method.
        var covered: [Level: Set<String>?] = [:]
        var firstRule: [Level: PolicyRule] = [:]
        for rule in rules {
            for host in rule.levels {
                let level = Level(host: host, pattern: rule.pattern)
                if firstRule[level] == nil { firstRule[level] = rule }
                switch (covered[level], rule.methods) {
                case (nil, let methods): covered[level] = .some(methods)
                case (.some(nil), _), (_, nil): covered[level] = .some(nil)
                case (.some(let existing?), let methods?): covered[level] = .some(existing.union(methods))
                }
            }
        }
        var diagnostics: [Diagnostic] = []
        for rule in rules {
            var reported = Set<Int>()
            for host in rule.levels {
                for (level, methods) in covered {
                    guard let methods, let specific = firstRule[level], specific !== rule, level.pattern.overlaps(rule.pattern),
                        let rank = HostPattern.rank(level.host, host)
                    else { continue }
                    // A more specific host level decides wherever its patterns match; on one level, the more specific pattern.
                    guard rank == 1 || (rank == 0 && level.pattern != rule.pattern && level.pattern.isMoreSpecific(than: rule.pattern)) else { continue }
                    let lost = (rule.methods ?? Set(PolicyRule.knownMethods)).subtracting(methods)
                    guard !lost.isEmpty, reported.insert(specific.line * 1_000_000 + specific.column).inserted else { continue }
                    let listed = PolicyRule.knownMethods.filter(lost.contains).joined(separator: ", ")
                    let whereBoth = rank == 1 ? "where both match on \(level.host!), \"\(specific.name)\"" : "where both match, \"\(level.pattern)\""
                    diagnostics.append(
                        Diagnostic(
                            file: file, line: rule.line, column: rule.column, severity: .warning,
                            message: "rule \"\(rule.name)\" is shadowed by \(specific) for \(listed): \(whereBoth) "
                                + "decides and refuses the methods it does not list (403)"))
                }
            }
        }
        return diagnostics
    }

    private static func summary(_ rule: PolicyRule) -> String {
        if rule.isPublic { return "public" }
        return rule.scopes.isEmpty ? "any valid token" : "scopes " + rule.scopes.joined(separator: " ")
    }
}

extension PathPattern {
    /// Whether some path matches both patterns.
    public func overlaps(_ other: PathPattern) -> Bool {
        Self.overlap(segments[...], other.segments[...])
    }

    /// Whether this pattern wins over `other` where both match (literal beats `*`/`{name}` beats `**`, at the
    /// first segment where they differ).
    public func isMoreSpecific(than other: PathPattern) -> Bool {
        for (mine, theirs) in zip(segments, other.segments) {
            let rank = Self.rank(mine)
            let otherRank = Self.rank(theirs)
            if rank != otherRank { return rank > otherRank }
        }
        // Equal up to the shorter one: the longer one ends in "**", and the exact pattern wins.
        return segments.count < other.segments.count
    }

    private static func rank(_ segment: Segment) -> Int {
        switch segment {
        case .literal: 2
        case .wildcard: 1
        case .globstar: 0
        }
    }

    private static func overlap(_ a: ArraySlice<Segment>, _ b: ArraySlice<Segment>) -> Bool {
        guard let first = a.first else { return b.isEmpty || b.first == .globstar }
        guard let second = b.first else { return first == .globstar }
        if first == .globstar || second == .globstar { return true }
        switch (first, second) {
        case (.literal(let x), .literal(let y)) where x != y: return false
        case (.literal(let x), .wildcard) where x.isEmpty: return false
        case (.wildcard, .literal(let y)) where y.isEmpty: return false
        default: return overlap(a.dropFirst(), b.dropFirst())
        }
    }
}
