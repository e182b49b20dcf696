import Foundation
import ScopeGateCore

/// The JWT verifier on arbitrary bytes: it must throw or return, never crash, and never accept a token
/// whose signature it did not compute.
private let verifier: TokenVerifier = {
    let key = try! HMACKey(hs256Secret: Array("fuzzing-secret-fuzzing-secret-0123456789".utf8))
    return TokenVerifier(keyring: try! KeyRing(signingKey: key))
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzToken(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? verifier.verify(bytes: bytes, now: Date(timeIntervalSince1970: 1_800_000_000))
    _ = try? JSONParser().parse(bytes)
    _ = Base64URL.decode(bytes)
    return 0
}
