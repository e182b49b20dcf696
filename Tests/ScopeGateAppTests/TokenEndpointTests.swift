import Foundation
import Testing
import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateTesting

@Suite struct TokenEndpointTests {
    @Test func issuesTokensWithOnlyTheScopesTheUserMayHave() throws {
        let daemon = try TestDaemon()
        let response = try daemon.login("johndoe", "secret", scope: "me items admin me")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.header("Cache-Control") == "no-store")
        #expect(response.header("Pragma") == "no-cache")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        #expect(Array(body.keys).sorted() == ["access_token", "expires_in", "scope", "token_type"])
        #expect(body["token_type"] as? String == "bearer")
        #expect(body["expires_in"] as? Int == 1800)
        #expect(body["scope"] as? String == "me items")
        #expect(response.text.hasPrefix(#"{"access_token":"eyJ"#))
        let verified = try TokenVerifier(keyring: daemon.service.configuration.keyring)
            .verify(try #require(body["access_token"] as? String), now: Date())
        #expect(verified.subject == "johndoe")
        #expect(verified.scopes == ["me", "items"])
        #expect(verified.tokenID?.count == 22)
        #expect(abs(verified.expiresAt.timeIntervalSince(try #require(verified.issuedAt)) - 1800) < 1)
    }

    @Test func noRequestedScopeGrantsNone() throws {
        let daemon = try TestDaemon()
        let response = try daemon.login("bob", "builder")
        #expect(response.status == 200)
        #expect(response.text.hasSuffix(#""token_type":"bearer","expires_in":1800,"scope":""}"#))
    }

    @Test func refusesWrongPasswordsAndUnknownUsersAlike() throws {
        let daemon = try TestDaemon()
        for (user, password) in [("johndoe", "wrong"), ("nobody", "secret"), ("johndoe", String(repeating: "x", count: 100))] {
            let response = try daemon.login(user, password)
            #expect(response.status == 400)
            #expect(response.text == #"{"detail":"Incorrect username or password"}"#)
            #expect(response.header("Cache-Control") == "no-store")
        }
    }

    @Test func aDisabledUserMayStillLogIn() throws {
        let daemon = try TestDaemon()
        #expect(try daemon.login("alice", "secretalice", scope: "me").status == 200)
    }

    @Test func reportsMissingFieldsAsFastAPIDoes() throws {
        let daemon = try TestDaemon()
        let post = { (body: [UInt8], type: String) in
            try sendRequest(port: daemon.port, method: "POST", target: "/token", headers: [("Content-Type", type)], body: body)
        }
        let both = try post(formBody([("scope", "me")]), "application/x-www-form-urlencoded")
        #expect(both.status == 422)
        #expect(
            both.text
                == #"{"detail":[{"type":"missing","loc":["body","username"],"msg":"Field required","input":null},{"type":"missing","loc":["body","password"],"msg":"Field required","input":null}]}"#
        )
        let empty = try post(formBody([("username", ""), ("password", "x")]), "application/x-www-form-urlencoded")
        #expect(empty.text == #"{"detail":[{"type":"missing","loc":["body","username"],"msg":"Field required","input":null}]}"#)
        let json = try post(Array(#"{"username":"johndoe","password":"secret"}"#.utf8), "application/json")
        #expect(json.status == 422)
    }

    @Test func speaksOAuthErrors() throws {
        let daemon = try TestDaemon()
        let post = { (fields: [(String, String)]) in
            try sendRequest(
                port: daemon.port, method: "POST", target: "/token",
                headers: [("Content-Type", "application/x-www-form-urlencoded")], body: formBody(fields))
        }
        let grant = try post([("grant_type", "client_credentials"), ("username", "johndoe"), ("password", "secret")])
        #expect(grant.status == 400)
        #expect(grant.text == #"{"error":"unsupported_grant_type"}"#)
        #expect(try post([("grant_type", "password"), ("username", "bob"), ("password", "builder")]).status == 200)
        let repeated = try post([("username", "bob"), ("username", "johndoe"), ("password", "builder")])
        #expect(repeated.status == 400)
        #expect(repeated.text == #"{"error":"invalid_request","error_description":"parameter \"username\" appears more than once"}"#)
        let badEscape = try sendRequest(
            port: daemon.port, method: "POST", target: "/token",
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array("username=%ZZ&password=x".utf8))
        #expect(badEscape.status == 400)
        #expect(badEscape.text.contains("invalid_request"))
    }

    @Test func acceptsMultipartForms() throws {
        let daemon = try TestDaemon()
        let body =
            "--b0undary\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nbob\r\n"
            + "--b0undary\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nbuilder\r\n"
            + "--b0undary\r\nContent-Disposition: form-data; name=\"scope\"\r\n\r\nadmin\r\n--b0undary--\r\n"
        let response = try sendRequest(
            port: daemon.port, method: "POST", target: "/token",
            headers: [("Content-Type", "multipart/form-data; boundary=b0undary")], body: Array(body.utf8))
        #expect(response.status == 200)
        #expect(response.text.hasSuffix(#""scope":"admin"}"#))
    }

    @Test func capsTheBodyAndTheMethod() throws {
        let daemon = try TestDaemon()
        let big = try sendRequest(
            port: daemon.port, method: "POST", target: "/token",
            headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("username", "bob"), ("password", String(repeating: "a", count: 17_000))]))
        #expect(big.status == 413)
        let get = try daemon.get("/token")
        #expect(get.status == 405)
        #expect(get.text == #"{"detail":"Method Not Allowed"}"#)
        #expect(get.header("Allow") == "POST")
    }

    @Test func logsNeverHoldPasswordsOrTokens() throws {
        let logs = CapturedLogs()
        let daemon = try TestDaemon(logger: logs.logger())
        let issued = try daemon.login("bob", "builder", scope: "me")
        _ = try daemon.login("bob", "hunter2-wrong")
        _ = try daemon.login("nobody", "hunter3-unknown")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(issued.body)) as? [String: Any])
        let token = try #require(body["access_token"] as? String)
        _ = try daemon.auth("/users/me/", token: token)
        _ = try daemon.auth("/users/me/", token: "garbage.token.value")
        let text = logs.lines.joined(separator: "\n")
        #expect(text.contains("token issued"))
        #expect(text.contains("login refused"))
        for secret in ["builder", "hunter2-wrong", "hunter3-unknown", token, "garbage.token.value", DemoConfiguration.secret] {
            #expect(!text.contains(secret), "a log line holds \(secret.prefix(12))…")
        }
        for part in token.split(separator: ".") { #expect(!text.contains(part)) }
    }

    @Test func unknownUsersTakeAsLongAsWrongPasswords() throws {
        let hasher = try PasswordHasher(cost: 10)
        let users = "users:\n  dave:\n    password_hash: \"\(try hasher.hash("right"))\"\n"
        // Workers at normal priority: at nice 19 on a machine busy with the other tests, which of two
        // requests waits longer for a core is chance, and that would be what the test measured.
        let daemon = try TestDaemon(
            usersYAML: users,
            configure: {
                $0.passwordHasher = hasher
                $0.loginLimits.pairFreeFailures = 100
                $0.loginLimits.addressFreeFailures = 100
                $0.loginLimits.userFreeFailures = 100
            }, http: { $0.workerNiceness = 0 })
        // Interleaved, so that whatever else the machine is doing weighs on both alike; medians of 15.
        var wrongSamples: [Double] = []
        var unknownSamples: [Double] = []
        for _ in 0..<15 {
            for (user, index) in [("dave", 0), ("nobody", 1)] {
                let start = Date()
                #expect(try daemon.login(user, "wrong").status == 400)
                let elapsed = Date().timeIntervalSince(start)
                if index == 0 { wrongSamples.append(elapsed) } else { unknownSamples.append(elapsed) }
            }
        }
        let wrong = wrongSamples.sorted()[7]
        let unknown = unknownSamples.sorted()[7]
        #expect(unknown / wrong > 0.6 && unknown / wrong < 1.6, "unknown \(unknown) s, wrong password \(wrong) s")
    }

    @Test func loginsInFlightNeverHoldUpDecisions() throws {
        let daemon = try TestDaemon()
        let token = try daemon.token(scopes: ["me"])
        let logins = try (0..<6).map { _ in try TestHTTPConnection(port: daemon.port) }
        let body = formBody([("username", "johndoe"), ("password", "secret")])
        for connection in logins {
            try connection.send(
                Array("POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
            )
        }
        try #require(waitUntil { daemon.pendingWork >= 3 })
        for _ in 0..<20 {
            #expect(try daemon.auth("/users/me/", token: token).status == 200)
        }
        // Six cost-12 checks on two workers take about 0.8 s: the decisions came first.
        #expect(daemon.pendingWork > 0)
        for connection in logins { #expect(try connection.readResponse().status == 200) }
    }
}
