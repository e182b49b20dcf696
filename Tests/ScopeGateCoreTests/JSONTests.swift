import Testing
@testable import ScopeGateCore

@Suite struct JSONTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser().parse(Array(text.utf8)) }

    @Test func parsesEveryKind() throws {
        let value = try parse(#" {"a":[1,-2.5e3,true,false,null],"b":"x\"\u00e9\ud83d\ude00\n"} "#)
        #expect(value["a"] == .array([.number(1), .number(-2500), .bool(true), .bool(false), .null]))
        #expect(value["b"] == .string("x\"é😀\n"))
    }

    @Test(arguments: [
        #"{"a":1,"a":2}"#, "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "NaN", "Infinity", "1e999", #""\ud800""#,
        #""\udc00\ud800""#, "\"a\u{01}\"", #""\x""#, "[1] 2", "tru", "'a'", "{a:1}", "", "\"abc", #""a\n"#, #""a\nb"#,
        "\"a\\n\u{01}\"",
    ])
    func refusesInvalidJSON(text: String) {
        #expect(throws: JSONError.self) { try parse(text) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONError.invalidUTF8(at: 1)) { try JSONParser().parse([0x22, 0xC0, 0xAF, 0x22]) }
        // After an escape, the rest of the string is checked the same way.
        #expect(throws: JSONError.invalidUTF8(at: 3)) { try JSONParser().parse([0x22, 0x5C, 0x6E, 0xC0, 0xAF, 0x22]) }
    }

    @Test func stringsWithAndWithoutEscapesReadTheSame() throws {
        #expect(try parse(#""plain é 😀""#) == .string("plain é 😀"))
        #expect(try parse(#""\"lead""#) == .string("\"lead"))
        #expect(try parse(#""mid\\dle é""#) == .string("mid\\dle é"))
        #expect(try parse(#""trail\u0041""#) == .string("trailA"))
        #expect(try parse(#""""#) == .string(""))
    }

    @Test func limitsNesting() throws {
        let deep = String(repeating: "[", count: 17) + String(repeating: "]", count: 17)
        #expect(throws: JSONError.tooDeep(limit: 16)) { try parse(deep) }
        let fine = String(repeating: "[", count: 16) + String(repeating: "]", count: 16)
        _ = try parse(fine)
        let hostile = String(repeating: "{\"a\":", count: 100_000)
        #expect(throws: JSONError.tooDeep(limit: 16)) { try parse(hostile) }
    }

    @Test func writesLikePythonsJSONDumps() {
        var body = JSONWriter()
        body.raw("{"); body.key("detail"); body.string("é \"q\" \\ \n\u{01}\u{7F}"); body.raw("}")
        #expect(String(decoding: body.bytes, as: UTF8.self) == "{\"detail\":\"é \\\"q\\\" \\\\ \\n\\u0001\u{7F}\"}")
        var ascii = JSONWriter(escapesNonASCII: true)
        ascii.string("é😀\u{7F}")
        #expect(String(decoding: ascii.bytes, as: UTF8.self) == #""\u00e9\ud83d\ude00\u007f""#)
    }
}
