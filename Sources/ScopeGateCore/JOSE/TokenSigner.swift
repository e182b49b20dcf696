public import FoundationEssentials

/// The claims of an access token ScopeGate issues.
public struct AccessTokenClaims: Equatable, Sendable {
    /// `sub`: the user name.
    public var subject: String
    /// `scopes`: the granted scopes, as a list (the form FastAPI's tutorial reads).
    public var scopes: [String]
    /// `iat`.
    public var issuedAt: Date
    /// `exp`.
    public var expiresAt: Date
    /// `jti`: a unique id.
    public var tokenID: String
    /// `iss`, when configured.
    public var issuer: String?
    /// `aud`, when configured.
    public var audience: String?
    /// `client_id` (RFC 9068 §2.2): the client the token is issued to, when one authenticated.
    public var clientID: String?
    /// `act` (RFC 8693 §4.1): the party a token was exchanged for.
    public var actor: JSONValue?
    /// `sid`: the refresh-token family (one login) the token belongs to, when refresh tokens were issued.
    public var sessionID: String?

    /// Creates the claims of one token.
    public init(
        subject: String, scopes: [String], issuedAt: Date, expiresAt: Date, tokenID: String,
        issuer: String? = nil, audience: String? = nil, clientID: String? = nil, actor: JSONValue? = nil,
        sessionID: String? = nil
    ) {
        self.subject = subject
        self.scopes = scopes
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.tokenID = tokenID
        self.issuer = issuer
        self.audience = audience
        self.clientID = clientID
        self.actor = actor
        self.sessionID = sessionID
    }

    /// The claims as compact JSON, non-ASCII escaped as PyJWT writes it.
    public var json: [UInt8] {
        var writer = JSONWriter(escapesNonASCII: true)
        writer.raw("{")
        writer.key("sub"); writer.string(subject)
        writer.raw(","); writer.key("scopes"); writer.stringArray(scopes)
        writer.raw(","); writer.key("iat"); writer.numericDate(issuedAt)
        writer.raw(","); writer.key("exp"); writer.numericDate(expiresAt)
        writer.raw(","); writer.key("jti"); writer.string(tokenID)
        if let issuer { writer.raw(","); writer.key("iss"); writer.string(issuer) }
        if let audience { writer.raw(","); writer.key("aud"); writer.string(audience) }
        if let clientID { writer.raw(","); writer.key("client_id"); writer.string(clientID) }
        if let actor { writer.raw(","); writer.key("act"); writer.value(actor) }
        if let sessionID { writer.raw(","); writer.key("sid"); writer.string(sessionID) }
        writer.raw("}")
        return writer.bytes
    }
}

/// Signs tokens with one key (a key ring's signing key).
public struct TokenSigner: Sendable {
    /// The key every token is signed with.
    public let key: any JWSKey
    private let encodedHeader: [UInt8]

    /// Creates a signer for `key`. The header is `{"alg":"HS256","typ":"JWT"}` (the key's algorithm), with
    /// `kid` when the key has one (members sorted, as PyJWT writes them).
    public init(key: any JWSKey) {
        self.key = key
        var writer = JSONWriter(escapesNonASCII: true)
        writer.raw("{")
        writer.key("alg"); writer.string(key.algorithm.rawValue)
        if let id = key.id { writer.raw(","); writer.key("kid"); writer.string(id) }
        writer.raw(","); writer.key("typ"); writer.string("JWT")
        writer.raw("}")
        self.encodedHeader = Base64URL.encodeToBytes(writer.bytes)
    }

    /// Signs an access token.
    public func sign(_ claims: AccessTokenClaims) throws(CryptoError) -> String {
        try sign(encodedHeader: encodedHeader, payload: claims.json)
    }

    /// Signs any payload JSON under this signer's header (`alg`, `kid`, `typ`).
    public func sign(payload: [UInt8]) throws(CryptoError) -> String {
        try sign(encodedHeader: encodedHeader, payload: payload)
    }

    /// Signs any header and payload JSON: `base64url(header).base64url(payload).base64url(tag)`.
    public func sign(header: [UInt8], payload: [UInt8]) throws(CryptoError) -> String {
        try sign(encodedHeader: Base64URL.encodeToBytes(header), payload: payload)
    }

    private func sign(encodedHeader: [UInt8], payload: [UInt8]) throws(CryptoError) -> String {
        var input = encodedHeader
        input.append(UInt8(ascii: "."))
        input.append(contentsOf: Base64URL.encodeToBytes(payload))
        let tag = try key.sign(input[...])
        input.append(UInt8(ascii: "."))
        input.append(contentsOf: Base64URL.encodeToBytes(tag))
        return String(decoding: input, as: UTF8.self)
    }
}
