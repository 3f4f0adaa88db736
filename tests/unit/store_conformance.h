/*
 * tests/unit/store_conformance.h - the store conformance suite's fixture
 * (test_store_conformance.c and test_store_conformance_writes.c: one list
 * of cases each, run against every kind of store): the factory of stores,
 * the owner's handle on a store, a world of vaults and servers, sealed
 * server writes, and the run. See test_store_conformance.c for the suite.
 */
#ifndef OPC_TESTS_STORE_CONFORMANCE_H
#define OPC_TESTS_STORE_CONFORMANCE_H

#include "account_fixture.h"
#include "pg_fixture.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "account/rows.h"
#include "account/signup.h"
#include "core/alloc.h"
#include "core/time.h"
#include "credentials/credentials.h"
#include "crypto/jwt.h"
#include "crypto/key.h"
#include "crypto/twoskd.h"
#include "store/store.h"
#include "wire/proto.h"
#include "wire/rows_rpc.h"

/* Connections of a PostgreSQL store under test. */
#define PG_POOL 4

#define PW "a conformance password"
#define UPSTREAM "https://accounts.example.test"
#define LOGIN "{\"title\":\"%s\",\"category\":\"LOGIN\"}"

/* ---- checks ---- */

static OPC_TEST_UNUSED void check_rc(opc_err got, opc_err want, const opc__ebuf *eb,
                                     const char *what)
{
    if (got != want) {
        fail_msg("%s: got %s, want %s (%s)", what, opc_errname(got), opc_errname(want), eb->msg);
    }
}

/* Run a store call with eb cleared first; want its code. */
#define WANT(code, expr) (opc__ebuf_clear(&eb), check_rc((expr), (code), &eb, #expr))
#define OK(expr) WANT(OPC_OK, expr)

/* ---- the factory ---- */

typedef struct env env;

typedef struct kind {
    const char *name;
    void (*open)(env *e);  /* a new, empty store in e->s (or skip() / fail) */
    void (*close)(env *e); /* close it and remove everything it used */
    /* Another store on the same storage (a second account server) */
    void (*open_more)(env *e, opc__store **out);
    bool leak_checked; /* allocates on the caller's thread only */
} kind;

struct env {
    const kind *k;
    opc__store *s;
    char dir[96];   /* sqlite: the store's directory */
    char db[64];    /* pg: the case's database */
    char *conninfo; /* pg: its connection string (malloc) */
};

/* What a failed case left behind, removed at the end of the run. */
#define MAX_LEFT 64
#define LEFT_LEN 96
static char left_dirs[MAX_LEFT][LEFT_LEN];
static char left_dbs[MAX_LEFT][LEFT_LEN];

static OPC_TEST_UNUSED void left_add(char (*list)[LEFT_LEN], const char *name)
{
    for (size_t i = 0; i < MAX_LEFT; i++) {
        if (list[i][0] == '\0') {
            snprintf(list[i], LEFT_LEN, "%s", name);
            return;
        }
    }
}

static OPC_TEST_UNUSED void left_del(char (*list)[LEFT_LEN], const char *name)
{
    for (size_t i = 0; i < MAX_LEFT; i++) {
        if (strcmp(list[i], name) == 0) {
            list[i][0] = '\0';
        }
    }
}

static OPC_TEST_UNUSED void rm_tree(const char *dir)
{
    nftw(dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static OPC_TEST_UNUSED void sqlite_open(env *e)
{
    snprintf(e->dir, sizeof e->dir, "/tmp/opc-conformance-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    left_add(left_dirs, e->dir);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__store_sqlite_open(e->dir, &e->s, &eb);
    if (rc != OPC_OK) {
        fail_msg("sqlite store open: %s (%s)", opc_errname(rc), eb.msg);
    }
}

static OPC_TEST_UNUSED void sqlite_open_more(env *e, opc__store **out)
{
    opc__ebuf eb;
    OK(opc__store_sqlite_open(e->dir, out, &eb));
}

static OPC_TEST_UNUSED void sqlite_close(env *e)
{
    opc__store_close(e->s);
    e->s = NULL;
    rm_tree(e->dir);
    left_del(left_dirs, e->dir);
}

static OPC_TEST_UNUSED const char *pg_url(void)
{
    const char *u = getenv("OPC_TEST_PG_URL");
    return u != NULL && u[0] != '\0' ? u : NULL;
}

/* Run one statement on the server of conninfo; false with why[] on failure. */
static OPC_TEST_UNUSED bool pg_exec(const char *conninfo, const char *sql, char *why, size_t cap)
{
    PGconn *c = PQconnectdb(conninfo);
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (!ok) {
        snprintf(why, cap, "cannot connect: %s", PQerrorMessage(c));
    } else {
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            snprintf(why, cap, "%s", PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    PQfinish(c);
    return ok;
}

static OPC_TEST_UNUSED void pg_drop(const char *db)
{
    char sql[128];
    char why[512];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    if (!pg_exec(pg_url(), sql, why, sizeof why)) {
        fprintf(stderr, "conformance: cannot drop database %s: %s", db, why);
    }
}

/* OPC_TEST_PG_URL's connection string with dbname replaced by db (malloc). */
static OPC_TEST_UNUSED char *pg_conninfo_for(const char *base, const char *db)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(base, &err);
    if (opts == NULL) {
        PQfreemem(err);
        fail_msg("OPC_TEST_PG_URL is not a libpq connection string");
    }
    size_t cap = strlen(db) + 16;
    for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val != NULL) {
            cap += strlen(o->keyword) + 2 * strlen(o->val) + 8;
        }
    }
    char *out = malloc(cap);
    assert_non_null(out);
    size_t n = 0;
    for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || strcmp(o->keyword, "dbname") == 0) {
            continue;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s='", o->keyword);
        for (const char *p = o->val; *p != '\0'; p++) {
            if (*p == '\'' || *p == '\\') {
                out[n++] = '\\';
            }
            out[n++] = *p;
        }
        n += (size_t)snprintf(out + n, cap - n, "' ");
    }
    snprintf(out + n, cap - n, "dbname='%s'", db);
    PQconninfoFree(opts);
    return out;
}

static OPC_TEST_UNUSED void pg_open(env *e)
{
    if (pg_url() == NULL) {
        if (pg_required()) {
            fail_msg("OPC_TEST_PG_REQUIRED=1 but OPC_TEST_PG_URL is not set");
        }
        skip();
    }
    static int n;
    snprintf(e->db, sizeof e->db, "opc_conf_%ld_%d", (long)getpid(), ++n);
    char sql[128];
    char why[512];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", e->db);
    if (!pg_exec(pg_url(), sql, why, sizeof why)) {
        fail_msg("conformance: cannot create database %s: %s", e->db, why);
    }
    left_add(left_dbs, e->db);
    e->conninfo = pg_conninfo_for(pg_url(), e->db);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__store_pg_open(e->conninfo, PG_POOL, &e->s, &eb);
    if (rc != OPC_OK) {
        fail_msg("pg store open on %s: %s (%s)", e->db, opc_errname(rc), eb.msg);
    }
}

static OPC_TEST_UNUSED void pg_open_more(env *e, opc__store **out)
{
    opc__ebuf eb;
    OK(opc__store_pg_open(e->conninfo, PG_POOL, out, &eb));
}

static OPC_TEST_UNUSED void pg_close(env *e)
{
    opc__store_close(e->s);
    e->s = NULL;
    free(e->conninfo);
    e->conninfo = NULL;
    pg_drop(e->db);
    left_del(left_dbs, e->db);
}

static OPC_TEST_UNUSED void env_open(env *e, void **state)
{
    memset(e, 0, sizeof *e);
    e->k = *state;
    e->k->open(e);
}

static OPC_TEST_UNUSED void env_close(env *e)
{
    e->k->close(e);
}

static OPC_TEST_UNUSED int64_t num(const cJSON *o, const char *k)
{
    return (int64_t)fx_num(o, k);
}

/* The member k of o, a string or absent (NULL). */
static OPC_TEST_UNUSED const char *opt_str(const cJSON *o, const char *k)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, k);
    if (m == NULL) {
        return NULL;
    }
    assert_true(cJSON_IsString(m));
    return m->valuestring;
}

static OPC_TEST_UNUSED bool same_str(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static OPC_TEST_UNUSED int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static OPC_TEST_UNUSED void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static OPC_TEST_UNUSED void new_id(char out[27])
{
    assert_int_equal(opc__id_generate(out), OPC_OK);
}

static OPC_TEST_UNUSED void upper(const char *id, char out[27])
{
    for (size_t i = 0; i <= OPC_ID_LEN; i++) {
        char c = id[i];
        out[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
}

/* ---- the owner's handle on the store ---- */

/* A rows backend (account/rows.h) on one account of a store: each request
 * and answer goes through its wire encoding, as between `op` and
 * op-account-server (remote_rows.c, lib/accountd). */
typedef struct via_store {
    opc__store *s;
    char account[OPC_ID_LEN + 1];
} via_store;

static OPC_TEST_UNUSED opc_err vs_read(void *self, const char *name, const cJSON *args,
                                       cJSON **rows, opc__ebuf *eb)
{
    const via_store *v = self;
    *rows = NULL;
    cJSON *req = NULL;
    cJSON *got = NULL;
    cJSON *ans = NULL;
    const cJSON *back = NULL;
    opc__rpc_request rq;
    memset(&rq, 0, sizeof rq);
    opc_err rc = opc__rpc_read_encode(name, args, &req, eb);
    if (rc == OPC_OK) {
        rc = opc__rpc_request_decode(req, &rq, eb);
    }
    if (rc == OPC_OK) {
        rc = rq.read != NULL ? opc__store_owner_read(v->s, v->account, rq.read, rq.args, &got, eb)
                             : OPC_ERR_INTERNAL;
    }
    if (rc == OPC_OK) {
        rc = opc__rpc_rows_encode(got, &ans, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__rpc_rows_decode(ans, &back, eb);
    }
    if (rc == OPC_OK) {
        *rows = cJSON_DetachItemFromObjectCaseSensitive(ans, "rows");
        rc = *rows == back ? OPC_OK : OPC_ERR_INTERNAL;
    }
    opc__rpc_request_free(&rq);
    cJSON_Delete(req);
    cJSON_Delete(got);
    cJSON_Delete(ans);
    return rc;
}

static OPC_TEST_UNUSED opc_err vs_batch(void *self, const opc__rpc_step *steps, size_t n,
                                        int64_t *seqs, size_t n_seqs, opc__ebuf *eb)
{
    const via_store *v = self;
    cJSON *req = NULL;
    cJSON *ans = NULL;
    int64_t *back = NULL;
    size_t n_back = 0;
    int64_t got[OPC__RPC_MAX_CHANGES];
    size_t n_got = 0;
    opc__rpc_request rq;
    memset(&rq, 0, sizeof rq);
    opc_err rc = opc__rpc_batch_encode(steps, n, &req, eb);
    if (rc == OPC_OK) {
        rc = opc__rpc_request_decode(req, &rq, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__store_owner_batch(v->s, v->account, rq.steps, rq.n_steps, got, &n_got, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__rpc_seqs_encode(got, n_got, &ans, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__rpc_seqs_decode(ans, &back, &n_back, eb);
    }
    if (rc == OPC_OK && n_back != n_seqs) {
        rc =
            opc__fail(eb, OPC_ERR_PARSE, "the store gave %zu seqs for %zu changes", n_back, n_seqs);
    }
    if (rc == OPC_OK && n_seqs > 0) {
        memcpy(seqs, back, n_seqs * sizeof *seqs);
    }
    opc__free(back);
    opc__rpc_request_free(&rq);
    cJSON_Delete(req);
    cJSON_Delete(ans);
    return rc;
}

static OPC_TEST_UNUSED void vs_close(void *self)
{
    opc__free(self);
}

static const opc__rows_backend via_store_vt = {vs_read, vs_batch, vs_close};

typedef struct owner {
    char id[OPC_ID_LEN + 1];
    opc_account *a; /* unlocked; its rows are the store's */
} owner;

static OPC_TEST_UNUSED void make_signup(const char *email, opc__proto_signup *su, opc_secret **sk)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__account_signup_make(email, PW, FX_ITERATIONS, 1, su, sk, &eb);
    if (rc != OPC_OK) {
        fail_msg("signup make: %s (%s)", opc_errname(rc), eb.msg);
    }
}

/* The owner of account id signs in: the row from the store, the AUK from
 * the password and the Secret Key, the store protocol through the store. */
static OPC_TEST_UNUSED void owner_open(opc__store *s, const char *id, const opc_secret *sk,
                                       owner *o)
{
    memset(o, 0, sizeof *o);
    opc__ebuf eb;
    opc__proto_account row;
    OK(opc__store_owner_account(s, id, &row, &eb));
    opc__secret_key key;
    assert_int_equal(opc__secret_key_parse(opc_secret_data(sk), &key, NULL), OPC_OK);
    uint8_t auk[32];
    OK(opc__account_auk(PW, row.email, &key, row.kdf_salt, row.iterations, 1, auk, &eb));
    OK(opc__account_from_row(&row, auk, &o->a, &eb));
    OPENSSL_cleanse(auk, sizeof auk);
    OPENSSL_cleanse(&key, sizeof key);
    opc__proto_account_clear(&row);
    via_store *v = opc__calloc(1, sizeof *v);
    opc__rows *r = opc__calloc(1, sizeof *r);
    assert_non_null(v);
    assert_non_null(r);
    v->s = s;
    snprintf(v->account, sizeof v->account, "%s", id);
    r->vt = &via_store_vt;
    r->self = v;
    o->a->rows = r;
    snprintf(o->id, sizeof o->id, "%s", id);
}

/* A new account on the store, signed in. */
static OPC_TEST_UNUSED void owner_new(opc__store *s, const char *email, owner *o)
{
    opc__proto_signup su;
    opc_secret *sk = NULL;
    make_signup(email, &su, &sk);
    opc__ebuf eb;
    OK(opc__store_owner_create(s, &su, &eb));
    owner_open(s, su.account.id, sk, o);
    opc__proto_signup_clear(&su);
    opc_secret_free(sk);
}

static OPC_TEST_UNUSED void owner_close(owner *o)
{
    opc_account_free(o->a);
    o->a = NULL;
}

/* The newest seq of the account's feed, as the owner reads it. */
static OPC_TEST_UNUSED int64_t feed_head(opc__store *s, const char *account)
{
    opc__ebuf eb;
    cJSON *args = cJSON_CreateArray();
    cJSON *rows = NULL;
    OK(opc__store_owner_read(s, account, "vault.feed_head", args, &rows, &eb));
    assert_int_equal(cJSON_GetArraySize(rows), 1);
    int64_t h = (int64_t)cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 0), 0)->valuedouble;
    cJSON_Delete(rows);
    cJSON_Delete(args);
    return h;
}

/* A Connect server on one vault; its id into id; *creds (unless creds is
 * NULL) its parsed credentials (opc_credentials_free). */
static OPC_TEST_UNUSED void server_new_creds(opc_account *a, const char *name, const char *vault,
                                             char id[27], opc_credentials **creds)
{
    const char *vaults[] = {vault};
    char *json = NULL;
    opc_secret *file = NULL;
    FX_OK(a, opc_account_server_create(a, name, vaults, 1, UPSTREAM, &json, &file));
    cJSON *j = fx_json(json);
    snprintf(id, 27, "%s", fx_str(j, "id"));
    cJSON_Delete(j);
    opc_free(json);
    if (creds != NULL) {
        char err[OPC_ERRBUF_SIZE];
        opc_err rc = opc_credentials_parse(opc_secret_data(file), opc_secret_len(file), creds, err,
                                           sizeof err);
        if (rc != OPC_OK) {
            fail_msg("credentials: %s", err);
        }
    }
    opc_secret_free(file);
}

static OPC_TEST_UNUSED void server_new(opc_account *a, const char *name, const char *vault,
                                       char id[27])
{
    server_new_creds(a, name, vault, id, NULL);
}

/*
 * A read-only grant of vault to server, made as the owner's grant is
 * (account/server.c: the vault key wrapped to the server's key, signed by
 * the owner) but with the read bit alone, which the public API never
 * writes.
 */
static OPC_TEST_UNUSED void grant_read_only(opc_account *a, const char *server, const char *vault)
{
    opc__ebuf eb;
    cJSON *rows = NULL;
    OK(opc__rows_read(a->rows, "server.enc_key", &rows, &eb, "t", server));
    const cJSON *row = cJSON_GetArrayItem(rows, 0);
    assert_non_null(row);
    const char *jwk = opc__rows_str(row, 0);
    opc__key *pub = NULL;
    assert_int_equal(opc__jwk_parse(jwk, strlen(jwk), OPC_JWK_PUBLIC_ONLY, &pub, NULL), OPC_OK);
    int64_t now = opc__now_s();
    opc__grant_sealed g;
    OK(opc__acct_grant_prepare(a, vault, "server", server, pub, OPC_ACL_READ, now, &g, &eb));
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    opc__change c = {.kind = OPC_CHANGE_GRANT, .vault = vault, .server = server};
    int k = opc__acct_batch_change(&b, &c, now);
    opc__rows_batch_add(&b, "access.grant_server", 1, "ttitiitq", vault, server, g.sn, g.enc_key,
                        (int64_t)g.acl, g.granted, g.sig, k);
    OK(opc__rows_batch_run(a->rows, &b, &eb));
    opc__rows_batch_free(&b);
    opc__acct_grant_sealed_free(&g);
    opc__key_free(pub);
    cJSON_Delete(rows);
}

/*
 * The world of the Connect cases: one account with vaults A and B, an item
 * in each, server S granted A and server R granted B.
 */
typedef struct world {
    owner o;
    char va[27], vb[27];
    char s[27], r[27];
    char s_up[27]; /* S upper-cased: lastEditedBy of its writes */
    char ia[27], ib[27];
} world;

static OPC_TEST_UNUSED void world_make(opc__store *st, world *w)
{
    memset(w, 0, sizeof *w);
    owner_new(st, "Connect.Owner@Example.COM", &w->o);
    opc_account *a = w->o.a;
    fx_vault(a, "Alpha", w->va);
    fx_vault(a, "Beta", w->vb);
    fx_item(a, w->va, "{\"title\":\"in A\",\"category\":\"LOGIN\"}", w->ia);
    fx_item(a, w->vb, "{\"title\":\"in B\",\"category\":\"LOGIN\"}", w->ib);
    server_new(a, "S", w->va, w->s);
    server_new(a, "R", w->vb, w->r);
    upper(w->s, w->s_up);
}

static OPC_TEST_UNUSED void world_free(world *w)
{
    owner_close(&w->o);
}

/* A page of the feed as server sees it (cJSON_Delete). */
static OPC_TEST_UNUSED cJSON *feed(opc__store *s, const char *account, const char *server,
                                   int64_t since, size_t limit, int64_t *next)
{
    opc__ebuf eb;
    cJSON *arr = NULL;
    OK(opc__store_changes(s, account, server, since, limit, 0, &arr, next, &eb));
    assert_true(cJSON_IsArray(arr));
    return arr;
}

/* Whether the feed page holds an entry of kind with these members (NULL: any). */
static OPC_TEST_UNUSED bool has_entry(const cJSON *arr, const char *kind_, const char *vault,
                                      const char *item, const char *server)
{
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, arr)
    {
        if (same_str(opt_str(e, "kind"), kind_) &&
            (vault == NULL || same_str(opt_str(e, "vault"), vault)) &&
            (item == NULL || same_str(opt_str(e, "item"), item)) &&
            (server == NULL || same_str(opt_str(e, "server"), server))) {
            return true;
        }
    }
    return false;
}

/* ---- envelopes of server writes ---- */

typedef struct sealed {
    char *ov;
    char *det;
    int64_t sn;
} sealed;

static OPC_TEST_UNUSED void seal(opc_account *a, const char *vault, const char *item,
                                 const char *title, sealed *out)
{
    char json[256];
    snprintf(json, sizeof json, LOGIN, title);
    memset(out, 0, sizeof *out);
    fx_seal_item(a, vault, item, json, &out->ov, &out->det, &out->sn);
}

static OPC_TEST_UNUSED void sealed_free(sealed *s)
{
    opc__free(s->ov);
    opc__free(s->det);
    memset(s, 0, sizeof *s);
}

/* The envelope text with another kid (cJSON_free). */
static OPC_TEST_UNUSED char *rekid(const char *env_text, const char *kid)
{
    cJSON *j = fx_json(env_text);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "kid", cJSON_CreateString(kid));
    char *t = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    assert_non_null(t);
    return t;
}

static OPC_TEST_UNUSED opc_err put(opc__store *s, const char *account, const char *server,
                                   const char *vault, const char *item, int64_t expected,
                                   const sealed *sl, cJSON **it, cJSON **v, opc__ebuf *eb)
{
    opc__item_write w = {vault, item, expected, sl->sn, sl->ov, sl->det};
    opc__ebuf_clear(eb);
    return opc__store_item_put(s, account, server, &w, it, v, eb);
}

/* A write that must fail with want: no rows out, a message. */
static OPC_TEST_UNUSED void put_fails(opc__store *s, const char *account, const char *server,
                                      const char *vault, const char *item, int64_t expected,
                                      const sealed *sl, opc_err want, const char *what)
{
    cJSON *it = NULL;
    cJSON *v = NULL;
    opc__ebuf eb;
    check_rc(put(s, account, server, vault, item, expected, sl, &it, &v, &eb), want, &eb, what);
    assert_null(it);
    assert_null(v);
    assert_true(eb.msg[0] != '\0');
}

static OPC_TEST_UNUSED void delete_fails(opc__store *s, const char *account, const char *server,
                                         const char *vault, const char *item, int64_t expected,
                                         opc_err want, const char *what)
{
    cJSON *it = NULL;
    cJSON *v = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    check_rc(opc__store_item_delete(s, account, server, vault, item, expected, &it, &v, &eb), want,
             &eb, what);
    assert_null(it);
    assert_null(v);
    assert_true(eb.msg[0] != '\0');
}

/* The Connect view of vault (server's grant): its row (cJSON_Delete). */
static OPC_TEST_UNUSED cJSON *vault_row(opc__store *s, const char *account, const char *server,
                                        const char *vault)
{
    opc__ebuf eb;
    cJSON *v = NULL;
    OK(opc__store_vault(s, account, server, vault, &v, &eb));
    return v;
}

/* The feed after since holds exactly one entry: kind, vault, item, version at seq. */
static OPC_TEST_UNUSED void one_entry(opc__store *s, const char *account, const char *server,
                                      int64_t since, const char *kind_, const char *vault,
                                      const char *item, int64_t version)
{
    int64_t next = 0;
    cJSON *f = feed(s, account, server, since, 100, &next);
    assert_int_equal(cJSON_GetArraySize(f), 1);
    const cJSON *e = cJSON_GetArrayItem(f, 0);
    assert_int_equal(num(e, "seq"), since + 1);
    assert_string_equal(fx_str(e, "kind"), kind_);
    assert_string_equal(fx_str(e, "vault"), vault);
    assert_string_equal(fx_str(e, "item"), item);
    assert_int_equal(num(e, "version"), version);
    assert_null(opt_str(e, "server"));
    assert_int_equal(next, since + 1);
    cJSON_Delete(f);
}

/* ==== case 1: sign-up ==== */

/* ---- the run ---- */

static kind kinds[] = {
    {"sqlite", sqlite_open, sqlite_close, sqlite_open_more, true},
    /* The PostgreSQL store may allocate on threads of its own (a
     * notification listener): the system allocator, no leak checks. */
    {"pg", pg_open, pg_close, pg_open_more, false},
};

static OPC_TEST_UNUSED int system_setup(void **st)
{
    (void)st;
    return opc_global_init(OPC_GLOBAL_DEFAULT) == OPC_OK ? 0 : -1;
}

typedef struct case_def {
    const char *name;
    CMUnitTestFunction fn;
    bool threaded;
} case_def;

#define MAX_CASES 16

/* Run the cases of one kind that are threaded (or not) as one group. */
static OPC_TEST_UNUSED int run_kind(kind *k, const case_def *cases, size_t n_cases, bool threaded)
{
    static char names[2 * MAX_CASES][64];
    struct CMUnitTest tests[MAX_CASES];
    size_t n = 0;
    for (size_t i = 0; i < n_cases && i < MAX_CASES; i++) {
        if (cases[i].threaded != threaded) {
            continue;
        }
        char *name = names[(threaded ? MAX_CASES : 0) + i];
        snprintf(name, sizeof names[0], "%s/%s", k->name, cases[i].name);
        tests[n++] = (struct CMUnitTest){name, cases[i].fn, NULL, NULL, k};
    }
    if (n == 0) {
        return 0;
    }
    bool leaks = k->leak_checked && !threaded;
    char group[64];
    snprintf(group, sizeof group, "store_conformance/%s%s", k->name, threaded ? "/threads" : "");
    return _cmocka_run_group_tests(group, tests, n, leaks ? opc_test_group_setup : system_setup,
                                   opc_test_group_teardown);
}

/* A program's main: its cases on every kind, then what failed cases left. */
static OPC_TEST_UNUSED int run_cases(const case_def *cases, size_t n_cases)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        rc += run_kind(&kinds[i], cases, n_cases, false);
        rc += run_kind(&kinds[i], cases, n_cases, true);
    }
    for (size_t i = 0; i < MAX_LEFT; i++) {
        if (left_dirs[i][0] != '\0') {
            rm_tree(left_dirs[i]);
        }
        if (left_dbs[i][0] != '\0' && pg_url() != NULL) {
            pg_drop(left_dbs[i]);
        }
    }
    return rc;
}

#endif
