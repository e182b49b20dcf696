import Foundation

/// Runs a Python 3 script and returns its standard output. The interoperability tests use PyJWT
/// (Debian's python3-jwt; `script/test` puts a Python that sees it first on PATH), the library FastAPI's tutorial signs its tokens with.
/// `input`, when given, is the script's standard input.
public func runPython(_ script: String, arguments: [String] = [], input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    let stdin = Pipe()
    if input != nil { process.standardInput = stdin }
    try process.run()
    if let input {
        // On a thread of its own: a large input must not wait for the script to drain its output first.
        let writer = stdin.fileHandleForWriting
        Thread {
            writer.write(Data(input.utf8))
            try? writer.close()
        }.start()
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestHTTPError(description: "python3 failed (is PyJWT installed? script/setup --tests installs it): " + String(decoding: errorData, as: UTF8.self))
    }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
