/// Warnings about a policy that loads but may not do what its author meant.
public enum PolicyLinter {
    /// - Scopes a rule requires that no user in `users` may be granted (the rule can never allow anyone).
    /// - Rules that overlap a more specific rule with a different requirement: for the paths they share,
    ///   the more specific rule decides, which is easy to miss when reading the file.
    public static func warnings(for policy: Policy, users: UserDirectory?, file: String) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        if let users {
            let grantable = Set(users.grantableScopes)
            for rule in policy.rules {
                for scope in rule.scopes where !grantable.contains(scope) {
                    diagnostics.append(Diagnostic(file: file, line: rule.line, column: rule.column, severity: .warning,
                                                  message: "rule \"\(rule.pattern)\": scope \"\(scope)\" is granted to no user, so this rule allows no one"))
                }
            }
        }
        for (index, rule) in policy.rules.enumerated() {
            for other in policy.rules[(index + 1)...] where rule.pattern != other.pattern && rule.pattern.overlaps(other.pattern) {
                guard rule.isPublic != other.isPublic || rule.scopes != other.scopes else { continue }
                let methodsShared = switch (rule.methods, other.methods) {
                case (let a?, let b?): !a.isDisjoint(with: b)
                default: true
                }
                guard methodsShared else { continue }
                let (specific, general) = rule.pattern.isMoreSpecific(than: other.pattern) ? (rule, other) : (other, rule)
                diagnostics.append(Diagnostic(
                    file: file, line: general.line, column: general.column, severity: .warning,
                    message: "rule \"\(general.pattern)\" overlaps \(specific) with a different requirement; "
                        + "where both match, \"\(specific.pattern)\" decides (\(summary(specific)) instead of \(summary(general)))"))
            }
        }
        return diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) }
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
            let rank = Self.rank(mine), otherRank = Self.rank(theirs)
            if rank != otherRank { return rank > otherRank }
        }
        return segments.count > other.segments.count
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
