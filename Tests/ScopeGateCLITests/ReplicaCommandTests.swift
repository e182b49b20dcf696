import Foundation
import ScopeGateTesting
import Testing

/// Two `serve` replicas on one PostgreSQL database (Debian's, started by the tests): a login on one is
/// redeemed on the other, a token spent on one and presented to the other revokes the login on both, and
/// `scopegate revoke` against the database reaches both.
@Suite struct ReplicaCommandTests: RefreshingServer {
    let users = try! temporaryFile(
        "users.yaml", "users:\n  bob:\n    password_hash: \"$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO\"\n    scopes: [me]\n")
    let secret = try! temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n")
    let policy = try! temporaryFile("policy.yaml", "rules:\n  - path: /me\n    scopes: [me]\n")

    @Test func replicasShareLoginsAndRevocations() throws {
        let store = try PostgreSQLServer.shared.get().newDatabase()
        let arguments = ["--policy", policy, "--users", users, "--secret-file", secret, "--store", store, "--refresh-token-lifetime", "3600"]
        let first = try ServingProcess(arguments)
        let second = try ServingProcess(arguments)
        #expect(first.log.contains(store))

        // A login on the first replica, redeemed on the second; its successor then works on the first.
        let login = try tokens(try token(first.port, [("username", "bob"), ("password", "secret"), ("scope", "me")]))
        let successor = try tokens(try redeem(second.port, login.refresh))
        #expect(try auth(first.port, successor.access) == 200 && auth(second.port, successor.access) == 200)
        // The spent token presented to the first replica: reuse, and the login ends on both.
        let reused = try redeem(first.port, login.refresh)
        #expect(reused.status == 400 && reused.text.contains("invalid_grant"))
        #expect(waitUntil(timeout: 3) { (try? auth(second.port, successor.access)) == 401 })
        #expect(try auth(first.port, successor.access) == 401)

        // scopegate revoke against the database reaches both replicas.
        let next = try tokens(try token(second.port, [("username", "bob"), ("password", "secret"), ("scope", "me")]))
        #expect(try auth(first.port, next.access) == 200)
        Thread.sleep(forTimeInterval: 1.1)
        let revoked = try run(["revoke", "--store", store, "--user", "bob"])
        #expect(revoked.status == 0, "\(revoked.errors)")
        #expect(waitUntil(timeout: 3) { (try? auth(first.port, next.access)) == 401 && (try? auth(second.port, next.access)) == 401 })
        let stopped = (first.stop(), second.stop())
        #expect(stopped.0 == 0 && stopped.1 == 0, "\(stopped): \(first.log.suffix(1500)) \(second.log.suffix(1500))")
    }
}
