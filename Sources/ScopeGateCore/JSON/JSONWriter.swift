public import FoundationEssentials

/// Writes compact JSON the way Python's `json.dumps(..., separators=(",", ":"))` does, so that ScopeGate's
/// bodies match FastAPI's byte for byte and its tokens match PyJWT's.
public struct JSONWriter: Sendable {
    /// Escape every non-ASCII character as `\uXXXX` (PyJWT's token payloads), or keep it as UTF-8
    /// (FastAPI's response bodies).
    public var escapesNonASCII: Bool
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// Creates an empty writer.
    public init(escapesNonASCII: Bool = false) {
        self.escapesNonASCII = escapesNonASCII
        bytes.reserveCapacity(256)
    }

    /// Appends raw JSON punctuation or a literal that needs no escaping.
    public mutating func raw(_ text: StaticString) {
        unsafe bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends a quoted, escaped string.
    public mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escape at all: their UTF-8 is copied in one go.
        var value = value
        let escapesNonASCII = escapesNonASCII
        let copied = value.withUTF8 { utf8 in
            let plain = unsafe utf8.allSatisfy { byte in
                byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && (!escapesNonASCII || byte <= 0x7E)
            }
            if plain { unsafe bytes.append(contentsOf: utf8) }
            return plain
        }
        if copied {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": raw("\\\"")
            case "\\": raw("\\\\")
            case "\n": raw("\\n")
            case "\r": raw("\\r")
            case "\t": raw("\\t")
            case "\u{08}": raw("\\b")
            case "\u{0C}": raw("\\f")
            default:
                if scalar.value < 0x20 || (escapesNonASCII && scalar.value > 0x7E) {
                    if scalar.value > 0xFFFF {
                        let reduced = scalar.value - 0x10000
                        unicodeEscape(UInt16(0xD800 + (reduced >> 10)))
                        unicodeEscape(UInt16(0xDC00 + (reduced & 0x3FF)))
                    } else {
                        unicodeEscape(UInt16(scalar.value))
                    }
                } else {
                    bytes.append(contentsOf: String(scalar).utf8)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends a string, or `null` when there is none.
    public mutating func string(orNull value: String?) {
        if let value { string(value) } else { raw("null") }
    }

    /// Appends bytes that need no escaping, as they are (the caller has checked them).
    public mutating func append(bytes: ArraySlice<UInt8>) {
        self.bytes.append(contentsOf: bytes)
    }

    /// Appends a non-negative integer in decimal, with leading zeros to at least `width` digits.
    public mutating func digits(_ value: Int, _ width: Int) {
        var remaining = max(0, value)
        var count = 1
        var scale = 1
        while remaining / scale >= 10 { scale *= 10; count += 1 }
        for _ in count..<max(count, width) { bytes.append(UInt8(ascii: "0")) }
        while scale > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(remaining / scale))
            remaining %= scale
            scale /= 10
        }
    }

    /// Appends an integer.
    public mutating func integer(_ value: Int64) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Appends a NumericDate (RFC 7519 §2): whole seconds since 1970, rounded down.
    public mutating func numericDate(_ date: Date) {
        integer(Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    /// Appends a boolean.
    public mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    /// Appends `"name":`, the start of an object member.
    public mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Appends `[` the strings separated by `,` `]`.
    public mutating func stringArray(_ values: [String]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Appends a value; object members in sorted order, so the output is stable. Numbers with no fraction
    /// are written as integers.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let flag): bool(flag)
        case .number(let number):
            if number.rounded() == number, abs(number) < 1e15 {
                integer(Int64(number))
            } else {
                bytes.append(contentsOf: "\(number)".utf8)
            }
        case .string(let text): string(text)
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                self.value(item)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (index, name) in members.keys.sorted().enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                key(name)
                self.value(members[name]!)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private mutating func unicodeEscape(_ unit: UInt16) {
        let digits = Array("0123456789abcdef".utf8)
        raw("\\u")
        for shift in stride(from: 12, through: 0, by: -4) {
            bytes.append(digits[Int((unit >> UInt16(shift)) & 0xF)])
        }
    }
}
