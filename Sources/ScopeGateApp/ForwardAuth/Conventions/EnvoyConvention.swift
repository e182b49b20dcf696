import ScopeGateHTTP

/// Envoy `ext_authz` with `path_prefix: /auth`: the check request is the original one with `/auth` in
/// front of its path, and keeps its method and its `Host`.
struct EnvoyConvention: ProxyConvention {
    var fields: ForwardedFields { ForwardedFields() }

    func claim(from request: HTTPRequest) -> ForwardedClaim? {
        // "/auth" is the endpoint itself; anything longer carries the original path after the prefix.
        guard request.path.count > Self.prefixLength else { return nil }
        let hosts = request.headers.rawValues("Host")
        return ForwardedClaim(
            method: request.method, target: request.path[Self.prefixLength...], host: hosts.count == 1 ? hosts[0][...] : nil)
    }

    private static let prefixLength = "/auth".utf8.count
}
