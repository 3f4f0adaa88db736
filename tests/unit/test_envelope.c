#include "harness.h"

#include "core/alloc.h"
#include "core/err.h"
#include "crypto/base64.h"
#include "crypto/envelope.h"
#include "crypto/key.h"

#define KID "vaultkeyv1"
static const char aad_a[] = "vault:aaaaaaaaaaaaaaaaaaaaaaaaaa|item:bbbbbbbbbbbbbbbbbbbbbbbbbb|v1";
static const char aad_b[] = "vault:aaaaaaaaaaaaaaaaaaaaaaaaaa|item:cccccccccccccccccccccccccc|v1";
static const char plain[] = "{\"password\":\"obviously-fake\"}";

typedef struct fixture {
    opc__key *key;
    cJSON *env;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -1;
    }
    if (opc__key_generate_oct(KID, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &f->key) != OPC_OK) {
        free(f);
        return -1;
    }
    if (opc__envelope_seal(f->key, aad_a, strlen(aad_a), plain, strlen(plain), &f->env) != OPC_OK) {
        opc__key_free(f->key);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cJSON_Delete(f->env);
    opc__key_free(f->key);
    free(f);
    return 0;
}

/* Open f->env with the fixture key and AAD A; expects failure with `want`. */
static void expect_open_fails(const fixture *f, const cJSON *env, opc_err want)
{
    opc_secret *out = (opc_secret *)1;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__envelope_open(env, f->key, aad_a, strlen(aad_a), &out, &eb);
    if (rc != want) {
        fail_msg("expected %s, got %s (%s)", opc_errname(want), opc_errname(rc), eb.msg);
    }
    assert_null(out);
    assert_true(eb.msg[0] != '\0');
    /* The message never contains the plaintext. */
    assert_null(strstr(eb.msg, "obviously-fake"));
}

static void set_str(cJSON *env, const char *name, const char *val)
{
    assert_true(cJSON_ReplaceItemInObjectCaseSensitive(env, name, cJSON_CreateString(val)));
}

/* Decode member `name`, flip one bit, store it re-encoded. */
static void flip_bit(cJSON *env, const char *name, size_t bit)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(env, name);
    assert_non_null(m);
    unsigned char *raw = NULL;
    size_t n = 0;
    assert_int_equal(
        opc__b64_decode(m->valuestring, strlen(m->valuestring), OPC_B64URL, &raw, &n, NULL),
        OPC_OK);
    assert_true(bit / 8 < n);
    raw[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    char *enc = NULL;
    size_t enc_len = 0;
    assert_int_equal(opc__b64_encode(raw, n, OPC_B64URL, &enc, &enc_len), OPC_OK);
    set_str(env, name, enc);
    opc__free(enc);
    opc__free(raw);
}

static void set_b64_of_len(cJSON *env, const char *name, size_t n)
{
    unsigned char buf[64];
    assert_true(n <= sizeof buf);
    memset(buf, 0x5a, sizeof buf);
    char *enc = NULL;
    size_t enc_len = 0;
    assert_int_equal(opc__b64_encode(buf, n, OPC_B64URL, &enc, &enc_len), OPC_OK);
    set_str(env, name, enc);
    opc__free(enc);
}

/* A data member just beyond the largest plaintext. */
static void set_oversized_data(cJSON *env)
{
    size_t n = opc__b64_encoded_len(OPC_ENVELOPE_MAX_PLAINTEXT + 16 + 3, OPC_B64URL);
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'A', n);
    big[n] = '\0';
    set_str(env, "data", big);
    free(big);
}

static void test_envelope_seal_open_round_trip(void **state)
{
    fixture *f = *state;
    const char *names[] = {"kid", "enc", "cty", "iv", "data"};
    size_t i = 0;
    for (const cJSON *m = f->env->child; m != NULL; m = m->next, i++) {
        assert_true(i < 5);
        assert_string_equal(m->string, names[i]);
        assert_true(cJSON_IsString(m));
    }
    assert_int_equal(i, 5);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(f->env, "kid")->valuestring, KID);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(f->env, "enc")->valuestring, "A256GCM");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(f->env, "cty")->valuestring,
                        "b5+jwk+json");
    /* 12-byte IV -> 16 chars; data = ct || tag. */
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(f->env, "iv")->valuestring), 16);
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(f->env, "data")->valuestring),
                     opc__b64_encoded_len(strlen(plain) + 16, OPC_B64URL));
    /* The plaintext does not appear in the envelope. */
    char *printed = cJSON_PrintUnformatted(f->env);
    assert_non_null(printed);
    assert_null(strstr(printed, "obviously-fake"));
    free(printed);

    opc_secret *out = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__envelope_open(f->env, f->key, aad_a, strlen(aad_a), &out, &eb), OPC_OK);
    assert_int_equal(opc_secret_len(out), strlen(plain));
    assert_memory_equal(opc_secret_data(out), plain, strlen(plain));
    assert_int_equal(((const char *)opc_secret_data(out))[strlen(plain)], '\0');
    opc_secret_free(out);
}

static void test_envelope_seal_fresh_iv_each_time(void **state)
{
    fixture *f = *state;
    cJSON *other = NULL;
    assert_int_equal(opc__envelope_seal(f->key, aad_a, strlen(aad_a), plain, strlen(plain), &other),
                     OPC_OK);
    assert_string_not_equal(cJSON_GetObjectItemCaseSensitive(f->env, "iv")->valuestring,
                            cJSON_GetObjectItemCaseSensitive(other, "iv")->valuestring);
    assert_string_not_equal(cJSON_GetObjectItemCaseSensitive(f->env, "data")->valuestring,
                            cJSON_GetObjectItemCaseSensitive(other, "data")->valuestring);
    cJSON_Delete(other);
}

static void test_envelope_seal_open_empty_plaintext_and_aad(void **state)
{
    fixture *f = *state;
    cJSON *env = NULL;
    assert_int_equal(opc__envelope_seal(f->key, NULL, 0, NULL, 0, &env), OPC_OK);
    /* data is exactly the 16-byte tag. */
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(env, "data")->valuestring), 22);
    opc_secret *out = NULL;
    assert_int_equal(opc__envelope_open(env, f->key, NULL, 0, &out, NULL), OPC_OK);
    assert_int_equal(opc_secret_len(out), 0);
    opc_secret_free(out);
    /* The empty AAD is still bound: a non-empty one fails. */
    out = (opc_secret *)1;
    assert_int_equal(opc__envelope_open(env, f->key, "x", 1, &out, NULL), OPC_ERR_DECRYPT);
    assert_null(out);
    cJSON_Delete(env);
}

static void test_envelope_open_rejects_other_aad(void **state)
{
    fixture *f = *state;
    opc_secret *out = (opc_secret *)1;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__envelope_open(f->env, f->key, aad_b, strlen(aad_b), &out, &eb),
                     OPC_ERR_DECRYPT);
    assert_null(out);
    assert_string_equal(eb.msg, "envelope does not decrypt (wrong key, wrong context or tampered)");
    /* A prefix of the right AAD fails too. */
    assert_int_equal(opc__envelope_open(f->env, f->key, aad_a, strlen(aad_a) - 1, &out, &eb),
                     OPC_ERR_DECRYPT);
    assert_int_equal(opc__envelope_open(f->env, f->key, NULL, 0, &out, &eb), OPC_ERR_DECRYPT);
}

static void test_envelope_open_rejects_kid_mismatch(void **state)
{
    fixture *f = *state;
    /* Another key with another kid: refused before decrypting. */
    opc__key *other = NULL;
    assert_int_equal(
        opc__key_generate_oct("otherkid", OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &other), OPC_OK);
    opc_secret *out = (opc_secret *)1;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__envelope_open(f->env, other, aad_a, strlen(aad_a), &out, &eb),
                     OPC_ERR_KEY);
    assert_null(out);
    assert_non_null(strstr(eb.msg, "kid"));
    opc__key_free(other);

    /* Same kid, different bytes: the tag fails. */
    assert_int_equal(opc__key_generate_oct(KID, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &other),
                     OPC_OK);
    assert_int_equal(opc__envelope_open(f->env, other, aad_a, strlen(aad_a), &out, &eb),
                     OPC_ERR_DECRYPT);
    opc__key_free(other);

    /* A kid that differs only in case is a different kid. */
    set_str(f->env, "kid", "VAULTKEYV1");
    expect_open_fails(f, f->env, OPC_ERR_KEY);
}

static void test_envelope_open_rejects_missing_member(void **state)
{
    fixture *f = *state;
    const char *names[] = {"kid", "enc", "cty", "iv", "data"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(names); i++) {
        cJSON *env = cJSON_Duplicate(f->env, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(env, names[i]);
        expect_open_fails(f, env, OPC_ERR_PARSE);
        cJSON_Delete(env);
    }
}

static void test_envelope_open_rejects_extra_member(void **state)
{
    fixture *f = *state;
    const char *extra[] = {"tag", "KID", "Data", "alg", ""};
    for (size_t i = 0; i < OPC_ARRAY_LEN(extra); i++) {
        cJSON *env = cJSON_Duplicate(f->env, 1);
        cJSON_AddStringToObject(env, extra[i], "x");
        expect_open_fails(f, env, OPC_ERR_PARSE);
        cJSON_Delete(env);
    }
    /* A repeated member (cJSON objects can hold duplicates). */
    cJSON *env = cJSON_Duplicate(f->env, 1);
    cJSON_AddStringToObject(env, "iv", "AAAAAAAAAAAAAAAA");
    expect_open_fails(f, env, OPC_ERR_PARSE);
    cJSON_Delete(env);
}

static void test_envelope_open_rejects_wrong_type(void **state)
{
    fixture *f = *state;
    const char *names[] = {"kid", "enc", "cty", "iv", "data"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(names); i++) {
        cJSON *kinds[] = {cJSON_CreateNumber(1), cJSON_CreateNull(), cJSON_CreateTrue(),
                          cJSON_CreateArray(), cJSON_CreateObject()};
        for (size_t k = 0; k < OPC_ARRAY_LEN(kinds); k++) {
            cJSON *env = cJSON_Duplicate(f->env, 1);
            assert_true(cJSON_ReplaceItemInObjectCaseSensitive(env, names[i], kinds[k]));
            expect_open_fails(f, env, OPC_ERR_PARSE);
            cJSON_Delete(env);
        }
    }
    /* Not an object at all. */
    cJSON *arr = cJSON_CreateArray();
    expect_open_fails(f, arr, OPC_ERR_PARSE);
    cJSON_Delete(arr);
}

static void test_envelope_open_rejects_wrong_enc_cty(void **state)
{
    fixture *f = *state;
    const char *enc[] = {"A128GCM", "a256gcm", "A256GCM ", "", "A256CBC-HS512"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(enc); i++) {
        cJSON *env = cJSON_Duplicate(f->env, 1);
        set_str(env, "enc", enc[i]);
        expect_open_fails(f, env, OPC_ERR_PARSE);
        cJSON_Delete(env);
    }
    const char *cty[] = {"jwk+json", "B5+JWK+JSON", "", "b5+jwk+json\n"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(cty); i++) {
        cJSON *env = cJSON_Duplicate(f->env, 1);
        set_str(env, "cty", cty[i]);
        expect_open_fails(f, env, OPC_ERR_PARSE);
        cJSON_Delete(env);
    }
}

static void test_envelope_open_rejects_iv_length(void **state)
{
    fixture *f = *state;
    const size_t lens[] = {0, 11, 13, 16};
    for (size_t i = 0; i < OPC_ARRAY_LEN(lens); i++) {
        cJSON *env = cJSON_Duplicate(f->env, 1);
        set_b64_of_len(env, "iv", lens[i]);
        expect_open_fails(f, env, OPC_ERR_PARSE);
        cJSON_Delete(env);
    }
    /* Twelve bytes of the right length but not the sealing IV: the tag fails. */
    set_b64_of_len(f->env, "iv", 12);
    expect_open_fails(f, f->env, OPC_ERR_DECRYPT);
}

static void test_envelope_open_rejects_short_data(void **state)
{
    fixture *f = *state;
    const size_t lens[] = {0, 1, 15};
    for (size_t i = 0; i < OPC_ARRAY_LEN(lens); i++) {
        cJSON *env = cJSON_Duplicate(f->env, 1);
        set_b64_of_len(env, "data", lens[i]);
        expect_open_fails(f, env, OPC_ERR_PARSE);
        cJSON_Delete(env);
    }
    /* Exactly 16 bytes is well-formed (empty plaintext) but the tag is wrong. */
    set_b64_of_len(f->env, "data", 16);
    expect_open_fails(f, f->env, OPC_ERR_DECRYPT);
}

static void test_envelope_open_rejects_oversized_data(void **state)
{
    fixture *f = *state;
    set_oversized_data(f->env);
    expect_open_fails(f, f->env, OPC_ERR_TOO_LARGE);
}

static void test_envelope_open_rejects_bit_flips(void **state)
{
    fixture *f = *state;
    /* Every bit of the IV. */
    for (size_t bit = 0; bit < 12 * 8; bit++) {
        cJSON *env = cJSON_Duplicate(f->env, 1);
        flip_bit(env, "iv", bit);
        expect_open_fails(f, env, OPC_ERR_DECRYPT);
        cJSON_Delete(env);
    }
    /* Every bit of the ciphertext and of the tag. */
    size_t data_bits = (strlen(plain) + 16) * 8;
    for (size_t bit = 0; bit < data_bits; bit++) {
        cJSON *env = cJSON_Duplicate(f->env, 1);
        flip_bit(env, "data", bit);
        expect_open_fails(f, env, OPC_ERR_DECRYPT);
        cJSON_Delete(env);
    }
}

static void test_envelope_open_rejects_truncated_data(void **state)
{
    fixture *f = *state;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(f->env, "data");
    unsigned char *raw = NULL;
    size_t n = 0;
    assert_int_equal(
        opc__b64_decode(m->valuestring, strlen(m->valuestring), OPC_B64URL, &raw, &n, NULL),
        OPC_OK);
    char *enc = NULL;
    size_t enc_len = 0;
    assert_int_equal(opc__b64_encode(raw, n - 1, OPC_B64URL, &enc, &enc_len), OPC_OK);
    set_str(f->env, "data", enc);
    opc__free(enc);
    opc__free(raw);
    expect_open_fails(f, f->env, OPC_ERR_DECRYPT);
}

static void test_envelope_open_rejects_bad_base64(void **state)
{
    fixture *f = *state;
    /* 6 bytes of plaintext: data is 22 bytes, which base64 pads with "==". */
    cJSON *env = NULL;
    assert_int_equal(opc__envelope_seal(f->key, aad_a, strlen(aad_a), "secret", 6, &env), OPC_OK);
    const char *data = cJSON_GetObjectItemCaseSensitive(env, "data")->valuestring;
    assert_int_equal(strlen(data), 30);
    char padded[64];
    snprintf(padded, sizeof padded, "%s==", data);
    cJSON *e2 = cJSON_Duplicate(env, 1);
    set_str(e2, "data", padded);
    expect_open_fails(f, e2, OPC_ERR_PARSE);
    cJSON_Delete(e2);

    /* Padding on the IV ("=" after a full 16-char group). */
    char iv[32];
    snprintf(iv, sizeof iv, "%s=", cJSON_GetObjectItemCaseSensitive(env, "iv")->valuestring);
    e2 = cJSON_Duplicate(env, 1);
    set_str(e2, "iv", iv);
    expect_open_fails(f, e2, OPC_ERR_PARSE);
    cJSON_Delete(e2);

    /* Standard-alphabet, white space and stray characters. */
    const char *bad_iv[] = {"AAAAAAAAAAAAAAA+", "AAAAAAAAAAAAAAA/",  "AAAAAAAA AAAAAAA",
                            "AAAAAAAAAAAAAAA.", "AAAAAAAAAAAAAAA\n", "AAAAAAAAAAAAAAB"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad_iv); i++) {
        e2 = cJSON_Duplicate(env, 1);
        set_str(e2, "iv", bad_iv[i]);
        expect_open_fails(f, e2, OPC_ERR_PARSE);
        cJSON_Delete(e2);
    }
    /* Non-canonical trailing bits in data: 30 chars = 22 bytes + 4 unused bits. */
    char noncanon[64];
    snprintf(noncanon, sizeof noncanon, "%s", data);
    /* The canonical last character is one of A, Q, g, w (low 4 bits zero). */
    assert_non_null(strchr("AQgw", noncanon[29]));
    noncanon[29] = (char)(noncanon[29] + 1);
    e2 = cJSON_Duplicate(env, 1);
    set_str(e2, "data", noncanon);
    expect_open_fails(f, e2, OPC_ERR_PARSE);
    cJSON_Delete(e2);
    cJSON_Delete(env);
}

static void test_envelope_open_rejects_wrong_key_type(void **state)
{
    fixture *f = *state;
    opc__key *ec = NULL;
    assert_int_equal(opc__key_generate_ec(KID, OPC_KEYOP_ALL, &ec), OPC_OK);
    opc_secret *out = (opc_secret *)1;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__envelope_open(f->env, ec, aad_a, strlen(aad_a), &out, &eb), OPC_ERR_KEY);
    assert_null(out);
    cJSON *env = (cJSON *)1;
    assert_int_equal(opc__envelope_seal(ec, aad_a, strlen(aad_a), plain, strlen(plain), &env),
                     OPC_ERR_KEY);
    assert_null(env);
    opc__key_free(ec);
}

static void test_envelope_open_rejects_key_ops(void **state)
{
    fixture *f = *state;
    opc__key *enc_only = NULL;
    assert_int_equal(opc__key_generate_oct(KID, OPC_KEYOP_ENCRYPT, &enc_only), OPC_OK);
    opc_secret *out = (opc_secret *)1;
    assert_int_equal(opc__envelope_open(f->env, enc_only, aad_a, strlen(aad_a), &out, NULL),
                     OPC_ERR_KEY);
    assert_null(out);
    opc__key_free(enc_only);

    opc__key *dec_only = NULL;
    assert_int_equal(opc__key_generate_oct(KID, OPC_KEYOP_DECRYPT, &dec_only), OPC_OK);
    cJSON *env = (cJSON *)1;
    assert_int_equal(opc__envelope_seal(dec_only, aad_a, strlen(aad_a), plain, strlen(plain), &env),
                     OPC_ERR_KEY);
    assert_null(env);
    opc__key_free(dec_only);
}

static void test_envelope_open_same_key_from_raw_bytes(void **state)
{
    (void)state;
    uint8_t raw[32];
    for (size_t i = 0; i < sizeof raw; i++) {
        raw[i] = (uint8_t)(i * 7 + 1);
    }
    opc__key *a = NULL;
    opc__key *b = NULL;
    assert_int_equal(opc__key_from_oct(raw, sizeof raw, "k", OPC_KEYOP_ENCRYPT, &a), OPC_OK);
    assert_int_equal(opc__key_from_oct(raw, sizeof raw, "k", OPC_KEYOP_DECRYPT, &b), OPC_OK);
    cJSON *env = NULL;
    assert_int_equal(opc__envelope_seal(a, "ctx", 3, "hello", 5, &env), OPC_OK);
    opc_secret *out = NULL;
    assert_int_equal(opc__envelope_open(env, b, "ctx", 3, &out, NULL), OPC_OK);
    assert_int_equal(opc_secret_len(out), 5);
    assert_memory_equal(opc_secret_data(out), "hello", 5);
    opc_secret_free(out);
    cJSON_Delete(env);
    opc__key_free(a);
    opc__key_free(b);
}

static void test_envelope_seal_rejects_too_large(void **state)
{
    fixture *f = *state;
    size_t n = (size_t)OPC_ENVELOPE_MAX_PLAINTEXT + 1;
    unsigned char *big = calloc(1, n);
    assert_non_null(big);
    cJSON *env = (cJSON *)1;
    assert_int_equal(opc__envelope_seal(f->key, NULL, 0, big, n, &env), OPC_ERR_TOO_LARGE);
    assert_null(env);
    free(big);
}

static void test_envelope_null_args(void **state)
{
    fixture *f = *state;
    cJSON *env = NULL;
    opc_secret *out = NULL;
    assert_int_equal(opc__envelope_seal(NULL, NULL, 0, "x", 1, &env), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__envelope_seal(f->key, NULL, 0, "x", 1, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__envelope_seal(f->key, NULL, 1, "x", 1, &env), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__envelope_seal(f->key, NULL, 0, NULL, 1, &env), OPC_ERR_INVALID_ARG);
    assert_null(env);
    assert_int_equal(opc__envelope_open(NULL, f->key, NULL, 0, &out, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__envelope_open(f->env, NULL, NULL, 0, &out, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__envelope_open(f->env, f->key, NULL, 0, NULL, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__envelope_open(f->env, f->key, NULL, 3, &out, NULL), OPC_ERR_INVALID_ARG);
    assert_null(out);
}

/* opc__envelope_check: the shape checks of open, without a key. */
static void want_check(const cJSON *env, const char *kid, opc_err want)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__envelope_check(env, kid, &eb);
    if (rc != want) {
        fail_msg("check: expected %s, got %s (%s)", opc_errname(want), opc_errname(rc), eb.msg);
    }
}

static void test_envelope_check_without_key(void **state)
{
    fixture *f = *state;
    want_check(f->env, KID, OPC_OK);
    want_check(f->env, NULL, OPC_OK);
    want_check(f->env, "otherkid", OPC_ERR_KEY);
    want_check(NULL, KID, OPC_ERR_INVALID_ARG);
    cJSON *env = cJSON_Duplicate(f->env, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(env, "iv");
    want_check(env, KID, OPC_ERR_PARSE);
    cJSON_Delete(env);
    env = cJSON_Duplicate(f->env, 1);
    set_b64_of_len(env, "iv", 11);
    want_check(env, KID, OPC_ERR_PARSE);
    cJSON_Delete(env);
    env = cJSON_Duplicate(f->env, 1);
    set_b64_of_len(env, "data", 15);
    want_check(env, KID, OPC_ERR_PARSE);
    set_str(env, "data", "not*base64");
    want_check(env, KID, OPC_ERR_PARSE);
    set_str(env, "enc", "A128GCM");
    want_check(env, KID, OPC_ERR_PARSE);
    cJSON_Delete(env);
    /* What only the key can tell passes: a flipped bit, another AAD. */
    flip_bit(f->env, "data", 3);
    want_check(f->env, KID, OPC_OK);
    set_oversized_data(f->env);
    want_check(f->env, KID, OPC_ERR_TOO_LARGE);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_envelope_seal_open_round_trip),
        T(test_envelope_seal_fresh_iv_each_time),
        T(test_envelope_seal_open_empty_plaintext_and_aad),
        T(test_envelope_open_rejects_other_aad),
        T(test_envelope_open_rejects_kid_mismatch),
        T(test_envelope_open_rejects_missing_member),
        T(test_envelope_open_rejects_extra_member),
        T(test_envelope_open_rejects_wrong_type),
        T(test_envelope_open_rejects_wrong_enc_cty),
        T(test_envelope_open_rejects_iv_length),
        T(test_envelope_open_rejects_short_data),
        T(test_envelope_open_rejects_oversized_data),
        T(test_envelope_open_rejects_bit_flips),
        T(test_envelope_open_rejects_truncated_data),
        T(test_envelope_open_rejects_bad_base64),
        T(test_envelope_open_rejects_wrong_key_type),
        T(test_envelope_open_rejects_key_ops),
        T(test_envelope_open_same_key_from_raw_bytes),
        T(test_envelope_seal_rejects_too_large),
        T(test_envelope_null_args),
        T(test_envelope_check_without_key),
    };
    return cmocka_run_group_tests_name("envelope", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
