import ArgumentParser
import Glibc
import ScopeGateCore

struct HashPassword: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-password",
        abstract: "Print a $2b$ bcrypt hash for a users file.",
        discussion: "Reads the password without echo from a terminal, or as one line from standard input."
    )

    @Option(help: "bcrypt cost (4 to 31).")
    var cost = 12

    func run() throws {
        print(try PasswordHasher(cost: cost).hash(try Self.readPassword()))
    }

    /// A password read without echo from a terminal (asked for twice), or as one line from standard input.
    static func readPassword(confirm: Bool = false) throws -> String {
        let interactive = isatty(STDIN_FILENO) == 1
        if interactive { writeToStandardError("Password: ") }
        let password = interactive ? readWithoutEcho() : readLine(strippingNewline: true)
        if interactive { writeToStandardError("\n") }
        guard let password, !password.isEmpty else { throw StartupError(description: "no password given") }
        if interactive && confirm {
            writeToStandardError("Again: ")
            let again = readWithoutEcho()
            writeToStandardError("\n")
            guard again == password else { throw StartupError(description: "the passwords differ") }
        }
        return password
    }

    private static func readWithoutEcho() -> String? {
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        defer { tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved) }
        return readLine(strippingNewline: true)
    }
}
