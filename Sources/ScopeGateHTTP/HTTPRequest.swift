/// A complete request as the server read it. Everything is copied out of libmicrohttpd's memory.
public struct HTTPRequest: Sendable {
    /// The method, exactly as sent (case-sensitive).
    public let method: String
    /// The request target's path as sent, percent-escapes intact, without the query.
    public let path: [UInt8]
    /// The header fields.
    public let headers: HTTPHeaders
    /// The body (capped by the server's body limit).
    public let body: [UInt8]
    /// The peer's address, when the connection is over IP.
    public let clientAddress: IPAddress?
    /// The query's arguments in order, as sent (percent-escapes intact): ``queryFields()`` decodes them.
    public let query: [(name: String, value: String)]

    /// Creates a request (the server does this; tests may too).
    public init(
        method: String, path: [UInt8], headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], clientAddress: IPAddress? = nil,
        query: [(name: String, value: String)] = []
    ) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.clientAddress = clientAddress
        self.query = query
    }

    /// The query's arguments decoded as a form's fields are (`+` a space, `%XX` a byte, UTF-8).
    public func queryFields() throws(FormError) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        for (name, value) in query { fields.append((try FormParser.decodeComponent(name), try FormParser.decodeComponent(value))) }
        return fields
    }

    /// The path as text (invalid UTF-8 replaced), for logs and routing on fixed names.
    public var pathText: String { String(decoding: path, as: UTF8.self) }
}
