/*
 * accountd/state.c - where an account server keeps its sessions, seen
 * nonces, limiters and pending sign-ins (accountd.h, "where the state
 * lives"): in this process's tables (session.c, owner.c), or in the
 * store's database through store.h's shared-state operations.
 *
 * The shared state's rows (docs/postgres.md, "What is kept where"):
 *   - a session under b64url(SHA-256("opconnect/sid/v1" LF sid)), its
 *     request and answer keys sealed: 12-byte IV | AES-256-GCM(keys) |
 *     16-byte tag, the associated data naming the row (key, kind, account,
 *     server, expiry), so a sealed blob moved to another row does not open;
 *   - a pending sign-in under b64url(SHA-256("opconnect/pending/v1" LF id)),
 *     sealed likewise: the account, the email's limiter key, A and the SRP
 *     server state (crypto/srp.h's export);
 *   - nonces as they are (public: the client sent them in the clear);
 *   - limiter windows under "<limiter>:" and the address or email key.
 * The sealing key is HKDF of the server key's private scalar: every server
 * of one database shares the server key (docs/postgres.md), a database
 * alone opens nothing.
 *
 * The keys of the sessions this server saw are cached in an
 * opc__ad_sessions table (they never change for a sid); the database
 * stays the one truth of existence, counter and idle time: a request's
 * MAC is checked with the cached keys first (as the memory table does:
 * only a request that verifies moves the counter), then its counter is
 * accepted by the one UPDATE of store.session_use.
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "accountd/accountd.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/gcm.h"
#include "crypto/kdf.h"
#include "crypto/srp.h"

#define LOG "account"
#define SEAL_INFO "opconnect/accountd-state/v1"
#define SEAL_OVERHEAD (OPC_GCM_IV_LEN + OPC_GCM_TAG_LEN)
/* A row key: b64url of SHA-256 (43 characters). */
#define ROW_KEY_LEN OPC_PROTO_HASH_B64
/* The pending sign-in's plaintext: account, email key, A, then the SRP state. */
#define PEND_FIXED ((OPC_ID_LEN + 1) + (OPC_PROTO_HASH_B64 + 1) + OPC_PROTO_SRP_LEN)

static const struct {
    int limit;
    int64_t window_ms;
    const char *prefix;
} limits[OPC_AD_LIMIT_COUNT] = {
    [OPC_AD_LIMIT_HANDSHAKE] = {OPC_AD_FAIL_LIMIT, OPC_AD_FAIL_WINDOW_MS, "handshake"},
    [OPC_AD_LIMIT_OWNER_ADDR] = {OPC_AD_OWNER_FAIL_LIMIT, OPC_AD_OWNER_FAIL_WINDOW_MS, "signin"},
    [OPC_AD_LIMIT_OWNER_EMAIL] = {OPC_AD_OWNER_FAIL_LIMIT, OPC_AD_OWNER_FAIL_WINDOW_MS, "email"},
    [OPC_AD_LIMIT_SIGNUP] = {OPC_AD_SIGNUP_LIMIT, OPC_AD_SIGNUP_WINDOW_MS, "signup"},
};

struct opc__ad_state {
    opc__store *store; /* NULL: in memory */
    /* memory: the session table; shared: the cache of session keys */
    opc__ad_sessions *sessions;
    opc__ad_nonces *nonces;                       /* memory only */
    opc__ad_limiter *limiter[OPC_AD_LIMIT_COUNT]; /* memory only */
    opc__ad_pending *pending;                     /* memory only */
    uint8_t seal_key[OPC_GCM_KEY_LEN];            /* shared only */
    atomic_int_fast64_t next_sweep_ms;            /* shared only */
};

void opc__ad_state_free(opc__ad_state *st)
{
    if (st == NULL) {
        return;
    }
    opc__ad_sessions_free(st->sessions);
    opc__ad_nonces_free(st->nonces);
    for (int i = 0; i < OPC_AD_LIMIT_COUNT; i++) {
        opc__ad_limiter_free(st->limiter[i]);
    }
    opc__ad_pending_free(st->pending);
    OPENSSL_cleanse(st->seal_key, sizeof st->seal_key);
    opc__free(st);
}

opc_err opc__ad_state_memory(opc__ad_state **out)
{
    *out = NULL;
    opc__ad_state *st = opc__calloc(1, sizeof *st);
    if (st == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc_err rc = opc__ad_sessions_create(OPC_AD_MAX_SESSIONS, &st->sessions);
    if (rc == OPC_OK) {
        rc = opc__ad_nonces_create(OPC_AD_MAX_NONCES, &st->nonces);
    }
    for (int i = 0; rc == OPC_OK && i < OPC_AD_LIMIT_COUNT; i++) {
        rc = opc__ad_limiter_create_ex(limits[i].limit, limits[i].window_ms, &st->limiter[i]);
    }
    if (rc == OPC_OK) {
        rc = opc__ad_pending_create(OPC_AD_MAX_PENDING, &st->pending);
    }
    if (rc != OPC_OK) {
        opc__ad_state_free(st);
        return rc;
    }
    *out = st;
    return OPC_OK;
}

opc_err opc__ad_state_shared(opc__store *store, const uint8_t seal_key[32], opc__ad_state **out)
{
    *out = NULL;
    const opc__store_ops *o = store != NULL ? store->ops : NULL;
    if (o == NULL || seal_key == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (o->session_put == NULL || o->session_get == NULL || o->session_use == NULL ||
        o->session_end == NULL || o->nonce_take == NULL || o->limit_hit == NULL ||
        o->limit_until == NULL || o->pending_put == NULL || o->pending_take == NULL ||
        o->state_sweep == NULL) {
        return OPC_ERR_UNSUPPORTED;
    }
    opc__ad_state *st = opc__calloc(1, sizeof *st);
    if (st == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc_err rc = opc__ad_sessions_create(OPC_AD_MAX_SESSIONS, &st->sessions);
    if (rc != OPC_OK) {
        opc__free(st);
        return rc;
    }
    st->store = store;
    memcpy(st->seal_key, seal_key, sizeof st->seal_key);
    atomic_init(&st->next_sweep_ms, 0);
    *out = st;
    return OPC_OK;
}

opc_err opc__ad_state_seal_key(const opc__key *server_key, uint8_t out[32])
{
    return opc__key_derive(server_key, NULL, 0, SEAL_INFO, out, 32);
}

bool opc__ad_state_is_shared(const opc__ad_state *st)
{
    return st != NULL && st->store != NULL;
}

int64_t opc__ad_state_clock_ms(const opc__ad_state *st)
{
    return opc__ad_state_is_shared(st) ? opc__now_us() / 1000 : opc__monotonic_ms();
}

/* ---- sealing ---- */

/* *out = IV | ct | tag of pt under the state's key with aad (opc__free). */
static opc_err seal(const opc__ad_state *st, const char *aad, const void *pt, size_t len,
                    unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    unsigned char *p = opc__malloc(len + SEAL_OVERHEAD);
    if (p == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc_err rc = opc__rand_bytes(p, OPC_GCM_IV_LEN);
    if (rc == OPC_OK) {
        rc = opc__gcm_seal(st->seal_key, p, aad, strlen(aad), pt, len, p + OPC_GCM_IV_LEN,
                           p + OPC_GCM_IV_LEN + len);
    }
    if (rc != OPC_OK) {
        opc__free(p);
        return rc;
    }
    *out = p;
    *out_len = len + SEAL_OVERHEAD;
    return OPC_OK;
}

/* pt[len - SEAL_OVERHEAD] from a sealed blob; OPC_ERR_DECRYPT when it does not open. */
static opc_err unseal(const opc__ad_state *st, const char *aad, const unsigned char *in, size_t len,
                      void *pt, size_t pt_cap)
{
    if (len < SEAL_OVERHEAD || len - SEAL_OVERHEAD > pt_cap) {
        return OPC_ERR_DECRYPT;
    }
    size_t n = len - SEAL_OVERHEAD;
    return opc__gcm_open(st->seal_key, in, aad, strlen(aad), in + OPC_GCM_IV_LEN, n,
                         in + OPC_GCM_IV_LEN + n, pt);
}

/* The row key of an id: b64url(SHA-256(label LF id)). */
static opc_err row_key(const char *label, const char *id, char out[ROW_KEY_LEN + 1])
{
    char msg[128];
    int n = snprintf(msg, sizeof msg, "%s\n%s", label, id);
    uint8_t h[OPC_SHA256_LEN];
    opc_err rc =
        n > 0 && (size_t)n < sizeof msg ? opc__sha256(msg, (size_t)n, h) : OPC_ERR_INVALID_ARG;
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(h, sizeof h, OPC_B64URL, out, ROW_KEY_LEN + 1, NULL);
    }
    OPENSSL_cleanse(msg, sizeof msg);
    return rc;
}

static opc_err sid_key(const char *sid, char out[ROW_KEY_LEN + 1])
{
    return row_key("opconnect/sid/v1", sid, out);
}

/* The associated data of a session row. */
static void session_aad(const char *key, int kind, const char *account, const char *server,
                        int64_t expires, char *out, size_t cap)
{
    (void)snprintf(out, cap, "opconnect/session/v1\n%s\n%d\n%s\n%s\n%lld", key, kind, account,
                   server, (long long)expires);
}

/* Sweep now and then (a shared state; any server of the database may). */
static void maybe_sweep(opc__ad_state *st, int64_t now_ms)
{
    int_fast64_t due = atomic_load(&st->next_sweep_ms);
    if (now_ms < due ||
        !atomic_compare_exchange_strong(&st->next_sweep_ms, &due, now_ms + OPC_AD_SWEEP_MS)) {
        return;
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (st->store->ops->state_sweep(st->store, now_ms, &eb) != OPC_OK) {
        opc__log(OPC_LOG_WARN, LOG, "sweeping the shared state: %s", eb.msg);
    }
}

opc_err opc__ad_state_sweep(opc__ad_state *st, opc__ebuf *eb)
{
    if (!opc__ad_state_is_shared(st)) {
        return OPC_OK;
    }
    return st->store->ops->state_sweep(st->store, opc__ad_state_clock_ms(st), eb);
}

/* ---- sessions ---- */

opc_err opc__ad_state_session_add(opc__ad_state *st, const char *sid, opc__ad_kind kind,
                                  const char *account, const char *server, const opc__proto_keys *k,
                                  int64_t expires, int64_t now_s, opc__ebuf *eb)
{
    if (!opc__ad_state_is_shared(st)) {
        opc_err rc =
            opc__ad_sessions_add(st->sessions, sid, kind, account, server, k, expires, now_s);
        return rc == OPC_OK ? rc : opc__fail(eb, rc, "cannot keep the session");
    }
    bool connect = kind == OPC_AD_KIND_CONNECT;
    if (sid == NULL || strlen(sid) != OPC_PROTO_NONCE_B64 || !opc__id_valid_str(account) ||
        server == NULL || (connect ? !opc__id_valid_str(server) : server[0] != '\0') ||
        (!connect && kind != OPC_AD_KIND_OWNER) || k == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cannot keep the session: invalid argument");
    }
    maybe_sweep(st, now_s * 1000);
    char key[ROW_KEY_LEN + 1];
    char aad[256];
    opc__store_session row = {.kind = (int)kind,
                              .expires = expires,
                              .idle_s =
                                  connect ? OPC_PROTO_SESSION_IDLE_S : OPC_PROTO_OWNER_IDLE_S};
    (void)snprintf(row.account, sizeof row.account, "%s", account);
    (void)snprintf(row.server, sizeof row.server, "%s", server);
    opc_err rc = sid_key(sid, key);
    if (rc == OPC_OK) {
        session_aad(key, (int)kind, account, server, expires, aad, sizeof aad);
        rc = seal(st, aad, k, sizeof *k, &row.sealed, &row.sealed_len);
    }
    if (rc == OPC_OK) {
        rc = st->store->ops->session_put(st->store, key, &row, now_s, eb);
    } else {
        rc = opc__fail(eb, rc, "cannot seal the session's keys");
    }
    opc__free(row.sealed);
    if (rc == OPC_OK) {
        /* This server's cache: its first request needs no read. */
        (void)opc__ad_sessions_add(st->sessions, sid, kind, account, server, k, expires, now_s);
    }
    return rc;
}

/* The cached keys of sid, or the row read (and cached). OPC_ERR_NOT_FOUND
 * when no live session; OPC_ERR_IO when the database failed. */
static opc_err shared_lookup(opc__ad_state *st, const char *sid, int64_t now_s, opc__ad_auth *out,
                             opc__ebuf *eb)
{
    if (opc__ad_sessions_peek(st->sessions, sid, now_s, out)) {
        return OPC_OK;
    }
    char key[ROW_KEY_LEN + 1];
    opc__store_session row;
    memset(&row, 0, sizeof row);
    opc_err rc = sid_key(sid, key);
    if (rc == OPC_OK) {
        rc = st->store->ops->session_get(st->store, key, now_s, &row, eb);
    }
    opc__proto_keys keys;
    if (rc == OPC_OK) {
        char aad[256];
        session_aad(key, row.kind, row.account, row.server, row.expires, aad, sizeof aad);
        if (unseal(st, aad, row.sealed, row.sealed_len, &keys, sizeof keys) != OPC_OK ||
            row.sealed_len != sizeof keys + SEAL_OVERHEAD) {
            rc = opc__fail(eb, OPC_ERR_NOT_FOUND,
                           "a session row that does not open under this server key");
        }
    }
    if (rc == OPC_OK) {
        /* Cached as held: its idle time counts from now here, the
         * database's is the one that counts. */
        (void)opc__ad_sessions_add(st->sessions, sid, (opc__ad_kind)row.kind, row.account,
                                   row.server, &keys, row.expires, now_s);
        memcpy(out->sid, sid, OPC_PROTO_NONCE_B64 + 1);
        memcpy(out->account, row.account, sizeof out->account);
        memcpy(out->server, row.server, sizeof out->server);
        out->kind = (opc__ad_kind)row.kind;
        out->keys = keys;
    }
    OPENSSL_cleanse(&keys, sizeof keys);
    opc__free(row.sealed);
    return rc;
}

static void who(const opc__ad_auth *a, char *out, size_t n)
{
    if (a->kind == OPC_AD_KIND_OWNER) {
        (void)snprintf(out, n, "the owner of %s", a->account);
    } else {
        (void)snprintf(out, n, "server %s", a->server);
    }
}

/* Why store.session_use found no row: for the log. */
static opc_err refused(opc__ad_state *st, const char *sid, uint64_t counter, int64_t now_s,
                       const char *w, opc__ebuf *eb)
{
    char key[ROW_KEY_LEN + 1];
    opc__store_session row;
    opc__ebuf ignore;
    opc__ebuf_clear(&ignore);
    if (sid_key(sid, key) != OPC_OK ||
        st->store->ops->session_get(st->store, key, now_s, &row, &ignore) != OPC_OK) {
        (void)opc__ad_sessions_end(st->sessions, sid);
        return opc__fail(eb, OPC_ERR_TOKEN, "session of %s ended, expired or idle", w);
    }
    opc__free(row.sealed);
    return opc__fail(eb, OPC_ERR_TOKEN,
                     "session of %s: counter %llu not above %llu (replay or reorder)", w,
                     (unsigned long long)counter, (unsigned long long)row.counter);
}

opc_err opc__ad_state_session_check(opc__ad_state *st, const char *sid, opc__ad_kind kind,
                                    uint64_t counter, const char *method, const char *target,
                                    const void *body, size_t body_len, const char *mac,
                                    int64_t now_s, opc__ad_auth *out, opc__ebuf *eb)
{
    if (!opc__ad_state_is_shared(st)) {
        return opc__ad_sessions_check(st->sessions, sid, kind, counter, method, target, body,
                                      body_len, mac, now_s, out, eb);
    }
    memset(out, 0, sizeof *out);
    if (sid == NULL || strlen(sid) != OPC_PROTO_NONCE_B64 || mac == NULL) {
        return opc__fail(eb, OPC_ERR_TOKEN, "malformed session, counter or MAC header");
    }
    opc__ad_auth a;
    opc_err rc = shared_lookup(st, sid, now_s, &a, eb);
    if (rc == OPC_ERR_NOT_FOUND) {
        return opc__fail(eb, OPC_ERR_TOKEN, "unknown session");
    }
    if (rc != OPC_OK) {
        return rc;
    }
    char w[64];
    who(&a, w, sizeof w);
    if (kind != 0 && a.kind != kind) {
        rc =
            opc__fail(eb, OPC_ERR_TOKEN, "session of %s used for an endpoint of the other kind", w);
    } else {
        char want[OPC_PROTO_HASH_B64 + 1];
        rc = opc__proto_mac_request(&a.keys, sid, counter, method, target, body, body_len, want);
        if (rc != OPC_OK) {
            rc = opc__fail(eb, OPC_ERR_TOKEN, "session of %s: cannot compute the MAC", w);
        } else if (!opc__proto_mac_equal(want, mac)) {
            rc = opc__fail(eb, OPC_ERR_TOKEN, "session of %s: request MAC does not verify", w);
            /* the next request reads the row again (a cache never outlives
             * a mismatch) */
            (void)opc__ad_sessions_end(st->sessions, sid);
        }
        OPENSSL_cleanse(want, sizeof want);
    }
    if (rc == OPC_OK) {
        /* The one statement of a verified request: live and counter above
         * the last accepted on any server, recorded atomically. */
        char key[ROW_KEY_LEN + 1];
        opc__ebuf why;
        opc__ebuf_clear(&why);
        rc = sid_key(sid, key);
        if (rc == OPC_OK) {
            rc = st->store->ops->session_use(st->store, key, counter, now_s, &why);
        }
        if (rc == OPC_ERR_TOKEN) {
            rc = refused(st, sid, counter, now_s, w, eb);
        } else if (rc != OPC_OK) {
            rc = opc__fail(eb, rc, "session of %s: %s", w, why.msg);
        }
    }
    if (rc == OPC_OK) {
        *out = a;
        out->counter = counter;
    }
    OPENSSL_cleanse(&a, sizeof a);
    return rc;
}

opc_err opc__ad_state_session_end(opc__ad_state *st, const char *sid, opc__ebuf *eb)
{
    if (!opc__ad_state_is_shared(st)) {
        return opc__ad_sessions_end(st->sessions, sid) ? OPC_OK : OPC_ERR_NOT_FOUND;
    }
    if (sid == NULL || strlen(sid) != OPC_PROTO_NONCE_B64) {
        return OPC_ERR_NOT_FOUND;
    }
    (void)opc__ad_sessions_end(st->sessions, sid);
    char key[ROW_KEY_LEN + 1];
    opc_err rc = sid_key(sid, key);
    if (rc == OPC_OK) {
        rc = st->store->ops->session_end(st->store, key, eb);
    }
    return rc == OPC_OK || rc == OPC_ERR_NOT_FOUND || rc == OPC_ERR_NOMEM ? rc : OPC_ERR_IO;
}

bool opc__ad_state_session_live(opc__ad_state *st, const char *sid, opc__ad_kind kind,
                                int64_t now_s)
{
    if (!opc__ad_state_is_shared(st)) {
        return opc__ad_sessions_live(st->sessions, sid, kind, now_s);
    }
    if (sid == NULL || strlen(sid) != OPC_PROTO_NONCE_B64) {
        return false;
    }
    /* The cache or one read; ended or idle elsewhere shows at the check. */
    opc__ad_auth a;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    bool live = shared_lookup(st, sid, now_s, &a, &eb) == OPC_OK && (kind == 0 || a.kind == kind);
    OPENSSL_cleanse(&a, sizeof a);
    return live;
}

/* ---- nonces and limiters ---- */

opc_err opc__ad_state_nonce_take(opc__ad_state *st, const char *nonce, int64_t now_ms)
{
    if (!opc__ad_state_is_shared(st)) {
        return opc__ad_nonce_take(st->nonces, nonce, now_ms);
    }
    if (nonce == NULL || strlen(nonce) != OPC_PROTO_NONCE_B64) {
        return OPC_ERR_INVALID_ARG;
    }
    maybe_sweep(st, now_ms);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc =
        st->store->ops->nonce_take(st->store, nonce, now_ms + OPC_AD_NONCE_TTL_MS, now_ms, &eb);
    if (rc != OPC_OK && rc != OPC_ERR_EXISTS) {
        opc__log(OPC_LOG_WARN, LOG, "the handshake's nonce in the database: %s", eb.msg);
        rc = OPC_ERR_IO;
    }
    return rc;
}

static bool limit_key(opc__ad_limit which, const char *key, char *out, size_t cap)
{
    int n = which >= 0 && which < OPC_AD_LIMIT_COUNT && key != NULL
                ? snprintf(out, cap, "%s:%s", limits[which].prefix, key)
                : -1;
    return n > 0 && (size_t)n < cap;
}

int opc__ad_state_blocked(opc__ad_state *st, opc__ad_limit which, const char *key, int64_t now_ms)
{
    if (which < 0 || which >= OPC_AD_LIMIT_COUNT || key == NULL) {
        return 0;
    }
    if (!opc__ad_state_is_shared(st)) {
        return opc__ad_limiter_blocked(st->limiter[which], key, now_ms);
    }
    char k[96];
    int64_t until = 0;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (!limit_key(which, key, k, sizeof k)) {
        return 0; /* not a key the memory limiter would hold either */
    }
    if (st->store->ops->limit_until(st->store, k, limits[which].limit, now_ms, &until, &eb) !=
        OPC_OK) {
        opc__log(OPC_LOG_WARN, LOG, "reading a %s limit in the database: %s", limits[which].prefix,
                 eb.msg);
        return 0;
    }
    return until > now_ms ? (int)((until - now_ms + 999) / 1000) : 0;
}

void opc__ad_state_fail(opc__ad_state *st, opc__ad_limit which, const char *key, int64_t now_ms)
{
    if (which < 0 || which >= OPC_AD_LIMIT_COUNT || key == NULL) {
        return;
    }
    if (!opc__ad_state_is_shared(st)) {
        opc__ad_limiter_fail(st->limiter[which], key, now_ms);
        return;
    }
    char k[96];
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (limit_key(which, key, k, sizeof k) &&
        st->store->ops->limit_hit(st->store, k, limits[which].limit, limits[which].window_ms,
                                  now_ms, &eb) != OPC_OK) {
        opc__log(OPC_LOG_WARN, LOG, "counting a %s limit in the database: %s", limits[which].prefix,
                 eb.msg);
    }
}

/* ---- pending sign-ins ---- */

static void pending_aad(const char *key, int64_t expires_ms, char *out, size_t cap)
{
    (void)snprintf(out, cap, "opconnect/pending/v1\n%s\n%lld", key, (long long)expires_ms);
}

opc_err opc__ad_state_pending_add(opc__ad_state *st, opc__ad_signin *in, int64_t now_ms,
                                  char id[OPC_PROTO_NONCE_B64 + 1])
{
    if (!opc__ad_state_is_shared(st)) {
        return opc__ad_pending_add(st->pending, in, now_ms, id);
    }
    maybe_sweep(st, now_ms);
    uint8_t raw[16];
    uint8_t *srp = NULL;
    size_t srp_len = 0;
    unsigned char *pt = NULL;
    size_t pt_len = 0;
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    char key[ROW_KEY_LEN + 1];
    char aad[128];
    int64_t expires_ms = now_ms + (int64_t)OPC_PROTO_OWNER_PENDING_S * 1000;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__rand_bytes(raw, sizeof raw);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(raw, sizeof raw, OPC_B64URL, id, OPC_PROTO_NONCE_B64 + 1, NULL);
    }
    if (rc == OPC_OK) {
        rc = row_key("opconnect/pending/v1", id, key);
    }
    if (rc == OPC_OK) {
        rc = opc__srp_server_export(in->srp, &srp, &srp_len, &eb);
    }
    if (rc == OPC_OK) {
        pt_len = PEND_FIXED + srp_len;
        pt = opc__calloc(1, pt_len);
        rc = pt != NULL ? OPC_OK : OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        (void)snprintf((char *)pt, OPC_ID_LEN + 1, "%s", in->account);
        (void)snprintf((char *)pt + OPC_ID_LEN + 1, OPC_PROTO_HASH_B64 + 1, "%s", in->email_key);
        memcpy(pt + PEND_FIXED - OPC_PROTO_SRP_LEN, in->A, OPC_PROTO_SRP_LEN);
        memcpy(pt + PEND_FIXED, srp, srp_len);
        pending_aad(key, expires_ms, aad, sizeof aad);
        rc = seal(st, aad, pt, pt_len, &sealed, &sealed_len);
    }
    if (rc == OPC_OK) {
        rc = st->store->ops->pending_put(st->store, key, sealed, sealed_len, expires_ms, &eb);
    }
    if (rc != OPC_OK && eb.msg[0] != '\0') {
        opc__log(OPC_LOG_WARN, LOG, "keeping a pending sign-in: %s", eb.msg);
    }
    if (srp != NULL) {
        opc__secret_free(srp, srp_len);
    }
    if (pt != NULL) {
        opc__secret_free(pt, pt_len);
    }
    opc__free(sealed);
    opc__ad_signin_clear(in); /* the state went to the database, or nowhere */
    return rc;
}

opc_err opc__ad_state_pending_take(opc__ad_state *st, const char *id, int64_t now_ms,
                                   opc__ad_signin *out)
{
    if (!opc__ad_state_is_shared(st)) {
        return opc__ad_pending_take(st->pending, id, now_ms, out);
    }
    memset(out, 0, sizeof *out);
    if (id == NULL || strlen(id) != OPC_PROTO_NONCE_B64) {
        return OPC_ERR_NOT_FOUND;
    }
    char key[ROW_KEY_LEN + 1];
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    int64_t expires_ms = 0;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = row_key("opconnect/pending/v1", id, key);
    if (rc == OPC_OK) {
        rc = st->store->ops->pending_take(st->store, key, now_ms, &sealed, &sealed_len, &expires_ms,
                                          &eb);
    }
    if (rc != OPC_OK && rc != OPC_ERR_NOT_FOUND) {
        opc__log(OPC_LOG_WARN, LOG, "taking a pending sign-in: %s", eb.msg);
        return OPC_ERR_IO;
    }
    unsigned char *pt = NULL;
    size_t pt_len = 0;
    if (rc == OPC_OK) {
        pt_len = sealed_len > SEAL_OVERHEAD ? sealed_len - SEAL_OVERHEAD : 0;
        pt = pt_len > PEND_FIXED ? opc__malloc(pt_len) : NULL;
        rc = pt != NULL ? OPC_OK : OPC_ERR_NOT_FOUND;
    }
    if (rc == OPC_OK) {
        char aad[128];
        pending_aad(key, expires_ms, aad, sizeof aad);
        rc = unseal(st, aad, sealed, sealed_len, pt, pt_len) == OPC_OK ? OPC_OK : OPC_ERR_NOT_FOUND;
    }
    if (rc == OPC_OK) {
        memcpy(out->account, pt, OPC_ID_LEN);
        out->account[OPC_ID_LEN] = '\0';
        memcpy(out->email_key, pt + OPC_ID_LEN + 1, OPC_PROTO_HASH_B64);
        out->email_key[OPC_PROTO_HASH_B64] = '\0';
        memcpy(out->A, pt + PEND_FIXED - OPC_PROTO_SRP_LEN, OPC_PROTO_SRP_LEN);
        rc = opc__srp_server_import(pt + PEND_FIXED, pt_len - PEND_FIXED, &out->srp, &eb);
        if (rc != OPC_OK) {
            opc__log(OPC_LOG_WARN, LOG, "a pending sign-in's SRP state: %s", eb.msg);
            opc__ad_signin_clear(out);
            rc = OPC_ERR_NOT_FOUND;
        }
    }
    opc__free(sealed);
    if (pt != NULL) {
        opc__secret_free(pt, pt_len);
    }
    return rc;
}
