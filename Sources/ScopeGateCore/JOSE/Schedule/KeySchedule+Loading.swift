public import struct FoundationEssentials.Date

extension KeySchedule {
    /// The keys a keys file's top level may have.
    static let topLevelKeys = ["signing_algorithm", "keys"]
    /// The keys a key entry may have.
    static let entryKeys = ["id", "algorithm", "private_key_file", "public_key_file", "secret_file", "activate_at"]

    /// Loads a keys file:
    ///
    /// ```yaml
    /// signing_algorithm: ES256          # optional; default: the algorithm of the newest active key
    /// keys:
    ///   - id: es-2026-12                # optional for asymmetric keys (default: the RFC 7638 thumbprint)
    ///     algorithm: ES256              # HS256 | RS256 | PS256 | ES256 | EdDSA
    ///     private_key_file: es-2026-12.pem   # PEM; public_key_file for a key that only verifies;
    ///                                   # secret_file for HS256 (raw bytes, at least 32, trimmed)
    ///     activate_at: 2026-12-01T12:00:00Z  # optional; absent: active from when the file is loaded
    /// ```
    ///
    /// `readFile` reads a path as written in the file (the caller resolves it against the file's folder);
    /// nil when it cannot be read. Every problem is reported at once, compiler-style, with `file` in each
    /// line; a file under which no key can sign at `loadedAt` is refused.
    public static func load(
        yaml text: String, file: String, loadedAt: Date, readFile: (String) -> [UInt8]?
    ) throws(ConfigurationError)
        -> KeySchedule
    {
        var document = YAMLDocument(file: file)
        guard let root = document.root(of: text) else { throw ConfigurationError(diagnostics: document.diagnostics) }
        var keys: [ScheduledKey] = []
        var signingAlgorithm: JWSAlgorithm?
        if let top = document.members(of: root, what: "the keys file", allowed: topLevelKeys) {
            if let value = top["signing_algorithm"]?.value, let name = document.string(value, what: "\"signing_algorithm\"") {
                if let algorithm = algorithms[name] {
                    signingAlgorithm = algorithm
                } else {
                    document.error(at: value, "\"signing_algorithm\" is \(quotedForMessage(name, limit: 16)); expected one of \(algorithmList)")
                }
            }
            if let list = top["keys"]?.value {
                if case .sequence(let items) = list {
                    for item in items {
                        if let key = loadKey(item, document: &document, readFile: readFile) { keys.append(key) }
                    }
                } else {
                    document.error(at: list, "\"keys\" must be a list of keys")
                }
            } else {
                document.error(at: root, "the keys file has no \"keys\" list")
            }
        }
        var seen: [String: ScheduledKey] = [:]
        for key in keys {
            guard let id = key.key.id else { continue }
            if let first = seen[id] {
                document.error(line: key.line, column: key.column, "key id \(quotedForMessage(id)) is also used at line \(first.line)")
            } else {
                seen[id] = key
            }
        }
        guard document.diagnostics.isEmpty else { throw ConfigurationError(diagnostics: document.diagnostics) }
        let schedule = KeySchedule(keys: keys, signingAlgorithm: signingAlgorithm, loadedAt: loadedAt)
        do {
            _ = try schedule.ring(at: loadedAt, tokenLifetime: 0, leeway: 0)
        } catch {
            document.error(at: root, error.description)
            throw ConfigurationError(diagnostics: document.diagnostics)
        }
        return schedule
    }

    /// The files a keys file's entries name (`private_key_file`, `public_key_file`, `secret_file`), as
    /// written, in order: what ``load(yaml:file:loadedAt:readFile:)`` will ask `readFile` for. A file that
    /// does not parse names none (loading it reports why).
    public static func referencedFiles(yaml text: String) -> [String] {
        guard case .mapping(let top)? = try? YAMLNode.compose(text),
            case .sequence(let entries)? = top.first(where: { $0.key.scalar?.string == "keys" })?.value
        else { return [] }
        return entries.flatMap { entry -> [String] in
            guard case .mapping(let members) = entry else { return [] }
            return members.compactMap { member in
                guard let name = member.key.scalar?.string, ["private_key_file", "public_key_file", "secret_file"].contains(name) else { return nil }
                return member.value.scalar?.string
            }
        }
    }

    private static let algorithms: [String: JWSAlgorithm] = [
        "HS256": .hs256, "RS256": .rs256, "PS256": .ps256, "ES256": .es256, "EdDSA": .edDSA,
    ]
    private static let algorithmList = "HS256, RS256, PS256, ES256, EdDSA"

    private static func loadKey(_ node: YAMLNode, document: inout YAMLDocument, readFile: (String) -> [UInt8]?) -> ScheduledKey? {
        guard let entry = document.members(of: node, what: "a key", allowed: entryKeys) else { return nil }
        let errors = document.diagnostics.count
        let id = entry["id"].flatMap { document.string($0.value, what: "\"id\"") }
        var algorithm: JWSAlgorithm?
        if let value = entry["algorithm"]?.value, let name = document.string(value, what: "\"algorithm\"") {
            algorithm = algorithms[name]
            if algorithm == nil { document.error(at: value, "\"algorithm\" is \(quotedForMessage(name, limit: 16)); expected one of \(algorithmList)") }
        } else if entry["algorithm"] == nil {
            document.error(at: node, "a key needs \"algorithm\"")
        }
        var activateAt: Date?
        if let value = entry["activate_at"]?.value, let text = document.string(value, what: "\"activate_at\"") {
            activateAt = parseTimestamp(text)
            if activateAt == nil { document.error(at: value, "\"activate_at\" must be a UTC time such as 2026-12-01T12:00:00Z") }
        }
        let sources = ["private_key_file", "public_key_file", "secret_file"].filter { entry[$0] != nil }
        guard let algorithm, document.diagnostics.count == errors else { return nil }
        let expected = algorithm == .hs256 ? ["secret_file"] : ["private_key_file", "public_key_file"]
        guard sources.count == 1, let source = sources.first, expected.contains(source), let pathNode = entry[source]?.value else {
            document.error(at: node, "an \(algorithm) key needs exactly one of \(expected.map { "\"\($0)\"" }.joined(separator: " or "))")
            return nil
        }
        guard let path = document.string(pathNode, what: "\"\(source)\"") else { return nil }
        guard let bytes = readFile(path) else {
            document.error(at: pathNode, "cannot read \(quotedForMessage(path, limit: 200))")
            return nil
        }
        do {
            let key: any JWSKey
            switch algorithm {
            case .hs256:
                guard let id else {
                    document.error(at: node, "an HS256 key needs an \"id\" (its secret has no thumbprint to name it by)")
                    return nil
                }
                key = try HMACKey(secretFileContents: bytes, id: id)
            case .es256: key = try ECDSAKey(pem: bytes, id: id)
            case .rs256, .ps256: key = try RSAKey(pem: bytes, algorithm: algorithm, id: id)
            default: key = try Ed25519Key(pem: bytes, id: id)
            }
            let mark = node.mark
            return ScheduledKey(key: key, activateAt: activateAt, line: mark.line, column: mark.column)
        } catch {
            document.error(at: pathNode, "\(quotedForMessage(path, limit: 200)): \(error)")
            return nil
        }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`, UTC.
    static func parseTimestamp(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        let civil = CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard civil.isValid else { return nil }
        return Date(timeIntervalSince1970: Double(civil.secondsSince1970))
    }

    /// `date` as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds): the form `activate_at` is written in.
    public static func formatTimestamp(_ date: Date) -> String {
        let civil = CivilTime(secondsSince1970: Int(date.timeIntervalSince1970.rounded(.down)))
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(civil.year)-\(two(civil.month))-\(two(civil.day))T\(two(civil.hour)):\(two(civil.minute)):\(two(civil.second))Z"
    }
}
