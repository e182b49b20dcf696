import Foundation
import Testing
import ScopeGateCore
import ScopeGateTesting

@Suite struct OperatingTests {
    let users = try! temporaryFile(
        "users.yaml", "users:\n  bob:\n    password_hash: \"$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO\"\n    scopes: [me]\n")
    let secret = try! temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n")

    func login(_ port: UInt16) throws -> String {
        let login = try sendRequest(
            port: port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("username", "bob"), ("password", "secret"), ("scope", "me")]))
        let object = try JSONSerialization.jsonObject(with: Data(login.body)) as? [String: Any]
        return try #require(object?["access_token"] as? String)
    }

    func auth(_ port: UInt16, _ uri: String, token: String) throws -> Int {
        try sendRequest(
            port: port, target: "/auth",
            headers: [
                ("X-Original-URI", uri), ("X-Original-Method", "GET"),
                ("Authorization", "Bearer \(token)"),
            ]
        ).status
    }

    /// `serve --keys`: tokens signed by the keys file's ES256 key, verified by PyJWT through the live JWKS;
    /// the HS256 key of the same file still verifies kid-less tokens, and `--keys` excludes `--secret-file`.
    @Test func servesWithAKeysFile() throws {
        let es = try ECDSAKey.generate(id: "es-1")
        let pem = try temporaryFile("es.pem", String(decoding: try es.privateKeyPEM(), as: UTF8.self))
        let folder = URL(fileURLWithPath: pem).deletingLastPathComponent()
        try "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n".write(
            to: folder.appendingPathComponent("secret"), atomically: true, encoding: .utf8)
        let keys = folder.appendingPathComponent("keys.yaml").path
        try """
        signing_algorithm: ES256
        keys:
          - algorithm: ES256
            id: es-1
            private_key_file: es.pem
          - algorithm: HS256
            id: hs-1
            secret_file: secret
        """.write(toFile: keys, atomically: true, encoding: .utf8)
        let policy = try temporaryFile("policy.yaml", "rules:\n  - path: /a\n    scopes: [me]\n")
        let server = try ServingProcess(["--policy", policy, "--users", users, "--keys", keys, "--no-watch"])
        let token = try login(server.port)
        #expect(try auth(server.port, "/a", token: token) == 200)
        let verified = try runPython(
            """
            import jwt, sys
            client = jwt.PyJWKClient(sys.argv[1])
            key = client.get_signing_key_from_jwt(sys.argv[2])
            header = jwt.get_unverified_header(sys.argv[2])
            print(header["alg"], header["kid"], jwt.decode(sys.argv[2], key.key, algorithms=["ES256"])["sub"])
            """, arguments: ["http://127.0.0.1:\(server.port)/.well-known/jwks.json", token])
        #expect(verified == "ES256 es-1 bob")
        let seedStyle = try TokenSigner(key: HMACKey(secretFileContents: Array("c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1".utf8)))
            .sign(AccessTokenClaims(subject: "bob", scopes: ["me"], issuedAt: Date(), expiresAt: Date() + 600, tokenID: "k"))
        #expect(try auth(server.port, "/a", token: seedStyle) == 200)
        #expect(server.stop() == 0)
        let both = try run(["serve", "--policy", policy, "--users", users, "--keys", keys, "--secret-file", secret, "--port", "0"])
        #expect(both.status == 64)
        #expect(both.errors.contains("--secret-file and --keys are exclusive"))
    }

    @Test func reloadsOnSIGHUPAndKeepsTheOldPolicyWhenTheNewOneIsBad() throws {
        let policy = try temporaryFile("policy.yaml", "rules:\n  - path: /a\n    scopes: [me]\n")
        let server = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", secret, "--no-watch", "--log-format", "json"])
        let token = try login(server.port)
        #expect(try auth(server.port, "/a", token: token) == 200)
        #expect(try auth(server.port, "/b", token: token) == 403)

        try "rules:\n  - path: /b\n    scopes: [me]\n".write(toFile: policy, atomically: true, encoding: .utf8)
        // --no-watch: the change waits for SIGHUP.
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try auth(server.port, "/b", token: token) == 403)
        kill(server.process.processIdentifier, SIGHUP)
        #expect(waitUntil(timeout: 5) { (try? auth(server.port, "/b", token: token)) == 200 })
        #expect(try auth(server.port, "/a", token: token) == 403)

        try "rules:\n  - path: /c\n    scopes: [nope nope]\n".write(toFile: policy, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        #expect(
            waitUntil(timeout: 5) {
                let metrics = (try? sendRequest(port: server.port, target: "/metrics").text) ?? ""
                return metrics.contains(#"scopegate_config_reloads_total{result="failure"} 1"#)
            })
        #expect(try auth(server.port, "/b", token: token) == 200)
        #expect(server.process.isRunning)
        #expect(server.stop() == 0)
        // Every log line is one JSON object; none carries the token.
        let lines = server.log.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count > 5)
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "\(line)")
        }
        #expect(server.log.contains(#""message":"configuration reloaded""#))
        #expect(server.log.contains(#""message":"configuration refused; the previous one stays in force""#))
        #expect(server.log.contains(#""auth.decision":"allow""#))
        #expect(!server.log.contains(token))
    }

    @Test func reloadsWhenAWatchedFileChanges() throws {
        let policy = try temporaryFile("policy.yaml", "rules:\n  - path: /a\n    scopes: [me]\n")
        let server = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", secret])
        let token = try login(server.port)
        #expect(try auth(server.port, "/a", token: token) == 200)
        try "rules:\n  - path: /a\n    scopes: [other]\n".write(toFile: policy, atomically: true, encoding: .utf8)
        #expect(waitUntil(timeout: 5) { (try? auth(server.port, "/a", token: token)) == 401 })
        #expect(server.stop() == 0)
        #expect(server.log.contains("file changed"))
    }

    @Test func servesOperatorEndpointsOnTheMetricsAddress() throws {
        let server = try ServingProcess(["--demo", "--metrics-address", "127.0.0.1:0"])
        let found = server.waitForLog(#"operator endpoints on http://127\.0\.0\.1:(\d+)"#)
        let line = try #require(found)
        let operatorPort = try #require(UInt16(line.split(separator: ":").last!))
        #expect(try sendRequest(port: operatorPort, target: "/metrics").text.contains("scopegate_tokens_issued_total 0"))
        #expect(try sendRequest(port: operatorPort, target: "/readyz").status == 200)
        #expect(try sendRequest(port: server.port, target: "/metrics").status == 404)
        #expect(try sendRequest(port: server.port, target: "/readyz").status == 200)
        #expect(server.stop() == 0)
        let refused = try run(["serve", "--demo", "--metrics-address", "9090"])
        #expect(refused.status == 64)
        #expect(refused.errors.contains("--metrics-address must be HOST:PORT"))
    }

    @Test func sizesTheLargestRequestHead() throws {
        let cookie = [("Cookie", "a=" + String(repeating: "x", count: 20_000))]
        let small = try ServingProcess(["--demo"])
        #expect(try sendRequest(port: small.port, target: "/healthz", headers: cookie).status == 431)
        #expect(small.stop() == 0)
        let large = try ServingProcess(["--demo", "--max-request-head", "32"])
        #expect(try sendRequest(port: large.port, target: "/healthz", headers: cookie).status == 200)
        #expect(large.stop() == 0)
        let refused = try run(["serve", "--demo", "--max-request-head", "2"])
        #expect(refused.status == 64)
        #expect(refused.errors.contains("--max-request-head must be 4 to 1024 (KiB)"))
    }

    @Test func refusesNonsensicalLoginRegulation() throws {
        for (arguments, message) in [
            (["--regulate-after-pair", "0"], "--regulate-after-pair must be at least 1"),
            (["--regulate-after-address=-3"], "--regulate-after-address must be at least 1"),
            (["--regulate-after-user", "0"], "--regulate-after-user must be at least 1"),
            (["--regulation-first-ban", "0"], "--regulation-first-ban must be at least 1"),
            (["--regulation-window", "0"], "--regulation-window must be at least 1"),
            (["--regulation-first-ban", "100"], "--regulation-first-ban (100 s) must not be longer than --regulation-max-user-ban (60 s)"),
            (
                ["--regulation-first-ban", "30", "--regulation-max-ban", "20"],
                "--regulation-first-ban (30 s) must not be longer than --regulation-max-ban (20 s)"
            ),
            (
                ["--regulation-first-ban", "30", "--regulation-window", "10"],
                "--regulation-window (10 s) must not be shorter than --regulation-first-ban (30 s)"
            ),
        ] {
            let refused = try run(["serve", "--demo"] + arguments)
            #expect(refused.status == 64, "\(arguments)")
            #expect(refused.errors.contains(message), "\(refused.errors)")
        }
        // The same from the environment, and a sensible setting in force: one free failure, a 7 s first ban.
        let refused = try run(["serve", "--demo"], environment: ["SCOPEGATE_REGULATE_AFTER_USER": "0"])
        #expect(refused.errors.contains("--regulate-after-user must be at least 1"))
        let serving = try ServingProcess(["--demo", "--regulate-after-pair", "1", "--regulation-first-ban", "7"])
        let port = serving.port
        let login = { (password: String) in
            try sendRequest(
                port: port, method: "POST", target: "/token",
                headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: formBody([("username", "johndoe"), ("password", password)]))
        }
        #expect(try login("wrong").status == 400)
        let throttled = try login("secret")
        #expect(throttled.status == 429)
        #expect(throttled.header("Retry-After") == "7")
        #expect(serving.stop() == 0)
    }

    @Test func refusesLoginLimitsOutOfRange() throws {
        for (arguments, message) in [
            (["--login-queue", "0"], "--login-queue must be at least 1"),
            (["--login-max-wait", "0"], "--login-max-wait must be 1 to 600000 (milliseconds)"),
            (["--login-max-wait", "700000"], "--login-max-wait must be 1 to 600000 (milliseconds)"),
        ] {
            let refused = try run(["serve", "--demo"] + arguments)
            #expect(refused.status == 64)
            #expect(refused.errors.contains(message), "\(refused.errors)")
        }
        let refusedNice = try run(["serve", "--demo", "--login-nice", "20"])
        #expect(refusedNice.status == 64)
        #expect(refusedNice.errors.contains("--login-nice must be 0 to 19"))
        let accepted = try ServingProcess(["--demo", "--login-queue", "1", "--login-max-wait", "250", "--login-nice", "3"])
        #expect(try sendRequest(port: accepted.port, target: "/healthz").status == 200)
        // The password-check threads run at the niceness asked for; the polling threads keep the process's.
        let threads = threadNiceness(pid: "\(accepted.process.processIdentifier)")
        #expect(threads.filter { $0.name.hasPrefix("sg-worker-") }.allSatisfy { $0.nice == 3 })
        #expect(threads.contains { $0.name.hasPrefix("sg-worker-") })
        #expect(threads.filter { $0.name == "MHD-worker" }.allSatisfy { $0.nice == 0 })
        #expect(accepted.stop() == 0)
    }

    @Test func accessLinesArriveWhileServingAndNoneIsLostOnStop() throws {
        let server = try ServingProcess(["--demo"])
        // JSON lines (standard error is a pipe), each within a second of its request while the process runs.
        let start = Date()
        #expect(try sendRequest(port: server.port, target: "/healthz").status == 200)
        #expect(server.waitForLog(#""http.path":"/healthz""#) != nil)
        #expect(Date().timeIntervalSince(start) < 1)
        // A burst, then SIGTERM at once: every line is written before the process ends.
        let connection = try TestHTTPConnection(port: server.port)
        for index in 0..<200 {
            try connection.send("GET /burst/\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try connection.readResponse()
        }
        #expect(server.stop() == 0)
        let burst = server.log.split(separator: "\n").filter { $0.contains(#""message":"request""#) && $0.contains("/burst/") }
        #expect(burst.count == 200)
        #expect(burst.last?.contains(#""http.path":"/burst/199""#) == true)
        #expect(server.log.contains(#""message":"stopping""#))
    }

    @Test func takesOptionsFromTheEnvironment() throws {
        let server = try ServingProcess(
            ["--log-format", "text"],
            environment: [
                "SCOPEGATE_DEMO": "true", "SCOPEGATE_METRICS_ADDRESS": "127.0.0.1:0", "SCOPEGATE_ACCESS_LOG": "false",
                "SCOPEGATE_LOG_FORMAT": "json", "SCOPEGATE_PORT": "1",
            ])
        // SCOPEGATE_PORT=1 lost to the command line's --port 0, and --log-format text to SCOPEGATE_LOG_FORMAT.
        #expect(server.waitForLog("operator endpoints on") != nil)
        #expect(try sendRequest(port: server.port, target: "/metrics").status == 404)
        #expect(server.stop() == 0)
        #expect(!server.log.contains(#""message":"#))
        #expect(!server.log.contains("request"))
        let refused = try run(["serve", "--demo"], environment: ["SCOPEGATE_CHALLENGE": "loud"])
        #expect(refused.status == 64)
        #expect(refused.errors.contains("loud"))
    }

    /// With host rules, explain takes --host (or an absolute-form target's authority) and shows the
    /// canonical host and the host's rule.
    @Test func explainsAHostAwareDecision() throws {
        let policy = try temporaryFile(
            "policy.yaml", "rules:\n  - hosts: [admin.example.com]\n    path: /**\n    scopes: [admin]\n  - path: /public/**\n    public: true\n")
        let byOption = try run(["explain", "--policy", policy, "GET", "/x", "--host", "Admin.Example.com."])
        #expect(byOption.status == 1)
        #expect(byOption.output.contains("host:      admin.example.com\nrule:      admin.example.com /** (\(policy):2)"), "\(byOption.output)")
        let absolute = try run(["explain", "--policy", policy, "GET", "https://admin.example.com:443/public/a"])
        #expect(absolute.output.contains("host:      admin.example.com\n") && absolute.output.contains("rule:      admin.example.com /**"))
        let elsewhere = try run(["explain", "--policy", policy, "GET", "/public/a", "--host", "www.example.com"])
        #expect(elsewhere.status == 0 && elsewhere.output.contains("rule:      /public/**"))
        let none = try run(["explain", "--policy", policy, "GET", "/public/a"])
        #expect(none.status == 1 && none.output.contains("host:      none given"))
        let several = try run(["explain", "--policy", policy, "GET", "/public/a", "--host", "a, b"])
        #expect(several.output.contains("ambiguous original host: the host holds several values"))
    }

    @Test func explainsADecision() throws {
        let policy = try temporaryFile("policy.yaml", "rules:\n  - path: /users/{name}/**\n    methods: [GET]\n    scopes: [me]\n")
        let token = try TokenSigner(key: HMACKey(secretFileContents: Array("c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1".utf8)))
            .sign(AccessTokenClaims(subject: "bob", scopes: ["me"], issuedAt: Date(), expiresAt: Date() + 600, tokenID: "t"))
        let allowed = try run(["explain", "--policy", policy, "--users", users, "--secret-file", secret, "GET", "/users/bob/../bob/x?y=1", "--token", token])
        #expect(allowed.status == 0)
        #expect(
            allowed.output == """
                request:   GET /users/bob/../bob/x?y=1
                canonical: /users/bob/x
                rule:      /users/{name}/** methods GET,HEAD (\(policy):2)
                params:    name=bob
                required:  a valid token with scopes me
                token:     valid for bob, scopes me
                granted:   me
                decision:  allow, 200
                  X-Auth-User: bob
                  X-Auth-Client: (empty)
                  X-Auth-Scopes: me
                  X-Auth-Email: (empty)
                  X-Auth-Name: (empty)
                  Cache-Control: no-store

                """)
        let refused = try run(["explain", "--policy", policy, "--users", users, "--secret-file", secret, "GET", "/users/bob/x"])
        #expect(refused.status == 1)
        #expect(refused.output.contains("token:     none given"))
        #expect(refused.output.contains("decision:  refuse, 401\n  WWW-Authenticate: Bearer scope=\"me\""))
        let ambiguous = try run(["explain", "--policy", policy, "GET", "/users/a%2Fb/x"])
        #expect(ambiguous.output.contains("canonical: refused:"))
        #expect(ambiguous.output.contains("decision:  refuse, 403"))
        let forged = try run(["explain", "--policy", policy, "--users", users, "GET", "/users/bob/x", "--token", token])
        #expect(forged.output.contains("token:     refused: "))
    }

    @Test func everySubcommandHasHelp() throws {
        let top = try run(["--help"])
        #expect(top.status == 0)
        for command in ["serve", "hash-password", "check-policy", "explain"] {
            #expect(top.output.contains(command), "\(command)")
            let help = try run([command, "--help"])
            #expect(help.status == 0, "\(command)")
            #expect(help.output.contains("USAGE: scopegate \(command)"), "\(command)")
        }
        let explain = try run(["explain", "--help"])
        for option in ["--policy", "--users", "--secret-file", "--token", "<method>", "<target>"] {
            #expect(explain.output.contains(option), "\(option)")
        }
    }

    /// The configuration reference (docs/configuration.md) names every option `serve --help` lists, with its default.
    @Test func readmeListsEveryServeOption() throws {
        let help = try run(["serve", "--help"]).output
        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let options = Set(help.matches(of: /--[a-z][a-z0-9-]+/).map { String($0.output) }).subtracting(["--help"])
        #expect(options.count > 20)
        for option in options.sorted() {
            #expect(readme.contains("`\(option)"), "docs/configuration.md does not document \(option)")
            guard !option.hasPrefix("--no-") else { continue }
            let variable = "SCOPEGATE_" + option.dropFirst(2).uppercased().replacingOccurrences(of: "-", with: "_")
            #expect(readme.contains("`\(variable)`"), "docs/configuration.md does not document \(variable)")
        }
    }
}
