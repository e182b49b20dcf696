import Foundation
import Synchronization
import Testing
import ScopeGateHTTP
import ScopeGateTesting

func startServer(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }, handler: @escaping HTTPHandler) throws -> HTTPServer {
    var configuration = HTTPServerConfiguration()
    configuration.port = 0
    configure(&configuration)
    return try HTTPServer(configuration: configuration, handler: handler)
}

let echo: HTTPHandler = { request in
    let text = "\(request.method) \(request.pathText) \(request.body.count) \(request.headers["X-Test"] ?? "-")"
    return .respond(HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: Array(text.utf8)))
}

/// A one-shot gate a test opens to let deferred work finish.
final class Gate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    func wait() { semaphore.wait() }
    func open(_ count: Int = 1) { for _ in 0..<count { semaphore.signal() } }
}

@Suite struct HTTPServerTests {
    @Test func servesOnAnEphemeralPortWithTheRawPath() throws {
        let server = try startServer(handler: echo)
        defer { server.stop() }
        #expect(server.port != 0)
        let response = try sendRequest(port: server.port, target: "/a%2Fb/../c?x=1", headers: [("X-Test", "yes")])
        #expect(response.status == 200)
        #expect(response.text == "GET /a%2Fb/../c 0 yes")
    }

    @Test func commonPathsAreSharedOnlyWhenEqual() throws {
        let server = try startServer({ $0.commonPaths = ["/auth", "/healthz"] }, handler: echo)
        defer { server.stop() }
        for target in ["/auth", "/autH", "/auti", "/aut", "/auth/", "/healthz", "/healthy", "/", "/auth%00"] {
            #expect(try sendRequest(port: server.port, target: target).text == "GET \(target) 0 -")
        }
    }

    @Test func keepsConnectionsAliveAndAnswersPipelinedRequestsInOrder() throws {
        let server = try startServer(handler: echo)
        defer { server.stop() }
        let connection = try TestHTTPConnection(port: server.port)
        try connection.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try connection.readResponse()
        #expect(first.text == "GET /one 0 -")
        #expect(first.header("Connection")?.lowercased() != "close")
        try connection.send(
            "GET /two HTTP/1.1\r\nHost: x\r\n\r\nPOST /three HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /four HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try connection.readResponse().text == "GET /two 0 -")
        #expect(try connection.readResponse().text == "POST /three 3 -")
        #expect(try connection.readResponse().text == "GET /four 0 -")
    }

    @Test func capsBodies() throws {
        let server = try startServer({ $0.maximumBodySize = 100 }, handler: echo)
        defer { server.stop() }
        #expect(try sendRequest(port: server.port, method: "POST", target: "/", body: [UInt8](repeating: 65, count: 100)).status == 200)
        let declared = try sendRequest(port: server.port, method: "POST", target: "/", body: [UInt8](repeating: 65, count: 101))
        #expect(declared.status == 413)
        #expect(declared.text == "Request body larger than 100 bytes\n")
        let connection = try TestHTTPConnection(port: server.port)
        try connection.send(
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + String(repeating: "a", count: 100) + "\r\n1\r\nb\r\n0\r\n\r\n")
        #expect(try connection.readResponse().status == 413)
    }

    @Test func theApplicationWordsRefusalsMadeBeforeItsHandler() throws {
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        configuration.maximumBodySize = 100
        let server = try HTTPServer(
            configuration: configuration,
            rejection: { rejection in
                .json(rejection.status, Array(#"{"detail":"\#(rejection.reason)"}"#.utf8))
            }, handler: echo)
        defer { server.stop() }
        let declared = try sendRequest(port: server.port, method: "POST", target: "/", body: [UInt8](repeating: 65, count: 101))
        #expect(declared.status == 413)
        #expect(declared.text == #"{"detail":"Request body larger than 100 bytes"}"#)
        #expect(declared.header("Content-Type") == "application/json")
    }

    @Test func refusesAmbiguousFramingAndCloses() throws {
        let server = try startServer(handler: echo)
        defer { server.stop() }
        let connection = try TestHTTPConnection(port: server.port)
        try connection.send(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try connection.readResponse()
        #expect(response.status == 400)
        #expect(response.header("Connection")?.lowercased() == "close")
        #expect(connection.isClosedByPeer())
        for framing in [
            "Content-Length: 3\r\nContent-Length: 4", "Content-Length: +3", "Content-Length: 0x3",
            "CONTENT-length: 3\r\ncontent-LENGTH: 4", "transfer-ENCODING: chunked\r\nContent-length: 4",
        ] {
            let other = try TestHTTPConnection(port: server.port)
            try other.send("POST / HTTP/1.1\r\nHost: x\r\n\(framing)\r\n\r\nabcd")
            #expect(try other.readResponse().status == 400, "\(framing)")
        }
    }

    @Test func neverSendsHeaderValuesWithLineBreaks() throws {
        let server = try startServer { _ in
            .respond(HTTPResponse(status: 200, headers: [("X-Good", "fine"), ("X-Bad", "a\r\nSet-Cookie: evil=1"), ("Bad Name", "x"), ("X-Empty", "")]))
        }
        defer { server.stop() }
        let response = try sendRequest(port: server.port, target: "/")
        #expect(response.header("X-Good") == "fine")
        #expect(response.header("X-Bad") == nil)
        #expect(response.header("Set-Cookie") == nil)
        #expect(response.headers("X-Empty") == [""])
    }

    @Test func slowWorkRunsOffThePollingThreads() throws {
        let gate = Gate()
        let server = try startServer({
            $0.threads = 1; $0.workerThreads = 1
        }) { request in
            if request.pathText == "/slow" {
                return .deferred(overloaded: { _ in HTTPResponse(status: 503) }) {
                    gate.wait()
                    return HTTPResponse(status: 200, body: Array("slow done".utf8))
                }
            }
            return echo(request)
        }
        defer { server.stop() }
        let slow = try TestHTTPConnection(port: server.port)
        try slow.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        // With one polling thread, this is answered only if the slow request is not holding it.
        let fast = try sendRequest(port: server.port, target: "/fast")
        #expect(fast.text == "GET /fast 0 -")
        gate.open()
        let answer = try slow.readResponse()
        #expect(answer.text == "slow done")
        // The connection stays usable after its suspension.
        try slow.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try slow.readResponse().text == "GET /after 0 -")
    }

    @Test func workersRunBelowThePollingThreads() throws {
        // A niceness no other server in this process uses, so its workers can be told apart.
        let server = try startServer(
            {
                $0.workerThreads = 2; $0.workerNiceness = 7
            }, handler: echo)
        defer { server.stop() }
        let found = waitUntil(timeout: 5) { threadNiceness().filter { $0.name.hasPrefix("sg-worker-") && $0.nice == 7 }.count == 2 }
        #expect(found, "\(threadNiceness())")
        // The polling threads keep the process's own priority.
        #expect(threadNiceness().contains { $0.nice == 0 })
    }

    @Test func preparedResponsesAreSentAsBuilt() throws {
        let prepared = HTTPResponse(status: 200, headers: [("X-Auth-User", "bob"), ("X-Empty", "")], body: Array("ok".utf8)).prepared()
        let server = try startServer({ $0.threads = 2 }) { _ in .respond(prepared) }
        defer { server.stop() }
        // From several connections (and so both polling threads), again and again.
        let connections = try (0..<4).map { _ in try TestHTTPConnection(port: server.port) }
        for _ in 0..<25 {
            for connection in connections {
                try connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try connection.readResponse()
                #expect(response.status == 200)
                #expect(response.header("X-Auth-User") == "bob")
                #expect(response.headers("X-Empty") == [""])
                #expect(response.text == "ok")
            }
        }
    }

    @Test func excessSlowWorkIsAnsweredAsOverloaded() throws {
        let gate = Gate()
        let server = try startServer({
            $0.workerThreads = 1; $0.workerQueueLimit = 1; $0.overloadDelay = .milliseconds(300)
        }) { _ in
            .deferred(overloaded: { _ in HTTPResponse(status: 503, headers: [("Retry-After", "1")]) }) {
                gate.wait()
                return HTTPResponse(status: 200)
            }
        }
        defer { server.stop() }
        // Declared after: runs first, so the blocked work ends before the server stops, whatever fails.
        defer { gate.open(4) }
        let running = try TestHTTPConnection(port: server.port)
        try running.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try #require(waitUntil { server.runningWork >= 1 })
        let queued = try TestHTTPConnection(port: server.port)
        try queued.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try #require(waitUntil { server.pendingWork >= 2 })
        // The overloaded answer is held back for the delay (a client retrying at once costs little), then sent.
        let started = ContinuousClock.now
        let rejected = try sendRequest(port: server.port, target: "/")
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        #expect(rejected.status == 503)
        #expect(rejected.header("Retry-After") == "1")
        gate.open(2)
        #expect(try running.readResponse().status == 200)
        #expect(try queued.readResponse().status == 200)
    }

    @Test func workThatWaitedTooLongIsAnsweredAsOverloadedWithoutRunning() throws {
        let gate = Gate()
        let ran = Mutex<[String]>([])
        let reasons = Mutex<[OverloadReason]>([])
        let server = try startServer({
            $0.workerThreads = 1; $0.workerQueueLimit = 4; $0.workerQueueWait = .milliseconds(200)
        }) { request in
            .deferred(overloaded: { reason in
                reasons.withLock { $0.append(reason) }
                return HTTPResponse(status: 503, headers: [("Retry-After", "1")])
            }) {
                ran.withLock { $0.append(request.pathText) }
                if request.pathText == "/first" { gate.wait() }
                return HTTPResponse(status: 200)
            }
        }
        defer { server.stop() }
        let first = try TestHTTPConnection(port: server.port)
        try first.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        try #require(waitUntil { ran.withLock { $0 } == ["/first"] })
        let queued = try TestHTTPConnection(port: server.port)
        try queued.send("GET /queued HTTP/1.1\r\nHost: x\r\n\r\n")
        try #require(waitUntil { server.pendingWork >= 2 })
        // The only worker is held past the queued request's maximum wait; when it frees up, the queued
        // request is answered at once as overloaded, not run late.
        Thread.sleep(forTimeInterval: 0.4)
        gate.open()
        #expect(try first.readResponse().status == 200)
        let answer = try queued.readResponse()
        #expect(answer.status == 503)
        #expect(answer.header("Retry-After") == "1")
        #expect(ran.withLock { $0 } == ["/first"])
        #expect(reasons.withLock { $0 } == [.waitedTooLong])
        // A request that finds the worker free runs as usual.
        try queued.send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try queued.readResponse().status == 200)
        #expect(ran.withLock { $0 } == ["/first", "/later"])
    }

    @Test func stopsCleanlyWithSuspendedConnections() throws {
        let gate = Gate()
        let server = try startServer { _ in
            .deferred(overloaded: { _ in HTTPResponse(status: 503) }) {
                gate.wait()
                return HTTPResponse(status: 200)
            }
        }
        let connection = try TestHTTPConnection(port: server.port)
        try connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try #require(waitUntil { server.pendingWork >= 1 })
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { gate.open() }
        server.stop()
        #expect(throws: (any Error).self) { try sendRequest(port: server.port, target: "/") }
    }

    @Test func refusesBadHostsAndBusyPorts() throws {
        #expect(throws: HTTPServerError.invalidHost("example.com")) { try startServer({ $0.host = "example.com" }, handler: echo) }
        let server = try startServer(handler: echo)
        defer { server.stop() }
        #expect(throws: HTTPServerError.cannotListen(host: "127.0.0.1", port: server.port)) {
            try startServer({ $0.port = server.port }, handler: echo)
        }
    }
}
