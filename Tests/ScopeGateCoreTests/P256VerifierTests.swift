import Foundation
import ScopeGateTesting
import Testing

@testable import ScopeGateCore

/// ES256 verification with the key's own table (``P256Verifier``) against NIST's vectors and, for every
/// kind of tampering, against OpenSSL's own ECDSA verification: the two must agree on every signature.
@Suite struct P256VerifierTests {
    /// NIST CAVP's FIPS 186-3 SigVer vectors, as Debian's python3-cryptography-vectors ships them.
    static let sigVer = "/usr/lib/python3/dist-packages/cryptography_vectors/asymmetric/ECDSA/FIPS_186-3/SigVer.rsp"
    static let order = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")

    struct Vector {
        var fields: [String: String] = [:]
        var message: [UInt8] { hex(fields["Msg"]!) }
        var x: [UInt8] { hex(fields["Qx"]!) }
        var y: [UInt8] { hex(fields["Qy"]!) }
        var signature: [UInt8] { hex(fields["R"]!) + hex(fields["S"]!) }
        var passes: Bool { fields["Result"]!.hasPrefix("P") }
    }

    /// The `[P-256,SHA-256]` section's vectors.
    static func vectors() throws -> [Vector] {
        let text = try String(contentsOfFile: sigVer, encoding: .utf8)
        var vectors: [Vector] = []
        var inSection = false
        var current = Vector()
        for line in text.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) {
            if line.hasPrefix("[") {
                inSection = line == "[P-256,SHA-256]"
                continue
            }
            guard inSection, let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            current.fields[name] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if name == "Result" {
                vectors.append(current)
                current = Vector()
            }
        }
        return vectors
    }

    /// A public key's PEM (SubjectPublicKeyInfo for id-ecPublicKey on prime256v1).
    static func publicPEM(x: [UInt8], y: [UInt8]) -> [UInt8] {
        let der = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + [0x04] + x + y
        return Array("-----BEGIN PUBLIC KEY-----\n\(Data(der).base64EncodedString(options: .lineLength64Characters))\n-----END PUBLIC KEY-----\n".utf8)
    }

    @Test func agreesWithNISTSignatureVerificationVectors() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count == 15)
        #expect(vectors.contains { $0.passes } && vectors.contains { !$0.passes })
        for (index, vector) in vectors.enumerated() {
            let digest = sha256(vector.message)
            // A vector whose Q is not a point of P-256 fails before any signature is looked at.
            let verdict = P256Verifier(x: vector.x, y: vector.y)?.verify(vector.signature, digest: digest) ?? false
            #expect(verdict == vector.passes, "vector \(index): \(vector.fields["Result"]!)")
            if let key = try? ECDSAKey(pem: Self.publicPEM(x: vector.x, y: vector.y)) {
                #expect(try key.verify(vector.signature, signs: vector.message[...]) == vector.passes, "vector \(index) through ECDSAKey")
                #expect(try key.verifyWithOpenSSL(vector.signature, signs: vector.message[...]) == vector.passes, "vector \(index), OpenSSL")
            }
        }
    }

    /// n − value, for 32-byte big-endian values below n.
    static func negated(_ value: ArraySlice<UInt8>) -> [UInt8] {
        let value = Array(value)
        var result = [UInt8](repeating: 0, count: 32)
        var borrow = 0
        for index in stride(from: 31, through: 0, by: -1) {
            let difference = Int(order[index]) - Int(value[index]) - borrow
            result[index] = UInt8((difference + 256) % 256)
            borrow = difference < 0 ? 1 : 0
        }
        return result
    }

    /// Signatures tampered with in every way a forger might try, each judged by both verifiers.
    @Test func agreesWithOpenSSLOnEveryTamperedSignature() throws {
        var random = SeededRandom()
        let keys = try (0..<3).map { _ in try ECDSAKey.generate() }
        let one = [UInt8](repeating: 0, count: 31) + [1]
        var valid = 0
        var refused = 0
        for round in 0..<200 {
            let key = keys[round % keys.count]
            let other = keys[(round + 1) % keys.count]
            let message = (0..<Int.random(in: 1...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let signature = try key.sign(message[...])
            let r = signature[..<32]
            let s = signature[32...]
            var flipped = signature
            flipped[Int.random(in: 0..<64, using: &random)] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            var changed = message
            changed[Int.random(in: 0..<changed.count, using: &random)] ^= 0x01
            let cases: [(String, [UInt8], [UInt8], Bool?)] = [
                ("valid", signature, message, true),
                ("s → n − s", Array(r) + Self.negated(s), message, true),
                ("a bit flipped", flipped, message, false),
                ("another message", signature, changed, false),
                ("another key's signature", try other.sign(message[...]), message, false),
                ("r = 0", [UInt8](repeating: 0, count: 32) + s, message, false),
                ("s = 0", Array(r) + [UInt8](repeating: 0, count: 32), message, false),
                ("r = n", Self.order + s, message, false),
                ("s = n", Array(r) + Self.order, message, false),
                ("r = n − 1", Self.negated(one[...]) + s, message, false),
                ("s = 1", Array(r) + one, message, false),
                ("all ones", [UInt8](repeating: 0xFF, count: 64), message, false),
                ("all zeros", [UInt8](repeating: 0, count: 64), message, false),
                ("r and s swapped", Array(s) + r, message, false),
                ("n − r", Self.negated(r) + s, message, false),
            ]
            for (name, candidate, signed, expected) in cases {
                let ours = try key.verify(candidate, signs: signed[...])
                let openssl = try key.verifyWithOpenSSL(candidate, signs: signed[...])
                #expect(ours == openssl, "\(name): ScopeGate \(ours), OpenSSL \(openssl)")
                if let expected { #expect(ours == expected, "\(name)") }
                if ours { valid += 1 } else { refused += 1 }
            }
        }
        #expect(valid == 400 && refused == 200 * 13)
    }

    @Test func refusesPointsOffTheCurve() throws {
        let key = try ECDSAKey.generate()
        let jwk = try #require(key.publicJWK)
        let x = try #require(jwk["x"]?.stringValue.flatMap { Base64URL.decode($0) })
        var y = try #require(jwk["y"]?.stringValue.flatMap { Base64URL.decode($0) })
        #expect(P256Verifier(x: x, y: y) != nil)
        y[31] ^= 1
        #expect(P256Verifier(x: x, y: y) == nil)
        #expect(P256Verifier(x: [UInt8](repeating: 0, count: 32), y: [UInt8](repeating: 0, count: 32)) == nil)
        #expect(P256Verifier(x: Array(x.prefix(31)), y: y) == nil)
    }
}

/// The binary inversion P256Verifier uses for s⁻¹ before libcrypto checks it.
@Suite struct Word256Tests {
    static let n = Word256(0xFFFF_FFFF_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0xBCE6_FAAD_A717_9E84, 0xF3B9_CAC2_FC63_2551)

    static func bytes(_ value: Word256) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeMutableBufferPointer { value.write(bigEndian: $0) }
        return bytes
    }

    @Test func knownInverses() throws {
        let one = Word256(0, 0, 0, 1)
        #expect(one.inverse(modulo: Self.n) == one)
        // 2⁻¹ = (n + 1) / 2.
        var half = Self.n
        _ = half.add(one)
        half.halve()
        #expect(Word256(0, 0, 0, 2).inverse(modulo: Self.n) == half)
        // (n − 1)⁻¹ = n − 1.
        var minusOne = Self.n
        _ = minusOne.subtract(one)
        #expect(minusOne.inverse(modulo: Self.n) == minusOne)
        // 7⁻¹ mod 15 = 13; 5 and 0 have none.
        let fifteen = Word256(0, 0, 0, 15)
        #expect(Word256(0, 0, 0, 7).inverse(modulo: fifteen) == Word256(0, 0, 0, 13))
        #expect(Word256(0, 0, 0, 5).inverse(modulo: fifteen) == nil)
        #expect(Word256(0, 0, 0, 0).inverse(modulo: Self.n) == nil)
    }

    @Test func bytesRoundTrip() {
        let value = Word256(0x0102_0304_0506_0708, 0x1112_1314_1516_1718, 0x2122_2324_2526_2728, 0x3132_3334_3536_3738)
        let encoded = Self.bytes(value)
        #expect(encoded.prefix(3) == [0x01, 0x02, 0x03] && encoded.suffix(2) == [0x37, 0x38])
        #expect(encoded.withUnsafeBufferPointer { Word256(bigEndian: $0.baseAddress!) } == value)
    }

    /// (a⁻¹)⁻¹ = a for random a below n, and a⁻¹ ≠ a except for 1 and n − 1.
    @Test func inversionIsAnInvolution() throws {
        var random = SeededRandom()
        for _ in 0..<2_000 {
            var a = Word256(
                UInt64.random(in: 0...UInt64.max, using: &random) >> 1, .random(in: 0...UInt64.max, using: &random),
                .random(in: 0...UInt64.max, using: &random), .random(in: 1...UInt64.max, using: &random))
            if a >= Self.n { _ = a.subtract(Self.n) }
            let inverse = try #require(a.inverse(modulo: Self.n))
            #expect(!(inverse >= Self.n))
            #expect(inverse.inverse(modulo: Self.n) == a)
            #expect(inverse != a)
        }
    }
}
