import Foundation
import Testing
@testable import ScopeGateApp

@Suite struct DecisionStatisticsTests {
    @Test func decisionsFromManyThreadsAddUpExactly() throws {
        let statistics = DecisionStatistics()
        let threads = 8
        let perThread = 2_000
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for index in 0..<perThread {
                statistics.record(index % 2 == 0 ? .allow : .forbidden, rule: "/r\(thread % 2)", nanoseconds: Int64(index) * 100)
            }
        }
        let totals = statistics.totals
        #expect(totals.count == threads * perThread)
        #expect(totals.buckets.reduce(0, +) == threads * perThread)
        #expect(totals.counts[.init(outcome: .allow, rule: "/r0")] == threads / 2 * perThread / 2)
        #expect(totals.counts[.init(outcome: .forbidden, rule: "/r1")] == threads / 2 * perThread / 2)
        // Sum of 0, 100, …, 199,900 ns per thread.
        #expect(totals.sumNanoseconds == Int64(threads) * 100 * Int64(perThread * (perThread - 1) / 2))
    }

    @Test func theExpositionParsesAndEscapesRuleNames() throws {
        let statistics = DecisionStatistics()
        statistics.record(.allow, rule: #"/a"b\c"#, nanoseconds: 9_000)
        statistics.record(.allow, rule: #"/a"b\c"#, nanoseconds: 10_000)
        statistics.record(.insufficientScope, rule: "/x", nanoseconds: 30_000)
        statistics.record(.forbidden, rule: "none", nanoseconds: 2_000_000_000)
        let samples = try parseMetrics(statistics.exposition())
        #expect(samples.value("scopegate_decisions_total", ["outcome": "allow", "rule": #"/a"b\c"#]) == 2)
        #expect(samples.value("scopegate_decisions_total", ["outcome": "insufficient_scope", "rule": "/x"]) == 1)
        // Buckets are cumulative and bounds inclusive: 10 µs holds the 9 and the 10 µs decisions.
        #expect(samples.value("scopegate_decision_duration_seconds_bucket", ["le": "0.00001"]) == 2)
        #expect(samples.value("scopegate_decision_duration_seconds_bucket", ["le": "0.00005"]) == 3)
        #expect(samples.value("scopegate_decision_duration_seconds_bucket", ["le": "0.1"]) == 3)
        #expect(samples.value("scopegate_decision_duration_seconds_bucket", ["le": "+Inf"]) == 4)
        #expect(samples.value("scopegate_decision_duration_seconds_count") == 4)
        #expect(samples.value("scopegate_decision_duration_seconds_sum") == 2.000049)
    }

    @Test(arguments: [(Int64(0), "0"), (10_000, "0.00001"), (100_000_000, "0.1"), (1_500_000_000, "1.5"), (12_000_000_001, "12.000000001")])
    func writesExactDecimalSeconds(nanoseconds: Int64, text: String) {
        #expect(DecisionStatistics.seconds(nanoseconds) == text)
    }
}
