/*
 * accountd/accountd.h - the parts of op-account-server's HTTPS face
 * (docs/protocol.md, "The network protocol") that need no socket, so that
 * unit tests reach them: the session table, the handshake's seen-nonce
 * set, the limit on failed handshakes per client address, the strict
 * query parser and the router; and the interface that keeps the first
 * three (and the owner's pending sign-ins) either in those tables or in
 * the database of a store that several servers share (opc__ad_state,
 * state.c). server.c puts them behind civetweb
 * (<opconnect/account_server.h>).
 *
 * Every table is bounded and guards itself with a mutex: civetweb serves
 * requests on many threads. Refusals carry their reason in eb for the log
 * only; the client always gets the uniform 401 of the protocol.
 */
#ifndef OPC_ACCOUNTD_ACCOUNTD_H
#define OPC_ACCOUNTD_ACCOUNTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <opconnect/account_server.h>

#include "core/err.h"
#include "core/id.h"
#include "crypto/key.h"
#include "internal.h"
#include "store/store.h"
#include "wire/proto.h"

/* ---- sessions (docs/protocol.md, "Connect-server sessions") ---- */

/* Sessions held at once; a new one beyond evicts the least recently used. */
#define OPC_AD_MAX_SESSIONS 16384

typedef struct opc__ad_sessions opc__ad_sessions;

/*
 * The two kinds of session, checked by the one code path of
 * opc__ad_sessions_check: a Connect server's (ECDH handshake, /v1/connect/,
 * OPC_PROTO_SESSION_TTL_S and _IDLE_S) and the owner's (SRP sign-in,
 * /v1/owner/, OPC_PROTO_OWNER_TTL_S and _IDLE_S). A session calls the
 * endpoints of its own kind only.
 */
typedef enum opc__ad_kind { OPC_AD_KIND_CONNECT = 1, OPC_AD_KIND_OWNER = 2 } opc__ad_kind;

/* What a verified request is made on behalf of. */
typedef struct opc__ad_auth {
    char sid[OPC_PROTO_NONCE_B64 + 1];
    char account[OPC_ID_LEN + 1];
    char server[OPC_ID_LEN + 1]; /* "" for the owner */
    opc__ad_kind kind;
    uint64_t counter;
    opc__proto_keys keys; /* wipe with opc__ad_auth_clear */
} opc__ad_auth;

opc_err opc__ad_sessions_create(size_t max, opc__ad_sessions **out);
void opc__ad_sessions_free(opc__ad_sessions *t); /* wipes every key; NULL ok */
/* Keep a new session (now_s: Unix seconds; it lives until expires or
 * its kind's idle limit unused). Expired and idle sessions go first;
 * when still full, the least recently used one. server is a Connect
 * server's id, or "" for an owner session. */
opc_err opc__ad_sessions_add(opc__ad_sessions *t, const char *sid, opc__ad_kind kind,
                             const char *account, const char *server, const opc__proto_keys *k,
                             int64_t expires, int64_t now_s);
/* End a session at once (the owner's sign-out); false when it was not held. */
bool opc__ad_sessions_end(opc__ad_sessions *t, const char *sid);
/*
 * Check a request of a session: the session exists, is of the kind the
 * endpoint wants (0: either, for a path that does not exist) and is neither expired nor idle,
 * counter is above the last accepted, mac is the request's MAC over (method, target, body). Only
 * then is the counter recorded and the session touched; *out gets its ids and keys. Any refusal is
 * OPC_ERR_TOKEN with the reason in eb (for the log).
 */
opc_err opc__ad_sessions_check(opc__ad_sessions *t, const char *sid, opc__ad_kind kind,
                               uint64_t counter, const char *method, const char *target,
                               const void *body, size_t body_len, const char *mac, int64_t now_s,
                               opc__ad_auth *out, opc__ebuf *eb);
/* Whether sid names a live session of kind (0: either): a cheap check
 * before a request's body is read (a request of no session is refused
 * without reading it, and a body above OPC_PROTO_MAX_REQUEST is read for a
 * live owner session only). The MAC is checked after the read. */
bool opc__ad_sessions_live(opc__ad_sessions *t, const char *sid, opc__ad_kind kind, int64_t now_s);
/* Sessions held (expired ones included until they are swept). */
size_t opc__ad_sessions_count(opc__ad_sessions *t);
/* The ids, kind and keys of a live session of sid (no counter check, no
 * MAC: the shared state's cache of keys, state.c); touches it (its idle
 * time restarts). false when it is not held or dead. */
bool opc__ad_sessions_peek(opc__ad_sessions *t, const char *sid, int64_t now_s, opc__ad_auth *out);
void opc__ad_auth_clear(opc__ad_auth *a);

/* ---- the seen-nonce set of the handshake ---- */

/* Nonces remembered at once; a handshake beyond is refused (fail closed). */
#define OPC_AD_MAX_NONCES 65536
/* How long a nonce is remembered: the whole span of timestamps accepted. */
#define OPC_AD_NONCE_TTL_MS (2 * (int64_t)OPC_PROTO_SKEW_MS)

typedef struct opc__ad_nonces opc__ad_nonces;

opc_err opc__ad_nonces_create(size_t max, opc__ad_nonces **out);
void opc__ad_nonces_free(opc__ad_nonces *n);
/* Record nonce (now_ms: monotonic); OPC_OK when it was not seen within
 * OPC_AD_NONCE_TTL_MS, OPC_ERR_EXISTS for a replay, OPC_ERR_TOO_LARGE when
 * the set is full of live nonces. */
opc_err opc__ad_nonce_take(opc__ad_nonces *n, const char *nonce, int64_t now_ms);

/* ---- failed handshakes per client address ---- */

/* Failures per address and window before the address gets 429. */
#define OPC_AD_FAIL_LIMIT 20
#define OPC_AD_FAIL_WINDOW_MS 60000
/* Addresses tracked (a direct-mapped table: a new address may take the
 * slot of an old one). */
#define OPC_AD_LIMIT_SLOTS 4096

/* The owner's limits: failed sign-ins per client address and per account
 * (email), and sign-ups per address (in this process's limiters, or in the
 * database a PostgreSQL store shares: opc__ad_state below). */
#define OPC_AD_OWNER_FAIL_LIMIT 10
#define OPC_AD_OWNER_FAIL_WINDOW_MS ((int64_t)5 * 60 * 1000)
#define OPC_AD_SIGNUP_LIMIT 10
#define OPC_AD_SIGNUP_WINDOW_MS ((int64_t)60 * 60 * 1000)

typedef struct opc__ad_limiter opc__ad_limiter;

/* A limiter of OPC_AD_FAIL_LIMIT per OPC_AD_FAIL_WINDOW_MS (handshakes). */
opc_err opc__ad_limiter_create(opc__ad_limiter **out);
/* A limiter of limit events per window_ms; keys up to 63 bytes (longer
 * keys, such as emails, are hashed by the caller). */
opc_err opc__ad_limiter_create_ex(int limit, int64_t window_ms, opc__ad_limiter **out);
void opc__ad_limiter_free(opc__ad_limiter *l);
/* 0 when addr may try a handshake; else the seconds until it may again. */
int opc__ad_limiter_blocked(opc__ad_limiter *l, const char *addr, int64_t now_ms);
/* Count a failed handshake of addr. */
void opc__ad_limiter_fail(opc__ad_limiter *l, const char *addr, int64_t now_ms);

/* ---- the data directory's files (keyfiles.c) ---- */

#define OPC_AD_PATH_CAP 4096

/* out = dir/name (OPC_ERR_INVALID_ARG when too long). */
opc_err opc__ad_join(char out[OPC_AD_PATH_CAP], const char *dir, const char *name, opc__ebuf *eb);
/* The server key of dir (server-key.jwk), made when missing. */
opc_err opc__ad_server_key(const char *dir, opc__key **out, opc__ebuf *eb);
/* Its pin (RFC 7638 thumbprint of the public key, b64url). */
opc_err opc__ad_pin_of(const opc__key *k, char out[OPC_PROTO_HASH_B64 + 1]);
/* The owner secret of dir (32 bytes), made when missing. */
opc_err opc__ad_owner_secret(const char *dir, uint8_t out[32], opc__ebuf *eb);

/* ---- held long polls (server.c) ---- */

/* Workers kept from long polls: threads / 8, at least this many; the
 * Retry-After of a refused poll (s); the interval of its warning (ms). */
#define OPC_AD_POLL_RESERVE_MIN 8
#define OPC_AD_POLL_RETRY_S 1
#define OPC_AD_POLL_WARN_MS 10000

/* ---- routes and queries ---- */

typedef enum opc__ad_route {
    OPC_AD_NONE = 0,          /* no such path: 404 */
    OPC_AD_HEARTBEAT,         /* GET /heartbeat */
    OPC_AD_HEALTH,            /* GET /health */
    OPC_AD_SESSION,           /* POST /v1/connect/session */
    OPC_AD_CHANGES,           /* GET /v1/connect/changes */
    OPC_AD_ISSUER_KEY,        /* GET /v1/connect/issuer-keys/{kid} */
    OPC_AD_ACCESS,            /* GET /v1/connect/access/{vault} */
    OPC_AD_VAULT,             /* GET /v1/connect/vaults/{vault} */
    OPC_AD_VAULT_ITEMS,       /* GET /v1/connect/vaults/{vault}/items */
    OPC_AD_VAULT_FILES,       /* GET /v1/connect/vaults/{vault}/files */
    OPC_AD_ITEM,              /* GET /v1/connect/items/{item} */
    OPC_AD_ITEM_FILES,        /* GET /v1/connect/items/{item}/files */
    OPC_AD_TOKEN,             /* GET /v1/connect/tokens/{jti} */
    OPC_AD_ITEM_PUT,          /* PUT /v1/connect/vaults/{vault}/items/{item} */
    OPC_AD_ITEM_DELETE,       /* DELETE /v1/connect/vaults/{vault}/items/{item} */
    OPC_AD_OWNER_SIGNUP,      /* POST /v1/owner/signup (no session) */
    OPC_AD_OWNER_AUTH_START,  /* POST /v1/owner/auth/start (no session) */
    OPC_AD_OWNER_AUTH_VERIFY, /* POST /v1/owner/auth/verify (no session) */
    OPC_AD_OWNER_SIGNOUT,     /* POST /v1/owner/signout */
    OPC_AD_OWNER_ACCOUNT,     /* GET /v1/owner/account */
    OPC_AD_OWNER_ROWS_READ,   /* POST /v1/owner/rows/read */
    OPC_AD_OWNER_ROWS_BATCH   /* POST /v1/owner/rows/batch */
} opc__ad_route;

/* The kind of session a route needs (0: none). */
opc__ad_kind opc__ad_route_kind(opc__ad_route r);

/* A matched request: the route and its path ids (valid ids only). */
typedef struct opc__ad_match {
    opc__ad_route route;
    bool bad_method; /* the path exists, the method does not: 405 */
    char id1[OPC_ID_LEN + 1];
    char id2[OPC_ID_LEN + 1];
} opc__ad_match;

/*
 * Route a request by its method and raw path (no query). A path segment
 * that should be an id and is not one is OPC_ERR_INVALID_ARG (400); a path
 * the protocol does not have is OPC_OK with route OPC_AD_NONE.
 */
opc_err opc__ad_route_match(const char *method, const char *path, opc__ad_match *out,
                            opc__ebuf *eb);

/* The query parameters of a route (a parameter absent is NULL / default). */
typedef struct opc__ad_query {
    int64_t since, limit, wait_ms, after_idx, expected_version;
    char after[OPC_ID_LEN + 1], after_item[OPC_ID_LEN + 1], after_file[OPC_ID_LEN + 1],
        last_item[OPC_ID_LEN + 1];
} opc__ad_query;

/* Default page size of a paged endpoint without `limit`. */
#define OPC_AD_DEFAULT_LIMIT 1000

/*
 * Parse the raw query string (NULL or "": none) of a route strictly: only
 * the route's parameters, each at most once, ids valid, integers in range
 * (since >= 0, limit 1..OPC_STORE_MAX_LIMIT, wait 0..60000, after_idx >= -1,
 * expected_version >= 0), last_item required for vault files. Anything
 * else is OPC_ERR_INVALID_ARG or OPC_ERR_RANGE naming the parameter (400).
 */
opc_err opc__ad_query_parse(opc__ad_route route, const char *qs, opc__ad_query *out, opc__ebuf *eb);

/* ---- the owner's pending sign-ins (docs/protocol.md, "Owner sign-in") ---- */

/* Sign-ins between auth/start and auth/verify held at once; a new one
 * beyond replaces the oldest. */
#define OPC_AD_MAX_PENDING 4096

typedef struct opc__ad_pending opc__ad_pending;

/* What a pending sign-in keeps: the SRP state (owned), the client's A,
 * the account ("" for an unknown email: the fake path), the limiter key. */
typedef struct opc__ad_signin {
    char account[OPC_ID_LEN + 1];
    char email_key[OPC_PROTO_HASH_B64 + 1];
    uint8_t A[OPC_PROTO_SRP_LEN];
    struct opc__srp_server *srp;
} opc__ad_signin;

opc_err opc__ad_pending_create(size_t max, opc__ad_pending **out);
void opc__ad_pending_free(opc__ad_pending *p);
/* Keep in (its srp moves into the table, in is wiped) under a fresh id
 * (b64url of 16 random bytes) for OPC_PROTO_OWNER_PENDING_S. */
opc_err opc__ad_pending_add(opc__ad_pending *p, opc__ad_signin *in, int64_t now_ms,
                            char id[OPC_PROTO_NONCE_B64 + 1]);
/* Take the sign-in of id out of the table (one use: a second take is
 * OPC_ERR_NOT_FOUND, as is an expired one). The caller frees out->srp. */
opc_err opc__ad_pending_take(opc__ad_pending *p, const char *id, int64_t now_ms,
                             opc__ad_signin *out);
void opc__ad_signin_clear(opc__ad_signin *s);

/*
 * The answer for an email the server does not hold, the same shape as a
 * real one: the SRP salt, the 2SKD salt and a verifier derived from the
 * server's secret (32 bytes) and the email, so that asking twice gives the
 * same salts (as for a real account). Costs the one modexp of v = g^x,
 * which the server runs for known emails too.
 */
opc_err opc__ad_owner_fake(const uint8_t secret[32], const char *email,
                           uint8_t srp_salt[OPC_PROTO_SRP_SALT_LEN],
                           uint8_t kdf_salt[OPC_PROTO_SRP_SALT_LEN],
                           uint8_t verifier[OPC_PROTO_SRP_LEN], opc__ebuf *eb);
/* The limiter key of an email: b64url(SHA-256("email" LF email)). */
opc_err opc__ad_email_key(const char *email, char out[OPC_PROTO_HASH_B64 + 1]);
/* The server's checks of a sign-up beyond the decoder's: the 2SKD
 * algorithm and iteration floor, the public keys are public JWKs of the
 * right types, the envelopes are JSON objects, the verifier is in range. */
opc_err opc__ad_signup_check(const opc__proto_signup *su, opc__ebuf *eb);

/* ---- where the state lives (state.c; docs/postgres.md, "What is kept where") ---- */

/*
 * The sessions, the seen nonces, the limiters and the pending sign-ins of
 * an account server, behind one interface with two homes:
 *   - in memory (opc__ad_state_memory): the tables above, for a server
 *     alone on its store (SQLite: one machine);
 *   - in the store's database (opc__ad_state_shared), for a store that
 *     several account servers share (PostgreSQL): a request may land on
 *     any of them and a restart signs nobody out. Every operation is one
 *     atomic statement there (store.h, "the shared state"); a request's
 *     counter is accepted across every server at once. Session keys and
 *     the SRP state are sealed (AES-256-GCM under a key derived from the
 *     server key, which every server of one database shares, bound to
 *     their row) and the rows are keyed by SHA-256 of the session and
 *     sign-in ids, so that the database holds neither a usable session
 *     nor a sign-in's secret. Each server caches the keys of the sessions
 *     it saw (they never change): a request costs the one UPDATE of its
 *     counter; the first request of a session on a server reads the row
 *     once more.
 * The semantics are those of the tables above, with one difference: a
 * shared state counts every time on the wall clock (Unix ms: the servers'
 * clocks must agree, as for the handshake's timestamps), the memory one
 * on the monotonic clock for nonces, limiters and pending sign-ins
 * (opc__ad_state_clock_ms gives the right one). A database error is
 * OPC_ERR_IO (a check: the request fails; a limiter: not counted, logged).
 */
typedef struct opc__ad_state opc__ad_state;

/* The limiters: failed handshakes per address; the owner's failed
 * sign-ins per address and per email (key: opc__ad_email_key); sign-ups
 * per address. */
typedef enum opc__ad_limit {
    OPC_AD_LIMIT_HANDSHAKE = 0,
    OPC_AD_LIMIT_OWNER_ADDR,
    OPC_AD_LIMIT_OWNER_EMAIL,
    OPC_AD_LIMIT_SIGNUP,
    OPC_AD_LIMIT_COUNT
} opc__ad_limit;

/* How often a shared state sweeps the expired rows (at most). */
#define OPC_AD_SWEEP_MS 60000

opc_err opc__ad_state_memory(opc__ad_state **out);
/* store must have the shared state's operations (else OPC_ERR_UNSUPPORTED);
 * seal_key: 32 bytes (opc__ad_state_seal_key). store stays the caller's. */
opc_err opc__ad_state_shared(opc__store *store, const uint8_t seal_key[32], opc__ad_state **out);
void opc__ad_state_free(opc__ad_state *st); /* NULL ok */
/* The sealing key of the shared state: HKDF-SHA256 of the server key's
 * private scalar, info "opconnect/accountd-state/v1". */
opc_err opc__ad_state_seal_key(const opc__key *server_key, uint8_t out[32]);
bool opc__ad_state_is_shared(const opc__ad_state *st);
/* The clock of nonces, limiters and pending sign-ins (see above). */
int64_t opc__ad_state_clock_ms(const opc__ad_state *st);

/* As opc__ad_sessions_add / _check / _end / _live. */
opc_err opc__ad_state_session_add(opc__ad_state *st, const char *sid, opc__ad_kind kind,
                                  const char *account, const char *server, const opc__proto_keys *k,
                                  int64_t expires, int64_t now_s, opc__ebuf *eb);
opc_err opc__ad_state_session_check(opc__ad_state *st, const char *sid, opc__ad_kind kind,
                                    uint64_t counter, const char *method, const char *target,
                                    const void *body, size_t body_len, const char *mac,
                                    int64_t now_s, opc__ad_auth *out, opc__ebuf *eb);
/* End: OPC_OK, OPC_ERR_NOT_FOUND when it was not held, OPC_ERR_IO when
 * the database failed (the session may still live: say so). */
opc_err opc__ad_state_session_end(opc__ad_state *st, const char *sid, opc__ebuf *eb);
bool opc__ad_state_session_live(opc__ad_state *st, const char *sid, opc__ad_kind kind,
                                int64_t now_s);
/* As opc__ad_nonce_take (OPC_ERR_IO: the database failed). */
opc_err opc__ad_state_nonce_take(opc__ad_state *st, const char *nonce, int64_t now_ms);
/* As opc__ad_limiter_blocked / _fail, for limiter which. */
int opc__ad_state_blocked(opc__ad_state *st, opc__ad_limit which, const char *key, int64_t now_ms);
void opc__ad_state_fail(opc__ad_state *st, opc__ad_limit which, const char *key, int64_t now_ms);
/* As opc__ad_pending_add / _take. */
opc_err opc__ad_state_pending_add(opc__ad_state *st, opc__ad_signin *in, int64_t now_ms,
                                  char id[OPC_PROTO_NONCE_B64 + 1]);
opc_err opc__ad_state_pending_take(opc__ad_state *st, const char *id, int64_t now_ms,
                                   opc__ad_signin *out);
/* Delete the expired rows of a shared state now (also done on its own,
 * at most every OPC_AD_SWEEP_MS); OPC_OK for a memory one. */
opc_err opc__ad_state_sweep(opc__ad_state *st, opc__ebuf *eb);

/* ---- the owner's large bodies (server.c) ---- */

/*
 * Bodies above OPC_PROTO_MAX_REQUEST (owner batches, up to
 * OPC_PROTO_MAX_OWNER_BATCH) read at once: one more is 503 with
 * Retry-After, unread, so that the server never holds more than this many
 * of them whatever the number of threads.
 */
#define OPC_AD_MAX_LARGE_BODIES 2
#define OPC_AD_LARGE_RETRY_S 2

/* Tests: the server's state, to add sessions by hand. */
opc__ad_state *opc__accountd_state(opc_accountd *s);

#endif
