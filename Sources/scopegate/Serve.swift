public import ArgumentParser
import Dispatch
import Foundation
import Logging
public import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP

extension ChallengeMode: ExpressibleByArgument {}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve /token, /auth, the demo endpoints and /healthz.",
        discussion: """
            Outside --demo, --policy, --users and --secret-file are required. The secret file holds at least 32 \
            bytes; create one with: openssl rand -hex 32 > secret
            """
    )

    @Option(help: "Address to listen on (IPv4 or IPv6 literal, or localhost).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free port.")
    var port: UInt16 = 8000

    @Option(help: "Policy file (YAML): route → required scopes.")
    var policy: String?

    @Option(help: "Users file (YAML): names, password hashes, grantable scopes.")
    var users: String?

    @Option(name: .customLong("secret-file"), help: "File holding the HS256 signing secret (at least 32 bytes).")
    var secretFile: String?

    @Flag(help: "Use the demo users, policies/demo.yaml and the tutorial's published secret. For trying out only.")
    var demo = false

    @Option(name: .customLong("token-lifetime"), help: "Lifetime of issued tokens, in seconds.")
    var tokenLifetime = 1800

    @Option(help: "Seconds of clock skew tolerated on exp, nbf and iat.")
    var leeway = 0

    @Option(name: .customLong("trusted-proxies"), help: "Comma-separated CIDR ranges whose forwarded headers /auth believes.")
    var trustedProxies = "127.0.0.0/8,::1/128"

    @Option(help: "How /auth refuses for missing scope: scopes (401, FastAPI's wording) or rfc6750 (403 insufficient_scope).")
    var challenge = ChallengeMode.scopes

    @Option(name: .customLong("bcrypt-cost"), help: "bcrypt cost: hashes of another cost are reported for upgrade.")
    var bcryptCost = 12

    @Option(help: "Polling threads (default: one per core).")
    var threads: Int?

    @Option(name: .customLong("max-connections-per-ip"), help: "Concurrent connections one address may hold; 0 for no limit.")
    var maxConnectionsPerIP = 256

    @Option(name: .customLong("connection-timeout"), help: "Seconds an idle or unfinished connection is kept open.")
    var connectionTimeout = 30

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(help: "Issuer (iss) written into tokens and required of incoming ones.")
    var issuer: String?

    @Option(help: "Audience (aud) written into tokens and required of incoming ones.")
    var audience: String?

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        guard tokenLifetime > 0 else { throw ValidationError("--token-lifetime must be positive") }
        guard leeway >= 0 else { throw ValidationError("--leeway must not be negative") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard maxConnectionsPerIP >= 0 else { throw ValidationError("--max-connections-per-ip must not be negative") }
        guard connectionTimeout > 0 else { throw ValidationError("--connection-timeout must be positive") }
        if !demo {
            let missing = [("--policy", policy), ("--users", users), ("--secret-file", secretFile)].filter { $0.1 == nil }.map(\.0)
            if !missing.isEmpty {
                throw ValidationError("missing \(missing.joined(separator: ", ")) (or use --demo to try ScopeGate with its demo configuration)")
            }
        }
    }

    func run() throws {
        var logger = Logger(label: "scopegate")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let configuration = try loadConfiguration(logger: logger)
        if demo {
            FileHandle.standardError.write(Data("""
                ************************************************************************************
                WARNING: demo mode. The demo users (johndoe/secret, alice/secretalice) are active and tokens
                are signed with the secret published in FastAPI's tutorial: anyone can forge them.
                For trying ScopeGate out only. Never expose this instance.
                ************************************************************************************

                """.utf8))
        }
        // Before listening, so a signal that arrives as soon as the server is up is never lost.
        let termination = TerminationSignal()
        let service = ScopeGateService(configuration: configuration, logger: logger)
        var http = HTTPServerConfiguration()
        http.host = host
        http.port = port
        if let threads { http.threads = threads }
        http.perIPConnectionLimit = maxConnectionsPerIP
        http.connectionTimeout = connectionTimeout
        let server: HTTPServer
        do {
            server = try HTTPServer(configuration: http, handler: service.handle)
        } catch {
            throw StartupError(description: error.description)
        }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        logger.info("ScopeGate listening on http://\(shownHost):\(server.port)", metadata: [
            "policy.rules": "\(configuration.policy.rules.count)", "users.count": "\(configuration.users.users.count)",
        ])
        termination.wait()
        logger.info("stopping")
        server.stop()
    }

    private func loadConfiguration(logger: Logger) throws -> ServiceConfiguration {
        let policyValue = try policy.map { path in try Policy.load(yaml: try readText(path), file: path) }
            ?? Policy.load(yaml: DemoConfiguration.policyYAML, file: "policies/demo.yaml")
        let usersValue = try users.map { path in try UserDirectory.load(yaml: try readText(path), file: path) }
            ?? UserDirectory.load(yaml: DemoConfiguration.usersYAML, file: "demo-users.yaml")
        let secret = try secretFile.map { try readSecret($0, logger: logger) } ?? Array(DemoConfiguration.secret.utf8)
        let keyring: Keyring
        let hasher: PasswordHasher
        do {
            keyring = try Keyring(signingKey: SigningKey(secretFileContents: secret))
            hasher = try PasswordHasher(cost: bcryptCost)
        } catch let error as KeyError {
            throw StartupError(description: "\(secretFile ?? "demo secret"): \(error)")
        }
        var trusted: [CIDRRange] = []
        for text in trustedProxies.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !text.isEmpty {
            guard let range = CIDRRange(text) else { throw StartupError(description: "--trusted-proxies: \"\(text)\" is not an address or CIDR range") }
            trusted.append(range)
        }
        var configuration = ServiceConfiguration(policy: policyValue, users: usersValue, keyring: keyring, passwordHasher: hasher)
        configuration.tokenLifetime = TimeInterval(tokenLifetime)
        configuration.verification = VerificationOptions(leeway: TimeInterval(leeway), issuer: issuer, audience: audience)
        configuration.challenge = challenge
        configuration.trustedProxies = trusted
        configuration.issuer = issuer
        configuration.audience = audience
        return configuration
    }

    private func readText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw StartupError(description: "cannot read \(path)") }
        guard let text = String(data: data, encoding: .utf8) else { throw StartupError(description: "\(path) is not UTF-8 text") }
        return text
    }

    private func readSecret(_ path: String, logger: Logger) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StartupError(description: "cannot read the secret file \(path); create one with: openssl rand -hex 32 > \(path)")
        }
        let secret = [UInt8](data)
        if !demo, String(decoding: secret, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == DemoConfiguration.secret {
            throw StartupError(description: "\(path) holds the secret published in FastAPI's tutorial; anyone could forge tokens. "
                + "Create a new one with: openssl rand -hex 32 > \(path)")
        }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
           let permissions = attributes[.posixPermissions] as? Int, permissions & 0o004 != 0 {
            logger.warning("the secret file is readable by every user; restrict it with: chmod 600 \(path)")
        }
        return secret
    }
}

/// SIGINT and SIGTERM, caught from creation on.
final class TerminationSignal {
    private let semaphore = DispatchSemaphore(value: 0)
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for signalNumber in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [semaphore] in semaphore.signal() }
            source.resume()
            sources.append(source)
            signal(signalNumber, SIG_IGN)
        }
    }

    /// Blocks until one of the signals arrives.
    func wait() {
        semaphore.wait()
        sources.forEach { $0.cancel() }
    }
}
