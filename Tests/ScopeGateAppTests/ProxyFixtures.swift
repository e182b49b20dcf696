import Foundation
import Testing
import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore
import ScopeGateTesting

/// A reverse proxy from Debian's packages, run in a scratch folder until the test ends.
final class ProxyProcess {
    let port: UInt16
    let directory: URL
    private let process = Process()

    /// Starts `binary` (the first of `candidates` that exists) with the arguments and environment (nil: the
    /// test's own) `configure` returns for the scratch folder and a free port, and waits until the port accepts
    /// connections. `log` reads what the proxy wrote, for the error when it does not start.
    init(
        name: String, candidates: [String], package: String,
        configure: (_ directory: URL, _ port: UInt16) throws -> (arguments: [String], environment: [String: String]?),
        log: @escaping (URL) -> String = { _ in "" }
    ) throws {
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestHTTPError(description: "\(name) is not installed (apt-get install \(package)); its end-to-end test needs it")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freePort()
        process.executableURL = URL(fileURLWithPath: binary)
        let launch = try configure(directory, port)
        process.arguments = launch.arguments
        if let environment = launch.environment { process.environment = environment }
        // Standard error into a pipe (read only if the proxy does not start); no file handle of the test's
        // own that Foundation could close twice.
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while (try? TestHTTPConnection(port: port)) == nil {
            guard process.isRunning, Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                let written = String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
                throw TestHTTPError(description: "\(name) did not start: \(written) \(log(directory))")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    deinit {
        // SIGKILL: a child started from a test thread may inherit a mask that blocks SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// The protected application behind a proxy: answers `app METHOD PATH` and the identity headers it received,
/// with the Host it was told in `App-Host`.
func makeEchoApp() throws -> HTTPServer {
    var configuration = HTTPServerConfiguration()
    configuration.port = 0
    configuration.threads = 1
    // Room for the large cookies a browser may send the application.
    configuration.connectionMemoryLimit = 64 * 1024
    return try HTTPServer(configuration: configuration) { request in
        let names = ["X-Auth-User", "X-Auth-Scopes", "X-Auth-Email", "X-Auth-Name"]
        var seen = names.map { name in
            "\(name)=\(request.headers.rawValues(name).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) })"
        }
        // The client id and the identity token, only when they arrive with a value (nginx drops an empty
        // header; Caddy passes it empty).
        for name in ["X-Auth-Client", "X-Auth-Token"] {
            let values = request.headers.rawValues(name).map { String(decoding: $0, as: UTF8.self) }.filter { !$0.isEmpty }
            if !values.isEmpty { seen.append("\(name)=\(values)") }
        }
        // The Host the proxy told the application, as the answer's App-Host header.
        let host = request.headers.rawValues("Host").first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return .respond(
            HTTPResponse(
                status: 200, headers: [(name: "App-Host", value: host)],
                body: Array("app \(request.method) \(request.pathText) \(seen.joined(separator: " "))".utf8)))
    }
}

/// The checks every proxy recipe must pass: the demo policy enforced through the proxy, identity headers that
/// only ScopeGate sets, and path tricks that never reach a cheaper rule.
struct ProxiedDemo {
    let proxy: UInt16
    let scopegate: TestDaemon

    func through(_ target: String, method: String = "GET", headers: [(String, String)] = [], body: [UInt8] = []) throws -> TestHTTPResponse {
        try sendRequest(port: proxy, method: method, target: target, headers: headers, body: body)
    }

    /// `bodiesPassed`: whether the proxy hands ScopeGate's refusal bodies to the client (nginx's auth_request
    /// sends its own error page instead).
    func expectProtection(bodiesPassed: Bool) throws {
        let login = try through(
            "/token", method: "POST", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("username", "johndoe"), ("password", "secret"), ("scope", "me items")]))
        #expect(login.status == 200)
        let token = try #require(try JSONSerialization.jsonObject(with: Data(login.body)) as? [String: Any])["access_token"] as? String
        let bearer = ("Authorization", "Bearer \(try #require(token))")

        let allowed = try through("/users/me/items/?page=1", headers: [bearer])
        #expect(allowed.status == 200)
        #expect(
            allowed.text
                == #"app GET /users/me/items/ X-Auth-User=["johndoe"] X-Auth-Scopes=["me items"] X-Auth-Email=["johndoe@example.com"] X-Auth-Name=["John Doe"]"#
        )

        let challenged = try through("/users/me/")
        #expect(challenged.status == 401)
        #expect(challenged.header("WWW-Authenticate") == "Bearer scope=\"me\"")
        if bodiesPassed { #expect(challenged.text == #"{"detail":"Not authenticated"}"#) }

        let insufficient = try through("/users/me/items/", headers: [("Authorization", "Bearer \(try scopegate.token(scopes: ["me"]))")])
        #expect(insufficient.status == 401)
        #expect(insufficient.header("WWW-Authenticate") == "Bearer scope=\"me items\"")

        #expect(try through("/elsewhere", headers: [bearer]).status == 403)
        #expect(try through("/users/me/", headers: [("Authorization", "Bearer \(try scopegate.token(subject: "alice", scopes: ["me"]))")]).status == 403)
        // The original method reaches ScopeGate: /admin/** allows GET only.
        let admin = ("Authorization", "Bearer \(try scopegate.token(subject: "bob", scopes: ["admin"]))")
        #expect(try through("/admin/x", headers: [admin]).status == 200)
        #expect(try through("/admin/x", method: "DELETE", headers: [admin]).status == 403)
    }

    func expectIdentityFromScopeGateOnly() throws {
        let token = try scopegate.token(scopes: ["me"])
        let spoofed = try through("/users/me/", headers: [("Authorization", "Bearer \(token)"), ("X-Auth-User", "root"), ("X-Auth-Scopes", "admin")])
        #expect(spoofed.status == 200)
        #expect(spoofed.text.contains(#"X-Auth-User=["johndoe"]"#))
        #expect(spoofed.text.contains(#"X-Auth-Scopes=["me"]"#))
        #expect(!spoofed.text.contains("root"))
        let publicPage = try through("/public/page", headers: [("X-Auth-User", "root")])
        #expect(publicPage.status == 200)
        #expect(publicPage.text.hasPrefix("app GET /public/page X-Auth-User=["))
        #expect(!publicPage.text.contains("root"))
        // A client's own descriptions of the original request cannot steer the decision: the proxy overwrites
        // them (401, no token) or passes them on beside its own, which then disagree (403).
        let steered = try through(
            "/users/me/",
            headers: [
                ("X-Forwarded-Uri", "/public/x"), ("X-Original-URI", "/public/x"),
                ("X-Forwarded-Method", "GET"),
            ])
        #expect([401, 403].contains(steered.status))
        let admin = ("Authorization", "Bearer \(try scopegate.token(subject: "bob", scopes: ["admin"]))")
        #expect(try through("/admin/x", method: "DELETE", headers: [("X-Forwarded-Method", "GET"), ("X-Original-Method", "GET"), admin]).status == 403)
    }

    /// A browser's cookies reach the application but not ScopeGate, whose request heads stay small: with
    /// them, this request's head would pass ScopeGate's 8 KiB limit and be refused (431).
    func expectCookiesKeptFromScopeGate() throws {
        let cookie = ("Cookie", "session=" + String(repeating: "c", count: 7_900))
        let bearer = ("Authorization", "Bearer \(try scopegate.token(scopes: ["me"]))")
        let response = try through("/users/me/", headers: [bearer, cookie])
        #expect(response.status == 200)
        #expect(response.text.contains(#"X-Auth-User=["johndoe"]"#))
        #expect(
            try sendRequest(
                port: scopegate.port, target: "/auth",
                headers: [
                    bearer, cookie, ("X-Original-URI", "/users/me/"),
                    ("X-Original-Method", "GET"),
                ]
            ).status == 431)
    }

    /// A ScopeGate whose policy asks `/users/me/` allows to carry an identity token (ES256, audience `app`).
    static func identityTokenDaemon() throws -> TestDaemon {
        let es = try ECDSAKey.generate(id: "upstream-es")
        return try TestDaemon(
            policyYAML: """
                rules:
                  - path: /users/me/
                    scopes: [me]
                    identity_token: {header: X-Auth-Token, audience: app, lifetime: 60}
                  - path: /status/
                    scopes: []
                """,
            configure: { configuration in
                configuration.issuer = "http://127.0.0.1"
                configuration.keyring = try! KeyRing(signingKey: configuration.keyring.signingKey, verificationKeys: [es])
            })
    }

    /// The upstream receives ScopeGate's identity token, verifiable through the JWKS, and never a client's.
    func expectIdentityTokenForwarded() throws {
        let bearer = ("Authorization", "Bearer \(try scopegate.token(scopes: ["me"]))")
        let forged = ("X-Auth-Token", "forged.by.client")
        let answer = try through("/users/me/", headers: [bearer, forged])
        #expect(answer.status == 200)
        #expect(!answer.text.contains("forged"))
        let token = try #require(answer.text.firstMatch(of: /X-Auth-Token=\["([^"]+)"\]/)).output.1
        let subject = try runPython(
            """
            import jwt, sys
            key = jwt.PyJWKClient(sys.argv[1]).get_signing_key_from_jwt(sys.argv[2])
            print(jwt.decode(sys.argv[2], key.key, algorithms=["ES256"], audience="app", issuer="http://127.0.0.1")["sub"])
            """, arguments: ["http://127.0.0.1:\(scopegate.port)/.well-known/jwks.json", String(token)])
        #expect(subject == "johndoe")
        // A route without an identity token: the client's copy is dropped all the same (the upstream gets
        // none, or ScopeGate's empty one).
        let plain = try through("/status/", headers: [bearer, forged])
        #expect(plain.status == 200 && !plain.text.contains("forged") && plain.text.firstMatch(of: /X-Auth-Token=\["[^"]/) == nil)
    }

    /// One request through the proxy with its own `Host` (the test's proxies serve every host).
    func through(host: String, _ target: String, token: String?, headers: [(String, String)] = []) throws -> Int {
        let connection = try TestHTTPConnection(port: proxy)
        var head = "GET \(target) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        try connection.send(head + "\r\n")
        return try connection.readResponse().status
    }

    /// A policy with host rules behind one proxy configuration for every host: each host gets its own
    /// rules, the host the proxy saw is the one that counts (a client's own X-Forwarded-Host does not),
    /// and spellings of one host are one host.
    func expectHostRules() throws {
        let admin = try scopegate.token(subject: "bob", scopes: ["me", "items", "admin"])
        let reader = try scopegate.token(subject: "carol", scopes: ["me"])
        #expect(try through(host: "admin.example.com", "/x", token: admin) == 200)
        #expect(try through(host: "admin.example.com", "/x", token: reader) == 401)
        #expect(try through(host: "ADMIN.Example.com", "/x", token: reader) == 401)
        #expect(try through(host: "www.example.com", "/public/a", token: nil) == 200)
        #expect(try through(host: "www.example.com", "/x", token: admin) == 403)
        #expect(try through(host: "www.example.com", "/public/a", token: nil, headers: [("X-Forwarded-Host", "admin.example.com")]) == 200)
        #expect(try through(host: "admin.example.com", "/public/a", token: nil, headers: [("X-Forwarded-Host", "www.example.com")]) == 401)
        #expect(try through(host: "acme.tenant.example.com", "/api/v1", token: reader) == 401)
        #expect(try through(host: "acme.tenant.example.com", "/api/v1", token: admin) == 200)
        #expect(try through(host: "tenant.example.com", "/api/v1", token: reader) == 200)
    }

    static let hostPolicy = """
        rules:
          - hosts: [admin.example.com]
            path: /**
            scopes: [admin]
          - hosts: ["*.tenant.example.com"]
            path: /api/**
            scopes: [items]
          - path: /public/**
            public: true
          - path: /api/**
            scopes: [me]
        """

    static let clientSecret = "proxied-worker-secret"

    /// The demo configuration with two clients: `billing-worker` (client_credentials) and `web-app` (the
    /// password grant, allowed to introspect), both allowed the demo's scopes.
    static func clientsDaemon() throws -> TestDaemon {
        let hash = ClientSecretHash(try ClientSecretHash.hash(clientSecret, rounds: 1_000))!
        return try TestDaemon(configure: { configuration in
            configuration.clients = ClientDirectory([
                ClientRecord(id: "billing-worker", secretHashes: [hash], grantTypes: [.clientCredentials], scopes: ["me", "items"]),
                ClientRecord(id: "web-app", secretHashes: [hash], grantTypes: [.password, .refreshToken], scopes: ["me", "items"], introspect: true),
            ])
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-proxied-\(UUID().uuidString)")
            try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            configuration.revocations = try! Revocations(store: SQLiteStore(path: folder.appendingPathComponent("scopegate.db").path))
        })
    }

    /// Authlib logs a user in through the proxy with a client that gets refresh tokens, refreshes twice
    /// (each answer rotating the refresh token), revokes the refresh token and finds the login over; then a
    /// second login whose spent refresh token is presented again: the login is revoked, and its newest
    /// access token is refused by the proxy.
    func expectRefreshThroughTheProxy() throws {
        let output = try runPython(
            """
            import sys
            from authlib.integrations.requests_client import OAuth2Session
            from authlib.integrations.base_client.errors import OAuthError
            base, secret = sys.argv[1], sys.argv[2]
            def session():
                return OAuth2Session("web-app", secret, token_endpoint_auth_method="client_secret_basic",
                                     revocation_endpoint_auth_method="client_secret_basic", scope="me items")
            def attempt(call):
                try:
                    call()
                    return "accepted"
                except OAuthError as error:
                    return error.error
            web = session()
            first = dict(web.fetch_token(base + "/token", username="johndoe", password="secret"))
            seen = [first["refresh_token"]]
            for _ in range(2):
                web.refresh_token(base + "/token")
                seen.append(web.token["refresh_token"])
                print(web.get(base + "/users/me/items/").status_code)
            print(len(set(seen)))
            print(web.introspect_token(base + "/introspect", token=web.token["refresh_token"]).json()["token_type"])
            print(web.revoke_token(base + "/revoke", token=web.token["refresh_token"], token_type_hint="refresh_token").status_code)
            print(attempt(lambda: web.refresh_token(base + "/token")))
            print(web.get(base + "/users/me/items/").status_code)
            print(web.introspect_token(base + "/introspect", token=web.token["refresh_token"]).json())
            second = session()
            spent = second.fetch_token(base + "/token", username="johndoe", password="secret")["refresh_token"]
            second.refresh_token(base + "/token")
            print(second.get(base + "/users/me/items/").status_code)
            print(attempt(lambda: session().refresh_token(base + "/token", refresh_token=spent)))
            print(second.get(base + "/users/me/items/").status_code)
            print(attempt(lambda: second.refresh_token(base + "/token")))
            """, arguments: ["http://127.0.0.1:\(proxy)", Self.clientSecret])
        #expect(
            output.split(separator: "\n").map(String.init)
                == ["200", "200", "3", "refresh_token", "200", "invalid_grant", "401", "{'active': False}", "200", "invalid_grant", "401", "invalid_grant"],
            "\(output)")
    }

    /// Authlib logs a user in through the proxy with its client, uses the token, introspects it, revokes it
    /// (RFC 7009) and finds it refused by the proxy and inactive.
    func expectRevocationThroughTheProxy() throws {
        let output = try runPython(
            """
            import sys
            from authlib.integrations.requests_client import OAuth2Session
            base, secret = sys.argv[1], sys.argv[2]
            session = OAuth2Session("web-app", secret, token_endpoint_auth_method="client_secret_basic",
                                    revocation_endpoint_auth_method="client_secret_basic", scope="me items")
            token = session.fetch_token(base + "/token", username="johndoe", password="secret")
            print(session.get(base + "/users/me/items/").status_code)
            print(session.introspect_token(base + "/introspect", token=token["access_token"]).json()["active"])
            print(session.revoke_token(base + "/revoke", token=token["access_token"]).status_code)
            print(session.get(base + "/users/me/items/").status_code)
            print(session.introspect_token(base + "/introspect", token=token["access_token"]).json())
            """, arguments: ["http://127.0.0.1:\(proxy)", Self.clientSecret])
        #expect(output.split(separator: "\n").map(String.init) == ["200", "True", "200", "401", "{'active': False}"], "\(output)")
    }

    /// Authlib, a real OAuth client library, fetches client_credentials tokens through the proxy with both
    /// authentication methods and uses them: the application sees the client, never a user.
    func expectClientCredentialsThroughTheProxy() throws {
        for method in ["client_secret_basic", "client_secret_post"] {
            let output = try runPython(
                """
                import sys
                from authlib.integrations.requests_client import OAuth2Session
                base, method, secret = sys.argv[1], sys.argv[2], sys.argv[3]
                session = OAuth2Session("billing-worker", secret, token_endpoint_auth_method=method, scope="me items")
                token = session.fetch_token(base + "/token", grant_type="client_credentials")
                print(token["scope"])
                answer = session.get(base + "/users/me/items/")
                print(answer.status_code)
                print(answer.text)
                wrong = OAuth2Session("billing-worker", "wrong", token_endpoint_auth_method=method)
                try:
                    wrong.fetch_token(base + "/token", grant_type="client_credentials")
                    print("accepted")
                except Exception as error:
                    print(type(error).__name__, getattr(error, "error", ""))
                """, arguments: ["http://127.0.0.1:\(proxy)", method, Self.clientSecret])
            let lines = output.split(separator: "\n").map(String.init)
            #expect(lines.count == 4, "\(output)")
            #expect(lines.first == "me items", "\(method): \(output)")
            #expect(lines.dropFirst().first == "200", "\(method): \(output)")
            let seen = lines.dropFirst(2).first ?? ""
            #expect(seen.hasPrefix("app GET /users/me/items/") && seen.contains(#"X-Auth-Client=["billing-worker"]"#), "\(method): \(seen)")
            #expect(seen.contains(#"X-Auth-Scopes=["me items"]"#) && !seen.contains(#"X-Auth-User=["billing-worker"]"#), "\(method): \(seen)")
            #expect(lines.last == "OAuthError invalid_client", "\(method): \(output)")
        }
    }

    func expectPathTricksRefused() throws {
        #expect(try through("/public/../users/me/").status == 401)
        #expect(try through("/public/%2e%2e/users/me/").status == 401)
        #expect(try through("/public/..;/users/me/").status == 403)
        #expect(try through("/public%2F..%2Fusers/me/").status == 403)
        #expect(try through("/public/x").status == 200)
    }
}
