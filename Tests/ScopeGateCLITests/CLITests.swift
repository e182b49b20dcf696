import Foundation
import Testing
import ScopeGateCore
import ScopeGateTesting
@testable import scopegate

@Suite struct CLITests {
    let users = try! temporaryFile(
        "users.yaml", "users:\n  bob:\n    password_hash: \"$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO\"\n    scopes: [me]\n")
    let policy = try! temporaryFile("policy.yaml", "rules:\n  - path: /users/me/\n    scopes: [me]\n")
    let secret = try! temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n")

    @Test func helpDescribesServe() throws {
        let help = try run(["serve", "--help"])
        #expect(help.status == 0)
        for option in ["--host", "--port", "--policy", "--users", "--secret-file", "--demo", "--trusted-proxies", "--challenge", "--token-lifetime"] {
            #expect(help.output.contains(option), "\(option)")
        }
    }

    @Test func requiresFilesOutsideDemoMode() throws {
        let result = try run(["serve"])
        #expect(result.status == 64)
        #expect(
            result.errors.contains("Error: missing --policy, --users, --secret-file or --keys (or use --demo to try ScopeGate with its demo configuration)"))
    }

    @Test func refusesAnIssuerThatIsNotABaseURL() throws {
        let result = try run(["serve", "--demo", "--issuer", "scopegate", "--port", "0"])
        #expect(result.status == 64)
        #expect(result.errors.contains("--issuer must be an absolute https:// URL"))
    }

    @Test func refusesWeakAndPublishedSecrets() throws {
        let short = try temporaryFile("secret", "tooshort\n")
        let weak = try run(["serve", "--policy", policy, "--users", users, "--secret-file", short, "--port", "0"])
        #expect(weak.status == 1)
        #expect(
            weak.errors.contains("the HS256 secret is 8 bytes long; at least 32 are required (RFC 7518 §3.2). Create one with: openssl rand -hex 32 > secret"))
        let published = try temporaryFile("secret", "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7\n")
        let refused = try run(["serve", "--policy", policy, "--users", users, "--secret-file", published, "--port", "0"])
        #expect(refused.status == 1)
        #expect(refused.errors.contains("holds the secret published in FastAPI's tutorial"))
        let missing = try run(["serve", "--policy", policy, "--users", users, "--secret-file", "/nonexistent/secret", "--port", "0"])
        #expect(missing.errors.contains("cannot read the secret file /nonexistent/secret; create one with: openssl rand -hex 32 > /nonexistent/secret"))
    }

    @Test func warnsAboutAWorldReadableSecretFile() throws {
        let readable = try temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n", permissions: 0o644)
        let server = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", readable])
        #expect(server.stop() == 0)
        let log = server.log
        #expect(log.contains("the secret file is readable by every user; restrict it with: chmod 600 \(readable)"))
        #expect(!log.contains("c2b1f0e9d8c7"))
    }

    @Test func reportsPolicyErrorsCompilerStyle() throws {
        let bad = try temporaryFile("bad.yaml", "rules:\n  - path: /admin/**\n    methods: [GETT]\n    scopes: [admin]\n")
        let result = try run(["serve", "--policy", bad, "--users", users, "--secret-file", secret, "--port", "0"])
        #expect(result.status == 1)
        #expect(result.errors.contains("\(bad):3:15: error: rule \"/admin/**\": unknown method \"GETT\""))
    }

    @Test func servesAndStopsOnSIGTERM() throws {
        let server = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", secret])
        let bound = server.port
        #expect(try sendRequest(port: bound, target: "/healthz").status == 200)
        let login = try sendRequest(
            port: bound, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("username", "bob"), ("password", "secret"), ("scope", "me")]))
        #expect(login.status == 200)
        #expect(server.stop() == 0)
        #expect(server.log.contains("stopping"))
        #expect(!server.log.contains("secret\""))
    }

    @Test func checkPolicyReportsWarningsAndExitStatus() throws {
        let clean = try run(["check-policy", policy, "--users", users])
        #expect(clean.status == 0)
        #expect(clean.output.contains("1 rules, no problems"))
        let overlapping = try temporaryFile("p.yaml", "rules:\n  - path: /admin/**\n    scopes: [admin]\n  - path: /admin/health\n    public: true\n")
        let warned = try run(["check-policy", overlapping, "--users", users])
        #expect(warned.status == 1)
        #expect(warned.output.contains("\(overlapping):2:5: warning: rule \"/admin/**\" overlaps rule \"/admin/health\" (line 4)"))
        #expect(warned.output.contains("\(overlapping):2:5: warning: rule \"/admin/**\": scope \"admin\" is granted to no user"))
        let broken = try temporaryFile("b.yaml", "rules:\n  - path: nope\n    scopes: []\n")
        let failed = try run(["check-policy", broken])
        #expect(failed.status == 1)
        #expect(failed.output.contains("\(broken):2:11: error: rule \"nope\": a path pattern must start with \"/\""))
    }

    /// With host rules, check-policy shows the host levels in the order requests try them, each pattern in
    /// its canonical form, and the conflicts of equally specific rules as errors naming both lines.
    @Test func checkPolicyShowsTheHostPrecedence() throws {
        let hosts = try temporaryFile(
            "hosts.yaml",
            """
            rules:
              - hosts: [Admin.Example.COM.]
                path: /**
                scopes: []
              - hosts: ["*.tenant.example.com", "*.eu.tenant.example.com"]
                path: /api/**
                scopes: []
              - path: /**
                scopes: []
              - hosts: [app.example.com:8443]
                path: /x/**
                scopes: [x]
                mode: report

            """)
        let shown = try run(["check-policy", hosts])
        #expect(shown.status == 0, "\(shown.output)")
        #expect(
            shown.output == """
                hosts, in the order a request's host tries them (a level that matches the path decides):
                  admin.example.com        1 rule (line 2)
                  app.example.com:8443     1 rule (line 10 report)
                  *.eu.tenant.example.com  1 rule (line 5)
                  *.tenant.example.com     1 rule (line 5)
                  every host               1 rule (line 8)
                \(hosts): 4 rules (1 report-only), no problems

                """)
        let conflicting = try temporaryFile(
            "conflict.yaml", "rules:\n  - hosts: [a.example.com]\n    path: /x\n    scopes: []\n  - hosts: [A.example.com.]\n    path: /x\n    scopes: [y]\n")
        let refused = try run(["check-policy", conflicting])
        #expect(refused.status == 1)
        #expect(
            refused.output.contains(
                #"\#(conflicting):5:5: error: rule "a.example.com /x" (line 5) is as specific as rule "a.example.com /x" (line 2) and both match every method"#),
            "\(refused.output)")
    }

    @Test func hashesPasswordsFromStandardInput() throws {
        let result = try run(["hash-password", "--cost", "4"], input: "correct horse\n")
        #expect(result.status == 0)
        let hash = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(hash.hasPrefix("$2b$04$"))
        #expect(try PasswordHasher(cost: 4).verify("correct horse", against: hash))
        let long = try run(["hash-password", "--cost", "4"], input: String(repeating: "a", count: 73) + "\n")
        #expect(long.status == 1)
        #expect(long.errors.contains("the password is 73 bytes long; bcrypt reads only the first 72, so it is refused"))
    }
}
