/*
 * tests/unit/test_rsa.c - RSA-OAEP-256 (lib/crypto/rsa.c).
 */
#include "harness.h"

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/err.h"
#include "crypto/key.h"
#include "crypto/rsa.h"

#define DECRYPT_MSG "RSA-OAEP decryption failed"

static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsString(m));
    return m->valuestring;
}

static opc__key *gen_rsa(const char *kid)
{
    opc__key *k = NULL;
    assert_int_equal(opc__key_generate_rsa(kid, OPC_KEYOP_ALL, &k), OPC_OK);
    return k;
}

/* Decryption must fail with OPC_ERR_DECRYPT and the one message. */
static void expect_decrypt_failure(const opc__key *k, const void *label, size_t label_len,
                                   const void *ct, size_t ct_len)
{
    uint8_t *out = (uint8_t *)(uintptr_t)1;
    size_t out_len = 99;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__rsa_oaep_decrypt(k, label, label_len, ct, ct_len, &out, &out_len, &eb),
                     OPC_ERR_DECRYPT);
    assert_string_equal(eb.msg, DECRYPT_MSG);
    assert_null(out);
    assert_int_equal(out_len, 0);
}

static void test_rsa_oaep_decrypt_wycheproof(void **state)
{
    (void)state;
    char *text = opc_test_read_vector("wycheproof/rsa_oaep_2048_sha256_mgf1sha256_test.json", NULL);
    cJSON *root = cJSON_Parse(text);
    free(text);
    assert_non_null(root);
    int total = 0;
    int valid_ok = 0;
    int invalid_rejected = 0;
    int acceptable = 0;
    int with_label = 0;
    int failures = 0;
    const cJSON *g = NULL;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(root, "testGroups"))
    {
        assert_string_equal(str_member(g, "sha"), "SHA-256");
        assert_string_equal(str_member(g, "mgfSha"), "SHA-256");
        /* The group's private JWK ("alg":"RSA-OAEP-256", "kid":"none"). */
        opc__key *k = NULL;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc_err rc = opc__jwk_import(cJSON_GetObjectItemCaseSensitive(g, "privateKeyJwk"),
                                     OPC_JWK_REQUIRE_PRIVATE, &k, &eb);
        if (rc != OPC_OK) {
            fail_msg("privateKeyJwk import failed: %s (%s)", opc_errname(rc), eb.msg);
        }
        assert_string_equal(opc__key_kid(k), "none");
        opc__key *pub = NULL;
        assert_int_equal(opc__key_public(k, &pub), OPC_OK);

        const cJSON *t = NULL;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(g, "tests"))
        {
            int tc = cJSON_GetObjectItemCaseSensitive(t, "tcId")->valueint;
            const char *result = str_member(t, "result");
            size_t ml = 0;
            size_t cl = 0;
            size_t ll = 0;
            unsigned char *msg = opc_test_unhex(str_member(t, "msg"), &ml);
            unsigned char *ct = opc_test_unhex(str_member(t, "ct"), &cl);
            unsigned char *label = opc_test_unhex(str_member(t, "label"), &ll);
            uint8_t *out = NULL;
            size_t out_len = 0;
            opc__ebuf_clear(&eb);
            rc = opc__rsa_oaep_decrypt(k, label, ll, ct, cl, &out, &out_len, &eb);
            total++;
            with_label += ll > 0;
            if (strcmp(result, "valid") == 0) {
                if (rc == OPC_OK && out_len == ml && (ml == 0 || memcmp(out, msg, ml) == 0)) {
                    valid_ok++;
                } else {
                    failures++;
                    print_message("tcId %d: valid case failed: %s (%s)\n", tc, opc_errname(rc),
                                  eb.msg);
                }
                /* and our encryption of the same message and label decrypts back */
                uint8_t *ct2 = NULL;
                size_t cl2 = 0;
                uint8_t *back = NULL;
                size_t bl = 0;
                assert_int_equal(opc__rsa_oaep_encrypt(pub, label, ll, msg, ml, &ct2, &cl2),
                                 OPC_OK);
                assert_int_equal(cl2, 256);
                assert_int_equal(opc__rsa_oaep_decrypt(k, label, ll, ct2, cl2, &back, &bl, NULL),
                                 OPC_OK);
                assert_int_equal(bl, ml);
                assert_memory_equal(back, msg, ml);
                opc__free(ct2);
                opc__secret_free(back, bl);
            } else if (strcmp(result, "invalid") == 0) {
                if (rc == OPC_ERR_DECRYPT && strcmp(eb.msg, DECRYPT_MSG) == 0 && out == NULL) {
                    invalid_rejected++;
                } else {
                    failures++;
                    print_message("tcId %d (%s): invalid case gave %s (%s)\n", tc,
                                  str_member(t, "comment"), opc_errname(rc), eb.msg);
                }
            } else {
                acceptable++;
            }
            opc__secret_free(out, out_len);
            free(msg);
            free(ct);
            free(label);
        }
        opc__key_free(pub);
        opc__key_free(k);
    }
    int declared = cJSON_GetObjectItemCaseSensitive(root, "numberOfTests")->valueint;
    cJSON_Delete(root);
    print_message("wycheproof rsa-oaep-256 (2048): %d cases: %d valid accepted, %d invalid "
                  "rejected (all with the same error and message), %d acceptable; %d with a "
                  "label\n",
                  total, valid_ok, invalid_rejected, acceptable, with_label);
    assert_int_equal(failures, 0);
    assert_int_equal(total, declared);
    assert_int_equal(valid_ok + invalid_rejected + acceptable, total);
    assert_true(with_label > 0 && invalid_rejected > 0);
}

static void test_rsa_oaep_roundtrip(void **state)
{
    (void)state;
    opc__key *k = gen_rsa("rsa-rt");
    opc__key *pub = NULL;
    assert_int_equal(opc__key_public(k, &pub), OPC_OK);
    uint8_t msg[191];
    for (size_t i = 0; i < sizeof msg; i++) {
        msg[i] = (uint8_t)(i * 7 + 1);
    }
    static const size_t sizes[] = {0, 1, 32, 189, 190};
    static const char label[] = "vault key v1";
    for (size_t i = 0; i < OPC_ARRAY_LEN(sizes); i++) {
        for (int with_label = 0; with_label < 2; with_label++) {
            const char *l = with_label ? label : NULL;
            size_t ll = with_label ? strlen(label) : 0;
            uint8_t *ct = NULL;
            size_t cl = 0;
            uint8_t *ct2 = NULL;
            size_t cl2 = 0;
            assert_int_equal(opc__rsa_oaep_encrypt(pub, l, ll, msg, sizes[i], &ct, &cl), OPC_OK);
            assert_int_equal(cl, 256);
            assert_int_equal(opc__rsa_oaep_encrypt(pub, l, ll, msg, sizes[i], &ct2, &cl2), OPC_OK);
            assert_memory_not_equal(ct, ct2, cl); /* randomized */
            uint8_t *pt = NULL;
            size_t pl = 0;
            assert_int_equal(opc__rsa_oaep_decrypt(k, l, ll, ct, cl, &pt, &pl, NULL), OPC_OK);
            assert_int_equal(pl, sizes[i]);
            assert_non_null(pt);
            if (pl > 0) {
                assert_memory_equal(pt, msg, pl);
            }
            opc__secret_free(pt, pl);
            /* the label is bound: the other label fails */
            const char *other = with_label ? NULL : label;
            expect_decrypt_failure(k, other, other == NULL ? 0 : strlen(label), ct, cl);
            opc__free(ct);
            opc__free(ct2);
        }
    }
    /* 190 bytes is the most a 2048-bit key takes */
    uint8_t *ct = (uint8_t *)(uintptr_t)1;
    size_t cl = 5;
    assert_int_equal(opc__rsa_oaep_encrypt(pub, NULL, 0, msg, 191, &ct, &cl), OPC_ERR_RANGE);
    assert_null(ct);
    assert_int_equal(cl, 0);
    /* a private key with encrypt rights encrypts too */
    assert_int_equal(opc__rsa_oaep_encrypt(k, NULL, 0, msg, 10, &ct, &cl), OPC_OK);
    opc__free(ct);
    opc__key_free(pub);
    opc__key_free(k);
}

static void test_rsa_oaep_decrypt_failures_are_identical(void **state)
{
    (void)state;
    opc__key *k = gen_rsa("rsa-id");
    opc__key *other = gen_rsa(NULL);
    static const char secret[] = "a CEK of 32 bytes, more or less.";
    uint8_t *ct = NULL;
    size_t cl = 0;
    assert_int_equal(opc__rsa_oaep_encrypt(k, "L", 1, secret, 32, &ct, &cl), OPC_OK);

    /* wrong key, wrong label, missing label */
    expect_decrypt_failure(other, "L", 1, ct, cl);
    expect_decrypt_failure(k, "M", 1, ct, cl);
    expect_decrypt_failure(k, NULL, 0, ct, cl);
    /* every byte position tampered: padding, seed, DB, high byte */
    uint8_t bad[256];
    for (size_t i = 0; i < cl; i += 17) {
        memcpy(bad, ct, cl);
        bad[i] ^= 0x01;
        expect_decrypt_failure(k, "L", 1, bad, cl);
    }
    /* wrong lengths */
    expect_decrypt_failure(k, "L", 1, ct, cl - 1);
    expect_decrypt_failure(k, "L", 1, ct, 0);
    uint8_t longer[257] = {0};
    memcpy(longer + 1, ct, cl);
    expect_decrypt_failure(k, "L", 1, longer, sizeof longer);
    /* ciphertext >= n, and 0 and 1 */
    memset(bad, 0xff, sizeof bad);
    expect_decrypt_failure(k, "L", 1, bad, sizeof bad);
    memset(bad, 0, sizeof bad);
    expect_decrypt_failure(k, "L", 1, bad, sizeof bad);
    bad[255] = 1;
    expect_decrypt_failure(k, "L", 1, bad, sizeof bad);

    /* and the untouched ciphertext still decrypts */
    uint8_t *pt = NULL;
    size_t pl = 0;
    assert_int_equal(opc__rsa_oaep_decrypt(k, "L", 1, ct, cl, &pt, &pl, NULL), OPC_OK);
    assert_int_equal(pl, 32);
    assert_memory_equal(pt, secret, 32);
    opc__secret_free(pt, pl);
    opc__free(ct);
    opc__key_free(k);
    opc__key_free(other);
}

static void test_rsa_oaep_public_key_cannot_decrypt(void **state)
{
    (void)state;
    opc__key *k = gen_rsa("rsa-pub");
    opc__key *pub = NULL;
    assert_int_equal(opc__key_public(k, &pub), OPC_OK);
    uint8_t *ct = NULL;
    size_t cl = 0;
    assert_int_equal(opc__rsa_oaep_encrypt(pub, NULL, 0, "x", 1, &ct, &cl), OPC_OK);
    uint8_t *pt = NULL;
    size_t pl = 0;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__rsa_oaep_decrypt(pub, NULL, 0, ct, cl, &pt, &pl, &eb), OPC_ERR_KEY);
    assert_string_equal(eb.msg,
                        "key \"rsa-pub\" is a public key and cannot decrypt or unwrap keys");
    assert_null(pt);

    /* key_ops: an unwrap-only key decrypts; a wrap-only key cannot */
    opc__key *unwrap = NULL;
    assert_int_equal(opc__key_generate_rsa("u", OPC_KEYOP_UNWRAP, &unwrap), OPC_OK);
    uint8_t *c2 = NULL;
    size_t c2l = 0;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__rsa_oaep_encrypt(unwrap, NULL, 0, "x", 1, &c2, &c2l), OPC_ERR_KEY);
    opc__key *upub = NULL;
    assert_int_equal(opc__key_public(unwrap, &upub), OPC_OK);
    assert_int_equal(opc__key_ops(upub), OPC_KEYOP_WRAP);
    assert_int_equal(opc__rsa_oaep_encrypt(upub, NULL, 0, "x", 1, &c2, &c2l), OPC_OK);
    assert_int_equal(opc__rsa_oaep_decrypt(unwrap, NULL, 0, c2, c2l, &pt, &pl, &eb), OPC_OK);
    assert_int_equal(pl, 1);
    opc__secret_free(pt, pl);
    opc__free(c2);
    opc__key_free(upub);
    opc__key_free(unwrap);

    /* other key types */
    opc__key *ec = NULL;
    opc__key *oct = NULL;
    assert_int_equal(opc__key_generate_ec("e", OPC_KEYOP_ALL, &ec), OPC_OK);
    assert_int_equal(opc__key_generate_oct("o", OPC_KEYOP_ALL, &oct), OPC_OK);
    assert_int_equal(opc__rsa_oaep_encrypt(ec, NULL, 0, "x", 1, &c2, &c2l), OPC_ERR_KEY);
    assert_int_equal(opc__rsa_oaep_encrypt(oct, NULL, 0, "x", 1, &c2, &c2l), OPC_ERR_KEY);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__rsa_oaep_decrypt(oct, NULL, 0, ct, cl, &pt, &pl, &eb), OPC_ERR_KEY);
    assert_string_equal(eb.msg, "key \"o\" is an oct key; an RSA key is required");
    assert_int_equal(opc__rsa_oaep_decrypt(ec, NULL, 0, ct, cl, &pt, &pl, &eb), OPC_ERR_KEY);

    /* NULL arguments */
    assert_int_equal(opc__rsa_oaep_encrypt(NULL, NULL, 0, "x", 1, &c2, &c2l), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__rsa_oaep_encrypt(pub, NULL, 3, "x", 1, &c2, &c2l), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__rsa_oaep_encrypt(pub, NULL, 0, NULL, 1, &c2, &c2l), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__rsa_oaep_encrypt(pub, NULL, 0, "x", 1, NULL, &c2l), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__rsa_oaep_decrypt(k, NULL, 0, NULL, 256, &pt, &pl, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__rsa_oaep_decrypt(k, NULL, 0, ct, cl, NULL, &pl, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__rsa_oaep_decrypt(NULL, NULL, 0, ct, cl, &pt, &pl, NULL),
                     OPC_ERR_INVALID_ARG);

    opc__free(ct);
    opc__key_free(ec);
    opc__key_free(oct);
    opc__key_free(pub);
    opc__key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_oaep_decrypt_wycheproof),
        cmocka_unit_test(test_rsa_oaep_roundtrip),
        cmocka_unit_test(test_rsa_oaep_decrypt_failures_are_identical),
        cmocka_unit_test(test_rsa_oaep_public_key_cannot_decrypt),
    };
    return cmocka_run_group_tests_name("rsa", tests, opc_test_group_setup, opc_test_group_teardown);
}
