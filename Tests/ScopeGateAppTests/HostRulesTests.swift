import Foundation
import ScopeGateCore
import ScopeGateTesting
import Testing

@testable import ScopeGateApp

/// Host-aware rules at `/auth`, in each proxy convention: the forwarded host canonicalized once, the most
/// specific host's rules first, and no fallback to the rules for every host when the host is unusable.
@Suite struct HostRulesTests {
    let daemon: TestDaemon
    let admin: String
    let reader: String

    init() throws {
        // The policy the proxies' end-to-end tests enforce too.
        daemon = try TestDaemon(policyYAML: ProxiedDemo.hostPolicy)
        admin = try daemon.token(subject: "bob", scopes: ["me", "items", "admin"])
        reader = try daemon.token(subject: "carol", scopes: ["me"])
    }

    /// nginx and Traefik style: the host in X-Forwarded-Host, the scheme in X-Forwarded-Proto.
    func forwarded(_ host: String?, _ path: String, token: String?, proto: String? = "https", extra: [(String, String)] = []) throws -> Int {
        var headers = extra
        if let host { headers.append(("X-Forwarded-Host", host)) }
        if let proto { headers.append(("X-Forwarded-Proto", proto)) }
        return try daemon.auth(path, token: token, headers: headers).status
    }

    @Test(
        arguments: [
            // host, path, proto, admin's status, reader's status
            ("admin.example.com", "/x", "https", 200, 401),
            ("Admin.Example.COM.", "/x", "https", 200, 401),
            ("admin.example.com:443", "/x", "https", 200, 401),
            // Port 443 over an unknown scheme stays: not the admin host, and no host-less rule has /x.
            ("admin.example.com:443", "/x", nil, 403, 403),
            ("admin.example.com..", "/x", "https", 403, 403),
            // A port no rule names: where the name's rules cover the path, refused, never the rules for
            // every host (/public/** here); a name without rules of its own is every host's.
            ("admin.example.com:8443", "/public/a", "https", 403, 403),
            ("admin.example.com:80", "/public/a", "https", 403, 403),
            ("www.example.com:8443", "/public/a", "https", 200, 200),
            ("acme.tenant.example.com:8443", "/api/v1", "https", 403, 403),
            ("acme.tenant.example.com:8443", "/public/a", "https", 200, 200),
            ("a.example.com, admin.example.com", "/x", "https", 403, 403),
            ("admin.example.com\u{0}", "/public/a", "https", 400, 400),
            ("acme.tenant.example.com", "/api/v1", "https", 200, 401),
            ("tenant.example.com", "/api/v1", "https", 200, 200),
            ("acme.tenant.example.com", "/public/a", "https", 200, 200),
            ("xn--bcher-kva.example", "/public/a", "https", 200, 200),
        ] as [(String, String, String?, Int, Int)])
    func theForwardedHostDecides(_ host: String, _ path: String, _ proto: String?, _ adminStatus: Int, _ readerStatus: Int) throws {
        #expect(try forwarded(host, path, token: admin, proto: proto) == adminStatus, "\(host) \(path)")
        #expect(try forwarded(host, path, token: reader, proto: proto) == readerStatus, "\(host) \(path)")
    }

    @Test func noUsableHostIsRefusedNotMatchedElsewhere() throws {
        #expect(try forwarded(nil, "/public/a", token: nil) == 403)
        #expect(try forwarded("admin.example.com", "/public/a", token: admin, extra: [("X-Forwarded-Host", "admin.example.com")]) == 403)
        // The rule the metrics name carries its host pattern.
        #expect(try forwarded("admin.example.com", "/x", token: admin) == 200)
        #expect(try daemon.get("/metrics").text.contains(#"rule="admin.example.com /**""#))
    }

    /// Envoy: the check request's own Host is the original's; an X-Forwarded-Host that disagrees with it
    /// leaves no usable host.
    @Test func envoysHostIsTheOriginals() throws {
        func envoy(_ host: String, token: String, extra: [(String, String)] = []) throws -> Int {
            let connection = try TestHTTPConnection(port: daemon.port)
            var head = "GET /auth/api/v1 HTTP/1.1\r\nHost: \(host)\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n"
            for (name, value) in extra { head += "\(name): \(value)\r\n" }
            try connection.send(head + "\r\n")
            return try connection.readResponse().status
        }
        #expect(try envoy("acme.tenant.example.com", token: admin) == 200)
        #expect(try envoy("acme.tenant.example.com", token: reader) == 401)
        #expect(try envoy("www.example.com", token: reader) == 200)
        #expect(try envoy("acme.tenant.example.com", token: admin, extra: [("X-Forwarded-Host", "www.example.com")]) == 403)
        #expect(try envoy("acme.tenant.example.com", token: admin, extra: [("X-Forwarded-Host", "acme.tenant.example.com")]) == 200)
    }

    /// nginx passes an absolute-form request target as it came (`$request_uri`): its authority is the
    /// host when no X-Forwarded-Host is given, and must agree with one that is.
    @Test func anAbsoluteFormTargetNamesItsHost() throws {
        func nginx(_ uri: String, host: String? = nil, token: String) throws -> Int {
            try daemon.auth(uri, token: token, headers: host.map { [("X-Forwarded-Host", $0)] } ?? []).status
        }
        #expect(try nginx("https://admin.example.com/x", token: admin) == 200)
        #expect(try nginx("https://admin.example.com/x", token: reader) == 401)
        #expect(try nginx("https://Admin.Example.com.:443/x", token: reader) == 401)
        #expect(try nginx("https://admin.example.com/x", host: "admin.example.com", token: admin) == 200)
        // nginx's $host has no port: it agrees with the authority's name and is the host used.
        #expect(try nginx("https://admin.example.com:8443/x", host: "admin.example.com", token: admin) == 200)
        // Two hosts named: refused, not either one.
        #expect(try nginx("https://admin.example.com/x", host: "www.example.com", token: admin) == 403)
        #expect(try nginx("https://www.example.com/public/a", host: "admin.example.com", token: reader) == 403)
        #expect(try nginx("https://admin.example.com:8443/x", host: "admin.example.com:9443", token: admin) == 403)
        // The path after the authority is the path, whatever it looks like.
        #expect(try nginx("https://www.example.com/admin.example.com/public/a", token: reader) == 403)
        #expect(try nginx("https://acme.tenant.example.com/api/v1", token: reader) == 401)
        #expect(try nginx("https://user@admin.example.com/x", token: admin) == 403)
        // explain reads the target the same way.
        let explained = daemon.service.explain(method: "GET", target: "https://admin.example.com/x", host: "www.example.com", token: admin, policyName: "p")
        #expect(
            explained.status == 403
                && explained.lines.contains("host:      refused: the original URI names host admin.example.com but the forwarded host is www.example.com"))
    }

    /// Without host rules the host is never read: a policy of paths behaves as before, whatever the host.
    @Test func aPolicyWithoutHostsIgnoresTheHost() throws {
        let plain = try TestDaemon()
        let token = try plain.token(subject: "johndoe", scopes: ["me"])
        #expect(try plain.auth("/users/me/", token: token, headers: [("X-Forwarded-Host", "a, b")]).status == 200)
        #expect(try plain.auth("/users/me/", token: token).status == 200)
    }
}
