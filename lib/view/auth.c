/*
 * view/auth.c - the bearer-token pipeline and the verified-token cache (see
 * auth.h for the order of the checks and the cache's rules).
 */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "view/auth.h"
#include "core/alloc.h"
#include "core/strparse.h"
#include "credentials/credentials.h"

/* Slots probed from the home slot (a full run replaces the home slot). */
#define PROBE 4

typedef struct entry {
    bool used;
    uint8_t key[32]; /* SHA-256 of the token text */
    char jti[65];
    bool has_exp;
    int64_t exp;
    int64_t reg_exp; /* the registry's expiry of the jti (0 = none) */
    uint64_t gen;    /* registry generation at which the jti was last active */
    unsigned features;
    size_t n_vaults;
    opc__jwt_vault *vaults;
} entry;

struct opc__auth {
    opc_credentials *creds;
    opc__auth_registry reg;
    const opc__key *keys[OPC_CREDENTIALS_MAX_ISSUER_KEYS];
    size_t n_keys;
    int64_t leeway; /* seconds */
    char server_id[65];
    char account_id[65];
    pthread_mutex_t unlock_mu;
    atomic_bool unlocked;
    uint8_t T[OPC_CREDENTIALS_SECRET_LEN];
    pthread_rwlock_t lock;
    entry *slots; /* OPC_AUTH_CACHE_SLOTS */
    atomic_uint_fast64_t hits;
    atomic_uint_fast64_t misses;
};

static void entry_clear(entry *e)
{
    if (e->vaults != NULL) {
        opc__free(e->vaults);
    }
    opc__wipe(e, sizeof *e);
}

opc_err opc__auth_create(opc_credentials *creds, const opc__auth_registry *reg, opc__auth **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (creds == NULL || reg == NULL || reg->generation == NULL || reg->lookup == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    const char *sid = opc_credentials_server_id(creds);
    const char *aid = opc_credentials_account_id(creds);
    if (sid == NULL || aid == NULL || strlen(sid) > 64 || strlen(aid) > 64) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__auth *a = opc__calloc(1, sizeof *a);
    if (a == NULL) {
        return OPC_ERR_NOMEM;
    }
    a->slots = opc__calloc(OPC_AUTH_CACHE_SLOTS, sizeof *a->slots);
    if (a->slots == NULL) {
        opc__free(a);
        return OPC_ERR_NOMEM;
    }
    if (pthread_mutex_init(&a->unlock_mu, NULL) != 0) {
        opc__free(a->slots);
        opc__free(a);
        return OPC_ERR_INTERNAL;
    }
    if (pthread_rwlock_init(&a->lock, NULL) != 0) {
        pthread_mutex_destroy(&a->unlock_mu);
        opc__free(a->slots);
        opc__free(a);
        return OPC_ERR_INTERNAL;
    }
    a->creds = creds;
    a->reg = *reg;
    a->leeway = OPC_JWT_LEEWAY_S;
    size_t n = opc__credentials_issuer_key_count(creds);
    for (size_t i = 0; i < n && a->n_keys < OPC_ARRAY_LEN(a->keys); i++) {
        const opc__key *k = opc__credentials_issuer_key(creds, i);
        if (k != NULL) {
            a->keys[a->n_keys++] = k;
        }
    }
    memcpy(a->server_id, sid, strlen(sid) + 1);
    memcpy(a->account_id, aid, strlen(aid) + 1);
    /*
     * Locked until a token's T has passed the verifier, even when creds came
     * unlocked: T is not known yet, and comparing later tokens with an unset
     * T would refuse every token.
     */
    atomic_init(&a->unlocked, false);
    atomic_init(&a->hits, 0);
    atomic_init(&a->misses, 0);
    *out = a;
    return OPC_OK;
}

static void cache_flush_locked(opc__auth *a)
{
    for (size_t i = 0; i < OPC_AUTH_CACHE_SLOTS; i++) {
        if (a->slots[i].used) {
            entry_clear(&a->slots[i]);
        }
    }
}

void opc__auth_free(opc__auth *a)
{
    if (a == NULL) {
        return;
    }
    cache_flush_locked(a);
    opc__free(a->slots);
    opc__wipe(a->T, sizeof a->T);
    pthread_rwlock_destroy(&a->lock);
    pthread_mutex_destroy(&a->unlock_mu);
    opc__free(a);
}

bool opc__auth_unlocked(const opc__auth *a)
{
    return a != NULL && atomic_load(&((opc__auth *)(uintptr_t)a)->unlocked);
}

void opc__auth_lock(opc__auth *a)
{
    if (a == NULL) {
        return;
    }
    pthread_mutex_lock(&a->unlock_mu);
    pthread_rwlock_wrlock(&a->lock);
    cache_flush_locked(a);
    atomic_store(&a->unlocked, false);
    opc__wipe(a->T, sizeof a->T);
    opc_credentials_lock(a->creds);
    pthread_rwlock_unlock(&a->lock);
    pthread_mutex_unlock(&a->unlock_mu);
}

unsigned opc__auth_acl(const opc__auth_token *tok, const char *vault)
{
    if (tok == NULL || vault == NULL) {
        return 0;
    }
    unsigned acl = 0;
    for (size_t i = 0; i < tok->n_vaults; i++) {
        if (strcmp(tok->vaults[i].vault, vault) == 0) {
            acl |= tok->vaults[i].acl;
        }
    }
    return acl;
}

void opc__auth_stats(opc__auth *a, uint64_t *hits, uint64_t *misses)
{
    if (hits != NULL) {
        *hits = a != NULL ? (uint64_t)atomic_load(&a->hits) : 0;
    }
    if (misses != NULL) {
        *misses = a != NULL ? (uint64_t)atomic_load(&a->misses) : 0;
    }
}

const char *opc__auth_reason_name(int reason)
{
    switch (reason) {
    case OPC_AUTH_MISSING:
        return "missing";
    case OPC_AUTH_MULTIPLE:
        return "multiple_headers";
    case OPC_AUTH_SCHEME:
        return "not_bearer";
    case OPC_AUTH_UNKNOWN_JTI:
        return "unknown_jti";
    case OPC_AUTH_REVOKED:
        return "revoked";
    case OPC_AUTH_REGISTRY_EXPIRED:
        return "registry_expired";
    case OPC_AUTH_SECRET:
        return "token_secret";
    default:
        break;
    }
    if (reason > 0 && reason < OPC_JWT_REASON_COUNT) {
        return opc__jwt_reason_name((opc__jwt_reason)reason);
    }
    return "unknown";
}

static opc_err deny(opc__ebuf *eb, int reason, const char *msg)
{
    return opc__fail_reason(eb, OPC_ERR_TOKEN, reason, "%s", msg);
}

/* Extract the token from "Bearer <token>". */
static opc_err bearer(const char *h, const char **tok, size_t *len, opc__ebuf *eb)
{
    static const char scheme[] = "bearer";
    size_t i = 0;
    for (; i < sizeof scheme - 1; i++) {
        if (h[i] == '\0' || opc__to_lower((unsigned char)h[i]) != scheme[i]) {
            return deny(eb, OPC_AUTH_SCHEME, "Authorization is not a Bearer token");
        }
    }
    if (h[i] != ' ') {
        return deny(eb, OPC_AUTH_SCHEME, "Authorization is not a Bearer token");
    }
    while (h[i] == ' ') {
        i++;
    }
    size_t n = strlen(h + i);
    while (n > 0 && opc__is_space((unsigned char)h[i + n - 1])) {
        n--;
    }
    if (n == 0) {
        return deny(eb, OPC_AUTH_SCHEME, "empty bearer token");
    }
    if (n > OPC_JWT_MAX_LEN) {
        return deny(eb, OPC_JWT_TOO_LONG, "bearer token too long");
    }
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)h[i + k];
        if (c <= 0x20 || c >= 0x7f) {
            return deny(eb, OPC_AUTH_SCHEME, "bearer token has invalid characters");
        }
    }
    *tok = h + i;
    *len = n;
    return OPC_OK;
}

static size_t home_slot(const uint8_t key[32])
{
    size_t h = ((size_t)key[0] << 24) | ((size_t)key[1] << 16) | ((size_t)key[2] << 8) | key[3];
    return h & (OPC_AUTH_CACHE_SLOTS - 1);
}

/* The slot holding key, or NULL. Caller holds the lock. */
static entry *find(opc__auth *a, const uint8_t key[32])
{
    size_t h = home_slot(key);
    for (size_t p = 0; p < PROBE; p++) {
        entry *e = &a->slots[(h + p) & (OPC_AUTH_CACHE_SLOTS - 1)];
        if (e->used && CRYPTO_memcmp(e->key, key, 32) == 0) {
            return e;
        }
    }
    return NULL;
}

opc_err opc__auth_set_leeway(opc__auth *a, int64_t seconds)
{
    if (a == NULL || seconds < 0 || seconds > OPC_JWT_LEEWAY_MAX_S) {
        return OPC_ERR_INVALID_ARG;
    }
    a->leeway = seconds;
    return OPC_OK;
}

static bool exp_ok(bool has_exp, int64_t exp, int64_t now, int64_t leeway)
{
    return !has_exp || exp > now - leeway;
}

static void fill_token(opc__auth_token *tok, const char *jti, unsigned features,
                       const opc__jwt_vault *v, size_t n)
{
    memcpy(tok->jti, jti, strlen(jti) + 1);
    tok->features = features;
    tok->n_vaults = n;
    if (n > 0) {
        memcpy(tok->vaults, v, n * sizeof *v);
    }
}

static bool reg_exp_ok(int64_t expires, int64_t now, int64_t leeway)
{
    return expires == 0 || expires > now - leeway;
}

/* Registry check of jti at now; *expires gets the registry's expiry. */
static opc_err registry_check(opc__auth *a, const char *jti, int64_t now, int64_t *expires,
                              opc__ebuf *eb)
{
    *expires = 0;
    opc__token_state st = a->reg.lookup(a->reg.ud, jti, expires);
    if (st == OPC_TOKEN_UNKNOWN) {
        return deny(eb, OPC_AUTH_UNKNOWN_JTI, "token is not in the registry");
    }
    if (st != OPC_TOKEN_ACTIVE) {
        return deny(eb, OPC_AUTH_REVOKED, "token is revoked");
    }
    if (!reg_exp_ok(*expires, now, a->leeway)) {
        return deny(eb, OPC_AUTH_REGISTRY_EXPIRED, "token is expired (registry)");
    }
    return OPC_OK;
}

/* Try the verified-token cache: 1 = served, 0 = miss, <0 = denied (rc in *rc). */
static int cache_try(opc__auth *a, const uint8_t key[32], int64_t now, opc__auth_token *tok,
                     opc_err *rc, opc__ebuf *eb)
{
    uint64_t gen = a->reg.generation(a->reg.ud);
    char jti[65];
    pthread_rwlock_rdlock(&a->lock);
    entry *e = find(a, key);
    if (e == NULL) {
        pthread_rwlock_unlock(&a->lock);
        return 0;
    }
    memcpy(jti, e->jti, sizeof jti);
    if (!exp_ok(e->has_exp, e->exp, now, a->leeway)) {
        pthread_rwlock_unlock(&a->lock);
        memcpy(tok->jti, jti, sizeof jti);
        *rc = deny(eb, OPC_JWT_EXPIRED, "token is expired (exp)");
        return -1;
    }
    /* The registry's expiry holds between generation changes too. */
    if (!reg_exp_ok(e->reg_exp, now, a->leeway)) {
        pthread_rwlock_unlock(&a->lock);
        memcpy(tok->jti, jti, sizeof jti);
        *rc = deny(eb, OPC_AUTH_REGISTRY_EXPIRED, "token is expired (registry)");
        return -1;
    }
    if (e->gen == gen) {
        fill_token(tok, e->jti, e->features, e->vaults, e->n_vaults);
        pthread_rwlock_unlock(&a->lock);
        tok->cache_hit = true;
        return 1;
    }
    pthread_rwlock_unlock(&a->lock);
    /* The registry moved: look the jti up again, outside the lock. */
    int64_t reg_exp = 0;
    opc_err r = registry_check(a, jti, now, &reg_exp, eb);
    pthread_rwlock_wrlock(&a->lock);
    e = find(a, key);
    if (r != OPC_OK) {
        if (e != NULL) {
            entry_clear(e);
        }
        pthread_rwlock_unlock(&a->lock);
        memcpy(tok->jti, jti, sizeof jti);
        *rc = r;
        return -1;
    }
    if (e == NULL) {
        pthread_rwlock_unlock(&a->lock);
        return 0; /* evicted meanwhile: verify from scratch */
    }
    e->gen = gen;
    e->reg_exp = reg_exp;
    fill_token(tok, e->jti, e->features, e->vaults, e->n_vaults);
    pthread_rwlock_unlock(&a->lock);
    tok->cache_hit = true;
    return 1;
}

static void cache_put(opc__auth *a, const uint8_t key[32], const opc__jwt_claims *c,
                      int64_t reg_exp, uint64_t gen)
{
    opc__jwt_vault *v = NULL;
    if (c->n_vaults > 0) {
        v = opc__malloc(c->n_vaults * sizeof *v);
        if (v == NULL) {
            return; /* not cached: the next request verifies again */
        }
        memcpy(v, c->vaults, c->n_vaults * sizeof *v);
    }
    pthread_rwlock_wrlock(&a->lock);
    entry *e = find(a, key);
    if (e == NULL) {
        size_t h = home_slot(key);
        for (size_t p = 0; p < PROBE && e == NULL; p++) {
            entry *s = &a->slots[(h + p) & (OPC_AUTH_CACHE_SLOTS - 1)];
            if (!s->used) {
                e = s;
            }
        }
        if (e == NULL) {
            e = &a->slots[h];
        }
    }
    if (e->used) {
        entry_clear(e);
    }
    e->used = true;
    memcpy(e->key, key, 32);
    memcpy(e->jti, c->jti, sizeof e->jti);
    e->has_exp = c->has_exp;
    e->exp = c->exp;
    e->reg_exp = reg_exp;
    e->gen = gen;
    e->features = c->features;
    e->n_vaults = c->n_vaults;
    e->vaults = v;
    pthread_rwlock_unlock(&a->lock);
}

/* Step 5: T is this server's; unlocks on first use. */
static opc_err check_secret(opc__auth *a, const opc__jwt_claims *c, opc__ebuf *eb)
{
    if (!c->has_token_secret) {
        return deny(eb, OPC_JWT_CLAIM_MISSING, "token has no bearer secret");
    }
    if (!atomic_load(&a->unlocked)) {
        pthread_mutex_lock(&a->unlock_mu);
        opc_err rc = OPC_OK;
        if (!atomic_load(&a->unlocked)) {
            opc__ebuf ueb;
            opc__ebuf_clear(&ueb);
            rc =
                opc__credentials_unlock_ex(a->creds, c->token_secret, sizeof c->token_secret, &ueb);
            if (rc == OPC_OK) {
                memcpy(a->T, c->token_secret, sizeof a->T);
                atomic_store(&a->unlocked, true);
            } else if (rc == OPC_ERR_VERIFIER) {
                rc = deny(eb, OPC_AUTH_SECRET, "token secret does not match this server");
            } else {
                rc = opc__fail(eb, rc, "failed to initiate: %s", ueb.msg);
            }
        }
        pthread_mutex_unlock(&a->unlock_mu);
        if (rc != OPC_OK) {
            return rc;
        }
        /* Unlocked just now, possibly by another token: compare below. */
    }
    if (CRYPTO_memcmp(a->T, c->token_secret, sizeof a->T) != 0) {
        return deny(eb, OPC_AUTH_SECRET, "token secret does not match this server");
    }
    return OPC_OK;
}

opc_err opc__auth_check(opc__auth *a, const char *const *headers, size_t n_headers, int64_t now,
                        opc__auth_token *tok, opc__ebuf *eb)
{
    if (a == NULL || tok == NULL || (headers == NULL && n_headers > 0)) {
        return OPC_ERR_INVALID_ARG;
    }
    tok->jti[0] = '\0';
    tok->n_vaults = 0;
    tok->features = 0;
    tok->cache_hit = false;
    if (n_headers == 0 || headers[0] == NULL) {
        return deny(eb, OPC_AUTH_MISSING, "no Authorization header");
    }
    if (n_headers > 1) {
        return deny(eb, OPC_AUTH_MULTIPLE, "more than one Authorization header");
    }
    const char *text = NULL;
    size_t len = 0;
    opc_err rc = bearer(headers[0], &text, &len, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    uint8_t key[32];
    unsigned int key_len = 0;
    if (EVP_Digest(text, len, key, &key_len, EVP_sha256(), NULL) != 1 || key_len != 32) {
        return opc__fail(eb, OPC_ERR_CRYPTO, "SHA-256 failed");
    }
    if (atomic_load(&a->unlocked)) {
        int r = cache_try(a, key, now, tok, &rc, eb);
        if (r > 0) {
            atomic_fetch_add(&a->hits, 1);
            return OPC_OK;
        }
        if (r < 0) {
            return rc;
        }
    }
    atomic_fetch_add(&a->misses, 1);
    uint64_t gen = a->reg.generation(a->reg.ud);
    int64_t reg_exp = 0;
    opc__jwt_claims *c = opc__malloc(sizeof *c);
    if (c == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc__jwt_expect ex = {
        .keys = a->keys,
        .n_keys = a->n_keys,
        .audience = OPC_JWT_AUDIENCE,
        .sub = a->server_id,
        .auuid = a->account_id,
        .now = now,
        .leeway = a->leeway,
    };
    rc = opc__jwt_verify(text, len, &ex, c, eb);
    if (rc == OPC_OK) {
        memcpy(tok->jti, c->jti, sizeof tok->jti);
        rc = registry_check(a, c->jti, now, &reg_exp, eb);
    } else if (rc != OPC_ERR_NOMEM) {
        rc = OPC_ERR_TOKEN;
    }
    if (rc == OPC_OK) {
        rc = check_secret(a, c, eb);
    }
    if (rc == OPC_OK) {
        fill_token(tok, c->jti, c->features, c->vaults, c->n_vaults);
        cache_put(a, key, c, reg_exp, gen);
    }
    opc__wipe(c, sizeof *c);
    opc__free(c);
    opc__wipe(key, sizeof key);
    return rc;
}
