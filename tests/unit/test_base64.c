/*
 * tests/unit/test_base64.c - strict base64 / base64url (lib/crypto/base64.c).
 */
#include "harness.h"

#include "core/alloc.h"
#include "core/err.h"
#include "crypto/base64.h"

#define STD_PAD (OPC_B64_STD | OPC_B64_PAD)
#define STD_NOPAD (OPC_B64_STD | OPC_B64_NOPAD)
#define URL_PAD (OPC_B64_URL | OPC_B64_PAD)
#define URL_NOPAD (OPC_B64_URL | OPC_B64_NOPAD)
#define BOTH (OPC_B64_STD | OPC_B64_URL)

struct rfc_vector {
    const char *plain;
    const char *padded;
    const char *unpadded;
};

/* RFC 4648 §10. */
static const struct rfc_vector rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void check_encode(const void *in, size_t n, unsigned flags, const char *want)
{
    char *out = NULL;
    size_t out_len = 99;
    assert_int_equal(opc__b64_encode(in, n, flags, &out, &out_len), OPC_OK);
    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(out_len, strlen(want));
    assert_int_equal(opc__b64_encoded_len(n, flags), strlen(want));
    opc__free(out);
}

static void check_decode(const char *in, unsigned flags, const void *want, size_t want_len)
{
    unsigned char *out = NULL;
    size_t out_len = 99;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__b64_decode(in, strlen(in), flags, &out, &out_len, &eb);
    if (rc != OPC_OK) {
        fail_msg("decode \"%s\" flags %#x: %d (%s)", in, flags, (int)rc, eb.msg);
    }
    assert_non_null(out);
    assert_int_equal(out_len, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[out_len], 0); /* the extra NUL */
    assert_true(opc__b64_decoded_max(strlen(in)) >= want_len);
    opc__free(out);
}

/* Expect OPC_ERR_PARSE whose message ends with "offset <offset>". */
static void check_reject_n(const char *in, size_t n, unsigned flags, size_t offset)
{
    static unsigned char sentinel[1];
    unsigned char *out = sentinel;
    size_t out_len = 99;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__b64_decode(in, n, flags, &out, &out_len, &eb);
    if (rc != OPC_ERR_PARSE) {
        fail_msg("decode of a bad input (flags %#x) returned %d, want OPC_ERR_PARSE", flags,
                 (int)rc);
    }
    assert_null(out);
    assert_int_equal(out_len, 0);
    char tail[64];
    snprintf(tail, sizeof tail, "offset %zu", offset);
    size_t ml = strlen(eb.msg);
    size_t tl = strlen(tail);
    if (ml < tl || strcmp(eb.msg + ml - tl, tail) != 0) {
        fail_msg("message \"%s\" does not end with \"%s\"", eb.msg, tail);
    }
    /* decode_to must fail the same way and leave the buffer alone. */
    unsigned char buf[64];
    memset(buf, 0xA5, sizeof buf);
    size_t got = 99;
    assert_int_equal(opc__b64_decode_to(in, n, flags, buf, sizeof buf, &got, NULL), OPC_ERR_PARSE);
    assert_int_equal(got, 0);
    for (size_t i = 0; i < sizeof buf; i++) {
        assert_int_equal(buf[i], 0xA5);
    }
}

static void check_reject(const char *in, unsigned flags, size_t offset)
{
    check_reject_n(in, strlen(in), flags, offset);
}

static void test_base64_encode_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < OPC_ARRAY_LEN(rfc4648); i++) {
        const struct rfc_vector *v = &rfc4648[i];
        size_t n = strlen(v->plain);
        check_encode(v->plain, n, STD_PAD, v->padded);
        check_encode(v->plain, n, URL_PAD, v->padded);
        check_encode(v->plain, n, OPC_B64_STD, v->unpadded);
        check_encode(v->plain, n, URL_NOPAD, v->unpadded);
        check_encode(v->plain, n, OPC_B64URL, v->unpadded);
    }
}

static void test_base64_decode_rfc4648_vectors(void **state)
{
    (void)state;
    static const unsigned flag_sets[] = {OPC_B64_STD, OPC_B64_URL, BOTH, BOTH | OPC_B64_PAD};
    for (size_t i = 0; i < OPC_ARRAY_LEN(rfc4648); i++) {
        const struct rfc_vector *v = &rfc4648[i];
        size_t n = strlen(v->plain);
        check_decode(v->padded, STD_PAD, v->plain, n);
        check_decode(v->padded, URL_PAD, v->plain, n);
        check_decode(v->unpadded, STD_NOPAD, v->plain, n);
        check_decode(v->unpadded, URL_NOPAD, v->plain, n);
        for (size_t f = 0; f < OPC_ARRAY_LEN(flag_sets); f++) {
            check_decode(v->padded, flag_sets[f], v->plain, n);
        }
        /* Optional padding accepts both forms. */
        check_decode(v->unpadded, BOTH, v->plain, n);
    }
}

static void test_base64_alphabets_differ_in_62_63(void **state)
{
    (void)state;
    static const unsigned char bytes[] = {0xfb, 0xff, 0xbf, 0xfb, 0xff};
    check_encode(bytes, 3, OPC_B64_STD, "+/+/");
    check_encode(bytes, 3, OPC_B64_URL, "-_-_");
    check_encode(bytes, 5, STD_PAD, "+/+/+/8=");
    check_encode(bytes, 5, OPC_B64URL, "-_-_-_8");
    check_decode("+/+/+/8=", STD_PAD, bytes, 5);
    check_decode("-_-_-_8", OPC_B64URL, bytes, 5);
    check_decode("-_-_-_8", BOTH, bytes, 5);
    check_decode("+/+/+/8", BOTH, bytes, 5);
}

static void test_base64_decode_rejects_whitespace(void **state)
{
    (void)state;
    check_reject("Zm9v YmFy", BOTH, 4);
    check_reject("Zm9vYmFy\n", BOTH, 8);
    check_reject(" Zm9v", BOTH, 0);
    check_reject("Zm9v\tYg==", STD_PAD, 4);
    check_reject("Zm9v\r\nYg", OPC_B64URL, 4);
}

static void test_base64_decode_rejects_wrong_alphabet(void **state)
{
    (void)state;
    check_reject("Zm+v", OPC_B64URL, 2);
    check_reject("Zm/v", OPC_B64URL, 2);
    check_reject("Zm-v", STD_NOPAD, 2);
    check_reject("Zm_v", OPC_B64_STD, 2);
    check_reject("Zm9v.A", BOTH, 4);
    check_reject("Zm9v\xc3\xa9", BOTH, 4); /* non-ASCII */
    check_reject_n("Zm\0v", 4, BOTH, 2);   /* embedded NUL */
}

static void test_base64_decode_rejects_mixed_alphabets(void **state)
{
    (void)state;
    check_reject("ab+_", BOTH, 3);
    check_reject("ab-/", BOTH, 3);
    check_reject("+AAA-AAA", BOTH, 4);
    check_reject("AA_A/AAA", BOTH | OPC_B64_NOPAD, 4);
    check_reject("Zm+/Zm-", BOTH, 6);
    unsigned char buf[8];
    size_t n = 0;
    assert_int_equal(opc__b64_decode_to("ab+/", 4, BOTH, buf, sizeof buf, &n, NULL), OPC_OK);
    assert_int_equal(opc__b64_decode_to("ab-_", 4, BOTH, buf, sizeof buf, &n, NULL), OPC_OK);
}

static void test_base64_decode_rejects_bad_padding(void **state)
{
    (void)state;
    check_reject("Zg=", BOTH, 3);        /* partial */
    check_reject("Zg===", BOTH, 4);      /* too much */
    check_reject("Zm8==", BOTH, 4);      /* too much */
    check_reject("Zm9v=", BOTH, 4);      /* none expected */
    check_reject("Zm9v====", BOTH, 4);   /* none expected */
    check_reject("=", BOTH, 0);          /* padding alone */
    check_reject("Zg==Zg==", BOTH, 4);   /* data after padding */
    check_reject("Zg=A", BOTH, 3);       /* data after padding */
    check_reject("Zg", STD_PAD, 2);      /* required but missing */
    check_reject("Zm9vYmE", URL_PAD, 7); /* required but missing */
    check_reject("Zg==", OPC_B64URL, 2); /* forbidden */
    check_reject("Zm8=", STD_NOPAD, 3);  /* forbidden */
}

static void test_base64_decode_rejects_length_1_mod_4(void **state)
{
    (void)state;
    check_reject("Z", BOTH, 0);
    check_reject("Zm9vY", BOTH, 4);
    check_reject("Zm9vY===", BOTH, 4);
    check_reject("Zm9vYmFyZ", OPC_B64URL, 8);
}

static void test_base64_decode_rejects_nonzero_trailing_bits(void **state)
{
    (void)state;
    check_reject("Zh==", BOTH, 1);
    check_reject("Zh", OPC_B64URL, 1);
    check_reject("Zm9=", BOTH, 2);
    check_reject("Zm9", OPC_B64URL, 2);
    /* Every non-canonical last symbol of a 2-symbol tail is rejected. */
    unsigned rejected = 0;
    for (const char *c = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"; *c;
         c++) {
        char in[3] = {'Z', *c, '\0'};
        unsigned char buf[4];
        size_t n = 0;
        if (opc__b64_decode_to(in, 2, OPC_B64URL, buf, sizeof buf, &n, NULL) != OPC_OK) {
            rejected++;
        }
    }
    assert_int_equal(rejected, 60); /* only A, Q, g, w have the low 4 bits clear */
}

static void test_base64_decode_rejects_bad_arguments(void **state)
{
    (void)state;
    unsigned char *out = NULL;
    size_t n = 0;
    assert_int_equal(opc__b64_decode("Zg", 2, 0, &out, &n, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__b64_decode("Zg", 2, OPC_B64_PAD, &out, &n, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(
        opc__b64_decode("Zg", 2, OPC_B64_STD | OPC_B64_PAD | OPC_B64_NOPAD, &out, &n, NULL),
        OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__b64_decode(NULL, 2, BOTH, &out, &n, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__b64_decode("Zg", 2, BOTH, NULL, &n, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__b64_decode("Zg", 2, BOTH, &out, NULL, NULL), OPC_ERR_INVALID_ARG);
    char *s = NULL;
    assert_int_equal(opc__b64_encode("f", 1, BOTH, &s, &n), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__b64_encode("f", 1, 0, &s, &n), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__b64_encode(NULL, 1, OPC_B64_STD, &s, &n), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__b64_encode("f", 1, OPC_B64_STD, NULL, &n), OPC_ERR_INVALID_ARG);
    assert_null(s);
    /* Empty input with a NULL pointer is fine. */
    assert_int_equal(opc__b64_decode(NULL, 0, BOTH, &out, &n, NULL), OPC_OK);
    assert_int_equal(n, 0);
    opc__free(out);
}

/* Deterministic generator so failures reproduce. */
static uint32_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 16);
}

static void test_base64_roundtrip_random_lengths(void **state)
{
    (void)state;
    static const unsigned enc_flags[] = {STD_PAD, OPC_B64_STD, URL_PAD, OPC_B64URL};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    unsigned char data[301];
    for (size_t len = 0; len <= 300; len++) {
        for (size_t i = 0; i < len; i++) {
            data[i] = (unsigned char)next_rand(&seed);
        }
        for (size_t f = 0; f < OPC_ARRAY_LEN(enc_flags); f++) {
            unsigned flags = enc_flags[f];
            char *enc = NULL;
            size_t enc_len = 0;
            assert_int_equal(opc__b64_encode(data, len, flags, &enc, &enc_len), OPC_OK);
            assert_int_equal(enc_len, opc__b64_encoded_len(len, flags));
            assert_int_equal(strlen(enc), enc_len);
            if ((flags & OPC_B64_PAD) != 0) {
                assert_int_equal(enc_len % 4, 0);
            } else {
                assert_null(strchr(enc, '='));
            }
            const char *bad = (flags & OPC_B64_URL) != 0 ? "+/" : "-_";
            assert_null(strpbrk(enc, bad));
            assert_true(opc__b64_decoded_max(enc_len) >= len);

            unsigned decode_flags = flags & (OPC_B64_STD | OPC_B64_URL);
            decode_flags |= (flags & OPC_B64_PAD) != 0 ? OPC_B64_PAD : OPC_B64_NOPAD;
            unsigned char *dec = NULL;
            size_t dec_len = 0;
            assert_int_equal(opc__b64_decode(enc, enc_len, decode_flags, &dec, &dec_len, NULL),
                             OPC_OK);
            assert_int_equal(dec_len, len);
            assert_memory_equal(dec, data, len);
            opc__free(dec);

            unsigned char buf[301];
            size_t got = 0;
            assert_int_equal(opc__b64_decode_to(enc, enc_len, BOTH, buf, len, &got, NULL), OPC_OK);
            assert_int_equal(got, len);
            assert_memory_equal(buf, data, len);

            char enc2[420];
            size_t enc2_len = 0;
            assert_int_equal(opc__b64_encode_to(data, len, flags, enc2, enc_len + 1, &enc2_len),
                             OPC_OK);
            assert_int_equal(enc2_len, enc_len);
            assert_string_equal(enc2, enc);
            opc__free(enc);
        }
    }
}

static void test_base64_decode_to_capacity(void **state)
{
    (void)state;
    unsigned char buf[8];
    size_t n = 99;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);

    assert_int_equal(opc__b64_decode_to("Zm9vYmFy", 8, BOTH, buf, 6, &n, &eb), OPC_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "foobar", 6);

    memset(buf, 0xA5, sizeof buf);
    n = 99;
    assert_int_equal(opc__b64_decode_to("Zm9vYmFy", 8, BOTH, buf, 5, &n, &eb), OPC_ERR_RANGE);
    assert_int_equal(n, 0);
    assert_non_null(strstr(eb.msg, "6"));
    for (size_t i = 0; i < sizeof buf; i++) {
        assert_int_equal(buf[i], 0xA5);
    }
    /* The padded form needs the same (exact) room, not decoded_max. */
    assert_int_equal(opc__b64_decode_to("Zm9vYg==", 8, BOTH, buf, 4, &n, NULL), OPC_OK);
    assert_int_equal(n, 4);
    assert_int_equal(opc__b64_decode_to("Zm9vYg==", 8, BOTH, buf, 3, &n, NULL), OPC_ERR_RANGE);
    /* Empty input needs no room at all. */
    assert_int_equal(opc__b64_decode_to("", 0, BOTH, NULL, 0, &n, NULL), OPC_OK);
    assert_int_equal(n, 0);
    assert_int_equal(opc__b64_decode_to("Zg", 2, BOTH, NULL, 0, &n, NULL), OPC_ERR_RANGE);
    assert_int_equal(opc__b64_decode_to("Zg", 2, BOTH, buf, sizeof buf, NULL, NULL),
                     OPC_ERR_INVALID_ARG);
}

static void test_base64_encode_to_capacity(void **state)
{
    (void)state;
    char out[9];
    size_t n = 99;
    assert_int_equal(opc__b64_encode_to("foobar", 6, STD_PAD, out, 9, &n), OPC_OK);
    assert_string_equal(out, "Zm9vYmFy");
    assert_int_equal(n, 8);
    /* The NUL needs room too. */
    memset(out, 'x', sizeof out);
    assert_int_equal(opc__b64_encode_to("foobar", 6, STD_PAD, out, 8, &n), OPC_ERR_TOO_LARGE);
    assert_int_equal(n, 0);
    assert_int_equal(out[0], '\0');
    assert_int_equal(opc__b64_encode_to("", 0, STD_PAD, out, 1, &n), OPC_OK);
    assert_string_equal(out, "");
    assert_int_equal(opc__b64_encode_to("", 0, STD_PAD, out, 0, &n), OPC_ERR_TOO_LARGE);
}

static void test_base64_lengths_helpers(void **state)
{
    (void)state;
    assert_int_equal(opc__b64_encoded_len(0, STD_PAD), 0);
    assert_int_equal(opc__b64_encoded_len(1, STD_PAD), 4);
    assert_int_equal(opc__b64_encoded_len(1, OPC_B64URL), 2);
    assert_int_equal(opc__b64_encoded_len(2, OPC_B64URL), 3);
    assert_int_equal(opc__b64_encoded_len(32, OPC_B64URL), 43);
    assert_int_equal(opc__b64_encoded_len(SIZE_MAX, OPC_B64URL), SIZE_MAX);
    assert_int_equal(opc__b64_decoded_max(43), 32);
    assert_int_equal(opc__b64_decoded_max(44), 33);
    assert_int_equal(opc__b64_decoded_max(0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_encode_rfc4648_vectors),
        cmocka_unit_test(test_base64_decode_rfc4648_vectors),
        cmocka_unit_test(test_base64_alphabets_differ_in_62_63),
        cmocka_unit_test(test_base64_decode_rejects_whitespace),
        cmocka_unit_test(test_base64_decode_rejects_wrong_alphabet),
        cmocka_unit_test(test_base64_decode_rejects_mixed_alphabets),
        cmocka_unit_test(test_base64_decode_rejects_bad_padding),
        cmocka_unit_test(test_base64_decode_rejects_length_1_mod_4),
        cmocka_unit_test(test_base64_decode_rejects_nonzero_trailing_bits),
        cmocka_unit_test(test_base64_decode_rejects_bad_arguments),
        cmocka_unit_test(test_base64_roundtrip_random_lengths),
        cmocka_unit_test(test_base64_decode_to_capacity),
        cmocka_unit_test(test_base64_encode_to_capacity),
        cmocka_unit_test(test_base64_lengths_helpers),
    };
    return cmocka_run_group_tests_name("base64", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
