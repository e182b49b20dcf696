import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore

/// One OAuth2 grant type `POST /token` accepts (RFC 6749 §4). The token endpoint does the steps every
/// grant shares (form parsing and duplicate refusal, client authentication, login regulation, deferral to
/// the workers, the token response); a grant checks its own parameters and decides what to grant.
///
/// A new grant is one conforming type in `Token/` and one entry in ``GrantRegistry/standard``.
protocol GrantType: Sendable {
    /// The `grant_type` value.
    var name: String { get }
    /// The form parameters this grant reads, besides `grant_type` and the client's credentials.
    var parameters: [String] { get }
    /// Checks the form on the polling thread, cheaply: what to run on a worker, or the answer now (such
    /// as missing parameters).
    func prepare(_ form: TokenForm) -> Result<GrantJob, GrantRefusal>
    /// Whether the configuration offers this grant (listed in the metadata; others answer
    /// `unsupported_grant_type`).
    func isOffered(by configuration: ServiceConfiguration) -> Bool
}

extension GrantType {
    func isOffered(by configuration: ServiceConfiguration) -> Bool { true }
}

/// What a grant asks the workers to do for one request.
struct GrantJob: Sendable {
    /// The name login regulation counts failures under (the user name for the password grant); nil: not
    /// regulated.
    let regulatedName: String?
    /// What the job spends its time on, which decides where it runs.
    let cost: GrantCost
    /// Runs with the state taken when the request arrived.
    let run: @Sendable (GrantContext) -> GrantOutcome

    init(regulatedName: String?, cost: GrantCost = .hashing, run: @escaping @Sendable (GrantContext) -> GrantOutcome) {
        self.regulatedName = regulatedName
        self.cost = cost
        self.run = run
    }
}

/// Where a grant's job runs. A job that needs no hash runs without the hashing workers when the client's
/// credentials need none either (none, or a pair recently verified); else it waits its turn with them.
enum GrantCost: Sendable {
    /// A password hash: always on the hashing workers (queued, regulated, answered 503 when full).
    case hashing
    /// A store's disk or network: on the waiting workers, never behind a hash.
    case store
    /// Nothing that blocks (signing): on the polling thread.
    case nothing
}

/// What a grant's job may use.
struct GrantContext: Sendable {
    let state: ServiceState
    /// The client that authenticated, if the request presented credentials.
    let client: ClientRecord?
    /// The service's clock when the job started.
    let now: Date
    let metrics: ServiceMetrics
    let logger: Logger
}

/// A grant's result: scopes granted to a principal, or a refusal.
enum GrantOutcome: Sendable {
    /// Issue an access token for `principal` with `scopes` (already limited to what its record allows).
    case granted(principal: any Principal, scopes: [String], details: IssueDetails = IssueDetails())
    /// Refuse; `failedLogin` counts the try against login regulation.
    case refused(GrantRefusal, failedLogin: Bool)
}

extension GrantOutcome {
    /// An RFC 6749 §5.2 error (400), not counted as a failed login.
    static func oauthError(_ code: String, _ description: String) -> GrantOutcome {
        .refused(GrantRefusal(response: FastAPIResponses.oauthError(code, description: description)), failedLogin: false)
    }
}

extension GrantContext {
    /// The authenticated client when it may use `grant`; else the answer: `invalid_client` without one,
    /// `unauthorized_client` for a client whose record lacks the grant (`what`: how the refusal names it).
    func client(allowedTo grant: ClientGrantType, _ what: String) -> Result<ClientRecord, GrantRefusal> {
        guard let client else { return .failure(ClientAuthentication.invalidClient("\(what) needs client authentication", basic: false)) }
        guard client.grantTypes.contains(grant) else {
            return .failure(GrantRefusal(response: FastAPIResponses.oauthError("unauthorized_client", description: "this client may not use \(what)")))
        }
        return .success(client)
    }
}

/// What a grant decides about the token beyond its principal and scopes.
struct IssueDetails: Sendable {
    /// `aud`; nil: the service's `--audience`.
    var audience: String?
    /// The token expires no later than this (an exchanged token never outlives its subject token).
    var notAfter: Date?
    /// `client_id`; nil: the client that authenticated, if any.
    var clientID: String?
    /// `act` (RFC 8693 §4.1).
    var actor: JSONValue?
    /// `issued_token_type` in the response (RFC 8693 §2.2.1), for the exchange.
    var issuedTokenType: String?
    /// What happens with refresh tokens.
    var refresh: RefreshIssue = .none
    /// The access token's `jti`; nil: a new random one. (A code's redemption uses the one chosen with the
    /// code, so that a second use of the code can revoke the token.)
    var tokenID: String?
}

/// Whether a token response carries a refresh token.
enum RefreshIssue: Sendable {
    /// None (client_credentials, token exchange, logins without refresh tokens).
    case none
    /// A login: starts a family when refresh tokens are on for its client (or for logins without one),
    /// with the id `id` (nil: a new random one).
    case startFamily(id: String? = nil)
    /// A redemption: the family's successor token, and the family (`sid`).
    case successor(token: String, family: RefreshFamily)
}

/// A grant's refusal: the answer to send.
struct GrantRefusal: Error, Sendable {
    let response: HTTPResponse
}
