import Foundation
import Glibc
import Logging
import Testing
@testable import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateTesting

/// The access log's own JSON path and the sink that writes log lines off the request threads.
@Suite struct LogSinkTests {
    /// A line with its `time` member cut out, and that time.
    func withoutTime(_ line: [UInt8]) throws -> (String, String) {
        let text = String(decoding: line, as: UTF8.self)
        let match = try #require(text.firstMatch(of: /^\{"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)",/))
        return (String(text[match.range.upperBound...]), String(match.1))
    }

    @Test(
        arguments: [
            (nil, nil, nil, nil, "/users/me/", "GET", 200),
            ("allow", "/users/me/**", "johndoe", "203.0.113.9", "/users/me/items/?q=1", "GET", 200),
            ("forbidden", nil, nil, "2001:db8::1", "/a\"b\\c\u{1b}[31m\n\té✓", "DELETE", 403),
            ("insufficient_scope", "default", "bob \"the\" builder", nil, "/x", "get", 401),
        ] as [(String?, String?, String?, String?, String, String, Int)])
    func theDirectLineIsTheOneTheLoggerWrites(
        decision: String?, rule: String?, user: String?, address: String?,
        path: String, method: String, status: Int
    ) throws {
        var record = RequestRecord(
            HTTPRequest(
                method: method, path: Array(path.utf8),
                clientAddress: address.flatMap { IPAddress($0) }))
        record.decision = decision
        record.rule = rule
        record.user = user
        let direct = ScopeGateService.accessLine(record, status: status, microseconds: 1234)
        var metadata: [String: String] = [
            "http.method": ScopeGateService.printable(method), "http.path": ScopeGateService.printable(path),
            "http.status": "\(status)", "duration_us": "1234",
        ]
        metadata["auth.decision"] = decision
        metadata["auth.rule"] = rule
        metadata["auth.user"] = user
        metadata["client.address"] = address.flatMap { IPAddress($0)?.description }
        let logged = JSONLogHandler.line(level: .info, message: "request", fields: metadata.keys.sorted().map { ($0, metadata[$0]!) })
        let (directRest, directTime) = try withoutTime(direct)
        let (loggedRest, _) = try withoutTime(logged)
        #expect(directRest == loggedRest)
        #expect(direct.last == UInt8(ascii: "\n"))
        // One JSON object that parses back to the same members.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(direct)) as? [String: String])
        #expect(object["http.path"] == ScopeGateService.printable(path))
        #expect(object["auth.user"] == user)
        #expect(object["time"] == directTime)
    }

    @Test(arguments: [0, 951_782_400, 951_868_799, 1_796_159_984, 4_102_444_799, -1, -86_400 * 365])
    func timestampsAreTheCalendarsOwn(seconds: Int) {
        var writer = JSONWriter()
        writer.append(timestamp: timespec(tv_sec: seconds, tv_nsec: 7_000_000))
        var parts = tm()
        var time = seconds
        gmtime_r(&time, &parts)
        let expected = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.007Z", parts.tm_year + 1900, parts.tm_mon + 1,
            parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)
        #expect(String(decoding: writer.bytes, as: UTF8.self) == expected)
    }

    /// A pipe whose read end the test controls.
    final class TestPipe {
        let read: Int32
        let write: Int32

        init() throws {
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw TestHTTPError(description: "pipe failed") }
            read = ends[0]
            write = ends[1]
        }

        deinit {
            close(read)
            close(write)
        }

        /// Reads what is there until `deadline` or until `condition` holds of all read so far.
        func drain(until condition: (String) -> Bool, timeout: Double = 5) -> String {
            var collected: [UInt8] = []
            let deadline = Date().addingTimeInterval(timeout)
            var buffer = [UInt8](repeating: 0, count: 65536)
            while Date() < deadline {
                var poller = pollfd(fd: read, events: Int16(POLLIN), revents: 0)
                if poll(&poller, 1, 50) > 0 {
                    let count = Glibc.read(read, &buffer, buffer.count)
                    if count > 0 { collected += buffer[0..<count] }
                }
                if condition(String(decoding: collected, as: UTF8.self)) { break }
            }
            return String(decoding: collected, as: UTF8.self)
        }
    }

    @Test func linesFromManyThreadsArriveWholeInOrderWithinAnInterval() throws {
        let pipe = try TestPipe()
        let sink = LogSink(descriptor: pipe.write)
        defer { sink.stop() }
        // Eight threads, 500 lines each; each thread's own lines must stay in its order.
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for index in 0..<500 { sink.append(Array("t\(thread) \(index)\n".utf8)) }
        }
        let text = pipe.drain(until: { $0.split(separator: "\n").count == 4000 })
        let lines = text.split(separator: "\n")
        #expect(lines.count == 4000)
        for thread in 0..<8 {
            let own = lines.filter { $0.hasPrefix("t\(thread) ") }.map { Int($0.split(separator: " ")[1])! }
            #expect(own == Array(0..<500), "thread \(thread)")
        }
        // A single line while idle gets there within the interval, not at the next flush.
        let start = Date()
        sink.append(Array("late\n".utf8))
        #expect(pipe.drain(until: { $0.contains("late\n") }, timeout: 1).contains("late\n"))
        #expect(Date().timeIntervalSince(start) < 1)
        #expect(sink.dropped == 0)
    }

    @Test func aDestinationThatStopsReadingCostsLinesNotDecisions() throws {
        let pipe = try TestPipe()
        // A small buffer, and a pipe nobody reads: the kernel takes 64 KiB, then the writer thread blocks.
        let sink = LogSink(descriptor: pipe.write, capacity: 16 << 10, dropNotice: { Array("dropped \($0)\n".utf8) })
        let line = Array((String(repeating: "x", count: 99) + "\n").utf8)
        let start = ContinuousClock.now
        for _ in 0..<10_000 { sink.append(line) }
        // A million bytes against 80 KiB of room: appending never waited for the destination.
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(sink.dropped > 8_000)
        let dropped = sink.dropped
        // The reader comes back: what was kept arrives, then one line saying how many were lost.
        let text = pipe.drain(until: { $0.contains("dropped ") && $0.hasSuffix("\n") })
        #expect(text.contains("dropped \(dropped)\n"))
        #expect(text.components(separatedBy: "dropped ").count == 2, "said once")
        #expect(
            !text.split(separator: "\n").contains { $0 != String(repeating: "x", count: 99) && !$0.hasPrefix("dropped ") },
            "only whole lines")
        sink.stop()
    }

    @Test func flushWritesEverythingAndGivesUpOnADeadDestination() throws {
        let pipe = try TestPipe()
        let sink = LogSink(descriptor: pipe.write, interval: .seconds(3600))
        for index in 0..<100 { sink.append(Array("\(index)\n".utf8)) }
        #expect(sink.flush())
        let text = pipe.drain(until: { $0.hasSuffix("99\n") }, timeout: 2)
        #expect(text.split(separator: "\n").map { Int($0)! } == Array(0..<100))
        // Fill the pipe so nothing more is taken: a flush returns after its timeout instead of hanging.
        let filler = [UInt8](repeating: 0x2E, count: 1 << 20)
        let flags = fcntl(pipe.write, F_GETFL)
        _ = fcntl(pipe.write, F_SETFL, flags | O_NONBLOCK)
        _ = filler.withUnsafeBytes { Glibc.write(pipe.write, $0.baseAddress, $0.count) }
        _ = fcntl(pipe.write, F_SETFL, flags)
        sink.append(Array("stuck\n".utf8))
        let start = ContinuousClock.now
        #expect(!sink.flush(timeout: .milliseconds(300)))
        #expect(ContinuousClock.now - start < .seconds(2))
        sink.stop(timeout: .milliseconds(100))
    }

    @Test func theDaemonWritesAccessLinesThroughItsSinkAndCountsDrops() throws {
        let pipe = try TestPipe()
        let sink = LogSink(descriptor: pipe.write)
        defer { sink.stop() }
        let logger = Logger(label: "test") { JSONLogHandler(label: $0, sink: sink) }
        let configuration = try TestDaemon().service.configuration
        let daemon = try TestDaemon(configuration: configuration, logger: logger, accessLogSink: sink)
        let token = try daemon.token(scopes: ["me", "items"])
        #expect(try daemon.auth("/users/me/items/", token: token).status == 200)
        #expect(try daemon.auth("/status/").status == 401)
        let text = pipe.drain(until: { $0.components(separatedBy: "http.path").count > 2 })
        // The daemon's own lines ("listening on …") go through the same sink; the access lines are the rest.
        let lines = text.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
            .filter { $0?["http.path"] != nil }
        #expect(lines.count == 2)
        #expect(lines.first??["auth.decision"] == "allow")
        #expect(lines.first??["auth.user"] == "johndoe")
        #expect(lines.last??["http.path"] == "/status/")
        #expect(lines.last??["http.status"] == "401")
        #expect(!text.contains(token))
        let metrics = try daemon.get("/metrics")
        #expect(metrics.text.contains("scopegate_access_log_dropped_total 0"))
    }
}
