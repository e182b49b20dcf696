import ScopeGateCore

/// ScopeGate's API description (OpenAPI 3.1) and the Swagger UI page that shows it, as FastAPI serves them
/// on `/openapi.json` and `/docs`. The OAuth2 password flow lists the scopes of the loaded policy and users.
enum OpenAPIDocument {
    /// The version reported in `info.version`.
    static let apiVersion = "1.0.0"

    /// The document for a configuration, as compact JSON.
    static func build(for configuration: ServiceConfiguration) -> [UInt8] {
        var writer = JSONWriter()
        writer.value(document(for: configuration))
        return writer.bytes
    }

    /// Every scope the policy requires, describes or the users or clients can be granted, with its
    /// description.
    static func scopes(of configuration: ServiceConfiguration) -> [String: String] {
        var scopes: [String: String] = [:]
        for scope in configuration.clients.grantableScopes { scopes[scope] = "Granted to some clients." }
        for scope in configuration.users.grantableScopes { scopes[scope] = "Granted to some users." }
        for rule in configuration.policy.rules {
            for scope in rule.scopes where scopes[scope] == nil { scopes[scope] = "Required by the policy." }
        }
        scopes.merge(configuration.policy.scopeDescriptions) { $1 }
        return scopes
    }

    private static let security = "OAuth2PasswordBearer"

    /// The document as a value, for `/openapi.json` and the reference page.
    static func document(for configuration: ServiceConfiguration) -> JSONValue {
        let scopeMap = JSONValue.object(scopes(of: configuration).mapValues { .string($0) })
        var document: JSONValue = [
            "openapi": "3.1.0",
            "info": [
                "title": "ScopeGate",
                "version": .string(apiVersion),
                "description": "OAuth2 password-grant tokens, forward auth for reverse proxies, and the endpoints of FastAPI's OAuth2 scopes tutorial.",
            ],
            "paths": [
                "/token": ["post": tokenOperation],
                "/revoke": ["post": revokeOperation],
                "/introspect": ["post": introspectOperation],
                "/users/me/": [
                    "get": demoOperation(
                        id: "read_users_me", summary: "The current user", scopes: ["me"],
                        schema: ref("User"))
                ],
                "/users/me/items/": [
                    "get": demoOperation(
                        id: "read_own_items", summary: "The current user's items",
                        scopes: ["me", "items"], schema: ["type": "array", "items": ref("Item")])
                ],
                "/status/": [
                    "get": demoOperation(
                        id: "read_system_status", summary: "System status (any valid token)", scopes: [],
                        schema: ref("Status"))
                ],
                "/auth": ["get": forwardAuthOperation(envoy: false)],
                "/auth/{path}": ["get": forwardAuthOperation(envoy: true)],
                "/.well-known/jwks.json": ["get": jwksOperation],
                "/.well-known/oauth-authorization-server": [
                    "get": metadataOperation(id: "authorization_server_metadata", summary: "Authorization-server metadata (RFC 8414), when --issuer is set")
                ],
                "/.well-known/openid-configuration": [
                    "get": metadataOperation(
                        id: "openid_configuration",
                        summary: "The OpenID discovery fields JWT verifiers read (issuer, jwks_uri, signing algorithms), when --issuer is set")
                ],
                "/healthz": ["get": operatorOperation(id: "healthz", summary: "Liveness: the process answers", ok: ref("Status"), unavailable: false)],
                "/readyz": [
                    "get": operatorOperation(
                        id: "readyz", summary: "Readiness: configuration loaded and accepting requests",
                        ok: ref("Status"), unavailable: true)
                ],
            ],
            "components": [
                "securitySchemes": [
                    .init(stringLiteral: security): [
                        "type": "oauth2",
                        "flows": ["password": ["tokenUrl": "token", "scopes": scopeMap]],
                    ]
                ],
                "schemas": schemas,
            ],
        ]
        // The code flow, once some client may use it.
        if AuthorizationCodeGrant().isOffered(by: configuration), case .object(var members) = document, case .object(var paths)? = members["paths"] {
            paths["/authorize"] = ["get": authorizeOperation, "post": authorizeFormOperation]
            members["paths"] = .object(paths)
            document = .object(members)
        }
        return document
    }

    private static let html: JSONValue = ["text/html": ["schema": ["type": "string"]]]

    private static var authorizeOperation: JSONValue {
        let query = { (name: String, description: String) -> JSONValue in
            ["name": .string(name), "in": "query", "required": false, "schema": ["type": "string"], "description": .string(description)]
        }
        return [
            "operationId": "authorize",
            "summary": "The authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636): the sign-in and consent page",
            "parameters": [
                query("response_type", "code"), query("client_id", "A client with the authorization_code grant."),
                query("redirect_uri", "One of the client's redirect_uris (a loopback one with any port)."),
                query("scope", "Space-separated scopes to ask for."), query("state", "Returned unchanged."),
                query("code_challenge", "BASE64URL(SHA256(code_verifier)): 43 characters."), query("code_challenge_method", "S256"),
            ],
            "responses": [
                "200": ["description": "The sign-in and consent page.", "content": html],
                "302": [
                    "description": "An error sent back to the client's redirect URI, with state.",
                    "headers": ["Location": header("The redirect URI with error and state.")],
                ],
                "400": ["description": "An unknown client or redirect URI: an error page, never a redirect.", "content": html],
            ],
        ]
    }

    private static var authorizeFormOperation: JSONValue {
        [
            "operationId": "authorize_decision",
            "summary": "The sign-in and consent page's form: Allow with the ticked scopes and the credentials, or Deny",
            "requestBody": [
                "required": true,
                "content": ["application/x-www-form-urlencoded": ["schema": ["type": "object", "additionalProperties": ["type": "string"]]]],
            ],
            "responses": [
                "303": [
                    "description": "Back to the client with code and state, or with error=access_denied.", "headers": ["Location": header("The redirect URI.")],
                ],
                "400": ["description": "A malformed form, an invalid request, or wrong credentials (the page again).", "content": html],
                "403": ["description": "Not sent from ScopeGate's own page (CSRF), or a disabled account.", "content": html],
                "429": ["description": "Too many failed sign-ins (the page again).", "content": html],
                "503": ["description": "Too busy, or the store is unreachable.", "content": html],
            ],
        ]
    }

    private static func ref(_ name: String) -> JSONValue {
        ["$ref": .string("#/components/schemas/\(name)")]
    }

    private static func json(_ schema: JSONValue, description: String, headers: JSONValue? = nil) -> JSONValue {
        var response: [String: JSONValue] = ["description": .string(description), "content": ["application/json": ["schema": schema]]]
        if let headers { response["headers"] = headers }
        return .object(response)
    }

    private static func header(_ description: String) -> JSONValue {
        ["description": .string(description), "schema": ["type": "string"]]
    }

    private static let challengeHeader: JSONValue = ["WWW-Authenticate": header("Bearer challenge naming the scopes required.")]

    private static var revokeOperation: JSONValue {
        [
            "operationId": "revoke_token",
            "summary": "Revoke an access token (RFC 7009)",
            "description":
                "Revokes the token until its exp, by its jti. A token issued to a client is revoked only by that client, authenticated. Unknown or invalid tokens are answered 200 too.",
            "requestBody": [
                "required": true,
                "content": ["application/x-www-form-urlencoded": ["schema": ref("RevocationForm")]],
            ],
            "responses": [
                "200": ["description": "Revoked, or nothing to revoke."],
                "400": json(ref("OAuthError"), description: "A malformed request, or a token that cannot be revoked."),
                "401": json(
                    ref("OAuthError"), description: "invalid_client: the token's client must authenticate.",
                    headers: ["WWW-Authenticate": header("Basic realm=\"scopegate\", when Basic was used")]),
                "429": json(ref("OAuthError"), description: "Too many failed client authentications."),
                "503": json(
                    ref("OAuthError"), description: "The revocation could not be recorded; see Retry-After.",
                    headers: ["Retry-After": header("Seconds to wait.")]),
            ],
        ]
    }

    private static var introspectOperation: JSONValue {
        [
            "operationId": "introspect_token",
            "summary": "Describe a token (RFC 7662), for clients with introspect: true",
            "requestBody": [
                "required": true,
                "content": ["application/x-www-form-urlencoded": ["schema": ref("RevocationForm")]],
            ],
            "responses": [
                "200": json(ref("Introspection"), description: "active false, alone, for any token /auth would refuse."),
                "400": json(ref("OAuthError"), description: "A malformed request."),
                "401": json(
                    ref("OAuthError"), description: "invalid_client: introspection needs client authentication.",
                    headers: ["WWW-Authenticate": header("Basic realm=\"scopegate\"")]),
                "403": json(ref("OAuthError"), description: "access_denied: this client may not introspect."),
                "429": json(ref("OAuthError"), description: "Too many failed client authentications."),
                "503": json(ref("OAuthError"), description: "Too busy; see Retry-After.", headers: ["Retry-After": header("Seconds to wait.")]),
            ],
        ]
    }

    private static var tokenOperation: JSONValue {
        [
            "operationId": "login_for_access_token",
            "summary": "Tokens: the OAuth2 password grant, refresh tokens, client credentials and token exchange",
            "description":
                "The password grant checks the password and returns a signed JWT carrying the requested scopes that the user's record allows. Clients of the clients file authenticate with HTTP Basic or client_id and client_secret, and may use client_credentials (RFC 6749 §4.4) and token exchange for down-scoping (RFC 8693), as their records allow. With refresh tokens on (--refresh-token-lifetime, or a client's refresh_token grant), a login's answer carries a refresh_token, which the refresh_token grant spends for a new access token and its successor (RFC 6749 §6).",
            "requestBody": [
                "required": true,
                "content": [
                    "application/x-www-form-urlencoded": [
                        "schema": [
                            "oneOf": [
                                ref("LoginForm"), ref("RefreshForm"), ref("ClientCredentialsForm"), ref("TokenExchangeForm"), ref("AuthorizationCodeForm"),
                            ]
                        ]
                    ]
                ],
            ],
            "responses": [
                "200": json(ref("Token"), description: "A bearer token."),
                "400": json(["oneOf": [ref("HTTPError"), ref("OAuthError")]], description: "Wrong credentials or a malformed request."),
                "401": json(
                    ref("OAuthError"), description: "invalid_client, for a client that authenticated with HTTP Basic.",
                    headers: ["WWW-Authenticate": header("Basic realm=\"scopegate\"")]),
                "422": json(ref("ValidationError"), description: "A required form field is missing."),
                "429": json(
                    ["oneOf": [ref("HTTPError"), ref("OAuthError")]], description: "Too many failed logins or client authentications; see Retry-After.",
                    headers: ["Retry-After": header("Seconds to wait.")]),
                "503": json(
                    ref("HTTPError"), description: "Too many logins in progress; see Retry-After.",
                    headers: ["Retry-After": header("Seconds to wait.")]),
            ],
        ]
    }

    private static func demoOperation(id: String, summary: String, scopes: [String], schema: JSONValue) -> JSONValue {
        [
            "operationId": .string(id),
            "summary": .string(summary),
            "security": [[.init(stringLiteral: security): .array(scopes.map { .string($0) })]],
            "responses": [
                "200": json(schema, description: "Successful response."),
                "400": json(ref("HTTPError"), description: "The user is disabled."),
                "401": json(ref("HTTPError"), description: "Missing or invalid token, or a scope is missing.", headers: challengeHeader),
            ],
        ]
    }

    private static func forwardAuthOperation(envoy: Bool) -> JSONValue {
        var parameters: [JSONValue] = [
            ["name": "X-Original-URI", "in": "header", "description": "nginx: the original request target.", "schema": ["type": "string"]],
            ["name": "X-Original-Method", "in": "header", "description": "nginx: the original method.", "schema": ["type": "string"]],
            ["name": "X-Forwarded-Uri", "in": "header", "description": "Traefik, Caddy: the original request target.", "schema": ["type": "string"]],
            ["name": "X-Forwarded-Method", "in": "header", "description": "Traefik, Caddy: the original method.", "schema": ["type": "string"]],
        ]
        if envoy {
            parameters.append([
                "name": "path", "in": "path", "required": true, "description": "Envoy: the original path after the /auth prefix.",
                "schema": ["type": "string"],
            ])
        }
        let identity: JSONValue = [
            "X-Auth-User": header("The user name (empty for a client and on public routes)."),
            "X-Auth-Client": header("The client id, for a client's own token (empty for a user and on public routes)."),
            "X-Auth-Scopes": header("The granted scopes, space-separated."),
            "X-Auth-Email": header("The user's email, if any."),
            "X-Auth-Name": header("The user's full name, if any."),
        ]
        return [
            "operationId": .string(envoy ? "forward_auth_envoy" : "forward_auth"),
            "summary": .string(envoy ? "Forward auth, Envoy ext_authz style" : "Forward auth for nginx, Traefik and Caddy"),
            "description":
                "Decides whether the proxy may pass the original request it describes, by the policy's route rules. Accepted only from trusted proxies.",
            "parameters": .array(parameters),
            "security": [[:], [.init(stringLiteral: security): []]],
            "responses": [
                "200": ["description": "Allowed; identity headers for the upstream.", "headers": identity],
                "401": json(ref("HTTPError"), description: "Missing or invalid token, or (default wording) a scope is missing.", headers: challengeHeader),
                "403": json(
                    ref("HTTPError"), description: "Refused: no rule allows it, ambiguous path, untrusted peer, or (RFC 6750 wording) a scope is missing."),
            ],
        ]
    }

    private static var jwksOperation: JSONValue {
        [
            "operationId": "jwks",
            "summary": "The public keys that verify ScopeGate's tokens (JWK Set)",
            "responses": [
                "200": [
                    "description": "The key set; HMAC keys are never published.",
                    "content": ["application/jwk-set+json": ["schema": ref("JWKSet")]],
                    "headers": ["ETag": header("Strong entity tag of the set."), "Cache-Control": header("How long the set may be cached.")],
                ],
                "304": ["description": "The set is unchanged since the entity tag in If-None-Match."],
            ],
        ]
    }

    private static func metadataOperation(id: String, summary: String) -> JSONValue {
        [
            "operationId": .string(id),
            "summary": .string(summary),
            "responses": [
                "200": json(["type": "object", "required": ["issuer", "jwks_uri"]], description: "The metadata."),
                "404": json(ref("HTTPError"), description: "No --issuer is configured."),
            ],
        ]
    }

    private static func operatorOperation(id: String, summary: String, ok: JSONValue, unavailable: Bool) -> JSONValue {
        var responses: [String: JSONValue] = ["200": json(ok, description: "OK.")]
        if unavailable { responses["503"] = json(ok, description: "Not ready (starting or stopping).") }
        return ["operationId": .string(id), "summary": .string(summary), "responses": .object(responses)]
    }

    private static let stringType: JSONValue = ["type": "string"]
    private static let optionalString: JSONValue = ["type": ["string", "null"]]

    private static var schemas: JSONValue {
        [
            "JWKSet": [
                "type": "object",
                "required": ["keys"],
                "properties": [
                    "keys": [
                        "type": "array",
                        "items": [
                            "type": "object",
                            "required": ["kty", "kid", "use", "alg"],
                            "properties": ["kty": stringType, "kid": stringType, "use": stringType, "alg": stringType],
                        ],
                    ]
                ],
            ],
            "AuthorizationCodeForm": [
                "type": "object",
                "required": ["grant_type", "code", "code_verifier"],
                "properties": [
                    "grant_type": ["type": "string", "pattern": "^authorization_code$"],
                    "code": stringType,
                    "redirect_uri": stringType,
                    "code_verifier": stringType,
                    "client_id": stringType,
                    "client_secret": ["type": "string", "format": "password"],
                ],
            ],
            "LoginForm": [
                "type": "object",
                "required": ["username", "password"],
                "properties": [
                    "grant_type": ["type": "string", "pattern": "^password$"],
                    "username": stringType,
                    "password": ["type": "string", "format": "password"],
                    "scope": ["type": "string", "default": "", "description": "Space-separated scopes to request."],
                    "client_id": stringType,
                    "client_secret": ["type": "string", "format": "password"],
                ],
            ],
            "Introspection": [
                "type": "object",
                "required": ["active"],
                "properties": [
                    "active": ["type": "boolean"], "scope": stringType, "client_id": stringType, "username": stringType,
                    "token_type": stringType, "exp": ["type": "integer"], "iat": ["type": "integer"], "nbf": ["type": "integer"],
                    "aud": ["oneOf": [stringType, ["type": "array", "items": stringType]]], "sub": stringType,
                    "iss": stringType, "jti": stringType, "sid": stringType,
                ],
            ],
            "RevocationForm": [
                "type": "object",
                "required": ["token"],
                "properties": [
                    "token": ["type": "string", "minLength": 1],
                    "token_type_hint": ["type": "string", "description": "access_token or refresh_token; a hint only (RFC 7009 §2.1)."],
                    "client_id": stringType,
                    "client_secret": ["type": "string", "format": "password"],
                ],
            ],
            "RefreshForm": [
                "type": "object",
                "required": ["grant_type", "refresh_token"],
                "properties": [
                    "grant_type": ["type": "string", "const": "refresh_token"],
                    "refresh_token": ["type": "string", "minLength": 1],
                    "scope": ["type": "string", "description": "Space-separated scopes, each granted at the login; none: the login's."],
                    "client_id": stringType,
                    "client_secret": ["type": "string", "format": "password"],
                ],
            ],
            "ClientCredentialsForm": [
                "type": "object",
                "required": ["grant_type"],
                "properties": [
                    "grant_type": ["type": "string", "const": "client_credentials"],
                    "scope": ["type": "string", "description": "Space-separated scopes; none: the client's default_scopes."],
                    "audience": ["type": "string", "description": "One of the client's audiences, as the token's aud."],
                    "client_id": stringType,
                    "client_secret": ["type": "string", "format": "password"],
                ],
            ],
            "TokenExchangeForm": [
                "type": "object",
                "required": ["grant_type", "subject_token", "subject_token_type"],
                "properties": [
                    "grant_type": ["type": "string", "const": "urn:ietf:params:oauth:grant-type:token-exchange"],
                    "subject_token": ["type": "string", "description": "A ScopeGate access token."],
                    "subject_token_type": ["type": "string", "const": "urn:ietf:params:oauth:token-type:access_token"],
                    "requested_token_type": ["type": "string", "const": "urn:ietf:params:oauth:token-type:access_token"],
                    "scope": ["type": "string", "description": "Space-separated scopes, each in the subject token and the client's scopes."],
                    "audience": ["type": "string", "description": "One of the client's audiences."],
                    "client_id": stringType,
                    "client_secret": ["type": "string", "format": "password"],
                ],
            ],
            "Token": [
                "type": "object",
                "required": ["access_token", "token_type"],
                "properties": [
                    "access_token": stringType,
                    "token_type": ["type": "string", "const": "bearer"],
                    "expires_in": ["type": "integer"],
                    "refresh_token": stringType,
                    "scope": stringType,
                    "issued_token_type": ["type": "string", "description": "Token exchange only (RFC 8693)."],
                ],
            ],
            "User": [
                "type": "object",
                "required": ["username"],
                "properties": [
                    "username": stringType, "email": optionalString, "full_name": optionalString,
                    "disabled": ["type": ["boolean", "null"]],
                ],
            ],
            "Item": [
                "type": "object",
                "required": ["item_id", "owner"],
                "properties": ["item_id": stringType, "owner": stringType],
            ],
            "Status": ["type": "object", "required": ["status"], "properties": ["status": stringType]],
            "HTTPError": ["type": "object", "required": ["detail"], "properties": ["detail": stringType]],
            "OAuthError": [
                "type": "object",
                "required": ["error"],
                "properties": ["error": stringType, "error_description": stringType],
            ],
            "ValidationError": [
                "type": "object",
                "required": ["detail"],
                "properties": ["detail": ["type": "array", "items": ["type": "object"]]],
            ],
        ]
    }

    /// FastAPI's `/docs`: Swagger UI from the jsDelivr CDN, pointed at `/openapi.json`.
    /// Where Swagger UI comes from without `--docs-assets`.
    static let swaggerUICDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

    /// `/docs`: Swagger UI over `/openapi.json`, its script and stylesheet from `assets` (the CDN, or
    /// ScopeGate's `/docs/assets` with `--docs-assets`).
    static func swaggerUIPage(assets: String) -> String {
        swaggerUITemplate.split(separator: swaggerUICDN, omittingEmptySubsequences: false).joined(separator: assets)
    }

    private static let swaggerUITemplate = """
        <!DOCTYPE html>
        <html>
        <head>
        <link type="text/css" rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
        <title>ScopeGate - Swagger UI</title>
        </head>
        <body>
        <div id="swagger-ui">
        </div>
        <script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
        <script>
        const ui = SwaggerUIBundle({
            url: '/openapi.json',
            "dom_id": "#swagger-ui",
            "layout": "BaseLayout",
            "deepLinking": true,
            "showExtensions": true,
            "showCommonExtensions": true,
            oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect',
            presets: [
                SwaggerUIBundle.presets.apis,
                SwaggerUIBundle.SwaggerUIStandalonePreset
            ],
        })
        </script>
        </body>
        </html>

        """
}
