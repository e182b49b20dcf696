public import Logging
import ScopeGateCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes one JSON object per line: `time` (RFC 3339, UTC, milliseconds), `level`,
/// `message`, then the metadata as string members. Each line is written with a single `write(2)`, so lines
/// from different threads never interleave.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let descriptor: Int32

    /// A handler writing to a file descriptor (standard error by default).
    public init(label: String, descriptor: Int32 = 2) {
        self.descriptor = descriptor
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("time")
        writer.string(Self.timestamp())
        writer.raw(",")
        writer.key("level")
        writer.string(event.level.rawValue)
        writer.raw(",")
        writer.key("message")
        writer.string(event.message.description)
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for key in merged.keys.sorted() where !["time", "level", "message"].contains(key) {
            writer.raw(",")
            writer.key(key)
            writer.string(merged[key]!.description)
        }
        writer.raw("}\n")
        let line = writer.bytes
        line.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// Now as `2026-11-23T10:15:30.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}
