public import FoundationEssentials

/// Warnings about a keys file that loads but whose keys may not do what its author meant; `scopegate keys
/// status` prints them, and the service logs them when it loads the file.
public enum KeyScheduleLinter {
    /// - An active asymmetric key that does not sign, because `signing_algorithm` names another algorithm:
    ///   it stays published and accepted until it is deleted from the file.
    /// - With `previous` (the schedule in force before a reload): a key removed while tokens it signed can
    ///   still be valid. Those tokens are refused from the reload on, so their holders are logged out.
    /// - Without `previous` (a file read on its own): a key that started signing less than a token lifetime
    ///   ago with no earlier key listed; a predecessor deleted too early cannot be seen, only suspected.
    public static func warnings(
        for schedule: KeySchedule, file: String, at now: Date, tokenLifetime: TimeInterval, leeway: TimeInterval, previous: KeySchedule? = nil
    ) -> [Diagnostic] {
        let statuses = schedule.statuses(at: now, tokenLifetime: tokenLifetime, leeway: leeway)
        let signer = statuses.first(where: \.signs)
        var diagnostics: [Diagnostic] = []
        // HS256 keys are never published; one kept beside an asymmetric signer checks tokens without kid.
        for status in statuses where status.state == .active && !status.signs && status.key.key.algorithm != .hs256 {
            let key = status.key
            diagnostics.append(
                Diagnostic(
                    file: file, line: key.line, column: key.column, severity: .warning,
                    message: "key \(name(key.key)) is active but does not sign: \(signer.map { "\($0.key.key.algorithm)" } ?? "another algorithm") "
                        + "signs access tokens; it is still published and accepted until it is deleted from this file, which is safe "
                        + "\(Int(tokenLifetime + leeway)) s after it last signed"))
        }
        if let previous {
            for status in previous.statuses(at: now, tokenLifetime: tokenLifetime, leeway: leeway) {
                let key = status.key.key
                guard !schedule.keys.contains(where: { $0.key.id == key.id && $0.key.algorithm == key.algorithm }) else { continue }
                let validUntil: Date
                switch status.state {
                case .active: validUntil = now + tokenLifetime + leeway
                case .retiring: validUntil = status.deletableAt ?? now + tokenLifetime + leeway
                case .next, .retired: continue
                }
                let keyless = key.algorithm == .hs256 && status.state == .active ? " (and tokens without kid, which the active HS256 key checks)" : ""
                diagnostics.append(
                    Diagnostic(
                        file: file, line: 1, column: 1, severity: .warning,
                        message: "key \(name(key)) was removed while \(status.state.rawValue): tokens it signed\(keyless) are refused from now on, "
                            + "though they could be valid until \(KeySchedule.formatTimestamp(validUntil)); put it back until then"))
            }
        } else if let signer, let started = signer.key.activateAt, now < started + tokenLifetime + leeway,
            !schedule.keys.contains(where: { schedule.activation($0) < started })
        {
            let until = KeySchedule.formatTimestamp(started + tokenLifetime + leeway)
            diagnostics.append(
                Diagnostic(
                    file: file, line: signer.key.line, column: signer.key.column, severity: .warning,
                    message: "key \(name(signer.key.key)) started signing at \(KeySchedule.formatTimestamp(started)) and no key that signed "
                        + "before it is listed: if one was deleted, the tokens it signed are refused until they expire at \(until); "
                        + "keep such a key in this file until then"))
        }
        return diagnostics
    }

    private static func name(_ key: any JWSKey) -> String {
        "\"\(key.id ?? "-")\" (\(key.algorithm))"
    }
}
