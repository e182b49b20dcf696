import ScopeGateCore

extension ScopeGateService {
    /// ``ReturnAddress/check(_:policy:ownHost:)``, for tests.
    static func returnAddress(_ address: String, policy: Policy, ownHost: String?, domain: String? = nil) -> String? {
        ReturnAddress.check(address, policy: policy, ownHost: ownHost, domain: domain)
    }
}

/// Where `/signin` may send a browser once it is signed in (`rd`): a path on ScopeGate's own host, or an
/// `http(s)` URL whose host is ScopeGate's or one the policy names. Everything the open-redirect tricks
/// of other forward-auth services use is refused: a scheme-relative `//evil.example`, backslashes
/// (`/\evil.example`, which browsers read as `//`), tabs and other control characters (`/\t/evil.example`,
/// dropped by browsers), their percent-encoded forms (`%09`, `%5c`, `%2f%2f`), user information
/// (`https://app.example@evil.example`), and hosts that only end like a known one (`evilexample.com`).
enum ReturnAddress {
    /// `address` when it is safe to redirect to, else nil. `domain` (`--session-domain`): its hosts, the
    /// ones the session cookie reaches, are ScopeGate's too.
    static func check(_ address: String, policy: Policy, ownHost: String?, domain: String? = nil) -> String? {
        guard !address.isEmpty, address.utf8.count <= 2048 else { return nil }
        // Printable ASCII only, and nothing a browser reads as a slash or drops.
        guard address.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "\\") }) else { return nil }
        let lowered = address.lowercased()
        for encoded in ["%09", "%0a", "%0d", "%00", "%5c"] where lowered.contains(encoded) { return nil }
        if address.hasPrefix("/") {
            // A path on this host: never "//…" (another host), spelled out or encoded.
            guard !address.hasPrefix("//"), !lowered.hasPrefix("/%2f") else { return nil }
            return address
        }
        let scheme: String
        if lowered.hasPrefix("https://") {
            scheme = "https"
        } else if lowered.hasPrefix("http://") {
            scheme = "http"
        } else {
            return nil
        }
        let rest = address.dropFirst(scheme.count + 3)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@"), let host = try? CanonicalHost(Array(authority.utf8), scheme: scheme) else { return nil }
        let name = host.description
        if let domain, host.name == domain || host.name.hasSuffix("." + domain) { return address }
        if let ownHost, let own = try? CanonicalHost(Array(ownHost.utf8), scheme: scheme), own.description == name { return address }
        let known = policy.rules.flatMap(\.hosts).contains { pattern in
            switch pattern {
            case .exact(let exact): exact == name
            case .suffix(let suffix): name.hasSuffix("." + suffix)
            }
        }
        return known ? address : nil
    }
}
