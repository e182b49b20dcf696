/// The grant types `/token` accepts, by `grant_type`, and the one used when the form names none.
struct GrantRegistry: Sendable {
    let grants: [String: any GrantType]
    /// The grant of a form without `grant_type` (FastAPI's `OAuth2PasswordRequestForm` makes it optional).
    let defaultGrant: any GrantType
    /// Every parameter some grant or the endpoint reads: each may appear only once.
    let parameters: Set<String>

    init(_ grants: [any GrantType], defaultGrant: any GrantType) {
        self.grants = Dictionary(grants.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.defaultGrant = defaultGrant
        self.parameters = Set(grants.flatMap(\.parameters) + ["grant_type", "client_id", "client_secret"])
    }

    /// The grants ScopeGate offers.
    static let standard = GrantRegistry(
        [PasswordGrant(), RefreshTokenGrant(), ClientCredentialsGrant(), TokenExchangeGrant(), AuthorizationCodeGrant()], defaultGrant: PasswordGrant())
}
