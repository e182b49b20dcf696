import Foundation
import Testing
import ScopeGateApp
import ScopeGateHTTP
import ScopeGateTesting

/// Debian's caddy running `docker/caddy/Caddyfile`, which reads its addresses from the environment.
final class CaddyProcess {
    let port: UInt16
    private let process = Process()
    private let directory: URL
    private let output = Pipe()

    init(scopegate: UInt16, app: UInt16) throws {
        let binary = ["/usr/bin/caddy", "/usr/local/bin/caddy"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let binary else {
            throw TestHTTPError(description: "caddy is not installed (apt-get install caddy); the Caddy end-to-end test needs it")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-caddy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freePort()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--config", repositoryRoot.appendingPathComponent("docker/caddy/Caddyfile").path, "--adapter", "caddyfile"]
        process.environment = [
            "SCOPEGATE_ADDRESS": "127.0.0.1:\(scopegate)", "APP_ADDRESS": "127.0.0.1:\(app)", "CADDY_ADDRESS": "http://127.0.0.1:\(port)",
            "HOME": directory.path, "XDG_DATA_HOME": directory.path, "XDG_CONFIG_HOME": directory.path,
            "PATH": "/usr/bin:/bin",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = output
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while (try? TestHTTPConnection(port: port)) == nil {
            guard process.isRunning, Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                let log = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
                throw TestHTTPError(description: "caddy did not start: \(log)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite(.serialized) struct CaddyEndToEndTests {
    let scopegate: TestDaemon
    let app: HTTPServer
    let caddy: CaddyProcess

    init() throws {
        scopegate = try TestDaemon()
        app = try HTTPServer(configuration: { var c = HTTPServerConfiguration(); c.port = 0; c.threads = 1; return c }()) { request in
            let names = ["X-Auth-User", "X-Auth-Scopes", "X-Auth-Email", "X-Auth-Name"]
            let seen = names.map { "\($0)=\(request.headers.rawValues($0).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) })" }
            return .respond(HTTPResponse(status: 200, body: Array("app \(request.method) \(request.pathText) \(seen.joined(separator: " "))".utf8)))
        }
        caddy = try CaddyProcess(scopegate: scopegate.port, app: app.port)
    }

    func through(_ target: String, method: String = "GET", headers: [(String, String)] = [], body: [UInt8] = []) throws -> TestHTTPResponse {
        try sendRequest(port: caddy.port, method: method, target: target, headers: headers, body: body)
    }

    @Test func protectsTheApplication() throws {
        let login = try through("/token", method: "POST", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                body: formBody([("username", "johndoe"), ("password", "secret"), ("scope", "me items")]))
        #expect(login.status == 200)
        let token = try #require(try JSONSerialization.jsonObject(with: Data(login.body)) as? [String: Any])["access_token"] as? String
        let bearer = ("Authorization", "Bearer \(try #require(token))")

        let allowed = try through("/users/me/items/?page=1", headers: [bearer])
        #expect(allowed.status == 200)
        #expect(allowed.text == #"app GET /users/me/items/ X-Auth-User=["johndoe"] X-Auth-Scopes=["me items"] X-Auth-Email=["johndoe@example.com"] X-Auth-Name=["John Doe"]"#)

        let challenged = try through("/users/me/")
        #expect(challenged.status == 401)
        #expect(challenged.header("WWW-Authenticate") == "Bearer scope=\"me\"")
        #expect(challenged.text == #"{"detail":"Not authenticated"}"#)

        let insufficient = try through("/users/me/items/", headers: [("Authorization", "Bearer \(try scopegate.token(scopes: ["me"]))")])
        #expect(insufficient.status == 401)
        #expect(insufficient.header("WWW-Authenticate") == "Bearer scope=\"me items\"")

        #expect(try through("/elsewhere", headers: [bearer]).status == 403)
        // The original method reaches ScopeGate: /admin/** allows GET only.
        let adminToken = ("Authorization", "Bearer \(try scopegate.token(subject: "bob", scopes: ["admin"]))")
        #expect(try through("/admin/x", headers: [adminToken]).status == 200)
        #expect(try through("/admin/x", method: "DELETE", headers: [adminToken]).status == 403)
    }

    @Test func clientsCannotSpoofIdentityOrTheOriginalRequest() throws {
        let token = try scopegate.token(scopes: ["me"])
        let spoofed = try through("/users/me/", headers: [("Authorization", "Bearer \(token)"), ("X-Auth-User", "root"), ("X-Auth-Scopes", "admin")])
        #expect(spoofed.status == 200)
        #expect(spoofed.text.contains(#"X-Auth-User=["johndoe"]"#))
        #expect(spoofed.text.contains(#"X-Auth-Scopes=["me"]"#))
        #expect(!spoofed.text.contains("root"))
        let publicPage = try through("/public/page", headers: [("X-Auth-User", "root")])
        #expect(publicPage.status == 200)
        #expect(!publicPage.text.contains("root"))
        // Caddy sets X-Forwarded-Uri and -Method itself; a client's copies cannot steer the decision.
        #expect(try through("/users/me/", headers: [("X-Forwarded-Uri", "/public/x"), ("X-Forwarded-Method", "GET")]).status == 401)
        #expect(try through("/admin/x", method: "DELETE", headers: [("X-Forwarded-Method", "GET"),
                                                                   ("Authorization", "Bearer \(try scopegate.token(subject: "bob", scopes: ["admin"]))")]).status == 403)
    }

    @Test func pathTricksNeverReachACheaperRule() throws {
        #expect(try through("/public/../users/me/").status == 401)
        #expect(try through("/public/%2e%2e/users/me/").status == 401)
        #expect(try through("/public%2F..%2Fusers/me/").status == 403)
        #expect(try through("/public/x").status == 200)
    }
}
