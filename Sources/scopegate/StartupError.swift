/// A problem that stops `scopegate` before it serves; argument-parser prints it as `Error: <description>`.
struct StartupError: Error, CustomStringConvertible {
    let description: String
}
