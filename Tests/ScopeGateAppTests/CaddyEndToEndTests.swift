import Foundation
import Testing
import ScopeGateApp
import ScopeGateHTTP
import ScopeGateTesting

/// Debian's caddy running `docker/caddy/Caddyfile`, which reads its addresses from the environment.
/// `everyHost`: serve every host name (a site address without one), not only 127.0.0.1; `sites`: serve
/// those host names, one site address each (CADDY_ADDRESS as a comma-separated list).
func startCaddy(scopegate: UInt16, app: UInt16, identityHeader: String = "", everyHost: Bool = false, sites: [String] = []) throws -> ProxyProcess {
    try ProxyProcess(name: "caddy", candidates: ["/usr/bin/caddy", "/usr/local/bin/caddy"], package: "caddy") { directory, port in
        (
            ["run", "--config", repositoryRoot.appendingPathComponent("docker/caddy/Caddyfile").path, "--adapter", "caddyfile"],
            [
                "SCOPEGATE_ADDRESS": "127.0.0.1:\(scopegate)", "APP_ADDRESS": "127.0.0.1:\(app)",
                "CADDY_ADDRESS": !sites.isEmpty
                    ? sites.map { "http://\($0):\(port)" }.joined(separator: ", ") : everyHost ? "http://:\(port)" : "http://127.0.0.1:\(port)",
                "SCOPEGATE_IDENTITY_HEADER": identityHeader,
                "HOME": directory.path, "XDG_DATA_HOME": directory.path, "XDG_CONFIG_HOME": directory.path, "PATH": "/usr/bin:/bin",
            ]
        )
    }
}

@Suite(.serialized) struct CaddyEndToEndTests {
    let scopegate: TestDaemon
    let app: HTTPServer
    let caddy: ProxyProcess
    var demo: ProxiedDemo { ProxiedDemo(proxy: caddy.port, scopegate: scopegate) }

    init() throws {
        scopegate = try TestDaemon()
        app = try makeEchoApp()
        caddy = try startCaddy(scopegate: scopegate.port, app: app.port)
    }

    @Test func forwardsTheIdentityTokenAndNoClientCopy() throws {
        let daemon = try ProxiedDemo.identityTokenDaemon()
        let proxy = try startCaddy(scopegate: daemon.port, app: app.port, identityHeader: "X-Auth-Token")
        try ProxiedDemo(proxy: proxy.port, scopegate: daemon).expectIdentityTokenForwarded()
    }

    @Test func machineClientsGetAndUseTokensThroughTheProxy() throws {
        let daemon = try ProxiedDemo.clientsDaemon()
        let proxy = try startCaddy(scopegate: daemon.port, app: app.port)
        try ProxiedDemo(proxy: proxy.port, scopegate: daemon).expectClientCredentialsThroughTheProxy()
        try ProxiedDemo(proxy: proxy.port, scopegate: daemon).expectRevocationThroughTheProxy()
        try ProxiedDemo(proxy: proxy.port, scopegate: daemon).expectRefreshThroughTheProxy()
    }

    @Test func protectsTheApplication() throws {
        try demo.expectProtection(bodiesPassed: true)
    }

    @Test func oneSiteServesEveryHostsRules() throws {
        let daemon = try TestDaemon(policyYAML: ProxiedDemo.hostPolicy)
        let proxy = try startCaddy(scopegate: daemon.port, app: app.port, everyHost: true)
        try ProxiedDemo(proxy: proxy.port, scopegate: daemon).expectHostRules()
    }

    /// Several sites in one Caddyfile (CADDY_ADDRESS lists them), all with the one forward_auth block.
    @Test func severalSitesShareTheCheck() throws {
        let daemon = try TestDaemon(policyYAML: ProxiedDemo.hostPolicy)
        let sites = ["admin.example.com", "www.example.com", "tenant.example.com", "*.tenant.example.com"]
        let proxy = try startCaddy(scopegate: daemon.port, app: app.port, sites: sites)
        let proxied = ProxiedDemo(proxy: proxy.port, scopegate: daemon)
        try proxied.expectHostRules()
        // A host no site serves never reaches the check or the application.
        let connection = try TestHTTPConnection(port: proxy.port)
        try connection.send("GET /public/a HTTP/1.1\r\nHost: other.example.net\r\nConnection: close\r\n\r\n")
        let answer = try connection.readResponse()
        #expect(!answer.text.hasPrefix("app "), "\(answer.status) \(answer.text)")
    }

    @Test func identityComesFromScopeGateOnly() throws {
        try demo.expectIdentityFromScopeGateOnly()
    }

    @Test func cookiesStayOutOfTheSubrequest() throws {
        try demo.expectCookiesKeptFromScopeGate()
    }

    @Test func pathTricksNeverReachACheaperRule() throws {
        try demo.expectPathTricksRefused()
    }
}
