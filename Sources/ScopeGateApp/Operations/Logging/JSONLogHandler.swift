public import Logging
import ScopeGateCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes one JSON object per line: `time` (RFC 3339, UTC, milliseconds), `level`,
/// `message`, then the metadata as string members in key order. Lines go to a ``LogSink`` (written by its
/// background thread, so a slow destination never stalls a request), or, without one, straight to a file
/// descriptor with a single `write(2)` each, so lines from different threads never interleave.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let descriptor: Int32
    private let sink: LogSink?

    /// A handler writing to a file descriptor (standard error by default), synchronously.
    public init(label: String, descriptor: Int32 = 2) {
        self.descriptor = descriptor
        self.sink = nil
    }

    /// A handler writing through `sink`.
    public init(label: String, sink: LogSink) {
        self.descriptor = -1
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line = Self.line(
            level: event.level, message: event.message.description,
            fields: merged.keys.sorted().map { ($0, merged[$0]!.description) })
        if let sink {
            sink.append(line)
            return
        }
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

    /// One line: `{"time":…,"level":…,"message":…,` then `fields` in the order given, and a newline.
    static func line(level: Logger.Level, message: String, fields: [(String, String)]) -> [UInt8] {
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("time")
        writer.raw("\"")
        writer.append(timestamp: currentTime())
        writer.raw("\",")
        writer.key("level")
        writer.string(level.rawValue)
        writer.raw(",")
        writer.key("message")
        writer.string(message)
        for (key, value) in fields where !["time", "level", "message"].contains(key) {
            writer.raw(",")
            writer.key(key)
            writer.string(value)
        }
        writer.raw("}\n")
        return writer.bytes
    }

    /// The warning a ``LogSink`` writes once its destination takes lines again after `count` were dropped.
    public static let dropNotice: @Sendable (_ count: Int) -> [UInt8] = { count in
        line(
            level: .warning, message: "log lines dropped: the log destination did not keep up",
            fields: [("log.dropped", "\(count)")])
    }

    /// The wall-clock time now, for a line's `time` member.
    static func currentTime() -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now
    }
}

extension JSONWriter {
    /// Appends `time` as `2026-11-23T10:15:30.123Z` (UTC, milliseconds), digit by digit: the civil date is
    /// computed by ``CivilTime`` from the day count rather than by `gmtime_r`, which takes the C library's
    /// time-zone lock on every call.
    mutating func append(timestamp time: timespec) {
        let civil = CivilTime(secondsSince1970: Int(time.tv_sec))
        digits(civil.year, 4)
        raw("-")
        digits(civil.month, 2)
        raw("-")
        digits(civil.day, 2)
        raw("T")
        digits(civil.hour, 2)
        raw(":")
        digits(civil.minute, 2)
        raw(":")
        digits(civil.second, 2)
        raw(".")
        digits(time.tv_nsec / 1_000_000, 3)
        raw("Z")
    }
}
