internal import COpenSSL

/// SHA-256 of `bytes` (RFC 7638 thumbprints, entity tags).
public func sha256(_ bytes: [UInt8]) -> [UInt8] {
    sha256(bytes[...])
}

/// SHA-256 of `bytes` (JWS signing inputs, which are slices of a token).
public func sha256(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    _ = unsafe bytes.withUnsafeBufferPointer { input in
        unsafe digest.withUnsafeMutableBufferPointer {
            unsafe EVP_Digest(input.baseAddress, input.count, $0.baseAddress, &length, SHA256Algorithm.shared.pointer, nil)
        }
    }
    return digest
}

/// OpenSSL's SHA-256 implementation, fetched from its provider once: `EVP_sha256()` names the algorithm
/// only, so each digest made with it looks the implementation up again, under a lock every thread shares.
@safe private final class SHA256Algorithm: @unchecked Sendable {
    // @unchecked: a fetched EVP_MD is immutable and may be used from any thread.
    static let shared = SHA256Algorithm()
    let pointer: OpaquePointer?

    private init() {
        // Should the fetch fail, the named algorithm still works, at the lookup's cost.
        unsafe pointer = unsafe EVP_MD_fetch(nil, "SHA256", nil) ?? EVP_sha256()
    }
}
