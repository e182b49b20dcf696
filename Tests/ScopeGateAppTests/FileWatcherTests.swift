import Foundation
import Logging
import Synchronization
import Testing
@testable import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateTesting

@Suite struct FileWatcherTests {
    @Test func seesReplacedWrittenAndSwappedFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-watch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let watched = directory.appendingPathComponent("policy.yaml").path
        try "one".write(toFile: watched, atomically: false, encoding: .utf8)
        let calls = Mutex(0)
        let watcher = try FileWatcher(paths: [watched], delay: .milliseconds(20)) { calls.withLock { $0 += 1 } }
        defer { watcher.cancel() }

        // Renamed over (editors, mv).
        try "two".write(toFile: watched, atomically: true, encoding: .utf8)
        #expect(waitUntil(timeout: 5) { calls.withLock { $0 } == 1 })
        // Written in place.
        let handle = try #require(FileHandle(forWritingAtPath: watched))
        try handle.write(contentsOf: Data("three".utf8))
        try handle.close()
        #expect(waitUntil(timeout: 5) { calls.withLock { $0 } == 2 })
        // Another file in the same folder is not a change.
        try "x".write(toFile: directory.appendingPathComponent("other").path, atomically: true, encoding: .utf8)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(calls.withLock { $0 } == 2)
        // A Kubernetes-style swap of the ..data link.
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("..data_tmp").path, withDestinationPath: "v2")
        #expect(rename(directory.appendingPathComponent("..data_tmp").path, directory.appendingPathComponent("..data").path) == 0)
        #expect(waitUntil(timeout: 5) { calls.withLock { $0 } == 3 })
    }
}
