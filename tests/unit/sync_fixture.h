/*
 * tests/unit/sync_fixture.h - helpers shared by the tests of lib/cache,
 * lib/upstream and lib/sync: an account (account_fixture.h) with two
 * vaults, a Connect server "Web" granted the first ("Shared") and a
 * read token; a cache path in the test directory; running a sync until it
 * caught up; comparing the cache with the account row by row.
 */
#ifndef OPC_TEST_SYNC_FIXTURE_H
#define OPC_TEST_SYNC_FIXTURE_H

#include "account_fixture.h"

#include <stdbool.h>

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

static OPC_TEST_UNUSED void sx_setup(sx *x, int items)
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
    cJSON *s = fx_server(x->f.a, "Web", vaults, 1, &x->creds);
    snprintf(x->server, sizeof x->server, "%s", fx_str(s, "id"));
    cJSON_Delete(s);
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

static OPC_TEST_UNUSED void sx_teardown(sx *x)
{
    opc_credentials_free(x->creds);
    fx_destroy(&x->f);
}

static OPC_TEST_UNUSED opc_sync *sx_sync(sx *x, size_t page)
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
static OPC_TEST_UNUSED void sx_run(opc_sync *s)
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

static OPC_TEST_UNUSED void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static OPC_TEST_UNUSED sqlite3 *open_ro(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* Both queries give the same rows, column by column; returns the row count. */
static OPC_TEST_UNUSED int same_rows(sqlite3 *a, const char *qa, sqlite3 *b, const char *qb,
                                     const char *p)
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
static OPC_TEST_UNUSED int sx_compare(sx *x, const char *v)
{
    sqlite3 *a = open_ro(x->f.path);
    sqlite3 *c = open_ro(x->cache_path);
    int n = same_rows(a,
                      "SELECT id, version, key_sn, overview, details, created, updated,"
                      " upper(COALESCE(editor, (SELECT id FROM account))) FROM items"
                      " WHERE vault_id = ?1 AND state = 'active' ORDER BY id",
                      c,
                      "SELECT id, version, key_sn, overview, details, created, updated,"
                      " last_edited_by FROM items WHERE vault_id = ?1 ORDER BY id",
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

#endif
