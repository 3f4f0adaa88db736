/*
 * view/render.c - the rendered-item cache (render.h).
 *
 * An entry is one allocation: its header (ids, version, valid_until, nonce,
 * tag) followed by the ciphertext. The ids hash once to a shard (top bits)
 * and a bucket in it (low bits). A shard keeps its entries on a bucket
 * chain and on a ring that a CLOCK hand walks to pick what to evict: an
 * entry read since the hand last passed has its `ref` set and is passed
 * over once.
 *
 * Sealing runs outside any lock (the body is the caller's); opening runs
 * under the shard lock, straight into the caller's buffer, so an entry is
 * never copied in plaintext. Entries a put evicts or replaces are freed
 * after the lock is released.
 */
#include "view/render.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/id.h"
#include "core/rand.h"
#include "crypto/gcm.h"

/* Shards for a large budget (a power of two); fewer for a small one, so
 * each shard's part still holds a few largest bodies. Overridable to
 * measure lock contention. */
#ifndef OPC_RENDER_SHARDS
#define OPC_RENDER_SHARDS 64
#endif
/* A shard gets one bucket per this many bytes of its budget (a power of
 * two): a chain of about one entry for 350-byte bodies and up. */
#define BYTES_PER_BUCKET ((size_t)512)

typedef struct entry {
    struct entry *chain;       /* next in the bucket */
    struct entry *prev, *next; /* the shard's clock ring */
    uint64_t hash;
    int64_t version;
    int64_t valid_until;
    size_t len;
    char vault[OPC_ID_LEN + 1];
    char item[OPC_ID_LEN + 1];
    uint8_t iv[OPC_GCM_IV_LEN];
    uint8_t tag[OPC_GCM_TAG_LEN];
    uint8_t ref; /* read since the hand last passed */
    uint8_t ct[];
} entry;

/* malloc rounds a request plus its 8-byte header up to 16 bytes: at most
 * 23 bytes more than asked for. */
static_assert(sizeof(entry) + 24 <= OPC_RENDER_ENTRY_OVERHEAD,
              "OPC_RENDER_ENTRY_OVERHEAD must cover an entry's header");

typedef struct shard {
    pthread_mutex_t mu;
    entry **buckets;
    size_t mask;  /* buckets - 1 */
    entry *hand;  /* the clock hand; NULL: no entries */
    size_t bytes; /* charged: entries and the bucket array */
    size_t entries;
    char pad[64]; /* keep neighbouring locks off one cache line */
} shard;

/* A bucket is a pointer to its chain's first entry; one constant, so the
 * lint's warning about sizeof of a pointer to a struct is answered once. */
static const size_t bucket_size = sizeof(entry *); // NOLINT(bugprone-sizeof-expression)

struct opc__render {
    uint8_t key[OPC_GCM_KEY_LEN];
    atomic_uint_fast64_t counter; /* nonce counter */
    atomic_uint_fast64_t hits;
    atomic_uint_fast64_t misses;
    size_t max_body;
    size_t budget;
    size_t shard_budget;
    size_t largest;       /* the largest entry cost that fits in a shard */
    unsigned shard_shift; /* hash >> shard_shift picks the shard */
    size_t n_shards;      /* 0: budget 0, nothing is stored */
    shard *shards;
};

static size_t entry_cost(size_t len)
{
    return OPC_RENDER_ENTRY_OVERHEAD + len;
}

/* AAD: both ids and the version, so an entry only opens for its own key. */
static size_t make_aad(char out[80], const char *vault, const char *item, int64_t version)
{
    int n = snprintf(out, 80, "%s|%s|%lld", vault, item, (long long)version);
    return n > 0 && n < 80 ? (size_t)n : 0;
}

static bool id_ok(const char *s)
{
    return s != NULL && strlen(s) == OPC_ID_LEN;
}

/* FNV-1a over both ids, then a final mix so the top bits (the shard) depend
 * on every byte as much as the low ones (the bucket). */
static uint64_t hash_ids(const char *vault, const char *item)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = vault; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    }
    h = (h ^ '|') * 1099511628211ULL;
    for (const char *p = item; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static shard *shard_of(const opc__render *r, uint64_t h)
{
    return &r->shards[r->n_shards > 1 ? (size_t)(h >> r->shard_shift) : 0];
}

/* The link that points at the entry for these ids (or the chain's end). */
static entry **find_link(shard *s, uint64_t h, const char *vault, const char *item)
{
    entry **link = &s->buckets[h & s->mask];
    while (*link != NULL) {
        entry *e = *link;
        if (e->hash == h && memcmp(e->vault, vault, OPC_ID_LEN) == 0 &&
            memcmp(e->item, item, OPC_ID_LEN) == 0) {
            break;
        }
        link = &e->chain;
    }
    return link;
}

/* Take e (found at *link) out of the chain and the ring; the caller frees
 * it. Its bytes are no longer charged. */
static void unlink_entry(shard *s, entry **link, entry *e)
{
    *link = e->chain;
    if (e->next == e) {
        s->hand = NULL;
    } else {
        e->prev->next = e->next;
        e->next->prev = e->prev;
        if (s->hand == e) {
            s->hand = e->next;
        }
    }
    s->bytes -= entry_cost(e->len);
    s->entries--;
}

/* Put e on its chain and just behind the hand: the last the hand reaches. */
static void link_entry(shard *s, entry *e)
{
    entry **head = &s->buckets[e->hash & s->mask];
    e->chain = *head;
    *head = e;
    if (s->hand == NULL) {
        e->prev = e->next = e;
        s->hand = e;
    } else {
        e->next = s->hand;
        e->prev = s->hand->prev;
        e->prev->next = e;
        s->hand->prev = e;
    }
    s->bytes += entry_cost(e->len);
    s->entries++;
}

/* CLOCK: the first entry at or after the hand that was not read since the
 * hand last passed (clearing the marks it passes); unlinked, to be freed
 * by the caller. NULL when the shard is empty. */
static entry *evict_one(shard *s)
{
    if (s->hand == NULL) {
        return NULL;
    }
    while (s->hand->ref) {
        s->hand->ref = 0;
        s->hand = s->hand->next;
    }
    entry *victim = s->hand;
    unlink_entry(s, find_link(s, victim->hash, victim->vault, victim->item), victim);
    return victim;
}

/* Free a list of entries joined by `chain` (ciphertext: no wipe needed). */
static void free_list(entry *e)
{
    while (e != NULL) {
        entry *next = e->chain;
        opc__free(e);
        e = next;
    }
}

/* The largest power of two <= n (n >= 1). */
static size_t pow2_floor(size_t n)
{
    size_t p = 1;
    while (p <= n / 2) {
        p *= 2;
    }
    return p;
}

opc_err opc__render_create(size_t budget, size_t max_body, opc__render **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (max_body == 0 || max_body > OPC_RENDER_MAX_BYTES || budget > OPC_RENDER_MAX_BYTES) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__render *r = opc__calloc(1, sizeof *r);
    if (r == NULL) {
        return OPC_ERR_NOMEM;
    }
    r->budget = budget;
    r->max_body = max_body;
    atomic_init(&r->counter, 0);
    atomic_init(&r->hits, 0);
    atomic_init(&r->misses, 0);
    if (opc__rand_priv_bytes(r->key, sizeof r->key) != OPC_OK) {
        opc__free(r);
        return OPC_ERR_CRYPTO;
    }
    if (budget > 0) {
        /* Fewer shards while a shard's part would hold less than four of
         * the largest entries. */
        size_t n = OPC_RENDER_SHARDS;
        while (n > 1 && budget / n < 4 * entry_cost(max_body)) {
            n /= 2;
        }
        unsigned shift = 64;
        for (size_t k = n; k > 1; k /= 2) {
            shift--;
        }
        r->shard_shift = shift;
        r->shard_budget = budget / n;
        r->shards = opc__calloc(n, sizeof *r->shards);
        if (r->shards == NULL) {
            opc__render_free(r);
            return OPC_ERR_NOMEM;
        }
        size_t nb = pow2_floor(r->shard_budget / BYTES_PER_BUCKET > 0
                                   ? r->shard_budget / BYTES_PER_BUCKET
                                   : 1);
        for (size_t i = 0; i < n; i++) {
            shard *s = &r->shards[i];
            s->buckets = opc__calloc(nb, bucket_size);
            if (s->buckets == NULL) {
                opc__render_free(r);
                return OPC_ERR_NOMEM;
            }
            pthread_mutex_init(&s->mu, NULL);
            s->mask = nb - 1;
            s->bytes = nb * bucket_size;
            r->n_shards = i + 1; /* what opc__render_free must undo */
        }
        size_t table = nb * bucket_size;
        r->largest = r->shard_budget > table ? r->shard_budget - table : 0;
    }
    *out = r;
    return OPC_OK;
}

void opc__render_free(opc__render *r)
{
    if (r == NULL) {
        return;
    }
    opc__render_clear(r);
    for (size_t i = 0; r->shards != NULL && i < r->n_shards; i++) {
        pthread_mutex_destroy(&r->shards[i].mu);
        opc__free(r->shards[i].buckets);
    }
    opc__free(r->shards);
    opc__wipe(r->key, sizeof r->key);
    opc__free(r);
}

bool opc__render_get(opc__render *r, const char *vault, const char *item, int64_t version,
                     int64_t now_s, opc__buf *out)
{
    if (r == NULL || !id_ok(vault) || !id_ok(item) || out == NULL) {
        return false;
    }
    bool hit = false;
    char aad[80];
    size_t aad_len = make_aad(aad, vault, item, version);
    if (r->n_shards > 0 && aad_len > 0) {
        uint64_t h = hash_ids(vault, item);
        shard *s = shard_of(r, h);
        entry *dropped = NULL;
        pthread_mutex_lock(&s->mu);
        entry **link = find_link(s, h, vault, item);
        entry *e = *link;
        if (e != NULL && e->version == version && now_s < e->valid_until &&
            opc__buf_reserve(out, e->len) == OPC_OK) {
            uint8_t *dst = (uint8_t *)out->data + out->len;
            if (opc__gcm_open(r->key, e->iv, aad, aad_len, e->ct, e->len, e->tag, dst) ==
                OPC_OK) {
                out->len += e->len;
                out->data[out->len] = '\0';
                e->ref = 1;
                hit = true;
            } else {
                /* cannot happen unless memory was corrupted */
                unlink_entry(s, link, e);
                e->chain = NULL;
                dropped = e;
            }
        }
        pthread_mutex_unlock(&s->mu);
        free_list(dropped);
    }
    atomic_fetch_add(hit ? &r->hits : &r->misses, 1);
    return hit;
}

void opc__render_put(opc__render *r, const char *vault, const char *item, int64_t version,
                     int64_t valid_until, const char *body, size_t len)
{
    if (r == NULL || r->n_shards == 0 || !id_ok(vault) || !id_ok(item) || body == NULL ||
        len == 0 || len > r->max_body || entry_cost(len) > r->largest) {
        return;
    }
    char aad[80];
    size_t aad_len = make_aad(aad, vault, item, version);
    if (aad_len == 0) {
        return;
    }
    entry *e = opc__malloc(sizeof *e + len);
    if (e == NULL) {
        return;
    }
    memset(e, 0, sizeof *e);
    uint64_t n = atomic_fetch_add(&r->counter, 1);
    for (int i = 0; i < 8; i++) {
        e->iv[OPC_GCM_IV_LEN - 1 - i] = (uint8_t)(n >> (8 * i));
    }
    if (opc__gcm_seal(r->key, e->iv, aad, aad_len, body, len, e->ct, e->tag) != OPC_OK) {
        opc__free(e);
        return;
    }
    e->hash = hash_ids(vault, item);
    memcpy(e->vault, vault, OPC_ID_LEN + 1);
    memcpy(e->item, item, OPC_ID_LEN + 1);
    e->version = version;
    e->valid_until = valid_until;
    e->len = len;

    shard *s = shard_of(r, e->hash);
    entry *gone = NULL; /* replaced and evicted entries, freed after unlock */
    pthread_mutex_lock(&s->mu);
    entry **link = find_link(s, e->hash, vault, item);
    if (*link != NULL) {
        entry *old = *link;
        unlink_entry(s, link, old);
        old->chain = gone;
        gone = old;
    }
    while (s->bytes + entry_cost(len) > r->shard_budget) {
        entry *victim = evict_one(s);
        if (victim == NULL) {
            break;
        }
        victim->chain = gone;
        gone = victim;
    }
    if (s->bytes + entry_cost(len) <= r->shard_budget) {
        link_entry(s, e);
        e = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    free_list(gone);
    opc__free(e); /* NULL: stored (an empty shard always has room for it) */
}

void opc__render_drop(opc__render *r, const char *vault, const char *item)
{
    if (r == NULL || r->n_shards == 0 || !id_ok(vault) || !id_ok(item)) {
        return;
    }
    uint64_t h = hash_ids(vault, item);
    shard *s = shard_of(r, h);
    pthread_mutex_lock(&s->mu);
    entry **link = find_link(s, h, vault, item);
    entry *e = *link;
    if (e != NULL) {
        unlink_entry(s, link, e);
        e->chain = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    free_list(e);
}

void opc__render_clear(opc__render *r)
{
    if (r == NULL || r->shards == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_shards; i++) {
        shard *s = &r->shards[i];
        entry *gone = NULL;
        pthread_mutex_lock(&s->mu);
        entry *e;
        while ((e = evict_one(s)) != NULL) {
            e->chain = gone;
            gone = e;
        }
        pthread_mutex_unlock(&s->mu);
        free_list(gone);
    }
}

void opc__render_stats(const opc__render *r, uint64_t *hits, uint64_t *misses)
{
    if (hits != NULL) {
        *hits = r != NULL ? atomic_load(&r->hits) : 0;
    }
    if (misses != NULL) {
        *misses = r != NULL ? atomic_load(&r->misses) : 0;
    }
}

void opc__render_usage(opc__render *r, size_t *bytes, size_t *entries, size_t *budget)
{
    size_t b = 0;
    size_t n = 0;
    for (size_t i = 0; r != NULL && i < r->n_shards; i++) {
        shard *s = &r->shards[i];
        pthread_mutex_lock(&s->mu);
        b += s->bytes;
        n += s->entries;
        pthread_mutex_unlock(&s->mu);
    }
    if (bytes != NULL) {
        *bytes = b;
    }
    if (entries != NULL) {
        *entries = n;
    }
    if (budget != NULL) {
        *budget = r != NULL ? r->budget : 0;
    }
}
