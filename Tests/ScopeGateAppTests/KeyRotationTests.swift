import Foundation
import ScopeGateApp
import ScopeGateCore
import ScopeGateTesting
import Testing

/// A daemon whose keys come from a keys file: tokens signed by the active key, the next key published
/// before it signs, the switch at its activation time without a reload, and retirement after.
@Suite struct KeyRotationTests {
    @Test func keysRotateOnTheClockWithoutLoggingAnyoneOut() throws {
        let clock = TestClock()  // 2027-01-15T08:00:00Z
        let old = try ECDSAKey.generate(id: "old")
        let new = try ECDSAKey.generate(id: "new")
        let files = ["old.pem": try old.privateKeyPEM(), "new.pem": try new.privateKeyPEM()]
        let yaml = """
            keys:
              - id: old
                algorithm: ES256
                private_key_file: old.pem
                activate_at: 2027-01-01T00:00:00Z
              - id: new
                algorithm: ES256
                private_key_file: new.pem
                activate_at: 2027-01-15T08:10:00Z
            """
        let schedule = try KeySchedule.load(yaml: yaml, file: "keys.yaml", loadedAt: clock.now) { files[$0] }
        let daemon = try TestDaemon(
            configure: { configuration in
                configuration.keyring = try! schedule.ring(at: clock.now, tokenLifetime: 1800, leeway: 0).ring
                configuration.keySchedule = schedule
            }, clock: clock.read)

        func login() throws -> (token: String, kid: String) {
            let answer = try daemon.login("bob", "builder", scope: "me items")
            let body = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
            let token = try #require(body["access_token"] as? String)
            let header = try #require(Base64URL.decode(String(token.split(separator: ".")[0])))
            let fields = try #require(try JSONSerialization.jsonObject(with: Data(header)) as? [String: String])
            return (token, try #require(fields["kid"]))
        }
        func published() throws -> Set<String> {
            let set = try #require(try JSONSerialization.jsonObject(with: Data(try daemon.get("/.well-known/jwks.json").body)) as? [String: Any])
            return Set((set["keys"] as? [[String: Any]] ?? []).compactMap { $0["kid"] as? String })
        }

        let first = try login()
        #expect(first.kid == "old")
        #expect(try published() == ["old", "new"])
        clock.advance(by: 600)
        let second = try login()
        #expect(second.kid == "new")
        // The token the old key signed keeps working while it is valid.
        #expect(try daemon.auth("/users/me/items/", token: first.token).status == 200)
        #expect(try daemon.auth("/users/me/items/", token: second.token).status == 200)
        // Retired once its last token has expired (the successor's activation + 1800 s): no longer
        // published, and the new key goes on signing.
        clock.advance(by: 1799)
        #expect(try published() == ["old", "new"])
        clock.advance(by: 1)
        #expect(try published() == ["new"])
        let third = try login()
        #expect(third.kid == "new")
        #expect(try daemon.auth("/users/me/items/", token: third.token).status == 200)
    }
}
