/// What a token or a forward-auth decision is about: a user today, a machine client as well once there
/// are clients. Identity headers and access-log lines are built from a principal, never from one kind's
/// record, so a new kind is one conforming type and one ``PrincipalDirectory``.
///
/// A class-bound protocol: decisions pass principals around on every request, and a copy is one reference.
public protocol Principal: AnyObject, Sendable {
    /// The kind of principal, for logs and identity headers.
    var kind: PrincipalKind { get }
    /// The token's `sub`: the name the principal is known by.
    var subject: String { get }
    /// A display name, if the record has one.
    var displayName: String? { get }
    /// An email address, if the record has one.
    var email: String? { get }
    /// A disabled principal is refused by forward auth whatever its token says.
    var isDisabled: Bool { get }
    /// Whether the principal's record still allows `scope`: a scope removed from a record stops working at
    /// once, even in tokens issued before.
    func allows(scope: String) -> Bool
}

/// The kind of a ``Principal``; kinds add their names in their own files.
public struct PrincipalKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The kind's name, such as `user`.
    public let rawValue: String

    /// A kind by its name.
    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}

/// Where the principal a verified token is about is found: the users file, and later the client registry.
public protocol PrincipalDirectory: Sendable {
    /// The principal `token` is about, if this directory has it.
    func principal(for token: VerifiedToken) -> (any Principal)?
}

/// The directories a token's principal is looked up in, in order; the first that has it answers.
public struct PrincipalDirectories: Sendable {
    /// The directories, in lookup order.
    public let directories: [any PrincipalDirectory]

    /// Directories searched in the given order.
    public init(_ directories: [any PrincipalDirectory]) {
        self.directories = directories
    }

    /// The principal `token` is about, if any directory has it.
    public func principal(for token: VerifiedToken) -> (any Principal)? {
        for directory in directories {
            if let principal = directory.principal(for: token) { return principal }
        }
        return nil
    }
}
