/// The keys a verifier accepts and the one a signer uses.
public struct KeyRing: Sendable {
    /// The key new tokens are signed with; tokens without `kid` are verified with it alone.
    public let signingKey: any JWSKey
    /// Every key a token may name with `kid`, the signing key first.
    public let keys: [any JWSKey]
    private let byID: [String: any JWSKey]
    /// The key a token without `kid` is checked against, if any.
    private let keylessKey: (any JWSKey)?

    /// Creates a key ring. Keys other than the signing key must have distinct ids: a token selects them
    /// only by `kid`, never by trying each in turn. A token without `kid` is checked against `keylessKey`
    /// alone when given (nil inside: such tokens are refused), else against the signing key.
    public init(signingKey: any JWSKey, verificationKeys: [any JWSKey] = [], keylessKey: (any JWSKey)?? = nil) throws(KeyError) {
        var byID: [String: any JWSKey] = [:]
        if let id = signingKey.id { byID[id] = signingKey }
        for key in verificationKeys {
            guard let id = key.id else { throw .missingKeyID }
            guard byID.updateValue(key, forKey: id) == nil else { throw .duplicateKeyID(id) }
        }
        self.signingKey = signingKey
        self.keys = [signingKey] + verificationKeys
        self.byID = byID
        self.keylessKey = keylessKey ?? signingKey
    }

    /// The key a token's `kid` selects: the keyless key when the token names none, else the key with that
    /// id, else nothing.
    public func key(forID id: String?) -> (any JWSKey)? {
        guard let id else { return keylessKey }
        return byID[id]
    }

    /// The public keys as a JWK Set (RFC 7517 §5): what the services behind the proxy verify with. Secret
    /// keys are left out.
    public var jwks: JSONValue {
        .object(["keys": .array(keys.compactMap(\.publicJWK))])
    }
}
