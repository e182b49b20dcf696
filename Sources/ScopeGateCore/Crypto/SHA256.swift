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
        unsafe digest.withUnsafeMutableBufferPointer { unsafe EVP_Digest(input.baseAddress, input.count, $0.baseAddress, &length, EVP_sha256(), nil) }
    }
    return digest
}
