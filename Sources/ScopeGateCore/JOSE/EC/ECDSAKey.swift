internal import COpenSSL

extension JWSAlgorithm {
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4).
    public static let es256 = JWSAlgorithm(rawValue: "ES256")
}

/// An ES256 key: ECDSA on P-256. Signatures are JWS's raw r‖s (64 bytes); OpenSSL's DER form is converted
/// at the boundary and never accepted in a token.
public struct ECDSAKey: JWSKey {
    public let id: String?
    public var algorithm: JWSAlgorithm { .es256 }
    public let publicJWK: JSONValue?
    private let key: PKey
    private let contexts: SignatureContexts
    /// Verification with Q's own table (``P256Verifier``); nil only where libcrypto cannot make one.
    private let verifier: P256Verifier?
    private static let coordinateLength = 32

    /// A key from PEM: a private key (signs and verifies) or a public key (verifies). Without `id`, the kid
    /// is the key's RFC 7638 thumbprint.
    public init(pem: [UInt8], id: String? = nil) throws(KeyError) {
        try self.init(key: try PKey.load(pem: pem), id: id)
    }

    /// A new P-256 key.
    public static func generate(id: String? = nil) throws(KeyError) -> ECDSAKey {
        try ECDSAKey(key: PKey.generate(type: "EC", group: "P-256"), id: id)
    }

    init(key: PKey, id: String?) throws(KeyError) {
        guard key.isA("EC") else { throw .wrongKeyType(algorithm: "ES256", expected: "an EC") }
        let curve = key.text("group") ?? "unknown"
        guard ["prime256v1", "P-256", "secp256r1"].contains(curve) else { throw .wrongCurve(algorithm: "ES256", curve: curve) }
        guard key.passesPublicCheck else { throw .invalidPublicKey("the point is not on P-256") }
        guard let x = key.bigNumber("qx", width: Self.coordinateLength), let y = key.bigNumber("qy", width: Self.coordinateLength) else {
            throw .unreadableKey("the EC public point cannot be read")
        }
        let jwk = PublicJWK(required: ["kty": .string("EC"), "crv": .string("P-256"), "x": .string(Base64URL.encode(x)), "y": .string(Base64URL.encode(y))])
        self.key = key
        self.contexts = unsafe try SignatureContexts.forKey(key, digest: "SHA256")
        self.verifier = P256Verifier(x: x, y: y)
        self.id = try keyID(id, thumbprint: jwk.thumbprint)
        self.publicJWK = jwk.published(id: self.id, algorithm: .es256)
    }

    /// The private key as PKCS#8 PEM, for `scopegate keys generate`.
    public func privateKeyPEM() throws(CryptoError) -> [UInt8] { try key.privateKeyPEM() }

    public func sign(_ input: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8] {
        let der = try contexts.sign(input)
        guard let raw = Self.raw(fromDER: der) else { throw CryptoError(description: "ECDSA signature could not be converted") }
        return raw
    }

    public func verify(_ signature: [UInt8], signs input: ArraySlice<UInt8>) throws(CryptoError) -> Bool {
        // Exactly r‖s: a DER signature, or any other length, is refused before OpenSSL sees it.
        guard signature.count == 2 * Self.coordinateLength else { return false }
        if let verifier { return verifier.verify(signature, digest: sha256(input)) }
        return try verifyWithOpenSSL(signature, signs: input)
    }

    /// OpenSSL's own ECDSA verification of the raw r‖s `signature` (as DER): the fallback where there is
    /// no ``P256Verifier``, and the reference its tests compare with.
    func verifyWithOpenSSL(_ signature: [UInt8], signs input: ArraySlice<UInt8>) throws(CryptoError) -> Bool {
        guard signature.count == 2 * Self.coordinateLength, let der = Self.der(fromRaw: signature) else { return false }
        return try contexts.verify(der, signs: input)
    }

    /// DER `ECDSA-Sig-Value` to r‖s, each left-padded to 32 bytes.
    static func raw(fromDER der: [UInt8]) -> [UInt8]? {
        unsafe der.withUnsafeBufferPointer { buffer -> [UInt8]? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let signature = unsafe d2i_ECDSA_SIG(nil, &cursor, buffer.count) else { return nil }
            defer { unsafe ECDSA_SIG_free(signature) }
            guard let r = unsafe ECDSA_SIG_get0_r(signature), let s = unsafe ECDSA_SIG_get0_s(signature) else { return nil }
            var raw = [UInt8](repeating: 0, count: 2 * coordinateLength)
            let written = unsafe raw.withUnsafeMutableBufferPointer { output in
                unsafe (
                    BN_bn2binpad(r, output.baseAddress, Int32(coordinateLength)),
                    BN_bn2binpad(s, output.baseAddress! + coordinateLength, Int32(coordinateLength))
                )
            }
            return written == (Int32(coordinateLength), Int32(coordinateLength)) ? raw : nil
        }
    }

    /// r‖s to DER `ECDSA-Sig-Value`.
    static func der(fromRaw raw: [UInt8]) -> [UInt8]? {
        unsafe raw.withUnsafeBufferPointer { buffer -> [UInt8]? in
            guard let signature = unsafe ECDSA_SIG_new() else { return nil }
            defer { unsafe ECDSA_SIG_free(signature) }
            guard let r = unsafe BN_bin2bn(buffer.baseAddress, Int32(coordinateLength), nil) else { return nil }
            guard let s = unsafe BN_bin2bn(buffer.baseAddress! + coordinateLength, Int32(coordinateLength), nil) else {
                unsafe BN_free(r)
                return nil
            }
            // ECDSA_SIG_set0 takes ownership of r and s.
            guard unsafe ECDSA_SIG_set0(signature, r, s) == 1 else {
                unsafe BN_free(r)
                unsafe BN_free(s)
                return nil
            }
            let length = unsafe i2d_ECDSA_SIG(signature, nil)
            guard length > 0 else { return nil }
            var der = [UInt8](repeating: 0, count: Int(length))
            let written = unsafe der.withUnsafeMutableBufferPointer { output -> Int32 in
                var cursor: UnsafeMutablePointer<UInt8>? = output.baseAddress
                return unsafe i2d_ECDSA_SIG(signature, &cursor)
            }
            return written == length ? der : nil
        }
    }
}
