// swift-tools-version:6.2
// libFuzzer targets for ScopeGate's parsers. Built with `--sanitize=fuzzer --sanitize=address` by
// fuzz/run; kept out of the main package because a fuzz target has libFuzzer's main, not its own.
import PackageDescription

let fuzzSettings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "ScopeGateFuzz",
    platforms: [.macOS(.v15)],
    // fuzz/ScopeGate is a link to the repository root, so the dependency has a stable identity.
    dependencies: [.package(path: "ScopeGate")],
    targets: [
        .executableTarget(name: "FuzzToken", dependencies: [.product(name: "ScopeGateCore", package: "ScopeGate")], swiftSettings: fuzzSettings),
        .executableTarget(name: "FuzzPath", dependencies: [.product(name: "ScopeGateCore", package: "ScopeGate")], swiftSettings: fuzzSettings),
        .executableTarget(name: "FuzzConfig", dependencies: [.product(name: "ScopeGateCore", package: "ScopeGate")], swiftSettings: fuzzSettings),
        .executableTarget(name: "FuzzForm", dependencies: [.product(name: "ScopeGateHTTP", package: "ScopeGate")], swiftSettings: fuzzSettings),
    ]
)
