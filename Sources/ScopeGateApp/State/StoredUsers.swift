import FoundationEssentials
public import ScopeGateCore
public import ScopeGateStore
import Synchronization

/// Users kept in the store (`serve --users store`, managed with `scopegate users`). Decisions read an
/// in-memory directory of them, brought up to date whenever the store's changes move (only the rows
/// changed since the last read are read; ``Revocations`` watches); logins read the user from the store itself, so a new
/// password works at once and a hash upgraded at login is written back with compare-and-swap.
public final class StoredUsers: Sendable {
    let store: any StateStore
    private struct Copy {
        var revision: Int64
        var users: [String: UserRecord]
        var directory: UserDirectory
    }
    private let copy: Mutex<Copy>
    /// What runs after a change decisions see (puts the new copy in force).
    private let changed = Mutex<(@Sendable () -> Void)?>(nil)

    /// Reads every user from `store`.
    public init(store: any StateStore) throws(StoreError) {
        self.store = store
        let all = try store.users(changedAfter: 0)
        var users: [String: UserRecord] = [:]
        users.reserveCapacity(all.users.count)
        for user in all.users { users[user.username] = Self.record(user) }
        copy = Mutex(Copy(revision: all.revision, users: users, directory: UserDirectory(byName: users)))
    }

    /// The users as decisions see them.
    public var directory: UserDirectory { copy.withLock { $0.directory } }

    /// How many users there are.
    public var count: Int { copy.withLock { $0.users.count } }

    static func record(_ user: StoredUser) -> UserRecord {
        UserRecord(
            username: user.username, fullName: user.fullName, email: user.email, passwordHash: user.passwordHash, disabled: user.disabled,
            scopes: user.scopes)
    }

    /// Whether two versions of a user differ in what decisions see (not the password hash).
    private static func decisionsDiffer(_ old: UserRecord, _ new: UserRecord) -> Bool {
        old.scopes != new.scopes || old.disabled != new.disabled || old.email != new.email || old.fullName != new.fullName
    }

    /// Reads the users changed since the last read; true when one changed in a way decisions see (its
    /// scopes, name, email, or whether it is disabled). A changed password hash alone updates the copy
    /// without that: logins read the store.
    @discardableResult
    func refresh() throws(StoreError) -> Bool {
        try copy.withLock { (copy: inout Copy) throws(StoreError) -> Bool in
            let changes = try store.users(changedAfter: copy.revision)
            guard !changes.users.isEmpty else { return false }
            var visible = false
            for user in changes.users {
                let record = Self.record(user)
                visible = visible || copy.users[user.username].map { Self.decisionsDiffer($0, record) } ?? true
                copy.users[user.username] = record
            }
            copy.revision = changes.revision
            copy.directory = UserDirectory(byName: copy.users)
            return visible
        }
    }

    /// Reads the users changed since the last read and, when decisions see the change, runs what
    /// ``onChange(_:)`` set.
    func catchUp() throws(StoreError) {
        if try refresh(), let changed = changed.withLock({ $0 }) { changed() }
    }

    /// Keeps what runs after a change decisions see (put in force by the watch of the store's changes,
    /// ``Revocations/startWatching(users:everyTurn:logger:clock:)``, and by a login that caught up).
    func onChange(_ changed: @escaping @Sendable () -> Void) {
        self.changed.withLock { $0 = changed }
    }

    /// The user `name` as the store holds it now, for a login. When the copy decisions read is behind on
    /// this user (added, granted a scope, enabled since the last read), it catches up first, so the token
    /// the login issues works at `/auth` at once. While the store is lost (`storeReachable` false, or the
    /// read fails) the copy answers: logins go on with the users as last read. May block: call it from a
    /// worker.
    func user(named name: String, storeReachable: Bool = true) -> UserRecord? {
        guard storeReachable else { return copy.withLock { $0.users[name] } }
        let stored: StoredUser?
        do {
            stored = try store.user(named: name)
        } catch {
            return copy.withLock { $0.users[name] }
        }
        guard let record = stored.map(Self.record) else { return nil }
        let behind = copy.withLock { $0.users[name].map { Self.decisionsDiffer($0, record) } ?? true }
        if behind { try? catchUp() }
        return record
    }
}
