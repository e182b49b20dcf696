import Foundation
import Logging
import Testing
@testable import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateTesting

@Suite struct OpenAPITests {
    @Test func describesTheAPIWithThePolicysScopes() throws {
        let daemon = try TestDaemon()
        let response = try daemon.get("/openapi.json")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "application/json")
        // A real validator: openapi-spec-validator checks the document against the OpenAPI 3.1 schema.
        let verdict = try runPython(
            """
            import json, sys
            from openapi_spec_validator import validate
            document = json.loads(sys.argv[1])
            validate(document)
            print(document["openapi"])
            """, arguments: [response.text])
        #expect(verdict == "3.1.0")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let components = try #require(document["components"] as? [String: Any])
        let schemes = try #require(components["securitySchemes"] as? [String: Any])
        let oauth = try #require(schemes["OAuth2PasswordBearer"] as? [String: Any])
        let flows = try #require(oauth["flows"] as? [String: Any])
        let password = try #require(flows["password"] as? [String: Any])
        #expect(password["tokenUrl"] as? String == "token")
        let scopes = try #require(password["scopes"] as? [String: String])
        #expect(scopes == ["me": "Read information about the current user.", "items": "Read items.", "admin": "Use the admin area."])
        let paths = try #require(document["paths"] as? [String: Any])
        #expect(
            Set(paths.keys) == [
                "/token", "/revoke", "/introspect", "/users/me/", "/users/me/items/", "/status/", "/auth", "/auth/{path}", "/healthz", "/readyz",
                "/.well-known/jwks.json",
                "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
            ])
    }

    @Test func scopesFollowAReload() throws {
        let daemon = try TestDaemon()
        let policy = try Policy.load(yaml: "rules:\n  - path: /reports/**\n    scopes: [reports]\nscopes:\n  reports: Read reports.\n", file: "p.yaml")
        let configuration = daemon.service.configuration
        daemon.service.replace(policy: policy, users: configuration.users, keyring: configuration.keyring)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(try daemon.get("/openapi.json").body)) as? [String: Any])
        let scopes =
            ((((document["components"] as? [String: Any])?["securitySchemes"] as? [String: Any])?["OAuth2PasswordBearer"]
            as? [String: Any])?["flows"] as? [String: Any]).flatMap { ($0["password"] as? [String: Any])?["scopes"] as? [String: String] }
        // The users' grantable scopes stay listed; the new policy's scope comes with its description.
        #expect(scopes?["reports"] == "Read reports.")
        #expect(scopes?["admin"] == "Granted to some users.")
    }

    @Test func servesSwaggerUI() throws {
        let daemon = try TestDaemon()
        let page = try daemon.get("/docs")
        #expect(page.status == 200)
        #expect(page.header("Content-Type") == "text/html; charset=utf-8")
        #expect(page.text.contains("SwaggerUIBundle"))
        #expect(page.text.contains("url: '/openapi.json'"))
    }
}
