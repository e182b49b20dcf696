import Foundation
import ScopeGateTesting
import Testing

/// `serve --store postgres://…` against a PostgreSQL that accepts only TLS and passwords (`hostssl …
/// scram-sha-256`), as a database across a network should: libpq checks the server's certificate and name
/// (`sslmode=verify-full`), reads the password from a `PGPASSFILE` or the URL, and ScopeGate never shows it.
@Suite struct PostgreSQLConnectionTests {
    static let password = "pg-s3cret-Zq81"

    /// A test CA, a certificate for `localhost` it signed, and another CA that signed nothing here.
    struct Certificates {
        let folder: String
        var ca: String { folder + "/ca.pem" }
        var otherCA: String { folder + "/other-ca.pem" }

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-pg-tls-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try "subjectAltName=DNS:localhost\n".write(toFile: folder + "/san.ext", atomically: true, encoding: .utf8)
            let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            for (name, subject) in [("ca", "/CN=ScopeGate test CA"), ("other-ca", "/CN=Another CA")] {
                try Self.openssl(
                    ["req", "-x509"] + key + ["-keyout", "\(folder)/\(name).key", "-out", "\(folder)/\(name).pem", "-days", "1", "-subj", subject])
            }
            try Self.openssl(["req"] + key + ["-keyout", "\(folder)/server.key", "-out", "\(folder)/server.csr", "-subj", "/CN=localhost"])
            try Self.openssl([
                "x509", "-req", "-in", "\(folder)/server.csr", "-CA", ca, "-CAkey", "\(folder)/ca.key", "-CAcreateserial", "-out",
                "\(folder)/server.crt", "-days", "1", "-extfile", "\(folder)/san.ext",
            ])
        }

        private static func openssl(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw TestHTTPError(description: "openssl \(arguments.first ?? "") failed (apt-get install openssl)") }
        }
    }

    let users = try! temporaryFile(
        "users.yaml", "users:\n  bob:\n    password_hash: \"$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO\"\n    scopes: [me]\n")
    let secret = try! temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n")
    let policy = try! temporaryFile("policy.yaml", "rules:\n  - path: /me\n    scopes: [me]\n")

    @Test func tlsAndPasswordsAsLibpqReadsThem() throws {
        let certificates = try Certificates()
        defer { try? FileManager.default.removeItem(atPath: certificates.folder) }
        let server = try PostgreSQLServer(settings: ["ssl=on", "ssl_cert_file=server.crt", "ssl_key_file=server.key"]) { data in
            for file in ["server.crt", "server.key"] {
                try FileManager.default.copyItem(atPath: "\(certificates.folder)/\(file)", toPath: "\(data)/\(file)")
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(data)/server.key")
            // TCP clients: TLS and a password, nothing else; the test's own helpers use the unix socket.
            try "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n"
                .write(toFile: "\(data)/pg_hba.conf", atomically: true, encoding: .utf8)
        }
        defer { server.stop() }
        _ = try server.psql("postgres", "CREATE ROLE scopegate LOGIN PASSWORD '\(Self.password)'")
        _ = try server.psql("postgres", "CREATE DATABASE scopegate OWNER scopegate")
        let base = "postgres://scopegate@localhost:\(server.port)/scopegate"
        let verified = "\(base)?sslmode=verify-full&sslrootcert=\(certificates.ca)"
        let passwords = try temporaryFile("pgpass", "localhost:\(server.port):scopegate:scopegate:\(Self.password)\n")
        let arguments = ["--policy", policy, "--users", users, "--secret-file", secret, "--refresh-token-lifetime", "600"]

        // The password from a PGPASSFILE, the server's certificate checked: it serves, logins land in the database.
        let serving = try ServingProcess(arguments + ["--store", verified], environment: ["PGPASSFILE": passwords])
        let login = try sendRequest(
            port: serving.port, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: formBody([("username", "bob"), ("password", "secret"), ("scope", "me")]))
        #expect(login.status == 200 && login.text.contains("refresh_token"), "\(login.text)")
        serving.stop()
        #expect(try server.psql("scopegate", "SELECT count(*) FROM refresh_families") == "1")

        // The password in the URL works too, and is never shown.
        let inURL = verified.replacingOccurrences(of: "scopegate@", with: "scopegate:\(Self.password)@")
        let withPassword = try ServingProcess(arguments + ["--store", inURL])
        withPassword.stop()
        #expect(withPassword.log.contains("scopegate:***@localhost") && !withPassword.log.contains(Self.password), "\(withPassword.log)")

        // A certificate no trusted CA signed, no TLS, no password: each a clear refusal at start, no password shown.
        let refusals = [
            ("\(base)?sslmode=verify-full&sslrootcert=\(certificates.otherCA)", ["PGPASSFILE": passwords], "certificate verify failed"),
            ("\(base)?sslmode=disable", ["PGPASSFILE": passwords], "no encryption"),
            ("\(base)?sslmode=verify-full&sslrootcert=\(certificates.ca)", ["PGPASSFILE": "/nonexistent"], "password"),
        ]
        for (url, environment, reason) in refusals {
            let refused = try run(["serve"] + arguments + ["--store", url], environment: environment)
            #expect(refused.status != 0)
            #expect(refused.errors.contains("--store postgres://scopegate@localhost") && refused.errors.contains(reason), "\(refused.errors)")
            #expect(!refused.errors.contains(Self.password))
        }
    }
}
