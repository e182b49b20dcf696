import Foundation
import ScopeGateCore
import ScopeGateTesting
import Testing

@testable import ScopeGateApp

/// Machine clients at `/token` (client authentication, the client_credentials grant, the password grant
/// through a client) and their tokens at `/auth`.
@Suite struct ClientCredentialsTests {
    static let workerSecret = "worker-secret-1"
    static let hashes = (
        worker: try! ClientSecretHash.hash(workerSecret, rounds: 1_000), rotated: try! ClientSecretHash.hash("worker-secret-2", rounds: 1_000),
        app: try! ClientSecretHash.hash("app secret:+%", rounds: 1_000)
    )

    static func clients(workerHashes: [String] = [hashes.worker], workerDisabled: Bool = false) -> ClientDirectory {
        ClientDirectory([
            ClientRecord(
                id: "billing-worker", secretHashes: workerHashes.map { ClientSecretHash($0)! }, grantTypes: [.clientCredentials],
                scopes: ["items", "invoices:read"], defaultScopes: ["items"], audiences: ["billing"], tokenLifetime: 300, disabled: workerDisabled),
            ClientRecord(id: "web-app", secretHashes: [ClientSecretHash(hashes.app)!], grantTypes: [.password], scopes: ["me"]),
        ])
    }

    static let policy = """
        rules:
          - path: /items/**
            scopes: [items]
          - path: /people/**
            scopes: [items]
            principals: [user]
          - path: /machines/**
            scopes: []
            principals: [client]
        """

    func daemon(clock: @escaping @Sendable () -> Date = { Date() }) throws -> TestDaemon {
        try TestDaemon(policyYAML: Self.policy, configure: { $0.clients = Self.clients() }, clock: clock)
    }

    static func basic(_ id: String, _ secret: String) -> (String, String) {
        let encode = { (text: String) in String(decoding: formBody([("", text)]).dropFirst(), as: UTF8.self) }
        return ("Authorization", "Basic " + Data((encode(id) + ":" + encode(secret)).utf8).base64EncodedString())
    }

    func token(_ daemon: TestDaemon, _ fields: [(String, String)], headers: [(String, String)] = []) throws -> TestHTTPResponse {
        try sendRequest(
            port: daemon.port, method: "POST", target: "/token",
            headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers, body: formBody(fields))
    }

    func json(_ response: TestHTTPResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func claims(_ token: String) throws -> [String: Any] {
        let payload = try #require(Base64URL.decode(String(token.split(separator: ".")[1])))
        return try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
    }

    @Test func aClientGetsATokenInItsOwnNameWithEitherMethod() throws {
        let daemon = try daemon()
        let basic = try token(
            daemon, [("grant_type", "client_credentials"), ("scope", "items invoices:read admin")], headers: [Self.basic("billing-worker", Self.workerSecret)])
        #expect(basic.status == 200, "\(basic.text)")
        #expect(basic.header("Cache-Control") == "no-store")
        let body = try json(basic)
        #expect(body["token_type"] as? String == "bearer" && body["expires_in"] as? Int == 300 && body["scope"] as? String == "items invoices:read")
        #expect(body["refresh_token"] == nil)
        let accessToken = try #require(body["access_token"] as? String)
        let payload = try claims(accessToken)
        #expect(payload["sub"] as? String == "billing-worker" && payload["client_id"] as? String == "billing-worker")
        #expect(payload["scopes"] as? [String] == ["items", "invoices:read"] && payload["aud"] == nil)

        let posted = try token(
            daemon, [("grant_type", "client_credentials"), ("client_id", "billing-worker"), ("client_secret", Self.workerSecret), ("audience", "billing")])
        #expect(posted.status == 200, "\(posted.text)")
        let postedBody = try json(posted)
        // No scope asked for: the client's default_scopes.
        #expect(postedBody["scope"] as? String == "items")
        #expect(try claims(try #require(postedBody["access_token"] as? String))["aud"] as? String == "billing")

        // At /auth the token is the client's: X-Auth-Client, X-Auth-User empty.
        let allowed = try daemon.auth("/items/1", token: accessToken)
        #expect(allowed.status == 200)
        #expect(allowed.headers("X-Auth-Client") == ["billing-worker"] && allowed.headers("X-Auth-User") == [""])
        #expect(allowed.header("X-Auth-Scopes") == "items invoices:read")
        // A rule for people only refuses it; a rule for clients only admits it.
        #expect(try daemon.auth("/people/1", token: accessToken).status == 403)
        #expect(try daemon.auth("/machines/1", token: accessToken).status == 200)
        #expect(try daemon.auth("/machines/1", token: try daemon.token(subject: "johndoe", scopes: ["items"])).status == 403)
    }

    @Test func everyRefusalAtTheTokenEndpoint() throws {
        let daemon = try daemon()
        let grant = ("grant_type", "client_credentials")
        func expect(
            _ response: TestHTTPResponse, _ status: Int, _ error: String, basic: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
            #expect(try json(response)["error"] as? String == error, "\(response.text)", sourceLocation: sourceLocation)
            #expect(response.header("WWW-Authenticate") == (basic ? "Basic realm=\"scopegate\"" : nil), sourceLocation: sourceLocation)
            #expect(response.header("Cache-Control") == "no-store", sourceLocation: sourceLocation)
        }
        try expect(try token(daemon, [grant], headers: [Self.basic("billing-worker", "wrong")]), 401, "invalid_client", basic: true)
        try expect(try token(daemon, [grant], headers: [Self.basic("nobody", "x")]), 401, "invalid_client", basic: true)
        try expect(try token(daemon, [grant, ("client_id", "billing-worker"), ("client_secret", "wrong")]), 400, "invalid_client")
        try expect(try token(daemon, [grant, ("client_id", "nobody"), ("client_secret", "x")]), 400, "invalid_client")
        try expect(try token(daemon, [grant]), 400, "invalid_client")
        try expect(try token(daemon, [grant, ("client_secret", Self.workerSecret)]), 400, "invalid_client")
        // A registered client naming itself without its secret.
        try expect(try token(daemon, [grant, ("client_id", "billing-worker")]), 400, "invalid_client")
        // Both methods at once, or two different ids.
        try expect(
            try token(daemon, [grant, ("client_secret", Self.workerSecret)], headers: [Self.basic("billing-worker", Self.workerSecret)]), 401,
            "invalid_client", basic: true)
        try expect(
            try token(daemon, [grant, ("client_id", "web-app")], headers: [Self.basic("billing-worker", Self.workerSecret)]), 401, "invalid_client",
            basic: true)
        for malformed in [
            "Basic !!!", "Basic " + Data("no-colon".utf8).base64EncodedString(), "Basic " + Data(":x".utf8).base64EncodedString(),
            "Basic " + Data("a:%zz".utf8).base64EncodedString(),
        ] {
            try expect(try token(daemon, [grant], headers: [("Authorization", malformed)]), 401, "invalid_client", basic: true)
        }
        // The client may not use this grant; the grant's own refusals.
        try expect(try token(daemon, [grant], headers: [Self.basic("web-app", "app secret:+%")]), 400, "unauthorized_client")
        try expect(try token(daemon, [grant, ("scope", "admin")], headers: [Self.basic("billing-worker", Self.workerSecret)]), 400, "invalid_scope")
        try expect(
            try token(daemon, [grant, ("audience", "payroll")], headers: [Self.basic("billing-worker", Self.workerSecret)]), 400, "invalid_scope")
        // A disabled client is an unknown one.
        let disabled = try TestDaemon(policyYAML: Self.policy, configure: { $0.clients = Self.clients(workerDisabled: true) })
        try expect(try token(disabled, [grant], headers: [Self.basic("billing-worker", Self.workerSecret)]), 401, "invalid_client", basic: true)
    }

    /// Through a client with the password grant, a user gets what both records allow; the seed's wording
    /// stays for the password grant's own refusals. Without a clients file, client credentials are ignored
    /// as FastAPI's tutorial ignores them.
    @Test func thePasswordGrantThroughAClient() throws {
        let daemon = try daemon()
        let fields = [("username", "bob"), ("password", "builder"), ("scope", "me items")]
        let through = try token(daemon, fields, headers: [Self.basic("web-app", "app secret:+%")])
        #expect(through.status == 200, "\(through.text)")
        let body = try json(through)
        #expect(body["scope"] as? String == "me")
        #expect(try claims(try #require(body["access_token"] as? String))["client_id"] as? String == "web-app")
        let wrong = try token(daemon, [("username", "bob"), ("password", "nope")], headers: [Self.basic("web-app", "app secret:+%")])
        #expect(wrong.status == 400 && wrong.text == #"{"detail":"Incorrect username or password"}"#)
        let notAllowed = try token(daemon, fields, headers: [Self.basic("billing-worker", Self.workerSecret)])
        #expect(notAllowed.status == 400)
        #expect(try json(notAllowed)["error"] as? String == "unauthorized_client")
        // Without a client, as before.
        #expect(try token(daemon, fields).status == 200)
        let noClients = try TestDaemon()
        #expect(try token(noClients, fields + [("client_id", "anything"), ("client_secret", "ignored")]).status == 200)
        #expect(try token(noClients, [("grant_type", "client_credentials")]).status == 400)
        #expect(try json(try token(noClients, [("grant_type", "client_credentials")]))["error"] as? String == "unsupported_grant_type")
    }

    /// A removed or disabled client, or a scope taken from its record, stops working at once.
    @Test func theClientsRecordDecidesAtForwardAuth() throws {
        let daemon = try daemon()
        let answer = try token(daemon, [("grant_type", "client_credentials"), ("scope", "items")], headers: [Self.basic("billing-worker", Self.workerSecret)])
        let accessToken = try #require(try json(answer)["access_token"] as? String)
        #expect(try daemon.auth("/items/1", token: accessToken).status == 200)
        let configuration = daemon.service.configuration
        daemon.service.replace(
            policy: configuration.policy, users: configuration.users, clients: Self.clients(workerDisabled: true), keyring: configuration.keyring)
        #expect(try daemon.auth("/items/1", token: accessToken).status == 403)
        daemon.service.replace(policy: configuration.policy, users: configuration.users, clients: ClientDirectory([]), keyring: configuration.keyring)
        let removed = try daemon.auth("/items/1", token: accessToken)
        #expect(removed.status == 401)
        // A user of the same name does not inherit a removed client's token.
        let users = try UserDirectory.load(
            yaml: "users:\n  billing-worker:\n    password_hash: \"\(try PasswordHasher(cost: 4).hash("x"))\"\n    scopes: [items]\n", file: "users.yaml")
        daemon.service.replace(policy: configuration.policy, users: users, clients: ClientDirectory([]), keyring: configuration.keyring)
        #expect(try daemon.auth("/items/1", token: accessToken).status == 401)
    }

    /// While a secret is rotated both hashes work; once the old hash is removed its secret is refused at
    /// once, even though it was remembered.
    @Test func aRotatedSecretAndTheRememberedPair() throws {
        let daemon = try daemon()
        let configuration = daemon.service.configuration
        let grant = [("grant_type", "client_credentials")]
        #expect(try token(daemon, grant, headers: [Self.basic("billing-worker", Self.workerSecret)]).status == 200)
        daemon.service.replace(
            policy: configuration.policy, users: configuration.users, clients: Self.clients(workerHashes: [Self.hashes.worker, Self.hashes.rotated]),
            keyring: configuration.keyring)
        #expect(try token(daemon, grant, headers: [Self.basic("billing-worker", Self.workerSecret)]).status == 200)
        #expect(try token(daemon, grant, headers: [Self.basic("billing-worker", "worker-secret-2")]).status == 200)
        daemon.service.replace(
            policy: configuration.policy, users: configuration.users, clients: Self.clients(workerHashes: [Self.hashes.rotated]),
            keyring: configuration.keyring)
        #expect(try token(daemon, grant, headers: [Self.basic("billing-worker", Self.workerSecret)]).status == 401)
        #expect(try token(daemon, grant, headers: [Self.basic("billing-worker", "worker-secret-2")]).status == 200)
    }

    /// Failed client authentication is regulated as failed logins are: after the free tries, 429 with
    /// Retry-After, even for the right secret, until the ban ends.
    @Test func failedClientAuthenticationIsRegulated() throws {
        let daemon = try TestDaemon(
            policyYAML: Self.policy,
            configure: {
                $0.clients = Self.clients()
                $0.loginLimits.pairFreeFailures = 2
            })
        let grant = [("grant_type", "client_credentials")]
        for _ in 0..<2 { #expect(try token(daemon, grant, headers: [Self.basic("billing-worker", "wrong")]).status == 401) }
        let throttled = try token(daemon, grant, headers: [Self.basic("billing-worker", Self.workerSecret)])
        #expect(throttled.status == 429)
        #expect(throttled.header("Retry-After") != nil)
        #expect(try json(throttled)["error"] as? String == "invalid_client")
        // Users are regulated apart: bob logs in.
        #expect(try daemon.login("bob", "builder").status == 200)
    }

    @Test func theMetadataListsWhatIsOffered() throws {
        func metadata(_ clients: ClientDirectory) throws -> [String: Any] {
            let daemon = try TestDaemon(configure: {
                $0.clients = clients
                $0.issuer = "https://auth.example"
            })
            return try json(try daemon.get("/.well-known/oauth-authorization-server"))
        }
        let with = try metadata(Self.clients())
        #expect(with["grant_types_supported"] as? [String] == ["client_credentials", "password"])
        #expect(with["token_endpoint_auth_methods_supported"] as? [String] == ["none", "client_secret_basic", "client_secret_post"])
        #expect((with["scopes_supported"] as? [String])?.contains("invoices:read") == true)
        let without = try metadata(ClientDirectory([]))
        #expect(without["grant_types_supported"] as? [String] == ["password"])
        #expect(without["token_endpoint_auth_methods_supported"] as? [String] == ["none"])
    }
}
