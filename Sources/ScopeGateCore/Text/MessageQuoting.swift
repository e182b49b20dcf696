/// A value from untrusted input, shortened and with control characters replaced, in quotes: safe to put in
/// an error message or log line.
public func quotedForMessage(_ value: String, limit: Int = 64) -> String {
    var scalars = String.UnicodeScalarView()
    for scalar in value.unicodeScalars.prefix(limit) {
        scalars.append(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) ? "?" : scalar)
    }
    return "\"" + String(scalars) + (value.unicodeScalars.count > limit ? "…" : "") + "\""
}
