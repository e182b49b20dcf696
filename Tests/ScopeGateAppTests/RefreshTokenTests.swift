import Foundation
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore
import ScopeGateTesting
import Synchronization
import Testing

@testable import ScopeGateApp

/// Refresh tokens (RFC 6749 §6) through a real daemon and a real SQLite store: rotation, reuse revoking the
/// whole login, the retry grace, the 100-way race, idle and absolute ends, client binding, and the login's
/// end through /revoke, /logout, the users file and "not before".
@Suite struct RefreshTokenTests {
    static let secret = "app-secret"
    static let hash = ClientSecretHash(try! ClientSecretHash.hash(secret, rounds: 1_000))!

    static func storePath() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-refresh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("scopegate.db").path
    }

    static let clients = ClientDirectory([
        ClientRecord(id: "app", secretHashes: [hash], grantTypes: [.password, .refreshToken], scopes: ["me", "items"], introspect: true),
        ClientRecord(id: "other-app", secretHashes: [hash], grantTypes: [.password, .refreshToken], scopes: ["me", "items"]),
        ClientRecord(id: "no-refresh", secretHashes: [hash], grantTypes: [.password], scopes: ["me", "items"]),
    ])

    func daemon(
        store path: String? = nil, lifetime: TimeInterval = 3600, idle: TimeInterval? = nil, grace: TimeInterval = 0, clock: TestClock? = nil,
        http: @escaping (inout HTTPServerConfiguration) -> Void = { _ in }
    ) throws -> TestDaemon {
        let storePath: String
        if let path { storePath = path } else { storePath = try Self.storePath() }
        let read: @Sendable () -> Date
        if let clock { read = clock.read } else { read = { Date() } }
        return try TestDaemon(
            configure: { configuration in
                configuration.clients = Self.clients
                configuration.issuer = "https://auth.example"
                configuration.revocations = try! Revocations(store: SQLiteStore(path: storePath), now: read())
                configuration.refreshTokens.lifetime = lifetime
                configuration.refreshTokens.idle = idle
                configuration.refreshTokens.reuseGrace = grace
            }, http: http, clock: read)
    }

    func post(_ daemon: TestDaemon, _ target: String, _ fields: [(String, String)], headers: [(String, String)] = []) throws -> TestHTTPResponse {
        try post(port: daemon.port, target, fields, headers: headers)
    }

    func post(port: UInt16, _ target: String, _ fields: [(String, String)], headers: [(String, String)] = []) throws -> TestHTTPResponse {
        try sendRequest(
            port: port, method: "POST", target: target, headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers,
            body: formBody(fields))
    }

    func json(_ response: TestHTTPResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], "\(response.status) \(response.text)")
    }

    func errorCode(_ response: TestHTTPResponse) -> String? {
        ((try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any])?["error"] as? String
    }

    struct Tokens {
        let access: String
        let refresh: String
        let scope: String
    }

    func tokens(_ response: TestHTTPResponse) throws -> Tokens {
        #expect(response.status == 200, "\(response.text)")
        let body = try json(response)
        return Tokens(
            access: try #require(body["access_token"] as? String), refresh: try #require(body["refresh_token"] as? String, "\(body)"),
            scope: try #require(body["scope"] as? String))
    }

    func login(_ daemon: TestDaemon, client: String? = nil, scope: String = "me items") throws -> TestHTTPResponse {
        var fields = [("username", "bob"), ("password", "builder"), ("scope", scope)]
        if let client { fields += [("client_id", client), ("client_secret", Self.secret)] }
        return try post(daemon, "/token", fields)
    }

    func redeem(_ daemon: TestDaemon, _ token: String, client: String? = nil, scope: String? = nil) throws -> TestHTTPResponse {
        try redeem(port: daemon.port, token, client: client, scope: scope)
    }

    func redeem(port: UInt16, _ token: String, client: String? = nil, scope: String? = nil) throws -> TestHTTPResponse {
        var fields = [("grant_type", "refresh_token"), ("refresh_token", token)]
        if let scope { fields.append(("scope", scope)) }
        if let client { fields += [("client_id", client), ("client_secret", Self.secret)] }
        return try post(port: port, "/token", fields)
    }

    func sid(_ accessToken: String) throws -> String? {
        let payload = try #require(Base64URL.decode(String(accessToken.split(separator: ".")[1])))
        return (try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])?["sid"] as? String
    }

    func expectInvalidGrant(_ response: TestHTTPResponse, _ description: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(response.status == 400, "\(response.text)", sourceLocation: sourceLocation)
        let body = try json(response)
        #expect(body["error"] as? String == "invalid_grant", sourceLocation: sourceLocation)
        if let description { #expect(body["error_description"] as? String == description, sourceLocation: sourceLocation) }
    }

    @Test func offOnlyUntilALifetimeOrAClientTurnsThemOn() throws {
        // The default configuration (no lifetime, no client with the grant): the seed's answer, no grant.
        let plain = try TestDaemon(configure: { $0.issuer = "https://auth.example" })
        let seed = try json(try plain.login("bob", "builder", scope: "me"))
        #expect(seed.keys.sorted() == ["access_token", "expires_in", "scope", "token_type"])
        #expect(try sid(seed["access_token"] as! String) == nil)
        let unsupported = try post(plain, "/token", [("grant_type", "refresh_token"), ("refresh_token", String(repeating: "a", count: 43))])
        #expect(unsupported.status == 400 && (errorCode(unsupported)) == "unsupported_grant_type")
        let plainMetadata = try plain.get("/.well-known/oauth-authorization-server")
        #expect(plainMetadata.status == 200 && plainMetadata.text.contains("grant_types_supported"))
        #expect(!plainMetadata.text.contains("refresh_token"))

        // Lifetime 0: only the client with the refresh_token grant gets them.
        let clientsOnly = try daemon(lifetime: 0)
        #expect(try json(try login(clientsOnly))["refresh_token"] == nil)
        #expect(try json(try login(clientsOnly, client: "no-refresh"))["refresh_token"] == nil)
        let issued = try tokens(try login(clientsOnly, client: "app"))
        #expect(issued.refresh.utf8.count == 43 && Base64URL.decode(issued.refresh)?.count == 32)
        #expect(try sid(issued.access) != nil)
        #expect(try clientsOnly.get("/.well-known/oauth-authorization-server").text.contains("\"refresh_token\""))
    }

    @Test func everyRedemptionRotatesWithinOneLogin() throws {
        let daemon = try daemon()
        let first = try tokens(try login(daemon))
        let family = try #require(try sid(first.access))
        let second = try tokens(try redeem(daemon, first.refresh))
        #expect(second.refresh != first.refresh && second.access != first.access && second.scope == "me items")
        #expect(try sid(second.access) == family)
        #expect(try daemon.auth("/users/me/", token: second.access).status == 200)
        // Fewer scopes may be asked for; the successor keeps the login's scopes.
        let narrowed = try tokens(try redeem(daemon, second.refresh, scope: "me"))
        #expect(narrowed.scope == "me")
        #expect(try daemon.auth("/users/me/items/", token: narrowed.access).status == 401)
        // More is refused, and the token is not spent by the refusal.
        let wider = try redeem(daemon, narrowed.refresh, scope: "me admin")
        #expect(wider.status == 400)
        let widerError = errorCode(wider)
        #expect(widerError == "invalid_scope")
        let third = try tokens(try redeem(daemon, narrowed.refresh))
        #expect(third.scope == "me items")
        #expect(try sid(third.access) == family)
        // A second login is a family of its own.
        #expect(try sid(try tokens(try login(daemon)).access) != family)
        // Missing, malformed or unknown tokens.
        let missing = try post(daemon, "/token", [("grant_type", "refresh_token")])
        #expect(missing.status == 400 && (errorCode(missing)) == "invalid_request")
        for token in ["x", String(repeating: "a", count: 43), third.access, first.refresh + "A", "../../etc/passwd\u{0}"] {
            #expect(try redeem(daemon, token).status == 400, "\(token)")
        }
    }

    /// A spent token presented again revokes the whole login: its refresh tokens and its access tokens,
    /// even those decided (and cached) before.
    @Test func reuseRevokesTheLoginAndItsAccessTokens() throws {
        let daemon = try daemon()
        let first = try tokens(try login(daemon))
        let second = try tokens(try redeem(daemon, first.refresh))
        let bystander = try tokens(try login(daemon))
        #expect(try daemon.auth("/users/me/", token: first.access).status == 200)
        #expect(try daemon.auth("/users/me/", token: second.access).status == 200)
        try expectInvalidGrant(try redeem(daemon, first.refresh), "the refresh token is invalid, expired or revoked")
        try expectInvalidGrant(try redeem(daemon, second.refresh))
        #expect(try daemon.auth("/users/me/", token: first.access).status == 401)
        #expect(try daemon.auth("/users/me/", token: second.access).status == 401)
        // Another login of the same user is untouched.
        #expect(try daemon.auth("/users/me/", token: bystander.access).status == 200)
        #expect(try redeem(daemon, bystander.refresh).status == 200)
        #expect(try daemon.get("/metrics").text.contains("scopegate_refresh_token_reuse_total 1"))
    }

    @Test func aRetryWithinTheGraceGetsTheSameSuccessor() throws {
        let clock = TestClock(start: Date())
        let daemon = try daemon(grace: 2, clock: clock)
        let first = try tokens(try login(daemon, client: "app"))
        let answer = try tokens(try redeem(daemon, first.refresh, client: "app"))
        clock.advance(by: 1)
        let retry = try tokens(try redeem(daemon, first.refresh, client: "app"))
        #expect(retry.refresh == answer.refresh && retry.access != answer.access)
        // Another client presenting it is refused without harm; after the grace it is reuse.
        try expectInvalidGrant(try redeem(daemon, first.refresh, client: "other-app"), "the refresh token was issued to another client")
        clock.advance(by: 1.5)
        try expectInvalidGrant(try redeem(daemon, first.refresh, client: "app"))
        try expectInvalidGrant(try redeem(daemon, answer.refresh, client: "app"))
        #expect(try daemon.auth("/users/me/", token: retry.access).status == 401)
    }

    /// 100 concurrent redemptions of one token (default grace): exactly one succeeds, 99 are invalid_grant,
    /// none is an error, and the login is revoked because a spent token was presented again.
    @Test func oneHundredConcurrentRedemptionsRotateOnce() throws {
        let daemon = try daemon(http: { $0.threads = 4 })
        let first = try tokens(try login(daemon))
        let statuses = Mutex<[Int]>([])
        let winner = Mutex<Tokens?>(nil)
        let port = daemon.port
        DispatchQueue.concurrentPerform(iterations: 100) { _ in
            let response = try? redeem(port: port, first.refresh)
            statuses.withLock { $0.append(response?.status ?? -1) }
            if response?.status == 200, let won = try? tokens(response!) { winner.withLock { $0 = won } }
        }
        let all = statuses.withLock { $0 }
        #expect(all.filter { $0 == 200 }.count == 1, "\(all)")
        #expect(all.filter { $0 == 400 }.count == 99, "\(all)")
        let won = try #require(winner.withLock { $0 })
        try expectInvalidGrant(try redeem(daemon, won.refresh))
        #expect(try daemon.auth("/users/me/", token: won.access).status == 401)
    }

    @Test func aLoginEndsAtItsLifetimeAndAnUnusedTokenAtItsIdleLimit() throws {
        let clock = TestClock(start: Date())
        let daemon = try daemon(lifetime: 100, idle: 30, clock: clock)
        var current = try tokens(try login(daemon))
        for _ in 0..<3 {
            clock.advance(by: 25)
            current = try tokens(try redeem(daemon, current.refresh))
        }
        // 75 s into a 100 s login: used every 25 s it lives on, until the login's end.
        clock.advance(by: 25)
        try expectInvalidGrant(try redeem(daemon, current.refresh))
        let idle = try tokens(try login(daemon))
        clock.advance(by: 30)
        try expectInvalidGrant(try redeem(daemon, idle.refresh))
    }

    @Test func aLoginThroughAClientIsRedeemedOnlyByThatClient() throws {
        let daemon = try daemon(lifetime: 0)
        let issued = try tokens(try login(daemon, client: "app"))
        try expectInvalidGrant(try redeem(daemon, issued.refresh), "the refresh token was issued to another client")
        try expectInvalidGrant(try redeem(daemon, issued.refresh, client: "other-app"), "the refresh token was issued to another client")
        let unauthorized = try redeem(daemon, issued.refresh, client: "no-refresh")
        #expect(unauthorized.status == 400 && (errorCode(unauthorized)) == "unauthorized_client")
        let wrongSecret = try post(
            daemon, "/token", [("grant_type", "refresh_token"), ("refresh_token", issued.refresh), ("client_id", "app"), ("client_secret", "wrong")])
        #expect(wrongSecret.status == 400 && (errorCode(wrongSecret)) == "invalid_client")
        // None of those spent it.
        let redeemed = try tokens(try redeem(daemon, issued.refresh, client: "app"))
        #expect(try daemon.auth("/users/me/", token: redeemed.access).status == 200)
        // A public login's token is refused to a client.
        let publicDaemon = try self.daemon()
        let publicLogin = try tokens(try login(publicDaemon))
        try expectInvalidGrant(try redeem(publicDaemon, publicLogin.refresh, client: "app"), "the refresh token was issued to another client")
    }

    @Test func aDisabledRemovedOrRevokedUserRedeemsNothing() throws {
        let path = try Self.storePath()
        let daemon = try daemon(store: path)
        let configuration = daemon.service.configuration
        let first = try tokens(try login(daemon))
        let users = try UserDirectory.load(
            yaml: TestDaemon.testUsersYAML.replacingOccurrences(
                of: "    scopes: [me, items, admin]", with: "    scopes: [me, items, admin]\n    disabled: true"),
            file: "users.yaml")
        #expect(users["bob"]?.isDisabled == true)
        daemon.service.replace(policy: configuration.policy, users: users, clients: configuration.clients, keyring: configuration.keyring)
        try expectInvalidGrant(try redeem(daemon, first.refresh))
        let without = try UserDirectory.load(
            yaml: "users:\n  carol:\n    password_hash: \"$2b$04$abcdefghijklmnopqrstuuF2a1Q6JbJ1Ug2aaL2Y8gSqg0zM8C0Hq\"\n", file: "users.yaml")
        daemon.service.replace(policy: configuration.policy, users: without, clients: configuration.clients, keyring: configuration.keyring)
        try expectInvalidGrant(try redeem(daemon, first.refresh))
        // Back again: the token was never spent by those refusals.
        daemon.service.replace(policy: configuration.policy, users: configuration.users, clients: configuration.clients, keyring: configuration.keyring)
        let second = try tokens(try redeem(daemon, first.refresh))
        // scopegate revoke --user: every login before now ends.
        Thread.sleep(forTimeInterval: 0.01)
        try SQLiteStore(path: path).setNotBefore(Date(), kind: "user", subject: "bob")
        #expect(waitUntil(timeout: 3) { (try? redeem(daemon, second.refresh).status) == 400 })
        let after = try tokens(try login(daemon))
        #expect(try redeem(daemon, after.refresh).status == 200)
    }

    @Test func revokeLogoutAndIntrospectionSeeTheLogin() throws {
        let daemon = try daemon()
        let basic = [("Authorization", "Basic " + Data("app:\(Self.secret)".utf8).base64EncodedString())]
        // Introspection: a live refresh token, then the spent one.
        let first = try tokens(try login(daemon))
        let live = try json(try post(daemon, "/introspect", [("token", first.refresh), ("token_type_hint", "refresh_token")], headers: basic))
        #expect(live["active"] as? Bool == true && live["token_type"] as? String == "refresh_token")
        #expect(live["username"] as? String == "bob" && live["sub"] as? String == "bob" && live["scope"] as? String == "me items")
        #expect(live["sid"] as? String == (try sid(first.access)) && live["exp"] is Int && live["iat"] is Int)
        let second = try tokens(try redeem(daemon, first.refresh))
        let spent = try post(daemon, "/introspect", [("token", first.refresh)], headers: basic)
        #expect(spent.text == #"{"active":false}"#)
        // /revoke of a refresh token ends the login: refresh and access tokens.
        #expect(try post(daemon, "/revoke", [("token", second.refresh), ("token_type_hint", "refresh_token")]).status == 200)
        try expectInvalidGrant(try redeem(daemon, second.refresh))
        #expect(try daemon.auth("/users/me/", token: second.access).status == 401)
        #expect(try post(daemon, "/introspect", [("token", second.refresh)], headers: basic).text == #"{"active":false}"#)
        // Unknown refresh tokens: 200, nothing else.
        #expect(try post(daemon, "/revoke", [("token", String(repeating: "b", count: 43))]).status == 200)
        // /logout with an access token ends its login too.
        let other = try tokens(try login(daemon))
        let loggedOut = try sendRequest(port: daemon.port, method: "POST", target: "/logout", headers: [("Authorization", "Bearer \(other.access)")])
        #expect(loggedOut.status == 204)
        try expectInvalidGrant(try redeem(daemon, other.refresh))
        // A client's login is revoked only by that client.
        let clients = try tokens(try login(daemon, client: "app"))
        let anonymous = try post(daemon, "/revoke", [("token", clients.refresh)])
        #expect(anonymous.status == 400 && (errorCode(anonymous)) == "invalid_client")
        #expect(try redeem(daemon, clients.refresh, client: "app").status == 200)
    }

    /// Redemptions never wait behind password checks: with the login queue full, they are answered 200.
    @Test func aFullLoginQueueNeverRefusesARedemption() throws {
        let daemon = try daemon(http: {
            $0.workerThreads = 1
            $0.workerQueueLimit = 1
        })
        var current = try tokens(try login(daemon))
        let group = DispatchGroup()
        let overloaded = Mutex(0)
        let port = daemon.port
        for _ in 0..<6 {
            group.enter()
            // Threads of their own (Dispatch's pool runs about one job per core): six logins at once.
            Thread {
                // johndoe's hash has cost 12: each check holds the only worker for a while.
                let response = try? post(port: port, "/token", [("username", "johndoe"), ("password", "secret")])
                if response?.status == 503 { overloaded.withLock { $0 += 1 } }
                group.leave()
            }.start()
        }
        Thread.sleep(forTimeInterval: 0.05)
        for _ in 0..<5 { current = try tokens(try redeem(daemon, current.refresh)) }
        group.wait()
        #expect(overloaded.withLock { $0 } > 0, "the login queue was never full")
    }

    @Test func aLoginOutlivesARestart() throws {
        let path = try Self.storePath()
        var first: Tokens
        do {
            let daemon = try daemon(store: path)
            first = try tokens(try login(daemon))
            first = try tokens(try redeem(daemon, first.refresh))
        }
        let restarted = try daemon(store: path)
        let next = try tokens(try redeem(restarted, first.refresh))
        #expect(try restarted.auth("/users/me/", token: next.access).status == 200)
    }
}
