import ScopeGateHTTP

/// One way a proxy tells ScopeGate which request it asks about. A convention names the header fields it
/// reads for each part of the original request and may read the check request itself (Envoy's path
/// prefix); ``ForwardedRequestParser`` applies the rules every convention shares: a field a convention
/// reads may appear once, and every description present must agree.
///
/// A new proxy convention is one conforming type in `Conventions/` and one entry in
/// ``ForwardedRequestParser/standardConventions``.
protocol ProxyConvention: Sendable {
    /// The header fields this convention reads, by the part of the original request they carry.
    var fields: ForwardedFields { get }
    /// What the check request itself says about the original request; nil when it does not use this
    /// convention.
    func claim(from request: HTTPRequest) -> ForwardedClaim?
}

extension ProxyConvention {
    func claim(from request: HTTPRequest) -> ForwardedClaim? { nil }
}

/// The header field names (in their usual spelling) a convention reads for each part of the original request.
struct ForwardedFields: Sendable {
    var method: String?
    var target: String?
    var host: String?
    var scheme: String?
}

/// The original method and target (and host) as the check request itself carries them.
struct ForwardedClaim: Sendable {
    var method: String
    var target: ArraySlice<UInt8>
    /// The original host, when the check request's own `Host` is it (Envoy).
    var host: ArraySlice<UInt8>? = nil
}
