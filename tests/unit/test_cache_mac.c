/*
 * tests/unit/test_cache_mac.c - the cache's verified rows (cache/cache.h,
 * "Verified rows"; cache/cache_mac.c): the row MACs cover every column and
 * the table, the seal covers the server state and every row's MAC, a keyed
 * handle hands out only rows that verify, opc__cache_verify names what
 * fails (an edited row, a row of another server's cache, a row rolled back
 * to an older MAC of its own, a deleted or added row, an edited cursor),
 * writes outside a transaction seal too, a rolled-back transaction seals
 * nothing, and a cache of the older schema has rows that fail.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include "harness.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "cache/cache.h"

#define VAULT "vvvvvvvvvvvvvvvvvvvvvvvvvv"
#define JTI "tttttttttttttttttttttttttt"
#define JTI2 "uuuuuuuuuuuuuuuuuuuuuuuuuu"
#define SERVER "ssssssssssssssssssssssssss"
#define ACCOUNT "aaaaaaaaaaaaaaaaaaaaaaaaaa"

static const uint8_t KEY_A[OPC_CACHE_MAC_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t KEY_B[OPC_CACHE_MAC_LEN] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

typedef struct fx {
    char dir[64];
    char path[128];
    opc__cache *c;
} fx;

static char s_jwk[] = "{\"kty\":\"EC\"}", s_enc[] = "enc", s_sig[] = "sig", s_name[] = "tok";
static char s_scopes[] = "[]", s_active[] = "active", s_revoked[] = "revoked";

static opc__cache_token token_row(const char *jti, char *state, int64_t seq)
{
    opc__cache_token t = {.name = s_name,
                          .scopes = s_scopes,
                          .created = 1,
                          .expires = 0,
                          .state = state,
                          .updated = 2,
                          .seq = seq};
    (void)snprintf(t.jti, sizeof t.jti, "%s", jti);
    (void)snprintf(t.server, sizeof t.server, "%s", SERVER);
    return t;
}

static opc__cache_access access_row(void)
{
    opc__cache_access a = {.vault = VAULT,
                           .key_sn = 1,
                           .enc_key = s_enc,
                           .acl = 3,
                           .granted = 4,
                           .grant_sig = s_sig,
                           .seq = 5};
    return a;
}

/* A cache sealed under key: ids, cursor 10, an issuer key, a grant, two tokens. */
static void fx_open(fx *f, const uint8_t *key)
{
    memset(f, 0, sizeof *f);
    opc_test_mkdtemp(f->dir, sizeof f->dir, "opc-cache-mac", "cache.sqlite", f->path,
                     sizeof f->path);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__cache_open(f->path, OPC_CACHE_CREATE, &f->c, &eb), OPC_OK);
    opc__cache_set_key(f->c, key);
    assert_int_equal(opc__cache_begin(f->c, true, &eb), OPC_OK);
    assert_int_equal(opc__cache_set_ids(f->c, SERVER, ACCOUNT, &eb), OPC_OK);
    assert_int_equal(opc__cache_set_cursor(f->c, 10, &eb), OPC_OK);
    opc__cache_issuer_key k = {.kid = "kid1", .jwk = s_jwk, .seq = 1};
    assert_int_equal(opc__cache_issuer_key_put(f->c, &k, &eb), OPC_OK);
    opc__cache_access a = access_row();
    assert_int_equal(opc__cache_access_put(f->c, &a, &eb), OPC_OK);
    opc__cache_token t = token_row(JTI, s_active, 6);
    assert_int_equal(opc__cache_token_put(f->c, &t, &eb), OPC_OK);
    opc__cache_token t2 = token_row(JTI2, s_active, 7);
    assert_int_equal(opc__cache_token_put(f->c, &t2, &eb), OPC_OK);
    assert_int_equal(opc__cache_commit(f->c, &eb), OPC_OK);
}

static void fx_close(fx *f)
{
    opc__cache_close(f->c);
    (void)nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Run SQL on the file as another program would (the daemons stopped). */
static void sql(const fx *f, const char *q)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &err) != SQLITE_OK) {
        fail_msg("sql: %s", err != NULL ? err : "?");
    }
    sqlite3_close(db);
}

static opc__cache_check verify(opc__cache *c)
{
    opc__cache_check chk;
    assert_int_equal(opc__cache_verify(c, &chk, NULL), OPC_OK);
    return chk;
}

static opc_err count_token(const opc__cache_token *t, void *ud)
{
    (void)t;
    (*(int *)ud)++;
    return OPC_OK;
}

static int tokens_seen(opc__cache *c)
{
    int n = 0;
    assert_int_equal(opc__cache_tokens_foreach(c, count_token, &n, NULL), OPC_OK);
    return n;
}

/* Every field and the key change a MAC; the same row and key give the same one. */
static void test_cache_mac_covers_every_column(void **state)
{
    (void)state;
    uint8_t m0[OPC_CACHE_MAC_LEN], m1[OPC_CACHE_MAC_LEN];
    opc__cache_token t = token_row(JTI, s_active, 6);
    assert_int_equal(opc__cache_mac_token(KEY_A, &t, m0), OPC_OK);
    assert_int_equal(opc__cache_mac_token(KEY_A, &t, m1), OPC_OK);
    assert_memory_equal(m0, m1, sizeof m0);
    assert_int_equal(opc__cache_mac_token(KEY_B, &t, m1), OPC_OK);
    assert_memory_not_equal(m0, m1, sizeof m0);
    opc__cache_token v[8];
    for (size_t i = 0; i < 8; i++) {
        v[i] = t;
    }
    v[0].jti[0] = 'x';
    v[1].server[0] = 'x';
    v[2].name = s_enc;
    v[3].scopes = s_jwk;
    v[4].created++;
    v[5].expires = 99;
    v[6].state = s_revoked;
    v[7].seq++;
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(opc__cache_mac_token(KEY_A, &v[i], m1), OPC_OK);
        assert_memory_not_equal(m0, m1, sizeof m0);
    }
    /* A NULL text is not the empty text. */
    char empty[] = "";
    opc__cache_token e = t, n = t;
    e.name = empty;
    n.name = NULL;
    assert_int_equal(opc__cache_mac_token(KEY_A, &e, m0), OPC_OK);
    assert_int_equal(opc__cache_mac_token(KEY_A, &n, m1), OPC_OK);
    assert_memory_not_equal(m0, m1, sizeof m0);
    /* Grants: acl and the signature are covered; fields do not slide
     * between neighbours (the lengths are encoded). */
    opc__cache_access a = access_row(), b = access_row();
    assert_int_equal(opc__cache_mac_access(KEY_A, &a, m0), OPC_OK);
    b.acl = 1;
    assert_int_equal(opc__cache_mac_access(KEY_A, &b, m1), OPC_OK);
    assert_memory_not_equal(m0, m1, sizeof m0);
    char e1[] = "encs", s1[] = "ig";
    b = access_row();
    b.enc_key = e1;
    b.grant_sig = s1;
    b.acl = a.acl;
    assert_int_equal(opc__cache_mac_access(KEY_A, &b, m1), OPC_OK);
    assert_memory_not_equal(m0, m1, sizeof m0);
    opc__cache_issuer_key k = {.kid = "kid1", .jwk = s_jwk, .seq = 1}, k2 = k;
    assert_int_equal(opc__cache_mac_issuer_key(KEY_A, &k, m0), OPC_OK);
    k2.seq = 2;
    assert_int_equal(opc__cache_mac_issuer_key(KEY_A, &k2, m1), OPC_OK);
    assert_memory_not_equal(m0, m1, sizeof m0);
}

/* A sealed cache verifies; its rows read back; the MACs are stored. */
static void test_cache_mac_sealed_cache_verifies(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, KEY_A);
    opc__cache_check chk = verify(f.c);
    assert_true(chk.ok && chk.sealed && chk.seal_ok);
    assert_int_equal(chk.bad_rows, 0);
    char line[256];
    assert_int_equal(opc__cache_check_describe(&chk, line, sizeof line), 0);
    assert_string_equal(line, "");
    assert_int_equal(tokens_seen(f.c), 2);
    opc__cache_token t;
    assert_int_equal(opc__cache_token_get(f.c, JTI, &t, NULL), OPC_OK);
    assert_string_equal(t.state, "active");
    opc__cache_token_clear(&t);
    /* A reader with the same key agrees. */
    opc__cache *r = NULL;
    assert_int_equal(opc__cache_open(f.path, OPC_CACHE_READ, &r, NULL), OPC_OK);
    opc__cache_set_key(r, KEY_A);
    assert_true(verify(r).ok);
    opc__cache_close(r);
    fx_close(&f);
}

/* The attack: a revoked token's row set back to active. */
static void test_cache_mac_edited_row_refused(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, KEY_A);
    opc__cache_token t = token_row(JTI, s_revoked, 8);
    assert_int_equal(opc__cache_token_put(f.c, &t, NULL), OPC_OK); /* sealed on its own */
    assert_true(verify(f.c).ok);
    sql(&f, "UPDATE tokens SET state = 'active' WHERE jti = '" JTI "'");
    opc__cache_check chk = verify(f.c);
    assert_false(chk.ok);
    assert_true(chk.seal_ok); /* the MAC column is untouched: the row itself fails */
    assert_int_equal(chk.bad_rows, 1);
    assert_string_equal(chk.bad[0].table, "tokens");
    assert_string_equal(chk.bad[0].id, JTI);
    char line[256];
    assert_true(opc__cache_check_describe(&chk, line, sizeof line) > 0);
    assert_string_equal(line, "tokens " JTI);
    /* Refused by the readers: unknown to the getter, skipped by the walker. */
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__cache_token got;
    assert_int_equal(opc__cache_token_get(f.c, JTI, &got, &eb), OPC_ERR_NOT_FOUND);
    assert_null(got.state);
    assert_int_equal(tokens_seen(f.c), 1);
    /* A handle without a key checks nothing (tools, tests). */
    opc__cache *r = NULL;
    assert_int_equal(opc__cache_open(f.path, OPC_CACHE_READ, &r, NULL), OPC_OK);
    assert_int_equal(opc__cache_verify(r, &chk, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(tokens_seen(r), 2);
    opc__cache_close(r);
    fx_close(&f);
}

/* A grant's acl edited; a grant row of another server's cache copied in. */
static void test_cache_mac_grant_edited_or_copied(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, KEY_A);
    sql(&f, "UPDATE vault_access SET acl = 1");
    opc__cache_check chk = verify(f.c);
    assert_int_equal(chk.bad_rows, 1);
    assert_string_equal(chk.bad[0].table, "vault_access");
    assert_string_equal(chk.bad[0].id, VAULT);
    opc__cache_access a;
    assert_int_equal(opc__cache_access_get(f.c, VAULT, &a, NULL), OPC_ERR_NOT_FOUND);
    fx_close(&f);

    fx g;
    fx h;
    fx_open(&g, KEY_A);
    fx_open(&h, KEY_B); /* another server: same rows, its own key */
    char q[512];
    (void)snprintf(q, sizeof q,
                   "ATTACH '%s' AS b; INSERT OR REPLACE INTO main.vault_access"
                   " SELECT * FROM b.vault_access",
                   h.path);
    sql(&g, q);
    chk = verify(g.c);
    assert_false(chk.ok);
    assert_int_equal(chk.bad_rows, 1);
    assert_string_equal(chk.bad[0].table, "vault_access");
    /* The whole file of the other server: nothing verifies. */
    opc__cache *r = NULL;
    assert_int_equal(opc__cache_open(h.path, OPC_CACHE_READ, &r, NULL), OPC_OK);
    opc__cache_set_key(r, KEY_A);
    chk = verify(r);
    assert_false(chk.seal_ok);
    assert_int_equal(chk.bad_rows, 4);
    opc__cache_close(r);
    fx_close(&g);
    fx_close(&h);
}

/* A row rolled back to an older MAC of its own, a row deleted, a row added
 * with a valid MAC, the cursor edited: each fails the seal. */
static void test_cache_mac_seal_catches_set_changes(void **state)
{
    (void)state;
    /* An edit that reads the older copy names it "old" (attached first). */
    static const struct {
        bool attach;
        const char *sql;
    } edits[] = {
        {true, "INSERT OR REPLACE INTO main.tokens SELECT * FROM old.tokens"
               " WHERE jti = '" JTI "'"},
        {false, "DELETE FROM tokens WHERE jti = '" JTI "'"},
        {true, "INSERT INTO main.tokens SELECT * FROM old.tokens WHERE jti = '" JTI2 "'"},
        {false, "UPDATE meta SET feed_cursor = 9"},
        {false, "UPDATE meta SET server_id = 'zzzzzzzzzzzzzzzzzzzzzzzzzz'"},
        {false, "UPDATE meta SET initial_sync_complete = 1"},
        {false, "DELETE FROM issuer_keys"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        fx f;
        fx_open(&f, KEY_A);
        char old[160];
        (void)snprintf(old, sizeof old, "%s.old", f.path);
        char q[512];
        (void)snprintf(q, sizeof q, "VACUUM INTO '%s'", old);
        sql(&f, q);
        /* Revoke JTI and drop JTI2: the copy holds their older rows. */
        opc__cache_token t = token_row(JTI, s_revoked, 8);
        assert_int_equal(opc__cache_begin(f.c, true, NULL), OPC_OK);
        assert_int_equal(opc__cache_token_put(f.c, &t, NULL), OPC_OK);
        assert_int_equal(opc__cache_token_delete(f.c, JTI2, NULL), OPC_OK);
        assert_int_equal(opc__cache_commit(f.c, NULL), OPC_OK);
        assert_true(verify(f.c).ok);
        (void)snprintf(q, sizeof q, "%s%s%s%s", edits[i].attach ? "ATTACH '" : "",
                       edits[i].attach ? old : "", edits[i].attach ? "' AS old; " : "",
                       edits[i].sql);
        sql(&f, q);
        opc__cache_check chk = verify(f.c);
        assert_false(chk.ok);
        assert_true(chk.sealed);
        assert_false(chk.seal_ok);
        assert_int_equal(chk.bad_rows, 0); /* every row left holds its own MAC */
        char line[256];
        (void)opc__cache_check_describe(&chk, line, sizeof line);
        assert_non_null(strstr(line, "the seal"));
        /* The whole older file is consistent: it verifies (docs). */
        opc__cache *r = NULL;
        assert_int_equal(opc__cache_open(old, OPC_CACHE_READ, &r, NULL), OPC_OK);
        opc__cache_set_key(r, KEY_A);
        assert_true(verify(r).ok);
        opc__cache_close(r);
        (void)remove(old);
        fx_close(&f);
    }
}

/* A rolled-back transaction seals nothing; the sealed state stays. */
static void test_cache_mac_rollback_seals_nothing(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, KEY_A);
    assert_int_equal(opc__cache_begin(f.c, true, NULL), OPC_OK);
    assert_int_equal(opc__cache_set_cursor(f.c, 50, NULL), OPC_OK);
    opc__cache_rollback(f.c);
    /* The next transaction changes no sealed state: its commit writes no seal. */
    assert_int_equal(opc__cache_begin(f.c, true, NULL), OPC_OK);
    assert_int_equal(opc__cache_health_success(f.c, 1, NULL), OPC_OK);
    assert_int_equal(opc__cache_commit(f.c, NULL), OPC_OK);
    opc__cache_meta m;
    assert_int_equal(opc__cache_meta_get(f.c, &m, NULL), OPC_OK);
    assert_int_equal(m.cursor, 10);
    assert_true(verify(f.c).ok);
    /* A reset seals the empty state. */
    assert_int_equal(opc__cache_reset(f.c, NULL), OPC_OK);
    assert_true(verify(f.c).ok);
    assert_int_equal(tokens_seen(f.c), 0);
    fx_close(&f);
}

/* A cache of schema 2 (no MACs) is migrated; its rows fail until fetched again. */
static void test_cache_mac_older_schema_rows_fail(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, NULL); /* no key: the rows are written without MACs */
    opc__cache_close(f.c);
    f.c = NULL;
    sql(&f, "ALTER TABLE issuer_keys DROP COLUMN mac; ALTER TABLE vault_access DROP COLUMN mac;"
            "ALTER TABLE tokens DROP COLUMN mac; ALTER TABLE meta DROP COLUMN seal;"
            "PRAGMA user_version = 2;");
    assert_int_equal(opc__cache_open(f.path, OPC_CACHE_WRITE, &f.c, NULL), OPC_OK);
    opc__cache_set_key(f.c, KEY_A);
    opc__cache_check chk = verify(f.c);
    assert_false(chk.ok);
    assert_false(chk.sealed);
    assert_int_equal(chk.bad_rows, 4);
    assert_int_equal(chk.n_bad, 4);
    char line[512];
    (void)opc__cache_check_describe(&chk, line, sizeof line);
    assert_non_null(strstr(line, "tokens " JTI));
    assert_non_null(strstr(line, "no seal"));
    assert_int_equal(tokens_seen(f.c), 0);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_mac_covers_every_column),
        cmocka_unit_test(test_cache_mac_sealed_cache_verifies),
        cmocka_unit_test(test_cache_mac_edited_row_refused),
        cmocka_unit_test(test_cache_mac_grant_edited_or_copied),
        cmocka_unit_test(test_cache_mac_seal_catches_set_changes),
        cmocka_unit_test(test_cache_mac_rollback_seals_nothing),
        cmocka_unit_test(test_cache_mac_older_schema_rows_fail),
    };
    return cmocka_run_group_tests_name("cache_mac", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
