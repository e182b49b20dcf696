import Foundation
import Testing
import ScopeGateApp
import ScopeGateHTTP
import ScopeGateTesting

/// Raw bytes on a socket: a header value, name or request target that libmicrohttpd would hand over
/// shortened or rewritten (a NUL byte, a folded line, white space before the colon) is refused, never
/// decided on what is left of it. Each case starts from a request that is allowed as it stands, so a
/// decision on the shortened value would answer 200.
@Suite struct WholeHeadTests {
    let daemon: TestDaemon
    let token: String

    init() throws {
        daemon = try TestDaemon()
        token = try daemon.token(scopes: ["me", "items"])
    }

    /// Ways a header line loses bytes on its way through a C-string reader.
    enum Damage: CaseIterable, CustomStringConvertible {
        case nulThenMore, trailingNul, foldedLine, spaceBeforeColon

        var description: String {
            switch self {
            case .nulThenMore: "NUL then more bytes"
            case .trailingNul: "a NUL before CRLF"
            case .foldedLine: "an obs-fold continuation line"
            case .spaceBeforeColon: "white space before the colon"
            }
        }

        func apply(name: String, value: String) -> [UInt8] {
            switch self {
            case .nulThenMore: Array("\(name): \(value)".utf8) + [0] + Array("/../../admin/x".utf8)
            case .trailingNul: Array("\(name): \(value)".utf8) + [0]
            case .foldedLine: Array("\(name): \(value)\r\n /../../admin/x".utf8)
            case .spaceBeforeColon: Array("\(name) : \(value)".utf8)
            }
        }
    }

    /// One request head: the request line, the header lines, and a body.
    struct RawRequest {
        var requestLine: [UInt8]
        var fields: [(name: String, line: [UInt8])]
        var body: [UInt8] = []

        var bytes: [UInt8] {
            var bytes = requestLine + Array("\r\n".utf8)
            for field in fields { bytes += field.line + Array("\r\n".utf8) }
            return bytes + Array("\r\n".utf8) + body
        }

        /// The same request with `name`'s line damaged.
        func damaging(_ name: String, _ damage: Damage) -> RawRequest {
            var copy = self
            copy.fields = fields.map { field in
                guard field.name == name else { return field }
                let value = String(decoding: field.line.drop(while: { $0 != UInt8(ascii: ":") }).dropFirst(2), as: UTF8.self)
                return (name, damage.apply(name: name, value: value))
            }
            return copy
        }
    }

    func send(_ request: RawRequest) throws -> TestHTTPResponse? {
        let connection = try TestHTTPConnection(port: daemon.port)
        try connection.send(request.bytes)
        return try? connection.readResponse(timeout: 5)
    }

    func expectRefused(_ request: RawRequest, _ comment: Comment) throws {
        let response = try send(request)
        // A refusal from the HTTP layer before any application code runs: 400 and the connection closed.
        #expect(response?.status == 400, comment)
        #expect(response?.text.hasPrefix(#"{"detail":"Bad request head: "#) == true, comment)
        #expect(response?.header("Connection") == "close", comment)
    }

    /// nginx's subrequest plus one more of the headers ScopeGate reads, each with a value that keeps the
    /// request allowed.
    func authRequest(with extra: String) -> RawRequest {
        let extraValues = [
            "X-Forwarded-Uri": "/users/me/items/", "X-Forwarded-Method": "GET", "X-Forwarded-For": "127.0.0.1",
            "Content-Type": "text/plain", "Content-Length": "0", "Transfer-Encoding": "chunked", "Connection": "keep-alive",
        ]
        var fields: [(name: String, line: [UInt8])] = [
            ("Host", Array("Host: scopegate".utf8)),
            ("X-Original-URI", Array("X-Original-URI: /users/me/items/".utf8)),
            ("X-Original-Method", Array("X-Original-Method: GET".utf8)),
            ("Authorization", Array("Authorization: Bearer \(token)".utf8)),
        ]
        if let value = extraValues[extra] { fields.append((extra, Array("\(extra): \(value)".utf8))) }
        return RawRequest(
            requestLine: Array("GET /auth HTTP/1.1".utf8), fields: fields,
            body: extra == "Transfer-Encoding" ? Array("0\r\n\r\n".utf8) : [])
    }

    static let authHeaders = [
        "X-Original-URI", "X-Original-Method", "Authorization", "X-Forwarded-Uri", "X-Forwarded-Method",
        "X-Forwarded-For", "Content-Type", "Content-Length", "Transfer-Encoding", "Connection",
    ]

    @Test(arguments: authHeaders)
    func forwardAuthRefusesEveryDamagedHeader(name: String) throws {
        let request = authRequest(with: name)
        #expect(try send(request)?.status == 200, "undamaged \(name)")
        for damage in Damage.allCases {
            try expectRefused(request.damaging(name, damage), "\(name): \(damage)")
        }
    }

    /// bob's password grant, with the framing either as Content-Length or as chunks.
    func tokenRequest(chunked: Bool) -> RawRequest {
        let body = "username=bob&password=builder"
        var fields: [(name: String, line: [UInt8])] = [
            ("Host", Array("Host: scopegate".utf8)),
            ("Content-Type", Array("Content-Type: application/x-www-form-urlencoded".utf8)),
            ("X-Forwarded-For", Array("X-Forwarded-For: 127.0.0.1".utf8)),
            ("Connection", Array("Connection: keep-alive".utf8)),
        ]
        if chunked {
            fields.append(("Transfer-Encoding", Array("Transfer-Encoding: chunked".utf8)))
            let size = String(body.utf8.count, radix: 16)
            return RawRequest(
                requestLine: Array("POST /token HTTP/1.1".utf8), fields: fields,
                body: Array("\(size)\r\n\(body)\r\n0\r\n\r\n".utf8))
        }
        fields.append(("Content-Length", Array("Content-Length: \(body.utf8.count)".utf8)))
        return RawRequest(requestLine: Array("POST /token HTTP/1.1".utf8), fields: fields, body: Array(body.utf8))
    }

    @Test(arguments: ["Content-Type", "Content-Length", "Transfer-Encoding", "Connection", "X-Forwarded-For"])
    func tokenEndpointRefusesEveryDamagedHeader(name: String) throws {
        let request = tokenRequest(chunked: name == "Transfer-Encoding")
        #expect(try send(request)?.status == 200, "undamaged \(name)")
        for damage in Damage.allCases {
            try expectRefused(request.damaging(name, damage), "\(name): \(damage)")
        }
    }

    @Test func requestTargetsAndMethodsCutAtANulAreRefused() throws {
        let host: [(name: String, line: [UInt8])] = [
            ("Host", Array("Host: scopegate".utf8)),
            ("Authorization", Array("Authorization: Bearer \(token)".utf8)),
        ]
        // Envoy's convention: the original path follows /auth on the request line itself.
        let envoy = RawRequest(requestLine: Array("GET /auth/users/me/items/ HTTP/1.1".utf8), fields: host)
        #expect(try send(envoy)?.status == 200)
        let targets: [[UInt8]] = [
            Array("/auth/users/me/items/".utf8) + [0] + Array("/../../admin/x".utf8),
            Array("/auth/users/me/items/".utf8) + [0],
            Array("/auth/users/me/items/".utf8) + [0] + Array("?page=2".utf8),
            Array("/auth/users/me/items/".utf8) + [0, 0] + Array("x?a=1".utf8),
        ]
        for target in targets {
            try expectRefused(
                RawRequest(requestLine: Array("GET ".utf8) + target + Array(" HTTP/1.1".utf8), fields: host),
                "\(target)")
        }
        // A query is not a cut: it is parsed, and the path before it decided on.
        let query = RawRequest(requestLine: Array("GET /auth/users/me/items/?page=2&x HTTP/1.1".utf8), fields: host)
        #expect(try send(query)?.status == 200)
        let method = RawRequest(requestLine: Array("GET".utf8) + [0] + Array("X /auth/users/me/items/ HTTP/1.1".utf8), fields: host)
        let answer = try send(method)
        #expect(answer == nil || answer?.status == 400, "a method cut at a NUL")
    }

    @Test func repeatedHeadersStaySeparateAndAreRefused() throws {
        // libmicrohttpd keeps each field line; ScopeGate refuses a description given twice instead of merging it.
        for (name, second, status) in [
            ("X-Original-URI", "/public/x", 403), ("X-Original-Method", "DELETE", 403),
            ("Authorization", "Bearer x", 401), ("Content-Length", "0", 400),
        ] {
            var request = authRequest(with: name == "Content-Length" ? "Content-Length" : "")
            request.fields.append((name, Array("\(name): \(second)".utf8)))
            #expect(try send(request)?.status == status, "\(name) twice")
        }
    }

    @Test func headsThatArriveByteByByteAreReadWhole() throws {
        // The checks rest on where libmicrohttpd keeps the head in memory; a head read in many pieces must
        // still be whole (and allowed), not refused.
        var request = authRequest(with: "X-Forwarded-For")
        for index in 0..<20 { request.fields.append(("X-Filler-\(index)", Array("X-Filler-\(index): \(String(repeating: "v", count: 200))".utf8))) }
        let connection = try TestHTTPConnection(port: daemon.port)
        let bytes = request.bytes
        var offset = 0
        while offset < bytes.count {
            try connection.send(Array(bytes[offset..<min(offset + 7, bytes.count)]))
            offset += 7
            usleep(200)
        }
        #expect(try connection.readResponse(timeout: 5).status == 200)
        // And the next request on the same connection too.
        try connection.send(authRequest(with: "").bytes)
        #expect(try connection.readResponse(timeout: 5).status == 200)
    }

    @Test func theHostilePathCorpusOnTheWireIsDecidedAsInProcess() throws {
        let corpusText = try String(
            contentsOf: repositoryRoot.appendingPathComponent("Tests/ScopeGateCoreTests/Fixtures/path-corpus.tsv"),
            encoding: .utf8)
        // Targets with CR or LF would end the header line: they are request splitting, not a value to read.
        let corpus = try PathCorpusEntry.parse(corpusText).filter { !$0.target.contains(0x0D) && !$0.target.contains(0x0A) }
        for entry in corpus {
            var request = authRequest(with: "")
            request.fields[1].line = Array("X-Original-URI: ".utf8) + entry.target
            let wire = try send(request)?.status
            var headers = HTTPHeaders([("X-Original-Method", "GET"), ("Authorization", "Bearer \(token)")])
            headers.append(name: "X-Original-URI", value: entry.target)
            guard
                case .respond(let inProcess) = daemon.service.handle(
                    HTTPRequest(method: "GET", path: Array("/auth".utf8), headers: headers, clientAddress: IPAddress("127.0.0.1")))
            else {
                Issue.record("deferred /auth")
                continue
            }
            if entry.target.contains(0) {
                #expect(wire == 400, "\(entry)")
            } else {
                #expect(wire == inProcess.status, "\(entry)")
            }
        }
    }
}
