import FoundationEssentials
import ScopeGateCore

/// Where forward auth finds tokens it verified before. ``VerifiedTokenCache`` keeps them in memory for
/// one state; the contract any cache keeps: a hit is still checked against `exp`, only tokens that passed
/// verification are stored, and a miss verifies with the given verifier.
protocol TokenCache: Sendable {
    /// The authenticated token for `bytes`: cached while it has not expired, else verified now by `verifier`.
    func entry(_ bytes: ArraySlice<UInt8>, with verifier: TokenVerifier, now: Date) throws(TokenError) -> AuthenticatedToken
}
