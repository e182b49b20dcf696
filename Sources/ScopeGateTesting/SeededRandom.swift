import Foundation

/// A reproducible random number generator for randomized tests (SplitMix64). The seed comes from
/// `SCOPEGATE_TEST_SEED` when set, else from the system; it is printed, so a failing run can be repeated
/// with `SCOPEGATE_TEST_SEED=<seed> swift test --filter <test>`.
public struct SeededRandom: RandomNumberGenerator {
    /// The seed this generator started from.
    public let seed: UInt64
    private var state: UInt64

    /// A generator for the named test, seeded as described above; prints the seed.
    public init(test: String = #function) {
        let seed =
            ProcessInfo.processInfo.environment["SCOPEGATE_TEST_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: .min ... .max)
        self.init(seed: seed)
        print("\(test): SCOPEGATE_TEST_SEED=\(seed)")
    }

    /// A generator with a fixed seed.
    public init(seed: UInt64) {
        self.seed = seed
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
