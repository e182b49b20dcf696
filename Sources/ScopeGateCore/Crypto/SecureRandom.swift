internal import COpenSSL

/// Randomness from OpenSSL's CSPRNG (`RAND_bytes`).
public enum SecureRandom {
    /// Returns `count` cryptographically secure random bytes.
    public static func bytes(_ count: Int) throws(CryptoError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        let status = unsafe output.withUnsafeMutableBufferPointer { unsafe RAND_bytes($0.baseAddress, Int32(count)) }
        guard status == 1 else { throw CryptoError.fromErrorQueue("RAND_bytes") }
        return output
    }
}
