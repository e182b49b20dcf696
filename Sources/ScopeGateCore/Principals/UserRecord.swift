/// One user from the users file. A class: forward-auth decisions pass it around on every request, and a
/// copy is then one reference, not six.
public final class UserRecord: Equatable, Sendable {
    /// The user name: the token's `sub`.
    public let username: String
    /// Display name, if any.
    public let fullName: String?
    /// Email address, if any.
    public let email: String?
    /// The stored password hash (`$2b$…` and the other schemes ``PasswordScheme`` lists).
    public let passwordHash: String
    /// A disabled user may still obtain tokens (as FastAPI's tutorial allows) but is refused everywhere else.
    public let disabled: Bool
    /// The scopes this user may be granted, in file order.
    public let scopes: [String]

    /// Creates a user.
    public init(
        username: String, fullName: String? = nil, email: String? = nil, passwordHash: String,
        disabled: Bool = false, scopes: [String] = []
    ) {
        self.username = username
        self.fullName = fullName
        self.email = email
        self.passwordHash = passwordHash
        self.disabled = disabled
        self.scopes = scopes
    }

    public static func == (lhs: UserRecord, rhs: UserRecord) -> Bool {
        lhs.username == rhs.username && lhs.fullName == rhs.fullName && lhs.email == rhs.email
            && lhs.passwordHash == rhs.passwordHash && lhs.disabled == rhs.disabled && lhs.scopes == rhs.scopes
    }
}

extension PrincipalKind {
    /// A person from the users file, who logs in with a password.
    public static let user = PrincipalKind(rawValue: "user")
}

extension UserRecord: Principal {
    public var kind: PrincipalKind { .user }
    public var subject: String { username }
    public var displayName: String? { fullName }
    public var isDisabled: Bool { disabled }

    public func allows(scope: String) -> Bool {
        scopes.contains(scope)
    }
}
