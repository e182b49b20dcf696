import Foundation
import ScopeGateTesting
import Testing

/// `serve --store` and `scopegate revoke` against the same store while the server runs.
@Suite struct RevokeCommandTests {
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

    func auth(_ port: UInt16, _ token: String) throws -> Int {
        try sendRequest(port: port, target: "/auth", headers: [("X-Original-URI", "/me"), ("X-Original-Method", "GET"), ("Authorization", "Bearer \(token)")])
            .status
    }

    @Test func aRevocationFromTheCommandLineReachesTheRunningServer() throws {
        let store = "sqlite:" + URL(fileURLWithPath: policy).deletingLastPathComponent().appendingPathComponent("state.db").path
        var server = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", secret, "--store", store])
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
        #expect(try run(["revoke", "--store", store, "--jti", jti]).status == 0)
        #expect(waitUntil(timeout: 3) { (try? auth(server.port, next)) == 401 })
        #expect(server.stop() == 0)
        // Refused: no target, two targets, a store that is not one.
        #expect(try run(["revoke", "--store", store]).status != 0)
        #expect(try run(["revoke", "--store", store, "--user", "a", "--client", "b"]).status != 0)
        let bad = try run(["serve", "--policy", policy, "--users", users, "--secret-file", secret, "--store", "postgres://x"])
        #expect(bad.status != 0 && bad.errors.contains("expected sqlite:PATH"))
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
        var restarted = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", secret, "--store", store])
        #expect(try auth(restarted.port, token) == 401)
        #expect(try auth(restarted.port, try login(restarted.port)) == 200)
        #expect(restarted.stop() == 0)
    }
}

/// Base64url without padding, for reading a token's payload.
private func base64URLDecoded(_ text: Substring) -> Data? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    return Data(base64Encoded: base64)
}
