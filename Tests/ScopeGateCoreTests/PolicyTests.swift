import Foundation
import Testing
@testable import ScopeGateCore

@Suite struct PolicyTests {
    func rule(_ path: String, methods: [String]? = nil, scopes: [String] = [], line: Int = 0) throws -> PolicyRule {
        PolicyRule(pattern: try PathPattern(path), methods: methods, scopes: scopes, line: line)
    }

    func matched(_ policy: Policy, _ method: String, _ target: String, host: String? = nil) throws -> String {
        let canonicalHost = try host.map { try CanonicalHost(Array($0.utf8), scheme: "https") }
        switch policy.match(method: method, path: try CanonicalPath(target: target), host: canonicalHost) {
        case .rule(let rule, let parameters):
            return rule.name + (parameters.isEmpty ? "" : " " + parameters.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: ","))
        case .methodNotAllowed(let rule): return "405 " + rule.name
        case .noRule: return "none"
        case .noUsableHost: return "no host"
        case .unnamedPort(let rule): return "port " + rule.name
        }
    }

    static let hostPolicy = """
        rules:
          - hosts: [admin.example.com]
            path: /**
            scopes: [admin]
          - hosts: [admin.example.com]
            path: /reports/**
            methods: [GET]
            scopes: [reports]
          - hosts: ["*.tenant.example.com"]
            path: /api/**
            scopes: [tenant]
          - hosts: ["*.eu.tenant.example.com"]
            path: /api/**
            scopes: [eu]
          - hosts: [app.example.com:8443]
            path: /**
            scopes: [alt]
          - path: /public/**
            public: true
          - path: /api/**
            scopes: [any]
        """

    /// The most specific host level whose rules match the path decides: the exact host, then `*.` patterns
    /// from the longest suffix, then the rules for every host; a level that matches the path but not the
    /// method refuses without falling back.
    @Test func theMostSpecificHostDecides() throws {
        let policy = try Policy.load(yaml: Self.hostPolicy, file: "policy.yaml")
        #expect(policy.hasHostRules)
        #expect(try matched(policy, "GET", "/users", host: "admin.example.com") == "admin.example.com /**")
        #expect(try matched(policy, "GET", "/users", host: "ADMIN.example.com.") == "admin.example.com /**")
        #expect(try matched(policy, "GET", "/reports/1", host: "admin.example.com") == "admin.example.com /reports/**")
        #expect(try matched(policy, "POST", "/reports/1", host: "admin.example.com") == "405 admin.example.com /reports/**")
        // The host's own /** wins over the host-less /public/** there; elsewhere /public/** applies.
        #expect(try matched(policy, "GET", "/public/x", host: "admin.example.com") == "admin.example.com /**")
        #expect(try matched(policy, "GET", "/public/x", host: "www.example.com") == "/public/**")
        // Any depth below the suffix, never the suffix itself; the longer suffix first.
        #expect(try matched(policy, "GET", "/api/v1", host: "acme.tenant.example.com") == "*.tenant.example.com /api/**")
        #expect(try matched(policy, "GET", "/api/v1", host: "a.b.tenant.example.com") == "*.tenant.example.com /api/**")
        #expect(try matched(policy, "GET", "/api/v1", host: "acme.eu.tenant.example.com") == "*.eu.tenant.example.com /api/**")
        #expect(try matched(policy, "GET", "/api/v1", host: "tenant.example.com") == "/api/**")
        // Where the host's rules do not match the path, the less specific levels still apply.
        #expect(try matched(policy, "GET", "/public/x", host: "acme.tenant.example.com") == "/public/**")
        #expect(try matched(policy, "GET", "/other", host: "acme.tenant.example.com") == "none")
        // A port is part of the host unless it is the scheme's default.
        #expect(try matched(policy, "GET", "/x", host: "app.example.com:8443") == "app.example.com:8443 /**")
        #expect(try matched(policy, "GET", "/api/x", host: "app.example.com:443") == "/api/**")
        // With host rules, no usable host is a refusal, never the host-less rules.
        #expect(try matched(policy, "GET", "/public/x") == "no host")
        // Without host rules, the host plays no part.
        let plain = try Policy.load(yaml: "rules:\n  - path: /public/**\n    public: true\n", file: "policy.yaml")
        #expect(!plain.hasHostRules)
        #expect(try matched(plain, "GET", "/public/x") == "/public/**")
    }

    @Test func hostRulesAreCheckedAtLoad() throws {
        let conflicting = """
            rules:
              - hosts: [a.example.com, b.example.com]
                path: /x
                scopes: [one]
              - hosts: [B.example.com.]
                path: /x
                scopes: [two]
              - hosts: [a.example.com]
                path: /y
                scopes: []
              - path: /x
                scopes: [three]
            """
        let error = try #require(throws: ConfigurationError.self) { _ = try Policy.load(yaml: conflicting, file: "policy.yaml") }
        #expect(error.description.contains("b.example.com /x"), "\(error)")
        let bad = """
            rules:
              - hosts: [bücher.example, "a.*.example.com", "x.example.com:99999", "ok.example.com", "OK.example.com"]
                path: /x
                scopes: []
              - hosts: []
                path: /y
                scopes: []
            """
        let refused = try #require(throws: ConfigurationError.self) { _ = try Policy.load(yaml: bad, file: "policy.yaml") }
        let text = refused.description
        #expect(text.contains("write international names as A-labels"), "\(text)")
        #expect(text.contains("\"a.*.example.com\""), "\(text)")
        #expect(text.contains("port"), "\(text)")
        #expect(text.contains("is listed twice"), "\(text)")
        #expect(text.contains("\"hosts\" is empty"), "\(text)")
    }

    @Test func specificityDecidesNotFileOrder() throws {
        let rules = try ["/**", "/users/**", "/users/*", "/users/{id}/items", "/users/me", "/users/me/", "/users/*/items/**"].map { try rule($0) }
        for ordering in [rules, rules.reversed()] {
            let policy = try Policy(rules: ordering)
            #expect(try matched(policy, "GET", "/users/me") == "/users/me")
            #expect(try matched(policy, "GET", "/users/me/") == "/users/me/")
            #expect(try matched(policy, "GET", "/users/bob") == "/users/*")
            #expect(try matched(policy, "GET", "/users/bob/") == "/users/**")
            #expect(try matched(policy, "GET", "/users/bob/items") == "/users/{id}/items id=bob")
            #expect(try matched(policy, "GET", "/users/bob/items/x") == "/users/*/items/**")
            #expect(try matched(policy, "GET", "/users") == "/users/**")
            #expect(try matched(policy, "GET", "/") == "/**")
            #expect(try matched(policy, "GET", "/Users/me") == "/**")
        }
    }

    @Test func literalBeatsWildcardEvenWhenItFailsDeeper() throws {
        let policy = try Policy(rules: [rule("/a/b/c"), rule("/a/*/d"), rule("/a/**")])
        #expect(try matched(policy, "GET", "/a/b/d") == "/a/*/d")
        #expect(try matched(policy, "GET", "/a/b/c") == "/a/b/c")
        #expect(try matched(policy, "GET", "/a/b/e") == "/a/**")
    }

    @Test func wildcardsMatchOneNonEmptySegment() throws {
        let policy = try Policy(rules: [rule("/files/*"), rule("/files/{name}/raw")])
        #expect(try matched(policy, "GET", "/files/x") == "/files/*")
        #expect(try matched(policy, "GET", "/files/") == "none")
        #expect(try matched(policy, "GET", "/files/a/b") == "none")
        #expect(try matched(policy, "GET", "/files/a%20b/raw") == "/files/{name}/raw name=a b")
    }

    @Test func methodRestrictedRulesWinAtEqualSpecificity() throws {
        let policy = try Policy(rules: [
            rule("/admin/**", methods: ["GET"], scopes: ["admin:read"]),
            rule("/admin/**", methods: ["POST", "DELETE"], scopes: ["admin:write"]),
            rule("/reports/*", scopes: ["reports"]),
            rule("/reports/*", methods: ["DELETE"], scopes: ["reports:delete"]),
        ])
        guard case .rule(let read, _) = policy.match(method: "HEAD", path: try CanonicalPath(target: "/admin/x")) else {
            Issue.record("HEAD must follow GET")
            return
        }
        #expect(read.scopes == ["admin:read"])
        guard case .rule(let write, _) = policy.match(method: "DELETE", path: try CanonicalPath(target: "/admin/x")) else {
            Issue.record("DELETE has a rule")
            return
        }
        #expect(write.scopes == ["admin:write"])
        #expect(try matched(policy, "PUT", "/admin/x") == "405 /admin/**")
        // Lowercase is another method, not GET.
        #expect(try matched(policy, "get", "/admin/x") == "405 /admin/**")
        guard case .rule(let delete, _) = policy.match(method: "DELETE", path: try CanonicalPath(target: "/reports/1")),
            case .rule(let other, _) = policy.match(method: "GET", path: try CanonicalPath(target: "/reports/1"))
        else {
            Issue.record("reports rules must match")
            return
        }
        #expect(delete.scopes == ["reports:delete"])
        #expect(other.scopes == ["reports"])
    }

    @Test func aMoreSpecificPathNeverFallsBackToACheaperRuleForOtherMethods() throws {
        let policy = try Policy(rules: [rule("/**"), rule("/admin/**", methods: ["GET"], scopes: ["admin"])])
        #expect(try matched(policy, "POST", "/admin/users") == "405 /admin/**")
    }

    @Test func equallySpecificOverlappingRulesAreRefused() throws {
        #expect(throws: PolicyConflictError.self) { try Policy(rules: [rule("/users/{id}"), rule("/users/*")]) }
        #expect(throws: PolicyConflictError.self) { try Policy(rules: [rule("/a/**", methods: ["GET"]), rule("/a/**", methods: ["HEAD", "POST"])]) }
        _ = try Policy(rules: [rule("/a/**", methods: ["GET"]), rule("/a/**", methods: ["POST"]), rule("/a/**")])
        _ = try Policy(rules: [rule("/a/*"), rule("/a/**"), rule("/a/b")])
    }

    @Test(arguments: [
        ("users", PatternError.noLeadingSlash), ("/a/**/b", .globstarNotLast), ("/a//b", .emptySegment), ("/a/../b", .dotSegment),
        ("/a/{1x}", .invalidParameterName("1x")), ("/a/{id}/{id}", .duplicateParameterName("id")), ("/a/b*", .invalidCharacter("*")),
        ("/a/%2F", .invalidCharacter("%")), ("/a;b", .invalidCharacter(";")), ("/a b", .invalidCharacter("space")),
    ])
    func refusesInvalidPatterns(text: String, expected: PatternError) {
        #expect(throws: expected) { try PathPattern(text) }
    }

    @Test func matchingCostFollowsSegmentsNotRuleCount() throws {
        var many: [PolicyRule] = []
        for index in 0..<10_000 {
            many.append(try rule("/service\(index)/v1/{id}/items", scopes: ["s\(index)"]))
        }
        many.append(try rule("/users/me/items/", scopes: ["me", "items"]))
        many.append(try rule("/public/**"))
        let large = try Policy(rules: many)
        let small = try Policy(rules: [rule("/users/me/items/", scopes: ["me", "items"]), rule("/public/**")])
        for target in ["/users/me/items/", "/service9999/v1/42/items", "/public/a/b/c", "/nothing/here"] {
            let path = try CanonicalPath(target: target)
            let largeVisits = large.visitedNodes(path: path)
            #expect(largeVisits <= 2 * (path.segments.count + 1), "\(target): \(largeVisits) nodes visited")
            if !target.hasPrefix("/service") {
                #expect(largeVisits == small.visitedNodes(path: path), "\(target)")
            }
        }
        #expect(try matched(large, "GET", "/service9999/v1/42/items") == "/service9999/v1/{id}/items id=42")
    }

    // MARK: - loading

    @Test func loadsTheDemoPolicy() throws {
        let policy = try Policy.load(yaml: Bundle.fixture("demo-policy.yaml"), file: "demo.yaml")
        #expect(policy.rules.count == 5)
        #expect(policy.defaultAction == .deny)
        #expect(try matched(policy, "GET", "/users/me/items/") == "/users/me/items/")
        #expect(try matched(policy, "GET", "/public/") == "/public/**")
        #expect(try matched(policy, "POST", "/admin/x") == "405 /admin/**")
        #expect(try matched(policy, "GET", "/elsewhere") == "none")
        #expect(policy.rules[0].scopes == ["me", "items"])
        #expect(policy.rules[0].line == 4)
        #expect(policy.rules[3].isPublic)
    }

    @Test func reportsEveryProblemCompilerStyle() throws {
        let yaml = """
            rules:
              - path: /admin/**
                methods: [GETT, GET]
                scopes: [admin]
              - path: users
                scopes: [me]
              - path: /x
                public: true
                scopes: [a]
              - path: /y
                scope: [a]
              - path: /z
                scopes: ["bad scope"]
              - path: /w
                public: yes
            default: allow
            extra: 1
            """
        let error = #expect(throws: ConfigurationError.self) { try Policy.load(yaml: yaml, file: "policy.yaml") }
        #expect(
            error?.description == """
                policy.yaml:3:15: error: rule "/admin/**": unknown method "GETT"; expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT
                policy.yaml:5:11: error: rule "users": a path pattern must start with "/"
                policy.yaml:9:13: error: rule "/x": a public rule cannot require scopes
                policy.yaml:10:5: error: rule "/y": needs "scopes" (use [] for any valid token) or "public: true"
                policy.yaml:11:5: error: a rule: unknown key "scope"; expected one of "hosts", "path", "methods", "scopes", "public", "description", "identity_token", "principals", "mode", "browser"
                policy.yaml:13:14: error: rule "/z": "bad scope" is not a valid scope (RFC 6749 §3.3: printable ASCII except space, " and \\)
                policy.yaml:15:13: error: rule "/w": "public" must be true or false
                policy.yaml:16:10: error: "default" is "allow"; expected "deny" or "authenticated"
                policy.yaml:17:1: error: policy: unknown key "extra"; expected one of "rules", "default", "scopes", "identity_token"
                """)
    }

    @Test func reportsConflictsWithTheirLines() throws {
        let yaml = """
            rules:
              - path: /users/{id}
                scopes: [a]
              - path: /users/*
                scopes: [b]
              - path: /users/{name}
                scopes: [c]
            """
        let error = #expect(throws: ConfigurationError.self) { try Policy.load(yaml: yaml, file: "p.yaml") }
        #expect(error?.diagnostics.map(\.line) == [4, 6])
        #expect(
            error?.diagnostics.first?.description
                == "p.yaml:4:5: error: rule \"/users/*\" (line 4) is as specific as rule \"/users/{id}\" (line 2) and both match every method; give them distinct paths or disjoint methods"
        )
    }

    @Test func reportsYAMLSyntaxAndShapeErrors() throws {
        let syntax = #expect(throws: ConfigurationError.self) { try Policy.load(yaml: "rules: [\n  - path: /a\n", file: "p.yaml") }
        #expect(syntax?.diagnostics.first?.description.hasPrefix("p.yaml:") == true)
        #expect(syntax?.diagnostics.first?.description.contains("invalid YAML") == true)
        let empty = #expect(throws: ConfigurationError.self) { try Policy.load(yaml: "", file: "p.yaml") }
        #expect(empty?.description == "p.yaml:1:1: error: the file is empty")
        let notList = #expect(throws: ConfigurationError.self) { try Policy.load(yaml: "rules: 3", file: "p.yaml") }
        #expect(notList?.description == "p.yaml:1:8: error: \"rules\" must be a list of rules")
        let duplicate = #expect(throws: ConfigurationError.self) { try Policy.load(yaml: "rules: []\nrules: []", file: "p.yaml") }
        #expect(duplicate?.description.contains("\"rules\"") == true)
    }
}

/// Report-only rules: out of the enforced match, found by `reportMatch` where they would decide.
@Suite struct ReportRuleTests {
    static let policy = """
        rules:
          - hosts: [a.example.com, b.example.com]
            path: /admin/**
            scopes: [admin]
          - hosts: [b.example.com]
            path: /admin/**
            scopes: [admin, mfa]
            mode: report
          - path: /reports/**
            methods: [GET]
            scopes: [reports]
            mode: report
          - path: /**
            scopes: []
            mode: enforce
        """

    func both(_ policy: Policy, _ method: String, _ target: String, host: String) throws -> (String, String?) {
        let path = try CanonicalPath(target: target)
        let canonical = try CanonicalHost(Array(host.utf8), scheme: "https")
        func name(_ match: RouteMatch) -> String {
            switch match {
            case .rule(let rule, _): rule.description
            case .methodNotAllowed(let rule): "405 " + rule.description
            case .noRule: "none"
            case .noUsableHost: "no host"
            case .unnamedPort(let rule): "port " + rule.description
            }
        }
        return (
            name(policy.match(method: method, path: path, host: canonical)), policy.reportMatch(method: method, path: path, host: canonical).map { name($0.0) }
        )
    }

    @Test func reportRulesAreNeverEnforced() throws {
        let policy = try Policy.load(yaml: Self.policy, file: "p.yaml")
        #expect(policy.hasReportRules && policy.hasHostRules)
        // The report rule stands in for the enforced one only on the host they share.
        #expect(try both(policy, "GET", "/admin/x", host: "a.example.com") == (#"rule "a.example.com,b.example.com /admin/**" (line 2)"#, nil))
        #expect(
            try both(policy, "GET", "/admin/x", host: "b.example.com")
                == (#"rule "a.example.com,b.example.com /admin/**" (line 2)"#, #"report rule "b.example.com /admin/**" (line 5)"#))
        // Where only a report rule matches, the enforced policy falls through to what it has.
        #expect(try both(policy, "GET", "/reports/1", host: "c.example.com") == (#"rule "/**" (line 13)"#, #"report rule "/reports/**" (line 9)"#))
        #expect(try both(policy, "POST", "/reports/1", host: "c.example.com") == (#"rule "/**" (line 13)"#, #"405 report rule "/reports/**" (line 9)"#))
        // Elsewhere no report rule would decide.
        #expect(try both(policy, "GET", "/other", host: "b.example.com") == (#"rule "/**" (line 13)"#, nil))
    }

    @Test func aPolicyWithOnlyReportHostRulesNeedsNoHost() throws {
        let policy = try Policy.load(
            yaml: "rules:\n  - hosts: [a.example.com]\n    path: /**\n    scopes: [x]\n    mode: report\n  - path: /**\n    public: true\n", file: "p.yaml")
        #expect(!policy.hasHostRules && policy.readsHosts)
        guard case .rule(let rule, _) = policy.match(method: "GET", path: try CanonicalPath(target: "/a"), host: nil) else {
            Issue.record("no match")
            return
        }
        #expect(rule.isPublic)
        #expect(policy.reportMatch(method: "GET", path: try CanonicalPath(target: "/a"), host: nil) == nil)
    }

    @Test func reportRulesConflictOnlyAmongThemselves() throws {
        let twice = "rules:\n  - path: /a\n    scopes: []\n    mode: report\n  - path: /a\n    scopes: [x]\n    mode: report\n"
        #expect(throws: ConfigurationError.self) { try Policy.load(yaml: twice, file: "p.yaml") }
        do {
            _ = try Policy.load(yaml: twice, file: "p.yaml")
        } catch {
            #expect(error.description.contains(#"p.yaml:5:5: error: report rule "/a" (line 5) is as specific as report rule "/a" (line 2)"#), "\(error)")
        }
        let badMode = "rules:\n  - path: /a\n    scopes: []\n    mode: audit\n"
        do {
            _ = try Policy.load(yaml: badMode, file: "p.yaml")
            Issue.record("loaded")
        } catch {
            #expect(error.description.contains(#"p.yaml:4:11: error: rule "/a": "mode" is "audit"; expected "enforce" or "report""#), "\(error)")
        }
    }
}
