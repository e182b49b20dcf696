import ArgumentParser
import FoundationEssentials

@main
struct ScopeGateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scopegate",
        abstract: "An authorization sidecar: OAuth2 password-grant tokens and forward auth for reverse proxies.",
        subcommands: [
            Serve.self, HashPassword.self, CheckPolicy.self, PolicyCommand.self, Explain.self, Keys.self, Clients.self, Users.self, Revoke.self, Consents.self,
        ]
    )

    /// Parses the command line; `serve` also takes its options from `SCOPEGATE_*` environment variables.
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "serve" {
            arguments += Serve.environmentArguments(commandLine: arguments, environment: ProcessInfo.processInfo.environment)
        }
        main(arguments)
    }
}
