/*
 * tests/unit/test_log.c - lib/core/log.c: the request line and its
 * formatter (escaping, invalid UTF-8, caps, no query), and the buffered
 * writer (whole lines under concurrency, drops counted at a full queue,
 * flush on close and on the timer).
 *
 * The writer tests run threads that allocate: the library is initialized
 * with the system allocator here (cmocka's bookkeeping is not thread-safe).
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/log.h"

static int group_setup(void **state)
{
    (void)state;
    return opc_global_init(OPC_GLOBAL_DEFAULT) == OPC_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    opc_global_cleanup();
    return 0;
}

/* ---- the formatter ---- */

typedef struct {
    int calls;
    char line[8192];
    size_t len;
} capture;

static void on_record(const opc_log_record *rec, void *ud)
{
    capture *c = ud;
    c->calls++;
    c->len = opc_log_format_json(rec, c->line, sizeof c->line);
}

static const opc_log_http plain_http = {.method = "GET",
                                        .path = "/v1/vaults/abc/items",
                                        .status = 200,
                                        .duration_us = 1234,
                                        .remote_addr = "10.0.0.7",
                                        .bytes = 5678};

static void test_log_request_line_exact(void **state)
{
    (void)state;
    opc_log_record rec = {.age = OPC_LOG_RECORD_AGE,
                          .level = OPC_LOG_INFO,
                          .time_us = 1618387737118532LL,
                          .subsystem = "api",
                          .message = "GET /v1/vaults/abc/items completed (200: OK)",
                          .request_id = "r-1",
                          .jti = "j-1",
                          .http = &plain_http};
    const char *want = "{\"log_message\":\"(I) GET /v1/vaults/abc/items completed (200: OK)\","
                       "\"timestamp\":\"2021-04-14T08:08:57.118532Z\",\"level\":3,"
                       "\"scope\":{\"request_id\":\"r-1\",\"jti\":\"j-1\"},"
                       "\"http\":{\"method\":\"GET\",\"path\":\"/v1/vaults/abc/items\","
                       "\"status\":200,\"duration_us\":1234,\"remote_addr\":\"10.0.0.7\","
                       "\"bytes\":5678}}\n";
    char buf[1024];
    assert_int_equal(opc_log_format_json(&rec, buf, sizeof buf), strlen(want));
    assert_string_equal(buf, want);
    /* The timestamp: the seconds are reused within a second, the
     * microseconds never; before 1970 the fraction still counts up. */
    rec.time_us = 1618387737000001LL;
    opc_log_format_json(&rec, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"timestamp\":\"2021-04-14T08:08:57.000001Z\""));
    rec.time_us = 1618387738999999LL;
    opc_log_format_json(&rec, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"timestamp\":\"2021-04-14T08:08:58.999999Z\""));
    rec.time_us = -1;
    opc_log_format_json(&rec, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"timestamp\":\"1969-12-31T23:59:59.999999Z\""));
    rec.time_us = INT64_MIN;
    opc_log_format_json(&rec, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"timestamp\":\"1970-01-01T00:00:00.000000Z\""));
    /* A record of age 1 has no http member, whatever follows it. */
    rec.age = 1;
    opc_log_format_json(&rec, buf, sizeof buf);
    assert_null(strstr(buf, "\"http\""));

    /* opc__log_request builds the same message and hands the fields over. */
    capture c = {0};
    assert_int_equal(opc_global_set_log(on_record, &c, OPC_LOG_INFO), OPC_OK);
    opc__log_request(OPC_LOG_INFO, "api", "r-1", "j-1", &plain_http, "OK");
    assert_int_equal(c.calls, 1);
    static const char lead[] = "{\"log_message\":\"(I) GET /v1/vaults/abc/items completed "
                               "(200: OK)\",\"timestamp\":\"";
    assert_true(strncmp(c.line, lead, sizeof lead - 1) == 0);
    assert_non_null(strstr(c.line, "\"level\":3,\"scope\":{\"request_id\":\"r-1\",\"jti\":\"j-1\"},"
                                   "\"http\":{\"method\":\"GET\""));
    /* Below the level: nothing, not even the formatting. */
    opc__log_request(OPC_LOG_DEBUG, "api", "r-1", NULL, &plain_http, "OK");
    assert_int_equal(c.calls, 1);
    assert_int_equal(opc_global_set_log(NULL, NULL, OPC_LOG_INFO), OPC_OK);
}

static void test_log_escapes_and_invalid_utf8(void **state)
{
    (void)state;
    /* quote, backslash, controls, DEL, valid 2/3/4-byte characters, then
     * bytes that are not UTF-8: a lone continuation, an overlong '/', a
     * surrogate, 0xff, and a 3-byte character cut short at the end. */
    const char *path = "/q\"b\\n\n\t\x01\x1f\x7f"
                       "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                       "\x80\xc0\xaf\xed\xa0\x80\xff\xe2\x82";
    opc_log_http h = plain_http;
    h.path = path;
    h.remote_addr = NULL;
    opc_log_record rec = {.age = OPC_LOG_RECORD_AGE,
                          .level = OPC_LOG_WARN,
                          .time_us = 0,
                          .subsystem = "api",
                          .message = path,
                          .http = &h};
    char buf[2048];
    size_t n = opc_log_format_json(&rec, buf, sizeof buf);
    assert_true(n < sizeof buf);
    const char *body = "/q\\\"b\\\\n\\n\\t\\u0001\\u001f\x7f"
                       "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                       "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd";
    char want[512];
    snprintf(want, sizeof want, "\"log_message\":\"(W) %s\"", body);
    assert_non_null(strstr(buf, want));
    snprintf(want, sizeof want, "\"path\":\"%s\",\"status\":200", body);
    assert_non_null(strstr(buf, want));
    assert_null(strstr(buf, "remote_addr")); /* unknown: left out */
    /* Valid JSON, one line, and the text decodes back to the characters. */
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1));
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    const cJSON *http = cJSON_GetObjectItemCaseSensitive(j, "http");
    const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(http, "path"));
    assert_non_null(p);
    assert_true(strncmp(p, "/q\"b\\n\n\t\x01\x1f\x7f\xc3\xa9", 13) == 0);
    cJSON_Delete(j);
}

static void test_log_long_path_is_cut(void **state)
{
    (void)state;
    /* 4000 bytes of "é" after a slash: the cut lands between characters. */
    char path[4002];
    path[0] = '/';
    for (size_t i = 1; i + 1 < sizeof path; i += 2) {
        path[i] = '\xc3';
        path[i + 1] = '\xa9';
    }
    path[sizeof path - 1] = '\0';
    opc_log_http h = plain_http;
    h.path = path;
    capture c = {0};
    assert_int_equal(opc_global_set_log(on_record, &c, OPC_LOG_INFO), OPC_OK);
    opc__log_request(OPC_LOG_INFO, "api", "r-2", NULL, &h, "OK");
    assert_int_equal(opc_global_set_log(NULL, NULL, OPC_LOG_INFO), OPC_OK);
    assert_int_equal(c.calls, 1);
    assert_true(c.len < 1200);              /* two capped copies of the path, plus the rest */
    assert_null(strstr(c.line, "\\ufffd")); /* no character was split */
    cJSON *j = cJSON_Parse(c.line);
    assert_non_null(j);
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "log_message"));
    const cJSON *http = cJSON_GetObjectItemCaseSensitive(j, "http");
    const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(http, "path"));
    assert_non_null(msg);
    assert_non_null(p);
    /* The path: the slash and 127 characters (255 bytes), then "...". */
    assert_int_equal(strlen(p), 1 + 127 * 2 + 3);
    assert_string_equal(p + strlen(p) - 3, "...");
    assert_non_null(strstr(msg, "... completed (200: OK)"));
    cJSON_Delete(j);

    /* A long message is cut at its cap too. */
    char *big = malloc(10000);
    assert_non_null(big);
    memset(big, 'm', 9999);
    big[9999] = '\0';
    opc_log_record rec = {.age = OPC_LOG_RECORD_AGE, .level = OPC_LOG_INFO, .message = big};
    size_t n = opc_log_format_json(&rec, NULL, 0);
    assert_true(n < OPC_LOG_MESSAGE_MAX + 100);
    free(big);
}

static void test_log_request_line_has_no_secret(void **state)
{
    (void)state;
    /* The router passes the path without its query; even if a caller
     * passed a query, nothing but the given fields could appear: the record
     * has no header and no body to leak. This checks the line is built from
     * the fields alone. */
    opc_log_http h = plain_http;
    capture c = {0};
    assert_int_equal(opc_global_set_log(on_record, &c, OPC_LOG_INFO), OPC_OK);
    opc__log_request(OPC_LOG_INFO, "api", "r-3", "jti-3", &h, "OK");
    assert_int_equal(opc_global_set_log(NULL, NULL, OPC_LOG_INFO), OPC_OK);
    cJSON *j = cJSON_Parse(c.line);
    assert_non_null(j);
    int members = 0;
    for (const cJSON *m = j->child; m != NULL; m = m->next) {
        members++;
    }
    assert_int_equal(members, 5); /* log_message, timestamp, level, scope, http */
    const cJSON *http = cJSON_GetObjectItemCaseSensitive(j, "http");
    members = 0;
    for (const cJSON *m = http->child; m != NULL; m = m->next) {
        assert_true(strcmp(m->string, "method") == 0 || strcmp(m->string, "path") == 0 ||
                    strcmp(m->string, "status") == 0 || strcmp(m->string, "duration_us") == 0 ||
                    strcmp(m->string, "remote_addr") == 0 || strcmp(m->string, "bytes") == 0);
        members++;
    }
    assert_int_equal(members, 6);
    cJSON_Delete(j);
}

/* ---- the writer ---- */

/* Reads a pipe to the end into memory (a thread). */
typedef struct {
    int fd;
    char *data;
    size_t len, cap;
    pthread_mutex_t start; /* held by the test until the reader may read */
} drain;

static void *drain_main(void *arg)
{
    drain *d = arg;
    pthread_mutex_lock(&d->start);
    pthread_mutex_unlock(&d->start);
    for (;;) {
        if (d->cap - d->len < 65536) {
            d->cap = d->cap * 2 + 65536;
            d->data = realloc(d->data, d->cap);
            if (d->data == NULL) {
                abort();
            }
        }
        ssize_t n = read(d->fd, d->data + d->len, d->cap - d->len);
        if (n <= 0) {
            break;
        }
        d->len += (size_t)n;
    }
    return NULL;
}

static void drain_start(drain *d, int fd, bool hold)
{
    memset(d, 0, sizeof *d);
    d->fd = fd;
    pthread_mutex_init(&d->start, NULL);
    if (hold) {
        pthread_mutex_lock(&d->start);
    }
}

typedef struct {
    opc_log_writer *w;
    int id;
    int lines;
} producer;

/* Line k of producer id: a prefix naming both, then a filler of the
 * producer's letter whose length varies with k, then a check mark. */
static size_t make_line(char *buf, int id, int k)
{
    int fill = (k * 37) % 1500;
    int n = snprintf(buf, 64, "{\"p\":%d,\"k\":%d,\"f\":\"", id, k);
    memset(buf + n, 'a' + id, (size_t)fill);
    n += fill;
    memcpy(buf + n, "\"}\n", 3);
    return (size_t)n + 3;
}

static void *producer_main(void *arg)
{
    producer *p = arg;
    char buf[2048];
    for (int k = 0; k < p->lines; k++) {
        opc__log_writer_put(p->w, buf, make_line(buf, p->id, k));
    }
    return NULL;
}

/* Every line in data is whole and intact; counts them per producer and the
 * drops the writer reported in its own lines. */
static void check_lines(const char *data, size_t len, int *per, int producers, uint64_t *told)
{
    size_t at = 0;
    *told = 0;
    while (at < len) {
        const char *nl = memchr(data + at, '\n', len - at);
        assert_non_null(nl);
        size_t n = (size_t)(nl - (data + at)) + 1;
        const char *line = data + at;
        if (strncmp(line, "{\"log_message\":\"(W) log: ", 24) == 0) {
            *told += strtoull(line + 24, NULL, 10);
        } else {
            int id = -1;
            int k = -1;
            assert_int_equal(sscanf(line, "{\"p\":%d,\"k\":%d,", &id, &k), 2);
            assert_true(id >= 0 && id < producers);
            char want[2048];
            size_t wn = make_line(want, id, k);
            assert_int_equal(n, wn);
            assert_memory_equal(line, want, n);
            per[id]++;
        }
        at += n;
    }
}

static void test_log_writer_lines_never_interleave(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    drain d;
    drain_start(&d, fds[0], false);
    pthread_t rt;
    assert_int_equal(pthread_create(&rt, NULL, drain_main, &d), 0);
    opc_log_writer *w = NULL;
    assert_int_equal(opc_log_writer_open(fds[1], 64u << 20, &w), OPC_OK);
    enum { PRODUCERS = 4, LINES = 4000 };
    producer p[PRODUCERS];
    pthread_t t[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        p[i] = (producer){.w = w, .id = i, .lines = LINES};
        assert_int_equal(pthread_create(&t[i], NULL, producer_main, &p[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(t[i], NULL);
    }
    /* The queue (64 MiB) holds all ~6 MB: nothing may be dropped. */
    assert_int_equal(opc_log_writer_dropped(w), 0);
    opc_log_writer_close(w);
    close(fds[1]);
    pthread_join(rt, NULL);
    close(fds[0]);
    int per[PRODUCERS] = {0};
    uint64_t told = 0;
    check_lines(d.data, d.len, per, PRODUCERS, &told);
    for (int i = 0; i < PRODUCERS; i++) {
        assert_int_equal(per[i], LINES);
    }
    assert_int_equal(told, 0);
    free(d.data);
    pthread_mutex_destroy(&d.start);
}

static void test_log_writer_full_queue_drops_and_counts(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    drain d;
    drain_start(&d, fds[0], true); /* nobody reads: the pipe fills, then the queue */
    pthread_t rt;
    assert_int_equal(pthread_create(&rt, NULL, drain_main, &d), 0);
    opc_log_writer *w = NULL;
    assert_int_equal(opc_log_writer_open(fds[1], 1, &w), OPC_OK); /* the minimum, 64 KiB */
    enum { LINES = 5000 };
    producer p = {.w = w, .id = 0, .lines = LINES};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    producer_main(&p); /* ~3.7 MB into 64 KiB + a pipe: most are dropped */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t dropped = opc_log_writer_dropped(w);
    assert_true(dropped > LINES / 2);
    /* The producer never waited for the blocked fd (generous on a busy box). */
    assert_true(t1.tv_sec - t0.tv_sec < 5);
    pthread_mutex_unlock(&d.start); /* now read */
    opc_log_writer_close(w);
    close(fds[1]);
    pthread_join(rt, NULL);
    close(fds[0]);
    int per[1] = {0};
    uint64_t told = 0;
    check_lines(d.data, d.len, per, 1, &told);
    /* Every line was either written or dropped, and the drops were told. */
    assert_int_equal((uint64_t)per[0] + dropped, LINES);
    assert_int_equal(told, dropped);
    free(d.data);
    pthread_mutex_destroy(&d.start);
}

static size_t file_size(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);
    return end > 0 ? (size_t)end : 0;
}

static void test_log_writer_flushes_on_close_timer_and_demand(void **state)
{
    (void)state;
    char path[] = "/tmp/opc-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    opc_log_writer *w = NULL;
    assert_int_equal(opc_log_writer_open(-1, 0, &w), OPC_ERR_INVALID_ARG);
    assert_null(w);
    assert_int_equal(opc_log_writer_open(fd, 0, NULL), OPC_ERR_INVALID_ARG);

    /* The timer: one line shows up without any flush. */
    assert_int_equal(opc_log_writer_open(fd, 0, &w), OPC_OK);
    opc_log_record rec = {.age = OPC_LOG_RECORD_AGE,
                          .level = OPC_LOG_INFO,
                          .time_us = 1618387737118532LL,
                          .subsystem = "t",
                          .message = "first"};
    opc_log_writer_fn(&rec, w);
    char want[256];
    size_t one = opc_log_format_json(&rec, want, sizeof want);
    int waited_ms = 0;
    while (file_size(fd) < one && waited_ms < 5000) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
        waited_ms += 5;
    }
    assert_int_equal(file_size(fd), one);
    print_message("the timer wrote the line within %d ms\n", waited_ms);

    /* On demand. */
    for (int i = 0; i < 100; i++) {
        opc_log_writer_fn(&rec, w);
    }
    opc_log_writer_flush(w);
    assert_int_equal(file_size(fd), 101 * one);

    /* On close, with nothing else: everything queued is written. */
    for (int i = 0; i < 1000; i++) {
        opc_log_writer_fn(&rec, w);
    }
    opc_log_writer_close(w);
    assert_int_equal(file_size(fd), 1101 * one);
    char back[256];
    assert_int_equal(pread(fd, back, one, (off_t)(1100 * one)), (ssize_t)one);
    assert_memory_equal(back, want, one);
    opc_log_writer_close(NULL);
    opc_log_writer_flush(NULL);
    assert_int_equal(opc_log_writer_dropped(NULL), 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_request_line_exact),
        cmocka_unit_test(test_log_escapes_and_invalid_utf8),
        cmocka_unit_test(test_log_long_path_is_cut),
        cmocka_unit_test(test_log_request_line_has_no_secret),
        cmocka_unit_test(test_log_writer_lines_never_interleave),
        cmocka_unit_test(test_log_writer_full_queue_drops_and_counts),
        cmocka_unit_test(test_log_writer_flushes_on_close_timer_and_demand),
    };
    return cmocka_run_group_tests_name("log", tests, group_setup, group_teardown);
}
