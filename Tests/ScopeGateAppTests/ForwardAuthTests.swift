import Foundation
import Testing
import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateTesting

@Suite struct ForwardAuthTests {
    let daemon: TestDaemon
    let full: String
    let meOnly: String

    init() throws {
        daemon = try TestDaemon()
        full = try daemon.token(scopes: ["me", "items"])
        meOnly = try daemon.token(scopes: ["me"])
    }

    @Test func allowsWithIdentityHeaders() throws {
        let response = try daemon.auth("/users/me/items/?page=2", token: full)
        #expect(response.status == 200)
        #expect(response.header("X-Auth-User") == "johndoe")
        #expect(response.header("X-Auth-Scopes") == "me items")
        #expect(response.header("X-Auth-Email") == "johndoe@example.com")
        #expect(response.header("X-Auth-Name") == "John Doe")
        #expect(response.body.isEmpty)
    }

    @Test func identityHeadersAreAlwaysPresent() throws {
        let carol = try daemon.auth("/users/me/", token: try daemon.token(subject: "carol", scopes: ["me"]))
        #expect(carol.status == 200)
        #expect(carol.headers("X-Auth-Name") == [""])
        #expect(carol.headers("X-Auth-Email") == ["carol@example.com"])
        let publicPage = try daemon.auth("/public/docs/index.html")
        #expect(publicPage.status == 200)
        for name in ["X-Auth-User", "X-Auth-Scopes", "X-Auth-Email", "X-Auth-Name"] { #expect(publicPage.headers(name) == [""]) }
    }

    @Test func challengesWithTheRulesScopes() throws {
        let none = try daemon.auth("/users/me/items/")
        #expect(none.status == 401)
        #expect(none.header("WWW-Authenticate") == "Bearer scope=\"me items\"")
        #expect(none.text == #"{"detail":"Not authenticated"}"#)
        let invalid = try daemon.auth("/users/me/items/", token: "x.y.z")
        #expect(invalid.status == 401)
        #expect(invalid.header("WWW-Authenticate") == "Bearer scope=\"me items\"")
        #expect(invalid.text == #"{"detail":"Could not validate credentials"}"#)
        let insufficient = try daemon.auth("/users/me/items/", token: meOnly)
        #expect(insufficient.status == 401)
        #expect(insufficient.header("WWW-Authenticate") == "Bearer scope=\"me items\"")
        #expect(insufficient.text == #"{"detail":"Not enough permissions"}"#)
        let anyToken = try daemon.auth("/status/")
        #expect(anyToken.header("WWW-Authenticate") == "Bearer")
        #expect(try daemon.auth("/status/", token: try daemon.token(scopes: [])).status == 200)
    }

    @Test func speaksRFC6750WhenAskedTo() throws {
        let strict = try TestDaemon { $0.challenge = .rfc6750 }
        let insufficient = try strict.auth("/users/me/items/", token: try strict.token(scopes: ["me"]))
        #expect(insufficient.status == 403)
        #expect(insufficient.header("WWW-Authenticate") == "Bearer error=\"insufficient_scope\", scope=\"me items\"")
        let invalid = try strict.auth("/users/me/items/", token: "x.y.z")
        #expect(invalid.status == 401)
        #expect(invalid.header("WWW-Authenticate") == "Bearer error=\"invalid_token\", scope=\"me items\"")
        let none = try strict.auth("/status/")
        #expect(none.status == 401)
        #expect(none.header("WWW-Authenticate") == "Bearer")
    }

    @Test func forbidsWhatThePolicyDoesNotAllow() throws {
        let admin = try daemon.token(subject: "bob", scopes: ["admin"])
        #expect(try daemon.auth("/admin/users", token: admin).status == 200)
        #expect(try daemon.auth("/admin/users", method: "HEAD", token: admin).status == 200)
        let post = try daemon.auth("/admin/users", method: "POST", token: admin)
        #expect(post.status == 403)
        #expect(post.text == #"{"detail":"Forbidden: method POST is not allowed on /admin/**"}"#)
        let unmatched = try daemon.auth("/elsewhere", token: full)
        #expect(unmatched.status == 403)
        #expect(unmatched.text == #"{"detail":"Forbidden: no rule allows this path"}"#)
        #expect(try daemon.auth("/admin/users", token: full).status == 401)
    }

    @Test func defaultAuthenticatedNeedsOnlyAValidToken() throws {
        let policy = "rules:\n  - path: /public/**\n    public: true\ndefault: authenticated\n"
        let lenient = try TestDaemon(policyYAML: policy)
        #expect(try lenient.auth("/anything", token: try lenient.token(scopes: [])).status == 200)
        let none = try lenient.auth("/anything")
        #expect(none.status == 401)
        #expect(none.header("WWW-Authenticate") == "Bearer")
    }

    @Test func looksUsersUpOnEveryDecision() throws {
        let alice = try daemon.auth("/users/me/", token: try daemon.token(subject: "alice", scopes: ["me"]))
        #expect(alice.status == 403)
        #expect(alice.text == #"{"detail":"Forbidden: user \"alice\" is disabled"}"#)
        let ghost = try daemon.auth("/users/me/", token: try daemon.token(subject: "ghost", scopes: ["me"]))
        #expect(ghost.status == 401)
        // carol may no longer be granted "items": a token that still says so does not get it.
        let stale = try daemon.auth("/users/me/items/", token: try daemon.token(subject: "carol", scopes: ["me", "items"]))
        #expect(stale.status == 401)
        #expect(stale.text == #"{"detail":"Not enough permissions"}"#)
        let scopes = try daemon.auth("/users/me/", token: try daemon.token(subject: "carol", scopes: ["me", "items"]))
        #expect(scopes.header("X-Auth-Scopes") == "me")
    }

    @Test func understandsTraefikCaddyAndEnvoy() throws {
        let traefik = try daemon.get(
            "/auth",
            headers: [
                ("X-Forwarded-Method", "GET"), ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "app.example"), ("X-Forwarded-Uri", "/users/me/?q=1"),
                ("Authorization", "Bearer \(meOnly)"),
            ])
        #expect(traefik.status == 200)
        #expect(traefik.header("X-Auth-User") == "johndoe")
        let envoy = try daemon.get("/auth/users/me/", headers: [("Authorization", "Bearer \(meOnly)")])
        #expect(envoy.status == 200)
        let envoyPost = try sendRequest(
            port: daemon.port, method: "POST", target: "/auth/admin/x",
            headers: [("Authorization", "Bearer \(try daemon.token(subject: "bob", scopes: ["admin"]))")])
        #expect(envoyPost.status == 403)
        let envoyPublic = try sendRequest(port: daemon.port, method: "DELETE", target: "/auth/public/x")
        #expect(envoyPublic.status == 200)
        let both = try daemon.auth("/users/me/", token: meOnly, headers: [("X-Forwarded-Uri", "/users/me/"), ("X-Forwarded-Method", "GET")])
        #expect(both.status == 200)
    }

    @Test func readsHeaderNamesInAnyCase() throws {
        let shouted = try daemon.get(
            "/auth",
            headers: [
                ("X-ORIGINAL-URI", "/users/me/"), ("x-original-method", "GET"),
                ("AUTHORIZATION", "Bearer \(meOnly)"),
            ])
        #expect(shouted.status == 200)
        let twice = try daemon.get("/auth", headers: [("X-Original-URI", "/public/x"), ("x-ORIGINAL-uri", "/admin/x"), ("X-Original-Method", "GET")])
        #expect(twice.text == #"{"detail":"Forbidden: header X-Original-URI appears more than once"}"#)
    }

    @Test func refusesConflictingOrMissingDescriptions() throws {
        let cases: [(headers: [(String, String)], reason: String)] = [
            ([("X-Original-URI", "/public/x"), ("X-Forwarded-Uri", "/admin/x"), ("X-Original-Method", "GET")], "the original URI headers disagree"),
            ([("X-Original-URI", "/public/x"), ("X-Original-URI", "/admin/x"), ("X-Original-Method", "GET")], "header X-Original-URI appears more than once"),
            ([("X-Original-URI", "/public/x"), ("X-Original-Method", "GET"), ("X-Forwarded-Method", "POST")], "the original method headers disagree"),
            ([("X-Original-Method", "GET")], "missing original URI (X-Original-URI or X-Forwarded-Uri or X-Original-URL)"),
            ([("X-Original-URI", "/public/x")], "missing original method (X-Original-Method or X-Forwarded-Method)"),
            ([("X-Original-URI", "/public/x"), ("X-Original-Method", "GE(T")], "the original method is not an HTTP method token"),
            ([("X-Original-URI", "/public/x"), ("X-Original-Method", "")], "the original method is not an HTTP method token"),
        ]
        for (headers, reason) in cases {
            let response = try daemon.get("/auth", headers: headers)
            #expect(response.status == 403, "\(reason)")
            #expect(response.text == #"{"detail":"Forbidden: \#(reason)"}"#)
        }
        let envoyMismatch = try daemon.get("/auth/public/x", headers: [("X-Forwarded-Uri", "/admin/x")])
        #expect(envoyMismatch.status == 403)
    }

    @Test func decidesOnTheCanonicalPathOrRefuses() throws {
        // Climbing out of a public area lands on the rule of the path the upstream serves.
        let climbed = try daemon.auth("/public/../users/me/")
        #expect(climbed.status == 401)
        #expect(climbed.header("WWW-Authenticate") == "Bearer scope=\"me\"")
        #expect(try daemon.auth("/public/%2e%2e/users/me/").status == 401)
        for target in ["/public/..;/admin/x", "/public%2F..%2Fadmin", "/public/..\\admin", "//public/x", "/public/%00", "public/x", "/a/%C0%AE%C0%AE/"] {
            let response = try daemon.auth(target)
            #expect(response.status == 403, "\(target)")
            #expect(response.text.hasPrefix(#"{"detail":"Forbidden: ambiguous original URI: "#), "\(target)")
        }
        #expect(try daemon.auth("http://app.example/public/x").status == 200)
    }

    @Test func refusesDoubleAuthorizationAndOddSchemes() throws {
        let double = try daemon.get(
            "/auth",
            headers: [
                ("X-Original-URI", "/users/me/"), ("X-Original-Method", "GET"),
                ("Authorization", "Bearer \(meOnly)"), ("Authorization", "Bearer \(meOnly)"),
            ])
        #expect(double.status == 401)
        let basic = try daemon.auth("/users/me/", headers: [("Authorization", "Basic am9objpzZWNyZXQ=")])
        #expect(basic.status == 401)
        #expect(basic.text == #"{"detail":"Not authenticated"}"#)
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            #expect(try daemon.auth("/users/me/", headers: [("Authorization", "\(scheme) \(meOnly)")]).status == 200, "\(scheme)")
        }
        for near in ["Bearer  \(meOnly)", "Bearer\t\(meOnly)", "Bearex \(meOnly)", "Bea\u{7F}er \(meOnly)", "Bearer"] {
            #expect(try daemon.auth("/users/me/", headers: [("Authorization", near)]).status == 401, "\(near)")
        }
    }

    @Test func refusesHopByHopTricks() throws {
        for named in ["X-Forwarded-Uri", "close, X-Original-URI", "authorization"] {
            let response = try daemon.auth("/public/x", headers: [("Connection", named)])
            #expect(response.status == 403, "\(named)")
        }
        #expect(try daemon.auth("/public/x", headers: [("Connection", "keep-alive")]).status == 200)
    }

    @Test func believesOnlyTrustedProxies() throws {
        let distrustful = try TestDaemon { $0.trustedProxies = [CIDRRange("10.0.0.0/8")!] }
        let response = try distrustful.auth("/public/x")
        #expect(response.status == 403)
        #expect(response.text == #"{"detail":"Forbidden: forward-auth requests are accepted only from trusted proxies"}"#)
    }
}
