/// Why a password could not be hashed, or a stored hash cannot be used.
public enum PasswordHashError: Error, Equatable, Sendable, CustomStringConvertible {
    case passwordTooLong(bytes: Int, limit: Int)
    case passwordContainsNUL
    case unsupportedHash(scheme: String)
    case malformedHash(reason: String)
    case invalidCost(Int)
    case cryptFailed(String)

    public var description: String {
        switch self {
        case .passwordTooLong(let bytes, let limit):
            "the password is \(bytes) bytes long; bcrypt reads only the first \(limit), so it is refused"
        case .passwordContainsNUL: "the password contains a NUL byte"
        case .unsupportedHash(let scheme):
            "unsupported password hash scheme \(quotedForMessage(scheme, limit: 8)); expected one of $2b$, $2a$, $2y$ (bcrypt), $y$ (yescrypt), $6$ (sha512crypt), pbkdf2_sha256$ (Django), pbkdf2:sha256: (Werkzeug)"
        case .malformedHash(let reason): "malformed password hash: \(reason)"
        case .invalidCost(let cost): "bcrypt cost \(cost) is out of range; expected 4 to 31"
        case .cryptFailed(let function): "\(function) failed"
        }
    }
}
