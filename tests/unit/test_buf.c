#include "harness.h"

#include "core/buf.h"

static void test_buf_append_grows(void **state)
{
    (void)state;
    opc__buf b;
    opc__buf_init(&b, false);
    for (int i = 0; i < 1000; i++) {
        opc__buf_appendf(&b, "%d,", i % 10);
    }
    assert_int_equal(opc__buf_err(&b), OPC_OK);
    assert_int_equal(b.len, 2000);
    assert_int_equal(strlen(b.data), 2000);
    assert_memory_equal(b.data, "0,1,2,", 6);
    opc__buf_reset(&b);
    assert_int_equal(b.len, 0);
    opc__buf_append_str(&b, "x");
    size_t n = 0;
    char *p = opc__buf_detach(&b, &n);
    assert_string_equal(p, "x");
    assert_int_equal(n, 1);
    opc_free(p);
    opc__buf_free(&b);
}

static void test_buf_max_is_sticky(void **state)
{
    (void)state;
    opc__buf b;
    opc__buf_init(&b, true);
    b.max = 5;
    assert_int_equal(opc__buf_append(&b, "abcd", 4), OPC_OK);
    assert_int_equal(opc__buf_append(&b, "ef", 2), OPC_ERR_TOO_LARGE);
    assert_int_equal(opc__buf_append_char(&b, 'z'), OPC_ERR_TOO_LARGE);
    assert_int_equal(opc__buf_err(&b), OPC_ERR_TOO_LARGE);
    assert_string_equal(b.data, "abcd");
    opc__buf_free(&b);
}

static void test_buf_json_string_escapes(void **state)
{
    (void)state;
    opc__buf b;
    opc__buf_init(&b, false);
    const char in[] = "a\"b\\c\nd\x01\x7f\xc3\xa9";
    opc__buf_append_json_str(&b, in, sizeof in - 1);
    assert_int_equal(opc__buf_err(&b), OPC_OK);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\u0001\x7f\xc3\xa9\"");
    opc__buf_free(&b);
    char esc[6];
    assert_int_equal(opc__json_escape('\b', esc), 2);
    assert_memory_equal(esc, "\\b", 2);
    assert_int_equal(opc__json_escape('\f', esc), 2);
    assert_memory_equal(esc, "\\f", 2);
    assert_int_equal(opc__json_escape(0x1f, esc), 6);
    assert_memory_equal(esc, "\\u001f", 6);
    assert_int_equal(opc__json_escape(' ', esc), 0);
    assert_int_equal(opc__json_escape(0xc3, esc), 0);
}

/* Allocation failure inside a buffer leaves a clean, sticky error. */
static int fail_after;
static void *failing_malloc(size_t n)
{
    if (fail_after-- <= 0) {
        return NULL;
    }
    return test_malloc(n);
}
static void *failing_realloc(void *p, size_t n)
{
    if (fail_after-- <= 0) {
        return NULL;
    }
    return test_realloc(p, n);
}
static void plain_free(void *p)
{
    test_free(p);
}

static void test_buf_nomem_is_reported(void **state)
{
    (void)state;
    /* Swap in a failing allocator for this test only. */
    opc_global_cleanup();
    assert_int_equal(opc_global_init_mem(0, failing_malloc, failing_realloc, plain_free), OPC_OK);
    for (int secret = 0; secret < 2; secret++) {
        fail_after = 1;
        opc__buf b;
        opc__buf_init(&b, secret != 0);
        assert_int_equal(opc__buf_append(&b, "x", 1), OPC_OK);
        char big[200];
        memset(big, 'y', sizeof big);
        assert_int_equal(opc__buf_append(&b, big, sizeof big), OPC_ERR_NOMEM);
        assert_int_equal(opc__buf_append(&b, "z", 1), OPC_ERR_NOMEM);
        assert_string_equal(b.data, "x");
        opc__buf_free(&b);
    }
    opc_global_cleanup();
    assert_int_equal(opc_test_group_setup(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_grows),
        cmocka_unit_test(test_buf_max_is_sticky),
        cmocka_unit_test(test_buf_json_string_escapes),
        cmocka_unit_test(test_buf_nomem_is_reported),
    };
    return cmocka_run_group_tests_name("buf", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
