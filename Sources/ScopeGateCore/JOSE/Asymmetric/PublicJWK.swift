/// The members of a public JWK, and what is derived from them.
struct PublicJWK: Sendable {
    /// The members RFC 7638 hashes for the thumbprint (`kty` and the key's public parameters).
    let required: [String: JSONValue]

    /// The RFC 7638 thumbprint: SHA-256 of the required members as compact JSON in lexicographic order,
    /// base64url. The default `kid` of an asymmetric key.
    var thumbprint: String {
        var writer = JSONWriter()
        writer.value(.object(required))
        return Base64URL.encode(sha256(writer.bytes))
    }

    /// The JWK a JWKS publishes: the required members with `kid`, `use` and `alg`.
    func published(id: String?, algorithm: JWSAlgorithm) -> JSONValue {
        var members = required
        if let id { members["kid"] = .string(id) }
        members["use"] = .string("sig")
        members["alg"] = .string(algorithm.rawValue)
        return .object(members)
    }
}

/// The `kid` of an asymmetric key: the one given (checked), else its thumbprint.
func keyID(_ given: String?, thumbprint: @autoclosure () -> String) throws(KeyError) -> String {
    guard let given else { return thumbprint() }
    try KeyError.check(keyID: given)
    return given
}
