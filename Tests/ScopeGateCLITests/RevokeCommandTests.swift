import Foundation
import ScopeGateTesting
import Synchronization
import Testing

/// `serve --store` and `scopegate revoke` against the same store while the server runs.
@Suite struct RevokeCommandTests: RefreshingServer {
    let users = try! temporaryFile(
        "users.yaml", "users:\n  bob:\n    password_hash: \"$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO\"\n    scopes: [me]\n")
    let secret = try! temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n")
    let policy = try! temporaryFile("policy.yaml", "rules:\n  - path: /me\n    scopes: [me]\n")

    func login(_ port: UInt16) throws -> String {
        let answer = try sendRequest(
            port: port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("username", "bob"), ("password", "secret"), ("scope", "me")]))
        return try #require((try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])?["access_token"] as? String)
    }

    @Test func aRevocationFromTheCommandLineReachesTheRunningServer() throws {
        let store = "sqlite:" + URL(fileURLWithPath: policy).deletingLastPathComponent().appendingPathComponent("state.db").path
        let server = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", secret, "--store", store])
        let token = try login(server.port)
        #expect(try auth(server.port, token) == 200)
        let revoked = try run(["revoke", "--store", store, "--user", "bob"])
        #expect(revoked.status == 0, "\(revoked.errors)")
        #expect(revoked.output.hasPrefix("revoked every token issued to user bob before "))
        #expect(waitUntil(timeout: 3) { (try? auth(server.port, token)) == 401 })
        // One token by its jti.
        Thread.sleep(forTimeInterval: 1.1)
        let next = try login(server.port)
        #expect(try auth(server.port, next) == 200)
        let payload = try #require(base64URLDecoded(next.split(separator: ".")[1]))
        let jti = try #require((try JSONSerialization.jsonObject(with: payload) as? [String: Any])?["jti"] as? String)
        let byID = try run(["revoke", "--store", store, "--jti", jti])
        #expect(byID.status == 0, "\(byID.errors)")
        #expect(waitUntil(timeout: 3) { (try? auth(server.port, next)) == 401 })
        #expect(server.stop() == 0)
        // A jti is base64url: one that starts with "-" is still the value of --jti.
        let dashed = try run(["revoke", "--store", store, "--jti", "-Zk3q", "--until", "60"])
        #expect(dashed.status == 0, "\(dashed.errors)")
        // Refused: no target, two targets, a store that is not one.
        #expect(try run(["revoke", "--store", store]).status != 0)
        #expect(try run(["revoke", "--store", store, "--user", "a", "--client", "b"]).status != 0)
        let bad = try run(["serve", "--policy", policy, "--users", users, "--secret-file", secret, "--store", "mysql://x"])
        #expect(bad.status != 0 && bad.errors.contains("expected sqlite:PATH or postgres://"))
        // A PostgreSQL server that is not there: refused at start, its password never shown.
        let absent = try run([
            "serve", "--policy", policy, "--users", users, "--secret-file", secret, "--store", "postgres://scopegate:s3cret@127.0.0.1:1/x?connect_timeout=2",
        ])
        #expect(absent.status != 0 && absent.errors.contains("postgres://scopegate:***@127.0.0.1:1/x") && !absent.errors.contains("s3cret"), "\(absent.errors)")
    }

    /// A revocation answered 200 is on disk: killed with SIGKILL right after, the server restarted on the
    /// same store still refuses the token.
    @Test func aRevocationSurvivesKill9() throws {
        let store = "sqlite:" + URL(fileURLWithPath: policy).deletingLastPathComponent().appendingPathComponent("killed.db").path
        let server = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", secret, "--store", store])
        let token = try login(server.port)
        let revoked = try sendRequest(
            port: server.port, method: "POST", target: "/revoke", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("token", token)]))
        #expect(revoked.status == 200)
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        #expect(server.process.terminationReason == .uncaughtSignal)
        let restarted = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", secret, "--store", store])
        #expect(try auth(restarted.port, token) == 401)
        #expect(try auth(restarted.port, try login(restarted.port)) == 200)
        #expect(restarted.stop() == 0)
    }
}

/// Refresh tokens in the store `serve` keeps: what a redemption answered survives `kill -9`, and
/// `scopegate revoke --family` ends a login while the server runs.
@Suite struct RefreshStoreCommandTests: RefreshingServer {
    let users = try! temporaryFile(
        "users.yaml", "users:\n  bob:\n    password_hash: \"$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO\"\n    scopes: [me]\n")
    let secret = try! temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n")
    let policy = try! temporaryFile("policy.yaml", "rules:\n  - path: /me\n    scopes: [me]\n")

    /// A start that fails on a file creates no store: the state folder stays as it was.
    @Test func aFailedStartLeavesNoStore() throws {
        let folder = URL(fileURLWithPath: policy).deletingLastPathComponent().appendingPathComponent("state-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let broken = try temporaryFile("broken.yaml", "rules:\n  - path: nope\n    scopes: []\n")
        let failed = try run(["serve", "--policy", broken, "--users", users, "--secret-file", secret, "--state-dir", folder])
        #expect(failed.status != 0 && failed.errors.contains("a path pattern must start with"), "\(failed.errors)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    @Test func aRedemptionSurvivesKill9AndALoginEndsFromTheCommandLine() throws {
        let folder = URL(fileURLWithPath: policy).deletingLastPathComponent().appendingPathComponent("state-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let arguments = ["--policy", policy, "--users", users, "--secret-file", secret, "--state-dir", folder, "--refresh-token-lifetime", "3600"]
        let server = try ServingProcess(arguments)
        #expect(server.log.contains("\(folder)/scopegate.db"))
        #expect(FileManager.default.fileExists(atPath: folder + "/scopegate.db"))
        let login = try tokens(try token(server.port, [("username", "bob"), ("password", "secret"), ("scope", "me")]))
        let successor = try tokens(try redeem(server.port, login.refresh))
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        let restarted = try ServingProcess(arguments)
        // The answered redemption is on disk: the spent token is spent, its successor redeems.
        let next = try tokens(try redeem(restarted.port, successor.refresh))
        #expect(try auth(restarted.port, next.access) == 200)
        let payload = try #require(base64URLDecoded(next.access.split(separator: ".")[1]))
        let family = try #require((try JSONSerialization.jsonObject(with: payload) as? [String: Any])?["sid"] as? String)
        // revoke --family finds the store in --state-dir as serve does.
        let revoked = try run(["revoke", "--state-dir", folder, "--family", family])
        #expect(revoked.status == 0, "\(revoked.errors)")
        #expect(revoked.output.contains("revoked login \(family)"))
        #expect(try redeem(restarted.port, next.refresh).status == 400)
        #expect(waitUntil(timeout: 3) { (try? auth(restarted.port, next.access)) == 401 })
        let unknown = try run(["revoke", "--state-dir", folder, "--family", "no-such-login"])
        #expect(unknown.status != 0 && unknown.errors.contains("no login no-such-login"))
        #expect(restarted.stop() == 0)
    }

    /// Killed with SIGKILL while eight clients redeem as fast as they can: the store is intact, and every
    /// refresh token a client received is in it (redeemable, or spent by a redemption whose answer the
    /// kill lost).
    @Test func killedMidRedemptionsTheStoreKeepsEveryAnsweredToken() throws {
        let folder = URL(fileURLWithPath: policy).deletingLastPathComponent().appendingPathComponent("state-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let arguments = ["--policy", policy, "--users", users, "--secret-file", secret, "--state-dir", folder, "--refresh-token-lifetime", "3600"]
        let server = try ServingProcess(arguments)
        let port = server.port
        let logins = try (0..<8).map { _ in try tokens(try token(port, [("username", "bob"), ("password", "secret"), ("scope", "me")])).refresh }
        let received = Mutex<[String]>(logins)
        let group = DispatchGroup()
        for chain in 0..<8 {
            group.enter()
            Thread {
                var current = logins[chain]
                while let answer = try? redeem(port, current), answer.status == 200, let next = try? tokens(answer).refresh {
                    received.withLock { $0.append(next) }
                    current = next
                }
                group.leave()
            }.start()
        }
        Thread.sleep(forTimeInterval: 1)
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        group.wait()
        let answered = received.withLock { $0 }
        #expect(answered.count > 16, "only \(answered.count) tokens")
        let check = try runPython(
            """
            import base64, hashlib, sqlite3, sys
            connection = sqlite3.connect(sys.argv[1])
            print(connection.execute("PRAGMA integrity_check").fetchone()[0])
            missing = 0
            for token in sys.stdin.read().split():
                key = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
                if connection.execute("SELECT 1 FROM refresh_tokens WHERE hash = ?", (key,)).fetchone() is None:
                    missing += 1
            print(missing)
            """, arguments: [folder + "/scopegate.db"], input: answered.joined(separator: "\n"))
        #expect(check.split(separator: "\n").map(String.init) == ["ok", "0"], "\(check)")
    }

    /// Login regulation is kept in the store: a ban earned before a restart still holds after it.
    @Test func aBanOutlivesARestart() throws {
        let folder = URL(fileURLWithPath: policy).deletingLastPathComponent().appendingPathComponent("state-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let arguments = [
            "--policy", policy, "--users", users, "--secret-file", secret, "--state-dir", folder, "--regulate-after-pair", "2",
            "--regulation-first-ban", "60",
        ]
        let server = try ServingProcess(arguments)
        let wrong = [("username", "bob"), ("password", "wrong")]
        #expect(try token(server.port, wrong).status == 400)
        #expect(try token(server.port, wrong).status == 400)
        #expect(try token(server.port, wrong).status == 429)
        #expect(server.stop() == 0)
        let restarted = try ServingProcess(arguments)
        let banned = try token(restarted.port, [("username", "bob"), ("password", "secret")])
        #expect(banned.status == 429, "\(banned.text)")
        #expect(Int(banned.header("Retry-After") ?? "") ?? 0 > 50)
        #expect(restarted.stop() == 0)
    }

    /// --demo keeps its store in a temporary folder of its own, gone when it stops; its login answers
    /// stay the tutorial's (no refresh token).
    @Test func theDemoStoreIsTemporary() throws {
        let server = try ServingProcess(["--demo"])
        let found = server.waitForLog(#"/[^ "]*scopegate-demo-[A-Za-z0-9]+/"#)
        let folder = String(try #require(found).dropLast())
        #expect(FileManager.default.fileExists(atPath: folder + "/scopegate.db"))
        let answer = try JSONSerialization.jsonObject(with: Data(try token(server.port, [("username", "johndoe"), ("password", "secret")]).body))
        #expect((answer as? [String: Any])?.keys.sorted() == ["access_token", "expires_in", "scope", "token_type"])
        #expect(server.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: folder))
    }
}

/// Base64url without padding, for reading a token's payload.
private func base64URLDecoded(_ text: Substring) -> Data? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    return Data(base64Encoded: base64)
}

/// A `serve` of user bob (password `secret`, scope `me`) and the rule `/me`, driven over HTTP.
protocol RefreshingServer {
    var users: String { get }
    var secret: String { get }
    var policy: String { get }
}

extension RefreshingServer {
    func token(_ port: UInt16, _ fields: [(String, String)]) throws -> TestHTTPResponse {
        try sendRequest(
            port: port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: formBody(fields))
    }

    func tokens(_ response: TestHTTPResponse) throws -> (access: String, refresh: String) {
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], "\(response.text)")
        return (try #require(body["access_token"] as? String), try #require(body["refresh_token"] as? String))
    }

    func redeem(_ port: UInt16, _ refresh: String) throws -> TestHTTPResponse {
        try token(port, [("grant_type", "refresh_token"), ("refresh_token", refresh)])
    }

    func auth(_ port: UInt16, _ token: String) throws -> Int {
        try sendRequest(port: port, target: "/auth", headers: [("X-Original-URI", "/me"), ("X-Original-Method", "GET"), ("Authorization", "Bearer \(token)")])
            .status
    }
}
