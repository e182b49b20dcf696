import Foundation
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateTesting
import Testing

@testable import ScopeGateApp

/// The host corpus (`Tests/ScopeGateCoreTests/Fixtures/host-corpus.tsv`) through `/auth` in every proxy
/// convention: each canonical host of the corpus has its own rule and scope, so a row passes only with the
/// token of the host it must canonicalize to, and a row that must be refused passes with no token at all
/// (the rule for every host is never a fallback).
@Suite struct HostCorpusTests {
    static let corpus = try! HostCorpusEntry.load()
    /// The corpus's canonical hosts, each the host of one rule (scope `h<index>`).
    static let hosts: [String] = {
        var seen: [String] = []
        for row in corpus { if let host = row.expected, !seen.contains(host) { seen.append(host) } }
        return seen
    }()

    static func scope(_ host: String) -> String { "h\(hosts.firstIndex(of: host)!)" }

    let daemon: TestDaemon
    /// A token for each canonical host's scope, and one for the rule for every host.
    let tokens: [String: String]
    let hostless: String

    init() throws {
        var policy = "rules:\n"
        for host in Self.hosts { policy += "  - hosts: [\"\(host)\"]\n    path: /**\n    scopes: [\(Self.scope(host))]\n" }
        policy += "  - path: /**\n    scopes: [hostless]\n"
        let scopes = Self.hosts.map(Self.scope) + ["hostless"]
        let users =
            "users:\n  corpus:\n    password_hash: \"$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO\"\n    scopes: [\(scopes.joined(separator: ", "))]\n"
        daemon = try TestDaemon(policyYAML: policy, usersYAML: users)
        var tokens: [String: String] = [:]
        for host in Self.hosts { tokens[host] = try daemon.token(subject: "corpus", scopes: [Self.scope(host)]) }
        self.tokens = tokens
        hostless = try daemon.token(subject: "corpus", scopes: ["hostless"])
    }

    enum Convention: String, CaseIterable, CustomStringConvertible {
        /// nginx `auth_request`: X-Original-URI and X-Forwarded-Host from the recipe.
        case nginx
        /// nginx with an absolute-form original URI and no X-Forwarded-Host.
        case nginxAbsoluteForm
        /// Traefik `forwardAuth` and Caddy `forward_auth`: X-Forwarded-Uri and X-Forwarded-Host.
        case forwardedHeaders
        /// Envoy `ext_authz`: the original path after /auth, the original Host as the check request's own.
        case envoy
        var description: String { rawValue }
    }

    /// The check request for `row` in `convention`, or nil when the convention cannot carry its bytes.
    func head(_ row: HostCorpusEntry, _ convention: Convention, token: String) -> [UInt8]? {
        // A header field cannot carry a line break.
        if row.host.contains(0x0D) || row.host.contains(0x0A) { return nil }
        let host = row.host
        let proto = row.scheme.map { Array("X-Forwarded-Proto: \($0)\r\n".utf8) } ?? []
        var bytes: [UInt8]
        switch convention {
        case .nginx:
            bytes =
                Array("GET /auth HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Original-URI: /x\r\nX-Original-Method: GET\r\nX-Forwarded-Host: ".utf8) + host + [0x0D, 0x0A]
                + proto
        case .nginxAbsoluteForm:
            // The authority ends at the first "/", "?" or "#"; a target names its scheme.
            guard let scheme = row.scheme, !host.contains(where: { [UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#")].contains($0) }) else { return nil }
            bytes = Array("GET /auth HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Original-Method: GET\r\nX-Original-URI: \(scheme)://".utf8) + host + Array("/x\r\n".utf8)
        case .forwardedHeaders:
            bytes =
                Array("GET /auth HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Uri: /x\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Host: ".utf8) + host + [
                    0x0D, 0x0A,
                ] + proto
        case .envoy:
            bytes = Array("GET /auth/x HTTP/1.1\r\nHost: ".utf8) + host + [0x0D, 0x0A] + proto
        }
        return bytes + Array("Authorization: Bearer \(token)\r\nConnection: close\r\n\r\n".utf8)
    }

    func status(_ head: [UInt8]) throws -> Int {
        let connection = try TestHTTPConnection(port: daemon.port)
        try connection.send(head)
        return try connection.readResponse().status
    }

    @Test(arguments: Convention.allCases)
    func everyRowDecidesAsItsCanonicalHost(_ convention: Convention) throws {
        var checked = 0
        for row in Self.corpus {
            // Trailing white space reaches the canonicalizer as sent (libmicrohttpd keeps it), and is refused.
            guard let withHostless = head(row, convention, token: hostless) else { continue }
            checked += 1
            let refused = try status(withHostless)
            if let host = row.expected {
                #expect(try status(head(row, convention, token: tokens[host]!)!) == 200, "\(row) as \(host) (\(convention))")
                #expect(refused != 200, "\(row) (\(convention)) fell back to the rule for every host")
            } else {
                // Refused by ScopeGate (403) or, for bytes HTTP itself forbids, by the HTTP layer (400).
                #expect(refused == 403 || refused == 400, "\(row) (\(convention)): \(refused)")
                for (host, token) in tokens where try status(head(row, convention, token: token)!) == 200 {
                    Issue.record("\(row) (\(convention)) passed as \(host)")
                }
            }
        }
        #expect(checked >= (convention == .nginxAbsoluteForm ? 30 : 40), "\(checked) rows")
    }

    /// Every row as the Host a client sends to real nginx and Caddy, each serving every host: a row passes
    /// with at most one token, as the host the application is told (nginx's `$host`, Caddy's Host as
    /// received): that host's rule, or the rule for every host only when that host has none of its own.
    /// Spellings of one host are that host through both.
    @Test func everyRowThroughTheProxiesIsTheHostTheApplicationSees() throws {
        let app = try makeEchoApp()
        let nginx = try startNginx(scopegate: daemon.port, app: app.port, serverNames: "~.")
        let caddy = try startCaddy(scopegate: daemon.port, app: app.port, everyHost: true)
        for (name, proxy) in [("nginx", nginx.port), ("caddy", caddy.port)] {
            var passedRows = 0
            for row in Self.corpus where !row.host.contains(0x0D) && !row.host.contains(0x0A) {
                func through(_ token: String) throws -> TestHTTPResponse {
                    let connection = try TestHTTPConnection(port: proxy)
                    try connection.send(
                        Array("GET /x HTTP/1.1\r\nHost: ".utf8) + row.host + Array("\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n".utf8))
                    return try connection.readResponse()
                }
                var passed: [(String?, TestHTTPResponse)] = []
                for host in Self.hosts + [nil] {
                    let answer = try through(host.map { tokens[$0]! } ?? hostless)
                    if answer.status == 200 { passed.append((host, answer)) }
                }
                #expect(passed.count <= 1, "\(row) through \(name) passed as \(passed.map { $0.0 ?? "every host" })")
                guard let (host, answer) = passed.first else { continue }
                passedRows += 1
                // What the application was told is the host decided on: a host of the policy's, or one
                // without rules of its own (nginx's $host drops the port) for the rule for every host.
                let told = try #require(answer.header("App-Host"))
                let canonical = try CanonicalHost(Array(told.utf8), scheme: "http").description
                if let host {
                    #expect(canonical == host, "\(row) through \(name): passed as \(host), the application was told \(told)")
                } else {
                    #expect(!Self.hosts.contains(canonical), "\(row) through \(name): the application was told \(told), decided as every host")
                }
            }
            // The plain spellings of a host pass through both proxies as that host.
            for spelling in ["admin.example.com", "Admin.Example.COM", "XN--ADMN-6QA.example.com", "internal_service"] {
                let connection = try TestHTTPConnection(port: proxy)
                try connection.send(
                    "GET /x HTTP/1.1\r\nHost: \(spelling)\r\nAuthorization: Bearer \(tokens[spelling.lowercased()]!)\r\nConnection: close\r\n\r\n")
                #expect(try connection.readResponse().status == 200, "\(spelling) through \(name)")
            }
            #expect(passedRows >= 8, "\(passedRows) rows passed through \(name)")
        }
    }
}
