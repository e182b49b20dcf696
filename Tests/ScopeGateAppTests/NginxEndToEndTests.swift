import Foundation
import Testing
import ScopeGateApp
import ScopeGateHTTP
import ScopeGateTesting

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A free loopback port, found by binding port 0 (the kernel does not hand it out again at once).
func freePort() throws -> UInt16 {
    let server = try HTTPServer(configuration: { var c = HTTPServerConfiguration(); c.port = 0; c.threads = 1; c.workerThreads = 1; return c }()) { _ in
        .respond(HTTPResponse(status: 204))
    }
    let port = server.port
    server.stop()
    return port
}

/// Debian's nginx running `docker/nginx/default.conf.template`, rendered as the official image renders it.
final class NginxProcess {
    let port: UInt16
    private let process = Process()
    private let directory: URL

    init(scopegate: UInt16, app: UInt16) throws {
        let binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let binary else {
            throw TestHTTPError(description: "nginx is not installed (apt-get install nginx-light); the end-to-end test needs it")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freePort()
        let template = try String(contentsOf: repositoryRoot.appendingPathComponent("docker/nginx/default.conf.template"), encoding: .utf8)
        let rendered = template
            .replacingOccurrences(of: "${SCOPEGATE_ADDRESS}", with: "127.0.0.1:\(scopegate)")
            .replacingOccurrences(of: "${APP_ADDRESS}", with: "127.0.0.1:\(app)")
            .replacingOccurrences(of: "${NGINX_PORT}", with: "127.0.0.1:\(port)")
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
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-p", path, "-c", "\(path)/nginx.conf", "-e", "\(path)/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while (try? TestHTTPConnection(port: port)) == nil {
            guard process.isRunning, Date() < deadline else {
                let log = (try? String(contentsOf: directory.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
                throw TestHTTPError(description: "nginx did not start: \(log)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    deinit {
        // SIGKILL: a child started from a test thread may inherit a mask that blocks SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite(.serialized) struct NginxEndToEndTests {
    let scopegate: TestDaemon
    let app: HTTPServer
    let nginx: NginxProcess

    init() throws {
        scopegate = try TestDaemon()
        // The protected application: echoes the identity headers it receives.
        app = try HTTPServer(configuration: { var c = HTTPServerConfiguration(); c.port = 0; c.threads = 1; return c }()) { request in
            let names = ["X-Auth-User", "X-Auth-Scopes", "X-Auth-Email", "X-Auth-Name"]
            let seen = names.map { "\($0)=\(request.headers.rawValues($0).map { String(decoding: $0, as: UTF8.self) })" }
            return .respond(HTTPResponse(status: 200, body: Array("app \(request.pathText) \(seen.joined(separator: " "))".utf8)))
        }
        nginx = try NginxProcess(scopegate: scopegate.port, app: app.port)
    }

    func through(_ target: String, method: String = "GET", headers: [(String, String)] = [], body: [UInt8] = []) throws -> TestHTTPResponse {
        try sendRequest(port: nginx.port, method: method, target: target, headers: headers, body: body)
    }

    @Test func protectsTheApplication() throws {
        // Log in through nginx.
        let login = try through("/token", method: "POST", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                body: formBody([("username", "johndoe"), ("password", "secret"), ("scope", "me items")]))
        #expect(login.status == 200)
        let token = try #require(try JSONSerialization.jsonObject(with: Data(login.body)) as? [String: Any])["access_token"] as? String
        let bearer = ("Authorization", "Bearer \(try #require(token))")

        let allowed = try through("/users/me/items/?page=1", headers: [bearer])
        #expect(allowed.status == 200)
        #expect(allowed.text == #"app /users/me/items/ X-Auth-User=["johndoe"] X-Auth-Scopes=["me items"] X-Auth-Email=["johndoe@example.com"] X-Auth-Name=["John Doe"]"#)

        let challenged = try through("/users/me/")
        #expect(challenged.status == 401)
        #expect(challenged.header("WWW-Authenticate") == "Bearer scope=\"me\"")

        let insufficient = try through("/users/me/items/", headers: [("Authorization", "Bearer \(try scopegate.token(scopes: ["me"]))")])
        #expect(insufficient.status == 401)
        #expect(insufficient.header("WWW-Authenticate") == "Bearer scope=\"me items\"")

        #expect(try through("/elsewhere", headers: [bearer]).status == 403)
        #expect(try through("/admin/x", method: "POST", headers: [bearer]).status == 403)
        #expect(try through("/users/me/", headers: [("Authorization", "Bearer \(try scopegate.token(subject: "alice", scopes: ["me"]))")]).status == 403)
    }

    @Test func clientsCannotSpoofIdentity() throws {
        let token = try scopegate.token(scopes: ["me"])
        let spoofed = try through("/users/me/", headers: [("Authorization", "Bearer \(token)"), ("X-Auth-User", "root"), ("X-Auth-Scopes", "admin")])
        #expect(spoofed.status == 200)
        #expect(spoofed.text.contains(#"X-Auth-User=["johndoe"]"#))
        #expect(spoofed.text.contains(#"X-Auth-Scopes=["me"]"#))
        #expect(!spoofed.text.contains("root"))
        let publicPage = try through("/public/page", headers: [("X-Auth-User", "root")])
        #expect(publicPage.status == 200)
        #expect(publicPage.text == #"app /public/page X-Auth-User=[] X-Auth-Scopes=[] X-Auth-Email=[] X-Auth-Name=[]"#)
        // The client's own forwarded-URI header cannot steer the decision.
        let steered = try through("/users/me/", headers: [("X-Forwarded-Uri", "/public/x"), ("X-Original-URI", "/public/x")])
        #expect(steered.status == 401)
    }

    @Test func pathTricksNeverReachACheaperRule() throws {
        #expect(try through("/public/../users/me/").status == 401)
        #expect(try through("/public/%2e%2e/users/me/").status == 401)
        #expect(try through("/public/..;/users/me/").status == 403)
        #expect(try through("/public%2F..%2Fusers/me/").status == 403)
        #expect(try through("/public/x").status == 200)
    }
}
