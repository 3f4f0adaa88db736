/*
 * tests/unit/test_store.c - the account server's store (lib/store): two
 * accounts in one directory, each server confined to its own account; a
 * file copied in later is found; the commit generation wakes a waiting
 * long poll at once, a direct write of the file within the poll, and the
 * shutdown ends every wait; the owner's store protocol on an account.
 */
#include "store_fixture.h"

#include <pthread.h>

#include "core/alloc.h"

static opc__store *open_store(const tx *t)
{
    opc__store *s = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__store_sqlite_open(t->dir, &s, &eb);
    if (rc != OPC_OK) {
        fail_msg("store open: %s (%s)", opc_errname(rc), eb.msg);
    }
    return s;
}

static void want(opc_err got, opc_err expected, const opc__ebuf *eb, const char *what)
{
    if (got != expected) {
        fail_msg("%s: got %s, want %s (%s)", what, opc_errname(got), opc_errname(expected),
                 eb->msg);
    }
}

static void test_two_accounts_isolated(void **state)
{
    (void)state;
    tx t;
    tx_setup(&t);
    opc__store *s = open_store(&t);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__store_count(s), 2);
    want(opc__store_account(s, t.id_a, &eb), OPC_OK, &eb, "account A");
    want(opc__store_account(s, t.id_b, &eb), OPC_OK, &eb, "account B");
    char other[27];
    assert_int_equal(opc__id_generate(other), OPC_OK);
    want(opc__store_account(s, other, &eb), OPC_ERR_NOT_FOUND, &eb, "unknown account");

    /* Each server reads its own account's rows. */
    cJSON *row = NULL;
    want(opc__store_vault(s, t.id_a, t.sa, t.va, &row, &eb), OPC_OK, &eb,
         "A's vault by A's server");
    assert_string_equal(fx_str(row, "id"), t.va);
    cJSON_Delete(row);
    want(opc__store_item(s, t.id_b, t.sb, t.ib, &row, &eb), OPC_OK, &eb, "B's item by B's server");
    cJSON_Delete(row);

    /* B's server cannot read A's rows, whichever account it names. */
    want(opc__store_vault(s, t.id_b, t.sb, t.va, &row, &eb), OPC_ERR_NOT_FOUND, &eb,
         "A's vault through B");
    assert_null(row);
    want(opc__store_vault(s, t.id_a, t.sb, t.va, &row, &eb), OPC_ERR_NOT_FOUND, &eb,
         "A's vault by B's server in A");
    want(opc__store_item(s, t.id_a, t.sb, t.ia, &row, &eb), OPC_ERR_NOT_FOUND, &eb,
         "A's item by B's server");
    want(opc__store_access(s, t.id_a, t.sb, t.va, &row, &eb), OPC_ERR_NOT_FOUND, &eb,
         "A's grant by B's server");
    cJSON *arr = NULL;
    want(opc__store_vault_items(s, t.id_a, t.sb, t.va, NULL, 100, &arr, &eb), OPC_OK, &eb,
         "A's items by B's server");
    assert_int_equal(cJSON_GetArraySize(arr), 0);
    cJSON_Delete(arr);
    want(opc__store_vault_items(s, t.id_a, t.sa, t.va, NULL, 100, &arr, &eb), OPC_OK, &eb,
         "A's items by A's server");
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    cJSON_Delete(arr);

    /* Device keys: only an active server of that very account has one. */
    opc__key *k = NULL;
    want(opc__store_device_key(s, t.id_a, t.sa, &k, &eb), OPC_OK, &eb, "A's server's key");
    assert_non_null(k);
    opc__key_free(k);
    k = NULL;
    want(opc__store_device_key(s, t.id_a, t.sb, &k, &eb), OPC_ERR_NOT_FOUND, &eb,
         "B's server in A");
    assert_null(k);
    want(opc__store_device_key(s, t.id_b, t.sa, &k, &eb), OPC_ERR_NOT_FOUND, &eb,
         "A's server in B");
    want(opc__store_device_key(s, other, t.sa, &k, &eb), OPC_ERR_NOT_FOUND, &eb, "unknown account");
    FX_OK(t.a.a, opc_account_server_delete(t.a.a, t.sa));
    want(opc__store_device_key(s, t.id_a, t.sa, &k, &eb), OPC_ERR_NOT_FOUND, &eb,
         "a deleted server");

    /* The feed of B's server in B names nothing of A. */
    int64_t next = 0;
    want(opc__store_changes(s, t.id_b, t.sb, 0, 1000, 0, &arr, &next, &eb), OPC_OK, &eb,
         "B's feed");
    char *text = cJSON_PrintUnformatted(arr);
    assert_non_null(text);
    assert_null(strstr(text, t.va));
    assert_null(strstr(text, t.ia));
    assert_non_null(strstr(text, t.vb));
    cJSON_free(text);
    cJSON_Delete(arr);

    /* Bad arguments are refused before the backend. */
    want(opc__store_vault(s, "nope", t.sa, t.va, &row, &eb), OPC_ERR_INVALID_ARG, &eb, "bad id");
    want(opc__store_vault_items(s, t.id_a, t.sa, t.va, NULL, 0, &arr, &eb), OPC_ERR_RANGE, &eb,
         "limit 0");
    want(opc__store_changes(s, t.id_a, t.sa, 0, 10, OPC_STORE_MAX_WAIT_MS + 1, &arr, &next, &eb),
         OPC_ERR_RANGE, &eb, "wait too long");
    opc__store_close(s);
    tx_teardown(&t);
}

/* A file copied into the directory is served after the next scan (<= 1 s). */
static void test_new_file_found(void **state)
{
    (void)state;
    tx t;
    tx_setup(&t);
    char hidden[300];
    snprintf(hidden, sizeof hidden, "%s/b.db", t.data);
    opc_account_free(t.b.a);
    t.b.a = NULL;
    assert_int_equal(rename(t.b.path, hidden), 0);
    opc__store *s = open_store(&t);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__store_count(s), 1);
    want(opc__store_account(s, t.id_b, &eb), OPC_ERR_NOT_FOUND, &eb, "B not there yet");
    assert_int_equal(rename(hidden, t.b.path), 0);
    int64_t until = tx_now_ms() + 3000;
    opc_err rc = OPC_ERR_NOT_FOUND;
    while (rc == OPC_ERR_NOT_FOUND && tx_now_ms() < until) {
        nanosleep(&(struct timespec){0, 100000000L}, NULL);
        rc = opc__store_account(s, t.id_b, &eb);
    }
    want(rc, OPC_OK, &eb, "B after the rescan");
    assert_int_equal(opc__store_count(s), 2);
    cJSON *row = NULL;
    want(opc__store_item(s, t.id_b, t.sb, t.ib, &row, &eb), OPC_OK, &eb, "B's item");
    cJSON_Delete(row);

    /* A file gone is the storage's problem (503), until it is back: the
     * restore of a backup (another inode) is reopened. */
    char copy[300];
    snprintf(copy, sizeof copy, "%s/b.copy", t.data);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", t.b.path, copy);
    assert_int_equal(system(cmd), 0);
    fx_rm_path(t.b.path);
    want(opc__store_item(s, t.id_b, t.sb, t.ib, &row, &eb), OPC_ERR_IO, &eb, "B's file gone");
    assert_null(row);
    assert_int_equal(rename(copy, t.b.path), 0);
    want(opc__store_item(s, t.id_b, t.sb, t.ib, &row, &eb), OPC_OK, &eb, "B's file restored");
    cJSON_Delete(row);
    opc__store_close(s);
    tx_teardown(&t);
}

typedef struct waiter {
    opc__store *s;
    const tx *t;
    int64_t since;
    int64_t wait_ms;
    opc_err rc;
    int n;
    int64_t took_ms;
} waiter;

static void *wait_main(void *p)
{
    waiter *w = p;
    cJSON *arr = NULL;
    int64_t next = 0;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    int64_t t0 = tx_now_ms();
    w->rc =
        opc__store_changes(w->s, w->t->id_a, w->t->sa, w->since, 100, w->wait_ms, &arr, &next, &eb);
    w->took_ms = tx_now_ms() - t0;
    w->n = cJSON_GetArraySize(arr);
    cJSON_Delete(arr);
    return NULL;
}

typedef struct gen_waiter {
    opc__store *s;
    const char *account;
    uint64_t gen;
    bool moved;
} gen_waiter;

static void *gen_wait_main(void *p)
{
    gen_waiter *g = p;
    g->moved = opc__store_wait(g->s, g->account, g->gen, 20000);
    return NULL;
}

static int64_t latest(opc__store *s, const tx *t)
{
    cJSON *arr = NULL;
    int64_t next = 0;
    assert_int_equal(opc__store_changes(s, t->id_a, t->sa, 0, 10000, 0, &arr, &next, NULL), OPC_OK);
    cJSON_Delete(arr);
    return next;
}

/* Run the rows request text (wire/rows_rpc.h) on account through the store. */
static opc_err owner_call(opc__store *s, const char *account, const char *text, cJSON **rows,
                          int64_t *seqs, size_t *n_seqs, opc__ebuf *eb)
{
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    opc__rpc_request rq;
    assert_int_equal(opc__rpc_request_decode(j, &rq, NULL), OPC_OK);
    opc__ebuf_clear(eb);
    opc_err rc = rq.read != NULL
                     ? opc__store_owner_read(s, account, rq.read, rq.args, rows, eb)
                     : opc__store_owner_batch(s, account, rq.steps, rq.n_steps, seqs, n_seqs, eb);
    opc__rpc_request_free(&rq);
    cJSON_Delete(j);
    return rc;
}

/* The owner's store protocol on one account: reads, a batch and its seqs,
 * the codes a failure keeps (conflict, exists, refused, no such account). */
static void test_owner_rows(void **state)
{
    (void)state;
    tx t;
    tx_setup(&t);
    opc__store *s = open_store(&t);
    opc__ebuf eb;
    cJSON *rows = NULL;
    int64_t seqs[OPC__RPC_MAX_CHANGES];
    size_t n = 0;
    want(owner_call(s, t.id_a, "{\"read\":\"server.find_name\",\"args\":[\"Alpha\"]}", &rows, NULL,
                    NULL, &eb),
         OPC_OK, &eb, "read on A");
    assert_int_equal(cJSON_GetArraySize(rows), 1);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 0), 0)->valuestring, t.sa);
    cJSON_Delete(rows);
    want(owner_call(s, t.id_b, "{\"read\":\"server.find_name\",\"args\":[\"Alpha\"]}", &rows, NULL,
                    NULL, &eb),
         OPC_OK, &eb, "read on B");
    assert_int_equal(cJSON_GetArraySize(rows), 0);
    cJSON_Delete(rows);
    want(
        owner_call(s, t.id_a, "{\"read\":\"vault.feed_head\",\"args\":[]}", &rows, NULL, NULL, &eb),
        OPC_OK, &eb, "feed head");
    int64_t head = (int64_t)cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 0), 0)->valuedouble;
    cJSON_Delete(rows);
    char other[27];
    assert_int_equal(opc__id_generate(other), OPC_OK);
    want(owner_call(s, other, "{\"read\":\"vault.feed_head\",\"args\":[]}", &rows, NULL, NULL, &eb),
         OPC_ERR_NOT_FOUND, &eb, "unknown account");
    want(owner_call(s, "short", "{\"read\":\"vault.feed_head\",\"args\":[]}", &rows, NULL, NULL,
                    &eb),
         OPC_ERR_INVALID_ARG, &eb, "not an id");
    want(owner_call(s, t.id_a, "{\"read\":\"nope.nothing\",\"args\":[]}", &rows, NULL, NULL, &eb),
         OPC_ERR_INVALID_ARG, &eb, "unknown statement");

    /* A batch: its seq is the feed's next, the generation moves. */
    char text[1024];
    snprintf(text, sizeof text,
             "{\"batch\":[{\"stmt\":\"change.append\",\"args\":[\"vault_update\",\"%s\",null,null,"
             "null,null,null,null,1700000000],\"expect\":1},{\"stmt\":\"vault.touch\",\"args\":[0,"
             "1700000000,{\"seq\":0},\"%s\"],\"expect\":1}]}",
             t.va, t.va);
    uint64_t g0 = opc__store_generation(s, t.id_a);
    want(owner_call(s, t.id_a, text, NULL, seqs, &n, &eb), OPC_OK, &eb, "batch");
    assert_int_equal(n, 1);
    assert_int_equal(seqs[0], head + 1);
    assert_true(opc__store_generation(s, t.id_a) > g0);
    /* The same batch on B (no such vault there): a conflict, B unchanged. */
    want(owner_call(s, t.id_b, text, NULL, seqs, &n, &eb), OPC_ERR_CONFLICT, &eb, "batch on B");
    assert_int_equal(n, 0);
    assert_non_null(strstr(eb.msg, "vault.touch (statement 1 of the batch)"));
    assert_non_null(strstr(eb.msg, t.id_b));
    /* A unique index: exists. */
    snprintf(text, sizeof text,
             "{\"batch\":[{\"stmt\":\"change.append\",\"args\":[\"vault_create\",\"%s\",null,null,"
             "null,null,null,null,1700000000],\"expect\":1},{\"stmt\":\"vault.insert\",\"args\":["
             "\"%s\",\"U\",1,\"x\",1700000000,1700000000,{\"seq\":0}],\"expect\":1}]}",
             t.va, t.va);
    want(owner_call(s, t.id_a, text, NULL, seqs, &n, &eb), OPC_ERR_EXISTS, &eb, "exists");
    /* A placeholder naming no earlier change: refused before it runs. */
    snprintf(text, sizeof text,
             "{\"batch\":[{\"stmt\":\"vault.touch\",\"args\":[0,1700000000,{\"seq\":0},\"%s\"],"
             "\"expect\":1}]}",
             t.va);
    want(owner_call(s, t.id_a, text, NULL, seqs, &n, &eb), OPC_ERR_INVALID_ARG, &eb,
         "placeholder out of range");
    want(
        owner_call(s, t.id_a, "{\"read\":\"vault.feed_head\",\"args\":[]}", &rows, NULL, NULL, &eb),
        OPC_OK, &eb, "feed head");
    assert_int_equal((int64_t)cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 0), 0)->valuedouble,
                     head + 1);
    cJSON_Delete(rows);
    opc__store_close(s);
    tx_teardown(&t);
}

/* A write through the store bumps the generation and wakes the waiter. */
static void test_generation_wakes(void **state)
{
    (void)state;
    tx t;
    tx_setup(&t);
    opc__store *s = open_store(&t);
    uint64_t g0 = opc__store_generation(s, t.id_a);

    /* A bare waiter on the generation returns true at once on a commit. */
    char id[27];
    assert_int_equal(opc__id_generate(id), OPC_OK);
    char *ov = NULL;
    char *det = NULL;
    int64_t sn = 0;
    fx_seal_item(t.a.a, t.va, id, "{\"title\":\"new\",\"category\":\"LOGIN\"}", &ov, &det, &sn);
    waiter w = {.s = s, .t = &t, .since = latest(s, &t), .wait_ms = 20000};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_main, &w), 0);
    nanosleep(&(struct timespec){0, 300000000L}, NULL); /* the waiter waits */
    opc__item_write wr = {t.va, id, 0, sn, ov, det};
    cJSON *it = NULL;
    cJSON *vr = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    want(opc__store_item_put(s, t.id_a, t.sa, &wr, &it, &vr, &eb), OPC_OK, &eb, "item put");
    int64_t put_at = tx_now_ms();
    cJSON_Delete(it);
    cJSON_Delete(vr);
    assert_int_equal(pthread_join(th, NULL), 0);
    int64_t woke_after = tx_now_ms() - put_at;
    assert_int_equal(w.rc, OPC_OK);
    assert_int_equal(w.n, 1); /* the item_upsert */
    assert_true(w.took_ms < 5000);
    assert_true(woke_after < 1000);
    /* moved by the commit (the directory's watch may move it again) */
    assert_true(opc__store_generation(s, t.id_a) > g0);

    /* A thread waiting on the generation itself (no poll) is woken by a
     * delete through the store, long before its 20 s. */
    gen_waiter gw = {.s = s, .account = t.id_a, .gen = opc__store_generation(s, t.id_a)};
    assert_int_equal(pthread_create(&th, NULL, gen_wait_main, &gw), 0);
    nanosleep(&(struct timespec){0, 200000000L}, NULL);
    int64_t del_at = tx_now_ms();
    want(opc__store_item_delete(s, t.id_a, t.sa, t.va, id, 0, &it, &vr, &eb), OPC_OK, &eb,
         "item delete");
    cJSON_Delete(it);
    cJSON_Delete(vr);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(gw.moved);
    assert_true(tx_now_ms() - del_at < 5000);
    nanosleep(&(struct timespec){0, 100000000L}, NULL); /* the watch settles */
    g0 = opc__store_generation(s, t.id_a);

    /* opc__store_wait: a moved generation returns true at once; an
     * unmoved one waits the whole time. */
    assert_true(opc__store_wait(s, t.id_a, g0 - 1, 5000));
    int64_t t0 = tx_now_ms();
    assert_false(opc__store_wait(s, t.id_a, g0, 150));
    assert_true(tx_now_ms() - t0 >= 140);

    /* The owner writing the file directly: seen by the directory's watch
     * (which moves the generation) or, without inotify, by the poll. */
    w.since = latest(s, &t);
    w.n = 0;
    assert_int_equal(pthread_create(&th, NULL, wait_main, &w), 0);
    nanosleep(&(struct timespec){0, 300000000L}, NULL);
    fx_item(t.a.a, t.va, "{\"title\":\"direct\",\"category\":\"LOGIN\"}", NULL);
    int64_t wrote_at = tx_now_ms();
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.rc, OPC_OK);
    assert_int_equal(w.n, 1);
    assert_true(tx_now_ms() - wrote_at < 2000);

    /* The shutdown ends a wait with an empty page. */
    w.since = latest(s, &t);
    w.n = -1;
    assert_int_equal(pthread_create(&th, NULL, wait_main, &w), 0);
    nanosleep(&(struct timespec){0, 200000000L}, NULL);
    opc__store_shutdown(s);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.rc, OPC_OK);
    assert_int_equal(w.n, 0);
    assert_true(w.took_ms < 2000);
    opc__free(ov);
    opc__free(det);
    opc__store_close(s);
    tx_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_accounts_isolated),
        cmocka_unit_test(test_new_file_found),
        cmocka_unit_test(test_owner_rows),
    };
    /* The waiters allocate on threads of their own: the system allocator. */
    const struct CMUnitTest threaded[] = {
        cmocka_unit_test(test_generation_wakes),
    };
    int rc =
        cmocka_run_group_tests_name("store", tests, opc_test_group_setup, opc_test_group_teardown);
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        return 1;
    }
    rc += cmocka_run_group_tests_name("store_threads", threaded, NULL, NULL);
    opc_global_cleanup();
    return rc;
}
