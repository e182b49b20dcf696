public import FoundationEssentials

/// Why a bearer token was refused. Messages say what was wrong and never contain the token itself.
public enum TokenError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(length: Int, limit: Int)
    case malformed(String)
    case unsupportedAlgorithm(String)
    case unknownKey(kid: String)
    case criticalExtension([String])
    case unsupportedHeader(String)
    case badSignature
    case missingClaim(String)
    case invalidClaim(String, reason: String)
    case expired(at: Date, now: Date)
    case notYetValid(at: Date, now: Date)
    case issuedInFuture(at: Date, now: Date)
    case wrongIssuer
    case wrongAudience

    public var description: String {
        switch self {
        case .tooLarge(let length, let limit): "token is \(length) bytes long; the limit is \(limit)"
        case .malformed(let reason): "malformed token: \(reason)"
        case .unsupportedAlgorithm(let alg): "algorithm \(quotedForMessage(alg, limit: 32)) is not the one configured for this key"
        case .unknownKey(let kid): "unknown key id \(quotedForMessage(kid))"
        case .criticalExtension(let names):
            "token requires extensions ScopeGate does not implement: \(names.map { quotedForMessage($0, limit: 32) }.joined(separator: ", "))"
        case .unsupportedHeader(let name): "header parameter \"\(name)\" is not accepted"
        case .badSignature: "signature does not match"
        case .missingClaim(let name): "claim \"\(name)\" is required"
        case .invalidClaim(let name, let reason): "claim \"\(name)\" \(reason)"
        case .expired(let at, let now): "token expired at \(at.formatted(.iso8601)) (now \(now.formatted(.iso8601)))"
        case .notYetValid(let at, let now): "token is not valid before \(at.formatted(.iso8601)) (now \(now.formatted(.iso8601)))"
        case .issuedInFuture(let at, let now): "token is issued in the future, at \(at.formatted(.iso8601)) (now \(now.formatted(.iso8601)))"
        case .wrongIssuer: "token was issued by another issuer"
        case .wrongAudience: "token is not meant for this audience"
        }
    }
}
