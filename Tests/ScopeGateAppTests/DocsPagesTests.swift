import Foundation
import ScopeGateApp
import ScopeGateTesting
import Testing

/// `/docs` without a CDN (`--docs-assets`: a local swagger-ui-dist served from memory) and
/// `/docs/reference`, the server-rendered page that needs neither script nor network.
@Suite struct DocsPagesTests {
    @Test func docsLoadSwaggerUIFromScopeGateWhenGivenTheFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-swagger-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "window.SwaggerUIBundle = function () {};\n".write(to: folder.appendingPathComponent("swagger-ui-bundle.js"), atomically: true, encoding: .utf8)
        try ".swagger-ui {}\n".write(to: folder.appendingPathComponent("swagger-ui.css"), atomically: true, encoding: .utf8)
        try "not served".write(to: folder.appendingPathComponent("secret.txt"), atomically: true, encoding: .utf8)
        let assets = try DocsAssets(folder: folder.path)
        let local = try TestDaemon(configure: { $0.docsAssets = assets })
        let page = try local.get("/docs")
        #expect(page.text.contains(#"src="/docs/assets/swagger-ui-bundle.js""#) && page.text.contains(#"href="/docs/assets/swagger-ui.css""#))
        #expect(!page.text.contains("cdn.jsdelivr.net"))
        let script = try local.get("/docs/assets/swagger-ui-bundle.js")
        #expect(script.status == 200 && script.header("Content-Type") == "text/javascript; charset=utf-8" && script.text.contains("SwaggerUIBundle"))
        #expect(try local.get("/docs/assets/swagger-ui.css").header("Content-Type") == "text/css; charset=utf-8")
        for other in ["/docs/assets/secret.txt", "/docs/assets/../assets/swagger-ui.css", "/docs/assets/%2e%2e/secret.txt", "/docs/assets/"] {
            #expect(try local.get(other).status == 404, "\(other)")
        }
        // Without the folder: the CDN, and nothing under /docs/assets.
        let cdn = try TestDaemon()
        #expect(try cdn.get("/docs").text.contains("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"))
        #expect(try cdn.get("/docs/assets/swagger-ui-bundle.js").status == 404)
        // A folder without Swagger UI is refused at start.
        #expect(throws: DocsAssetsError.self) { _ = try DocsAssets(folder: FileManager.default.temporaryDirectory.path + "/nonexistent") }
    }

    @Test func theReferencePageListsEndpointsAndScopesWithoutScript() throws {
        let daemon = try TestDaemon()
        let page = try daemon.get("/docs/reference")
        #expect(page.status == 200 && page.header("Content-Type") == "text/html; charset=utf-8")
        #expect(page.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
        #expect(!page.text.contains("<script"))
        for expected in ["<code>/token</code>", "<code>/auth</code>", "<code>/users/me/items/</code>", "<code>me</code>", "<code>items</code>"] {
            #expect(page.text.contains(expected), "\(expected)")
        }
        #expect(page.text.contains("Read information about the current user."))
    }
}
