internal import COpenSSL

/// ECDSA verification on P-256 against one public key Q, made for the cache-miss path of ES256 tokens.
///
/// Verification computes u1·G + u2·Q. OpenSSL multiplies G from its built-in table of G's multiples but
/// Q by windowing on every call, which is two thirds of a verification. This verifier gives Q a table of
/// its own once (a copy of P-256 whose generator is Q, with `EC_GROUP_precompute_mult`), so both
/// products are fixed-base: about half the work of `EVP_DigestVerify`. Every operation is libcrypto's;
/// the steps are SEC 1 v2 §4.1.4's, and the inputs are all public, so none needs constant time.
///
/// The table takes about 150 KB and tens of milliseconds to make; the key ring makes one per ES256 key
/// when it loads the key, never on a request.
@safe final class P256Verifier: @unchecked Sendable {
    // @unchecked: both curves are written only in init and deinit; verification reads them.
    private let curve: OpaquePointer
    /// P-256 with Q as its generator and Q's table.
    private let keyCurve: OpaquePointer
    private static let length = 32

    /// A verifier for the affine point (`x`, `y`), 32 bytes each; nil when the point is not on P-256 or
    /// this libcrypto cannot make the table (the caller then verifies with OpenSSL's own ECDSA).
    init?(x: [UInt8], y: [UInt8]) {
        guard x.count == Self.length, y.count == Self.length,
            let curve = unsafe EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)
        else { return nil }
        guard let keyCurve = unsafe Self.curve(generator: x, y, on: curve) else {
            unsafe EC_GROUP_free(curve)
            return nil
        }
        unsafe self.curve = curve
        unsafe self.keyCurve = keyCurve
    }

    deinit {
        unsafe EC_GROUP_free(curve)
        unsafe EC_GROUP_free(keyCurve)
    }

    /// A copy of `curve` whose generator is (`x`, `y`), with its table of multiples.
    private static func curve(generator x: [UInt8], _ y: [UInt8], on curve: OpaquePointer) -> OpaquePointer? {
        guard let context = unsafe BN_CTX_new() else { return nil }
        defer { unsafe BN_CTX_free(context) }
        guard let point = unsafe EC_POINT_new(curve) else { return nil }
        defer { unsafe EC_POINT_free(point) }
        let bx = unsafe x.withUnsafeBufferPointer { unsafe BN_bin2bn($0.baseAddress, Int32(length), nil) }
        let by = unsafe y.withUnsafeBufferPointer { unsafe BN_bin2bn($0.baseAddress, Int32(length), nil) }
        defer {
            unsafe BN_free(bx)
            unsafe BN_free(by)
        }
        // Setting affine coordinates checks that the point is on the curve.
        guard let bx = unsafe bx, let by = unsafe by,
            unsafe EC_POINT_set_affine_coordinates(curve, point, bx, by, context) == 1,
            unsafe EC_POINT_is_at_infinity(curve, point) == 0,
            let keyCurve = unsafe EC_GROUP_dup(curve)
        else {
            ERR_clear_error()
            return nil
        }
        // Q generates the whole group: P-256's order is prime and its cofactor 1.
        guard unsafe EC_GROUP_set_generator(keyCurve, point, EC_GROUP_get0_order(curve), BN_value_one()) == 1,
            unsafe scopegate_EC_GROUP_precompute_mult(keyCurve, context) == 1
        else {
            unsafe EC_GROUP_free(keyCurve)
            ERR_clear_error()
            return nil
        }
        return unsafe keyCurve
    }

    /// Whether the raw r‖s `signature` (64 bytes) signs the SHA-256 `digest` (32 bytes) for this key.
    func verify(_ signature: [UInt8], digest: [UInt8]) -> Bool {
        guard signature.count == 2 * Self.length, digest.count == Self.length, let context = unsafe BN_CTX_new() else { return false }
        defer {
            unsafe BN_CTX_free(context)
            // A refusal inside libcrypto leaves reasons on this thread's error queue; they say nothing more.
            ERR_clear_error()
        }
        return unsafe signature.withUnsafeBufferPointer { signature in
            unsafe digest.withUnsafeBufferPointer { digest in
                unsafe verify(r: signature.baseAddress!, s: signature.baseAddress! + Self.length, digest: digest.baseAddress!, context: context)
            }
        }
    }

    private func verify(r rBytes: UnsafePointer<UInt8>, s sBytes: UnsafePointer<UInt8>, digest: UnsafePointer<UInt8>, context: OpaquePointer) -> Bool {
        unsafe BN_CTX_start(context)
        defer { unsafe BN_CTX_end(context) }
        guard let order = unsafe EC_GROUP_get0_order(curve),
            let r = unsafe BN_CTX_get(context), let s = unsafe BN_CTX_get(context), let e = unsafe BN_CTX_get(context),
            let w = unsafe BN_CTX_get(context), let u1 = unsafe BN_CTX_get(context), let u2 = unsafe BN_CTX_get(context),
            let x = unsafe BN_CTX_get(context),
            unsafe BN_bin2bn(rBytes, Int32(Self.length), r) != nil,
            unsafe BN_bin2bn(sBytes, Int32(Self.length), s) != nil,
            // SEC 1 §4.1.4 step 3: e is the whole digest, as n has 256 bits.
            unsafe BN_bin2bn(digest, Int32(Self.length), e) != nil
        else { return false }
        // Step 1: r and s in [1, n - 1].
        guard unsafe BN_is_zero(r) == 0, unsafe BN_is_zero(s) == 0, unsafe BN_cmp(r, order) < 0, unsafe BN_cmp(s, order) < 0 else { return false }
        // Step 4: u1 = e·s⁻¹ and u2 = r·s⁻¹ (mod n).
        guard unsafe inverse(of: s, bytes: sBytes, into: w, order: order, context: context),
            unsafe BN_mod_mul(u1, e, w, order, context) == 1,
            unsafe BN_mod_mul(u2, r, w, order, context) == 1
        else { return false }
        // Step 5: R = u1·G + u2·Q, each product from its table; R must not be the point at infinity.
        guard let point = unsafe EC_POINT_new(curve) else { return false }
        defer { unsafe EC_POINT_free(point) }
        guard let keyPoint = unsafe EC_POINT_new(curve) else { return false }
        defer { unsafe EC_POINT_free(keyPoint) }
        guard unsafe EC_POINT_mul(curve, point, u1, nil, nil, context) == 1,
            unsafe EC_POINT_mul(keyCurve, keyPoint, u2, nil, nil, context) == 1,
            unsafe EC_POINT_add(curve, point, point, keyPoint, context) == 1,
            unsafe EC_POINT_is_at_infinity(curve, point) == 0,
            unsafe EC_POINT_get_affine_coordinates(curve, point, x, nil, context) == 1,
            // Steps 6 and 7: xR mod n equals r.
            unsafe BN_nnmod(x, x, order, context) == 1
        else { return false }
        return unsafe BN_cmp(x, r) == 0
    }

    /// s⁻¹ mod n into `result`. `BN_mod_inverse` spends a third of a verification on it; the binary
    /// algorithm on four machine words finds the same number in a fraction of that, and libcrypto checks
    /// it (s·w ≡ 1) before it is used, falling back to `BN_mod_inverse` should the check ever fail.
    private func inverse(
        of s: OpaquePointer, bytes: UnsafePointer<UInt8>, into result: OpaquePointer, order: OpaquePointer, context: OpaquePointer
    ) -> Bool {
        if let candidate = unsafe Word256(bigEndian: bytes).inverse(modulo: Self.order) {
            let checked = unsafe withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.length) { encoded in
                unsafe candidate.write(bigEndian: encoded)
                guard let product = unsafe BN_CTX_get(context),
                    unsafe BN_bin2bn(encoded.baseAddress, Int32(Self.length), result) != nil,
                    unsafe BN_mod_mul(product, result, s, order, context) == 1
                else { return false }
                return unsafe BN_is_one(product) == 1
            }
            if checked { return true }
        }
        return unsafe BN_mod_inverse(result, s, order, context) != nil
    }

    /// n, the order of P-256's base point.
    private static let order = Word256(0xFFFF_FFFF_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0xBCE6_FAAD_A717_9E84, 0xF3B9_CAC2_FC63_2551)
}

/// A 256-bit unsigned number in four 64-bit words, with only what the binary inversion needs.
struct Word256: Equatable {
    /// Least significant first.
    var words: (UInt64, UInt64, UInt64, UInt64)

    /// The number whose words are given most significant first.
    init(_ w3: UInt64, _ w2: UInt64, _ w1: UInt64, _ w0: UInt64) {
        words = (w0, w1, w2, w3)
    }

    /// The number in 32 big-endian bytes.
    init(bigEndian bytes: UnsafePointer<UInt8>) {
        func word(_ offset: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in 0..<8 { value = value << 8 | UInt64(unsafe bytes[offset + index]) }
            return value
        }
        self.init(word(0), word(8), word(16), word(24))
    }

    /// The number as 32 big-endian bytes into `bytes`.
    func write(bigEndian bytes: UnsafeMutableBufferPointer<UInt8>) {
        for (index, word) in [words.3, words.2, words.1, words.0].enumerated() {
            for byte in 0..<8 { unsafe bytes[index * 8 + byte] = UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(byte))) }
        }
    }

    static func == (lhs: Word256, rhs: Word256) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    var isZero: Bool { (words.0 | words.1 | words.2 | words.3) == 0 }
    var isOne: Bool { words.0 == 1 && (words.1 | words.2 | words.3) == 0 }
    var isEven: Bool { words.0 & 1 == 0 }

    static func >= (lhs: Word256, rhs: Word256) -> Bool {
        if lhs.words.3 != rhs.words.3 { return lhs.words.3 > rhs.words.3 }
        if lhs.words.2 != rhs.words.2 { return lhs.words.2 > rhs.words.2 }
        if lhs.words.1 != rhs.words.1 { return lhs.words.1 > rhs.words.1 }
        return lhs.words.0 >= rhs.words.0
    }

    /// self += other; the carry out of the top word.
    @inline(__always) mutating func add(_ other: Word256) -> Bool {
        let (s0, c0) = words.0.addingReportingOverflow(other.words.0)
        var (s1, c1) = words.1.addingReportingOverflow(other.words.1)
        var c: Bool
        (s1, c) = s1.addingReportingOverflow(c0 ? 1 : 0)
        c1 = c1 || c
        var (s2, c2) = words.2.addingReportingOverflow(other.words.2)
        (s2, c) = s2.addingReportingOverflow(c1 ? 1 : 0)
        c2 = c2 || c
        var (s3, c3) = words.3.addingReportingOverflow(other.words.3)
        (s3, c) = s3.addingReportingOverflow(c2 ? 1 : 0)
        c3 = c3 || c
        words = (s0, s1, s2, s3)
        return c3
    }

    /// self −= other; the borrow out of the top word.
    @inline(__always) mutating func subtract(_ other: Word256) -> Bool {
        let (d0, b0) = words.0.subtractingReportingOverflow(other.words.0)
        var (d1, b1) = words.1.subtractingReportingOverflow(other.words.1)
        var b: Bool
        (d1, b) = d1.subtractingReportingOverflow(b0 ? 1 : 0)
        b1 = b1 || b
        var (d2, b2) = words.2.subtractingReportingOverflow(other.words.2)
        (d2, b) = d2.subtractingReportingOverflow(b1 ? 1 : 0)
        b2 = b2 || b
        var (d3, b3) = words.3.subtractingReportingOverflow(other.words.3)
        (d3, b) = d3.subtractingReportingOverflow(b2 ? 1 : 0)
        b3 = b3 || b
        words = (d0, d1, d2, d3)
        return b3
    }

    /// self >> 1, with `top` shifted in as bit 255.
    @inline(__always) mutating func halve(top: Bool = false) {
        words = (
            words.0 >> 1 | words.1 << 63, words.1 >> 1 | words.2 << 63, words.2 >> 1 | words.3 << 63,
            words.3 >> 1 | (top ? 1 << 63 : 0)
        )
    }

    /// self / 2 mod `modulus` (odd, above self).
    @inline(__always) mutating func halve(modulo modulus: Word256) {
        if isEven {
            halve()
        } else {
            let carry = add(modulus)
            halve(top: carry)
        }
    }

    /// self − other mod `modulus` (both below it).
    @inline(__always) mutating func subtract(_ other: Word256, modulo modulus: Word256) {
        if subtract(other) { _ = add(modulus) }
    }

    /// self⁻¹ mod `modulus` (odd, above self), by the binary extended Euclidean algorithm (Menezes, van
    /// Oorschot and Vanstone, Handbook of Applied Cryptography, 14.61, for an odd modulus); nil when self is
    /// zero or shares a factor with the modulus. The numbers are public: it need not take constant time.
    func inverse(modulo modulus: Word256) -> Word256? {
        var u = self
        var v = modulus
        var x1 = Word256(0, 0, 0, 1)
        var x2 = Word256(0, 0, 0, 0)
        // Invariants: x1·self ≡ u and x2·self ≡ v (mod modulus); u and v only decrease.
        while !u.isOne && !v.isOne {
            if u.isZero || v.isZero { return nil }
            while u.isEven {
                u.halve()
                x1.halve(modulo: modulus)
            }
            while v.isEven {
                v.halve()
                x2.halve(modulo: modulus)
            }
            if u >= v {
                _ = u.subtract(v)
                x1.subtract(x2, modulo: modulus)
            } else {
                _ = v.subtract(u)
                x2.subtract(x1, modulo: modulus)
            }
        }
        return u.isOne ? x1 : x2
    }
}
