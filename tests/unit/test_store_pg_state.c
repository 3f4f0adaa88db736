/*
 * tests/unit/test_store_pg_state.c - the account servers' shared state in
 * PostgreSQL (accountd/state.c over store/pg_state.c): two store handles on
 * one database are two account servers. A request's counter is accepted
 * across both (a replay at the other is refused, and two racing threads
 * never both win one counter), expiry and idle time count across them,
 * sign-out at one ends the session at the other, a nonce is one use, the
 * limiters count both servers' failures, a pending sign-in is taken once
 * (and its SRP state still verifies at the other server), the database
 * holds no session key, sid or SRP secret in the clear, another server key
 * opens nothing, the sweep empties the expired rows, and a database of
 * schema version 1 gains the shared state when a server opens it.
 *
 * OPC_TEST_PG_URL as for test_pg_sql.c: the test makes its own database
 * and drops it; without it the tests skip, unless OPC_TEST_PG_REQUIRED=1.
 */
#include "harness.h"
#include "pg_fixture.h"

#include <pthread.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "accountd/accountd.h"
#include "core/time.h"
#include "crypto/srp.h"
#include "store/pg_sql.h"
#include "store/store.h"

#define SID1 "AAAAAAAAAAAAAAAAAAAAAA"
#define SID2 "BBBBBBBBBBBBBBBBBBBBBB"
#define SID3 "CCCCCCCCCCCCCCCCCCCCCC"
#define SID4 "DDDDDDDDDDDDDDDDDDDDDD"
#define SID5 "EEEEEEEEEEEEEEEEEEEEEE"
#define SID6 "FFFFFFFFFFFFFFFFFFFFFF"
#define SID7 "GGGGGGGGGGGGGGGGGGGGGG"
#define SID8 "HHHHHHHHHHHHHHHHHHHHHH"
#define NONCE1 "NNNNNNNNNNNNNNNNNNNNNN"
#define NONCE2 "MMMMMMMMMMMMMMMMMMMMMM"
#define ACCT "aaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SRV "ssssssssssssssssssssssssss"
#define T0 ((int64_t)1800000000)

static PGconn *admin;
static PGconn *db;
static char dbname[64];
static char conninfo[1024];
static const char *no_pg_why;
static opc__store *store1, *store2;
static opc__ad_state *st1, *st2;
static const uint8_t seal_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                     12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                     23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

#define NEED_DB() PG_NEED(st1 != NULL, no_pg_why)

/* url's options with dbname replaced, as keyword='value' pairs. */
static bool conninfo_for(const char *url, const char *name, char *out, size_t cap)
{
    PQconninfoOption *o = PQconninfoParse(url, NULL);
    if (o == NULL) {
        return false;
    }
    size_t n = 0;
    out[0] = '\0';
    for (PQconninfoOption *p = o; p->keyword != NULL; p++) {
        const char *v = strcmp(p->keyword, "dbname") == 0 ? name : p->val;
        if (v == NULL) {
            continue;
        }
        int w = snprintf(out + n, cap - n, "%s%s='", n > 0 ? " " : "", p->keyword);
        n += w > 0 ? (size_t)w : 0;
        for (const char *c = v; *c != '\0' && n + 3 < cap; c++) {
            if (*c == '\'' || *c == '\\') {
                out[n++] = '\\';
            }
            out[n++] = *c;
        }
        if (n + 2 >= cap) {
            PQconninfoFree(o);
            return false;
        }
        out[n++] = '\'';
        out[n] = '\0';
    }
    PQconninfoFree(o);
    return true;
}

static int setup(void **state)
{
    if (opc_test_group_setup(state) != 0) {
        return -1;
    }
    const char *url = NULL;
    admin = pg_admin(&url, &no_pg_why);
    if (admin == NULL) {
        return 0;
    }
    (void)snprintf(dbname, sizeof dbname, "opc_test_pg_state_%ld", (long)getpid());
    char sql[128];
    (void)snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
    bool ok = exec_ok(admin, sql);
    (void)snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    ok = ok && exec_ok(admin, sql) && conninfo_for(url, dbname, conninfo, sizeof conninfo);
    db = ok ? connect_to(url, dbname) : NULL;
    if (db == NULL) {
        no_pg_why = "cannot create the test database";
        return 0;
    }
    (void)PQsetNoticeProcessor(db, quiet, NULL);
    /* Two servers: each its own store (pool, migrations at open) and state. */
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    /* One connection each, opened here (the tests' leak checks count
     * what they allocate). */
    if (opc__store_pg_open(conninfo, 1, &store1, &eb) != OPC_OK ||
        opc__store_pg_open(conninfo, 1, &store2, &eb) != OPC_OK ||
        opc__ad_state_shared(store1, seal_key, &st1) != OPC_OK ||
        opc__ad_state_shared(store2, seal_key, &st2) != OPC_OK ||
        opc__ad_state_sweep(st1, &eb) != OPC_OK || opc__ad_state_sweep(st2, &eb) != OPC_OK) {
        print_error("cannot open the stores: %s\n", eb.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    opc__ad_state_free(st1);
    opc__ad_state_free(st2);
    opc__store_close(store1);
    opc__store_close(store2);
    if (db != NULL) {
        PQfinish(db);
    }
    if (admin != NULL) {
        char sql[128];
        (void)snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
        (void)exec_ok(admin, sql);
        PQfinish(admin);
    }
    return opc_test_group_teardown(state);
}

static long long count_rows(const char *table)
{
    char sql[128];
    (void)snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    PGresult *r = PQexec(db, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static void keys_of(uint8_t seed, opc__proto_keys *k)
{
    for (size_t i = 0; i < sizeof k->k_req; i++) {
        k->k_req[i] = (uint8_t)(seed + i);
        k->k_res[i] = (uint8_t)(seed * 3 + i);
    }
}

/* A signed GET of sid at st with counter n at now. */
static opc_err req(opc__ad_state *st, const char *sid, const opc__proto_keys *k, opc__ad_kind kind,
                   uint64_t n, int64_t now)
{
    char mac[OPC_PROTO_HASH_B64 + 1];
    const char *target = "/v1/connect/changes?since=0";
    assert_int_equal(opc__proto_mac_request(k, sid, n, "GET", target, "", 0, mac), OPC_OK);
    opc__ad_auth auth;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc =
        opc__ad_state_session_check(st, sid, kind, n, "GET", target, "", 0, mac, now, &auth, &eb);
    if (rc == OPC_OK) {
        assert_string_equal(auth.sid, sid);
        assert_int_equal(auth.counter, n);
        assert_memory_equal(&auth.keys, k, sizeof *k);
        assert_string_equal(auth.account, ACCT);
    } else {
        assert_true(eb.msg[0] != '\0');
        assert_null(strstr(eb.msg, mac));
    }
    opc__ad_auth_clear(&auth);
    return rc;
}

static void test_counter_across_servers(void **state)
{
    (void)state;
    NEED_DB();
    opc__proto_keys k;
    keys_of(7, &k);
    assert_int_equal(opc__ad_state_session_add(st1, SID1, OPC_AD_KIND_CONNECT, ACCT, SRV, &k,
                                               T0 + 600, T0, NULL),
                     OPC_OK);
    assert_true(opc__ad_state_session_live(st2, SID1, OPC_AD_KIND_CONNECT, T0));
    assert_false(opc__ad_state_session_live(st2, SID1, OPC_AD_KIND_OWNER, T0));
    assert_int_equal(req(st1, SID1, &k, OPC_AD_KIND_CONNECT, 1, T0), OPC_OK);
    assert_int_equal(req(st2, SID1, &k, OPC_AD_KIND_CONNECT, 2, T0), OPC_OK);
    /* the same counters again, at either server: replays */
    assert_int_equal(req(st1, SID1, &k, OPC_AD_KIND_CONNECT, 2, T0), OPC_ERR_TOKEN);
    assert_int_equal(req(st2, SID1, &k, OPC_AD_KIND_CONNECT, 1, T0), OPC_ERR_TOKEN);
    assert_int_equal(req(st1, SID1, &k, OPC_AD_KIND_CONNECT, 5, T0), OPC_OK);
    assert_int_equal(req(st2, SID1, &k, OPC_AD_KIND_CONNECT, 4, T0), OPC_ERR_TOKEN);
    assert_int_equal(req(st2, SID1, &k, OPC_AD_KIND_CONNECT, 6, T0), OPC_OK);
    /* a bad MAC does not move the counter: 7 still works after it */
    char mac[OPC_PROTO_HASH_B64 + 1] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    opc__ad_auth auth;
    assert_int_equal(opc__ad_state_session_check(st1, SID1, OPC_AD_KIND_CONNECT, 7, "GET", "/x", "",
                                                 0, mac, T0, &auth, NULL),
                     OPC_ERR_TOKEN);
    assert_int_equal(req(st2, SID1, &k, OPC_AD_KIND_CONNECT, 7, T0), OPC_OK);
    /* the other kind's endpoints, an unknown sid */
    assert_int_equal(req(st1, SID1, &k, OPC_AD_KIND_OWNER, 8, T0), OPC_ERR_TOKEN);
    assert_int_equal(req(st1, SID2, &k, OPC_AD_KIND_CONNECT, 1, T0), OPC_ERR_TOKEN);
    /* a counter beyond the database's bigint is refused, not wrapped */
    assert_int_equal(req(st1, SID1, &k, OPC_AD_KIND_CONNECT, (uint64_t)INT64_MAX + 1, T0),
                     OPC_ERR_TOKEN);
    assert_int_equal(opc__ad_state_session_end(st1, SID1, NULL), OPC_OK);
}

typedef struct racer {
    opc__ad_state *st;
    const opc__proto_keys *k;
    int won;
    bool got[101];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    for (uint64_t n = 1; n <= 100; n++) {
        char mac[OPC_PROTO_HASH_B64 + 1];
        if (opc__proto_mac_request(r->k, SID2, n, "GET", "/r", "", 0, mac) != OPC_OK) {
            continue;
        }
        opc__ad_auth auth;
        if (opc__ad_state_session_check(r->st, SID2, OPC_AD_KIND_CONNECT, n, "GET", "/r", "", 0,
                                        mac, T0, &auth, NULL) == OPC_OK) {
            r->won++;
            r->got[n] = true;
        }
        opc__ad_auth_clear(&auth);
    }
    return NULL;
}

static void test_counter_race(void **state)
{
    (void)state;
    NEED_DB();
    opc__proto_keys k;
    keys_of(9, &k);
    assert_int_equal(opc__ad_state_session_add(st1, SID2, OPC_AD_KIND_CONNECT, ACCT, SRV, &k,
                                               T0 + 600, T0, NULL),
                     OPC_OK);
    racer a = {.st = st1, .k = &k};
    racer b = {.st = st2, .k = &k};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(pthread_join(tb, NULL), 0);
    /* each counter accepted at one server at most */
    for (int n = 1; n <= 100; n++) {
        assert_false(a.got[n] && b.got[n]);
    }
    assert_true(a.won + b.won <= 100);
    assert_true(a.won + b.won >= 50);
    assert_int_equal(opc__ad_state_session_end(st2, SID2, NULL), OPC_OK);
}

static void test_expiry_idle_signout(void **state)
{
    (void)state;
    NEED_DB();
    opc__proto_keys k;
    keys_of(11, &k);
    /* Idle: 120 s for a Connect session, counted from the last request at any server. */
    assert_int_equal(opc__ad_state_session_add(st1, SID3, OPC_AD_KIND_CONNECT, ACCT, SRV, &k,
                                               T0 + 600, T0, NULL),
                     OPC_OK);
    assert_int_equal(req(st2, SID3, &k, OPC_AD_KIND_CONNECT, 1, T0 + 100), OPC_OK);
    /* st1 saw nothing since T0 (its cache idle), the database's last use is T0 + 100 */
    assert_int_equal(req(st1, SID3, &k, OPC_AD_KIND_CONNECT, 2, T0 + 200), OPC_OK);
    assert_int_equal(req(st2, SID3, &k, OPC_AD_KIND_CONNECT, 3, T0 + 320), OPC_ERR_TOKEN);
    assert_false(opc__ad_state_session_live(st2, SID3, 0, T0 + 320));
    /* Expiry: past expires, however recent the last request. */
    assert_int_equal(opc__ad_state_session_add(st1, SID3, OPC_AD_KIND_CONNECT, ACCT, SRV, &k,
                                               T0 + 600, T0 + 500, NULL),
                     OPC_OK);
    assert_int_equal(req(st2, SID3, &k, OPC_AD_KIND_CONNECT, 1, T0 + 590), OPC_OK);
    assert_int_equal(req(st2, SID3, &k, OPC_AD_KIND_CONNECT, 2, T0 + 600), OPC_ERR_TOKEN);
    /* Sign-out at one server ends it at the other, whose cache holds the keys. */
    assert_int_equal(
        opc__ad_state_session_add(st1, SID4, OPC_AD_KIND_OWNER, ACCT, "", &k, T0 + 43200, T0, NULL),
        OPC_OK);
    assert_int_equal(req(st1, SID4, &k, OPC_AD_KIND_OWNER, 1, T0), OPC_OK);
    assert_int_equal(req(st2, SID4, &k, OPC_AD_KIND_OWNER, 2, T0), OPC_OK);
    assert_int_equal(opc__ad_state_session_end(st2, SID4, NULL), OPC_OK);
    assert_int_equal(opc__ad_state_session_end(st2, SID4, NULL), OPC_ERR_NOT_FOUND);
    assert_int_equal(req(st1, SID4, &k, OPC_AD_KIND_OWNER, 3, T0), OPC_ERR_TOKEN);
    assert_int_equal(req(st2, SID4, &k, OPC_AD_KIND_OWNER, 4, T0), OPC_ERR_TOKEN);
    /* Owner sessions idle after 1800 s. */
    assert_int_equal(
        opc__ad_state_session_add(st2, SID4, OPC_AD_KIND_OWNER, ACCT, "", &k, T0 + 43200, T0, NULL),
        OPC_OK);
    assert_int_equal(req(st1, SID4, &k, OPC_AD_KIND_OWNER, 1, T0 + 1700), OPC_OK);
    assert_int_equal(req(st1, SID4, &k, OPC_AD_KIND_OWNER, 2, T0 + 1700 + 1800), OPC_ERR_TOKEN);
}

static void test_sealed_at_rest(void **state)
{
    (void)state;
    NEED_DB();
    opc__proto_keys k;
    keys_of(13, &k);
    assert_true(exec_ok(db, "DELETE FROM ad_sessions"));
    assert_int_equal(opc__ad_state_session_add(st1, SID5, OPC_AD_KIND_CONNECT, ACCT, SRV, &k,
                                               T0 + 600, T0, NULL),
                     OPC_OK);
    PGresult *r = PQexec(db, "SELECT sid, sealed FROM ad_sessions");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_true(PQntuples(r) >= 1);
    for (int i = 0; i < PQntuples(r); i++) {
        assert_string_not_equal(PQgetvalue(r, i, 0), SID5);
        assert_null(strstr(PQgetvalue(r, i, 0), SID5));
        size_t n = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 1), &n);
        assert_non_null(raw);
        assert_true(n >= sizeof k + 28);
        for (size_t off = 0; off + 16 <= n; off++) {
            assert_false(memcmp(raw + off, k.k_req, 16) == 0);
            assert_false(memcmp(raw + off, k.k_res, 16) == 0);
        }
        PQfreemem(raw);
    }
    PQclear(r);
    /* Another server key opens nothing: the session is unknown there. */
    uint8_t other[32];
    memcpy(other, seal_key, sizeof other);
    other[0] ^= 1;
    opc__ad_state *st3 = NULL;
    assert_int_equal(opc__ad_state_shared(store2, other, &st3), OPC_OK);
    assert_int_equal(req(st3, SID5, &k, OPC_AD_KIND_CONNECT, 1, T0), OPC_ERR_TOKEN);
    opc__ad_state_free(st3);
    /* A sealed blob moved to another row does not open either. */
    assert_int_equal(opc__ad_state_session_add(st1, SID6, OPC_AD_KIND_CONNECT, ACCT, SRV, &k,
                                               T0 + 600, T0, NULL),
                     OPC_OK);
    assert_true(exec_ok(db, "UPDATE ad_sessions SET sealed = (SELECT sealed FROM ad_sessions "
                            "ORDER BY sid LIMIT 1)"));
    opc__ad_state *fresh = NULL;
    assert_int_equal(opc__ad_state_shared(store2, seal_key, &fresh), OPC_OK);
    int opened = (req(fresh, SID5, &k, OPC_AD_KIND_CONNECT, 1, T0) == OPC_OK) +
                 (req(fresh, SID6, &k, OPC_AD_KIND_CONNECT, 1, T0) == OPC_OK);
    assert_int_equal(opened, 1);
    opc__ad_state_free(fresh);
    assert_true(exec_ok(db, "DELETE FROM ad_sessions"));
}

static void test_nonce_one_use(void **state)
{
    (void)state;
    NEED_DB();
    int64_t now = T0 * 1000;
    assert_int_equal(opc__ad_state_nonce_take(st1, NONCE1, now), OPC_OK);
    assert_int_equal(opc__ad_state_nonce_take(st2, NONCE1, now + 1), OPC_ERR_EXISTS);
    assert_int_equal(opc__ad_state_nonce_take(st1, NONCE1, now + OPC_AD_NONCE_TTL_MS - 1),
                     OPC_ERR_EXISTS);
    /* remembered for the whole span of timestamps accepted, then free again */
    assert_int_equal(opc__ad_state_nonce_take(st2, NONCE1, now + OPC_AD_NONCE_TTL_MS), OPC_OK);
    assert_int_equal(opc__ad_state_nonce_take(st1, "short", now), OPC_ERR_INVALID_ARG);
}

static void test_limits_across_servers(void **state)
{
    (void)state;
    NEED_DB();
    int64_t now = T0 * 1000;
    const char *addr = "192.0.2.7";
    for (int i = 0; i < OPC_AD_OWNER_FAIL_LIMIT - 1; i++) {
        assert_int_equal(
            opc__ad_state_blocked(i % 2 ? st1 : st2, OPC_AD_LIMIT_OWNER_ADDR, addr, now), 0);
        opc__ad_state_fail(i % 2 ? st2 : st1, OPC_AD_LIMIT_OWNER_ADDR, addr, now + i);
    }
    assert_int_equal(opc__ad_state_blocked(st1, OPC_AD_LIMIT_OWNER_ADDR, addr, now + 20), 0);
    opc__ad_state_fail(st2, OPC_AD_LIMIT_OWNER_ADDR, addr, now + 20);
    int w1 = opc__ad_state_blocked(st1, OPC_AD_LIMIT_OWNER_ADDR, addr, now + 20);
    int w2 = opc__ad_state_blocked(st2, OPC_AD_LIMIT_OWNER_ADDR, addr, now + 20);
    assert_int_equal(w1, (int)(OPC_AD_OWNER_FAIL_WINDOW_MS / 1000));
    assert_int_equal(w2, w1);
    /* the other limiters and addresses are apart */
    assert_int_equal(opc__ad_state_blocked(st1, OPC_AD_LIMIT_OWNER_EMAIL, addr, now + 20), 0);
    assert_int_equal(opc__ad_state_blocked(st1, OPC_AD_LIMIT_OWNER_ADDR, "192.0.2.8", now + 20), 0);
    /* the window ends, and a new one starts afresh */
    int64_t later = now + OPC_AD_OWNER_FAIL_WINDOW_MS;
    assert_int_equal(opc__ad_state_blocked(st2, OPC_AD_LIMIT_OWNER_ADDR, addr, later), 0);
    opc__ad_state_fail(st1, OPC_AD_LIMIT_OWNER_ADDR, addr, later);
    assert_int_equal(opc__ad_state_blocked(st2, OPC_AD_LIMIT_OWNER_ADDR, addr, later + 1), 0);
    /* handshakes: 20 per minute, counted together */
    for (int i = 0; i < OPC_AD_FAIL_LIMIT; i++) {
        opc__ad_state_fail(i % 2 ? st1 : st2, OPC_AD_LIMIT_HANDSHAKE, addr, now);
    }
    assert_int_equal(opc__ad_state_blocked(st1, OPC_AD_LIMIT_HANDSHAKE, addr, now + 1500), 59);
}

static void test_pending_one_use(void **state)
{
    (void)state;
    NEED_DB();
    const opc__srp_group *g = opc__srp_group_get(OPC_SRP_GROUP_BITS);
    size_t glen = opc__srp_group_len(g);
    assert_int_equal(glen, OPC_PROTO_SRP_LEN);
    uint8_t x[32], salt[16], v[OPC_PROTO_SRP_LEN], B[OPC_PROTO_SRP_LEN], A[OPC_PROTO_SRP_LEN];
    memset(x, 0x42, sizeof x);
    memset(salt, 0x17, sizeof salt);
    assert_int_equal(opc__srp_verifier(g, x, sizeof x, v, sizeof v, NULL), OPC_OK);
    opc__srp_client *cl = NULL;
    assert_int_equal(opc__srp_client_start(g, A, sizeof A, &cl, NULL), OPC_OK);
    opc__ad_signin in;
    memset(&in, 0, sizeof in);
    (void)snprintf(in.account, sizeof in.account, "%s", ACCT);
    (void)snprintf(in.email_key, sizeof in.email_key, "%s",
                   "ekeyekeyekeyekeyekeyekeyekeyekeyekeyekeyeke");
    memcpy(in.A, A, sizeof A);
    assert_int_equal(opc__srp_server_start(g, "me", 2, salt, sizeof salt, v, sizeof v, B, sizeof B,
                                           &in.srp, NULL),
                     OPC_OK);
    int64_t now = T0 * 1000;
    char id[OPC_PROTO_NONCE_B64 + 1];
    assert_int_equal(opc__ad_state_pending_add(st1, &in, now, id), OPC_OK);
    assert_null(in.srp); /* moved */
    /* the verifier is not in the row in the clear, nor the id */
    PGresult *r = PQexec(db, "SELECT id, sealed FROM ad_pending");
    assert_int_equal(PQntuples(r), 1);
    assert_null(strstr(PQgetvalue(r, 0, 0), id));
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 1), &n);
    for (size_t off = 0; off + 32 <= n; off++) {
        assert_false(memcmp(raw + off, v + 100, 32) == 0);
    }
    PQfreemem(raw);
    PQclear(r);
    /* taken at the other server, once */
    opc__ad_signin out;
    assert_int_equal(opc__ad_state_pending_take(st2, id, now + 1000, &out), OPC_OK);
    assert_string_equal(out.account, ACCT);
    assert_memory_equal(out.A, A, sizeof A);
    opc__ad_signin again;
    assert_int_equal(opc__ad_state_pending_take(st1, id, now + 1000, &again), OPC_ERR_NOT_FOUND);
    /* and the state still completes the exchange */
    uint8_t M1[32], M2[32], Ks[32], Kc[32];
    assert_int_equal(opc__srp_client_finish(cl, "me", 2, salt, sizeof salt, x, sizeof x, B,
                                            sizeof B, M1, sizeof M1, NULL),
                     OPC_OK);
    assert_int_equal(opc__srp_server_verify(out.srp, A, sizeof A, M1, sizeof M1, M2, sizeof M2, Ks,
                                            sizeof Ks, NULL),
                     OPC_OK);
    assert_int_equal(opc__srp_client_verify(cl, M2, sizeof M2, Kc, sizeof Kc, NULL), OPC_OK);
    assert_memory_equal(Ks, Kc, sizeof Ks);
    opc__ad_signin_clear(&out);
    opc__srp_client_free(cl);
    /* an expired one is gone */
    memset(&in, 0, sizeof in);
    (void)snprintf(in.account, sizeof in.account, "%s", ACCT);
    assert_int_equal(opc__srp_server_start(g, "me", 2, salt, sizeof salt, v, sizeof v, B, sizeof B,
                                           &in.srp, NULL),
                     OPC_OK);
    assert_int_equal(opc__ad_state_pending_add(st2, &in, now, id), OPC_OK);
    assert_int_equal(
        opc__ad_state_pending_take(st1, id, now + (int64_t)OPC_PROTO_OWNER_PENDING_S * 1000, &out),
        OPC_ERR_NOT_FOUND);
    assert_int_equal(count_rows("ad_pending"), 0);
}

static void test_sweep(void **state)
{
    (void)state;
    NEED_DB();
    opc__proto_keys k;
    keys_of(17, &k);
    /* the other tests' rows live in their own (later) time */
    assert_true(exec_ok(db, "DELETE FROM ad_sessions; DELETE FROM ad_nonces; DELETE FROM "
                            "ad_limits; DELETE FROM ad_pending"));
    int64_t now_s = opc__now_s();
    assert_int_equal(opc__ad_state_session_add(st1, SID7, OPC_AD_KIND_CONNECT, ACCT, SRV, &k,
                                               now_s - 1, now_s - 10, NULL),
                     OPC_OK);
    assert_int_equal(opc__ad_state_session_add(st1, SID8, OPC_AD_KIND_CONNECT, ACCT, SRV, &k,
                                               now_s + 600, now_s, NULL),
                     OPC_OK);
    int64_t now_ms = now_s * 1000;
    assert_int_equal(opc__ad_state_nonce_take(st1, NONCE2, now_ms - OPC_AD_NONCE_TTL_MS - 5),
                     OPC_OK);
    opc__ad_state_fail(st1, OPC_AD_LIMIT_SIGNUP, "198.51.100.1",
                       now_ms - OPC_AD_SIGNUP_WINDOW_MS - 5);
    opc__ad_state_fail(st1, OPC_AD_LIMIT_SIGNUP, "198.51.100.2", now_ms);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__ad_state_sweep(st2, &eb), OPC_OK);
    assert_int_equal(count_rows("ad_sessions"), 1); /* the live one */
    assert_int_equal(count_rows("ad_nonces"), 0);
    assert_int_equal(count_rows("ad_limits"), 1);
    assert_int_equal(opc__ad_state_session_end(st1, SID8, NULL), OPC_OK);
    assert_true(exec_ok(db, "DELETE FROM ad_limits"));
    /* unlogged: no WAL flush per request (pg_sql.c, schema_v2) */
    PGresult *r = PQexec(db, "SELECT count(*) FROM pg_class WHERE relname IN ('ad_sessions', "
                             "'ad_nonces', 'ad_limits', 'ad_pending') AND relpersistence = 'u'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "4");
    PQclear(r);
}

/* A database of schema version 1 (the store before the shared state)
 * gains step 2 when a server of this version opens it. */
static void test_upgrade_from_v1(void **state)
{
    (void)state;
    NEED_DB();
    char name[80];
    char sql[160];
    (void)snprintf(name, sizeof name, "%s_v1", dbname);
    (void)snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    assert_true(exec_ok(admin, sql));
    (void)snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    assert_true(exec_ok(admin, sql));
    const char *url = getenv("OPC_TEST_PG_URL");
    PGconn *c = connect_to(url, name);
    assert_non_null(c);
    (void)PQsetNoticeProcessor(c, quiet, NULL);
    assert_true(exec_ok(c, "BEGIN"));
    assert_true(exec_ok(c, opc__pg_migrations[0]));
    assert_true(exec_ok(c, "CREATE TABLE opc_schema (version integer NOT NULL); INSERT INTO "
                           "opc_schema VALUES (1); COMMIT"));
    char ci[1024];
    assert_true(conninfo_for(url, name, ci, sizeof ci));
    opc__store *s = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__store_pg_open(ci, 1, &s, &eb), OPC_OK);
    PGresult *r = PQexec(c, "SELECT (SELECT version FROM opc_schema), to_regclass('ad_sessions') "
                            "IS NOT NULL");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "2");
    assert_string_equal(PQgetvalue(r, 0, 1), "t");
    PQclear(r);
    opc__ad_state *st = NULL;
    assert_int_equal(opc__ad_state_shared(s, seal_key, &st), OPC_OK);
    assert_int_equal(opc__ad_state_nonce_take(st, NONCE1, 1000), OPC_OK);
    opc__ad_state_free(st);
    opc__store_close(s);
    PQfinish(c);
    (void)snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    assert_true(exec_ok(admin, sql));
}

/* What a Connect server's request costs at the account server, roughly:
 * the shared check (its one UPDATE, keys cached) against the memory one.
 * Printed, not asserted (the machine decides). */
static void test_cost(void **state)
{
    (void)state;
    NEED_DB();
    opc__proto_keys k;
    keys_of(23, &k);
    opc__ad_state *m = NULL;
    assert_int_equal(opc__ad_state_memory(&m), OPC_OK);
    int64_t now = opc__now_s();
    assert_int_equal(opc__ad_state_session_add(st1, SID1, OPC_AD_KIND_CONNECT, ACCT, SRV, &k,
                                               now + 600, now, NULL),
                     OPC_OK);
    assert_int_equal(opc__ad_state_session_add(m, SID1, OPC_AD_KIND_CONNECT, ACCT, SRV, &k,
                                               now + 600, now, NULL),
                     OPC_OK);
    enum { N = 500 };
    int64_t us[2];
    opc__ad_state *which[2] = {m, st1};
    for (int w = 0; w < 2; w++) {
        int64_t t = opc__now_us();
        for (uint64_t n = 1; n <= N; n++) {
            assert_int_equal(req(which[w], SID1, &k, OPC_AD_KIND_CONNECT, n, now), OPC_OK);
        }
        us[w] = opc__now_us() - t;
    }
    print_message("a request's session check: memory %.1f us, PostgreSQL %.1f us (loopback), "
                  "%d requests each\n",
                  (double)us[0] / N, (double)us[1] / N, N);
    assert_int_equal(opc__ad_state_session_end(st1, SID1, NULL), OPC_OK);
    opc__ad_state_free(m);
}

static void test_memory_state_unchanged(void **state)
{
    (void)state;
    /* The memory home keeps accountd.h's tables: a second one shares nothing. */
    opc__ad_state *m1 = NULL;
    opc__ad_state *m2 = NULL;
    assert_int_equal(opc__ad_state_memory(&m1), OPC_OK);
    assert_int_equal(opc__ad_state_memory(&m2), OPC_OK);
    assert_false(opc__ad_state_is_shared(m1));
    opc__proto_keys k;
    keys_of(19, &k);
    assert_int_equal(
        opc__ad_state_session_add(m1, SID1, OPC_AD_KIND_CONNECT, ACCT, SRV, &k, T0 + 600, T0, NULL),
        OPC_OK);
    assert_int_equal(req(m1, SID1, &k, OPC_AD_KIND_CONNECT, 1, T0), OPC_OK);
    assert_int_equal(req(m1, SID1, &k, OPC_AD_KIND_CONNECT, 1, T0), OPC_ERR_TOKEN);
    assert_int_equal(req(m2, SID1, &k, OPC_AD_KIND_CONNECT, 2, T0), OPC_ERR_TOKEN);
    assert_int_equal(opc__ad_state_nonce_take(m1, NONCE1, 1000), OPC_OK);
    assert_int_equal(opc__ad_state_nonce_take(m1, NONCE1, 1001), OPC_ERR_EXISTS);
    assert_int_equal(opc__ad_state_nonce_take(m2, NONCE1, 1001), OPC_OK);
    opc__ad_state_free(m1);
    opc__ad_state_free(m2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_across_servers), cmocka_unit_test(test_counter_race),
        cmocka_unit_test(test_expiry_idle_signout),    cmocka_unit_test(test_sealed_at_rest),
        cmocka_unit_test(test_nonce_one_use),          cmocka_unit_test(test_limits_across_servers),
        cmocka_unit_test(test_pending_one_use),        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_upgrade_from_v1),        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_memory_state_unchanged),
    };
    return cmocka_run_group_tests_name("store_pg_state", tests, setup, teardown);
}
