/// One route → requirement rule of a policy. A class: a match hands it out on every request, and a copy is
/// then one reference.
public final class PolicyRule: Sendable, CustomStringConvertible {
    /// The route pattern.
    public let pattern: PathPattern
    /// The methods the rule is limited to (with `HEAD` added wherever `GET` is), or `nil` for all methods.
    public let methods: Set<String>?
    /// The scopes a token must carry, all of them, in the order the file lists them.
    public let scopes: [String]
    /// Whether the route needs no token at all.
    public let isPublic: Bool
    /// The identity token an allow on this route carries to the upstream, if the rule asks for one.
    public let identityToken: IdentityTokenRequest?
    /// The kinds of principal the route is for (`principals: [user]` or `[client]`); nil: every kind.
    public let principals: Set<PrincipalKind>?
    /// The hosts the rule is for; empty: every host.
    public let hosts: [HostPattern]
    /// Whether the rule is report-only (`mode: report`): evaluated and counted on live traffic, never
    /// enforced.
    public let isReport: Bool
    /// Whether a signed-in browser's session stands in for a token here (`browser: true`): the user it
    /// belongs to, with the scopes the user may have; a browser without one is sent to sign in.
    public let acceptsSession: Bool
    /// Where the rule is written: 1-based line and column in the policy file.
    public let line: Int
    public let column: Int

    /// The methods every rule may name.
    public static let knownMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]

    /// Creates a rule. `methods` as written; `GET` implies `HEAD`.
    public init(
        pattern: PathPattern, methods: [String]? = nil, scopes: [String] = [], isPublic: Bool = false, identityToken: IdentityTokenRequest? = nil,
        principals: Set<PrincipalKind>? = nil, hosts: [HostPattern] = [], isReport: Bool = false, acceptsSession: Bool = false, line: Int = 0,
        column: Int = 0
    ) {
        self.pattern = pattern
        if let methods {
            var set = Set(methods)
            if set.contains("GET") { set.insert("HEAD") }
            self.methods = set
        } else {
            self.methods = nil
        }
        self.scopes = scopes
        self.isPublic = isPublic
        self.identityToken = identityToken
        self.principals = principals
        self.hosts = hosts
        self.isReport = isReport
        self.acceptsSession = acceptsSession
        self.name = hosts.isEmpty ? pattern.description : hosts.map(\.description).joined(separator: ",") + " " + pattern.description
        self.line = line
        self.column = column
    }

    /// The host levels the rule is compiled into and compared at: each host it names, or (nil) the level
    /// for every host.
    public var levels: [HostPattern?] { hosts.isEmpty ? [nil] : hosts }

    /// Whether a principal of `kind` may pass this rule.
    public func admits(_ kind: PrincipalKind) -> Bool {
        principals?.contains(kind) ?? true
    }

    /// The kinds `principals` may name.
    public static let principalKinds: [PrincipalKind] = [.user, .client]

    /// Whether the rule covers `method`.
    public func applies(to method: String) -> Bool {
        methods?.contains(method) ?? true
    }

    /// The rule as metrics and logs name it: its path pattern, after its hosts when it names some
    /// (`admin.example.com /**`). Made once: every decision names its rule.
    public let name: String

    /// `rule "/admin/**" (line 12)`, or `rule "admin.example.com /admin/**" (line 12)`, for messages; a
    /// report-only rule is `report rule …`.
    public var description: String {
        (isReport ? "report rule" : "rule") + " \"\(name)\"" + (line > 0 ? " (line \(line))" : "")
    }
}

/// The hosts a rule names: one exact host (`admin.example.com`, `app.example.com:8443`), or every host
/// below a suffix at any depth, never the suffix itself (`*.tenant.example.com`).
public enum HostPattern: Hashable, Sendable, CustomStringConvertible {
    /// A canonical host, with its port when it names one.
    case exact(String)
    /// The suffix of a `*.` pattern, with `:port` when it names one.
    case suffix(String)

    /// The pattern as a policy file writes it, canonicalized as requests are (lower case, no trailing dot);
    /// nil with the reason when it is not one.
    public static func parse(_ text: String) -> Result<HostPattern, HostError> {
        let wildcard = text.hasPrefix("*.")
        do {
            let host = try CanonicalHost(Array((wildcard ? String(text.dropFirst(2)) : text).utf8))
            return .success(wildcard ? .suffix(host.description) : .exact(host.description))
        } catch {
            return .failure(error)
        }
    }

    public var description: String {
        switch self {
        case .exact(let host): host
        case .suffix(let suffix): "*." + suffix
        }
    }

    /// How `a` ranks against `b` on the hosts both match (nil: every host): 1 when `a` is more specific (an
    /// exact host over a `*.` pattern it is under, a longer suffix over a shorter one, any pattern over
    /// none), 0 when they are the same level, -1 when `b` is more specific, nil when no host matches both.
    public static func rank(_ a: HostPattern?, _ b: HostPattern?) -> Int? {
        switch (a, b) {
        case (nil, nil): return 0
        case (_?, nil): return 1
        case (nil, _?): return -1
        case (let a?, let b?):
            if a == b { return 0 }
            if b.covers(a) { return 1 }
            if a.covers(b) { return -1 }
            return nil
        }
    }

    /// Whether every host `other` matches is one this `*.` pattern matches too (never for an exact host).
    private func covers(_ other: HostPattern) -> Bool {
        guard case .suffix(let suffix) = self else { return false }
        let (name, port) = Self.split(suffix)
        let (otherName, otherPort) =
            switch other {
            case .exact(let host): Self.split(host)
            case .suffix(let otherSuffix): Self.split(otherSuffix)
            }
        return port == otherPort && otherName.hasSuffix("." + name)
    }

    /// `name:port` split at its port's colon (never one inside an IPv6 literal's brackets).
    private static func split(_ text: String) -> (Substring, Substring?) {
        guard let colon = text.lastIndex(of: ":"), !text[colon...].contains("]") else { return (text[...], nil) }
        return (text[..<colon], text[text.index(after: colon)...])
    }
}
