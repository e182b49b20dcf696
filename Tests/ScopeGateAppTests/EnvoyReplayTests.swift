import Foundation
import Testing
import ScopeGateApp
import ScopeGateTesting
import Yams

/// Replays the check requests Envoy's `ext_authz` HTTP service sends, as `docker/envoy/envoy.yaml` configures
/// it: the original method, `path_prefix` followed by the original path and query, and only the headers Envoy
/// always passes (Host, Authorization, Content-Length).
@Suite struct EnvoyReplayTests {
    let daemon: TestDaemon
    let prefix: String
    let upstreamHeaders: [String]
    let clientHeaders: [String]

    init() throws {
        let configuration = try dockerConfiguration("docker/envoy/envoy.yaml")
        let listeners = try #require(member(configuration, "static_resources", "listeners") as? [Any])
        let chains = try #require(member(listeners.first, "filter_chains") as? [Any])
        let filters = try #require(member(chains.first, "filters") as? [Any])
        let httpFilters = try #require(member(filters.first, "typed_config", "http_filters") as? [Any])
        let extAuthz = try #require(httpFilters.first { member($0, "name") as? String == "envoy.filters.http.ext_authz" })
        let service = member(extAuthz, "typed_config", "http_service")
        prefix = try #require(member(service, "path_prefix") as? String)
        #expect(member(extAuthz, "typed_config", "failure_mode_allow") as? Bool == false)
        let upstream = try #require(member(service, "authorization_response", "allowed_upstream_headers", "patterns") as? [Any])
        upstreamHeaders = upstream.compactMap { member($0, "exact") as? String }
        let client = try #require(member(service, "authorization_response", "allowed_client_headers", "patterns") as? [Any])
        clientHeaders = client.compactMap { member($0, "exact") as? String }
        daemon = try TestDaemon()
    }

    func check(_ method: String, _ path: String, token: String? = nil) throws -> TestHTTPResponse {
        // sendRequest writes Host, and Content-Length: 0 on a POST, as Envoy does.
        var headers: [(String, String)] = []
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return try sendRequest(port: daemon.port, method: method, target: prefix + path, headers: headers)
    }

    @Test func answersWhatEnvoyExpects() throws {
        #expect(prefix == "/auth")
        let token = try daemon.token(scopes: ["me", "items"])
        let allowed = try check("GET", "/users/me/items/?page=2", token: token)
        #expect(allowed.status == 200)
        #expect(upstreamHeaders == ["x-auth-user", "x-auth-client", "x-auth-scopes", "x-auth-email", "x-auth-name"])
        #expect(upstreamHeaders.map { allowed.header($0) ?? "<missing>" } == ["johndoe", "", "me items", "johndoe@example.com", "John Doe"])

        let challenged = try check("GET", "/users/me/")
        #expect(challenged.status == 401)
        #expect(clientHeaders == ["www-authenticate"])
        #expect(challenged.header("WWW-Authenticate") == #"Bearer scope="me""#)

        // The original method is the check request's own.
        let admin = try daemon.token(subject: "bob", scopes: ["admin"])
        #expect(try check("GET", "/admin/x", token: admin).status == 200)
        #expect(try check("HEAD", "/admin/x", token: admin).status == 200)
        #expect(try check("POST", "/admin/x", token: admin).status == 403)
        #expect(try check("GET", "/public/..%2Fusers/me/").status == 403)
        #expect(try check("GET", "/public/x").status == 200)
    }
}
