extension StringProtocol {
    /// The text without leading and trailing spaces, tabs, carriage returns and line feeds: the white space
    /// of HTTP field values (RFC 9110 §5.6.3) and of the ends of lines in ScopeGate's files.
    public func trimmingWhitespace() -> String {
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}

/// Bytes with leading and trailing ASCII white space removed.
func trimmingWhitespace(_ bytes: [UInt8]) -> [UInt8] {
    let isSpace: (UInt8) -> Bool = { $0 == 0x20 || (0x09...0x0D).contains($0) }
    guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
        return []
    }
    return Array(bytes[first...last])
}
