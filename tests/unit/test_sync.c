/*
 * tests/unit/test_sync.c - lib/cache, lib/upstream (local) and lib/sync:
 * an account with a Connect server synced into a temporary cache and
 * compared row by row; incremental changes; grant and token revocation; an
 * unreachable upstream with backoff and recovery; crash safety (a child
 * SIGKILLed in the middle of an initial sync of 5,000 items).
 */
#include "sync_fixture.h"

#include <signal.h>
#include <sys/wait.h>

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
    /* The sync commits each page with its cursor, so the cache holds exactly
     * the vault's items whose change is at or before the cursor (none after
     * it, none missing), each whole; and a new sync resumes and completes. */
    sqlite3 *db = open_ro(x.cache_path);
    int64_t partial = fx_count(db, "SELECT COUNT(*) FROM items");
    int64_t at = fx_count(db, "SELECT feed_cursor FROM meta");
    char q[192];
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM items WHERE seq > %lld", (long long)at);
    assert_int_equal(fx_count(db, q), 0);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM items WHERE overview = '' OR details = ''"),
                     0);
    sqlite3_close(db);
    db = open_ro(x.f.path);
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM items WHERE vault_id = '%s' AND seq <= %lld", x.v1,
             (long long)at);
    assert_int_equal(fx_count(db, q), partial);
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
