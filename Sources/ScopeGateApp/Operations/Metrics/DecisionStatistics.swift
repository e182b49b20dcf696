import Glibc
import ScopeGateHTTP
import Synchronization

/// The monotonic clock in nanoseconds: what decisions are timed with (one vDSO call, integer arithmetic).
func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// The two metrics recorded on every forward-auth decision: counts by outcome and rule, and the duration
/// histogram. They are kept in shards, one per polling thread, so decisions on different threads never
/// contend for one lock or cache line; `/metrics` sums the shards.
final class DecisionStatistics: Sendable {
    /// The upper bounds of the duration buckets, in nanoseconds: 10 µs … 100 ms.
    static let bucketBounds: [Int64] = [
        10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 100_000_000,
    ]

    struct Key: Hashable {
        let outcome: ServiceMetrics.Outcome
        let rule: String
    }

    /// What some decisions add up to.
    struct Totals {
        /// Decisions by key, except those of the latest run of one key, which `latest` counts.
        var counts: [Key: Int] = [:]
        /// The key of the latest decisions and how many in a row had it: runs of one rule and outcome are the
        /// common case, and comparing with the last key (the same strings) costs less than hashing it.
        var latest: (key: Key, count: Int)?
        /// Decisions per bucket, not cumulative; the last entry counts those over the largest bound.
        var buckets = [Int](repeating: 0, count: DecisionStatistics.bucketBounds.count + 1)
        var count = 0
        var sumNanoseconds: Int64 = 0

        /// Counts `key` once.
        mutating func count(_ key: Key) {
            if let latest, latest.key.outcome == key.outcome, latest.key.rule == key.rule {
                self.latest!.count += 1
                return
            }
            settle()
            latest = (key, 1)
        }

        /// Moves the latest run into `counts`.
        mutating func settle() {
            if let latest { counts[latest.key, default: 0] += latest.count }
            latest = nil
        }

        mutating func add(_ other: Totals) {
            var other = other
            other.settle()
            counts.merge(other.counts, uniquingKeysWith: +)
            for index in buckets.indices { buckets[index] += other.buckets[index] }
            count += other.count
            sumNanoseconds += other.sumNanoseconds
        }
    }

    private final class Shard: ShardBase, @unchecked Sendable {
        // @unchecked: the only field is a mutex.
        let totals = Mutex(Totals())
    }

    private let shards = Sharded { Shard() }

    /// Records one decision.
    func record(_ outcome: ServiceMetrics.Outcome, rule: String, nanoseconds: Int64) {
        let bucket = Self.bucketBounds.firstIndex { nanoseconds <= $0 } ?? Self.bucketBounds.count
        shards.current.totals.withLock { totals in
            totals.count(Key(outcome: outcome, rule: rule))
            totals.buckets[bucket] += 1
            totals.count += 1
            totals.sumNanoseconds += nanoseconds
        }
    }

    /// Every shard summed.
    var totals: Totals {
        var sum = Totals()
        for shard in shards.all { sum.add(shard.totals.withLock { $0 }) }
        return sum
    }

    /// The Prometheus text exposition (format 0.0.4) of `scopegate_decisions_total` and
    /// `scopegate_decision_duration_seconds`.
    func exposition() -> String {
        let totals = totals
        var text = "# HELP scopegate_decisions_total Forward-auth decisions by outcome and rule.\n"
        text += "# TYPE scopegate_decisions_total counter\n"
        let keys = totals.counts.keys.sorted { ($0.rule, $0.outcome.rawValue) < ($1.rule, $1.outcome.rawValue) }
        for key in keys {
            text += "scopegate_decisions_total{outcome=\"\(key.outcome.rawValue)\",rule=\"\(Self.escaped(key.rule))\"} \(totals.counts[key]!)\n"
        }
        text += "# HELP scopegate_decision_duration_seconds Time to decide a forward-auth request.\n"
        text += "# TYPE scopegate_decision_duration_seconds histogram\n"
        var cumulative = 0
        for (index, bound) in Self.bucketBounds.enumerated() {
            cumulative += totals.buckets[index]
            text += "scopegate_decision_duration_seconds_bucket{le=\"\(Self.seconds(bound))\"} \(cumulative)\n"
        }
        text += "scopegate_decision_duration_seconds_bucket{le=\"+Inf\"} \(totals.count)\n"
        text += "scopegate_decision_duration_seconds_sum \(Self.seconds(totals.sumNanoseconds))\n"
        text += "scopegate_decision_duration_seconds_count \(totals.count)\n"
        return text
    }

    /// A label value as the exposition format writes it: backslash, double quote and line feed escaped.
    static func escaped(_ value: String) -> String {
        var result = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// Nanoseconds as exact decimal seconds: 10000 → "0.00001", 1500000000 → "1.5".
    static func seconds(_ nanoseconds: Int64) -> String {
        let digits = String(nanoseconds)
        let padded = String(repeating: "0", count: max(0, 10 - digits.count)) + digits
        let whole = padded.dropLast(9)
        var fraction = padded.suffix(9)
        while fraction.last == "0" { fraction = fraction.dropLast() }
        return fraction.isEmpty ? String(whole) : "\(whole).\(fraction)"
    }
}
