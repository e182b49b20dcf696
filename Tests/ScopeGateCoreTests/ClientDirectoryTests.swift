import Foundation
import Testing

@testable import ScopeGateCore

/// The clients file: every field, every refusal with its place, and how tokens find their client.
@Suite struct ClientDirectoryTests {
    static let hash = try! ClientSecretHash.hash("worker secret", rounds: 1_000)

    @Test func loadsClients() throws {
        let yaml = """
            clients:
              billing-worker:
                secret_hashes:
                  - "\(Self.hash)"
                grant_types: [client_credentials]
                scopes: [items, invoices:read]
                default_scopes: [items]
                audiences: [billing]
                token_lifetime: 300
              reporter:
                secret_hashes: ["\(Self.hash)", "\(Self.hash)"]
                grant_types: [client_credentials, password]
                scopes: [reports]
                disabled: true
            """
        let directory = try ClientDirectory.load(yaml: yaml, file: "clients.yaml")
        let worker = try #require(directory["billing-worker"])
        #expect(worker.scopes == ["items", "invoices:read"] && worker.defaultScopes == ["items"] && worker.audiences == ["billing"])
        #expect(worker.tokenLifetime == 300 && worker.grantTypes == [.clientCredentials] && !worker.disabled)
        #expect(worker.line == 2 && worker.column == 3)
        #expect(worker.matchingHash(for: "worker secret") != nil && worker.matchingHash(for: "other") == nil)
        #expect(directory["reporter"]?.disabled == true && directory["reporter"]?.secretHashes.count == 2)
        #expect(directory["reporter"]?.grantTypes == [.clientCredentials, .password])
        #expect(directory.grantableScopes == ["invoices:read", "items", "reports"])
    }

    /// Clients of the code flow: public ones hold no secret and use only the code and refresh grants;
    /// every redirect URI is absolute, fragment-free, https (http only to loopback) or a private-use scheme.
    @Test func codeFlowClientsAndTheirRedirectURIs() throws {
        let loaded = try ClientDirectory.load(
            yaml: """
                clients:
                  spa:
                    public: true
                    grant_types: [authorization_code, refresh_token]
                    redirect_uris: ["https://app.example/cb", "http://127.0.0.1/cb", "com.example.app:/cb"]
                    scopes: [me]
                """, file: "clients.yaml")
        let spa = try #require(loaded["spa"])
        #expect(spa.isPublic && spa.secretHashes.isEmpty && spa.redirectURIs.count == 3)
        #expect(spa.registeredRedirect("http://127.0.0.1:8123/cb") == "http://127.0.0.1:8123/cb")
        #expect(spa.registeredRedirect("http://127.0.0.1:0/cb") == nil && spa.registeredRedirect("http://127.0.0.1:99999/cb") == nil)
        #expect(spa.registeredRedirect("https://app.example:443/cb") == nil && spa.registeredRedirect("https://app.example/cb/") == nil)
        let yaml = """
            clients:
              a:
                public: true
                secret_hashes: ["\(Self.hash)"]
                grant_types: [client_credentials]
                redirect_uris: ["https://ok.example/cb"]
                scopes: [me]
              b:
                secret_hashes: ["\(Self.hash)"]
                grant_types: [authorization_code]
                scopes: [me]
              c:
                secret_hashes: ["\(Self.hash)"]
                grant_types: [authorization_code]
                redirect_uris: ["/relative", "https://x.example/cb#frag", "http://app.example/cb", "javascript:alert(1)", "https:///nohost", "custom:/cb"]
                scopes: [me]
            """
        let error = try #require(throws: ConfigurationError.self) { try ClientDirectory.load(yaml: yaml, file: "clients.yaml") }
        let text = error.description
        for expected in [
            "client \"a\": a public client has no \"secret_hashes\"",
            "client \"a\": a public client may use only \"authorization_code\" and \"refresh_token\"",
            "client \"b\": \"authorization_code\" needs \"redirect_uris\"",
            "redirect URI \"/relative\" must be absolute",
            "redirect URI \"https://x.example/cb#frag\" must not have a fragment",
            "redirect URI \"http://app.example/cb\" may use http only to a loopback address",
            "redirect URI \"javascript:alert(1)\" must not use the javascript: scheme",
            "redirect URI \"https:///nohost\" must name a host",
            "redirect URI \"custom:/cb\" must use https, http to a loopback address, or a private-use scheme",
        ] {
            #expect(text.contains(expected), "missing: \(expected)\nin:\n\(text)")
        }
    }

    @Test func reportsEveryProblemWithItsPlace() throws {
        let yaml = """
            clients:
              "bad id":
                secret_hashes: ["\(Self.hash)"]
                grant_types: [client_credentials]
                scopes: [a]
              w:
                secret_hashes: ["$pbkdf2-sha256$10$c2FsdHNhbHRzYWx0$AAAA", "\(Self.hash)", "\(Self.hash)"]
                grant_types: [implicit]
                scopes: ["a b"]
                default_scopes: [c]
                audiences: [""]
                token_lifetime: 0
                disabled: maybe
                colour: blue
              x:
                grant_types: []
                scopes: [a]
              y:
                secret_hashes: ["\(Self.hash)"]
            """
        let error = try #require(throws: ConfigurationError.self) { try ClientDirectory.load(yaml: yaml, file: "clients.yaml") }
        let text = error.description
        for expected in [
            "clients.yaml:2:3: error: client \"bad id\": a client id is 1 to 128 printable ASCII characters without space",
            "clients.yaml:14:5: error: client \"w\": unknown key \"colour\"",
            "clients.yaml:7:21: error: client \"w\": secret hash is not a valid PBKDF2-SHA256 hash",
            "clients.yaml:7:20: error: client \"w\": \"secret_hashes\" holds one hash, or two while a secret is being rotated",
            "clients.yaml:8:19: error: client \"w\": grant type \"implicit\" is not one ScopeGate offers clients (client_credentials, password, token_exchange, refresh_token, authorization_code)",
            "clients.yaml:9:14: error: client \"w\": \"a b\" is not a valid scope",
            "clients.yaml:10:21: error: client \"w\": default scope \"c\" is not in its \"scopes\"",
            "clients.yaml:11:17: error: client \"w\": an audience is 1 to 256 characters with no control characters",
            "clients.yaml:12:21: error: client \"w\": \"token_lifetime\" must be 1 to 86400 seconds",
            "clients.yaml:13:15: error: client \"w\": \"disabled\" must be true or false",
            "clients.yaml:16:5: error: client \"x\": needs \"secret_hashes\"",
            "clients.yaml:16:18: error: client \"x\": \"grant_types\" must name at least one grant type",
            "clients.yaml:19:5: error: client \"y\": needs \"grant_types\"",
        ] {
            #expect(text.contains(expected), "missing: \(expected)\nin:\n\(text)")
        }
    }

    /// A client's own token names it in both `sub` and `client_id`; a user token a client obtained names
    /// the user in `sub`. Neither can stand for the other, even with one name shared.
    @Test func tokensFindTheirPrincipal() throws {
        let client = ClientRecord(id: "bob", secretHashes: [ClientSecretHash(Self.hash)!], grantTypes: [.clientCredentials], scopes: ["a"])
        let clients = ClientDirectory([client])
        let users = UserDirectory([UserRecord(username: "bob", passwordHash: seedHash, scopes: ["a"])])
        let principals = PrincipalDirectories([clients, users])
        let own = VerifiedToken(subject: "bob", scopes: ["a"], expiresAt: Date() + 60, clientID: "bob")
        let onBehalf = VerifiedToken(subject: "bob", scopes: ["a"], expiresAt: Date() + 60, clientID: "reporter")
        let plain = VerifiedToken(subject: "bob", scopes: ["a"], expiresAt: Date() + 60)
        #expect(principals.principal(for: own)?.kind == .client)
        #expect(principals.principal(for: onBehalf)?.kind == .user)
        #expect(principals.principal(for: plain)?.kind == .user)
        // A client's token never falls back to a user of the same name once the client is gone.
        #expect(PrincipalDirectories([ClientDirectory([]), users]).principal(for: own) == nil)
    }
}
