/// Why a form body could not be read.
public enum FormError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidEscape
    case invalidUTF8
    case tooManyFields(limit: Int)
    case malformedMultipart(String)

    public var description: String {
        switch self {
        case .invalidEscape: "the form body contains an invalid percent-escape"
        case .invalidUTF8: "the form body is not valid UTF-8"
        case .tooManyFields(let limit): "the form body has more than \(limit) fields"
        case .malformedMultipart(let reason): "malformed multipart body: \(reason)"
        }
    }
}

/// Reads `application/x-www-form-urlencoded` and `multipart/form-data` bodies into fields, strictly: bad
/// escapes and invalid UTF-8 are errors, never replaced.
public enum FormParser {
    /// The most fields a form may carry.
    public static let maximumFields = 64

    /// The fields of a body, in order, duplicates kept. Other content types have no fields, as with
    /// FastAPI's form handling.
    public static func fields(body: [UInt8], contentType: String?) throws(FormError) -> [(name: String, value: String)] {
        guard let contentType else { return [] }
        let parameters = contentType.split(separator: ";").map { $0.trimmingASCIISpaces() }
        guard let mediaType = parameters.first?.lowercased() else { return [] }
        switch mediaType {
        case "application/x-www-form-urlencoded":
            return try urlEncoded(body)
        case "multipart/form-data":
            var boundary: String?
            for parameter in parameters.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingASCIISpaces().lowercased() == "boundary" {
                    var value = pair[1].trimmingASCIISpaces()
                    if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
                    boundary = value
                }
            }
            guard let boundary, (1...70).contains(boundary.utf8.count) else { throw .malformedMultipart("missing or invalid boundary") }
            return try multipart(body, boundary: Array(boundary.utf8))
        default:
            return []
        }
    }

    static func urlEncoded(_ body: [UInt8]) throws(FormError) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        for pair in body.split(separator: UInt8(ascii: "&")) {
            guard fields.count < maximumFields else { throw .tooManyFields(limit: maximumFields) }
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = try decode(parts[0])
            let value = parts.count > 1 ? try decode(parts[1]) : ""
            fields.append((name, value))
        }
        return fields
    }

    /// One form-urlencoded component decoded (`+` is a space, `%XX` a byte, the result UTF-8), as in a form
    /// body or the client id and secret of RFC 6749 §2.3.1's Basic credentials.
    public static func decodeComponent(_ encoded: String) throws(FormError) -> String {
        try decode(Array(encoded.utf8)[...])
    }

    private static func decode(_ encoded: ArraySlice<UInt8>) throws(FormError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encoded.count)
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let byte = encoded[index]
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
                index += 1
            } else if byte == UInt8(ascii: "%") {
                guard encoded.endIndex - index >= 3, let high = hexDigit(encoded[index + 1]), let low = hexDigit(encoded[index + 2]) else {
                    throw .invalidEscape
                }
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(byte)
                index += 1
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8 }
        return text
    }

    static func multipart(_ body: [UInt8], boundary: [UInt8]) throws(FormError) -> [(name: String, value: String)] {
        let crlf: [UInt8] = [0x0D, 0x0A]
        let delimiter = crlf + Array("--".utf8) + boundary
        let data = crlf + body
        guard var position = find(delimiter, in: data, from: 0) else { throw .malformedMultipart("no boundary found") }
        var fields: [(name: String, value: String)] = []
        while true {
            position += delimiter.count
            if data.count >= position + 2, data[position] == UInt8(ascii: "-"), data[position + 1] == UInt8(ascii: "-") {
                return fields
            }
            guard data.count >= position + 2, Array(data[position..<position + 2]) == crlf else {
                throw .malformedMultipart("boundary not followed by CRLF")
            }
            position += 2
            guard let headerEnd = find(crlf + crlf, in: data, from: position) else { throw .malformedMultipart("part headers do not end") }
            guard let next = find(delimiter, in: data, from: headerEnd + 4) else { throw .malformedMultipart("no closing boundary") }
            guard fields.count < maximumFields else { throw .tooManyFields(limit: maximumFields) }
            let headerLines = data[position..<headerEnd].split(separator: 0x0A).map { line in
                String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
            }
            var name: String?
            for line in headerLines {
                let pair = line.split(separator: ":", maxSplits: 1)
                guard pair.count == 2, pair[0].lowercased() == "content-disposition" else { continue }
                let items = pair[1].split(separator: ";").map { $0.trimmingASCIISpaces() }
                guard items.first?.lowercased() == "form-data" else { throw .malformedMultipart("part is not form-data") }
                for item in items.dropFirst() {
                    let kv = item.split(separator: "=", maxSplits: 1)
                    if kv.count == 2, kv[0].lowercased() == "name" {
                        var value = kv[1].trimmingASCIISpaces()
                        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
                        name = value
                    }
                }
            }
            guard let name else { throw .malformedMultipart("part has no form-data name") }
            guard let value = String(validating: data[(headerEnd + 4)..<next], as: UTF8.self) else { throw .invalidUTF8 }
            fields.append((name, value))
            position = next
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && haystack[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingASCIISpaces() -> String {
        // On the UTF-8 bytes: every request with a form body passes through here.
        let bytes = Array(utf8)
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
