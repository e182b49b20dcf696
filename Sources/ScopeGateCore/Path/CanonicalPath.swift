/// A request path in the one form the policy matcher accepts: query and fragment removed,
/// percent-decoded, dot segments resolved (RFC 3986 §5.2.4, also when written `%2e`), and guaranteed to
/// be free of everything two servers could read differently.
///
/// ```swift
/// let path = try CanonicalPath(target: "/users/%2E/me/?tab=1")
/// path.description   // "/users/me/"
/// ```
public struct CanonicalPath: Hashable, Sendable, CustomStringConvertible {
    /// The longest request target accepted, in bytes.
    public static let maximumLength = 8192
    /// The most segments a path may have.
    public static let maximumSegments = 256

    /// The decoded path: `/` followed by the segments joined with `/`. Decoding never yields a `/` inside a
    /// segment (`%2F` is refused), so the segments are exactly the parts between slashes.
    public let bytes: [UInt8]

    /// The decoded segments. Only the last may be empty: that is a trailing slash (`/` is `[""]`).
    public var segments: [[UInt8]] {
        bytes.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init)
    }

    /// The decoded path, `/` followed by the segments joined with `/`.
    public var description: String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Canonicalizes a raw request target: origin form (`/a/b?q`) or absolute form (`http://host/a/b`).
    public init(target: String) throws(PathError) {
        try self.init(target: Array(target.utf8)[...])
    }

    /// Canonicalizes a raw request target given as bytes.
    public init(target: [UInt8]) throws(PathError) {
        try self.init(target: target[...])
    }

    /// Canonicalizes a raw request target given as bytes, in one pass into one buffer.
    public init(target: ArraySlice<UInt8>) throws(PathError) {
        guard !target.isEmpty else { throw .empty }
        guard target.count <= Self.maximumLength else { throw .tooLong(length: target.count, limit: Self.maximumLength) }
        var path = try Self.pathPart(of: target)
        if let end = path.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            path = path[..<end]
        }
        guard path.first == UInt8(ascii: "/") else { throw .notOriginForm }
        let scan = unsafe try path.withUnsafeBufferPointer { bytes throws(PathError) in unsafe try Self.scan(bytes) }
        guard scan.slashes <= Self.maximumSegments else { throw .tooManySegments(limit: Self.maximumSegments) }
        if scan.isCanonical {
            // Nothing to decode, resolve or refuse (the usual case): the path is its own canonical form.
            bytes = Array(path)
            return
        }

        // RFC 3986 §5.2.4 over the output: each decoded segment is appended after a `/`, then a `.` or `..`
        // segment is taken back off (with the segment before it, for `..`).
        var output: [UInt8] = []
        output.reserveCapacity(path.count + 1)
        var segmentStart = path.startIndex + 1
        while true {
            let segmentEnd = path[segmentStart...].firstIndex(of: UInt8(ascii: "/")) ?? path.endIndex
            let isLast = segmentEnd == path.endIndex
            let mark = output.count
            output.append(UInt8(ascii: "/"))
            try Self.decode(path[segmentStart..<segmentEnd], into: &output)
            let length = output.count - mark - 1
            if length == 1 && output[mark + 1] == UInt8(ascii: ".") {
                output.removeSubrange(mark...)
                if isLast { output.append(UInt8(ascii: "/")) }
            } else if length == 2 && output[mark + 1] == UInt8(ascii: ".") && output[mark + 2] == UInt8(ascii: ".") {
                output.removeSubrange(mark...)
                guard let previous = output.lastIndex(of: UInt8(ascii: "/")) else { throw .aboveRoot }
                output.removeSubrange(previous...)
                if isLast { output.append(UInt8(ascii: "/")) }
            } else if length == 0 && !isLast {
                throw .emptySegment
            }
            if isLast { break }
            segmentStart = segmentEnd + 1
        }
        if output.isEmpty { output = [UInt8(ascii: "/")] }
        bytes = output
    }

    /// What one pass over a path's bytes finds: how many segments it has, and whether it is canonical as it
    /// stands (no escapes, bytes over 0x7F, dot segments or empty segments before the last).
    private static func scan(_ path: UnsafeBufferPointer<UInt8>) throws(PathError) -> (slashes: Int, isCanonical: Bool) {
        var slashes = 0
        var isCanonical = true
        var segmentStart = 1
        for index in 0..<path.count {
            let byte = unsafe path[index]
            switch byte {
            case 0x00..<0x20, 0x7F: throw .controlCharacter
            case UInt8(ascii: " "): throw .whitespace
            case UInt8(ascii: "\\"): throw .backslash
            case UInt8(ascii: ";"): throw .semicolon
            case UInt8(ascii: "%"), 0x80...: isCanonical = false
            case UInt8(ascii: "/"):
                slashes += 1
                if unsafe index > 0 && !isPlain(path, segmentStart..<index) { isCanonical = false }
                segmentStart = index + 1
            default: continue
            }
        }
        // The last segment may be empty (a trailing slash), but not a dot segment.
        if unsafe segmentStart < path.count && !isPlain(path, segmentStart..<path.count) { isCanonical = false }
        return (slashes, isCanonical)
    }

    /// Whether a segment before the last is non-empty and not `.` or `..`.
    private static func isPlain(_ path: UnsafeBufferPointer<UInt8>, _ segment: Range<Int>) -> Bool {
        switch segment.count {
        case 0: false
        case 1: unsafe path[segment.lowerBound] != UInt8(ascii: ".")
        case 2: unsafe path[segment.lowerBound] != UInt8(ascii: ".") || path[segment.lowerBound + 1] != UInt8(ascii: ".")
        default: true
        }
    }

    /// The path part of an origin-form or absolute-form target.
    private static func pathPart(of target: ArraySlice<UInt8>) throws(PathError) -> ArraySlice<UInt8> {
        if target.first == UInt8(ascii: "/") { return target }
        let lowered = target.prefix(8).map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
        let schemeLength: Int
        if lowered.starts(with: Array("http://".utf8)) {
            schemeLength = 7
        } else if lowered.starts(with: Array("https://".utf8)) {
            schemeLength = 8
        } else if let colon = target.firstIndex(of: UInt8(ascii: ":")), colon < (target.firstIndex(of: UInt8(ascii: "/")) ?? target.endIndex) {
            throw .unsupportedScheme
        } else {
            throw .notOriginForm
        }
        let rest = target[(target.startIndex + schemeLength)...]
        guard let pathStart = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) else {
            return [UInt8(ascii: "/")][...]
        }
        let authority = rest[..<pathStart]
        if authority.isEmpty || authority.contains(UInt8(ascii: "@")) || authority.contains(where: { $0 < 0x21 || $0 == 0x7F || $0 == UInt8(ascii: "\\") }) {
            throw .notOriginForm
        }
        if target[pathStart] != UInt8(ascii: "/") { return [UInt8(ascii: "/")][...] }
        return target[pathStart...]
    }

    /// Percent-decodes one segment onto `output` and refuses what must not appear in it.
    private static func decode(_ encoded: ArraySlice<UInt8>, into output: inout [UInt8]) throws(PathError) {
        let start = output.count
        var sawNonASCII = false
        var escaped = false
        for byte in encoded {
            if byte == UInt8(ascii: "%") { escaped = true; break }
            if byte >= 0x80 { sawNonASCII = true }
        }
        if !escaped {
            // Nothing to decode (the usual case): one copy.
            output.append(contentsOf: encoded)
            if sawNonASCII { try validateUTF8(output[start...]) }
            return
        }
        var index = encoded.startIndex
        while index < encoded.endIndex {
            var byte = encoded[index]
            if byte == UInt8(ascii: "%") {
                guard encoded.endIndex - index >= 3,
                    let high = hexValue(encoded[index + 1]), let low = hexValue(encoded[index + 2])
                else {
                    throw .invalidEscape
                }
                byte = high << 4 | low
                switch byte {
                case UInt8(ascii: "/"): throw .encodedSlash
                case UInt8(ascii: "\\"): throw .backslash
                case UInt8(ascii: "?"), UInt8(ascii: "#"): throw .encodedDelimiter
                case UInt8(ascii: ";"): throw .semicolon
                case 0x00..<0x20, 0x7F: throw .controlCharacter
                default: break
                }
                index += 3
            } else {
                index += 1
            }
            if byte >= 0x80 { sawNonASCII = true }
            output.append(byte)
        }
        if sawNonASCII { try validateUTF8(output[start...]) }
    }

    /// A decoded segment with bytes over 0x7F must be UTF-8 without control characters (C1 included).
    private static func validateUTF8(_ segment: ArraySlice<UInt8>) throws(PathError) {
        guard let text = String(validating: segment, as: UTF8.self) else { throw .invalidUTF8 }
        if text.unicodeScalars.contains(where: isControl) { throw .controlCharacter }
    }
}
