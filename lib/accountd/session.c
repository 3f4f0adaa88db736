/*
 * accountd/session.c - the session table, the seen-nonce set and the
 * failed-handshake limiter (accountd.h).
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "accountd/accountd.h"
#include "core/alloc.h"

/* ---- sessions ---- */

typedef struct sess {
    bool used;
    char sid[OPC_PROTO_NONCE_B64 + 1];
    char account[OPC_ID_LEN + 1];
    char server[OPC_ID_LEN + 1];
    opc__ad_kind kind;
    int64_t idle_s;
    opc__proto_keys keys;
    int64_t expires; /* Unix s */
    int64_t last_s;  /* last use, Unix s */
    uint64_t counter;
} sess;

/*
 * The entries, and an index over them for the per-request lookup: open
 * addressing by a hash of the sid, 2 * max buckets holding an entry's
 * number, EMPTY or GONE (a forgotten entry, skipped by lookups). add()
 * walks every entry anyway (to sweep the dead ones) and rebuilds the index
 * then, which clears the GONE marks.
 */
#define EMPTY (-1)
#define GONE (-2)

struct opc__ad_sessions {
    pthread_mutex_t mu;
    sess *s;
    size_t max;
    size_t n;
    int32_t *index;
    size_t n_index;
};

static size_t hash(const char *s, size_t mod);

opc_err opc__ad_sessions_create(size_t max, opc__ad_sessions **out)
{
    *out = NULL;
    if (max == 0) {
        return OPC_ERR_INVALID_ARG;
    }
    if (max > INT32_MAX / 2) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__ad_sessions *t = opc__calloc(1, sizeof *t);
    if (t == NULL || (t->s = opc__calloc(max, sizeof *t->s)) == NULL ||
        (t->index = opc__malloc(2 * max * sizeof *t->index)) == NULL) {
        if (t != NULL) {
            opc__free(t->s);
        }
        opc__free(t);
        return OPC_ERR_NOMEM;
    }
    t->max = max;
    t->n_index = 2 * max;
    for (size_t i = 0; i < t->n_index; i++) {
        t->index[i] = EMPTY;
    }
    (void)pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return OPC_OK;
}

void opc__ad_sessions_free(opc__ad_sessions *t)
{
    if (t == NULL) {
        return;
    }
    OPENSSL_cleanse(t->s, t->max * sizeof *t->s);
    opc__free(t->s);
    opc__free(t->index);
    (void)pthread_mutex_destroy(&t->mu);
    opc__free(t);
}

static bool dead(const sess *e, int64_t now_s)
{
    return now_s >= e->expires || now_s - e->last_s >= e->idle_s;
}

/* The bucket of the entry numbered i (or of sid, for i < 0), or NULL. */
static int32_t *bucket_of(opc__ad_sessions *t, const char *sid, int32_t i)
{
    size_t b = hash(sid, t->n_index);
    for (size_t k = 0; k < t->n_index; k++, b = (b + 1) % t->n_index) {
        int32_t v = t->index[b];
        if (v == EMPTY) {
            return NULL;
        }
        if (v >= 0 && (i >= 0 ? v == i : strcmp(t->s[v].sid, sid) == 0)) {
            return &t->index[b];
        }
    }
    return NULL;
}

static void forget(opc__ad_sessions *t, sess *e)
{
    int32_t *b = bucket_of(t, e->sid, (int32_t)(e - t->s));
    if (b != NULL) {
        *b = GONE;
    }
    OPENSSL_cleanse(e, sizeof *e);
    t->n--;
}

/* The entry of sid (under mu), or NULL. */
static sess *find(opc__ad_sessions *t, const char *sid)
{
    const int32_t *b = bucket_of(t, sid, -1);
    return b != NULL ? &t->s[*b] : NULL;
}

/* Index every used entry afresh (under mu). */
static void reindex(opc__ad_sessions *t)
{
    for (size_t i = 0; i < t->n_index; i++) {
        t->index[i] = EMPTY;
    }
    size_t n = t->n_index;
    for (size_t i = 0; i < t->max && n > 0; i++) {
        if (!t->s[i].used) {
            continue;
        }
        size_t b = hash(t->s[i].sid, n);
        while (t->index[b] != EMPTY) {
            b = (b + 1) % n;
        }
        t->index[b] = (int32_t)i;
    }
}

opc_err opc__ad_sessions_add(opc__ad_sessions *t, const char *sid, opc__ad_kind kind,
                             const char *account, const char *server, const opc__proto_keys *k,
                             int64_t expires, int64_t now_s)
{
    bool connect = kind == OPC_AD_KIND_CONNECT;
    if (t == NULL || t->s == NULL || t->n_index == 0 || sid == NULL ||
        strlen(sid) != OPC_PROTO_NONCE_B64 || !opc__id_valid_str(account) || server == NULL ||
        (connect ? !opc__id_valid_str(server) : server[0] != '\0') ||
        (!connect && kind != OPC_AD_KIND_OWNER) || k == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    sess *all = t->s;
    size_t max = t->max;
    (void)pthread_mutex_lock(&t->mu);
    sess *dup = find(t, sid);
    if (dup != NULL) { /* a sid again (16 random bytes: not in practice) */
        forget(t, dup);
    }
    sess *slot = NULL;
    sess *lru = NULL;
    for (size_t i = 0; i < max; i++) {
        sess *e = &all[i];
        if (e->used && dead(e, now_s)) {
            forget(t, e);
        }
        if (!e->used) {
            slot = slot != NULL ? slot : e;
        } else if (lru == NULL || e->last_s < lru->last_s) {
            lru = e;
        }
    }
    if (slot == NULL && lru == NULL) { /* not reached: max >= 1 */
        (void)pthread_mutex_unlock(&t->mu);
        return OPC_ERR_INVALID_ARG;
    }
    if (slot == NULL) {
        forget(t, lru);
        slot = lru;
    }
    slot->used = true;
    memcpy(slot->sid, sid, OPC_PROTO_NONCE_B64 + 1);
    memcpy(slot->account, account, OPC_ID_LEN + 1);
    (void)snprintf(slot->server, sizeof slot->server, "%s", server);
    slot->kind = kind;
    slot->idle_s = connect ? OPC_PROTO_SESSION_IDLE_S : OPC_PROTO_OWNER_IDLE_S;
    slot->keys = *k;
    slot->expires = expires;
    slot->last_s = now_s;
    slot->counter = 0;
    t->n++;
    reindex(t);
    (void)pthread_mutex_unlock(&t->mu);
    return OPC_OK;
}

/* Who a session is, for the log: "server S" or "the owner of A". */
static void who(const sess *e, char *out, size_t n)
{
    if (e->kind == OPC_AD_KIND_OWNER) {
        (void)snprintf(out, n, "the owner of %s", e->account);
    } else {
        (void)snprintf(out, n, "server %s", e->server);
    }
}

opc_err opc__ad_sessions_check(opc__ad_sessions *t, const char *sid, opc__ad_kind kind,
                               uint64_t counter, const char *method, const char *target,
                               const void *body, size_t body_len, const char *mac, int64_t now_s,
                               opc__ad_auth *out, opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    if (sid == NULL || strlen(sid) != OPC_PROTO_NONCE_B64 || mac == NULL) {
        return opc__fail(eb, OPC_ERR_TOKEN, "malformed session, counter or MAC header");
    }
    (void)pthread_mutex_lock(&t->mu);
    sess *e = find(t, sid);
    opc_err rc = OPC_OK;
    char w[64] = "";
    if (e != NULL) {
        who(e, w, sizeof w);
    }
    if (e == NULL) {
        rc = opc__fail(eb, OPC_ERR_TOKEN, "unknown session");
    } else if (dead(e, now_s)) {
        rc = opc__fail(eb, OPC_ERR_TOKEN, "session of %s expired or idle", w);
        forget(t, e);
    } else if (kind != 0 && e->kind != kind) {
        rc =
            opc__fail(eb, OPC_ERR_TOKEN, "session of %s used for an endpoint of the other kind", w);
    } else if (counter <= e->counter) {
        rc = opc__fail(eb, OPC_ERR_TOKEN,
                       "session of %s: counter %llu not above %llu (replay or reorder)", w,
                       (unsigned long long)counter, (unsigned long long)e->counter);
    } else {
        char want[OPC_PROTO_HASH_B64 + 1];
        rc =
            opc__proto_mac_request(&e->keys, e->sid, counter, method, target, body, body_len, want);
        if (rc != OPC_OK) {
            rc = opc__fail(eb, OPC_ERR_TOKEN, "session of %s: cannot compute the MAC", w);
        } else if (!opc__proto_mac_equal(want, mac)) {
            rc = opc__fail(eb, OPC_ERR_TOKEN, "session of %s: request MAC does not verify", w);
        }
        OPENSSL_cleanse(want, sizeof want);
    }
    if (rc == OPC_OK && e != NULL) {
        e->counter = counter;
        e->last_s = now_s;
        memcpy(out->sid, e->sid, sizeof out->sid);
        memcpy(out->account, e->account, sizeof out->account);
        memcpy(out->server, e->server, sizeof out->server);
        out->kind = e->kind;
        out->counter = counter;
        out->keys = e->keys;
    }
    (void)pthread_mutex_unlock(&t->mu);
    return rc;
}

bool opc__ad_sessions_peek(opc__ad_sessions *t, const char *sid, int64_t now_s, opc__ad_auth *out)
{
    memset(out, 0, sizeof *out);
    if (t == NULL || sid == NULL || strlen(sid) != OPC_PROTO_NONCE_B64) {
        return false;
    }
    (void)pthread_mutex_lock(&t->mu);
    sess *e = find(t, sid);
    bool live = e != NULL && !dead(e, now_s);
    if (e != NULL && !live) {
        forget(t, e);
    }
    if (live) {
        e->last_s = now_s;
        memcpy(out->sid, e->sid, sizeof out->sid);
        memcpy(out->account, e->account, sizeof out->account);
        memcpy(out->server, e->server, sizeof out->server);
        out->kind = e->kind;
        out->keys = e->keys;
    }
    (void)pthread_mutex_unlock(&t->mu);
    return live;
}

bool opc__ad_sessions_end(opc__ad_sessions *t, const char *sid)
{
    if (t == NULL || sid == NULL || strlen(sid) != OPC_PROTO_NONCE_B64) {
        return false;
    }
    (void)pthread_mutex_lock(&t->mu);
    sess *e = find(t, sid);
    if (e != NULL) {
        forget(t, e);
    }
    (void)pthread_mutex_unlock(&t->mu);
    return e != NULL;
}

bool opc__ad_sessions_live(opc__ad_sessions *t, const char *sid, opc__ad_kind kind, int64_t now_s)
{
    if (sid == NULL || strlen(sid) != OPC_PROTO_NONCE_B64) {
        return false;
    }
    (void)pthread_mutex_lock(&t->mu);
    const sess *e = find(t, sid);
    bool live = e != NULL && !dead(e, now_s) && (kind == 0 || e->kind == kind);
    (void)pthread_mutex_unlock(&t->mu);
    return live;
}

size_t opc__ad_sessions_count(opc__ad_sessions *t)
{
    (void)pthread_mutex_lock(&t->mu);
    size_t n = t->n;
    (void)pthread_mutex_unlock(&t->mu);
    return n;
}

void opc__ad_auth_clear(opc__ad_auth *a)
{
    OPENSSL_cleanse(a, sizeof *a);
}

/* ---- the seen-nonce set: a ring in arrival order, hashed for lookup ---- */

typedef struct nonce_ent {
    char nonce[OPC_PROTO_NONCE_B64 + 1];
    int64_t t_ms;
    int32_t next; /* the bucket's chain; -1 ends it */
} nonce_ent;

struct opc__ad_nonces {
    pthread_mutex_t mu;
    nonce_ent *ring;
    size_t max, head, n; /* the oldest at head */
    int32_t *bucket;
    size_t n_buckets;
};

static size_t hash(const char *s, size_t mod)
{
    if (mod == 0) {
        return 0;
    }
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return (size_t)(h % mod);
}

opc_err opc__ad_nonces_create(size_t max, opc__ad_nonces **out)
{
    *out = NULL;
    if (max == 0 || max > INT32_MAX) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__ad_nonces *n = opc__calloc(1, sizeof *n);
    if (n == NULL) {
        return OPC_ERR_NOMEM;
    }
    n->max = max;
    n->n_buckets = max;
    n->ring = opc__calloc(max, sizeof *n->ring);
    n->bucket = opc__malloc(max * sizeof *n->bucket);
    if (n->ring == NULL || n->bucket == NULL) {
        opc__ad_nonces_free(n);
        return OPC_ERR_NOMEM;
    }
    for (size_t i = 0; i < max; i++) {
        n->bucket[i] = -1;
    }
    (void)pthread_mutex_init(&n->mu, NULL);
    *out = n;
    return OPC_OK;
}

void opc__ad_nonces_free(opc__ad_nonces *n)
{
    if (n == NULL) {
        return;
    }
    if (n->bucket != NULL && n->ring != NULL) {
        (void)pthread_mutex_destroy(&n->mu);
    }
    opc__free(n->ring);
    opc__free(n->bucket);
    opc__free(n);
}

/* Drop the oldest entry from its chain and the ring. */
static void pop_oldest(opc__ad_nonces *n)
{
    int32_t idx = (int32_t)n->head;
    int32_t *link = &n->bucket[hash(n->ring[idx].nonce, n->n_buckets)];
    while (*link != -1 && *link != idx) {
        link = &n->ring[*link].next;
    }
    if (*link == idx) {
        *link = n->ring[idx].next;
    }
    n->head = (n->head + 1) % n->max;
    n->n--;
}

opc_err opc__ad_nonce_take(opc__ad_nonces *n, const char *nonce, int64_t now_ms)
{
    if (n == NULL || nonce == NULL || strlen(nonce) != OPC_PROTO_NONCE_B64) {
        return OPC_ERR_INVALID_ARG;
    }
    (void)pthread_mutex_lock(&n->mu);
    while (n->n > 0 && now_ms - n->ring[n->head].t_ms >= OPC_AD_NONCE_TTL_MS) {
        pop_oldest(n);
    }
    size_t b = hash(nonce, n->n_buckets);
    opc_err rc = OPC_OK;
    for (int32_t i = n->bucket[b]; i != -1; i = n->ring[i].next) {
        if (strcmp(n->ring[i].nonce, nonce) == 0) {
            rc = OPC_ERR_EXISTS;
            break;
        }
    }
    if (rc == OPC_OK && n->n == n->max) {
        rc = OPC_ERR_TOO_LARGE;
    }
    if (rc == OPC_OK) {
        size_t idx = (n->head + n->n) % n->max;
        nonce_ent *e = &n->ring[idx];
        memcpy(e->nonce, nonce, OPC_PROTO_NONCE_B64 + 1);
        e->t_ms = now_ms;
        e->next = n->bucket[b];
        n->bucket[b] = (int32_t)idx;
        n->n++;
    }
    (void)pthread_mutex_unlock(&n->mu);
    return rc;
}

/* ---- failed handshakes per address: a fixed window per slot ---- */

typedef struct limit_slot {
    char addr[64];
    int64_t start_ms;
    int fails;
} limit_slot;

struct opc__ad_limiter {
    pthread_mutex_t mu;
    int limit;
    int64_t window_ms;
    limit_slot slot[OPC_AD_LIMIT_SLOTS];
};

opc_err opc__ad_limiter_create_ex(int limit, int64_t window_ms, opc__ad_limiter **out)
{
    *out = NULL;
    if (limit < 1 || window_ms < 1) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = opc__calloc(1, sizeof **out);
    if (*out == NULL) {
        return OPC_ERR_NOMEM;
    }
    (*out)->limit = limit;
    (*out)->window_ms = window_ms;
    (void)pthread_mutex_init(&(*out)->mu, NULL);
    return OPC_OK;
}

opc_err opc__ad_limiter_create(opc__ad_limiter **out)
{
    return opc__ad_limiter_create_ex(OPC_AD_FAIL_LIMIT, OPC_AD_FAIL_WINDOW_MS, out);
}

void opc__ad_limiter_free(opc__ad_limiter *l)
{
    if (l != NULL) {
        (void)pthread_mutex_destroy(&l->mu);
        opc__free(l);
    }
}

/* The slot of addr in its current window (under mu); NULL when the slot
 * holds another address (it is not tracked, so not blocked). */
static limit_slot *slot_of(opc__ad_limiter *l, const char *addr, int64_t now_ms, bool take)
{
    limit_slot *s = &l->slot[hash(addr, OPC_AD_LIMIT_SLOTS)];
    bool mine = strncmp(s->addr, addr, sizeof s->addr) == 0;
    bool stale = now_ms - s->start_ms >= l->window_ms;
    if (!mine && !take) {
        return NULL;
    }
    if (!mine || stale) {
        if (!mine && !stale && s->fails >= l->limit) {
            return NULL; /* keep a blocked address blocked for its window */
        }
        memset(s, 0, sizeof *s);
        (void)snprintf(s->addr, sizeof s->addr, "%s", addr);
        s->start_ms = now_ms;
    }
    return s;
}

int opc__ad_limiter_blocked(opc__ad_limiter *l, const char *addr, int64_t now_ms)
{
    (void)pthread_mutex_lock(&l->mu);
    const limit_slot *s = slot_of(l, addr, now_ms, false);
    int wait_s = 0;
    if (s != NULL && s->fails >= l->limit && now_ms - s->start_ms < l->window_ms) {
        int64_t left = s->start_ms + l->window_ms - now_ms;
        wait_s = (int)((left + 999) / 1000);
    }
    (void)pthread_mutex_unlock(&l->mu);
    return wait_s;
}

void opc__ad_limiter_fail(opc__ad_limiter *l, const char *addr, int64_t now_ms)
{
    (void)pthread_mutex_lock(&l->mu);
    limit_slot *s = slot_of(l, addr, now_ms, true);
    if (s != NULL && s->fails < l->limit) {
        s->fails++;
    }
    (void)pthread_mutex_unlock(&l->mu);
}
