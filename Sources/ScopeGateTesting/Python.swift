import Foundation

/// Runs a Python 3 script and returns its standard output. The interoperability tests use PyJWT
/// (Debian's python3-jwt; `script/test` puts a Python that sees it first on PATH), the library FastAPI's tutorial signs its tokens with.
public func runPython(_ script: String, arguments: [String] = []) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestHTTPError(description: "python3 failed (is PyJWT installed? script/setup --tests installs it): " + String(decoding: errorData, as: UTF8.self))
    }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
