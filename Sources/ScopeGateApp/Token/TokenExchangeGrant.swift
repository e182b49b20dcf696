import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP

/// Token exchange for down-scoping (RFC 8693): an authenticated client with the `token_exchange` grant
/// presents a ScopeGate access token (`subject_token`) and gets a token for the same subject with no more
/// than it asks for: each requested scope must be in the subject token's effective scopes and in the
/// client's, the audience one of the client's, the lifetime no longer than the subject token's remaining
/// one. The new token names the client in `act` (nesting any `act` the subject token had). Nothing is
/// silently dropped or added: a scope beyond those is `invalid_scope`.
struct TokenExchangeGrant: GrantType {
    static let grantType = "urn:ietf:params:oauth:grant-type:token-exchange"
    static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

    var name: String { Self.grantType }
    var parameters: [String] {
        ["subject_token", "subject_token_type", "scope", "audience", "requested_token_type", "actor_token", "actor_token_type", "resource"]
    }

    func isOffered(by configuration: ServiceConfiguration) -> Bool {
        configuration.clients.clients.values.contains { $0.grantTypes.contains(.tokenExchange) }
    }

    func prepare(_ form: TokenForm) -> Result<GrantJob, GrantRefusal> {
        func invalid(_ description: String) -> Result<GrantJob, GrantRefusal> {
            .failure(GrantRefusal(response: FastAPIResponses.oauthError("invalid_request", description: description)))
        }
        guard let subjectToken = form["subject_token"] else { return invalid("subject_token is required") }
        guard let type = form["subject_token_type"] else { return invalid("subject_token_type is required") }
        guard type == Self.accessTokenType else { return invalid("subject_token_type must be \(Self.accessTokenType)") }
        if let requested = form["requested_token_type"], requested != Self.accessTokenType {
            return invalid("requested_token_type must be \(Self.accessTokenType)")
        }
        if form["actor_token"] != nil || form["actor_token_type"] != nil { return invalid("actor tokens are not supported") }
        if form["resource"] != nil {
            return .failure(
                GrantRefusal(response: FastAPIResponses.oauthError("invalid_target", description: "resource is not supported; name an audience")))
        }
        let requested = form["scope"].map { $0.split(separator: " ").map(String.init) }
        let audience = form["audience"]
        return .success(
            GrantJob(regulatedName: nil, cost: .nothing) { context in
                Self.exchange(Array(subjectToken.utf8), requested: requested, audience: audience, context: context)
            })
    }

    private static func exchange(_ subjectToken: [UInt8], requested: [String]?, audience: String?, context: GrantContext) -> GrantOutcome {
        let client: ClientRecord
        switch context.client(allowedTo: .tokenExchange, "token exchange") {
        case .success(let allowed): client = allowed
        case .failure(let refusal): return .refused(refusal, failedLogin: false)
        }
        let (subject, principal): (AuthenticatedToken, any Principal)
        do {
            (subject, principal) = try context.state.liveToken(subjectToken[...], now: context.now)
        } catch {
            // RFC 8693 §2.2.2: a subject token that is invalid for any reason is invalid_request.
            switch error {
            case .invalid(let reason): return .oauthError("invalid_request", "the subject token is not valid: \(reason)")
            case .principalGone: return .oauthError("invalid_request", "the subject token's principal no longer exists or is disabled")
            case .revoked(let reason): return .oauthError("invalid_request", "the subject token is not valid: \(reason)")
            }
        }
        let scopes = requested ?? subject.effectiveScopes
        var granted: [String] = []
        for scope in scopes where !granted.contains(scope) {
            guard subject.effectiveScopes.contains(scope) else {
                return .oauthError("invalid_scope", "scope \(quotedForMessage(scope)) is not in the subject token")
            }
            guard client.allows(scope: scope) else {
                return .oauthError("invalid_scope", "scope \(quotedForMessage(scope)) is not one this client may be granted")
            }
            granted.append(scope)
        }
        if let audience, !client.audiences.contains(audience) {
            return .oauthError("invalid_target", "audience \(quotedForMessage(audience)) is not one this client may ask for")
        }
        // The actor chain: this client, then whoever the subject token was already exchanged for.
        var actor: [String: JSONValue] = ["sub": .string(client.id)]
        if let previous = subject.token.actor { actor["act"] = previous }
        // A client's own token stays the client's (client_id = sub); a user's names the exchanging client.
        let clientID = principal.kind == .client ? principal.subject : client.id
        return .granted(
            principal: principal, scopes: granted,
            details: IssueDetails(
                audience: audience, notAfter: subject.token.expiresAt, clientID: clientID, actor: .object(actor),
                issuedTokenType: accessTokenType))
    }
}
