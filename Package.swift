// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// The modules that handle pointers to C memory spell every unsafe construct `unsafe`, so a reader can find them.
let pointerSettings: [SwiftSetting] = swiftSettings + [.strictMemorySafety()]

let package = Package(
    name: "ScopeGate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "scopegate", targets: ["scopegate"]),
        .library(name: "ScopeGateCore", targets: ["ScopeGateCore"]),
        .library(name: "ScopeGateHTTP", targets: ["ScopeGateHTTP"]),
    ],
    dependencies: [
        // Command-line parsing with generated help and validation.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // YAML as plain values, for the tests that read the proxy recipes in docker/.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // The logging API the Swift server ecosystem shares.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // The metrics API the Swift server ecosystem shares, and its Prometheus text exposition.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCrypt", pkgConfig: "libcrypt", providers: [.apt(["libcrypt-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPostgreSQL", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "CScopeGateShims", dependencies: ["CMicroHTTPD"]),
        .target(
            name: "ScopeGateCore",
            dependencies: ["COpenSSL", "CCrypt", "CYAML"],
            swiftSettings: pointerSettings
        ),
        .target(
            name: "ScopeGateHTTP",
            dependencies: ["CMicroHTTPD", "CScopeGateShims"],
            swiftSettings: pointerSettings
        ),
        .target(
            name: "ScopeGateStore",
            dependencies: ["CSQLite", "CPostgreSQL"],
            swiftSettings: pointerSettings
        ),
        .target(
            name: "ScopeGateApp",
            dependencies: [
                "ScopeGateCore", "ScopeGateHTTP", "ScopeGateStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "scopegate",
            dependencies: [
                "ScopeGateApp", "ScopeGateCore", "ScopeGateHTTP", "ScopeGateStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScopeGateTesting",
            dependencies: ["ScopeGateApp", "ScopeGateCore", "ScopeGateHTTP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScopeGateCoreTests",
            dependencies: ["ScopeGateCore", "ScopeGateTesting"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScopeGateHTTPTests",
            dependencies: ["ScopeGateHTTP", "ScopeGateTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScopeGateAppTests",
            dependencies: [
                "ScopeGateApp", "ScopeGateCore", "ScopeGateHTTP", "ScopeGateTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScopeGateStoreTests",
            dependencies: ["ScopeGateStore", "ScopeGateTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScopeGateCLITests",
            dependencies: ["scopegate", "ScopeGateCore", "ScopeGateTesting"],
            swiftSettings: swiftSettings
        ),
    ]
)
