#include "harness.h"

#include "core/strparse.h"

static void test_strparse_u64_accepts_decimal_and_hex(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(opc__parse_u64("0", 1, 10, UINT64_MAX, &v, NULL), OPC_OK);
    assert_true(v == 0);
    assert_int_equal(opc__parse_u64("18446744073709551615", 20, 10, UINT64_MAX, &v, NULL), OPC_OK);
    assert_true(v == UINT64_MAX);
    assert_int_equal(opc__parse_u64("ffFF", 4, 16, UINT64_MAX, &v, NULL), OPC_OK);
    assert_true(v == 0xffff);
    assert_int_equal(opc__parse_u64("00042", 5, 10, 100, &v, NULL), OPC_OK);
    assert_true(v == 42);
}

static void test_strparse_u64_rejects_overflow_and_junk(void **state)
{
    (void)state;
    uint64_t v = 7;
    opc__ebuf eb;
    assert_int_equal(opc__parse_u64("18446744073709551616", 20, 10, UINT64_MAX, &v, &eb),
                     OPC_ERR_RANGE);
    assert_int_equal(opc__parse_u64("101", 3, 10, 100, &v, &eb), OPC_ERR_RANGE);
    assert_int_equal(opc__parse_u64("", 0, 10, 100, &v, &eb), OPC_ERR_PARSE);
    assert_int_equal(opc__parse_u64(" 1", 2, 10, 100, &v, &eb), OPC_ERR_PARSE);
    assert_int_equal(opc__parse_u64("1 ", 2, 10, 100, &v, &eb), OPC_ERR_PARSE);
    assert_int_equal(opc__parse_u64("+1", 2, 10, 100, &v, &eb), OPC_ERR_PARSE);
    assert_int_equal(opc__parse_u64("1a", 2, 10, 100, &v, &eb), OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "offset 1"));
    assert_int_equal(opc__parse_u64("g", 1, 16, 100, &v, &eb), OPC_ERR_PARSE);
    assert_true(v == 7);
    assert_int_equal(opc__parse_u64("1", 1, 8, 100, &v, &eb), OPC_ERR_INVALID_ARG);
}

static void test_strparse_i64_handles_limits(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(opc__parse_i64("-9223372036854775808", 20, INT64_MIN, INT64_MAX, &v, NULL),
                     OPC_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(opc__parse_i64("9223372036854775807", 19, INT64_MIN, INT64_MAX, &v, NULL),
                     OPC_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(opc__parse_i64("9223372036854775808", 19, INT64_MIN, INT64_MAX, &v, NULL),
                     OPC_ERR_RANGE);
    assert_int_equal(opc__parse_i64("-5", 2, 0, 10, &v, NULL), OPC_ERR_RANGE);
    assert_int_equal(opc__parse_i64("-", 1, -10, 10, &v, NULL), OPC_ERR_PARSE);
    assert_int_equal(opc__parse_i64("--1", 3, -10, 10, &v, NULL), OPC_ERR_PARSE);
}

static int64_t dur(const char *s)
{
    int64_t ms = -1;
    opc__ebuf eb;
    opc_err rc = opc__parse_duration_ms(s, strlen(s), INT64_C(100) * 365 * 86400000, &ms, &eb);
    return rc == OPC_OK ? ms : -(int64_t)rc - 1000;
}

static void test_strparse_duration_accepts_go_forms(void **state)
{
    (void)state;
    assert_true(dur("10s") == 10000);
    assert_true(dur("1m30s") == 90000);
    assert_true(dur("30d") == INT64_C(30) * 86400000);
    assert_true(dur("1h") == 3600000);
    assert_true(dur("250ms") == 250);
    assert_true(dur("1.5h") == 5400000);
    assert_true(dur("0.1s") == 100);
    assert_true(dur(".5s") == 500);
    assert_true(dur("1500us") == 1);
    assert_true(dur("1500\xc2\xb5s") == 1);
    assert_true(dur("999999ns") == 0);
    assert_true(dur("0") == 0);
    assert_true(dur("2h45m") == 9900000);
    assert_true(dur("1d12h") == 129600000);
}

static void test_strparse_duration_rejects_bad_forms(void **state)
{
    (void)state;
    const char *bad[] = {"", "10", "s", "10x", "-1s", "+1s", " 1s", "1s ", "1..5s", "1.s.", "1sm",
                         "0s0", "1y", "1S", "."};
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        int64_t ms = 77;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc_err rc = opc__parse_duration_ms(bad[i], strlen(bad[i]), 1000000, &ms, &eb);
        if (rc == OPC_OK) {
            fail_msg("duration \"%s\" was accepted as %lld", bad[i], (long long)ms);
        }
        assert_true(ms == 77);
        assert_true(eb.msg[0] != '\0');
    }
    int64_t ms;
    assert_int_equal(opc__parse_duration_ms("2s", 2, 1000, &ms, NULL), OPC_ERR_RANGE);
    assert_int_equal(opc__parse_duration_ms("99999999999999999999d", 21, 1000, &ms, NULL),
                     OPC_ERR_RANGE);
    assert_int_equal(opc__parse_duration_ms("1s", 2, 1000, &ms, NULL), OPC_OK);
    assert_true(ms == 1000);
}

/* The public wrapper: NUL-terminated text, out written on success only. */
static void test_strparse_duration_public_wrapper(void **state)
{
    (void)state;
    int64_t ms = 42;
    assert_int_equal(opc_duration_parse_ms("1m30s", 3600000, &ms), OPC_OK);
    assert_true(ms == 90000);
    assert_int_equal(opc_duration_parse_ms("1.5s", 3600000, &ms), OPC_OK);
    assert_true(ms == 1500);
    assert_int_equal(opc_duration_parse_ms("0", 0, &ms), OPC_OK);
    assert_true(ms == 0);
    ms = 42;
    assert_int_equal(opc_duration_parse_ms("2h", 3600000, &ms), OPC_ERR_RANGE);
    assert_int_equal(opc_duration_parse_ms("10", 3600000, &ms), OPC_ERR_PARSE);
    assert_int_equal(opc_duration_parse_ms("", 3600000, &ms), OPC_ERR_PARSE);
    assert_int_equal(opc_duration_parse_ms("-1s", 3600000, &ms), OPC_ERR_PARSE);
    assert_int_equal(opc_duration_parse_ms("10s ", 3600000, &ms), OPC_ERR_PARSE);
    assert_int_equal(opc_duration_parse_ms("1s", -1, &ms), OPC_ERR_INVALID_ARG);
    assert_true(ms == 42);
}

static void test_strparse_ipv4_valid(void **state)
{
    (void)state;
    static const char *const good[] = {"0.0.0.0", "127.0.0.1", "255.255.255.255", "10.0.0.1"};
    static const char *const bad[] = {"",        "1.2.3",      "1.2.3.4.5",  "256.1.1.1",
                                      "1.2.3.a", " 127.0.0.1", "127.0.0.1 ", "localhost",
                                      "::1",     "1..2.3",     "0x7f.0.0.1", "1.2.3.4/8"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(good); i++) {
        if (!opc__ipv4_valid(good[i])) {
            fail_msg("%s was refused", good[i]);
        }
    }
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        if (opc__ipv4_valid(bad[i])) {
            fail_msg("\"%s\" was accepted", bad[i]);
        }
    }
    assert_false(opc__ipv4_valid(NULL));
}

static void test_strparse_trim_and_case(void **state)
{
    (void)state;
    size_t n = 8;
    const char *t = opc__trim(" \t abc\n ", &n);
    assert_int_equal(n, 3);
    assert_memory_equal(t, "abc", 3);
    n = 3;
    opc__trim("   ", &n);
    assert_int_equal(n, 0);
    assert_int_equal(opc__strcasecmp("ES256", "es256"), 0);
    assert_true(opc__strcasecmp("ES256", "ES384") != 0);
    assert_true(opc__strcasecmp("a", "ab") != 0);
}

static void test_strparse_hexval(void **state)
{
    (void)state;
    assert_int_equal(opc__hexval('0'), 0);
    assert_int_equal(opc__hexval('9'), 9);
    assert_int_equal(opc__hexval('a'), 10);
    assert_int_equal(opc__hexval('F'), 15);
    assert_int_equal(opc__hexval('g'), -1);
    assert_int_equal(opc__hexval('/'), -1);
    assert_int_equal(opc__hexval(0xc3), -1);
}

/* One case of opc__form_decode: input, capacity, code, output or message. */
static void form_case(const char *in, size_t cap, opc_err want, const char *text)
{
    char out[32];
    size_t n = 99;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_true(cap <= sizeof out);
    assert_int_equal(opc__form_decode(in, strlen(in), out, cap, &n, "test", &eb), want);
    if (want == OPC_OK) {
        assert_string_equal(out, text);
        assert_int_equal(n, strlen(text));
    } else {
        assert_string_equal(eb.msg, text);
    }
}

static void test_strparse_form_decode(void **state)
{
    (void)state;
    form_case("", 32, OPC_OK, "");
    form_case("a+b%20c%2B%e2%82%ac", 32, OPC_OK, "a b c+\xe2\x82\xac");
    form_case("%4A%4a", 32, OPC_OK, "JJ");
    form_case("abc", 4, OPC_OK, "abc");
    form_case("abcd", 4, OPC_ERR_TOO_LARGE, "test: parameter too long");
    form_case("%", 32, OPC_ERR_PARSE, "test: bad percent escape");
    form_case("a%4", 32, OPC_ERR_PARSE, "test: bad percent escape");
    form_case("%zz", 32, OPC_ERR_PARSE, "test: bad percent escape");
    form_case("a%00b", 32, OPC_ERR_PARSE, "test: %00 in a parameter");
    /* Without an ebuf the codes are the same. */
    char out[8];
    size_t n = 0;
    assert_int_equal(opc__form_decode("%0", 2, out, sizeof out, &n, "x", NULL), OPC_ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strparse_hexval),
        cmocka_unit_test(test_strparse_form_decode),
        cmocka_unit_test(test_strparse_u64_accepts_decimal_and_hex),
        cmocka_unit_test(test_strparse_u64_rejects_overflow_and_junk),
        cmocka_unit_test(test_strparse_i64_handles_limits),
        cmocka_unit_test(test_strparse_duration_accepts_go_forms),
        cmocka_unit_test(test_strparse_duration_rejects_bad_forms),
        cmocka_unit_test(test_strparse_duration_public_wrapper),
        cmocka_unit_test(test_strparse_ipv4_valid),
        cmocka_unit_test(test_strparse_trim_and_case),
    };
    return cmocka_run_group_tests_name("strparse", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
