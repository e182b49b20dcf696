import Glibc

/// The original request's host as rules match it: one spelling per host, whichever proxy described it.
///
/// Lower-cased; exactly one trailing dot removed (`admin.example.com.` is `admin.example.com`); the
/// scheme's default port removed (`:443` with `https`, `:80` with `http`); a port kept as written when the
/// scheme is unknown, so `app.example.com:443` then matches only a rule naming that port. Refused rather
/// than guessed: an empty label or a second trailing dot, several values (a comma), white space, control
/// or non-ASCII bytes (international names arrive as A-labels, `xn--…`), userinfo, a bad port, a bracketed
/// IPv6 literal that does not parse.
public struct CanonicalHost: Hashable, Sendable, CustomStringConvertible {
    /// The name (or address) without the port, lower-case.
    public let name: String
    /// The port, when it stays part of the host.
    public let port: Int?

    /// The host as rules compare it: `name` or `name:port`.
    public var description: String { port.map { "\(name):\($0)" } ?? name }

    /// The longest host a policy or a request may name.
    public static let maximumLength = 255

    /// The canonical form of `bytes` (an `X-Forwarded-Host` value or an authority) for a request made
    /// over `scheme` (`http`, `https`, or nil when unknown).
    public init(_ bytes: [UInt8], scheme: String? = nil) throws(HostError) {
        try self.init(bytes[...], scheme: scheme)
    }

    /// The canonical form of `bytes`, as for an array (a slice, such as a header value in
    /// the request's buffer: read where it lies, every decision with host rules passes here).
    public init(_ bytes: ArraySlice<UInt8>, scheme: String? = nil) throws(HostError) {
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= Self.maximumLength + 6 else { throw .tooLong }
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count)
        // Noted on the way, for the checks after: the colons (a port, or too many) and any bracket.
        var colons = 0
        var lastColon: Int?
        var sawBracket = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): text.append(byte | 0x20)
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"):
                text.append(byte)
            case UInt8(ascii: ":"):
                colons += 1
                lastColon = text.count
                text.append(byte)
            case UInt8(ascii: "["), UInt8(ascii: "]"):
                sawBracket = true
                text.append(byte)
            case UInt8(ascii: ","): throw .severalValues
            case UInt8(ascii: "@"): throw .userinfo
            case 0x80...: throw .nonASCII
            case 0..<0x20, 0x7F: throw .controlCharacter
            case UInt8(ascii: " "), UInt8(ascii: "\t"): throw .whitespace
            default: throw .invalidCharacter
            }
        }
        var nameBytes: ArraySlice<UInt8>
        var portBytes: ArraySlice<UInt8>?
        if text.first == UInt8(ascii: "[") {
            guard let close = text.firstIndex(of: UInt8(ascii: "]")) else { throw .invalidIPv6 }
            nameBytes = text[...close]
            let rest = text[(close + 1)...]
            if !rest.isEmpty {
                guard rest.first == UInt8(ascii: ":") else { throw .invalidIPv6 }
                portBytes = rest.dropFirst()
            }
            let inside = String(decoding: text[1..<close], as: UTF8.self)
            var address = in6_addr()
            guard !inside.isEmpty, unsafe inet_pton(AF_INET6, inside, &address) == 1 else { throw .invalidIPv6 }
        } else {
            guard !sawBracket else { throw .invalidCharacter }
            guard colons <= 1 else { throw .invalidPort }
            if let colon = lastColon {
                nameBytes = text[..<colon]
                portBytes = text[(colon + 1)...]
            } else {
                nameBytes = text[...]
            }
            // Exactly one trailing dot is the same name (the root label); two are not a name.
            if nameBytes.last == UInt8(ascii: ".") { nameBytes = nameBytes.dropLast() }
            guard !nameBytes.isEmpty else { throw .emptyLabel }
            // Every label non-empty and at most 63 bytes, in one pass.
            var labelLength = 0
            for byte in nameBytes {
                if byte == UInt8(ascii: ".") {
                    guard labelLength > 0 else { throw .emptyLabel }
                    labelLength = 0
                } else {
                    labelLength += 1
                    guard labelLength <= 63 else { throw .labelTooLong }
                }
            }
            guard labelLength > 0 else { throw .emptyLabel }
        }
        guard nameBytes.count <= Self.maximumLength else { throw .tooLong }
        var port: Int?
        if let portBytes {
            // 1 to 65535, digits only, no leading zero.
            guard !portBytes.isEmpty, portBytes.count <= 5, portBytes.first != UInt8(ascii: "0") else { throw .invalidPort }
            var value = 0
            for byte in portBytes {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { throw .invalidPort }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            guard value <= 65_535 else { throw .invalidPort }
            port = value
        }
        switch (scheme, port) {
        case ("https", 443), ("http", 80): port = nil
        default: break
        }
        self.name = String(decoding: nameBytes, as: UTF8.self)
        self.port = port
    }

    /// The names of the hosts `*.suffix` patterns could match this one with, longest first:
    /// `a.b.example.com` gives `b.example.com`, `example.com`, `com`.
    public var suffixes: [Substring] {
        guard !name.hasPrefix("[") else { return [] }
        var result: [Substring] = []
        var rest = name[...]
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            result.append(rest)
        }
        return result
    }
}

/// Why an original host was refused.
public enum HostError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case tooLong
    case severalValues
    case userinfo
    case nonASCII
    case controlCharacter
    case whitespace
    case invalidCharacter
    case invalidIPv6
    case invalidPort
    case emptyLabel
    case labelTooLong

    public var description: String {
        switch self {
        case .empty: "the host is empty"
        case .tooLong: "the host is longer than \(CanonicalHost.maximumLength) characters"
        case .severalValues: "the host holds several values (a comma)"
        case .userinfo: "the host holds userinfo (\"@\")"
        case .nonASCII: "the host has non-ASCII bytes (international names must arrive as A-labels, xn--…)"
        case .controlCharacter: "the host contains a control character"
        case .whitespace: "the host contains white space"
        case .invalidCharacter: "the host contains a character no host name has"
        case .invalidIPv6: "the host's bracketed IPv6 address does not parse"
        case .invalidPort: "the host's port is not a number from 1 to 65535"
        case .emptyLabel: "the host has an empty label (\"..\", a leading dot, or two trailing dots)"
        case .labelTooLong: "a label of the host is longer than 63 characters"
        }
    }
}
