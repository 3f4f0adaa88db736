#include "harness.h"

#include "core/time.h"

static void test_time_format_known_instants(void **state)
{
    (void)state;
    char out[OPC_TIME_STRLEN];
    assert_int_equal(opc__time_format(0, out), OPC_OK);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    assert_int_equal(opc__time_format(1604001137, out), OPC_OK);
    assert_string_equal(out, "2020-10-29T19:52:17Z");
    assert_int_equal(opc__time_format(951782400, out), OPC_OK); /* leap day 2000 */
    assert_string_equal(out, "2000-02-29T00:00:00Z");
    assert_int_equal(opc__time_format(-62135596800LL, out), OPC_OK);
    assert_string_equal(out, "0001-01-01T00:00:00Z");
    assert_int_equal(opc__time_format(253402300799LL, out), OPC_OK);
    assert_string_equal(out, "9999-12-31T23:59:59Z");
    assert_int_equal(opc__time_format(253402300800LL, out), OPC_ERR_RANGE);
    assert_int_equal(opc__time_format(-62135596801LL, out), OPC_ERR_RANGE);
    assert_int_equal(opc__time_format_us(1618387737118532LL, out), OPC_OK);
    assert_string_equal(out, "2021-04-14T08:08:57.118532Z");
    assert_int_equal(opc__time_format_us(-1, out), OPC_OK);
    assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
}

static void test_time_parse_round_trips(void **state)
{
    (void)state;
    /* Every day of four years around a leap year, at a varying time of day. */
    for (int64_t t = 946684800; t < 946684800 + 4 * 366 * 86400LL; t += 86400 + 3671) {
        char out[OPC_TIME_STRLEN];
        int64_t us = 0;
        assert_int_equal(opc__time_format(t, out), OPC_OK);
        assert_int_equal(opc__time_parse(out, strlen(out), &us, NULL), OPC_OK);
        assert_true(us == t * 1000000);
    }
}

static void test_time_parse_accepts_offsets_and_fractions(void **state)
{
    (void)state;
    int64_t us = 0;
    const char *a = "2020-10-29T17:52:17.5+02:00";
    assert_int_equal(opc__time_parse(a, strlen(a), &us, NULL), OPC_OK);
    /* 17:52:17.5 at +02:00 is 15:52:17.5Z; 19:52:17Z is 1604001137. */
    assert_true(us == (1604001137LL - 4 * 3600) * 1000000 + 500000);
    const char *b = "2020-10-29t19:52:17.123456789z";
    assert_int_equal(opc__time_parse(b, strlen(b), &us, NULL), OPC_OK);
    assert_true(us == 1604001137LL * 1000000 + 123456);
    const char *c = "2020-10-29T19:52:17-00:30";
    assert_int_equal(opc__time_parse(c, strlen(c), &us, NULL), OPC_OK);
    assert_true(us == (1604001137LL + 1800) * 1000000);
}

static void test_time_parse_rejects_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "2020-10-29",           "2020-10-29T17:52:17",    "2020-13-01T00:00:00Z",
        "2021-02-29T00:00:00Z", "2020-10-29T24:00:00Z",   "2020-10-29T23:60:00Z",
        "2020-10-29T23:59:60Z", "2020-10-29T23:59:59.Z",  "2020-10-29T23:59:59Zx",
        "2020-10-29 23:59:59Z", "2020-10-29T23:59:59+2:00", "0000-01-01T00:00:00Z",
        "2020-10-29T23:59:59.1234567890Z", "2020-00-10T00:00:00Z", "2020-10-00T00:00:00Z",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        int64_t us = 0;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        if (opc__time_parse(bad[i], strlen(bad[i]), &us, &eb) == OPC_OK) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
        assert_true(strncmp(eb.msg, "timestamp", 9) == 0);
    }
    int64_t us;
    assert_int_equal(opc__time_parse("2000-02-29T00:00:00Z", 20, &us, NULL), OPC_OK);
    assert_int_equal(opc__time_parse("1900-02-29T00:00:00Z", 20, &us, NULL), OPC_ERR_RANGE);
}

static void test_time_clocks_move(void **state)
{
    (void)state;
    int64_t a = opc__monotonic_ms();
    int64_t s = opc__now_s();
    int64_t us = opc__now_us();
    assert_true(s > 1700000000);
    assert_true(us / 1000000 - s <= 1);
    assert_true(opc__monotonic_ms() >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_format_known_instants),
        cmocka_unit_test(test_time_parse_round_trips),
        cmocka_unit_test(test_time_parse_accepts_offsets_and_fractions),
        cmocka_unit_test(test_time_parse_rejects_invalid),
        cmocka_unit_test(test_time_clocks_move),
    };
    return cmocka_run_group_tests_name("time", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
