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
