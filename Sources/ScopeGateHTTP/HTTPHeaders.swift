/// Request header fields in the order received, duplicates kept, names compared case-insensitively.
/// Values are the raw bytes the client sent: a proxy-forwarded URI is canonicalized from exactly those.
public struct HTTPHeaders: Sendable, Sequence {
    /// One field.
    public struct Field: Sendable {
        /// The name, lower-cased.
        public let name: String
        /// The value's bytes as received (optional white space around it removed by the parser).
        public let value: [UInt8]
    }

    private var fields: [Field] = []

    /// Creates headers from (name, value) pairs.
    public init(_ pairs: [(String, String)] = []) {
        for (name, value) in pairs { append(name: name, value: Array(value.utf8)) }
    }

    /// Adds a field.
    public mutating func append(name: String, value: [UInt8]) {
        fields.append(Field(name: name.lowercased(), value: value))
    }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// Every value of `name`, raw.
    public func rawValues(_ name: String) -> [[UInt8]] {
        var values: [[UInt8]] = []
        for field in fields where Self.matches(field.name, name) { values.append(field.value) }
        return values
    }

    /// The first value of `name` as text, or `nil` when absent or not valid UTF-8.
    public subscript(name: String) -> String? {
        guard let field = fields.first(where: { Self.matches($0.name, name) }) else { return nil }
        return String(validating: field.value, as: UTF8.self)
    }

    /// Whether a stored (lower-case) name equals `name` in any ASCII case, without allocating.
    private static func matches(_ stored: String, _ name: String) -> Bool {
        stored.utf8.count == name.utf8.count
            && stored.utf8.elementsEqual(name.utf8) { $0 == (($1 >= 0x41 && $1 <= 0x5A) ? $1 | 0x20 : $1) }
    }
}
