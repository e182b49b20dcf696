import Foundation
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore
import ScopeGateTesting
import Synchronization
import Testing

@testable import ScopeGateApp

/// Users kept in the store (`--users store`): logins read the store, decisions a copy kept current within a
/// second, and a hash weaker than preferred is upgraded at login with compare-and-swap, from every format
/// `scopegate users import` accepts.
@Suite struct StoredUserTests {
    static func storePath() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-users-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("scopegate.db").path
    }

    /// The hashes of "pw" in each format a login upgrades, made by the libraries that write them.
    static func foreignHashes() throws -> [String: String] {
        let lines = try runPython(
            """
            from django.conf import settings
            settings.configure()
            from django.contrib.auth.hashers import make_password
            from werkzeug.security import generate_password_hash
            from passlib.hash import bcrypt, sha512_crypt
            print("bcrypt-low", bcrypt.using(rounds=4).hash("pw"))
            print("sha512crypt", sha512_crypt.using(rounds=5000).hash("pw"))
            print("django", make_password("pw"))
            print("werkzeug", generate_password_hash("pw", method="pbkdf2:sha256:1000"))
            """
        )
        return Dictionary(
            uniqueKeysWithValues: lines.split(separator: "\n").map { line in
                let parts = line.split(separator: " ", maxSplits: 1)
                return (String(parts[0]), String(parts[1]))
            })
    }

    func daemon(store path: String, cost: Int = 5) throws -> TestDaemon {
        let store = try SQLiteStore(path: path)
        let stored = try StoredUsers(store: store)
        return try TestDaemon(configure: { configuration in
            configuration.revocations = try! Revocations(store: store)
            configuration.storedUsers = stored
            configuration.users = stored.directory
            configuration.passwordHasher = try! PasswordHasher(cost: cost)
        })
    }

    func login(_ daemon: TestDaemon, _ name: String, _ password: String, scope: String = "me") throws -> TestHTTPResponse {
        try daemon.login(name, password, scope: scope)
    }

    func accessToken(_ response: TestHTTPResponse) throws -> String {
        #expect(response.status == 200, "\(response.text)")
        return try #require((try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["access_token"] as? String)
    }

    @Test func loginsReadTheStoreAndDecisionsSeeChangesWithinASecond() throws {
        let path = try Self.storePath()
        // Another handle on the file: what `scopegate users` writes while the server runs.
        let cli = try SQLiteStore(path: path)
        #expect(try cli.addUser(StoredUser(username: "erin", passwordHash: try PasswordHasher(cost: 5).hash("pw"), scopes: ["me", "items"])))
        let daemon = try daemon(store: path)
        let token = try accessToken(try login(daemon, "erin", "pw", scope: "me items"))
        #expect(try daemon.auth("/users/me/items/", token: token).status == 200)
        // A user added now logs in at once: logins read the store.
        #expect(try cli.addUser(StoredUser(username: "frank", passwordHash: try PasswordHasher(cost: 5).hash("pw2"), scopes: ["me"])))
        #expect(try daemon.login("frank", "pw2", scope: "me").status == 200)
        // A new password works at once, and the old one stops.
        try cli.changeUser("erin", .passwordHash(try PasswordHasher(cost: 5).hash("new")))
        #expect(try daemon.login("erin", "pw").status == 400)
        #expect(try daemon.login("erin", "new").status == 200)
        // Ungranting a scope reaches decisions on the running server within a second; disabling too.
        try cli.changeUser("erin", .ungrant(["items"]))
        #expect(waitUntil(timeout: 3) { (try? daemon.auth("/users/me/items/", token: token).status) == 401 })
        #expect(try daemon.auth("/users/me/", token: token).status == 200)
        try cli.changeUser("erin", .disabled(true))
        #expect(waitUntil(timeout: 3) { (try? daemon.auth("/users/me/", token: token).status) != 200 })
        #expect(try daemon.get("/users/me/", headers: [("Authorization", "Bearer \(token)")]).status == 400)
    }

    /// Each weaker format is replaced by bcrypt at the preferred cost on the first login, and the password
    /// still works; the preferred hash is left alone.
    @Test func aLoginUpgradesEveryWeakerFormat() throws {
        let path = try Self.storePath()
        let hashes = try Self.foreignHashes()
        #expect(hashes.count == 4)
        let store = try SQLiteStore(path: path)
        let preferred = try PasswordHasher(cost: 5).hash("pw")
        _ = try store.importUsers(
            hashes.map { StoredUser(username: $0.key, passwordHash: $0.value, scopes: ["me"]) } + [
                StoredUser(username: "current", passwordHash: preferred, scopes: ["me"])
            ])
        let daemon = try daemon(store: path)
        for name in hashes.keys.sorted() {
            #expect(try daemon.login(name, "pw").status == 200, "\(name)")
            let upgraded = try #require(try store.user(named: name)).passwordHash
            #expect(PasswordScheme.label(of: upgraded) == "bcrypt-5", "\(name): \(PasswordScheme.label(of: upgraded))")
            #expect(try daemon.login(name, "pw").status == 200, "\(name)")
            #expect(try daemon.login(name, "wrong").status == 400, "\(name)")
        }
        #expect(try daemon.login("current", "pw").status == 200)
        #expect(try store.user(named: "current")?.passwordHash == preferred)
        #expect(try daemon.get("/metrics").text.contains("scopegate_password_hashes_upgraded_total 4"))
    }

    /// Two logins of one user at once: both succeed, the hash is upgraded once, and the survivor verifies.
    @Test func twoConcurrentLoginsUpgradeOnce() throws {
        let path = try Self.storePath()
        let store = try SQLiteStore(path: path)
        let django = try #require(try Self.foreignHashes()["django"])
        #expect(try store.addUser(StoredUser(username: "grace", passwordHash: django, scopes: ["me"])))
        let daemon = try daemon(store: path)
        let port = daemon.port
        let statuses = Mutex<[Int]>([])
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread {
                let answer = try? sendRequest(
                    port: port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                    body: formBody([("username", "grace"), ("password", "pw")]))
                statuses.withLock { $0.append(answer?.status ?? -1) }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(statuses.withLock { $0 } == [200, 200])
        let upgraded = try #require(try store.user(named: "grace")).passwordHash
        #expect(PasswordHasher.verifyHash("pw", against: upgraded) && PasswordScheme.label(of: upgraded) == "bcrypt-5")
        #expect(try daemon.get("/metrics").text.contains("scopegate_password_hashes_upgraded_total 1"))
    }

    /// With the users file, which ScopeGate never writes, an outdated hash is counted and logged once.
    @Test func theUsersFileIsNeverRewrittenOnlyCountedOnce() throws {
        let hashes = try Self.foreignHashes()
        let yaml = "users:\n  henry:\n    password_hash: \"\(try #require(hashes["werkzeug"]))\"\n    scopes: [me]\n"
        let logs = CapturedLogs()
        let daemon = try TestDaemon(usersYAML: yaml, logger: logs.logger())
        for _ in 0..<3 { #expect(try daemon.login("henry", "pw").status == 200) }
        #expect(try daemon.get("/metrics").text.contains("scopegate_password_hashes_outdated_total 1"))
        #expect(logs.lines.filter { $0.contains("password hash is weaker than preferred") }.count == 1)
        #expect(daemon.service.configuration.users["henry"]?.passwordHash == hashes["werkzeug"])
    }

    /// A stored user named like a registered client cannot log in: its token's client_id would equal its
    /// sub, which marks a client's own token (the users file is checked for this at load; the store is not).
    @Test func aUserNamedLikeAClientIsRefused() throws {
        let path = try Self.storePath()
        let store = try SQLiteStore(path: path)
        #expect(try store.addUser(StoredUser(username: "worker", passwordHash: try PasswordHasher(cost: 5).hash("pw"), scopes: ["me"])))
        let stored = try StoredUsers(store: store)
        let secretHash = ClientSecretHash(try ClientSecretHash.hash("s", rounds: 1_000))!
        let daemon = try TestDaemon(configure: { configuration in
            configuration.revocations = try! Revocations(store: store)
            configuration.storedUsers = stored
            configuration.users = stored.directory
            configuration.passwordHasher = try! PasswordHasher(cost: 5)
            configuration.clients = ClientDirectory([
                ClientRecord(id: "worker", secretHashes: [secretHash], grantTypes: [.password], scopes: ["me"])
            ])
        })
        let refused = try daemon.login("worker", "pw")
        #expect(refused.status == 400 && refused.text == #"{"detail":"Incorrect username or password"}"#)
    }
}
