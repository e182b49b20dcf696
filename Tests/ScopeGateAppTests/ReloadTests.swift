import Foundation
import Logging
import Synchronization
import Testing
@testable import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateTesting

/// A folder holding a policy, a users file and a secret, and a daemon started from them with a reloader.
final class ReloadFixture {
    let directory: URL
    let files: ConfigurationFiles
    let daemon: TestDaemon
    let reloader: ConfigurationReloader
    let logs = CapturedLogs()

    static let firstSecret = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
    static let usersYAML = """
        users:
          bob:
            password_hash: "$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO"
            scopes: [a, b]
          carol:
            password_hash: "$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO"
            scopes: [a]
        """

    /// With `keys` (a keys file and the key files it names), the keys file signs instead of the secret.
    init(
        policy: String = "rules:\n  - path: /x\n    scopes: [a]\n", users: String = ReloadFixture.usersYAML,
        keys: (yaml: String, files: [String: [UInt8]])? = nil
    ) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        files = ConfigurationFiles(
            policyPath: directory.appendingPathComponent("policy.yaml").path,
            usersPath: directory.appendingPathComponent("users.yaml").path,
            secretPath: keys == nil ? directory.appendingPathComponent("secret").path : nil,
            keysPath: keys == nil ? nil : directory.appendingPathComponent("keys.yaml").path, demo: false)
        try Self.write(policy, to: files.policyPath!)
        try Self.write(users, to: files.usersPath!)
        if let keys {
            try Self.write(keys.yaml, to: files.keysPath!)
            for (name, bytes) in keys.files { try Data(bytes).write(to: directory.appendingPathComponent(name)) }
        } else {
            try Self.write(Self.firstSecret, to: files.secretPath!)
        }
        let logger = logs.logger(level: .notice)
        let loaded = try files.load(logger: logger)
        var configuration = ServiceConfiguration(
            policy: loaded.policy, users: loaded.users, keyring: loaded.keyring,
            passwordHasher: try PasswordHasher(cost: 4))
        configuration.keySchedule = loaded.keySchedule
        daemon = try TestDaemon(configuration: configuration, logger: logger)
        reloader = ConfigurationReloader(files: files, initial: loaded.contents, service: daemon.service, logger: logger)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Replaces a file the way editors and `mv` do: a new file renamed over the old one.
    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }

    func token(_ subject: String = "bob", scopes: [String] = ["a", "b"]) throws -> String {
        let now = Date()
        return try TokenSigner(key: daemon.service.configuration.keyring.signingKey).sign(
            AccessTokenClaims(subject: subject, scopes: scopes, issuedAt: now, expiresAt: now + 600, tokenID: "t"))
    }

    func metric(_ name: String, _ labels: [String: String] = [:]) throws -> Double? {
        try parseMetrics(try daemon.get("/metrics").text).value(name, labels)
    }
}

@Suite struct ReloadTests {
    @Test func putsAChangedPolicyInForce() throws {
        let fixture = try ReloadFixture()
        let carol = try fixture.token("carol", scopes: ["a"])
        #expect(try fixture.daemon.auth("/x", token: carol).status == 200)
        #expect(fixture.reloader.reload(reason: "test", onlyIfChanged: true) == .unchanged)
        try ReloadFixture.write("rules:\n  - path: /x\n    scopes: [b]\n", to: fixture.files.policyPath!)
        #expect(fixture.reloader.reload(reason: "test") == .reloaded)
        let refused = try fixture.daemon.auth("/x", token: carol)
        #expect(refused.status == 401)
        #expect(refused.header("WWW-Authenticate") == #"Bearer scope="b""#)
        #expect(try fixture.metric("scopegate_config_reloads_total", ["result": "success"]) == 1)
        #expect(fixture.logs.lines.contains { $0.contains("configuration reloaded") && $0.contains("policy.rules=1") })
    }

    @Test func refusesABadFileAndKeepsTheOldConfiguration() throws {
        let fixture = try ReloadFixture()
        let carol = try fixture.token("carol", scopes: ["a"])
        try ReloadFixture.write("rules:\n  - path: /x\n    methods: [GETT]\n    scopes: [b]\n", to: fixture.files.policyPath!)
        guard case .failed(let message) = fixture.reloader.reload(reason: "test") else {
            Issue.record("a bad policy was accepted")
            return
        }
        #expect(
            message
                == "\(fixture.files.policyPath!):3:15: error: rule \"/x\": unknown method \"GETT\"; expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT"
        )
        #expect(try fixture.daemon.auth("/x", token: carol).status == 200)
        #expect(try fixture.metric("scopegate_config_reloads_total", ["result": "failure"]) == 1)
        #expect(try fixture.metric("scopegate_config_last_reload_successful") == 0)
        #expect(fixture.logs.lines.contains { $0.hasPrefix("error configuration refused") && $0.contains("GETT") })

        // A weak secret and a missing users file are refused the same way.
        try ReloadFixture.write("rules:\n  - path: /x\n    scopes: [b]\n", to: fixture.files.policyPath!)
        try ReloadFixture.write("short", to: fixture.files.secretPath!)
        #expect(fixture.reloader.reload(reason: "test") != .reloaded)
        try ReloadFixture.write(ReloadFixture.firstSecret, to: fixture.files.secretPath!)
        try FileManager.default.removeItem(atPath: fixture.files.usersPath!)
        #expect(fixture.reloader.reload(reason: "test") == .failed("cannot read \(fixture.files.usersPath!)"))
        #expect(try fixture.daemon.auth("/x", token: carol).status == 200)
        #expect(try fixture.metric("scopegate_config_reloads_total", ["result": "failure"]) == 3)

        try ReloadFixture.write(ReloadFixture.usersYAML, to: fixture.files.usersPath!)
        #expect(fixture.reloader.reload(reason: "test") == .reloaded)
        #expect(try fixture.daemon.auth("/x", token: carol).status == 401)
        #expect(try fixture.metric("scopegate_config_last_reload_successful") == 1)
    }

    @Test func aNewSecretOrARemovedUserEndsOldTokensAtOnce() throws {
        let fixture = try ReloadFixture()
        let bob = try fixture.token()
        let carol = try fixture.token("carol", scopes: ["a"])
        // Decided once, so the verified-token cache holds them.
        #expect(try fixture.daemon.auth("/x", token: bob).status == 200)
        #expect(try fixture.daemon.auth("/x", token: carol).status == 200)
        try ReloadFixture.write(ReloadFixture.usersYAML.replacingOccurrences(of: "  carol:", with: "  carl:"), to: fixture.files.usersPath!)
        #expect(fixture.reloader.reload(reason: "test") == .reloaded)
        #expect(try fixture.daemon.auth("/x", token: carol).status == 401)
        #expect(try fixture.daemon.auth("/x", token: bob).status == 200)
        try ReloadFixture.write(String(repeating: "9f", count: 32), to: fixture.files.secretPath!)
        #expect(fixture.reloader.reload(reason: "test") == .reloaded)
        #expect(try fixture.daemon.auth("/x", token: bob).status == 401)
        #expect(try fixture.daemon.auth("/x", token: try fixture.token()).status == 200)
    }

    /// A reload that deletes a key whose tokens can still be valid is logged as a warning naming the key and
    /// until when it was needed; its tokens are refused from then on (so the warning is not idle talk).
    @Test func aKeyDeletedTooEarlyIsReported() throws {
        let old = try ECDSAKey.generate(id: "old")
        let new = try ECDSAKey.generate(id: "new")
        let now = Date()
        func entry(_ id: String, activatedAgo: TimeInterval) -> String {
            "  - id: \(id)\n    algorithm: ES256\n    private_key_file: \(id).pem\n    activate_at: \(KeySchedule.formatTimestamp(now - activatedAgo))\n"
        }
        let fixture = try ReloadFixture(
            keys: (
                "keys:\n" + entry("old", activatedAgo: 7200) + entry("new", activatedAgo: 60),
                ["old.pem": try old.privateKeyPEM(), "new.pem": try new.privateKeyPEM()]
            ))
        let signedByOld = try TokenSigner(key: old).sign(
            AccessTokenClaims(subject: "bob", scopes: ["a"], issuedAt: now - 120, expiresAt: now + 600, tokenID: "o"))
        #expect(try fixture.daemon.auth("/x", token: signedByOld).status == 200)
        #expect(!fixture.logs.lines.contains { $0.contains("was removed") })
        try ReloadFixture.write("keys:\n" + entry("new", activatedAgo: 60), to: fixture.files.keysPath!)
        #expect(fixture.reloader.reload(reason: "test") == .reloaded)
        #expect(
            fixture.logs.lines.contains { $0.contains("warning: key \"old\" (ES256) was removed while retiring: tokens it signed are refused") },
            "\(fixture.logs.lines)")
        #expect(try fixture.daemon.auth("/x", token: signedByOld).status == 401)
    }

    @Test func identityHeadersFollowTheUsersFile() throws {
        let fixture = try ReloadFixture()
        let bob = try fixture.token()
        // Answered twice, so the second answer is the one kept for this token.
        for _ in 0..<2 { #expect(try fixture.daemon.auth("/x", token: bob).header("X-Auth-Scopes") == "a b") }
        try ReloadFixture.write(
            ReloadFixture.usersYAML.replacingOccurrences(of: "scopes: [a, b]", with: "scopes: [a]")
                .replacingOccurrences(of: "  bob:\n", with: "  bob:\n    email: bob@example.com\n"), to: fixture.files.usersPath!)
        #expect(fixture.reloader.reload(reason: "test") == .reloaded)
        let after = try fixture.daemon.auth("/x", token: bob)
        #expect(after.status == 200)
        #expect(after.header("X-Auth-Scopes") == "a")
        #expect(after.header("X-Auth-Email") == "bob@example.com")
    }

    @Test func decisionsNeverSeeAMixOfOldAndNew() throws {
        // State A: /x needs a, bob has a. State B: /x needs b, bob has b. bob's token carries a and b, so it is
        // allowed under A and under B; policy A with users B (or B with A) would refuse it.
        let usersA = ReloadFixture.usersYAML.replacingOccurrences(of: "scopes: [a, b]", with: "scopes: [a]")
        let usersB = ReloadFixture.usersYAML.replacingOccurrences(of: "scopes: [a, b]", with: "scopes: [b]")
        let policyA = "rules:\n  - path: /x\n    scopes: [a]\n"
        let policyB = "rules:\n  - path: /x\n    scopes: [b]\n"
        let fixture = try ReloadFixture(policy: policyA, users: usersA)
        let token = try fixture.token()
        let states = [
            (try Policy.load(yaml: policyA, file: "a"), try UserDirectory.load(yaml: usersA, file: "a")),
            (try Policy.load(yaml: policyB, file: "b"), try UserDirectory.load(yaml: usersB, file: "b")),
        ]
        let keyring = fixture.daemon.service.configuration.keyring
        let service = fixture.daemon.service
        let stop = Mutex(false)
        let swaps = Mutex(0)
        let swapper = Thread {
            var index = 0
            while !stop.withLock({ $0 }) {
                index ^= 1
                service.replace(policy: states[index].0, users: states[index].1, keyring: keyring)
                swaps.withLock { $0 += 1 }
            }
        }
        swapper.start()
        defer { stop.withLock { $0 = true } }
        var statuses: [Int: Int] = [:]
        let connection = try TestHTTPConnection(port: fixture.daemon.port)
        // At least 400 decisions and at least 100 swaps during them, however busy the machine is.
        let deadline = Date().addingTimeInterval(60)
        var decisions = 0
        while (decisions < 400 || swaps.withLock({ $0 }) < 100) && Date() < deadline {
            decisions += 1
            try connection.send("GET /auth HTTP/1.1\r\nHost: t\r\nX-Original-URI: /x\r\nX-Original-Method: GET\r\nAuthorization: Bearer \(token)\r\n\r\n")
            let response = try connection.readResponse()
            statuses[response.status, default: 0] += 1
        }
        stop.withLock { $0 = true }
        #expect(statuses == [200: decisions])
        #expect(decisions >= 400)
        #expect(swaps.withLock { $0 } >= 100)
    }
}
