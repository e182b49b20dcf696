import ArgumentParser
import FoundationEssentials
import ScopeGateStore

/// `scopegate consents`: the consents users asked ScopeGate to remember at `/authorize`.
struct Consents: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or withdraw the consents users asked /authorize to remember.",
        subcommands: [List.self, Revoke.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The consents a user asked to remember: client id, scopes, when.")

        @OptionGroup var location: StoreOptions

        @Option(help: "The user.")
        var user: String

        func run() throws {
            for consent in try location.open().consents(of: user) {
                print("\(consent.clientID)\t\(consent.scopes.joined(separator: " "))\t\(consent.grantedAt.formatted(.iso8601))")
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Withdraw a user's remembered consents: every one, or only --client's. The next /authorize asks again.")

        @OptionGroup var location: StoreOptions

        @Option(help: "The user.")
        var user: String

        @Option(help: "Only this client's consent (default: all of the user's).")
        var client: String?

        func run() throws {
            let withdrawn = try location.open().withdrawConsents(of: user, clientID: client)
            print("withdrew \(withdrawn) consent\(withdrawn == 1 ? "" : "s") of \(user)")
        }
    }
}
