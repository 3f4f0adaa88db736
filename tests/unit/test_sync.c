/*
 * tests/unit/test_sync.c - lib/cache, lib/upstream (local) and lib/sync:
 * an account with a Connect server synced into a temporary cache and
 * compared row by row; incremental changes; grant and token revocation; an
 * unreachable upstream with backoff and recovery; crash safety (a child
 * SIGKILLed in the middle of an initial sync of 5,000 items).
 */
#include "account_fixture.h"

#include <stdbool.h>

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "cache/cache.h"
#include "sync/sync.h"
#include "upstream/upstream.h"

#define ITEM_JSON                                                                                  \
    "{\"title\":\"Login %d\",\"category\":\"LOGIN\",\"fields\":[{\"id\":\"password\","             \
    "\"purpose\":\"PASSWORD\",\"type\":\"CONCEALED\",\"value\":\"canary-%d\"}]}"

typedef struct sx {
    fx f;
    char v1[27];
    char v2[27];
    char server[27];
    char jti[27];
    char cache_path[300];
    opc_credentials *creds;
} sx;

static void sx_setup(sx *x, int items)
{
    memset(x, 0, sizeof *x);
    fx_create(&x->f);
    fx_vault(x->f.a, "Shared", x->v1);
    fx_vault(x->f.a, "Private", x->v2);
    char json[256];
    for (int i = 0; i < items; i++) {
        snprintf(json, sizeof json, ITEM_JSON, i, i);
        fx_item(x->f.a, x->v1, json, NULL);
    }
    fx_item(x->f.a, x->v2, "{\"title\":\"hidden\",\"category\":\"LOGIN\"}", NULL);
    const char *vaults[] = {x->v1};
    char *sj = NULL;
    opc_secret *file = NULL;
    FX_OK(x->f.a, opc_account_server_create(x->f.a, "Web", vaults, 1, NULL, &sj, &file));
    cJSON *s = fx_json(sj);
    snprintf(x->server, sizeof x->server, "%s", fx_str(s, "id"));
    cJSON_Delete(s);
    opc_free(sj);
    char err[OPC_ERRBUF_SIZE];
    if (opc_credentials_parse(opc_secret_data(file), opc_secret_len(file), &x->creds, err,
                              sizeof err) != OPC_OK) {
        fail_msg("credentials: %s", err);
    }
    opc_secret_free(file);
    const char *specs[] = {"Shared,r"};
    char *tj = NULL;
    opc_secret *tok = NULL;
    FX_OK(x->f.a, opc_account_token_create(x->f.a, "ci", "Web", specs, 1, 0, &tj, &tok));
    cJSON *t = fx_json(tj);
    snprintf(x->jti, sizeof x->jti, "%s", fx_str(t, "id"));
    cJSON_Delete(t);
    opc_free(tj);
    opc_secret_free(tok);
    snprintf(x->cache_path, sizeof x->cache_path, "%s/data/.op/data/1password.sqlite", x->f.dir);
}

static void sx_teardown(sx *x)
{
    opc_credentials_free(x->creds);
    fx_destroy(&x->f);
}

static opc_sync *sx_sync(sx *x, size_t page)
{
    opc_sync *s = NULL;
    char err[OPC_ERRBUF_SIZE];
    opc_err rc = opc_sync_create(x->creds, x->cache_path, &s, err, sizeof err);
    if (rc != OPC_OK) {
        fail_msg("sync create: %s (%s)", opc_errname(rc), err);
    }
    opc__sync_set_page_size(s, page);
    return s;
}

/* Steps until caught up (and at most 10,000 steps). */
static void sx_run(opc_sync *s)
{
    char err[OPC_ERRBUF_SIZE];
    for (int i = 0; i < 10000; i++) {
        opc_err rc = opc_sync_run_once(s, err, sizeof err);
        if (rc != OPC_OK) {
            fail_msg("sync step: %s (%s)", opc_errname(rc), err);
        }
        opc__cache_meta m;
        assert_int_equal(opc__cache_meta_get(opc__sync_cache(s), &m, NULL), OPC_OK);
        if (m.initial_sync_complete) {
            /* One more step to drain anything beyond the catch-up page. */
            assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_OK);
            return;
        }
    }
    fail_msg("sync never caught up");
}

static void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static sqlite3 *open_ro(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* Both queries give the same rows, column by column; returns the row count. */
static int same_rows(sqlite3 *a, const char *qa, sqlite3 *b, const char *qb, const char *p)
{
    sqlite3_stmt *sa = NULL;
    sqlite3_stmt *sb = NULL;
    assert_int_equal(sqlite3_prepare_v2(a, qa, -1, &sa, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(b, qb, -1, &sb, NULL), SQLITE_OK);
    if (p != NULL) {
        sqlite3_bind_text(sa, 1, p, -1, SQLITE_STATIC);
        sqlite3_bind_text(sb, 1, p, -1, SQLITE_STATIC);
    }
    int n = 0;
    for (;;) {
        int ra = sqlite3_step(sa);
        int rb = sqlite3_step(sb);
        assert_int_equal(ra, rb);
        if (ra != SQLITE_ROW) {
            assert_int_equal(ra, SQLITE_DONE);
            break;
        }
        int cols = sqlite3_column_count(sa);
        assert_int_equal(cols, sqlite3_column_count(sb));
        for (int i = 0; i < cols; i++) {
            int la = sqlite3_column_bytes(sa, i);
            const void *va = sqlite3_column_blob(sa, i);
            int lb = sqlite3_column_bytes(sb, i);
            const void *vb = sqlite3_column_blob(sb, i);
            if (la != lb || (la > 0 && memcmp(va, vb, (size_t)la) != 0)) {
                fail_msg("row %d column %s differs (%s / %s)", n, sqlite3_column_name(sa, i), qa,
                         qb);
            }
        }
        n++;
    }
    sqlite3_finalize(sa);
    sqlite3_finalize(sb);
    return n;
}

/* The cache equals the account for the server's view of vault v (granted). */
static int sx_compare(sx *x, const char *v)
{
    sqlite3 *a = open_ro(x->f.path);
    sqlite3 *c = open_ro(x->cache_path);
    int n = same_rows(a,
                      "SELECT id, version, key_sn, overview, details, created, updated FROM items"
                      " WHERE vault_id = ?1 AND state = 'active' ORDER BY id",
                      c,
                      "SELECT id, version, key_sn, overview, details, created, updated FROM items"
                      " WHERE vault_id = ?1 ORDER BY id",
                      v);
    assert_int_equal(same_rows(a,
                               "SELECT id, type, key_sn, attrs, attr_version, content_version,"
                               " items, created, updated FROM vaults WHERE id = ?1",
                               c,
                               "SELECT id, type, key_sn, attrs, attr_version, content_version,"
                               " items, created, updated FROM vaults WHERE id = ?1",
                               v),
                     1);
    char q[256];
    snprintf(q, sizeof q,
             "SELECT vault_id, key_sn, enc_key, acl, granted, grant_sig FROM vault_access"
             " WHERE accessor_type = 'server' AND accessor_id = '%s' AND vault_id = ?1",
             x->server);
    assert_int_equal(same_rows(a, q, c,
                               "SELECT vault_id, key_sn, enc_key, acl, granted, grant_sig"
                               " FROM vault_access WHERE vault_id = ?1",
                               v),
                     1);
    same_rows(a,
              "SELECT f.file_id, f.idx, f.blob FROM files f JOIN items i ON i.id = f.item_id"
              " WHERE i.vault_id = ?1 AND i.state = 'active' ORDER BY f.file_id, f.idx",
              c, "SELECT file_id, idx, blob FROM files WHERE vault_id = ?1 ORDER BY file_id, idx",
              v);
    snprintf(q, sizeof q,
             "SELECT jti, name, scopes, created, COALESCE(expires, 0), state FROM tokens"
             " WHERE server_id = '%s' ORDER BY jti",
             x->server);
    same_rows(a, q, c, "SELECT jti, name, scopes, created, expires, state FROM tokens ORDER BY jti",
              NULL);
    same_rows(a, "SELECT kid, jwk FROM issuer_keys ORDER BY kid", c,
              "SELECT kid, jwk FROM issuer_keys ORDER BY kid", NULL);
    sqlite3_close(a);
    sqlite3_close(c);
    return n;
}

static void test_cache_open_modes(void **state)
{
    (void)state;
    char dir[] = "/tmp/opc-cache-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/a/b/1password.sqlite", dir);
    opc__cache *c = NULL;
    opc__ebuf eb;
    assert_int_equal(opc__cache_open(path, OPC_CACHE_READ, &c, &eb), OPC_ERR_NOT_FOUND);
    assert_int_equal(opc__cache_open(path, OPC_CACHE_CREATE, &c, &eb), OPC_OK);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char sub[256];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    assert_int_equal(stat(sub, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    /* Writes in a transaction; a reader sees them and its data_version moves. */
    opc__cache *r = NULL;
    assert_int_equal(opc__cache_open(path, OPC_CACHE_READ, &r, &eb), OPC_OK);
    int64_t dv1 = 0;
    int64_t dv2 = 0;
    assert_int_equal(opc__cache_data_version(r, &dv1, &eb), OPC_OK);
    opc__cache_token t = {.name = (char *)(uintptr_t) "n",
                          .scopes = (char *)(uintptr_t) "[]",
                          .state = (char *)(uintptr_t) "active",
                          .created = 5};
    memcpy(t.jti, "aaaaaaaaaaaaaaaaaaaaaaaaaa", 27);
    memcpy(t.server, "bbbbbbbbbbbbbbbbbbbbbbbbbb", 27);
    assert_int_equal(opc__cache_begin(c, true, &eb), OPC_OK);
    assert_int_equal(opc__cache_token_put(c, &t, &eb), OPC_OK);
    assert_int_equal(opc__cache_set_cursor(c, 42, &eb), OPC_OK);
    opc__cache_rollback(c);
    opc__cache_token got = {0};
    assert_int_equal(opc__cache_token_get(r, t.jti, &got, &eb), OPC_ERR_NOT_FOUND);
    assert_int_equal(opc__cache_begin(c, true, &eb), OPC_OK);
    assert_int_equal(opc__cache_token_put(c, &t, &eb), OPC_OK);
    assert_int_equal(opc__cache_set_cursor(c, 42, &eb), OPC_OK);
    assert_int_equal(opc__cache_commit(c, &eb), OPC_OK);
    assert_int_equal(opc__cache_data_version(r, &dv2, &eb), OPC_OK);
    assert_true(dv1 != dv2);
    assert_int_equal(opc__cache_token_get(r, t.jti, &got, &eb), OPC_OK);
    assert_string_equal(got.state, "active");
    assert_int_equal(got.created, 5);
    opc__cache_token_clear(&got);
    int64_t cur = 0;
    assert_int_equal(opc__cache_cursor(r, &cur, &eb), OPC_OK);
    assert_int_equal(cur, 42);
    /* The reader cannot write. */
    assert_int_equal(opc__cache_set_cursor(r, 1, &eb), OPC_ERR_INVALID_ARG);
    opc__cache_close(r);
    opc__cache_close(c);
    /* Not a cache file. */
    char other[256];
    snprintf(other, sizeof other, "%s/other.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    fx_exec(db, "CREATE TABLE x (y); PRAGMA application_id = 7;");
    sqlite3_close(db);
    assert_int_equal(opc__cache_open(other, OPC_CACHE_WRITE, &c, &eb), OPC_ERR_PARSE);
    nftw(dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_sync_mirrors_the_account(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 12);
    char doc[] = "file content canary-file";
    opc_secret *out = NULL;
    FX_OK(x.f.a, opc_account_document_create(x.f.a, x.v1, "Doc", "a.txt", doc, sizeof doc, &out));
    opc_secret_free(out);
    opc_sync *s = sx_sync(&x, 5);
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), 13);
    opc__cache *c = opc__sync_cache(s);
    opc__cache_vault v = {0};
    assert_int_equal(opc__cache_vault_get(c, x.v2, &v, NULL), OPC_ERR_NOT_FOUND);
    assert_int_equal(opc__cache_vault_get(c, x.v1, &v, NULL), OPC_OK);
    opc__cache_vault_clear(&v);
    opc__cache_token t = {0};
    assert_int_equal(opc__cache_token_get(c, x.jti, &t, NULL), OPC_OK);
    assert_string_equal(t.state, "active");
    opc__cache_token_clear(&t);
    int64_t n = 0;
    assert_int_equal(opc__cache_item_count(c, NULL, &n, NULL), OPC_OK);
    assert_int_equal(n, 13);

    /* Incremental: an edit, a new item, a deletion. */
    char id[27];
    char json[256];
    snprintf(json, sizeof json, ITEM_JSON, 100, 100);
    fx_item(x.f.a, x.v1, json, id);
    snprintf(json, sizeof json, ITEM_JSON, 101, 101);
    FX_OK(x.f.a, opc_account_item_replace(x.f.a, x.v1, id, json, 1, &out));
    opc_secret_free(out);
    char gone[27];
    fx_item(x.f.a, x.v1, "{\"title\":\"short-lived\",\"category\":\"LOGIN\"}", gone);
    FX_OK(x.f.a, opc_account_item_delete(x.f.a, x.v1, gone, 0));
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), 14);
    opc__cache_item it = {0};
    assert_int_equal(opc__cache_item_get(c, x.v1, id, &it, NULL), OPC_OK);
    assert_int_equal(it.version, 2);
    opc__cache_item_clear(&it);
    assert_int_equal(opc__cache_item_get(c, x.v1, gone, &it, NULL), OPC_ERR_NOT_FOUND);

    /* Token revoked: the registry row follows. */
    FX_OK(x.f.a, opc_account_token_revoke(x.f.a, x.jti, NULL));
    sx_run(s);
    assert_int_equal(opc__cache_token_get(c, x.jti, &t, NULL), OPC_OK);
    assert_string_equal(t.state, "revoked");
    opc__cache_token_clear(&t);

    /* Grant revoked: the vault and everything in it vanish. */
    FX_OK(x.f.a, opc_account_server_revoke(x.f.a, "Web", x.v1));
    sx_run(s);
    assert_int_equal(opc__cache_vault_get(c, x.v1, &v, NULL), OPC_ERR_NOT_FOUND);
    opc__cache_access ac = {0};
    assert_int_equal(opc__cache_access_get(c, x.v1, &ac, NULL), OPC_ERR_NOT_FOUND);
    assert_int_equal(opc__cache_item_count(c, NULL, &n, NULL), 0);
    assert_int_equal(n, 0);
    sqlite3 *db = open_ro(x.cache_path);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM files"), 0);
    sqlite3_close(db);

    /* Granted again: it all comes back. */
    FX_OK(x.f.a, opc_account_server_grant(x.f.a, "Web", x.v1));
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), 14);
    opc_sync_free(s);

    /* No plaintext in the cache file. */
    size_t len = 0;
    unsigned char *bytes = fx_read_file(x.cache_path, &len);
    assert_non_null(bytes);
    for (size_t i = 0; i + 7 <= len; i++) {
        assert_false(memcmp(bytes + i, "canary-", 7) == 0);
        assert_false(i + 6 <= len && memcmp(bytes + i, "Shared", 6) == 0);
    }
    free(bytes);
    sx_teardown(&x);
}

static void test_sync_upstream_gone(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 3);
    opc_sync *s = sx_sync(&x, 100);
    sx_run(s);
    char moved[300];
    snprintf(moved, sizeof moved, "%s.away", x.f.path);
    assert_int_equal(rename(x.f.path, moved), 0);
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_ERR_IO);
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_ERR_IO);
    char *h = NULL;
    assert_int_equal(opc_sync_health_json(s, &h), OPC_OK);
    cJSON *j = fx_json(h);
    opc_free(h);
    assert_int_equal((int)fx_num(j, "consecutiveFailures"), 2);
    assert_string_equal(fx_str(j, "upstream"), "unreachable");
    assert_non_null(strstr(fx_str(j, "lastError"), "upstream"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "initialSyncComplete")));
    cJSON_Delete(j);
    /* Backoff grows to its cap. */
    assert_true(opc__sync_backoff_ms(s, 1) <= 100);
    assert_true(opc__sync_backoff_ms(s, 1) >= 80);
    assert_true(opc__sync_backoff_ms(s, 4) >= 640);
    assert_true(opc__sync_backoff_ms(s, 4) <= 800);
    assert_true(opc__sync_backoff_ms(s, 50) <= 30000);
    assert_true(opc__sync_backoff_ms(s, 50) >= 24000);
    /* Reads from the cache still work, from another handle too. */
    opc__cache *r = NULL;
    assert_int_equal(opc__cache_open(x.cache_path, OPC_CACHE_READ, &r, NULL), OPC_OK);
    int64_t n = 0;
    assert_int_equal(opc__cache_item_count(r, x.v1, &n, NULL), OPC_OK);
    assert_int_equal(n, 3);
    opc__cache_close(r);
    /* Back: the sync recovers and catches up with a change made meanwhile. */
    assert_int_equal(rename(moved, x.f.path), 0);
    fx_item(x.f.a, x.v1, "{\"title\":\"later\",\"category\":\"LOGIN\"}", NULL);
    sx_run(s);
    assert_int_equal(opc_sync_health_json(s, &h), OPC_OK);
    j = fx_json(h);
    opc_free(h);
    assert_int_equal((int)fx_num(j, "consecutiveFailures"), 0);
    assert_string_equal(fx_str(j, "upstream"), "ok");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "lastError")));
    cJSON_Delete(j);
    assert_int_equal(sx_compare(&x, x.v1), 4);
    opc_sync_free(s);
    sx_teardown(&x);
}

static void test_sync_thread_propagates(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 2);
    opc_sync *s = sx_sync(&x, 100);
    opc__sync_set_wait_ms(s, 500);
    assert_int_equal(opc_sync_start(s), OPC_OK);
    opc__cache *r = NULL;
    for (int i = 0; i < 200 && r == NULL; i++) {
        if (opc__cache_open(x.cache_path, OPC_CACHE_READ, &r, NULL) != OPC_OK) {
            r = NULL;
            nap_ms(10);
        }
    }
    assert_non_null(r);
    bool done = false;
    for (int i = 0; i < 300 && !done; i++) {
        assert_int_equal(opc__cache_initial_sync_complete(r, &done, NULL), OPC_OK);
        nap_ms(10);
    }
    assert_true(done);
    FX_OK(x.f.a, opc_account_token_revoke(x.f.a, x.jti, NULL));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool revoked = false;
    while (!revoked) {
        opc__cache_token t = {0};
        assert_int_equal(opc__cache_token_get(r, x.jti, &t, NULL), OPC_OK);
        revoked = strcmp(t.state, "revoked") == 0;
        opc__cache_token_clear(&t);
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (!revoked && el > 1.0) {
            fail_msg("revocation took more than 1 s to reach the cache");
        }
        nap_ms(5);
    }
    opc__cache_close(r);
    opc_sync_stop(s);
    opc_sync_free(s);
    sx_teardown(&x);
}

static void test_sync_crash_safety(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 5000);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        opc_sync *s = NULL;
        if (opc_sync_create(x.creds, x.cache_path, &s, NULL, 0) != OPC_OK) {
            _exit(3);
        }
        opc__sync_set_page_size(s, 50);
        for (;;) {
            if (opc_sync_run_once(s, NULL, 0) != OPC_OK) {
                _exit(4);
            }
        }
    }
    /* Kill it once the cursor passed a few pages, mid-way through the items. */
    int64_t cursor = 0;
    for (int i = 0; i < 3000 && cursor < 1500; i++) {
        opc__cache *r = NULL;
        if (opc__cache_open(x.cache_path, OPC_CACHE_READ, &r, NULL) == OPC_OK) {
            if (opc__cache_cursor(r, &cursor, NULL) != OPC_OK) {
                cursor = 0;
            }
            opc__cache_close(r);
        }
        nap_ms(2);
    }
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_true(cursor >= 1500);
    /* The cache is consistent: its items are a prefix-closed subset, and a
     * new sync resumes and completes. */
    sqlite3 *db = open_ro(x.cache_path);
    int64_t partial = fx_count(db, "SELECT COUNT(*) FROM items");
    int64_t at = fx_count(db, "SELECT feed_cursor FROM meta");
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    /* Every cached item of the vault is whole (both envelopes present). */
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM items WHERE overview = '' OR details = ''"),
                     0);
    sqlite3_close(db);
    assert_true(at >= 1500);
    assert_true(partial < 5000);
    opc_sync *s = sx_sync(&x, 500);
    sx_run(s);
    opc_sync_free(s);
    assert_int_equal(sx_compare(&x, x.v1), 5000);
    sx_teardown(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_open_modes),   cmocka_unit_test(test_sync_mirrors_the_account),
        cmocka_unit_test(test_sync_upstream_gone), cmocka_unit_test(test_sync_thread_propagates),
        cmocka_unit_test(test_sync_crash_safety),
    };
    return cmocka_run_group_tests_name("sync", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
