import Foundation
import Logging
import Testing
@testable import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateTesting

/// A step of the forward-auth check that a test makes fail.
enum FailingStage: CaseIterable, Sendable {
    case describe, match, verify, resolve, authorize
}

private struct InjectedFault: Error {}

extension ForwardAuthStages {
    /// These stages with `stage` replaced by one that throws.
    func failing(at stage: FailingStage) -> ForwardAuthStages {
        var stages = self
        switch stage {
        case .describe: stages.describe = { _ in throw InjectedFault() }
        case .match: stages.match = { _, _, _, _ in throw InjectedFault() }
        case .verify: stages.verify = { _, _, _ in throw InjectedFault() }
        case .resolve: stages.resolve = { _ in throw InjectedFault() }
        case .authorize: stages.authorize = { _, _ in throw InjectedFault() }
        }
        return stages
    }
}

/// Every failure of a forward-auth check is a refusal, and only requests a rule allows get a 200.
@Suite struct RefusalOnFailureTests {
    func request(_ target: String, token: String?, method: String = "GET", extra: [(String, String)] = []) -> HTTPRequest {
        var headers = HTTPHeaders([("X-Original-URI", target), ("X-Original-Method", method)] + extra)
        if let token { headers.append(name: "Authorization", value: Array("Bearer \(token)".utf8)) }
        return HTTPRequest(method: "GET", path: Array("/auth".utf8), headers: headers, clientAddress: IPAddress("127.0.0.1"))
    }

    func status(_ service: ScopeGateService, _ request: HTTPRequest) -> Int {
        guard case .respond(let response) = service.handle(request) else { return -1 }
        return response.status
    }

    @Test(arguments: FailingStage.allCases)
    func everyInjectedFailureIsARefusal(stage: FailingStage) throws {
        let daemon = try TestDaemon()
        let service = ScopeGateService(
            configuration: daemon.service.configuration,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            stages: ForwardAuthStages.standard.failing(at: stage))
        let token = try daemon.token(scopes: ["me", "items"])
        // Requests that would be allowed without the fault; public ones fail only where their path goes.
        let allowed = request("/users/me/items/", token: token)
        #expect(status(daemon.service, allowed) == 200)
        #expect(status(service, allowed) == 403, "\(stage)")
        let publicRequest = request("/public/x", token: nil)
        #expect(status(service, publicRequest) == ([.describe, .match].contains(stage) ? 403 : 200), "\(stage)")
    }

    @Test func hostilePathsAreRefusedOrDecidedAsTheirCanonicalPath() throws {
        let daemon = try TestDaemon()
        let corpusText = try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/ScopeGateCoreTests/Fixtures/path-corpus.tsv"), encoding: .utf8)
        let corpus = try PathCorpusEntry.parse(corpusText)
        let tokens: [String?] = [
            nil, try daemon.token(scopes: ["me"]), try daemon.token(scopes: ["me", "items"]),
            try daemon.token(subject: "bob", scopes: ["admin"]),
        ]
        for entry in corpus {
            for token in tokens {
                var headers = HTTPHeaders([("X-Original-Method", "GET")])
                headers.append(name: "X-Original-URI", value: entry.target)
                if let token { headers.append(name: "Authorization", value: Array("Bearer \(token)".utf8)) }
                let hostile = HTTPRequest(method: "GET", path: Array("/auth".utf8), headers: headers, clientAddress: IPAddress("127.0.0.1"))
                let answer = status(daemon.service, hostile)
                if let canonical = entry.expected {
                    let encoded = try #require(canonical.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed))
                    #expect(answer == status(daemon.service, request(encoded, token: token)), "\(entry)")
                } else {
                    #expect(answer == 403, "\(entry)")
                }
            }
        }
    }

    @Test func onlyAllowedRequestsEverGet200() throws {
        // Random combinations of paths, methods, tokens and header styles: every 200 must be explainable.
        let daemon = try TestDaemon()
        let tokens: [(String?, Set<String>, String)] = [
            (nil, [], "-"), ("garbage", [], "-"), (try daemon.token(scopes: ["me"]), ["me"], "johndoe"),
            (try daemon.token(scopes: ["me", "items"]), ["me", "items"], "johndoe"),
            (try daemon.token(subject: "alice", scopes: ["me", "items"]), [], "alice"),
            (try daemon.token(subject: "bob", scopes: ["admin", "me"]), ["admin", "me"], "bob"),
            (try daemon.token(scopes: ["me"], expiresIn: -1), [], "-"),
        ]
        let paths = ["/users/me/", "/users/me/items/", "/status/", "/public/a", "/admin/x", "/other", "/public/../admin/x", "/admin/%2e%2e/public/a"]
        let methods = ["GET", "HEAD", "POST", "DELETE", "get"]
        var generator = SeededRandom()
        for _ in 0..<2000 {
            let (token, scopes, user) = tokens.randomElement(using: &generator)!
            let path = paths.randomElement(using: &generator)!
            let method = methods.randomElement(using: &generator)!
            let style = Int.random(in: 0..<3, using: &generator)
            var headers = HTTPHeaders()
            var authPath = "/auth"
            switch style {
            case 0: headers = HTTPHeaders([("X-Original-URI", path), ("X-Original-Method", method)])
            case 1: headers = HTTPHeaders([("X-Forwarded-Uri", path), ("X-Forwarded-Method", method)])
            default: authPath = "/auth" + path
            }
            if let token { headers.append(name: "Authorization", value: Array("Bearer \(token)".utf8)) }
            let request = HTTPRequest(
                method: style == 2 ? method : "GET", path: Array(authPath.utf8), headers: headers,
                clientAddress: IPAddress("127.0.0.1"))
            let answer = status(daemon.service, request)
            #expect([200, 401, 403].contains(answer))
            guard answer == 200 else { continue }
            let canonical = try CanonicalPath(target: path).description
            let justified =
                switch canonical {
                case "/public/a": true
                case "/users/me/": scopes.contains("me")
                case "/users/me/items/": scopes.isSuperset(of: ["me", "items"])
                case "/status/": user != "-" && user != "alice"
                case "/admin/x": ["GET", "HEAD"].contains(method) && scopes.contains("admin")
                default: false
                }
            #expect(justified, "200 for \(method) \(path) with \(user) \(scopes)")
        }
    }
}
