/*
 * tests/unit/test_srp.c - SRP-6a (lib/crypto/srp.c).
 *
 * Known answers: RFC 5054 appendix B (1024-bit group, SHA-1, through the
 * test hooks of crypto/srp_hooks.h) for k, x, v, A, B, u and the premaster
 * secret S; and, for what the RFC does not fix (K, M1, M2, and the
 * 3072/4096-bit groups with SHA-256), the values of an independent Python
 * implementation of the formulas in srp.h (tests/unit/srp_ref.py: int
 * arithmetic and hashlib, its primes computed from RFC 3526's defining
 * formula rather than copied).
 * Then exchanges with random a and b, wrong passwords, tampered proofs and
 * the refusal of bad public values and lengths.
 *
 * Identities, passwords and keys here are obviously fake test values.
 */
#include "harness.h"

#include <openssl/bn.h>
#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/err.h"
#include "crypto/srp.h"
#include "crypto/srp_hooks.h"
#include "crypto/twoskd.h"

/* ---- RFC 5054 appendix B ---- */

#define RFC_I "alice"
#define RFC_P "password123"
#define RFC_S "BEB25379D1A8581EB5A727673A2441EE"
#define RFC_K "7556AA045AEF2CDD07ABAF0F665C3E818913186F"
#define RFC_X "94B7555AABE9127CC58CCF4993DB6CF84D16C124"
#define RFC_V                                                                                      \
    "7E273DE8696FFC4F4E337D05B4B375BEB0DDE1569E8FA00A9886D8129BADA1F1822223CA1A605B530E379BA472"   \
    "9FDC59F105B4787E5186F5C671085A1447B52A48CF1970B4FB6F8400BBF4CEBFBB168152E08AB5EA53D15C1AFF"   \
    "87B2B9DA6E04E058AD51CC72BFC9033B564E26480D78E955A5E29E7AB245DB2BE315E2099AFB"
#define RFC_a "60975527035CF2AD1989806F0407210BC81EDC04E2762A56AFD529DDDA2D4393"
#define RFC_b "E487CB59D31AC550471E81F00F6928E01DDA08E974A004F49E61F5D105284D20"
#define RFC_A                                                                                      \
    "61D5E490F6F1B79547B0704C436F523DD0E560F0C64115BB72557EC44352E8903211C04692272D8B2D1A5358A2"   \
    "CF1B6E0BFCF99F921530EC8E39356179EAE45E42BA92AEACED825171E1E8B9AF6D9C03E1327F44BE087EF06530"   \
    "E69F66615261EEF54073CA11CF5858F0EDFDFE15EFEAB349EF5D76988A3672FAC47B0769447B"
#define RFC_B                                                                                      \
    "BD0C61512C692C0CB6D041FA01BB152D4916A1E77AF46AE105393011BAF38964DC46A0670DD125B95A98165223"   \
    "6F99D9B681CBF87837EC996C6DA04453728610D0C6DDB58B318885D7D82C7F8DEB75CE7BD4FBAA37089E6F9C60"   \
    "59F388838E7A00030B331EB76840910440B1B27AAEAEEB4012B7D7665238A8E3FB004B117B58"
#define RFC_U "CE38B9593487DA98554ED47D70A7AE5F462EF019"
#define RFC_PREMASTER                                                                              \
    "B0DC82BABCF30674AE450C0287745E7990A3381F63B387AAF271A10D233861E359B48220F7C4693C9AE12B0A6F"   \
    "67809F0876E2D013800D6C41BB59B6D5979B5C00A172B4A2A5903A0BDCAF8A709585EB2AFAFA8F3499B200210D"   \
    "CC1F10EB33943CD67FC88A2F39A4BE5BEC4EC0A3212DC346D7E474B29EDE8A469FFECA686E5A"
/* Not in the RFC: K = H(PAD(S)), M1 and M2 of srp.h, from the Python implementation. */
#define RFC_GROUP_K "017eefa1cefc5c2e626e21598987f31e0f1b11bb"
#define RFC_GROUP_M1 "3f3bc67169ea71302599cf1b0f5d408b7b65d347"
#define RFC_GROUP_M2 "9cab3c575a11de37d3ac1421a9f009236a48eb55"

/* A decoded hex value; free with free(). */
typedef struct bytes {
    unsigned char *p;
    size_t n;
} bytes;

static bytes unhex(const char *hex)
{
    bytes b;
    b.p = opc_test_unhex(hex, &b.n);
    return b;
}

static void check_hex(const void *got, size_t n, const char *want_hex)
{
    bytes w = unhex(want_hex);
    assert_int_equal(n, w.n);
    assert_memory_equal(got, w.p, n);
    free(w.p);
}

/* SHA-256 of got[n] is want_hex (for the 384- and 512-byte values). */
static void check_sha256(const void *got, size_t n, const char *want_hex)
{
    unsigned char h[32];
    unsigned int hl = 0;
    assert_int_equal(EVP_Digest(got, n, h, &hl, EVP_sha256(), NULL), 1);
    check_hex(h, hl, want_hex);
}

static void sha1(const void *a, size_t an, const void *b, size_t bn, unsigned char out[20])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int ol = 0;
    assert_non_null(m);
    assert_int_equal(EVP_DigestInit_ex(m, EVP_sha1(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(m, a, an), 1);
    assert_int_equal(EVP_DigestUpdate(m, b, bn), 1);
    assert_int_equal(EVP_DigestFinal_ex(m, out, &ol), 1);
    assert_int_equal(ol, 20);
    EVP_MD_CTX_free(m);
}

/* N of a group, big-endian in |N| bytes (the test's own copy, from OpenSSL / the RFC). */
static void group_N(unsigned bits, uint8_t *out, size_t len)
{
    BIGNUM *n = NULL;
    if (bits == 4096) {
        n = BN_get_rfc3526_prime_4096(NULL);
    } else if (bits == 3072) {
        n = BN_get_rfc3526_prime_3072(NULL);
    } else {
        assert_true(BN_hex2bn(&n, "EEAF0AB9ADB38DD69C33F80AFA8FC5E86072618775FF3C0B9EA2314C9C2565"
                                  "76D674DF7496EA81D3383B4813D692C6E0E0D5D8E250B98BE48E495C1D6089"
                                  "DAD15DC7D7B46154D6B6CE8EF4AD69B15D4982559B297BCF1885C529F56666"
                                  "0E57EC68EDBC3C05726CC02FD4CBF4976EAA9AFD5138FE8376435B9FC61D2F"
                                  "C0EB06E3") > 0);
    }
    assert_non_null(n);
    assert_int_equal(BN_bn2binpad(n, out, (int)len), (int)len);
    BN_free(n);
}

static void ok(opc_err rc, const opc__ebuf *eb)
{
    if (rc != OPC_OK) {
        fail_msg("SRP call failed: %s (%s)", opc_errname(rc), eb->msg);
    }
}

static void test_srp_rfc5054_appendix_b(void **state)
{
    (void)state;
    const opc__srp_group *g = opc__srp_group_rfc5054_test();
    assert_non_null(g);
    const size_t len = opc__srp_group_len(g);
    const size_t hl = opc__srp_hash_len(g);
    assert_int_equal(len, 128);
    assert_int_equal(hl, 20);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);

    uint8_t k[20];
    assert_int_equal(opc__srp_test_k(g, k, sizeof k), OPC_OK);
    check_hex(k, sizeof k, RFC_K);

    /* x = SHA1(s | SHA1(I | ":" | P)) (RFC 5054 §2.4; our x comes from 2SKD instead). */
    bytes s = unhex(RFC_S);
    uint8_t inner[20], x[20];
    sha1(RFC_I ":", strlen(RFC_I ":"), RFC_P, strlen(RFC_P), inner);
    sha1(s.p, s.n, inner, sizeof inner, x);
    check_hex(x, sizeof x, RFC_X);

    uint8_t v[128];
    ok(opc__srp_verifier(g, x, sizeof x, v, sizeof v, &eb), &eb);
    check_hex(v, sizeof v, RFC_V);

    bytes a = unhex(RFC_a);
    bytes b = unhex(RFC_b);
    uint8_t A[128], B[128];
    opc__srp_client *c = NULL;
    opc__srp_server *sv = NULL;
    ok(opc__srp_client_start_fixed(g, a.p, a.n, A, sizeof A, &c, &eb), &eb);
    check_hex(A, sizeof A, RFC_A);
    ok(opc__srp_server_start_fixed(g, RFC_I, strlen(RFC_I), s.p, s.n, v, sizeof v, b.p, b.n, B,
                                   sizeof B, &sv, &eb),
       &eb);
    check_hex(B, sizeof B, RFC_B);

    uint8_t u[20];
    assert_int_equal(opc__srp_test_u(g, A, B, u, sizeof u), OPC_OK);
    check_hex(u, sizeof u, RFC_U);

    uint8_t S[128];
    ok(opc__srp_test_client_S(g, a.p, a.n, x, sizeof x, B, S, &eb), &eb);
    check_hex(S, sizeof S, RFC_PREMASTER);
    memset(S, 0, sizeof S);
    ok(opc__srp_test_server_S(g, b.p, b.n, v, A, S, &eb), &eb);
    check_hex(S, sizeof S, RFC_PREMASTER);

    /* The exchange itself, on the same values: K = SHA1(S). */
    uint8_t M1[20], M2[20], Kc[20], Ks[20], want_K[20];
    ok(opc__srp_client_finish(c, RFC_I, strlen(RFC_I), s.p, s.n, x, sizeof x, B, sizeof B, M1,
                              sizeof M1, &eb),
       &eb);
    check_hex(M1, sizeof M1, RFC_GROUP_M1);
    ok(opc__srp_server_verify(sv, A, sizeof A, M1, sizeof M1, M2, sizeof M2, Ks, sizeof Ks, &eb),
       &eb);
    check_hex(M2, sizeof M2, RFC_GROUP_M2);
    ok(opc__srp_client_verify(c, M2, sizeof M2, Kc, sizeof Kc, &eb), &eb);
    sha1(S, sizeof S, "", 0, want_K);
    assert_memory_equal(Kc, want_K, hl);
    assert_memory_equal(Ks, want_K, hl);
    check_hex(Kc, sizeof Kc, RFC_GROUP_K);

    opc__srp_client_free(c);
    opc__srp_server_free(sv);
    free(s.p);
    free(a.p);
    free(b.p);
}

/* ---- SHA-256 known answers in the production groups ---- */

typedef struct kat {
    unsigned bits;
    const char *k, *v, *A, *B, *u, *K, *M1, *M2; /* v, A, B as SHA-256 of their |N| bytes */
} kat;

#define KAT_I "owner@example.com"
#define KAT_SALT "a1a2a3a4a5a6a7a8a9aaabacadaeafb0"
#define KAT_X "151da24696a691af74c1cddabb5598da3cf8d0ac30e9f469ebafcf5a3aab0855"
#define KAT_a "1111111111111111111111111111111111111111111111111111111111111111"
#define KAT_b "2222222222222222222222222222222222222222222222222222222222222222"

static const kat kats[] = {
    {4096, "3509477ea9fca66eadb7cf7b1bd0eb508f54d3989a9c988006a7d0b338374dd2",
     "e191dcca84e02bcac22227060a299fc6dcc49e0e39b7615aa6b4b4b6e60a0d69",
     "50dac2551f54313f04b95c8d0949c26396f893dca8def9f9ceb00bd67def051d",
     "a580b257d3cf8839d278a15b8edd50e1b13583d19bde75f9b2db0e1599f4216d",
     "7a8048c9a2ba6ebcee7730f8d3123603c3550416a7cdbd46a38dd020edab91d0",
     "5660f4d17608b36498bb6af42f55ac27a174df955821df1d847f9408f9b4bafb",
     "cc79ddd5d863b0b423e4373a627eecf8c9eed45f275459bb0f3aa666d011d36c",
     "98882019a6562ed2bba96ac14474832f0cbfe2e5748ecfaf3bb27829bd8b6604"},
    {3072, "081f4874fa543a371b49a670402fda59ecfab53a1b850fc42e1c357cc846111e",
     "30423b74bc568b508384f49364ffe172fd3f4e4c1b2ed7abb237ba2a9c088005",
     "554d1db9c9d367c73c139993a6aec6bc5f4d7ab233f954bb85067f7fdee8c4b2",
     "bc3bd70c51758c99a43c9d9c34af265b4c9de98b12203c8f17006055d813eb55",
     "256c7f0b39d17a7b3918c2907e72dbd5d408dc9d2b70b52756a8c82306a72222",
     "e5792bcd786e43e57a500810d653c8caaab643d76d4496e782846ebc5303e00a",
     "8056fc51c3f0906a52348dd76e3efe956b5792b141d3ca7d8563bdd8571e1428",
     "48d64d7d9eb97e7cd643e1d9ac69f5a4f2d29b651e6466951e0824403cefe586"},
};

static void test_srp_sha256_known_answers(void **state)
{
    (void)state;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    bytes s = unhex(KAT_SALT);
    bytes x = unhex(KAT_X);
    bytes a = unhex(KAT_a);
    bytes b = unhex(KAT_b);
    for (size_t i = 0; i < OPC_ARRAY_LEN(kats); i++) {
        const kat *t = &kats[i];
        const opc__srp_group *g = opc__srp_group_get(t->bits);
        assert_non_null(g);
        const size_t len = opc__srp_group_len(g);
        assert_int_equal(len, t->bits / 8);
        assert_int_equal(opc__srp_hash_len(g), 32);
        uint8_t k[32], u[32], M1[32], M2[32], Kc[32], Ks[32];
        uint8_t v[OPC_SRP_MAX_LEN], A[OPC_SRP_MAX_LEN], B[OPC_SRP_MAX_LEN];
        assert_int_equal(opc__srp_test_k(g, k, sizeof k), OPC_OK);
        check_hex(k, sizeof k, t->k);
        ok(opc__srp_verifier(g, x.p, x.n, v, len, &eb), &eb);
        check_sha256(v, len, t->v);
        opc__srp_client *c = NULL;
        opc__srp_server *sv = NULL;
        ok(opc__srp_client_start_fixed(g, a.p, a.n, A, len, &c, &eb), &eb);
        check_sha256(A, len, t->A);
        ok(opc__srp_server_start_fixed(g, KAT_I, strlen(KAT_I), s.p, s.n, v, len, b.p, b.n, B, len,
                                       &sv, &eb),
           &eb);
        check_sha256(B, len, t->B);
        assert_int_equal(opc__srp_test_u(g, A, B, u, sizeof u), OPC_OK);
        check_hex(u, sizeof u, t->u);
        ok(opc__srp_client_finish(c, KAT_I, strlen(KAT_I), s.p, s.n, x.p, x.n, B, len, M1,
                                  sizeof M1, &eb),
           &eb);
        check_hex(M1, sizeof M1, t->M1);
        ok(opc__srp_server_verify(sv, A, len, M1, sizeof M1, M2, sizeof M2, Ks, sizeof Ks, &eb),
           &eb);
        check_hex(M2, sizeof M2, t->M2);
        check_hex(Ks, sizeof Ks, t->K);
        ok(opc__srp_client_verify(c, M2, sizeof M2, Kc, sizeof Kc, &eb), &eb);
        check_hex(Kc, sizeof Kc, t->K);
        opc__srp_client_free(c);
        opc__srp_server_free(sv);
    }
    free(s.p);
    free(x.p);
    free(a.p);
    free(b.p);
}

/* ---- exchanges with random a and b ---- */

#define TEST_KEY "A3-TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ234"
#define TEST_EMAIL "wendy.appleseed@example.com"

static const uint8_t srp_salt[OPC_2SKD_SALT_LEN] = {0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
                                                    0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff};

static void owner_x(const char *password, uint8_t x[32])
{
    opc__secret_key sk;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    ok(opc__secret_key_parse(TEST_KEY, &sk, &eb), &eb);
    ok(opc__2skd_srp_x_raw(password, TEST_EMAIL, &sk, srp_salt, 1000, x, &eb), &eb);
    opc__wipe(&sk, sizeof sk);
}

/* One exchange; the server's verify result is returned, the client's M2
 * check must then agree. K of both sides in Kc / Ks (zero when refused). */
typedef struct exchange {
    uint8_t A[OPC_SRP_MAX_LEN];
    uint8_t B[OPC_SRP_MAX_LEN];
    uint8_t M1[32];
    uint8_t M2[32];
    uint8_t Kc[32];
    uint8_t Ks[32];
    opc_err server_rc;
    opc_err client_rc;
    opc__ebuf eb;
} exchange;

static void run_exchange(const opc__srp_group *g, const uint8_t x_server[32],
                         const uint8_t x_client[32], const char *I_client, exchange *e)
{
    memset(e, 0, sizeof *e);
    const size_t len = opc__srp_group_len(g);
    uint8_t v[OPC_SRP_MAX_LEN];
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    ok(opc__srp_verifier(g, x_server, 32, v, len, &eb), &eb);
    opc__srp_client *c = NULL;
    opc__srp_server *sv = NULL;
    ok(opc__srp_client_start(g, e->A, len, &c, &eb), &eb);
    ok(opc__srp_server_start(g, TEST_EMAIL, strlen(TEST_EMAIL), srp_salt, sizeof srp_salt, v, len,
                             e->B, len, &sv, &eb),
       &eb);
    ok(opc__srp_client_finish(c, I_client, strlen(I_client), srp_salt, sizeof srp_salt, x_client,
                              32, e->B, len, e->M1, sizeof e->M1, &eb),
       &eb);
    e->server_rc = opc__srp_server_verify(sv, e->A, len, e->M1, sizeof e->M1, e->M2, sizeof e->M2,
                                          e->Ks, sizeof e->Ks, &e->eb);
    e->client_rc = opc__srp_client_verify(c, e->M2, sizeof e->M2, e->Kc, sizeof e->Kc, &eb);
    opc__srp_client_free(c);
    opc__srp_server_free(sv);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

static void test_srp_exchange_production_groups(void **state)
{
    (void)state;
    uint8_t x[32];
    owner_x("correct horse battery staple", x);
    static const unsigned sizes[] = {3072, 4096};
    for (size_t i = 0; i < OPC_ARRAY_LEN(sizes); i++) {
        const opc__srp_group *g = opc__srp_group_get(sizes[i]);
        assert_non_null(g);
        exchange e1, e2;
        run_exchange(g, x, x, TEST_EMAIL, &e1);
        assert_int_equal(e1.server_rc, OPC_OK);
        assert_int_equal(e1.client_rc, OPC_OK);
        assert_memory_equal(e1.Kc, e1.Ks, 32);
        assert_false(all_zero(e1.Kc, 32));
        /* Fresh a and b each time: another A, B and K. */
        run_exchange(g, x, x, TEST_EMAIL, &e2);
        assert_int_equal(e2.server_rc, OPC_OK);
        assert_int_equal(e2.client_rc, OPC_OK);
        assert_memory_equal(e2.Kc, e2.Ks, 32);
        assert_memory_not_equal(e1.A, e2.A, opc__srp_group_len(g));
        assert_memory_not_equal(e1.B, e2.B, opc__srp_group_len(g));
        assert_memory_not_equal(e1.Kc, e2.Kc, 32);
    }
    opc__wipe(x, sizeof x);
}

/* A server state exported between start and verify, imported (another
 * account server), completes the exchange; a used state, bytes of
 * another shape or a flipped group refuse. */
static void test_srp_server_export_import(void **state)
{
    (void)state;
    uint8_t x[32];
    owner_x("correct horse battery staple", x);
    const opc__srp_group *g = opc__srp_group_get(OPC_SRP_GROUP_BITS);
    size_t n = opc__srp_group_len(g);
    static const uint8_t salt[16] = {1, 2, 3};
    uint8_t v[OPC_SRP_MAX_LEN], A[OPC_SRP_MAX_LEN], B[OPC_SRP_MAX_LEN];
    uint8_t M1[32], M2[32], Kc[32], Ks[32];
    assert_int_equal(opc__srp_verifier(g, x, sizeof x, v, n, NULL), OPC_OK);
    opc__srp_client *c = NULL;
    opc__srp_server *s = NULL;
    assert_int_equal(opc__srp_client_start(g, A, n, &c, NULL), OPC_OK);
    assert_int_equal(opc__srp_server_start(g, TEST_EMAIL, strlen(TEST_EMAIL), salt, sizeof salt, v,
                                           n, B, n, &s, NULL),
                     OPC_OK);
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(opc__srp_server_export(s, &blob, &len, NULL), OPC_OK);
    assert_true(len > 2 * n && len <= OPC_SRP_STATE_MAX_LEN);
    opc__srp_server_free(s);
    /* shapes that are not a state */
    opc__srp_server *bad = NULL;
    assert_int_equal(opc__srp_server_import(blob, len - 1, &bad, NULL), OPC_ERR_PARSE);
    assert_null(bad);
    blob[1] ^= 1; /* another group size */
    assert_int_equal(opc__srp_server_import(blob, len, &bad, NULL), OPC_ERR_PARSE);
    blob[1] ^= 1;
    uint8_t *vpos = blob + len - 2 * n;
    uint8_t keep = vpos[0];
    memset(vpos, 0xff, n); /* v not below N */
    assert_int_equal(opc__srp_server_import(blob, len, &bad, NULL), OPC_ERR_PARSE);
    memcpy(vpos, v, n);
    vpos[0] = keep;
    opc__srp_server *s2 = NULL;
    assert_int_equal(opc__srp_server_import(blob, len, &s2, NULL), OPC_OK);
    opc__secret_free(blob, len);
    assert_int_equal(opc__srp_client_finish(c, TEST_EMAIL, strlen(TEST_EMAIL), salt, sizeof salt, x,
                                            sizeof x, B, n, M1, sizeof M1, NULL),
                     OPC_OK);
    assert_int_equal(
        opc__srp_server_verify(s2, A, n, M1, sizeof M1, M2, sizeof M2, Ks, sizeof Ks, NULL),
        OPC_OK);
    assert_int_equal(opc__srp_client_verify(c, M2, sizeof M2, Kc, sizeof Kc, NULL), OPC_OK);
    assert_memory_equal(Kc, Ks, sizeof Kc);
    /* one use: a used state does not export */
    assert_int_equal(opc__srp_server_export(s2, &blob, &len, NULL), OPC_ERR_INVALID_ARG);
    assert_null(blob);
    opc__srp_server_free(s2);
    opc__srp_client_free(c);
    opc__wipe(x, sizeof x);
}

static void test_srp_wrong_password_or_identity(void **state)
{
    (void)state;
    const opc__srp_group *g = opc__srp_group_get(OPC_SRP_GROUP_BITS);
    uint8_t x[32], x_wrong[32];
    owner_x("correct horse battery staple", x);
    owner_x("correct horse battery stapler", x_wrong);
    exchange e;
    run_exchange(g, x, x_wrong, TEST_EMAIL, &e);
    assert_int_equal(e.server_rc, OPC_ERR_SIGNATURE);
    assert_non_null(strstr(e.eb.msg, "M1 does not match"));
    /* Nothing is released: no M2, no K. The client then refuses the empty M2. */
    assert_true(all_zero(e.M2, 32));
    assert_true(all_zero(e.Ks, 32));
    assert_int_equal(e.client_rc, OPC_ERR_SIGNATURE);
    assert_true(all_zero(e.Kc, 32));

    /* The right password under another identity: I enters M1. */
    run_exchange(g, x, x, "mallory@example.com", &e);
    assert_int_equal(e.server_rc, OPC_ERR_SIGNATURE);
    opc__wipe(x, sizeof x);
    opc__wipe(x_wrong, sizeof x_wrong);
}

/* A server whose M2 is altered: the client refuses it and never gives out K. */
static void test_srp_client_refuses_bad_m2(void **state)
{
    (void)state;
    const opc__srp_group *g = opc__srp_group_get(3072);
    const size_t len = opc__srp_group_len(g);
    uint8_t x[32];
    owner_x("pw", x);
    uint8_t v[OPC_SRP_MAX_LEN], A[OPC_SRP_MAX_LEN], B[OPC_SRP_MAX_LEN];
    uint8_t M1[32], M2[32], Ks[32], Kc[32];
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    ok(opc__srp_verifier(g, x, sizeof x, v, len, &eb), &eb);
    for (int round = 0; round < 2; round++) {
        opc__srp_client *c = NULL;
        opc__srp_server *sv = NULL;
        ok(opc__srp_client_start(g, A, len, &c, &eb), &eb);
        ok(opc__srp_server_start(g, "id", 2, srp_salt, sizeof srp_salt, v, len, B, len, &sv, &eb),
           &eb);
        ok(opc__srp_client_finish(c, "id", 2, srp_salt, sizeof srp_salt, x, sizeof x, B, len, M1,
                                  sizeof M1, &eb),
           &eb);
        ok(opc__srp_server_verify(sv, A, len, M1, sizeof M1, M2, sizeof M2, Ks, sizeof Ks, &eb),
           &eb);
        memset(Kc, 0, sizeof Kc);
        if (round == 0) {
            M2[31] ^= 1;
            assert_int_equal(opc__srp_client_verify(c, M2, sizeof M2, Kc, sizeof Kc, &eb),
                             OPC_ERR_SIGNATURE);
        } else {
            assert_int_equal(opc__srp_client_verify(c, M2, sizeof M2 - 1, Kc, sizeof Kc, &eb),
                             OPC_ERR_PARSE);
        }
        assert_true(all_zero(Kc, sizeof Kc));
        /* And the state is spent: the right M2 no longer opens it. */
        M2[31] ^= (uint8_t)(round == 0);
        assert_int_equal(opc__srp_client_verify(c, M2, sizeof M2, Kc, sizeof Kc, &eb),
                         OPC_ERR_INVALID_ARG);
        assert_true(all_zero(Kc, sizeof Kc));
        opc__srp_client_free(c);
        opc__srp_server_free(sv);
    }
    opc__wipe(x, sizeof x);
}

/* ---- refused public values ---- */

/* A server state for (g, v); B into B. */
static opc__srp_server *server_for(const opc__srp_group *g, const uint8_t *v, uint8_t *B)
{
    opc__srp_server *sv = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    const size_t len = opc__srp_group_len(g);
    ok(opc__srp_server_start(g, "id", 2, srp_salt, sizeof srp_salt, v, len, B, len, &sv, &eb), &eb);
    return sv;
}

/* The server refuses A[A_len] with `want` and releases nothing. */
static void server_refuses_A(const opc__srp_group *g, const uint8_t *v, const uint8_t *A,
                             size_t A_len, opc_err want, const char *msg)
{
    uint8_t B[OPC_SRP_MAX_LEN];
    uint8_t M1[32] = {1}, M2[32] = {0}, K[32] = {0};
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__srp_server *sv = server_for(g, v, B);
    const size_t hl = opc__srp_hash_len(g);
    assert_int_equal(opc__srp_server_verify(sv, A, A_len, M1, hl, M2, hl, K, hl, &eb), want);
    assert_non_null(strstr(eb.msg, msg));
    assert_true(all_zero(M2, sizeof M2));
    assert_true(all_zero(K, sizeof K));
    opc__srp_server_free(sv);
}

static void test_srp_server_refuses_bad_A(void **state)
{
    (void)state;
    static const unsigned sizes[] = {3072, 4096};
    uint8_t x[32];
    owner_x("pw", x);
    for (size_t i = 0; i < OPC_ARRAY_LEN(sizes); i++) {
        const opc__srp_group *g = opc__srp_group_get(sizes[i]);
        const size_t len = opc__srp_group_len(g);
        uint8_t v[OPC_SRP_MAX_LEN], A[OPC_SRP_MAX_LEN + 1];
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        ok(opc__srp_verifier(g, x, sizeof x, v, len, &eb), &eb);
        /* A = 0 */
        memset(A, 0, sizeof A);
        server_refuses_A(g, v, A, len, OPC_ERR_RANGE, "A is 0 modulo N");
        /* A = N, N + 1, and the largest |N|-byte value: not below N. */
        group_N(sizes[i], A, len);
        server_refuses_A(g, v, A, len, OPC_ERR_RANGE, "A is 0 modulo N or not below N");
        for (size_t j = len; j-- > 0 && ++A[j] == 0;) {
            /* N + 1, carrying (N ends in 64 one bits) */
        }
        server_refuses_A(g, v, A, len, OPC_ERR_RANGE, "not below N");
        memset(A, 0xff, len);
        server_refuses_A(g, v, A, len, OPC_ERR_RANGE, "not below N");
        /* Truncated, oversized, absent. */
        opc__srp_client *c = NULL;
        ok(opc__srp_client_start(g, A, len, &c, &eb), &eb);
        opc__srp_client_free(c);
        server_refuses_A(g, v, A, len - 1, OPC_ERR_PARSE, "A must be");
        A[len] = 0;
        server_refuses_A(g, v, A, len + 1, OPC_ERR_PARSE, "A must be");
        server_refuses_A(g, v, A, 0, OPC_ERR_PARSE, "A must be");
        server_refuses_A(g, v, NULL, len, OPC_ERR_PARSE, "A must be");
        /* A = 1 is in range: the exchange then fails on M1, not on A. */
        memset(A, 0, len);
        A[len - 1] = 1;
        server_refuses_A(g, v, A, len, OPC_ERR_SIGNATURE, "M1 does not match");
    }
    opc__wipe(x, sizeof x);
}

static void test_srp_server_refuses_bad_m1_length(void **state)
{
    (void)state;
    const opc__srp_group *g = opc__srp_group_get(3072);
    const size_t len = opc__srp_group_len(g);
    uint8_t x[32];
    owner_x("pw", x);
    uint8_t v[OPC_SRP_MAX_LEN], A[OPC_SRP_MAX_LEN], B[OPC_SRP_MAX_LEN];
    uint8_t M1[33] = {0}, M2[32], K[32];
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    ok(opc__srp_verifier(g, x, sizeof x, v, len, &eb), &eb);
    static const size_t bad[] = {0, 1, 31, 33};
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        opc__srp_client *c = NULL;
        opc__srp_server *sv = server_for(g, v, B);
        ok(opc__srp_client_start(g, A, len, &c, &eb), &eb);
        ok(opc__srp_client_finish(c, "id", 2, srp_salt, sizeof srp_salt, x, sizeof x, B, len, M1,
                                  32, &eb),
           &eb);
        assert_int_equal(opc__srp_server_verify(sv, A, len, M1, bad[i], M2, 32, K, 32, &eb),
                         OPC_ERR_PARSE);
        assert_non_null(strstr(eb.msg, "M1 must be 32 bytes"));
        /* Spent: even the right M1 is refused now. */
        assert_int_equal(opc__srp_server_verify(sv, A, len, M1, 32, M2, 32, K, 32, &eb),
                         OPC_ERR_INVALID_ARG);
        opc__srp_client_free(c);
        opc__srp_server_free(sv);
    }
    opc__wipe(x, sizeof x);
}

/* The client refuses B with `want`. */
static void client_refuses_B(const opc__srp_group *g, const uint8_t *x, const uint8_t *B,
                             size_t B_len, opc_err want, const char *msg)
{
    const size_t len = opc__srp_group_len(g);
    uint8_t A[OPC_SRP_MAX_LEN], M1[32];
    memset(M1, 0, sizeof M1);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__srp_client *c = NULL;
    ok(opc__srp_client_start(g, A, len, &c, &eb), &eb);
    assert_int_equal(opc__srp_client_finish(c, "id", 2, srp_salt, sizeof srp_salt, x, 32, B, B_len,
                                            M1, sizeof M1, &eb),
                     want);
    assert_non_null(strstr(eb.msg, msg));
    assert_true(all_zero(M1, sizeof M1));
    opc__srp_client_free(c);
}

static void test_srp_client_refuses_bad_B(void **state)
{
    (void)state;
    const opc__srp_group *g = opc__srp_group_get(OPC_SRP_GROUP_BITS);
    const size_t len = opc__srp_group_len(g);
    uint8_t x[32];
    owner_x("pw", x);
    uint8_t B[OPC_SRP_MAX_LEN + 1];
    memset(B, 0, sizeof B);
    client_refuses_B(g, x, B, len, OPC_ERR_RANGE, "B is 0 modulo N");
    group_N(OPC_SRP_GROUP_BITS, B, len);
    client_refuses_B(g, x, B, len, OPC_ERR_RANGE, "B is 0 modulo N or not below N");
    memset(B, 0xff, len);
    client_refuses_B(g, x, B, len, OPC_ERR_RANGE, "not below N");
    memset(B, 0, sizeof B);
    B[len - 1] = 7;
    client_refuses_B(g, x, B, len - 1, OPC_ERR_PARSE, "B must be 512 bytes, got 511");
    client_refuses_B(g, x, B, len + 1, OPC_ERR_PARSE, "B must be 512 bytes, got 513");
    client_refuses_B(g, x, NULL, len, OPC_ERR_PARSE, "B must be");
    opc__wipe(x, sizeof x);
}

/* ---- groups, arguments, states ---- */

static void test_srp_groups(void **state)
{
    (void)state;
    assert_null(opc__srp_group_get(1024));
    assert_null(opc__srp_group_get(1536));
    assert_null(opc__srp_group_get(2048));
    assert_null(opc__srp_group_get(6144));
    assert_null(opc__srp_group_get(0));
    assert_int_equal(opc__srp_group_len(opc__srp_group_get(3072)), 384);
    assert_int_equal(opc__srp_group_len(opc__srp_group_get(4096)), 512);
    assert_int_equal(opc__srp_group_len(opc__srp_group_get(OPC_SRP_GROUP_BITS)), 512);
    assert_int_equal(opc__srp_hash_len(opc__srp_group_get(3072)), OPC_SRP_KEY_LEN);
    assert_int_equal(opc__srp_hash_len(opc__srp_group_get(4096)), OPC_SRP_KEY_LEN);
    assert_int_equal(opc__srp_group_len(NULL), 0);
    assert_int_equal(opc__srp_hash_len(NULL), 0);
    /* The test group is another object than any production group. */
    assert_ptr_not_equal(opc__srp_group_rfc5054_test(), opc__srp_group_get(3072));
    assert_ptr_not_equal(opc__srp_group_rfc5054_test(), opc__srp_group_get(4096));
}

static void test_srp_rejects_bad_arguments(void **state)
{
    (void)state;
    const opc__srp_group *g = opc__srp_group_get(3072);
    const size_t len = opc__srp_group_len(g);
    uint8_t x[65], v[OPC_SRP_MAX_LEN], A[OPC_SRP_MAX_LEN], B[OPC_SRP_MAX_LEN], M1[32];
    memset(x, 0x42, sizeof x);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    /* Verifier: x of 1..64 bytes and not 0; v of exactly |N| bytes. */
    assert_int_equal(opc__srp_verifier(g, x, 0, v, len, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__srp_verifier(g, x, 65, v, len, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__srp_verifier(g, x, 32, v, len - 1, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__srp_verifier(NULL, x, 32, v, len, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__srp_verifier(g, NULL, 32, v, len, &eb), OPC_ERR_INVALID_ARG);
    uint8_t zero[32] = {0};
    assert_int_equal(opc__srp_verifier(g, zero, sizeof zero, v, len, &eb), OPC_ERR_INVALID_ARG);
    ok(opc__srp_verifier(g, x, 64, v, len, &eb), &eb);

    /* Client start. */
    opc__srp_client *c = (opc__srp_client *)&eb; /* must be reset to NULL on failure */
    assert_int_equal(opc__srp_client_start(g, A, len + 1, &c, &eb), OPC_ERR_INVALID_ARG);
    assert_null(c);
    assert_int_equal(opc__srp_client_start(NULL, A, len, &c, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__srp_client_start(g, A, len, NULL, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__srp_client_start_fixed(g, zero, sizeof zero, A, len, &c, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_null(c);

    /* Server start: a verifier out of range or of the wrong size, a bad salt. */
    opc__srp_server *sv = NULL;
    uint8_t bad_v[OPC_SRP_MAX_LEN];
    memset(bad_v, 0, sizeof bad_v);
    assert_int_equal(opc__srp_server_start(g, "id", 2, srp_salt, 16, bad_v, len, B, len, &sv, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_null(sv);
    group_N(3072, bad_v, len);
    assert_int_equal(opc__srp_server_start(g, "id", 2, srp_salt, 16, bad_v, len, B, len, &sv, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__srp_server_start(g, "id", 2, srp_salt, 16, v, len - 1, B, len, &sv, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__srp_server_start(g, "id", 2, srp_salt, 0, v, len, B, len, &sv, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__srp_server_start(g, "id", 2, NULL, 16, v, len, B, len, &sv, &eb),
                     OPC_ERR_INVALID_ARG);
    uint8_t long_salt[OPC_SRP_SALT_MAX_LEN + 1] = {0};
    assert_int_equal(
        opc__srp_server_start(g, "id", 2, long_salt, sizeof long_salt, v, len, B, len, &sv, &eb),
        OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__srp_server_start(g, NULL, 2, srp_salt, 16, v, len, B, len, &sv, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_null(sv);

    /* A client state is single use, and its steps come in order. */
    ok(opc__srp_client_start(g, A, len, &c, &eb), &eb);
    ok(opc__srp_server_start(g, "id", 2, srp_salt, 16, v, len, B, len, &sv, &eb), &eb);
    uint8_t K[32];
    assert_int_equal(opc__srp_client_verify(c, M1, 32, K, 32, &eb), OPC_ERR_INVALID_ARG);
    ok(opc__srp_client_finish(c, "id", 2, srp_salt, 16, x, 64, B, len, M1, sizeof M1, &eb), &eb);
    assert_int_equal(
        opc__srp_client_finish(c, "id", 2, srp_salt, 16, x, 64, B, len, M1, sizeof M1, &eb),
        OPC_ERR_INVALID_ARG);
    opc__srp_client_free(c);
    /* A wrong M1 buffer size spends the state too. */
    ok(opc__srp_client_start(g, A, len, &c, &eb), &eb);
    assert_int_equal(opc__srp_client_finish(c, "id", 2, srp_salt, 16, x, 64, B, len, M1, 20, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(
        opc__srp_client_finish(c, "id", 2, srp_salt, 16, x, 64, B, len, M1, sizeof M1, &eb),
        OPC_ERR_INVALID_ARG);
    opc__srp_client_free(c);
    opc__srp_server_free(sv);
    assert_int_equal(
        opc__srp_client_finish(NULL, "id", 2, srp_salt, 16, x, 64, B, len, M1, 32, &eb),
        OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__srp_server_verify(NULL, A, len, M1, 32, K, 32, K, 32, &eb),
                     OPC_ERR_INVALID_ARG);
    opc__srp_client_free(NULL);
    opc__srp_server_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srp_rfc5054_appendix_b),
        cmocka_unit_test(test_srp_sha256_known_answers),
        cmocka_unit_test(test_srp_exchange_production_groups),
        cmocka_unit_test(test_srp_server_export_import),
        cmocka_unit_test(test_srp_wrong_password_or_identity),
        cmocka_unit_test(test_srp_client_refuses_bad_m2),
        cmocka_unit_test(test_srp_server_refuses_bad_A),
        cmocka_unit_test(test_srp_server_refuses_bad_m1_length),
        cmocka_unit_test(test_srp_client_refuses_bad_B),
        cmocka_unit_test(test_srp_groups),
        cmocka_unit_test(test_srp_rejects_bad_arguments),
    };
    return cmocka_run_group_tests_name("srp", tests, opc_test_group_setup, opc_test_group_teardown);
}
