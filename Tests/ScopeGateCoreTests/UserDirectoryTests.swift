import Testing
@testable import ScopeGateCore

@Suite struct UserDirectoryTests {
    @Test func loadsUsers() throws {
        let yaml = """
            users:
              johndoe:
                full_name: John Doe
                email: johndoe@example.com
                password_hash: "\(seedHash)"
                disabled: false
                scopes: [me, items]        # the scopes this user may be granted
              alice:
                full_name: Alice Chains
                email: null
                password_hash: "\(aliceHash)"
                disabled: true
            """
        let directory = try UserDirectory.load(yaml: yaml, file: "users.yaml")
        #expect(
            directory["johndoe"]
                == UserRecord(
                    username: "johndoe", fullName: "John Doe", email: "johndoe@example.com",
                    passwordHash: seedHash, disabled: false, scopes: ["me", "items"]))
        #expect(directory["alice"]?.disabled == true)
        #expect(directory["alice"]?.email == nil)
        #expect(directory["alice"]?.scopes == [])
        #expect(directory["bob"] == nil)
        #expect(directory.grantableScopes == ["items", "me"])
    }

    @Test func reportsEveryProblem() throws {
        let yaml = """
            users:
              "evil\\r\\nX-Auth-User: root":
                password_hash: "\(seedHash)"
              bob:
                full_name: "Bob\\nSmith"
                password_hash: "$1$md5$nope"
                scopes: [me, "a b"]
                admin: true
              carol:
                email: carol@example.com
            """
        let error = #expect(throws: ConfigurationError.self) { try UserDirectory.load(yaml: yaml, file: "users.yaml") }
        #expect(
            error?.description == """
                users.yaml:2:3: error: user "evil??X-Auth-User: root": a user name is 1 to 128 characters with no white space or control characters
                users.yaml:8:5: error: user "bob": unknown key "admin"; expected one of "full_name", "email", "password_hash", "disabled", "scopes"
                users.yaml:5:16: error: user "bob": "full_name" must be at most 256 characters with no control characters or line breaks
                users.yaml:6:20: error: user "bob": unsupported password hash scheme "$1$"; expected one of $2b$, $2a$, $2y$ (bcrypt), $y$ (yescrypt), $6$ (sha512crypt), pbkdf2_sha256$ (Django), pbkdf2:sha256: (Werkzeug)
                users.yaml:7:18: error: user "bob": "a b" is not a valid scope (RFC 6749 §3.3: printable ASCII except space, " and \\)
                users.yaml:10:5: error: user "carol": needs a "password_hash" (make one with: scopegate hash-password)
                """)
        #expect(error?.description.contains("EixZaYVK") == false)
    }

    @Test func refusesDuplicateUsers() {
        let yaml = "users:\n  a:\n    password_hash: \"\(seedHash)\"\n  a:\n    password_hash: \"\(seedHash)\"\n"
        #expect(throws: ConfigurationError.self) { try UserDirectory.load(yaml: yaml, file: "u.yaml") }
    }
}
