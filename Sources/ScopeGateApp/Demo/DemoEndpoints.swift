import ScopeGateCore
import ScopeGateHTTP

extension ScopeGateService {
    /// `/users/me/`, `/users/me/items/` and `/status/`, answered exactly as FastAPI's OAuth2 scopes tutorial
    /// answers them, including the order of its checks.
    func demoEndpoint(_ request: HTTPRequest) -> HTTPResponse {
        let path = request.pathText
        // The tutorial lists the path operation's scopes before its dependency's.
        let required: [String] =
            switch path {
            case "/users/me/items/": ["items", "me"]
            case "/users/me/": ["me"]
            default: []
            }
        let challenge = [("WWW-Authenticate", FastAPIResponses.bearerChallenge(scopes: required))]
        guard let token = bearerToken(in: request.headers) else {
            return FastAPIResponses.detail(401, "Not authenticated", headers: [("WWW-Authenticate", "Bearer")])
        }
        let state = current
        guard let verified = try? state.verifier.verify(token, now: clock()),
            let user = state.configuration.users[verified.subject]
        else {
            return FastAPIResponses.detail(401, "Could not validate credentials", headers: challenge)
        }
        for scope in required where !verified.scopes.contains(scope) {
            return FastAPIResponses.detail(401, "Not enough permissions", headers: challenge)
        }
        if path == "/status/" {
            return .json(200, Array(#"{"status":"ok"}"#.utf8))
        }
        if user.disabled {
            return FastAPIResponses.detail(400, "Inactive user")
        }
        var writer = JSONWriter()
        if path == "/users/me/" {
            writer.raw("{")
            writer.key("username"); writer.string(user.username)
            writer.raw(","); writer.key("email"); writer.string(orNull: user.email)
            writer.raw(","); writer.key("full_name"); writer.string(orNull: user.fullName)
            writer.raw(","); writer.key("disabled"); writer.bool(user.disabled)
            writer.raw("}")
        } else {
            writer.raw("[{")
            writer.key("item_id"); writer.string("Foo")
            writer.raw(","); writer.key("owner"); writer.string(user.username)
            writer.raw("}]")
        }
        return .json(200, writer.bytes)
    }
}
