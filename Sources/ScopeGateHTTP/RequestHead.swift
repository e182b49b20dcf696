internal import CMicroHTTPD
internal import CScopeGateShims
import Glibc

/// Why a request head cannot be read whole. libmicrohttpd 0.9.75 hands the method, the target and every
/// header value over as C strings: bytes after a NUL are silently dropped, and a folded (obs-fold) line is
/// merged into another field. ScopeGate refuses such a head (400) instead of deciding on what is left.
enum RequestHeadDefect: Equatable, Sendable, CustomStringConvertible {
    /// The method or target holds a NUL byte, or bytes libmicrohttpd did not account for.
    case requestLine
    /// A header field holds a NUL byte, or a line continues the one before it (obs-fold).
    case field
    /// A field name is not an RFC 9110 token (white space before the colon, say).
    case fieldName

    var description: String {
        switch self {
        case .requestLine: "the request line holds a NUL byte"
        case .field: "a header field holds a NUL byte or continues on a folded line"
        case .fieldName: "a header field name is not a token"
        }
    }
}

/// Reads a request's header fields out of libmicrohttpd and checks that they are the whole head.
///
/// libmicrohttpd parses the head in place in its read buffer: the request line first, then each field in
/// order, overwriting the separators (space, colon, CR, LF) with NULs and keeping pointers into the buffer.
/// So the head is whole exactly when those pointers account for every byte of it: the target follows the
/// method and one space; each field name follows the previous line's CRLF or LF; the value follows the
/// colon and optional white space; and the head ends, by libmicrohttpd's own count of its length, with the
/// last line's end and the blank line. A value cut at a NUL leaves bytes between its end and the next line
/// that nothing accounts for, and a folded line makes libmicrohttpd store a merged field elsewhere in its
/// memory: both are refused.
///
/// What this cannot tell apart is one NUL right before a bare LF from a CR before it (both are two NULs
/// once parsed): a value can lose one trailing NUL byte there, and nothing else.
enum RequestHead {
    /// The fields, the query's arguments as sent (percent-escapes intact; empty when there is no query),
    /// and the defect that makes the head unreadable, if any.
    static func read(
        connection: OpaquePointer, method: UnsafePointer<CChar>, target: UnsafePointer<CChar>,
        version: UnsafePointer<CChar>
    ) -> (HTTPHeaders, [(name: String, value: String)], RequestHeadDefect?) {
        var walk = unsafe Walk(end: UnsafeRawPointer(version) + strlen(version))
        let methodStart = unsafe UnsafeRawPointer(method)
        let targetStart = unsafe UnsafeRawPointer(target)
        guard unsafe targetStart == methodStart + strlen(method) + 1 else { return (walk.headers, [], .requestLine) }
        let targetEnd = unsafe targetStart + strlen(target)
        let afterTarget = unsafe targetEnd.distance(to: UnsafeRawPointer(version))
        // libmicrohttpd ends the target at the query's "?" and parses the query in place, so its first
        // argument starts right after: anything else between the target and the version was cut off.
        if unsafe afterTarget != 1 && !(afterTarget > 1 && firstQueryArgument(of: connection) == targetEnd + 1) {
            return (walk.headers, [], .requestLine)
        }
        let query = unsafe afterTarget > 1 ? queryArguments(of: connection) : []

        unsafe withUnsafeMutablePointer(to: &walk) { pointer in
            _ = unsafe MHD_get_connection_values_n(
                connection, .HEADER_KIND,
                { cls, _, key, keySize, value, valueSize in
                    guard let cls = unsafe cls else { return .NO }
                    let walk = unsafe cls.assumingMemoryBound(to: Walk.self)
                    guard let key = unsafe key, let value = unsafe value else {
                        unsafe walk.pointee.defect = .field
                        return .NO
                    }
                    if let defect = unsafe walk.pointee.add(
                        name: UnsafeRawPointer(key), count: keySize,
                        value: UnsafeRawPointer(value), count: valueSize)
                    {
                        unsafe walk.pointee.defect = defect
                        return .NO
                    }
                    return .YES
                }, UnsafeMutableRawPointer(pointer))
        }
        if walk.defect == nil {
            // The last line's CRLF or LF, then the blank line's.
            let size = unsafe CScopeGateShims_request_head_size(connection)
            let tail = unsafe size > 0 ? walk.end.distance(to: methodStart + size) : 0
            if unsafe !(2...4).contains(tail) || !isZero(walk.end, count: tail) { walk.defect = .field }
        }
        return (walk.headers, query, walk.defect)
    }

    /// The query's arguments in order, as sent: libmicrohttpd splits them, and ScopeGate's unescaper
    /// leaves their percent-escapes for the reader (an argument without `=` has an empty value).
    private static func queryArguments(of connection: OpaquePointer) -> [(name: String, value: String)] {
        var arguments: [(name: String, value: String)] = []
        unsafe withUnsafeMutablePointer(to: &arguments) { pointer in
            _ = unsafe MHD_get_connection_values_n(
                connection, .GET_ARGUMENT_KIND,
                { cls, _, key, keySize, value, valueSize in
                    guard let cls = unsafe cls, let key = unsafe key else { return .YES }
                    let list = unsafe cls.assumingMemoryBound(to: [(name: String, value: String)].self)
                    guard unsafe list.pointee.count < 64 else { return .NO }
                    let name = unsafe String(decoding: UnsafeRawBufferPointer(start: key, count: keySize), as: UTF8.self)
                    let text = unsafe value.map { unsafe String(decoding: UnsafeRawBufferPointer(start: $0, count: valueSize), as: UTF8.self) } ?? ""
                    unsafe list.pointee.append((name, text))
                    return .YES
                }, UnsafeMutableRawPointer(pointer))
        }
        return arguments
    }

    /// Where the first query argument's name starts, or nil when libmicrohttpd found none.
    private static func firstQueryArgument(of connection: OpaquePointer) -> UnsafeRawPointer? {
        var first: UnsafeRawPointer?
        unsafe withUnsafeMutablePointer(to: &first) { pointer in
            _ = unsafe MHD_get_connection_values_n(
                connection, .GET_ARGUMENT_KIND,
                { cls, _, key, _, _, _ in
                    unsafe cls?.assumingMemoryBound(to: UnsafeRawPointer?.self).pointee = unsafe key.map { unsafe UnsafeRawPointer($0) }
                    return .NO
                }, UnsafeMutableRawPointer(pointer))
        }
        return unsafe first
    }

    /// The fields collected so far and where the bytes accounted for end.
    @safe private struct Walk {
        var headers = HTTPHeaders(capacity: 1024, fields: 16)
        var end: UnsafeRawPointer
        var defect: RequestHeadDefect?

        init(end: UnsafeRawPointer) {
            unsafe self.end = unsafe end
        }

        mutating func add(
            name: UnsafeRawPointer, count nameCount: Int, value: UnsafeRawPointer,
            count valueCount: Int
        ) -> RequestHeadDefect? {
            // The line before ended right here with CRLF or LF (both overwritten with NULs).
            let terminator = unsafe end.distance(to: name)
            guard terminator == 1 || terminator == 2, unsafe isZero(end, count: terminator) else { return .field }
            let nameBytes = unsafe UnsafeRawBufferPointer(start: name, count: nameCount)
            guard nameCount > 0, unsafe nameBytes.allSatisfy(isTokenByte) else { return .fieldName }
            // The colon (now a NUL), then optional white space.
            let colon = unsafe name + nameCount
            let spacing = unsafe (colon + 1).distance(to: value)
            guard unsafe colon.load(as: UInt8.self) == 0, spacing >= 0,
                unsafe UnsafeRawBufferPointer(start: colon + 1, count: spacing).allSatisfy({ $0 == 0x20 || $0 == 0x09 })
            else { return .field }
            unsafe headers.append(name: nameBytes, value: UnsafeRawBufferPointer(start: value, count: valueCount))
            unsafe end = unsafe value + valueCount
            return nil
        }
    }

}

private func isZero(_ start: UnsafeRawPointer, count: Int) -> Bool {
    unsafe UnsafeRawBufferPointer(start: start, count: count).allSatisfy { $0 == 0 }
}

/// RFC 9110 tchar, by bitmap (bit n of the pair is byte n): field names are checked byte by byte on every
/// request, and constants need no lazily made global.
private func isTokenByte(_ byte: UInt8) -> Bool {
    let low: UInt64 = 0x3ff6cfa00000000
    let high: UInt64 = 0x57ffffffc7fffffe
    return byte < 64 ? low >> byte & 1 == 1 : byte < 128 && high >> (byte - 64) & 1 == 1
}
