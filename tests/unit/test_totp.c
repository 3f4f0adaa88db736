/*
 * tests/unit/test_totp.c - HOTP, TOTP and otpauth:// URIs (lib/model/totp.c)
 * and the HMAC it rests on (opc__hmac in lib/crypto/kdf.c).
 *
 * Known answers: RFC 6238 Appendix B (all 18 cases), RFC 4226 Appendix D.
 */
#include "harness.h"

#include "core/err.h"
#include "crypto/kdf.h"
#include "model/totp.h"

static const char seed20[] = "12345678901234567890";
static const char seed32[] = "12345678901234567890123456789012";
static const char seed64[] = "1234567890123456789012345678901234567890123456789012345678901234";

/* base32 of the three seeds */
#define B32_20 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
#define B32_32 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA===="
#define B32_64                                                                                     \
    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3T" \
    "QOJQGEZDGNA="

static void test_totp_hmac_rfc4231_case2_all_digests(void **state)
{
    (void)state;
    /* RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" */
    static const char *const want[] = {
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8"
        "f0e"
        "6fdcaeab1a34d4a6b4b636e070a38bce737",
    };
    static const char *const digests[] = {"SHA1", "SHA256", "SHA512"};
    const char *msg = "what do ya want for nothing?";
    for (size_t i = 0; i < 3; i++) {
        uint8_t mac[OPC_HMAC_MAX_LEN];
        size_t n = sizeof mac;
        assert_int_equal(opc__hmac(digests[i], "Jefe", 4, msg, strlen(msg), mac, &n), OPC_OK);
        size_t wl;
        unsigned char *w = opc_test_unhex(want[i], &wl);
        assert_int_equal(n, wl);
        assert_memory_equal(mac, w, wl);
        free(w);
    }
}

static void test_totp_hmac_rejects_bad_arguments(void **state)
{
    (void)state;
    uint8_t mac[64];
    size_t n = sizeof mac;
    assert_int_equal(opc__hmac("MD5", "k", 1, "m", 1, mac, &n), OPC_ERR_UNSUPPORTED);
    assert_int_equal(opc__hmac("sha1", "k", 1, "m", 1, mac, &n), OPC_ERR_UNSUPPORTED);
    assert_int_equal(opc__hmac(NULL, "k", 1, "m", 1, mac, &n), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hmac("SHA1", NULL, 1, "m", 1, mac, &n), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hmac("SHA1", "k", 1, NULL, 1, mac, &n), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hmac("SHA1", "k", 1, "m", 1, NULL, &n), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hmac("SHA1", "k", 1, "m", 1, mac, NULL), OPC_ERR_INVALID_ARG);
    n = 31;
    assert_int_equal(opc__hmac("SHA256", "k", 1, "m", 1, mac, &n), OPC_ERR_RANGE);
    n = 20;
    assert_int_equal(opc__hmac("SHA1", "k", 1, "m", 1, mac, &n), OPC_OK);
    assert_int_equal(n, 20);
}

static void test_totp_code_rfc6238_appendix_b(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        const char *sha1, *sha256, *sha512;
    } v[] = {
        {59, "94287082", "46119246", "90693936"},
        {1111111109, "07081804", "68084774", "25091201"},
        {1111111111, "14050471", "67062674", "99943326"},
        {1234567890, "89005924", "91819424", "93441116"},
        {2000000000, "69279037", "90698825", "38618901"},
        {20000000000LL, "65353130", "77737706", "47863826"},
    };
    size_t checked = 0;
    for (size_t i = 0; i < OPC_ARRAY_LEN(v); i++) {
        const struct {
            opc__otp_alg alg;
            const char *seed;
            const char *want;
        } c[] = {
            {OPC_OTP_SHA1, seed20, v[i].sha1},
            {OPC_OTP_SHA256, seed32, v[i].sha256},
            {OPC_OTP_SHA512, seed64, v[i].sha512},
        };
        for (size_t k = 0; k < 3; k++) {
            opc__totp t;
            memset(&t, 0, sizeof t);
            memcpy(t.key, c[k].seed, strlen(c[k].seed));
            t.key_len = strlen(c[k].seed);
            t.alg = c[k].alg;
            t.digits = 8;
            t.period = 30;
            char out[11];
            assert_int_equal(opc__totp_code(&t, v[i].t, out), OPC_OK);
            assert_string_equal(out, c[k].want);
            checked++;
        }
    }
    assert_int_equal(checked, 18);
}

static void test_totp_hotp_rfc4226_appendix_d(void **state)
{
    (void)state;
    static const char *const want[] = {"755224", "287082", "359152", "969429", "338314",
                                       "254676", "287922", "162583", "399871", "520489"};
    for (uint64_t c = 0; c < 10; c++) {
        char out[11];
        assert_int_equal(opc__hotp((const uint8_t *)seed20, 20, OPC_OTP_SHA1, c, 6, out), OPC_OK);
        assert_string_equal(out, want[c]);
    }
    /* Truncation to 7 digits keeps the low digits of the same number. */
    char out[11];
    assert_int_equal(opc__hotp((const uint8_t *)seed20, 20, OPC_OTP_SHA1, 37037036, 7, out),
                     OPC_OK);
    assert_string_equal(out, "7081804");
}

static void test_totp_hotp_rejects_bad_arguments(void **state)
{
    (void)state;
    char out[11];
    const uint8_t *k = (const uint8_t *)seed20;
    assert_int_equal(opc__hotp(NULL, 20, OPC_OTP_SHA1, 0, 6, out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hotp(k, 0, OPC_OTP_SHA1, 0, 6, out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hotp(k, 20, (opc__otp_alg)9, 0, 6, out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hotp(k, 20, OPC_OTP_SHA1, 0, 0, out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hotp(k, 20, OPC_OTP_SHA1, 0, 11, out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__hotp(k, 20, OPC_OTP_SHA1, 0, 6, NULL), OPC_ERR_INVALID_ARG);
    opc__totp t;
    memset(&t, 0, sizeof t);
    assert_int_equal(opc__totp_code(&t, 0, out), OPC_ERR_INVALID_ARG); /* period 0 */
    assert_int_equal(opc__totp_code(NULL, 0, out), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__totp_parse("JBSWY3DP", &t, NULL), OPC_OK);
    assert_int_equal(opc__totp_code(&t, -1, out), OPC_ERR_RANGE);
    assert_int_equal(opc__totp_code(&t, 0, NULL), OPC_ERR_INVALID_ARG);
}

/* Parse uri, then check the key, parameters and the code at time `at`. */
static void expect_uri(const char *uri, const char *seed, opc__otp_alg alg, unsigned digits,
                       unsigned period, int64_t at, const char *code)
{
    opc__totp t;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__totp_parse(uri, &t, &eb);
    if (rc != OPC_OK) {
        fail_msg("rejected %s: %s", uri, eb.msg);
    }
    assert_int_equal(t.key_len, strlen(seed));
    assert_memory_equal(t.key, seed, t.key_len);
    assert_int_equal(t.alg, alg);
    assert_int_equal(t.digits, digits);
    assert_int_equal(t.period, period);
    char out[11];
    assert_int_equal(opc__totp_code(&t, at, out), OPC_OK);
    assert_string_equal(out, code);
}

static void test_totp_parse_uri_variants(void **state)
{
    (void)state;
    expect_uri("otpauth://totp/ACME:alice@example.com?secret=" B32_20 "&issuer=ACME", seed20,
               OPC_OTP_SHA1, 6, 30, 59, "287082");
    expect_uri("otpauth://totp/x?secret=" B32_20 "&algorithm=SHA1&digits=8&period=30", seed20,
               OPC_OTP_SHA1, 8, 30, 59, "94287082");
    expect_uri("otpauth://totp/x?digits=8&algorithm=SHA256&secret=" B32_32, seed32, OPC_OTP_SHA256,
               8, 30, 1111111109, "68084774");
    expect_uri("otpauth://totp/x?algorithm=sha512&digits=8&secret=" B32_64, seed64, OPC_OTP_SHA512,
               8, 30, 20000000000LL, "47863826");
    /* Upper-case scheme and type, lower-case secret, no label. */
    expect_uri("OTPAUTH://TOTP?secret=gezdgnbvgy3tqojqgezdgnbvgy3tqojq", seed20, OPC_OTP_SHA1, 6,
               30, 59, "287082");
    /* Percent-encoded and '+' spaces in the secret, padding percent-encoded. */
    expect_uri("otpauth://totp/a%20b?secret=GEZD%20GNBV+GY3T%20QOJQ%20GEZDGNBVGY3TQOJQ", seed20,
               OPC_OTP_SHA1, 6, 30, 59, "287082");
    expect_uri("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA%3D%3D"
               "%3D%3D&algorithm=SHA256&digits=8",
               seed32, OPC_OTP_SHA256, 8, 30, 59, "46119246");
    /* Period 60: the counter is 0 at t=59, so the code is HOTP(0). */
    expect_uri("otpauth://totp/x?secret=" B32_20 "&period=60", seed20, OPC_OTP_SHA1, 6, 60, 59,
               "755224");
    /* Unknown parameters, empty parameters and a fragment are ignored; the
     * names are case-insensitive. */
    expect_uri("otpauth://totp/x?image=http%3A%2F%2Fx&&SECRET=" B32_20 "&Digits=7#frag", seed20,
               OPC_OTP_SHA1, 7, 30, 1111111109, "7081804");
    /* A bare base32 secret, with spaces and lower case. */
    expect_uri("gezd gnbv gy3t qojq gezd gnbv gy3t qojq", seed20, OPC_OTP_SHA1, 6, 30, 59,
               "287082");
    expect_uri(" " B32_32 " ", seed32, OPC_OTP_SHA1, 6, 30, 0, "670691");
}

static void test_totp_parse_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *uri;
        opc_err rc;
        const char *msg;
    } bad[] = {
        {"otpauth://hotp/x?secret=" B32_20 "&counter=1", OPC_ERR_UNSUPPORTED, "HOTP"},
        {"otpauth://HOTP/x?secret=" B32_20, OPC_ERR_UNSUPPORTED, "HOTP"},
        {"otpauth://totpx/x?secret=" B32_20, OPC_ERR_UNSUPPORTED, "only totp"},
        {"otpauth:totp/x?secret=" B32_20, OPC_ERR_PARSE, "otpauth://totp"},
        {"otpauth://totp/x", OPC_ERR_PARSE, "missing \"secret\""},
        {"otpauth://totp/x?issuer=a", OPC_ERR_PARSE, "missing \"secret\""},
        {"otpauth://totp/x?secret=", OPC_ERR_PARSE, "empty"},
        {"otpauth://totp/x?secret", OPC_ERR_PARSE, "empty"},
        {"otpauth://totp/x?secret=%20%20", OPC_ERR_PARSE, "empty"},
        {"otpauth://totp/x?secret=GEZ1", OPC_ERR_PARSE, "invalid base32 character"},
        {"otpauth://totp/x?secret=GEZDGNBV&secret=GEZDGNBV", OPC_ERR_PARSE, "given twice"},
        {"otpauth://totp/x?secret=A", OPC_ERR_PARSE, "invalid base32 length"},
        {"otpauth://totp/x?secret=ABC", OPC_ERR_PARSE, "invalid base32 length"},
        {"otpauth://totp/x?secret=ABCDEF", OPC_ERR_PARSE, "invalid base32 length"},
        {"otpauth://totp/x?secret=GE==ZD", OPC_ERR_PARSE, "after '=' padding"},
        {"otpauth://totp/x?secret=" B32_20 "&algorithm=MD5", OPC_ERR_UNSUPPORTED, "algorithm"},
        {"otpauth://totp/x?secret=" B32_20 "&algorithm=", OPC_ERR_UNSUPPORTED, "algorithm"},
        {"otpauth://totp/x?secret=" B32_20 "&digits=5", OPC_ERR_RANGE, "digits"},
        {"otpauth://totp/x?secret=" B32_20 "&digits=9", OPC_ERR_RANGE, "digits"},
        {"otpauth://totp/x?secret=" B32_20 "&digits=six", OPC_ERR_RANGE, "digits"},
        {"otpauth://totp/x?secret=" B32_20 "&digits=", OPC_ERR_RANGE, "digits"},
        {"otpauth://totp/x?secret=" B32_20 "&period=0", OPC_ERR_RANGE, "period"},
        {"otpauth://totp/x?secret=" B32_20 "&period=3601", OPC_ERR_RANGE, "period"},
        {"otpauth://totp/x?secret=" B32_20 "&period=-30", OPC_ERR_RANGE, "period"},
        {"otpauth://totp/x?secret=" B32_20 "&period=99999999999999999999", OPC_ERR_RANGE, "period"},
        {"otpauth://totp/x?secret=GEZ%4", OPC_ERR_PARSE, "percent escape"},
        {"otpauth://totp/x?secret=GEZ%G1", OPC_ERR_PARSE, "percent escape"},
        {"otpauth://totp/x?secret=GEZ%00", OPC_ERR_PARSE, "%00"},
        {"http://example.com/?secret=" B32_20, OPC_ERR_PARSE, "invalid base32 character"},
        {"", OPC_ERR_PARSE, "empty"},
        {"   ", OPC_ERR_PARSE, "empty"},
        {"not a secret!", OPC_ERR_PARSE, "invalid base32 character"},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        opc__totp t;
        memset(&t, 0xa5, sizeof t);
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc_err rc = opc__totp_parse(bad[i].uri, &t, &eb);
        if (rc != bad[i].rc || strstr(eb.msg, bad[i].msg) == NULL) {
            fail_msg("case %zu (%s): rc %d, message \"%s\"", i, bad[i].uri, (int)rc, eb.msg);
        }
        /* The output is wiped on failure. */
        static const opc__totp zero;
        assert_memory_equal(&t, &zero, sizeof t);
    }
    opc__totp t;
    assert_int_equal(opc__totp_parse(NULL, &t, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__totp_parse("JBSWY3DP", NULL, NULL), OPC_ERR_INVALID_ARG);
}

static void test_totp_parse_rejects_long_secrets(void **state)
{
    (void)state;
    /* 128 bytes is the limit: 205 base32 characters decode to 128 bytes. */
    char uri[600];
    char sec[300];
    memset(sec, 'A', 205);
    sec[205] = '\0';
    snprintf(uri, sizeof uri, "otpauth://totp/x?secret=%s", sec);
    opc__totp t;
    assert_int_equal(opc__totp_parse(uri, &t, NULL), OPC_OK);
    assert_int_equal(t.key_len, 128);
    memset(sec, 'A', 208);
    sec[208] = '\0';
    snprintf(uri, sizeof uri, "otpauth://totp/x?secret=%s", sec);
    opc__ebuf eb;
    assert_int_equal(opc__totp_parse(uri, &t, &eb), OPC_ERR_TOO_LARGE);
    assert_non_null(strstr(eb.msg, "longer than 128 bytes"));
    assert_int_equal(opc__totp_parse(sec, &t, &eb), OPC_ERR_TOO_LARGE);
    /* A whole value beyond 4096 bytes is refused before parsing. */
    char *huge = malloc(5000);
    memset(huge, 'A', 4999);
    huge[4999] = '\0';
    assert_int_equal(opc__totp_parse(huge, &t, &eb), OPC_ERR_TOO_LARGE);
    free(huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totp_hmac_rfc4231_case2_all_digests),
        cmocka_unit_test(test_totp_hmac_rejects_bad_arguments),
        cmocka_unit_test(test_totp_code_rfc6238_appendix_b),
        cmocka_unit_test(test_totp_hotp_rfc4226_appendix_d),
        cmocka_unit_test(test_totp_hotp_rejects_bad_arguments),
        cmocka_unit_test(test_totp_parse_uri_variants),
        cmocka_unit_test(test_totp_parse_rejects),
        cmocka_unit_test(test_totp_parse_rejects_long_secrets),
    };
    return cmocka_run_group_tests_name("totp", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
