import ScopeGateCore

/// The canonicalizer and the matcher on arbitrary request targets. A canonical path must canonicalize to
/// itself (re-encoded), and matching must never crash.
private let policy = try! Policy.load(yaml: """
    rules:
      - path: /users/me/items/
        scopes: [me, items]
      - path: /users/{id}
        scopes: [me]
      - path: /public/**
        public: true
      - path: /admin/**
        methods: [GET]
        scopes: [admin]
      - path: /a/*/c
        scopes: []
    """, file: "fuzz.yaml")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPath(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let path = try? CanonicalPath(target: bytes) else { return 0 }
    _ = policy.match(method: "GET", path: path)
    // Re-encode every byte that is not unreserved; the result must be the same canonical path.
    var encoded: [UInt8] = []
    for (index, segment) in path.segments.enumerated() {
        encoded.append(UInt8(ascii: "/"))
        for byte in segment {
            let unreserved = (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || "-._~".utf8.contains(byte)
            if unreserved {
                encoded.append(byte)
            } else {
                encoded += Array("%\(String(byte, radix: 16, uppercase: true).count == 1 ? "0" : "")\(String(byte, radix: 16, uppercase: true))".utf8)
            }
        }
        _ = index
    }
    if encoded.isEmpty { encoded = [UInt8(ascii: "/")] }
    guard let again = try? CanonicalPath(target: encoded), again == path else {
        fatalError("canonical path \(path) does not survive re-encoding")
    }
    return 0
}
