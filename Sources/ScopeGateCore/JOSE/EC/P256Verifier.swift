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
            unsafe ERR_clear_error()
            return nil
        }
        // Q generates the whole group: P-256's order is prime and its cofactor 1.
        guard unsafe EC_GROUP_set_generator(keyCurve, point, EC_GROUP_get0_order(curve), BN_value_one()) == 1,
            unsafe scopegate_EC_GROUP_precompute_mult(keyCurve, context) == 1
        else {
            unsafe EC_GROUP_free(keyCurve)
            unsafe ERR_clear_error()
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
            unsafe ERR_clear_error()
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
        guard unsafe BN_mod_inverse(w, s, order, context) != nil,
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
}
