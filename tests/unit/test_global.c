#include "harness.h"

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

static void test_global_init_is_refcounted(void **state)
{
    (void)state;
    /* The group setup holds one reference. */
    assert_int_equal(opc__require_init(), OPC_OK);
    assert_int_equal(opc_global_init(OPC_GLOBAL_DEFAULT), OPC_OK);
    opc_global_cleanup();
    assert_int_equal(opc__require_init(), OPC_OK);
    assert_int_equal(opc_global_init(0x80), OPC_ERR_INVALID_ARG);
    /* Other hooks than the installed ones are refused. */
    assert_int_equal(opc_global_init_mem(0, malloc, realloc, free), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_global_init_mem(0, NULL, realloc, free), OPC_ERR_INVALID_ARG);
    opc_global_cleanup();
    assert_int_equal(opc__require_init(), OPC_ERR_NOT_INITIALIZED);
    opc_global_cleanup(); /* unmatched: no effect */
    assert_int_equal(opc__require_init(), OPC_ERR_NOT_INITIALIZED);
    /* Init works again after the last cleanup. */
    assert_int_equal(opc_test_group_setup(NULL), 0);
    assert_int_equal(opc__require_init(), OPC_OK);
}

static void test_global_strerror_covers_every_code(void **state)
{
    (void)state;
    for (int c = 0; c < OPC_ERR_LAST; c++) {
        const char *t = opc_strerror((opc_err)c);
        assert_non_null(t);
        assert_string_not_equal(t, "unknown error");
        assert_true(strncmp(opc_errname((opc_err)c), "OPC_", 4) == 0);
    }
    assert_string_equal(opc_strerror(OPC_ERR_LAST), "unknown error");
    assert_string_equal(opc_strerror((opc_err)-1), "unknown error");
    assert_string_equal(opc_strerror((opc_err)100000), "unknown error");
    assert_string_equal(opc_errname((opc_err)100000), "OPC_ERR_UNKNOWN");
    assert_string_equal(opc_errname(OPC_ERR_NOMEM), "OPC_ERR_NOMEM");
}

static void test_global_ebuf_prefix_and_export(void **state)
{
    (void)state;
    opc__ebuf eb;
    assert_int_equal(opc__fail(&eb, OPC_ERR_PARSE, "bad %s", "thing"), OPC_ERR_PARSE);
    opc__ebuf_prefix(&eb, "loading %d", 2);
    assert_string_equal(eb.msg, "loading 2: bad thing");
    char small[8];
    opc__ebuf_export(&eb, small, sizeof small);
    assert_string_equal(small, "loading");
    opc__ebuf_export(&eb, NULL, 0);
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    opc__fail(&eb, OPC_ERR_PARSE, "%s", big);
    opc__ebuf_prefix(&eb, "p");
    assert_int_equal(strlen(eb.msg), OPC_ERRBUF_SIZE - 1);
    assert_int_equal(opc__fail_reason(&eb, OPC_ERR_TOKEN, 7, "r"), OPC_ERR_TOKEN);
    assert_int_equal(eb.reason, 7);
    assert_int_equal(opc__fail(NULL, OPC_ERR_IO, "ignored"), OPC_ERR_IO);
}

typedef struct {
    int calls;
    opc_log_level level;
    char message[256];
    char line[512];
} log_capture;

static void capture(const opc_log_record *rec, void *userdata)
{
    log_capture *c = userdata;
    c->calls++;
    c->level = rec->level;
    snprintf(c->message, sizeof c->message, "%s", rec->message);
    opc_log_format_json(rec, c->line, sizeof c->line);
}

static void test_global_log_filters_and_formats(void **state)
{
    (void)state;
    log_capture c = {0};
    assert_int_equal(opc_global_set_log(capture, &c, OPC_LOG_INFO), OPC_OK);
    opc__log(OPC_LOG_DEBUG, "core", "hidden %d", 1);
    assert_int_equal(c.calls, 0);
    opc__log(OPC_LOG_WARN, "core", "shown %d", 2);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.level, OPC_LOG_WARN);
    assert_string_equal(c.message, "shown 2");
    assert_true(strncmp(c.line, "{\"log_message\":\"(W) shown 2\",\"timestamp\":\"", 42) == 0);
    opc__log_scoped(OPC_LOG_ERROR, "api", "req-1", "jti\"x", "quote \" and\nnewline");
    assert_non_null(strstr(c.line, "\"log_message\":\"(E) quote \\\" and\\nnewline\""));
    assert_non_null(strstr(c.line, ",\"level\":1,\"scope\":{\"request_id\":\"req-1\","
                                   "\"jti\":\"jti\\\"x\"}}\n"));
    assert_int_equal(opc_global_set_log(capture, &c, (opc_log_level)9), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_global_set_log(NULL, NULL, OPC_LOG_INFO), OPC_OK);
    opc__log(OPC_LOG_ERROR, "core", "dropped");
    assert_int_equal(c.calls, 2);
}

static void test_global_log_format_exact_and_truncated(void **state)
{
    (void)state;
    opc_log_record rec = {
        .age = OPC_LOG_RECORD_AGE,
        .level = OPC_LOG_INFO,
        .time_us = 1618387737118532LL,
        .subsystem = "api",
        .message = "GET /v1/vaults",
        .request_id = NULL,
        .jti = "abc",
    };
    const char *want = "{\"log_message\":\"(I) GET /v1/vaults\",\"timestamp\":"
                       "\"2021-04-14T08:08:57.118532Z\",\"level\":3,\"scope\":{\"jti\":\"abc\"}}\n";
    char buf[256];
    size_t n = opc_log_format_json(&rec, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
    char tiny[10];
    assert_int_equal(opc_log_format_json(&rec, tiny, sizeof tiny), strlen(want));
    assert_int_equal(strlen(tiny), 9);
    assert_int_equal(opc_log_format_json(&rec, NULL, 0), strlen(want));
    opc_log_level l;
    assert_int_equal(opc_log_level_parse("WARNING", &l), OPC_OK);
    assert_int_equal(l, OPC_LOG_WARN);
    assert_int_equal(opc_log_level_parse("trace", &l), OPC_OK);
    assert_int_equal(l, OPC_LOG_TRACE);
    assert_int_equal(opc_log_level_parse("verbose", &l), OPC_ERR_PARSE);
}

static void test_global_secret_lifecycle(void **state)
{
    (void)state;
    opc_secret *s = NULL;
    assert_int_equal(opc__secret_new("hunter2", 7, &s), OPC_OK);
    assert_int_equal(opc_secret_len(s), 7);
    assert_string_equal(opc_secret_data(s), "hunter2");
    opc__secret_set_len(s, 3);
    assert_int_equal(opc_secret_len(s), 3);
    assert_string_equal(opc_secret_data(s), "hun");
    opc_secret_free(s);
    opc_secret_free(NULL);
    assert_null(opc_secret_data(NULL));
    assert_int_equal(opc_secret_len(NULL), 0);
    unsigned char *d = NULL;
    assert_int_equal(opc__secret_alloc(0, &s, &d), OPC_OK);
    assert_non_null(d);
    assert_int_equal(d[0], 0);
    opc_secret_free(s);
    assert_int_equal(opc__secret_new(NULL, 1, &s), OPC_ERR_INVALID_ARG);
    char z[4] = "abc";
    opc_memzero(z, sizeof z);
    assert_memory_equal(z, "\0\0\0\0", 4);
}

static void test_global_grow_doubles_from_first(void **state)
{
    (void)state;
    int *arr = NULL;
    size_t cap = 0;
    for (size_t n = 0; n < 9; n++) {
        int *a = opc__grow(arr, &cap, n, sizeof *a, 4);
        assert_non_null(a);
        arr = a;
        arr[n] = (int)n;
        assert_int_equal(cap, n < 4 ? 4 : (n < 8 ? 8 : 16));
    }
    /* While there is room the array comes back as it is. */
    assert_ptr_equal(opc__grow(arr, &cap, 9, sizeof *arr, 4), arr);
    assert_int_equal(arr[8], 8);
    /* A size that cannot be represented fails, the array and cap untouched. */
    size_t big = SIZE_MAX / 2 + 1;
    assert_null(opc__grow(arr, &big, big, sizeof *arr, 4));
    assert_int_equal(big, SIZE_MAX / 2 + 1);
    opc__free(arr);
}

static void test_global_version_matches_header(void **state)
{
    (void)state;
    assert_string_equal(opc_version(), OPC_VERSION_STRING);
    assert_int_equal(opc_version_num(), OPC_VERSION_NUM);
    assert_true(OPC_VERSION_AT_LEAST(0, 1, 0));
    assert_false(OPC_VERSION_AT_LEAST(255, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global_init_is_refcounted),
        cmocka_unit_test(test_global_grow_doubles_from_first),
        cmocka_unit_test(test_global_strerror_covers_every_code),
        cmocka_unit_test(test_global_ebuf_prefix_and_export),
        cmocka_unit_test(test_global_log_filters_and_formats),
        cmocka_unit_test(test_global_log_format_exact_and_truncated),
        cmocka_unit_test(test_global_secret_lifecycle),
        cmocka_unit_test(test_global_version_matches_header),
    };
    return cmocka_run_group_tests_name("global", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
