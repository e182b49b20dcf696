internal import COpenSSL

/// An OpenSSL `EVP_PKEY` this object owns and frees. One key is shared by every thread; signatures and
/// verifications go through its ``SignatureContexts``.
@safe final class PKey: @unchecked Sendable {
    // @unchecked: the key is never changed after init; OpenSSL allows concurrent use of one EVP_PKEY.
    let pointer: OpaquePointer
    /// Whether the private half is present (loaded from a private key, or generated).
    let hasPrivateKey: Bool

    private init(owning pointer: OpaquePointer, hasPrivateKey: Bool) {
        unsafe self.pointer = unsafe pointer
        self.hasPrivateKey = hasPrivateKey
    }

    deinit {
        unsafe EVP_PKEY_free(pointer)
    }

    /// A private key from PEM (PKCS#8 or the traditional forms).
    static func privateKey(pem: [UInt8]) throws(KeyError) -> PKey {
        guard let key = unsafe withMemoryBIO(pem, { unsafe PEM_read_bio_PrivateKey($0, nil, nil, nil) }) else {
            _ = CryptoError.fromErrorQueue("PEM_read_bio_PrivateKey")
            throw .unreadableKey("not a PEM private key")
        }
        return unsafe PKey(owning: key, hasPrivateKey: true)
    }

    /// A private key from PEM if it is one, else a public key.
    static func load(pem: [UInt8]) throws(KeyError) -> PKey {
        if let key = try? privateKey(pem: pem) { return key }
        return try publicKey(pem: pem)
    }

    /// A public key from PEM (`BEGIN PUBLIC KEY`).
    static func publicKey(pem: [UInt8]) throws(KeyError) -> PKey {
        guard let key = unsafe withMemoryBIO(pem, { unsafe PEM_read_bio_PUBKEY($0, nil, nil, nil) }) else {
            _ = CryptoError.fromErrorQueue("PEM_read_bio_PUBKEY")
            throw .unreadableKey("not a PEM public key")
        }
        return unsafe PKey(owning: key, hasPrivateKey: false)
    }

    /// A new key of `type` (`RSA`, `EC`, `ED25519`), with RSA's size or EC's group; a libcrypto failure is
    /// ``KeyError/crypto(_:)``.
    static func generate(type: String, rsaBits: Int? = nil, group: String? = nil) throws(KeyError) -> PKey {
        do {
            return try generateOrFail(type: type, rsaBits: rsaBits, group: group)
        } catch {
            throw .crypto(error)
        }
    }

    private static func generateOrFail(type: String, rsaBits: Int?, group: String?) throws(CryptoError) -> PKey {
        guard let context = unsafe EVP_PKEY_CTX_new_from_name(nil, type, nil) else { throw .fromErrorQueue("EVP_PKEY_CTX_new_from_name") }
        defer { unsafe EVP_PKEY_CTX_free(context) }
        guard unsafe EVP_PKEY_keygen_init(context) == 1 else { throw .fromErrorQueue("EVP_PKEY_keygen_init") }
        if let rsaBits, unsafe EVP_PKEY_CTX_set_rsa_keygen_bits(context, Int32(rsaBits)) != 1 {
            throw .fromErrorQueue("EVP_PKEY_CTX_set_rsa_keygen_bits")
        }
        if let group, unsafe EVP_PKEY_CTX_set_group_name(context, group) != 1 { throw .fromErrorQueue("EVP_PKEY_CTX_set_group_name") }
        var key: OpaquePointer?
        guard unsafe EVP_PKEY_generate(context, &key) == 1, let key = unsafe key else { throw .fromErrorQueue("EVP_PKEY_generate") }
        return unsafe PKey(owning: key, hasPrivateKey: true)
    }

    /// Whether the key is of OpenSSL type `name` (`RSA`, `RSA-PSS`, `EC`, `ED25519`).
    func isA(_ name: String) -> Bool {
        unsafe EVP_PKEY_is_a(pointer, name) == 1
    }

    /// The key's size in bits (the modulus for RSA).
    var bits: Int { unsafe Int(EVP_PKEY_get_bits(pointer)) }

    /// OpenSSL's own check of the public half (RSA: e odd and > 1, n well formed; EC: on the curve).
    var passesPublicCheck: Bool {
        guard let context = unsafe EVP_PKEY_CTX_new_from_pkey(nil, pointer, nil) else { return false }
        defer { unsafe EVP_PKEY_CTX_free(context) }
        let passed = unsafe EVP_PKEY_public_check(context) == 1
        if !passed { _ = CryptoError.fromErrorQueue("EVP_PKEY_public_check") }
        return passed
    }

    /// A big-number parameter (`n`, `e`, `qx`, `qy`) as unsigned big-endian bytes, left-padded to `width`.
    func bigNumber(_ name: String, width: Int? = nil) -> [UInt8]? {
        var number: OpaquePointer?
        guard unsafe EVP_PKEY_get_bn_param(pointer, name, &number) == 1, let number = unsafe number else { return nil }
        defer { unsafe BN_free(number) }
        let length = unsafe width ?? Int((BN_num_bits(number) + 7) / 8)
        var bytes = [UInt8](repeating: 0, count: length)
        let written = unsafe bytes.withUnsafeMutableBufferPointer { unsafe BN_bn2binpad(number, $0.baseAddress, Int32(length)) }
        return written == length ? bytes : nil
    }

    /// A text parameter, such as the EC group name.
    func text(_ name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        var length = 0
        guard unsafe EVP_PKEY_get_utf8_string_param(pointer, name, &buffer, buffer.count, &length) == 1 else { return nil }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The raw public key (Ed25519's 32 bytes).
    var rawPublicKey: [UInt8]? {
        var length = 0
        guard unsafe EVP_PKEY_get_raw_public_key(pointer, nil, &length) == 1 else { return nil }
        var bytes = [UInt8](repeating: 0, count: length)
        guard unsafe bytes.withUnsafeMutableBufferPointer({ unsafe EVP_PKEY_get_raw_public_key(pointer, $0.baseAddress, &length) }) == 1 else { return nil }
        return Array(bytes.prefix(length))
    }

    /// The private key as PKCS#8 PEM.
    func privateKeyPEM() throws(CryptoError) -> [UInt8] {
        unsafe try pem("PEM_write_bio_PrivateKey") { unsafe PEM_write_bio_PrivateKey($0, pointer, nil, nil, 0, nil, nil) }
    }

    /// The public key as `BEGIN PUBLIC KEY` PEM.
    func publicKeyPEM() throws(CryptoError) -> [UInt8] {
        unsafe try pem("PEM_write_bio_PUBKEY") { unsafe PEM_write_bio_PUBKEY($0, pointer) }
    }

    /// How a signature context is set up after its key and digest: RSA-PSS padding, for one.
    typealias Configure = @Sendable (_ context: OpaquePointer) -> Bool

    private func pem(_ function: String, _ write: (OpaquePointer) -> Int32) throws(CryptoError) -> [UInt8] {
        guard let bio = unsafe BIO_new(BIO_s_mem()) else { throw .fromErrorQueue("BIO_new") }
        defer { unsafe BIO_free(bio) }
        guard unsafe write(bio) == 1 else { throw .fromErrorQueue(function) }
        var data: UnsafeMutableRawPointer?
        let length = unsafe BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data)
        guard length > 0, let data = unsafe data else { throw .fromErrorQueue(function) }
        return unsafe Array(UnsafeRawBufferPointer(start: data, count: Int(length)))
    }

    private static func withMemoryBIO(_ bytes: [UInt8], _ body: (OpaquePointer) -> OpaquePointer?) -> OpaquePointer? {
        unsafe bytes.withUnsafeBytes { buffer in
            guard let bio = unsafe BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { unsafe BIO_free(bio) }
            return unsafe body(bio)
        }
    }
}
