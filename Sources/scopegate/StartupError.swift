import Glibc

/// A problem that stops `scopegate` before it serves; argument-parser prints it as `Error: <description>`.
struct StartupError: Error, CustomStringConvertible {
    let description: String
}

/// Writes `text` to standard error as it is (no buffering, no added newline).
func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}
