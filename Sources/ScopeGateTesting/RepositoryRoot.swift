public import Foundation

/// The repository's root, found from this file's path (`Sources/ScopeGateTesting/` inside it).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
