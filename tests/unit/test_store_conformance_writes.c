/*
 * tests/unit/test_store_conformance_writes.c - the store conformance suite
 * (test_store_conformance.c says what it is), its second half: a Connect
 * server's item writes (import.h's checks and codes, the rows returned,
 * the feed entries appended), the commit generation, long polls and
 * shutdown, concurrent writers on one store and on two stores over one
 * storage (no gap, no duplicate, nothing lost).
 */
#include "store_conformance.h"

static void case_item_writes(void **state)
{
    env e;
    env_open(&e, state);
    opc__store *s = e.s;
    opc__ebuf eb;
    world w;
    world_make(s, &w);
    const char *acct = w.o.id;
    opc_account *a = w.o.a;
    char x[27];
    new_id(x);
    sealed sx;
    seal(a, w.va, x, "Connect item", &sx);
    cJSON *it = NULL;
    cJSON *v = NULL;
    cJSON *before = vault_row(s, acct, w.s, w.va);
    int64_t items0 = num(before, "items");
    int64_t cv0 = num(before, "content_version");
    cJSON_Delete(before);
    int64_t head = feed_head(s, acct);

    /* Create: version 1, the server as editor, the envelopes as sent. */
    OK(put(s, acct, w.s, w.va, x, 0, &sx, &it, &v, &eb));
    assert_string_equal(fx_str(it, "id"), x);
    assert_string_equal(fx_str(it, "vault_id"), w.va);
    assert_int_equal(num(it, "version"), 1);
    assert_string_equal(fx_str(it, "state"), "active");
    assert_int_equal(num(it, "key_sn"), sx.sn);
    assert_string_equal(fx_str(it, "last_edited_by"), w.s_up);
    assert_string_equal(fx_str(it, "overview"), sx.ov);
    assert_string_equal(fx_str(it, "details"), sx.det);
    assert_int_equal(num(it, "seq"), head + 1);
    assert_string_equal(fx_str(v, "id"), w.va);
    assert_int_equal(num(v, "items"), items0 + 1);
    assert_int_equal(num(v, "content_version"), cv0 + 1);
    assert_int_equal(num(v, "seq"), head + 1);
    cJSON *again = NULL;
    OK(opc__store_item(s, acct, w.s, x, &again, &eb));
    assert_true(cJSON_Compare(again, it, true));
    cJSON_Delete(again);
    again = vault_row(s, acct, w.s, w.va);
    assert_true(cJSON_Compare(again, v, true));
    cJSON_Delete(again);
    cJSON_Delete(it);
    cJSON_Delete(v);
    one_entry(s, acct, w.s, head, "item_upsert", w.va, x, 1);
    /* The owner reads what the server wrote. */
    cJSON *oj = fx_item_get(a, w.va, x);
    assert_string_equal(fx_str(oj, "title"), "Connect item");
    assert_int_equal(num(oj, "version"), 1);
    cJSON_Delete(oj);
    head++;

    /* Replace at the right version: version 2, the item count kept. */
    sealed sx2;
    seal(a, w.va, x, "Connect item, edited", &sx2);
    OK(put(s, acct, w.s, w.va, x, 1, &sx2, &it, &v, &eb));
    assert_int_equal(num(it, "version"), 2);
    assert_string_equal(fx_str(it, "overview"), sx2.ov);
    assert_int_equal(num(v, "items"), items0 + 1);
    assert_int_equal(num(v, "content_version"), cv0 + 2);
    cJSON_Delete(it);
    cJSON_Delete(v);
    one_entry(s, acct, w.s, head, "item_upsert", w.va, x, 2);
    head++;

    /* Refusals: nothing written, no feed entry. First the arguments
     * (import.h's check 1: the backend's, the dispatcher does not look
     * into the write). */
    put_fails(s, acct, w.s, "not-a-vault-id", x, 1, &sx2, OPC_ERR_INVALID_ARG, "a bad vault id");
    put_fails(s, acct, w.s, w.va, "not-an-item-id", 1, &sx2, OPC_ERR_INVALID_ARG, "a bad item id");
    put_fails(s, acct, w.s, w.va, x, -1, &sx2, OPC_ERR_RANGE, "a negative version");
    sealed no_sn = {sx2.ov, sx2.det, 0};
    put_fails(s, acct, w.s, w.va, x, 2, &no_sn, OPC_ERR_RANGE, "key serial 0");
    sealed no_ov = {NULL, sx2.det, sx2.sn};
    put_fails(s, acct, w.s, w.va, x, 2, &no_ov, OPC_ERR_INVALID_ARG, "no overview");
    delete_fails(s, acct, w.s, w.va, x, -1, OPC_ERR_RANGE, "delete at a negative version");
    delete_fails(s, acct, w.s, w.va, "not-an-item-id", 2, OPC_ERR_INVALID_ARG,
                 "delete a bad item id");
    put_fails(s, acct, w.s, w.va, x, 1, &sx, OPC_ERR_CONFLICT, "stale version");
    put_fails(s, acct, w.s, w.va, x, 3, &sx, OPC_ERR_CONFLICT, "future version");
    put_fails(s, acct, w.s, w.va, x, 0, &sx, OPC_ERR_EXISTS, "create an existing item");
    char y[27];
    new_id(y);
    sealed sy;
    seal(a, w.va, y, "never", &sy);
    put_fails(s, acct, w.s, w.va, y, 1, &sy, OPC_ERR_NOT_FOUND, "replace a missing item");
    sealed bad_sn = {sy.ov, sy.det, sy.sn + 1};
    put_fails(s, acct, w.s, w.va, y, 0, &bad_sn, OPC_ERR_CONFLICT, "a stale key serial");
    char nowhere[27];
    new_id(nowhere);
    sealed moved = {rekid(sy.ov, nowhere), rekid(sy.det, nowhere), sy.sn};
    put_fails(s, acct, w.s, nowhere, y, 0, &moved, OPC_ERR_NOT_FOUND, "no such vault");
    cJSON_free(moved.ov);
    cJSON_free(moved.det);
    char junk[] = "{\"kid\":\"x\"}";
    sealed garbage = {junk, sy.det, sy.sn};
    put_fails(s, acct, w.s, w.va, y, 0, &garbage, OPC_ERR_PARSE, "not an envelope");
    sealed sb;
    seal(a, w.vb, y, "in B", &sb);
    put_fails(s, acct, w.s, w.vb, y, 0, &sb, OPC_ERR_PERMISSION, "a vault not granted");
    delete_fails(s, acct, w.s, w.vb, w.ib, 1, OPC_ERR_PERMISSION, "delete in a vault not granted");
    delete_fails(s, acct, w.s, w.va, w.ib, 1, OPC_ERR_NOT_FOUND, "delete B's item through A");
    /* A read-only grant (R reads A): no write. */
    grant_read_only(a, w.r, w.va);
    head = feed_head(s, acct);
    cJSON *acc = NULL;
    OK(opc__store_access(s, acct, w.r, w.va, &acc, &eb));
    assert_int_equal(num(acc, "acl"), OPC_ACL_READ);
    cJSON_Delete(acc);
    OK(opc__store_item(s, acct, w.r, x, &it, &eb));
    cJSON_Delete(it);
    put_fails(s, acct, w.r, w.va, y, 0, &sy, OPC_ERR_PERMISSION, "a read-only grant");
    delete_fails(s, acct, w.r, w.va, x, 2, OPC_ERR_PERMISSION, "delete with a read-only grant");
    /* A deleted server: no write. */
    char gone[27];
    server_new(a, "Gone", w.va, gone);
    FX_OK(a, opc_account_server_delete(a, gone));
    head = feed_head(s, acct);
    put_fails(s, acct, gone, w.va, y, 0, &sy, OPC_ERR_PERMISSION, "a deleted server");
    delete_fails(s, acct, gone, w.va, x, 2, OPC_ERR_PERMISSION, "delete by a deleted server");
    char other[27];
    new_id(other);
    put_fails(s, other, w.s, w.va, y, 0, &sy, OPC_ERR_NOT_FOUND, "no such account");
    assert_int_equal(feed_head(s, acct), head);
    OK(opc__store_item(s, acct, w.s, x, &it, &eb));
    assert_int_equal(num(it, "version"), 2);
    cJSON_Delete(it);

    /* Delete: at a stale version a conflict; at the right one a tombstone. */
    delete_fails(s, acct, w.s, w.va, x, 1, OPC_ERR_CONFLICT, "delete at a stale version");
    OK(opc__store_item_delete(s, acct, w.s, w.va, x, 2, &it, &v, &eb));
    assert_string_equal(fx_str(it, "id"), x);
    assert_string_equal(fx_str(it, "state"), "deleted");
    assert_int_equal(num(it, "version"), 3);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(it, "overview")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(it, "details")));
    assert_int_equal(num(v, "items"), items0);
    assert_int_equal(num(v, "content_version"), cv0 + 3);
    cJSON_Delete(it);
    cJSON_Delete(v);
    one_entry(s, acct, w.s, head, "item_delete", w.va, x, 3);
    head++;
    WANT(OPC_ERR_NOT_FOUND, opc__store_item(s, acct, w.s, x, &it, &eb));
    delete_fails(s, acct, w.s, w.va, x, 0, OPC_ERR_NOT_FOUND, "delete a deleted item");
    put_fails(s, acct, w.s, w.va, x, 3, &sx, OPC_ERR_NOT_FOUND, "replace a deleted item");
    put_fails(s, acct, w.s, w.va, x, 0, &sx, OPC_ERR_EXISTS, "create over a tombstone");
    assert_int_equal(feed_head(s, acct), head);

    /* Delete at version 0: whatever is stored. */
    OK(put(s, acct, w.s, w.va, y, 0, &sy, &it, &v, &eb));
    cJSON_Delete(it);
    cJSON_Delete(v);
    OK(put(s, acct, w.s, w.va, y, 1, &sy, &it, &v, &eb));
    cJSON_Delete(it);
    cJSON_Delete(v);
    OK(opc__store_item_delete(s, acct, w.s, w.va, y, 0, &it, &v, &eb));
    assert_int_equal(num(it, "version"), 3);
    cJSON_Delete(it);
    cJSON_Delete(v);
    int64_t next = 0;
    cJSON *f = feed(s, acct, w.s, head, 100, &next);
    assert_int_equal(cJSON_GetArraySize(f), 3);
    assert_string_equal(fx_str(cJSON_GetArrayItem(f, 0), "kind"), "item_upsert");
    assert_string_equal(fx_str(cJSON_GetArrayItem(f, 1), "kind"), "item_upsert");
    assert_string_equal(fx_str(cJSON_GetArrayItem(f, 2), "kind"), "item_delete");
    assert_int_equal(num(cJSON_GetArrayItem(f, 2), "seq"), head + 3);
    cJSON_Delete(f);
    v = vault_row(s, acct, w.s, w.va);
    assert_int_equal(num(v, "items"), items0);
    cJSON_Delete(v);

    /* The owner's own write of a server-written item conflicts at a stale
     * version, as a server's does. */
    char z[27];
    new_id(z);
    sealed sz;
    seal(a, w.va, z, "shared", &sz);
    OK(put(s, acct, w.s, w.va, z, 0, &sz, &it, &v, &eb));
    cJSON_Delete(it);
    cJSON_Delete(v);
    opc_secret *ored = NULL;
    FX_OK(a, opc_account_item_replace(a, w.va, z, "{\"title\":\"owner\",\"category\":\"LOGIN\"}", 1,
                                      &ored));
    opc_secret_free(ored);
    put_fails(s, acct, w.s, w.va, z, 1, &sz, OPC_ERR_CONFLICT, "stale after the owner's edit");
    OK(put(s, acct, w.s, w.va, z, 2, &sz, &it, &v, &eb));
    assert_int_equal(num(it, "version"), 3);
    cJSON_Delete(it);
    cJSON_Delete(v);

    sealed_free(&sx);
    sealed_free(&sx2);
    sealed_free(&sy);
    sealed_free(&sb);
    sealed_free(&sz);
    world_free(&w);
    env_close(&e);
}

/* ==== case 5: the commit generation, long polls, shutdown ==== */

typedef struct poller {
    opc__store *s;
    const char *account;
    const char *server;
    int64_t since;
    int64_t wait_ms;
    opc_err rc;
    int n;
    char kind[32];
    int64_t next;
    int64_t done_ms; /* monotonic, when it returned */
    int64_t took_ms;
} poller;

static void *poll_main(void *p)
{
    poller *w = p;
    cJSON *arr = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    int64_t t0 = monotonic_ms();
    w->rc = opc__store_changes(w->s, w->account, w->server, w->since, 100, w->wait_ms, &arr,
                               &w->next, &eb);
    w->done_ms = monotonic_ms();
    w->took_ms = w->done_ms - t0;
    w->n = cJSON_GetArraySize(arr);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "kind");
    snprintf(w->kind, sizeof w->kind, "%s", cJSON_IsString(k) ? k->valuestring : "");
    cJSON_Delete(arr);
    return NULL;
}

typedef struct gen_waiter {
    opc__store *s;
    const char *account;
    uint64_t gen;
    int64_t timeout_ms;
    bool moved;
    int64_t done_ms;
} gen_waiter;

static void *gen_main(void *p)
{
    gen_waiter *g = p;
    g->moved = opc__store_wait(g->s, g->account, g->gen, g->timeout_ms);
    g->done_ms = monotonic_ms();
    return NULL;
}

static void case_generation_wait(void **state)
{
    env e;
    env_open(&e, state);
    opc__store *s = e.s;
    opc__ebuf eb;
    world w;
    world_make(s, &w);
    const char *acct = w.o.id;
    opc_account *a = w.o.a;
    char other[27];
    new_id(other);
    assert_int_equal(opc__store_generation(s, other), 0);
    pthread_t th;
    pthread_t th2;

    /* A long poll wakes at once on a server's write. */
    char x[27];
    new_id(x);
    sealed sx;
    seal(a, w.va, x, "woken", &sx);
    uint64_t g0 = opc__store_generation(s, acct);
    poller p = {
        .s = s, .account = acct, .server = w.s, .since = feed_head(s, acct), .wait_ms = 20000};
    assert_int_equal(pthread_create(&th, NULL, poll_main, &p), 0);
    sleep_ms(200);
    cJSON *it = NULL;
    cJSON *v = NULL;
    OK(put(s, acct, w.s, w.va, x, 0, &sx, &it, &v, &eb));
    int64_t put_at = monotonic_ms();
    cJSON_Delete(it);
    cJSON_Delete(v);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(p.rc, OPC_OK);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.kind, "item_upsert");
    assert_int_equal(p.next, p.since + 1);
    assert_true(p.done_ms - put_at < 1000);
    assert_true(opc__store_generation(s, acct) != g0);

    /* A waiter on the generation is woken by a delete through the store. */
    gen_waiter gw = {
        .s = s, .account = acct, .gen = opc__store_generation(s, acct), .timeout_ms = 20000};
    assert_int_equal(pthread_create(&th, NULL, gen_main, &gw), 0);
    sleep_ms(200);
    OK(opc__store_item_delete(s, acct, w.s, w.va, x, 1, &it, &v, &eb));
    int64_t del_at = monotonic_ms();
    cJSON_Delete(it);
    cJSON_Delete(v);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(gw.moved);
    assert_true(gw.done_ms - del_at < 1000);

    /* ... and a long poll by the owner's batch (an item of A). */
    p.since = feed_head(s, acct);
    p.n = 0;
    assert_int_equal(pthread_create(&th, NULL, poll_main, &p), 0);
    sleep_ms(200);
    fx_item(a, w.va, "{\"title\":\"by the owner\",\"category\":\"LOGIN\"}", NULL);
    int64_t wrote_at = monotonic_ms();
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(p.rc, OPC_OK);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.kind, "item_upsert");
    assert_true(p.done_ms - wrote_at < 1000);

    /* A generation that moved: true at once. One that does not move: the
     * whole wait. (A store may move it for changes it cannot tell apart,
     * as the SQLite store's directory watch does for a moment after a
     * write: a few tries.) */
    uint64_t g = opc__store_generation(s, acct);
    int64_t t0 = monotonic_ms();
    assert_true(opc__store_wait(s, acct, g - 1, 5000));
    assert_true(monotonic_ms() - t0 < 1000);
    bool quiet = false;
    for (int i = 0; i < 20 && !quiet; i++) {
        g = opc__store_generation(s, acct);
        t0 = monotonic_ms();
        if (!opc__store_wait(s, acct, g, 200)) {
            assert_true(monotonic_ms() - t0 >= 190);
            quiet = true;
        }
    }
    assert_true(quiet);
    /* A long poll with nothing new: an empty page after its wait, the cursor at the head. */
    int64_t head = feed_head(s, acct);
    p.since = head;
    p.wait_ms = 300;
    poll_main(&p);
    assert_int_equal(p.rc, OPC_OK);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.next, head);
    assert_true(p.took_ms >= 290);
    /* Only B changes: S's poll stays empty (its cursor moves past), R's wakes. */
    poller pr = {.s = s, .account = acct, .server = w.r, .since = head, .wait_ms = 20000};
    p.since = head;
    p.wait_ms = 600;
    assert_int_equal(pthread_create(&th, NULL, poll_main, &p), 0);
    assert_int_equal(pthread_create(&th2, NULL, poll_main, &pr), 0);
    sleep_ms(200);
    fx_item(a, w.vb, "{\"title\":\"B only\",\"category\":\"LOGIN\"}", NULL);
    int64_t b_at = monotonic_ms();
    assert_int_equal(pthread_join(th2, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pr.rc, OPC_OK);
    assert_int_equal(pr.n, 1);
    assert_true(pr.done_ms - b_at < 1000);
    assert_int_equal(p.rc, OPC_OK);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.next, feed_head(s, acct));
    assert_true(p.took_ms >= 590);

    /* The shutdown ends every wait with an empty page, and every later one at once. */
    p.since = feed_head(s, acct);
    p.wait_ms = 20000;
    p.n = -1;
    gw.gen = opc__store_generation(s, acct);
    gw.moved = true;
    assert_int_equal(pthread_create(&th, NULL, poll_main, &p), 0);
    assert_int_equal(pthread_create(&th2, NULL, gen_main, &gw), 0);
    sleep_ms(200);
    opc__store_shutdown(s);
    int64_t down_at = monotonic_ms();
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pthread_join(th2, NULL), 0);
    assert_int_equal(p.rc, OPC_OK);
    assert_int_equal(p.n, 0);
    assert_true(p.done_ms - down_at < 2000);
    assert_true(gw.done_ms - down_at < 2000);
    poll_main(&p);
    assert_int_equal(p.rc, OPC_OK);
    assert_int_equal(p.n, 0);
    assert_true(p.took_ms < 2000);
    t0 = monotonic_ms();
    (void)opc__store_wait(s, acct, opc__store_generation(s, acct), 20000);
    assert_true(monotonic_ms() - t0 < 2000);

    sealed_free(&sx);
    world_free(&w);
    env_close(&e);
}

/* ==== case 6: concurrent writers ==== */

enum { WRITERS = 4, OWN_ITEMS = 8, OWN_UPDATES = 4, SHARED_TRIES = 10 };
/* Each writer: OWN_ITEMS creates, OWN_ITEMS * OWN_UPDATES updates, SHARED_TRIES
 * updates of one item all share: 50 writes. */
#define WRITES (OWN_ITEMS * (1 + OWN_UPDATES) + SHARED_TRIES)

typedef struct wresult {
    int item; /* index into the run's items; the shared one is the last */
    opc_err rc;
    int64_t version; /* of the row returned */
} wresult;

typedef struct writer {
    opc__store *s;
    const char *account;
    const char *server;
    const char *vault;
    char (*ids)[27]; /* all items; [WRITERS * OWN_ITEMS] is the shared one */
    sealed *seals;   /* one per item */
    int first;       /* the writer's own items: first .. first + OWN_ITEMS - 1 */
    wresult res[WRITES];
    int n;
} writer;

static void *writer_main(void *p)
{
    writer *wr = p;
    int shared = WRITERS * OWN_ITEMS;
    int64_t version[OWN_ITEMS] = {0};
    int shared_left = SHARED_TRIES;
    for (int round = 0; round <= OWN_UPDATES; round++) {
        for (int i = 0; i < OWN_ITEMS; i++) {
            int idx = wr->first + i;
            cJSON *it = NULL;
            cJSON *v = NULL;
            opc__ebuf eb;
            opc_err rc = put(wr->s, wr->account, wr->server, wr->vault, wr->ids[idx], version[i],
                             &wr->seals[idx], &it, &v, &eb);
            wresult *r = &wr->res[wr->n++];
            r->item = idx;
            r->rc = rc;
            r->version = rc == OPC_OK
                             ? (int64_t)cJSON_GetObjectItemCaseSensitive(it, "version")->valuedouble
                             : 0;
            if (rc == OPC_OK) {
                version[i] = r->version;
            }
            cJSON_Delete(it);
            cJSON_Delete(v);
        }
        /* Interleaved: updates of the shared item at the version just read. */
        for (int k = 0; k < 2 && shared_left > 0; k++, shared_left--) {
            cJSON *cur = NULL;
            cJSON *it = NULL;
            cJSON *v = NULL;
            opc__ebuf eb;
            opc__ebuf_clear(&eb);
            int64_t at = 0;
            if (opc__store_item(wr->s, wr->account, wr->server, wr->ids[shared], &cur, &eb) ==
                OPC_OK) {
                at = (int64_t)cJSON_GetObjectItemCaseSensitive(cur, "version")->valuedouble;
            }
            cJSON_Delete(cur);
            opc_err rc = put(wr->s, wr->account, wr->server, wr->vault, wr->ids[shared], at,
                             &wr->seals[shared], &it, &v, &eb);
            wresult *r = &wr->res[wr->n++];
            r->item = shared;
            r->rc = rc;
            r->version = rc == OPC_OK
                             ? (int64_t)cJSON_GetObjectItemCaseSensitive(it, "version")->valuedouble
                             : 0;
            cJSON_Delete(it);
            cJSON_Delete(v);
        }
    }
    return NULL;
}

/* A Connect server following the feed while others write: every seq it
 * is given, in order (the cursor must never pass a seq still to come). */
typedef struct reader {
    opc__store *s;
    const char *account;
    const char *server;
    int64_t since;
    _Atomic int64_t until; /* stop once the cursor is there (0: not yet known) */
    int64_t seqs[WRITERS * WRITES + 16];
    size_t n;
    opc_err rc;
    bool overflow;
    bool backwards; /* a cursor that moved back */
} reader;

static void *reader_main(void *p)
{
    reader *rd = p;
    int64_t cursor = rd->since;
    int64_t give_up = monotonic_ms() + 60000;
    for (;;) {
        int64_t until = atomic_load(&rd->until);
        if ((until > 0 && cursor >= until) || monotonic_ms() > give_up) {
            break;
        }
        cJSON *arr = NULL;
        int64_t next = cursor;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        rd->rc =
            opc__store_changes(rd->s, rd->account, rd->server, cursor, 7, 100, &arr, &next, &eb);
        if (rd->rc != OPC_OK) {
            break;
        }
        const cJSON *en = NULL;
        cJSON_ArrayForEach(en, arr)
        {
            const cJSON *seq = cJSON_GetObjectItemCaseSensitive(en, "seq");
            if (rd->n < sizeof rd->seqs / sizeof rd->seqs[0] && cJSON_IsNumber(seq)) {
                rd->seqs[rd->n++] = (int64_t)seq->valuedouble;
            } else {
                rd->overflow = true;
            }
        }
        cJSON_Delete(arr);
        rd->backwards = rd->backwards || next < cursor;
        cursor = next;
    }
    return NULL;
}

/*
 * WRITERS threads writing items of one account at once; with two, half of
 * them through a second store on the same storage (several account servers
 * on one database), a Connect server following the feed through the second
 * store meanwhile, and a long poll there woken by a write through the first.
 */
static void concurrent(void **state, bool two)
{
    env e;
    env_open(&e, state);
    opc__store *s = e.s;
    opc__store *s2 = s;
    opc__ebuf eb;
    world w;
    world_make(s, &w);
    const char *acct = w.o.id;
    enum { N_ITEMS = WRITERS * OWN_ITEMS + 1 };
    char ids[N_ITEMS][27];
    sealed seals[N_ITEMS];
    for (int i = 0; i < N_ITEMS; i++) {
        new_id(ids[i]);
        seal(w.o.a, w.va, ids[i], "concurrent", &seals[i]);
    }
    int shared = N_ITEMS - 1;
    cJSON *it = NULL;
    cJSON *v = NULL;
    OK(put(s, acct, w.s, w.va, ids[shared], 0, &seals[shared], &it, &v, &eb));
    cJSON_Delete(it);
    cJSON_Delete(v);
    cJSON *before = vault_row(s, acct, w.s, w.va);
    int64_t items0 = num(before, "items");
    int64_t cv0 = num(before, "content_version");
    cJSON_Delete(before);
    int64_t head = feed_head(s, acct);
    static reader rd;
    pthread_t rth;
    if (two) {
        e.k->open_more(&e, &s2);
        OK(opc__store_account(s2, acct, &eb));
        /* A long poll on the second store, woken by a write through the first. */
        poller p = {.s = s2, .account = acct, .server = w.s, .since = head, .wait_ms = 20000};
        assert_int_equal(pthread_create(&rth, NULL, poll_main, &p), 0);
        sleep_ms(200);
        OK(put(s, acct, w.s, w.va, ids[shared], 1, &seals[shared], &it, &v, &eb));
        int64_t put_at = monotonic_ms();
        cJSON_Delete(it);
        cJSON_Delete(v);
        assert_int_equal(pthread_join(rth, NULL), 0);
        assert_int_equal(p.rc, OPC_OK);
        assert_int_equal(p.n, 1);
        assert_true(p.done_ms - put_at < 1000);
        head++;
        memset(&rd, 0, sizeof rd);
        rd.s = s2;
        rd.account = acct;
        rd.server = w.s;
        rd.since = head;
        atomic_init(&rd.until, 0);
        assert_int_equal(pthread_create(&rth, NULL, reader_main, &rd), 0);
    }

    static writer wr[WRITERS];
    pthread_t th[WRITERS];
    for (int t = 0; t < WRITERS; t++) {
        memset(&wr[t], 0, sizeof wr[t]);
        wr[t] = (writer){.s = t % 2 == 1 ? s2 : s,
                         .account = acct,
                         .server = w.s,
                         .vault = w.va,
                         .ids = ids,
                         .seals = seals,
                         .first = t * OWN_ITEMS};
        assert_int_equal(pthread_create(&th[t], NULL, writer_main, &wr[t]), 0);
    }
    for (int t = 0; t < WRITERS; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
    }

    /* Every write of a writer's own items holds; the shared item's may
     * conflict, nothing else. */
    int ok = 0;
    int shared_ok = 0;
    bool seen[N_ITEMS][OWN_UPDATES + 2 + WRITERS * SHARED_TRIES];
    memset(seen, 0, sizeof seen);
    for (int t = 0; t < WRITERS; t++) {
        assert_int_equal(wr[t].n, WRITES);
        for (int i = 0; i < wr[t].n; i++) {
            const wresult *r = &wr[t].res[i];
            if (r->item != shared && r->rc != OPC_OK) {
                fail_msg("writer %d, write %d: %s", t, i, opc_errname(r->rc));
            }
            if (r->item == shared && r->rc != OPC_OK && r->rc != OPC_ERR_CONFLICT) {
                fail_msg("writer %d, write %d (shared): %s", t, i, opc_errname(r->rc));
            }
            if (r->rc == OPC_OK) {
                ok++;
                shared_ok += r->item == shared;
                assert_true(r->version >= 1 && r->version < (int64_t)(sizeof seen[0]));
                assert_false(seen[r->item][r->version]); /* each version written once */
                seen[r->item][r->version] = true;
            }
        }
    }
    assert_true(shared_ok >= 1);
    if (two) {
        /* The follower saw every seq once, in order, none skipped. */
        atomic_store(&rd.until, head + ok);
        assert_int_equal(pthread_join(rth, NULL), 0);
        check_rc(rd.rc, OPC_OK, &eb, "the follower's changes");
        assert_false(rd.overflow);
        assert_false(rd.backwards);
        assert_int_equal(rd.n, ok);
        for (size_t k = 0; k < rd.n; k++) {
            assert_int_equal(rd.seqs[k], head + 1 + (int64_t)k);
        }
    }

    /* The feed: one entry per write that held, seqs one by one after the
     * head, each (item, version) once, and nothing else. */
    int64_t next = 0;
    cJSON *f = feed(s, acct, w.s, head, OPC_STORE_MAX_LIMIT, &next);
    assert_int_equal(cJSON_GetArraySize(f), ok);
    assert_int_equal(next, head + ok);
    assert_int_equal(feed_head(s, acct), head + ok);
    int i = 0;
    const cJSON *en = NULL;
    cJSON_ArrayForEach(en, f)
    {
        assert_int_equal(num(en, "seq"), head + 1 + i);
        assert_string_equal(fx_str(en, "kind"), "item_upsert");
        assert_string_equal(fx_str(en, "vault"), w.va);
        int idx = -1;
        for (int k = 0; k < N_ITEMS; k++) {
            if (strcmp(fx_str(en, "item"), ids[k]) == 0) {
                idx = k;
            }
        }
        assert_true(idx >= 0);
        int64_t ver = num(en, "version");
        assert_true(ver >= 1 && ver < (int64_t)(sizeof seen[0]));
        assert_true(seen[idx][ver]);
        seen[idx][ver] = false; /* each once */
        i++;
    }
    cJSON_Delete(f);
    /* The rows agree: own items at 1 + OWN_UPDATES, the shared one at 1 +
     * its updates that held, the vault counted every write. */
    for (int k = 0; k < N_ITEMS; k++) {
        OK(opc__store_item(s, acct, w.s, ids[k], &it, &eb));
        assert_int_equal(num(it, "version"),
                         k == shared ? 1 + shared_ok + (two ? 1 : 0) : 1 + OWN_UPDATES);
        cJSON *it2 = NULL;
        OK(opc__store_item(s2, acct, w.s, ids[k], &it2, &eb));
        assert_true(cJSON_Compare(it, it2, true));
        cJSON_Delete(it2);
        cJSON_Delete(it);
    }
    v = vault_row(s, acct, w.s, w.va);
    assert_int_equal(num(v, "items"), items0 + WRITERS * OWN_ITEMS);
    assert_int_equal(num(v, "content_version"), cv0 + ok + (two ? 1 : 0));
    cJSON_Delete(v);

    for (int k = 0; k < N_ITEMS; k++) {
        sealed_free(&seals[k]);
    }
    world_free(&w);
    if (two) {
        opc__store_close(s2);
    }
    env_close(&e);
}

static void case_concurrent_writes(void **state)
{
    concurrent(state, false);
}

static void case_several_stores(void **state)
{
    concurrent(state, true);
}

static const case_def cases[] = {
    {"item_writes", case_item_writes, false},
    {"generation_wait", case_generation_wait, true},
    {"concurrent_writes", case_concurrent_writes, true},
    {"several_stores", case_several_stores, true},
};

int main(void)
{
    return run_cases(cases, sizeof cases / sizeof cases[0]);
}
