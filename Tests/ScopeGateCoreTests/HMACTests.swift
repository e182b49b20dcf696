import Testing
@testable import ScopeGateCore

@Suite struct HMACTests {
    static let longKey = [UInt8](repeating: 0xAA, count: 131)

    /// RFC 4231 §4, HMAC-SHA-256 results.
    @Test(arguments: [
        ([UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xAA, count: 20), [UInt8](repeating: 0xDD, count: 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (longKey, Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (
            longKey,
            Array(
                "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."
                    .utf8),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
    ])
    func rfc4231(key: [UInt8], data: [UInt8], expected: String) throws {
        let mac = try HMACSHA256(key: key)
        #expect(hexString(try mac.authenticationCode(for: data[...])) == expected)
    }

    @Test func keysShorterThan32BytesAreRefused() {
        #expect(throws: KeyError.tooShort(length: 31, minimum: 32)) {
            try HMACKey(hs256Secret: [UInt8](repeating: 1, count: 31))
        }
        let error = #expect(throws: KeyError.self) { try HMACKey(secretFileContents: Array("  short\n".utf8)) }
        #expect(error?.description.contains("openssl rand -hex 32 > secret") == true)
    }

    @Test func secretFileContentIsTrimmedAndUsedAsIs() throws {
        let fromFile = try HMACKey(secretFileContents: Array("\n  \(seedSecret)\r\n".utf8))
        let claims = Array(#"{"sub":"a","exp":4102444800}"#.utf8)
        let header = Array(#"{"alg":"HS256"}"#.utf8)
        #expect(
            try TokenSigner(key: fromFile).sign(header: header, payload: claims)
                == TokenSigner(key: HMACKey(hs256Secret: Array(seedSecret.utf8))).sign(header: header, payload: claims))
    }
}
