internal import COpenSSL

/// A key's signing and verification contexts, set up once (key, digest, padding) and copied for each use
/// with `EVP_MD_CTX_copy_ex`, which only reads its source: the algorithm fetches and key preparation of an
/// `EVP_DigestVerifyInit_ex` (tens of microseconds for P-256 with OpenSSL 3.0) are paid once per key
/// instead of once per token. The templates themselves never sign or verify.
@safe final class SignatureContexts: @unchecked Sendable {
    // @unchecked: the templates are written only in init and deinit; every other use copies from them.
    private let verifyTemplate: OpaquePointer
    /// nil for a public key.
    private let signTemplate: OpaquePointer?

    /// Contexts for `key` with `digest` (nil for Ed25519, which hashes itself), `configure` applied to each.
    init(key: PKey, digest: String?, configure: PKey.Configure? = nil) throws(CryptoError) {
        unsafe verifyTemplate = unsafe try Self.template(key: key, digest: digest, configure: configure, signing: false)
        do {
            unsafe signTemplate = unsafe key.hasPrivateKey ? try Self.template(key: key, digest: digest, configure: configure, signing: true) : nil
        } catch {
            unsafe EVP_MD_CTX_free(verifyTemplate)
            throw error
        }
    }

    /// ``init(key:digest:configure:)`` for a key type's initializer, which reports ``KeyError``.
    static func forKey(_ key: PKey, digest: String?, configure: PKey.Configure? = nil) throws(KeyError) -> SignatureContexts {
        do {
            return unsafe try SignatureContexts(key: key, digest: digest, configure: configure)
        } catch {
            throw .crypto(error)
        }
    }

    deinit {
        unsafe EVP_MD_CTX_free(verifyTemplate)
        if let signTemplate = unsafe signTemplate { unsafe EVP_MD_CTX_free(signTemplate) }
    }

    private static func template(key: PKey, digest: String?, configure: PKey.Configure?, signing: Bool) throws(CryptoError) -> OpaquePointer {
        guard let context = unsafe EVP_MD_CTX_new() else { throw .fromErrorQueue("EVP_MD_CTX_new") }
        var keyContext: OpaquePointer?
        let initialized =
            unsafe signing
            ? EVP_DigestSignInit_ex(context, &keyContext, digest, nil, nil, key.pointer, nil)
            : EVP_DigestVerifyInit_ex(context, &keyContext, digest, nil, nil, key.pointer, nil)
        guard initialized == 1 else {
            unsafe EVP_MD_CTX_free(context)
            throw .fromErrorQueue(signing ? "EVP_DigestSignInit_ex" : "EVP_DigestVerifyInit_ex")
        }
        if let configure = unsafe configure, let keyContext = unsafe keyContext, unsafe !configure(keyContext) {
            unsafe EVP_MD_CTX_free(context)
            throw .fromErrorQueue("EVP_PKEY_CTX_set_rsa_padding")
        }
        return unsafe context
    }

    /// A fresh copy of `template`, freed after `body`.
    private func withCopy<Result>(of template: OpaquePointer, _ body: (OpaquePointer) throws(CryptoError) -> Result) throws(CryptoError) -> Result {
        guard let context = unsafe EVP_MD_CTX_new() else { throw .fromErrorQueue("EVP_MD_CTX_new") }
        defer { unsafe EVP_MD_CTX_free(context) }
        guard unsafe EVP_MD_CTX_copy_ex(context, template) == 1 else { throw .fromErrorQueue("EVP_MD_CTX_copy_ex") }
        return unsafe try body(context)
    }

    /// A signature over `input`.
    func sign(_ input: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8] {
        guard let template = unsafe signTemplate else { throw CryptoError(description: "this key has no private half and cannot sign") }
        return unsafe try withCopy(of: template) { context throws(CryptoError) in
            var length = 0
            let sized = unsafe input.withUnsafeBufferPointer { unsafe EVP_DigestSign(context, nil, &length, $0.baseAddress, $0.count) }
            guard sized == 1 else { throw .fromErrorQueue("EVP_DigestSign") }
            var signature = [UInt8](repeating: 0, count: length)
            let signed = unsafe input.withUnsafeBufferPointer { message in
                unsafe signature.withUnsafeMutableBufferPointer { unsafe EVP_DigestSign(context, $0.baseAddress, &length, message.baseAddress, message.count) }
            }
            guard signed == 1 else { throw .fromErrorQueue("EVP_DigestSign") }
            return Array(signature.prefix(length))
        }
    }

    /// Whether `signature` is a valid signature over `input`.
    func verify(_ signature: [UInt8], signs input: ArraySlice<UInt8>) throws(CryptoError) -> Bool {
        unsafe try withCopy(of: verifyTemplate) { context in
            let status = unsafe input.withUnsafeBufferPointer { message in
                unsafe signature.withUnsafeBufferPointer { unsafe EVP_DigestVerify(context, $0.baseAddress, $0.count, message.baseAddress, message.count) }
            }
            // A refusal leaves reasons on this thread's error queue; they say nothing the caller needs.
            if status != 1 { ERR_clear_error() }
            return status == 1
        }
    }
}
