import Testing
@testable import ScopeGateHTTP

@Suite struct FormParserTests {
    func fields(_ body: String, _ type: String? = "application/x-www-form-urlencoded") throws -> [String] {
        try FormParser.fields(body: Array(body.utf8), contentType: type).map { "\($0.name)=\($0.value)" }
    }

    @Test func readsURLEncodedForms() throws {
        #expect(
            try fields("grant_type=password&username=johndoe&password=s%C3%A9cret+x&scope=me+items") == [
                "grant_type=password", "username=johndoe", "password=sécret x", "scope=me items",
            ])
        #expect(try fields("a=&b&&c=%3D", "Application/X-WWW-Form-Urlencoded; charset=utf-8") == ["a=", "b=", "c=="])
        #expect(try fields("username=a", "application/json") == [])
        #expect(try fields("username=a", nil) == [])
    }

    @Test func refusesBadEncoding() {
        #expect(throws: FormError.invalidEscape) { try fields("a=%zz") }
        #expect(throws: FormError.invalidEscape) { try fields("a=%4") }
        #expect(throws: FormError.invalidUTF8) { try fields("a=%C0%AF") }
        #expect(throws: FormError.tooManyFields(limit: 64)) { try fields(Array(repeating: "a=1", count: 65).joined(separator: "&")) }
    }

    @Test func readsMultipartForms() throws {
        let body =
            "--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\njohndoe\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\nContent-Type: text/plain\r\n\r\nse\r\ncret\r\n--XyZ--\r\n"
        #expect(try fields(body, "multipart/form-data; boundary=XyZ") == ["username=johndoe", "password=se\r\ncret"])
        #expect(try fields(body, "multipart/form-data; boundary=\"XyZ\"") == ["username=johndoe", "password=se\r\ncret"])
    }

    @Test(arguments: [
        ("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue", "no closing boundary"),
        ("--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XyZ--", "part has no form-data name"),
        ("--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--XyZ--", "part is not form-data"),
        ("garbage", "no boundary found"),
        ("--XyZ\r\nContent-Disposition: form-data; name=\"a\"", "part headers do not end"),
    ])
    func refusesMalformedMultipart(body: String, reason: String) {
        #expect(throws: FormError.malformedMultipart(reason)) { try fields(body, "multipart/form-data; boundary=XyZ") }
    }

    @Test func multipartNeedsABoundary() {
        #expect(throws: FormError.malformedMultipart("missing or invalid boundary")) { try fields("x", "multipart/form-data") }
    }
}
