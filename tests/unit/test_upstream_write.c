/*
 * tests/unit/test_upstream_write.c - the write path below connect-api:
 * item writes by a Connect server (account/import.h) through the local
 * upstream (upstream.h item_put / item_delete), and their write-through
 * into the cache with the monotonic rule (cache.h).
 *
 * Envelopes are sealed here the way connect-api seals them: under the
 * vault key (taken from the unlocked owner handle, the same key the server
 * unwraps from its grant) with the item AADs of schema.c.
 *
 * Two groups: the first runs with cmocka's allocator (leak checks); the
 * second, whose threads allocate concurrently, with the system allocator.
 */
#include "sync_fixture.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account/export.h"
#include "account/feed.h"
#include "account/import.h"
#include "cache/cache_int.h"
#include "core/alloc.h"
#include "core/sqlite.h"

#define LOGIN_JSON                                                                                 \
    "{\"title\":\"%s\",\"category\":\"LOGIN\",\"fields\":[{\"id\":\"password\","                   \
    "\"purpose\":\"PASSWORD\",\"type\":\"CONCEALED\",\"value\":\"canary-%s\"}]}"

/* Envelopes of one item, as connect-api would send them. */
typedef struct sealed {
    char *ov;
    char *det;
    int64_t sn;
} sealed;

/* A server-side writer: the sync fixture plus a local upstream for server "Web". */
typedef struct wx {
    sx x;
    opc__upstream *u;
    char account[27];
    char editor[27]; /* the server id upper-cased: lastEditedBy of its writes */
    char id[27];     /* a fresh item id, unused so far */
    sealed s;        /* envelopes for item id in vault v1 (title "Connect item") */
    sealed s2;       /* the same for vault v2 (not granted) */
} wx;

static opc__upstream *open_upstream(const wx *w)
{
    opc__upstream *u = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__upstream_local_open(w->x.f.path, w->x.server, w->account, &u, &eb);
    if (rc != OPC_OK) {
        fail_msg("upstream open: %s (%s)", opc_errname(rc), eb.msg);
    }
    return u;
}

static void sealed_free(sealed *s)
{
    opc__free(s->ov);
    opc__free(s->det);
    memset(s, 0, sizeof *s);
}

static void seal_login(opc_account *a, const char *vault, const char *item, const char *title,
                       sealed *out)
{
    char json[512];
    snprintf(json, sizeof json, LOGIN_JSON, title, title);
    memset(out, 0, sizeof *out);
    fx_seal_item(a, vault, item, json, &out->ov, &out->det, &out->sn);
}

static void new_id(char out[27])
{
    assert_int_equal(opc__id_generate(out), OPC_OK);
}

static void wx_setup(wx *w, int items)
{
    memset(w, 0, sizeof *w);
    sx_setup(&w->x, items);
    snprintf(w->account, sizeof w->account, "%s", opc_account_id(w->x.f.a));
    for (size_t i = 0; i <= OPC_ID_LEN; i++) {
        char c = w->x.server[i];
        w->editor[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    w->u = open_upstream(w);
    new_id(w->id);
    seal_login(w->x.f.a, w->x.v1, w->id, "Connect item", &w->s);
    seal_login(w->x.f.a, w->x.v2, w->id, "Connect item", &w->s2);
}

static void wx_teardown(wx *w)
{
    sealed_free(&w->s);
    sealed_free(&w->s2);
    opc__upstream_close(w->u);
    sx_teardown(&w->x);
}

static opc_err put(opc__upstream *u, const char *vault, const char *item, int64_t expected,
                   const sealed *s, cJSON **item_row, cJSON **vault_row, opc__ebuf *eb)
{
    opc__item_write w = {vault, item, expected, s->sn, s->ov, s->det};
    opc__ebuf_clear(eb);
    return opc__upstream_item_put(u, &w, item_row, vault_row, eb);
}

/* put that must succeed; returns the new version (rows dropped). */
static int64_t put_ok(wx *w, const char *vault, const char *item, int64_t expected, const sealed *s)
{
    cJSON *it = NULL;
    cJSON *v = NULL;
    opc__ebuf eb;
    opc_err rc = put(w->u, vault, item, expected, s, &it, &v, &eb);
    if (rc != OPC_OK) {
        fail_msg("item put: %s (%s)", opc_errname(rc), eb.msg);
    }
    int64_t version = (int64_t)fx_num(it, "version");
    cJSON_Delete(it);
    cJSON_Delete(v);
    return version;
}

/* A write that must fail with `want`; the outputs stay NULL. */
static void put_fails(wx *w, const char *vault, const char *item, int64_t expected, const sealed *s,
                      opc_err want)
{
    cJSON *it = NULL;
    cJSON *v = NULL;
    opc__ebuf eb;
    opc_err rc = put(w->u, vault, item, expected, s, &it, &v, &eb);
    if (rc != want) {
        fail_msg("item put: got %s, want %s (%s)", opc_errname(rc), opc_errname(want), eb.msg);
    }
    assert_null(it);
    assert_null(v);
    assert_true(eb.msg[0] != '\0');
    assert_null(strstr(eb.msg, "canary"));
}

static void delete_fails(wx *w, const char *vault, const char *item, int64_t expected, opc_err want)
{
    cJSON *it = NULL;
    cJSON *v = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__upstream_item_delete(w->u, vault, item, expected, &it, &v, &eb);
    if (rc != want) {
        fail_msg("item delete: got %s, want %s (%s)", opc_errname(rc), opc_errname(want), eb.msg);
    }
    assert_null(it);
    assert_null(v);
}

/* An envelope's text with another kid (cJSON_free). */
static char *rekid(const char *env_text, const char *kid)
{
    cJSON *env = fx_json(env_text);
    cJSON_ReplaceItemInObjectCaseSensitive(env, "kid", cJSON_CreateString(kid));
    char *t = cJSON_PrintUnformatted(env);
    cJSON_Delete(env);
    assert_non_null(t);
    return t;
}

static int64_t feed_head(const wx *w)
{
    sqlite3 *db = fx_db(&w->x.f);
    int64_t n = fx_count(db, "SELECT COALESCE(MAX(seq), 0) FROM changes");
    sqlite3_close(db);
    return n;
}

/* The server's feed after `since` (cJSON_Delete). */
static cJSON *feed_since(wx *w, int64_t since)
{
    cJSON *arr = NULL;
    int64_t last = 0;
    FX_OK(w->x.f.a, opc__account_changes(w->x.f.a, w->x.server, since, 100, &arr, &last));
    return arr;
}

/* Exactly one feed entry after since: kind, item, version. */
static void assert_one_entry(wx *w, int64_t since, const char *kind, const char *item,
                             int64_t version)
{
    cJSON *arr = feed_since(w, since);
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    const cJSON *e = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(fx_str(e, "kind"), kind);
    assert_string_equal(fx_str(e, "item"), item);
    assert_int_equal((int64_t)fx_num(e, "version"), version);
    assert_null(cJSON_GetObjectItemCaseSensitive(e, "server"));
    cJSON_Delete(arr);
}

/* The server's export of the vault row. */
static cJSON *vault_row(wx *w, const char *vault)
{
    cJSON *v = NULL;
    FX_OK(w->x.f.a, opc__account_export_vault(w->x.f.a, w->x.server, vault, &v));
    return v;
}

/* ---- account + upstream ---- */

static void test_upstream_write_create_replace_delete(void **state)
{
    (void)state;
    wx w;
    wx_setup(&w, 2);
    opc_account *a = w.x.f.a;
    const char *v1 = w.x.v1;
    cJSON *before = vault_row(&w, v1);
    int64_t head = feed_head(&w);

    /* Create. */
    cJSON *it = NULL;
    cJSON *v = NULL;
    opc__ebuf eb;
    assert_int_equal(put(w.u, v1, w.id, 0, &w.s, &it, &v, &eb), OPC_OK);
    assert_string_equal(fx_str(it, "id"), w.id);
    assert_string_equal(fx_str(it, "vault_id"), v1);
    assert_int_equal((int)fx_num(it, "version"), 1);
    assert_string_equal(fx_str(it, "state"), "active");
    assert_int_equal((int64_t)fx_num(it, "key_sn"), w.s.sn);
    assert_string_equal(fx_str(it, "overview"), w.s.ov);
    assert_string_equal(fx_str(it, "details"), w.s.det);
    assert_string_equal(fx_str(it, "last_edited_by"), w.editor);
    assert_true(fx_num(it, "created") == fx_num(it, "updated"));
    assert_true(fx_num(it, "seq") > (double)head);
    assert_int_equal((int)fx_num(v, "content_version"), (int)fx_num(before, "content_version") + 1);
    assert_int_equal((int)fx_num(v, "items"), (int)fx_num(before, "items") + 1);
    assert_true(fx_num(v, "seq") == fx_num(it, "seq"));
    assert_one_entry(&w, head, "item_upsert", w.id, 1);
    /* The rows are exactly what export (the sync's source) gives. */
    cJSON *ex = NULL;
    FX_OK(a, opc__account_export_item(a, w.x.server, w.id, &ex));
    assert_true(cJSON_Compare(ex, it, true));
    cJSON_Delete(ex);
    ex = vault_row(&w, v1);
    assert_true(cJSON_Compare(ex, v, true));
    cJSON_Delete(ex);
    cJSON_Delete(it);
    cJSON_Delete(v);
    cJSON_Delete(before);
    /* The owner reads it: the envelopes open, the editor is the server. */
    opc_secret *out = NULL;
    FX_OK(a, opc_account_item_get(a, v1, w.id, &out));
    cJSON *j = fx_json_secret(out);
    opc_secret_free(out);
    assert_string_equal(fx_str(j, "title"), "Connect item");
    assert_string_equal(fx_str(j, "lastEditedBy"), w.editor);
    assert_int_equal((int)fx_num(j, "version"), 1);
    cJSON_Delete(j);
    sealed_free(&w.s);

    /* Replace. */
    seal_login(a, v1, w.id, "Renamed by Connect", &w.s);
    head = feed_head(&w);
    assert_int_equal(put_ok(&w, v1, w.id, 1, &w.s), 2);
    assert_one_entry(&w, head, "item_upsert", w.id, 2);
    FX_OK(a, opc_account_item_get(a, v1, w.id, &out));
    j = fx_json_secret(out);
    opc_secret_free(out);
    assert_string_equal(fx_str(j, "title"), "Renamed by Connect");
    assert_int_equal((int)fx_num(j, "version"), 2);
    cJSON_Delete(j);
    sealed_free(&w.s);
    /* The owner's next write makes the owner the editor again. */
    FX_OK(a, opc_account_item_replace(a, v1, w.id, "{\"title\":\"Owner\",\"category\":\"LOGIN\"}",
                                      2, &out));
    j = fx_json_secret(out);
    opc_secret_free(out);
    assert_string_not_equal(fx_str(j, "lastEditedBy"), w.editor);
    assert_int_equal((int)fx_num(j, "version"), 3);
    cJSON_Delete(j);

    /* A replace keeps the item's file chunks. */
    char doc[] = "document content";
    FX_OK(a, opc_account_document_create(a, v1, "Doc", "d.txt", doc, sizeof doc, &out));
    j = fx_json_secret(out);
    opc_secret_free(out);
    char doc_id[27];
    snprintf(doc_id, sizeof doc_id, "%s", fx_str(j, "id"));
    cJSON_Delete(j);
    char q[128];
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM files WHERE item_id = '%s'", doc_id);
    sqlite3 *db = fx_db(&w.x.f);
    int64_t chunks = fx_count(db, q);
    assert_true(chunks > 0);
    seal_login(a, v1, doc_id, "Doc by Connect", &w.s);
    assert_int_equal(put_ok(&w, v1, doc_id, 1, &w.s), 2);
    sealed_free(&w.s);
    assert_int_equal(fx_count(db, q), chunks);

    /* Delete at the expected version: a tombstone. */
    before = vault_row(&w, v1);
    head = feed_head(&w);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item_delete(w.u, v1, w.id, 3, &it, &v, &eb), OPC_OK);
    assert_string_equal(fx_str(it, "state"), "deleted");
    assert_int_equal((int)fx_num(it, "version"), 4);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(it, "overview")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(it, "details")));
    assert_string_equal(fx_str(it, "last_edited_by"), w.editor);
    assert_int_equal((int)fx_num(v, "items"), (int)fx_num(before, "items") - 1);
    assert_int_equal((int)fx_num(v, "content_version"), (int)fx_num(before, "content_version") + 1);
    cJSON_Delete(it);
    cJSON_Delete(v);
    cJSON_Delete(before);
    assert_one_entry(&w, head, "item_delete", w.id, 4);
    FX_ERR(a, OPC_ERR_NOT_FOUND, opc_account_item_get(a, v1, w.id, &out));
    /* Delete with expected version 0 (any): its files go too. */
    assert_int_equal(opc__upstream_item_delete(w.u, v1, doc_id, 0, &it, &v, &eb), OPC_OK);
    assert_int_equal((int)fx_num(it, "version"), 3);
    cJSON_Delete(it);
    cJSON_Delete(v);
    assert_int_equal(fx_count(db, q), 0);
    sqlite3_close(db);
    wx_teardown(&w);
}

static void test_upstream_write_conflicts_change_nothing(void **state)
{
    (void)state;
    wx w;
    wx_setup(&w, 1);
    const char *v1 = w.x.v1;
    assert_int_equal(put_ok(&w, v1, w.id, 0, &w.s), 1);
    assert_int_equal(put_ok(&w, v1, w.id, 1, &w.s), 2);
    int64_t head = feed_head(&w);
    cJSON *before = vault_row(&w, v1);

    /* A stale expected version. */
    put_fails(&w, v1, w.id, 1, &w.s, OPC_ERR_CONFLICT);
    put_fails(&w, v1, w.id, 3, &w.s, OPC_ERR_CONFLICT);
    delete_fails(&w, v1, w.id, 1, OPC_ERR_CONFLICT);
    /* A key serial that is not the vault's. */
    sealed stale = {w.s.ov, w.s.det, w.s.sn + 1};
    put_fails(&w, v1, w.id, 2, &stale, OPC_ERR_CONFLICT);
    /* Create with an w.id in use. */
    put_fails(&w, v1, w.id, 0, &w.s, OPC_ERR_EXISTS);
    /* Arguments. */
    put_fails(&w, v1, w.id, -1, &w.s, OPC_ERR_RANGE);
    sealed zero = {w.s.ov, w.s.det, 0};
    put_fails(&w, v1, w.id, 2, &zero, OPC_ERR_RANGE);
    put_fails(&w, v1, "not-an-id", 2, &w.s, OPC_ERR_INVALID_ARG);
    sealed half = {w.s.ov, NULL, w.s.sn};
    put_fails(&w, v1, w.id, 2, &half, OPC_ERR_INVALID_ARG);

    /* Nothing was written. */
    assert_int_equal(fx_item_version(w.x.f.path, w.id), 2);
    assert_int_equal(feed_head(&w), head);
    cJSON *after = vault_row(&w, v1);
    assert_true(cJSON_Compare(before, after, true));
    cJSON_Delete(after);
    cJSON_Delete(before);

    /* Deleted: the w.id stays taken, the item is gone for writes. */
    cJSON *it = NULL;
    cJSON *v = NULL;
    opc__ebuf eb;
    assert_int_equal(opc__upstream_item_delete(w.u, v1, w.id, 2, &it, &v, &eb), OPC_OK);
    cJSON_Delete(it);
    cJSON_Delete(v);
    put_fails(&w, v1, w.id, 0, &w.s, OPC_ERR_EXISTS);
    put_fails(&w, v1, w.id, 3, &w.s, OPC_ERR_NOT_FOUND);
    delete_fails(&w, v1, w.id, 3, OPC_ERR_NOT_FOUND);
    delete_fails(&w, v1, w.id, 0, OPC_ERR_NOT_FOUND);
    wx_teardown(&w);
}

static void test_upstream_write_permissions_and_scope(void **state)
{
    (void)state;
    wx w;
    wx_setup(&w, 1);
    opc_account *a = w.x.f.a;
    const char *v1 = w.x.v1;
    const char *v2 = w.x.v2;
    int64_t head = feed_head(&w);

    /* A vault the server holds no grant for, and one that does not exist. */
    put_fails(&w, v2, w.id, 0, &w.s2, OPC_ERR_PERMISSION);
    char nowhere[27];
    new_id(nowhere);
    char *ov = rekid(w.s.ov, nowhere);
    char *det = rekid(w.s.det, nowhere);
    sealed s0 = {ov, det, w.s.sn};
    put_fails(&w, nowhere, w.id, 0, &s0, OPC_ERR_NOT_FOUND);
    cJSON_free(ov);
    cJSON_free(det);
    delete_fails(&w, nowhere, w.id, 0, OPC_ERR_NOT_FOUND);
    /* An item that does not exist, or lives in another vault. */
    put_fails(&w, v1, w.id, 1, &w.s, OPC_ERR_NOT_FOUND);
    delete_fails(&w, v1, w.id, 0, OPC_ERR_NOT_FOUND);
    sqlite3 *db = fx_db(&w.x.f);
    char hidden[27];
    char q[160];
    sqlite3_stmt *st = NULL;
    snprintf(q, sizeof q, "SELECT id FROM items WHERE vault_id = '%s'", v2);
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(hidden, sizeof hidden, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    put_fails(&w, v1, hidden, 1, &w.s, OPC_ERR_NOT_FOUND);
    delete_fails(&w, v1, hidden, 1, OPC_ERR_NOT_FOUND);
    delete_fails(&w, v2, hidden, 1, OPC_ERR_PERMISSION);

    /* A read-only grant. */
    fx_exec(db, "UPDATE vault_access SET acl = 1 WHERE accessor_type = 'server'");
    put_fails(&w, v1, w.id, 0, &w.s, OPC_ERR_PERMISSION);
    fx_exec(db, "UPDATE vault_access SET acl = 3 WHERE accessor_type = 'server'");
    assert_int_equal(feed_head(&w), head);
    assert_int_equal(put_ok(&w, v1, w.id, 0, &w.s), 1);
    fx_exec(db, "UPDATE vault_access SET acl = 1 WHERE accessor_type = 'server'");
    delete_fails(&w, v1, w.id, 1, OPC_ERR_PERMISSION);
    fx_exec(db, "UPDATE vault_access SET acl = 3 WHERE accessor_type = 'server'");
    sqlite3_close(db);

    /* A deleted server writes nothing. */
    FX_OK(a, opc_account_server_delete(a, "Web"));
    put_fails(&w, v1, w.id, 1, &w.s, OPC_ERR_PERMISSION);
    delete_fails(&w, v1, w.id, 1, OPC_ERR_PERMISSION);
    assert_int_equal(fx_item_version(w.x.f.path, w.id), 1);
    wx_teardown(&w);
}

static void test_upstream_write_refuses_garbage_envelopes(void **state)
{
    (void)state;
    wx w;
    wx_setup(&w, 1);
    const char *v1 = w.x.v1;
    int64_t head = feed_head(&w);
    /* A real envelope with one member changed. */
    cJSON *env = fx_json(w.s.ov);
    char iv_bad[512];
    char data_short[512];
    char extra[4096];
    char cty_bad[4096];
    cJSON *e2 = cJSON_Duplicate(env, true);
    cJSON_ReplaceItemInObjectCaseSensitive(e2, "iv", cJSON_CreateString("AAAA"));
    char *t = cJSON_PrintUnformatted(e2);
    snprintf(iv_bad, sizeof iv_bad, "%s", t);
    cJSON_free(t);
    cJSON_ReplaceItemInObjectCaseSensitive(e2, "iv",
                                           cJSON_Duplicate(cJSON_GetObjectItem(env, "iv"), true));
    cJSON_ReplaceItemInObjectCaseSensitive(e2, "data", cJSON_CreateString("AAAAAAAA"));
    t = cJSON_PrintUnformatted(e2);
    snprintf(data_short, sizeof data_short, "%s", t);
    cJSON_free(t);
    cJSON_Delete(e2);
    e2 = cJSON_Duplicate(env, true);
    cJSON_AddStringToObject(e2, "note", "x");
    t = cJSON_PrintUnformatted(e2);
    snprintf(extra, sizeof extra, "%s", t);
    cJSON_free(t);
    cJSON_Delete(e2);
    e2 = cJSON_Duplicate(env, true);
    cJSON_ReplaceItemInObjectCaseSensitive(e2, "cty", cJSON_CreateString("text/plain"));
    t = cJSON_PrintUnformatted(e2);
    snprintf(cty_bad, sizeof cty_bad, "%s", t);
    cJSON_free(t);
    cJSON_Delete(e2);
    cJSON_Delete(env);

    const char *bad[] = {"",
                         "garbage",
                         "{}",
                         "[]",
                         "{\"kid\":1,\"enc\":\"A256GCM\",\"cty\":\"b5+jwk+json\",\"iv\":\"\","
                         "\"data\":\"\"}",
                         iv_bad,
                         data_short,
                         extra,
                         cty_bad,
                         w.s2.ov /* sealed under another vault's key (kid) */};
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        sealed bo = {(char *)(uintptr_t)bad[i], w.s.det, w.s.sn};
        put_fails(&w, v1, w.id, 0, &bo, OPC_ERR_PARSE);
        sealed d = {w.s.ov, (char *)(uintptr_t)bad[i], w.s.sn};
        put_fails(&w, v1, w.id, 0, &d, OPC_ERR_PARSE);
    }
    assert_int_equal(feed_head(&w), head);
    sqlite3 *db = fx_db(&w.x.f);
    char q[128];
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM items WHERE id = '%s'", w.id);
    assert_int_equal(fx_count(db, q), 0);
    sqlite3_close(db);
    /* The good pair goes in. */
    assert_int_equal(put_ok(&w, v1, w.id, 0, &w.s), 1);
    wx_teardown(&w);
}

static void test_upstream_write_account_unavailable(void **state)
{
    (void)state;
    wx w;
    wx_setup(&w, 1);
    char moved[300];
    snprintf(moved, sizeof moved, "%s.away", w.x.f.path);
    assert_int_equal(rename(w.x.f.path, moved), 0);
    cJSON *it = NULL;
    cJSON *v = NULL;
    opc__ebuf eb;
    assert_int_equal(put(w.u, w.x.v1, w.id, 0, &w.s, &it, &v, &eb), OPC_ERR_IO);
    assert_non_null(strstr(eb.msg, "upstream"));
    assert_int_equal(opc__upstream_item_delete(w.u, w.x.v1, w.id, 0, &it, &v, &eb), OPC_ERR_IO);
    /* A fresh handle on a missing file: the same. */
    opc__upstream *u2 = open_upstream(&w);
    assert_int_equal(put(u2, w.x.v1, w.id, 0, &w.s, &it, &v, &eb), OPC_ERR_IO);
    opc__upstream_close(u2);
    assert_int_equal(rename(moved, w.x.f.path), 0);
    /* Not writable (only meaningful when not root: root writes anyway). */
    if (geteuid() != 0) {
        assert_int_equal(chmod(w.x.f.path, 0400), 0);
        assert_int_equal(put(w.u, w.x.v1, w.id, 0, &w.s, &it, &v, &eb), OPC_ERR_IO);
        assert_int_equal(chmod(w.x.f.path, 0600), 0);
    }
    /* Back: the write goes through. */
    assert_int_equal(put_ok(&w, w.x.v1, w.id, 0, &w.s), 1);
    wx_teardown(&w);
}

/* ---- cache write-through ---- */

static opc__cache *open_writer(const char *path)
{
    opc__cache *c = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (opc__cache_open(path, OPC_CACHE_WRITE, &c, &eb) != OPC_OK) {
        fail_msg("cache open: %s", eb.msg);
    }
    return c;
}

static int64_t cached_version(opc__cache *c, const char *vault, const char *item)
{
    opc__cache_item row = {0};
    opc_err rc = opc__cache_item_get(c, vault, item, &row, NULL);
    if (rc == OPC_ERR_NOT_FOUND) {
        return 0;
    }
    assert_int_equal(rc, OPC_OK);
    int64_t v = row.version;
    opc__cache_item_clear(&row);
    return v;
}

/* put + write-through, as connect-api does; returns whether the cache took it. */
static bool write_item(wx *w, opc__cache *c, const char *item, int64_t expected, const sealed *s)
{
    cJSON *it = NULL;
    cJSON *v = NULL;
    opc__ebuf eb;
    opc_err rc = put(w->u, w->x.v1, item, expected, s, &it, &v, &eb);
    if (rc != OPC_OK) {
        fail_msg("item put: %s (%s)", opc_errname(rc), eb.msg);
    }
    bool applied = false;
    rc = opc__cache_write_through(c, it, v, &applied, &eb);
    if (rc != OPC_OK) {
        fail_msg("write-through: %s (%s)", opc_errname(rc), eb.msg);
    }
    cJSON_Delete(it);
    cJSON_Delete(v);
    return applied;
}

/*
 * A cache whose disk is full (the connection's page limit stands in for
 * the disk): the write-through fails with OPC_ERR_IO, opc__cache_full()
 * tells it from other failures and its message is the one connect-api
 * recognises (opc__db_msg_full); the write is made upstream all the same,
 * and once there is room the same rows go in.
 */
static void test_write_through_full_cache(void **state)
{
    (void)state;
    wx w;
    wx_setup(&w, 3);
    opc_sync *s = sx_sync(&w.x, 100);
    sx_run(s);
    opc__cache *c = open_writer(w.x.cache_path);
    sqlite3 *db = opc__db_sqlite(c->db);
    assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = 1", NULL, NULL, NULL), SQLITE_OK);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = OPC_OK;
    cJSON *it = NULL;
    cJSON *v = NULL;
    int n = 0;
    for (; n < 200 && rc == OPC_OK; n++) {
        char id[27];
        new_id(id);
        sealed one;
        seal_login(w.x.f.a, w.x.v1, id, "Filler item with a longer title to take room", &one);
        cJSON_Delete(it);
        cJSON_Delete(v);
        it = NULL;
        v = NULL;
        assert_int_equal(put(w.u, w.x.v1, id, 0, &one, &it, &v, &eb), OPC_OK);
        sealed_free(&one);
        rc = opc__cache_write_through(c, it, v, NULL, &eb);
    }
    assert_int_equal(rc, OPC_ERR_IO);
    assert_true(opc__cache_full(c));
    assert_false(opc__cache_damaged(c));
    assert_true(opc__db_msg_full(eb.msg));
    assert_false(opc__db_msg_full("upstream: the account server cannot be reached"));
    assert_false(opc__db_msg_full(NULL));
    /* Room again: the rows the full cache refused go in. */
    assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = 1000000", NULL, NULL, NULL),
                     SQLITE_OK);
    bool applied = false;
    assert_int_equal(opc__cache_write_through(c, it, v, &applied, &eb), OPC_OK);
    assert_true(applied);
    cJSON_Delete(it);
    cJSON_Delete(v);
    sx_run(s);
    assert_int_equal(sx_compare(&w.x, w.x.v1), 3 + n);
    opc__cache_close(c);
    opc_sync_free(s);
    wx_teardown(&w);
}

static void test_write_through_then_sync_converges(void **state)
{
    (void)state;
    wx w;
    wx_setup(&w, 3);
    opc_sync *s = sx_sync(&w.x, 100);
    sx_run(s);
    opc__cache *c = open_writer(w.x.cache_path);
    const char *v1 = w.x.v1;

    /* Create and replace: the cache has each write at once. */
    assert_true(write_item(&w, c, w.id, 0, &w.s));
    assert_int_equal(cached_version(c, v1, w.id), 1);
    opc__cache_item row = {0};
    assert_int_equal(opc__cache_item_get(c, v1, w.id, &row, NULL), OPC_OK);
    assert_string_equal(row.last_edited_by, w.editor);
    assert_string_equal(row.overview, w.s.ov);
    opc__cache_item_clear(&row);
    assert_true(write_item(&w, c, w.id, 1, &w.s));
    assert_int_equal(cached_version(c, v1, w.id), 2);
    opc__cache_vault vr = {0};
    assert_int_equal(opc__cache_vault_get(c, v1, &vr, NULL), OPC_OK);
    cJSON *ex = vault_row(&w, v1);
    assert_int_equal(vr.content_version, (int64_t)fx_num(ex, "content_version"));
    assert_int_equal(vr.items, 4);
    opc__cache_vault_clear(&vr);
    cJSON_Delete(ex);

    /* The sync replays the feed (item_upsert v1, v2): nothing regresses and
     * the cache equals the account. */
    sx_run(s);
    assert_int_equal(cached_version(c, v1, w.id), 2);
    assert_int_equal(sx_compare(&w.x, v1), 4);

    /* A row fetched before a newer write and applied after it (the sync's
     * race) leaves the newer one; so does an older vault row. */
    cJSON *old_item = NULL;
    cJSON *old_vault = NULL;
    opc__ebuf eb;
    assert_int_equal(opc__upstream_item(w.u, w.id, &old_item, &eb), OPC_OK);
    assert_int_equal(opc__upstream_vault(w.u, v1, &old_vault, &eb), OPC_OK);
    assert_true(write_item(&w, c, w.id, 2, &w.s));
    bool applied = true;
    assert_int_equal(opc__cache_write_through(c, old_item, old_vault, &applied, &eb), OPC_OK);
    assert_false(applied);
    assert_int_equal(cached_version(c, v1, w.id), 3);
    assert_int_equal(opc__cache_vault_get(c, v1, &vr, NULL), OPC_OK);
    assert_int_equal(vr.content_version, (int64_t)fx_num(old_vault, "content_version") + 1);
    opc__cache_vault_clear(&vr);
    cJSON_Delete(old_item);
    cJSON_Delete(old_vault);

    /* Delete: gone from the cache at once, and after the sync too. */
    cJSON *it = NULL;
    cJSON *v = NULL;
    assert_int_equal(opc__upstream_item_delete(w.u, v1, w.id, 3, &it, &v, &eb), OPC_OK);
    assert_int_equal(opc__cache_write_through(c, it, v, &applied, &eb), OPC_OK);
    assert_true(applied);
    cJSON_Delete(it);
    cJSON_Delete(v);
    assert_int_equal(cached_version(c, v1, w.id), 0);
    sx_run(s);
    assert_int_equal(sx_compare(&w.x, v1), 3);

    /* A vault the sync dropped (grant revoked after a write) is not revived. */
    char late[27];
    new_id(late);
    sealed l;
    seal_login(w.x.f.a, v1, late, "Late", &l);
    assert_int_equal(put(w.u, v1, late, 0, &l, &it, &v, &eb), OPC_OK);
    FX_OK(w.x.f.a, opc_account_server_revoke(w.x.f.a, "Web", v1));
    sx_run(s);
    assert_int_equal(opc__cache_write_through(c, it, v, &applied, &eb), OPC_OK);
    assert_false(applied);
    assert_int_equal(opc__cache_vault_get(c, v1, &vr, NULL), OPC_ERR_NOT_FOUND);
    assert_int_equal(cached_version(c, v1, late), 0);
    cJSON_Delete(it);
    cJSON_Delete(v);
    sealed_free(&l);
    sealed_free(&w.s);
    opc__cache_close(c);
    opc_sync_free(s);
    wx_teardown(&w);
}

/* Rows for the cache-only tests. */
static opc__cache_item mk_item(const char *id, const char *vault, int64_t version)
{
    opc__cache_item it = {0};
    memcpy(it.id, id, 27);
    memcpy(it.vault, vault, 27);
    it.version = version;
    it.state = (char *)(uintptr_t) "active";
    it.key_sn = 1;
    it.overview = (char *)(uintptr_t)(version == 3 ? "ov-3" : "ov-older");
    it.details = (char *)(uintptr_t) "det";
    it.created = 10;
    it.updated = 10 + version;
    return it;
}

static opc__cache_vault mk_vault(const char *id, int64_t attr, int64_t content)
{
    opc__cache_vault v = {0};
    memcpy(v.id, id, 27);
    v.type = (char *)(uintptr_t) "USER_CREATED";
    v.key_sn = 1;
    v.attrs = (char *)(uintptr_t) "attrs";
    v.attr_version = attr;
    v.content_version = content;
    v.items = content;
    return v;
}

static void test_cache_monotonic_rule(void **state)
{
    (void)state;
    char dir[64];
    char path[256];
    opc_test_mkdtemp(dir, sizeof dir, "opc-cache-mono", "1password.sqlite", path, sizeof path);
    opc__cache *c = NULL;
    opc__ebuf eb;
    assert_int_equal(opc__cache_open(path, OPC_CACHE_CREATE, &c, &eb), OPC_OK);
    const char *vault = "vvvvvvvvvvvvvvvvvvvvvvvvvv";
    const char *item = "iiiiiiiiiiiiiiiiiiiiiiiiii";
    const char *file = "ffffffffffffffffffffffffff";

    /* Items: v3, then an older v2 (kept v3), then v3 again (written, same). */
    bool written = false;
    opc__cache_item it = mk_item(item, vault, 3);
    assert_int_equal(opc__cache_item_put(c, &it, &written, &eb), OPC_OK);
    assert_true(written);
    it = mk_item(item, vault, 2);
    assert_int_equal(opc__cache_item_put(c, &it, &written, &eb), OPC_OK);
    assert_false(written);
    assert_int_equal(cached_version(c, vault, item), 3);
    opc__cache_item got = {0};
    assert_int_equal(opc__cache_item_get(c, vault, item, &got, &eb), OPC_OK);
    assert_string_equal(got.overview, "ov-3");
    opc__cache_item_clear(&got);
    it = mk_item(item, vault, 3);
    assert_int_equal(opc__cache_item_put(c, &it, &written, &eb), OPC_OK);
    assert_true(written);

    /* Deletes: an older tombstone leaves v3 and its files; v3's deletes both. */
    opc__cache_chunk ch = {.idx = 0, .blob = "x", .len = 1};
    memcpy(ch.file, file, 27);
    memcpy(ch.item, item, 27);
    memcpy(ch.vault, vault, 27);
    assert_int_equal(opc__cache_chunk_put(c, &ch, &eb), OPC_OK);
    bool deleted = true;
    assert_int_equal(opc__cache_item_delete_upto(c, item, 2, &deleted, &eb), OPC_OK);
    assert_false(deleted);
    assert_int_equal(cached_version(c, vault, item), 3);
    sqlite3 *db = open_ro(path);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM files"), 1);
    assert_int_equal(opc__cache_item_delete_upto(c, item, 3, &deleted, &eb), OPC_OK);
    assert_true(deleted);
    assert_int_equal(cached_version(c, vault, item), 0);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM files"), 0);
    /* Absent: deleted (nothing to keep). */
    assert_int_equal(opc__cache_item_delete_upto(c, item, 1, &deleted, &eb), OPC_OK);
    assert_true(deleted);

    /* Vaults: neither counter may go back. */
    opc__cache_vault v = mk_vault(vault, 2, 5);
    assert_int_equal(opc__cache_vault_put(c, &v, &written, &eb), OPC_OK);
    assert_true(written);
    v = mk_vault(vault, 2, 4);
    assert_int_equal(opc__cache_vault_put(c, &v, &written, &eb), OPC_OK);
    assert_false(written);
    v = mk_vault(vault, 1, 6);
    assert_int_equal(opc__cache_vault_put(c, &v, &written, &eb), OPC_OK);
    assert_false(written);
    v = mk_vault(vault, 3, 5);
    assert_int_equal(opc__cache_vault_put(c, &v, &written, &eb), OPC_OK);
    assert_true(written);
    opc__cache_vault vg = {0};
    assert_int_equal(opc__cache_vault_get(c, vault, &vg, &eb), OPC_OK);
    assert_int_equal(vg.attr_version, 3);
    assert_int_equal(vg.content_version, 5);
    opc__cache_vault_clear(&vg);

    /* Write-through from JSON rows needs the vault's grant in the cache. */
    cJSON *row = fx_json("{\"id\":\"iiiiiiiiiiiiiiiiiiiiiiiiii\",\"vault_id\":"
                         "\"vvvvvvvvvvvvvvvvvvvvvvvvvv\",\"version\":7,\"state\":\"active\","
                         "\"key_sn\":1,\"overview\":\"o\",\"details\":\"d\",\"created\":1,"
                         "\"updated\":2,\"last_edited_by\":\"SSSSSSSSSSSSSSSSSSSSSSSSSS\","
                         "\"seq\":9}");
    cJSON *vrow = fx_json("{\"id\":\"vvvvvvvvvvvvvvvvvvvvvvvvvv\",\"type\":\"USER_CREATED\","
                          "\"key_sn\":1,\"attrs\":\"a\",\"attr_version\":3,\"content_version\":6,"
                          "\"items\":1,\"created\":1,\"updated\":2,\"seq\":9}");
    bool applied = true;
    assert_int_equal(opc__cache_write_through(c, row, vrow, &applied, &eb), OPC_OK);
    assert_false(applied);
    assert_int_equal(cached_version(c, vault, item), 0);
    opc__cache_access ac = {.key_sn = 1,
                            .enc_key = (char *)(uintptr_t) "k",
                            .acl = 3,
                            .grant_sig = (char *)(uintptr_t) "s"};
    memcpy(ac.vault, vault, 27);
    assert_int_equal(opc__cache_access_put(c, &ac, &eb), OPC_OK);
    assert_int_equal(opc__cache_write_through(c, row, vrow, &applied, &eb), OPC_OK);
    assert_true(applied);
    assert_int_equal(cached_version(c, vault, item), 7);
    assert_int_equal(opc__cache_vault_get(c, vault, &vg, &eb), OPC_OK);
    assert_int_equal(vg.content_version, 6);
    opc__cache_vault_clear(&vg);
    /* A tombstone row deletes. */
    cJSON *tomb = fx_json("{\"id\":\"iiiiiiiiiiiiiiiiiiiiiiiiii\",\"vault_id\":"
                          "\"vvvvvvvvvvvvvvvvvvvvvvvvvv\",\"version\":8,\"state\":\"deleted\","
                          "\"key_sn\":1,\"overview\":null,\"details\":null,\"created\":1,"
                          "\"updated\":3,\"last_edited_by\":\"SSSSSSSSSSSSSSSSSSSSSSSSSS\","
                          "\"seq\":10}");
    cJSON_ReplaceItemInObjectCaseSensitive(vrow, "content_version", cJSON_CreateNumber(7));
    assert_int_equal(opc__cache_write_through(c, tomb, vrow, &applied, &eb), OPC_OK);
    assert_true(applied);
    assert_int_equal(cached_version(c, vault, item), 0);
    /* Malformed or mismatched rows; a read-only handle. */
    cJSON *other = fx_json("{\"id\":\"wwwwwwwwwwwwwwwwwwwwwwwwww\",\"type\":\"USER_CREATED\","
                           "\"key_sn\":1,\"attrs\":\"a\",\"attr_version\":3,\"content_version\":6,"
                           "\"items\":1,\"created\":1,\"updated\":2,\"seq\":9}");
    assert_int_equal(opc__cache_write_through(c, row, other, &applied, &eb), OPC_ERR_INVALID_ARG);
    cJSON_DeleteItemFromObjectCaseSensitive(row, "details");
    assert_int_equal(opc__cache_write_through(c, row, vrow, &applied, &eb), OPC_ERR_PARSE);
    assert_int_equal(opc__cache_write_through(c, NULL, vrow, &applied, &eb), OPC_ERR_INVALID_ARG);
    opc__cache *r = NULL;
    assert_int_equal(opc__cache_open(path, OPC_CACHE_READ, &r, &eb), OPC_OK);
    assert_int_equal(opc__cache_write_through(r, tomb, vrow, &applied, &eb), OPC_ERR_INVALID_ARG);
    opc__cache_close(r);
    /* Inside the caller's transaction: joined, and rolled back with it. */
    assert_int_equal(opc__cache_begin(c, true, &eb), OPC_OK);
    cJSON_AddStringToObject(row, "details", "d");
    cJSON_ReplaceItemInObjectCaseSensitive(row, "version", cJSON_CreateNumber(9));
    assert_int_equal(opc__cache_write_through(c, row, vrow, &applied, &eb), OPC_OK);
    assert_true(applied);
    opc__cache_rollback(c);
    assert_int_equal(cached_version(c, vault, item), 0);
    cJSON_Delete(row);
    cJSON_Delete(vrow);
    cJSON_Delete(tomb);
    cJSON_Delete(other);
    sqlite3_close(db);
    opc__cache_close(c);
    nftw(dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- concurrency (system allocator) ---- */

#define RACERS 8

typedef struct racer {
    wx *w;
    pthread_barrier_t *go;
    const char *item;
    int64_t expected;
    sealed s;
    opc_err rc;
    char msg[OPC_ERRBUF_SIZE];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    opc__upstream *u = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    r->rc = opc__upstream_local_open(r->w->x.f.path, r->w->x.server, r->w->account, &u, &eb);
    (void)pthread_barrier_wait(r->go);
    if (r->rc == OPC_OK) {
        cJSON *it = NULL;
        cJSON *v = NULL;
        r->rc = put(u, r->w->x.v1, r->item, r->expected, &r->s, &it, &v, &eb);
        cJSON_Delete(it);
        cJSON_Delete(v);
    }
    snprintf(r->msg, sizeof r->msg, "%s", eb.msg);
    opc__upstream_close(u);
    return NULL;
}

static void test_upstream_write_race_one_winner(void **state)
{
    (void)state;
    wx w;
    wx_setup(&w, 1);
    assert_int_equal(put_ok(&w, w.x.v1, w.id, 0, &w.s), 1);
    assert_int_equal(put_ok(&w, w.x.v1, w.id, 1, &w.s), 2);
    sealed_free(&w.s);
    int64_t head = feed_head(&w);
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, RACERS), 0);
    racer rs[RACERS];
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].w = &w;
        rs[i].go = &go;
        rs[i].item = w.id;
        rs[i].expected = 2;
        char title[32];
        snprintf(title, sizeof title, "racer %d", i);
        seal_login(w.x.f.a, w.x.v1, w.id, title, &rs[i].s);
    }
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    int ok = 0;
    int conflicts = 0;
    int winner = -1;
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        if (rs[i].rc == OPC_OK) {
            ok++;
            winner = i;
        } else if (rs[i].rc == OPC_ERR_CONFLICT) {
            conflicts++;
        } else {
            fail_msg("racer %d: %s (%s)", i, opc_errname(rs[i].rc), rs[i].msg);
        }
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ok, 1);
    assert_int_equal(conflicts, RACERS - 1);
    assert_int_equal(fx_item_version(w.x.f.path, w.id), 3);
    /* The stored item is the winner's write, logged once. */
    cJSON *row = NULL;
    FX_OK(w.x.f.a, opc__account_export_item(w.x.f.a, w.x.server, w.id, &row));
    assert_string_equal(fx_str(row, "overview"), rs[winner].s.ov);
    cJSON_Delete(row);
    assert_one_entry(&w, head, "item_upsert", w.id, 3);
    for (int i = 0; i < RACERS; i++) {
        sealed_free(&rs[i].s);
    }
    wx_teardown(&w);
}

static int sys_setup(void **state)
{
    (void)state;
    return opc_global_init_mem(OPC_GLOBAL_DEFAULT, malloc, realloc, free) == OPC_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upstream_write_create_replace_delete),
        cmocka_unit_test(test_upstream_write_conflicts_change_nothing),
        cmocka_unit_test(test_upstream_write_permissions_and_scope),
        cmocka_unit_test(test_upstream_write_refuses_garbage_envelopes),
        cmocka_unit_test(test_upstream_write_account_unavailable),
        cmocka_unit_test(test_write_through_then_sync_converges),
        cmocka_unit_test(test_write_through_full_cache),
        cmocka_unit_test(test_cache_monotonic_rule),
    };
    const struct CMUnitTest threaded[] = {
        cmocka_unit_test(test_upstream_write_race_one_winner),
    };
    int failed = cmocka_run_group_tests_name("upstream_write", tests, opc_test_group_setup,
                                             opc_test_group_teardown);
    failed += cmocka_run_group_tests_name("upstream_write_threads", threaded, sys_setup,
                                          opc_test_group_teardown);
    return failed;
}
