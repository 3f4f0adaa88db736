/*
 * tests/unit/test_ecdh.c - lib/crypto/ecdh.c: ephemeral P-256 ECDH. Both
 * sides agree, the RFC 5903 §8.1 known answer, the public point's form,
 * and the refusals: wrong lengths, the point at infinity, compressed and
 * off-curve points, coordinates beyond p, keys without the derive op.
 */
#include "harness.h"

#include <cjson/cJSON.h>

#include "core/err.h"
#include "crypto/base64.h"
#include "crypto/ecdh.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"

static void unhex(const char *hex, uint8_t *out, size_t n)
{
    assert_int_equal(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void test_ecdh_both_sides_agree(void **state)
{
    (void)state;
    opc__key *a = NULL;
    opc__key *b = NULL;
    uint8_t pa[OPC_ECDH_POINT_LEN];
    uint8_t pb[OPC_ECDH_POINT_LEN];
    assert_int_equal(opc__ecdh_generate(&a, pa), OPC_OK);
    assert_int_equal(opc__ecdh_generate(&b, pb), OPC_OK);
    assert_int_equal(pa[0], 0x04);
    assert_memory_not_equal(pa, pb, sizeof pa);
    assert_string_equal(opc__key_kid(a), "");
    assert_int_equal(opc__key_ops(a), OPC_KEYOP_DERIVE);
    assert_true(opc__key_is_private(a));
    uint8_t again[OPC_ECDH_POINT_LEN];
    assert_int_equal(opc__ecdh_point(a, again), OPC_OK);
    assert_memory_equal(again, pa, sizeof pa);

    uint8_t za[OPC_ECDH_SECRET_LEN];
    uint8_t zb[OPC_ECDH_SECRET_LEN];
    assert_int_equal(opc__ecdh_derive(a, pb, sizeof pb, za, NULL), OPC_OK);
    assert_int_equal(opc__ecdh_derive(b, pa, sizeof pa, zb, NULL), OPC_OK);
    assert_memory_equal(za, zb, sizeof za);
    /* a third party's secret differs */
    opc__key *c = NULL;
    uint8_t pc[OPC_ECDH_POINT_LEN];
    assert_int_equal(opc__ecdh_generate(&c, pc), OPC_OK);
    uint8_t zc[OPC_ECDH_SECRET_LEN];
    assert_int_equal(opc__ecdh_derive(c, pa, sizeof pa, zc, NULL), OPC_OK);
    assert_memory_not_equal(za, zc, sizeof za);

    /* an ECDH key does not sign; its public half does not derive */
    uint8_t sig[OPC_ES256_SIG_LEN];
    assert_int_equal(opc__ecdsa_sign(a, "x", 1, sig), OPC_ERR_KEY);
    opc__key *pub = NULL;
    assert_int_equal(opc__key_public(a, &pub), OPC_OK);
    assert_int_equal(opc__key_ops(pub), OPC_KEYOP_DERIVE);
    opc__ebuf eb = {0};
    assert_int_equal(opc__ecdh_derive(pub, pb, sizeof pb, za, &eb), OPC_ERR_KEY);
    assert_string_equal(eb.msg, "key (no kid) is a public key and cannot derive bits");
    assert_int_equal(opc__ecdh_point(pub, again), OPC_OK);
    assert_memory_equal(again, pa, sizeof pa);
    opc__key_free(pub);
    opc__key_free(a);
    opc__key_free(b);
    opc__key_free(c);
}

/* RFC 5903 §8.1 (256-bit random ECP group): the initiator's private i,
 * the responder's public g^r, the shared x coordinate. */
static const char i_hex[] = "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433";
static const char gix_hex[] = "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180";
static const char giy_hex[] = "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3";
static const char grx_hex[] = "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63";
static const char gry_hex[] = "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB";
static const char z_hex[] = "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE";

static void test_ecdh_known_answer(void **state)
{
    (void)state;
    uint8_t d[32];
    uint8_t x[32];
    uint8_t y[32];
    unhex(i_hex, d, 32);
    unhex(gix_hex, x, 32);
    unhex(giy_hex, y, 32);
    char db[44];
    char xb[44];
    char yb[44];
    assert_int_equal(opc__b64_encode_to(d, 32, OPC_B64URL, db, sizeof db, NULL), OPC_OK);
    assert_int_equal(opc__b64_encode_to(x, 32, OPC_B64URL, xb, sizeof xb, NULL), OPC_OK);
    assert_int_equal(opc__b64_encode_to(y, 32, OPC_B64URL, yb, sizeof yb, NULL), OPC_OK);
    char jwk[512];
    snprintf(jwk, sizeof jwk,
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\","
             "\"key_ops\":[\"deriveBits\"]}",
             xb, yb, db);
    opc__key *k = NULL;
    assert_int_equal(opc__jwk_parse(jwk, strlen(jwk), OPC_JWK_REQUIRE_PRIVATE, &k, NULL), OPC_OK);
    assert_int_equal(opc__key_ops(k), OPC_KEYOP_DERIVE);
    uint8_t peer[OPC_ECDH_POINT_LEN];
    peer[0] = 0x04;
    unhex(grx_hex, peer + 1, 32);
    unhex(gry_hex, peer + 33, 32);
    uint8_t want[32];
    unhex(z_hex, want, 32);
    uint8_t z[OPC_ECDH_SECRET_LEN];
    assert_int_equal(opc__ecdh_derive(k, peer, sizeof peer, z, NULL), OPC_OK);
    assert_memory_equal(z, want, 32);
    uint8_t pub[OPC_ECDH_POINT_LEN];
    assert_int_equal(opc__ecdh_point(k, pub), OPC_OK);
    assert_int_equal(pub[0], 0x04);
    assert_memory_equal(pub + 1, x, 32);
    assert_memory_equal(pub + 33, y, 32);
    opc__key_free(k);
}

static void test_ecdh_refuses_bad_points(void **state)
{
    (void)state;
    opc__key *a = NULL;
    opc__key *b = NULL;
    uint8_t pa[OPC_ECDH_POINT_LEN];
    uint8_t pb[OPC_ECDH_POINT_LEN + 1];
    assert_int_equal(opc__ecdh_generate(&a, pa), OPC_OK);
    assert_int_equal(opc__ecdh_generate(&b, pb), OPC_OK);
    uint8_t z[OPC_ECDH_SECRET_LEN];
    opc__ebuf eb = {0};

    /* lengths */
    assert_int_equal(opc__ecdh_derive(a, pb, 64, z, &eb), OPC_ERR_KEY);
    assert_string_equal(eb.msg, "EC point: not a 65-byte uncompressed P-256 point (64 bytes)");
    pb[65] = 0;
    assert_int_equal(opc__ecdh_derive(a, pb, 66, z, NULL), OPC_ERR_KEY);
    assert_int_equal(opc__ecdh_derive(a, pb, 0, z, NULL), OPC_ERR_KEY);
    /* the point at infinity: its encoding 0x00, and (0, 0) */
    uint8_t inf[OPC_ECDH_POINT_LEN] = {0};
    assert_int_equal(opc__ecdh_derive(a, inf, 1, z, NULL), OPC_ERR_KEY);
    assert_int_equal(opc__ecdh_derive(a, inf, sizeof inf, z, NULL), OPC_ERR_KEY);
    inf[0] = 0x04;
    assert_int_equal(opc__ecdh_derive(a, inf, sizeof inf, z, &eb), OPC_ERR_KEY);
    assert_string_equal(eb.msg, "EC point: not a point on curve P-256");
    /* compressed form (33 bytes and a 65-byte one with a 02/03 prefix) */
    uint8_t comp[33];
    comp[0] = (uint8_t)(0x02 | (pb[64] & 1));
    memcpy(comp + 1, pb + 1, 32);
    assert_int_equal(opc__ecdh_derive(a, comp, sizeof comp, z, NULL), OPC_ERR_KEY);
    uint8_t bad[OPC_ECDH_POINT_LEN];
    memcpy(bad, pb, sizeof bad);
    bad[0] = 0x02;
    assert_int_equal(opc__ecdh_derive(a, bad, sizeof bad, z, NULL), OPC_ERR_KEY);
    /* off the curve: y altered */
    memcpy(bad, pb, sizeof bad);
    bad[64] ^= 0x01;
    assert_int_equal(opc__ecdh_derive(a, bad, sizeof bad, z, NULL), OPC_ERR_KEY);
    /* x = p (all 0xff is beyond p too) */
    memset(bad + 1, 0xff, 32);
    assert_int_equal(opc__ecdh_derive(a, bad, sizeof bad, z, NULL), OPC_ERR_KEY);
    /* the good point still works */
    assert_int_equal(opc__ecdh_derive(a, pb, OPC_ECDH_POINT_LEN, z, NULL), OPC_OK);
    assert_int_equal(opc__ecdh_derive(a, NULL, OPC_ECDH_POINT_LEN, z, NULL), OPC_ERR_INVALID_ARG);

    /* a signing key may not derive */
    opc__key *s = NULL;
    assert_int_equal(opc__key_generate_ec(NULL, OPC_KEYOP_ALL, &s), OPC_OK);
    assert_int_equal(opc__ecdh_derive(s, pb, OPC_ECDH_POINT_LEN, z, &eb), OPC_ERR_KEY);
    assert_string_equal(eb.msg, "key (no kid) may not be used to derive bits");
    opc__key *o = NULL;
    assert_int_equal(opc__key_generate_oct(NULL, OPC_KEYOP_ALL, &o), OPC_OK);
    assert_int_equal(opc__ecdh_derive(o, pb, OPC_ECDH_POINT_LEN, z, NULL), OPC_ERR_KEY);
    uint8_t pt[OPC_ECDH_POINT_LEN];
    assert_int_equal(opc__ecdh_point(o, pt), OPC_ERR_INVALID_ARG);
    opc__key_free(o);
    opc__key_free(s);
    opc__key_free(a);
    opc__key_free(b);
}

static void test_key_from_ec_point(void **state)
{
    (void)state;
    opc__key *a = NULL;
    uint8_t pa[OPC_ECDH_POINT_LEN];
    assert_int_equal(opc__ecdh_generate(&a, pa), OPC_OK);
    opc__key *p = NULL;
    assert_int_equal(opc__key_from_ec_point(pa, sizeof pa, "k1", OPC_KEYOP_VERIFY, &p, NULL),
                     OPC_OK);
    assert_false(opc__key_is_private(p));
    assert_string_equal(opc__key_kid(p), "k1");
    assert_true(opc__key_equal_public(a, p));
    opc__key_free(p);
    p = (opc__key *)(uintptr_t)1;
    assert_int_equal(opc__key_from_ec_point(pa, sizeof pa, NULL, OPC_KEYOP_SIGN, &p, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_null(p);
    assert_int_equal(opc__key_from_ec_point(pa, sizeof pa, NULL, 0, &p, NULL), OPC_ERR_INVALID_ARG);
    /* an EC key generated for derive exports and imports with "deriveBits" */
    cJSON *j = NULL;
    assert_int_equal(opc__jwk_export(a, false, &j), OPC_OK);
    char *s = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(s, "\"key_ops\":[\"deriveBits\"]"));
    cJSON_free(s);
    assert_int_equal(opc__jwk_import(j, OPC_JWK_PUBLIC_ONLY, &p, NULL), OPC_OK);
    assert_int_equal(opc__key_ops(p), OPC_KEYOP_DERIVE);
    cJSON_Delete(j);
    opc__key_free(p);
    /* deriveBits does not fit an oct key */
    static const char oct[] =
        "{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        "\"key_ops\":[\"deriveBits\"]}";
    assert_int_equal(opc__jwk_parse(oct, strlen(oct), 0, &p, NULL), OPC_ERR_KEY);
    opc__key_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecdh_both_sides_agree),
        cmocka_unit_test(test_ecdh_known_answer),
        cmocka_unit_test(test_ecdh_refuses_bad_points),
        cmocka_unit_test(test_key_from_ec_point),
    };
    return cmocka_run_group_tests_name("ecdh", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
