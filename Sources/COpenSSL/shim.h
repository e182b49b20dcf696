#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/obj_mac.h>

/* OpenSSL 3.0 deprecates its low-level EC API's precomputation, yet it is the only way to give a curve
 * a table of multiples of a point other than the standard generator: P256Verifier makes one per ES256
 * verification key. */
static inline int scopegate_EC_GROUP_precompute_mult(EC_GROUP *group, BN_CTX *context) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    return EC_GROUP_precompute_mult(group, context);
#pragma GCC diagnostic pop
}
