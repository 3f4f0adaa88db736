#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "core/alloc.h"
#include "crypto/ecdsa.h"

/*
 * ES256 (RFC 7518 §3.4): ECDSA P-256 with SHA-256, signatures as raw
 * r || s. OpenSSL signs and verifies DER, so both directions convert.
 * Signing always yields the low-S form (s <= (n - 1) / 2); verification
 * accepts both forms, opc__ecdsa_is_low_s() tells them apart for callers
 * that need one spelling per signature (the JWT verifier).
 */

#define SCALAR_LEN 32
#define DER_MAX 72 /* SEQUENCE of two INTEGERs of at most 33 bytes each */

/* The order n of P-256 (FIPS 186-4 D.1.2.3), big-endian. */
static const uint8_t p256_order[SCALAR_LEN] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

static bool is_zero(const uint8_t *v)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < SCALAR_LEN; i++) {
        acc |= v[i];
    }
    return acc == 0;
}

/* v >= n, comparing big-endian bytes. Signatures are public, so this
 * need not be constant-time. */
static bool at_least_order(const uint8_t *v)
{
    for (size_t i = 0; i < SCALAR_LEN; i++) {
        if (v[i] != p256_order[i]) {
            return v[i] > p256_order[i];
        }
    }
    return true; /* equal */
}

/* NULL is reported as OPC_ECDSA_R_ZERO: the enum has no other failure. */
opc__ecdsa_range opc__ecdsa_check_range(const uint8_t sig[OPC_ES256_SIG_LEN])
{
    if (sig == NULL || is_zero(sig)) {
        return OPC_ECDSA_R_ZERO;
    }
    if (is_zero(sig + SCALAR_LEN)) {
        return OPC_ECDSA_S_ZERO;
    }
    if (at_least_order(sig)) {
        return OPC_ECDSA_R_TOO_LARGE;
    }
    if (at_least_order(sig + SCALAR_LEN)) {
        return OPC_ECDSA_S_TOO_LARGE;
    }
    return OPC_ECDSA_RANGE_OK;
}

static const char *range_text(opc__ecdsa_range r)
{
    switch (r) {
    case OPC_ECDSA_RANGE_OK:
        return "in range";
    case OPC_ECDSA_R_ZERO:
        return "r is zero";
    case OPC_ECDSA_S_ZERO:
        return "s is zero";
    case OPC_ECDSA_R_TOO_LARGE:
        return "r is not below the group order";
    case OPC_ECDSA_S_TOO_LARGE:
        return "s is not below the group order";
    }
    return "out of range";
}

/* The order n of P-256 from OpenSSL's named group (a copy: BN_free it). */
static BIGNUM *group_order(void)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *n = g != NULL ? BN_dup(EC_GROUP_get0_order(g)) : NULL;
    EC_GROUP_free(g);
    return n;
}

/* (n - 1) / 2 = n >> 1 (n is odd), big-endian, from OpenSSL's order; made
 * once, under a lock, and again after a failure (an allocation failure
 * must not refuse every later token). */
static pthread_mutex_t half_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool half_ready;
static uint8_t half_order[SCALAR_LEN];

static bool half_order_ready(void)
{
    if (atomic_load_explicit(&half_ready, memory_order_acquire)) {
        return true;
    }
    pthread_mutex_lock(&half_mu);
    if (!atomic_load_explicit(&half_ready, memory_order_relaxed)) {
        BIGNUM *n = group_order();
        BIGNUM *half = BN_new();
        if (n != NULL && half != NULL && BN_rshift1(half, n) == 1 &&
            BN_bn2binpad(half, half_order, SCALAR_LEN) == SCALAR_LEN) {
            atomic_store_explicit(&half_ready, true, memory_order_release);
        }
        BN_free(half);
        BN_free(n);
        ERR_clear_error();
    }
    pthread_mutex_unlock(&half_mu);
    return atomic_load_explicit(&half_ready, memory_order_acquire);
}

/* 1 when the 32-byte big-endian s is above (n - 1) / 2, 0 when not, -1 when
 * the half order could not be made. s and n - s are never both above it. */
static int s_is_high(const uint8_t *s)
{
    if (!half_order_ready()) {
        return -1;
    }
    return memcmp(s, half_order, SCALAR_LEN) > 0 ? 1 : 0; /* opc-public-compare: s, n */
}

int opc__ecdsa_is_low_s(const uint8_t sig[OPC_ES256_SIG_LEN])
{
    if (sig == NULL) {
        return -1;
    }
    int high = s_is_high(sig + SCALAR_LEN);
    return high < 0 ? -1 : high == 0 ? 1 : 0;
}

/* Write s into out (32 bytes) in its low-S form: n - s when s is high. */
static bool low_s_bytes(const BIGNUM *s, uint8_t *out)
{
    if (BN_bn2binpad(s, out, SCALAR_LEN) != SCALAR_LEN) {
        return false;
    }
    int high = s_is_high(out);
    if (high <= 0) {
        return high == 0;
    }
    BIGNUM *n = group_order();
    BIGNUM *low = BN_new();
    bool ok = n != NULL && low != NULL && BN_sub(low, n, s) == 1 &&
              BN_bn2binpad(low, out, SCALAR_LEN) == SCALAR_LEN;
    BN_free(low);
    BN_free(n);
    return ok;
}

opc_err opc__ecdsa_sign(const opc__key *k, const void *msg, size_t len,
                        uint8_t sig[OPC_ES256_SIG_LEN])
{
    static const uint8_t empty[1] = {0};
    if (sig == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memset(sig, 0, OPC_ES256_SIG_LEN);
    if (k == NULL || (msg == NULL && len != 0)) {
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc = opc__key_check(k, OPC_KTY_EC, OPC_KEYOP_SIGN, NULL);
    if (rc != OPC_OK) {
        return rc;
    }
    const uint8_t *m = len == 0 ? empty : msg;
    uint8_t der[DER_MAX + 16];
    size_t der_len = sizeof der;
    ECDSA_SIG *es = NULL;
    rc = OPC_ERR_CRYPTO;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (mctx == NULL ||
        EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, opc__key_pkey(k), NULL) != 1 ||
        EVP_DigestSign(mctx, der, &der_len, m, len) != 1) {
        goto done;
    }
    const unsigned char *p = der;
    es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (es == NULL) {
        goto done;
    }
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;
    ECDSA_SIG_get0(es, &r, &s);
    /* (r, s) and (r, n - s) both verify: we always write the low-S one, the
     * only form the JWT verifier accepts (issue 15). */
    if (r == NULL || s == NULL || BN_bn2binpad(r, sig, SCALAR_LEN) != SCALAR_LEN ||
        !low_s_bytes(s, sig + SCALAR_LEN)) {
        memset(sig, 0, OPC_ES256_SIG_LEN);
        goto done;
    }
    rc = OPC_OK;
done:
    if (rc != OPC_OK) {
        ERR_clear_error();
    }
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(mctx);
    return rc;
}

/* EVP_DigestVerify over der; only exactly 1 is a valid signature. */
static opc_err verify_der(const opc__key *k, const void *msg, size_t len, const uint8_t *der,
                          size_t der_len, opc__ebuf *eb)
{
    static const uint8_t empty[1] = {0};
    const uint8_t *m = len == 0 ? empty : msg;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (mctx == NULL ||
        EVP_DigestVerifyInit_ex(mctx, NULL, "SHA256", NULL, NULL, opc__key_pkey(k), NULL) != 1) {
        EVP_MD_CTX_free(mctx);
        ERR_clear_error();
        return opc__fail(eb, OPC_ERR_CRYPTO, "ECDSA verification could not start");
    }
    int ok = EVP_DigestVerify(mctx, der, der_len, m, len);
    EVP_MD_CTX_free(mctx);
    if (ok != 1) {
        ERR_clear_error(); /* 0: bad signature; < 0: malformed, also a bad signature */
        return opc__fail(eb, OPC_ERR_SIGNATURE, "signature does not verify");
    }
    return OPC_OK;
}

static opc_err verify_args(const opc__key *k, const void *msg, size_t len, const uint8_t *sig,
                           opc__ebuf *eb)
{
    if (k == NULL || sig == NULL || (msg == NULL && len != 0)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "invalid argument to ECDSA verification");
    }
    return opc__key_check(k, OPC_KTY_EC, OPC_KEYOP_VERIFY, eb);
}

opc_err opc__ecdsa_verify(const opc__key *k, const void *msg, size_t len, const uint8_t *sig,
                          size_t sig_len, opc__ebuf *eb)
{
    opc_err rc = verify_args(k, msg, len, sig, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (sig_len != OPC_ES256_SIG_LEN) {
        return opc__fail(eb, OPC_ERR_SIGNATURE, "ES256 signature of %zu bytes (must be %d)",
                         sig_len, OPC_ES256_SIG_LEN);
    }
    opc__ecdsa_range range = opc__ecdsa_check_range(sig);
    if (range != OPC_ECDSA_RANGE_OK) {
        return opc__fail(eb, OPC_ERR_SIGNATURE, "invalid ES256 signature: %s", range_text(range));
    }

    uint8_t der[DER_MAX + 16];
    unsigned char *p = der;
    BIGNUM *r = BN_bin2bn(sig, SCALAR_LEN, NULL);
    BIGNUM *s = BN_bin2bn(sig + SCALAR_LEN, SCALAR_LEN, NULL);
    ECDSA_SIG *es = ECDSA_SIG_new();
    rc = OPC_ERR_CRYPTO;
    if (r == NULL || s == NULL || es == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto done;
    }
    /* es owns r and s now */
    int der_len = i2d_ECDSA_SIG(es, NULL);
    if (der_len <= 0 || der_len > (int)sizeof der || i2d_ECDSA_SIG(es, &p) != der_len) {
        goto done;
    }
    ECDSA_SIG_free(es);
    es = NULL;
    return verify_der(k, msg, len, der, (size_t)der_len, eb);
done:
    ERR_clear_error();
    ECDSA_SIG_free(es);
    return opc__fail(eb, rc, "ECDSA signature conversion failed");
}

opc_err opc__ecdsa_verify_der(const opc__key *k, const void *msg, size_t len, const uint8_t *der,
                              size_t der_len, opc__ebuf *eb)
{
    opc_err rc = verify_args(k, msg, len, der, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (der_len == 0 || der_len > DER_MAX) {
        return opc__fail(eb, OPC_ERR_SIGNATURE, "DER ECDSA signature of %zu bytes", der_len);
    }
    /* OpenSSL's own DER parsing, then: all input consumed, r and s
     * non-negative, and the canonical re-encoding identical to the input. */
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (es == NULL) {
        ERR_clear_error();
        return opc__fail(eb, OPC_ERR_SIGNATURE, "malformed DER ECDSA signature");
    }
    uint8_t raw[OPC_ES256_SIG_LEN];
    uint8_t again[DER_MAX + 16];
    unsigned char *q = again;
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;
    ECDSA_SIG_get0(es, &r, &s);
    rc = OPC_ERR_SIGNATURE;
    const char *why = "malformed DER ECDSA signature";
    if ((size_t)(p - der) != der_len) {
        why = "trailing bytes after the DER ECDSA signature";
        goto done;
    }
    if (r == NULL || s == NULL || BN_is_negative(r) || BN_is_negative(s)) {
        why = "negative integer in the DER ECDSA signature";
        goto done;
    }
    int n = i2d_ECDSA_SIG(es, NULL);
    if (n <= 0 || n > (int)sizeof again || i2d_ECDSA_SIG(es, &q) != n || (size_t)n != der_len ||
        CRYPTO_memcmp(again, der, der_len) != 0) {
        why = "non-canonical DER ECDSA signature";
        goto done;
    }
    if (BN_bn2binpad(r, raw, SCALAR_LEN) != SCALAR_LEN ||
        BN_bn2binpad(s, raw + SCALAR_LEN, SCALAR_LEN) != SCALAR_LEN) {
        why = "DER ECDSA integer longer than 32 bytes";
        goto done;
    }
    opc__ecdsa_range range = opc__ecdsa_check_range(raw);
    if (range != OPC_ECDSA_RANGE_OK) {
        ECDSA_SIG_free(es);
        return opc__fail(eb, OPC_ERR_SIGNATURE, "invalid ECDSA signature: %s", range_text(range));
    }
    ECDSA_SIG_free(es);
    return verify_der(k, msg, len, der, der_len, eb);
done:
    ERR_clear_error();
    ECDSA_SIG_free(es);
    return opc__fail(eb, rc, "%s", why);
}
