/*
 * tests/unit/test_sync.c - lib/cache, lib/upstream (local) and lib/sync:
 * an account with a Connect server synced into a temporary cache and
 * compared row by row; incremental changes; grant and token revocation; an
 * unreachable upstream with backoff and recovery; crash safety (a child
 * SIGKILLed in the middle of a sync of 5,000 item changes, and in the
 * middle of the grant load of an initial sync of 3,000 items).
 */
#include "sync_fixture.h"

#include <signal.h>
#include <sys/wait.h>

#include "account/feed.h"
#include "core/alloc.h"
#include "credentials/credentials.h"
#include "view/keys.h"
#include "model/file.h"

static void test_cache_open_modes(void **state)
{
    (void)state;
    char dir[64];
    char path[256];
    opc_test_mkdtemp(dir, sizeof dir, "opc-cache-test", "a/b/1password.sqlite", path, sizeof path);
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

/* An idle sync writes nothing into the cache (connect-api rebuilds its
 * index on every change of it), yet reports its successes. */
static void test_sync_idle_steps_leave_the_cache_alone(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 3);
    opc_sync *s = sx_sync(&x, 50);
    sx_run(s);
    opc__ebuf eb;
    opc__cache *r = NULL;
    assert_int_equal(opc__cache_open(x.cache_path, OPC_CACHE_READ, &r, &eb), OPC_OK);
    int64_t dv0 = 0;
    int64_t dv = 0;
    assert_int_equal(opc__cache_data_version(r, &dv0, &eb), OPC_OK);
    opc__cache_meta m0;
    assert_int_equal(opc__cache_meta_get(r, &m0, &eb), OPC_OK);
    opc__sync_health h0;
    const char *up = NULL;
    opc__sync_health_get(s, &h0, &up);
    char err[OPC_ERRBUF_SIZE];
    for (int i = 0; i < 5; i++) {
        nap_ms(5);
        assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_OK);
    }
    assert_int_equal(opc__cache_data_version(r, &dv, &eb), OPC_OK);
    assert_int_equal(dv, dv0);
    opc__cache_meta m1;
    assert_int_equal(opc__cache_meta_get(r, &m1, &eb), OPC_OK);
    assert_int_equal(m1.last_success_ms, m0.last_success_ms);
    opc__sync_health h1;
    opc__sync_health_get(s, &h1, &up);
    assert_string_equal(up, "ok");
    assert_true(h1.last_success_ms >= h0.last_success_ms + 20);
    assert_int_equal(h1.failures, 0);
    /* A change upstream is a write again, with its success recorded. */
    char id[27];
    fx_item(x.f.a, x.v1, "{\"title\":\"new\",\"category\":\"LOGIN\"}", id);
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_OK);
    assert_int_equal(opc__cache_data_version(r, &dv, &eb), OPC_OK);
    assert_true(dv != dv0);
    assert_int_equal(opc__cache_meta_get(r, &m1, &eb), OPC_OK);
    assert_true(m1.last_success_ms >= h1.last_success_ms);
    assert_int_equal(sx_compare(&x, x.v1), 4);
    opc__cache_close(r);
    opc_sync_free(s);
    sx_teardown(&x);
}

/* The account restored to an earlier point: its feed ends before the
 * cache's cursor. The sync empties the cache and starts again, so what the
 * cache held beyond that point (here a planted item) is gone. */
static void test_sync_restored_account_starts_again(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 3);
    opc_sync *s = sx_sync(&x, 50);
    sx_run(s);
    int n = sx_compare(&x, x.v1);
    assert_true(n > 0);
    opc__ebuf eb;
    int64_t cursor = 0;
    assert_int_equal(opc__cache_cursor(opc__sync_cache(s), &cursor, &eb), OPC_OK);
    sqlite3 *c = NULL;
    assert_int_equal(sqlite3_open(x.cache_path, &c), SQLITE_OK);
    char *err_sql = NULL;
    int src = sqlite3_exec(c,
                           "INSERT INTO items (id, vault_id, version, state, key_sn, overview,"
                           " details, created, updated, last_edited_by, seq)"
                           " SELECT 'zzzzzzzzzzzzzzzzzzzzzzzzzz', vault_id, version, state,"
                           " key_sn, overview, details, created, updated, last_edited_by, seq"
                           " FROM items LIMIT 1",
                           NULL, NULL, &err_sql);
    if (src != SQLITE_OK) {
        fail_msg("planting: %s", err_sql != NULL ? err_sql : "?");
    }
    sqlite3_close(c);
    /* The cursor is sealed state (cache.h, "Verified rows"): move it as
     * this server would, through a handle with its key. */
    uint8_t key[OPC_CACHE_MAC_LEN];
    assert_int_equal(opc__credentials_cache_key(x.creds, key), OPC_OK);
    opc__cache *w = NULL;
    assert_int_equal(opc__cache_open(x.cache_path, OPC_CACHE_WRITE, &w, &eb), OPC_OK);
    opc__cache_set_key(w, key);
    assert_int_equal(opc__cache_set_cursor(w, cursor + 1000, &eb), OPC_OK);
    opc__cache_close(w);
    char err[OPC_ERRBUF_SIZE];
    /* One step sees the feed behind the cursor and empties the cache. */
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_OK);
    opc__cache_meta m;
    assert_int_equal(opc__cache_meta_get(opc__sync_cache(s), &m, NULL), OPC_OK);
    assert_int_equal(m.cursor, 0);
    assert_false(m.initial_sync_complete);
    /* Then it syncs again: the cache equals the account, the planted item gone. */
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), n);
    opc_sync_free(s);
    sx_teardown(&x);
}

/* The cache key comes from the credentials (deterministic, the server's
 * own); the sync seals the cache with it. A grant row edited while the
 * sync was stopped fails: the next step empties the cache and the sync
 * fetches everything again (cache.h, "Verified rows"). */
static void test_sync_tampered_rows_synced_again(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 2);
    opc_sync *s = sx_sync(&x, 50);
    sx_run(s);
    int n = sx_compare(&x, x.v1);
    assert_true(n > 0);
    uint8_t k1[OPC_CACHE_MAC_LEN];
    uint8_t k2[OPC_CACHE_MAC_LEN];
    assert_int_equal(opc__credentials_cache_key(x.creds, k1), OPC_OK);
    assert_int_equal(opc__credentials_cache_key(x.creds, k2), OPC_OK);
    assert_memory_equal(k1, k2, sizeof k1);
    assert_int_equal(opc__credentials_cache_key(NULL, k2), OPC_ERR_INVALID_ARG);
    opc__cache *r = NULL;
    assert_int_equal(opc__cache_open(x.cache_path, OPC_CACHE_READ, &r, NULL), OPC_OK);
    opc__cache_set_key(r, k1);
    opc__cache_check chk;
    assert_int_equal(opc__cache_verify(r, &chk, NULL), OPC_OK);
    assert_true(chk.ok);
    memcpy(k2, k1, sizeof k2);
    k2[0] ^= 1;
    opc__cache_set_key(r, k2);
    assert_int_equal(opc__cache_verify(r, &chk, NULL), OPC_OK);
    assert_false(chk.ok);
    opc__cache_set_key(r, k1);
    sqlite3 *c = NULL;
    assert_int_equal(sqlite3_open(x.cache_path, &c), SQLITE_OK);
    assert_int_equal(sqlite3_exec(c, "UPDATE vault_access SET acl = 1", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);
    assert_int_equal(opc__cache_verify(r, &chk, NULL), OPC_OK);
    assert_false(chk.ok);
    assert_int_equal(chk.bad_rows, 1);
    assert_string_equal(chk.bad[0].table, "vault_access");
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_OK);
    opc__cache_meta m;
    assert_int_equal(opc__cache_meta_get(opc__sync_cache(s), &m, NULL), OPC_OK);
    assert_int_equal(m.cursor, 0);
    assert_false(m.initial_sync_complete);
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), n);
    assert_int_equal(opc__cache_verify(r, &chk, NULL), OPC_OK);
    assert_true(chk.ok);
    opc__cache_close(r);
    opc_sync_free(s);
    sx_teardown(&x);
}

/* A synced grant row carries the owner's signature for this server
 * (view/keys.h): an edited acl, key serial, wrapped key or time, another
 * server's id or another account's id does not verify. */
static opc_err grant_first(const opc__cache_access *a, void *ud)
{
    opc__cache_access *out = ud;
    if (out->enc_key == NULL) {
        *out = *a;
        out->enc_key = opc__strdup(a->enc_key);
        out->grant_sig = opc__strdup(a->grant_sig);
    }
    return OPC_OK;
}

static void test_sync_grant_rows_signed(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 1);
    opc_sync *s = sx_sync(&x, 50);
    sx_run(s);
    opc__cache_access a;
    memset(&a, 0, sizeof a);
    assert_int_equal(opc__cache_access_foreach(opc__sync_cache(s), grant_first, &a, NULL), OPC_OK);
    assert_non_null(a.enc_key);
    const char *sid = opc_credentials_server_id(x.creds);
    const char *aid = opc_credentials_account_id(x.creds);
    assert_true(opc__vault_grant_signed(x.creds, sid, aid, &a));
    opc__cache_access b = a;
    b.acl ^= 1;
    assert_false(opc__vault_grant_signed(x.creds, sid, aid, &b));
    b = a;
    b.key_sn++;
    assert_false(opc__vault_grant_signed(x.creds, sid, aid, &b));
    b = a;
    b.granted++;
    assert_false(opc__vault_grant_signed(x.creds, sid, aid, &b));
    b = a;
    char other_key[] = "AAAA";
    b.enc_key = other_key;
    assert_false(opc__vault_grant_signed(x.creds, sid, aid, &b));
    assert_false(opc__vault_grant_signed(x.creds, "zzzzzzzzzzzzzzzzzzzzzzzzzz", aid, &a));
    assert_false(opc__vault_grant_signed(x.creds, sid, "zzzzzzzzzzzzzzzzzzzzzzzzzz", &a));
    opc__cache_access_clear(&a);
    opc_sync_free(s);
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

/*
 * A child syncing with feed pages of `page` entries and a batch budget of
 * `batch` bytes, SIGKILLed once the cache shows a cursor of at least
 * min_cursor and at least min_items items.
 */
static void sync_and_kill(sx *x, size_t page, size_t batch, int64_t min_cursor, int64_t min_items)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        opc_sync *s = NULL;
        if (opc_sync_create(x->creds, x->cache_path, &s, NULL, 0) != OPC_OK) {
            _exit(3);
        }
        opc__sync_set_page_size(s, page);
        opc__sync_set_fetch_limits(s, OPC_SYNC_ITEM_PAGE, OPC_SYNC_CHUNK_PAGE, batch);
        for (;;) {
            if (opc_sync_run_once(s, NULL, 0) != OPC_OK) {
                _exit(4);
            }
        }
    }
    int64_t cursor = 0;
    int64_t items = 0;
    for (int i = 0; i < 5000 && (cursor < min_cursor || items < min_items); i++) {
        opc__cache *r = NULL;
        if (opc__cache_open(x->cache_path, OPC_CACHE_READ, &r, NULL) == OPC_OK) {
            if (opc__cache_cursor(r, &cursor, NULL) != OPC_OK ||
                opc__cache_item_count(r, NULL, &items, NULL) != OPC_OK) {
                cursor = 0;
                items = 0;
            }
            opc__cache_close(r);
        }
        nap_ms(2);
    }
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_true(cursor >= min_cursor);
    assert_true(items >= min_items);
}

static void test_sync_crash_safety(void **state)
{
    (void)state;
    sx x;
    /* The items come after the initial sync: the sync applies their feed
     * entries page by page (before it, a later grant would load them). */
    sx_setup(&x, 0);
    opc_sync *first = sx_sync(&x, 500);
    sx_run(first);
    opc_sync_free(first);
    char json[256];
    for (int i = 0; i < 5000; i++) {
        snprintf(json, sizeof json, ITEM_JSON, i, i);
        fx_item(x.f.a, x.v1, json, NULL);
    }
    /* Kill it once the cursor passed a few pages, mid-way through the items. */
    sync_and_kill(&x, 50, OPC_SYNC_BATCH_BYTES, 1500, 0);
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
    /* The initial sync was complete: step until the cursor stays put. */
    opc_sync *s = sx_sync(&x, 500);
    for (int64_t was = -1; was != at;) {
        was = at;
        assert_int_equal(opc_sync_run_once(s, NULL, 0), OPC_OK);
        assert_int_equal(opc__cache_cursor(opc__sync_cache(s), &at, NULL), OPC_OK);
    }
    opc_sync_free(s);
    assert_int_equal(sx_compare(&x, x.v1), 5000);
    sx_teardown(&x);
}

/*
 * The items come before the grant (the usual order): the initial sync skips
 * their feed entries and loads them with the grant, in transactions of the
 * batch budget. Killed in the middle of that load, the cache holds whole
 * items but neither the grant nor a cursor past it; a new sync replays the
 * grant and completes.
 */
static void test_sync_crash_during_a_skipped_grant_load(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 3000);
    sync_and_kill(&x, 50, 64 * 1024, 0, 500);
    sqlite3 *db = open_ro(x.cache_path);
    int64_t partial = fx_count(db, "SELECT COUNT(*) FROM items");
    int64_t at = fx_count(db, "SELECT feed_cursor FROM meta");
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM vault_access"), 0);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM items WHERE overview = '' OR details = ''"),
                     0);
    sqlite3_close(db);
    db = open_ro(x.f.path);
    char q[192];
    snprintf(q, sizeof q, "SELECT MIN(seq) FROM changes WHERE kind = 'grant' AND vault_id = '%s'",
             x.v1);
    assert_true(at < fx_count(db, q));
    sqlite3_close(db);
    assert_true(partial >= 500 && partial < 3000);
    opc_sync *s = sx_sync(&x, 500);
    sx_run(s);
    opc_sync_free(s);
    assert_int_equal(sx_compare(&x, x.v1), 3000);
    sx_teardown(&x);
}

/* ---- fetch first, apply after: an upstream that watches the cache's lock ---- */

static opc__upstream_ops real_ops;
static opc__upstream_ops watched_ops;
static const char *watched_cache;
static int probes;
static int vault_item_calls;
static int item_calls;
static int item_file_calls;
static int item_file_next_pages; /* calls for a page after the first */
static int vault_file_calls;
static int vault_file_next_pages; /* calls after a chunk of the range */
static int fail_vault_items_at;  /* that call fails with OPC_ERR_IO (0: none) */

/* Another connection takes the cache's write lock while the upstream is asked. */
static void probe(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(watched_cache, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    /* No busy wait: the lock must be free right now. */
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    probes++;
}

static opc_err w_access(opc__upstream *u, const char *id, cJSON **out, opc__ebuf *eb)
{
    probe();
    return real_ops.access(u, id, out, eb);
}

static opc_err w_vault(opc__upstream *u, const char *id, cJSON **out, opc__ebuf *eb)
{
    probe();
    return real_ops.vault(u, id, out, eb);
}

static opc_err w_item(opc__upstream *u, const char *id, cJSON **out, opc__ebuf *eb)
{
    probe();
    item_calls++;
    return real_ops.item(u, id, out, eb);
}

static opc_err w_token(opc__upstream *u, const char *id, cJSON **out, opc__ebuf *eb)
{
    probe();
    return real_ops.token(u, id, out, eb);
}

static opc_err w_vault_items(opc__upstream *u, const char *vault, const char *after, size_t limit,
                             cJSON **out, opc__ebuf *eb)
{
    probe();
    if (++vault_item_calls == fail_vault_items_at) {
        return opc__fail(eb, OPC_ERR_IO, "upstream: injected failure");
    }
    return real_ops.vault_items(u, vault, after, limit, out, eb);
}

static opc_err w_item_files(opc__upstream *u, const char *item, const char *after_file,
                            int64_t after_idx, size_t limit, cJSON **out, opc__ebuf *eb)
{
    probe();
    item_file_calls++;
    item_file_next_pages += after_file != NULL && after_file[0] != '\0';
    return real_ops.item_files(u, item, after_file, after_idx, limit, out, eb);
}

static opc_err w_vault_files(opc__upstream *u, const char *vault, const char *after_item,
                             const char *after_file, int64_t after_idx, const char *last_item,
                             size_t limit, cJSON **out, opc__ebuf *eb)
{
    probe();
    vault_file_calls++;
    vault_file_next_pages += after_file != NULL && after_file[0] != '\0';
    return real_ops.vault_files(u, vault, after_item, after_file, after_idx, last_item, limit,
                                out, eb);
}

/* The fixture's account as the server's local upstream. */
static opc__upstream *local_upstream(sx *x)
{
    opc__upstream *u = NULL;
    const char *account = opc_credentials_account_id(x->creds);
    assert_int_equal(opc__upstream_local_open(x->f.path, x->server, account, &u, NULL), OPC_OK);
    return u;
}

/* A sync over the fixture's account whose upstream probes the cache's lock. */
static opc_sync *watched_sync(sx *x)
{
    opc__upstream *u = local_upstream(x);
    opc_sync *s = NULL;
    assert_int_equal(opc__sync_create_ex(u, x->cache_path, NULL, &s, NULL), OPC_OK);
    real_ops = *u->ops;
    watched_ops = real_ops;
    watched_ops.access = w_access;
    watched_ops.vault = w_vault;
    watched_ops.item = w_item;
    watched_ops.token = w_token;
    watched_ops.vault_items = w_vault_items;
    watched_ops.item_files = w_item_files;
    watched_ops.vault_files = w_vault_files;
    u->ops = &watched_ops;
    watched_cache = x->cache_path;
    probes = 0;
    vault_item_calls = 0;
    item_calls = 0;
    item_file_calls = 0;
    item_file_next_pages = 0;
    vault_file_calls = 0;
    vault_file_next_pages = 0;
    fail_vault_items_at = 0;
    return s;
}

/* A document of `chunks` full chunks plus a few bytes in vault v. */
static void big_document(sx *x, const char *v, size_t chunks)
{
    size_t len = chunks * OPC_FILE_CHUNK_SIZE + 10;
    char *doc = malloc(len);
    assert_non_null(doc);
    memset(doc, 'd', len);
    opc_secret *out = NULL;
    FX_OK(x->f.a, opc_account_document_create(x->f.a, v, "Big", "big.bin", doc, len, &out));
    opc_secret_free(out);
    free(doc);
}

static void test_sync_fetch_outside_the_write_lock(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 7);
    big_document(&x, x.v1, 2);
    opc_sync *s = watched_sync(&x);
    opc__sync_set_page_size(s, 4);
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), 8);
    /* The grant (its items, their files), the token: each fetch probed. */
    assert_true(vault_item_calls >= 1);
    assert_true(vault_file_calls >= 1);
    assert_true(probes >= vault_item_calls + vault_file_calls + 3);
    /* Incremental changes too. */
    int before = probes;
    char json[256];
    snprintf(json, sizeof json, ITEM_JSON, 50, 50);
    fx_item(x.f.a, x.v1, json, NULL);
    sx_run(s);
    assert_true(probes > before);
    assert_true(item_file_calls >= 1);
    assert_int_equal(sx_compare(&x, x.v1), 9);
    opc_sync_free(s);
    sx_teardown(&x);
}

static void test_sync_pages_a_large_vault(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 23);
    big_document(&x, x.v1, 5);
    opc_sync *s = watched_sync(&x);
    /* Items by 4, chunks by 2, and every item applied on its own. */
    opc__sync_set_fetch_limits(s, 4, 2, 1);
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), 24);
    /* The grant: 24 items in 6 full pages and an empty one, the files of
     * each page in one read, and the document's 6 chunks in 3 full pages and
     * an empty one. Its feed entries (after the grant) read them again, by
     * item: 3 pages after the first each time. */
    assert_int_equal(vault_item_calls, 7);
    assert_int_equal(vault_file_calls, 6 + 3);
    assert_int_equal(vault_file_next_pages, 3);
    assert_true(item_file_next_pages >= 2 * 3);
    assert_int_equal(item_file_next_pages % 3, 0);
    sqlite3 *db = open_ro(x.cache_path);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM files"), 6);
    sqlite3_close(db);
    opc_sync_free(s);
    sx_teardown(&x);
}

/*
 * Initial sync: the item entries before the vault's grant are skipped (the
 * grant loads the vault whole), also across feed pages; an item deleted
 * before the grant stays out; after the initial sync, item entries are
 * applied one by one again.
 */
static void test_sync_initial_skips_what_the_grant_reloads(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 30);
    char gone[27];
    fx_item(x.f.a, x.v1, "{\"title\":\"gone\",\"category\":\"LOGIN\"}", gone);
    FX_OK(x.f.a, opc_account_item_delete(x.f.a, x.v1, gone, 0));
    opc_sync *s = watched_sync(&x);
    opc__sync_set_page_size(s, 7);
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), 30);
    /* Only the item made (and deleted) after the grant is asked for. */
    assert_int_equal(item_calls, 1);
    assert_int_equal(vault_item_calls, 1);
    /* Every item's files: by the grant, in one read for its page. */
    assert_int_equal(item_file_calls, 0);
    assert_int_equal(vault_file_calls, 1);
    char json[256];
    snprintf(json, sizeof json, ITEM_JSON, 77, 77);
    fx_item(x.f.a, x.v1, json, NULL);
    sx_run(s);
    assert_int_equal(item_calls, 2);
    assert_int_equal(item_file_calls, 1);
    assert_int_equal(sx_compare(&x, x.v1), 31);
    opc_sync_free(s);
    sx_teardown(&x);
}

/*
 * The initial sync reads OPC_SYNC_INITIAL_PAGE_FACTOR times bigger feed
 * pages, each still committed with its cursor in one transaction: after the
 * first step, the cursor is the seq of the last entry of that bigger page,
 * and the cache holds nothing of the entries after it. Then the pages are
 * of the set size again.
 */
static void test_sync_initial_pages_are_bigger(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 40);
    const size_t page = 3;
    const size_t big = page * OPC_SYNC_INITIAL_PAGE_FACTOR;
    opc_account *a = fx_reopen(&x.f);
    cJSON *feed = NULL;
    int64_t last = 0;
    FX_OK(a, opc__account_changes(a, x.server, 0, big, &feed, &last));
    assert_int_equal(cJSON_GetArraySize(feed), (int)big);
    opc_account_free(a);
    opc_sync *s = sx_sync(&x, page);
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_OK);
    int64_t cursor = 0;
    assert_int_equal(opc__cache_cursor(opc__sync_cache(s), &cursor, NULL), OPC_OK);
    assert_int_equal(cursor, (int64_t)fx_num(cJSON_GetArrayItem(feed, (int)big - 1), "seq"));
    assert_int_equal(cursor, last);
    cJSON_Delete(feed);
    sqlite3 *db = open_ro(x.cache_path);
    char q[160];
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM items WHERE seq > %lld", (long long)cursor);
    assert_int_equal(fx_count(db, q), 0);
    sqlite3_close(db);
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), 40);
    /* Caught up: a change after it moves the cursor by a page of 3 at most. */
    char json[256];
    for (int i = 0; i < 5; i++) {
        snprintf(json, sizeof json, ITEM_JSON, 100 + i, 100 + i);
        fx_item(x.f.a, x.v1, json, NULL);
    }
    int64_t before = 0;
    assert_int_equal(opc__cache_cursor(opc__sync_cache(s), &before, NULL), OPC_OK);
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_OK);
    db = open_ro(x.cache_path);
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM items WHERE seq > %lld", (long long)before);
    assert_true(fx_count(db, q) <= (int64_t)page);
    sqlite3_close(db);
    opc_sync_free(s);
    sx_teardown(&x);
}

static void test_sync_grant_resumes_between_pages(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 10);
    opc_sync *s = watched_sync(&x);
    opc__sync_set_fetch_limits(s, 3, 2, 1);
    /* The third page of the grant fails: the pages before it are in the
     * cache, but neither the grant nor the cursor moved. */
    fail_vault_items_at = 3;
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_ERR_IO);
    sqlite3 *db = open_ro(x.cache_path);
    assert_int_equal(fx_count(db, "SELECT feed_cursor FROM meta"), 0);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM vault_access"), 0);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM vaults"), 0);
    /* What was applied is whole: items of earlier feed entries and pages. */
    assert_true(fx_count(db, "SELECT COUNT(*) FROM items") > 0);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM items WHERE overview = '' OR details = ''"),
                     0);
    sqlite3_close(db);
    /* Stray cached items the upstream does not have: before, between and
     * after the real ones; the replayed grant drops them. */
    opc__cache *c = opc__sync_cache(s);
    const char *stray[] = {"aaaaaaaaaaaaaaaaaaaaaaaaaa", "mmmmmmmmmmmmmmmmmmmmmmmmmm",
                           "77777777777777777777777777"};
    char active[] = "active";
    char env[] = "{}";
    for (size_t i = 0; i < 3; i++) {
        opc__cache_item it = {
            .version = 1, .state = active, .key_sn = 1, .overview = env, .details = env};
        memcpy(it.id, stray[i], sizeof it.id);
        memcpy(it.vault, x.v1, sizeof it.vault);
        assert_int_equal(opc__cache_item_put(c, &it, NULL, NULL), OPC_OK);
    }
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), 10);
    opc_sync_free(s);
    sx_teardown(&x);
}

static void test_upstream_pages_by_key(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 5);
    big_document(&x, x.v1, 2);
    opc__upstream *u = local_upstream(&x);
    cJSON *all = NULL;
    assert_int_equal(opc__upstream_vault_items(u, x.v1, NULL, 100, &all, NULL), OPC_OK);
    assert_int_equal(cJSON_GetArraySize(all), 6);
    /* Pages of two after each last id give the same rows in the same order. */
    char after[27] = "";
    int n = 0;
    for (;;) {
        cJSON *page = NULL;
        assert_int_equal(opc__upstream_vault_items(u, x.v1, after, 2, &page, NULL), OPC_OK);
        const cJSON *row = NULL;
        cJSON_ArrayForEach(row, page)
        {
            assert_true(cJSON_Compare(row, cJSON_GetArrayItem(all, n++), 1));
            snprintf(after, sizeof after, "%s", fx_str(row, "id"));
        }
        int got = cJSON_GetArraySize(page);
        cJSON_Delete(page);
        if (got < 2) {
            break;
        }
    }
    assert_int_equal(n, 6);
    /* The document's 3 chunks: one page after (file, 0) holds the other two. */
    const char *doc = NULL;
    cJSON *chunks = NULL;
    for (int i = 0; i < 6 && cJSON_GetArraySize(chunks) == 0; i++) {
        cJSON_Delete(chunks);
        doc = fx_str(cJSON_GetArrayItem(all, i), "id");
        assert_int_equal(opc__upstream_item_files(u, doc, NULL, 0, 10, &chunks, NULL), OPC_OK);
    }
    assert_int_equal(cJSON_GetArraySize(chunks), 3);
    const char *file = fx_str(cJSON_GetArrayItem(chunks, 0), "file_id");
    cJSON *rest = NULL;
    assert_int_equal(opc__upstream_item_files(u, doc, file, 0, 10, &rest, NULL), OPC_OK);
    assert_int_equal(cJSON_GetArraySize(rest), 2);
    assert_true(cJSON_Compare(cJSON_GetArrayItem(rest, 0), cJSON_GetArrayItem(chunks, 1), 1));
    assert_int_equal((int)fx_num(cJSON_GetArrayItem(rest, 1), "idx"), 2);
    cJSON_Delete(rest);
    /* The vault's chunks over its items' range, by (item, file, idx): all
     * three; one page of two, then the rest after the second's key; a range
     * that ends before the document holds none of them. */
    const char *first = fx_str(cJSON_GetArrayItem(all, 0), "id");
    const char *last = fx_str(cJSON_GetArrayItem(all, 5), "id");
    cJSON *vf = NULL;
    assert_int_equal(opc__upstream_vault_files(u, x.v1, first, NULL, 0, last, 10, &vf, NULL),
                     OPC_OK);
    assert_int_equal(cJSON_GetArraySize(vf), 3);
    assert_true(cJSON_Compare(vf, chunks, 1));
    cJSON_Delete(vf);
    assert_int_equal(opc__upstream_vault_files(u, x.v1, first, NULL, 0, last, 2, &vf, NULL),
                     OPC_OK);
    assert_int_equal(cJSON_GetArraySize(vf), 2);
    cJSON_Delete(vf);
    assert_int_equal(opc__upstream_vault_files(u, x.v1, doc, file, 1, last, 2, &vf, NULL), OPC_OK);
    assert_int_equal(cJSON_GetArraySize(vf), 1);
    assert_int_equal((int)fx_num(cJSON_GetArrayItem(vf, 0), "idx"), 2);
    cJSON_Delete(vf);
    if (strcmp(first, doc) < 0) {
        char before[27];
        for (int i = 0; i < 6; i++) {
            const char *id = fx_str(cJSON_GetArrayItem(all, i), "id");
            if (strcmp(id, doc) < 0) {
                snprintf(before, sizeof before, "%s", id);
            }
        }
        assert_int_equal(opc__upstream_vault_files(u, x.v1, first, NULL, 0, before, 10, &vf, NULL),
                         OPC_OK);
        assert_int_equal(cJSON_GetArraySize(vf), 0);
        cJSON_Delete(vf);
    }
    assert_int_equal(opc__upstream_vault_files(u, x.v1, last, NULL, 0, first, 10, &vf, NULL),
                     strcmp(first, last) == 0 ? OPC_OK : OPC_ERR_INVALID_ARG);
    cJSON_Delete(vf);
    cJSON_Delete(chunks);
    /* Arguments: a page of 0 or beyond the largest, an `after` that is no id. */
    cJSON *page = NULL;
    assert_int_equal(opc__upstream_vault_items(u, x.v1, NULL, 0, &page, NULL), OPC_ERR_RANGE);
    assert_int_equal(
        opc__upstream_vault_items(u, x.v1, NULL, OPC_UPSTREAM_MAX_LIMIT + 1, &page, NULL),
        OPC_ERR_RANGE);
    assert_int_equal(opc__upstream_vault_items(u, x.v1, "nope", 1, &page, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__upstream_item_files(u, x.v1, "nope", 0, 1, &page, NULL),
                     OPC_ERR_INVALID_ARG);
    assert_null(page);
    cJSON_Delete(all);
    opc__upstream_close(u);
    sx_teardown(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_open_modes),   cmocka_unit_test(test_sync_mirrors_the_account),
        cmocka_unit_test(test_sync_idle_steps_leave_the_cache_alone),
        cmocka_unit_test(test_sync_restored_account_starts_again),
        cmocka_unit_test(test_sync_tampered_rows_synced_again),
        cmocka_unit_test(test_sync_grant_rows_signed),
        cmocka_unit_test(test_sync_upstream_gone), cmocka_unit_test(test_sync_thread_propagates),
        cmocka_unit_test(test_sync_crash_safety),
        cmocka_unit_test(test_sync_crash_during_a_skipped_grant_load),
        cmocka_unit_test(test_sync_initial_skips_what_the_grant_reloads),
        cmocka_unit_test(test_sync_initial_pages_are_bigger),
        cmocka_unit_test(test_sync_fetch_outside_the_write_lock),
        cmocka_unit_test(test_sync_pages_a_large_vault),
        cmocka_unit_test(test_sync_grant_resumes_between_pages),
        cmocka_unit_test(test_upstream_pages_by_key),
    };
    return cmocka_run_group_tests_name("sync", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
