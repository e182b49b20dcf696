/// A route pattern from a policy file: `/users/{id}/items/*`, `/public/**`.
///
/// Segments are literal (matched byte for byte against the decoded path, case and trailing slash
/// significant), `*` or `{name}` (exactly one non-empty segment; `{name}` captures it), or `**` as the last
/// segment (zero or more trailing segments).
public struct PathPattern: Hashable, Sendable, CustomStringConvertible {
    /// One segment of a pattern.
    public enum Segment: Hashable, Sendable {
        case literal([UInt8])
        case wildcard(name: String?)
        case globstar
    }

    /// The segments, in order.
    public let segments: [Segment]
    /// The pattern as written.
    public let description: String
    /// Whether a `{name}` segment captures something (most patterns have none, and matching then skips it).
    private let capturesParameters: Bool

    /// Parses a pattern as written in a policy file.
    public init(_ text: String) throws(PatternError) {
        guard text.hasPrefix("/") else { throw .noLeadingSlash }
        let parts = text.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        var segments: [Segment] = []
        var names = Set<String>()
        for (index, part) in parts.enumerated() {
            let isLast = index == parts.count - 1
            let segment = String(decoding: part, as: UTF8.self)
            switch segment {
            case "**":
                guard isLast else { throw .globstarNotLast }
                segments.append(.globstar)
            case "*":
                segments.append(.wildcard(name: nil))
            case "":
                guard isLast else { throw .emptySegment }
                segments.append(.literal([]))
            case ".", "..":
                throw .dotSegment
            default:
                if segment.hasPrefix("{") && segment.hasSuffix("}") && segment.count > 2 {
                    let name = String(segment.dropFirst().dropLast())
                    guard isIdentifier(name) else { throw .invalidParameterName(name) }
                    guard names.insert(name).inserted else { throw .duplicateParameterName(name) }
                    segments.append(.wildcard(name: name))
                    continue
                }
                if let bad = segment.unicodeScalars.first(where: { "*{}%?#;\\".unicodeScalars.contains($0) || isControl($0) || $0 == " " }) {
                    throw .invalidCharacter(bad == " " ? "space" : isControl(bad) ? "control character" : String(bad))
                }
                segments.append(.literal(Array(part)))
            }
        }
        self.segments = segments
        self.description = text
        self.capturesParameters = !names.isEmpty
    }

    /// The values of the `{name}` segments in a path this pattern matches.
    func parameters(in path: CanonicalPath) -> [String: String] {
        guard capturesParameters else { return [:] }
        let values = path.segments
        var parameters: [String: String] = [:]
        for (index, segment) in segments.enumerated() {
            if case .wildcard(let name?) = segment, index < values.count {
                parameters[name] = String(decoding: values[index], as: UTF8.self)
            }
        }
        return parameters
    }
}

/// Why a route pattern is not valid.
public enum PatternError: Error, Equatable, Sendable, CustomStringConvertible {
    case noLeadingSlash
    case globstarNotLast
    case emptySegment
    case dotSegment
    case invalidParameterName(String)
    case duplicateParameterName(String)
    case invalidCharacter(String)

    public var description: String {
        switch self {
        case .noLeadingSlash: "a path pattern must start with \"/\""
        case .globstarNotLast: "\"**\" may only be the last segment"
        case .emptySegment: "empty segment (\"//\"); only a trailing slash may end a pattern"
        case .dotSegment: "\".\" and \"..\" segments never match a canonical path"
        case .invalidParameterName(let name): "parameter name \"\(name)\" must be letters, digits and \"_\", not starting with a digit"
        case .duplicateParameterName(let name): "parameter \"{\(name)}\" appears twice"
        case .invalidCharacter(let character):
            "\(character == "space" || character == "control character" ? "a \(character)" : "\"\(character)\"") may not appear in a literal segment; "
                + "write segments decoded, and use a whole segment for \"*\", \"**\" or \"{name}\""
        }
    }
}

private func isIdentifier(_ name: String) -> Bool {
    guard let first = name.utf8.first, !(0x30...0x39).contains(first) else { return false }
    return name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
}
