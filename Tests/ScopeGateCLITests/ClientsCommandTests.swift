import Foundation
import ScopeGateCore
import ScopeGateTesting
import Testing

/// `scopegate clients secret`, `serve --clients` with a secret rotated by editing the file, and the
/// clients file in `check-policy` and `explain`.
@Suite struct ClientsCommandTests {
    let users = try! temporaryFile(
        "users.yaml", "users:\n  bob:\n    password_hash: \"$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO\"\n    scopes: [me]\n")
    let secret = try! temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n")
    let policy = try! temporaryFile("policy.yaml", "rules:\n  - path: /jobs/**\n    scopes: [jobs]\n  - path: /me\n    scopes: [me]\n")

    func clientsFile(_ hashes: [String]) -> String {
        "clients:\n  worker:\n    secret_hashes: [\(hashes.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
            + "    grant_types: [client_credentials]\n    scopes: [jobs]\n"
    }

    func clientToken(_ port: UInt16, _ secret: String) throws -> (status: Int, token: String?) {
        let answer = try sendRequest(
            port: port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("grant_type", "client_credentials"), ("client_id", "worker"), ("client_secret", secret), ("scope", "jobs")]))
        let object = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
        return (answer.status, object?["access_token"] as? String)
    }

    /// Two lines: a 256-bit base64url secret and its passlib-form hash, which passlib itself accepts.
    @Test func secretPrintsASecretAndItsHash() throws {
        let made = try run(["clients", "secret", "--rounds", "1000"])
        #expect(made.status == 0)
        let lines = made.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        let (secret, hash) = (lines[0], lines[1])
        #expect(Base64URL.decode(secret)?.count == 32)
        #expect(hash.hasPrefix("$pbkdf2-sha256$1000$") && ClientSecretHash(hash)?.verify(secret) == true)
        let verdict = try runPython(
            "import sys; from passlib.hash import pbkdf2_sha256; print(pbkdf2_sha256.verify(sys.argv[1], sys.argv[2]))", arguments: [secret, hash])
        #expect(verdict == "True")
        #expect(try run(["clients", "secret", "--rounds", "10"]).status != 0)
        #expect(try run(["clients", "secret"]).output.contains("$pbkdf2-sha256$600000$"))
    }

    /// A secret is rotated by editing the running service's clients file: both secrets work while both
    /// hashes are listed, the old one stops when its hash is removed, and no secret reaches the log.
    @Test func aSecretRotatesByEditingTheFile() throws {
        let old = try ClientSecretHash.generate(rounds: 1_000)
        let new = try ClientSecretHash.generate(rounds: 1_000)
        let clients = try temporaryFile("clients.yaml", clientsFile([old.hash]))
        let server = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", secret, "--clients", clients, "--log-format", "json"])
        let first = try clientToken(server.port, old.secret)
        #expect(first.status == 200)
        // client_secret_post: a wrong secret is a 400 invalid_client.
        #expect(try clientToken(server.port, new.secret).status == 400)
        try clientsFile([old.hash, new.hash]).write(toFile: clients, atomically: true, encoding: .utf8)
        #expect(waitUntil(timeout: 5) { (try? clientToken(server.port, new.secret).status) == 200 })
        #expect(try clientToken(server.port, old.secret).status == 200)
        try clientsFile([new.hash]).write(toFile: clients, atomically: true, encoding: .utf8)
        #expect(waitUntil(timeout: 5) { (try? clientToken(server.port, old.secret).status) == 400 })
        #expect(try clientToken(server.port, new.secret).status == 200)
        // The token from before the rotation stays valid: the client is the same.
        let allowed = try sendRequest(
            port: server.port, target: "/auth",
            headers: [("X-Original-URI", "/jobs/1"), ("X-Original-Method", "GET"), ("Authorization", "Bearer \(try #require(first.token))")])
        #expect(allowed.status == 200 && allowed.header("X-Auth-Client") == "worker")
        #expect(server.stop() == 0)
        #expect(server.log.contains(#""auth.client":"worker""#) && server.log.contains(#""auth.principal":"client""#))
        for secret in [old.secret, new.secret, try #require(first.token)] { #expect(!server.log.contains(secret)) }
        // A clients file with an error stops startup with its place.
        let broken = try temporaryFile("broken.yaml", "clients:\n  worker:\n    grant_types: [client_credentials]\n")
        let refused = try run(["serve", "--policy", policy, "--users", users, "--secret-file", secret, "--clients", broken])
        #expect(refused.status != 0)
        #expect(refused.errors.contains("\(broken):3:5: error: client \"worker\": needs \"secret_hashes\""))
    }

    @Test func checkPolicyAndExplainReadTheClientsFile() throws {
        let hash = try ClientSecretHash.hash("s", rounds: 1_000)
        let clients = try temporaryFile("clients.yaml", clientsFile([hash]))
        // With only the users file, /jobs/** can allow no one; with the clients file too, it can.
        let usersOnly = try run(["check-policy", policy, "--users", users])
        #expect(usersOnly.status == 1 && usersOnly.output.contains("scope \"jobs\" is granted to no user"))
        let both = try run(["check-policy", policy, "--users", users, "--clients", clients])
        #expect(both.status == 0, "\(both.output)")
        let strict = try temporaryFile("strict.yaml", "rules:\n  - path: /jobs/**\n    scopes: [me]\n    principals: [client]\n")
        let clientOnly = try run(["check-policy", strict, "--users", users, "--clients", clients])
        #expect(clientOnly.output.contains("scope \"me\" is granted to no client, so this rule allows no one"))

        let key = try HMACKey(secretFileContents: Array("c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1".utf8))
        let token = try TokenSigner(key: key).sign(
            AccessTokenClaims(subject: "worker", scopes: ["jobs"], issuedAt: Date(), expiresAt: Date() + 600, tokenID: "t", clientID: "worker"))
        let explained = try run([
            "explain", "--policy", policy, "--users", users, "--secret-file", secret, "--clients", clients, "GET", "/jobs/1", "--token", token,
        ])
        #expect(explained.status == 0, "\(explained.output)")
        #expect(explained.output.contains("token:     valid for client worker, scopes jobs"))
        #expect(explained.output.contains("X-Auth-Client: worker"))
        let without = try run(["explain", "--policy", policy, "--users", users, "--secret-file", secret, "GET", "/jobs/1", "--token", token])
        #expect(without.status == 1)
    }
}
