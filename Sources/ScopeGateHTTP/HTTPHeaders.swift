/// Request header fields in the order received, duplicates kept, names compared case-insensitively.
/// Values are the raw bytes the client sent: a proxy-forwarded URI is canonicalized from exactly those.
///
/// All fields live in one byte buffer (names lower-cased), so collecting a request's headers costs two
/// allocations however many fields it has.
public struct HTTPHeaders: Sendable, Sequence {
    /// One field.
    public struct Field: Sendable {
        /// The name, lower-cased.
        public let name: String
        /// The value's bytes as received (optional white space around it removed by the parser).
        public let value: [UInt8]
    }

    private struct Span: Sendable {
        let nameStart: Int32
        let valueStart: Int32
        let valueEnd: Int32
    }

    private var bytes: [UInt8] = []
    private var spans: [Span] = []
    /// Whether a `Content-Length` or `Transfer-Encoding` field is present: most requests have neither, and
    /// the server then skips looking for them.
    public private(set) var hasFramingFields = false

    /// Creates headers from (name, value) pairs.
    public init(_ pairs: [(String, String)] = []) {
        for (name, value) in pairs { append(name: name, value: Array(value.utf8)) }
    }

    /// Room for `bytes` of names and values in `fields` fields without growing.
    public init(capacity bytes: Int, fields: Int) {
        self.bytes.reserveCapacity(bytes)
        self.spans.reserveCapacity(fields)
    }

    /// Adds a field.
    public mutating func append(name: String, value: [UInt8]) {
        var name = name
        name.withUTF8 { nameBytes in
            unsafe value.withUnsafeBytes { unsafe append(name: UnsafeRawBufferPointer(nameBytes), value: $0) }
        }
    }

    /// Adds a field from raw bytes (a name of at most 64 KiB, as every head is far smaller).
    public mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let nameStart = Int32(truncatingIfNeeded: bytes.count)
        unsafe bytes.append(contentsOf: name.assumingMemoryBound(to: UInt8.self))
        let framing = unsafe bytes.withUnsafeMutableBufferPointer { stored in
            let lowered = unsafe UnsafeMutableBufferPointer(rebasing: stored[Int(nameStart)...])
            for index in lowered.indices {
                let byte = unsafe lowered[index]
                unsafe lowered[index] = byte | (byte &- 0x41 < 26 ? 0x20 : 0)  // A-Z to a-z, without a branch
            }
            return unsafe Self.isFramingName(UnsafeBufferPointer(lowered))
        }
        if framing { hasFramingFields = true }
        let valueStart = Int32(truncatingIfNeeded: bytes.count)
        unsafe bytes.append(contentsOf: value.assumingMemoryBound(to: UInt8.self))
        spans.append(Span(nameStart: nameStart, valueStart: valueStart, valueEnd: Int32(truncatingIfNeeded: bytes.count)))
    }

    private static let contentLength = Array("content-length".utf8)
    private static let transferEncoding = Array("transfer-encoding".utf8)

    private static func isFramingName(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        switch unsafe (name.count, name.first) {
        case (14, UInt8(ascii: "c")): unsafe name.elementsEqual(contentLength)
        case (17, UInt8(ascii: "t")): unsafe name.elementsEqual(transferEncoding)
        default: false
        }
    }

    public func makeIterator() -> IndexingIterator<[Field]> {
        spans.map { span in
            Field(
                name: String(decoding: bytes[Int(span.nameStart)..<Int(span.valueStart)], as: UTF8.self),
                value: Array(bytes[Int(span.valueStart)..<Int(span.valueEnd)]))
        }.makeIterator()
    }

    /// Calls `body` with each field's lower-cased name and raw value, in order, without copying either.
    public func forEachField(_ body: (_ name: ArraySlice<UInt8>, _ value: ArraySlice<UInt8>) -> Void) {
        for span in spans {
            body(bytes[Int(span.nameStart)..<Int(span.valueStart)], bytes[Int(span.valueStart)..<Int(span.valueEnd)])
        }
    }

    /// Every value of `name`, raw.
    public func rawValues(_ name: String) -> [[UInt8]] {
        var values: [[UInt8]] = []
        var name = name
        name.withUTF8 { wanted in
            for span in spans where unsafe matches(span, wanted) {
                values.append(Array(bytes[Int(span.valueStart)..<Int(span.valueEnd)]))
            }
        }
        return values
    }

    /// The first value of `name` as text, or `nil` when absent or not valid UTF-8.
    public subscript(name: String) -> String? {
        var name = name
        return name.withUTF8 { wanted in
            guard let span = spans.first(where: { unsafe matches($0, wanted) }) else { return nil }
            return String(validating: bytes[Int(span.valueStart)..<Int(span.valueEnd)], as: UTF8.self)
        }
    }

    /// Whether a stored (lower-case) name equals `wanted` in any ASCII case.
    private func matches(_ span: Span, _ wanted: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = Int(span.nameStart)
        guard Int(span.valueStart) - start == wanted.count else { return false }
        return unsafe bytes.withUnsafeBufferPointer { stored in
            for index in 0..<wanted.count {
                let byte = unsafe wanted[index]
                if unsafe stored[start + index] != (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) { return false }
            }
            return true
        }
    }
}
