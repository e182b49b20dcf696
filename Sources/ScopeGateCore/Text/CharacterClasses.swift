/// Whether `scope` is an RFC 6749 §3.3 scope-token: one or more of %x21 / %x23-5B / %x5D-7E.
public func isScopeToken(_ scope: String) -> Bool {
    !scope.isEmpty && scope.utf8.count <= 256
        && scope.utf8.allSatisfy { $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }
}

/// C0 and C1 control characters and DEL: never allowed in names that end up in headers or logs.
func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
}

/// Whether `byte` is an RFC 9110 tchar, the characters of methods and field names.
public func isTokenCharacter(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"): true
    default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}
