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
        let lowered = name.lowercased()
        return fields.filter { $0.name == lowered }.map(\.value)
    }

    /// How many times `name` appears.
    public func count(_ name: String) -> Int {
        let lowered = name.lowercased()
        return fields.reduce(0) { $0 + ($1.name == lowered ? 1 : 0) }
    }

    /// The first value of `name` as text, or `nil` when absent or not valid UTF-8.
    public subscript(name: String) -> String? {
        let lowered = name.lowercased()
        guard let field = fields.first(where: { $0.name == lowered }) else { return nil }
        return String(validating: field.value, as: UTF8.self)
    }
}
