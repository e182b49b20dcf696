internal import COpenSSL

/// HMAC-SHA256 with one key, through OpenSSL's `EVP_MAC`.
///
/// The algorithm is fetched and the key schedule computed once; each call duplicates that keyed template,
/// which is safe from any thread (the template itself is never used to compute).
@safe final class HMACSHA256: @unchecked Sendable {
    // @unchecked: `template` is written only in init and deinit; every other use is the thread-safe
    // EVP_MAC_CTX_dup, which reads it.
    private let template: OpaquePointer

    /// The length of a tag, in bytes.
    static let tagLength = 32

    init(key: [UInt8]) throws(CryptoError) {
        guard let mac = unsafe EVP_MAC_fetch(nil, "HMAC", nil) else { throw CryptoError.fromErrorQueue("EVP_MAC_fetch") }
        defer { unsafe EVP_MAC_free(mac) }
        guard let context = unsafe EVP_MAC_CTX_new(mac) else { throw CryptoError.fromErrorQueue("EVP_MAC_CTX_new") }
        // OSSL_PARAM keeps the pointers it is given, so both strings must outlive EVP_MAC_init.
        var name = Array("digest".utf8CString)
        var digest = Array("SHA256".utf8CString)
        let status = unsafe name.withUnsafeMutableBufferPointer { parameterName in
            unsafe digest.withUnsafeMutableBufferPointer { digestName in
                var parameters = unsafe [
                    OSSL_PARAM_construct_utf8_string(parameterName.baseAddress, digestName.baseAddress, 0),
                    OSSL_PARAM_construct_end(),
                ]
                return unsafe key.withUnsafeBufferPointer { keyBytes in
                    unsafe EVP_MAC_init(context, keyBytes.baseAddress, keyBytes.count, &parameters)
                }
            }
        }
        guard status == 1 else {
            unsafe EVP_MAC_CTX_free(context)
            throw CryptoError.fromErrorQueue("EVP_MAC_init")
        }
        unsafe template = unsafe context
    }

    deinit {
        unsafe EVP_MAC_CTX_free(template)
    }

    /// The 32-byte tag of `message`.
    func authenticationCode(for message: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8] {
        guard let context = unsafe EVP_MAC_CTX_dup(template) else { throw CryptoError.fromErrorQueue("EVP_MAC_CTX_dup") }
        defer { unsafe EVP_MAC_CTX_free(context) }
        var tag = [UInt8](repeating: 0, count: Self.tagLength)
        var written = 0
        let status = unsafe message.withUnsafeBufferPointer { input in
            unsafe tag.withUnsafeMutableBufferPointer { output in
                guard unsafe EVP_MAC_update(context, input.baseAddress, input.count) == 1 else {
                    return Int32(0)
                }
                return unsafe EVP_MAC_final(context, output.baseAddress, &written, output.count)
            }
        }
        guard status == 1, written == Self.tagLength else { throw CryptoError.fromErrorQueue("EVP_MAC_final") }
        return tag
    }
}
