import Foundation
import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore
import ScopeGateTesting
import Testing

@testable import ScopeGateApp

/// Browser sessions: `/signin` starts one (a new cookie value each time, kept hashed in the store),
/// `/authorize` then asks for consent only, `/signout` ends it in the store; `rd` is sent only where
/// ScopeGate or the policy's hosts live.
@Suite struct BrowserSessionTests {
    let daemon: TestDaemon
    let store: SQLiteStore
    let storePath: String

    init() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-session-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        storePath = folder.appendingPathComponent("scopegate.db").path
        let store = try SQLiteStore(path: storePath)
        self.store = store
        daemon = try TestDaemon(configure: { configuration in
            configuration.clients = ClientDirectory([
                ClientRecord(
                    id: "spa", secretHashes: [], grantTypes: [.authorizationCode], scopes: ["me", "items"], redirectURIs: ["https://app.example/cb"],
                    isPublic: true)
            ])
            configuration.revocations = try! Revocations(store: store)
        })
    }

    /// The `name=value` of a `Set-Cookie` field named `name`.
    static func cookie(_ response: TestHTTPResponse, _ name: String) -> String? {
        response.headers("Set-Cookie").first { $0.hasPrefix(name + "=") }?.split(separator: ";").first.map(String.init)
    }

    func post(_ target: String, _ fields: [(String, String)], cookies: [String]) throws -> TestHTTPResponse {
        try sendRequest(
            port: daemon.port, method: "POST", target: target,
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", cookies.joined(separator: "; "))], body: formBody(fields))
    }

    @Test func signInThenConsentOnlyThenSignOut() throws {
        let form = try daemon.get("/signin?rd=%2Fusers%2Fme%2F")
        #expect(form.status == 200 && form.text.contains(#"name="rd" value="/users/me/""#))
        let csrf = try #require(Self.cookie(form, "scopegate-csrf"))
        let token = String(csrf.split(separator: "=", maxSplits: 1)[1])
        // A session value planted before signing in is never the one signed in (no fixation).
        let planted = "scopegate-session=" + String(repeating: "B", count: 43)
        let wrong = try post("/signin", [("csrf", token), ("rd", "/users/me/"), ("username", "johndoe"), ("password", "nope")], cookies: [csrf])
        #expect(wrong.status == 400 && wrong.text.contains("Incorrect username or password.") && Self.cookie(wrong, "scopegate-session") == nil)
        let signedIn = try post("/signin", [("csrf", token), ("rd", "/users/me/"), ("username", "johndoe"), ("password", "secret")], cookies: [csrf, planted])
        #expect(signedIn.status == 303 && signedIn.header("Location") == "/users/me/")
        let session = try #require(Self.cookie(signedIn, "scopegate-session"))
        #expect(session != planted && signedIn.headers("Set-Cookie").contains { $0.contains("HttpOnly; SameSite=Lax") && $0.contains("Max-Age=43200") })
        // The store keeps the hash, never the value.
        let value = String(session.split(separator: "=", maxSplits: 1)[1])
        #expect(try store.session(hash: Base64URL.encode(sha256(Array(value.utf8))), at: Date())?.subject == "johndoe")

        // Signed in: /signin says so, /authorize asks for consent only, and its form needs no password.
        #expect(try daemon.get("/signin", headers: [("Cookie", session)]).text.contains("signed in as <strong>johndoe</strong>"))
        let query =
            "response_type=code&client_id=spa&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=me%20items&state=k"
            + "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        let consent = try daemon.get("/authorize?" + query, headers: [("Cookie", session + "; " + csrf)])
        #expect(consent.status == 200 && consent.text.contains("Continue to spa?") && !consent.text.contains("type=\"password\""))
        var fields = try HTTPRequestQuery.fields(query)
        fields += [("csrf", token), ("grant", "me"), ("action", "allow")]
        let granted = try post("/authorize", fields, cookies: [session, csrf])
        #expect(granted.status == 303 && granted.header("Location")?.hasPrefix("https://app.example/cb?code=") == true, "\(granted.text)")

        // Sign-out ends it in the store: the next authorization asks for the password again.
        #expect(try post("/signout", [], cookies: [session, csrf]).status == 403, "no CSRF field")
        let out = try post("/signout", [("csrf", token)], cookies: [session, csrf])
        #expect(out.status == 200 && out.text.contains("Signed out") && out.headers("Set-Cookie").contains { $0.hasPrefix("scopegate-session=; ") })
        #expect(try store.session(hash: Base64URL.encode(sha256(Array(value.utf8))), at: Date()) == nil)
        let again = try daemon.get("/authorize?" + query, headers: [("Cookie", session + "; " + csrf)])
        #expect(again.text.contains("type=\"password\""))
        let stale = try post("/authorize", fields, cookies: [session, csrf])
        #expect(stale.status == 400 && stale.text.contains("Your session has ended"))
    }

    /// "Remember this decision": the next authorization asking no more goes straight back; `/consents`
    /// lists and withdraws it, and so does `scopegate consents revoke`.
    @Test func rememberedConsentsSkipThePageUntilWithdrawn() throws {
        let form = try daemon.get("/signin")
        let csrf = try #require(Self.cookie(form, "scopegate-csrf"))
        let token = String(csrf.split(separator: "=", maxSplits: 1)[1])
        let signedIn = try post("/signin", [("csrf", token), ("username", "johndoe"), ("password", "secret")], cookies: [csrf])
        let session = try #require(Self.cookie(signedIn, "scopegate-session"))
        let cookies = session + "; " + csrf
        func query(_ scope: String) -> String {
            "response_type=code&client_id=spa&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=\(scope)&state=r"
                + "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        }
        let page = try daemon.get("/authorize?" + query("me"), headers: [("Cookie", cookies)])
        #expect(page.status == 200 && page.text.contains(#"name="remember" value="1""#))
        let fields = try HTTPRequestQuery.fields(query("me")) + [("csrf", token), ("grant", "me"), ("remember", "1"), ("action", "allow")]
        #expect(try post("/authorize", fields, cookies: [session, csrf]).status == 303)
        // Asked again for no more: straight back with a code. Asked for more: the page.
        let skipped = try daemon.get("/authorize?" + query("me"), headers: [("Cookie", cookies)])
        #expect(skipped.status == 302 && skipped.header("Location")?.hasPrefix("https://app.example/cb?code=") == true, "\(skipped.status)")
        #expect(try daemon.get("/authorize?" + query("me%20items"), headers: [("Cookie", cookies)]).status == 200)
        // /consents lists it and withdraws it.
        let listed = try daemon.get("/consents", headers: [("Cookie", cookies)])
        #expect(listed.status == 200 && listed.text.contains("<legend>spa</legend>") && listed.text.contains("<code>me</code>"))
        #expect(try post("/consents", [("csrf", token), ("client_id", "spa")], cookies: [session, csrf]).header("Location") == "/consents")
        #expect(try daemon.get("/consents", headers: [("Cookie", cookies)]).text.contains("not asked ScopeGate to remember"))
        #expect(try daemon.get("/authorize?" + query("me"), headers: [("Cookie", cookies)]).status == 200)
        #expect(try daemon.get("/consents").header("Location") == "/signin?rd=%2Fconsents", "without a session")
        // The operator withdraws them too.
        #expect(try post("/authorize", fields, cookies: [session, csrf]).status == 303)
        let listedByCLI = try run(["consents", "list", "--store", "sqlite:" + storePath, "--user", "johndoe"])
        #expect(listedByCLI.output.hasPrefix("spa\tme\t"), "\(listedByCLI.output) \(listedByCLI.errors)")
        let revoked = try run(["consents", "revoke", "--store", "sqlite:" + storePath, "--user", "johndoe", "--client", "spa"])
        #expect(revoked.output.contains("withdrew 1 consent of johndoe"), "\(revoked.errors)")
        #expect(try daemon.get("/authorize?" + query("me"), headers: [("Cookie", cookies)]).status == 200)
    }

    /// `--session-domain`: ScopeGate's pages on a host of their own sign the browser in for every host
    /// below the domain (`Domain=`, `__Secure-` since `__Host-` forbids a domain), and `rd` may name them.
    @Test func aSessionDomainCoversEveryHostBelowIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-session-domain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: folder.appendingPathComponent("scopegate.db").path)
        let daemon = try TestDaemon(configure: { configuration in
            configuration.issuer = "https://auth.example.com"
            configuration.sessions.domain = "example.com"
            configuration.revocations = try! Revocations(store: store)
        })
        let form = try daemon.get("/signin?rd=https%3A%2F%2Fapp.example.com%2Fhome")
        #expect(form.status == 200 && form.text.contains(#"name="rd" value="https://app.example.com/home""#))
        let csrf = try #require(Self.cookie(form, "__Host-scopegate-csrf"))
        let token = String(csrf.split(separator: "=", maxSplits: 1)[1])
        let signedIn = try sendRequest(
            port: daemon.port, method: "POST", target: "/signin",
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", csrf)],
            body: formBody([("csrf", token), ("rd", "https://app.example.com/home"), ("username", "johndoe"), ("password", "secret")]))
        #expect(signedIn.status == 303 && signedIn.header("Location") == "https://app.example.com/home")
        let set = try #require(signedIn.headers("Set-Cookie").first { $0.hasPrefix("__Secure-scopegate-session=") })
        #expect(set.hasSuffix("; Path=/; Domain=example.com; Max-Age=43200; HttpOnly; SameSite=Lax; Secure"), "\(set)")
        #expect(try daemon.get("/signin?rd=https%3A%2F%2Fevil.com%2F").status == 400)
        let policy = try Policy.load(yaml: "rules:\n  - path: /**\n    scopes: []\n", file: "policy.yaml")
        for (address, kept) in [
            ("https://app.example.com/", true), ("https://example.com/", true), ("https://a.b.example.com/x", true), ("https://notexample.com/", false),
            ("https://example.com.evil.org/", false),
        ] {
            #expect((ScopeGateService.returnAddress(address, policy: policy, ownHost: nil, domain: "example.com") != nil) == kept, "\(address)")
        }
        // A domain that does not contain the issuer's host is refused at start.
        let refused = try run(["serve", "--demo", "--issuer", "https://auth.other.org", "--session-domain", "example.com", "--port", "0"])
        #expect(refused.status != 0 && refused.errors.contains("does not contain the issuer's host auth.other.org"), "\(refused.errors)")
    }

    /// The return address: paths on ScopeGate's host and URLs of the policy's hosts, and none of the
    /// redirect tricks other forward-auth services shipped fixes for.
    @Test func returnAddressesGoOnlyWhereTheyShould() throws {
        let policy = try Policy.load(
            yaml: "rules:\n  - hosts: [app.example.com]\n    path: /**\n    scopes: []\n  - hosts: [\"*.tenant.example.com\"]\n    path: /**\n    scopes: []\n",
            file: "policy.yaml")
        for good in [
            "/", "/users/me/", "/a?b=c", "https://app.example.com/", "https://app.example.com/x?y=%2Fz", "https://a.tenant.example.com/x",
            "http://auth.example.com/back", "https://APP.example.com/",
        ] {
            #expect(ScopeGateService.returnAddress(good, policy: policy, ownHost: "auth.example.com") == good, "\(good)")
        }
        for bad in [
            "//evil.example", "/\\evil.example", "/\t/evil.example", "/%09/evil.example", "//%09/evil.example", "/%5cevil.example",
            "/%2f%2fevil.example", "https://evil.example/", "https://evilexample.com/", "https://app.example.com.evil.example/",
            "https://app.example.com@evil.example/", "https://tenant.example.com/", "javascript:alert(1)", "data:text/html,x", "evil.example",
            "https:evil.example", "https://", " /x", "/x\r\nSet-Cookie: a=b", "https://app.example.com\\@evil.example/",
        ] {
            #expect(ScopeGateService.returnAddress(bad, policy: policy, ownHost: "auth.example.com") == nil, "\(bad)")
        }
        // Through /signin: refused with a page, never followed.
        #expect(try daemon.get("/signin?rd=%2F%2Fevil.example").status == 400)
    }
}

/// The Traefik recipe's browser middleware (`docker/traefik/dynamic.yml`, `scopegate-browser`), replayed:
/// it sends the browser's cookies along, so a session passes and a browser without one gets the 302 to
/// sign in that Traefik hands to the browser.
@Suite struct TraefikBrowserRecipeTests {
    @Test func theBrowserMiddlewareCarriesTheSessionAndTheRedirect() throws {
        let middleware = member(try dockerConfiguration("docker/traefik/dynamic.yml"), "http", "middlewares", "scopegate-browser", "forwardAuth")
        let passed = try #require(member(middleware, "authRequestHeaders") as? [String])
        #expect(passed.contains("Cookie") && passed.contains("Authorization"))
        #expect(member(middleware, "trustForwardHeader") as? Bool == false)
        let routers = try #require(member(try dockerConfiguration("docker/traefik/dynamic.yml"), "http", "routers") as? [String: Any])
        #expect((member(routers["pages"] as Any, "rule") as? String)?.contains("Path(`/signin`)") == true)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-traefik-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: folder.appendingPathComponent("scopegate.db").path)
        let daemon = try TestDaemon(
            policyYAML: "rules:\n  - path: /dashboard/**\n    scopes: [me]\n    browser: true\n",
            configure: { $0.revocations = try! Revocations(store: store) })
        func subrequest(_ cookie: String?) throws -> TestHTTPResponse {
            var client = [("User-Agent", "Mozilla/5.0"), ("Accept", "text/html")]
            if let cookie { client.append(("Cookie", cookie)) }
            let headers = client.filter { header in passed.contains { $0.lowercased() == header.0.lowercased() } }
            return try sendRequest(
                port: daemon.port, target: "/auth",
                headers: headers + [
                    ("X-Forwarded-Method", "GET"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "app.example.com"),
                    ("X-Forwarded-Uri", "/dashboard/home"), ("X-Forwarded-For", "203.0.113.9"),
                ])
        }
        let away = try subrequest("theme=dark")
        #expect(away.status == 302 && away.header("Location") == "/signin?rd=%2Fdashboard%2Fhome")
        let value = Base64URL.encode(Array(repeating: 7, count: 32))
        try store.createSession(
            BrowserSession(
                hash: Base64URL.encode(sha256(Array(value.utf8))), subject: "johndoe", createdAt: Date(), lastSeen: Date(), endsAt: Date() + 600,
                idleLimit: 600))
        let signedIn = try subrequest("theme=dark; scopegate-session=\(value)")
        #expect(signedIn.status == 200 && signedIn.header("X-Auth-User") == "johndoe" && signedIn.header("X-Auth-Scopes") == "me")
    }
}

/// `browser: true` rules behind Debian's Caddy and nginx (`docker/caddy/Caddyfile`,
/// `docker/nginx/default.conf.template`): a browser without a session is sent to sign in, signs in on the
/// same host, and reaches the application with its identity; token rules never take a session (and keep
/// their 401 challenge); signing out sends it to sign in again.
@Suite struct BrowserRuleTests {
    @Test(arguments: ["caddy", "nginx"])
    func aBrowserSignsInThroughTheProxyAndReachesTheApplication(_ proxyName: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-browser-rule-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let daemon = try TestDaemon(
            policyYAML: "rules:\n  - path: /app/**\n    scopes: [me]\n    browser: true\n  - path: /api/**\n    scopes: [me]\n",
            configure: { configuration in
                configuration.revocations = try! Revocations(store: SQLiteStore(path: folder.appendingPathComponent("scopegate.db").path))
            })
        let app = try makeEchoApp()
        defer { app.stop() }
        let proxy = proxyName == "caddy" ? try startCaddy(scopegate: daemon.port, app: app.port) : try startNginx(scopegate: daemon.port, app: app.port)
        let output = try runPython(
            """
            import sys, html.parser, urllib.parse, requests
            base = sys.argv[1]
            class Hidden(html.parser.HTMLParser):
                def __init__(self):
                    super().__init__(); self.fields = {}
                def handle_starttag(self, tag, attrs):
                    attrs = dict(attrs)
                    if tag == "input" and attrs.get("type") == "hidden": self.fields[attrs["name"]] = attrs.get("value", "")
            browser = requests.Session()
            first = browser.get(base + "/app/page?x=1", allow_redirects=False)
            # nginx writes the address absolute (its own host and port), Caddy passes ScopeGate's as it is.
            location = first.headers.get("Location", "").replace(base, "")
            print(first.status_code, location)
            form = browser.get(urllib.parse.urljoin(base, location))
            hidden = Hidden(); hidden.feed(form.text)
            signed = browser.post(base + "/signin", data=dict(hidden.fields, username="johndoe", password="secret"), allow_redirects=False)
            print(signed.status_code, signed.headers.get("Location"))
            page = browser.get(urllib.parse.urljoin(base, signed.headers["Location"]))
            print(page.status_code, " ".join(page.text.split()[:3]), 'X-Auth-User=["johndoe"]' in page.text)
            api = browser.get(base + "/api/thing", allow_redirects=False)
            print(api.status_code, api.headers.get("WWW-Authenticate"))
            out = Hidden(); out.feed(browser.get(base + "/signout").text)
            print(browser.post(base + "/signout", data=out.fields).status_code)
            print(browser.get(base + "/app/page", allow_redirects=False).status_code)
            """, arguments: ["http://127.0.0.1:\(proxy.port)"])
        #expect(
            output.split(separator: "\n").map(String.init) == [
                "302 /signin?rd=%2Fapp%2Fpage%3Fx%3D1", "303 /app/page?x=1", "200 app GET /app/page True", "401 Bearer scope=\"me\"", "200", "302",
            ], "\(output)")
    }
}
