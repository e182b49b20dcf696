import Foundation
import ScopeGateCore
import ScopeGateStore
import ScopeGateTesting
import Testing

@testable import ScopeGateApp

/// `/revoke` (RFC 7009), `/logout`, and revocations at `/auth`: in memory, and in a store that outlives the
/// process and that another process writes to.
@Suite struct RevocationTests {
    static let hash = ClientSecretHash(try! ClientSecretHash.hash("s", rounds: 1_000))!

    static func storePath() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-revocations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("scopegate.db").path
    }

    func daemon(store path: String? = nil) throws -> TestDaemon {
        try TestDaemon(configure: { configuration in
            configuration.clients = ClientDirectory([
                ClientRecord(id: "worker", secretHashes: [Self.hash], grantTypes: [.clientCredentials], scopes: ["me", "items"]),
                ClientRecord(id: "other", secretHashes: [Self.hash], grantTypes: [.clientCredentials], scopes: ["me"]),
            ])
            configuration.issuer = "https://auth.example"
            if let path { configuration.revocations = try! Revocations(store: SQLiteStore(path: path)) }
        })
    }

    func post(_ daemon: TestDaemon, _ target: String, _ fields: [(String, String)], headers: [(String, String)] = []) throws -> TestHTTPResponse {
        try sendRequest(
            port: daemon.port, method: "POST", target: target, headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers,
            body: formBody(fields))
    }

    func accessToken(_ response: TestHTTPResponse) throws -> String {
        try #require((try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["access_token"] as? String)
    }

    func error(_ response: TestHTTPResponse) -> String? {
        ((try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any])?["error"] as? String
    }

    @Test func aRevokedTokenIsRefusedAtOnceAndOthersAreNot() throws {
        let daemon = try daemon()
        let first = try accessToken(try daemon.login("bob", "builder", scope: "me items"))
        let second = try accessToken(try daemon.login("bob", "builder", scope: "me items"))
        // Decided once, so the verified-token cache holds it: revocation is checked on hits too.
        #expect(try daemon.auth("/users/me/", token: first).status == 200)
        let revoked = try post(daemon, "/revoke", [("token", first), ("token_type_hint", "access_token")])
        #expect(revoked.status == 200 && revoked.body.isEmpty && revoked.header("Cache-Control") == "no-store")
        let refused = try daemon.auth("/users/me/", token: first)
        #expect(refused.status == 401)
        #expect(try daemon.auth("/users/me/", token: second).status == 200)
        // Revoking again, an unknown token, or garbage: 200 all the same (RFC 7009 §2.2).
        #expect(try post(daemon, "/revoke", [("token", first)]).status == 200)
        #expect(try post(daemon, "/revoke", [("token", "not.a.token")]).status == 200)
        #expect(try post(daemon, "/revoke", [("token", try daemon.token(subject: "bob", scopes: ["me"]) + "x")]).status == 200)
        // No token: invalid_request. A token without jti cannot be revoked, and says so.
        let missing = try post(daemon, "/revoke", [])
        #expect(missing.status == 400 && (error(missing)) == "invalid_request")
        let withoutID = try TokenSigner(key: daemon.service.configuration.keyring.signingKey)
            .sign(payload: Array(#"{"sub":"bob","scopes":["me"],"exp":4102444800}"#.utf8))
        let unsupported = try post(daemon, "/revoke", [("token", withoutID)])
        #expect(unsupported.status == 400 && (error(unsupported)) == "unsupported_token_type")
        #expect(try daemon.auth("/users/me/", token: withoutID).status == 200)
        #expect(try daemon.get("/revoke").status == 405)
    }

    @Test func aClientsTokenIsRevokedOnlyByThatClient() throws {
        let daemon = try daemon()
        let token = try accessToken(
            try post(daemon, "/token", [("grant_type", "client_credentials"), ("scope", "me"), ("client_id", "worker"), ("client_secret", "s")]))
        let unauthenticated = try post(daemon, "/revoke", [("token", token)])
        #expect(unauthenticated.status == 400 && (error(unauthenticated)) == "invalid_client")
        let basicWrong = try post(
            daemon, "/revoke", [("token", token)], headers: [("Authorization", "Basic " + Data("worker:wrong".utf8).base64EncodedString())])
        #expect(basicWrong.status == 401 && basicWrong.header("WWW-Authenticate") == "Basic realm=\"scopegate\"")
        let otherClient = try post(daemon, "/revoke", [("token", token), ("client_id", "other"), ("client_secret", "s")])
        #expect(otherClient.status == 400 && (error(otherClient)) == "unauthorized_client")
        #expect(try daemon.auth("/status/", token: token).status == 200)
        #expect(try post(daemon, "/revoke", [("token", token), ("client_id", "worker"), ("client_secret", "s")]).status == 200)
        #expect(try daemon.auth("/status/", token: token).status == 401)
    }

    @Test func logoutRevokesTheBearerToken() throws {
        let daemon = try daemon()
        let token = try accessToken(try daemon.login("bob", "builder", scope: "me"))
        let loggedOut = try sendRequest(port: daemon.port, method: "POST", target: "/logout", headers: [("Authorization", "Bearer \(token)")])
        #expect(loggedOut.status == 204)
        #expect(try daemon.auth("/users/me/", token: token).status == 401)
        let again = try sendRequest(port: daemon.port, method: "POST", target: "/logout", headers: [("Authorization", "Bearer garbage")])
        #expect(again.status == 401 && again.header("WWW-Authenticate") == "Bearer")
        #expect(try sendRequest(port: daemon.port, method: "POST", target: "/logout").status == 401)
    }

    /// With a store, a revocation outlives the process, and one written by another process (the CLI) is
    /// seen within a second: a token, or everything a user held until then.
    @Test func theStoreOutlivesTheProcessAndIsSharedWithOthers() throws {
        let path = try Self.storePath()
        var token: String
        do {
            let first = try daemon(store: path)
            token = try accessToken(try first.login("bob", "builder", scope: "me"))
            #expect(try post(first, "/revoke", [("token", token)]).status == 200)
        }
        let restarted = try daemon(store: path)
        #expect(try restarted.auth("/users/me/", token: token).status == 401)

        let carol = try accessToken(try restarted.login("carol", "carolpw", scope: "me"))
        #expect(try restarted.auth("/users/me/", token: carol).status == 200)
        // Another process writes to the same file: every token carol holds is revoked.
        try SQLiteStore(path: path).setNotBefore(Date(), kind: "user", subject: "carol")
        #expect(waitUntil(timeout: 3) { (try? restarted.auth("/users/me/", token: carol).status) == 401 })
        // A token issued after (in a later second: iat has whole seconds) works.
        Thread.sleep(forTimeInterval: 1.1)
        let fresh = try accessToken(try restarted.login("carol", "carolpw", scope: "me"))
        #expect(try restarted.auth("/users/me/", token: fresh).status == 200)
    }

    @Test func theMetadataNamesTheRevocationEndpoint() throws {
        let daemon = try daemon()
        let metadata = try #require(
            try JSONSerialization.jsonObject(with: Data(try daemon.get("/.well-known/oauth-authorization-server").body)) as? [String: Any])
        #expect(metadata["revocation_endpoint"] as? String == "https://auth.example/revoke")
        #expect(metadata["revocation_endpoint_auth_methods_supported"] as? [String] == ["none", "client_secret_basic", "client_secret_post"])
    }
}
