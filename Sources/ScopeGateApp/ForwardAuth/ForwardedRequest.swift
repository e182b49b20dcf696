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

    /// The authority and scheme of an absolute-form target (`https://admin.example.com/x`); nil for the
    /// origin form (`/x`).
    var targetAuthority: (authority: ArraySlice<UInt8>, scheme: String)? {
        guard let first = target.first, first != UInt8(ascii: "/") else { return nil }
        for scheme in ["https", "http"] {
            let prefix = Array((scheme + "://").utf8)
            guard target.count > prefix.count, zip(target.prefix(prefix.count), prefix).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) else { continue }
            let rest = target.dropFirst(prefix.count)
            let end = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? rest.endIndex
            return (rest[..<end], scheme)
        }
        return nil
    }

    /// A forwarded scheme as a lower-case name; `http` and `https` (the usual ones) without building a string.
    private static func schemeName(_ bytes: ArraySlice<UInt8>) -> String {
        func matches(_ name: String) -> Bool {
            bytes.count == name.utf8.count && name.utf8.elementsEqual(bytes.lazy.map { $0 | 0x20 })
        }
        if matches("https") { return "https" }
        if matches("http") { return "http" }
        return String(decoding: bytes, as: UTF8.self).lowercased()
    }

    /// The original host in canonical form, or why there is no usable one: the forwarded host, else the
    /// authority of an absolute-form target; when both are given they must name the same host (a
    /// forwarded host without a port, as nginx's `$host` is, agrees with the authority's name whatever its
    /// port, and is the one used). The scheme is the forwarded one or the target's, which must agree when
    /// both are given. nil: no host given.
    func canonicalHost() -> Result<CanonicalHost?, HostRefusal> {
        let fromTarget = targetAuthority
        let forwardedScheme = self.scheme.map(Self.schemeName)
        if let forwardedScheme, let targetScheme = fromTarget?.scheme, forwardedScheme != targetScheme {
            // The scheme decides which port is the default one: two answers leave no host.
            return .failure(HostRefusal(reason: "the original URI's scheme is \(targetScheme) but the forwarded scheme is \(forwardedScheme)"))
        }
        let scheme = forwardedScheme ?? fromTarget?.scheme
        var host: CanonicalHost?
        if let raw = self.host {
            do {
                host = try CanonicalHost(raw, scheme: scheme)
            } catch {
                return .failure(HostRefusal(reason: "ambiguous original host: \(error)"))
            }
        }
        guard let fromTarget else { return .success(host) }
        let authority: CanonicalHost
        do {
            authority = try CanonicalHost(fromTarget.authority, scheme: scheme)
        } catch {
            return .failure(HostRefusal(reason: "ambiguous authority in the original URI: \(error)"))
        }
        guard let host else { return .success(authority) }
        guard host.name == authority.name, host.port == nil || host.port == authority.port else {
            return .failure(HostRefusal(reason: "the original URI names host \(authority) but the forwarded host is \(host)"))
        }
        return .success(host)
    }
}

/// Why a forwarded request has no usable host; the 403's detail.
struct HostRefusal: Error, Sendable {
    let reason: String
}
