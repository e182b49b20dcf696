import Foundation
import ScopeGateTesting
import Testing

/// `scopegate users` against the store a running `serve --users store` reads: every change is seen by the
/// server within a second, and users imported from a Django application keep their passwords.
@Suite struct UsersCommandTests {
    let secret = try! temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n")
    let policy = try! temporaryFile("policy.yaml", "rules:\n  - path: /me\n    scopes: [me]\n")

    func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-users-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func login(_ port: UInt16, _ name: String, _ password: String) throws -> (status: Int, token: String?) {
        let answer = try sendRequest(
            port: port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("username", name), ("password", password), ("scope", "me")]))
        let token = (try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])?["access_token"] as? String
        return (answer.status, token)
    }

    func auth(_ port: UInt16, _ token: String) throws -> Int {
        try sendRequest(port: port, target: "/auth", headers: [("X-Original-URI", "/me"), ("X-Original-Method", "GET"), ("Authorization", "Bearer \(token)")])
            .status
    }

    @Test func usersManagedWhileTheServerRuns() throws {
        let state = try folder()
        let location = ["--state-dir", state]
        let server = try ServingProcess(["--policy", policy, "--users", "store", "--secret-file", secret, "--bcrypt-cost", "4"] + location)
        #expect(server.log.contains("the store holds no users yet"))
        let added = try run(["users", "add", "erin", "--scopes", "me,items", "--email", "erin@example.com", "--bcrypt-cost", "4"] + location, input: "pw\n")
        #expect(added.status == 0 && added.output == "added user erin\n", "\(added.errors)")
        let first = try login(server.port, "erin", "pw")
        #expect(first.status == 200)
        let token = try #require(first.token)
        // At once: a login brings the server's copy of the user up to date before its token is issued.
        #expect(try auth(server.port, token) == 200)
        let listed = try run(["users", "list"] + location)
        #expect(listed.output == "erin\tenabled\tme,items\tbcrypt-4\n", "\(listed.output)")
        #expect(!listed.output.contains("$2b$"))

        // Each change reaches the running server within a second.
        #expect(try run(["users", "ungrant", "erin", "me"] + location).output == "user erin may be granted: items\n")
        #expect(waitUntil(timeout: 3) { (try? auth(server.port, token)) == 401 })
        #expect(try run(["users", "grant", "erin", "me"] + location).status == 0)
        #expect(waitUntil(timeout: 3) { (try? auth(server.port, token)) == 200 })
        #expect(try run(["users", "disable", "erin"] + location).status == 0)
        #expect(waitUntil(timeout: 3) { (try? auth(server.port, token)) == 403 })
        #expect(try run(["users", "list"] + location).output.hasPrefix("erin\tdisabled\t"))
        #expect(try run(["users", "enable", "erin"] + location).status == 0)
        #expect(try run(["users", "passwd", "erin", "--bcrypt-cost", "4"] + location, input: "new\n").status == 0)
        #expect(try login(server.port, "erin", "pw").status == 400)
        #expect(try login(server.port, "erin", "new").status == 200)

        // Refusals: a user twice, an unknown user, a bad scope or name, a file that is not a users file.
        let twice = try run(["users", "add", "erin", "--bcrypt-cost", "4"] + location, input: "x\n")
        #expect(twice.status != 0 && twice.errors.contains("user \"erin\" exists already"))
        let unknown = try run(["users", "passwd", "nobody"] + location, input: "x\n")
        #expect(unknown.status != 0 && unknown.errors.contains("no user \"nobody\" in the store"))
        #expect(try run(["users", "disable", "nobody"] + location).status != 0)
        #expect(try run(["users", "grant", "erin", "bad\"scope"] + location).status != 0)
        #expect(try run(["users", "add", "two words"] + location, input: "x\n").status != 0)
        let broken = try temporaryFile("users.yaml", "users:\n  ivan:\n    password_hash: plaintext\n")
        let refused = try run(["users", "import", broken] + location)
        #expect(refused.status != 0 && refused.errors.contains("users.yaml:3:"), "\(refused.errors)")
        #expect(server.stop() == 0)
    }

    /// An import killed with SIGKILL part way leaves the store as it was (one transaction), and intact.
    @Test func anImportKilledPartWayChangesNothing() throws {
        let state = try folder()
        let hash = "$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO"
        #expect(
            try run(["users", "import", try temporaryFile("one.yaml", "users:\n  first:\n    password_hash: \"\(hash)\"\n"), "--state-dir", state]).status == 0)
        var yaml = "users:\n"
        for index in 0..<30_000 { yaml += "  user\(index):\n    password_hash: \"\(hash)\"\n    scopes: [me]\n" }
        let big = try temporaryFile("big.yaml", yaml)
        // Timed whole once elsewhere: the kills land late in the run, where the transaction writes.
        let started = Date()
        #expect(try run(["users", "import", big, "--state-dir", try folder()]).status == 0)
        let whole = Date().timeIntervalSince(started)
        for delay in [0.6, 0.75, 0.85, 0.95].map({ $0 * whole }) {
            let process = Process()
            process.executableURL = scopegateBinary
            process.arguments = ["users", "import", big, "--state-dir", state]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let listed = try run(["users", "list", "--state-dir", state]).output.split(separator: "\n")
            // All or nothing: the one user from before, or every imported one besides (an import that finished first).
            #expect(listed.count == 1 || listed.count == 30_001, "\(listed.count) users after a kill at \(delay) s")
        }
        let check = try runPython(
            "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])",
            arguments: [state + "/scopegate.db"])
        #expect(check.trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
    }

    /// Users of a Django application, imported with their hashes, log in with their passwords; each hash
    /// becomes bcrypt at the first login.
    @Test func importedDjangoUsersKeepTheirPasswords() throws {
        let state = try folder()
        let hash = try runPython(
            """
            from django.conf import settings
            settings.configure()
            from django.contrib.auth.hashers import make_password
            print(make_password("django-pw"))
            """
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        let users = try temporaryFile(
            "users.yaml", "users:\n  judy:\n    password_hash: \"\(hash)\"\n    scopes: [me]\n  kim:\n    password_hash: \"\(hash)\"\n    disabled: true\n")
        let imported = try run(["users", "import", users, "--state-dir", state])
        #expect(imported.output == "imported 2 users from \(users): 2 added, 0 replaced\n", "\(imported.errors)")
        #expect(try run(["users", "import", users, "--state-dir", state]).output.hasSuffix("0 added, 2 replaced\n"))
        #expect(
            try run(["users", "list", "--state-dir", state]).output
                == "judy\tenabled\tme\tdjango-pbkdf2-sha256-260000\nkim\tdisabled\t-\tdjango-pbkdf2-sha256-260000\n")
        let server = try ServingProcess(
            ["--policy", policy, "--users", "store", "--secret-file", secret, "--state-dir", state, "--bcrypt-cost", "4"])
        #expect(try login(server.port, "judy", "django-pw").status == 200)
        #expect(try run(["users", "list", "--state-dir", state]).output.hasPrefix("judy\tenabled\tme\tbcrypt-4\n"))
        #expect(try login(server.port, "judy", "django-pw").status == 200)
        #expect(server.stop() == 0)
        #expect(server.log.contains("password hash upgraded"))
        #expect(!server.log.contains("django-pw") && !server.log.contains(hash))
    }
}
