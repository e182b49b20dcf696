import Foundation
import ScopeGateTesting
import Testing
@testable import ScopeGateCore

@Suite struct CanonicalPathTests {
    @Test(arguments: [
        ("/", "/"),
        ("/users/me/", "/users/me/"),
        ("/users/me", "/users/me"),
        ("/users/me/?x=1", "/users/me/"),
        ("/users/me#frag", "/users/me"),
        ("/a/./b", "/a/b"),
        ("/a/b/..", "/a/"),
        ("/a/b/../", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/a/%2e%2E/b", "/b"),
        ("/a/.%2e/b", "/b"),
        ("/a/%2E/b", "/a/b"),
        ("/public/../admin/x", "/admin/x"),
        ("/caf%C3%A9", "/café"),
        ("/a%20b", "/a b"),
        ("/%41dmin", "/Admin"),
        ("/...", "/..."),
        ("/a/..b", "/a/..b"),
        ("http://example.com/a/b?c", "/a/b"),
        ("HTTPS://example.com:8443/x/", "/x/"),
        ("http://example.com", "/"),
        ("http://example.com?x", "/"),
        ("/x?a=/../admin", "/x"),
    ])
    func canonicalizes(target: String, expected: String) throws {
        #expect(try CanonicalPath(target: target).description == expected)
    }

    @Test(arguments: [
        ("", PathError.empty),
        ("users/me", .notOriginForm),
        ("*", .notOriginForm),
        ("//evil.com/x", .emptySegment),
        ("/a//b", .emptySegment),
        ("/..", .aboveRoot),
        ("/a/../..", .aboveRoot),
        ("/%2e%2e/x", .aboveRoot),
        ("/a%2Fb", .encodedSlash),
        ("/a%2fb", .encodedSlash),
        ("/a%5Cb", .backslash),
        ("/a\\b", .backslash),
        ("/admin/..;/x", .semicolon),
        ("/admin;jsessionid=1/x", .semicolon),
        ("/a%3Bb", .semicolon),
        ("/a%00b", .controlCharacter),
        ("/a\u{0}b", .controlCharacter),
        ("/a\r\nb", .controlCharacter),
        ("/a%0d%0ab", .controlCharacter),
        ("/a%7F", .controlCharacter),
        ("/a%C2%85", .controlCharacter),
        ("/a b", .whitespace),
        ("/a%23b", .encodedDelimiter),
        ("/a%3Fb", .encodedDelimiter),
        ("/a%", .invalidEscape),
        ("/a%2", .invalidEscape),
        ("/a%zz", .invalidEscape),
        ("/%C0%AF", .invalidUTF8),
        ("/%C0%AE%C0%AE/x", .invalidUTF8),
        ("/%E0%80%AF", .invalidUTF8),
        ("/%ED%A0%80", .invalidUTF8),
        ("/%FF", .invalidUTF8),
        ("ftp://example.com/x", .unsupportedScheme),
        ("http://user@example.com/x", .notOriginForm),
        ("http:///x", .notOriginForm),
    ])
    func refuses(target: String, expected: PathError) {
        #expect(throws: expected) { try CanonicalPath(target: target) }
    }

    @Test func refusesRawNonUTF8Bytes() {
        #expect(throws: PathError.invalidUTF8) { try CanonicalPath(target: [0x2F, 0xC0, 0xAF]) }
    }

    @Test func boundsLengthAndSegmentCount() throws {
        #expect(throws: PathError.tooLong(length: 8193, limit: 8192)) { try CanonicalPath(target: "/" + String(repeating: "a", count: 8192)) }
        _ = try CanonicalPath(target: "/" + String(repeating: "a", count: 8191))
        let many = String(repeating: "/a", count: 257)
        #expect(throws: PathError.tooManySegments(limit: 256)) { try CanonicalPath(target: many) }
        #expect(try CanonicalPath(target: String(repeating: "/a", count: 256)).segments.count == 256)
    }

    @Test func keepsSegmentsAsDecodedBytes() throws {
        let path = try CanonicalPath(target: "/users/me/")
        #expect(path.segments == [Array("users".utf8), Array("me".utf8), []])
        // Canonically equivalent Unicode spellings stay distinct: matching is byte for byte.
        #expect(try CanonicalPath(target: "/caf%C3%A9") != CanonicalPath(target: "/cafe%CC%81"))
    }

    /// RFC 3986 §5.2.4 over a list of decoded segments: the specification the one-buffer canonicalizer and its
    /// copy-through fast path must both agree with.
    static func reference(_ target: String) -> Result<String, PathError> {
        let decoded = target.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map { raw in
            raw.replacingOccurrences(of: "%2e", with: ".").replacingOccurrences(of: "%2E", with: ".").replacingOccurrences(of: "%61", with: "a")
        }
        var output: [String] = []
        for (index, segment) in decoded.enumerated() {
            let isLast = index == decoded.count - 1
            if segment == "." {
                if isLast { output.append("") }
            } else if segment == ".." {
                guard !output.isEmpty else { return .failure(.aboveRoot) }
                output.removeLast()
                if isLast { output.append("") }
            } else if segment.isEmpty && !isLast {
                return .failure(.emptySegment)
            } else {
                output.append(segment)
            }
        }
        return .success("/" + (output.isEmpty ? [""] : output).joined(separator: "/"))
    }

    @Test func agreesWithTheSpecificationOnRandomPaths() {
        var generator = SeededRandom()
        let pieces = ["a", "b", "ab", ".", "..", "", "%2e", "%2E%2e", "%61", "a.", ".a"]
        for _ in 0..<5_000 {
            let target =
                "/"
                + (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                    pieces.randomElement(using: &generator)!
                }.joined(separator: "/")
            let actual = Result { () throws(PathError) -> String in try CanonicalPath(target: target).description }
            switch (actual, Self.reference(target)) {
            case (.success(let got), .success(let expected)): #expect(got == expected, "\(target)")
            case (.failure(let got), .failure(let expected)): #expect(got == expected, "\(target)")
            default: Issue.record("\(target): \(actual) but the specification says \(Self.reference(target))")
            }
        }
    }
}
