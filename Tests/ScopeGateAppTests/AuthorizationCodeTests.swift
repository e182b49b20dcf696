import Foundation
import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore
import ScopeGateTesting
import Testing

/// The authorization code flow with PKCE: Authlib's OAuth client (with S256) through the sign-in and
/// consent page to tokens; every refusal `/authorize` and the token endpoint owe (no open redirect,
/// PKCE, CSRF, code reuse, redirect and client binding, consent narrowing), and the pages' escaping and
/// headers.
@Suite struct AuthorizationCodeTests {
    static let clientSecret = "web-secret-0123456789abcdef"
    static let challengeVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    /// RFC 7636 appendix B's S256 challenge of the verifier above.
    static let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    let daemon: TestDaemon

    init() throws {
        let hash = ClientSecretHash(try ClientSecretHash.hash(Self.clientSecret, rounds: 1_000))!
        daemon = try TestDaemon(configure: { configuration in
            configuration.clients = ClientDirectory([
                ClientRecord(
                    id: "spa", secretHashes: [], grantTypes: [.authorizationCode, .refreshToken], scopes: ["me", "items"],
                    redirectURIs: ["https://app.example/callback", "http://127.0.0.1/callback"], isPublic: true),
                ClientRecord(
                    id: "web", secretHashes: [hash], grantTypes: [.authorizationCode], scopes: ["me"], redirectURIs: ["https://web.example/cb"]),
            ])
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-code-\(UUID().uuidString)")
            try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            configuration.revocations = try! Revocations(store: SQLiteStore(path: folder.appendingPathComponent("scopegate.db").path))
        })
    }

    /// Authlib makes the authorization URL (S256 challenge, state) and trades the code; the test plays the
    /// browser: the page, one scope of two ticked, the credentials.
    @Test func authlibCompletesTheFlowWithPKCE() throws {
        let output = try runPython(
            """
            import sys, html.parser, urllib.parse, requests
            from authlib.integrations.requests_client import OAuth2Session
            from authlib.common.security import generate_token
            base = sys.argv[1]
            client = OAuth2Session("spa", redirect_uri="http://127.0.0.1:53682/callback", scope="me items",
                                   code_challenge_method="S256", token_endpoint_auth_method="none")
            verifier = generate_token(64)
            url, state = client.create_authorization_url(base + "/authorize", code_verifier=verifier)

            class Form(html.parser.HTMLParser):
                def __init__(self):
                    super().__init__(); self.hidden = []; self.scopes = []
                def handle_starttag(self, tag, attrs):
                    attrs = dict(attrs)
                    if tag == "input" and attrs.get("type") == "hidden": self.hidden.append((attrs["name"], attrs.get("value", "")))
                    if tag == "input" and attrs.get("name") == "grant": self.scopes.append(attrs["value"])

            browser = requests.Session()
            page = browser.get(url)
            form = Form(); form.feed(page.text)
            print(page.status_code, " ".join(form.scopes))
            # Only "me" ticked: consent narrows the grant.
            fields = form.hidden + [("grant", "me"), ("username", "johndoe"), ("password", "secret"), ("action", "allow")]
            answer = browser.post(base + "/authorize", data=fields, allow_redirects=False)
            location = answer.headers["Location"]
            print(answer.status_code, location.startswith("http://127.0.0.1:53682/callback?code="), "state=" + state in location)
            token = client.fetch_token(base + "/token", authorization_response=location, code_verifier=verifier)
            print(token["scope"], "refresh_token" in token)
            print(token["access_token"])
            code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
            again = requests.post(base + "/token", data={"grant_type": "authorization_code", "code": code, "client_id": "spa",
                                                         "redirect_uri": "http://127.0.0.1:53682/callback", "code_verifier": verifier})
            print(again.status_code, again.json()["error"])
            """, arguments: ["http://127.0.0.1:\(daemon.port)"])
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count == 5, "\(output)")
        guard lines.count == 5 else { return }
        #expect(lines[0] == "200 me items")
        #expect(lines[1] == "303 True True")
        #expect(lines[2] == "me True")
        #expect(lines[4] == "400 invalid_grant")
        // The code's second use revoked what its first issued.
        #expect(try daemon.auth("/users/me/", token: lines[3]).status == 401)
    }

    /// `/openapi.json` (checked by openapi-spec-validator) and the metadata describe the flow once a
    /// client may use it; the reference page mentions it.
    @Test func theDocumentsDescribeTheFlow() throws {
        let document = try daemon.get("/openapi.json")
        let verdict = try runPython(
            """
            import json, sys
            from openapi_spec_validator import validate
            document = json.loads(sys.argv[1])
            validate(document)
            print(sorted(document["paths"]["/authorize"].keys()))
            """, arguments: [document.text])
        #expect(verdict == "['get', 'post']")
        #expect(try daemon.get("/docs/reference").text.contains("<code>/authorize</code>"))
        let withIssuer = try TestDaemon(configure: { configuration in
            configuration.issuer = "https://auth.example"
            configuration.clients = daemon.service.configuration.clients
            configuration.revocations = daemon.service.configuration.revocations
        })
        let metadata = try #require(
            try JSONSerialization.jsonObject(with: Data(withIssuer.get("/.well-known/oauth-authorization-server").body)) as? [String: Any])
        #expect(metadata["authorization_endpoint"] as? String == "https://auth.example/authorize")
        #expect(metadata["code_challenge_methods_supported"] as? [String] == ["S256"])
        #expect(metadata["response_types_supported"] as? [String] == ["code"])
        #expect((metadata["grant_types_supported"] as? [String])?.contains("authorization_code") == true)
        #expect((metadata["token_endpoint_auth_methods_supported"] as? [String])?.contains("none") == true)
        // With an issuer, every answer to the client carries it (RFC 9207).
        let refused = try withIssuer.get("/authorize?response_type=code&client_id=spa&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&state=q")
        #expect(
            refused.header("Location")
                == "https://app.example/callback?error=invalid_request&error_description=code_challenge%20is%20required%20%28PKCE%2C%20RFC%207636%29&state=q&iss=https%3A%2F%2Fauth.example"
        )
    }

    /// A client or redirect URI that cannot be trusted gets a page, never a redirect; every other error is
    /// sent back to the client with its state.
    @Test func badRequestsArePagesOrRedirectsAsRFC6749Says() throws {
        let good = [
            ("response_type", "code"), ("client_id", "spa"), ("redirect_uri", "https://app.example/callback"), ("scope", "me"),
            ("state", "s-1"), ("code_challenge", Self.challenge), ("code_challenge_method", "S256"),
        ]
        func authorize(_ fields: [(String, String)]) throws -> TestHTTPResponse {
            try daemon.get("/authorize?" + String(decoding: formBody(fields), as: UTF8.self))
        }
        func replacing(_ name: String, with value: String?) -> [(String, String)] {
            good.compactMap { $0.0 == name ? value.map { (name, $0) } : $0 }
        }
        let page = try authorize(good)
        #expect(page.status == 200 && page.text.contains("<form method=\"post\" action=\"/authorize\">"))
        #expect(page.header("Content-Security-Policy")?.contains("form-action 'self' https://app.example") == true)
        #expect(page.header("X-Frame-Options") == "DENY" && page.header("Set-Cookie")?.contains("HttpOnly; SameSite=Lax") == true)
        for untrusted in [
            replacing("client_id", with: "nobody"), replacing("client_id", with: nil), replacing("redirect_uri", with: "https://evil.example/callback"),
            replacing("redirect_uri", with: "https://app.example/callback/../evil"), replacing("redirect_uri", with: "https://app.example/callback?x=1"),
            replacing("redirect_uri", with: "http://127.0.0.1.evil.example:8080/callback"), good + [("redirect_uri", "https://app.example/callback")],
        ] {
            let refused = try authorize(untrusted)
            #expect(refused.status == 400 && refused.header("Location") == nil, "\(untrusted)")
        }
        let redirected: [([(String, String)], String)] = [
            (replacing("code_challenge", with: nil), "invalid_request"),
            (replacing("code_challenge_method", with: "plain"), "invalid_request"),
            (replacing("code_challenge", with: "short"), "invalid_request"),
            (replacing("response_type", with: "token"), "unsupported_response_type"),
            (replacing("scope", with: "admin"), "invalid_scope"),
            (good + [("state", "again")], "invalid_request"),
        ]
        for (fields, error) in redirected {
            let answer = try authorize(fields)
            let location = answer.header("Location") ?? ""
            #expect(answer.status == 302 && location.hasPrefix("https://app.example/callback?error=\(error)&"), "\(fields): \(location)")
            #expect(location.hasSuffix("&state=s-1") || location.hasSuffix("&state=again"), "\(location)")
        }
        // A registered loopback redirect takes any port (RFC 8252 §7.3); another host or path does not.
        #expect(try authorize(replacing("redirect_uri", with: "http://127.0.0.1:49152/callback")).status == 200)
        #expect(try authorize(replacing("redirect_uri", with: "http://127.0.0.1:49152/other")).status == 400)
        #expect(try authorize(replacing("redirect_uri", with: "http://localhost:49152/callback")).status == 400)
        // Values are escaped wherever the page shows them.
        let hostile = try authorize(replacing("state", with: "\"><script>alert(1)</script>"))
        #expect(hostile.status == 200 && !hostile.text.contains("<script>") && hostile.text.contains("&quot;&gt;&lt;script&gt;"))
    }

    /// The page's form: CSRF (cookie and field, Origin, Sec-Fetch-Site), Deny, a wrong password, consent
    /// narrowing to nothing; then the code's bindings at the token endpoint.
    @Test func theFormAndTheCodeAreBoundToWhatWasAsked() throws {
        let query = String(
            decoding: formBody([
                ("response_type", "code"), ("client_id", "spa"), ("redirect_uri", "https://app.example/callback"), ("scope", "me items"),
                ("state", "xyz"), ("code_challenge", Self.challenge), ("code_challenge_method", "S256"),
            ]), as: UTF8.self)
        let page = try daemon.get("/authorize?" + query)
        let cookie = try #require(page.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
        let csrf = String(cookie.split(separator: "=", maxSplits: 1)[1])
        func post(_ extra: [(String, String)], cookie: String? = cookie, headers: [(String, String)] = []) throws -> TestHTTPResponse {
            var fields = (try! HTTPRequestQuery.fields(query)) + [("csrf", csrf)]
            fields += extra
            var all = [("Content-Type", "application/x-www-form-urlencoded")] + headers
            if let cookie { all.append(("Cookie", cookie)) }
            return try sendRequest(port: daemon.port, method: "POST", target: "/authorize", headers: all, body: formBody(fields))
        }
        let allow = [("grant", "me"), ("grant", "items"), ("username", "johndoe"), ("password", "secret"), ("action", "allow")]
        #expect(try post(allow, cookie: nil).status == 403)
        #expect(try post(allow, cookie: "scopegate-csrf=" + String(repeating: "A", count: 43)).status == 403)
        #expect(try post(allow, headers: [("Origin", "https://evil.example")]).status == 403)
        #expect(try post(allow, headers: [("Sec-Fetch-Site", "cross-site")]).status == 403)
        let denied = try post([("action", "deny")])
        #expect(
            denied.status == 303
                && denied.header("Location")
                    == "https://app.example/callback?error=access_denied&error_description=the%20user%20denied%20the%20request&state=xyz"
        )
        let wrong = try post([("grant", "me"), ("username", "johndoe"), ("password", "wrong"), ("action", "allow")])
        #expect(wrong.status == 400 && wrong.text.contains("Incorrect username or password.") && wrong.header("Location") == nil)
        let nothing = try post([("username", "johndoe"), ("password", "secret"), ("action", "allow")])
        #expect(nothing.header("Location")?.contains("error=access_denied") == true)

        // Codes, each for the token endpoint's bindings.
        func code() throws -> String {
            let answer = try post(allow, headers: [("Origin", "http://127.0.0.1:\(daemon.port)"), ("Sec-Fetch-Site", "same-origin")])
            let location = try #require(answer.header("Location"), "\(answer.status) \(answer.text)")
            #expect(location.hasPrefix("https://app.example/callback?code=") && location.hasSuffix("&state=xyz"))
            return String(location.dropFirst("https://app.example/callback?code=".count).prefix { $0 != "&" })
        }
        func redeem(_ fields: [(String, String)], headers: [(String, String)] = []) throws -> TestHTTPResponse {
            try sendRequest(
                port: daemon.port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers,
                body: formBody([("grant_type", "authorization_code")] + fields))
        }
        let mismatched = try redeem([
            ("code", try code()), ("client_id", "spa"), ("redirect_uri", "https://app.example/callback"), ("code_verifier", String(repeating: "x", count: 43)),
        ])
        #expect(mismatched.status == 400 && mismatched.text.contains("PKCE"))
        let elsewhere = try redeem([
            ("code", try code()), ("client_id", "spa"), ("redirect_uri", "https://app.example/other"), ("code_verifier", Self.challengeVerifier),
        ])
        #expect(elsewhere.status == 400 && elsewhere.text.contains("redirect_uri"))
        let basic = "Basic " + Data("web:\(Self.clientSecret)".utf8).base64EncodedString()
        let stolen = try redeem(
            [("code", try code()), ("redirect_uri", "https://app.example/callback"), ("code_verifier", Self.challengeVerifier)],
            headers: [("Authorization", basic)])
        #expect(stolen.status == 400 && stolen.text.contains("another client"))
        let good = try redeem([
            ("code", try code()), ("client_id", "spa"), ("redirect_uri", "https://app.example/callback"), ("code_verifier", Self.challengeVerifier),
        ])
        #expect(good.status == 200 && good.text.contains(#""scope":"me items""#) && good.text.contains("refresh_token"), "\(good.text)")
        let noVerifier = try redeem([("code", try code()), ("client_id", "spa"), ("redirect_uri", "https://app.example/callback")])
        #expect(noVerifier.status == 400 && noVerifier.text.contains("code_verifier is required"))
    }
}

/// A query string's fields, decoded.
enum HTTPRequestQuery {
    static func fields(_ query: String) throws -> [(String, String)] {
        var fields: [(String, String)] = []
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            fields.append((try FormParser.decodeComponent(parts[0]), try FormParser.decodeComponent(parts.count > 1 ? parts[1] : "")))
        }
        return fields
    }
}
