/*
 * tests/unit/test_kdf.c - SHA-256, HMAC-SHA256, HKDF-SHA256, PBKDF2-HMAC-SHA256
 * (lib/crypto/kdf.c).
 *
 * Known answers: FIPS 180-4 examples, RFC 4231 case 2, RFC 5869 A.1-A.3,
 * RFC 7914 §11, and every case of Wycheproof hkdf_sha256_test.json,
 * pbkdf2_hmacsha256_test.json and hmac_sha256_test.json.
 */
#include "harness.h"

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "crypto/kdf.h"

/* ---- helpers ---- */

static const char *json_str(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(item)) {
        fail_msg("vector field \"%s\" is missing", name);
    }
    return item->valuestring;
}

static int json_int(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(item)) {
        fail_msg("vector field \"%s\" is missing", name);
    }
    return item->valueint;
}

struct vector_file {
    char *text;
    cJSON *root;
};

static void vector_open(struct vector_file *vf, const char *rel)
{
    vf->text = opc_test_read_vector(rel, NULL);
    vf->root = cJSON_Parse(vf->text);
    assert_non_null(vf->root);
}

static void vector_close(struct vector_file *vf)
{
    cJSON_Delete(vf->root);
    free(vf->text);
}

static void check_hex(const void *got, const char *want_hex)
{
    size_t n;
    unsigned char *want = opc_test_unhex(want_hex, &n);
    assert_memory_equal(got, want, n);
    free(want);
}

/*
 * One Wycheproof case: its checks fail the test; valid says whether the file
 * expects it accepted. group is the case's test group, ud the runner's.
 */
typedef void (*wp_case_fn)(const cJSON *group, const cJSON *tc, int id, bool valid, void *ud);

/* Every case of wycheproof/<name> through fn, and the file's count of them. */
static void wycheproof_run(const char *name, wp_case_fn fn, void *ud)
{
    char rel[128];
    snprintf(rel, sizeof rel, "wycheproof/%s", name);
    struct vector_file vf;
    vector_open(&vf, rel);
    size_t total = 0, valid = 0, valid_ok = 0, invalid = 0, invalid_rejected = 0;
    const cJSON *group = NULL;
    cJSON_ArrayForEach(group, cJSON_GetObjectItemCaseSensitive(vf.root, "testGroups"))
    {
        const cJSON *tc = NULL;
        cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(group, "tests"))
        {
            int id = json_int(tc, "tcId");
            bool is_valid = strcmp(json_str(tc, "result"), "valid") == 0;
            total++;
            if (is_valid) {
                valid++;
            } else {
                invalid++;
            }
            fn(group, tc, id, is_valid, ud);
            if (is_valid) {
                valid_ok++;
            } else {
                invalid_rejected++;
            }
        }
    }
    print_message("wycheproof %s: %zu cases: %zu valid accepted, %zu invalid rejected\n", name,
                  total, valid_ok, invalid_rejected);
    assert_int_equal(total, (size_t)json_int(vf.root, "numberOfTests"));
    assert_int_equal(valid_ok, valid);
    assert_int_equal(invalid_rejected, invalid);
    vector_close(&vf);
}

/* ---- SHA-256 and HMAC ---- */

static void test_kdf_sha256_fips180_examples(void **state)
{
    (void)state;
    uint8_t out[OPC_SHA256_LEN];
    assert_int_equal(opc__sha256("abc", 3, out), OPC_OK);
    check_hex(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(opc__sha256(NULL, 0, out), OPC_OK);
    check_hex(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(opc__sha256(m, strlen(m), out), OPC_OK);
    check_hex(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    assert_int_equal(opc__sha256(NULL, 1, out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__sha256("abc", 3, NULL), OPC_ERR_INVALID_ARG);
}

static void test_kdf_hmac_sha256_rfc4231_case2(void **state)
{
    (void)state;
    uint8_t out[OPC_SHA256_LEN];
    const char *msg = "what do ya want for nothing?";
    assert_int_equal(opc__hmac_sha256("Jefe", 4, msg, strlen(msg), out), OPC_OK);
    check_hex(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_int_equal(opc__hmac_sha256_verify("Jefe", 4, msg, strlen(msg), out, 32), OPC_OK);
    assert_int_equal(opc__hmac_sha256_verify("Jefe", 4, msg, strlen(msg), out, 16), OPC_OK);
    assert_int_equal(opc__hmac_sha256_verify("Jeff", 4, msg, strlen(msg), out, 32),
                     OPC_ERR_SIGNATURE);
    /* Tag lengths outside 16..32 are misuse. */
    assert_int_equal(opc__hmac_sha256_verify("Jefe", 4, msg, strlen(msg), out, 15),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hmac_sha256_verify("Jefe", 4, msg, strlen(msg), out, 33),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hmac_sha256_verify("Jefe", 4, msg, strlen(msg), NULL, 32),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hmac_sha256(NULL, 4, msg, 1, out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hmac_sha256("k", 1, NULL, 1, out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hmac_sha256("k", 1, msg, 1, NULL), OPC_ERR_INVALID_ARG);
}

static void test_kdf_hmac_sha256_empty_key_and_message(void **state)
{
    (void)state;
    /* HMAC-SHA256("", "") - a well-known value. */
    uint8_t out[OPC_SHA256_LEN];
    assert_int_equal(opc__hmac_sha256(NULL, 0, NULL, 0, out), OPC_OK);
    check_hex(out, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    /* An empty key is a zero key, not "the previous key". */
    uint8_t out2[OPC_SHA256_LEN];
    assert_int_equal(opc__hmac_sha256("key", 3, "m", 1, out2), OPC_OK);
    assert_int_equal(opc__hmac_sha256("", 0, NULL, 0, out2), OPC_OK);
    assert_memory_equal(out, out2, sizeof out);
}

static void hmac_case(const cJSON *group, const cJSON *tc, int id, bool valid, void *ud)
{
    size_t *truncated = ud;
    int tag_bits = json_int(group, "tagSize");
    size_t key_len, msg_len, tag_len;
    unsigned char *key = opc_test_unhex(json_str(tc, "key"), &key_len);
    unsigned char *msg = opc_test_unhex(json_str(tc, "msg"), &msg_len);
    unsigned char *tag = opc_test_unhex(json_str(tc, "tag"), &tag_len);
    assert_int_equal(tag_len * 8, (size_t)tag_bits);
    if (tag_len < OPC_SHA256_LEN) {
        (*truncated)++;
    }
    opc_err rc = opc__hmac_sha256_verify(key, key_len, msg, msg_len, tag, tag_len);
    uint8_t full[OPC_SHA256_LEN];
    assert_int_equal(opc__hmac_sha256(key, key_len, msg, msg_len, full), OPC_OK);
    if (valid) {
        if (rc != OPC_OK) {
            fail_msg("tcId %d (valid): verify returned %d", id, (int)rc);
        }
        assert_memory_equal(full, tag, tag_len); /* the tag is a prefix of the MAC */
    } else if (rc != OPC_ERR_SIGNATURE) {
        fail_msg("tcId %d (invalid): verify returned %d", id, (int)rc);
    }
    free(key);
    free(msg);
    free(tag);
}

static void test_kdf_hmac_sha256_wycheproof(void **state)
{
    (void)state;
    size_t truncated = 0;
    wycheproof_run("hmac_sha256_test.json", hmac_case, &truncated);
    print_message("(%zu with a 128-bit tag)\n", truncated);
}

/* ---- HKDF ---- */

struct hkdf_kat {
    const char *name, *ikm, *salt, *info, *okm;
};

static const struct hkdf_kat rfc5869[] = {
    {"A.1", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
     "f0f1f2f3f4f5f6f7f8f9",
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
    {"A.2",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
     "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
     "404142434445464748494a4b4c4d4e4f",
     "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
     "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
     "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
     "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
     "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
     "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
     "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
     "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
     "cc30c58179ec3e87c14c01d5c1f3434f1d87"},
    {"A.3", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
};

static void test_kdf_hkdf_sha256_rfc5869(void **state)
{
    (void)state;
    for (size_t i = 0; i < OPC_ARRAY_LEN(rfc5869); i++) {
        const struct hkdf_kat *v = &rfc5869[i];
        size_t ikm_len, salt_len, info_len, okm_len;
        unsigned char *ikm = opc_test_unhex(v->ikm, &ikm_len);
        unsigned char *salt = opc_test_unhex(v->salt, &salt_len);
        unsigned char *info = opc_test_unhex(v->info, &info_len);
        unsigned char *okm = opc_test_unhex(v->okm, &okm_len);
        unsigned char out[128];
        assert_int_equal(
            opc__hkdf_sha256(ikm, ikm_len, salt, salt_len, info, info_len, out, okm_len), OPC_OK);
        if (memcmp(out, okm, okm_len) != 0) {
            fail_msg("RFC 5869 %s: wrong OKM", v->name);
        }
        free(ikm);
        free(salt);
        free(info);
        free(okm);
    }
    /* A.3 with NULL pointers for the empty salt and info. */
    unsigned char ikm[22];
    memset(ikm, 0x0b, sizeof ikm);
    unsigned char out[42];
    assert_int_equal(opc__hkdf_sha256(ikm, sizeof ikm, NULL, 0, NULL, 0, out, sizeof out), OPC_OK);
    check_hex(out, rfc5869[2].okm);
}

static void test_kdf_hkdf_sha256_rejects_bad_lengths(void **state)
{
    (void)state;
    unsigned char *out = malloc(OPC_HKDF_MAX_OUT + 1);
    assert_int_equal(opc__hkdf_sha256("k", 1, "s", 1, "i", 1, out, 0), OPC_ERR_RANGE);
    assert_int_equal(opc__hkdf_sha256("k", 1, "s", 1, "i", 1, out, OPC_HKDF_MAX_OUT + 1),
                     OPC_ERR_RANGE);
    assert_int_equal(opc__hkdf_sha256("k", 1, "s", 1, "i", 1, out, SIZE_MAX), OPC_ERR_RANGE);
    assert_int_equal(opc__hkdf_sha256("k", 1, "s", 1, "i", 1, out, OPC_HKDF_MAX_OUT), OPC_OK);
    assert_int_equal(opc__hkdf_sha256(NULL, 1, "s", 1, "i", 1, out, 32), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hkdf_sha256("k", 1, NULL, 1, "i", 1, out, 32), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hkdf_sha256("k", 1, "s", 1, NULL, 1, out, 32), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hkdf_sha256("k", 1, "s", 1, "i", 1, NULL, 32), OPC_ERR_INVALID_ARG);
    free(out);
}

static void hkdf_case(const cJSON *group, const cJSON *tc, int id, bool valid, void *ud)
{
    (void)group;
    (void)ud;
    size_t ikm_len, salt_len, info_len, okm_len;
    unsigned char *ikm = opc_test_unhex(json_str(tc, "ikm"), &ikm_len);
    unsigned char *salt = opc_test_unhex(json_str(tc, "salt"), &salt_len);
    unsigned char *info = opc_test_unhex(json_str(tc, "info"), &info_len);
    unsigned char *okm = opc_test_unhex(json_str(tc, "okm"), &okm_len);
    size_t size = (size_t)json_int(tc, "size");
    unsigned char *out = malloc(size + 1);
    opc_err rc = opc__hkdf_sha256(ikm, ikm_len, salt, salt_len, info, info_len, out, size);
    if (valid) {
        if (rc != OPC_OK) {
            fail_msg("tcId %d (valid): hkdf returned %d", id, (int)rc);
        }
        assert_int_equal(okm_len, size);
        if (memcmp(out, okm, size) != 0) {
            fail_msg("tcId %d (valid): wrong OKM", id);
        }
    } else if (rc != OPC_ERR_RANGE) {
        fail_msg("tcId %d (invalid, size %zu): hkdf returned %d", id, size, (int)rc);
    }
    free(ikm);
    free(salt);
    free(info);
    free(okm);
    free(out);
}

static void test_kdf_hkdf_sha256_wycheproof(void **state)
{
    (void)state;
    wycheproof_run("hkdf_sha256_test.json", hkdf_case, NULL);
}

/* ---- PBKDF2 ---- */

static void test_kdf_pbkdf2_sha256_rfc7914(void **state)
{
    (void)state;
    unsigned char out[64];
    assert_int_equal(opc__pbkdf2_sha256("passwd", 6, "salt", 4, 1, out, sizeof out), OPC_OK);
    check_hex(out, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
                   "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
    assert_int_equal(opc__pbkdf2_sha256("Password", 8, "NaCl", 4, 80000, out, sizeof out), OPC_OK);
    check_hex(out, "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
                   "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
}

static void test_kdf_pbkdf2_sha256_no_sp800_132_floor(void **state)
{
    (void)state;
    /* 1 iteration, 1-byte salt, 1-byte output: refused by pkcs5=0, allowed here. */
    unsigned char a[1], b[32];
    assert_int_equal(opc__pbkdf2_sha256("p", 1, "s", 1, 1, a, sizeof a), OPC_OK);
    assert_int_equal(opc__pbkdf2_sha256("p", 1, "s", 1, 1, b, sizeof b), OPC_OK);
    assert_int_equal(a[0], b[0]); /* a prefix of the longer output */
    assert_int_equal(opc__pbkdf2_sha256(NULL, 0, NULL, 0, 2, b, sizeof b), OPC_OK);
}

static void test_kdf_pbkdf2_sha256_rejects_bad_arguments(void **state)
{
    (void)state;
    unsigned char out[32];
    assert_int_equal(opc__pbkdf2_sha256("p", 1, "s", 1, 0, out, sizeof out), OPC_ERR_RANGE);
    assert_int_equal(opc__pbkdf2_sha256("p", 1, "s", 1, 1, out, 0), OPC_ERR_RANGE);
    assert_int_equal(opc__pbkdf2_sha256(NULL, 1, "s", 1, 1, out, 32), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__pbkdf2_sha256("p", 1, NULL, 1, 1, out, 32), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__pbkdf2_sha256("p", 1, "s", 1, 1, NULL, 32), OPC_ERR_INVALID_ARG);
}

static void pbkdf2_case(const cJSON *group, const cJSON *tc, int id, bool valid, void *ud)
{
    (void)group;
    (void)ud;
    size_t pw_len, salt_len, dk_len;
    unsigned char *pw = opc_test_unhex(json_str(tc, "password"), &pw_len);
    unsigned char *salt = opc_test_unhex(json_str(tc, "salt"), &salt_len);
    unsigned char *dk = opc_test_unhex(json_str(tc, "dk"), &dk_len);
    int iter = json_int(tc, "iterationCount");
    size_t size = (size_t)json_int(tc, "dkLen");
    unsigned char *out = malloc(size + 1);
    opc_err rc = opc__pbkdf2_sha256(pw, pw_len, salt, salt_len, (uint32_t)iter, out, size);
    if (valid) {
        if (rc != OPC_OK) {
            fail_msg("tcId %d (valid): pbkdf2 returned %d", id, (int)rc);
        }
        assert_int_equal(dk_len, size);
        if (memcmp(out, dk, size) != 0) {
            fail_msg("tcId %d (valid): wrong key", id);
        }
    } else if (rc == OPC_OK && memcmp(out, dk, dk_len < size ? dk_len : size) == 0) {
        fail_msg("tcId %d (invalid) was accepted", id);
    }
    free(pw);
    free(salt);
    free(dk);
    free(out);
}

static void test_kdf_pbkdf2_sha256_wycheproof(void **state)
{
    (void)state;
    wycheproof_run("pbkdf2_hmacsha256_test.json", pbkdf2_case, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdf_sha256_fips180_examples),
        cmocka_unit_test(test_kdf_hmac_sha256_rfc4231_case2),
        cmocka_unit_test(test_kdf_hmac_sha256_empty_key_and_message),
        cmocka_unit_test(test_kdf_hmac_sha256_wycheproof),
        cmocka_unit_test(test_kdf_hkdf_sha256_rfc5869),
        cmocka_unit_test(test_kdf_hkdf_sha256_rejects_bad_lengths),
        cmocka_unit_test(test_kdf_hkdf_sha256_wycheproof),
        cmocka_unit_test(test_kdf_pbkdf2_sha256_rfc7914),
        cmocka_unit_test(test_kdf_pbkdf2_sha256_no_sp800_132_floor),
        cmocka_unit_test(test_kdf_pbkdf2_sha256_rejects_bad_arguments),
        cmocka_unit_test(test_kdf_pbkdf2_sha256_wycheproof),
    };
    return cmocka_run_group_tests_name("kdf", tests, opc_test_group_setup, opc_test_group_teardown);
}
