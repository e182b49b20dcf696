import ArgumentParser

@main
struct ScopeGateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scopegate",
        abstract: "An authorization sidecar: OAuth2 password-grant tokens and forward auth for reverse proxies.",
        subcommands: [Serve.self, HashPassword.self, CheckPolicy.self, Explain.self]
    )
}
