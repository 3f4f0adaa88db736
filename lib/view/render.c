/*
 * view/render.c - the rendered-item cache (render.h).
 *
 * A slot holds one sealed body: ciphertext, tag and the nonce it was sealed
 * with. Sealing runs outside the slot lock (the body is the caller's);
 * opening runs under it, straight into the caller's buffer, so an entry is
 * never copied in plaintext.
 */
#include "view/render.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/id.h"
#include "core/rand.h"
#include "crypto/gcm.h"

typedef struct slot {
    pthread_mutex_t mu;
    char vault[OPC_ID_LEN + 1];
    char item[OPC_ID_LEN + 1];
    int64_t version;
    int64_t valid_until;
    uint8_t iv[OPC_GCM_IV_LEN];
    uint8_t tag[OPC_GCM_TAG_LEN];
    uint8_t *ct; /* NULL: empty */
    size_t len;
} slot;

struct opc__render {
    uint8_t key[OPC_GCM_KEY_LEN];
    atomic_uint_fast64_t counter; /* nonce counter */
    atomic_uint_fast64_t hits;
    atomic_uint_fast64_t misses;
    size_t max_body;
    size_t n_slots;
    slot *slots;
};

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

static slot *slot_for(const opc__render *r, const char *vault, const char *item)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = vault; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    }
    for (const char *p = item; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    }
    return &r->slots[h % r->n_slots];
}

static void slot_empty(slot *s)
{
    if (s->ct != NULL) {
        opc__free(s->ct); /* ciphertext: no wipe needed */
        s->ct = NULL;
    }
    s->len = 0;
    s->vault[0] = s->item[0] = '\0';
}

opc_err opc__render_create(size_t slots, size_t max_body, opc__render **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (slots == 0 || max_body == 0 || slots > ((size_t)1 << 24)) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__render *r = opc__calloc(1, sizeof *r);
    if (r == NULL) {
        return OPC_ERR_NOMEM;
    }
    r->slots = opc__calloc(slots, sizeof *r->slots);
    if (r->slots == NULL) {
        opc__free(r);
        return OPC_ERR_NOMEM;
    }
    if (opc__rand_priv_bytes(r->key, sizeof r->key) != OPC_OK) {
        opc__free(r->slots);
        opc__free(r);
        return OPC_ERR_CRYPTO;
    }
    for (size_t i = 0; i < slots; i++) {
        pthread_mutex_init(&r->slots[i].mu, NULL);
    }
    r->n_slots = slots;
    r->max_body = max_body;
    atomic_init(&r->counter, 0);
    atomic_init(&r->hits, 0);
    atomic_init(&r->misses, 0);
    *out = r;
    return OPC_OK;
}

void opc__render_free(opc__render *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_slots; i++) {
        slot_empty(&r->slots[i]);
        pthread_mutex_destroy(&r->slots[i].mu);
    }
    opc__free(r->slots);
    opc__wipe(r->key, sizeof r->key);
    opc__free(r);
}

bool opc__render_get(opc__render *r, const char *vault, const char *item, int64_t version,
                     int64_t now_s, opc__buf *out)
{
    if (r == NULL || !id_ok(vault) || !id_ok(item) || out == NULL) {
        return false;
    }
    char aad[80];
    size_t aad_len = make_aad(aad, vault, item, version);
    slot *s = slot_for(r, vault, item);
    bool hit = false;
    pthread_mutex_lock(&s->mu);
    if (s->ct != NULL && s->version == version && now_s < s->valid_until &&
        strcmp(s->vault, vault) == 0 && strcmp(s->item, item) == 0 && aad_len > 0 &&
        opc__buf_reserve(out, s->len) == OPC_OK) {
        uint8_t *dst = (uint8_t *)out->data + out->len;
        if (opc__gcm_open(r->key, s->iv, aad, aad_len, s->ct, s->len, s->tag, dst) == OPC_OK) {
            out->len += s->len;
            out->data[out->len] = '\0';
            hit = true;
        } else {
            slot_empty(s); /* cannot happen unless memory was corrupted */
        }
    }
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add(hit ? &r->hits : &r->misses, 1);
    return hit;
}

void opc__render_put(opc__render *r, const char *vault, const char *item, int64_t version,
                     int64_t valid_until, const char *body, size_t len)
{
    if (r == NULL || !id_ok(vault) || !id_ok(item) || body == NULL || len == 0 ||
        len > r->max_body) {
        return;
    }
    char aad[80];
    size_t aad_len = make_aad(aad, vault, item, version);
    uint8_t *ct = opc__malloc(len);
    if (ct == NULL || aad_len == 0) {
        opc__free(ct);
        return;
    }
    uint8_t iv[OPC_GCM_IV_LEN];
    uint8_t tag[OPC_GCM_TAG_LEN];
    uint64_t n = atomic_fetch_add(&r->counter, 1);
    memset(iv, 0, sizeof iv);
    for (int i = 0; i < 8; i++) {
        iv[OPC_GCM_IV_LEN - 1 - i] = (uint8_t)(n >> (8 * i));
    }
    if (opc__gcm_seal(r->key, iv, aad, aad_len, body, len, ct, tag) != OPC_OK) {
        opc__free(ct);
        return;
    }
    slot *s = slot_for(r, vault, item);
    pthread_mutex_lock(&s->mu);
    slot_empty(s);
    memcpy(s->vault, vault, OPC_ID_LEN + 1);
    memcpy(s->item, item, OPC_ID_LEN + 1);
    s->version = version;
    s->valid_until = valid_until;
    memcpy(s->iv, iv, sizeof iv);
    memcpy(s->tag, tag, sizeof tag);
    s->ct = ct;
    s->len = len;
    pthread_mutex_unlock(&s->mu);
}

void opc__render_clear(opc__render *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_slots; i++) {
        pthread_mutex_lock(&r->slots[i].mu);
        slot_empty(&r->slots[i]);
        pthread_mutex_unlock(&r->slots[i].mu);
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
