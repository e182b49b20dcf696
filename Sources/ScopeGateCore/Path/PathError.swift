/// Why a request target was refused instead of matched. ScopeGate refuses what the upstream might read
/// differently rather than guess.
public enum PathError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case tooLong(length: Int, limit: Int)
    case tooManySegments(limit: Int)
    case notOriginForm
    case unsupportedScheme
    case controlCharacter
    case whitespace
    case backslash
    case semicolon
    case encodedSlash
    case encodedDelimiter
    case invalidEscape
    case invalidUTF8
    case emptySegment
    case aboveRoot

    public var description: String {
        switch self {
        case .empty: "the request target is empty"
        case .tooLong(let length, let limit): "the request target is \(length) bytes long; the limit is \(limit)"
        case .tooManySegments(let limit): "the path has more than \(limit) segments"
        case .notOriginForm: "the request target does not start with \"/\""
        case .unsupportedScheme: "an absolute request target must use http or https"
        case .controlCharacter: "the path contains a control character (raw or percent-encoded)"
        case .whitespace: "the path contains raw white space"
        case .backslash: "the path contains a backslash (raw or %5C)"
        case .semicolon: "the path contains \";\" (raw or %3B), which some servers read as a parameter separator"
        case .encodedSlash: "the path contains an encoded slash (%2F)"
        case .encodedDelimiter: "the path contains an encoded \"?\" or \"#\" (%3F, %23)"
        case .invalidEscape: "the path contains an invalid percent-escape"
        case .invalidUTF8: "the path does not decode to valid UTF-8"
        case .emptySegment: "the path contains an empty segment (\"//\")"
        case .aboveRoot: "the path climbs above the root with \"..\""
        }
    }
}
