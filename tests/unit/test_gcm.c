/*
 * tests/unit/test_gcm.c - AES-GCM (lib/crypto/gcm.c).
 *
 * Known answers: every case of Wycheproof aes_gcm_test.json, McGrew-Viega
 * test cases 13-16, and RFC 7520 §5.6 / §5.2 (content encryption). IVs
 * over OPC_GCM_IV_MAX_LEN bytes go through the test-only gcm_longiv.h.
 */
#include "harness.h"
#include "gcm_longiv.h"

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/err.h"
#include "crypto/base64.h"
#include "crypto/gcm.h"

/* ---- helpers ---- */

static const char *json_str(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(item)) {
        fail_msg("vector field \"%s\" is missing", name);
    }
    return item->valuestring;
}

static const cJSON *load_vectors(const char *rel, char **text_out)
{
    char *text = opc_test_read_vector(rel, NULL);
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    *text_out = text;
    return root;
}

/* Decode base64url (JOSE) with the library's own decoder into plain malloc. */
static unsigned char *unb64url(const char *s, size_t *len)
{
    unsigned char *tmp = NULL;
    assert_int_equal(opc__b64_decode(s, strlen(s), OPC_B64URL, &tmp, len, NULL), OPC_OK);
    unsigned char *out = malloc(*len + 1);
    memcpy(out, tmp, *len);
    opc__free(tmp);
    return out;
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v) {
            return false;
        }
    }
    return true;
}

/* ---- Wycheproof ---- */

static void test_gcm_wycheproof_aes_gcm(void **state)
{
    (void)state;
    char *text = NULL;
    const cJSON *root = load_vectors("wycheproof/aes_gcm_test.json", &text);
    size_t declared = (size_t)cJSON_GetObjectItemCaseSensitive(root, "numberOfTests")->valueint;
    size_t total = 0, valid = 0, valid_ok = 0, invalid = 0, invalid_rejected = 0;
    size_t rejected_at_args = 0, valid_long_iv = 0;

    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(root, "testGroups");
    const cJSON *group = NULL;
    cJSON_ArrayForEach(group, groups)
    {
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(group, "tests");
        const cJSON *tc = NULL;
        cJSON_ArrayForEach(tc, tests)
        {
            int id = cJSON_GetObjectItemCaseSensitive(tc, "tcId")->valueint;
            const char *result = json_str(tc, "result");
            size_t key_len, iv_len, aad_len, msg_len, ct_len, tag_len;
            unsigned char *key = opc_test_unhex(json_str(tc, "key"), &key_len);
            unsigned char *iv = opc_test_unhex(json_str(tc, "iv"), &iv_len);
            unsigned char *aad = opc_test_unhex(json_str(tc, "aad"), &aad_len);
            unsigned char *msg = opc_test_unhex(json_str(tc, "msg"), &msg_len);
            unsigned char *ct = opc_test_unhex(json_str(tc, "ct"), &ct_len);
            unsigned char *tag = opc_test_unhex(json_str(tc, "tag"), &tag_len);
            unsigned char *pt = malloc(ct_len + 1);
            memset(pt, 0xA5, ct_len + 1);
            total++;

            opc_err rc = opc_test_gcm_open_any_iv(key, key_len, iv, iv_len, aad, aad_len, ct,
                                                  ct_len, tag, tag_len, pt);
            if (strcmp(result, "valid") == 0) {
                valid++;
                if (rc != OPC_OK) {
                    fail_msg("tcId %d (valid, iv %zu bytes): open returned %d", id, iv_len,
                             (int)rc);
                }
                assert_int_equal(ct_len, msg_len);
                assert_memory_equal(pt, msg, msg_len);
                assert_int_equal(pt[ct_len], 0xA5); /* nothing written past the end */

                unsigned char *ct2 = malloc(msg_len + 1);
                unsigned char tag2[OPC_GCM_TAG_LEN];
                rc = opc_test_gcm_seal_any_iv(key, key_len, iv, iv_len, aad, aad_len, msg,
                                              msg_len, ct2, tag2, sizeof tag2);
                if (rc != OPC_OK) {
                    fail_msg("tcId %d (valid): seal returned %d", id, (int)rc);
                }
                assert_memory_equal(ct2, ct, ct_len);
                assert_int_equal(tag_len, sizeof tag2);
                assert_memory_equal(tag2, tag, tag_len);
                free(ct2);
                valid_ok++;
                if (iv_len > OPC_GCM_IV_MAX_LEN) {
                    valid_long_iv++;
                }
            } else {
                assert_string_equal(result, "invalid");
                invalid++;
                if (rc == OPC_OK) {
                    fail_msg("tcId %d (invalid) was accepted", id);
                }
                if (iv_len == 0) {
                    assert_int_equal(rc, OPC_ERR_INVALID_ARG);
                    rejected_at_args++;
                } else {
                    assert_int_equal(rc, OPC_ERR_DECRYPT);
                }
                assert_true(all_bytes(pt, ct_len + 1, 0xA5)); /* output untouched */
                invalid_rejected++;
            }
            free(key);
            free(iv);
            free(aad);
            free(msg);
            free(ct);
            free(tag);
            free(pt);
        }
    }
    print_message("wycheproof aes_gcm_test.json: %zu cases: %zu valid accepted (%zu with an IV "
                  "over %d bytes), %zu invalid rejected (%zu of them with an empty IV, at "
                  "argument level)\n",
                  total, valid_ok, valid_long_iv, OPC_GCM_IV_MAX_LEN, invalid_rejected,
                  rejected_at_args);
    assert_int_equal(total, declared);
    assert_int_equal(valid_ok, valid);
    assert_int_equal(valid_long_iv, 3); /* the three 2056-bit-IV cases */
    assert_int_equal(invalid_rejected, invalid);
    assert_int_equal(valid + invalid, total);
    cJSON_Delete((cJSON *)(uintptr_t)root);
    free(text);
}

/* ---- McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13-16 ---- */

struct gcm_kat {
    const char *name;
    const char *key;
    const char *iv;
    const char *aad;
    const char *pt;
    const char *ct;
    const char *tag;
};

#define MV_KEY "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define MV_PT_60                                                                                   \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"     \
    "49a6b525b16aedf5aa0de657ba637b39"
#define MV_CT_60                                                                                   \
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"     \
    "56828838c5f61e6393ba7a0abcc9f662"

static const struct gcm_kat mcgrew_viega[] = {
    {"TC13", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"TC14", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"TC15", MV_KEY, "cafebabefacedbaddecaf888", "", MV_PT_60 "1aafd255", MV_CT_60 "898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"TC16", MV_KEY, "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     MV_PT_60, MV_CT_60, "76fc6ece0f4e1768cddf8853bb2d551b"},
};

static void test_gcm_seal_open_mcgrew_viega_13_to_16(void **state)
{
    (void)state;
    for (size_t i = 0; i < OPC_ARRAY_LEN(mcgrew_viega); i++) {
        const struct gcm_kat *v = &mcgrew_viega[i];
        size_t key_len, iv_len, aad_len, pt_len, ct_len, tag_len;
        unsigned char *key = opc_test_unhex(v->key, &key_len);
        unsigned char *iv = opc_test_unhex(v->iv, &iv_len);
        unsigned char *aad = opc_test_unhex(v->aad, &aad_len);
        unsigned char *pt = opc_test_unhex(v->pt, &pt_len);
        unsigned char *ct = opc_test_unhex(v->ct, &ct_len);
        unsigned char *tag = opc_test_unhex(v->tag, &tag_len);
        assert_int_equal(key_len, OPC_GCM_KEY_LEN);
        assert_int_equal(iv_len, OPC_GCM_IV_LEN);

        unsigned char out[64];
        unsigned char tag2[OPC_GCM_TAG_LEN];
        assert_int_equal(opc__gcm_seal(key, iv, aad, aad_len, pt, pt_len, out, tag2), OPC_OK);
        if (memcmp(out, ct, ct_len) != 0 || memcmp(tag2, tag, tag_len) != 0) {
            fail_msg("%s: seal does not match the published answer", v->name);
        }
        unsigned char back[64];
        assert_int_equal(opc__gcm_open(key, iv, aad, aad_len, ct, ct_len, tag, back), OPC_OK);
        assert_memory_equal(back, pt, pt_len);
        free(key);
        free(iv);
        free(aad);
        free(pt);
        free(ct);
        free(tag);
    }
}

/* ---- RFC 7520 (JOSE cookbook) ---- */

struct jose_case {
    unsigned char *key, *iv, *ct, *tag;
    size_t key_len, iv_len, ct_len, tag_len;
    const char *aad; /* the protected header's base64url text */
    const char *plaintext;
};

static void run_jose_case(const struct jose_case *c)
{
    size_t pt_len = strlen(c->plaintext);
    assert_int_equal(c->ct_len, pt_len);
    unsigned char *ct = malloc(pt_len);
    unsigned char tag[OPC_GCM_TAG_LEN];
    assert_int_equal(opc__gcm_seal_ex(c->key, c->key_len, c->iv, c->iv_len, c->aad, strlen(c->aad),
                                      c->plaintext, pt_len, ct, tag, sizeof tag),
                     OPC_OK);
    assert_memory_equal(ct, c->ct, pt_len);
    assert_int_equal(c->tag_len, sizeof tag);
    assert_memory_equal(tag, c->tag, sizeof tag);
    unsigned char *pt = malloc(pt_len);
    assert_int_equal(opc__gcm_open_ex(c->key, c->key_len, c->iv, c->iv_len, c->aad, strlen(c->aad),
                                      c->ct, c->ct_len, c->tag, c->tag_len, pt),
                     OPC_OK);
    assert_memory_equal(pt, c->plaintext, pt_len);
    free(ct);
    free(pt);
}

/*
 * The case of a cookbook file (root): content encryption enc, the key from
 * member key_name of key_obj. jose_case_free() releases it.
 */
static void jose_case_load(const cJSON *root, const char *enc_name, const cJSON *key_obj,
                           const char *key_name, struct jose_case *c)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(root, "generated");
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(root, "encrypting_content");
    assert_string_equal(json_str(input, "enc"), enc_name);
    c->key = unb64url(json_str(key_obj, key_name), &c->key_len);
    c->iv = unb64url(json_str(gen, "iv"), &c->iv_len);
    c->ct = unb64url(json_str(enc, "ciphertext"), &c->ct_len);
    c->tag = unb64url(json_str(enc, "tag"), &c->tag_len);
    c->aad = json_str(enc, "protected_b64u");
    c->plaintext = json_str(input, "plaintext");
}

static void jose_case_free(struct jose_case *c)
{
    free(c->key);
    free(c->iv);
    free(c->ct);
    free(c->tag);
}

static void test_gcm_seal_open_rfc7520_5_6_a128gcm(void **state)
{
    (void)state;
    char *text = NULL;
    const cJSON *root =
        load_vectors("jose-cookbook/5_6.direct_encryption_using_aes-gcm.json", &text);
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
    struct jose_case c;
    jose_case_load(root, "A128GCM", cJSON_GetObjectItemCaseSensitive(input, "key"), "k", &c);
    assert_int_equal(c.key_len, 16);
    run_jose_case(&c);
    jose_case_free(&c);
    cJSON_Delete((cJSON *)(uintptr_t)root);
    free(text);
}

static void test_gcm_seal_open_rfc7520_5_2_a256gcm(void **state)
{
    (void)state;
    char *text = NULL;
    const cJSON *root =
        load_vectors("jose-cookbook/5_2.key_encryption_using_rsa-oaep_with_aes-gcm.json", &text);
    struct jose_case c;
    jose_case_load(root, "A256GCM", cJSON_GetObjectItemCaseSensitive(root, "generated"), "cek", &c);
    assert_int_equal(c.key_len, OPC_GCM_KEY_LEN);
    assert_int_equal(c.iv_len, OPC_GCM_IV_LEN);
    run_jose_case(&c);

    /* The fixed-size production API gives the same answer. */
    size_t pt_len = strlen(c.plaintext);
    unsigned char *ct = malloc(pt_len);
    unsigned char tag[OPC_GCM_TAG_LEN];
    assert_int_equal(opc__gcm_seal(c.key, c.iv, c.aad, strlen(c.aad), c.plaintext, pt_len, ct, tag),
                     OPC_OK);
    assert_memory_equal(ct, c.ct, pt_len);
    assert_memory_equal(tag, c.tag, sizeof tag);
    unsigned char *pt = malloc(pt_len);
    assert_int_equal(opc__gcm_open(c.key, c.iv, c.aad, strlen(c.aad), c.ct, c.ct_len, c.tag, pt),
                     OPC_OK);
    assert_memory_equal(pt, c.plaintext, pt_len);
    free(ct);
    free(pt);
    jose_case_free(&c);
    cJSON_Delete((cJSON *)(uintptr_t)root);
    free(text);
}

/* ---- tampering ---- */

struct tamper_fixture {
    unsigned char key[32];
    unsigned char iv[12];
    unsigned char aad[20];
    unsigned char pt[60];
    unsigned char ct[60];
    unsigned char tag[16];
};

static void make_fixture(struct tamper_fixture *f)
{
    for (size_t i = 0; i < sizeof f->key; i++) {
        f->key[i] = (unsigned char)(i * 7 + 1);
    }
    memcpy(f->iv, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12);
    memcpy(f->aad, "additional data 1234", 20);
    for (size_t i = 0; i < sizeof f->pt; i++) {
        f->pt[i] = (unsigned char)(0x30 + i);
    }
    assert_int_equal(
        opc__gcm_seal(f->key, f->iv, f->aad, sizeof f->aad, f->pt, sizeof f->pt, f->ct, f->tag),
        OPC_OK);
}

/* Open must fail with OPC_ERR_DECRYPT and leave out untouched. */
static void expect_reject(const struct tamper_fixture *f, const char *what, size_t bit)
{
    unsigned char out[sizeof f->pt + 1];
    memset(out, 0xA5, sizeof out);
    opc_err rc =
        opc__gcm_open(f->key, f->iv, f->aad, sizeof f->aad, f->ct, sizeof f->ct, f->tag, out);
    if (rc != OPC_ERR_DECRYPT) {
        fail_msg("flipping %s bit %zu: open returned %d, want OPC_ERR_DECRYPT", what, bit, (int)rc);
    }
    if (!all_bytes(out, sizeof out, 0xA5)) {
        fail_msg("flipping %s bit %zu: the output buffer was written", what, bit);
    }
}

static void flip_each_bit(struct tamper_fixture *f, unsigned char *field, size_t len,
                          const char *what)
{
    for (size_t bit = 0; bit < len * 8; bit++) {
        field[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        expect_reject(f, what, bit);
        field[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
}

static void test_gcm_open_rejects_every_flipped_bit(void **state)
{
    (void)state;
    struct tamper_fixture f;
    make_fixture(&f);
    unsigned char out[sizeof f.pt];
    assert_int_equal(opc__gcm_open(f.key, f.iv, f.aad, sizeof f.aad, f.ct, sizeof f.ct, f.tag, out),
                     OPC_OK);
    assert_memory_equal(out, f.pt, sizeof f.pt);

    flip_each_bit(&f, f.ct, sizeof f.ct, "ciphertext");
    flip_each_bit(&f, f.tag, sizeof f.tag, "tag");
    flip_each_bit(&f, f.aad, sizeof f.aad, "aad");
    flip_each_bit(&f, f.iv, sizeof f.iv, "iv");
    flip_each_bit(&f, f.key, sizeof f.key, "key");

    /* The fixture is intact again. */
    assert_int_equal(opc__gcm_open(f.key, f.iv, f.aad, sizeof f.aad, f.ct, sizeof f.ct, f.tag, out),
                     OPC_OK);
}

static void test_gcm_open_rejects_truncation_and_missing_aad(void **state)
{
    (void)state;
    struct tamper_fixture f;
    make_fixture(&f);
    unsigned char out[sizeof f.pt];
    memset(out, 0xA5, sizeof out);
    assert_int_equal(
        opc__gcm_open(f.key, f.iv, f.aad, sizeof f.aad, f.ct, sizeof f.ct - 1, f.tag, out),
        OPC_ERR_DECRYPT);
    assert_int_equal(
        opc__gcm_open(f.key, f.iv, f.aad, sizeof f.aad - 1, f.ct, sizeof f.ct, f.tag, out),
        OPC_ERR_DECRYPT);
    assert_int_equal(opc__gcm_open(f.key, f.iv, NULL, 0, f.ct, sizeof f.ct, f.tag, out),
                     OPC_ERR_DECRYPT);
    assert_int_equal(opc__gcm_open(f.key, f.iv, f.aad, sizeof f.aad, NULL, 0, f.tag, out),
                     OPC_ERR_DECRYPT);
    assert_true(all_bytes(out, sizeof out, 0xA5));
}

static void test_gcm_open_large_buffer_uses_heap_scratch(void **state)
{
    (void)state;
    size_t n = 70000; /* above the stack scratch */
    unsigned char key[32] = {1, 2, 3};
    unsigned char iv[12] = {9};
    unsigned char tag[16];
    unsigned char *pt = malloc(n);
    unsigned char *ct = malloc(n);
    unsigned char *out = malloc(n);
    for (size_t i = 0; i < n; i++) {
        pt[i] = (unsigned char)(i * 31);
    }
    assert_int_equal(opc__gcm_seal(key, iv, NULL, 0, pt, n, ct, tag), OPC_OK);
    assert_int_equal(opc__gcm_open(key, iv, NULL, 0, ct, n, tag, out), OPC_OK);
    assert_memory_equal(out, pt, n);
    ct[n - 1] ^= 1;
    memset(out, 0xA5, n);
    assert_int_equal(opc__gcm_open(key, iv, NULL, 0, ct, n, tag, out), OPC_ERR_DECRYPT);
    assert_true(all_bytes(out, n, 0xA5));
    free(pt);
    free(ct);
    free(out);
}

static void test_gcm_seal_in_place(void **state)
{
    (void)state;
    struct tamper_fixture f;
    make_fixture(&f);
    unsigned char buf[sizeof f.pt];
    unsigned char tag[16];
    memcpy(buf, f.pt, sizeof buf);
    assert_int_equal(opc__gcm_seal(f.key, f.iv, f.aad, sizeof f.aad, buf, sizeof buf, buf, tag),
                     OPC_OK);
    assert_memory_equal(buf, f.ct, sizeof buf);
    assert_memory_equal(tag, f.tag, sizeof tag);
    assert_int_equal(opc__gcm_open(f.key, f.iv, f.aad, sizeof f.aad, buf, sizeof buf, tag, buf),
                     OPC_OK);
    assert_memory_equal(buf, f.pt, sizeof buf);
}

static void test_gcm_rejects_bad_arguments(void **state)
{
    (void)state;
    unsigned char key[32] = {0};
    unsigned char iv[16] = {0};
    unsigned char tag[16] = {0};
    unsigned char buf[16] = {0};
    /* Key sizes. */
    assert_int_equal(opc__gcm_seal_ex(key, 20, iv, 12, NULL, 0, buf, 4, buf, tag, 16),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_seal_ex(key, 0, iv, 12, NULL, 0, buf, 4, buf, tag, 16),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_open_ex(key, 31, iv, 12, NULL, 0, buf, 4, tag, 16, buf),
                     OPC_ERR_INVALID_ARG);
    /* IVs up to the EVP provider's limit; past it, the library refuses and
     * the test-only long-IV path (up to its own limit) takes them. */
    static unsigned char long_iv[OPC_TEST_GCM_IV_MAX_LEN + 1];
    assert_int_equal(
        opc__gcm_seal_ex(key, 32, long_iv, OPC_GCM_IV_MAX_LEN, NULL, 0, buf, 4, buf, tag, 16),
        OPC_OK);
    assert_int_equal(
        opc__gcm_open_ex(key, 32, long_iv, OPC_GCM_IV_MAX_LEN, NULL, 0, buf, 4, tag, 16, buf),
        OPC_OK);
    assert_int_equal(opc__gcm_seal_ex(key, 32, long_iv, OPC_GCM_IV_MAX_LEN + 1, NULL, 0, buf, 4,
                                      buf, tag, 16),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_open_ex(key, 32, long_iv, OPC_GCM_IV_MAX_LEN + 1, NULL, 0, buf, 4,
                                      tag, 16, buf),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_test_gcm_seal_any_iv(key, 32, long_iv, OPC_TEST_GCM_IV_MAX_LEN + 1, NULL,
                                              0, buf, 4, buf, tag, 16),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_test_gcm_seal_any_iv(key, 32, long_iv, OPC_GCM_IV_MAX_LEN + 1, NULL, 0,
                                              buf, 4, buf, tag, 16),
                     OPC_OK);
    assert_int_equal(opc_test_gcm_open_any_iv(key, 32, long_iv, OPC_GCM_IV_MAX_LEN + 1, NULL, 0,
                                              buf, 4, tag, 16, buf),
                     OPC_OK);
    tag[0] ^= 1;
    assert_int_equal(opc_test_gcm_open_any_iv(key, 32, long_iv, OPC_GCM_IV_MAX_LEN + 1, NULL, 0,
                                              buf, 4, tag, 16, buf),
                     OPC_ERR_DECRYPT);
    tag[0] ^= 1;
    /* IV length 0. */
    assert_int_equal(opc__gcm_seal_ex(key, 32, iv, 0, NULL, 0, buf, 4, buf, tag, 16),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_open_ex(key, 32, iv, 0, NULL, 0, buf, 4, tag, 16, buf),
                     OPC_ERR_INVALID_ARG);
    /* Tag sizes other than 16. */
    assert_int_equal(opc__gcm_seal_ex(key, 32, iv, 12, NULL, 0, buf, 4, buf, tag, 12),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_open_ex(key, 32, iv, 12, NULL, 0, buf, 4, tag, 8, buf),
                     OPC_ERR_INVALID_ARG);
    /* NULL pointers. */
    assert_int_equal(opc__gcm_seal(NULL, iv, NULL, 0, buf, 4, buf, tag), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_seal(key, NULL, NULL, 0, buf, 4, buf, tag), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_seal(key, iv, NULL, 3, buf, 4, buf, tag), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_seal(key, iv, NULL, 0, NULL, 4, buf, tag), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_seal(key, iv, NULL, 0, buf, 4, NULL, tag), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_seal(key, iv, NULL, 0, buf, 4, buf, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_open(key, iv, NULL, 0, buf, 4, NULL, buf), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__gcm_open(key, iv, NULL, 0, buf, 4, tag, NULL), OPC_ERR_INVALID_ARG);
    /* Empty plaintext with NULL buffers is fine. */
    assert_int_equal(opc__gcm_seal(key, iv, NULL, 0, NULL, 0, NULL, tag), OPC_OK);
    assert_int_equal(opc__gcm_open(key, iv, NULL, 0, NULL, 0, tag, NULL), OPC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcm_wycheproof_aes_gcm),
        cmocka_unit_test(test_gcm_seal_open_mcgrew_viega_13_to_16),
        cmocka_unit_test(test_gcm_seal_open_rfc7520_5_6_a128gcm),
        cmocka_unit_test(test_gcm_seal_open_rfc7520_5_2_a256gcm),
        cmocka_unit_test(test_gcm_open_rejects_every_flipped_bit),
        cmocka_unit_test(test_gcm_open_rejects_truncation_and_missing_aad),
        cmocka_unit_test(test_gcm_open_large_buffer_uses_heap_scratch),
        cmocka_unit_test(test_gcm_seal_in_place),
        cmocka_unit_test(test_gcm_rejects_bad_arguments),
    };
    return cmocka_run_group_tests_name("gcm", tests, opc_test_group_setup, opc_test_group_teardown);
}
