/*
 * view/auth.h - bearer-token authentication of connect-api requests.
 *
 * opc__auth_check() runs the validation pipeline of security-model §2.5 on
 * the Authorization header(s) of a request, in this order, stopping at the
 * first failure with OPC_ERR_TOKEN (401) and a distinct, secret-free reason
 * in eb (logged with the jti when it is known, never with the token):
 *
 *  1. exactly one Authorization header, "Bearer " (scheme case-insensitive)
 *     followed by at most OPC_JWT_MAX_LEN bytes of token text without
 *     white space;
 *  2. the verified-token cache (below) is consulted; on a hit steps 3-5
 *     are skipped;
 *  3. opc__jwt_verify() with the credentials' pinned issuer keys (outer
 *     layer), aud com.1password.connect, sub = this server's id, auuid =
 *     this account's id, now and the leeway (OPC_JWT_LEEWAY_S unless
 *     opc__auth_set_leeway changed it);
 *  4. the jti is in the synced token registry, active and not expired
 *     (registry callback);
 *  5. the token's bearer secret T (1password.com/token) is this server's:
 *     while locked, opc_credentials_unlock(T) checks it against the
 *     verifier and opens the inner layer (the first valid token unlocks the
 *     server); once unlocked, T must equal the unlocking T (CRYPTO_memcmp).
 *
 * Verified-token cache. Keyed by SHA-256 of the token text, a fixed table of
 * OPC_AUTH_CACHE_SLOTS entries (bounded memory; collisions replace). Each
 * entry holds the jti, the exp, the registry's expiry of the jti, the vault
 * scopes, the features (1password.com/fts) and the registry generation at
 * which the jti was last found active. A hit is valid when neither the
 * token's exp nor the registry's expiry has passed (> now - leeway, as the
 * verifier) and the registry generation is unchanged; when the generation
 * moved, the jti is looked up again (one in-memory lookup), so a revoked or
 * deleted token fails as soon as the registry change is seen (the api polls
 * the cache every OPC_API_POLL_MS). Locking the server empties the cache.
 *
 * Thread safety: opc__auth_check may run concurrently on any threads
 * (a rwlock guards the cache, a mutex the unlock).
 */
#ifndef OPC_VIEW_AUTH_H
#define OPC_VIEW_AUTH_H

#include <opconnect/credentials.h>

#include "core/err.h"
#include "crypto/jwt.h"
#include "internal.h"

#define OPC_AUTH_CACHE_SLOTS 4096

/* Reasons in eb->reason for OPC_ERR_TOKEN (besides opc__jwt_reason values,
 * which are below 100). */
enum {
    OPC_AUTH_MISSING = 100,    /* no Authorization header */
    OPC_AUTH_MULTIPLE,         /* more than one */
    OPC_AUTH_SCHEME,           /* not "Bearer <token>" */
    OPC_AUTH_UNKNOWN_JTI,      /* jti not in the registry */
    OPC_AUTH_REVOKED,          /* jti revoked */
    OPC_AUTH_REGISTRY_EXPIRED, /* registry row expired */
    OPC_AUTH_SECRET            /* T does not match this server */
};

/* The registry as the api sees it. */
typedef enum opc__token_state {
    OPC_TOKEN_UNKNOWN = 0,
    OPC_TOKEN_ACTIVE = 1,
    OPC_TOKEN_REVOKED = 2
} opc__token_state;

typedef struct opc__auth_registry {
    void *ud;
    /* Current generation: changes whenever the registry may have changed. */
    uint64_t (*generation)(void *ud);
    /* State and expiry (Unix s, 0 = none) of jti. */
    opc__token_state (*lookup)(void *ud, const char *jti, int64_t *expires);
} opc__auth_registry;

/* The authenticated token of a request. */
typedef struct opc__auth_token {
    char jti[65];
    size_t n_vaults;
    opc__jwt_vault vaults[OPC_JWT_MAX_VAULTS];
    unsigned features; /* OPC_JWT_FT_* bits of its 1password.com/fts */
    bool cache_hit;    /* served from the verified-token cache */
} opc__auth_token;

typedef struct opc__auth opc__auth;

/* creds: parsed (outer layer open), borrowed for the object's life; the
 * object unlocks it. reg is copied. The object starts locked even when creds
 * is already unlocked: the first valid token's T is checked against the
 * verifier and becomes the T later tokens must carry. */
opc_err opc__auth_create(opc_credentials *creds, const opc__auth_registry *reg, opc__auth **out);
void opc__auth_free(opc__auth *a);

/* Clock skew allowed on the token's exp, nbf and iat and on the registry's
 * expiry, 0 to OPC_JWT_LEEWAY_MAX_S seconds (OPC_ERR_INVALID_ARG else);
 * OPC_JWT_LEEWAY_S by default. Before the first opc__auth_check. */
opc_err opc__auth_set_leeway(opc__auth *a, int64_t seconds);

/*
 * Authenticate: headers[0..n_headers) are the values of every Authorization
 * header of the request. OPC_OK fills *tok; OPC_ERR_TOKEN for any auth
 * failure (eb->reason as above; tok->jti set when known); other codes are
 * internal errors (500).
 */
opc_err opc__auth_check(opc__auth *a, const char *const *headers, size_t n_headers, int64_t now,
                        opc__auth_token *tok, opc__ebuf *eb);

/* Whether a token unlocked the credentials. Any thread. */
bool opc__auth_unlocked(const opc__auth *a);

/* Lock again: wipe T, lock the credentials, empty the token cache. */
void opc__auth_lock(opc__auth *a);

/* ACL bits the token grants on vault (0 when not in its vts). */
unsigned opc__auth_acl(const opc__auth_token *tok, const char *vault);

/* Counters (for tests and debug logs). */
void opc__auth_stats(opc__auth *a, uint64_t *hits, uint64_t *misses);

/* A short name for an auth reason (jwt reasons included), for logs. */
const char *opc__auth_reason_name(int reason);

#endif
