import Foundation
import ScopeGateCore
import ScopeGateTesting
import Testing

@testable import ScopeGateApp

/// `POST /introspect` (RFC 7662): only for clients allowed to, and `{"active":false}` alone for every token
/// `/auth` would refuse.
@Suite struct IntrospectionTests {
    static let hash = ClientSecretHash(try! ClientSecretHash.hash("s", rounds: 1_000))!

    func daemon() throws -> TestDaemon {
        try TestDaemon(configure: { configuration in
            configuration.clients = ClientDirectory([
                ClientRecord(id: "gateway", secretHashes: [Self.hash], grantTypes: [.clientCredentials], scopes: ["me"], introspect: true),
                ClientRecord(id: "worker", secretHashes: [Self.hash], grantTypes: [.clientCredentials], scopes: ["me", "items"], audiences: ["billing"]),
            ])
            configuration.issuer = "https://auth.example"
        })
    }

    func introspect(_ daemon: TestDaemon, _ token: String, as client: String? = "gateway") throws -> TestHTTPResponse {
        let credentials = client.map { [("client_id", $0), ("client_secret", "s")] } ?? []
        return try sendRequest(
            port: daemon.port, method: "POST", target: "/introspect", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("token", token)] + credentials))
    }

    func json(_ response: TestHTTPResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func aLiveTokenIsDescribedAndEveryRefusedOneIsInactive() throws {
        let daemon = try daemon()
        let login = try json(try daemon.login("bob", "builder", scope: "me items"))
        let token = try #require(login["access_token"] as? String)
        let answer = try introspect(daemon, token)
        #expect(answer.status == 200 && answer.header("Cache-Control") == "no-store")
        let body = try json(answer)
        #expect(body["active"] as? Bool == true && body["scope"] as? String == "me items" && body["username"] as? String == "bob")
        #expect(body["sub"] as? String == "bob" && body["token_type"] as? String == "bearer" && body["iss"] as? String == "https://auth.example")
        #expect(body["exp"] is Int && body["iat"] is Int && body["jti"] is String && body["client_id"] == nil)

        // A client's own token: client_id, no username.
        let own = try #require(
            try json(
                try sendRequest(
                    port: daemon.port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                    body: formBody([
                        ("grant_type", "client_credentials"), ("scope", "me items"), ("audience", "billing"), ("client_id", "worker"),
                        ("client_secret", "s"),
                    ])))[
                    "access_token"] as? String)
        let described = try json(try introspect(daemon, own))
        #expect(described["client_id"] as? String == "worker" && described["username"] == nil && described["scope"] as? String == "me items")
        #expect(described["aud"] as? String == "billing" && described["nbf"] == nil)

        // Refused at /auth, so inactive, with nothing else said: garbage, expired, unknown user, disabled user, revoked.
        let inactive = [
            "garbage", try daemon.token(subject: "bob", scopes: ["me"], expiresIn: -5), try daemon.token(subject: "ghost", scopes: ["me"]),
            try daemon.token(subject: "alice", scopes: ["me"]),
        ]
        for refused in inactive {
            let response = try introspect(daemon, refused)
            #expect(response.status == 200 && response.text == #"{"active":false}"#, "\(response.text)")
        }
        #expect(
            try sendRequest(
                port: daemon.port, method: "POST", target: "/revoke", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: formBody([("token", token)])
            ).status == 200)
        #expect(try introspect(daemon, token).text == #"{"active":false}"#)
    }

    @Test func onlyClientsAllowedToMayAsk() throws {
        let daemon = try daemon()
        let token = try daemon.token(subject: "bob", scopes: ["me"])
        let anonymous = try introspect(daemon, token, as: nil)
        #expect(anonymous.status == 401 && anonymous.header("WWW-Authenticate") == "Basic realm=\"scopegate\"")
        #expect(try json(anonymous)["error"] as? String == "invalid_client")
        let notAllowed = try introspect(daemon, token, as: "worker")
        #expect(notAllowed.status == 403)
        #expect(try json(notAllowed)["error"] as? String == "access_denied")
        let wrong = try sendRequest(
            port: daemon.port, method: "POST", target: "/introspect",
            headers: [
                ("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", "Basic " + Data("gateway:wrong".utf8).base64EncodedString()),
            ], body: formBody([("token", token)]))
        #expect(wrong.status == 401)
        let metadata = try json(try daemon.get("/.well-known/oauth-authorization-server"))
        #expect(metadata["introspection_endpoint"] as? String == "https://auth.example/introspect")
        let plain = try json(
            try TestDaemon(configure: { $0.issuer = "https://auth.example" }).get("/.well-known/oauth-authorization-server"))
        #expect(plain["introspection_endpoint"] == nil)
    }
}
