/// One problem found in a configuration file, with where it is.
public struct Diagnostic: Equatable, Sendable, CustomStringConvertible {
    /// How serious a problem is.
    public enum Severity: String, Sendable {
        case error
        case warning
    }

    /// The file's name as given to the loader.
    public let file: String
    /// 1-based line.
    public let line: Int
    /// 1-based column.
    public let column: Int
    /// Error or warning.
    public let severity: Severity
    /// What is wrong and what was expected.
    public let message: String

    /// Creates a diagnostic.
    public init(file: String, line: Int, column: Int, severity: Severity = .error, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.severity = severity
        self.message = message
    }

    /// `file:line:column: error: message`, as compilers write it.
    public var description: String { "\(file):\(line):\(column): \(severity.rawValue): \(message)" }
}

/// A configuration file could not be loaded; every problem found is listed, one per line.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The problems, in file order.
    public let diagnostics: [Diagnostic]

    /// Creates an error from its diagnostics.
    public init(diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
