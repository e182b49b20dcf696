import ArgumentParser
import ScopeGateCore

/// `scopegate clients`: secrets for the clients file.
struct Clients: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make client secrets for the clients file.",
        subcommands: [Secret.self]
    )

    struct Secret: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new client secret (256 random bits, base64url) and its hash for secret_hashes.",
            discussion: """
                Two lines: the secret, to give the client, and its $pbkdf2-sha256$ hash (passlib's format), to put in \
                the client's secret_hashes. The secret is not stored anywhere; a lost secret is replaced, not recovered.
                """
        )

        @Option(help: "PBKDF2 rounds (\(ClientSecretHash.minimumRounds) to \(ClientSecretHash.maximumRounds)).")
        var rounds = ClientSecretHash.defaultRounds

        func validate() throws {
            guard (ClientSecretHash.minimumRounds...ClientSecretHash.maximumRounds).contains(rounds) else {
                throw ValidationError("--rounds must be \(ClientSecretHash.minimumRounds) to \(ClientSecretHash.maximumRounds)")
            }
        }

        func run() throws {
            let (secret, hash) = try ClientSecretHash.generate(rounds: rounds)
            print(secret)
            print(hash)
        }
    }
}
