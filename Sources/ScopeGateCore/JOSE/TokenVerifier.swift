public import FoundationEssentials

/// Checks beyond the signature that a verifier applies to every token.
public struct VerificationOptions: Sendable {
    /// Tokens longer than this many bytes are refused before any decoding.
    public var maximumTokenLength: Int = 8192
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
    public var leeway: TimeInterval = 0
    /// When set, `iss` must equal it.
    public var issuer: String?
    /// When set, `aud` must be it or contain it.
    public var audience: String?

    /// The defaults: 8 KiB, no leeway, no issuer or audience check.
    public init(maximumTokenLength: Int = 8192, leeway: TimeInterval = 0, issuer: String? = nil, audience: String? = nil) {
        self.maximumTokenLength = maximumTokenLength
        self.leeway = leeway
        self.issuer = issuer
        self.audience = audience
    }
}

/// Verifies JWS compact tokens (RFC 7515, RFC 7519) as access tokens.
///
/// Verification is a policy, not a parse: the key pins the algorithm, `none` and every other algorithm
/// are refused, `kid` only selects among configured keys, `crit` is refused, `exp` is required, and scopes
/// come only from a well-typed `scopes` list (as FastAPI's tutorial writes it) or `scope` string (RFC 9068).
///
/// ```swift
/// let verifier = TokenVerifier(keyring: keyring)
/// let token = try verifier.verify(bearer, now: Date())
/// print(token.subject, token.scopes)
/// ```
public struct TokenVerifier: Sendable {
    /// The keys tokens may be signed with.
    public let keyring: KeyRing
    /// Claim checks and limits.
    public let options: VerificationOptions

    private static let acceptedTypes: Set<String> = ["jwt", "at+jwt", "application/jwt", "application/at+jwt"]
    private static let understoodHeaders: Set<String> = ["alg", "typ", "kid", "cty"]

    /// Creates a verifier.
    public init(keyring: KeyRing, options: VerificationOptions = VerificationOptions()) {
        self.keyring = keyring
        self.options = options
    }

    /// Verifies a compact token given as text.
    public func verify(_ token: String, now: Date) throws(TokenError) -> VerifiedToken {
        try verify(bytes: Array(token.utf8), now: now)
    }

    /// Verifies a compact token given as bytes.
    public func verify(bytes token: [UInt8], now: Date) throws(TokenError) -> VerifiedToken {
        guard token.count <= options.maximumTokenLength else {
            throw .tooLarge(length: token.count, limit: options.maximumTokenLength)
        }
        var dots: (Int, Int) = (-1, -1)
        var count = 0
        for index in token.indices where token[index] == UInt8(ascii: ".") {
            if count == 0 { dots.0 = index } else if count == 1 { dots.1 = index }
            count += 1
        }
        guard count == 2 else { throw .malformed("expected 3 dot-separated parts, found \(count + 1)") }
        let headerPart = token[..<dots.0]
        let payloadPart = token[(dots.0 + 1)..<dots.1]
        let signaturePart = token[(dots.1 + 1)...]

        let header = try decodeObject(headerPart, name: "header")
        let key = try selectKey(for: header)

        guard let signature = Base64URL.decode(signaturePart) else { throw .malformed("signature is not base64url") }
        let signs: Bool
        do {
            signs = try key.verify(signature, signs: token[..<dots.1])
        } catch {
            throw .malformed("signature could not be computed")
        }
        guard signs else { throw .badSignature }

        let claims = try decodeObject(payloadPart, name: "payload")
        return try validate(claims: claims, keyID: key.id, now: now)
    }

    private func decodeObject(_ part: ArraySlice<UInt8>, name: String) throws(TokenError) -> [String: JSONValue] {
        guard !part.isEmpty, let json = Base64URL.decode(part) else { throw .malformed("\(name) is not base64url") }
        let value: JSONValue
        do {
            value = try JSONParser().parse(json)
        } catch {
            throw .malformed("\(name) is not valid JSON: \(error)")
        }
        guard case .object(let members) = value else { throw .malformed("\(name) is not a JSON object") }
        return members
    }

    private func selectKey(for header: [String: JSONValue]) throws(TokenError) -> any JWSKey {
        guard let algValue = header["alg"] else { throw .malformed("header has no \"alg\"") }
        guard let alg = algValue.stringValue else { throw .malformed("header \"alg\" is not a string") }
        if let crit = header["crit"] {
            let names: [String] = if case .array(let items) = crit { items.map { $0.stringValue ?? $0.typeName } } else { [crit.typeName] }
            throw .criticalExtension(names)
        }
        for name in header.keys.sorted() where !Self.understoodHeaders.contains(name) {
            // jwk, jku, x5u, x5c and friends would point at keys the token chooses itself.
            if ["jwk", "jku", "x5u", "x5c", "b64", "zip", "enc"].contains(name) { throw .unsupportedHeader(name) }
        }
        if let typ = header["typ"] {
            guard let type = typ.stringValue, Self.acceptedTypes.contains(type.lowercased()) else {
                throw .malformed("header \"typ\" is not JWT or at+jwt")
            }
        }
        var kid: String?
        if let kidValue = header["kid"] {
            guard let value = kidValue.stringValue else { throw .malformed("header \"kid\" is not a string") }
            kid = value
        }
        guard let key = keyring.key(forID: kid) else { throw .unknownKey(kid: kid ?? "") }
        guard key.accepts(algorithm: alg) else { throw .unsupportedAlgorithm(alg) }
        return key
    }

    private func validate(claims: [String: JSONValue], keyID: String?, now: Date) throws(TokenError) -> VerifiedToken {
        guard let subValue = claims["sub"] else { throw .missingClaim("sub") }
        guard let subject = subValue.stringValue else { throw .invalidClaim("sub", reason: "is a \(subValue.typeName), not a string") }
        guard !subject.isEmpty, subject.unicodeScalars.allSatisfy({ !isControl($0) }) else {
            throw .invalidClaim("sub", reason: "is empty or contains control characters")
        }

        guard let exp = claims["exp"] else { throw .missingClaim("exp") }
        let expiresAt = try date(exp, claim: "exp")
        if now.timeIntervalSince1970 >= expiresAt.timeIntervalSince1970 + options.leeway {
            throw .expired(at: expiresAt, now: now)
        }
        var notBeforeClaim: Date?
        if let nbf = claims["nbf"] {
            let notBefore = try date(nbf, claim: "nbf")
            if now.timeIntervalSince1970 + options.leeway < notBefore.timeIntervalSince1970 {
                throw .notYetValid(at: notBefore, now: now)
            }
            notBeforeClaim = notBefore
        }
        var issuedAt: Date?
        if let iat = claims["iat"] {
            let value = try date(iat, claim: "iat")
            if value.timeIntervalSince1970 > now.timeIntervalSince1970 + options.leeway {
                throw .issuedInFuture(at: value, now: now)
            }
            issuedAt = value
        }
        if let issuer = options.issuer {
            guard claims["iss"]?.stringValue == issuer else { throw .wrongIssuer }
        }
        if let audience = options.audience {
            switch claims["aud"] {
            case .string(let value) where value == audience: break
            case .array(let values) where values.contains(.string(audience)): break
            default: throw .wrongAudience
            }
        }
        var audiences: [String] = []
        switch claims["aud"] {
        case nil: break
        case .string(let value)?: audiences = [value]
        case .array(let values)?:
            for value in values {
                guard let audience = value.stringValue else { throw .invalidClaim("aud", reason: "contains a \(value.typeName), not only strings") }
                audiences.append(audience)
            }
        case let other?: throw .invalidClaim("aud", reason: "is a \(other.typeName), not a string or a list of strings")
        }
        let tokenID = try optionalString("jti", in: claims)
        let clientID = try optionalString("client_id", in: claims)
        var actor: JSONValue?
        if let value = claims["act"] {
            guard case .object(let members) = value, members["sub"]?.stringValue != nil else {
                throw .invalidClaim("act", reason: "is not an object with a string \"sub\"")
            }
            actor = value
        }
        let sessionID = try optionalString("sid", in: claims)
        let issuerClaim = try optionalString("iss", in: claims)
        return VerifiedToken(
            subject: subject, scopes: try scopes(in: claims), expiresAt: expiresAt,
            issuedAt: issuedAt, tokenID: tokenID, keyID: keyID, clientID: clientID, actor: actor, issuer: issuerClaim,
            audiences: audiences, notBefore: notBeforeClaim, sessionID: sessionID)
    }

    /// The string claim `name`, nil when absent; any other JSON type refuses the token.
    private func optionalString(_ name: String, in claims: [String: JSONValue]) throws(TokenError) -> String? {
        guard let value = claims[name] else { return nil }
        guard let text = value.stringValue else { throw .invalidClaim(name, reason: "is a \(value.typeName), not a string") }
        return text
    }

    private func date(_ value: JSONValue, claim: String) throws(TokenError) -> Date {
        guard let seconds = value.numberValue else {
            throw .invalidClaim(claim, reason: "is a \(value.typeName), not a NumericDate")
        }
        // Beyond ±1e11 s (about year 5138) a NumericDate is not a date anyone issues.
        guard abs(seconds) <= 1e11 else { throw .invalidClaim(claim, reason: "is out of range") }
        return Date(timeIntervalSince1970: seconds)
    }

    private func scopes(in claims: [String: JSONValue]) throws(TokenError) -> [String] {
        var list: [String]?
        if let value = claims["scopes"] {
            guard case .array(let items) = value else {
                throw .invalidClaim("scopes", reason: "is a \(value.typeName), not a list of strings")
            }
            var strings: [String] = []
            for item in items {
                guard let scope = item.stringValue else {
                    throw .invalidClaim("scopes", reason: "contains a \(item.typeName), not only strings")
                }
                strings.append(scope)
            }
            list = strings
        }
        var spaced: [String]?
        if let value = claims["scope"] {
            guard let text = value.stringValue else { throw .invalidClaim("scope", reason: "is a \(value.typeName), not a string") }
            spaced = text.isEmpty ? [] : text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        }
        if let list, let spaced, Set(list) != Set(spaced) {
            throw .invalidClaim("scope", reason: "disagrees with claim \"scopes\"")
        }
        let scopes = list ?? spaced ?? []
        for scope in scopes where !isScopeToken(scope) {
            throw .invalidClaim(list != nil ? "scopes" : "scope", reason: "contains \(quotedForMessage(scope, limit: 32)), which is not a valid scope")
        }
        var seen = Set<String>()
        return scopes.filter { seen.insert($0).inserted }
    }
}
