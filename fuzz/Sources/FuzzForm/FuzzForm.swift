import ScopeGateHTTP

/// The form parser on arbitrary bodies, both encodings.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzForm(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? FormParser.fields(body: bytes, contentType: "application/x-www-form-urlencoded")
    _ = try? FormParser.fields(body: bytes, contentType: "multipart/form-data; boundary=XyZ")
    return 0
}
