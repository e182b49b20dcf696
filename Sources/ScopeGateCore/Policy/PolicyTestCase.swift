/// One case of a policy's test table (`scopegate policy test`): a request, who makes it, and the status
/// `/auth` must answer.
public struct PolicyTestCase: Sendable, Equatable {
    /// Who carries the token, if anyone.
    public enum Caller: Sendable, Equatable {
        case nobody
        case user(String)
        case client(String)
    }

    public let name: String
    public let method: String
    public let host: String?
    /// The original target, such as `/users/me/items/?page=2`.
    public let path: String
    public let caller: Caller
    /// The token's scopes; nil: every scope the principal may have.
    public let scopes: [String]?
    /// The status `/auth` must answer: 200, 401 or 403.
    public let expect: Int
    /// Where the case is written.
    public let line: Int

    /// The keys a case may have.
    static let keys = ["name", "method", "host", "path", "user", "client", "scopes", "expect"]

    /// Loads a cases file:
    ///
    /// ```yaml
    /// cases:
    ///   - name: admin area needs the admin scope
    ///     method: GET                # default: GET
    ///     host: admin.example.com    # optional
    ///     path: /users
    ///     user: carol                # or client: billing-worker; neither: no token
    ///     scopes: [admin]            # the token's scopes; default: all the principal may have
    ///     expect: 200
    /// ```
    public static func load(yaml text: String, file: String) throws(ConfigurationError) -> [PolicyTestCase] {
        var document = YAMLDocument(file: file)
        guard let root = document.root(of: text) else { throw ConfigurationError(diagnostics: document.diagnostics) }
        var cases: [PolicyTestCase] = []
        if let top = document.members(of: root, what: "the cases file", allowed: ["cases"]) {
            if let list = top["cases"]?.value, case .sequence(let items) = list {
                for item in items {
                    if let loaded = loadCase(item, document: &document) { cases.append(loaded) }
                }
                if cases.isEmpty && document.diagnostics.isEmpty { document.error(at: list, "\"cases\" is empty") }
            } else {
                document.error(at: root, "the cases file needs a \"cases\" list")
            }
        }
        guard document.diagnostics.isEmpty else { throw ConfigurationError(diagnostics: document.diagnostics) }
        return cases
    }

    private static func loadCase(_ node: YAMLNode, document: inout YAMLDocument) -> PolicyTestCase? {
        guard let members = document.members(of: node, what: "a case", allowed: keys) else { return nil }
        let errorsBefore = document.diagnostics.count
        let line = node.mark.line
        let name = members["name"].flatMap { document.string($0.value, what: "\"name\"") } ?? "case at line \(line)"
        let label = "case \(quotedForMessage(name))"
        let method = members["method"].flatMap { document.string($0.value, what: "\(label): \"method\"") } ?? "GET"
        if !PolicyRule.knownMethods.contains(method) {
            document.error(at: members["method"]?.value ?? node, "\(label): unknown method \(quotedForMessage(method))")
        }
        let host = members["host"].flatMap { document.string($0.value, what: "\(label): \"host\"") }
        guard let pathNode = members["path"]?.value, let path = document.string(pathNode, what: "\(label): \"path\"") else {
            document.error(at: node, "\(label): needs a \"path\"")
            return nil
        }
        let user = members["user"].flatMap { document.string($0.value, what: "\(label): \"user\"") }
        let client = members["client"].flatMap { document.string($0.value, what: "\(label): \"client\"") }
        if user != nil && client != nil { document.error(at: node, "\(label): give \"user\" or \"client\", not both") }
        let caller: Caller = user.map(Caller.user) ?? client.map(Caller.client) ?? .nobody
        var scopes: [String]?
        if let value = members["scopes"]?.value, let list = document.strings(value, what: "\(label): \"scopes\"") {
            if caller == .nobody { document.error(at: value, "\(label): \"scopes\" needs a \"user\" or \"client\" to carry them") }
            scopes = list.map(\.0)
        }
        var expect = 0
        if let value = members["expect"]?.value, let text = document.string(value, what: "\(label): \"expect\"") {
            if let status = Int(text), [200, 401, 403].contains(status) {
                expect = status
            } else {
                document.error(at: value, "\(label): \"expect\" is \(quotedForMessage(text)); /auth answers 200, 401 or 403")
            }
        } else {
            document.error(at: node, "\(label): needs \"expect\" (200, 401 or 403)")
        }
        guard document.diagnostics.count == errorsBefore else { return nil }
        return PolicyTestCase(name: name, method: method, host: host, path: path, caller: caller, scopes: scopes, expect: expect, line: line)
    }
}
