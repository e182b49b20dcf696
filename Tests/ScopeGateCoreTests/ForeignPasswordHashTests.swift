import Foundation
import ScopeGateTesting
import Testing

@testable import ScopeGateCore

/// Django's and Werkzeug's PBKDF2-SHA256 hashes, made by the real libraries (Debian's python3-django and
/// python3-werkzeug), verify as they are, and are reported for upgrade.
@Suite struct ForeignPasswordHashTests {
    let hasher = try! PasswordHasher(cost: 4)

    /// One hash per line from each library, of "correct horse" and of a non-ASCII password.
    static func madeByTheLibraries() throws -> [String] {
        try runPython(
            """
            from django.conf import settings
            settings.configure()
            from django.contrib.auth.hashers import make_password, PBKDF2PasswordHasher
            from werkzeug.security import generate_password_hash
            for password in ["correct horse", "pässwörd ✓"]:
                print(make_password(password))
                print(make_password(password, hasher=PBKDF2PasswordHasher()))
                print(generate_password_hash(password, method="pbkdf2:sha256"))
                print(generate_password_hash(password, method="pbkdf2:sha256:1000"))
            """
        ).split(separator: "\n").map(String.init)
    }

    @Test func hashesOfDjangoAndWerkzeugVerify() throws {
        let hashes = try Self.madeByTheLibraries()
        #expect(hashes.count == 8)
        for (index, hash) in hashes.enumerated() {
            let password = index < 4 ? "correct horse" : "pässwörd ✓"
            #expect(hasher.verify(password, against: hash), "\(hash)")
            #expect(!hasher.verify(password + "x", against: hash), "\(hash)")
            #expect(!hasher.verify("", against: hash))
            #expect(throws: Never.self) { try PasswordHasher.validate(hash: hash) }
            #expect(hasher.needsRehash(hash))
            let label = PasswordScheme.label(of: hash)
            #expect(label.hasPrefix(hash.hasPrefix("pbkdf2_sha256$") ? "django-pbkdf2-sha256-" : "werkzeug-pbkdf2-sha256-"), "\(label)")
            #expect(!label.contains("$"))
        }
    }

    /// The formats' vectors computed here with hashlib, so a change in the libraries' defaults cannot hide
    /// a misreading of the format.
    @Test func knownVectors() throws {
        let django = try runPython(
            "import hashlib, base64; print('pbkdf2_sha256$1000$saltsalt$' + base64.b64encode(hashlib.pbkdf2_hmac('sha256', b'pw', b'saltsalt', 1000)).decode())"
        )
        let werkzeug = try runPython("import hashlib; print('pbkdf2:sha256:1000$saltsalt$' + hashlib.pbkdf2_hmac('sha256', b'pw', b'saltsalt', 1000).hex())")
        #expect(hasher.verify("pw", against: django.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(hasher.verify("pw", against: werkzeug.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test(arguments: [
        "pbkdf2_sha256$0$salt$AAAA", "pbkdf2_sha256$1000$salt$short", "pbkdf2_sha256$1000$$0hSpD9G1sMI20bJgrhsDJllrx/nzlMAxAodOyrT/tXA=",
        "pbkdf2_sha256$99999999$s$0hSpD9G1sMI20bJgrhsDJllrx/nzlMAxAodOyrT/tXA=", "pbkdf2_sha256$1000$s$0hSpD9G1sMI20bJgrhsDJllrx-nzlMAxAodOyrT_tXA=",
        "pbkdf2_sha256$1000$s$x$0hSpD9G1sMI20bJgrhsDJllrx/nzlMAxAodOyrT/tXA=", "pbkdf2:sha256:1000$salt$zz",
        "pbkdf2:sha256:$salt$219fd8dcbaac1f20bebdb554a3aef87a7735ad76c2caa9cfc3e72043011bdd5d",
        "pbkdf2:sha256:1000$salt$219fd8dcbaac1f20bebdb554a3aef87a7735ad76c2caa9cfc3e72043011bdd5",
        "pbkdf2:sha256:+1000$salt$219fd8dcbaac1f20bebdb554a3aef87a7735ad76c2caa9cfc3e72043011bdd5d",
    ])
    func malformedHashesAreRefused(_ hash: String) {
        #expect(throws: PasswordHashError.self) { try PasswordHasher.validate(hash: hash) }
        #expect(!hasher.verify("pw", against: hash))
    }

    @Test func labelsNameTheSchemeAndCost() throws {
        #expect(PasswordScheme.label(of: try hasher.hash("x")) == "bcrypt-4")
        #expect(PasswordScheme.label(of: "$2a$10$EixZaYVK1fsbw1ZfbX3OXecuEWXLp80MtU.0.8ZM4wHF7LiXJMApO") == "bcrypt-2a-10")
        #expect(PasswordScheme.label(of: "$6$salt$hash") == "sha512crypt")
        #expect(PasswordScheme.label(of: "$y$j9T$salt$hash") == "yescrypt")
        #expect(PasswordScheme.label(of: "plaintext") == "unknown")
    }
}
