public import FoundationEssentials

/// One machine client from the clients file: a service that authenticates with a secret and gets tokens
/// in its own name (`client_credentials`) or for its users. A class, as ``UserRecord`` is.
public final class ClientRecord: Sendable {
    /// The client id: `client_id`, and the token's `sub` for its own tokens.
    public let id: String
    /// One or two hashes (two while a secret is being rotated); any of them authenticates.
    public let secretHashes: [ClientSecretHash]
    /// The grant types it may use.
    public let grantTypes: Set<ClientGrantType>
    /// The most it may be granted, in file order.
    public let scopes: [String]
    /// Granted when a request names no scope.
    public let defaultScopes: [String]
    /// The `aud` values it may ask for.
    public let audiences: [String]
    /// Its tokens' lifetime; nil: the service's.
    public let tokenLifetime: TimeInterval?
    /// A disabled client can neither authenticate nor use tokens it already has.
    public let disabled: Bool
    /// Whether it may ask `/introspect` about tokens (RFC 7662).
    public let introspect: Bool
    /// Where `/authorize` may send the user back (the authorization code flow), compared whole.
    public let redirectURIs: [String]
    /// A public client (a browser or native application) holds no secret: it identifies itself by its id
    /// alone and proves each code is its own with PKCE.
    public let isPublic: Bool
    /// Where the client is written, for messages.
    public let line: Int
    public let column: Int

    /// Creates a client.
    public init(
        id: String, secretHashes: [ClientSecretHash], grantTypes: Set<ClientGrantType>, scopes: [String], defaultScopes: [String] = [],
        audiences: [String] = [], tokenLifetime: TimeInterval? = nil, disabled: Bool = false, introspect: Bool = false,
        redirectURIs: [String] = [], isPublic: Bool = false, line: Int = 0, column: Int = 0
    ) {
        self.id = id
        self.secretHashes = secretHashes
        self.grantTypes = grantTypes
        self.scopes = scopes
        self.defaultScopes = defaultScopes
        self.audiences = audiences
        self.tokenLifetime = tokenLifetime
        self.disabled = disabled
        self.introspect = introspect
        self.redirectURIs = redirectURIs
        self.isPublic = isPublic
        self.line = line
        self.column = column
    }

    /// The registered redirect URI `uri` is, if any: the same string, or (RFC 8252 §7.3) a registered
    /// loopback one (`http://127.0.0.1/…`, `http://[::1]/…`) with any port, since a native application
    /// listens wherever the system lets it.
    public func registeredRedirect(_ uri: String) -> String? {
        if redirectURIs.contains(uri) { return uri }
        for host in ["http://127.0.0.1", "http://[::1]"] where uri.hasPrefix(host + ":") {
            let rest = uri.dropFirst(host.count + 1)
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard (1...5).contains(digits.count), let port = Int(digits), (1...65535).contains(port) else { return nil }
            let withoutPort = host + rest.dropFirst(digits.count)
            if redirectURIs.contains(withoutPort) { return uri }
        }
        return nil
    }

    /// The hash `secret` matches, if any; costs each hash's full work.
    public func matchingHash(for secret: String) -> ClientSecretHash? {
        secretHashes.first { $0.verify(secret) }
    }
}

/// The grant types a client may be given in the clients file.
public enum ClientGrantType: String, Sendable, CaseIterable, Hashable {
    /// RFC 6749 §4.4: tokens in the client's own name.
    case clientCredentials = "client_credentials"
    /// RFC 6749 §4.3: users' passwords, through this client.
    case password
    /// RFC 8693: a ScopeGate access token exchanged for a narrower one for the same subject.
    case tokenExchange = "token_exchange"
    /// RFC 6749 §6: refresh tokens with the password grant's or the code flow's logins through this
    /// client, redeemed by it.
    case refreshToken = "refresh_token"
    /// RFC 6749 §4.1 with PKCE (RFC 7636): users sign in at `/authorize` and consent; the client trades the
    /// code for tokens.
    case authorizationCode = "authorization_code"
}

extension PrincipalKind {
    /// A machine client from the clients file, which authenticates with a secret.
    public static let client = PrincipalKind(rawValue: "client")
}

extension ClientRecord: Principal {
    public var kind: PrincipalKind { .client }
    public var subject: String { id }
    public var displayName: String? { nil }
    public var email: String? { nil }
    public var isDisabled: Bool { disabled }

    public func allows(scope: String) -> Bool {
        scopes.contains(scope)
    }
}
