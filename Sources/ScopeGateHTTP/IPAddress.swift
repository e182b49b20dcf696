import FoundationEssentials

/// An IPv4 or IPv6 address (IPv4-mapped IPv6 addresses are stored as IPv4), held as one 128-bit number so
/// that taking a connection's address and testing it against networks allocates nothing.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address as a number, network byte order read big-endian (IPv4 in the low 32 bits).
    private let value: UInt128
    /// Whether this is an IPv4 address.
    public let isIPv4: Bool

    /// An IPv4 address as its 32-bit number (`a.b.c.d` is `a << 24 | b << 16 | c << 8 | d`); nil for IPv6.
    public var ipv4Number: UInt32? { isIPv4 ? UInt32(truncatingIfNeeded: value) : nil }

    /// 4 or 16 bytes, network order.
    public var bytes: [UInt8] {
        let count = isIPv4 ? 4 : 16
        return (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * (count - 1 - $0))) }
    }

    /// Creates an address from 4 or 16 bytes; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes IPv4.
    public init?<Bytes: Collection<UInt8>>(bytes: Bytes) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        var value: UInt128 = 0
        for byte in bytes { value = value << 8 | UInt128(byte) }
        if bytes.count == 16 && value >> 32 == 0xFFFF {
            self.value = value & 0xFFFF_FFFF
            isIPv4 = true
        } else {
            self.value = value
            isIPv4 = bytes.count == 4
        }
    }

    /// Parses dotted IPv4 or RFC 4291 IPv6 text.
    public init?(_ text: String) {
        if text.contains(":") {
            guard let bytes = Self.parseIPv6(text) else { return nil }
            self.init(bytes: bytes)
        } else {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var bytes: [UInt8] = []
            for part in parts {
                guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), let value = UInt8(part),
                    part.count == 1 || part.first != "0"
                else { return nil }
                bytes.append(value)
            }
            self.init(bytes: bytes)
        }
    }

    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        let groups = stride(from: 112, through: 0, by: -16).map { String(UInt16(truncatingIfNeeded: value >> $0), radix: 16) }
        return groups.joined(separator: ":")
    }

    /// Whether the first `length` bits of this address and `other` agree (both of one family).
    func sharesPrefix(_ length: Int, with other: IPAddress) -> Bool {
        guard isIPv4 == other.isIPv4 else { return false }
        let bits = isIPv4 ? 32 : 128
        guard length > 0 else { return true }
        return (value ^ other.value) >> (bits - min(length, bits)) == 0
    }

    private static func parseIPv6(_ text: String) -> [UInt8]? {
        let halves: [String]
        let parts = text.split(separator: "::", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2 {
            halves = parts
            if halves[1].contains("::") { return nil }
        } else {
            halves = [text]
        }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains("."), let v4 = IPAddress(String(piece)), v4.isIPv4 {
                    result.append(UInt16(v4.bytes[0]) << 8 | UInt16(v4.bytes[1]))
                    result.append(UInt16(v4.bytes[2]) << 8 | UInt16(v4.bytes[3]))
                    continue
                }
                guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                result.append(value)
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}

/// A network in CIDR notation (`127.0.0.0/8`, `::1/128`); a bare address is a /32 or /128.
public struct CIDRRange: Hashable, Sendable, CustomStringConvertible {
    /// The network address.
    public let network: IPAddress
    /// The prefix length in bits.
    public let prefixLength: Int

    /// Parses `address/prefix` or a bare address.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPAddress(String(parts[0])) else { return nil }
        let bits = address.isIPv4 ? 32 : 128
        var length = bits
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...bits).contains(value), parts[1].allSatisfy(\.isASCII) else { return nil }
            length = value
        }
        network = address
        prefixLength = length
    }

    /// Whether `address` is inside this network.
    public func contains(_ address: IPAddress) -> Bool {
        address.sharesPrefix(prefixLength, with: network)
    }

    public var description: String { "\(network)/\(prefixLength)" }
}
