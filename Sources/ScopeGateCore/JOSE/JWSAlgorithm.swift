/// A JWS algorithm name (RFC 7518 §3.1). A token's `alg` header never chooses one: each key pins its own,
/// and a token whose header names another is refused. Key types add their names in their own files.
public struct JWSAlgorithm: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The `alg` value, such as `HS256`.
    public let rawValue: String

    /// An algorithm by its `alg` name.
    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}
