import Foundation
import ScopeGateTesting
@testable import ScopeGateCore

/// The secret FastAPI's tutorial publishes; ScopeGate's demo mode uses it too.
let seedSecret = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"
let seedHash = "$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW"
let aliceHash = "$2b$12$gSvqqUPvlXP2tfVFaWK1Be7DlH.PKZbv5H8KnzzVgXXbVxpva.pFm"

func seedKeyRing(id: String? = nil) throws -> KeyRing {
    try KeyRing(signingKey: HMACKey(secretFileContents: Array(seedSecret.utf8), id: id))
}

func hex(_ text: String) -> [UInt8] {
    stride(from: 0, to: text.count, by: 2).map { index in
        let start = text.index(text.startIndex, offsetBy: index)
        return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16)!
    }
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// A token with any header and claims, signed with `secret` (default: the seed's).
func makeToken(header: String = #"{"alg":"HS256","typ":"JWT"}"#, claims: String, secret: String = seedSecret) throws -> String {
    let key = try HMACKey(hs256Secret: Array(secret.utf8))
    return try TokenSigner(key: key).sign(header: Array(header.utf8), payload: Array(claims.utf8))
}

extension Bundle {
    static func fixture(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
            throw TestHTTPError(description: "missing fixture \(name)")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }
}
