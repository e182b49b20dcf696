import Foundation

/// One line of the hostile-path corpus (`Tests/ScopeGateCoreTests/Fixtures/path-corpus.tsv`).
public struct PathCorpusEntry: CustomStringConvertible, Sendable {
    /// The raw request target.
    public let target: [UInt8]
    /// The canonical path ScopeGate must make of it, or nil when it must refuse it.
    public let expected: String?

    public var description: String { String(decoding: target, as: UTF8.self).debugDescription }

    /// Parses the corpus: one `target<TAB>expected` per line, `#` comments, `\xNN` for a raw byte (see ``corpusBytes(_:)``).
    public static func parse(_ text: String) throws -> [PathCorpusEntry] {
        try text.split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") || line.isEmpty { return nil }
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard columns.count == 2 else { throw TestHTTPError(description: "bad corpus line \(line)") }
            return PathCorpusEntry(target: corpusBytes(columns[0]), expected: columns[1] == "refuse" ? nil : String(columns[1]))
        }
    }
}

/// A corpus field's bytes: `\xNN` is the raw byte NN, `\\` a backslash, anything else itself.
public func corpusBytes(_ field: Substring) -> [UInt8] {
    var bytes: [UInt8] = []
    var rest = Array(field.utf8)[...]
    while let byte = rest.first {
        if byte == UInt8(ascii: "\\"), rest.dropFirst().first == UInt8(ascii: "\\") {
            bytes.append(byte)
            rest = rest.dropFirst(2)
        } else if byte == UInt8(ascii: "\\"), rest.count >= 4, rest.dropFirst().first == UInt8(ascii: "x"),
            let value = UInt8(String(decoding: rest.dropFirst(2).prefix(2), as: UTF8.self), radix: 16)
        {
            bytes.append(value)
            rest = rest.dropFirst(4)
        } else {
            bytes.append(byte)
            rest = rest.dropFirst()
        }
    }
    return bytes
}

/// One line of the hostile-host corpus (`Tests/ScopeGateCoreTests/Fixtures/host-corpus.tsv`).
public struct HostCorpusEntry: CustomStringConvertible, Sendable {
    /// The host as a proxy or client might send it.
    public let host: [UInt8]
    /// The scheme the request came over, nil when unknown.
    public let scheme: String?
    /// The canonical host ScopeGate must make of it, or nil when it must refuse it.
    public let expected: String?

    public var description: String { String(decoding: host, as: UTF8.self).debugDescription + " over \(scheme ?? "?")" }

    /// The corpus file's rows: `host<TAB>scheme or -<TAB>canonical or refuse`, `#` comments, `\xNN` bytes.
    public static func load() throws -> [HostCorpusEntry] {
        let url = repositoryRoot.appendingPathComponent("Tests/ScopeGateCoreTests/Fixtures/host-corpus.tsv")
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") { return nil }
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard columns.count == 3 else { throw TestHTTPError(description: "bad corpus line \(line)") }
            return HostCorpusEntry(
                host: corpusBytes(columns[0]), scheme: columns[1] == "-" ? nil : String(columns[1]),
                expected: columns[2] == "refuse" ? nil : String(columns[2]))
        }
    }
}
