import Foundation
import ScopeGateCore
import ScopeGateTesting
import Testing

@testable import ScopeGateApp

/// RFC 8693 token exchange for down-scoping: never wider, never longer, the exchanging client in `act`.
@Suite struct TokenExchangeTests {
    static let grantType = "urn:ietf:params:oauth:grant-type:token-exchange"
    static let accessToken = "urn:ietf:params:oauth:token-type:access_token"
    static let hash = ClientSecretHash(try! ClientSecretHash.hash("s", rounds: 1_000))!

    static let clients = ClientDirectory([
        ClientRecord(id: "gateway", secretHashes: [hash], grantTypes: [.tokenExchange], scopes: ["me", "items"], audiences: ["billing"]),
        ClientRecord(id: "worker", secretHashes: [hash], grantTypes: [.clientCredentials, .tokenExchange], scopes: ["me", "items"]),
        ClientRecord(id: "web-app", secretHashes: [hash], grantTypes: [.password], scopes: ["me"]),
    ])

    func daemon() throws -> TestDaemon {
        try TestDaemon(configure: { $0.clients = Self.clients })
    }

    func post(_ daemon: TestDaemon, _ fields: [(String, String)], client: String? = "gateway") throws -> TestHTTPResponse {
        let credentials = client.map { [("client_id", $0), ("client_secret", "s")] } ?? []
        return try sendRequest(
            port: daemon.port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody(fields + credentials))
    }

    func exchange(
        _ daemon: TestDaemon, _ token: String, scope: String? = nil, audience: String? = nil, client: String? = "gateway",
        extra: [(String, String)] = []
    ) throws -> TestHTTPResponse {
        var fields = [("grant_type", Self.grantType), ("subject_token", token), ("subject_token_type", Self.accessToken)]
        if let scope { fields.append(("scope", scope)) }
        if let audience { fields.append(("audience", audience)) }
        return try post(daemon, fields + extra, client: client)
    }

    func json(_ response: TestHTTPResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func claims(_ token: String) throws -> [String: Any] {
        let payload = try #require(Base64URL.decode(String(token.split(separator: ".")[1])))
        return try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
    }

    func bobToken(_ daemon: TestDaemon) throws -> String {
        try #require(try json(try daemon.login("bob", "builder", scope: "me items admin"))["access_token"] as? String)
    }

    @Test func aUsersTokenIsNarrowedForTheSameUser() throws {
        let daemon = try daemon()
        let subject = try bobToken(daemon)
        let answer = try exchange(daemon, subject, scope: "me", audience: "billing")
        #expect(answer.status == 200, "\(answer.text)")
        let body = try json(answer)
        #expect(body["issued_token_type"] as? String == Self.accessToken && body["token_type"] as? String == "bearer")
        #expect(body["scope"] as? String == "me" && body["refresh_token"] == nil)
        let narrowed = try #require(body["access_token"] as? String)
        let payload = try claims(narrowed)
        #expect(payload["sub"] as? String == "bob" && payload["scopes"] as? [String] == ["me"] && payload["aud"] as? String == "billing")
        #expect(payload["client_id"] as? String == "gateway")
        #expect((payload["act"] as? [String: Any])?["sub"] as? String == "gateway")
        // Never longer than the subject token.
        let subjectClaims = try claims(subject)
        #expect(try #require(payload["exp"] as? Int) <= (try #require(subjectClaims["exp"] as? Int)))
        // The narrowed token works only for what it kept.
        #expect(try daemon.auth("/users/me/", token: narrowed).status == 200)
        #expect(try daemon.auth("/users/me/", token: narrowed).header("X-Auth-User") == "bob")
        #expect(try daemon.auth("/users/me/items/", token: narrowed).status == 401)

        // Exchanged again by another client: the actor chain grows, the scopes can only shrink.
        let again = try exchange(daemon, narrowed, client: "worker")
        #expect(again.status == 200, "\(again.text)")
        let chained = try claims(try #require(try json(again)["access_token"] as? String))
        let act = try #require(chained["act"] as? [String: Any])
        #expect(act["sub"] as? String == "worker" && (act["act"] as? [String: Any])?["sub"] as? String == "gateway")
        #expect(chained["scopes"] as? [String] == ["me"])
        #expect(try json(try exchange(daemon, narrowed, scope: "me items", client: "worker"))["error"] as? String == "invalid_scope")
    }

    /// A client's own token exchanged stays the client's at /auth.
    @Test func aClientsTokenStaysTheClients() throws {
        let daemon = try daemon()
        let own = try #require(
            try json(try post(daemon, [("grant_type", "client_credentials"), ("scope", "me items")], client: "worker"))["access_token"] as? String)
        let answer = try exchange(daemon, own, scope: "items")
        #expect(answer.status == 200, "\(answer.text)")
        let narrowed = try #require(try json(answer)["access_token"] as? String)
        let payload = try claims(narrowed)
        #expect(payload["sub"] as? String == "worker" && payload["client_id"] as? String == "worker")
        let allowed = try daemon.auth("/users/me/items/", token: narrowed)
        #expect(allowed.status == 401)  // the demo rule needs me and items; items alone is not enough
        #expect(try daemon.auth("/status/", token: narrowed).header("X-Auth-Client") == "worker")
    }

    @Test func everyRefusal() throws {
        let daemon = try daemon()
        let subject = try bobToken(daemon)
        func expect(_ response: TestHTTPResponse, _ status: Int, _ error: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
            #expect(try json(response)["error"] as? String == error, "\(response.text)", sourceLocation: sourceLocation)
        }
        // Wider than the subject token, or than the client may be granted.
        let narrow = try #require(try json(try exchange(daemon, subject, scope: "me"))["access_token"] as? String)
        try expect(try exchange(daemon, narrow, scope: "me items"), 400, "invalid_scope")
        try expect(try exchange(daemon, subject, scope: "admin"), 400, "invalid_scope")
        // No scope named: the subject token's, which must all be the client's too (bob's holds admin).
        try expect(try exchange(daemon, subject), 400, "invalid_scope")
        try expect(try exchange(daemon, subject, scope: "me", audience: "payroll"), 400, "invalid_target")
        try expect(try exchange(daemon, subject, scope: "me", client: nil), 400, "invalid_client")
        try expect(try exchange(daemon, subject, scope: "me", client: "web-app"), 400, "unauthorized_client")
        try expect(try post(daemon, [("grant_type", Self.grantType), ("subject_token_type", Self.accessToken)]), 400, "invalid_request")
        try expect(try post(daemon, [("grant_type", Self.grantType), ("subject_token", subject)]), 400, "invalid_request")
        try expect(
            try post(
                daemon, [("grant_type", Self.grantType), ("subject_token", subject), ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token")]),
            400, "invalid_request")
        try expect(
            try exchange(daemon, subject, scope: "me", extra: [("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token")]), 400,
            "invalid_request")
        try expect(
            try exchange(daemon, subject, scope: "me", extra: [("actor_token", subject), ("actor_token_type", Self.accessToken)]), 400, "invalid_request")
        try expect(try exchange(daemon, subject, scope: "me", extra: [("resource", "https://billing.example")]), 400, "invalid_target")
        // Not a valid ScopeGate token (garbage, expired, foreign, or for a principal gone or disabled):
        // RFC 8693 §2.2.2 says invalid_request.
        try expect(try exchange(daemon, "not.a.token", scope: "me"), 400, "invalid_request")
        try expect(try exchange(daemon, try daemon.token(subject: "bob", scopes: ["me"], expiresIn: -60), scope: "me"), 400, "invalid_request")
        let foreign = try TokenSigner(key: HMACKey(secretFileContents: Array(String(repeating: "f", count: 64).utf8)))
            .sign(AccessTokenClaims(subject: "bob", scopes: ["me"], issuedAt: Date(), expiresAt: Date() + 60, tokenID: "x"))
        try expect(try exchange(daemon, foreign, scope: "me"), 400, "invalid_request")
        let ghost = try exchange(daemon, try daemon.token(subject: "ghost", scopes: ["me"]), scope: "me")
        try expect(ghost, 400, "invalid_request")
        #expect((try json(ghost)["error_description"] as? String)?.contains("no longer exists or is disabled") == true)
        #expect(
            (try json(try exchange(daemon, "not.a.token", scope: "me"))["error_description"] as? String)?.hasPrefix("the subject token is not valid") == true)
        try expect(try exchange(daemon, try daemon.token(subject: "alice", scopes: ["me"]), scope: "me"), 400, "invalid_request")
        // A revoked subject token cannot be traded for a fresh one.
        let revokedSubject = try daemon.token(subject: "bob", scopes: ["me"])
        #expect(
            try sendRequest(
                port: daemon.port, method: "POST", target: "/revoke", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: formBody([("token", revokedSubject)])
            ).status == 200)
        let afterRevocation = try exchange(daemon, revokedSubject, scope: "me")
        try expect(afterRevocation, 400, "invalid_request")
        #expect((try json(afterRevocation)["error_description"] as? String)?.contains("revoked") == true)
        // Offered only when some client has the grant.
        let plain = try TestDaemon()
        try expect(try exchange(plain, subject, scope: "me", client: nil), 400, "unsupported_grant_type")
    }

    @Test func theExchangedTokenNeverOutlivesItsSubject() throws {
        let daemon = try daemon()
        let short = try daemon.token(subject: "bob", scopes: ["me"], expiresIn: 90)
        let answer = try exchange(daemon, short, scope: "me")
        #expect(answer.status == 200, "\(answer.text)")
        let expiresIn = try #require(try json(answer)["expires_in"] as? Int)
        #expect(expiresIn <= 90 && expiresIn >= 85)
        let metadata = try TestDaemon(configure: {
            $0.clients = Self.clients
            $0.issuer = "https://auth.example"
        }).get("/.well-known/oauth-authorization-server")
        #expect((try json(metadata)["grant_types_supported"] as? [String])?.contains(Self.grantType) == true)
    }
}
