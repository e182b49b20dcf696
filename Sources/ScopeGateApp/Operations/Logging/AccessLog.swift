import Logging
import ScopeGateCore
import ScopeGateHTTP

extension ScopeGateService {
    /// Writes the access-log line of one request: method, path, status, duration and, for forward-auth
    /// checks, the decision, rule and user.
    func logRequest(_ record: RequestRecord, status: Int, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        if let accessLogSink {
            accessLogSink.append(Self.accessLine(record, status: status, microseconds: Int(microseconds)))
            return
        }
        var metadata: Logger.Metadata = [
            "http.method": "\(Self.printable(record.method))",
            "http.path": "\(Self.printable(String(decoding: record.path, as: UTF8.self)))",
            "http.status": "\(status)",
            "duration_us": "\(microseconds)",
        ]
        if let decision = record.decision { metadata["auth.decision"] = "\(decision)" }
        if let rule = record.rule { metadata["auth.rule"] = "\(rule)" }
        if let principal = record.principal { metadata["auth.principal"] = "\(principal)" }
        if let user = record.user { metadata["auth.user"] = "\(user)" }
        if let client = record.client { metadata["auth.client"] = "\(client)" }
        if let address = record.clientAddress { metadata["client.address"] = "\(address)" }
        logger.info("request", metadata: metadata)
    }

    /// The line ``JSONLogHandler`` writes for the access log's `logger.info("request", metadata:)`, built
    /// without the metadata dictionary: the members in the same (sorted) order, escaped the same way.
    static func accessLine(_ record: RequestRecord, status: Int, microseconds: Int) -> [UInt8] {
        var writer = JSONWriter()
        writer.raw(#"{"time":""#)
        writer.append(timestamp: JSONLogHandler.currentTime())
        writer.raw(#"","level":"info","message":"request""#)
        if let client = record.client {
            writer.raw(#","auth.client":"#)
            writer.string(client)
        }
        if let decision = record.decision {
            writer.raw(#","auth.decision":"#)
            writer.string(decision)
        }
        if let principal = record.principal {
            writer.raw(#","auth.principal":"#)
            writer.string(principal)
        }
        if let rule = record.rule {
            writer.raw(#","auth.rule":"#)
            writer.string(rule)
        }
        if let user = record.user {
            writer.raw(#","auth.user":"#)
            writer.string(user)
        }
        if let address = record.clientAddress {
            writer.raw(#","client.address":"#)
            if let number = address.ipv4Number {
                // Four numbers and three dots: written digit by digit rather than through a String.
                writer.raw("\"")
                for shift in [24, 16, 8, 0] as [UInt32] {
                    if shift < 24 { writer.raw(".") }
                    writer.digits(Int(number >> shift & 0xFF), 1)
                }
                writer.raw("\"")
            } else {
                writer.string(address.description)
            }
        }
        writer.raw(#","duration_us":""#)
        writer.digits(microseconds, 1)
        writer.raw(#"","http.method":"#)
        writer.string(printable(record.method))
        writer.raw(#","http.path":"#)
        if record.path.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            // Printable ASCII with nothing to escape, the usual path: its bytes as they are.
            writer.raw("\"")
            writer.append(bytes: record.path)
            writer.raw("\"")
        } else {
            writer.string(printable(String(decoding: record.path, as: UTF8.self)))
        }
        writer.raw(#","http.status":""#)
        writer.digits(status, 1)
        writer.raw("\"}\n")
        return writer.bytes
    }
}

extension ScopeGateService {
    /// `text` with control characters shown as `\u{…}`, so a client's bytes cannot forge or colour log
    /// lines in the text format (the JSON format escapes them anyway).
    static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) }) else { return text }
        return String(
            text.unicodeScalars.map { scalar in
                scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0)
                    ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
            }.joined())
    }
}

/// What the access log says of one request; forward-auth checks fill in the original request and the decision.
struct RequestRecord: Sendable {
    var method: String
    /// The path's bytes (a slice of the request's or the canonical path's own: no copy).
    var path: ArraySlice<UInt8>
    var clientAddress: IPAddress?
    var decision: String?
    var rule: String?
    /// The principal's kind (`user`, `client`) and its name under the field of its kind.
    var principal: String?
    var user: String?
    var client: String?

    init(_ request: HTTPRequest) {
        method = request.method
        path = request.path.prefix(512)
        clientAddress = request.clientAddress
    }
}
