import ScopeGateCore

/// The request a proxy asks about: its method, its scheme and host when the proxy says them, its raw
/// target and that target's canonical path (or why it has none). Built by ``ForwardedRequestParser`` from a
/// check request, or directly (as `scopegate explain` does).
struct ForwardedRequest: Sendable {
    /// The original method, an HTTP token.
    let method: String
    /// The original target's bytes as the proxy sent them (a slice of the check request's own buffer).
    let target: ArraySlice<UInt8>
    /// The original host as the proxy sent it, when it sent it once; nil when absent, repeated or
    /// contradicted, so nothing may rely on it without checking.
    let host: ArraySlice<UInt8>?
    /// The original scheme as the proxy sent it, under the same rule as `host`.
    let scheme: ArraySlice<UInt8>?
    /// The target's canonical path, or the reason it is ambiguous.
    let path: Result<CanonicalPath, PathError>

    /// A forwarded request; the target is canonicalized here.
    init(method: String, target: ArraySlice<UInt8>, host: ArraySlice<UInt8>? = nil, scheme: ArraySlice<UInt8>? = nil) {
        self.method = method
        self.target = target
        self.host = host
        self.scheme = scheme
        do {
            path = .success(try CanonicalPath(target: target))
        } catch {
            path = .failure(error)
        }
    }
}
