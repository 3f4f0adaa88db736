/*
 * store/store.h - what the account server (lib/accountd) needs of its
 * storage: many accounts, each read and written on behalf of one of its
 * Connect servers. One interface (a vtable, so that a PostgreSQL store can
 * sit behind it), one backend now: sqlite.c, a directory of account files.
 *
 * Every operation is keyed by (account id, server id) and has exactly the
 * semantics of the upstream's operation of the same name
 * (upstream/upstream.h, the local backend upstream/local.c): the rows are
 * the messages of wire/rows.h, scoped to the server (a row out of its scope
 * is OPC_ERR_NOT_FOUND, a page out of scope is empty: lib/accountd checks
 * the page's vault or item first and answers 404), the writes follow
 * account/import.h. Errors as there: OPC_ERR_NOT_FOUND (also for an account
 * the store does not hold), OPC_ERR_INVALID_ARG, OPC_ERR_RANGE, OPC_ERR_NOMEM,
 * the writes' CONFLICT, EXISTS, PERMISSION, PARSE, TOO_LARGE, and OPC_ERR_IO
 * for everything on the storage's side (unreadable, read-only or busy
 * file). Messages name ids only.
 *
 * Long polls: the store keeps a commit generation per account. A write
 * through the store bumps it and wakes every changes() waiting on that
 * account at once. The account's owner may still write the account file
 * directly (`op`, in this stage), which the store cannot see commit: the
 * SQLite store watches its directory (inotify) and wakes every waiter on a
 * change, and a waiting changes() also reads the feed again every
 * OPC_STORE_POLL_MS (the bound when no watch is possible).
 * opc__store_shutdown() ends every wait, now and later, with an empty page.
 *
 * Thread safety: every operation may be called from any thread at once
 * (the account server serves requests on many threads).
 */
#ifndef OPC_STORE_STORE_H
#define OPC_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/id.h"
#include "crypto/key.h"
#include "internal.h"
#include "wire/proto.h"
#include "wire/rows.h"
#include "wire/rows_rpc.h"

/* Largest page of changes, items or chunks; longest wait of changes(). */
#define OPC_STORE_MAX_LIMIT 10000
#define OPC_STORE_MAX_WAIT_MS 60000
/* How often a waiting changes() reads the feed again (direct file writes). */
#define OPC_STORE_POLL_MS 100

typedef struct opc__store opc__store;

/* What a sign-in needs of an account (docs/protocol.md, "Owner sign-in"). */
typedef struct opc__store_owner {
    char account[OPC_ID_LEN + 1];
    uint8_t srp_salt[OPC_PROTO_SRP_SALT_LEN];
    uint8_t verifier[OPC_PROTO_SRP_LEN];
    uint8_t kdf_salt[OPC_PROTO_SRP_SALT_LEN];
    uint32_t iterations;
} opc__store_owner;

/*
 * The account servers' shared state (docs/postgres.md, "What is kept
 * where"): the sessions, the handshake's seen nonces, the limiters' windows
 * and the owner's pending sign-ins, for a store that several account
 * servers share. lib/accountd seals every secret (session keys, the SRP
 * state) before it reaches these operations and keys the rows by hashes
 * of the session and sign-in ids: the store sees opaque bytes. Times are
 * Unix seconds (sessions) or Unix milliseconds (the rest).
 */
typedef struct opc__store_session {
    int kind; /* accountd's opc__ad_kind */
    char account[OPC_ID_LEN + 1];
    char server[OPC_ID_LEN + 1]; /* "" for the owner */
    int64_t expires;             /* Unix s */
    int64_t idle_s;
    int64_t last_s;        /* last accepted request (get only) */
    uint64_t counter;      /* the last accepted counter (get only) */
    unsigned char *sealed; /* the sealed keys (opc__free after get) */
    size_t sealed_len;
} opc__store_session;

typedef struct opc__store_ops {
    /* OPC_OK when the store holds the account, else OPC_ERR_NOT_FOUND. */
    opc_err (*account)(opc__store *s, const char *account, opc__ebuf *eb);
    /* The device public key of an ACTIVE server of the account
     * (opc__key_free); OPC_ERR_NOT_FOUND for an unknown or deleted one. */
    opc_err (*device_key)(opc__store *s, const char *account, const char *server, opc__key **out,
                          opc__ebuf *eb);
    /* The feed after since as the server sees it, waiting up to wait_ms
     * when nothing is new (upstream changes()). */
    opc_err (*changes)(opc__store *s, const char *account, const char *server, int64_t since,
                       size_t limit, int64_t wait_ms, cJSON **out, int64_t *out_next,
                       opc__ebuf *eb);
    opc_err (*issuer_key)(opc__store *s, const char *account, const char *kid, cJSON **out,
                          opc__ebuf *eb);
    opc_err (*access)(opc__store *s, const char *account, const char *server, const char *vault,
                      cJSON **out, opc__ebuf *eb);
    opc_err (*vault)(opc__store *s, const char *account, const char *server, const char *vault,
                     cJSON **out, opc__ebuf *eb);
    opc_err (*vault_items)(opc__store *s, const char *account, const char *server,
                           const char *vault, const char *after, size_t limit, cJSON **out,
                           opc__ebuf *eb);
    opc_err (*item)(opc__store *s, const char *account, const char *server, const char *item,
                    cJSON **out, opc__ebuf *eb);
    opc_err (*item_files)(opc__store *s, const char *account, const char *server, const char *item,
                          const char *after_file, int64_t after_idx, size_t limit, cJSON **out,
                          opc__ebuf *eb);
    opc_err (*vault_files)(opc__store *s, const char *account, const char *server,
                           const char *vault, const char *after_item, const char *after_file,
                           int64_t after_idx, const char *last_item, size_t limit, cJSON **out,
                           opc__ebuf *eb);
    opc_err (*token)(opc__store *s, const char *account, const char *server, const char *jti,
                     cJSON **out, opc__ebuf *eb);
    opc_err (*item_put)(opc__store *s, const char *account, const char *server,
                        const opc__item_write *w, cJSON **out_item, cJSON **out_vault,
                        opc__ebuf *eb);
    opc_err (*item_delete)(opc__store *s, const char *account, const char *server,
                           const char *vault, const char *item, int64_t expected_version,
                           cJSON **out_item, cJSON **out_vault, opc__ebuf *eb);
    /* The owner's operations (docs/protocol.md, "Owner sign-in"). A new
     * account from a sign-up: OPC_ERR_EXISTS when its email or id is
     * taken. Sign-ups are serialized, so one email gets one account. */
    opc_err (*owner_create)(opc__store *s, const opc__proto_signup *su, opc__ebuf *eb);
    /* The sign-in data of the account of email (lower-case);
     * OPC_ERR_NOT_FOUND for an unknown email or an account without an
     * SRP verifier (wipe *out after use). */
    opc_err (*owner_lookup)(opc__store *s, const char *email, opc__store_owner *out, opc__ebuf *eb);
    /* The account row (opc__proto_account_clear). */
    opc_err (*owner_account)(opc__store *s, const char *account, opc__proto_account *out,
                             opc__ebuf *eb);
    /*
     * The owner's store protocol (docs/protocol.md, "The owner's store
     * protocol"; account/rows.h): a named read (*rows a new JSON array of
     * arrays) and a write batch in one transaction (seqs holds
     * OPC__RPC_MAX_CHANGES; *n_seqs its changes) on the account, which the
     * caller takes from the owner's session, never from the request. The
     * codes stay the owner's: INVALID_ARG (a refused request), CONFLICT (a
     * failed expectation: nothing committed), EXISTS (a unique index),
     * NOT_FOUND (no such account), NOMEM, RANGE, TOO_LARGE, INTERNAL (the
     * statement table and the schema disagree); everything of the
     * storage's side is OPC_ERR_IO. A committed batch wakes the account's
     * waiters.
     */
    opc_err (*owner_read)(opc__store *s, const char *account, const char *name, const cJSON *args,
                          cJSON **rows, opc__ebuf *eb);
    opc_err (*owner_batch)(opc__store *s, const char *account, const opc__rpc_step *steps, size_t n,
                           int64_t *seqs, size_t *n_seqs, opc__ebuf *eb);
    /* The account's commit generation (0 for an unknown account). */
    uint64_t (*generation)(opc__store *s, const char *account);
    /* Wait until the account's generation is no longer gen, timeout_ms
     * passed or the store shut down; true when the generation moved. */
    bool (*wait)(opc__store *s, const char *account, uint64_t gen, int64_t timeout_ms);
    /* How many accounts the store holds, for /health (-1: unknown). */
    int (*count)(opc__store *s);
    /*
     * The shared state (optional: NULL for a store of one machine, whose
     * account server keeps it in memory). Errors of the database are
     * OPC_ERR_IO. key: the row's key (a hash, or a nonce), at most 96
     * bytes of text.
     *
     * session_put keeps a session (a key again replaces it, counter 0).
     * session_get reads a live one (not expired, not idle; NOT_FOUND
     * otherwise). session_use accepts a request's counter in one atomic
     * statement: the session is live and counter is above the last
     * accepted (across every server), then it is recorded with now_s;
     * OPC_ERR_TOKEN when not. session_end deletes it (NOT_FOUND when it
     * was not there).
     */
    opc_err (*session_put)(opc__store *s, const char *key, const opc__store_session *in,
                           int64_t now_s, opc__ebuf *eb);
    opc_err (*session_get)(opc__store *s, const char *key, int64_t now_s, opc__store_session *out,
                           opc__ebuf *eb);
    opc_err (*session_use)(opc__store *s, const char *key, uint64_t counter, int64_t now_s,
                           opc__ebuf *eb);
    opc_err (*session_end)(opc__store *s, const char *key, opc__ebuf *eb);
    /* Remember nonce until expires_ms: OPC_OK when it is not held live,
     * OPC_ERR_EXISTS when it is (a replay). */
    opc_err (*nonce_take)(opc__store *s, const char *nonce, int64_t expires_ms, int64_t now_ms,
                          opc__ebuf *eb);
    /* A fixed window of window_ms per key: count one event (at most
     * limit), or read the end of a window that reached limit (*until_ms 0
     * when the key is not blocked). */
    opc_err (*limit_hit)(opc__store *s, const char *key, int limit, int64_t window_ms,
                         int64_t now_ms, opc__ebuf *eb);
    opc_err (*limit_until)(opc__store *s, const char *key, int limit, int64_t now_ms,
                           int64_t *until_ms, opc__ebuf *eb);
    /* A pending sign-in: kept until expires_ms, taken once (a take
     * deletes it; NOT_FOUND when absent or expired; *sealed opc__free,
     * *expires_ms the row's). */
    opc_err (*pending_put)(opc__store *s, const char *key, const void *sealed, size_t len,
                           int64_t expires_ms, opc__ebuf *eb);
    opc_err (*pending_take)(opc__store *s, const char *key, int64_t now_ms, unsigned char **sealed,
                            size_t *len, int64_t *expires_ms, opc__ebuf *eb);
    /* Delete every expired row of the shared state. */
    opc_err (*state_sweep)(opc__store *s, int64_t now_ms, opc__ebuf *eb);
    /* End every wait, now and later. */
    void (*shutdown)(opc__store *s);
    /* Release everything (no call may be running). */
    void (*close)(opc__store *s);
} opc__store_ops;

struct opc__store {
    const opc__store_ops *ops;
    void *impl;
};

/*
 * The SQLite store: dir holds one account file (`*.db`, the schema of
 * account.db) per account. Files are indexed by the account id inside
 * them; a lookup of an id not indexed scans the directory again, at most
 * once a second. Each account keeps a few open locked handles
 * (opc__account_open_export) for the request threads. dir must exist
 * (OPC_ERR_IO otherwise); an empty directory is a valid, empty store.
 */
opc_err opc__store_sqlite_open(const char *dir, opc__store **out, opc__ebuf *eb);

/*
 * The PostgreSQL store (pg.c, docs/postgres.md): every account in one
 * database, shared by any number of account servers. conninfo: a libpq
 * connection string (TLS to the database by its sslmode, sslrootcert ...
 * keywords); pool: the most connections this process opens (1..64),
 * besides the one that listens for other servers' commits. The schema's
 * migrations are applied first (OPC_ERR_IO when the database cannot be
 * reached, OPC_ERR_UNSUPPORTED when it is newer than this program).
 */
opc_err opc__store_pg_open(const char *conninfo, int pool, opc__store **out, opc__ebuf *eb);

/* Dispatchers: argument checks (ids of OPC_ID_LEN characters, limits
 * 1..OPC_STORE_MAX_LIMIT, wait 0..OPC_STORE_MAX_WAIT_MS), then the backend. */
opc_err opc__store_account(opc__store *s, const char *account, opc__ebuf *eb);
opc_err opc__store_device_key(opc__store *s, const char *account, const char *server,
                              opc__key **out, opc__ebuf *eb);
opc_err opc__store_changes(opc__store *s, const char *account, const char *server, int64_t since,
                           size_t limit, int64_t wait_ms, cJSON **out, int64_t *out_next,
                           opc__ebuf *eb);
opc_err opc__store_issuer_key(opc__store *s, const char *account, const char *kid, cJSON **out,
                              opc__ebuf *eb);
opc_err opc__store_access(opc__store *s, const char *account, const char *server, const char *vault,
                          cJSON **out, opc__ebuf *eb);
opc_err opc__store_vault(opc__store *s, const char *account, const char *server, const char *vault,
                         cJSON **out, opc__ebuf *eb);
opc_err opc__store_vault_items(opc__store *s, const char *account, const char *server,
                               const char *vault, const char *after, size_t limit, cJSON **out,
                               opc__ebuf *eb);
opc_err opc__store_item(opc__store *s, const char *account, const char *server, const char *item,
                        cJSON **out, opc__ebuf *eb);
opc_err opc__store_item_files(opc__store *s, const char *account, const char *server,
                              const char *item, const char *after_file, int64_t after_idx,
                              size_t limit, cJSON **out, opc__ebuf *eb);
opc_err opc__store_vault_files(opc__store *s, const char *account, const char *server,
                               const char *vault, const char *after_item, const char *after_file,
                               int64_t after_idx, const char *last_item, size_t limit, cJSON **out,
                               opc__ebuf *eb);
opc_err opc__store_token(opc__store *s, const char *account, const char *server, const char *jti,
                         cJSON **out, opc__ebuf *eb);
opc_err opc__store_item_put(opc__store *s, const char *account, const char *server,
                            const opc__item_write *w, cJSON **out_item, cJSON **out_vault,
                            opc__ebuf *eb);
opc_err opc__store_item_delete(opc__store *s, const char *account, const char *server,
                               const char *vault, const char *item, int64_t expected_version,
                               cJSON **out_item, cJSON **out_vault, opc__ebuf *eb);
opc_err opc__store_owner_create(opc__store *s, const opc__proto_signup *su, opc__ebuf *eb);
opc_err opc__store_owner_lookup(opc__store *s, const char *email, opc__store_owner *out,
                                opc__ebuf *eb);
opc_err opc__store_owner_account(opc__store *s, const char *account, opc__proto_account *out,
                                 opc__ebuf *eb);
opc_err opc__store_owner_read(opc__store *s, const char *account, const char *name,
                              const cJSON *args, cJSON **rows, opc__ebuf *eb);
opc_err opc__store_owner_batch(opc__store *s, const char *account, const opc__rpc_step *steps,
                               size_t n, int64_t *seqs, size_t *n_seqs, opc__ebuf *eb);
uint64_t opc__store_generation(opc__store *s, const char *account);
bool opc__store_wait(opc__store *s, const char *account, uint64_t gen, int64_t timeout_ms);
int opc__store_count(opc__store *s);
void opc__store_shutdown(opc__store *s);
/* Close and free; NULL is a no-op. */
void opc__store_close(opc__store *s);

#endif
