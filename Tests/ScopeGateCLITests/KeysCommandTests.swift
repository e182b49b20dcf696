import Foundation
import ScopeGateCore
import ScopeGateTesting
import Testing

/// `scopegate keys generate | rotate | status`.
@Suite struct KeysCommandTests {
    @Test func generateWritesAPrivateKeyOnceAndPrintsItsKid() throws {
        let folder = URL(fileURLWithPath: try temporaryFile("placeholder", "")).deletingLastPathComponent()
        let out = folder.appendingPathComponent("es.pem").path
        let made = try run(["keys", "generate", "--algorithm", "ES256", "--out", out])
        #expect(made.status == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let key = try ECDSAKey(pem: Array(try Data(contentsOf: URL(fileURLWithPath: out))))
        #expect(made.output == "\(key.id!)\n")
        let again = try run(["keys", "generate", "--algorithm", "ES256", "--out", out])
        #expect(again.status == 1)
        #expect(again.errors.contains("exists; not overwriting it"))
    }

    @Test func rotateAddsANextKeyAndStatusShowsTheLifecycle() throws {
        let pem = try temporaryFile("current.pem", String(decoding: try ECDSAKey.generate(id: "current").privateKeyPEM(), as: UTF8.self))
        let folder = URL(fileURLWithPath: pem).deletingLastPathComponent()
        let keys = folder.appendingPathComponent("keys.yaml").path
        let original = """
            # Signing keys; rotate with: scopegate keys rotate --keys keys.yaml
            keys:
              - id: current   # the first key
                algorithm: ES256
                private_key_file: current.pem
            signing_algorithm: ES256

            """
        try original.write(toFile: keys, atomically: true, encoding: .utf8)
        let rotated = try run(["keys", "rotate", "--keys", keys, "--algorithm", "ES256", "--prepublish", "20m"])
        #expect(rotated.status == 0, "\(rotated.errors)")
        let words = rotated.output.split(separator: " ")
        let id = try #require(words.first.map(String.init))
        #expect(id.hasPrefix("es256-") && words.dropFirst().prefix(3) == ["ES256", "next", "signs"])
        let updated = try String(contentsOfFile: keys, encoding: .utf8)
        // The file's own lines, comments and order are kept; the key joins the end of the keys list.
        #expect(updated.hasPrefix("# Signing keys; rotate with: scopegate keys rotate --keys keys.yaml\nkeys:\n  - id: current   # the first key\n"))
        #expect(updated.contains("    private_key_file: current.pem\n  - id: \(id)\n    algorithm: ES256\n    private_key_file: \(id).pem\n    activate_at: "))
        #expect(updated.hasSuffix("signing_algorithm: ES256\n"))
        let status = try run(["keys", "status", "--keys", keys])
        #expect(status.status == 0)
        let lines = status.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first?.hasPrefix("current ES256 active since ") == true)
        #expect(lines.dropFirst().first?.hasPrefix("\(id) ES256 next signs from ") == true)
        #expect(lines.last == "\(keys): note: no HS256 key is active, so tokens without kid (those --secret-file signs) are refused")
        // A second rotation right away gets its own key file and kid.
        #expect(try run(["keys", "rotate", "--keys", keys]).status == 0)
        #expect(try run(["keys", "status", "--keys", keys]).output.split(separator: "\n").count == 4)
    }

    @Test func explainVerifiesWithTheKeysFile() throws {
        let es = try ECDSAKey.generate(id: "es-1")
        let pem = try temporaryFile("es.pem", String(decoding: try es.privateKeyPEM(), as: UTF8.self))
        let keys = URL(fileURLWithPath: pem).deletingLastPathComponent().appendingPathComponent("keys.yaml").path
        try "keys:\n  - algorithm: ES256\n    id: es-1\n    private_key_file: es.pem\n".write(toFile: keys, atomically: true, encoding: .utf8)
        let policy = try temporaryFile("policy.yaml", "rules:\n  - path: /a\n    scopes: [me]\n")
        let users = try temporaryFile(
            "users.yaml", "users:\n  bob:\n    password_hash: \"$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO\"\n    scopes: [me]\n")
        let token = try TokenSigner(key: es).sign(AccessTokenClaims(subject: "bob", scopes: ["me"], issuedAt: Date(), expiresAt: Date() + 600, tokenID: "e"))
        let explained = try run(["explain", "--policy", policy, "--users", users, "--keys", keys, "GET", "/a", "--token", token])
        #expect(explained.status == 0, "\(explained.output)")
        #expect(explained.output.contains("token:     valid for bob, scopes me"))
        #expect(explained.output.contains("decision:  allow, 200"))
    }

    /// After `signing_algorithm` moves to another algorithm, the old algorithm's key is still active: it
    /// verifies and is published until it is deleted, and `keys status` says so.
    @Test func statusSaysWhichActiveKeyDoesNotSign() throws {
        let es = try temporaryFile("es.pem", String(decoding: try ECDSAKey.generate(id: "es").privateKeyPEM(), as: UTF8.self))
        let folder = URL(fileURLWithPath: es).deletingLastPathComponent()
        try Ed25519Key.generate(id: "ed").privateKeyPEM().withUnsafeBytes { try Data($0).write(to: folder.appendingPathComponent("ed.pem")) }
        let keys = folder.appendingPathComponent("keys.yaml").path
        try """
        signing_algorithm: EdDSA
        keys:
          - {id: es, algorithm: ES256, private_key_file: es.pem}
          - {id: ed, algorithm: EdDSA, private_key_file: ed.pem}

        """.write(toFile: keys, atomically: true, encoding: .utf8)
        let status = try run(["keys", "status", "--keys", keys])
        #expect(status.status == 0, "\(status.output)")
        let lines = status.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("es ES256 active since ") == true && lines.first?.hasSuffix("; verifies only, does not sign") == true)
        #expect(lines.dropFirst().first?.hasPrefix("ed EdDSA active since ") == true && lines.dropFirst().first?.contains("does not sign") == false)
        #expect(lines.contains { $0.hasPrefix("\(keys):3:5: warning: key \"es\" (ES256) is active but does not sign: EdDSA signs") }, "\(lines)")
    }

    @Test func statusReportsErrorsWithTheirPlace() throws {
        let keys = try temporaryFile("keys.yaml", "keys:\n  - id: a\n    algorithm: ES256\n    private_key_file: missing.pem\n")
        let status = try run(["keys", "status", "--keys", keys])
        #expect(status.status == 1)
        #expect(status.output.contains("\(keys):4:23: error: cannot read \"missing.pem\""))
    }
}
