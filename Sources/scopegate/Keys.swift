import ArgumentParser
import FoundationEssentials
import Glibc
import ScopeGateApp
import ScopeGateCore

/// `scopegate keys`: make keys, add them to a keys file ahead of their use, and say where each stands.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate signing keys, rotate them in a keys file, and show each key's state.",
        subcommands: [Generate.self, Rotate.self, Status.self]
    )

    /// The algorithms keys can be generated for.
    enum Algorithm: String, ExpressibleByArgument, CaseIterable {
        case es256 = "ES256"
        case edDSA = "EdDSA"
        case rs256 = "RS256"
        case ps256 = "PS256"

        /// A new private key's PEM and the key itself.
        func generate(id: String?) throws -> (any JWSKey, [UInt8]) {
            switch self {
            case .es256:
                let key = try ECDSAKey.generate(id: id)
                return (key, try key.privateKeyPEM())
            case .edDSA:
                let key = try Ed25519Key.generate(id: id)
                return (key, try key.privateKeyPEM())
            case .rs256, .ps256:
                let key = try RSAKey.generate(algorithm: self == .rs256 ? .rs256 : .ps256, bits: 3072, id: id)
                return (key, try key.privateKeyPEM())
            }
        }
    }

    /// Writes `bytes` to a new file readable by its owner only; refuses to replace an existing file.
    static func writeNewPrivateFile(_ path: String, _ bytes: [UInt8]) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StartupError(description: errno == EEXIST ? "\(path) exists; not overwriting it" : "cannot create \(path)")
        }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw StartupError(description: "cannot write \(path)") }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a new private key (PEM, mode 0600) and print its kid.")

        @Option(help: "The key's algorithm.")
        var algorithm: Algorithm = .es256

        @Option(help: "Where to write the private key; an existing file is never replaced.")
        var out: String

        func run() throws {
            let (key, pem) = try algorithm.generate(id: nil)
            try Keys.writeNewPrivateFile(out, pem)
            print(key.id ?? "")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print each key of a keys file: <kid> <algorithm> <state>, since when, and when it can be deleted.",
            discussion: """
                Exits 0 when the keys file loads, 1 when it has errors (printed as file:line:column: error: text). Warnings \
                follow the key lines: an active key that does not sign, and a key that started signing recently with no \
                earlier key listed (one deleted too early logs its holders out).
                """
        )

        @Option(help: "The keys file.")
        var keys: String

        @Option(name: .customLong("token-lifetime"), help: "The longest access-token lifetime in force, in seconds.")
        var tokenLifetime = 1800

        @Option(help: "The clock skew tolerated, in seconds.")
        var leeway = 0

        func run() throws {
            let schedule = try Keys.schedule(try Keys.text(keys), path: keys)
            let now = Date()
            let statuses = schedule.statuses(at: now, tokenLifetime: TimeInterval(tokenLifetime), leeway: TimeInterval(leeway))
            for status in statuses {
                var line = "\(status.key.key.id ?? "-") \(status.key.key.algorithm) \(status.state.rawValue)"
                switch status.state {
                case .next: line += " signs from \(KeySchedule.formatTimestamp(status.key.activateAt ?? now))"
                case .active where !status.signs: line += " since \(KeySchedule.formatTimestamp(status.since)); verifies only, does not sign"
                case .active: line += " since \(KeySchedule.formatTimestamp(status.since))"
                case .retiring:
                    line += " since \(KeySchedule.formatTimestamp(status.since)); can be deleted from \(KeySchedule.formatTimestamp(status.deletableAt ?? now))"
                case .retired: line += " since \(KeySchedule.formatTimestamp(status.since)); can be deleted now"
                }
                print(line)
            }
            let warnings = KeyScheduleLinter.warnings(
                for: schedule, file: keys, at: now, tokenLifetime: TimeInterval(tokenLifetime), leeway: TimeInterval(leeway))
            for warning in warnings { print(warning.description) }
            if !statuses.contains(where: { $0.state == .active && $0.key.key.algorithm == .hs256 }) {
                print("\(keys): note: no HS256 key is active, so tokens without kid (those --secret-file signs) are refused")
            }
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a key and add it to a keys file, to start signing after the pre-publication time.",
            discussion: """
                The key is written beside the keys file as <kid>.pem (mode 0600) and appended to its keys list with \
                activate_at = now + --prepublish; the file's other lines, comments and order stay as they are. Until \
                then the key is published in /.well-known/jwks.json and does not sign, so verifiers that cache key \
                sets have it before the first token it signs.
                """
        )

        @Option(help: "The keys file.")
        var keys: String

        @Option(help: "The new key's algorithm.")
        var algorithm: Algorithm = .es256

        @Option(help: "How long the key is published before it signs: seconds, or with s, m or h (default 20m).")
        var prepublish = "20m"

        func validate() throws {
            guard let seconds = Self.duration(prepublish), seconds >= 0 else {
                throw ValidationError("--prepublish must be a duration such as 1200, 300s, 20m or 1h")
            }
        }

        static func duration(_ text: String) -> Int? {
            let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
            if let last = text.last, let unit = units[last] { return Int(text.dropLast()).map { $0 * unit } }
            return Int(text)
        }

        func run() throws {
            let text = try Keys.text(keys)
            _ = try Keys.schedule(text, path: keys)
            let activation = Date() + TimeInterval(Self.duration(prepublish) ?? 1200)
            let stamp = KeySchedule.formatTimestamp(activation)
            let (key, pem) = try algorithm.generate(id: nil)
            // The activation time to the second and the start of the thumbprint: readable, and unique.
            let id = "\(algorithm.rawValue.lowercased())-" + stamp.filter { $0.isNumber } + "-" + (key.id ?? "").prefix(8)
            let updated = try Self.appending(
                entry: ["- id: \(id)", "  algorithm: \(algorithm.rawValue)", "  private_key_file: \(id).pem", "  activate_at: \(stamp)"],
                to: text, file: keys)
            let pemPath = ConfigurationFiles.resolve("\(id).pem", against: keys)
            try Keys.writeNewPrivateFile(pemPath, pem)
            // Check the result as serve will load it before replacing the file.
            do {
                _ = try Keys.load(updated, path: keys)
            } catch {
                unlink(pemPath)
                throw StartupError(description: "the keys file would not load after adding the key:\n\(error)")
            }
            let temporary = keys + ".rotating"
            guard FileManager.default.createFile(atPath: temporary, contents: Data(updated.utf8)), rename(temporary, keys) == 0 else {
                unlink(temporary)
                throw StartupError(description: "cannot write \(keys)")
            }
            print("\(id) \(algorithm.rawValue) next signs from \(stamp)")
        }

        /// `text` with `entry` added as the last item of its top-level `keys:` block list, indented as the
        /// list's items are; every other line is kept as it is.
        static func appending(entry: [String], to text: String, file: String) throws -> String {
            var lines = text.components(separatedBy: "\n")
            guard let keysLine = lines.firstIndex(where: { $0.hasPrefix("keys:") && $0.dropFirst(5).allSatisfy { $0 == " " } }) else {
                throw StartupError(description: "\(file): no top-level \"keys:\" block list to add the key to")
            }
            var end = keysLine + 1
            var indent: String?
            var index = keysLine + 1
            while index < lines.count {
                let line = lines[index]
                let trimmed = line.drop { $0 == " " }
                if trimmed.isEmpty || trimmed.hasPrefix("#") {
                    index += 1
                    continue
                }
                let lineIndent = String(line.prefix(line.count - trimmed.count))
                if lineIndent.isEmpty && !trimmed.hasPrefix("-") { break }
                if indent == nil, trimmed.hasPrefix("-") { indent = lineIndent }
                end = index + 1
                index += 1
            }
            let prefix = indent ?? "  "
            lines.insert(contentsOf: entry.map { prefix + $0 }, at: end)
            return lines.joined(separator: "\n")
        }
    }

    /// The keys file's text; when it cannot be read, the reason is printed and the command ends with status 1.
    static func text(_ path: String) throws -> String {
        do {
            return try ConfigurationFiles.readText(path)
        } catch {
            print(error.description)
            throw ExitCode.failure
        }
    }

    /// The schedule `text` (the keys file at `path`) describes, its key files read beside it as serve reads them.
    static func load(_ text: String, path: String) throws(ConfigurationError) -> KeySchedule {
        try KeySchedule.load(yaml: text, file: path, loadedAt: Date()) { name in
            FileManager.default.contents(atPath: ConfigurationFiles.resolve(name, against: path)).map { [UInt8]($0) }
        }
    }

    /// ``load(_:path:)``, its errors printed (file:line:column) and ending the command with status 1.
    static func schedule(_ text: String, path: String) throws -> KeySchedule {
        do {
            return try load(text, path: path)
        } catch {
            print(error.description)
            throw ExitCode.failure
        }
    }
}
