import ScopeGateHTTP

/// ScopeGate's own pages (sign-in and consent, errors): small, server-rendered HTML with a stylesheet
/// served by ScopeGate (`/static/scopegate.css`), no script, no CDN. Every value written into a page goes
/// through ``escape(_:)``; every page forbids framing, inline script and style, and being cached.
enum HTMLPage {
    /// `text` with the five characters that can end an HTML text or attribute value written as
    /// references, so that no value can open a tag or leave its quotes.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// A whole page: `title` (escaped here) and `body` (already HTML, its values escaped by the caller).
    /// `formTargets`: the origins a form on the page may be sent to and redirected to (CSP `form-action`),
    /// beside ScopeGate itself.
    static func response(
        status: Int, title: String, body: String, formTargets: [String] = [], headers: [(name: String, value: String)] = []
    ) -> HTTPResponse {
        let html = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · ScopeGate</title>
            <link rel="stylesheet" href="/static/scopegate.css">
            </head>
            <body>
            <main>
            \(body)
            </main>
            </body>
            </html>

            """
        let formAction = (["'self'"] + formTargets).joined(separator: " ")
        return HTTPResponse(
            status: status,
            headers: [
                ("Content-Type", "text/html; charset=utf-8"),
                (
                    "Content-Security-Policy",
                    "default-src 'none'; style-src 'self'; img-src 'self'; form-action \(formAction); frame-ancestors 'none'; base-uri 'none'"
                ),
                ("X-Frame-Options", "DENY"),
                ("X-Content-Type-Options", "nosniff"),
                // same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with the
                // page's own form, which the form's check would take for another site's.
                ("Referrer-Policy", "same-origin"),
                ("Cache-Control", "no-store"),
            ] + headers,
            body: Array(html.utf8))
    }

    /// A form's name and password fields (the name kept from a try before, if any), labelled.
    static func credentialFields(username: String?) -> String {
        """
        <label for="username">Username</label>
        <input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false"\
        \(username.map { " value=\"\(escape($0))\"" } ?? "")>
        <label for="password">Password</label>
        <input type="password" id="password" name="password" autocomplete="current-password">

        """
    }

    /// An error page: what went wrong, in words for the person reading it.
    static func error(status: Int, title: String, message: String) -> HTTPResponse {
        response(status: status, title: title, body: "<h1>\(escape(title))</h1>\n<p>\(escape(message))</p>")
    }

    /// `/static/scopegate.css`: the pages' only style, readable at any width, with visible focus and
    /// contrast above WCAG AA.
    static let stylesheet = HTTPResponse(
        status: 200,
        headers: [("Content-Type", "text/css; charset=utf-8"), ("Cache-Control", "public, max-age=3600"), ("X-Content-Type-Options", "nosniff")],
        body: Array(
            """
            :root { color-scheme: light dark; --ink: #1a1a1a; --paper: #ffffff; --line: #6b6b6b; --accent: #0b57d0; --error: #a50e0e; }
            @media (prefers-color-scheme: dark) { :root { --ink: #ececec; --paper: #161616; --line: #a0a0a0; --accent: #8ab4f8; --error: #f28b82; } }
            * { box-sizing: border-box; }
            body { margin: 0; background: var(--paper); color: var(--ink); font: 16px/1.5 system-ui, sans-serif; }
            main { max-width: 30rem; margin: 3rem auto; padding: 0 1rem; }
            h1 { font-size: 1.5rem; margin: 0 0 1rem; }
            fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 0 0 1rem; padding: .75rem 1rem; }
            legend { padding: 0 .25rem; font-weight: 600; }
            label { display: block; margin: .75rem 0 .25rem; }
            .scope label { display: inline; margin: 0 0 0 .5rem; }
            .scope { margin: .5rem 0; }
            .scope small { display: block; margin-left: 1.75rem; color: var(--line); }
            input[type=text], input[type=password] { width: 100%; padding: .5rem; font: inherit; color: inherit; background: transparent;
              border: 1px solid var(--line); border-radius: 4px; }
            .actions { display: flex; gap: .75rem; margin-top: 1.25rem; }
            button { font: inherit; padding: .5rem 1.25rem; border-radius: 4px; border: 1px solid var(--accent); cursor: pointer; }
            button.primary { background: var(--accent); color: var(--paper); }
            button.secondary { background: transparent; color: var(--accent); }
            :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
            .error { color: var(--error); font-weight: 600; }
            code { font-size: .95em; }

            """.utf8)
    ).prepared()
}
