import ScopeGateCore
import ScopeGateHTTP

/// Bodies and responses worded as FastAPI words them, compact JSON.
enum FastAPIResponses {
    /// `{"detail":"…"}` with the given status.
    static func detail(_ status: Int, _ message: String, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("detail")
        writer.string(message)
        writer.raw("}")
        return .json(status, writer.bytes, headers: headers)
    }

    /// An OAuth2 error (RFC 6749 §5.2): `{"error":"…"}`, with a description when there is one.
    static func oauthError(
        _ code: String, description: String? = nil, status: Int = 400, headers: [(name: String, value: String)] = []
    ) -> HTTPResponse {
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("error")
        writer.string(code)
        if let description {
            writer.raw(",")
            writer.key("error_description")
            writer.string(description)
        }
        writer.raw("}")
        return .json(status, writer.bytes, headers: headers + noStore)
    }

    /// FastAPI's 422 for missing form fields: `{"detail":[{"type":"missing","loc":["body","username"],…}]}`.
    static func missingFields(_ names: [String]) -> HTTPResponse {
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("detail")
        writer.raw("[")
        for (index, name) in names.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.raw("{")
            writer.key("type"); writer.string("missing")
            writer.raw(","); writer.key("loc"); writer.stringArray(["body", name])
            writer.raw(","); writer.key("msg"); writer.string("Field required")
            writer.raw(","); writer.key("input"); writer.raw("null")
            writer.raw("}")
        }
        writer.raw("]}")
        return .json(422, writer.bytes, headers: noStore)
    }

    /// RFC 6749 §5.1: token responses are never cached.
    static let noStore: [(name: String, value: String)] = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]

    static let notFound = detail(404, "Not Found")

    static func methodNotAllowed(allow: String) -> HTTPResponse {
        detail(405, "Method Not Allowed", headers: [("Allow", allow)])
    }

    /// `Bearer`, or `Bearer scope="a b"` when scopes are required.
    static func bearerChallenge(scopes: [String]) -> String {
        scopes.isEmpty ? "Bearer" : "Bearer scope=\"\(scopes.joined(separator: " "))\""
    }
}

/// The token of an `Authorization` header as FastAPI's `OAuth2PasswordBearer` reads it: the text after the
/// first space when the scheme is `bearer` in any case; `nil` when there is no such header.
func bearerToken(in headers: HTTPHeaders) -> String? {
    guard let authorization = headers["Authorization"], !authorization.isEmpty else { return nil }
    let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
    guard parts[0].lowercased() == "bearer" else { return nil }
    return parts.count > 1 ? String(parts[1]) : ""
}
