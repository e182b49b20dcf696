import Foundation
import Testing
import ScopeGateApp
import ScopeGateHTTP
import ScopeGateTesting

/// A free loopback port, found by binding port 0 (the kernel does not hand it out again at once).
func freePort() throws -> UInt16 {
    let server = try HTTPServer(
        configuration: {
            var c = HTTPServerConfiguration(); c.port = 0; c.threads = 1; c.workerThreads = 1; return c
        }()
    ) { _ in
        .respond(HTTPResponse(status: 204))
    }
    let port = server.port
    server.stop()
    return port
}

/// Debian's nginx running `docker/nginx/default.conf.template`, rendered as the official image renders it.
/// `serverNames`: the template's NGINX_SERVER_NAMES, the hosts nginx serves (others get 421).
func startNginx(scopegate: UInt16, app: UInt16, serverNames: String = "127.0.0.1 localhost") throws -> ProxyProcess {
    try startNginx(replicas: [scopegate], app: app, serverNames: serverNames)
}

/// The same with several ScopeGate replicas in the template's upstream pool.
func startNginx(replicas: [UInt16], app: UInt16, serverNames: String = "127.0.0.1 localhost") throws -> ProxyProcess {
    try ProxyProcess(
        name: "nginx", candidates: ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"], package: "nginx-light",
        configure: { directory, port in
            let template = try String(contentsOf: repositoryRoot.appendingPathComponent("docker/nginx/default.conf.template"), encoding: .utf8)
            let rendered =
                template
                .replacingOccurrences(of: "${SCOPEGATE_ADDRESS}", with: replicas.map { "127.0.0.1:\($0)" }.joined(separator: ";\n    server "))
                .replacingOccurrences(of: "${APP_ADDRESS}", with: "127.0.0.1:\(app)")
                .replacingOccurrences(of: "${NGINX_PORT}", with: "127.0.0.1:\(port)")
                .replacingOccurrences(of: "${NGINX_SERVER_NAMES}", with: serverNames)
            #expect(!rendered.contains("${"), "the template has a variable the test does not set")
            try rendered.write(to: directory.appendingPathComponent("default.conf"), atomically: true, encoding: .utf8)
            let path = directory.path
            let main = """
                daemon off;
                master_process off;
                pid \(path)/nginx.pid;
                error_log \(path)/error.log warn;
                events { worker_connections 256; }
                http {
                    access_log off;
                    client_body_temp_path \(path)/body;
                    proxy_temp_path \(path)/proxy;
                    fastcgi_temp_path \(path)/fastcgi;
                    uwsgi_temp_path \(path)/uwsgi;
                    scgi_temp_path \(path)/scgi;
                    include \(path)/default.conf;
                }
                """
            try main.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
            return (["-p", path, "-c", "\(path)/nginx.conf", "-e", "\(path)/error.log"], nil)
        }, log: { directory in (try? String(contentsOf: directory.appendingPathComponent("error.log"), encoding: .utf8)) ?? "" })
}

@Suite(.serialized) struct NginxEndToEndTests {
    let scopegate: TestDaemon
    let app: HTTPServer
    let nginx: ProxyProcess
    var demo: ProxiedDemo { ProxiedDemo(proxy: nginx.port, scopegate: scopegate) }

    init() throws {
        scopegate = try TestDaemon()
        app = try makeEchoApp()
        nginx = try startNginx(scopegate: scopegate.port, app: app.port)
    }

    @Test func forwardsTheIdentityTokenAndNoClientCopy() throws {
        let daemon = try ProxiedDemo.identityTokenDaemon()
        let proxy = try startNginx(scopegate: daemon.port, app: app.port)
        try ProxiedDemo(proxy: proxy.port, scopegate: daemon).expectIdentityTokenForwarded()
    }

    @Test func machineClientsGetAndUseTokensThroughTheProxy() throws {
        let daemon = try ProxiedDemo.clientsDaemon()
        let proxy = try startNginx(scopegate: daemon.port, app: app.port)
        try ProxiedDemo(proxy: proxy.port, scopegate: daemon).expectClientCredentialsThroughTheProxy()
        try ProxiedDemo(proxy: proxy.port, scopegate: daemon).expectRevocationThroughTheProxy()
        try ProxiedDemo(proxy: proxy.port, scopegate: daemon).expectRefreshThroughTheProxy()
    }

    @Test func protectsTheApplication() throws {
        try demo.expectProtection(bodiesPassed: false)
    }

    @Test func oneLocationServesEveryHostsRules() throws {
        let daemon = try TestDaemon(policyYAML: ProxiedDemo.hostPolicy)
        let proxy = try startNginx(scopegate: daemon.port, app: app.port, serverNames: "admin.example.com www.example.com .tenant.example.com")
        let proxied = ProxiedDemo(proxy: proxy.port, scopegate: daemon)
        try proxied.expectHostRules()
        // A host the gateway does not serve never reaches the check.
        #expect(try proxied.through(host: "other.example.net", "/public/a", token: nil) == 421)
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
