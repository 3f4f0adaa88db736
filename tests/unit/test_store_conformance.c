/*
 * tests/unit/test_store_conformance.c - the store conformance suite (issue
 * 14): ONE list of cases, run against every kind of store behind
 * store/store.h through a factory, so that each kind is held to the same
 * contract with the same assertions.
 *
 * The kinds (the table `kinds` at the bottom):
 *   sqlite  a fresh temporary directory per case (opc__store_sqlite_open).
 *           Always runs.
 *   pg      a fresh database per case, made with libpq on the server of
 *           OPC_TEST_PG_URL (a connection string with the right to create
 *           databases), opened with opc__store_pg_open and dropped after
 *           the case. Skipped when OPC_TEST_PG_URL is unset, FAILED instead
 *           when OPC_TEST_PG_REQUIRED=1 (make unit: tools/with-pg).
 *
 * How a store is filled without knowing what is inside it: the owner's own
 * code runs on it, as op-account-server runs it for `op`. A sign-up made by
 * opc__account_signup_make goes in through owner_create; the account row
 * comes back through owner_account and opens (with the AUK) a handle whose
 * store protocol (account/rows.h) is the store's owner_read / owner_batch,
 * each request and answer sent through its wire encoding
 * (wire/rows_rpc.h) as over the network. On that handle the public API
 * makes vaults, items, documents, Connect servers, grants and tokens; the
 * Connect side of the store is then read and written as connect-sync and
 * connect-api do through op-account-server. Envelopes of server writes are
 * sealed the way connect-api seals them (account_fixture.h).
 *
 * Cases: the sign-up and the owner's sign-in data; the owner's reads and
 * batches (a failed expectation commits nothing, seqs consecutive after the
 * head, refused statements); the Connect reads (device keys, the feed's
 * visibility, cursor, limit, issuer keys, grants, vaults, items, tokens);
 * the pages (items, file chunks); the server writes (import.h's checks and
 * codes, the rows returned, the feed entries appended); the commit
 * generation, long polls and shutdown; concurrent writers (no gap, no
 * duplicate, nothing lost).
 *
 * The cases of a kind whose operations allocate on the caller's thread only
 * run with cmocka's allocator (leak checks); the threaded cases, and every
 * case of a kind that may allocate on threads of its own, with the system
 * allocator.
 */
#include "account_fixture.h"

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

static void check_rc(opc_err got, opc_err want, const opc__ebuf *eb, const char *what)
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

static void left_add(char (*list)[LEFT_LEN], const char *name)
{
    for (size_t i = 0; i < MAX_LEFT; i++) {
        if (list[i][0] == '\0') {
            snprintf(list[i], LEFT_LEN, "%s", name);
            return;
        }
    }
}

static void left_del(char (*list)[LEFT_LEN], const char *name)
{
    for (size_t i = 0; i < MAX_LEFT; i++) {
        if (strcmp(list[i], name) == 0) {
            list[i][0] = '\0';
        }
    }
}

static void rm_tree(const char *dir)
{
    nftw(dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void sqlite_open(env *e)
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

static void sqlite_open_more(env *e, opc__store **out)
{
    opc__ebuf eb;
    OK(opc__store_sqlite_open(e->dir, out, &eb));
}

static void sqlite_close(env *e)
{
    opc__store_close(e->s);
    e->s = NULL;
    rm_tree(e->dir);
    left_del(left_dirs, e->dir);
}

static const char *pg_url(void)
{
    const char *u = getenv("OPC_TEST_PG_URL");
    return u != NULL && u[0] != '\0' ? u : NULL;
}

static bool pg_required(void)
{
    const char *r = getenv("OPC_TEST_PG_REQUIRED");
    return r != NULL && strcmp(r, "1") == 0;
}

/* Run one statement on the server of conninfo; false with why[] on failure. */
static bool pg_exec(const char *conninfo, const char *sql, char *why, size_t cap)
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

static void pg_drop(const char *db)
{
    char sql[128];
    char why[512];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    if (!pg_exec(pg_url(), sql, why, sizeof why)) {
        fprintf(stderr, "conformance: cannot drop database %s: %s", db, why);
    }
}

/* OPC_TEST_PG_URL's connection string with dbname replaced by db (malloc). */
static char *pg_conninfo_for(const char *base, const char *db)
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

static void pg_open(env *e)
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

static void pg_open_more(env *e, opc__store **out)
{
    opc__ebuf eb;
    OK(opc__store_pg_open(e->conninfo, PG_POOL, out, &eb));
}

static void pg_close(env *e)
{
    opc__store_close(e->s);
    e->s = NULL;
    free(e->conninfo);
    e->conninfo = NULL;
    pg_drop(e->db);
    left_del(left_dbs, e->db);
}

static void env_open(env *e, void **state)
{
    memset(e, 0, sizeof *e);
    e->k = *state;
    e->k->open(e);
}

static void env_close(env *e)
{
    e->k->close(e);
}

static int64_t num(const cJSON *o, const char *k)
{
    return (int64_t)fx_num(o, k);
}

/* The member k of o, a string or absent (NULL). */
static const char *opt_str(const cJSON *o, const char *k)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, k);
    if (m == NULL) {
        return NULL;
    }
    assert_true(cJSON_IsString(m));
    return m->valuestring;
}

static bool same_str(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void new_id(char out[27])
{
    assert_int_equal(opc__id_generate(out), OPC_OK);
}

static void upper(const char *id, char out[27])
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

static opc_err vs_read(void *self, const char *name, const cJSON *args, cJSON **rows, opc__ebuf *eb)
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

static opc_err vs_batch(void *self, const opc__rpc_step *steps, size_t n, int64_t *seqs,
                        size_t n_seqs, opc__ebuf *eb)
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

static void vs_close(void *self)
{
    opc__free(self);
}

static const opc__rows_backend via_store_vt = {vs_read, vs_batch, vs_close};

typedef struct owner {
    char id[OPC_ID_LEN + 1];
    opc_account *a; /* unlocked; its rows are the store's */
} owner;

static void make_signup(const char *email, opc__proto_signup *su, opc_secret **sk)
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
static void owner_open(opc__store *s, const char *id, const opc_secret *sk, owner *o)
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
static void owner_new(opc__store *s, const char *email, owner *o)
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

static void owner_close(owner *o)
{
    opc_account_free(o->a);
    o->a = NULL;
}

/* The newest seq of the account's feed, as the owner reads it. */
static int64_t feed_head(opc__store *s, const char *account)
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
static void server_new_creds(opc_account *a, const char *name, const char *vault, char id[27],
                             opc_credentials **creds)
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

static void server_new(opc_account *a, const char *name, const char *vault, char id[27])
{
    server_new_creds(a, name, vault, id, NULL);
}

/*
 * A read-only grant of vault to server, made as the owner's grant is
 * (account/server.c: the vault key wrapped to the server's key, signed by
 * the owner) but with the read bit alone, which the public API never
 * writes.
 */
static void grant_read_only(opc_account *a, const char *server, const char *vault)
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

static void world_make(opc__store *st, world *w)
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

static void world_free(world *w)
{
    owner_close(&w->o);
}

/* A page of the feed as server sees it (cJSON_Delete). */
static cJSON *feed(opc__store *s, const char *account, const char *server, int64_t since,
                   size_t limit, int64_t *next)
{
    opc__ebuf eb;
    cJSON *arr = NULL;
    OK(opc__store_changes(s, account, server, since, limit, 0, &arr, next, &eb));
    assert_true(cJSON_IsArray(arr));
    return arr;
}

/* Whether the feed page holds an entry of kind with these members (NULL: any). */
static bool has_entry(const cJSON *arr, const char *kind_, const char *vault, const char *item,
                      const char *server)
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

static void seal(opc_account *a, const char *vault, const char *item, const char *title,
                 sealed *out)
{
    char json[256];
    snprintf(json, sizeof json, LOGIN, title);
    memset(out, 0, sizeof *out);
    fx_seal_item(a, vault, item, json, &out->ov, &out->det, &out->sn);
}

static void sealed_free(sealed *s)
{
    opc__free(s->ov);
    opc__free(s->det);
    memset(s, 0, sizeof *s);
}

/* The envelope text with another kid (cJSON_free). */
static char *rekid(const char *env_text, const char *kid)
{
    cJSON *j = fx_json(env_text);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "kid", cJSON_CreateString(kid));
    char *t = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    assert_non_null(t);
    return t;
}

static opc_err put(opc__store *s, const char *account, const char *server, const char *vault,
                   const char *item, int64_t expected, const sealed *sl, cJSON **it, cJSON **v,
                   opc__ebuf *eb)
{
    opc__item_write w = {vault, item, expected, sl->sn, sl->ov, sl->det};
    opc__ebuf_clear(eb);
    return opc__store_item_put(s, account, server, &w, it, v, eb);
}

/* A write that must fail with want: no rows out, a message. */
static void put_fails(opc__store *s, const char *account, const char *server, const char *vault,
                      const char *item, int64_t expected, const sealed *sl, opc_err want,
                      const char *what)
{
    cJSON *it = NULL;
    cJSON *v = NULL;
    opc__ebuf eb;
    check_rc(put(s, account, server, vault, item, expected, sl, &it, &v, &eb), want, &eb, what);
    assert_null(it);
    assert_null(v);
    assert_true(eb.msg[0] != '\0');
}

static void delete_fails(opc__store *s, const char *account, const char *server, const char *vault,
                         const char *item, int64_t expected, opc_err want, const char *what)
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
static cJSON *vault_row(opc__store *s, const char *account, const char *server, const char *vault)
{
    opc__ebuf eb;
    cJSON *v = NULL;
    OK(opc__store_vault(s, account, server, vault, &v, &eb));
    return v;
}

/* The feed after since holds exactly one entry: kind, vault, item, version at seq. */
static void one_entry(opc__store *s, const char *account, const char *server, int64_t since,
                      const char *kind_, const char *vault, const char *item, int64_t version)
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

static void case_signup(void **state)
{
    env e;
    env_open(&e, state);
    opc__store *s = e.s;
    opc__ebuf eb;
    assert_int_equal(opc__store_count(s), 0);

    opc__proto_signup su;
    opc_secret *sk = NULL;
    make_signup("Sign.Up@Example.COM", &su, &sk);
    assert_string_equal(su.account.email, "sign.up@example.com");
    WANT(OPC_ERR_NOT_FOUND, opc__store_account(s, su.account.id, &eb));
    OK(opc__store_owner_create(s, &su, &eb));
    OK(opc__store_account(s, su.account.id, &eb));
    assert_int_equal(opc__store_count(s), 1);

    /* One email, one account; one id, one account. */
    opc__proto_signup again;
    opc_secret *sk2 = NULL;
    make_signup("Sign.Up@Example.COM", &again, &sk2);
    assert_string_not_equal(again.account.id, su.account.id);
    WANT(OPC_ERR_EXISTS, opc__store_owner_create(s, &again, &eb));
    WANT(OPC_ERR_NOT_FOUND, opc__store_account(s, again.account.id, &eb));
    opc__proto_signup_clear(&again);
    opc_secret_free(sk2);
    make_signup("someone.else@example.com", &again, &sk2);
    snprintf(again.account.id, sizeof again.account.id, "%s", su.account.id);
    WANT(OPC_ERR_EXISTS, opc__store_owner_create(s, &again, &eb));
    WANT(OPC_ERR_NOT_FOUND,
         opc__store_owner_lookup(s, "someone.else@example.com", &(opc__store_owner){0}, &eb));
    opc__proto_signup_clear(&again);
    opc_secret_free(sk2);
    assert_int_equal(opc__store_count(s), 1);

    /* The sign-in data by (lower-case) email: the sign-up's. */
    opc__store_owner own;
    OK(opc__store_owner_lookup(s, "sign.up@example.com", &own, &eb));
    assert_string_equal(own.account, su.account.id);
    assert_memory_equal(own.srp_salt, su.srp_salt, sizeof own.srp_salt);
    assert_memory_equal(own.verifier, su.verifier, sizeof own.verifier);
    assert_memory_equal(own.kdf_salt, su.account.kdf_salt, sizeof own.kdf_salt);
    assert_int_equal(own.iterations, FX_ITERATIONS);
    OPENSSL_cleanse(&own, sizeof own);
    WANT(OPC_ERR_NOT_FOUND, opc__store_owner_lookup(s, "nobody@example.com", &own, &eb));

    /* The account row: the sign-up's row. */
    opc__proto_account row;
    OK(opc__store_owner_account(s, su.account.id, &row, &eb));
    assert_string_equal(row.id, su.account.id);
    assert_string_equal(row.email, "sign.up@example.com");
    assert_string_equal(row.skid, su.account.skid);
    assert_string_equal(row.kdf_alg, su.account.kdf_alg);
    assert_memory_equal(row.kdf_salt, su.account.kdf_salt, sizeof row.kdf_salt);
    assert_int_equal(row.iterations, su.account.iterations);
    assert_string_equal(row.keyset_id, su.account.keyset_id);
    assert_string_equal(row.issuer_kid, su.account.issuer_kid);
    assert_string_equal(row.enc_sym_key, su.account.enc_sym_key);
    assert_string_equal(row.pub_key, su.account.pub_key);
    assert_string_equal(row.enc_pri_key, su.account.enc_pri_key);
    assert_string_equal(row.spub_key, su.account.spub_key);
    assert_string_equal(row.enc_spri_key, su.account.enc_spri_key);
    opc__proto_account_clear(&row);
    char other[27];
    new_id(other);
    WANT(OPC_ERR_NOT_FOUND, opc__store_owner_account(s, other, &row, &eb));
    WANT(OPC_ERR_NOT_FOUND, opc__store_account(s, other, &eb));
    assert_int_equal(opc__store_generation(s, other), 0);

    /* The issuer key of the sign-up is there for the Connect servers. */
    cJSON *ik = NULL;
    OK(opc__store_issuer_key(s, su.account.id, su.account.issuer_kid, &ik, &eb));
    assert_string_equal(fx_str(ik, "kid"), su.account.issuer_kid);
    assert_true(num(ik, "seq") >= 1);
    cJSON_Delete(ik);
    WANT(OPC_ERR_NOT_FOUND, opc__store_issuer_key(s, su.account.id, other, &ik, &eb));
    assert_null(ik);

    /* The owner signs in on the row: the keyset opens, the account is empty. */
    owner o;
    owner_open(s, su.account.id, sk, &o);
    assert_true(opc_account_is_unlocked(o.a));
    assert_string_equal(opc_account_email(o.a), "sign.up@example.com");
    char *json = NULL;
    FX_OK(o.a, opc_account_vault_list(o.a, &json));
    assert_string_equal(json, "[]");
    opc_free(json);
    owner_close(&o);

    /* A second account: counted, found by its own email. */
    owner o2;
    owner_new(s, "Second@Example.COM", &o2);
    assert_int_equal(opc__store_count(s), 2);
    OK(opc__store_owner_lookup(s, "second@example.com", &own, &eb));
    assert_string_equal(own.account, o2.id);
    OK(opc__store_owner_lookup(s, "sign.up@example.com", &own, &eb));
    assert_string_equal(own.account, su.account.id);
    owner_close(&o2);

    opc__proto_signup_clear(&su);
    opc_secret_free(sk);
    env_close(&e);
}

/* ==== case 2: the owner's reads and batches ==== */

/* Run a rows request (wire/rows_rpc.h JSON text) on account through the store. */
static opc_err owner_call(opc__store *s, const char *account, const char *text, cJSON **rows,
                          int64_t *seqs, size_t *n_seqs, opc__ebuf *eb)
{
    cJSON *j = fx_json(text);
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

/* The owner's row of vault (vault.list): its content_version and seq. */
static void vault_versions(opc__store *s, const char *account, const char *vault, int64_t *cv,
                           int64_t *seq)
{
    opc__ebuf eb;
    cJSON *rows = NULL;
    char text[128];
    snprintf(text, sizeof text, "{\"read\":\"vault.list\",\"args\":[\"%s\"]}", account);
    OK(owner_call(s, account, text, &rows, NULL, NULL, &eb));
    const cJSON *row = NULL;
    bool found = false;
    cJSON_ArrayForEach(row, rows)
    {
        if (strcmp(opc__rows_str(row, 0), vault) == 0) {
            *cv = opc__rows_int(row, 4);
            *seq = opc__rows_int(row, 9);
            found = true;
        }
    }
    assert_true(found);
    cJSON_Delete(rows);
}

/* Batch steps (wire/rows_rpc.h JSON); %s: a vault id. */
#define CHANGE_STEP(kind_)                                                                         \
    "{\"stmt\":\"change.append\",\"args\":[\"" kind_ "\",\"%s\",null,null,null,null,null,null,"    \
    "1700000000],\"expect\":1}"
#define UPDATE_STEP CHANGE_STEP("vault_update")
#define CREATE_STEP CHANGE_STEP("vault_create")
#define ISSUER_STEP CHANGE_STEP("issuer_key")

static void case_owner_rows(void **state)
{
    env e;
    env_open(&e, state);
    opc__store *s = e.s;
    opc__ebuf eb;
    owner o;
    owner_new(s, "Rows.Owner@Example.COM", &o);
    owner o2;
    owner_new(s, "Other.Owner@Example.COM", &o2);
    char va[27];
    fx_vault(o.a, "Alpha", va);
    char sv[27];
    server_new(o.a, "Alpha server", va, sv);
    cJSON *rows = NULL;
    int64_t seqs[OPC__RPC_MAX_CHANGES];
    size_t n = 0;
    char text[2048];

    /* Reads: typed rows of this account only. */
    WANT(OPC_OK, owner_call(s, o.id, "{\"read\":\"server.find_name\",\"args\":[\"alpha SERVER\"]}",
                            &rows, NULL, NULL, &eb));
    assert_int_equal(cJSON_GetArraySize(rows), 1);
    assert_string_equal(opc__rows_str(cJSON_GetArrayItem(rows, 0), 0), sv);
    cJSON_Delete(rows);
    WANT(OPC_OK, owner_call(s, o2.id, "{\"read\":\"server.find_name\",\"args\":[\"Alpha server\"]}",
                            &rows, NULL, NULL, &eb));
    assert_int_equal(cJSON_GetArraySize(rows), 0);
    cJSON_Delete(rows);
    int64_t head = feed_head(s, o.id);
    assert_true(head >= 4); /* issuer key, vault, server, grant */
    int64_t cv0 = 0;
    int64_t vseq0 = 0;
    vault_versions(s, o.id, va, &cv0, &vseq0);

    /* Refused requests. */
    char other[27];
    new_id(other);
    WANT(OPC_ERR_NOT_FOUND, owner_call(s, other, "{\"read\":\"vault.feed_head\",\"args\":[]}",
                                       &rows, NULL, NULL, &eb));
    assert_null(rows);
    WANT(OPC_ERR_INVALID_ARG,
         owner_call(s, o.id, "{\"read\":\"nope.nothing\",\"args\":[]}", &rows, NULL, NULL, &eb));
    WANT(OPC_ERR_INVALID_ARG,
         owner_call(s, o.id, "{\"read\":\"vault.get\",\"args\":[1]}", &rows, NULL, NULL, &eb));
    WANT(OPC_ERR_INVALID_ARG,
         owner_call(s, o.id, "{\"read\":\"item.insert\",\"args\":[]}", &rows, NULL, NULL, &eb));
    WANT(OPC_ERR_INVALID_ARG,
         owner_call(s, o.id, "{\"batch\":[{\"stmt\":\"nope.nothing\",\"args\":[],\"expect\":1}]}",
                    NULL, seqs, &n, &eb));
    /* The store's own statements: never the owner's. */
    WANT(OPC_ERR_INVALID_ARG,
         owner_call(s, o.id, "{\"read\":\"account.srp\",\"args\":[]}", &rows, NULL, NULL, &eb));
    assert_null(rows);
    snprintf(text, sizeof text,
             "{\"batch\":[{\"stmt\":\"account.srp_insert\",\"args\":[\"c2FsdA\",\"dmVyaWZpZXI\","
             "1700000000],\"expect\":1}]}");
    WANT(OPC_ERR_INVALID_ARG, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    snprintf(text, sizeof text,
             "{\"batch\":[" ISSUER_STEP ",{\"stmt\":\"account.issuer_key_insert\",\"args\":[\"%s\","
             "\"{}\",1700000000,{\"seq\":0}],\"expect\":1}]}",
             va, other);
    WANT(OPC_ERR_INVALID_ARG, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    snprintf(text, sizeof text,
             "{\"batch\":[{\"stmt\":\"account.insert\",\"args\":[\"%s\",\"x@example.com\",\"A3"
             "ABCDE\",\"PBES2g-HS256\",\"c2FsdA\",2,\"%s\",\"e\",\"p\",\"e\",\"%s\",\"s\",\"e\","
             "1700000000],\"expect\":1}]}",
             other, other, other);
    WANT(OPC_ERR_INVALID_ARG, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    /* A placeholder naming no earlier change: refused. */
    snprintf(text, sizeof text,
             "{\"batch\":[{\"stmt\":\"vault.touch\",\"args\":[0,1700000000,{\"seq\":0},\"%s\"],"
             "\"expect\":1}]}",
             va);
    WANT(OPC_ERR_INVALID_ARG, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(n, 0);
    assert_int_equal(feed_head(s, o.id), head);

    /* A failed expectation, late in the batch: a conflict naming the
     * statement, and nothing of the batch committed. */
    snprintf(text, sizeof text,
             "{\"batch\":[" UPDATE_STEP "," UPDATE_STEP
             ",{\"stmt\":\"vault.touch\",\"args\":[0,1700000000,{\"seq\":1},\"%s\"],\"expect\":1},"
             "{\"stmt\":\"vault.touch\",\"args\":[0,1700000000,{\"seq\":1},\"%s\"],\"expect\":1}]}",
             va, va, va, other);
    WANT(OPC_ERR_CONFLICT, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(n, 0);
    assert_non_null(strstr(eb.msg, "vault.touch"));
    assert_int_equal(feed_head(s, o.id), head);
    int64_t cv = 0;
    int64_t vseq = 0;
    vault_versions(s, o.id, va, &cv, &vseq);
    assert_int_equal(cv, cv0);
    assert_int_equal(vseq, vseq0);
    /* A guard (a read in a batch) whose count differs: the same. */
    snprintf(text, sizeof text,
             "{\"batch\":[" UPDATE_STEP
             ",{\"stmt\":\"vault.touch\",\"args\":[0,1700000000,{\"seq\":0},\"%s\"],\"expect\":1},"
             "{\"stmt\":\"server.find_name\",\"args\":[\"nobody\"],\"expect\":1}]}",
             va, va);
    WANT(OPC_ERR_CONFLICT, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_non_null(strstr(eb.msg, "server.find_name"));
    assert_int_equal(feed_head(s, o.id), head);
    /* A unique index: exists, nothing committed. */
    snprintf(text, sizeof text,
             "{\"batch\":[" CREATE_STEP ",{\"stmt\":\"vault.insert\",\"args\":["
             "\"%s\",\"U\",1,\"x\",1700000000,1700000000,{\"seq\":0}],\"expect\":1}]}",
             va, va);
    WANT(OPC_ERR_EXISTS, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(feed_head(s, o.id), head);
    /* The same batch on another account (no such vault there): a conflict. */
    snprintf(
        text, sizeof text,
        "{\"batch\":[" UPDATE_STEP
        ",{\"stmt\":\"vault.touch\",\"args\":[0,1700000000,{\"seq\":0},\"%s\"],\"expect\":1}]}",
        va, va);
    int64_t head2 = feed_head(s, o2.id);
    WANT(OPC_ERR_CONFLICT, owner_call(s, o2.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(feed_head(s, o2.id), head2);

    /* A batch that holds: its seqs follow the head, one by one, whatever
     * failed before; the rows carry them; the generation moves. */
    uint64_t g0 = opc__store_generation(s, o.id);
    snprintf(
        text, sizeof text,
        "{\"batch\":[" UPDATE_STEP "," UPDATE_STEP "," UPDATE_STEP
        ",{\"stmt\":\"vault.touch\",\"args\":[0,1700000001,{\"seq\":2},\"%s\"],\"expect\":1}]}",
        va, va, va, va);
    OK(owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(n, 3);
    assert_int_equal(seqs[0], head + 1);
    assert_int_equal(seqs[1], head + 2);
    assert_int_equal(seqs[2], head + 3);
    assert_int_equal(feed_head(s, o.id), head + 3);
    vault_versions(s, o.id, va, &cv, &vseq);
    assert_int_equal(cv, cv0 + 1);
    assert_int_equal(vseq, head + 3);
    assert_true(opc__store_generation(s, o.id) != g0);
    /* The server granted the vault sees the three entries. */
    int64_t next = 0;
    cJSON *f = feed(s, o.id, sv, head, 100, &next);
    assert_int_equal(cJSON_GetArraySize(f), 3);
    for (int i = 0; i < 3; i++) {
        const cJSON *en = cJSON_GetArrayItem(f, i);
        assert_int_equal(num(en, "seq"), head + 1 + i);
        assert_string_equal(fx_str(en, "kind"), "vault_update");
        assert_string_equal(fx_str(en, "vault"), va);
    }
    assert_int_equal(next, head + 3);
    cJSON_Delete(f);
    /* The other account's feed did not move. */
    assert_int_equal(feed_head(s, o2.id), head2);
    /* A batch of no change: no seqs. */
    snprintf(text, sizeof text,
             "{\"batch\":[{\"stmt\":\"server.find_name\",\"args\":[\"Alpha server\"],"
             "\"expect\":1}]}");
    OK(owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(n, 0);
    assert_int_equal(feed_head(s, o.id), head + 3);

    owner_close(&o2);
    owner_close(&o);
    env_close(&e);
}

/* ==== case 3: the Connect reads ==== */

static void case_connect_reads(void **state)
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

    /* Device keys: an active server's, of this account. */
    opc__key *k = NULL;
    OK(opc__store_device_key(s, acct, w.s, &k, &eb));
    assert_non_null(k);
    assert_int_equal(opc__key_type(k), OPC_KTY_EC);
    opc__key_free(k);
    k = NULL;
    WANT(OPC_ERR_NOT_FOUND, opc__store_device_key(s, acct, other, &k, &eb));
    assert_null(k);
    WANT(OPC_ERR_NOT_FOUND, opc__store_device_key(s, other, w.s, &k, &eb));
    /* The very key of the server's credentials. */
    opc_credentials *creds = NULL;
    char gone[27];
    server_new_creds(a, "Gone", w.va, gone, &creds);
    OK(opc__store_device_key(s, acct, gone, &k, &eb));
    char tp_store[OPC_JWK_THUMBPRINT_LEN + 1];
    char tp_creds[OPC_JWK_THUMBPRINT_LEN + 1];
    assert_int_equal(opc__jwk_thumbprint(k, tp_store), OPC_OK);
    assert_int_equal(opc__jwk_thumbprint(opc__credentials_device_key(creds), tp_creds), OPC_OK);
    assert_string_equal(tp_store, tp_creds);
    opc_credentials_free(creds);
    opc__key_free(k);
    k = NULL;
    FX_OK(a, opc_account_server_delete(a, gone));
    WANT(OPC_ERR_NOT_FOUND, opc__store_device_key(s, acct, gone, &k, &eb));
    assert_null(k);

    /* The feed as S sees it: its own and A's entries, up to the head. */
    int64_t head = feed_head(s, acct);
    int64_t next = -1;
    cJSON *all = feed(s, acct, w.s, 0, OPC_STORE_MAX_LIMIT, &next);
    assert_int_equal(next, head);
    int64_t prev = 0;
    const cJSON *en = NULL;
    cJSON_ArrayForEach(en, all)
    {
        int64_t seq = num(en, "seq");
        assert_true(seq > prev && seq <= head);
        prev = seq;
        const char *v = opt_str(en, "vault");
        const char *sv = opt_str(en, "server");
        assert_true(v == NULL || strcmp(v, w.va) == 0);
        assert_true(sv == NULL || strcmp(sv, w.s) == 0);
        assert_false(same_str(opt_str(en, "item"), w.ib));
    }
    assert_true(has_entry(all, "issuer_key", NULL, NULL, NULL));
    assert_true(has_entry(all, "vault_create", w.va, NULL, NULL));
    assert_true(has_entry(all, "item_upsert", w.va, w.ia, NULL));
    assert_true(has_entry(all, "server_create", NULL, NULL, w.s));
    assert_true(has_entry(all, "grant", w.va, NULL, w.s));
    assert_false(has_entry(all, "vault_create", w.vb, NULL, NULL));
    assert_false(has_entry(all, "server_create", NULL, NULL, w.r));
    assert_false(has_entry(all, "server_create", NULL, NULL, gone));
    int n_all = cJSON_GetArraySize(all);
    assert_true(n_all >= 5);
    /* R sees B's, never A's. */
    cJSON *fr = feed(s, acct, w.r, 0, OPC_STORE_MAX_LIMIT, &next);
    assert_int_equal(next, head);
    assert_true(has_entry(fr, "item_upsert", w.vb, w.ib, NULL));
    assert_false(has_entry(fr, "item_upsert", w.va, w.ia, NULL));
    assert_false(has_entry(fr, "grant", w.va, NULL, NULL));
    cJSON_Delete(fr);

    /* Pages of 3 give the same entries; the cursor is the last entry's
     * seq, and the head once a page is short. */
    int got = 0;
    int64_t since = 0;
    for (;;) {
        cJSON *pg = feed(s, acct, w.s, since, 3, &next);
        int np = cJSON_GetArraySize(pg);
        for (int i = 0; i < np; i++) {
            assert_true(
                cJSON_Compare(cJSON_GetArrayItem(pg, i), cJSON_GetArrayItem(all, got + i), true));
        }
        got += np;
        if (np == 3) {
            assert_int_equal(next, num(cJSON_GetArrayItem(pg, 2), "seq"));
        } else {
            assert_int_equal(next, head);
        }
        cJSON_Delete(pg);
        if (np < 3) {
            break;
        }
        since = next;
    }
    assert_int_equal(got, n_all);

    /* Changes of B only: S's page is empty, its cursor moves past them. */
    char ib2[27];
    fx_item(a, w.vb, "{\"title\":\"B again\",\"category\":\"LOGIN\"}", ib2);
    int64_t head2 = feed_head(s, acct);
    assert_true(head2 > head);
    cJSON *pg = feed(s, acct, w.s, head, 100, &next);
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    assert_int_equal(next, head2);
    cJSON_Delete(pg);
    /* since beyond the head: empty, the cursor where it was. */
    pg = feed(s, acct, w.s, head2 + 50, 100, &next);
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    assert_int_equal(next, head2 + 50);
    cJSON_Delete(pg);
    /* Visibility follows the grants S holds now (feed.h): granted B, S sees
     * B's entries, earlier ones included; revoked, it sees the revocation
     * and none of them again. */
    FX_OK(a, opc_account_server_grant(a, w.s, w.vb));
    pg = feed(s, acct, w.s, 0, OPC_STORE_MAX_LIMIT, &next);
    assert_true(has_entry(pg, "vault_create", w.vb, NULL, NULL));
    assert_true(has_entry(pg, "item_upsert", w.vb, ib2, NULL));
    assert_true(has_entry(pg, "grant", w.vb, NULL, w.s));
    cJSON_Delete(pg);
    FX_OK(a, opc_account_server_revoke(a, w.s, w.vb));
    int64_t head3 = feed_head(s, acct);
    pg = feed(s, acct, w.s, head2, OPC_STORE_MAX_LIMIT, &next);
    assert_int_equal(next, head3);
    assert_int_equal(cJSON_GetArraySize(pg), 2);
    assert_true(has_entry(pg, "grant", w.vb, NULL, w.s));
    assert_true(has_entry(pg, "grant_revoke", w.vb, NULL, w.s));
    cJSON_Delete(pg);
    pg = feed(s, acct, w.s, 0, OPC_STORE_MAX_LIMIT, &next);
    assert_false(has_entry(pg, "vault_create", w.vb, NULL, NULL));
    assert_false(has_entry(pg, "item_upsert", w.vb, NULL, NULL));
    cJSON_Delete(pg);
    /* A vault deleted under S: S sees its grant revoked, not the delete
     * (the owner's view only), and none of the vault's rows. */
    char vc[27];
    char ic[27];
    fx_vault(a, "Doomed", vc);
    fx_item(a, vc, "{\"title\":\"doomed\",\"category\":\"LOGIN\"}", ic);
    FX_OK(a, opc_account_server_grant(a, w.s, vc));
    cJSON *row_c = NULL;
    OK(opc__store_item(s, acct, w.s, ic, &row_c, &eb));
    cJSON_Delete(row_c);
    int64_t before_delete = feed_head(s, acct);
    FX_OK(a, opc_account_vault_delete(a, vc));
    head3 = feed_head(s, acct);
    pg = feed(s, acct, w.s, before_delete, OPC_STORE_MAX_LIMIT, &next);
    assert_int_equal(next, head3);
    assert_true(has_entry(pg, "grant_revoke", vc, NULL, w.s));
    assert_false(has_entry(pg, "vault_delete", NULL, NULL, NULL));
    cJSON_Delete(pg);
    WANT(OPC_ERR_NOT_FOUND, opc__store_vault(s, acct, w.s, vc, &row_c, &eb));
    WANT(OPC_ERR_NOT_FOUND, opc__store_item(s, acct, w.s, ic, &row_c, &eb));
    WANT(OPC_ERR_NOT_FOUND, opc__store_access(s, acct, w.s, vc, &row_c, &eb));
    head2 = head3;
    /* An unknown account or server. */
    cJSON *x = NULL;
    WANT(OPC_ERR_NOT_FOUND, opc__store_changes(s, other, w.s, 0, 10, 0, &x, &next, &eb));
    assert_null(x);

    /* The issuer key of the account. */
    opc__proto_account row;
    OK(opc__store_owner_account(s, acct, &row, &eb));
    OK(opc__store_issuer_key(s, acct, row.issuer_kid, &x, &eb));
    assert_string_equal(fx_str(x, "kid"), row.issuer_kid);
    cJSON *jwk = fx_json(fx_str(x, "jwk"));
    assert_string_equal(fx_str(jwk, "kty"), "EC");
    assert_null(cJSON_GetObjectItemCaseSensitive(jwk, "d"));
    cJSON_Delete(jwk);
    assert_true(has_entry(all, "issuer_key", NULL, NULL, NULL));
    cJSON_Delete(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_issuer_key(s, acct, other, &x, &eb));
    opc__proto_account_clear(&row);

    /* Grants: S's of A, read and write; none of B. */
    OK(opc__store_access(s, acct, w.s, w.va, &x, &eb));
    assert_string_equal(fx_str(x, "vault_id"), w.va);
    assert_int_equal(num(x, "acl"), OPC_ACL_READ | OPC_ACL_WRITE);
    assert_int_equal(num(x, "key_sn"), 1);
    assert_true(strlen(fx_str(x, "enc_key")) > 100);
    assert_true(strlen(fx_str(x, "grant_sig")) > 40);
    assert_true(num(x, "seq") >= 1 && num(x, "seq") <= head);
    assert_true(has_entry(all, "grant", w.va, NULL, w.s));
    cJSON_Delete(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_access(s, acct, w.s, w.vb, &x, &eb));
    assert_null(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_access(s, acct, gone, w.va, &x, &eb));

    /* Vaults: A, not B. */
    x = vault_row(s, acct, w.s, w.va);
    assert_string_equal(fx_str(x, "id"), w.va);
    assert_int_equal(num(x, "items"), 1);
    assert_int_equal(num(x, "key_sn"), 1);
    assert_true(num(x, "content_version") >= 1);
    (void)fx_str(x, "attrs");
    cJSON_Delete(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_vault(s, acct, w.s, w.vb, &x, &eb));
    assert_null(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_vault(s, acct, w.s, other, &x, &eb));
    WANT(OPC_ERR_NOT_FOUND, opc__store_vault(s, other, w.s, w.va, &x, &eb));

    /* Items: A's as the owner wrote it, not B's, not a deleted one. */
    OK(opc__store_item(s, acct, w.s, w.ia, &x, &eb));
    assert_string_equal(fx_str(x, "id"), w.ia);
    assert_string_equal(fx_str(x, "vault_id"), w.va);
    assert_string_equal(fx_str(x, "state"), "active");
    assert_int_equal(num(x, "version"), 1);
    cJSON *orows = NULL;
    OK(opc__rows_read(a->rows, "item.get", &orows, &eb, "tt", w.ia, w.va));
    const cJSON *orow = cJSON_GetArrayItem(orows, 0);
    assert_string_equal(fx_str(x, "overview"), opc__rows_str(orow, 2));
    assert_string_equal(fx_str(x, "details"), opc__rows_str(orow, 3));
    assert_int_equal(num(x, "key_sn"), opc__rows_int(orow, 1));
    assert_int_equal(num(x, "seq"), opc__rows_int(orow, 7));
    cJSON_Delete(orows);
    cJSON_Delete(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_item(s, acct, w.s, w.ib, &x, &eb));
    assert_null(x);
    OK(opc__store_item(s, acct, w.r, w.ib, &x, &eb));
    cJSON_Delete(x);
    char dead[27];
    fx_item(a, w.va, "{\"title\":\"short-lived\",\"category\":\"LOGIN\"}", dead);
    OK(opc__store_item(s, acct, w.s, dead, &x, &eb));
    cJSON_Delete(x);
    FX_OK(a, opc_account_item_delete(a, w.va, dead, 0));
    WANT(OPC_ERR_NOT_FOUND, opc__store_item(s, acct, w.s, dead, &x, &eb));
    assert_null(x);

    /* Tokens: S's registry rows, as they are; not R's. */
    const char *specs[] = {w.va};
    char *json = NULL;
    opc_secret *tok = NULL;
    FX_OK(a, opc_account_token_create(a, "reader", w.s, specs, 1, 0, &json, &tok));
    cJSON *tj = fx_json(json);
    char jti[27];
    snprintf(jti, sizeof jti, "%s", fx_str(tj, "id"));
    cJSON_Delete(tj);
    opc_free(json);
    opc_secret_free(tok);
    OK(opc__store_token(s, acct, w.s, jti, &x, &eb));
    assert_string_equal(fx_str(x, "jti"), jti);
    assert_string_equal(fx_str(x, "server_id"), w.s);
    assert_string_equal(fx_str(x, "name"), "reader");
    assert_string_equal(fx_str(x, "state"), "active");
    assert_int_equal(num(x, "expires"), 0);
    assert_non_null(strstr(fx_str(x, "scopes"), w.va));
    int64_t tseq = num(x, "seq");
    cJSON_Delete(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_token(s, acct, w.r, jti, &x, &eb));
    assert_null(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_token(s, acct, w.s, other, &x, &eb));
    FX_OK(a, opc_account_token_revoke(a, jti, w.s));
    OK(opc__store_token(s, acct, w.s, jti, &x, &eb));
    assert_string_equal(fx_str(x, "state"), "revoked");
    assert_true(num(x, "seq") > tseq);
    cJSON_Delete(x);
    pg = feed(s, acct, w.s, head2, 100, &next);
    assert_true(has_entry(pg, "token_create", NULL, NULL, w.s));
    assert_true(has_entry(pg, "token_revoke", NULL, NULL, w.s));
    cJSON_Delete(pg);
    pg = feed(s, acct, w.r, head2, 100, &next);
    assert_false(has_entry(pg, "token_create", NULL, NULL, NULL));
    cJSON_Delete(pg);

    cJSON_Delete(all);
    world_free(&w);
    env_close(&e);
}

/* ==== case 3b: pages of items and file chunks ==== */

static int cmp_id(const void *x, const void *y)
{
    return strcmp((const char *)x, (const char *)y);
}

/* Every chunk of the owner's file, as the owner reads it (file.chunks). */
static cJSON *owner_chunks(opc_account *a, const char *item, const char *file)
{
    opc__ebuf eb;
    cJSON *rows = NULL;
    OK(opc__rows_read(a->rows, "file.chunks", &rows, &eb, "ttii", item, file, (int64_t)0,
                      (int64_t)1000));
    return rows;
}

static void case_connect_pages(void **state)
{
    env e;
    env_open(&e, state);
    opc__store *s = e.s;
    opc__ebuf eb;
    world w;
    world_make(s, &w);
    const char *acct = w.o.id;
    opc_account *a = w.o.a;

    /* 22 items in A, one deleted again: 21 active with the first. */
    enum { N_NEW = 22 };
    char ids[N_NEW + 1][27];
    size_t n_ids = 0;
    snprintf(ids[n_ids++], 27, "%s", w.ia);
    char dead[27] = "";
    for (int i = 0; i < N_NEW; i++) {
        char json[96];
        char id[27];
        snprintf(json, sizeof json, LOGIN, "paged");
        fx_item(a, w.va, json, id);
        if (i == 5) {
            snprintf(dead, sizeof dead, "%s", id);
        } else {
            snprintf(ids[n_ids++], 27, "%s", id);
        }
    }
    FX_OK(a, opc_account_item_delete(a, w.va, dead, 0));
    qsort(ids, n_ids, sizeof ids[0], cmp_id);

    /* Keyset pages of 7: each id once, in byte order. */
    size_t seen = 0;
    char after[27] = "";
    for (;;) {
        cJSON *pg = NULL;
        OK(opc__store_vault_items(s, acct, w.s, w.va, after[0] != '\0' ? after : NULL, 7, &pg,
                                  &eb));
        int np = cJSON_GetArraySize(pg);
        assert_true(np <= 7);
        const cJSON *it = NULL;
        cJSON_ArrayForEach(it, pg)
        {
            assert_true(seen < n_ids);
            assert_string_equal(fx_str(it, "id"), ids[seen]);
            assert_string_equal(fx_str(it, "vault_id"), w.va);
            assert_string_equal(fx_str(it, "state"), "active");
            seen++;
            snprintf(after, sizeof after, "%s", fx_str(it, "id"));
        }
        cJSON_Delete(pg);
        if (np < 7) {
            break;
        }
    }
    assert_int_equal(seen, n_ids);
    /* No id to start after ("" as NULL): from the first. */
    cJSON *pg = NULL;
    OK(opc__store_vault_items(s, acct, w.s, w.va, "", 7, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 7);
    assert_string_equal(fx_str(cJSON_GetArrayItem(pg, 0), "id"), ids[0]);
    cJSON_Delete(pg);
    /* After the last id: nothing; the items of B, or A's for R: empty pages. */
    OK(opc__store_vault_items(s, acct, w.s, w.va, ids[n_ids - 1], 7, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    cJSON_Delete(pg);
    OK(opc__store_vault_items(s, acct, w.s, w.vb, NULL, 100, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    cJSON_Delete(pg);
    OK(opc__store_vault_items(s, acct, w.r, w.va, NULL, 100, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    cJSON_Delete(pg);
    WANT(OPC_ERR_RANGE, opc__store_vault_items(s, acct, w.s, w.va, NULL, 0, &pg, &eb));

    /* A document of four chunks, and a small file on the first item. */
    size_t doc_len = 3 * OPC_ACCOUNT_CHUNK_SIZE + 1000;
    unsigned char *data = malloc(doc_len);
    assert_non_null(data);
    for (size_t i = 0; i < doc_len; i++) {
        data[i] = (unsigned char)(i * 7 + i / 251);
    }
    opc_secret *out = NULL;
    FX_OK(a, opc_account_document_create(a, w.va, "Doc", "doc.bin", data, doc_len, &out));
    cJSON *dj = fx_json_secret(out);
    char doc[27];
    snprintf(doc, sizeof doc, "%s", fx_str(dj, "id"));
    cJSON_Delete(dj);
    opc_secret_free(out);
    FX_OK(a, opc_account_file_attach(a, w.va, w.ia, "small.txt", NULL, "hello", 5, 0, &out));
    opc_secret_free(out);

    /* The document's chunks in pages of 3: idx 0..3 of one file, the
     * owner's bytes; the owner reads the document back whole. */
    cJSON *c1 = NULL;
    OK(opc__store_item_files(s, acct, w.s, doc, NULL, 0, 3, &c1, &eb));
    assert_int_equal(cJSON_GetArraySize(c1), 3);
    char file[27];
    snprintf(file, sizeof file, "%s", fx_str(cJSON_GetArrayItem(c1, 0), "file_id"));
    cJSON *c2 = NULL;
    OK(opc__store_item_files(s, acct, w.s, doc, file, 2, 3, &c2, &eb));
    assert_int_equal(cJSON_GetArraySize(c2), 1);
    cJSON *c3 = NULL;
    OK(opc__store_item_files(s, acct, w.s, doc, file, 3, 3, &c3, &eb));
    assert_int_equal(cJSON_GetArraySize(c3), 0);
    cJSON_Delete(c3);
    cJSON *mine = owner_chunks(a, doc, file);
    assert_int_equal(cJSON_GetArraySize(mine), 4);
    for (int i = 0; i < 4; i++) {
        const cJSON *ch = i < 3 ? cJSON_GetArrayItem(c1, i) : cJSON_GetArrayItem(c2, 0);
        assert_int_equal(num(ch, "idx"), i);
        assert_string_equal(fx_str(ch, "file_id"), file);
        assert_string_equal(fx_str(ch, "item_id"), doc);
        assert_string_equal(fx_str(ch, "vault_id"), w.va);
        assert_string_equal(fx_str(ch, "blob"), opc__rows_str(cJSON_GetArrayItem(mine, i), 1));
    }
    cJSON_Delete(mine);
    cJSON_Delete(c1);
    cJSON_Delete(c2);
    FX_OK(a, opc_account_file_read(a, w.va, doc, file, &out));
    assert_int_equal(opc_secret_len(out), doc_len);
    assert_memory_equal(opc_secret_data(out), data, doc_len);
    opc_secret_free(out);
    /* A second file on the document (two chunks): the item's pages walk
     * both files by (file, idx), each chunk once. */
    FX_OK(a, opc_account_file_attach(a, w.va, doc, "second.bin", NULL, data,
                                     OPC_ACCOUNT_CHUNK_SIZE + 10, 0, &out));
    opc_secret_free(out);
    free(data);
    char key_last[64] = "";
    int per_file[2] = {0, 0};
    char after_file[27] = "";
    int64_t after_idx = 0;
    for (;;) {
        OK(opc__store_item_files(s, acct, w.s, doc, after_file, after_idx, 4, &pg, &eb));
        int np = cJSON_GetArraySize(pg);
        assert_true(np <= 4);
        const cJSON *ch = NULL;
        cJSON_ArrayForEach(ch, pg)
        {
            char key[64];
            snprintf(key, sizeof key, "%s/%08" PRId64, fx_str(ch, "file_id"), num(ch, "idx"));
            assert_true(strcmp(key, key_last) > 0);
            snprintf(key_last, sizeof key_last, "%s", key);
            per_file[strcmp(fx_str(ch, "file_id"), file) == 0 ? 0 : 1]++;
            snprintf(after_file, sizeof after_file, "%s", fx_str(ch, "file_id"));
            after_idx = num(ch, "idx");
        }
        cJSON_Delete(pg);
        if (np < 4) {
            break;
        }
    }
    assert_int_equal(per_file[0], 4);
    assert_int_equal(per_file[1], 2);
    /* No file to start after: from the first, whatever the index. */
    OK(opc__store_item_files(s, acct, w.s, doc, "", 7, 100, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 6);
    cJSON_Delete(pg);
    /* Out of scope: empty. */
    OK(opc__store_item_files(s, acct, w.r, doc, NULL, 0, 10, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    cJSON_Delete(pg);

    /* The vault's chunks over the range of its items, in pages of 2: every
     * chunk once, by (item, file, idx): the first item's one and the
     * document's six. */
    n_ids = 0;
    after[0] = '\0';
    for (;;) { /* the active items again (the document is one now) */
        OK(opc__store_vault_items(s, acct, w.s, w.va, after[0] != '\0' ? after : NULL, 100, &pg,
                                  &eb));
        const cJSON *it = NULL;
        cJSON_ArrayForEach(it, pg)
        {
            assert_true(n_ids < N_NEW + 1);
            snprintf(ids[n_ids++], 27, "%s", fx_str(it, "id"));
            snprintf(after, sizeof after, "%s", fx_str(it, "id"));
        }
        int np = cJSON_GetArraySize(pg);
        cJSON_Delete(pg);
        if (np < 100) {
            break;
        }
    }
    assert_int_equal(n_ids, N_NEW + 1);
    char a_item[27];
    char a_file[27] = "";
    int64_t a_idx = 0;
    snprintf(a_item, sizeof a_item, "%s", ids[0]);
    char last_key[80] = "";
    int chunks = 0;
    int doc_chunks = 0;
    for (;;) {
        OK(opc__store_vault_files(s, acct, w.s, w.va, a_item, a_file, a_idx, ids[n_ids - 1], 2, &pg,
                                  &eb));
        int np = cJSON_GetArraySize(pg);
        assert_true(np <= 2);
        const cJSON *ch = NULL;
        cJSON_ArrayForEach(ch, pg)
        {
            char key[80];
            snprintf(key, sizeof key, "%s/%s/%08" PRId64, fx_str(ch, "item_id"),
                     fx_str(ch, "file_id"), num(ch, "idx"));
            assert_true(strcmp(key, last_key) > 0);
            snprintf(last_key, sizeof last_key, "%s", key);
            assert_string_equal(fx_str(ch, "vault_id"), w.va);
            doc_chunks += strcmp(fx_str(ch, "item_id"), doc) == 0;
            chunks++;
            snprintf(a_item, sizeof a_item, "%s", fx_str(ch, "item_id"));
            snprintf(a_file, sizeof a_file, "%s", fx_str(ch, "file_id"));
            a_idx = num(ch, "idx");
        }
        cJSON_Delete(pg);
        if (np < 2) {
            break;
        }
    }
    assert_int_equal(chunks, 7);
    assert_int_equal(doc_chunks, 6);
    /* The range's end bounds it: the first item alone has one chunk. */
    OK(opc__store_vault_files(s, acct, w.s, w.va, w.ia, NULL, 0, w.ia, 100, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 1);
    assert_string_equal(fx_str(cJSON_GetArrayItem(pg, 0), "item_id"), w.ia);
    cJSON_Delete(pg);
    OK(opc__store_vault_files(s, acct, w.r, w.va, ids[0], NULL, 0, ids[n_ids - 1], 100, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    cJSON_Delete(pg);

    world_free(&w);
    env_close(&e);
}

/* ==== case 4: server writes (account/import.h) ==== */

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

/* ---- the run ---- */

static kind kinds[] = {
    {"sqlite", sqlite_open, sqlite_close, sqlite_open_more, true},
    /* The PostgreSQL store may allocate on threads of its own (a
     * notification listener): the system allocator, no leak checks. */
    {"pg", pg_open, pg_close, pg_open_more, false},
};

static int system_setup(void **st)
{
    (void)st;
    return opc_global_init(OPC_GLOBAL_DEFAULT) == OPC_OK ? 0 : -1;
}

typedef struct case_def {
    const char *name;
    CMUnitTestFunction fn;
    bool threaded;
} case_def;

static const case_def cases[] = {
    {"signup", case_signup, false},
    {"owner_rows", case_owner_rows, false},
    {"connect_reads", case_connect_reads, false},
    {"connect_pages", case_connect_pages, false},
    {"item_writes", case_item_writes, false},
    {"generation_wait", case_generation_wait, true},
    {"concurrent_writes", case_concurrent_writes, true},
    {"several_stores", case_several_stores, true},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* Run the cases of one kind that are threaded (or not) as one group. */
static int run_kind(kind *k, bool threaded)
{
    static char names[2 * N_CASES][64];
    struct CMUnitTest tests[N_CASES];
    size_t n = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        if (cases[i].threaded != threaded) {
            continue;
        }
        char *name = names[(threaded ? N_CASES : 0) + i];
        snprintf(name, sizeof names[0], "%s/%s", k->name, cases[i].name);
        tests[n++] = (struct CMUnitTest){name, cases[i].fn, NULL, NULL, k};
    }
    bool leaks = k->leak_checked && !threaded;
    char group[64];
    snprintf(group, sizeof group, "store_conformance/%s%s", k->name, threaded ? "/threads" : "");
    return _cmocka_run_group_tests(group, tests, n, leaks ? opc_test_group_setup : system_setup,
                                   opc_test_group_teardown);
}

int main(void)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        rc += run_kind(&kinds[i], false);
        rc += run_kind(&kinds[i], true);
    }
    /* What failed cases left behind. */
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
