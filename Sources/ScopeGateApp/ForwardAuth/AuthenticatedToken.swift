import ScopeGateCore
import ScopeGateHTTP

/// A verified token resolved against one state's principal directories once: its principal, the scopes
/// that principal's record still allows, and the forward-auth answer that allows it (the identity headers
/// depend only on the token and the principal), built once into libmicrohttpd's form.
final class AuthenticatedToken: Sendable {
    /// The token as received: the key it is cached under.
    let bytes: [UInt8]
    let token: VerifiedToken
    /// The token's principal, nil when no directory has it any more.
    let principal: (any Principal)?
    /// The token's scopes that its principal's record still allows (a scope removed from the record stops
    /// working at once, even in tokens issued before), in the token's order.
    let effectiveScopes: [String]
    /// The answer for a request this token is allowed; nil when the principal is gone or disabled.
    let allowAnswer: HTTPResponse?

    init(_ token: VerifiedToken, bytes: [UInt8], principals: PrincipalDirectories, identityTokenHeaders: [String] = []) {
        self.bytes = bytes
        self.token = token
        let principal = principals.principal(for: token)
        self.principal = principal
        let effectiveScopes = principal.map { principal in token.scopes.filter(principal.allows(scope:)) } ?? []
        self.effectiveScopes = effectiveScopes
        allowAnswer = principal.flatMap {
            $0.isDisabled
                ? nil : IdentityHeaders.allowAnswer(for: $0, scopes: effectiveScopes, extra: IdentityHeaders.emptyTokens(identityTokenHeaders)).prepared()
        }
    }
}
