/*
 * tests/unit/test_twoskd.c - Secret Key and 2SKD (lib/crypto/twoskd.c).
 *
 * All keys, passwords and emails here are obviously fake test values.
 */
#include "harness.h"

#include "core/alloc.h"
#include "core/err.h"
#include "crypto/kdf.h"
#include "crypto/twoskd.h"

#define ALPHABET "23456789ABCDEFGHJKLMNPQRSTVWXYZ"
#define TEST_KEY "A3-TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ234"
#define TEST_ID "TEST23"
#define TEST_SECRET "ABCDEFGHJKLMNPQRSTVWXYZ234"
#define TEST_EMAIL "wendy.appleseed@example.com"
#define FAST_ITER 1000u /* the _raw tests use few iterations for speed */

static const uint8_t test_salt[OPC_2SKD_SALT_LEN] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                     8, 9, 10, 11, 12, 13, 14, 15};

static void parse_ok(const char *s, opc__secret_key *sk)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__secret_key_parse(s, sk, &eb);
    if (rc != OPC_OK) {
        fail_msg("parse of a good key failed: %d (%s)", (int)rc, eb.msg);
    }
}

/* Expect OPC_ERR_PARSE with a message containing `want`, and *out wiped. */
static void parse_fails(const char *s, const char *want)
{
    opc__secret_key sk;
    memset(&sk, 'x', sizeof sk);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__secret_key_parse(s, &sk, &eb), OPC_ERR_PARSE);
    if (strstr(eb.msg, want) == NULL) {
        fail_msg("message \"%s\" lacks \"%s\"", eb.msg, want);
    }
    const unsigned char *p = (const unsigned char *)&sk;
    for (size_t i = 0; i < sizeof sk; i++) {
        assert_int_equal(p[i], 0);
    }
}

static void derive_raw(const char *pw, const char *email, const opc__secret_key *sk,
                       const uint8_t *salt, const char *label, uint32_t iter, uint8_t out[32])
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__2skd_raw(pw, email, sk, salt, label, iter, out, &eb);
    if (rc != OPC_OK) {
        fail_msg("2SKD failed: %d (%s)", (int)rc, eb.msg);
    }
}

static void check_hex(const void *got, const char *want_hex)
{
    size_t n;
    unsigned char *want = opc_test_unhex(want_hex, &n);
    assert_memory_equal(got, want, n);
    free(want);
}

/* ---- Secret Key generation ---- */

static void test_twoskd_secret_key_generate_format(void **state)
{
    (void)state;
    char key[OPC_SECRET_KEY_STRLEN + 1];
    assert_int_equal(opc__secret_key_generate(key), OPC_OK);
    assert_int_equal(strlen(key), OPC_SECRET_KEY_STRLEN);
    assert_int_equal(key[0], 'A');
    assert_int_equal(key[1], '3');
    static const size_t dashes[] = {2, 9, 16, 22, 28, 34};
    size_t d = 0;
    for (size_t i = 0; i < OPC_SECRET_KEY_STRLEN; i++) {
        if (d < OPC_ARRAY_LEN(dashes) && i == dashes[d]) {
            assert_int_equal(key[i], '-');
            d++;
        } else if (i >= 3) {
            assert_non_null(strchr(ALPHABET, key[i]));
        }
    }
    assert_int_equal(d, OPC_ARRAY_LEN(dashes));

    opc__secret_key sk;
    parse_ok(key, &sk);
    assert_string_equal(sk.version, "A3");
    assert_memory_equal(sk.id, key + 3, 6);
    char secret[27];
    snprintf(secret, sizeof secret, "%.6s%.5s%.5s%.5s%.5s", key + 10, key + 17, key + 23, key + 29,
             key + 35);
    assert_string_equal(sk.secret, secret);
    opc__wipe(&sk, sizeof sk);
    assert_int_equal(opc__secret_key_generate(NULL), OPC_ERR_INVALID_ARG);
}

static void test_twoskd_secret_key_generate_alphabet_1000_keys(void **state)
{
    (void)state;
    unsigned counts[256] = {0};
    char first[OPC_SECRET_KEY_STRLEN + 1] = "";
    for (int n = 0; n < 1000; n++) {
        char key[OPC_SECRET_KEY_STRLEN + 1];
        assert_int_equal(opc__secret_key_generate(key), OPC_OK);
        assert_null(strpbrk(key + 2, "IOU01abcdefghijklmnopqrstuvwxyz"));
        for (size_t i = 3; i < OPC_SECRET_KEY_STRLEN; i++) {
            counts[(unsigned char)key[i]]++;
        }
        if (n == 0) {
            memcpy(first, key, sizeof key);
        } else {
            assert_string_not_equal(first, key);
        }
        opc__secret_key sk;
        parse_ok(key, &sk);
        opc__wipe(&sk, sizeof sk);
    }
    /* 32000 symbols: each of the 31 should appear about 1032 times. */
    for (const char *c = ALPHABET; *c != '\0'; c++) {
        unsigned k = counts[(unsigned char)*c];
        if (k < 700 || k > 1400) {
            fail_msg("symbol %c appeared %u times in 32000", *c, k);
        }
    }
    unsigned total = counts['-'];
    for (const char *c = ALPHABET; *c != '\0'; c++) {
        total += counts[(unsigned char)*c];
    }
    assert_int_equal(total, 1000u * (OPC_SECRET_KEY_STRLEN - 3));
}

/* ---- Secret Key parsing ---- */

static void test_twoskd_secret_key_parse_accepts_variants(void **state)
{
    (void)state;
    static const char *variants[] = {
        TEST_KEY,
        "A3TEST23ABCDEFGHJKLMNPQRSTVWXYZ234",
        "a3-test23-abcdef-ghjkl-mnpqr-stvwx-yz234",
        "a3TeSt23AbCdEf-GhJkLMNPQR-stvwxyz234",
        "  \t" TEST_KEY "\r\n",
        " a3test23abcdefghjklmnpqrstvwxyz234 ",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(variants); i++) {
        opc__secret_key sk;
        parse_ok(variants[i], &sk);
        assert_string_equal(sk.version, "A3");
        assert_string_equal(sk.id, TEST_ID);
        assert_string_equal(sk.secret, TEST_SECRET);
    }
}

static void test_twoskd_secret_key_parse_rejects_bad_version(void **state)
{
    (void)state;
    parse_fails("A2-TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ234", "must start with A3");
    parse_fails("B3TEST23ABCDEFGHJKLMNPQRSTVWXYZ234", "must start with A3");
    parse_fails("-A3TEST23ABCDEFGHJKLMNPQRSTVWXYZ234", "must start with A3");
    parse_fails("A", "must start with A3");
    parse_fails("   ", "empty");
    parse_fails("", "empty");
}

static void test_twoskd_secret_key_parse_rejects_wrong_length(void **state)
{
    (void)state;
    parse_fails("A3-TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ23", "wrong length: 33 characters");
    parse_fails("A3-TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ2345", "wrong length: 35 characters");
    parse_fails("A3TEST23", "wrong length: 8 characters");
    parse_fails("A3", "wrong length: 2 characters");
}

static void test_twoskd_secret_key_parse_rejects_bad_characters(void **state)
{
    (void)state;
    /* Positions are 1-based in the string as given. */
    parse_fails("A3-TEST23-ABCDEF-GHIKL-MNPQR-STVWX-YZ234", "invalid character at position 20");
    parse_fails("A3-TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ230", "invalid character at position 40");
    parse_fails("A3-TEST23-ABCDEF-GHJKL-MNOQR-STVWX-YZ234", "invalid character at position 26");
    parse_fails("A3-TEST21-ABCDEF-GHJKL-MNPQR-STVWX-YZ234", "invalid character at position 9");
    parse_fails("A3-TEST23-ABCDEF-GHJKL-MNPQU-STVWX-YZ234", "invalid character at position 28");
    parse_fails("  A3-TEST23-ABCDEF-GH KL-MNPQR-STVWX-YZ234", "invalid character at position 22");
    parse_fails("A3-TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ23\xc3\xa9", "position 40");
    /* Dashes only between groups, one at a time. */
    parse_fails("A3-TES-T23-ABCDEF-GHJKL-MNPQR-STVWX-YZ234", "misplaced '-' at position 7");
    parse_fails("A3--TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ234", "misplaced '-' at position 4");
    parse_fails("A3-TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ234-", "misplaced '-' at position 41");
    /* The message never quotes the key. */
    opc__secret_key sk;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__secret_key_parse("A3-TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ23!", &sk, &eb),
                     OPC_ERR_PARSE);
    assert_null(strstr(eb.msg, "ABCDEF"));
    assert_null(strchr(eb.msg, '!'));
    assert_int_equal(opc__secret_key_parse(NULL, &sk, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__secret_key_parse(TEST_KEY, NULL, &eb), OPC_ERR_INVALID_ARG);
}

/* ---- 2SKD ---- */

static void test_twoskd_2skd_known_answer_python(void **state)
{
    (void)state;
    /* Computed with Python's hashlib.pbkdf2_hmac and an RFC 5869 HKDF on hmac. */
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    uint8_t out[32];
    derive_raw(" hunter2\t", "Wendy.Appleseed@Example.COM", &sk, test_salt, OPC_2SKD_LABEL_AUK,
               FAST_ITER, out);
    check_hex(out, "edc0cdff4ac54c3631e2d8a2931bd834e5c7b70031adeac8f19fe0bd537d58d3");
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__2skd("hunter2", TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_SRP,
                               OPC_2SKD_MIN_ITERATIONS, out, &eb),
                     OPC_OK);
    check_hex(out, "151da24696a691af74c1cddabb5598da3cf8d0ac30e9f469ebafcf5a3aab0855");
}

static void test_twoskd_2skd_matches_formula(void **state)
{
    (void)state;
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    const char *email = TEST_EMAIL;
    const char *label = OPC_2SKD_LABEL_AUK;
    uint8_t s2[32], k_pw[32], k_sk[32], want[32], got[32];
    assert_int_equal(opc__hkdf_sha256(test_salt, sizeof test_salt, email, strlen(email), label,
                                      strlen(label), s2, sizeof s2),
                     OPC_OK);
    assert_int_equal(opc__pbkdf2_sha256("hunter2", 7, s2, sizeof s2, FAST_ITER, k_pw, 32), OPC_OK);
    assert_int_equal(opc__hkdf_sha256(TEST_SECRET, 26, TEST_ID, 6, "A3", 2, k_sk, 32), OPC_OK);
    for (size_t i = 0; i < 32; i++) {
        want[i] = (uint8_t)(k_pw[i] ^ k_sk[i]);
    }
    derive_raw("hunter2", email, &sk, test_salt, label, FAST_ITER, got);
    assert_memory_equal(got, want, 32);
    /* Neither half alone. */
    assert_memory_not_equal(got, k_pw, 32);
    assert_memory_not_equal(got, k_sk, 32);
}

/* One set of 2SKD inputs, and whether it derives the same key as the base. */
typedef struct variant {
    const char *pw;
    const char *email;
    const opc__secret_key *sk;
    const uint8_t *salt;
    const char *label;
    uint32_t iter;
    bool same;
} variant;

/* Each variant derives base (same) or another key. */
static void expect_variants(const uint8_t base[32], const variant *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t out[32];
        derive_raw(v[i].pw, v[i].email, v[i].sk, v[i].salt, v[i].label, v[i].iter, out);
        if (v[i].same) {
            assert_memory_equal(out, base, 32);
        } else {
            assert_memory_not_equal(out, base, 32);
        }
    }
}

static void test_twoskd_2skd_inputs_matter(void **state)
{
    (void)state;
    opc__secret_key sk, sk2;
    parse_ok(TEST_KEY, &sk);
    parse_ok("A3-TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ235", &sk2);
    opc__secret_key sk_id = sk;
    sk_id.id[5] = '4';
    uint8_t salt2[OPC_2SKD_SALT_LEN];
    memcpy(salt2, test_salt, sizeof salt2);
    salt2[15] ^= 1;

    const char *auk = OPC_2SKD_LABEL_AUK;
    uint8_t base[32];
    derive_raw("hunter2", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, base);
    const variant v[] = {
        /* deterministic */
        {"hunter2", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, true},
        /* Email case does not matter. */
        {"hunter2", "WENDY.Appleseed@EXAMPLE.com", &sk, test_salt, auk, FAST_ITER, true},
        {"hunter3", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, false},
        {"Hunter2", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, false},
        {"hunter2", "wendy.appleseed@example.org", &sk, test_salt, auk, FAST_ITER, false},
        {"hunter2", TEST_EMAIL, &sk2, test_salt, auk, FAST_ITER, false},
        {"hunter2", TEST_EMAIL, &sk_id, test_salt, auk, FAST_ITER, false},
        {"hunter2", TEST_EMAIL, &sk, salt2, auk, FAST_ITER, false},
        {"hunter2", TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_SRP, FAST_ITER, false},
        {"hunter2", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER + 1, false},
    };
    expect_variants(base, v, sizeof v / sizeof v[0]);
}

static void test_twoskd_2skd_trims_password(void **state)
{
    (void)state;
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    const char *auk = OPC_2SKD_LABEL_AUK;
    uint8_t base[32];
    derive_raw("hunter2", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, base);
    const variant v[] = {
        {"  hunter2", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, true},
        {"hunter2 \t\r\n", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, true},
        {"\v hunter2\f", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, true},
        /* Inner white space is part of the password. */
        {"hun ter2", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, false},
    };
    expect_variants(base, v, sizeof v / sizeof v[0]);
    /* An all-blank password is the empty password. */
    uint8_t empty[32];
    derive_raw("", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, empty);
    const variant blank = {"   ", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, true};
    expect_variants(empty, &blank, 1);
}

static void test_twoskd_2skd_enforces_floor(void **state)
{
    (void)state;
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    uint8_t out[32], raw[32];
    memset(out, 0xA5, sizeof out);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__2skd("hunter2", TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_AUK,
                               OPC_2SKD_MIN_ITERATIONS - 1, out, &eb),
                     OPC_ERR_RANGE);
    assert_non_null(strstr(eb.msg, "99999"));
    assert_non_null(strstr(eb.msg, "100000"));
    for (size_t i = 0; i < sizeof out; i++) {
        assert_int_equal(out[i], 0xA5);
    }
    assert_int_equal(
        opc__2skd("hunter2", TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_AUK, 1, out, NULL),
        OPC_ERR_RANGE);
    assert_int_equal(
        opc__2skd_raw("hunter2", TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_AUK, 0, out, NULL),
        OPC_ERR_RANGE);

    /* Exactly at the floor it runs, and agrees with the raw form. */
    assert_int_equal(opc__2skd("hunter2", TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_AUK,
                               OPC_2SKD_MIN_ITERATIONS, out, &eb),
                     OPC_OK);
    derive_raw("hunter2", TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_AUK, OPC_2SKD_MIN_ITERATIONS,
               raw);
    assert_memory_equal(out, raw, 32);
    check_hex(out, "2f9fa144815e132d4023c02162a95f32906960985b9b51dd6fc43011026b2ab0");
}

static void test_twoskd_2skd_rejects_bad_arguments(void **state)
{
    (void)state;
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    uint8_t out[32];
    const char *l = OPC_2SKD_LABEL_AUK;
    assert_int_equal(opc__2skd_raw(NULL, TEST_EMAIL, &sk, test_salt, l, 1, out, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__2skd_raw("pw", NULL, &sk, test_salt, l, 1, out, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__2skd_raw("pw", TEST_EMAIL, NULL, test_salt, l, 1, out, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__2skd_raw("pw", TEST_EMAIL, &sk, NULL, l, 1, out, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__2skd_raw("pw", TEST_EMAIL, &sk, test_salt, NULL, 1, out, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__2skd_raw("pw", TEST_EMAIL, &sk, test_salt, l, 1, NULL, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__2skd(NULL, TEST_EMAIL, &sk, test_salt, l, 1, out, NULL),
                     OPC_ERR_INVALID_ARG);
    /* A struct that did not come from the parser. */
    opc__secret_key bad = sk;
    bad.secret[3] = 'O';
    assert_int_equal(opc__2skd_raw("pw", TEST_EMAIL, &bad, test_salt, l, 1, out, NULL),
                     OPC_ERR_INVALID_ARG);
    bad = sk;
    bad.version[1] = '4';
    assert_int_equal(opc__2skd_raw("pw", TEST_EMAIL, &bad, test_salt, l, 1, out, NULL),
                     OPC_ERR_INVALID_ARG);
    memset(&bad, 0, sizeof bad);
    assert_int_equal(opc__2skd_raw("pw", TEST_EMAIL, &bad, test_salt, l, 1, out, NULL),
                     OPC_ERR_INVALID_ARG);
}

/* ---- the SRP private key x ---- */

static void test_twoskd_srp_x_differs_from_auk_and_is_deterministic(void **state)
{
    (void)state;
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    uint8_t auk[32], x1[32], x2[32], x_other_salt[32];
    derive_raw("hunter2", TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_AUK, FAST_ITER, auk);
    /* Even over the very salt of the unlock key, x is another key. */
    assert_int_equal(opc__2skd_srp_x_raw("hunter2", TEST_EMAIL, &sk, test_salt, FAST_ITER, x1, &eb),
                     OPC_OK);
    assert_memory_not_equal(x1, auk, 32);
    assert_int_equal(opc__2skd_srp_x_raw(" hunter2 ", "Wendy.Appleseed@EXAMPLE.com", &sk, test_salt,
                                         FAST_ITER, x2, &eb),
                     OPC_OK);
    assert_memory_equal(x1, x2, 32);
    /* It is 2SKD under the SRP label, nothing else. */
    derive_raw("hunter2", TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_SRP, FAST_ITER, x2);
    assert_memory_equal(x1, x2, 32);
    /* Production: a separate salt. */
    uint8_t srp_salt[OPC_2SKD_SALT_LEN];
    memcpy(srp_salt, test_salt, sizeof srp_salt);
    srp_salt[0] ^= 0x80;
    assert_int_equal(
        opc__2skd_srp_x_raw("hunter2", TEST_EMAIL, &sk, srp_salt, FAST_ITER, x_other_salt, &eb),
        OPC_OK);
    assert_memory_not_equal(x_other_salt, x1, 32);
    assert_memory_not_equal(x_other_salt, auk, 32);
    /* Computed with Python (hashlib.pbkdf2_hmac, RFC 5869 HKDF on hmac). */
    check_hex(x1, "2b1e04d5f150a7bfad1bf2e7cea33898b6a5cb89008cc0c2fade83af21c170ef");
    /* The Secret Key matters. */
    opc__secret_key sk2;
    parse_ok("A3-TEST23-ABCDEF-GHJKL-MNPQR-STVWX-YZ235", &sk2);
    assert_int_equal(
        opc__2skd_srp_x_raw("hunter2", TEST_EMAIL, &sk2, test_salt, FAST_ITER, x2, &eb), OPC_OK);
    assert_memory_not_equal(x1, x2, 32);
    opc__wipe(&sk, sizeof sk);
    opc__wipe(&sk2, sizeof sk2);
}

static void test_twoskd_srp_x_floor_and_arguments(void **state)
{
    (void)state;
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    uint8_t x[32], raw[32];
    memset(x, 0xA5, sizeof x);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(
        opc__2skd_srp_x("hunter2", TEST_EMAIL, &sk, test_salt, OPC_2SKD_MIN_ITERATIONS - 1, x, &eb),
        OPC_ERR_RANGE);
    for (size_t i = 0; i < sizeof x; i++) {
        assert_int_equal(x[i], 0xA5);
    }
    assert_int_equal(
        opc__2skd_srp_x("hunter2", TEST_EMAIL, &sk, test_salt, OPC_2SKD_MIN_ITERATIONS, x, &eb),
        OPC_OK);
    assert_int_equal(opc__2skd_srp_x_raw("hunter2", TEST_EMAIL, &sk, test_salt,
                                         OPC_2SKD_MIN_ITERATIONS, raw, &eb),
                     OPC_OK);
    assert_memory_equal(x, raw, 32);
    /* The known answer of test_twoskd_2skd_known_answer_python (SRP label, the floor). */
    check_hex(x, "151da24696a691af74c1cddabb5598da3cf8d0ac30e9f469ebafcf5a3aab0855");
    assert_int_equal(opc__2skd_srp_x_raw("hunter2", TEST_EMAIL, &sk, test_salt, 0, x, NULL),
                     OPC_ERR_RANGE);
    assert_int_equal(opc__2skd_srp_x_raw(NULL, TEST_EMAIL, &sk, test_salt, 1, x, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__2skd_srp_x_raw("pw", TEST_EMAIL, &sk, NULL, 1, x, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__2skd_srp_x_raw("pw", TEST_EMAIL, &sk, test_salt, 1, NULL, NULL),
                     OPC_ERR_INVALID_ARG);
    opc__wipe(&sk, sizeof sk);
}

/* ---- Unicode normalisation (NFKD) of the password ---- */

static void test_twoskd_2skd_nfkd_forms_derive_one_key(void **state)
{
    (void)state;
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    const char *auk = OPC_2SKD_LABEL_AUK;
    uint8_t base[32];
    /* "café ﬁne Ｐw": NFC é (U+00E9), the ligature ﬁ (U+FB01), full-width Ｐ (U+FF30). */
    derive_raw("caf\xc3\xa9 \xef\xac\x81ne \xef\xbc\xb0w", TEST_EMAIL, &sk, test_salt, auk,
               FAST_ITER, base);
    const variant v[] = {
        /* NFD: e + COMBINING ACUTE ACCENT (U+0301). */
        {"cafe\xcc\x81 \xef\xac\x81ne \xef\xbc\xb0w", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER,
         true},
        /* The ligature spelt out. */
        {"caf\xc3\xa9 fine \xef\xbc\xb0w", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, true},
        /* ASCII P for the full-width one. */
        {"caf\xc3\xa9 \xef\xac\x81ne Pw", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, true},
        /* All three at once: the NFKD form itself. */
        {"cafe\xcc\x81 fine Pw", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, true},
        /* Full-width w (U+FF57) too, and NFC/NFD mixed. */
        {"caf\xc3\xa9 fine P\xef\xbd\x97", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, true},
        /* NO-BREAK SPACE (U+00A0) at the end is a space under NFKD: trimmed. */
        {"cafe\xcc\x81 fine Pw\xc2\xa0", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, true},
        /* Normalisation does not fold accents or case away. */
        {"cafe fine Pw", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, false},
        {"caf\xc3\xa8 fine Pw", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, false},
        {"caf\xc3\xa9 fine pw", TEST_EMAIL, &sk, test_salt, auk, FAST_ITER, false},
    };
    expect_variants(base, v, sizeof v / sizeof v[0]);
    /* The SRP x too. */
    uint8_t x1[32], x2[32];
    assert_int_equal(
        opc__2skd_srp_x_raw("caf\xc3\xa9", TEST_EMAIL, &sk, test_salt, FAST_ITER, x1, NULL),
        OPC_OK);
    assert_int_equal(
        opc__2skd_srp_x_raw("cafe\xcc\x81", TEST_EMAIL, &sk, test_salt, FAST_ITER, x2, NULL),
        OPC_OK);
    assert_memory_equal(x1, x2, 32);
    opc__wipe(&sk, sizeof sk);
}

static void test_twoskd_2skd_nfkd_known_answer_python(void **state)
{
    (void)state;
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    uint8_t out[32];
    /* "Ｐáss ﬁ": Python's unicodedata.normalize("NFKD", pw).encode().strip(b" \t\n\v\f\r")
     * is b"Pa\xcc\x81ss fi"; then the formula with hashlib and an RFC 5869 HKDF. */
    derive_raw("\xef\xbc\xb0\xc3\xa1ss \xef\xac\x81", TEST_EMAIL, &sk, test_salt,
               OPC_2SKD_LABEL_AUK, FAST_ITER, out);
    check_hex(out, "a1d013ac89d246c6cb6b0320a47933b8d44c4af37fd7c8800a188e01e3135207");
    /* The legacy derivation took the bytes as typed: another key. */
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    uint8_t old[32];
    assert_int_equal(opc__2skd_legacy("\xef\xbc\xb0\xc3\xa1ss \xef\xac\x81", TEST_EMAIL, &sk,
                                      test_salt, OPC_2SKD_LABEL_AUK, FAST_ITER, old, &eb),
                     OPC_OK);
    assert_memory_not_equal(old, out, 32);
    /* ...and over the NFKD bytes it is the new derivation. */
    assert_int_equal(opc__2skd_legacy("Pa\xcc\x81ss fi", TEST_EMAIL, &sk, test_salt,
                                      OPC_2SKD_LABEL_AUK, FAST_ITER, old, &eb),
                     OPC_OK);
    assert_memory_equal(old, out, 32);
    opc__wipe(&sk, sizeof sk);
}

static void test_twoskd_2skd_legacy_is_the_old_formula(void **state)
{
    (void)state;
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    uint8_t out[32];
    /* The known answer of test_twoskd_2skd_known_answer_python: ASCII is
     * the same under both derivations. */
    assert_int_equal(opc__2skd_legacy(" hunter2\t", "Wendy.Appleseed@Example.COM", &sk, test_salt,
                                      OPC_2SKD_LABEL_AUK, FAST_ITER, out, &eb),
                     OPC_OK);
    check_hex(out, "edc0cdff4ac54c3631e2d8a2931bd834e5c7b70031adeac8f19fe0bd537d58d3");
    /* The old formula over the bytes as typed (PBKDF2 of "caf\xc3\xa9"). */
    uint8_t s2[32], k_pw[32], k_sk[32], want[32];
    const char *label = OPC_2SKD_LABEL_SRP;
    assert_int_equal(opc__hkdf_sha256(test_salt, sizeof test_salt, TEST_EMAIL, strlen(TEST_EMAIL),
                                      label, strlen(label), s2, sizeof s2),
                     OPC_OK);
    assert_int_equal(opc__pbkdf2_sha256("caf\xc3\xa9", 5, s2, sizeof s2, FAST_ITER, k_pw, 32),
                     OPC_OK);
    assert_int_equal(opc__hkdf_sha256(TEST_SECRET, 26, TEST_ID, 6, "A3", 2, k_sk, 32), OPC_OK);
    for (size_t i = 0; i < 32; i++) {
        want[i] = (uint8_t)(k_pw[i] ^ k_sk[i]);
    }
    assert_int_equal(
        opc__2skd_legacy("caf\xc3\xa9", TEST_EMAIL, &sk, test_salt, label, FAST_ITER, out, &eb),
        OPC_OK);
    assert_memory_equal(out, want, 32);
    /* Legacy takes any bytes, even invalid UTF-8 (an old account's password). */
    assert_int_equal(
        opc__2skd_legacy("caf\xe9", TEST_EMAIL, &sk, test_salt, label, FAST_ITER, out, &eb),
        OPC_OK);
    assert_memory_not_equal(out, want, 32);
    assert_int_equal(opc__2skd_legacy(NULL, TEST_EMAIL, &sk, test_salt, label, 1, out, NULL),
                     OPC_ERR_INVALID_ARG);
    opc__wipe(&sk, sizeof sk);
}

static void test_twoskd_2skd_refuses_invalid_utf8(void **state)
{
    (void)state;
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    uint8_t out[32];
    const char *bad[] = {
        "caf\xe9",            /* Latin-1 é */
        "\xc0\xafpw",         /* overlong "/" */
        "pw\xed\xa0\x80",     /* a UTF-16 surrogate (U+D800) */
        "pw\xf4\x90\x80\x80", /* above U+10FFFF */
        "pw\xe2\x82",         /* truncated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        memset(out, 0xA5, sizeof out);
        assert_int_equal(opc__2skd_raw(bad[i], TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_AUK,
                                       FAST_ITER, out, &eb),
                         OPC_ERR_PARSE);
        assert_non_null(strstr(eb.msg, "not valid UTF-8"));
        assert_null(strstr(eb.msg, "caf"));
        assert_int_equal(out[0], 0xA5);
        assert_int_equal(
            opc__2skd_srp_x_raw(bad[i], TEST_EMAIL, &sk, test_salt, FAST_ITER, out, NULL),
            OPC_ERR_PARSE);
        assert_int_equal(opc__2skd_password_check(bad[i], &eb), OPC_ERR_PARSE);
        bool utf8 = true, differ = false;
        assert_int_equal(opc__2skd_password_forms(bad[i], &utf8, &differ, NULL), OPC_OK);
        assert_false(utf8);
        assert_true(differ);
    }
    assert_int_equal(opc__2skd_password_check("caf\xc3\xa9", NULL), OPC_OK);
    assert_int_equal(opc__2skd_password_check(NULL, NULL), OPC_ERR_INVALID_ARG);
    opc__wipe(&sk, sizeof sk);
}

static void test_twoskd_password_forms(void **state)
{
    (void)state;
    const struct {
        const char *pw;
        bool differ;
    } c[] = {
        {"hunter2", false},
        {"  hunter2 ", false},   /* the trim is the same in both */
        {"caf\xc3\xa9", true},   /* NFC: NFKD decomposes it */
        {"cafe\xcc\x81", false}, /* already NFD */
        {"\xef\xac\x81", true},  /* ﬁ */
        {"\xef\xbc\xb0w", true}, /* full-width */
        {"pw\xc2\xa0", true},    /* NBSP becomes a trimmed space */
        {"", false},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        bool utf8 = false, differ = !c[i].differ;
        assert_int_equal(opc__2skd_password_forms(c[i].pw, &utf8, &differ, NULL), OPC_OK);
        assert_true(utf8);
        if (differ != c[i].differ) {
            fail_msg("case %zu: differ %d, expected %d", i, (int)differ, (int)c[i].differ);
        }
    }
    bool u = false, d = false;
    assert_int_equal(opc__2skd_password_forms(NULL, &u, &d, NULL), OPC_ERR_INVALID_ARG);
}

static void test_twoskd_2skd_nfkd_long_expansion(void **state)
{
    (void)state;
    opc__secret_key sk;
    parse_ok(TEST_KEY, &sk);
    /* U+FDFA (3 bytes) decomposes to 18 code points (33 bytes): longer
     * than the first buffer, so the second round runs. NFKD is idempotent:
     * the NFKD bytes derive the same key. */
    enum { REPS = 200 };
    static const char fdfa[] = "\xef\xb7\xba";
    static const char fdfa_nfkd[] = "\xd8\xb5\xd9\x84\xd9\x89 \xd8\xa7\xd9\x84\xd9\x84\xd9\x87 "
                                    "\xd8\xb9\xd9\x84\xd9\x8a\xd9\x87 \xd9\x88\xd8\xb3\xd9\x84"
                                    "\xd9\x85";
    char *in = calloc(REPS * (sizeof fdfa - 1) + 1, 1);
    char *nf = calloc(REPS * (sizeof fdfa_nfkd - 1) + 1, 1);
    assert_non_null(in);
    assert_non_null(nf);
    for (size_t i = 0; i < REPS; i++) {
        memcpy(in + i * (sizeof fdfa - 1), fdfa, sizeof fdfa - 1);
        memcpy(nf + i * (sizeof fdfa_nfkd - 1), fdfa_nfkd, sizeof fdfa_nfkd - 1);
    }
    uint8_t a[32], b[32];
    derive_raw(in, TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_AUK, FAST_ITER, a);
    derive_raw(nf, TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_AUK, FAST_ITER, b);
    assert_memory_equal(a, b, 32);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(
        opc__2skd_legacy(nf, TEST_EMAIL, &sk, test_salt, OPC_2SKD_LABEL_AUK, FAST_ITER, b, &eb),
        OPC_OK);
    assert_memory_equal(a, b, 32);
    free(in);
    free(nf);
    opc__wipe(&sk, sizeof sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twoskd_secret_key_generate_format),
        cmocka_unit_test(test_twoskd_secret_key_generate_alphabet_1000_keys),
        cmocka_unit_test(test_twoskd_secret_key_parse_accepts_variants),
        cmocka_unit_test(test_twoskd_secret_key_parse_rejects_bad_version),
        cmocka_unit_test(test_twoskd_secret_key_parse_rejects_wrong_length),
        cmocka_unit_test(test_twoskd_secret_key_parse_rejects_bad_characters),
        cmocka_unit_test(test_twoskd_2skd_known_answer_python),
        cmocka_unit_test(test_twoskd_2skd_matches_formula),
        cmocka_unit_test(test_twoskd_2skd_inputs_matter),
        cmocka_unit_test(test_twoskd_2skd_trims_password),
        cmocka_unit_test(test_twoskd_2skd_enforces_floor),
        cmocka_unit_test(test_twoskd_2skd_rejects_bad_arguments),
        cmocka_unit_test(test_twoskd_srp_x_differs_from_auk_and_is_deterministic),
        cmocka_unit_test(test_twoskd_srp_x_floor_and_arguments),
        cmocka_unit_test(test_twoskd_2skd_nfkd_forms_derive_one_key),
        cmocka_unit_test(test_twoskd_2skd_nfkd_known_answer_python),
        cmocka_unit_test(test_twoskd_2skd_legacy_is_the_old_formula),
        cmocka_unit_test(test_twoskd_2skd_refuses_invalid_utf8),
        cmocka_unit_test(test_twoskd_password_forms),
        cmocka_unit_test(test_twoskd_2skd_nfkd_long_expansion),
    };
    return cmocka_run_group_tests_name("twoskd", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
