import ScopeGateHTTP

/// The parameters of a token request that some grant reads, each given at most once.
struct TokenForm: Sendable {
    private let values: [String: String]
    /// The address the request comes from (the client's, through trusted proxies).
    let clientAddress: IPAddress?

    init(values: [String: String], clientAddress: IPAddress?) {
        self.values = values
        self.clientAddress = clientAddress
    }

    /// A parameter's value; FastAPI treats an empty value as missing, and so does ScopeGate.
    subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }
}
