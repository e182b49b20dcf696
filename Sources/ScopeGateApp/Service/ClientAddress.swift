import ScopeGateCore
import ScopeGateHTTP

extension ScopeGateService {
    /// The address a request comes from: the peer, or, when the peer is a trusted proxy, the nearest
    /// untrusted address in `X-Forwarded-For` (read from the right, as only trusted proxies appended to it).
    func clientAddress(of request: HTTPRequest, trusting trusted: [CIDRRange]) -> IPAddress? {
        guard let peer = request.clientAddress else { return nil }
        let isTrusted = { (address: IPAddress) in trusted.contains { $0.contains(address) } }
        guard isTrusted(peer) else { return peer }
        let hops = request.headers.rawValues("X-Forwarded-For")
            .flatMap { String(decoding: $0, as: UTF8.self).split(separator: ",") }
            .map { $0.trimmingWhitespace() }
        for hop in hops.reversed() {
            guard let address = IPAddress(hop) else { return peer }
            if !isTrusted(address) { return address }
        }
        return peer
    }
}
