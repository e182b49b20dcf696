import ArgumentParser
import FoundationEssentials
import ScopeGateCore
import ScopeGateStore

/// `scopegate revoke`: revoke a token or everything a user or client holds, in the store a running
/// service polls (it sees the change within a second).
struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke one access token (--jti), one login (--family), or every token issued to a user or client until now.",
        discussion: """
            Writes to the store serve runs with (--store); a running service sees it at once (PostgreSQL) or within a tenth of a second (SQLite). --user and --client \
            refuse every token issued to them before now (tokens issued later work). --jti refuses one token; give --issuer \
            when tokens carry iss (serve --issuer).
            """
    )

    @OptionGroup var location: StoreOptions

    // A jti or sid is base64url and may start with "-": the value after the option is taken as it is.
    @Option(parsing: .unconditional, help: "The jti of one access token to revoke.")
    var jti: String?

    @Option(help: "With --jti: the token's iss (none when serve has no --issuer).")
    var issuer = ""

    @Option(help: "With --jti: seconds to keep the revocation (at least the token's remaining life; default 86400).")
    var until = 86_400

    @Option(help: "A user whose tokens issued until now are refused.")
    var user: String?

    @Option(help: "A client whose tokens issued until now are refused.")
    var client: String?

    @Option(
        parsing: .unconditional,
        help: "A login (refresh-token family, the sid of its access tokens): its refresh and access tokens are refused.")
    var family: String?

    func validate() throws {
        guard [jti, user, client, family].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give one of --jti, --user, --client or --family")
        }
        guard until > 0 else { throw ValidationError("--until must be positive") }
    }

    func run() throws {
        let opened = try location.open()
        let now = Date()
        do throws(StoreError) {
            if let jti {
                try opened.revokeToken(id: jti, issuer: issuer, until: now + TimeInterval(until))
                print("revoked token \(jti) until \(KeySchedule.formatTimestamp(now + TimeInterval(until)))")
            } else if let user {
                try opened.setNotBefore(now, kind: PrincipalKind.user.rawValue, subject: user)
                print("revoked every token issued to user \(user) before \(KeySchedule.formatTimestamp(now))")
            } else if let client {
                try opened.setNotBefore(now, kind: PrincipalKind.client.rawValue, subject: client)
                print("revoked every token issued to client \(client) before \(KeySchedule.formatTimestamp(now))")
            } else if let family {
                guard try opened.revokeRefreshFamily(id: family, at: now) else { throw StoreError("no login \(family) in the store") }
                print("revoked login \(family): its refresh and access tokens")
            }
        } catch {
            throw StartupError(description: error.description)
        }
    }
}
