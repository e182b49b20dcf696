import Testing
@testable import ScopeGateCore

@Suite struct PolicyLinterTests {
    @Test func patternsOverlapWhenSomePathMatchesBoth() throws {
        let cases: [(String, String, Bool)] = [
            ("/admin/**", "/admin/health", true), ("/a/*", "/a/b", true), ("/a/*", "/a/", false), ("/a/b", "/a/c", false),
            ("/a/{x}/c", "/a/*/c", true), ("/a/**", "/b/**", false), ("/**", "/x/y/", true), ("/a", "/a/**", true), ("/a/b", "/a", false),
        ]
        for (first, second, expected) in cases {
            #expect(try PathPattern(first).overlaps(PathPattern(second)) == expected, "\(first) \(second)")
            #expect(try PathPattern(second).overlaps(PathPattern(first)) == expected, "\(second) \(first)")
        }
        #expect(try PathPattern("/admin/health").isMoreSpecific(than: PathPattern("/admin/**")))
        #expect(try PathPattern("/a/b/**").isMoreSpecific(than: PathPattern("/a/*/c")))
        // The exact pattern wins the one path it shares with its "**" extension.
        #expect(try PathPattern("/a").isMoreSpecific(than: PathPattern("/a/**")))
        #expect(try !PathPattern("/a/**").isMoreSpecific(than: PathPattern("/a")))
    }

    /// Every shadow warning names methods the matcher really refuses on a path both rules match, and a
    /// method-limited pattern with a catch-all companion at the same path shadows nothing.
    @Test func shadowWarningsAgreeWithTheMatcher() throws {
        let yaml = """
            rules:
              - path: /**
                scopes: []
              - path: /admin/**
                methods: [GET]
                scopes: [admin]
              - path: /files/{name}
                methods: [PUT]
                scopes: [writer]
              - path: /files/{name}
                scopes: [reader]
              - path: /a
                methods: [POST]
                scopes: [a]
              - path: /a/**
                scopes: [b]
            """
        let policy = try Policy.load(yaml: yaml, file: "p.yaml")
        let shadows = PolicyLinter.warnings(for: policy, users: nil, file: "p.yaml").map(\.description).filter { $0.contains("shadowed") }
        #expect(
            shadows == [
                "p.yaml:2:5: warning: rule \"/**\" is shadowed by rule \"/a\" (line 12) for GET, HEAD, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT: where both match, \"/a\" decides and refuses the methods it does not list (403)",
                "p.yaml:2:5: warning: rule \"/**\" is shadowed by rule \"/admin/**\" (line 4) for POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT: where both match, \"/admin/**\" decides and refuses the methods it does not list (403)",
                "p.yaml:15:5: warning: rule \"/a/**\" is shadowed by rule \"/a\" (line 12) for GET, HEAD, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT: where both match, \"/a\" decides and refuses the methods it does not list (403)",
            ])
        // What the matcher does on the shared paths.
        guard case .methodNotAllowed = policy.match(method: "DELETE", path: try CanonicalPath(target: Array("/admin/x".utf8))) else {
            Issue.record("DELETE /admin/x fell back to a less specific rule")
            return
        }
        guard case .methodNotAllowed = policy.match(method: "GET", path: try CanonicalPath(target: Array("/a".utf8))) else {
            Issue.record("GET /a fell back to a less specific rule")
            return
        }
        guard case .rule(let rule, _) = policy.match(method: "GET", path: try CanonicalPath(target: Array("/files/x".utf8))) else {
            Issue.record("GET /files/x found no rule")
            return
        }
        #expect(rule.scopes == ["reader"])
    }

    @Test func warnsAboutOverlapsAndUngrantableScopes() throws {
        let yaml = """
            rules:
              - path: /admin/**
                scopes: [admin]
              - path: /admin/health
                public: true
              - path: /reports/*
                methods: [GET]
                scopes: [reports]
              - path: /reports/today
                methods: [POST]
                scopes: [writer]
              - path: /same/**
                scopes: [me]
              - path: /same/x
                scopes: [me]
            """
        let policy = try Policy.load(yaml: yaml, file: "p.yaml")
        let users = UserDirectory([UserRecord(username: "a", passwordHash: "x", scopes: ["admin", "reports", "me"])])
        let warnings = PolicyLinter.warnings(for: policy, users: users, file: "p.yaml").map(\.description)
        #expect(
            warnings == [
                "p.yaml:2:5: warning: rule \"/admin/**\" overlaps rule \"/admin/health\" (line 4) with a different requirement; where both match, \"/admin/health\" decides (public instead of scopes admin)",
                "p.yaml:6:5: warning: rule \"/reports/*\" is shadowed by rule \"/reports/today\" (line 9) for GET, HEAD: where both match, \"/reports/today\" decides and refuses the methods it does not list (403)",
                "p.yaml:9:5: warning: rule \"/reports/today\": scope \"writer\" is granted to no user, so this rule allows no one",
            ])
        #expect(PolicyLinter.warnings(for: try Policy.load(yaml: "rules:\n  - path: /a\n    scopes: []\n", file: "q.yaml"), users: nil, file: "q.yaml").isEmpty)
    }

    @Test func ranksHostPatterns() throws {
        func pattern(_ text: String) throws -> HostPattern { try HostPattern.parse(text).get() }
        let cases: [(String?, String?, Int?)] = [
            (nil, nil, 0), ("a.example.com", nil, 1), ("a.example.com", "a.example.com", 0), ("a.example.com", "b.example.com", nil),
            ("a.tenant.example.com", "*.tenant.example.com", 1), ("tenant.example.com", "*.tenant.example.com", nil),
            ("*.eu.tenant.example.com", "*.tenant.example.com", 1), ("*.a.example.com", "*.b.example.com", nil),
            ("x.example.com:8443", "*.example.com", nil), ("x.example.com:8443", "*.example.com:8443", 1),
            ("xtenant.example.com", "*.tenant.example.com", nil),
        ]
        for (a, b, expected) in cases {
            let first = try a.map(pattern)
            let second = try b.map(pattern)
            #expect(HostPattern.rank(first, second) == expected, "\(a ?? "-") \(b ?? "-")")
            #expect(HostPattern.rank(second, first) == expected.map { -$0 }, "\(b ?? "-") \(a ?? "-")")
        }
    }

    /// With hosts, a host's own rules decide on it before any path specificity: the warnings say so, and
    /// agree with the matcher; report-only rules are left out of the comparison.
    @Test func warningsFollowHostPrecedence() throws {
        let yaml = """
            rules:
              - hosts: [admin.example.com]
                path: /**
                scopes: [admin]
              - path: /public/**
                public: true
              - hosts: ["*.example.com"]
                path: /api/**
                methods: [GET]
                scopes: [api]
              - path: /api/v1/**
                scopes: [me]
              - hosts: [other.test]
                path: /public/**
                scopes: [x]
                mode: report
            """
        let policy = try Policy.load(yaml: yaml, file: "p.yaml")
        let warnings = PolicyLinter.warnings(for: policy, users: nil, file: "p.yaml").map(\.description)
        #expect(
            warnings == [
                "p.yaml:5:5: warning: rule \"/public/**\" overlaps rule \"admin.example.com /**\" (line 2) with a different requirement; where both match on admin.example.com, \"admin.example.com /**\" decides (scopes admin instead of public)",
                "p.yaml:7:5: warning: rule \"*.example.com /api/**\" overlaps rule \"admin.example.com /**\" (line 2) with a different requirement; where both match on admin.example.com, \"admin.example.com /**\" decides (scopes admin instead of scopes api)",
                "p.yaml:11:5: warning: rule \"/api/v1/**\" is shadowed by rule \"*.example.com /api/**\" (line 7) for POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT: where both match on *.example.com, \"*.example.com /api/**\" decides and refuses the methods it does not list (403)",
                "p.yaml:11:5: warning: rule \"/api/v1/**\" overlaps rule \"*.example.com /api/**\" (line 7) with a different requirement; where both match on *.example.com, \"*.example.com /api/**\" decides (scopes api instead of scopes me)",
                "p.yaml:11:5: warning: rule \"/api/v1/**\" overlaps rule \"admin.example.com /**\" (line 2) with a different requirement; where both match on admin.example.com, \"admin.example.com /**\" decides (scopes admin instead of scopes me)",
            ], "\(warnings)")
        // The matcher agrees: on a host below example.com, the host rule refuses POST /api/v1/x.
        let host = try CanonicalHost(Array("app.example.com".utf8), scheme: "https")
        guard case .methodNotAllowed = policy.match(method: "POST", path: try CanonicalPath(target: "/api/v1/x"), host: host) else {
            Issue.record("POST /api/v1/x on app.example.com fell back to the rule for every host")
            return
        }
        guard
            case .rule(let rule, _) = policy.match(
                method: "GET", path: try CanonicalPath(target: "/public/a"), host: try CanonicalHost(Array("admin.example.com".utf8)))
        else {
            Issue.record("no rule")
            return
        }
        #expect(rule.scopes == ["admin"])
    }
}
