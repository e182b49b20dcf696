import Testing
@testable import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP

/// Each proxy convention read on its own, and the rules they share, without a daemon.
@Suite struct ForwardedRequestParserTests {
    let parser = ForwardedRequestParser()

    func parse(
        _ fields: [(String, String)], path: String = "/auth", method: String = "GET"
    )
        -> Result<ForwardedRequestParser.Parsed, ForwardedRequestParser.Refusal>
    {
        parser.parse(HTTPRequest(method: method, path: Array(path.utf8), headers: HTTPHeaders(fields)))
    }

    func text(_ bytes: ArraySlice<UInt8>?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    @Test func nginxOriginalHeaders() throws {
        let parsed = try parse([("X-Original-URI", "/users/me/?a=1"), ("X-Original-Method", "POST")]).get()
        #expect(parsed.request.method == "POST")
        #expect(text(parsed.request.target) == "/users/me/?a=1")
        #expect(try parsed.request.path.get().description == "/users/me/")
        #expect(parsed.request.host == nil && parsed.request.scheme == nil)
        guard case .absent = parsed.credentials else { Issue.record("credentials \(parsed.credentials)"); return }
    }

    @Test func forwardedHeadersCarryHostAndScheme() throws {
        let parsed = try parse([
            ("X-Forwarded-Uri", "/a"), ("X-Forwarded-Method", "GET"), ("X-Forwarded-Host", "app.example"),
            ("X-Forwarded-Proto", "https"), ("Authorization", "bearer abc"),
        ]).get()
        #expect(text(parsed.request.host) == "app.example" && text(parsed.request.scheme) == "https")
        guard case .token(let token) = parsed.credentials else { Issue.record("credentials \(parsed.credentials)"); return }
        #expect(text(token) == "abc")
    }

    @Test func aRepeatedHostIsLeftUnknownRatherThanGuessed() throws {
        let parsed = try parse([
            ("X-Forwarded-Uri", "/a"), ("X-Forwarded-Method", "GET"), ("X-Forwarded-Host", "a.example"),
            ("X-Forwarded-Host", "b.example"),
        ]).get()
        #expect(parsed.request.host == nil)
    }

    @Test func envoyPathPrefixKeepsTheMethod() throws {
        let parsed = try parse([], path: "/auth/users/me/", method: "DELETE").get()
        #expect(parsed.request.method == "DELETE" && text(parsed.request.target) == "/users/me/")
    }

    static let refusalCases: [(fields: [(String, String)], path: String, reason: String)] = [
        ([("X-Original-URI", "/a"), ("X-Original-URI", "/a"), ("X-Original-Method", "GET")], "/auth", "header X-Original-URI appears more than once"),
        (
            [("X-Forwarded-Uri", "/a"), ("X-Forwarded-Method", "GET"), ("X-Forwarded-Method", "GET")], "/auth",
            "header X-Forwarded-Method appears more than once"
        ),
        ([("X-Original-URI", "/a"), ("X-Forwarded-Uri", "/b"), ("X-Original-Method", "GET")], "/auth", "the original URI headers disagree"),
        ([("X-Original-URI", "/a")], "/auth/b", "the original URI headers disagree"),
        ([("X-Original-URI", "/a"), ("X-Original-Method", "GET"), ("X-Forwarded-Method", "POST")], "/auth", "the original method headers disagree"),
        ([("X-Original-URI", "/a"), ("X-Original-Method", "POST")], "/auth/a", "the original method headers disagree"),
        ([("X-Original-Method", "GET")], "/auth", "missing original URI (X-Original-URI or X-Forwarded-Uri or X-Original-URL)"),
        ([("X-Original-URI", "/a")], "/auth", "missing original method (X-Original-Method or X-Forwarded-Method)"),
        ([("X-Original-URI", "/a"), ("X-Original-Method", "G T")], "/auth", "the original method is not an HTTP method token"),
        (
            [("X-Original-URI", "/a"), ("X-Original-Method", "GET"), ("Connection", "close, X-Original-URI")], "/auth",
            "the Connection header names x-original-uri"
        ),
    ]

    @Test(arguments: refusalCases)
    func refusals(fields: [(String, String)], path: String, reason: String) {
        switch parse(fields, path: path) {
        case .success(let parsed): Issue.record("accepted \(parsed.request.method) \(text(parsed.request.target) ?? "")")
        case .failure(let refusal): #expect(refusal.reason == reason)
        }
    }

    @Test func aConventionOfItsOwnIsOneRegistration() throws {
        struct OriginalURLConvention: ProxyConvention {
            var fields: ForwardedFields { ForwardedFields(method: "X-Test-Method", target: "X-Test-Target", host: "X-Test-Host") }
        }
        let extended = ForwardedRequestParser(conventions: ForwardedRequestParser.standardConventions + [OriginalURLConvention()])
        let request = HTTPRequest(
            method: "GET", path: Array("/auth".utf8),
            headers: HTTPHeaders([("X-Test-Target", "/x"), ("X-Test-Method", "PUT"), ("X-Test-Host", "h")]))
        let parsed = try extended.parse(request).get()
        #expect(parsed.request.method == "PUT" && text(parsed.request.host) == "h")
        // The shared rules apply to it: it must agree with the others.
        let conflicting = HTTPRequest(
            method: "GET", path: Array("/auth".utf8),
            headers: HTTPHeaders([("X-Test-Target", "/x"), ("X-Original-URI", "/y"), ("X-Test-Method", "PUT")]))
        #expect(throws: ForwardedRequestParser.Refusal.self) { try extended.parse(conflicting).get() }
    }
}
