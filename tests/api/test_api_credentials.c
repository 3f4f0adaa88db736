/*
 * tests/api/test_api_credentials.c - the public API as an application sees
 * it: linked against libopconnect.so, <opconnect/opconnect.h> only.
 *
 * Without internal APIs no valid credentials file can be made here, so this
 * covers what the public surface decides on its own: initialization, exact
 * error messages of parse/load for bad inputs, NULL handling, error texts,
 * versions and the JSON log format.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <opconnect/opconnect.h>

static void *api_malloc(size_t n)
{
    return test_malloc(n);
}

static void *api_realloc(void *p, size_t n)
{
    return test_realloc(p, n);
}

static void api_free(void *p)
{
    test_free(p);
}

/* Each test runs between an init (with cmocka's leak-checking allocator) and a cleanup. */
static int setup(void **state)
{
    (void)state;
    return opc_global_init_mem(OPC_GLOBAL_DEFAULT, api_malloc, api_realloc, api_free) == OPC_OK
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    opc_global_cleanup();
    return 0;
}

/*
 * The functions are declared nonnull; calling through plain pointers lets us
 * check their run-time NULL handling without compiler or UBSan complaints.
 */
typedef opc_err (*parse_fn)(const char *, size_t, opc_credentials **, char *, size_t);
typedef opc_err (*load_fn)(const char *, opc_credentials **, char *, size_t);
typedef opc_err (*unlock_fn)(opc_credentials *, const void *, size_t, char *, size_t);
static parse_fn const parse_p = opc_credentials_parse;
static load_fn const load_p = opc_credentials_load;
static unlock_fn const unlock_p = opc_credentials_unlock;

static void expect_parse(const char *json, size_t len, opc_err want, const char *msg)
{
    opc_credentials *c = (opc_credentials *)1;
    char err[OPC_ERRBUF_SIZE] = "";
    opc_err rc = opc_credentials_parse(json, len, &c, err, sizeof err);
    if (rc != want || strcmp(err, msg) != 0) {
        fail_msg("expected %s \"%s\", got %s \"%s\"", opc_errname(want), msg, opc_errname(rc), err);
    }
    assert_null(c);
}

static void expect_parse_str(const char *json, opc_err want, const char *msg)
{
    expect_parse(json, strlen(json), want, msg);
}

static void expect_load(const char *value, opc_err want, const char *msg)
{
    opc_credentials *c = (opc_credentials *)1;
    char err[OPC_ERRBUF_SIZE] = "";
    opc_err rc = opc_credentials_load(value, &c, err, sizeof err);
    if (rc != want || strcmp(err, msg) != 0) {
        fail_msg("expected %s \"%s\", got %s \"%s\"", opc_errname(want), msg, opc_errname(rc), err);
    }
    assert_null(c);
}

/* A file of the right shape whose values are all zero bytes. */
#define Z16 "AAAAAAAAAAAAAAAA"
#define Z22 Z16 "AAAAAA"
#define Z43 Z16 Z16 "AAAAAAAAAAA"
#define SHAPED(salt)                                                                               \
    "{\"verifier\":{\"salt\":\"" salt "\",\"localHash\":\"" Z43 "\"},"                             \
    "\"encCredentials\":{\"kid\":\"localauthv2keykid\",\"enc\":\"A256GCM\","                       \
    "\"cty\":\"b5+jwk+json\",\"iv\":\"" Z16 "\",\"data\":\"" Z43 "\"},"                            \
    "\"version\":\"2\",\"deviceUuid\":\"aaaaaaaaaaaaaaaaaaaaaaaaaa\","                             \
    "\"uniqueKey\":{\"alg\":\"A256GCM\",\"ext\":true,\"k\":\"" Z43 "\","                           \
    "\"key_ops\":[\"encrypt\",\"decrypt\"],\"kty\":\"oct\",\"kid\":\"localauthv2keykid\"}}"

/* Runs first, before any init. */
static void test_api_credentials_not_initialized(void **state)
{
    (void)state;
    const char *msg = "the library is not initialized (call opc_global_init first)";
    expect_parse_str("{}", OPC_ERR_NOT_INITIALIZED, msg);
    expect_load("/nonexistent", OPC_ERR_NOT_INITIALIZED, msg);
    /* And again after the last cleanup. */
    assert_int_equal(opc_global_init(OPC_GLOBAL_DEFAULT), OPC_OK);
    assert_int_equal(opc_global_init(OPC_GLOBAL_DEFAULT), OPC_OK);
    opc_global_cleanup();
    expect_parse_str("{}", OPC_ERR_CREDENTIALS, "credentials file has no \"version\"");
    opc_global_cleanup();
    expect_parse_str("{}", OPC_ERR_NOT_INITIALIZED, msg);
    opc_global_cleanup(); /* unmatched: nothing happens */
    expect_parse_str("{}", OPC_ERR_NOT_INITIALIZED, msg);
}

static void test_api_global_init_rejects_bad_args(void **state)
{
    (void)state;
    assert_int_equal(opc_global_init(0x80u), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_global_init_mem(OPC_GLOBAL_DEFAULT, NULL, api_realloc, api_free),
                     OPC_ERR_INVALID_ARG);
}

static void test_api_credentials_parse_messages(void **state)
{
    (void)state;
    expect_parse("", 0, OPC_ERR_PARSE, "credentials file is not valid JSON: empty input");
    expect_parse_str("[]", OPC_ERR_CREDENTIALS, "credentials file is not a JSON object");
    expect_parse_str("{}", OPC_ERR_CREDENTIALS, "credentials file has no \"version\"");
    expect_parse_str("{\"version\":\"1\"}", OPC_ERR_CREDENTIALS,
                     "credentials file is not version 2");
    expect_parse_str("{\"version\":2}", OPC_ERR_CREDENTIALS, "credentials file is not version 2");
    expect_parse_str("{\"version\":\"2\"}", OPC_ERR_CREDENTIALS,
                     "credentials file: missing \"verifier\"");
    expect_parse_str("{\"version\":\"2\",\"extra\":true}", OPC_ERR_CREDENTIALS,
                     "credentials file: unexpected member \"extra\"");
    expect_parse_str("{\"version\":\"2\",\"verifier\":{\"salt\":1}}", OPC_ERR_CREDENTIALS,
                     "credentials file: \"verifier.salt\" must be a string");
    expect_parse_str(SHAPED("AAAA"), OPC_ERR_CREDENTIALS,
                     "credentials file: \"verifier.salt\" must be 16 bytes (it is 3)");
    /* Every check passes until decryption. */
    expect_parse_str(SHAPED(Z22), OPC_ERR_CREDENTIALS,
                     "credentials file: encCredentials does not decrypt with uniqueKey (file "
                     "corrupt or tampered)");
    /* Not NUL-terminated: only len bytes count. */
    const char *shaped = SHAPED(Z22);
    opc_credentials *c = (opc_credentials *)1;
    char err[OPC_ERRBUF_SIZE] = "";
    const char *prefix = "credentials file is not valid JSON: syntax error at offset ";
    assert_int_equal(opc_credentials_parse(shaped, strlen(shaped) - 1, &c, err, sizeof err),
                     OPC_ERR_PARSE);
    assert_null(c);
    assert_int_equal(strncmp(err, prefix, strlen(prefix)), 0);

    size_t big = OPC_CREDENTIALS_MAX_SIZE + 1;
    char *buf = malloc(big);
    assert_non_null(buf);
    memset(buf, ' ', big);
    expect_parse(buf, big, OPC_ERR_TOO_LARGE,
                 "credentials file is too large (65537 bytes; the limit is 65536)");
    free(buf);
}

static void test_api_credentials_load_messages(void **state)
{
    (void)state;
    expect_load("", OPC_ERR_INVALID_ARG, "OP_SESSION is empty");
    expect_load("/nonexistent/x.json", OPC_ERR_CREDENTIALS,
                "OP_SESSION is neither a readable file (No such file or directory) nor base64 "
                "of a credentials file (invalid character at offset 14)");
    expect_load("/tmp", OPC_ERR_CREDENTIALS,
                "OP_SESSION is neither a readable file (it is a directory) nor base64 of a "
                "credentials file (it does not decode to JSON)");
    expect_load(" {\"version\":\"1\"}\n", OPC_ERR_CREDENTIALS,
                "credentials file (JSON in OP_SESSION) is not version 2");
    /* base64 of {"version":"1"}, standard and URL alphabets, with and without padding. */
    expect_load("eyJ2ZXJzaW9uIjoiMSJ9", OPC_ERR_CREDENTIALS,
                "credentials file (base64 in OP_SESSION) is not version 2");
    expect_load("eyJ2ZXJzaW9uIjoiMSJ9\n", OPC_ERR_CREDENTIALS,
                "credentials file (base64 in OP_SESSION) is not version 2");
    expect_load("e30=", OPC_ERR_CREDENTIALS,
                "credentials file (base64 in OP_SESSION) has no \"version\"");
    expect_load("e30", OPC_ERR_CREDENTIALS,
                "credentials file (base64 in OP_SESSION) has no \"version\"");

    char dir[] = "/tmp/opc-api-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], want[256];
    snprintf(path, sizeof path, "%s/1password-credentials.json", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    const char body[] = "{\"version\":\"1\"}\n";
    assert_int_equal(write(fd, body, sizeof body - 1), (ssize_t)(sizeof body - 1));
    close(fd);
    snprintf(want, sizeof want, "credentials file %s is not version 2", path);
    expect_load(path, OPC_ERR_CREDENTIALS, want);
    unlink(path);
    rmdir(dir);
}

static void test_api_credentials_null_args(void **state)
{
    (void)state;
    opc_credentials *c = (opc_credentials *)1;
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(parse_p(NULL, 0, &c, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_null(c);
    assert_int_equal(parse_p("{}", 2, NULL, err, sizeof err), OPC_ERR_INVALID_ARG);
    c = (opc_credentials *)1;
    assert_int_equal(load_p(NULL, &c, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_null(c);
    assert_int_equal(load_p("x", NULL, NULL, 0), OPC_ERR_INVALID_ARG);
    uint8_t t[32] = {0};
    assert_int_equal(unlock_p(NULL, t, sizeof t, NULL, 0), OPC_ERR_INVALID_ARG);
    /* errbuf may be NULL or tiny. */
    assert_int_equal(opc_credentials_parse("{}", 2, &c, NULL, 0), OPC_ERR_CREDENTIALS);
    char tiny[12];
    assert_int_equal(opc_credentials_parse("{}", 2, &c, tiny, sizeof tiny), OPC_ERR_CREDENTIALS);
    assert_string_equal(tiny, "credentials");
    assert_null(opc_credentials_device_uuid(NULL));
    assert_null(opc_credentials_server_id(NULL));
    assert_null(opc_credentials_account_id(NULL));
    assert_null(opc_credentials_upstream_url(NULL));
    assert_int_equal(opc_credentials_upstream_count(NULL), 0);
    assert_null(opc_credentials_upstream_url_at(NULL, 0));
    assert_false(opc_credentials_check_secret(NULL, t, sizeof t));
    assert_false(opc_credentials_is_unlocked(NULL));
    opc_credentials_lock(NULL);
    opc_credentials_free(NULL);
    opc_free(NULL);
}

static void test_api_strerror_every_code(void **state)
{
    (void)state;
    for (int i = 0; i < (int)OPC_ERR_LAST; i++) {
        const char *text = opc_strerror((opc_err)i);
        const char *name = opc_errname((opc_err)i);
        assert_non_null(text);
        assert_non_null(name);
        assert_true(text[0] != '\0');
        assert_string_not_equal(text, "unknown error");
        assert_int_equal(strncmp(name, "OPC_", 4), 0);
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(name, opc_errname((opc_err)j));
        }
    }
    assert_string_equal(opc_errname(OPC_OK), "OPC_OK");
    assert_string_equal(opc_errname(OPC_ERR_CREDENTIALS), "OPC_ERR_CREDENTIALS");
    assert_string_equal(opc_errname(OPC_ERR_VERIFIER), "OPC_ERR_VERIFIER");
    const int unknown[] = {(int)OPC_ERR_LAST, 999, -1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(opc_strerror((opc_err)unknown[i]), "unknown error");
        assert_non_null(opc_errname((opc_err)unknown[i]));
    }
}

static void test_api_version_matches_header(void **state)
{
    (void)state;
    assert_string_equal(opc_version(), OPC_VERSION_STRING);
    assert_int_equal(opc_version_num(), OPC_VERSION_NUM);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", OPC_VERSION_MAJOR, OPC_VERSION_MINOR,
             OPC_VERSION_PATCH);
    assert_string_equal(opc_version(), want);
    assert_true(OPC_VERSION_AT_LEAST(OPC_VERSION_MAJOR, OPC_VERSION_MINOR, OPC_VERSION_PATCH));
    assert_false(OPC_VERSION_AT_LEAST(OPC_VERSION_MAJOR + 1, 0, 0));
}

static void test_api_log_format_json_exact(void **state)
{
    (void)state;
    opc_log_record rec = {
        .age = OPC_LOG_RECORD_AGE,
        .level = OPC_LOG_INFO,
        .time_us = 1618387737118532, /* 2021-04-14T08:08:57.118532Z */
        .subsystem = "api",
        .message = "GET /v1/vaults \"ok\"\\\n\x01",
        .request_id = "r-1",
        .jti = "j-1",
    };
    const char *want = "{\"log_message\":\"(I) GET /v1/vaults \\\"ok\\\"\\\\\\n\\u0001\","
                       "\"timestamp\":\"2021-04-14T08:08:57.118532Z\",\"level\":3,"
                       "\"scope\":{\"request_id\":\"r-1\",\"jti\":\"j-1\"}}\n";
    char buf[512];
    size_t n = opc_log_format_json(&rec, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));

    /* Truncation reports the full length, like snprintf. */
    char small[16];
    assert_int_equal(opc_log_format_json(&rec, small, sizeof small), strlen(want));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, want, sizeof small - 1);
    assert_int_equal(opc_log_format_json(&rec, NULL, 0), strlen(want));

    /* No scope without request id and jti; level letters. */
    rec.request_id = NULL;
    rec.jti = NULL;
    rec.level = OPC_LOG_ERROR;
    rec.message = "boom";
    rec.time_us = 0;
    n = opc_log_format_json(&rec, buf, sizeof buf);
    assert_string_equal(buf, "{\"log_message\":\"(E) boom\",\"timestamp\":"
                             "\"1970-01-01T00:00:00.000000Z\",\"level\":1}\n");
    assert_int_equal(n, strlen(buf));
    rec.jti = "j-2";
    rec.level = OPC_LOG_DEBUG;
    (void)opc_log_format_json(&rec, buf, sizeof buf);
    assert_string_equal(buf, "{\"log_message\":\"(D) boom\",\"timestamp\":"
                             "\"1970-01-01T00:00:00.000000Z\",\"level\":4,"
                             "\"scope\":{\"jti\":\"j-2\"}}\n");
}

static void test_api_log_level_parse(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        opc_log_level level;
    } ok[] = {
        {"error", OPC_LOG_ERROR}, {"warn", OPC_LOG_WARN},   {"WARNING", OPC_LOG_WARN},
        {"Info", OPC_LOG_INFO},   {"debug", OPC_LOG_DEBUG}, {"TRACE", OPC_LOG_TRACE},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        opc_log_level l = (opc_log_level)0;
        assert_int_equal(opc_log_level_parse(ok[i].name, &l), OPC_OK);
        assert_int_equal(l, ok[i].level);
    }
    opc_log_level l0 = OPC_LOG_INFO;
    assert_int_equal(opc_log_level_parse(NULL, &l0), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_log_level_parse("info", NULL), OPC_ERR_INVALID_ARG);
    static const char *const bad[] = {"", "inf", "infos", " info", "3", "fatal"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        opc_log_level l = OPC_LOG_TRACE;
        assert_int_equal(opc_log_level_parse(bad[i], &l), OPC_ERR_PARSE);
        assert_int_equal(l, OPC_LOG_TRACE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_credentials_not_initialized),
        cmocka_unit_test(test_api_global_init_rejects_bad_args),
        cmocka_unit_test_setup_teardown(test_api_credentials_parse_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_credentials_load_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_credentials_null_args, setup, teardown),
        cmocka_unit_test(test_api_strerror_every_code),
        cmocka_unit_test(test_api_version_matches_header),
        cmocka_unit_test_setup_teardown(test_api_log_format_json_exact, setup, teardown),
        cmocka_unit_test(test_api_log_level_parse),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
