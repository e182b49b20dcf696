import Foundation
import Testing
import ScopeGateTesting
@testable import ScopeGateCore

@Suite struct PathCorpusTests {
    @Test func everyTargetCanonicalizesAsRecorded() throws {
        let corpus = try PathCorpusEntry.parse(Bundle.fixture("path-corpus.tsv"))
        #expect(corpus.count > 50)
        for entry in corpus {
            let result = try? CanonicalPath(target: entry.target)
            #expect(result?.description == entry.expected, "\(entry)")
        }
    }
}
