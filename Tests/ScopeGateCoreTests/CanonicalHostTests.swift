import Foundation
import ScopeGateCore
import ScopeGateTesting
import Testing

/// The host canonicalizer against the hostile-host corpus (`Fixtures/host-corpus.tsv`): one spelling per
/// host, and a refusal for anything two readers could take for different hosts.
@Suite struct CanonicalHostTests {
    struct Row: CustomStringConvertible, Sendable {
        let host: [UInt8]
        let scheme: String?
        let expected: String?
        var description: String { String(decoding: host, as: UTF8.self).debugDescription + " over \(scheme ?? "?")" }
    }

    static let rows: [Row] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/host-corpus.tsv")
        let text = try! String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") { return nil }
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            precondition(columns.count == 3, "bad corpus line \(line)")
            return Row(
                host: corpusBytes(columns[0]), scheme: columns[1] == "-" ? nil : String(columns[1]), expected: columns[2] == "refuse" ? nil : String(columns[2])
            )
        }
    }()

    @Test(arguments: rows)
    func canonicalizesOrRefuses(_ row: Row) {
        let result = try? CanonicalHost(row.host, scheme: row.scheme)
        #expect(result?.description == row.expected, "\(row)")
    }

    @Test func theCorpusCoversTheKnownTricks() {
        #expect(Self.rows.count >= 40)
        #expect(Self.rows.contains { $0.expected == nil && String(decoding: $0.host, as: UTF8.self).hasSuffix("..") })
        #expect(Self.rows.contains { String(decoding: $0.host, as: UTF8.self).contains(",") })
    }

    @Test func suffixesRunFromTheLongest() throws {
        #expect(try CanonicalHost(Array("a.b.example.com".utf8)).suffixes == ["b.example.com", "example.com", "com"])
        #expect(try CanonicalHost(Array("[::1]".utf8)).suffixes.isEmpty)
    }

    @Test func patternsAreCanonicalAtLoad() {
        #expect(HostPattern.parse("Admin.Example.com.") == .success(.exact("admin.example.com")))
        #expect(HostPattern.parse("*.Tenant.example.com") == .success(.suffix("tenant.example.com")))
        #expect(HostPattern.parse("app.example.com:8443") == .success(.exact("app.example.com:8443")))
        #expect(HostPattern.parse("a.*.example.com") == .failure(.invalidCharacter))
        #expect(HostPattern.parse("bücher.example") == .failure(.nonASCII))
    }
}
