import ScopeGateCore
import ScopeGateHTTP

/// Reads the request a proxy asks about out of a check request, under every registered
/// ``ProxyConvention`` at once, with the rules they share:
///
/// - a header field a convention reads for the method or target may appear only once;
/// - every description of the target present (each convention's field, Envoy's path) must be the same
///   bytes, and likewise for the method, which must be an HTTP token;
/// - a `Connection` field may not name a field that describes the original request, as that asks some
///   hop to forget it.
///
/// The host and scheme are taken when given once and agreeing, and are otherwise left unknown.
struct ForwardedRequestParser: Sendable {
    /// Why a check request does not describe one original request; the reason is the 403's detail.
    struct Refusal: Error, Sendable {
        let reason: String
    }

    /// What a check request carries: the original request and the bearer credentials.
    struct Parsed: Sendable {
        let request: ForwardedRequest
        let credentials: BearerCredentials
    }

    /// The conventions ScopeGate understands, in the order their field names appear in refusals.
    static let standardConventions: [any ProxyConvention] = [
        NginxConvention(), ForwardedHeadersConvention(), EnvoyConvention(), IngressNginxConvention(),
    ]

    private struct Part: Sendable {
        let name: String
        let index: Int
    }

    private let conventions: [any ProxyConvention]
    private let wanted: HeaderSet
    private let targets: [Part]
    private let methods: [Part]
    private let hosts: [Part]
    private let schemes: [Part]
    /// The method and target parts, which may not repeat.
    private let decisive: [Part]
    private let authorization: Int
    private let connection: Int
    /// Lower-case names a `Connection` field may not name.
    private let describing: Set<String>
    private let missingTarget: String
    private let missingMethod: String

    init(conventions: [any ProxyConvention] = Self.standardConventions) {
        self.conventions = conventions
        let fields = conventions.map(\.fields)
        let names = fields.flatMap { [$0.target, $0.method, $0.host, $0.scheme].compactMap { $0 } }
        let wanted = HeaderSet(names + ["Authorization", "Connection"])
        self.wanted = wanted
        func parts(_ path: KeyPath<ForwardedFields, String?>) -> [Part] {
            fields.compactMap { $0[keyPath: path] }.map { Part(name: $0, index: wanted.index(of: $0)!) }
        }
        targets = parts(\.target)
        methods = parts(\.method)
        hosts = parts(\.host)
        schemes = parts(\.scheme)
        decisive = targets + methods
        authorization = wanted.index(of: "Authorization")!
        connection = wanted.index(of: "Connection")!
        describing = Set((names + ["X-Forwarded-For", "Authorization"]).map { $0.lowercased() })
        missingTarget = "missing original URI (\(targets.map(\.name).joined(separator: " or ")))"
        missingMethod = "missing original method (\(methods.map(\.name).joined(separator: " or ")))"
    }

    /// The original request and credentials `request` describes, or why it describes none.
    func parse(_ request: HTTPRequest) -> Result<Parsed, Refusal> {
        let found = request.headers.collect(wanted)
        for part in decisive where found[part.index].count > 1 {
            return .failure(Refusal(reason: "header \(part.name) appears more than once"))
        }
        var claimed: ForwardedClaim?
        for convention in conventions {
            if let claim = convention.claim(from: request) { claimed = claim }
        }
        guard let target = agreedTarget(found, claimed?.target) else {
            return .failure(Refusal(reason: "the original URI headers disagree"))
        }
        guard let target else { return .failure(Refusal(reason: missingTarget)) }
        let method: String
        switch agreedMethod(found, claimed?.method) {
        case .disagree: return .failure(Refusal(reason: "the original method headers disagree"))
        case .missing: return .failure(Refusal(reason: missingMethod))
        case .method(let value): method = value
        }
        guard (1...32).contains(method.utf8.count), method.utf8.allSatisfy(isTokenCharacter) else {
            return .failure(Refusal(reason: "the original method is not an HTTP method token"))
        }
        if found[connection].count > 0, let named = hopByHopName(request) {
            return .failure(Refusal(reason: "the Connection header names \(named)"))
        }
        var host = single(hosts, found)
        if let claimedHost = claimed?.host {
            // The check request's own Host is the original's; a forwarded host that disagrees, or repeats,
            // leaves none.
            let contradicted = hosts.contains { found[$0.index].count > 1 } || host.map { !$0.elementsEqual(claimedHost) } == true
            host = contradicted ? nil : claimedHost
        }
        let forwarded = ForwardedRequest(method: method, target: target, host: host, scheme: single(schemes, found))
        let credentials = BearerCredentials(first: found[authorization].first, count: found[authorization].count)
        return .success(Parsed(request: forwarded, credentials: credentials))
    }

    /// The one value every present description gives: `.some(nil)` when none is present, nil when they
    /// disagree.
    private func agreed(_ parts: [Part], _ found: CollectedHeaders, _ claimed: ArraySlice<UInt8>?) -> ArraySlice<UInt8>?? {
        var value = claimed
        for part in parts {
            guard let given = found[part.index].first else { continue }
            if let value, !value.elementsEqual(given) { return nil }
            value = value ?? given
        }
        return .some(value)
    }

    /// The target every present description gives, as ``agreed(_:_:_:)``, except that an absolute-form
    /// description (`https://app.example.com/x`) and an origin-form one (`/x`) of the same target agree,
    /// and the absolute one, which names the host too, is kept.
    private func agreedTarget(_ found: CollectedHeaders, _ claimed: ArraySlice<UInt8>?) -> ArraySlice<UInt8>?? {
        var value = claimed
        for part in targets {
            guard let given = found[part.index].first else { continue }
            guard let current = value else {
                value = given
                continue
            }
            if current.elementsEqual(given) { continue }
            let currentIsAbsolute = current.first != UInt8(ascii: "/")
            guard currentIsAbsolute != (given.first != UInt8(ascii: "/")), let a = Self.originForm(of: current), let b = Self.originForm(of: given),
                a.elementsEqual(b)
            else { return nil }
            if !currentIsAbsolute { value = given }
        }
        return .some(value)
    }

    /// The origin form (`/x?q`) of a target: itself when it is one, the part after the authority of an
    /// absolute-form `http`/`https` target; nil otherwise.
    private static func originForm(of target: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        if target.first == UInt8(ascii: "/") { return target }
        guard let schemeEnd = target.firstIndex(of: UInt8(ascii: ":")),
            ["http", "https"].contains(String(decoding: target[..<schemeEnd], as: UTF8.self).lowercased()),
            target[schemeEnd...].starts(with: Array("://".utf8))
        else { return nil }
        let authority = target[(schemeEnd + 3)...]
        guard let slash = authority.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }),
            authority[slash] == UInt8(ascii: "/")
        else { return nil }
        return authority[slash...]
    }

    private enum MethodAgreement {
        case method(String)
        case missing
        case disagree
    }

    private func agreedMethod(_ found: CollectedHeaders, _ claimed: String?) -> MethodAgreement {
        guard let bytes = agreed(methods, found, nil) else { return .disagree }
        switch (bytes.map { String(decoding: $0, as: UTF8.self) }, claimed) {
        case (let header?, let own?): return header == own ? .method(header) : .disagree
        case (let header?, nil): return .method(header)
        case (nil, let own?): return .method(own)
        case (nil, nil): return .missing
        }
    }

    /// A value given by exactly one field of the parts, or by several that agree; nil otherwise.
    private func single(_ parts: [Part], _ found: CollectedHeaders) -> ArraySlice<UInt8>? {
        guard parts.allSatisfy({ found[$0.index].count <= 1 }), let value = agreed(parts, found, nil) else { return nil }
        return value
    }

    /// The first describing field a `Connection` field names, lower-cased.
    private func hopByHopName(_ request: HTTPRequest) -> String? {
        request.headers.rawValues("Connection")
            .flatMap { String(decoding: $0, as: UTF8.self).split(separator: ",") }
            .map { $0.trimmingWhitespace().lowercased() }
            .first(where: describing.contains)
    }
}
