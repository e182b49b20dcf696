/// Why a key, or a set of keys, cannot be used.
public enum KeyError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooShort(length: Int, minimum: Int)
    case invalidKeyID(String)
    case duplicateKeyID(String)
    case missingKeyID
    case crypto(CryptoError)
    /// The key material could not be read (not PEM, or not the expected half).
    case unreadableKey(String)
    /// The key is of another type than its algorithm needs.
    case wrongKeyType(algorithm: String, expected: String)
    /// An RSA key under 2048 bits.
    case rsaKeyTooSmall(bits: Int)
    /// An EC key on another curve than the algorithm's.
    case wrongCurve(algorithm: String, curve: String)
    /// OpenSSL's check of the public key failed (RSA exponent, EC point).
    case invalidPublicKey(String)
    /// No key of the signing algorithm is active.
    case noSigningKey(algorithm: String?)

    public var description: String {
        switch self {
        case .tooShort(let length, let minimum):
            "the HS256 secret is \(length) bytes long; at least \(minimum) are required (RFC 7518 §3.2). "
                + "Create one with: openssl rand -hex 32 > secret"
        case .invalidKeyID(let id): "key id \(quotedForMessage(id)) must be 1 to 128 printable ASCII characters"
        case .duplicateKeyID(let id): "key id \(quotedForMessage(id)) is used by more than one key"
        case .missingKeyID: "every verification key other than the signing key needs a key id"
        case .crypto(let error): error.description
        case .unreadableKey(let reason): "the key cannot be read: \(reason)"
        case .wrongKeyType(let algorithm, let expected): "\(algorithm) needs \(expected) key"
        case .rsaKeyTooSmall(let bits): "the RSA key has \(bits) bits; at least 2048 are required (RFC 7518 §3.3)"
        case .wrongCurve(let algorithm, let curve): "\(algorithm) needs a P-256 key, not one on \(quotedForMessage(curve, limit: 32))"
        case .invalidPublicKey(let reason): "the public key is invalid: \(reason)"
        case .noSigningKey(let algorithm?): "no \(algorithm) key is active now, so nothing can sign access tokens"
        case .noSigningKey(nil): "no key is active now, so nothing can sign access tokens"
        }
    }

    /// Checks a `kid`: 1 to 128 printable ASCII characters, so it is safe in headers, logs and JSON.
    static func check(keyID id: String?) throws(KeyError) {
        guard let id else { return }
        guard (1...128).contains(id.utf8.count), id.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw .invalidKeyID(id)
        }
    }
}
