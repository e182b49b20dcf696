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
        for (index, rule) in policy.rules.enumerated() {
            for other in policy.rules[(index + 1)...] where rule.pattern != other.pattern && rule.pattern.overlaps(other.pattern) {
                guard rule.isPublic != other.isPublic || rule.scopes != other.scopes else { continue }
                let methodsShared =
                    switch (rule.methods, other.methods) {
                    case (let a?, let b?): !a.isDisjoint(with: b)
                    default: true
                    }
                guard methodsShared else { continue }
                let (specific, general) = rule.pattern.isMoreSpecific(than: other.pattern) ? (rule, other) : (other, rule)
                diagnostics.append(
                    Diagnostic(
                        file: file, line: general.line, column: general.column, severity: .warning,
                        message: "rule \"\(general.pattern)\" overlaps \(specific) with a different requirement; "
                            + "where both match, \"\(specific.pattern)\" decides (\(summary(specific)) instead of \(summary(general)))"))
            }
        }
        diagnostics += shadowWarnings(for: policy, file: file)
        return diagnostics.sorted { ($0.line, $0.column, $0.message) < ($1.line, $1.column, $1.message) }
    }

    private static func shadowWarnings(for policy: Policy, file: String) -> [Diagnostic] {
        // The methods each pattern's rules cover together; nil: every method.
        var covered: [PathPattern: Set<String>?] = [:]
        var firstRule: [PathPattern: PolicyRule] = [:]
        for rule in policy.rules {
            if firstRule[rule.pattern] == nil { firstRule[rule.pattern] = rule }
            switch (covered[rule.pattern], rule.methods) {
            case (nil, let methods): covered[rule.pattern] = .some(methods)
            case (.some(nil), _), (_, nil): covered[rule.pattern] = .some(nil)
            case (.some(let existing?), let methods?): covered[rule.pattern] = .some(existing.union(methods))
            }
        }
        var diagnostics: [Diagnostic] = []
        for rule in policy.rules {
            for (pattern, methods) in covered {
                guard let methods = methods, pattern != rule.pattern, pattern.overlaps(rule.pattern),
                    pattern.isMoreSpecific(than: rule.pattern), let specific = firstRule[pattern]
                else { continue }
                let lost = (rule.methods ?? Set(PolicyRule.knownMethods)).subtracting(methods)
                guard !lost.isEmpty else { continue }
                let listed = PolicyRule.knownMethods.filter(lost.contains).joined(separator: ", ")
                diagnostics.append(
                    Diagnostic(
                        file: file, line: rule.line, column: rule.column, severity: .warning,
                        message: "rule \"\(rule.pattern)\" is shadowed by \(specific) for \(listed): where both match, \"\(pattern)\" "
                            + "decides and refuses the methods it does not list (403)"))
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
