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
}
