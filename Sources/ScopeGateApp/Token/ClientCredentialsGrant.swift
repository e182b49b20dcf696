import FoundationEssentials
import Logging
import ScopeGateCore
import ScopeGateHTTP

/// The client credentials grant (RFC 6749 §4.4): an authenticated client gets a token in its own name
/// (`sub` and `client_id` are its id) for the scopes it asks for that its record allows, or its
/// `default_scopes` when it asks for none, and an `aud` from its `audiences` when it names one. No
/// refresh token. Errors are RFC 6749 §5.2 bodies.
struct ClientCredentialsGrant: GrantType {
    var name: String { "client_credentials" }
    var parameters: [String] { ["scope", "audience"] }

    func isOffered(by configuration: ServiceConfiguration) -> Bool {
        configuration.clients.clients.values.contains { $0.grantTypes.contains(.clientCredentials) }
    }

    func prepare(_ form: TokenForm) -> Result<GrantJob, GrantRefusal> {
        let requested = (form["scope"] ?? "").split(separator: " ").map(String.init)
        let audience = form["audience"]
        return .success(
            GrantJob(regulatedName: nil, cost: .nothing) { context in
                Self.grant(requested: requested, audience: audience, context: context)
            })
    }

    private static func grant(requested: [String], audience: String?, context: GrantContext) -> GrantOutcome {
        let client: ClientRecord
        switch context.client(allowedTo: .clientCredentials, "the client_credentials grant") {
        case .success(let allowed): client = allowed
        case .failure(let refusal): return .refused(refusal, failedLogin: false)
        }
        if let audience, !client.audiences.contains(audience) {
            return .oauthError("invalid_scope", "audience \(quotedForMessage(audience)) is not one this client may ask for")
        }
        var granted: [String] = []
        for scope in requested.isEmpty ? client.defaultScopes : requested where client.allows(scope: scope) && !granted.contains(scope) {
            granted.append(scope)
        }
        guard !granted.isEmpty else {
            let description =
                requested.isEmpty ? "no scope was requested and this client has no default_scopes" : "none of the requested scopes is allowed for this client"
            return .oauthError("invalid_scope", description)
        }
        return .granted(principal: client, scopes: granted, details: IssueDetails(audience: audience))
    }
}
