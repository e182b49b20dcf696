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
        #expect(warnings == [
            "p.yaml:2:5: warning: rule \"/admin/**\" overlaps rule \"/admin/health\" (line 4) with a different requirement; where both match, \"/admin/health\" decides (public instead of scopes admin)",
            "p.yaml:9:5: warning: rule \"/reports/today\": scope \"writer\" is granted to no user, so this rule allows no one",
        ])
        #expect(PolicyLinter.warnings(for: try Policy.load(yaml: "rules:\n  - path: /a\n    scopes: []\n", file: "q.yaml"), users: nil, file: "q.yaml").isEmpty)
    }
}
