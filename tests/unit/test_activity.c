/*
 * tests/unit/test_activity.c - the activity log (observe/activity.c): record
 * format, newest-first paging with Content-Range, the query parser, the
 * bound on disk, queued records visible to a list, drop counting, 8
 * recording threads, restart, shutdown flush, file modes, foreign files;
 * what one token sees of it (its own records, redacted records of others
 * on vaults it reads, the full-log permission) with paging.
 *
 * The library's allocator is cmocka's (leak checks); it is not thread-safe,
 * so only the main thread may allocate. The recording threads and the
 * writer thread allocate nothing through the library (by design).
 */
#include "harness.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "observe/activity.h"
#include "core/alloc.h"
#include "core/json.h"

#define SERVER "srvsrvsrvsrvsrvsrvsrvsrvsr"
#define ACCOUNT "accaccaccaccaccaccaccaccac"
#define VAULT "vvvvvvvvvvvvvvvvvvvvvvvvvv"
#define ITEM "iiiiiiiiiiiiiiiiiiiiiiiiii"

typedef struct tmpdir {
    char dir[64];
    char path[128];
} tmpdir;

static void tmp_make(tmpdir *t)
{
    opc_test_mkdtemp(t->dir, sizeof t->dir, "opc-activity", "data/" OPC_ACTIVITY_FILE_NAME, t->path,
                     sizeof t->path);
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            rm_tree(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

static opc__activity *open_log(const tmpdir *t, size_t max_records, size_t queue, bool thread)
{
    opc__activity_config cfg = {.path = t->path,
                                .server_id = SERVER,
                                .account_id = ACCOUNT,
                                .max_records = max_records,
                                .queue_capacity = queue,
                                .flush_interval_ms = thread ? 20 : 0,
                                .no_writer_thread = !thread};
    opc__activity *a = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__activity_open(&cfg, &a, &eb);
    if (rc != OPC_OK) {
        fail_msg("open: %s (%s)", opc_errname(rc), eb.msg);
    }
    return a;
}

/* A READ of an item with request id "r<n>". */
static void record_n(opc__activity *a, int n)
{
    char rid[40];
    snprintf(rid, sizeof rid, "r%d", n);
    opc__activity_event ev = {.request_id = rid,
                              .timestamp_us = INT64_C(1700000000000000) + n,
                              .action = OPC_ACTIVITY_READ,
                              .result = OPC_ACTIVITY_SUCCESS,
                              .jti = "jtijtijtijtijtijtijtijtijt",
                              .user_agent = "connect-sdk-go/1.5.3",
                              .request_ip = "127.0.0.1",
                              .resource_type = OPC_ACTIVITY_RES_ITEM,
                              .vault_id = VAULT,
                              .item_id = ITEM,
                              .item_version = n + 1};
    opc__activity_record(a, &ev);
}

/* List and parse strictly; the caller deletes the tree. */
static cJSON *list_json(opc__activity *a, size_t limit, size_t offset, opc__activity_page *page)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__activity_list(a, limit, offset, page, &eb);
    if (rc != OPC_OK) {
        fail_msg("list: %s (%s)", opc_errname(rc), eb.msg);
    }
    assert_int_equal(strlen(page->json), page->json_len);
    cJSON *j = NULL;
    rc = opc__json_parse(page->json, page->json_len, NULL, &j, &eb);
    if (rc != OPC_OK) {
        fail_msg("list output is not strict JSON: %s", eb.msg);
    }
    assert_true(cJSON_IsArray(j));
    assert_int_equal((size_t)cJSON_GetArraySize(j), page->count);
    return j;
}

/* A fresh directory and log with records r0..r<n-1> queued. */
static opc__activity *open_filled(tmpdir *t, size_t max_records, size_t queue, bool thread, int n)
{
    tmp_make(t);
    opc__activity *a = open_log(t, max_records, queue, thread);
    for (int i = 0; i < n; i++) {
        record_n(a, i);
    }
    return a;
}

/* A log whose writer thread waits 60 s for a batch to fill up. */
static opc__activity *open_lazy_writer(tmpdir *t)
{
    tmp_make(t);
    opc__activity_config cfg = {.path = t->path, .flush_interval_ms = 60000};
    opc__activity *a = NULL;
    assert_int_equal(opc__activity_open(&cfg, &a, NULL), OPC_OK);
    return a;
}

static void close_and_remove(opc__activity *a, const tmpdir *t)
{
    opc__activity_close(a);
    rm_tree(t->dir);
}

static void page_done(cJSON *j, opc__activity_page *page)
{
    cJSON_Delete(j);
    opc__activity_page_clear(page);
}

static const char *str_at(const cJSON *arr, int i, const char *key)
{
    const cJSON *o = cJSON_GetArrayItem(arr, i);
    const cJSON *v = opc__json_member(o, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

/* The request number of element i ("r<n>"). */
static int rid_at(const cJSON *arr, int i)
{
    const char *r = str_at(arr, i, "requestId");
    assert_int_equal(r[0], 'r');
    return (int)strtol(r + 1, NULL, 10);
}

static void test_activity_record_format(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    opc__activity *a = open_log(&t, 0, 0, false);
    char ua[600];
    /* Quotes, a backslash, control characters, invalid UTF-8, then a long tail. */
    snprintf(ua, sizeof ua, "ua \"q\" \\ \x01\t\n \xff\xc3(\xe2\x82\xac end ");
    size_t n = strlen(ua);
    memset(ua + n, 'x', sizeof ua - n - 1);
    ua[sizeof ua - 1] = '\0';
    opc__activity_event ev = {.request_id = "6f1c1f8e-0d0e-4b8f-9a4e-2f1d3c4b5a69",
                              .timestamp_us = INT64_C(1618387737118532),
                              .action = OPC_ACTIVITY_UPDATE,
                              .result = OPC_ACTIVITY_DENY,
                              .jti = "jtijtijtijtijtijtijtijtijt",
                              .user_agent = ua,
                              .request_ip = "::ffff:10.0.0.1",
                              .resource_type = OPC_ACTIVITY_RES_ITEM,
                              .vault_id = VAULT,
                              .item_id = ITEM,
                              .item_version = 7};
    opc__activity_record(a, &ev);
    /* Bad ids (path text) are left out; RES_NONE has no resource. */
    opc__activity_event ev2 = {.request_id = "r2",
                               .action = OPC_ACTIVITY_READ,
                               .result = OPC_ACTIVITY_SUCCESS,
                               .resource_type = OPC_ACTIVITY_RES_VAULT,
                               .vault_id = "../../etc/passwd",
                               .item_id = "IIIIIIIIIIIIIIIIIIIIIIIIII"};
    opc__activity_record(a, &ev2);
    opc__activity_event ev3 = {.request_id = "r3", .resource_type = OPC_ACTIVITY_RES_NONE};
    opc__activity_record(a, &ev3);

    opc__activity_page page;
    cJSON *j = list_json(a, 50, 0, &page);
    assert_int_equal(page.count, 3);
    assert_string_equal(page.content_range, "1-3/3");

    /* Newest first: r3, r2, then the full record. */
    const cJSON *r3 = cJSON_GetArrayItem(j, 0);
    assert_string_equal(str_at(j, 0, "requestId"), "r3");
    assert_null(opc__json_member(r3, "resource"));
    const cJSON *r2 = cJSON_GetArrayItem(j, 1);
    const cJSON *res2 = opc__json_member(r2, "resource");
    assert_string_equal(opc__json_member(res2, "type")->valuestring, "VAULT");
    assert_null(opc__json_member(res2, "vault"));
    assert_null(opc__json_member(res2, "item"));
    assert_null(opc__json_member(res2, "itemVersion"));
    const cJSON *actor2 = opc__json_member(r2, "actor");
    assert_null(opc__json_member(actor2, "jti"));
    assert_null(opc__json_member(actor2, "userAgent"));

    const cJSON *r = cJSON_GetArrayItem(j, 2);
    static const char *const top[] = {"requestId", "timestamp", "action", "result",
                                      "actor",     "resource",  NULL};
    static const char *const actor_keys[] = {"id",        "account",   "jti",
                                             "userAgent", "requestIp", NULL};
    static const char *const res_keys[] = {"type", "vault", "item", "itemVersion", NULL};
    opc__ebuf eb;
    assert_int_equal(opc__json_only_members(r, top, "record", &eb), OPC_OK);
    assert_string_equal(str_at(j, 2, "requestId"), "6f1c1f8e-0d0e-4b8f-9a4e-2f1d3c4b5a69");
    assert_string_equal(str_at(j, 2, "timestamp"), "2021-04-14T08:08:57.118532Z");
    assert_string_equal(str_at(j, 2, "action"), "UPDATE");
    assert_string_equal(str_at(j, 2, "result"), "DENY");
    const cJSON *actor = opc__json_member(r, "actor");
    assert_int_equal(opc__json_only_members(actor, actor_keys, "actor", &eb), OPC_OK);
    assert_string_equal(opc__json_member(actor, "id")->valuestring, SERVER);
    assert_string_equal(opc__json_member(actor, "account")->valuestring, ACCOUNT);
    assert_string_equal(opc__json_member(actor, "jti")->valuestring, "jtijtijtijtijtijtijtijtijt");
    assert_string_equal(opc__json_member(actor, "requestIp")->valuestring, "::ffff:10.0.0.1");
    const char *got_ua = opc__json_member(actor, "userAgent")->valuestring;
    assert_true(strlen(got_ua) <= OPC_ACTIVITY_MAX_UA);
    assert_true(opc__utf8_valid(got_ua, strlen(got_ua)));
    /* Controls and quotes survive as data; invalid bytes become '?'. */
    assert_memory_equal(got_ua, "ua \"q\" \\ \x01\t\n ?", 14);
    assert_non_null(strstr(got_ua, "?(\xe2\x82\xac end xxx"));
    const cJSON *res = opc__json_member(r, "resource");
    assert_int_equal(opc__json_only_members(res, res_keys, "resource", &eb), OPC_OK);
    assert_string_equal(opc__json_member(res, "type")->valuestring, "ITEM");
    assert_string_equal(opc__json_member(opc__json_member(res, "vault"), "id")->valuestring, VAULT);
    assert_string_equal(opc__json_member(opc__json_member(res, "item"), "id")->valuestring, ITEM);
    assert_int_equal(opc__json_member(res, "itemVersion")->valueint, 7);
    page_done(j, &page);
    close_and_remove(a, &t);
}

static void test_activity_paging(void **state)
{
    (void)state;
    tmpdir t;
    opc__activity *a = open_filled(&t, 0, 0, false, 120);
    opc__activity_page page;
    cJSON *j = list_json(a, 50, 0, &page);
    assert_string_equal(page.content_range, "1-50/120");
    assert_int_equal(page.total, 120);
    assert_int_equal(rid_at(j, 0), 119);
    assert_int_equal(rid_at(j, 49), 70);
    page_done(j, &page);

    j = list_json(a, 50, 100, &page);
    assert_string_equal(page.content_range, "101-120/120");
    assert_int_equal(page.count, 20);
    assert_int_equal(rid_at(j, 0), 19);
    assert_int_equal(rid_at(j, 19), 0);
    page_done(j, &page);

    /* At and past the end: an empty page with the total. */
    static const size_t past[] = {120, 121, 5000, OPC_ACTIVITY_MAX_OFFSET};
    for (size_t i = 0; i < OPC_ARRAY_LEN(past); i++) {
        j = list_json(a, 50, past[i], &page);
        assert_string_equal(page.json, "[]");
        assert_string_equal(page.content_range, "*/120");
        page_done(j, &page);
    }
    /* limit 0: just the total. limit above the maximum is clamped. */
    j = list_json(a, 0, 0, &page);
    assert_string_equal(page.content_range, "*/120");
    page_done(j, &page);
    j = list_json(a, 1, 119, &page);
    assert_string_equal(page.content_range, "120-120/120");
    assert_int_equal(rid_at(j, 0), 0);
    page_done(j, &page);
    close_and_remove(a, &t);
}

static void test_activity_limit_clamped(void **state)
{
    (void)state;
    tmpdir t;
    opc__activity *a = open_filled(&t, 0, 2000, false, OPC_ACTIVITY_MAX_LIMIT + 5);
    opc__activity_page page;
    cJSON *j = list_json(a, 100000, 0, &page);
    assert_int_equal(page.count, OPC_ACTIVITY_MAX_LIMIT);
    assert_string_equal(page.content_range, "1-1000/1005");
    page_done(j, &page);
    close_and_remove(a, &t);
}

static void expect_query(const char *q, opc_err want, size_t limit, size_t offset, const char *msg)
{
    size_t l = 1234;
    size_t o = 1234;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__activity_parse_query(q, &l, &o, &eb);
    if (rc != want) {
        fail_msg("query %s: %s", q != NULL ? q : "(null)", opc_errname(rc));
    }
    assert_int_equal(l, limit);
    assert_int_equal(o, offset);
    if (msg != NULL) {
        assert_string_equal(eb.msg, msg);
    }
}

static void test_activity_parse_query(void **state)
{
    (void)state;
    expect_query(NULL, OPC_OK, 50, 0, NULL);
    expect_query("", OPC_OK, 50, 0, NULL);
    expect_query("limit=10&offset=5", OPC_OK, 10, 5, NULL);
    expect_query("offset=5&limit=10&filter=x", OPC_OK, 10, 5, NULL);
    expect_query("limit=%31%30", OPC_OK, 10, 0, NULL);
    expect_query("limit=0", OPC_OK, 0, 0, NULL);
    expect_query("limit=007", OPC_OK, 7, 0, NULL);
    expect_query("limit=1001", OPC_OK, 1000, 0, NULL);
    expect_query("limit=99999999999999999999999999", OPC_OK, 1000, 0, NULL);
    expect_query("offset=99999999999999999999999999", OPC_OK, 50, OPC_ACTIVITY_MAX_OFFSET, NULL);
    expect_query("limit=abc", OPC_ERR_PARSE, 50, 0, "Invalid limit");
    expect_query("limit=-1", OPC_ERR_PARSE, 50, 0, "Invalid limit");
    expect_query("limit=", OPC_ERR_PARSE, 50, 0, "Invalid limit");
    expect_query("limit", OPC_ERR_PARSE, 50, 0, "Invalid limit");
    expect_query("limit=+5", OPC_ERR_PARSE, 50, 0, "Invalid limit");
    expect_query("limit=1e3", OPC_ERR_PARSE, 50, 0, "Invalid limit");
    expect_query("limit=5%00", OPC_ERR_PARSE, 50, 0, "Invalid limit");
    expect_query("limit=%zz", OPC_ERR_PARSE, 50, 0, "Invalid limit");
    expect_query("limit=1.5", OPC_ERR_PARSE, 50, 0, "Invalid limit");
    expect_query("limit=10&offset=x", OPC_ERR_PARSE, 50, 0, "Invalid offset");
    expect_query("offset=-0", OPC_ERR_PARSE, 50, 0, "Invalid offset");
}

static void test_activity_helpers(void **state)
{
    (void)state;
    char cr[OPC_ACTIVITY_RANGE_LEN];
    opc__activity_content_range(0, 50, 1134, cr);
    assert_string_equal(cr, "1-50/1134");
    opc__activity_content_range(0, 0, 0, cr);
    assert_string_equal(cr, "*/0");
    assert_int_equal(opc__activity_action_for_method("GET"), OPC_ACTIVITY_READ);
    assert_int_equal(opc__activity_action_for_method("HEAD"), OPC_ACTIVITY_READ);
    assert_int_equal(opc__activity_action_for_method("POST"), OPC_ACTIVITY_CREATE);
    assert_int_equal(opc__activity_action_for_method("PUT"), OPC_ACTIVITY_UPDATE);
    assert_int_equal(opc__activity_action_for_method("PATCH"), OPC_ACTIVITY_UPDATE);
    assert_int_equal(opc__activity_action_for_method("DELETE"), OPC_ACTIVITY_DELETE);
    assert_int_equal(opc__activity_action_for_method(NULL), OPC_ACTIVITY_READ);
    assert_int_equal(opc__activity_result_for_status(200), OPC_ACTIVITY_SUCCESS);
    assert_int_equal(opc__activity_result_for_status(204), OPC_ACTIVITY_SUCCESS);
    assert_int_equal(opc__activity_result_for_status(403), OPC_ACTIVITY_DENY);
    assert_int_equal(opc__activity_result_for_status(500), OPC_ACTIVITY_DENY);
    char *p = NULL;
    assert_int_equal(opc__activity_path_for_cache("/d/.op/data/1password.sqlite", &p, NULL),
                     OPC_OK);
    assert_string_equal(p, "/d/.op/data/activity.sqlite");
    opc__free(p);
    assert_int_equal(opc__activity_path_for_cache("1password.sqlite", &p, NULL), OPC_OK);
    assert_string_equal(p, "activity.sqlite");
    opc__free(p);
    assert_int_equal(opc__activity_path_for_cache("", &p, NULL), OPC_ERR_INVALID_ARG);
    /* clean_text: never cuts a character, caps the length. */
    char out[5];
    assert_int_equal(opc__activity_clean_text(out, sizeof out, "ab\xe2\x82\xac"), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(opc__activity_clean_text(out, sizeof out, "\xe2\x82"), 2);
    assert_string_equal(out, "??");
    assert_int_equal(opc__activity_clean_text(out, sizeof out, NULL), 0);
    assert_int_equal(opc__activity_clean_text(out, sizeof out, "\xed\xa0\x80"), 3);
    assert_string_equal(out, "???"); /* a surrogate is not UTF-8 */
}

/* Size of the database file once the WAL is checkpointed into it. */
static off_t file_size(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : 0;
}

static size_t rows_in_file(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM activity", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    size_t n = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_activity_bounded_on_disk(void **state)
{
    (void)state;
    enum { N = 200, SLACK = 64 }; /* slack: max(N / 8, 64) */
    tmpdir t;
    tmp_make(&t);
    opc__activity *a = open_log(&t, N, 4 * N, false);
    opc__ebuf eb;
    off_t steady = 0;
    int written = 0;
    for (int round = 0; round < 40; round++) {
        /* Round 0: 3N records in ONE drain; then rounds of N/2 in drains of 50. */
        int n = round == 0 ? 3 * N : N / 2;
        for (int i = 0; i < n; i++) {
            record_n(a, written++);
            if (round > 0 && written % 50 == 0) {
                assert_int_equal(opc__activity_flush(a, &eb), OPC_OK);
                assert_true(rows_in_file(t.path) <= N + SLACK);
            }
        }
        assert_int_equal(opc__activity_flush(a, &eb), OPC_OK);
        size_t rows = rows_in_file(t.path);
        assert_true(rows >= N && rows <= N + SLACK);
        off_t size = file_size(t.path);
        /* N + SLACK rows of ~200 bytes: well under 128 KiB, whatever was written. */
        if (size > 128 * 1024) {
            fail_msg("activity file of %lld bytes after round %d", (long long)size, round);
        }
        /* Pages are reused: once the table has cycled through N + SLACK rows
         * (by round 4), the file does not grow with the records written. */
        if (round <= 4) {
            steady = size > steady ? size : steady;
        } else if (size > steady) {
            fail_msg("activity file grew from %lld to %lld bytes in round %d", (long long)steady,
                     (long long)size, round);
        }
    }
    /* Exactly the newest N are listed. */
    opc__activity_page page;
    cJSON *j = list_json(a, 1000, 0, &page);
    assert_int_equal(page.total, N);
    assert_int_equal(page.count, N);
    assert_int_equal(rid_at(j, 0), written - 1);
    assert_int_equal(rid_at(j, N - 1), written - N);
    char want[64];
    snprintf(want, sizeof want, "1-%d/%d", N, N);
    assert_string_equal(page.content_range, want);
    page_done(j, &page);
    opc__activity_stats st;
    opc__activity_get_stats(a, &st);
    assert_int_equal(st.written, (uint64_t)written);
    assert_int_equal(st.dropped, 0);
    assert_true(st.rows <= N + SLACK);
    close_and_remove(a, &t);
}

static void test_activity_queued_visible(void **state)
{
    (void)state;
    tmpdir t;
    /* The writer would wait 60 s: only the list itself can write. */
    opc__activity *a = open_lazy_writer(&t);
    for (int round = 1; round <= 3; round++) {
        record_n(a, round);
        opc__activity_page page;
        cJSON *j = list_json(a, 50, 0, &page);
        assert_int_equal(page.count, (size_t)round);
        assert_int_equal(rid_at(j, 0), round);
        page_done(j, &page);
    }
    opc__activity_stats st;
    opc__activity_get_stats(a, &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.written, 3);
    close_and_remove(a, &t);
}

static void test_activity_drops_oldest_when_full(void **state)
{
    (void)state;
    tmpdir t;
    opc__activity *a = open_filled(&t, 0, 8, false, 20);
    opc__activity_stats st;
    opc__activity_get_stats(a, &st);
    assert_int_equal(st.recorded, 20);
    assert_int_equal(st.dropped, 12);
    assert_int_equal(st.queued, 8);
    opc__activity_page page;
    cJSON *j = list_json(a, 50, 0, &page);
    assert_int_equal(page.count, 8);
    assert_int_equal(rid_at(j, 0), 19);
    assert_int_equal(rid_at(j, 7), 12);
    page_done(j, &page);
    close_and_remove(a, &t);
}

enum { THREADS = 8, PER_THREAD = 2000 };

typedef struct worker {
    opc__activity *a;
    int id;
} worker;

static void *record_thread(void *arg)
{
    const worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char rid[40];
        snprintf(rid, sizeof rid, "t%d-%d", w->id, i);
        opc__activity_event ev = {.request_id = rid,
                                  .action = OPC_ACTIVITY_READ,
                                  .result = OPC_ACTIVITY_SUCCESS,
                                  .resource_type = OPC_ACTIVITY_RES_VAULT,
                                  .vault_id = VAULT};
        opc__activity_record(w->a, &ev);
    }
    return NULL;
}

static void test_activity_eight_threads(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    /* The writer runs (20 ms interval) while 8 threads record. */
    opc__activity *a = open_log(&t, 20000, THREADS * PER_THREAD, true);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].a = a;
        w[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, record_thread, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    /* Every record once; each thread's records newest first. */
    static int last[THREADS];
    static unsigned char seen[THREADS][PER_THREAD];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < THREADS; i++) {
        last[i] = PER_THREAD;
    }
    size_t total = 0;
    for (size_t off = 0; off < THREADS * PER_THREAD; off += OPC_ACTIVITY_MAX_LIMIT) {
        opc__activity_page page;
        cJSON *j = list_json(a, OPC_ACTIVITY_MAX_LIMIT, off, &page);
        assert_int_equal(page.total, THREADS * PER_THREAD);
        for (int k = 0; k < cJSON_GetArraySize(j); k++) {
            int tid = -1;
            int n = -1;
            assert_int_equal(sscanf(str_at(j, k, "requestId"), "t%d-%d", &tid, &n), 2);
            assert_true(tid >= 0 && tid < THREADS && n >= 0 && n < PER_THREAD);
            assert_false(seen[tid][n]);
            seen[tid][n] = 1;
            assert_true(n < last[tid]);
            last[tid] = n;
            total++;
        }
        page_done(j, &page);
    }
    assert_int_equal(total, THREADS * PER_THREAD);
    opc__activity_stats st;
    opc__activity_get_stats(a, &st);
    assert_int_equal(st.recorded, THREADS * PER_THREAD);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.written, THREADS * PER_THREAD);
    assert_int_equal(st.write_errors, 0);
    close_and_remove(a, &t);
}

static void test_activity_eight_threads_small_queue(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    /* A queue far smaller than the burst: drops are counted, never lost silently. */
    opc__activity *a = open_log(&t, 20000, 64, true);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].a = a;
        w[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, record_thread, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    assert_int_equal(opc__activity_flush(a, NULL), OPC_OK);
    opc__activity_stats st;
    opc__activity_get_stats(a, &st);
    assert_int_equal(st.recorded, THREADS * PER_THREAD);
    assert_int_equal(st.written + st.dropped, THREADS * PER_THREAD);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.rows, st.written);
    close_and_remove(a, &t);
}

static void test_activity_survives_restart(void **state)
{
    (void)state;
    tmpdir t;
    opc__activity *a = open_filled(&t, 0, 0, true, 10);
    opc__activity_close(a); /* flushes the queue */
    a = open_log(&t, 0, 0, true);
    opc__activity_stats st;
    opc__activity_get_stats(a, &st);
    assert_int_equal(st.rows, 10);
    record_n(a, 10);
    opc__activity_page page;
    cJSON *j = list_json(a, 50, 0, &page);
    assert_int_equal(page.count, 11);
    for (int k = 0; k < 11; k++) {
        assert_int_equal(rid_at(j, k), 10 - k);
    }
    page_done(j, &page);
    close_and_remove(a, &t);
}

static void test_activity_close_flushes(void **state)
{
    (void)state;
    tmpdir t;
    opc__activity *a = open_lazy_writer(&t);
    for (int i = 0; i < 5; i++) {
        record_n(a, i);
    }
    opc__activity_close(a);
    assert_int_equal(rows_in_file(t.path), 5);
    rm_tree(t.dir);
}

static void test_activity_file_modes(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    opc__activity *a = open_log(&t, 0, 0, false);
    record_n(a, 1);
    assert_int_equal(opc__activity_flush(a, NULL), OPC_OK);
    struct stat sb;
    assert_int_equal(stat(t.path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char p[256];
    snprintf(p, sizeof p, "%s-wal", t.path);
    assert_int_equal(stat(p, &sb), 0); /* WAL mode */
    assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(p, sizeof p, "%s/data", t.dir);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    close_and_remove(a, &t);
}

static void test_activity_rejects_foreign_files(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/data", t.dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    /* Some other SQLite database. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE x (y)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    opc__activity_config cfg = {.path = t.path, .no_writer_thread = true};
    opc__activity *a = NULL;
    opc__ebuf eb;
    assert_int_equal(opc__activity_open(&cfg, &a, &eb), OPC_ERR_PARSE);
    assert_null(a);
    assert_non_null(strstr(eb.msg, "not an opconnect activity log"));
    /* Not a database at all. */
    unlink(t.path);
    FILE *f = fopen(t.path, "w");
    assert_non_null(f);
    fputs("this is not a database, just some text that is long enough to be read\n", f);
    fclose(f);
    assert_int_equal(opc__activity_open(&cfg, &a, &eb), OPC_ERR_PARSE);
    /* A newer schema. */
    unlink(t.path);
    assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = 99;",
             OPC_ACTIVITY_APPLICATION_ID);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(opc__activity_open(&cfg, &a, &eb), OPC_ERR_UNSUPPORTED);
    /* Bad configuration. */
    opc__activity_config bad = {.path = t.path, .max_records = OPC_ACTIVITY_MAX_MAX_RECORDS + 1};
    assert_int_equal(opc__activity_open(&bad, &a, &eb), OPC_ERR_INVALID_ARG);
    opc__activity_config nopath = {.path = NULL};
    assert_int_equal(opc__activity_open(&nopath, &a, &eb), OPC_ERR_INVALID_ARG);
    rm_tree(t.dir);
}

static void test_activity_null_safe(void **state)
{
    (void)state;
    opc__activity_record(NULL, NULL);
    opc__activity_close(NULL);
    opc__activity_page page;
    assert_int_equal(opc__activity_list(NULL, 1, 0, &page, NULL), OPC_ERR_INVALID_ARG);
    assert_null(page.json);
    opc__activity_page_clear(&page);
    assert_int_equal(opc__activity_flush(NULL, NULL), OPC_ERR_INVALID_ARG);
    opc__activity_stats st;
    opc__activity_get_stats(NULL, &st);
    assert_int_equal(st.recorded, 0);
}

/* ---- what one token sees (opc__activity_list_scoped) ---- */

#define V1 "v1v1v1v1v1v1v1v1v1v1v1v1v1"
#define V2 "v2v2v2v2v2v2v2v2v2v2v2v2v2"
#define I1 "i1i1i1i1i1i1i1i1i1i1i1i1i1"
#define I2 "i2i2i2i2i2i2i2i2i2i2i2i2i2"
#define J1 "jti1jti1jti1jti1jti1jti1jt"
#define J2 "jti2jti2jti2jti2jti2jti2jt"
#define J3 "jti3jti3jti3jti3jti3jti3jt"

/* A record of token jti (user agent "ua-<n>", address "10.0.0.<n>") with
 * request id rid; vault/item NULL for a request without them. */
static void record_by(opc__activity *a, const char *rid, int n, const char *jti,
                      opc__activity_result result, const char *vault, const char *item)
{
    char ua[16];
    char ip[16];
    snprintf(ua, sizeof ua, "ua-%d", n);
    snprintf(ip, sizeof ip, "10.0.0.%d", n);
    opc__activity_event ev = {.request_id = rid,
                              .action = OPC_ACTIVITY_READ,
                              .result = result,
                              .jti = jti,
                              .user_agent = ua,
                              .request_ip = ip,
                              .resource_type = item != NULL    ? OPC_ACTIVITY_RES_ITEM
                                               : vault != NULL ? OPC_ACTIVITY_RES_VAULT
                                                               : OPC_ACTIVITY_RES_NONE,
                              .vault_id = vault,
                              .item_id = item};
    opc__activity_record(a, &ev);
}

static cJSON *list_scoped_json(opc__activity *a, const opc__activity_scope *scope, size_t limit,
                               size_t offset, opc__activity_page *page)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__activity_list_scoped(a, scope, limit, offset, page, &eb);
    if (rc != OPC_OK) {
        fail_msg("list_scoped: %s (%s)", opc_errname(rc), eb.msg);
    }
    assert_int_equal(strlen(page->json), page->json_len);
    cJSON *j = NULL;
    rc = opc__json_parse(page->json, page->json_len, NULL, &j, &eb);
    if (rc != OPC_OK) {
        fail_msg("scoped list output is not strict JSON: %s", eb.msg);
    }
    assert_true(cJSON_IsArray(j));
    assert_int_equal((size_t)cJSON_GetArraySize(j), page->count);
    return j;
}

/* The request ids of a page, newest first, joined by ' '. */
static void rids_of(const cJSON *j, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < cJSON_GetArraySize(j); i++) {
        int n = snprintf(out + o, cap - o, "%s%s", i > 0 ? " " : "", str_at(j, i, "requestId"));
        assert_true(n > 0 && (size_t)n < cap - o);
        o += (size_t)n;
    }
}

static void assert_absent(const opc__activity_page *page, const char *const *words)
{
    for (size_t i = 0; words[i] != NULL; i++) {
        if (strstr(page->json, words[i]) != NULL) {
            fail_msg("\"%s\" is in the page: %s", words[i], page->json);
        }
    }
}

/* The actor of element i has a jti (and then user agent and address) or none of the three. */
static void assert_actor(const cJSON *j, int i, const char *jti, int n)
{
    const cJSON *actor = opc__json_member(cJSON_GetArrayItem(j, i), "actor");
    assert_non_null(actor);
    assert_string_equal(opc__json_member(actor, "id")->valuestring, SERVER);
    assert_string_equal(opc__json_member(actor, "account")->valuestring, ACCOUNT);
    if (jti == NULL) {
        assert_null(opc__json_member(actor, "jti"));
        assert_null(opc__json_member(actor, "userAgent"));
        assert_null(opc__json_member(actor, "requestIp"));
        return;
    }
    char ua[16];
    char ip[16];
    snprintf(ua, sizeof ua, "ua-%d", n);
    snprintf(ip, sizeof ip, "10.0.0.%d", n);
    assert_string_equal(opc__json_member(actor, "jti")->valuestring, jti);
    assert_string_equal(opc__json_member(actor, "userAgent")->valuestring, ua);
    assert_string_equal(opc__json_member(actor, "requestIp")->valuestring, ip);
}

/*
 * Three tokens: J1 reads V1, J2 reads V2, J3 no vault. Records, oldest
 * first: a1 J1 lists vaults; a2 J1 reads I1 in V1; a3 J2 lists vaults; a4
 * J2 reads I2 in V2; a5 J2 is denied V1; a6 J1 is denied I2 in V2; a7 J3
 * lists vaults. (Each token's n in record_by: J1 1, J2 2, J3 3.)
 */
static opc__activity *open_three_tokens(tmpdir *t)
{
    tmp_make(t);
    opc__activity *a = open_log(t, 0, 0, false);
    record_by(a, "a1", 1, J1, OPC_ACTIVITY_SUCCESS, NULL, NULL);
    record_by(a, "a2", 1, J1, OPC_ACTIVITY_SUCCESS, V1, I1);
    record_by(a, "a3", 2, J2, OPC_ACTIVITY_SUCCESS, NULL, NULL);
    record_by(a, "a4", 2, J2, OPC_ACTIVITY_SUCCESS, V2, I2);
    record_by(a, "a5", 2, J2, OPC_ACTIVITY_DENY, V1, NULL);
    record_by(a, "a6", 1, J1, OPC_ACTIVITY_DENY, V2, I2);
    record_by(a, "a7", 3, J3, OPC_ACTIVITY_SUCCESS, NULL, NULL);
    return a;
}

static void test_activity_scoped_per_token(void **state)
{
    (void)state;
    tmpdir t;
    opc__activity *a = open_three_tokens(&t);
    opc__activity_page page;
    char rids[128];

    /* J1, reader of V1: its own a6 a2 a1 in full, J2's denial on V1 (a5)
     * without J2's jti, user agent or address; nothing of J2 on V2 nor J3. */
    const char *v1[] = {V1};
    opc__activity_scope s1 = {.jti = J1, .vaults = v1, .n_vaults = 1};
    cJSON *j = list_scoped_json(a, &s1, 50, 0, &page);
    rids_of(j, rids, sizeof rids);
    assert_string_equal(rids, "a6 a5 a2 a1");
    assert_string_equal(page.content_range, "1-4/4");
    assert_actor(j, 0, J1, 1);
    assert_actor(j, 1, NULL, 2);
    assert_actor(j, 2, J1, 1);
    assert_actor(j, 3, J1, 1);
    static const char *const not_j1[] = {J2, J3, "ua-2", "ua-3", "10.0.0.2", "10.0.0.3", NULL};
    assert_absent(&page, not_j1);
    page_done(j, &page);

    /* J2, reader of V2: a5 a4 a3 its own, J1's a6 on V2 redacted; never V1's item. */
    const char *v2[] = {V2};
    opc__activity_scope s2 = {.jti = J2, .vaults = v2, .n_vaults = 1};
    j = list_scoped_json(a, &s2, 50, 0, &page);
    rids_of(j, rids, sizeof rids);
    assert_string_equal(rids, "a6 a5 a4 a3");
    assert_actor(j, 0, NULL, 1);
    assert_actor(j, 1, J2, 2);
    static const char *const not_j2[] = {J1, J3, I1, "ua-1", "ua-3", "10.0.0.1", "10.0.0.3", NULL};
    assert_absent(&page, not_j2);
    page_done(j, &page);

    /* J3, no vault: only its own vault list. */
    opc__activity_scope s3 = {.jti = J3};
    j = list_scoped_json(a, &s3, 50, 0, &page);
    rids_of(j, rids, sizeof rids);
    assert_string_equal(rids, "a7");
    assert_string_equal(page.content_range, "1-1/1");
    assert_actor(j, 0, J3, 3);
    static const char *const not_j3[] = {J1,     J2,     V1,         V2,         I1,  I2,
                                         "ua-1", "ua-2", "10.0.0.1", "10.0.0.2", NULL};
    assert_absent(&page, not_j3);
    page_done(j, &page);

    /* A vault the reader lists but nobody touched, and ids that are not
     * ids, add nothing; neither does a reader without a jti. */
    const char *odd[] = {"zzzzzzzzzzzzzzzzzzzzzzzzzz", "", NULL, "v1v1v1v1v1v1", "%", V1 "x"};
    opc__activity_scope s4 = {.jti = NULL, .vaults = odd, .n_vaults = OPC_ARRAY_LEN(odd)};
    j = list_scoped_json(a, &s4, 50, 0, &page);
    assert_string_equal(page.json, "[]");
    assert_string_equal(page.content_range, "*/0");
    page_done(j, &page);

    /* The full-log permission: everything, as stored. */
    opc__activity_scope full = {.full = true, .jti = J3};
    j = list_scoped_json(a, &full, 50, 0, &page);
    rids_of(j, rids, sizeof rids);
    assert_string_equal(rids, "a7 a6 a5 a4 a3 a2 a1");
    assert_actor(j, 1, J1, 1);
    assert_actor(j, 3, J2, 2);
    page_done(j, &page);

    /* No scope is no answer. */
    assert_int_equal(opc__activity_list_scoped(a, NULL, 50, 0, &page, NULL), OPC_ERR_INVALID_ARG);
    assert_null(page.json);
    close_and_remove(a, &t);
}

static void test_activity_scoped_paging(void **state)
{
    (void)state;
    tmpdir t;
    opc__activity *a = open_three_tokens(&t);
    opc__activity_page page;
    char rids[128];
    const char *v1[] = {V1};
    opc__activity_scope s1 = {.jti = J1, .vaults = v1, .n_vaults = 1};
    static const struct {
        size_t limit, offset;
        const char *rids, *range;
    } pages[] = {
        {2, 0, "a6 a5", "1-2/4"},    {2, 2, "a2 a1", "3-4/4"},
        {3, 1, "a5 a2 a1", "2-4/4"}, {2, 4, "", "*/4"},
        {0, 0, "", "*/4"},           {50, OPC_ACTIVITY_MAX_OFFSET, "", "*/4"},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(pages); i++) {
        cJSON *j = list_scoped_json(a, &s1, pages[i].limit, pages[i].offset, &page);
        rids_of(j, rids, sizeof rids);
        assert_string_equal(rids, pages[i].rids);
        assert_string_equal(page.content_range, pages[i].range);
        assert_int_equal(page.total, 4);
        page_done(j, &page);
    }
    close_and_remove(a, &t);
}

/* Only the newest max_records are listed to a scoped reader too; a stored
 * vault id that spans two of the reader's ids matches neither. */
static void test_activity_scoped_window(void **state)
{
    (void)state;
    enum { N = 200 };
    tmpdir t;
    tmp_make(&t);
    opc__activity *a = open_log(&t, N, 4 * N, false);
    opc__ebuf eb;
    char rid[16];
    for (int i = 0; i < 10; i++) {
        snprintf(rid, sizeof rid, "old%d", i);
        record_by(a, rid, 2, J2, OPC_ACTIVITY_SUCCESS, V2, I2);
    }
    assert_int_equal(opc__activity_flush(a, &eb), OPC_OK);
    for (int i = 0; i < N; i++) {
        snprintf(rid, sizeof rid, "new%d", i);
        record_by(a, rid, 1, J1, OPC_ACTIVITY_SUCCESS, V1, I1);
    }
    assert_int_equal(opc__activity_flush(a, &eb), OPC_OK);
    /* Still on disk (within the prune slack), but out of the listed window. */
    assert_int_equal(rows_in_file(t.path), N + 10);
    opc__activity_page page;
    const char *v2[] = {V2};
    opc__activity_scope s2 = {.jti = J2, .vaults = v2, .n_vaults = 1};
    cJSON *j = list_scoped_json(a, &s2, 50, 0, &page);
    assert_string_equal(page.content_range, "*/0");
    page_done(j, &page);
    const char *v1[] = {V1};
    opc__activity_scope s1 = {.jti = J3, .vaults = v1, .n_vaults = 1};
    j = list_scoped_json(a, &s1, 1000, 0, &page);
    assert_int_equal(page.total, N);
    page_done(j, &page);

    /* An edited file: the vault id "V1,V2" is neither of the reader's V1
     * and V2 (a match on text would take it). */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO activity (request_id, ts_us, action, result,"
                                  " actor_id, account, jti, user_agent, request_ip, resource_type,"
                                  " vault_id, item_id, item_version) VALUES ('forged', 1, 'READ',"
                                  " 'SUCCESS', '', '', 'other', 'ua', 'ip', 'VAULT',"
                                  " '" V1 "," V2 "', '', 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    const char *both[] = {V1, V2};
    opc__activity_scope s12 = {.jti = J3, .vaults = both, .n_vaults = 2};
    j = list_scoped_json(a, &s12, 1, 0, &page);
    /* The forged row is the newest of the window (which lost new0) and is not listed. */
    assert_int_equal(page.total, N - 1);
    assert_string_equal(str_at(j, 0, "requestId"), "new199");
    page_done(j, &page);
    close_and_remove(a, &t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activity_record_format),
        cmocka_unit_test(test_activity_paging),
        cmocka_unit_test(test_activity_limit_clamped),
        cmocka_unit_test(test_activity_parse_query),
        cmocka_unit_test(test_activity_helpers),
        cmocka_unit_test(test_activity_bounded_on_disk),
        cmocka_unit_test(test_activity_queued_visible),
        cmocka_unit_test(test_activity_drops_oldest_when_full),
        cmocka_unit_test(test_activity_eight_threads),
        cmocka_unit_test(test_activity_eight_threads_small_queue),
        cmocka_unit_test(test_activity_survives_restart),
        cmocka_unit_test(test_activity_close_flushes),
        cmocka_unit_test(test_activity_file_modes),
        cmocka_unit_test(test_activity_rejects_foreign_files),
        cmocka_unit_test(test_activity_null_safe),
        cmocka_unit_test(test_activity_scoped_per_token),
        cmocka_unit_test(test_activity_scoped_paging),
        cmocka_unit_test(test_activity_scoped_window),
    };
    return cmocka_run_group_tests_name("activity", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
