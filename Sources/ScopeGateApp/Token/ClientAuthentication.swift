import ScopeGateHTTP

/// A client that proved who it is at the token endpoint (RFC 6749 §2.3).
struct AuthenticatedClient: Sendable {
    let id: String
}

/// How the token endpoint authenticates the client making a request. Today no client is registered, so
/// none is authenticated and `client_id`/`client_secret` are only checked for duplicates; a client
/// registry replaces this step.
struct ClientAuthentication: Sendable {
    /// The client `request` authenticates as; nil when it claims none, or a refusal.
    func authenticate(_ request: HTTPRequest, form: TokenForm) -> Result<AuthenticatedClient?, GrantRefusal> {
        .success(nil)
    }
}
