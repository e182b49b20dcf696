internal import COpenSSL

/// Compares two byte strings in time that depends only on their length (`CRYPTO_memcmp`).
public func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    if lhs.isEmpty { return true }
    return unsafe lhs.withUnsafeBytes { left in
        unsafe rhs.withUnsafeBytes { right in unsafe CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0 }
    }
}
