import Foundation

/// A response as a test client read it off the wire.
public struct TestHTTPResponse: Sendable {
    /// The status code.
    public let status: Int
    /// Header fields in order, names as sent.
    public let headers: [(name: String, value: String)]
    /// The body bytes.
    public let body: [UInt8]

    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of a header.
    public func headers(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }
}

/// Why a test client could not complete a request.
public struct TestHTTPError: Error, CustomStringConvertible {
    public let description: String

    /// Creates an error saying what went wrong.
    public init(description: String) {
        self.description = description
    }
}

/// One TCP connection that speaks raw HTTP/1.1, so tests can send exactly the bytes an attacker or a
/// proxy would (smuggling, odd targets, pipelining) and read exactly what comes back.
public final class TestHTTPConnection {
    /// The connected socket; -1 once closed. deinit also runs when init throws after setting it, so a failed
    /// connect must not leave it to be closed twice (the second close could hit another thread's new socket).
    private var socket: Int32
    private var buffer: [UInt8] = []

    /// Connects to `host:port` (IPv4 literal).
    public init(port: UInt16, host: String = "127.0.0.1") throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestHTTPError(description: "socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let failure = errno
            Glibc.close(socket)
            socket = -1
            throw TestHTTPError(description: "connect to \(host):\(port) failed: errno \(failure)")
        }
    }

    deinit {
        if socket >= 0 { Glibc.close(socket) }
    }

    /// Sends raw bytes.
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw TestHTTPError(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    /// Sends text.
    public func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    /// Reads one response; `headOnly` for answers to HEAD, which have no body.
    public func readResponse(timeout: Double = 10, headOnly: Bool = false) throws -> TestHTTPResponse {
        let deadline = Date().addingTimeInterval(timeout)
        var headerEnd: Int?
        while true {
            if let end = find([13, 10, 13, 10], in: buffer) {
                headerEnd = end
                break
            }
            guard try fill(until: deadline) else { throw TestHTTPError(description: "connection closed before a complete response head") }
        }
        let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self)
        buffer.removeFirst(headerEnd! + 4)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestHTTPError(description: "bad status line \(head)") }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let response = TestHTTPResponse(status: status, headers: headers, body: [])
        if headOnly || status == 204 || status == 304 || (100..<200).contains(status) {
            return response
        }
        if let lengthText = response.header("Content-Length"), let length = Int(lengthText) {
            while buffer.count < length {
                guard try fill(until: deadline) else { throw TestHTTPError(description: "connection closed inside the body") }
            }
            let body = Array(buffer.prefix(length))
            buffer.removeFirst(length)
            return TestHTTPResponse(status: status, headers: headers, body: body)
        }
        if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            var body: [UInt8] = []
            while true {
                while find([13, 10], in: buffer) == nil {
                    guard try fill(until: deadline) else { throw TestHTTPError(description: "closed inside chunked body") }
                }
                let lineEnd = find([13, 10], in: buffer)!
                let size = Int(String(decoding: buffer[..<lineEnd], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
                buffer.removeFirst(lineEnd + 2)
                while buffer.count < size + 2 {
                    guard try fill(until: deadline) else { throw TestHTTPError(description: "closed inside a chunk") }
                }
                body += buffer.prefix(size)
                buffer.removeFirst(size + 2)
                if size == 0 { return TestHTTPResponse(status: status, headers: headers, body: body) }
            }
        }
        while try fill(until: deadline) {}
        let body = buffer
        buffer = []
        return TestHTTPResponse(status: status, headers: headers, body: body)
    }

    /// Whether the server has closed the connection (waits up to `timeout` for it).
    public func isClosedByPeer(timeout: Double = 2) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        do {
            while try fill(until: deadline) {}
            return true
        } catch {
            return false
        }
    }

    /// Reads more bytes; `false` at end of stream. Throws on timeout.
    private func fill(until deadline: Date) throws -> Bool {
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let remaining = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
        guard poll(&descriptor, 1, remaining) > 0 else { throw TestHTTPError(description: "timed out waiting for the server") }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(socket, &chunk, chunk.count, 0)
        if count <= 0 { return false }
        buffer += chunk.prefix(count)
        return true
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index..<index + needle.count].elementsEqual(needle) {
            return index
        }
        return nil
    }
}

/// Sends one request on a new connection and reads the response.
public func sendRequest(
    port: UInt16, method: String = "GET", target: String, headers: [(String, String)] = [],
    body: [UInt8] = [], host: String = "127.0.0.1"
) throws -> TestHTTPResponse {
    let connection = try TestHTTPConnection(port: port, host: host)
    var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
    head += "\r\n"
    try connection.send(Array(head.utf8) + body)
    return try connection.readResponse(headOnly: method == "HEAD")
}

/// A form body, URL-encoded.
public func formBody(_ fields: [(String, String)]) -> [UInt8] {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._*")
    let encoded = fields.map { name, value in
        let encode: (String) -> String = { $0.addingPercentEncoding(withAllowedCharacters: allowed)!.replacingOccurrences(of: "%20", with: "+") }
        return encode(name) + "=" + encode(value)
    }
    return Array(encoded.joined(separator: "&").utf8)
}

/// Polls `condition` until it holds or `timeout` seconds pass; returns whether it held. Tests wait with this
/// rather than loop forever.
public func waitUntil(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        if Date() > deadline { return false }
        Thread.sleep(forTimeInterval: 0.002)
    }
    return true
}
