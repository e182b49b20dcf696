import Foundation
import ScopeGateCore
import ScopeGateTesting
import Testing

/// The host canonicalizer against the hostile-host corpus (`Fixtures/host-corpus.tsv`): one spelling per
/// host, and a refusal for anything two readers could take for different hosts.
@Suite struct CanonicalHostTests {
    static let rows = try! HostCorpusEntry.load()

    @Test(arguments: rows)
    func canonicalizesOrRefuses(_ row: HostCorpusEntry) {
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
