/// What the check request's `Authorization` fields say, read strictly (RFC 6750 §2.1): `Bearer` in any
/// case, one space, then the token.
enum BearerCredentials: Sendable {
    /// No `Authorization` field, or one of another scheme or shape.
    case absent
    /// More than one `Authorization` field: which one counts would depend on the parser.
    case repeated
    /// A bearer token's bytes (a slice of the check request's buffer).
    case token(ArraySlice<UInt8>)

    /// The credentials of the first `Authorization` value, seen `count` times.
    init(first: ArraySlice<UInt8>?, count: Int) {
        guard let first else {
            self = .absent
            return
        }
        guard count == 1 else {
            self = .repeated
            return
        }
        self = Self.strictToken(first).map { .token($0) } ?? .absent
    }

    private static let bearerLetters: [UInt8] = Array("bearer".utf8)

    private static func strictToken(_ value: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let start = value.startIndex
        guard value.count > 7, value[start + 6] == UInt8(ascii: " ") else { return nil }
        // "bearer" in any case: setting the 0x20 bit lower-cases letters (and no other byte becomes a letter of it).
        for (offset, letter) in bearerLetters.enumerated() where value[start + offset] | 0x20 != letter { return nil }
        return value[(start + 7)...]
    }
}
