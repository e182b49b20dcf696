import Foundation
import Testing
import ScopeGateHTTP
import ScopeGateTesting

@Suite struct HTTPAbuseTests {
    @Test func hugeHeadersAreRefusedFast() throws {
        let server = try startServer(handler: echo)
        defer { server.stop() }
        for head in [
            "X-Big: " + String(repeating: "a", count: 64 * 1024) + "\r\n",
            (0..<4000).map { "X-H\($0): v\r\n" }.joined(),
        ] {
            let start = Date()
            let connection = try TestHTTPConnection(port: server.port)
            try? connection.send("GET / HTTP/1.1\r\nHost: x\r\n" + head + "\r\n")
            if let response = try? connection.readResponse(timeout: 2) {
                #expect(response.status == 431 || response.status == 413, "status \(response.status)")
            } else {
                #expect(connection.isClosedByPeer(timeout: 2))
            }
            #expect(Date().timeIntervalSince(start) < 2)
        }
        #expect(try sendRequest(port: server.port, target: "/still-up").status == 200)
    }

    @Test func partialRequestsDoNotHoldUpOthers() throws {
        let server = try startServer({ $0.threads = 2 }, handler: echo)
        defer { server.stop() }
        var slow: [TestHTTPConnection] = []
        for _ in 0..<50 {
            let connection = try TestHTTPConnection(port: server.port)
            try connection.send("GET /slowloris HTTP/1.1\r\nHost: x\r\nX-Partial: ")
            slow.append(connection)
        }
        let start = Date()
        #expect(try sendRequest(port: server.port, target: "/normal").status == 200)
        #expect(Date().timeIntervalSince(start) < 0.5)
        withExtendedLifetime(slow) {}
    }

    @Test func idleKeepAliveConnectionsDoNotBlockOthers() throws {
        let server = try startServer({ $0.threads = 2 }, handler: echo)
        defer { server.stop() }
        var idle: [TestHTTPConnection] = []
        for _ in 0..<200 {
            let connection = try TestHTTPConnection(port: server.port)
            try connection.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().status == 200)
            idle.append(connection)
        }
        let start = Date()
        #expect(try sendRequest(port: server.port, target: "/normal").status == 200)
        #expect(Date().timeIntervalSince(start) < 0.5)
        try idle[0].send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try idle[0].readResponse().text == "GET /again 0 -")
    }

    @Test func limitsConnectionsPerAddress() throws {
        let server = try startServer({ $0.perIPConnectionLimit = 5 }, handler: echo)
        defer { server.stop() }
        let held = try (0..<5).map { _ in try TestHTTPConnection(port: server.port) }
        // A full exchange on each proves the server has accepted it; the connections then stay open.
        for connection in held {
            try connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().status == 200)
        }
        let extra = try TestHTTPConnection(port: server.port)
        try? extra.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect((try? extra.readResponse(timeout: 2)) == nil)
        withExtendedLifetime(held) {}
    }

    @Test func closesConnectionsThatStallPastTheTimeout() throws {
        let server = try startServer({ $0.connectionTimeout = 1 }, handler: echo)
        defer { server.stop() }
        let connection = try TestHTTPConnection(port: server.port)
        try connection.send("GET / HTTP/1.1\r\nHost: x\r\n")
        let start = Date()
        #expect(connection.isClosedByPeer(timeout: 4))
        #expect(Date().timeIntervalSince(start) < 3)
    }
}
