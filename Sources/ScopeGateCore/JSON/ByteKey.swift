#if canImport(Glibc)
import Glibc
#endif

/// Bytes as a dictionary key, hashed in one pass over contiguous memory (`[UInt8]`'s own hashing feeds the
/// hasher one byte at a time, which dominates lookups of long keys such as tokens).
///
/// A key may be a slice of a larger buffer, so a lookup needs no copy (a path segment inside the path); keys
/// that are stored should own their bytes, or the whole buffer stays alive with them.
public struct ByteKey: Hashable, Sendable {
    /// The bytes.
    public let bytes: ArraySlice<UInt8>

    /// Wraps bytes.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes[...]
    }

    /// Wraps a slice, sharing its buffer: for lookups.
    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    public func hash(into hasher: inout Hasher) {
        unsafe bytes.withUnsafeBytes { unsafe hasher.combine(bytes: $0) }
    }

    public static func == (lhs: ByteKey, rhs: ByteKey) -> Bool {
        // One memcmp rather than an element-by-element loop (keys are often 200-byte tokens).
        unsafe lhs.bytes.count == rhs.bytes.count
            && lhs.bytes.withUnsafeBytes { left in
                unsafe rhs.bytes.withUnsafeBytes { right in unsafe left.count == 0 || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
            }
    }
}
