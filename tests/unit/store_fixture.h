/*
 * tests/unit/store_fixture.h - two accounts in one accounts/ directory, as
 * op-account-server serves them (lib/store, lib/accountd): account A with a
 * vault, an item and a Connect server granted the vault, account B the
 * same. Device keys can be replaced by keys the test holds, so that a test
 * can sign a session handshake as a Connect server.
 */
#ifndef OPC_TEST_STORE_FIXTURE_H
#define OPC_TEST_STORE_FIXTURE_H

#include "account_fixture.h"

#include <time.h>

#include "crypto/key.h"
#include "store/store.h"

typedef struct tx {
    char data[96]; /* the data directory (tmp) */
    char dir[200]; /* <data>/accounts */
    fx a;          /* account A: <dir>/a.db (fx fields, its dir = data) */
    fx b;          /* account B: <dir>/b.db (b.dir empty: removed with a) */
    char id_a[27], id_b[27];
    char va[27], vb[27]; /* one vault each */
    char sa[27], sb[27]; /* one server each, granted that vault */
    char ia[27], ib[27]; /* one item each */
} tx;

static OPC_TEST_UNUSED void tx_account(fx *f, const char *path, char id[27], char vault[27],
                                       char server[27], char item[27], const char *name)
{
    snprintf(f->path, sizeof f->path, "%s", path);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__account_create_ex(f->path, FX_EMAIL, FX_PASSWORD, FX_ITERATIONS, 1, &f->a,
                                        &f->sk, &eb);
    if (rc != OPC_OK) {
        fail_msg("account create: %s (%s)", opc_errname(rc), eb.msg);
    }
    snprintf(id, 27, "%s", opc_account_id(f->a));
    fx_vault(f->a, name, vault);
    fx_item(f->a, vault, "{\"title\":\"one\",\"category\":\"LOGIN\"}", item);
    const char *vaults[] = {vault};
    cJSON *s = fx_server(f->a, name, vaults, 1, NULL);
    snprintf(server, 27, "%s", fx_str(s, "id"));
    cJSON_Delete(s);
}

static OPC_TEST_UNUSED void tx_setup(tx *t)
{
    memset(t, 0, sizeof *t);
    opc_test_mkdtemp(t->data, sizeof t->data, "opc-store-test", "accounts", t->dir, sizeof t->dir);
    assert_int_equal(mkdir(t->dir, 0700), 0);
    char p[300];
    snprintf(p, sizeof p, "%s/a.db", t->dir);
    tx_account(&t->a, p, t->id_a, t->va, t->sa, t->ia, "Alpha");
    snprintf(t->a.dir, sizeof t->a.dir, "%s", t->data);
    snprintf(p, sizeof p, "%s/b.db", t->dir);
    tx_account(&t->b, p, t->id_b, t->vb, t->sb, t->ib, "Beta");
}

static OPC_TEST_UNUSED void tx_teardown(tx *t)
{
    opc_account_free(t->b.a);
    opc_secret_free(t->b.sk);
    fx_destroy(&t->a); /* removes the whole data directory */
}

/* Replace the registered device key of server in the account file at path
 * by a new key whose private half *priv the test keeps (opc__key_free). */
static OPC_TEST_UNUSED void tx_device_key(const char *path, const char *server, opc__key **priv)
{
    assert_int_equal(opc__key_generate_ec("", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, priv), OPC_OK);
    cJSON *j = NULL;
    assert_int_equal(opc__jwk_export(*priv, false, &j), OPC_OK);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    assert_non_null(text);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE servers SET device_pub = ?1 WHERE id = ?2", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, server, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
    cJSON_free(text);
}

static OPC_TEST_UNUSED int64_t tx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
