import ScopeGateCore

/// The policy and users loaders on arbitrary text: they must load or report diagnostics, never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? Policy.load(yaml: text, file: "fuzz.yaml")
    _ = try? UserDirectory.load(yaml: text, file: "fuzz.yaml")
    _ = try? PathPattern(text)
    return 0
}
