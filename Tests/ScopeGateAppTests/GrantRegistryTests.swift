import Foundation
import Logging
import Testing
@testable import ScopeGateApp
import ScopeGateCore
import ScopeGateHTTP
import ScopeGateTesting

/// A grant of its own: grants the principal named in `subject` the scopes in `scope` that its record allows,
/// and counts a refusal as a failed login.
private struct NamedSubjectGrant: GrantType {
    var name: String { "urn:test:named-subject" }
    var parameters: [String] { ["subject", "scope"] }

    func prepare(_ form: TokenForm) -> Result<GrantJob, GrantRefusal> {
        guard let subject = form["subject"] else { return .failure(GrantRefusal(response: FastAPIResponses.oauthError("invalid_request"))) }
        let requested = (form["scope"] ?? "").split(separator: " ").map(String.init)
        return .success(
            GrantJob(regulatedName: subject) { context in
                guard let user = context.state.configuration.users[subject], !user.disabled else {
                    return .refused(GrantRefusal(response: FastAPIResponses.oauthError("invalid_grant")), failedLogin: true)
                }
                return .granted(principal: user, scopes: requested.filter(user.allows(scope:)))
            })
    }
}

/// The token endpoint's shared steps around a registered grant.
@Suite struct GrantRegistryTests {
    let daemon: TestDaemon
    let service: ScopeGateService

    init() throws {
        daemon = try TestDaemon()
        var configuration = daemon.service.configuration
        configuration.loginLimits.pairFreeFailures = 1
        service = ScopeGateService(
            configuration: configuration, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            stages: .standard, grants: GrantRegistry([PasswordGrant(), NamedSubjectGrant()], defaultGrant: PasswordGrant()))
    }

    func token(_ fields: [(String, String)]) -> HTTPResponse {
        let request = HTTPRequest(
            method: "POST", path: Array("/token".utf8),
            headers: HTTPHeaders([("Content-Type", "application/x-www-form-urlencoded")]),
            body: formBody(fields), clientAddress: IPAddress("127.0.0.1"))
        switch service.handle(request) {
        case .respond(let response): return response
        case .deferred(_, let work), .waiting(_, let work): return work()
        }
    }

    @Test func aRegisteredGrantIssuesTokensThatForwardAuthHonours() throws {
        let response = token([("grant_type", "urn:test:named-subject"), ("subject", "bob"), ("scope", "admin nope")])
        #expect(response.status == 200)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        #expect(body["scope"] as? String == "admin")
        let issued = try #require(body["access_token"] as? String)
        let verified = try TokenVerifier(keyring: service.configuration.keyring).verify(issued, now: Date())
        #expect(verified.subject == "bob" && verified.scopes == ["admin"])
    }

    @Test func sharedStepsApplyToEveryGrant() {
        // Duplicates of a parameter only this grant reads are refused by the endpoint.
        let repeated = token([("grant_type", "urn:test:named-subject"), ("subject", "bob"), ("subject", "carol")])
        #expect(repeated.status == 400 && String(decoding: repeated.body, as: UTF8.self).contains("appears more than once"))
        // Regulation counts its refusals: after the free failure, the next try waits.
        #expect(token([("grant_type", "urn:test:named-subject"), ("subject", "alice")]).status == 400)
        let throttled = token([("grant_type", "urn:test:named-subject"), ("subject", "alice")])
        #expect(throttled.status == 429)
        // Unregistered grant types are still refused, and the password grant still works without grant_type.
        #expect(String(decoding: token([("grant_type", "client_credentials")]).body, as: UTF8.self) == #"{"error":"unsupported_grant_type"}"#)
        #expect(token([("username", "carol"), ("password", "carolpw")]).status == 200)
    }
}
