import Foundation
import Testing
import ScopeGateApp
import ScopeGateTesting
import Yams

/// Reads a YAML file of `docker/` as plain values.
func dockerConfiguration(_ path: String) throws -> Any? {
    try Yams.load(yaml: String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8))
}

func member(_ value: Any?, _ path: String...) -> Any? {
    path.reduce(value) { ($0 as? [String: Any])?[$1] }
}

/// Replays the subrequests Traefik's `forwardAuth` sends, as `docker/traefik/dynamic.yml` configures it: `GET`
/// on the configured address, `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri` and `-For` written by Traefik, and
/// the client's headers that `authRequestHeaders` lists (all of them when it lists none).
@Suite struct TraefikReplayTests {
    let daemon: TestDaemon
    let authPath: String
    let responseHeaders: [String]
    let requestHeaders: [String]?

    init() throws {
        let forwardAuth = member(try dockerConfiguration("docker/traefik/dynamic.yml"), "http", "middlewares", "scopegate", "forwardAuth")
        let address = try #require(member(forwardAuth, "address") as? String)
        authPath = try #require(URL(string: address)?.path)
        responseHeaders = try #require(member(forwardAuth, "authResponseHeaders") as? [String])
        requestHeaders = member(forwardAuth, "authRequestHeaders") as? [String]
        #expect(member(forwardAuth, "trustForwardHeader") as? Bool == false)
        daemon = try TestDaemon()
    }

    func subrequest(_ method: String, _ uri: String, client: [(String, String)] = []) throws -> TestHTTPResponse {
        let passed = client.filter { header in requestHeaders?.contains { $0.lowercased() == header.0.lowercased() } ?? true }
        return try sendRequest(
            port: daemon.port, target: authPath,
            headers: passed + [
                ("X-Forwarded-Method", method), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "app.example.com"),
                ("X-Forwarded-Uri", uri), ("X-Forwarded-For", "203.0.113.9"),
            ])
    }

    @Test func answersWhatTraefikExpects() throws {
        #expect(authPath == "/auth")
        let token = try daemon.token(scopes: ["me", "items"])
        let client = [("User-Agent", "curl/8"), ("Accept", "*/*"), ("Authorization", "Bearer \(token)")]
        let allowed = try subrequest("GET", "/users/me/items/?page=2", client: client)
        #expect(allowed.status == 200)
        // Every header the middleware copies is answered.
        #expect(responseHeaders == ["X-Auth-User", "X-Auth-Client", "X-Auth-Scopes", "X-Auth-Email", "X-Auth-Name"])
        #expect(responseHeaders.map { allowed.header($0) ?? "<missing>" } == ["johndoe", "", "me items", "johndoe@example.com", "John Doe"])

        let challenged = try subrequest("GET", "/users/me/items/", client: [("User-Agent", "curl/8")])
        #expect(challenged.status == 401)
        #expect(challenged.header("WWW-Authenticate") == #"Bearer scope="me items""#)
        #expect(try subrequest("DELETE", "/admin/x", client: client).status == 403)
        #expect(try subrequest("GET", "/public/%2e%2e/users/me/").status == 401)
        #expect(try subrequest("GET", "/public%2F..%2Fusers/me/").status == 403)
        // A client's own X-Original-URI cannot steer the decision: Traefik drops it (only the token goes along), and
        // ScopeGate decides on the path Traefik names (were it passed, the two would disagree: 403).
        #expect(requestHeaders == ["Authorization"])
        let steered = try subrequest("GET", "/admin/x", client: client + [("X-Original-URI", "/public/x")])
        #expect(steered.status == 401 && steered.header("WWW-Authenticate") == #"Bearer scope="admin""#)
        // Nor do a browser's cookies, which would make the head too large for ScopeGate (431).
        let cookie = ("Cookie", "session=" + String(repeating: "c", count: 9_000))
        #expect(try subrequest("GET", "/users/me/items/", client: client + [cookie]).status == 200)
    }
}

/// `docker/traefik/dynamic.yml`'s routers share one `forwardAuth` middleware: replayed with each router's
/// host in X-Forwarded-Host (as Traefik writes it from the request it routed), a host-aware policy gives
/// each host its own rules.
@Suite struct TraefikOneMiddlewareTests {
    @Test func everyRoutersHostGetsItsOwnRules() throws {
        let routers = try #require(member(try dockerConfiguration("docker/traefik/dynamic.yml"), "http", "routers") as? [String: Any])
        let daemon = try TestDaemon(policyYAML: ProxiedDemo.hostPolicy)
        let admin = try daemon.token(subject: "bob", scopes: ["me", "items", "admin"])
        let reader = try daemon.token(subject: "carol", scopes: ["me"])
        func replay(_ host: String, _ uri: String, _ token: String?) throws -> Int {
            var headers = [
                ("X-Forwarded-Method", "GET"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", host), ("X-Forwarded-Uri", uri),
                ("X-Forwarded-For", "203.0.113.9"),
            ]
            if let token { headers.append(("Authorization", "Bearer \(token)")) }
            return try sendRequest(port: daemon.port, target: "/auth", headers: headers).status
        }
        var hosts: [String] = []
        for (name, router) in routers {
            guard let middlewares = member(router, "middlewares") as? [String], middlewares.contains("scopegate") else { continue }
            let rule = try #require(member(router, "rule") as? String)
            if let exact = rule.firstMatch(of: /^Host\(`([^`]+)`\)$/) {
                hosts.append(String(exact.1))
            } else if let pattern = rule.firstMatch(of: /^HostRegexp\(`([^`]+)`\)$/) {
                // A host the router's expression routes, checked against it.
                let sample = "acme.tenant.example.com"
                #expect(sample.firstMatch(of: try Regex(String(pattern.1))) != nil, "\(name): \(rule)")
                hosts.append(sample)
            } else {
                hosts.append("www.example.com")
            }
        }
        #expect(hosts.sorted() == ["acme.tenant.example.com", "admin.example.com", "www.example.com"])
        #expect(try replay("admin.example.com", "/x", admin) == 200)
        #expect(try replay("admin.example.com", "/public/a", reader) == 401)
        #expect(try replay("acme.tenant.example.com", "/api/v1", reader) == 401)
        #expect(try replay("acme.tenant.example.com", "/api/v1", admin) == 200)
        #expect(try replay("www.example.com", "/api/v1", reader) == 200)
        #expect(try replay("www.example.com", "/public/a", nil) == 200)
        // Traefik writes the Host the client sent, port and all: a port no rule names never escapes the
        // host's own rules.
        #expect(try replay("admin.example.com:8443", "/public/a", nil) == 403)
    }
}

/// Replays the subrequests ingress-nginx sends for `docker/kubernetes/ingress.yaml`'s `auth-url`: `GET`
/// with X-Original-URL (`$scheme://$http_host$request_uri`) and X-Original-Method, its own X-Real-IP,
/// X-Forwarded-For, X-Auth-Request-Redirect, X-Request-ID and X-Sent-From, `Host` set to the auth-url's,
/// and every header of the client's request besides.
@Suite struct IngressNginxReplayTests {
    let daemon: TestDaemon
    let authPath: String
    let responseHeaders: [String]
    let authHost: String
    let admin: String
    let reader: String

    init() throws {
        let documents = try Yams.load_all(
            yaml: String(contentsOf: repositoryRoot.appendingPathComponent("docker/kubernetes/ingress.yaml"), encoding: .utf8))
        let ingress = try #require(documents.first(where: { member($0, "metadata", "annotations") != nil }))
        let annotations = try #require(member(ingress, "metadata", "annotations") as? [String: String])
        let address = try #require(annotations["nginx.ingress.kubernetes.io/auth-url"])
        let url = try #require(URL(string: address))
        authPath = url.path
        authHost = "\(url.host!):\(url.port!)"
        responseHeaders = try #require(annotations["nginx.ingress.kubernetes.io/auth-response-headers"]).split(separator: ",").map(String.init)
        daemon = try TestDaemon(policyYAML: ProxiedDemo.hostPolicy)
        admin = try daemon.token(subject: "bob", scopes: ["me", "items", "admin"])
        reader = try daemon.token(subject: "carol", scopes: ["me"])
    }

    /// The subrequest for a client's `GET uri` to `host` over https; `authMethod`: with the auth-method
    /// annotation, which adds X-Original-URI and X-Scheme.
    func subrequest(_ host: String, _ uri: String, token: String?, client: [(String, String)] = [], authMethod: Bool = false) throws -> TestHTTPResponse {
        let connection = try TestHTTPConnection(port: daemon.port)
        var head = "GET \(authPath) HTTP/1.1\r\nHost: \(authHost)\r\nConnection: close\r\n"
        var headers = [
            ("X-Request-ID", "4b3c8e1f0a9d2b7c6e5f4a3b2c1d0e9f"), ("X-Original-URL", "https://\(host)\(uri)"), ("X-Original-Method", "GET"),
            ("X-Sent-From", "nginx-ingress-controller"), ("X-Real-IP", "203.0.113.9"), ("X-Forwarded-For", "203.0.113.9"),
            ("X-Auth-Request-Redirect", uri),
        ]
        if authMethod { headers += [("X-Original-URI", uri), ("X-Scheme", "https")] }
        headers += client + [("User-Agent", "curl/8"), ("Accept", "*/*")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        try connection.send(head + "\r\n")
        return try connection.readResponse()
    }

    @Test func answersWhatIngressNginxExpects() throws {
        #expect(authPath == "/auth")
        let allowed = try subrequest("admin.example.com", "/x?page=2", token: admin)
        #expect(allowed.status == 200)
        #expect(responseHeaders == ["X-Auth-User", "X-Auth-Client", "X-Auth-Scopes", "X-Auth-Email", "X-Auth-Name"])
        #expect(allowed.header("X-Auth-User") == "bob")
        let challenged = try subrequest("admin.example.com", "/x", token: reader)
        #expect(challenged.status == 401 && challenged.header("WWW-Authenticate") == #"Bearer scope="admin""#)
        // One annotation set, every host of the Ingress: each host's own rules.
        #expect(try subrequest("acme.tenant.example.com", "/api/v1", token: reader).status == 401)
        #expect(try subrequest("www.example.com", "/api/v1", token: reader).status == 200)
        #expect(try subrequest("www.example.com", "/public/a", token: nil).status == 200)
        // $http_host is the client's Host as sent: spellings of one host are that host.
        #expect(try subrequest("Admin.Example.COM.", "/x", token: reader).status == 401)
        #expect(try subrequest("admin.example.com:443", "/public/a", token: nil).status == 401)
        // With auth-method: X-Original-URI agrees with X-Original-URL.
        #expect(try subrequest("admin.example.com", "/x", token: admin, authMethod: true).status == 200)
        // Path tricks are decided on the canonical path.
        #expect(try subrequest("www.example.com", "/public/%2e%2e/api/v1", token: nil).status == 401)
        #expect(try subrequest("www.example.com", "/public%2F..%2Fapi/v1", token: nil).status == 403)
    }

    /// ingress-nginx passes the client's headers along: a client's own description of another request
    /// (another path, host, method or scheme) disagrees with X-Original-URL and is refused, never used.
    @Test func aClientsOwnForwardingHeadersCannotSteerTheCheck() throws {
        // Unforged, each of these is a 401 (a token is needed); decided on the forged copy, a 200.
        let cases: [(String, String, (String, String))] = [
            ("www.example.com", "/api/v1", ("X-Forwarded-Uri", "/public/a")), ("www.example.com", "/api/v1", ("X-Original-URI", "/public/a")),
            ("admin.example.com", "/public/a", ("X-Forwarded-Host", "www.example.com")),
            ("admin.example.com", "/public/a", ("X-Forwarded-Method", "OPTIONS")), ("admin.example.com:443", "/public/a", ("X-Forwarded-Proto", "http")),
        ]
        for (host, uri, forged) in cases {
            #expect(try subrequest(host, uri, token: nil).status == 401)
            let answer = try subrequest(host, uri, token: nil, client: [forged])
            #expect(answer.status == 403, "\(forged): \(answer.status)")
        }
        // An absolute-form request line reaches $request_uri as it came: refused, not read as another host.
        #expect(try subrequest("admin.example.com", "http://www.example.com/public/a", token: nil).status == 403)
    }
}
