import Foundation
import Logging
import ScopeGateCore
import ScopeGateTesting
import Testing

@testable import ScopeGateApp

/// Report-only rules on live traffic: the enforced answer is the policy's without them; each request a report
/// rule would decide is counted by rule and result, and logged (who, where, never the token) when the
/// report rule would answer differently.
@Suite struct ReportRulesTests {
    static let policy = """
        rules:
          - path: /users/me/**
            scopes: [me]
          - path: /users/me/**
            scopes: [me, admin]
            mode: report
          - path: /reports/**
            scopes: [me]
            mode: report
          - hosts: [admin.example.com]
            path: /**
            scopes: [admin]
            mode: report
          - path: /public/**
            public: true
        """

    let logs = CapturedLogs()
    let daemon: TestDaemon
    let reader: String
    let admin: String

    init() throws {
        daemon = try TestDaemon(policyYAML: Self.policy, logger: logs.logger(level: .info))
        reader = try daemon.token(subject: "carol", scopes: ["me"])
        admin = try daemon.token(subject: "bob", scopes: ["me", "admin"])
    }

    func reportCount(_ rule: String, _ result: String) throws -> Int? {
        let text = try daemon.get("/metrics").text
        let line = text.split(separator: "\n").first {
            $0.hasPrefix("scopegate_report_decisions_total{") && $0.contains(#"rule="\#(rule)""#) && $0.contains(#"result="\#(result)""#)
        }
        return line.flatMap { Int($0.split(separator: " ").last!) }
    }

    var differences: [String] { logs.lines.filter { $0.contains("report rule would answer differently") } }

    @Test func aStricterRuleOnTrialChangesNoAnswer() throws {
        #expect(try daemon.auth("/users/me/a", token: reader).status == 200)
        #expect(try daemon.auth("/users/me/a", token: reader).status == 200)
        #expect(try daemon.auth("/users/me/a", token: admin).status == 200)
        #expect(try daemon.auth("/users/me/a").status == 401)
        #expect(try reportCount("/users/me/**", "would_refuse") == 3)
        #expect(try reportCount("/users/me/**", "would_allow") == 1)
        // Logged only where the answer would differ: carol's two requests (insufficient scope instead of allow).
        let lines = differences
        #expect(lines.count == 2, "\(lines)")
        for line in lines {
            #expect(line.hasPrefix("notice "))
            #expect(line.contains("report.rule=/users/me/**") && line.contains("report.outcome=insufficient_scope"))
            #expect(line.contains("auth.outcome=allow") && line.contains("auth.subject=carol") && line.contains("url.path=/users/me/a"))
            #expect(!line.contains(reader))
        }
        // The enforced rule's metrics are unchanged by the trial.
        #expect(try daemon.get("/metrics").text.contains(#"scopegate_decisions_total{outcome="allow",rule="/users/me/**"} 3"#))
    }

    @Test func aNewRuleOnTrialIsCountedWhereTheDefaultDecides() throws {
        // No enforced rule: the default refuses; the report rule would allow the reader.
        #expect(try daemon.auth("/reports/q3", token: reader).status == 403)
        #expect(try reportCount("/reports/**", "would_allow") == 1)
        #expect(differences.count == 1 && differences[0].contains("report.outcome=allow") && differences[0].contains("auth.outcome=forbidden"))
    }

    @Test func aHostRuleOnTrialNeedsNoHostToEnforce() throws {
        // Only a report rule names hosts: requests without one, or with an unusable one, are decided as before.
        #expect(try daemon.auth("/public/a").status == 200)
        #expect(try daemon.auth("/public/a", headers: [("X-Forwarded-Host", "a, b")]).status == 200)
        #expect(try reportCount("admin.example.com /**", "would_refuse") == nil)
        #expect(try daemon.auth("/public/a", headers: [("X-Forwarded-Host", "Admin.Example.com"), ("X-Forwarded-Proto", "https")]).status == 200)
        #expect(try reportCount("admin.example.com /**", "would_refuse") == 1)
        #expect(differences.count == 1 && differences[0].contains("url.host=admin.example.com") && differences[0].contains("report.outcome=unauthenticated"))
    }

    @Test func explainShowsTheTrial() throws {
        let explained = daemon.service.explain(method: "GET", target: "/users/me/a", token: reader, policyName: "policy.yaml")
        #expect(explained.status == 200)
        #expect(explained.lines.last == "report:    /users/me/** would refuse, 401 (carol lacks me admin); not enforced", "\(explained.lines)")
    }
}
