/*
 * crypto/srp.c - SRP-6a on OpenSSL BIGNUM and EVP digests. The formulas
 * and the error contract are in srp.h; the protocol around it is
 * docs/protocol.md, "Owner sign-in (SRP-6a)".
 *
 * Arithmetic is OpenSSL's only. Exponentiations with a secret exponent
 * (x, a, b, a + u * x) use BN_mod_exp_mont_consttime with the exponent
 * flagged BN_FLG_CONSTTIME; secret BIGNUMs come from BN_secure_new or a
 * BN_CTX_secure_new context and are cleared on free. Byte buffers that held
 * a secret are wiped with OPENSSL_cleanse (opc__wipe).
 *
 * Error messages name the value at fault (A, B, M1...) and sizes, never a
 * value.
 */
#include "internal.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/rand.h"
#include "crypto/srp.h"
#include "crypto/srp_hooks.h"

#define EPHEMERAL_LEN 32 /* a and b: 256 random bits */

struct opc__srp_group {
    unsigned bits;
    unsigned long g;
    size_t len;  /* |N| in bytes */
    size_t hlen; /* the hash's output length */
    const EVP_MD *(*md)(void);
    BIGNUM *(*prime)(void); /* a new BIGNUM holding N, or NULL */
};

/* RFC 5054 appendices A.4 and A.5 are RFC 3526's 3072- and 4096-bit MODP primes. */
static BIGNUM *prime_3072(void)
{
    return BN_get_rfc3526_prime_3072(NULL);
}

static BIGNUM *prime_4096(void)
{
    return BN_get_rfc3526_prime_4096(NULL);
}

/* RFC 5054 appendix A.1: the 1024-bit group, for the appendix B test vector only. */
static BIGNUM *prime_1024(void)
{
    static const char hex[] = "EEAF0AB9ADB38DD69C33F80AFA8FC5E86072618775FF3C0B9EA2314C"
                              "9C256576D674DF7496EA81D3383B4813D692C6E0E0D5D8E250B98BE4"
                              "8E495C1D6089DAD15DC7D7B46154D6B6CE8EF4AD69B15D4982559B29"
                              "7BCF1885C529F566660E57EC68EDBC3C05726CC02FD4CBF4976EAA9A"
                              "FD5138FE8376435B9FC61D2FC0EB06E3";
    BIGNUM *n = NULL;
    if (BN_hex2bn(&n, hex) != (int)(sizeof hex - 1)) {
        BN_free(n);
        return NULL;
    }
    return n;
}

static const opc__srp_group group_3072 = {3072, 5, 384, 32, EVP_sha256, prime_3072};
static const opc__srp_group group_4096 = {4096, 5, 512, 32, EVP_sha256, prime_4096};
static const opc__srp_group group_rfc5054_test = {1024, 2, 128, 20, EVP_sha1, prime_1024};

const opc__srp_group *opc__srp_group_get(unsigned bits)
{
    switch (bits) {
    case 3072:
        return &group_3072;
    case 4096:
        return &group_4096;
    default:
        return NULL;
    }
}

const opc__srp_group *opc__srp_group_rfc5054_test(void)
{
    return &group_rfc5054_test;
}

size_t opc__srp_group_len(const opc__srp_group *g)
{
    return g == NULL ? 0 : g->len;
}

size_t opc__srp_hash_len(const opc__srp_group *g)
{
    return g == NULL ? 0 : g->hlen;
}

/* ---- the working context: the group's numbers and a BN_CTX ---- */

typedef struct srp_ctx {
    const opc__srp_group *grp;
    BN_CTX *bn; /* secure: its temporaries are cleared when it is freed */
    BIGNUM *N;
    BIGNUM *g;
    BIGNUM *k;
} srp_ctx;

typedef struct part {
    const void *p;
    size_t n;
} part;

/* out[grp->hlen] = H(parts[0] | parts[1] | ...). */
static opc_err hash_parts(const opc__srp_group *grp, const part *parts, size_t n, uint8_t *out)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int olen = 0;
    bool ok = m != NULL && EVP_DigestInit_ex(m, grp->md(), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++) {
        ok = parts[i].n == 0 || EVP_DigestUpdate(m, parts[i].p, parts[i].n) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(m, out, &olen) == 1 && olen == grp->hlen;
    EVP_MD_CTX_free(m);
    if (!ok) {
        ERR_clear_error();
        return OPC_ERR_CRYPTO;
    }
    return OPC_OK;
}

/* PAD(z): z big-endian in exactly len bytes. */
static bool pad(const BIGNUM *z, uint8_t *out, size_t len)
{
    return BN_bn2binpad(z, out, (int)len) == (int)len;
}

static opc_err crypto_fail(opc__ebuf *eb, const char *what)
{
    ERR_clear_error();
    (void)opc__fail(eb, OPC_ERR_CRYPTO, "SRP: %s failed", what);
    return OPC_ERR_CRYPTO;
}

static void ctx_done(srp_ctx *c)
{
    BN_CTX_free(c->bn);
    BN_free(c->N);
    BN_free(c->g);
    BN_free(c->k);
    memset(c, 0, sizeof *c);
}

/* N, g and k = H(N | PAD(g)). */
static opc_err ctx_init(srp_ctx *c, const opc__srp_group *grp, opc__ebuf *eb)
{
    memset(c, 0, sizeof *c);
    c->grp = grp;
    c->bn = BN_CTX_secure_new();
    c->N = grp->prime();
    c->g = BN_new();
    c->k = BN_new();
    if (c->bn == NULL || c->N == NULL || c->g == NULL || c->k == NULL) {
        ctx_done(c);
        ERR_clear_error();
        (void)opc__fail(eb, OPC_ERR_NOMEM, "SRP: out of memory");
        return OPC_ERR_NOMEM;
    }
    uint8_t Npad[OPC_SRP_MAX_LEN];
    uint8_t gpad[OPC_SRP_MAX_LEN];
    uint8_t h[OPC_SRP_MAX_HASH_LEN];
    const part parts[] = {{Npad, grp->len}, {gpad, grp->len}};
    if ((size_t)BN_num_bytes(c->N) != grp->len || BN_set_word(c->g, grp->g) != 1 ||
        !pad(c->N, Npad, grp->len) || !pad(c->g, gpad, grp->len) ||
        hash_parts(grp, parts, OPC_ARRAY_LEN(parts), h) != OPC_OK ||
        BN_bin2bn(h, (int)grp->hlen, c->k) == NULL) {
        ctx_done(c);
        return crypto_fail(eb, "setting up the group");
    }
    return OPC_OK;
}

/* A secret (a, b, x, v) as a secure, constant-time-flagged BIGNUM. */
static BIGNUM *secret_bn(const uint8_t *p, size_t n)
{
    BIGNUM *z = BN_secure_new();
    if (z == NULL) {
        return NULL;
    }
    if (BN_bin2bn(p, (int)n, z) == NULL) {
        BN_clear_free(z);
        return NULL;
    }
    BN_set_flags(z, BN_FLG_CONSTTIME);
    return z;
}

/* A fresh ephemeral secret of 256 random bits (nonzero), or the given one
 * (a test hook's; nonzero, 1..OPC_SRP_X_MAX_LEN bytes). */
static opc_err ephemeral(const uint8_t *fixed, size_t fixed_len, BIGNUM **out, opc__ebuf *eb)
{
    *out = NULL;
    if (fixed != NULL) {
        BIGNUM *z = secret_bn(fixed, fixed_len);
        if (z == NULL) {
            return crypto_fail(eb, "loading the ephemeral secret");
        }
        if (BN_is_zero(z)) {
            BN_clear_free(z);
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP: the ephemeral secret is 0");
        }
        *out = z;
        return OPC_OK;
    }
    uint8_t r[EPHEMERAL_LEN];
    BIGNUM *z = NULL;
    opc_err rc = OPC_OK;
    do {
        BN_clear_free(z);
        z = NULL;
        rc = opc__rand_priv_bytes(r, sizeof r);
        if (rc != OPC_OK) {
            rc = opc__fail(eb, rc, "SRP: the random generator failed");
            break;
        }
        z = secret_bn(r, sizeof r);
        if (z == NULL) {
            rc = crypto_fail(eb, "loading the ephemeral secret");
            break;
        }
    } while (BN_is_zero(z));
    opc__wipe(r, sizeof r);
    if (rc != OPC_OK) {
        BN_clear_free(z);
        return rc;
    }
    *out = z;
    return OPC_OK;
}

/* A peer's group element: exactly |N| bytes, with 0 < z < N. */
static opc_err peer_value(const srp_ctx *c, const char *name, const uint8_t *in, size_t in_len,
                          BIGNUM **out, opc__ebuf *eb)
{
    *out = NULL;
    if (in == NULL || in_len != c->grp->len) {
        return opc__fail(eb, OPC_ERR_PARSE, "SRP: %s must be %zu bytes, got %zu", name, c->grp->len,
                         in == NULL ? (size_t)0 : in_len);
    }
    BIGNUM *z = BN_bin2bn(in, (int)in_len, NULL);
    if (z == NULL) {
        return crypto_fail(eb, "loading a public value");
    }
    if (BN_is_zero(z) || BN_cmp(z, c->N) >= 0) {
        BN_free(z);
        return opc__fail(eb, OPC_ERR_RANGE, "SRP: %s is 0 modulo N or not below N", name);
    }
    *out = z;
    return OPC_OK;
}

/* u = H(PAD(A) | PAD(B)), refused when 0. */
static opc_err compute_u(const srp_ctx *c, const uint8_t *Apad, const uint8_t *Bpad, BIGNUM **out,
                         opc__ebuf *eb)
{
    *out = NULL;
    uint8_t h[OPC_SRP_MAX_HASH_LEN];
    const part parts[] = {{Apad, c->grp->len}, {Bpad, c->grp->len}};
    if (hash_parts(c->grp, parts, OPC_ARRAY_LEN(parts), h) != OPC_OK) {
        return crypto_fail(eb, "hashing u");
    }
    BIGNUM *u = BN_bin2bn(h, (int)c->grp->hlen, NULL);
    if (u == NULL) {
        return crypto_fail(eb, "loading u");
    }
    if (BN_is_zero(u)) {
        BN_free(u);
        return opc__fail(eb, OPC_ERR_RANGE, "SRP: u is 0");
    }
    *out = u;
    return OPC_OK;
}

/* Clear a BN_CTX temporary that held a secret (NULL when BN_CTX_get failed). */
static void clear_tmp(BIGNUM *z)
{
    if (z != NULL) {
        BN_clear(z);
    }
}

/* r = base^e mod N with a secret exponent. */
static bool exp_secret(srp_ctx *c, BIGNUM *r, const BIGNUM *base, BIGNUM *e)
{
    BN_set_flags(e, BN_FLG_CONSTTIME);
    return BN_mod_exp_mont_consttime(r, base, e, c->N, c->bn, NULL) == 1;
}

/* A = g^a. */
static opc_err public_A(srp_ctx *c, BIGNUM *a, uint8_t *Apad, opc__ebuf *eb)
{
    BN_CTX_start(c->bn);
    BIGNUM *A = BN_CTX_get(c->bn);
    bool ok = A != NULL && exp_secret(c, A, c->g, a) && pad(A, Apad, c->grp->len);
    BN_CTX_end(c->bn);
    return ok ? OPC_OK : crypto_fail(eb, "computing A");
}

/* B = k * v + g^b, refused (as a failure of ours) in the negligible case B == 0. */
static opc_err public_B(srp_ctx *c, BIGNUM *b, const BIGNUM *v, uint8_t *Bpad, opc__ebuf *eb)
{
    BN_CTX_start(c->bn);
    BIGNUM *kv = BN_CTX_get(c->bn);
    BIGNUM *gb = BN_CTX_get(c->bn);
    bool ok = gb != NULL && BN_mod_mul(kv, c->k, v, c->N, c->bn) == 1 &&
              exp_secret(c, gb, c->g, b) && BN_mod_add(gb, kv, gb, c->N, c->bn) == 1 &&
              !BN_is_zero(gb) && pad(gb, Bpad, c->grp->len);
    clear_tmp(kv);
    clear_tmp(gb);
    BN_CTX_end(c->bn);
    return ok ? OPC_OK : crypto_fail(eb, "computing B");
}

/* Client: S = (B - k * g^x)^(a + u * x). */
static opc_err client_S(srp_ctx *c, BIGNUM *a, BIGNUM *x, const BIGNUM *B, const BIGNUM *u,
                        BIGNUM *S, opc__ebuf *eb)
{
    BN_CTX_start(c->bn);
    BIGNUM *gx = BN_CTX_get(c->bn);
    BIGNUM *base = BN_CTX_get(c->bn);
    BIGNUM *e = BN_CTX_get(c->bn);
    bool ok = e != NULL && exp_secret(c, gx, c->g, x) &&
              BN_mod_mul(base, c->k, gx, c->N, c->bn) == 1 &&
              BN_mod_sub(base, B, base, c->N, c->bn) == 1 && BN_mul(e, u, x, c->bn) == 1 &&
              BN_add(e, e, a) == 1 && exp_secret(c, S, base, e);
    clear_tmp(gx);
    clear_tmp(base);
    clear_tmp(e);
    BN_CTX_end(c->bn);
    return ok ? OPC_OK : crypto_fail(eb, "computing the client's premaster secret");
}

/* Server: S = (A * v^u)^b. */
static opc_err server_S(srp_ctx *c, BIGNUM *b, const BIGNUM *v, const BIGNUM *A, const BIGNUM *u,
                        BIGNUM *S, opc__ebuf *eb)
{
    BN_CTX_start(c->bn);
    BIGNUM *t = BN_CTX_get(c->bn);
    bool ok = t != NULL && BN_mod_exp(t, v, u, c->N, c->bn) == 1 &&
              BN_mod_mul(t, A, t, c->N, c->bn) == 1 && exp_secret(c, S, t, b);
    clear_tmp(t);
    BN_CTX_end(c->bn);
    return ok ? OPC_OK : crypto_fail(eb, "computing the server's premaster secret");
}

/*
 * From S: K = H(PAD(S)), M1 = H((H(N) xor H(g)) | hI | s | PAD(A) | PAD(B) | K)
 * and M2 = H(PAD(A) | M1 | K), each grp->hlen bytes.
 */
static opc_err proofs(const srp_ctx *c, const BIGNUM *S, const uint8_t *hI, const uint8_t *salt,
                      size_t salt_len, const uint8_t *Apad, const uint8_t *Bpad, uint8_t *K,
                      uint8_t *M1, uint8_t *M2, opc__ebuf *eb)
{
    const opc__srp_group *grp = c->grp;
    const size_t hl = grp->hlen;
    uint8_t Spad[OPC_SRP_MAX_LEN];
    uint8_t Nmin[OPC_SRP_MAX_LEN];
    uint8_t gmin[sizeof(unsigned long)];
    uint8_t hN[OPC_SRP_MAX_HASH_LEN];
    uint8_t hg[OPC_SRP_MAX_HASH_LEN];
    int nl = BN_num_bytes(c->N);
    int gl = BN_num_bytes(c->g);
    bool ok = pad(S, Spad, grp->len);
    if (ok) {
        const part pk[] = {{Spad, grp->len}};
        ok = hash_parts(grp, pk, 1, K) == OPC_OK;
    }
    opc__wipe(Spad, sizeof Spad);
    ok = ok && nl > 0 && (size_t)nl <= sizeof Nmin && gl > 0 && (size_t)gl <= sizeof gmin &&
         BN_bn2bin(c->N, Nmin) == nl && BN_bn2bin(c->g, gmin) == gl;
    if (ok) {
        const part pn[] = {{Nmin, (size_t)nl}};
        const part pg[] = {{gmin, (size_t)gl}};
        ok = hash_parts(grp, pn, 1, hN) == OPC_OK && hash_parts(grp, pg, 1, hg) == OPC_OK;
    }
    if (ok) {
        for (size_t i = 0; i < hl; i++) {
            hN[i] ^= hg[i];
        }
        const part p1[] = {{hN, hl},         {hI, hl},         {salt, salt_len},
                           {Apad, grp->len}, {Bpad, grp->len}, {K, hl}};
        ok = hash_parts(grp, p1, OPC_ARRAY_LEN(p1), M1) == OPC_OK;
    }
    if (ok) {
        const part p2[] = {{Apad, grp->len}, {M1, hl}, {K, hl}};
        ok = hash_parts(grp, p2, OPC_ARRAY_LEN(p2), M2) == OPC_OK;
    }
    if (!ok) {
        opc__wipe(K, hl);
        opc__wipe(M1, hl);
        opc__wipe(M2, hl);
        return crypto_fail(eb, "computing the proofs");
    }
    return OPC_OK;
}

static bool salt_ok(const uint8_t *salt, size_t salt_len)
{
    return salt != NULL && salt_len >= 1 && salt_len <= OPC_SRP_SALT_MAX_LEN;
}

static bool secret_len_ok(const uint8_t *p, size_t n)
{
    return p != NULL && n >= 1 && n <= OPC_SRP_X_MAX_LEN;
}

/* ---- the verifier ---- */

opc_err opc__srp_verifier(const opc__srp_group *g, const uint8_t *x, size_t x_len, uint8_t *v,
                          size_t v_len, opc__ebuf *eb)
{
    if (g == NULL || !secret_len_ok(x, x_len) || v == NULL || v_len != g->len) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP verifier: invalid argument");
    }
    srp_ctx c;
    opc_err rc = ctx_init(&c, g, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    BIGNUM *xb = secret_bn(x, x_len);
    if (xb == NULL) {
        rc = crypto_fail(eb, "loading x");
    } else if (BN_is_zero(xb)) {
        rc = opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP verifier: x is 0");
    } else {
        rc = public_A(&c, xb, v, eb); /* g^x, the same computation as A = g^a */
        if (rc != OPC_OK) {
            opc__wipe(v, v_len);
            rc = crypto_fail(eb, "computing the verifier");
        }
    }
    BN_clear_free(xb);
    ctx_done(&c);
    return rc;
}

/* ---- the client ---- */

enum { STAGE_STARTED, STAGE_FINISHED, STAGE_DONE };

struct opc__srp_client {
    srp_ctx c;
    BIGNUM *a;
    int stage;
    uint8_t A[OPC_SRP_MAX_LEN];
    uint8_t K[OPC_SRP_MAX_HASH_LEN];
    uint8_t M2[OPC_SRP_MAX_HASH_LEN];
};

void opc__srp_client_free(opc__srp_client *c)
{
    if (c == NULL) {
        return;
    }
    BN_clear_free(c->a);
    ctx_done(&c->c);
    opc__secret_free(c, sizeof *c);
}

static opc_err client_start(const opc__srp_group *g, const uint8_t *a, size_t a_len, uint8_t *A,
                            size_t A_len, opc__srp_client **out, opc__ebuf *eb)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (g == NULL || A == NULL || A_len != g->len || out == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP client: invalid argument");
    }
    opc__srp_client *c = opc__calloc(1, sizeof *c);
    if (c == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "SRP client: out of memory");
    }
    opc_err rc = ctx_init(&c->c, g, eb);
    if (rc != OPC_OK) {
        opc__secret_free(c, sizeof *c);
        return rc;
    }
    rc = ephemeral(a, a_len, &c->a, eb);
    if (rc == OPC_OK) {
        rc = public_A(&c->c, c->a, c->A, eb);
    }
    if (rc != OPC_OK) {
        opc__srp_client_free(c);
        return rc;
    }
    memcpy(A, c->A, g->len);
    c->stage = STAGE_STARTED;
    *out = c;
    return OPC_OK;
}

opc_err opc__srp_client_start(const opc__srp_group *g, uint8_t *A, size_t A_len,
                              opc__srp_client **out, opc__ebuf *eb)
{
    return client_start(g, NULL, 0, A, A_len, out, eb);
}

opc_err opc__srp_client_start_fixed(const opc__srp_group *g, const uint8_t *a, size_t a_len,
                                    uint8_t *A, size_t A_len, opc__srp_client **out, opc__ebuf *eb)
{
    if (!secret_len_ok(a, a_len)) {
        if (out != NULL) {
            *out = NULL;
        }
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP client: invalid argument");
    }
    return client_start(g, a, a_len, A, A_len, out, eb);
}

opc_err opc__srp_client_finish(opc__srp_client *c, const void *I, size_t I_len, const uint8_t *salt,
                               size_t salt_len, const uint8_t *x, size_t x_len, const uint8_t *B,
                               size_t B_len, uint8_t *M1, size_t M1_len, opc__ebuf *eb)
{
    if (c == NULL || c->stage != STAGE_STARTED) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG,
                         "SRP client: the state is not at its second step");
    }
    c->stage = STAGE_DONE; /* single use, whatever the outcome */
    const opc__srp_group *grp = c->c.grp;
    if ((I == NULL && I_len != 0) || !salt_ok(salt, salt_len) || !secret_len_ok(x, x_len) ||
        M1 == NULL || M1_len != grp->hlen) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP client: invalid argument");
    }
    BIGNUM *Bb = NULL;
    BIGNUM *u = NULL;
    BIGNUM *xb = NULL;
    BIGNUM *S = NULL;
    uint8_t hI[OPC_SRP_MAX_HASH_LEN];
    const part pi[] = {{I, I_len}};
    opc_err rc = peer_value(&c->c, "B", B, B_len, &Bb, eb);
    if (rc == OPC_OK) {
        rc = compute_u(&c->c, c->A, B, &u, eb);
    }
    if (rc == OPC_OK) {
        xb = secret_bn(x, x_len);
        S = BN_secure_new();
        if (xb == NULL || S == NULL) {
            rc = crypto_fail(eb, "loading x");
        }
    }
    if (rc == OPC_OK) {
        rc = client_S(&c->c, c->a, xb, Bb, u, S, eb);
    }
    if (rc == OPC_OK && hash_parts(grp, pi, 1, hI) != OPC_OK) {
        rc = crypto_fail(eb, "hashing the identity");
    }
    if (rc == OPC_OK) {
        rc = proofs(&c->c, S, hI, salt, salt_len, c->A, B, c->K, M1, c->M2, eb);
    }
    BN_free(Bb);
    BN_free(u);
    BN_clear_free(xb);
    BN_clear_free(S);
    BN_clear_free(c->a); /* a is no longer needed either way */
    c->a = NULL;
    if (rc != OPC_OK) {
        opc__wipe(M1, M1_len);
        opc__wipe(c->K, sizeof c->K);
        opc__wipe(c->M2, sizeof c->M2);
        return rc;
    }
    c->stage = STAGE_FINISHED;
    return OPC_OK;
}

opc_err opc__srp_client_verify(opc__srp_client *c, const uint8_t *M2, size_t M2_len, uint8_t *K,
                               size_t K_len, opc__ebuf *eb)
{
    if (c == NULL || c->stage != STAGE_FINISHED) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP client: the state is not at its third step");
    }
    c->stage = STAGE_DONE;
    const size_t hl = c->c.grp->hlen;
    opc_err rc = OPC_OK;
    if (K == NULL || K_len != hl) {
        rc = opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP client: invalid argument");
    } else if (M2 == NULL || M2_len != hl) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "SRP: M2 must be %zu bytes, got %zu", hl,
                       M2 == NULL ? (size_t)0 : M2_len);
    } else if (CRYPTO_memcmp(M2, c->M2, hl) != 0) {
        rc = opc__fail(eb, OPC_ERR_SIGNATURE, "SRP: the server's proof M2 does not match");
    } else {
        memcpy(K, c->K, hl);
    }
    opc__wipe(c->K, sizeof c->K);
    opc__wipe(c->M2, sizeof c->M2);
    return rc;
}

/* ---- the server ---- */

struct opc__srp_server {
    srp_ctx c;
    BIGNUM *b;
    BIGNUM *v;
    bool used;
    size_t salt_len;
    uint8_t salt[OPC_SRP_SALT_MAX_LEN];
    uint8_t hI[OPC_SRP_MAX_HASH_LEN];
    uint8_t B[OPC_SRP_MAX_LEN];
};

void opc__srp_server_free(opc__srp_server *s)
{
    if (s == NULL) {
        return;
    }
    BN_clear_free(s->b);
    BN_clear_free(s->v);
    ctx_done(&s->c);
    opc__secret_free(s, sizeof *s);
}

/* v as a BIGNUM: |N| bytes, 1..N-1. */
static opc_err load_verifier(const srp_ctx *c, const uint8_t *v, BIGNUM **out, opc__ebuf *eb)
{
    *out = secret_bn(v, c->grp->len);
    if (*out == NULL) {
        return crypto_fail(eb, "loading the verifier");
    }
    if (BN_is_zero(*out) || BN_cmp(*out, c->N) >= 0) {
        BN_clear_free(*out);
        *out = NULL;
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP server: the verifier is out of range");
    }
    return OPC_OK;
}

static opc_err server_start(const opc__srp_group *g, const void *I, size_t I_len,
                            const uint8_t *salt, size_t salt_len, const uint8_t *v, size_t v_len,
                            const uint8_t *b, size_t b_len, uint8_t *B, size_t B_len,
                            opc__srp_server **out, opc__ebuf *eb)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (g == NULL || (I == NULL && I_len != 0) || !salt_ok(salt, salt_len) || v == NULL ||
        v_len != g->len || B == NULL || B_len != g->len || out == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP server: invalid argument");
    }
    opc__srp_server *s = opc__calloc(1, sizeof *s);
    if (s == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "SRP server: out of memory");
    }
    opc_err rc = ctx_init(&s->c, g, eb);
    if (rc != OPC_OK) {
        opc__secret_free(s, sizeof *s);
        return rc;
    }
    const part pi[] = {{I, I_len}};
    if (hash_parts(g, pi, 1, s->hI) != OPC_OK) {
        rc = crypto_fail(eb, "hashing the identity");
    }
    if (rc == OPC_OK) {
        memcpy(s->salt, salt, salt_len);
        s->salt_len = salt_len;
        rc = load_verifier(&s->c, v, &s->v, eb);
    }
    if (rc == OPC_OK) {
        rc = ephemeral(b, b_len, &s->b, eb);
    }
    if (rc == OPC_OK) {
        rc = public_B(&s->c, s->b, s->v, s->B, eb);
    }
    if (rc != OPC_OK) {
        opc__srp_server_free(s);
        return rc;
    }
    memcpy(B, s->B, g->len);
    *out = s;
    return OPC_OK;
}

opc_err opc__srp_server_start(const opc__srp_group *g, const void *I, size_t I_len,
                              const uint8_t *salt, size_t salt_len, const uint8_t *v, size_t v_len,
                              uint8_t *B, size_t B_len, opc__srp_server **out, opc__ebuf *eb)
{
    return server_start(g, I, I_len, salt, salt_len, v, v_len, NULL, 0, B, B_len, out, eb);
}

opc_err opc__srp_server_start_fixed(const opc__srp_group *g, const void *I, size_t I_len,
                                    const uint8_t *salt, size_t salt_len, const uint8_t *v,
                                    size_t v_len, const uint8_t *b, size_t b_len, uint8_t *B,
                                    size_t B_len, opc__srp_server **out, opc__ebuf *eb)
{
    if (!secret_len_ok(b, b_len)) {
        if (out != NULL) {
            *out = NULL;
        }
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP server: invalid argument");
    }
    return server_start(g, I, I_len, salt, salt_len, v, v_len, b, b_len, B, B_len, out, eb);
}

opc_err opc__srp_server_verify(opc__srp_server *s, const uint8_t *A, size_t A_len,
                               const uint8_t *M1, size_t M1_len, uint8_t *M2, size_t M2_len,
                               uint8_t *K, size_t K_len, opc__ebuf *eb)
{
    if (s == NULL || s->used) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP server: the state was already used");
    }
    s->used = true; /* one attempt per b, whatever the outcome */
    const opc__srp_group *grp = s->c.grp;
    const size_t hl = grp->hlen;
    if (M2 == NULL || M2_len != hl || K == NULL || K_len != hl) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP server: invalid argument");
    }
    BIGNUM *Ab = NULL;
    BIGNUM *u = NULL;
    BIGNUM *S = NULL;
    uint8_t k_mine[OPC_SRP_MAX_HASH_LEN];
    uint8_t m1_mine[OPC_SRP_MAX_HASH_LEN];
    uint8_t m2_mine[OPC_SRP_MAX_HASH_LEN];
    opc_err rc = OPC_OK;
    if (M1 == NULL || M1_len != hl) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "SRP: M1 must be %zu bytes, got %zu", hl,
                       M1 == NULL ? (size_t)0 : M1_len);
    }
    if (rc == OPC_OK) {
        rc = peer_value(&s->c, "A", A, A_len, &Ab, eb);
    }
    if (rc == OPC_OK) {
        rc = compute_u(&s->c, A, s->B, &u, eb);
    }
    if (rc == OPC_OK) {
        S = BN_secure_new();
        if (S == NULL) {
            rc = crypto_fail(eb, "allocating S");
        }
    }
    if (rc == OPC_OK) {
        rc = server_S(&s->c, s->b, s->v, Ab, u, S, eb);
    }
    if (rc == OPC_OK) {
        rc = proofs(&s->c, S, s->hI, s->salt, s->salt_len, A, s->B, k_mine, m1_mine, m2_mine, eb);
        if (rc == OPC_OK && CRYPTO_memcmp(M1, m1_mine, hl) != 0) {
            rc = opc__fail(eb, OPC_ERR_SIGNATURE, "SRP: the client's proof M1 does not match");
        }
        if (rc == OPC_OK) {
            memcpy(M2, m2_mine, hl);
            memcpy(K, k_mine, hl);
        }
    }
    BN_free(Ab);
    BN_free(u);
    BN_clear_free(S);
    BN_clear_free(s->b); /* b and v are no longer needed either way */
    s->b = NULL;
    BN_clear_free(s->v);
    s->v = NULL;
    opc__wipe(k_mine, sizeof k_mine);
    opc__wipe(m1_mine, sizeof m1_mine);
    opc__wipe(m2_mine, sizeof m2_mine);
    return rc;
}

/* ---- a server state as bytes (srp.h) ---- */

/* bits (2, big-endian) | salt_len (1) | b_len (1) | salt | H(I) | b | v | B */
opc_err opc__srp_server_export(const opc__srp_server *s, uint8_t **out, size_t *out_len,
                               opc__ebuf *eb)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    if (s == NULL || out == NULL || out_len == NULL || s->used || s->b == NULL || s->v == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP server: no unused state to export");
    }
    const opc__srp_group *g = s->c.grp;
    int b_len = BN_num_bytes(s->b);
    if (b_len < 1 || b_len > OPC_SRP_X_MAX_LEN) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG,
                         "SRP server: the ephemeral secret is out of range");
    }
    size_t n = 4 + s->salt_len + g->hlen + (size_t)b_len + 2 * g->len;
    uint8_t *p = opc__malloc(n);
    if (p == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "SRP server: out of memory");
    }
    p[0] = (uint8_t)(g->bits >> 8);
    p[1] = (uint8_t)(g->bits & 0xff);
    p[2] = (uint8_t)s->salt_len;
    p[3] = (uint8_t)b_len;
    size_t o = 4;
    memcpy(p + o, s->salt, s->salt_len);
    o += s->salt_len;
    memcpy(p + o, s->hI, g->hlen);
    o += g->hlen;
    bool ok = BN_bn2binpad(s->b, p + o, b_len) == b_len;
    o += (size_t)b_len;
    ok = ok && pad(s->v, p + o, g->len);
    o += g->len;
    memcpy(p + o, s->B, g->len);
    if (!ok) {
        opc__secret_free(p, n);
        return crypto_fail(eb, "exporting the state");
    }
    *out = p;
    *out_len = n;
    return OPC_OK;
}

opc_err opc__srp_server_import(const uint8_t *in, size_t len, opc__srp_server **out, opc__ebuf *eb)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (in == NULL || out == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "SRP server: invalid argument");
    }
    const opc__srp_group *g = len >= 4 ? opc__srp_group_get(((unsigned)in[0] << 8) | in[1]) : NULL;
    size_t salt_len = len >= 4 ? in[2] : 0;
    size_t b_len = len >= 4 ? in[3] : 0;
    if (g == NULL || !salt_ok(in + 4, salt_len) || b_len < 1 || b_len > OPC_SRP_X_MAX_LEN ||
        len != 4 + salt_len + g->hlen + b_len + 2 * g->len) {
        return opc__fail(eb, OPC_ERR_PARSE, "SRP server: not an exported state");
    }
    opc__srp_server *s = opc__calloc(1, sizeof *s);
    if (s == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "SRP server: out of memory");
    }
    opc_err rc = ctx_init(&s->c, g, eb);
    if (rc != OPC_OK) {
        opc__secret_free(s, sizeof *s);
        return rc;
    }
    size_t o = 4;
    memcpy(s->salt, in + o, salt_len);
    s->salt_len = salt_len;
    o += salt_len;
    memcpy(s->hI, in + o, g->hlen);
    o += g->hlen;
    rc = ephemeral(in + o, b_len, &s->b, eb);
    o += b_len;
    if (rc == OPC_OK) {
        rc = load_verifier(&s->c, in + o, &s->v, eb);
    }
    o += g->len;
    if (rc == OPC_OK) {
        BIGNUM *B = NULL;
        rc = peer_value(&s->c, "B", in + o, g->len, &B, eb);
        BN_free(B);
    }
    if (rc != OPC_OK) {
        opc__srp_server_free(s);
        return rc == OPC_ERR_NOMEM
                   ? rc
                   : opc__fail(eb, OPC_ERR_PARSE, "SRP server: not an exported state");
    }
    memcpy(s->B, in + o, g->len);
    *out = s;
    return OPC_OK;
}

/* ---- test hooks (crypto/srp_hooks.h) ---- */

opc_err opc__srp_test_k(const opc__srp_group *g, uint8_t *k_out, size_t k_len)
{
    if (g == NULL || k_out == NULL || k_len != g->hlen) {
        return OPC_ERR_INVALID_ARG;
    }
    srp_ctx c;
    opc_err rc = ctx_init(&c, g, NULL);
    if (rc != OPC_OK) {
        return rc;
    }
    rc = pad(c.k, k_out, k_len) ? OPC_OK : OPC_ERR_CRYPTO;
    ctx_done(&c);
    return rc;
}

opc_err opc__srp_test_u(const opc__srp_group *g, const uint8_t *A, const uint8_t *B, uint8_t *u_out,
                        size_t u_len)
{
    if (g == NULL || A == NULL || B == NULL || u_out == NULL || u_len != g->hlen) {
        return OPC_ERR_INVALID_ARG;
    }
    srp_ctx c;
    opc_err rc = ctx_init(&c, g, NULL);
    if (rc != OPC_OK) {
        return rc;
    }
    BIGNUM *u = NULL;
    rc = compute_u(&c, A, B, &u, NULL);
    if (rc == OPC_OK && !pad(u, u_out, u_len)) {
        rc = OPC_ERR_CRYPTO;
    }
    BN_free(u);
    ctx_done(&c);
    return rc;
}

opc_err opc__srp_test_client_S(const opc__srp_group *g, const uint8_t *a, size_t a_len,
                               const uint8_t *x, size_t x_len, const uint8_t *B, uint8_t *S_out,
                               opc__ebuf *eb)
{
    if (g == NULL || !secret_len_ok(a, a_len) || !secret_len_ok(x, x_len) || B == NULL ||
        S_out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    srp_ctx c;
    opc_err rc = ctx_init(&c, g, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    uint8_t Apad[OPC_SRP_MAX_LEN];
    BIGNUM *ab = NULL;
    BIGNUM *xb = secret_bn(x, x_len);
    BIGNUM *Bb = NULL;
    BIGNUM *u = NULL;
    BIGNUM *S = BN_secure_new();
    rc = xb != NULL && S != NULL ? OPC_OK : crypto_fail(eb, "loading x");
    if (rc == OPC_OK) {
        rc = ephemeral(a, a_len, &ab, eb);
    }
    if (rc == OPC_OK) {
        rc = public_A(&c, ab, Apad, eb);
    }
    if (rc == OPC_OK) {
        rc = peer_value(&c, "B", B, g->len, &Bb, eb);
    }
    if (rc == OPC_OK) {
        rc = compute_u(&c, Apad, B, &u, eb);
    }
    if (rc == OPC_OK) {
        rc = client_S(&c, ab, xb, Bb, u, S, eb);
    }
    if (rc == OPC_OK && !pad(S, S_out, g->len)) {
        rc = crypto_fail(eb, "encoding S");
    }
    BN_clear_free(ab);
    BN_clear_free(xb);
    BN_free(Bb);
    BN_free(u);
    BN_clear_free(S);
    ctx_done(&c);
    return rc;
}

opc_err opc__srp_test_server_S(const opc__srp_group *g, const uint8_t *b, size_t b_len,
                               const uint8_t *v, const uint8_t *A, uint8_t *S_out, opc__ebuf *eb)
{
    if (g == NULL || !secret_len_ok(b, b_len) || v == NULL || A == NULL || S_out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    srp_ctx c;
    opc_err rc = ctx_init(&c, g, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    uint8_t Bpad[OPC_SRP_MAX_LEN];
    BIGNUM *bb = NULL;
    BIGNUM *vb = NULL;
    BIGNUM *Ab = NULL;
    BIGNUM *u = NULL;
    BIGNUM *S = BN_secure_new();
    rc = S != NULL ? OPC_OK : crypto_fail(eb, "allocating S");
    if (rc == OPC_OK) {
        rc = load_verifier(&c, v, &vb, eb);
    }
    if (rc == OPC_OK) {
        rc = ephemeral(b, b_len, &bb, eb);
    }
    if (rc == OPC_OK) {
        rc = public_B(&c, bb, vb, Bpad, eb);
    }
    if (rc == OPC_OK) {
        rc = peer_value(&c, "A", A, g->len, &Ab, eb);
    }
    if (rc == OPC_OK) {
        rc = compute_u(&c, A, Bpad, &u, eb);
    }
    if (rc == OPC_OK) {
        rc = server_S(&c, bb, vb, Ab, u, S, eb);
    }
    if (rc == OPC_OK && !pad(S, S_out, g->len)) {
        rc = crypto_fail(eb, "encoding S");
    }
    BN_clear_free(bb);
    BN_clear_free(vb);
    BN_free(Ab);
    BN_free(u);
    BN_clear_free(S);
    ctx_done(&c);
    return rc;
}
