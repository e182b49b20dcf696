public import FoundationEssentials
import ScopeGateCore
import ScopeGateHTTP

/// A local copy of Swagger UI (`--docs-assets DIR`, a `swagger-ui-dist` folder) for `/docs`, read once at
/// start and served from memory under `/docs/assets/`: `/docs` then needs no CDN, as machines without
/// internet access (many internal networks) need.
public struct DocsAssets: Sendable {
    /// The files `/docs` loads.
    public static let required = ["swagger-ui-bundle.js", "swagger-ui.css"]
    /// File name → its answer.
    let files: [String: HTTPResponse]

    /// Reads the required files (and `favicon-32x32.png` when there is one) from `folder`.
    public init(folder: String) throws(DocsAssetsError) {
        var files: [String: HTTPResponse] = [:]
        for name in Self.required + ["favicon-32x32.png"] {
            let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else {
                if Self.required.contains(name) { throw DocsAssetsError(description: "\(folder) has no \(name) (a swagger-ui-dist folder has it)") }
                continue
            }
            let type =
                name.hasSuffix(".js") ? "text/javascript; charset=utf-8" : name.hasSuffix(".css") ? "text/css; charset=utf-8" : "image/png"
            files[name] = HTTPResponse(
                status: 200, headers: [("Content-Type", type), ("Cache-Control", "public, max-age=86400"), ("X-Content-Type-Options", "nosniff")],
                body: Array(data)
            ).prepared()
        }
        self.files = files
    }

    /// `/docs/assets/NAME`, or nil for any other name (nothing else is ever read from the folder).
    func answer(_ path: String) -> HTTPResponse? {
        guard path.hasPrefix("/docs/assets/") else { return nil }
        return files[String(path.dropFirst("/docs/assets/".count))]
    }
}

/// Why `--docs-assets` cannot be used.
public struct DocsAssetsError: Error, CustomStringConvertible {
    public let description: String
}

/// `/docs/reference`: ScopeGate's API on one server-rendered page (the endpoints, the scopes with their
/// descriptions, how to get a token), which needs neither JavaScript nor a CDN.
enum ReferencePage {
    static func build(for configuration: ServiceConfiguration) -> HTTPResponse {
        let document = OpenAPIDocument.document(for: configuration)
        var body = "<h1>ScopeGate API reference</h1>\n"
        body += "<p>The machine-readable description is <a href=\"/openapi.json\"><code>/openapi.json</code></a>; "
        body += "<a href=\"/docs\">/docs</a> shows it in Swagger UI.</p>\n"
        body += "<h2>Getting a token</h2>\n"
        body += "<p>The password grant, as in FastAPI's tutorial:</p>\n<pre><code>curl -X POST http://SCOPEGATE/token \\\n"
        body += "  -d username=NAME -d password=PASSWORD -d 'scope=SCOPES'</code></pre>\n"
        body += "<p>The answer's <code>access_token</code> goes in <code>Authorization: Bearer …</code>.</p>\n"
        if AuthorizationCodeGrant().isOffered(by: configuration) {
            body += "<p>Applications send their users to <code>GET /authorize</code> (the authorization code flow with PKCE, S256) "
            body += "and trade the code at <code>/token</code> with <code>grant_type=authorization_code</code>.</p>\n"
        }
        body +=
            "<h2>Endpoints</h2>\n<table>\n<thead><tr><th scope=\"col\">Method</th><th scope=\"col\">Path</th><th scope=\"col\">What it does</th></tr></thead>\n<tbody>\n"
        if case .object(let paths)? = document["paths"] {
            for path in paths.keys.sorted() {
                guard case .object(let operations)? = paths[path] else { continue }
                for method in ["get", "post", "put", "delete"] {
                    guard let operation = operations[method] else { continue }
                    let summary = operation["summary"]?.stringValue ?? ""
                    body +=
                        "<tr><td><code>\(method.uppercased())</code></td><td><code>\(HTMLPage.escape(path))</code></td><td>\(HTMLPage.escape(summary))</td></tr>\n"
                }
            }
        }
        body += "</tbody>\n</table>\n<h2>Scopes</h2>\n"
        let scopes = OpenAPIDocument.scopes(of: configuration)
        if scopes.isEmpty {
            body += "<p>No scope is defined.</p>\n"
        } else {
            body += "<table>\n<thead><tr><th scope=\"col\">Scope</th><th scope=\"col\">Meaning</th></tr></thead>\n<tbody>\n"
            for scope in scopes.keys.sorted() {
                body += "<tr><td><code>\(HTMLPage.escape(scope))</code></td><td>\(HTMLPage.escape(scopes[scope] ?? ""))</td></tr>\n"
            }
            body += "</tbody>\n</table>\n"
        }
        return HTMLPage.response(status: 200, title: "API reference", body: body).prepared()
    }
}
