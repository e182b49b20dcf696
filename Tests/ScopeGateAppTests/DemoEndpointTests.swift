import Foundation
import Testing
import ScopeGateApp
import ScopeGateCore
import ScopeGateTesting

@Suite struct DemoEndpointTests {
    let daemon: TestDaemon

    init() throws {
        daemon = try TestDaemon()
    }

    func bearer(_ token: String) -> [(String, String)] { [("Authorization", "Bearer \(token)")] }

    @Test func answersLikeTheTutorial() throws {
        let login = try daemon.login("johndoe", "secret", scope: "me items")
        let token = try #require(try JSONSerialization.jsonObject(with: Data(login.body)) as? [String: Any])["access_token"] as? String
        let me = try daemon.get("/users/me/", headers: bearer(try #require(token)))
        #expect(me.status == 200)
        #expect(me.header("Content-Type") == "application/json")
        #expect(me.text == #"{"username":"johndoe","email":"johndoe@example.com","full_name":"John Doe","disabled":false}"#)
        let items = try daemon.get("/users/me/items/", headers: bearer(try #require(token)))
        #expect(items.text == #"[{"item_id":"Foo","owner":"johndoe"}]"#)
        #expect(try daemon.get("/status/", headers: bearer(try #require(token))).text == #"{"status":"ok"}"#)
    }

    @Test func writesNullForMissingFields() throws {
        let response = try daemon.get("/users/me/", headers: bearer(try daemon.token(subject: "bob", scopes: ["me"])))
        #expect(response.text == #"{"username":"bob","email":null,"full_name":"Bob Builder","disabled":false}"#)
    }

    @Test func challengesWithoutCredentials() throws {
        for headers in [[], [("Authorization", "Basic am9objpzZWNyZXQ=")], [("Authorization", "")]] {
            for path in ["/users/me/", "/users/me/items/", "/status/"] {
                let response = try daemon.get(path, headers: headers)
                #expect(response.status == 401)
                #expect(response.text == #"{"detail":"Not authenticated"}"#)
                #expect(response.header("WWW-Authenticate") == "Bearer")
            }
        }
    }

    @Test(arguments: [("/users/me/", "Bearer scope=\"me\""), ("/users/me/items/", "Bearer scope=\"items me\""), ("/status/", "Bearer")])
    func refusesInvalidTokensWithTheRoutesChallenge(path: String, challenge: String) throws {
        let expired = try daemon.token(scopes: ["me", "items"], expiresIn: -10)
        let ghost = try daemon.token(subject: "ghost", scopes: ["me", "items"])
        for headers in [bearer("not-a-jwt"), bearer(expired), bearer(ghost), [("Authorization", "Bearer")], [("Authorization", "bearer  x")]] {
            let response = try daemon.get(path, headers: headers)
            #expect(response.status == 401)
            #expect(response.text == #"{"detail":"Could not validate credentials"}"#)
            #expect(response.header("WWW-Authenticate") == challenge)
        }
    }

    @Test func refusesMissingScopes() throws {
        let meOnly = try daemon.get("/users/me/items/", headers: bearer(try daemon.token(scopes: ["me"])))
        #expect(meOnly.status == 401)
        #expect(meOnly.text == #"{"detail":"Not enough permissions"}"#)
        #expect(meOnly.header("WWW-Authenticate") == "Bearer scope=\"items me\"")
        let none = try daemon.get("/users/me/", headers: bearer(try daemon.token(scopes: [])))
        #expect(none.text == #"{"detail":"Not enough permissions"}"#)
        #expect(none.header("WWW-Authenticate") == "Bearer scope=\"me\"")
        #expect(try daemon.get("/status/", headers: bearer(try daemon.token(scopes: []))).status == 200)
    }

    @Test func refusesDisabledUsersAfterTheScopeCheck() throws {
        let alice = try daemon.token(subject: "alice", scopes: ["me"])
        let me = try daemon.get("/users/me/", headers: bearer(alice))
        #expect(me.status == 400)
        #expect(me.text == #"{"detail":"Inactive user"}"#)
        let items = try daemon.get("/users/me/items/", headers: bearer(alice))
        #expect(items.status == 401)
        #expect(items.text == #"{"detail":"Not enough permissions"}"#)
        #expect(try daemon.get("/status/", headers: bearer(alice)).text == #"{"status":"ok"}"#)
    }

    @Test func acceptsTokensFromTheTutorialApp() throws {
        // PyJWT with the tutorial's SECRET_KEY, exactly as its create_access_token does it.
        let token = try runPython(
            """
            import jwt, sys, time
            print(jwt.encode({"sub": "johndoe", "scopes": ["me"], "exp": int(time.time()) + 900}, sys.argv[1], algorithm="HS256"))
            """, arguments: [DemoConfiguration.secret])
        #expect(try daemon.get("/users/me/", headers: bearer(token)).status == 200)
    }

    @Test func routesLikeFastAPI() throws {
        let redirect = try daemon.get("/users/me")
        #expect(redirect.status == 307)
        #expect(redirect.header("Location") == "http://127.0.0.1:\(daemon.port)/users/me/")
        let post = try sendRequest(port: daemon.port, method: "POST", target: "/users/me/")
        #expect(post.status == 405)
        #expect(post.header("Allow") == "GET")
        #expect(post.text == #"{"detail":"Method Not Allowed"}"#)
        let missing = try daemon.get("/nope")
        #expect(missing.status == 404)
        #expect(missing.text == #"{"detail":"Not Found"}"#)
        #expect(try daemon.get("/healthz").status == 200)
    }
}
