/// Why a byte string is not acceptable JSON. Positions are byte offsets into the input.
public enum JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    case unexpectedEnd
    case unexpectedByte(UInt8, at: Int)
    case invalidNumber(at: Int)
    case invalidString(at: Int)
    case invalidUTF8(at: Int)
    case duplicateMember(String)
    case tooDeep(limit: Int)
    case trailingData(at: Int)

    public var description: String {
        switch self {
        case .unexpectedEnd: "unexpected end of JSON"
        case .unexpectedByte(let byte, let offset): "unexpected byte 0x\(String(byte, radix: 16)) at offset \(offset)"
        case .invalidNumber(let offset): "invalid number at offset \(offset)"
        case .invalidString(let offset): "invalid string escape or control character at offset \(offset)"
        case .invalidUTF8(let offset): "invalid UTF-8 at offset \(offset)"
        case .duplicateMember(let name): "duplicate member \"\(name.prefix(64))\""
        case .tooDeep(let limit): "JSON nested deeper than \(limit) levels"
        case .trailingData(let offset): "unexpected data after the JSON value at offset \(offset)"
        }
    }
}

/// A strict RFC 8259 parser: no comments, trailing commas, NaN, lone surrogates or duplicate members,
/// and a nesting limit so hostile input cannot exhaust the stack.
public struct JSONParser: Sendable {
    /// The deepest nesting of arrays and objects accepted.
    public var maximumDepth: Int

    /// Creates a parser that accepts at most `maximumDepth` levels of nesting.
    public init(maximumDepth: Int = 16) {
        self.maximumDepth = maximumDepth
    }

    /// Parses one JSON text, surrounded by optional white space.
    public func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        var reader = Reader(bytes: bytes, maximumDepth: maximumDepth)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        if reader.offset != bytes.count { throw .trailingData(at: reader.offset) }
        return value
    }
}

private struct Reader {
    let bytes: [UInt8]
    let maximumDepth: Int
    var offset = 0

    init(bytes: [UInt8], maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    func peek() throws(JSONError) -> UInt8 {
        guard offset < bytes.count else { throw .unexpectedEnd }
        return bytes[offset]
    }

    mutating func expect(_ literal: StaticString) throws(JSONError) {
        let count = literal.utf8CodeUnitCount
        guard offset + count <= bytes.count else { throw .unexpectedEnd }
        let start = unsafe literal.utf8Start
        for index in 0..<count where unsafe bytes[offset + index] != start[index] {
            throw .unexpectedByte(bytes[offset + index], at: offset + index)
        }
        offset += count
    }

    mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        let byte = try peek()
        switch byte {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw .unexpectedByte(byte, at: offset)
        }
    }

    mutating func object(depth: Int) throws(JSONError) -> JSONValue {
        if depth > maximumDepth { throw .tooDeep(limit: maximumDepth) }
        offset += 1
        // Room for a token's claims from the start, rather than four reallocations while they are read.
        var members: [String: JSONValue] = Dictionary(minimumCapacity: 8)
        skipWhitespace()
        if try peek() == UInt8(ascii: "}") {
            offset += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            let byte = try peek()
            guard byte == UInt8(ascii: "\"") else { throw .unexpectedByte(byte, at: offset) }
            let name = try string()
            skipWhitespace()
            let colon = try peek()
            guard colon == UInt8(ascii: ":") else { throw .unexpectedByte(colon, at: offset) }
            offset += 1
            skipWhitespace()
            let member = try value(depth: depth)
            if members.updateValue(member, forKey: name) != nil { throw .duplicateMember(name) }
            skipWhitespace()
            let separator = try peek()
            offset += 1
            if separator == UInt8(ascii: "}") { return .object(members) }
            guard separator == UInt8(ascii: ",") else { throw .unexpectedByte(separator, at: offset - 1) }
        }
    }

    mutating func array(depth: Int) throws(JSONError) -> JSONValue {
        if depth > maximumDepth { throw .tooDeep(limit: maximumDepth) }
        offset += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            offset += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth))
            skipWhitespace()
            let separator = try peek()
            offset += 1
            if separator == UInt8(ascii: "]") { return .array(elements) }
            guard separator == UInt8(ascii: ",") else { throw .unexpectedByte(separator, at: offset - 1) }
        }
    }

    mutating func number() throws(JSONError) -> Double {
        let start = offset
        if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        guard offset < bytes.count else { throw .invalidNumber(at: start) }
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
        } else if isDigit(bytes[offset]) {
            while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
        } else {
            throw .invalidNumber(at: start)
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            let digits = offset
            while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            if offset == digits { throw .invalidNumber(at: start) }
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
            offset += 1
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") {
                offset += 1
            }
            let digits = offset
            while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            if offset == digits { throw .invalidNumber(at: start) }
        }
        let text = String(decoding: bytes[start..<offset], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw .invalidNumber(at: start) }
        return value
    }

    mutating func string() throws(JSONError) -> String {
        offset += 1
        // Most strings (every claim name, most values) have no escape: one validated copy of their bytes.
        let start = offset
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                let text = try run(start..<offset)
                offset += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw .invalidString(at: offset) }
            offset += 1
        }
        var text = try run(start..<offset)
        var runStart = offset
        while true {
            guard offset < bytes.count else { throw .unexpectedEnd }
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                text += try run(runStart..<offset)
                offset += 1
                return text
            }
            if byte < 0x20 { throw .invalidString(at: offset) }
            if byte == UInt8(ascii: "\\") {
                text += try run(runStart..<offset)
                text.unicodeScalars.append(try escape())
                runStart = offset
                continue
            }
            offset += 1
        }
    }

    /// The bytes in `range` as a string; they must be valid UTF-8 on their own.
    func run(_ range: Range<Int>) throws(JSONError) -> String {
        guard !range.isEmpty else { return "" }
        guard let run = String(validating: bytes[range], as: UTF8.self) else { throw .invalidUTF8(at: range.lowerBound) }
        return run
    }

    mutating func escape() throws(JSONError) -> Unicode.Scalar {
        let start = offset
        offset += 1
        guard offset < bytes.count else { throw .unexpectedEnd }
        let byte = bytes[offset]
        offset += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let high = try hexQuad(start: start)
            if (0xD800...0xDBFF).contains(high) {
                guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                    throw .invalidString(at: start)
                }
                offset += 2
                let low = try hexQuad(start: start)
                guard (0xDC00...0xDFFF).contains(low) else { throw .invalidString(at: start) }
                let combined = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                guard let scalar = Unicode.Scalar(combined) else { throw .invalidString(at: start) }
                return scalar
            }
            guard let scalar = Unicode.Scalar(high) else { throw .invalidString(at: start) }
            return scalar
        default:
            throw .invalidString(at: start)
        }
    }

    mutating func hexQuad(start: Int) throws(JSONError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw .unexpectedEnd }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexValue(bytes[offset]) else { throw .invalidString(at: start) }
            value = value << 4 | UInt32(digit)
            offset += 1
        }
        return value
    }
}

@inline(__always) private func isDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
}
