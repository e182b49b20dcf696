import Foundation
import Testing
import ScopeGateCore
import ScopeGateTesting

/// The `scopegate` binary the test build produced, beside the test bundle.
let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("scopegate")

struct Run {
    let status: Int32
    let output: String
    let errors: String
}

func run(_ arguments: [String], input: String? = nil) throws -> Run {
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    let stdin = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self), errors: String(decoding: err, as: UTF8.self))
}

func temporaryFile(_ name: String, _ contents: String, permissions: Int = 0o600) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(name)
    try contents.write(to: url, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: url.path)
    return url.path
}

/// Sends SIGTERM and waits up to 10 s for the exit status; a process that does not stop is killed, and nil
/// is returned.
func terminate(_ process: Process) -> Int32? {
    kill(process.processIdentifier, SIGTERM)
    let deadline = Date().addingTimeInterval(10)
    while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return nil
    }
    return process.terminationStatus
}

/// A running `scopegate serve`, started and read until it logs the port it listens on.
struct ServingProcess {
    let process: Process
    let errors: Pipe
    var log: String
    let port: UInt16

    init(_ arguments: [String]) throws {
        process = Process()
        process.executableURL = binary
        process.arguments = ["serve"] + arguments + ["--port", "0"]
        errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        log = ""
        var port: UInt16?
        let deadline = Date().addingTimeInterval(10)
        while port == nil, Date() < deadline, process.isRunning {
            log += String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
            if let range = log.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = UInt16(log[range].split(separator: ":").last!)
            }
        }
        guard let port else {
            kill(process.processIdentifier, SIGKILL)
            throw TestHTTPError(description: "scopegate serve did not start: \(log)")
        }
        self.port = port
    }

    /// Sends SIGTERM, returns the exit status (nil if it had to be killed) and keeps the rest of the log.
    mutating func stop() -> Int32? {
        let status = terminate(process)
        log += String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return status
    }
}

@Suite struct CLITests {
    let users = try! temporaryFile("users.yaml", "users:\n  bob:\n    password_hash: \"$2b$04$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO\"\n    scopes: [me]\n")
    let policy = try! temporaryFile("policy.yaml", "rules:\n  - path: /users/me/\n    scopes: [me]\n")
    let secret = try! temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n")

    @Test func helpDescribesServe() throws {
        let help = try run(["serve", "--help"])
        #expect(help.status == 0)
        for option in ["--host", "--port", "--policy", "--users", "--secret-file", "--demo", "--trusted-proxies", "--challenge", "--token-lifetime"] {
            #expect(help.output.contains(option), "\(option)")
        }
    }

    @Test func requiresFilesOutsideDemoMode() throws {
        let result = try run(["serve"])
        #expect(result.status == 64)
        #expect(result.errors.contains("Error: missing --policy, --users, --secret-file (or use --demo to try ScopeGate with its demo configuration)"))
    }

    @Test func refusesWeakAndPublishedSecrets() throws {
        let short = try temporaryFile("secret", "tooshort\n")
        let weak = try run(["serve", "--policy", policy, "--users", users, "--secret-file", short, "--port", "0"])
        #expect(weak.status == 1)
        #expect(weak.errors.contains("the HS256 secret is 8 bytes long; at least 32 are required (RFC 7518 §3.2). Create one with: openssl rand -hex 32 > secret"))
        let published = try temporaryFile("secret", "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7\n")
        let refused = try run(["serve", "--policy", policy, "--users", users, "--secret-file", published, "--port", "0"])
        #expect(refused.status == 1)
        #expect(refused.errors.contains("holds the secret published in FastAPI's tutorial"))
        let missing = try run(["serve", "--policy", policy, "--users", users, "--secret-file", "/nonexistent/secret", "--port", "0"])
        #expect(missing.errors.contains("cannot read the secret file /nonexistent/secret; create one with: openssl rand -hex 32 > /nonexistent/secret"))
    }

    @Test func warnsAboutAWorldReadableSecretFile() throws {
        let readable = try temporaryFile("secret", "c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1\n", permissions: 0o644)
        var server = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", readable])
        #expect(server.stop() == 0)
        let log = server.log
        #expect(log.contains("the secret file is readable by every user; restrict it with: chmod 600 \(readable)"))
        #expect(!log.contains("c2b1f0e9d8c7"))
    }

    @Test func reportsPolicyErrorsCompilerStyle() throws {
        let bad = try temporaryFile("bad.yaml", "rules:\n  - path: /admin/**\n    methods: [GETT]\n    scopes: [admin]\n")
        let result = try run(["serve", "--policy", bad, "--users", users, "--secret-file", secret, "--port", "0"])
        #expect(result.status == 1)
        #expect(result.errors.contains("\(bad):3:15: error: rule \"/admin/**\": unknown method \"GETT\""))
    }

    @Test func servesAndStopsOnSIGTERM() throws {
        var server = try ServingProcess(["--policy", policy, "--users", users, "--secret-file", secret])
        let bound = server.port
        #expect(try sendRequest(port: bound, target: "/healthz").status == 200)
        let login = try sendRequest(port: bound, method: "POST", target: "/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                    body: formBody([("username", "bob"), ("password", "secret"), ("scope", "me")]))
        #expect(login.status == 200)
        #expect(server.stop() == 0)
        #expect(server.log.contains("stopping"))
        #expect(!server.log.contains("secret\""))
    }

    @Test func checkPolicyReportsWarningsAndExitStatus() throws {
        let clean = try run(["check-policy", policy, "--users", users])
        #expect(clean.status == 0)
        #expect(clean.output.contains("1 rules, no problems"))
        let overlapping = try temporaryFile("p.yaml", "rules:\n  - path: /admin/**\n    scopes: [admin]\n  - path: /admin/health\n    public: true\n")
        let warned = try run(["check-policy", overlapping, "--users", users])
        #expect(warned.status == 1)
        #expect(warned.output.contains("\(overlapping):2:5: warning: rule \"/admin/**\" overlaps rule \"/admin/health\" (line 4)"))
        #expect(warned.output.contains("\(overlapping):2:5: warning: rule \"/admin/**\": scope \"admin\" is granted to no user"))
        let broken = try temporaryFile("b.yaml", "rules:\n  - path: nope\n    scopes: []\n")
        let failed = try run(["check-policy", broken])
        #expect(failed.status == 1)
        #expect(failed.output.contains("\(broken):2:11: error: rule \"nope\": a path pattern must start with \"/\""))
    }

    @Test func hashesPasswordsFromStandardInput() throws {
        let result = try run(["hash-password", "--cost", "4"], input: "correct horse\n")
        #expect(result.status == 0)
        let hash = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(hash.hasPrefix("$2b$04$"))
        #expect(try PasswordHasher(cost: 4).verify("correct horse", against: hash))
        let long = try run(["hash-password", "--cost", "4"], input: String(repeating: "a", count: 73) + "\n")
        #expect(long.status == 1)
        #expect(long.errors.contains("the password is 73 bytes long; bcrypt reads only the first 72, so it is refused"))
    }
}
