/*
 * tests/unit/test_accountd.c - op-account-server's HTTPS face (lib/accountd)
 * without sockets: the router, the strict query parser, the session table
 * and its MAC check, the seen-nonce set and the failed-handshake limiter;
 * then one server on 127.0.0.1 (plain HTTP, loopback) driven through the
 * protocol by hand: a handshake signed by a device key, signed requests
 * and checked answers, replays, refusals, a long poll woken by a write
 * and by the stop.
 */
#include "store_fixture.h"
#include "http_client.h"

#include <pthread.h>

#include "accountd/accountd.h"
#include "core/alloc.h"
#include "core/rand.h"
#include "crypto/base64.h"
#include "wire/proto.h"

/* ---- the router ---- */

static void route(const char *method, const char *path, opc__ad_route r, bool bad_method,
                  opc_err rc)
{
    opc__ad_match m;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err got = opc__ad_route_match(method, path, &m, &eb);
    if (got != rc || (rc == OPC_OK && (m.route != r || m.bad_method != bad_method))) {
        fail_msg("%s %s: got %s route %d bad_method %d", method, path, opc_errname(got),
                 (int)m.route, (int)m.bad_method);
    }
}

#define ID1 "abcdefghijklmnopqrstuvwxyz"
#define ID2 "zyxwvutsrqponmlkjihgfedcba"

static void test_routes(void **state)
{
    (void)state;
    route("GET", "/heartbeat", OPC_AD_HEARTBEAT, false, OPC_OK);
    route("POST", "/heartbeat", OPC_AD_HEARTBEAT, true, OPC_OK);
    route("GET", "/health", OPC_AD_HEALTH, false, OPC_OK);
    route("POST", "/v1/connect/session", OPC_AD_SESSION, false, OPC_OK);
    route("GET", "/v1/connect/session", OPC_AD_SESSION, true, OPC_OK);
    route("GET", "/v1/connect/changes", OPC_AD_CHANGES, false, OPC_OK);
    route("GET", "/v1/connect/issuer-keys/" ID1, OPC_AD_ISSUER_KEY, false, OPC_OK);
    route("GET", "/v1/connect/access/" ID1, OPC_AD_ACCESS, false, OPC_OK);
    route("GET", "/v1/connect/vaults/" ID1, OPC_AD_VAULT, false, OPC_OK);
    route("GET", "/v1/connect/vaults/" ID1 "/items", OPC_AD_VAULT_ITEMS, false, OPC_OK);
    route("GET", "/v1/connect/vaults/" ID1 "/files", OPC_AD_VAULT_FILES, false, OPC_OK);
    route("GET", "/v1/connect/items/" ID1, OPC_AD_ITEM, false, OPC_OK);
    route("GET", "/v1/connect/items/" ID1 "/files", OPC_AD_ITEM_FILES, false, OPC_OK);
    route("GET", "/v1/connect/tokens/" ID1, OPC_AD_TOKEN, false, OPC_OK);
    route("PUT", "/v1/connect/vaults/" ID1 "/items/" ID2, OPC_AD_ITEM_PUT, false, OPC_OK);
    route("DELETE", "/v1/connect/vaults/" ID1 "/items/" ID2, OPC_AD_ITEM_DELETE, false, OPC_OK);
    route("GET", "/v1/connect/vaults/" ID1 "/items/" ID2, OPC_AD_ITEM_PUT, true, OPC_OK);
    route("PUT", "/v1/connect/vaults/" ID1, OPC_AD_VAULT, true, OPC_OK);
    /* The owner's store protocol: owner sessions only. */
    route("POST", "/v1/owner/rows/read", OPC_AD_OWNER_ROWS_READ, false, OPC_OK);
    route("POST", "/v1/owner/rows/batch", OPC_AD_OWNER_ROWS_BATCH, false, OPC_OK);
    route("GET", "/v1/owner/rows/batch", OPC_AD_OWNER_ROWS_BATCH, true, OPC_OK);
    route("POST", "/v1/owner/rows", OPC_AD_NONE, false, OPC_OK);
    route("POST", "/v1/owner/rows/batch/", OPC_AD_NONE, false, OPC_OK);
    assert_int_equal(opc__ad_route_kind(OPC_AD_OWNER_ROWS_READ), OPC_AD_KIND_OWNER);
    assert_int_equal(opc__ad_route_kind(OPC_AD_OWNER_ROWS_BATCH), OPC_AD_KIND_OWNER);
    /* Ids are checked in the path; anything else is no route. */
    route("GET", "/v1/connect/vaults/ABCDEFGHIJKLMNOPQRSTUVWXYZ", OPC_AD_NONE, false,
          OPC_ERR_INVALID_ARG);
    route("GET", "/v1/connect/items/short", OPC_AD_NONE, false, OPC_ERR_INVALID_ARG);
    route("GET", "/v1/connect/items/%61bcdefghijklmnopqrstuvwx", OPC_AD_NONE, false,
          OPC_ERR_INVALID_ARG);
    route("GET", "/v1/connect/vaults/" ID1 "/", OPC_AD_NONE, false, OPC_OK);
    route("GET", "/v1/connect/vaults//items", OPC_AD_NONE, false, OPC_OK);
    route("GET", "/v1/connect/nothing", OPC_AD_NONE, false, OPC_OK);
    route("GET", "/v1/connect/vaults/" ID1 "/items/" ID2 "/x", OPC_AD_NONE, false, OPC_OK);
    route("GET", "/v2/connect/changes", OPC_AD_NONE, false, OPC_OK);
    route("GET", "/", OPC_AD_NONE, false, OPC_OK);
}

/* ---- queries ---- */

static opc_err query(opc__ad_route r, const char *qs, opc__ad_query *q)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__ad_query_parse(r, qs, q, &eb);
    if (rc != OPC_OK) {
        assert_true(eb.msg[0] != '\0');
    }
    return rc;
}

static void test_queries(void **state)
{
    (void)state;
    opc__ad_query q;
    assert_int_equal(query(OPC_AD_CHANGES, NULL, &q), OPC_OK);
    assert_int_equal(q.since, 0);
    assert_int_equal(q.limit, OPC_AD_DEFAULT_LIMIT);
    assert_int_equal(q.wait_ms, 0);
    assert_int_equal(query(OPC_AD_CHANGES, "since=42&limit=10000&wait=60000", &q), OPC_OK);
    assert_int_equal(q.since, 42);
    assert_int_equal(q.limit, 10000);
    assert_int_equal(q.wait_ms, 60000);
    assert_int_equal(query(OPC_AD_CHANGES, "since=9007199254740991", &q), OPC_OK);
    /* Ranges */
    assert_int_equal(query(OPC_AD_CHANGES, "limit=0", &q), OPC_ERR_RANGE);
    assert_int_equal(query(OPC_AD_CHANGES, "limit=10001", &q), OPC_ERR_RANGE);
    assert_int_equal(query(OPC_AD_CHANGES, "wait=60001", &q), OPC_ERR_RANGE);
    assert_int_equal(query(OPC_AD_CHANGES, "since=-1", &q), OPC_ERR_RANGE);
    assert_int_equal(query(OPC_AD_CHANGES, "since=9007199254740992", &q), OPC_ERR_RANGE);
    /* Shapes */
    assert_int_equal(query(OPC_AD_CHANGES, "since=1x", &q), OPC_ERR_INVALID_ARG);
    assert_int_equal(query(OPC_AD_CHANGES, "since=", &q), OPC_ERR_INVALID_ARG);
    assert_int_equal(query(OPC_AD_CHANGES, "since=+1", &q), OPC_ERR_INVALID_ARG);
    assert_int_equal(query(OPC_AD_CHANGES, "since", &q), OPC_ERR_INVALID_ARG);
    assert_int_equal(query(OPC_AD_CHANGES, "since=1&since=2", &q), OPC_ERR_INVALID_ARG);
    assert_int_equal(query(OPC_AD_CHANGES, "since=1&", &q), OPC_ERR_INVALID_ARG);
    assert_int_equal(query(OPC_AD_CHANGES, "bogus=1", &q), OPC_ERR_INVALID_ARG);
    assert_int_equal(query(OPC_AD_CHANGES, "after=" ID1, &q), OPC_ERR_INVALID_ARG);
    assert_int_equal(query(OPC_AD_VAULT, "limit=1", &q), OPC_ERR_INVALID_ARG);
    /* Ids */
    assert_int_equal(query(OPC_AD_VAULT_ITEMS, "after=" ID1 "&limit=5", &q), OPC_OK);
    assert_string_equal(q.after, ID1);
    assert_int_equal(query(OPC_AD_VAULT_ITEMS, "after=", &q), OPC_OK);
    assert_string_equal(q.after, "");
    assert_int_equal(query(OPC_AD_VAULT_ITEMS, "after=ABC", &q), OPC_ERR_INVALID_ARG);
    assert_int_equal(query(OPC_AD_ITEM_FILES, "after_file=" ID2 "&after_idx=3", &q), OPC_OK);
    assert_string_equal(q.after_file, ID2);
    assert_int_equal(q.after_idx, 3);
    assert_int_equal(query(OPC_AD_ITEM_FILES, "after_idx=-2", &q), OPC_ERR_RANGE);
    assert_int_equal(query(OPC_AD_VAULT_FILES, "after_item=" ID1, &q), OPC_ERR_INVALID_ARG);
    assert_int_equal(query(OPC_AD_VAULT_FILES, "after_item=" ID1 "&last_item=" ID2, &q), OPC_OK);
    assert_string_equal(q.last_item, ID2);
    assert_int_equal(query(OPC_AD_ITEM_DELETE, "expected_version=7", &q), OPC_OK);
    assert_int_equal(q.expected_version, 7);
    assert_int_equal(query(OPC_AD_ITEM_DELETE, "expected_version=-1", &q), OPC_ERR_RANGE);
    assert_int_equal(query(OPC_AD_ITEM_PUT, "expected_version=1", &q), OPC_ERR_INVALID_ARG);
}

/* ---- sessions ---- */

#define SID1 "AAAAAAAAAAAAAAAAAAAAAA"
#define SID2 "BBBBBBBBBBBBBBBBBBBBBB"
#define SID3 "CCCCCCCCCCCCCCCCCCCCCC"

static opc_err check(opc__ad_sessions *t, const char *sid, const opc__proto_keys *k, uint64_t n,
                     const char *target, int64_t now, bool good_mac)
{
    char mac[OPC_PROTO_HASH_B64 + 1];
    assert_int_equal(opc__proto_mac_request(k, sid, n, "GET", target, "", 0, mac), OPC_OK);
    if (!good_mac) {
        mac[0] = mac[0] == 'A' ? 'B' : 'A';
    }
    opc__ad_auth auth;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__ad_sessions_check(t, sid, OPC_AD_KIND_CONNECT, n, "GET", target, "", 0, mac,
                                        now, &auth, &eb);
    if (rc == OPC_OK) {
        assert_string_equal(auth.sid, sid);
        assert_int_equal(auth.counter, n);
        assert_memory_equal(&auth.keys, k, sizeof *k);
    } else {
        assert_int_equal(rc, OPC_ERR_TOKEN);
        assert_true(eb.msg[0] != '\0');
        assert_null(strstr(eb.msg, mac)); /* never the MAC */
    }
    opc__ad_auth_clear(&auth);
    return rc;
}

static void test_sessions(void **state)
{
    (void)state;
    opc__ad_sessions *t = NULL;
    assert_int_equal(opc__ad_sessions_create(2, &t), OPC_OK);
    opc__proto_keys k1;
    opc__proto_keys k2;
    memset(&k1, 1, sizeof k1);
    memset(&k2, 2, sizeof k2);
    int64_t now = 1000000;
    assert_int_equal(
        opc__ad_sessions_add(t, SID1, OPC_AD_KIND_CONNECT, ID1, ID2, &k1, now + 600, now), OPC_OK);
    const char *tg = "/v1/connect/changes?since=0";
    /* live: of either kind, of its own kind, not of the other */
    assert_true(opc__ad_sessions_live(t, SID1, 0, now));
    assert_true(opc__ad_sessions_live(t, SID1, OPC_AD_KIND_CONNECT, now));
    assert_false(opc__ad_sessions_live(t, SID1, OPC_AD_KIND_OWNER, now));
    assert_false(opc__ad_sessions_live(t, SID2, 0, now));
    assert_false(opc__ad_sessions_live(t, SID1, 0, now + 601));
    assert_int_equal(check(t, SID1, &k1, 1, tg, now, true), OPC_OK);
    /* replay, reorder */
    assert_int_equal(check(t, SID1, &k1, 1, tg, now, true), OPC_ERR_TOKEN);
    assert_int_equal(check(t, SID1, &k1, 5, tg, now, true), OPC_OK);
    assert_int_equal(check(t, SID1, &k1, 4, tg, now, true), OPC_ERR_TOKEN);
    /* a bad MAC does not advance the counter */
    assert_int_equal(check(t, SID1, &k1, 9, tg, now, false), OPC_ERR_TOKEN);
    assert_int_equal(check(t, SID1, &k1, 9, tg, now, true), OPC_OK);
    /* another session's keys, the target changed */
    assert_int_equal(check(t, SID1, &k2, 10, tg, now, true), OPC_ERR_TOKEN);
    char mac[OPC_PROTO_HASH_B64 + 1];
    assert_int_equal(opc__proto_mac_request(&k1, SID1, 11, "GET", tg, "", 0, mac), OPC_OK);
    opc__ad_auth auth;
    assert_int_equal(opc__ad_sessions_check(t, SID1, OPC_AD_KIND_CONNECT, 11, "GET",
                                            "/v1/connect/changes?since=1", "", 0, mac, now, &auth,
                                            NULL),
                     OPC_ERR_TOKEN);
    assert_int_equal(opc__ad_sessions_check(t, SID1, OPC_AD_KIND_CONNECT, 11, "DELETE", tg, "", 0,
                                            mac, now, &auth, NULL),
                     OPC_ERR_TOKEN);
    assert_int_equal(opc__ad_sessions_check(t, SID1, OPC_AD_KIND_CONNECT, 11, "GET", tg, "x", 1,
                                            mac, now, &auth, NULL),
                     OPC_ERR_TOKEN);
    assert_int_equal(opc__ad_sessions_check(t, SID1, OPC_AD_KIND_CONNECT, 11, "GET", tg, "", 0, mac,
                                            now, &auth, NULL),
                     OPC_OK);
    /* unknown */
    assert_int_equal(check(t, SID2, &k1, 1, tg, now, true), OPC_ERR_TOKEN);
    /* idle: 120 s unused */
    assert_int_equal(check(t, SID1, &k1, 12, tg, now + OPC_PROTO_SESSION_IDLE_S, true),
                     OPC_ERR_TOKEN);
    assert_int_equal(check(t, SID1, &k1, 13, tg, now, true), OPC_ERR_TOKEN); /* forgotten */
    /* expiry, even when in use */
    assert_int_equal(
        opc__ad_sessions_add(t, SID1, OPC_AD_KIND_CONNECT, ID1, ID2, &k1, now + 100, now), OPC_OK);
    for (int64_t s = 0; s < 100; s += 50) {
        assert_int_equal(check(t, SID1, &k1, (uint64_t)(s + 1), tg, now + s, true), OPC_OK);
    }
    assert_int_equal(check(t, SID1, &k1, 200, tg, now + 100, true), OPC_ERR_TOKEN);
    /* bounded: a third session evicts the least recently used */
    assert_int_equal(
        opc__ad_sessions_add(t, SID1, OPC_AD_KIND_CONNECT, ID1, ID2, &k1, now + 600, now), OPC_OK);
    assert_int_equal(
        opc__ad_sessions_add(t, SID2, OPC_AD_KIND_CONNECT, ID1, ID2, &k2, now + 600, now + 1),
        OPC_OK);
    assert_int_equal(check(t, SID1, &k1, 1, tg, now + 2, true), OPC_OK); /* SID2 is older now */
    assert_int_equal(
        opc__ad_sessions_add(t, SID3, OPC_AD_KIND_CONNECT, ID1, ID2, &k2, now + 600, now + 3),
        OPC_OK);
    assert_int_equal(opc__ad_sessions_count(t), 2);
    assert_int_equal(check(t, SID2, &k2, 1, tg, now + 3, true), OPC_ERR_TOKEN);
    assert_int_equal(check(t, SID1, &k1, 2, tg, now + 3, true), OPC_OK);
    assert_int_equal(check(t, SID3, &k2, 1, tg, now + 3, true), OPC_OK);
    opc__ad_sessions_free(t);

    /* A full table of random ids: every one found through the index,
     * forgotten ones not, a new one after the sweep found again. */
    enum { N = 500 };
    assert_int_equal(opc__ad_sessions_create(N, &t), OPC_OK);
    static char sids[N][OPC_PROTO_NONCE_B64 + 1];
    for (int i = 0; i < N; i++) {
        uint8_t raw[16];
        assert_int_equal(opc__rand_bytes(raw, sizeof raw), OPC_OK);
        size_t n = 0;
        assert_int_equal(
            opc__b64_encode_to(raw, sizeof raw, OPC_B64URL, sids[i], sizeof sids[i], &n), OPC_OK);
        assert_int_equal(
            opc__ad_sessions_add(t, sids[i], OPC_AD_KIND_CONNECT, ID1, ID2, &k1, now + 600, now),
            OPC_OK);
    }
    assert_int_equal(opc__ad_sessions_count(t), N);
    for (int i = 0; i < N; i++) { /* all found; the odd ones used again later */
        assert_int_equal(check(t, sids[i], &k1, 1, tg, now, true), OPC_OK);
    }
    for (int i = 1; i < N; i += 2) {
        assert_int_equal(check(t, sids[i], &k1, 2, tg, now + 100, true), OPC_OK);
    }
    for (int i = 0; i < N; i += 2) { /* idle now: refused and forgotten */
        assert_int_equal(check(t, sids[i], &k1, 2, tg, now + OPC_PROTO_SESSION_IDLE_S, true),
                         OPC_ERR_TOKEN);
    }
    assert_int_equal(opc__ad_sessions_count(t), N / 2);
    for (int i = 1; i < N; i += 2) {
        assert_int_equal(check(t, sids[i], &k1, 3, tg, now + 170, true), OPC_OK);
    }
    assert_int_equal(
        opc__ad_sessions_add(t, SID1, OPC_AD_KIND_CONNECT, ID1, ID2, &k2, now + 600, now + 170),
        OPC_OK);
    assert_int_equal(check(t, SID1, &k2, 1, tg, now + 171, true), OPC_OK);
    assert_int_equal(check(t, sids[1], &k1, 4, tg, now + 171, true), OPC_OK);
    assert_int_equal(check(t, sids[0], &k1, 4, tg, now + 171, true), OPC_ERR_TOKEN);
    opc__ad_sessions_free(t);
}

static void test_nonces(void **state)
{
    (void)state;
    opc__ad_nonces *n = NULL;
    assert_int_equal(opc__ad_nonces_create(3, &n), OPC_OK);
    assert_int_equal(opc__ad_nonce_take(n, SID1, 0), OPC_OK);
    assert_int_equal(opc__ad_nonce_take(n, SID1, 1000), OPC_ERR_EXISTS);
    assert_int_equal(opc__ad_nonce_take(n, SID2, 1000), OPC_OK);
    assert_int_equal(opc__ad_nonce_take(n, SID3, 2000), OPC_OK);
    assert_int_equal(opc__ad_nonce_take(n, "DDDDDDDDDDDDDDDDDDDDDD", 3000), OPC_ERR_TOO_LARGE);
    assert_int_equal(opc__ad_nonce_take(n, SID2, OPC_AD_NONCE_TTL_MS - 1), OPC_ERR_EXISTS);
    /* SID1 expires at TTL: its slot is free, and SID1 is new again */
    assert_int_equal(opc__ad_nonce_take(n, SID1, OPC_AD_NONCE_TTL_MS), OPC_OK);
    assert_int_equal(opc__ad_nonce_take(n, SID3, OPC_AD_NONCE_TTL_MS), OPC_ERR_EXISTS);
    assert_int_equal(opc__ad_nonce_take(n, "short", 0), OPC_ERR_INVALID_ARG);
    opc__ad_nonces_free(n);
}

static void test_limiter(void **state)
{
    (void)state;
    opc__ad_limiter *l = NULL;
    assert_int_equal(opc__ad_limiter_create(&l), OPC_OK);
    for (int i = 0; i < OPC_AD_FAIL_LIMIT - 1; i++) {
        opc__ad_limiter_fail(l, "192.0.2.1", 1000 + i);
    }
    assert_int_equal(opc__ad_limiter_blocked(l, "192.0.2.1", 2000), 0);
    opc__ad_limiter_fail(l, "192.0.2.1", 2000);
    int wait = opc__ad_limiter_blocked(l, "192.0.2.1", 2000);
    assert_true(wait > 0 && wait <= OPC_AD_FAIL_WINDOW_MS / 1000);
    assert_int_equal(opc__ad_limiter_blocked(l, "192.0.2.2", 2000), 0); /* another address */
    assert_int_equal(opc__ad_limiter_blocked(l, "192.0.2.1", 1000 + OPC_AD_FAIL_WINDOW_MS), 0);
    opc__ad_limiter_free(l);
}

/* ---- one server, by hand ---- */

typedef struct cl {
    int port;
    char sid[OPC_PROTO_NONCE_B64 + 1];
    opc__proto_keys keys;
    uint64_t n;
} cl;

/* A header's value in a->head ("" when absent). */
static void header(const resp *a, const char *name, char *out, size_t cap)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\n%s: ", name);
    const char *p = strstr(a->head, needle);
    out[0] = '\0';
    if (p != NULL) {
        p += strlen(needle);
        size_t n = strcspn(p, "\r\n");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    }
}

/* Send method target (with the session headers when c is not NULL). */
static void send_req(const cl *c, int port, const char *method, const char *target,
                     const char *body, uint64_t n, resp *a)
{
    memset(a, 0, sizeof *a);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    char url[2200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, target);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    if (c != NULL) {
        char mac[OPC_PROTO_HASH_B64 + 1];
        assert_int_equal(opc__proto_mac_request(&c->keys, c->sid, n, method, target,
                                                body != NULL ? body : "",
                                                body != NULL ? strlen(body) : 0, mac),
                         OPC_OK);
        char line[256];
        snprintf(line, sizeof line, "Authorization: OPC-Session %s", c->sid);
        hl = curl_slist_append(hl, line);
        snprintf(line, sizeof line, "OPC-Counter: %llu", (unsigned long long)n);
        hl = curl_slist_append(hl, line);
        snprintf(line, sizeof line, "OPC-MAC: %s", mac);
        hl = curl_slist_append(hl, line);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, opc_test_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, opc_test_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK) {
        fail_msg("%s %s: %s", method, target, curl_easy_strerror(cc));
    }
    char proto[16];
    header(a, "OPC-Protocol", proto, sizeof proto);
    assert_string_equal(proto, "1");
}

/* A session request; its answer's MAC must verify. */
static void call(cl *c, const char *method, const char *target, const char *body, resp *a)
{
    c->n++;
    send_req(c, c->port, method, target, body, c->n, a);
    char got[128];
    header(a, "OPC-MAC", got, sizeof got);
    char want_mac[OPC_PROTO_HASH_B64 + 1];
    assert_int_equal(opc__proto_mac_answer(&c->keys, c->sid, c->n, (int)a->status, a->body,
                                           a->body_len, want_mac),
                     OPC_OK);
    if (!opc__proto_mac_equal(got, want_mac)) {
        fail_msg("%s %s: %ld, answer MAC does not verify (%s)", method, target, a->status, a->body);
    }
}

static cJSON *hello_json(const tx *t, const char *server, const opc__key *dev, int64_t skew_ms,
                         opc__proto_hello *h, opc__key **eph)
{
    int64_t now_ms = (int64_t)time(NULL) * 1000 + skew_ms;
    assert_int_equal(opc__proto_hello_make(t->id_a, server, dev, now_ms, h, eph, NULL), OPC_OK);
    cJSON *j = NULL;
    assert_int_equal(opc__proto_hello_encode(h, &j), OPC_OK);
    return j;
}

/* The handshake: true on a verified welcome (keys into c). */
static long handshake(const tx *t, const opc__key *dev, const char *pin, cl *c, int64_t skew_ms,
                      const char *replay)
{
    opc__proto_hello h;
    opc__key *eph = NULL;
    cJSON *j = hello_json(t, t->sa, dev, skew_ms, &h, &eph);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    resp a;
    send_req(NULL, c->port, "POST", "/v1/connect/session", replay != NULL ? replay : text, 0, &a);
    if (a.status == 200) {
        cJSON *w = cJSON_Parse(a.body);
        opc__proto_welcome wel;
        memset(&wel, 0, sizeof wel);
        assert_int_equal(opc__proto_welcome_decode(w, &wel, NULL), OPC_OK);
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc_err rc = opc__proto_welcome_verify(&h, &wel, pin, eph, &c->keys, &eb);
        if (rc != OPC_OK) {
            fail_msg("welcome: %s", eb.msg);
        }
        snprintf(c->sid, sizeof c->sid, "%s", wel.session);
        c->n = 0;
        opc__proto_welcome_clear(&wel);
        cJSON_Delete(w);
    } else {
        assert_non_null(strstr(a.body, "\"authentication failed\""));
    }
    opc__key_free(eph);
    cJSON_free(text);
    return a.status;
}

typedef struct poll_arg {
    cl *c;
    char target[256];
    resp a;
    int64_t took_ms;
} poll_arg;

static void *poll_main(void *p)
{
    poll_arg *pa = p;
    int64_t t0 = tx_now_ms();
    call(pa->c, "GET", pa->target, NULL, &pa->a);
    pa->took_ms = tx_now_ms() - t0;
    return NULL;
}

static void test_server(void **state)
{
    (void)state;
    tx t;
    tx_setup(&t);
    opc__key *dev = NULL;
    tx_device_key(t.a.path, t.sa, &dev);
    opc_accountd *s = NULL;
    char err[OPC_ERRBUF_SIZE] = "";
    if (opc_accountd_create(t.data, &s, err, sizeof err) != OPC_OK) {
        fail_msg("create: %s", err);
    }
    assert_int_equal(opc_accountd_set_bind_address(s, "0.0.0.0"), OPC_OK);
    assert_int_equal(opc_accountd_set_http_port(s, 0), OPC_OK);
    assert_int_equal(opc_accountd_start(s, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "loopback"));
    assert_int_equal(opc_accountd_set_bind_address(s, "127.0.0.1"), OPC_OK);
    if (opc_accountd_start(s, err, sizeof err) != OPC_OK) {
        fail_msg("start: %s", err);
    }
    char pin[OPC_ACCOUNTD_PIN_LEN + 1];
    assert_int_equal(opc_accountd_pin(t.data, pin, sizeof pin, err, sizeof err), OPC_OK);
    struct stat sb;
    char keyfile[300];
    snprintf(keyfile, sizeof keyfile, "%s/server-key.jwk", t.data);
    assert_int_equal(stat(keyfile, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    cl c = {.port = opc_accountd_http_port(s)};
    resp a;
    send_req(NULL, c.port, "GET", "/heartbeat", NULL, 0, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, ".");
    send_req(NULL, c.port, "GET", "/health", NULL, 0, &a);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"accounts\":2"));

    /* Refused handshakes: a wrong key, an old timestamp, another account's server. */
    opc__key *other = NULL;
    assert_int_equal(opc__key_generate_ec("", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &other), OPC_OK);
    assert_int_equal(handshake(&t, other, pin, &c, 0, NULL), 401);
    assert_int_equal(handshake(&t, dev, pin, &c, -(OPC_PROTO_SKEW_MS + 5000), NULL), 401);
    opc__key_free(other);

    /* The handshake, then signed requests. */
    assert_int_equal(handshake(&t, dev, pin, &c, 0, NULL), 200);
    char target[256];
    snprintf(target, sizeof target, "/v1/connect/vaults/%s", t.va);
    call(&c, "GET", target, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, t.va));
    /* the same counter again: 401 without a MAC */
    send_req(&c, c.port, "GET", target, NULL, c.n, &a);
    assert_int_equal(a.status, 401);
    char mac[128];
    header(&a, "OPC-MAC", mac, sizeof mac);
    assert_string_equal(mac, "");
    /* B's vault: out of scope */
    snprintf(target, sizeof target, "/v1/connect/vaults/%s", t.vb);
    call(&c, "GET", target, NULL, &a);
    assert_int_equal(a.status, 404);
    /* strict queries, MAC'd errors */
    snprintf(target, sizeof target, "/v1/connect/vaults/%s/items?limit=0", t.va);
    call(&c, "GET", target, NULL, &a);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "\"range\""));
    snprintf(target, sizeof target, "/v1/connect/vaults/%s/items?bogus=1", t.va);
    call(&c, "GET", target, NULL, &a);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "\"invalid_arg\""));
    call(&c, "GET", "/v1/connect/items/NOTANID", NULL, &a);
    assert_int_equal(a.status, 400);
    call(&c, "GET", "/v1/connect/nothing", NULL, &a);
    assert_int_equal(a.status, 404);
    snprintf(target, sizeof target, "/v1/connect/vaults/%s/items?after=&limit=10", t.va);
    call(&c, "GET", target, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, t.ia));

    /* A long poll, woken by a write of another session (PUT). */
    cl c2 = {.port = c.port};
    assert_int_equal(handshake(&t, dev, pin, &c2, 0, NULL), 200);
    call(&c, "GET", "/v1/connect/changes?since=0&limit=10000", NULL, &a);
    assert_int_equal(a.status, 200);
    cJSON *ch = cJSON_Parse(a.body);
    int64_t next = (int64_t)cJSON_GetObjectItemCaseSensitive(ch, "next")->valuedouble;
    cJSON_Delete(ch);
    poll_arg pa = {.c = &c};
    snprintf(pa.target, sizeof pa.target, "/v1/connect/changes?since=%lld&wait=20000",
             (long long)next);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poll_main, &pa), 0);
    nanosleep(&(struct timespec){0, 300000000L}, NULL);
    char id[27];
    assert_int_equal(opc__id_generate(id), OPC_OK);
    char *ov = NULL;
    char *det = NULL;
    int64_t sn = 0;
    fx_seal_item(t.a.a, t.va, id, "{\"title\":\"put\",\"category\":\"LOGIN\"}", &ov, &det, &sn);
    opc__item_write w = {t.va, id, 0, sn, ov, det};
    cJSON *wj = NULL;
    assert_int_equal(opc__wire_item_write_encode(&w, &wj, NULL), OPC_OK);
    char *wtext = cJSON_PrintUnformatted(wj);
    cJSON_Delete(wj);
    snprintf(target, sizeof target, "/v1/connect/vaults/%s/items/%s", t.va, id);
    call(&c2, "PUT", target, wtext, &a);
    if (a.status != 200) {
        fail_msg("PUT: %ld %s", a.status, a.body);
    }
    assert_non_null(strstr(a.body, "\"item\""));
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pa.a.status, 200);
    assert_non_null(strstr(pa.a.body, id));
    assert_true(pa.took_ms < 10000);
    /* the same write again: exists */
    call(&c2, "PUT", target, wtext, &a);
    assert_int_equal(a.status, 409);
    /* a delete at a stale version, then at the right one */
    snprintf(target, sizeof target, "/v1/connect/vaults/%s/items/%s?expected_version=5", t.va, id);
    call(&c2, "DELETE", target, NULL, &a);
    assert_int_equal(a.status, 409);
    snprintf(target, sizeof target, "/v1/connect/vaults/%s/items/%s?expected_version=1", t.va, id);
    call(&c2, "DELETE", target, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"deleted\""));
    cJSON_free(wtext);
    opc__free(ov);
    opc__free(det);

    /* The stop ends a long poll at once, with an empty page. */
    pa.took_ms = 0;
    snprintf(pa.target, sizeof pa.target, "/v1/connect/changes?since=%lld&wait=60000",
             (long long)(next + 1000));
    assert_int_equal(pthread_create(&th, NULL, poll_main, &pa), 0);
    nanosleep(&(struct timespec){0, 300000000L}, NULL);
    int64_t t0 = tx_now_ms();
    opc_accountd_stop(s);
    assert_true(tx_now_ms() - t0 < 10000);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pa.a.status, 200);
    assert_non_null(strstr(pa.a.body, "\"changes\":[]"));
    assert_true(pa.took_ms < 10000);
    assert_int_equal(opc_accountd_start(s, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "not started again"));
    opc_accountd_free(s);
    opc__key_free(dev);
    tx_teardown(&t);
}

/* Failed handshakes from one address: 429 with Retry-After. */
static void test_rate_limit(void **state)
{
    (void)state;
    tx t;
    tx_setup(&t);
    opc_accountd *s = NULL;
    char err[OPC_ERRBUF_SIZE] = "";
    assert_int_equal(opc_accountd_create(t.data, &s, err, sizeof err), OPC_OK);
    assert_int_equal(opc_accountd_set_bind_address(s, "127.0.0.1"), OPC_OK);
    assert_int_equal(opc_accountd_set_http_port(s, 0), OPC_OK);
    assert_int_equal(opc_accountd_start(s, err, sizeof err), OPC_OK);
    int port = opc_accountd_http_port(s);
    resp a;
    for (int i = 0; i < OPC_AD_FAIL_LIMIT; i++) {
        send_req(NULL, port, "POST", "/v1/connect/session", "{\"v\":1}", 0, &a);
        assert_int_equal(a.status, 401);
    }
    send_req(NULL, port, "POST", "/v1/connect/session", "{\"v\":1}", 0, &a);
    assert_int_equal(a.status, 429);
    char ra[16];
    header(&a, "Retry-After", ra, sizeof ra);
    assert_true(atoi(ra) > 0 && atoi(ra) <= 60);
    assert_non_null(strstr(a.body, "rate_limited"));
    opc_accountd_free(s);
    tx_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),   cmocka_unit_test(test_queries),
        cmocka_unit_test(test_sessions), cmocka_unit_test(test_nonces),
        cmocka_unit_test(test_limiter),
    };
    /* The server allocates on threads of its own: the system allocator. */
    const struct CMUnitTest served[] = {
        cmocka_unit_test(test_server),
        cmocka_unit_test(test_rate_limit),
    };
    int rc = cmocka_run_group_tests_name("accountd", tests, opc_test_group_setup,
                                         opc_test_group_teardown);
    rc += cmocka_run_group_tests_name("accountd_served", served, opc_test_http_group_setup,
                                      opc_test_http_group_teardown);
    return rc;
}
