import Foundation
import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateStore
import ScopeGateTesting
import Testing

/// The sign-in and consent page in a real browser: Debian's Chromium, headless, driven by Selenium.
/// It renders the page under its own Content-Security-Policy, a person unticks a scope, signs in, and is
/// sent back to the application with a code that trades for a token of the ticked scope only; a form
/// posted from another site is refused. Screenshots go to `$SCOPEGATE_SCREENSHOTS` when it is set.
@Suite struct BrowserFlowTests {
    /// The start of every script here: Debian's Chromium, headless, under Selenium, as `driver`; `base` and
    /// `shots` (the screenshot folder, or "") from the arguments.
    static func chromium(height: Int) -> String {
        """
        import os, sys
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        base, shots = sys.argv[1], sys.argv[2]
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=800,\(height)"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)

        """
    }

    @Test func aPersonSignsInAndConsentsInChromium() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let daemon = try TestDaemon(configure: { configuration in
            configuration.clients = ClientDirectory([
                ClientRecord(
                    id: "photo-app", secretHashes: [], grantTypes: [.authorizationCode], scopes: ["me", "items"],
                    redirectURIs: ["http://127.0.0.1/callback"], isPublic: true)
            ])
            configuration.revocations = try! Revocations(store: SQLiteStore(path: folder.appendingPathComponent("scopegate.db").path))
        })
        let screenshots = ProcessInfo.processInfo.environment["SCOPEGATE_SCREENSHOTS"] ?? ""
        let output = try runPython(
            Self.chromium(height: 900)
                + """
                import base64, hashlib, secrets, urllib.parse, requests
                def shot(name):
                    if shots: driver.save_screenshot(os.path.join(shots, name + ".png"))
                try:
                    verifier = secrets.token_urlsafe(48)
                    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                    callback = "http://127.0.0.1:9/callback"
                    query = urllib.parse.urlencode({"response_type": "code", "client_id": "photo-app", "redirect_uri": callback,
                        "scope": "me items", "state": "st-42", "code_challenge": challenge, "code_challenge_method": "S256"})
                    driver.get(base + "/authorize?" + query)
                    shot("consent")
                    print(driver.title)
                    boxes = driver.find_elements(By.CSS_SELECTOR, "input[name=grant]")
                    print(" ".join(box.get_attribute("value") + ("+" if box.is_selected() else "-") for box in boxes))
                    # The stylesheet applied (not blocked by the page's own CSP): the Allow button is filled.
                    allow = driver.find_element(By.CSS_SELECTOR, "button[value=allow]")
                    print(allow.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)")
                    driver.find_element(By.CSS_SELECTOR, "label[for=scope-1]").click()
                    driver.find_element(By.ID, "username").send_keys("johndoe")
                    driver.find_element(By.ID, "password").send_keys("wrong")
                    allow.click()
                    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".error"))
                    shot("wrong-password")
                    print(driver.find_element(By.CSS_SELECTOR, ".error").text)
                    # The page comes back as the person left it: items unticked, the name kept.
                    boxes = driver.find_elements(By.CSS_SELECTOR, "input[name=grant]")
                    print(" ".join(box.get_attribute("value") + ("+" if box.is_selected() else "-") for box in boxes),
                          driver.find_element(By.ID, "username").get_attribute("value"))
                    driver.find_element(By.ID, "password").send_keys("secret")
                    driver.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
                    # The answer is a 303 to the application, which does not listen here: wait for the address.
                    WebDriverWait(driver, 20).until(lambda d: d.current_url.startswith(callback))
                    shot("returned")
                    landed = urllib.parse.urlparse(driver.current_url)
                    answer = urllib.parse.parse_qs(landed.query)
                    print(landed.netloc, landed.path, answer.get("state"))
                    token = requests.post(base + "/token", data={"grant_type": "authorization_code", "code": answer["code"][0], "client_id": "photo-app",
                                                                 "redirect_uri": callback, "code_verifier": verifier}).json()
                    print(token.get("scope"))
                    # Signed in now: the sign-in page says so, and /consents lists nothing remembered yet.
                    driver.get(base + "/signin")
                    shot("signed-in")
                    print(driver.find_element(By.TAG_NAME, "h1").text)
                    driver.get(base + "/consents")
                    shot("consents")
                    print(driver.find_element(By.TAG_NAME, "h1").text)
                    driver.find_element(By.CSS_SELECTOR, "form[action='/signout'] button").click()
                    # The title, not an element of the page being replaced (which may go stale mid-navigation).
                    WebDriverWait(driver, 20).until(lambda d: d.title.startswith("Signed out"))
                    driver.get(base + "/signin")
                    shot("signin")
                    print(driver.find_element(By.TAG_NAME, "h1").text)
                    # Another site's page posting the form: its request carries no cookie and another origin.
                    driver.get("data:text/html,<form method=post action='" + base + "/authorize'><input name=action value=allow>"
                               "<input name=client_id value=photo-app></form><script>document.forms[0].submit()</script>")
                    WebDriverWait(driver, 20).until(lambda d: d.current_url.startswith(base))
                    print("ScopeGate's own page" in driver.page_source)
                finally:
                    driver.quit()
                """, arguments: ["http://127.0.0.1:\(daemon.port)", screenshots])
        let lines = output.split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "Sign in · ScopeGate", "me+ items+", "True", "Incorrect username or password.", "me+ items- johndoe", "127.0.0.1:9 /callback ['st-42']",
                "me", "Signed in", "Applications you let in", "Sign in", "True",
            ], "\(output)")
    }

    /// A browser application behind Debian's nginx (the template, `browser: true` rule): Chromium asks for
    /// the application, is sent to ScopeGate's sign-in page on the same host, signs in, and lands on the
    /// application, which sees the person's identity.
    @Test func aPersonReachesABrowserApplicationBehindNginx() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scopegate-browser-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let daemon = try TestDaemon(
            policyYAML: "rules:\n  - path: /app/**\n    scopes: [me]\n    browser: true\n",
            configure: { configuration in
                configuration.revocations = try! Revocations(store: SQLiteStore(path: folder.appendingPathComponent("scopegate.db").path))
            })
        let app = try makeEchoApp()
        defer { app.stop() }
        let nginx = try startNginx(scopegate: daemon.port, app: app.port)
        let screenshots = ProcessInfo.processInfo.environment["SCOPEGATE_SCREENSHOTS"] ?? ""
        let output = try runPython(
            Self.chromium(height: 600)
                + """
                try:
                    driver.get(base + "/app/photos?page=2")
                    WebDriverWait(driver, 20).until(lambda d: "/signin" in d.current_url)
                    if shots: driver.save_screenshot(os.path.join(shots, "nginx-signin.png"))
                    print(driver.current_url.replace(base, ""))
                    driver.find_element(By.ID, "username").send_keys("johndoe")
                    driver.find_element(By.ID, "password").send_keys("secret")
                    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
                    WebDriverWait(driver, 20).until(lambda d: "/app/photos" in d.current_url)
                    print(driver.current_url.replace(base, ""))
                    text = driver.find_element(By.TAG_NAME, "body").text
                    print(text.split()[:3], 'X-Auth-User=["johndoe"]' in text)
                finally:
                    driver.quit()
                """, arguments: ["http://127.0.0.1:\(nginx.port)", screenshots])
        #expect(
            output.split(separator: "\n").map(String.init) == [
                "/signin?rd=%2Fapp%2Fphotos%3Fpage%3D2", "/app/photos?page=2", "['app', 'GET', '/app/photos'] True",
            ], "\(output)")
    }
}
