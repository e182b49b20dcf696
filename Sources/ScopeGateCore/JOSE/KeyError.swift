/// Why a key, or a set of keys, cannot be used.
public enum KeyError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooShort(length: Int, minimum: Int)
    case invalidKeyID(String)
    case duplicateKeyID(String)
    case missingKeyID
    case crypto(CryptoError)

    public var description: String {
        switch self {
        case .tooShort(let length, let minimum):
            "the HS256 secret is \(length) bytes long; at least \(minimum) are required (RFC 7518 §3.2). "
                + "Create one with: openssl rand -hex 32 > secret"
        case .invalidKeyID(let id): "key id \(quotedForMessage(id)) must be 1 to 128 printable ASCII characters"
        case .duplicateKeyID(let id): "key id \(quotedForMessage(id)) is used by more than one key"
        case .missingKeyID: "every verification key other than the signing key needs a key id"
        case .crypto(let error): error.description
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
