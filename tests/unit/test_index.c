/*
 * tests/unit/test_index.c - connect-api's index (lib/view/index.c) follows
 * the cache by its change log: after the first load it never reads every
 * item again, whatever mix of reads, writes through the API and upstream
 * edits brought in by the sync; and what it holds then equals an index
 * built afresh from the same cache, field by field.
 *
 * The cache file deleted under it: 503s, then the new file read in full.
 *
 * The API runs in this process (real HTTP through libcurl); the sync is
 * stepped by the test, so every upstream edit is in the cache before the
 * next request.
 */
#include "sync_fixture.h"

#include "http_client.h"
#include "rest/api.h"
#include "core/alloc.h"
#include "core/time.h"
#include "view/filter.h"
#include "view/index.h"

#define N_ITEMS 2000
#define ROUNDS 1200 /* 1,000 GETs, 100 API writes, 100 upstream edits */

typedef struct ids {
    char (*id)[27];
    size_t n;
    size_t cap;
} ids;

static void ids_add(ids *l, const char *id)
{
    if (l->n == l->cap) {
        l->cap = l->cap == 0 ? 256 : l->cap * 2;
        l->id = realloc(l->id, l->cap * sizeof *l->id);
        assert_non_null(l->id);
    }
    snprintf(l->id[l->n++], 27, "%s", id);
}

static void ids_drop(ids *l, size_t i)
{
    memmove(l->id[i], l->id[i + 1], (l->n - i - 1) * sizeof *l->id);
    l->n--;
}

static void collect_ids(const char *body, ids *l)
{
    cJSON *arr = cJSON_Parse(body);
    assert_non_null(arr);
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, arr)
    {
        ids_add(l, cJSON_GetObjectItem(it, "id")->valuestring);
    }
    cJSON_Delete(arr);
}

/* The whole list of a vault (bigger than resp's body buffer): from the account. */
static void account_ids(sx *x, ids *l)
{
    opc_secret *out = NULL;
    FX_OK(x->f.a, opc_account_item_list(x->f.a, x->v1, &out));
    char *text = strndup((const char *)opc_secret_data(out), opc_secret_len(out));
    assert_non_null(text);
    collect_ids(text, l);
    free(text);
    opc_secret_free(out);
}

/* What filters read of an entry (view/filter.h) is its summary's:
 * the category folded, updatedAt in seconds. */
static void check_filter_fields(const opc__ix_item *it)
{
    cJSON *j = cJSON_ParseWithLength(it->json, it->json_len);
    assert_non_null(j);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "category");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "updatedAt");
    assert_true(cJSON_IsString(c) && cJSON_IsString(u));
    char *folded = opc__filter_fold(c->valuestring, strlen(c->valuestring));
    assert_non_null(folded);
    assert_string_equal(it->category_folded, folded);
    opc__free(folded);
    char t[OPC_TIME_STRLEN];
    assert_int_equal(opc__time_format(it->updated, t), OPC_OK);
    assert_string_equal(u->valuestring, t);
    cJSON_Delete(j);
}

static void same_snapshot(opc__ix_snapshot *a, opc__ix_snapshot *b)
{
    assert_true(a->cache_ok && b->cache_ok);
    assert_true(a->unlocked && b->unlocked);
    assert_int_equal(a->meta.change_seq, b->meta.change_seq);
    assert_int_equal(a->n_tokens, b->n_tokens);
    for (size_t i = 0; i < a->n_tokens; i++) {
        assert_string_equal(a->tokens[i].jti, b->tokens[i].jti);
        assert_int_equal(a->tokens[i].state, b->tokens[i].state);
        assert_int_equal(a->tokens[i].expires, b->tokens[i].expires);
    }
    assert_int_equal(a->n_vaults, b->n_vaults);
    for (size_t i = 0; i < a->n_vaults; i++) {
        const opc__ix_vault *va = &a->vaults[i];
        const opc__ix_vault *vb = &b->vaults[i];
        if (va->decrypted) {
            const char *la = NULL;
            const char *lb = NULL;
            size_t na = 0;
            size_t nb = 0;
            assert_int_equal(opc__ix_vault_list(a, va, &la, &na), OPC_OK);
            assert_int_equal(opc__ix_vault_list(b, vb, &lb, &nb), OPC_OK);
            assert_int_equal(na, nb);
            assert_memory_equal(la, lb, na);
            cJSON *arr = cJSON_Parse(la);
            assert_true(cJSON_IsArray(arr));
            assert_int_equal(cJSON_GetArraySize(arr), (int)va->n_items);
            cJSON_Delete(arr);
        }
        assert_string_equal(va->id, vb->id);
        assert_int_equal(va->decrypted, vb->decrypted);
        assert_string_equal(va->name, vb->name);
        assert_int_equal(va->key_sn, vb->key_sn);
        assert_string_equal(va->enc_key, vb->enc_key);
        assert_int_equal(va->json_len, vb->json_len);
        assert_memory_equal(va->json, vb->json, va->json_len);
        if (va->n_items != vb->n_items) {
            fail_msg("vault %s: %zu items incrementally, %zu read afresh", va->id, va->n_items,
                     vb->n_items);
        }
        if (va->n_items > 0) {
            assert_non_null(va->titles);
            assert_non_null(vb->titles);
            assert_int_equal(va->titles->n, va->n_items);
            assert_int_equal(va->titles->off[va->n_items], vb->titles->off[vb->n_items]);
            assert_memory_equal(va->titles->off, vb->titles->off,
                                (va->n_items + 1) * sizeof *va->titles->off);
            assert_memory_equal(va->titles->text, vb->titles->text, va->titles->off[va->n_items]);
        }
        for (size_t k = 0; k < va->n_items; k++) {
            const opc__ix_item *x = va->items[k];
            const opc__ix_item *y = vb->items[k];
            assert_string_equal(x->id, y->id);
            assert_int_equal(x->version, y->version);
            assert_string_equal(x->title, y->title);
            assert_int_equal(x->n_tags, y->n_tags);
            for (size_t t = 0; t < x->n_tags; t++) {
                assert_string_equal(x->tags[t], y->tags[t]);
            }
            assert_int_equal(x->json_len, y->json_len);
            assert_memory_equal(x->json, y->json, x->json_len);
            assert_string_equal(x->category_folded, y->category_folded);
            assert_int_equal(x->updated, y->updated);
            check_filter_fields(x);
        }
    }
}

/* The API's index against one built afresh from the same cache. */
static void compare_with_fresh(opc_api *api, const char *cache_path, opc_credentials *creds)
{
    opc__index *fresh = NULL;
    assert_int_equal(opc__index_create(cache_path, creds, api->auth, api->keys, &fresh), OPC_OK);
    opc__index_poll(fresh, opc__monotonic_ms(), true);
    opc__index_poll(api->index, opc__monotonic_ms(), true);
    opc__ix_snapshot *a = opc__index_acquire(api->index);
    opc__ix_snapshot *b = opc__index_acquire(fresh);
    same_snapshot(a, b);
    opc__index_release(api->index, a);
    opc__index_release(fresh, b);
    opc__index_stats_t st;
    opc__index_stats(fresh, &st);
    assert_int_equal(st.full_builds, 1);
    opc__index_free(fresh);
}

typedef struct world {
    sx x;
    opc_sync *sync;
    opc_api *api;
    char token[2048];
    char base[128];
} world;

static void world_up(world *w, int items)
{
    sx_setup(&w->x, items);
    const char *specs[] = {"Shared,rw"};
    char *tj = NULL;
    opc_secret *tok = NULL;
    FX_OK(w->x.f.a, opc_account_token_create(w->x.f.a, "rw", "Web", specs, 1, 0, &tj, &tok));
    snprintf(w->token, sizeof w->token, "%.*s", (int)opc_secret_len(tok),
             (const char *)opc_secret_data(tok));
    opc_free(tj);
    opc_secret_free(tok);
    w->sync = sx_sync(&w->x, 200);
    sx_run(w->sync);
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_api_create(w->x.creds, w->x.cache_path, &w->api, err, sizeof err),
                     OPC_OK);
    assert_int_equal(opc_api_set_http_port(w->api, 0), OPC_OK);
    assert_int_equal(opc_api_set_bind_address(w->api, "127.0.0.1"), OPC_OK);
    if (opc_api_start(w->api, err, sizeof err) != OPC_OK) {
        fail_msg("api start: %s", err);
    }
    snprintf(w->base, sizeof w->base, "http://127.0.0.1:%d/v1/vaults/%s/items",
             opc_api_port(w->api), w->x.v1);
}

static void world_down(world *w)
{
    opc_api_stop(w->api);
    opc_api_free(w->api);
    opc_sync_free(w->sync);
    sx_teardown(&w->x);
}

static void step_sync(world *w)
{
    char err[OPC_ERRBUF_SIZE];
    if (opc_sync_run_once(w->sync, err, sizeof err) != OPC_OK) {
        fail_msg("sync step: %s", err);
    }
}

static void get_item(world *w, const char *id, resp *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s/%s", w->base, id);
    opc_test_http(NULL, url, w->token, r);
}

/* Write number k through the API: a create, a full replace, or a delete. */
static void api_write(world *w, int k, ids *l)
{
    char url[256];
    resp r;
    if (k % 4 == 0 || k % 4 == 1) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"vault\":{\"id\":\"%s\"},\"title\":\"api %d\",\"category\":\"LOGIN\","
                 "\"tags\":[\"api\",\"k%d\"]}",
                 w->x.v1, k, k % 7);
        opc_test_http_send("POST", w->base, w->token, body, &r);
        assert_int_equal(r.status, 200);
        cJSON *j = cJSON_Parse(r.body);
        assert_non_null(j);
        ids_add(l, cJSON_GetObjectItem(j, "id")->valuestring);
        cJSON_Delete(j);
        return;
    }
    size_t i = ((size_t)k * 7919u) % l->n;
    snprintf(url, sizeof url, "%s/%s", w->base, l->id[i]);
    if (k % 4 == 3) {
        opc_test_http("DELETE", url, w->token, &r);
        assert_int_equal(r.status, 204);
        ids_drop(l, i);
        return;
    }
    get_item(w, l->id[i], &r);
    assert_int_equal(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    assert_non_null(j);
    cJSON_ReplaceItemInObject(j, "title", cJSON_CreateString("replaced through the API"));
    char *body = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    opc_test_http_send("PUT", url, w->token, body, &r);
    free(body);
    assert_int_equal(r.status, 200);
}

/* Edit number k in the account (as `op` would), then one sync step. */
static void upstream_edit(world *w, int k, ids *l)
{
    opc_account *a = w->x.f.a;
    if (k % 3 == 0) {
        char json[256];
        char id[27];
        snprintf(json, sizeof json,
                 "{\"title\":\"upstream %d\",\"category\":\"PASSWORD\",\"tags\":[\"up\"]}", k);
        fx_item(a, w->x.v1, json, id);
        step_sync(w);
        /* Listed by the index once it noticed the sync's commit. */
        resp r;
        int64_t deadline = opc__monotonic_ms() + 2000;
        do {
            get_item(w, id, &r);
        } while (r.status == 404 && opc__monotonic_ms() < deadline && (nap_ms(2), true));
        assert_int_equal(r.status, 200);
        ids_add(l, id);
        return;
    } else {
        size_t i = ((size_t)k * 104729u) % l->n;
        if (k % 3 == 1) {
            char json[256];
            snprintf(json, sizeof json,
                     "{\"title\":\"edited upstream %d\",\"category\":\"LOGIN\",\"tags\":[\"e\"]}",
                     k);
            opc_secret *out = NULL;
            FX_OK(a, opc_account_item_replace(a, w->x.v1, l->id[i], json, 0, &out));
            opc_secret_free(out);
        } else {
            FX_OK(a, opc_account_item_delete(a, w->x.v1, l->id[i], 0));
            ids_drop(l, i);
        }
    }
    step_sync(w);
}

static void test_index_follows_changes_without_rebuilding(void **state)
{
    (void)state;
    world w;
    world_up(&w, N_ITEMS);
    ids l = {0};
    account_ids(&w.x, &l);
    assert_int_equal(l.n, N_ITEMS);
    resp r;
    get_item(&w, l.id[0], &r); /* unlocks, then the first load */
    assert_int_equal(r.status, 200);
    opc__index_stats_t st0;
    opc__index_stats(w.api->index, &st0);
    assert_int_equal(st0.full_builds, 1);
    int writes = 0;
    int edits = 0;
    int gets = 0;
    for (int i = 0; i < ROUNDS; i++) {
        if (i % 12 == 5) {
            api_write(&w, writes++, &l);
        } else if (i % 12 == 11) {
            upstream_edit(&w, edits++, &l);
        } else {
            get_item(&w, l.id[((size_t)i * 31u) % l.n], &r);
            gets++;
            /* An item edited upstream a moment ago may still be listed
             * under its old version; a deleted one may still be known. */
            if (r.status != 200) {
                fail_msg("GET %d: %ld %s", i, r.status, r.body);
            }
        }
        if (i % 100 == 99) {
            nap_ms(OPC_INDEX_POLL_MS + 5); /* let a GET's poll see the sync's steps */
        }
    }
    assert_int_equal(gets, 1000);
    assert_int_equal(writes, 100);
    assert_int_equal(edits, 100);
    step_sync(&w);
    compare_with_fresh(w.api, w.x.cache_path, w.x.creds);
    opc__index_stats_t st;
    opc__index_stats(w.api->index, &st);
    print_message("index: %llu full builds, %llu incremental, %llu vault loads, %llu overviews "
                  "decrypted (first load: %llu)\n",
                  (unsigned long long)st.full_builds, (unsigned long long)st.incremental,
                  (unsigned long long)st.vault_loads, (unsigned long long)st.decrypted,
                  (unsigned long long)st0.decrypted);
    assert_int_equal(st.full_builds, 1);
    assert_int_equal(st.vault_loads, 0);
    assert_true(st.incremental >= 100);
    /* Each change decrypts at most its own item: far fewer than one more full read. */
    assert_true(st.decrypted - st0.decrypted <= 400);
    free(l.id);
    world_down(&w);
}

/* A grant revoked and given again, and a cache that lost its change log. */
static void test_index_grant_loss_and_return(void **state)
{
    (void)state;
    world w;
    world_up(&w, 40);
    ids l = {0};
    account_ids(&w.x, &l);
    resp r;
    get_item(&w, l.id[3], &r);
    assert_int_equal(r.status, 200);
    FX_OK(w.x.f.a, opc_account_server_revoke(w.x.f.a, w.x.server, w.x.v1));
    step_sync(&w);
    step_sync(&w);
    opc__index_poll(w.api->index, opc__monotonic_ms(), true);
    get_item(&w, l.id[3], &r);
    assert_true(r.status == 403 || r.status == 404);
    compare_with_fresh(w.api, w.x.cache_path, w.x.creds);

    FX_OK(w.x.f.a, opc_account_server_grant(w.x.f.a, w.x.server, w.x.v1));
    sx_run(w.sync);
    step_sync(&w);
    opc__index_poll(w.api->index, opc__monotonic_ms(), true);
    get_item(&w, l.id[3], &r);
    assert_int_equal(r.status, 200);
    compare_with_fresh(w.api, w.x.cache_path, w.x.creds);
    opc__index_stats_t st;
    opc__index_stats(w.api->index, &st);
    assert_int_equal(st.full_builds, 1);
    assert_int_equal(st.vault_loads, 1); /* the vault came back: read once, in full */

    /* Gone rows pruned past the index's position: it must read everything again. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(w.x.cache_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char sql[256];
    snprintf(sql, sizeof sql,
             "BEGIN; DELETE FROM items WHERE id = '%s';"
             "UPDATE meta SET gone_floor = change_seq; DELETE FROM gone; COMMIT;",
             l.id[5]);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    opc__index_poll(w.api->index, opc__monotonic_ms(), true);
    opc__index_stats(w.api->index, &st);
    assert_int_equal(st.full_builds, 2);
    get_item(&w, l.id[5], &r);
    assert_int_equal(r.status, 404);
    compare_with_fresh(w.api, w.x.cache_path, w.x.creds);
    free(l.id);
    world_down(&w);
}

/* The cache file deleted under the API (issue 15; view/index.h): reads
 * and writes answer 503 with Retry-After and change nothing; once the
 * sync made a new file and synced it, the index reads it in full and
 * everything answers again. */
static void test_index_cache_lost(void **state)
{
    (void)state;
    world w;
    world_up(&w, 30);
    ids l = {0};
    account_ids(&w.x, &l);
    resp r;
    get_item(&w, l.id[2], &r);
    assert_int_equal(r.status, 200);
    opc__index_stats_t st0;
    opc__index_stats(w.api->index, &st0);
    assert_false(opc__index_lost(w.api->index));

    assert_int_equal(unlink(w.x.cache_path), 0);
    opc__index_poll(w.api->index, opc__monotonic_ms(), true);
    assert_true(opc__index_lost(w.api->index));
    opc__ix_snapshot *s = opc__index_acquire(w.api->index);
    assert_true(s->cache_lost);
    assert_non_null(strstr(s->lost_reason, "was deleted"));
    opc__index_release(w.api->index, s);
    get_item(&w, l.id[2], &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.head, "Retry-After: 5"));
    assert_non_null(strstr(r.body, "being rebuilt"));
    char body[256];
    snprintf(body, sizeof body,
             "{\"vault\":{\"id\":\"%s\"},\"title\":\"while lost\",\"category\":\"LOGIN\"}", w.x.v1);
    opc_test_http_send("POST", w.base, w.token, body, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "being rebuilt"));
    char url[256];
    snprintf(url, sizeof url, "%s/%s", w.base, l.id[4]);
    opc_test_http("DELETE", url, w.token, &r);
    assert_int_equal(r.status, 503);
    ids now = {0};
    account_ids(&w.x, &now);
    assert_int_equal(now.n, l.n); /* nothing created, nothing deleted */
    free(now.id);

    /* The sync makes a new file; served once its initial sync is complete. */
    sx_run(w.sync);
    opc__index_poll(w.api->index, opc__monotonic_ms(), true);
    assert_false(opc__index_lost(w.api->index));
    get_item(&w, l.id[2], &r);
    assert_int_equal(r.status, 200);
    opc_test_http_send("POST", w.base, w.token, body, &r);
    assert_int_equal(r.status, 200);
    compare_with_fresh(w.api, w.x.cache_path, w.x.creds);
    opc__index_stats_t st;
    opc__index_stats(w.api->index, &st);
    assert_true(st.full_builds > st0.full_builds); /* the new file read in full */
    free(l.id);
    world_down(&w);
}

/* ---- a large answer, whole ---- */

typedef struct big {
    char *p;
    size_t n;
} big;

static size_t big_write(char *p, size_t size, size_t n, void *ud)
{
    big *b = ud;
    b->p = realloc(b->p, b->n + size * n + 1);
    assert_non_null(b->p);
    memcpy(b->p + b->n, p, size * n);
    b->n += size * n;
    b->p[b->n] = '\0';
    return size * n;
}

/* GET url with the token into a growing buffer; the status. */
static long get_big(const char *url, const char *token, big *b)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char auth[2100];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, big_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* The summaries the index holds for items whose title contains needle
 * (lower case), as a JSON array text in id order. */
static char *expected_list(opc__ix_snapshot *s, const char *vault, const char *needle)
{
    const opc__ix_vault *v = opc__ix_find_vault(s, vault);
    assert_non_null(v);
    size_t cap = 2;
    for (size_t i = 0; i < v->n_items; i++) {
        cap += v->items[i]->json_len + 1;
    }
    char *out = malloc(cap + 1);
    assert_non_null(out);
    size_t n = 0;
    out[n++] = '[';
    for (size_t i = 0; i < v->n_items; i++) {
        const opc__ix_item *it = v->items[i];
        if (needle != NULL && strstr(it->title_folded, needle) == NULL) {
            continue;
        }
        if (n > 1) {
            out[n++] = ',';
        }
        memcpy(out + n, it->json, it->json_len);
        n += it->json_len;
    }
    out[n++] = ']';
    out[n] = '\0';
    return out;
}

/* Lists far larger than one piece of a streamed body, byte for byte. */
static void test_index_large_lists_whole(void **state)
{
    (void)state;
    world w;
    world_up(&w, 600);
    ids l = {0};
    account_ids(&w.x, &l);
    resp r;
    get_item(&w, l.id[0], &r);
    assert_int_equal(r.status, 200);
    opc__index_poll(w.api->index, opc__monotonic_ms(), true);
    opc__ix_snapshot *s = opc__index_acquire(w.api->index);
    /* The last two walk the items (an expression), the others the titles. */
    static const char *const filters[] = {NULL, "login", "login 1", "login 1", "login"};
    static const char *const queries[] = {
        "", "?filter=title+co+%22LOGIN%22", "?filter=title+co+%22Login+1%22",
        "?filter=not+not+title+co+%22Login+1%22",
        "?filter=title+co+%22login%22+and+updatedAt+gt+%221970-01-01T00:00:00Z%22"};
    for (size_t k = 0; k < OPC_ARRAY_LEN(filters); k++) {
        char url[300];
        snprintf(url, sizeof url, "%s%s", w.base, queries[k]);
        big b = {0};
        assert_int_equal(get_big(url, w.token, &b), 200);
        char *want = expected_list(s, w.x.v1, filters[k]);
        if (k == 0 || k == 1 || k == 4) {
            assert_true(b.n > 2 * 64 * 1024); /* several pieces */
        }
        assert_int_equal(b.n, strlen(want));
        assert_memory_equal(b.p, want, b.n);
        free(want);
        free(b.p);
    }
    opc__index_release(w.api->index, s);
    free(l.id);
    world_down(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_follows_changes_without_rebuilding),
        cmocka_unit_test(test_index_grant_loss_and_return),
        cmocka_unit_test(test_index_cache_lost),
        cmocka_unit_test(test_index_large_lists_whole),
    };
    return cmocka_run_group_tests(tests, opc_test_http_group_setup, opc_test_http_group_teardown);
}
