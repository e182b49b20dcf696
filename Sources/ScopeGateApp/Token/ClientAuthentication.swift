import FoundationEssentials
import ScopeGateCore
import ScopeGateHTTP

/// The credentials a token request presents for its client (RFC 6749 §2.3.1), read on the polling thread;
/// checking the secret costs a hash and runs on a worker (``ClientAuthentication/authenticate``).
struct ClientCredentials: Sendable {
    /// How the client presented them.
    enum Method: String, Sendable {
        /// `Authorization: Basic` with the form-urlencoded id and secret.
        case basic = "client_secret_basic"
        /// `client_id` and `client_secret` in the form.
        case post = "client_secret_post"
        /// `client_id` alone: a public client (RFC 6749 §2.1), which holds no secret.
        case none
    }

    let id: String
    let secret: String
    let method: Method
}

/// How the token endpoint authenticates clients: `client_secret_basic` and `client_secret_post`, one of
/// them per request. Without a clients file no client is registered and, as in FastAPI's tutorial,
/// `client_id` and `client_secret` are read and ignored.
struct ClientAuthentication: Sendable {
    /// The authentication methods, as the metadata document names them.
    static let methods: [ClientCredentials.Method] = [.basic, .post]

    /// The credentials `request` presents; nil when it presents none (or no client is registered), or a
    /// refusal when they are malformed or contradictory.
    func credentials(_ request: HTTPRequest, form: TokenForm, clients: ClientDirectory) -> Result<ClientCredentials?, GrantRefusal> {
        guard !clients.clients.isEmpty else { return .success(nil) }
        var basic: (id: String, secret: String)?
        if let authorization = request.headers["Authorization"] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "basic" {
                guard let pair = Self.basicCredentials(String(parts[1]).trimmingWhitespace()) else {
                    return .failure(Self.invalidClient("the Basic credentials are not base64 of a form-urlencoded id:secret", basic: true))
                }
                basic = pair
            }
        }
        let postedID = form["client_id"]
        let postedSecret = form["client_secret"]
        if let basic {
            if postedSecret != nil {
                return .failure(Self.invalidClient("the client authenticates with one method: Basic or client_secret, not both", basic: true))
            }
            if let postedID, postedID != basic.id {
                return .failure(Self.invalidClient("client_id differs from the client the Basic credentials name", basic: true))
            }
            return .success(ClientCredentials(id: basic.id, secret: basic.secret, method: .basic))
        }
        if let postedSecret {
            guard let postedID else { return .failure(Self.invalidClient("client_secret without client_id", basic: false)) }
            return .success(ClientCredentials(id: postedID, secret: postedSecret, method: .post))
        }
        if let postedID, let client = clients[postedID] {
            // A public client names itself; any other registered client must prove it is one.
            if client.isPublic { return .success(ClientCredentials(id: postedID, secret: "", method: .none)) }
            return .failure(Self.invalidClient("client \(quotedForMessage(postedID)) must authenticate", basic: false))
        }
        return .success(nil)
    }

    /// The client the credentials prove, checked against `clients` on a worker thread: a remembered pair
    /// costs one HMAC, a new one the hash's full work. Unknown, disabled and wrong are one refusal.
    func authenticate(_ credentials: ClientCredentials, clients: ClientDirectory, memory: ClientSecretMemory, now: Date) -> ClientRecord? {
        if let client = rememberedClient(credentials, clients: clients, memory: memory, now: now) { return client }
        guard let client = clients[credentials.id], !client.disabled else {
            // The same work as a wrong secret, so an unknown id is not told apart by its timing.
            _ = memory.dummyCheck(credentials.secret)
            return nil
        }
        guard let hash = client.matchingHash(for: credentials.secret) else { return nil }
        memory.remember(credentials.id, credentials.secret, hash: hash, now: now)
        return client
    }

    /// The client `credentials` prove without a hash: an enabled client whose pair was accepted recently.
    /// A public client presenting its id alone needs no hash either; one presenting a secret is refused
    /// (by ``authenticate(_:clients:memory:now:)``: it has none to match).
    func rememberedClient(_ credentials: ClientCredentials, clients: ClientDirectory, memory: ClientSecretMemory, now: Date) -> ClientRecord? {
        guard let client = clients[credentials.id], !client.disabled else { return nil }
        if credentials.method == .none { return client.isPublic ? client : nil }
        guard memory.remembers(credentials.id, credentials.secret, for: client, now: now) else { return nil }
        return client
    }

    /// `invalid_client` (RFC 6749 §5.2): 401 with a Basic challenge when Basic was used, else 400.
    static func invalidClient(_ description: String, basic: Bool) -> GrantRefusal {
        guard basic else { return GrantRefusal(response: FastAPIResponses.oauthError("invalid_client", description: description)) }
        return GrantRefusal(
            response: FastAPIResponses.oauthError(
                "invalid_client", description: description, status: 401, headers: [("WWW-Authenticate", "Basic realm=\"scopegate\"")]))
    }

    /// `base64(urlencode(id) ":" urlencode(secret))`, standard base64 with its padding.
    static func basicCredentials(_ encoded: String) -> (id: String, secret: String)? {
        var text = Array(encoded.utf8)
        guard !text.isEmpty, text.count % 4 == 0, !text.contains(UInt8(ascii: "-")), !text.contains(UInt8(ascii: "_")) else { return nil }
        var padding = 0
        while text.last == UInt8(ascii: "=") && padding < 2 {
            text.removeLast()
            padding += 1
        }
        let url = text.map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "+"): UInt8(ascii: "-")
            case UInt8(ascii: "/"): UInt8(ascii: "_")
            default: byte
            }
        }
        guard let decoded = Base64URL.decode(url), let colon = decoded.firstIndex(of: UInt8(ascii: ":")),
            let idText = String(validating: decoded[..<colon], as: UTF8.self),
            let secretText = String(validating: decoded[(colon + 1)...], as: UTF8.self),
            let id = try? FormParser.decodeComponent(idText), let secret = try? FormParser.decodeComponent(secretText),
            !id.isEmpty, !secret.isEmpty
        else { return nil }
        return (id, secret)
    }
}
