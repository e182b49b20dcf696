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
            "http.path": "\(Self.printable(record.path))",
            "http.status": "\(status)",
            "duration_us": "\(microseconds)",
        ]
        if let decision = record.decision { metadata["auth.decision"] = "\(decision)" }
        if let rule = record.rule { metadata["auth.rule"] = "\(rule)" }
        if let user = record.user { metadata["auth.user"] = "\(user)" }
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
        if let decision = record.decision {
            writer.raw(#","auth.decision":"#)
            writer.string(decision)
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
            writer.string(address.description)
        }
        writer.raw(#","duration_us":""#)
        writer.digits(microseconds, 1)
        writer.raw(#"","http.method":"#)
        writer.string(printable(record.method))
        writer.raw(#","http.path":"#)
        writer.string(printable(record.path))
        writer.raw(#","http.status":""#)
        writer.digits(status, 1)
        writer.raw("\"}\n")
        return writer.bytes
    }
}
