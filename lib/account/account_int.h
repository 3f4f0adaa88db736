/*
 * account/account_int.h - internals of the account store (<opconnect/account.h>).
 *
 * The design (schema, keys, AADs, signed strings, change feed) is described
 * at the top of schema.c. This header is shared by the files of lib/account:
 *
 *   schema.c   the schema, its migrations, opening the SQLite file
 *   store.c    column helpers, the change log, read-only calls that show JSON,
 *              shared crypto helpers (SQL and transactions: core/sqlite.h)
 *   owner.c    create / open / unlock / close, the owner keyset
 *   session.c  unlocked sessions (session files)
 *   vault.c    vaults, vault keys and grants
 *   item.c     items
 *   file.c     file attachments and documents
 *   server.c   Connect servers
 *   token.c    Connect tokens: minting
 *   token_registry.c  the token registry: JSON, list, lookup, rename, revoke
 *   feed.c     the change feed (feed.h)
 *   export.c   the rows a Connect server mirrors (export.h)
 *   server_write.c  item writes by a Connect server (import.h)
 *   rows.c, rows_local.c, rows_call.c  the owner's store protocol (rows.h):
 *              named reads and write batches, the only way converted
 *              modules (token.c, token_registry.c, server.c so far) reach the rows
 */
#ifndef OPC_ACCOUNT_ACCOUNT_INT_H
#define OPC_ACCOUNT_ACCOUNT_INT_H

#include <stdarg.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include <opconnect/account.h>

#include "account/rows.h"
#include "core/err.h"
#include "core/id.h"
#include "core/sqlite.h"
#include "crypto/key.h"
#include "crypto/twoskd.h"
#include "internal.h"

/* Schema version written by this library (PRAGMA user_version). */
#define OPC_ACCOUNT_SCHEMA_VERSION 3
/* PRAGMA application_id of account files ("OPCA"). */
#define OPC_ACCOUNT_APPLICATION_ID 0x4f504341
/* SQLite busy timeout, in milliseconds. */
#define OPC_ACCOUNT_BUSY_TIMEOUT_MS 5000
/* Chunk size of file attachments. */
#define OPC_ACCOUNT_CHUNK_SIZE (64u * 1024u)

/* Size limits on names (bytes of UTF-8). */
#define OPC_ACCOUNT_MAX_NAME 255
#define OPC_ACCOUNT_MAX_DESCRIPTION 4096
#define OPC_ACCOUNT_MAX_EMAIL 254

/* Kinds of the change log (feed.h). */
#define OPC_CHANGE_ISSUER_KEY "issuer_key"
#define OPC_CHANGE_VAULT_CREATE "vault_create"
#define OPC_CHANGE_VAULT_UPDATE "vault_update"
#define OPC_CHANGE_VAULT_DELETE "vault_delete"
#define OPC_CHANGE_GRANT "grant"
#define OPC_CHANGE_GRANT_REVOKE "grant_revoke"
#define OPC_CHANGE_ITEM_UPSERT "item_upsert"
#define OPC_CHANGE_ITEM_DELETE "item_delete"
#define OPC_CHANGE_FILE_ADD "file_add"
#define OPC_CHANGE_SERVER_CREATE "server_create"
#define OPC_CHANGE_SERVER_UPDATE "server_update"
#define OPC_CHANGE_SERVER_DELETE "server_delete"
#define OPC_CHANGE_TOKEN_CREATE "token_create"
#define OPC_CHANGE_TOKEN_UPDATE "token_update"
#define OPC_CHANGE_TOKEN_REVOKE "token_revoke"

/* An unwrapped vault key, cached on the handle while it is unlocked. */
typedef struct opc__vault_key {
    char vault[OPC_ID_LEN + 1];
    int64_t sn;
    opc__key *key; /* oct, kid = vault id */
} opc__vault_key;

struct opc_account {
    opc__db *db;
    opc__rows *rows; /* the store protocol on db (rows.h; closed before db) */
    char path[4096]; /* absolute path of the file */
    char id[OPC_ID_LEN + 1];
    char *email;
    char skid[8];
    char keyset_id[OPC_ID_LEN + 1];
    char issuer_kid[OPC_ID_LEN + 1];
    uint8_t salt[OPC_2SKD_SALT_LEN];
    uint32_t iterations;
    uint32_t min_iterations; /* the floor this handle enforces */
    /* Unlocked state (all NULL / zero while locked). */
    bool unlocked;
    uint8_t auk[32];
    opc__key *sym;      /* owner's symmetric key (oct) */
    opc__key *rsa;      /* owner's RSA private key (unwraps vault keys) */
    opc__key *sign;     /* owner's P-256 private key (kid = issuer_kid) */
    opc__key *sign_pub; /* its public half (verifies grants and server keys) */
    opc__key *rsa_pub;  /* owner's RSA public key (wraps vault keys to the owner) */
    opc__vault_key *vkeys;
    size_t n_vkeys;
    size_t cap_vkeys;
    char *address; /* a remote handle's account server (remote.c); NULL: a file */
    /* Its key's pin (RFC 7638), from the MAC'd account row: the default
     * upstream pin of a Connect server made through it; "" when unknown. */
    char server_pin[64];
    char errmsg[OPC_ERRBUF_SIZE];
};

/* ---- session.c: the session files, local (session.c) and remote (remote.c) ---- */

/* Create the session directory (0700) when missing. */
opc_err opc__acct_session_dir(const char *dir, opc__ebuf *eb);
/* Read a session file (at most 8 KiB; OPC_ERR_NOT_FOUND when missing). */
opc_err opc__acct_session_load(const char *path, const char *dir, char **out, size_t *out_len,
                               opc__ebuf *eb);
/* Write a session file atomically, mode 0600. */
opc_err opc__acct_session_store(const char *dir, const char *path, const char *text, size_t len,
                                opc__ebuf *eb);
/* owner.c: a lower-cased copy of a plausible email address. */
opc_err opc__acct_normalize_email(const char *email, char **out, opc__ebuf *eb);

/* ---- schema.c ---- */

/*
 * Make the new, empty file of a an account file, in ONE write transaction:
 * the schema (the store's own SQL: tables, migrations, pragmas), then b, the
 * account's first rows (owner.c's batch of named statements, run through
 * a->rows as a savepoint inside it). Nothing is committed when either fails.
 */
opc_err opc__acct_schema_create(opc_account *a, opc__rows_batch *b, opc__ebuf *eb);
/* Check application_id and user_version; migrate an older schema. */
opc_err opc__acct_schema_check(opc_account *a, opc__ebuf *eb);
/* Open the SQLite file (must exist): busy timeout, foreign_keys, secure_delete. */
opc_err opc__acct_db_open(opc_account *a, const char *path, opc__ebuf *eb);
/* Switch to (or confirm) WAL journal mode; only after the file proved to be an account. */
opc_err opc__acct_db_wal(opc_account *a, opc__ebuf *eb);

/* ---- SQL: core/sqlite.h on the handle's file ---- */

/* Map a SQLite result code to an opc_err with "<what>: <message>" (core/sqlite.h). */
#define opc__acct_sqlerr(a, rc, what, eb) opc__db_err((a)->db, (rc), (what), (eb))
#define opc__acct_prepare(a, sql, st, eb) opc__db_prepare((a)->db, (sql), (st), (eb))
/*
 * The handle's statement table (export.c's row reads, prepared once per
 * handle): opc__acct_stmt gives statement id ready to bind; the caller ends
 * with opc__db_done(), never finalize.
 */
typedef enum opc__acct_export_id {
    OPC__AX_ISSUER_KEY,
    OPC__AX_ACCESS,
    OPC__AX_VAULT,
    OPC__AX_ITEM,
    OPC__AX_VAULT_ITEMS,
    OPC__AX_ITEM_FILES,
    OPC__AX_VAULT_FILES,
    OPC__AX_VAULT_ROW,
    OPC__AX_ITEM_ROW,
    OPC__AX_TOKEN,
    OPC__AX_DEVICE_KEY,
    OPC__ACCT_EXPORT_N
} opc__acct_export_id;
extern const char *const opc__acct_export_sql[OPC__ACCT_EXPORT_N];
#define opc__acct_stmt(a, id, st, eb) opc__db_stmt((a)->db, (size_t)(id), (st), (eb), "")
/* Bind by a format string ('t', 'i', 'b', 'n': opc__db_bind). */
#define opc__acct_bind(a, st, eb, ...) opc__db_bind((a)->db, (st), (eb), __VA_ARGS__)
/* Step: *row true for SQLITE_ROW, false for SQLITE_DONE; anything else is an error. */
#define opc__acct_step(a, st, row, eb) opc__db_step((a)->db, (st), (row), (eb))
/* Prepare and bind a one-off statement (the caller steps and finalizes it). */
#define opc__acct_query(a, st, eb, ...) opc__db_query((a)->db, (st), (eb), __VA_ARGS__)
/* Prepare, bind and step once: *row whether there is a row (the caller finalizes). */
#define opc__acct_query_row(a, st, row, eb, ...)                                                   \
    opc__db_query_row((a)->db, (st), (row), (eb), __VA_ARGS__)
/* Prepare, bind, step to DONE and finalize. *changed (may be NULL) gets the rows changed. */
#define opc__acct_run(a, changed, eb, ...) opc__db_run_sql((a)->db, (changed), (eb), __VA_ARGS__)
/* One-row integer query; *found false (and *out untouched) when no row. */
#define opc__acct_query_int(a, found, out, eb, ...)                                                \
    opc__db_query_int((a)->db, (found), (out), (eb), __VA_ARGS__)
/* Execute SQL text without parameters. */
#define opc__acct_exec(a, sql, eb) opc__db_exec((a)->db, (sql), (eb))
/* Transactions: BEGIN IMMEDIATE (write) or BEGIN (read), not nested. */
#define opc__acct_begin(a, write, eb) opc__db_begin((a)->db, (write), (eb))
#define opc__acct_rollback(a) opc__db_rollback((a)->db)
/* Commit when rc is OPC_OK, else roll back; returns the final code. */
#define opc__acct_end(a, rc, eb) opc__db_end((a)->db, (rc), (eb))

/* ---- store.c: columns ---- */

/* Text column or "" (borrowed; valid until the next step). */
const char *opc__acct_col_str(sqlite3_stmt *st, int col);

/* ---- store.c: change log ---- */

typedef struct opc__change {
    const char *kind; /* OPC_CHANGE_* */
    const char *vault;
    const char *item;
    const char *file;
    const char *server;
    const char *jti;
    const char *kid;
    int64_t version; /* 0: none */
} opc__change;

/*
 * Append a change (change.append, at time at) to a batch (rows.h); returns
 * k, its index among the batch's changes: later arguments name its seq with
 * the placeholder 'q' k.
 */
int opc__acct_batch_change(opc__rows_batch *b, const opc__change *c, int64_t at);

/* ---- store.c: shared helpers ---- */

/* Finish a public call: record eb's message (or the code's text) on the handle. */
opc_err opc__acct_finish(opc_account *a, opc_err rc, const opc__ebuf *eb);
/* OPC_ERR_LOCKED unless unlocked. */
opc_err opc__acct_need_unlocked(const opc_account *a, opc__ebuf *eb);

/* What a public call needs of the handle. */
typedef enum opc__acct_state {
    OPC__ACCT_ANY,      /* locked or not, a file or an account server */
    OPC__ACCT_UNLOCKED, /* unlocked, a file or an account server */
    OPC__ACCT_FILE,     /* an account file (the call runs on it, not through rows.h) */
} opc__acct_state;
/*
 * Start a public call: clear eb and the outputs given (either may be NULL),
 * then OPC_ERR_INVALID_ARG ("missing argument") unless args_ok, and
 * OPC_ERR_LOCKED unless the handle is unlocked when need is
 * OPC__ACCT_UNLOCKED. A NULL handle is OPC_ERR_INVALID_ARG, its outputs
 * untouched. End the call with opc__acct_finish(a, rc, eb) whatever this
 * returned. Inline so that the static analyzer sees, in each caller, that
 * OPC_OK means the arguments were checked.
 */
static inline opc_err opc__acct_enter(opc_account *a, opc__acct_state need, bool args_ok,
                                      char **out_json, opc_secret **out_secret, opc__ebuf *eb)
{
    opc__ebuf_clear(eb);
    if (a == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (out_json != NULL) {
        *out_json = NULL;
    }
    if (out_secret != NULL) {
        *out_secret = NULL;
    }
    if (!args_ok) {
        (void)opc__fail(eb, OPC_ERR_INVALID_ARG, "missing argument");
        return OPC_ERR_INVALID_ARG; /* literally, for the analyzer */
    }
    if (need == OPC__ACCT_FILE ? a->db == NULL : a->rows == NULL) {
        /* A remote handle (remote.c) reaches its store through a->rows
         * (remote_rows.c); a call on the file itself has no such path. */
        (void)opc__fail(eb, OPC_ERR_UNSUPPORTED,
                        "account %s is on an account server: this works on an account file only",
                        a->id);
        return OPC_ERR_UNSUPPORTED;
    }
    return need == OPC__ACCT_UNLOCKED ? opc__acct_need_unlocked(a, eb) : OPC_OK;
}
/* What a read-only public call does inside its transaction: fill *out_json (ref may be NULL). */
typedef opc_err (*opc__acct_show_fn)(opc_account *a, const char *ref, char **out_json,
                                     opc__ebuf *eb);
/* Resolve a reference (name or id) to an id, inside a transaction. */
typedef opc_err (*opc__acct_resolve_fn)(opc_account *a, const char *ref, char id[OPC_ID_LEN + 1],
                                        opc__ebuf *eb);
/*
 * A read-only public call that fills *out_json: opc__acct_enter (unlocked;
 * out_json, and ref when there is a resolve function, must be given), then
 * in a read transaction fn(ref), or with resolve fn(the id ref resolves to),
 * and opc__acct_finish.
 */
opc_err opc__acct_show(opc_account *a, const char *ref, opc__acct_resolve_fn resolve,
                       char **out_json, opc__acct_show_fn fn);
/* One object's JSON by its id. */
typedef opc_err (*opc__acct_json_fn)(opc_account *a, const char *id, cJSON **out, opc__ebuf *eb);
/* Print fn's object for id into *out_json. */
opc_err opc__acct_print_json(opc_account *a, const char *id, opc__acct_json_fn fn, char **out_json,
                             opc__ebuf *eb);
/*
 * Step st (NULL: nothing) to its end and print, as a JSON array into
 * *out_json, fn's object for the id in column 0 of each row. Finalizes st.
 */
opc_err opc__acct_print_ids(opc_account *a, sqlite3_stmt *st, opc__acct_json_fn fn, char **out_json,
                            opc__ebuf *eb);
/* A human-readable name/label check: non-empty, valid UTF-8, no control characters,
 * at most max bytes. `what` names it in the message. */
opc_err opc__acct_check_name(const char *s, size_t max, const char *what, opc__ebuf *eb);
/* Timestamps of the API (RFC 3339, whole seconds, Z). */
opc_err opc__acct_add_time(cJSON *obj, const char *key, int64_t unix_s);
/* lastEditedBy: the upper-cased server id, or with server "" or NULL the account id upper-cased. */
void opc__acct_editor(const opc_account *a, const char *server, char out[OPC_ID_LEN + 1]);

/* Seal plaintext bytes / a JSON tree under an oct key; *out is the envelope's JSON text. */
opc_err opc__acct_seal(const opc__key *k, const char *aad, const void *pt, size_t len, char **out);
opc_err opc__acct_seal_json(const opc__key *k, const char *aad, const cJSON *pt, char **out);
/*
 * Open an envelope stored as JSON text. Any failure other than NOMEM is
 * OPC_ERR_DECRYPT (a stored ciphertext that does not open was tampered with
 * or moved), with `what` in the message.
 */
opc_err opc__acct_open(const opc__key *k, const char *aad, const char *env_text, const char *what,
                       opc_secret **out, opc__ebuf *eb);
opc_err opc__acct_open_json(const opc__key *k, const char *aad, const char *env_text,
                            const char *what, cJSON **out, opc__ebuf *eb);
/* Key <-> JWK text (public or with private parts). Private text: opc__secret_free_str. */
opc_err opc__acct_jwk_text(const opc__key *k, bool include_private, char **out);
/* Sign msg with the owner's key; *out is b64url of the raw 64-byte signature. */
opc_err opc__acct_sign(opc_account *a, const char *msg, char **out);
/* Verify a b64url signature by the owner's key over msg (OPC_ERR_SIGNATURE). */
opc_err opc__acct_verify(opc_account *a, const char *msg, const char *sig_b64, const char *what,
                         opc__ebuf *eb);
/* b64url(SHA-256(data)) into out[44]. */
opc_err opc__acct_hash_b64(const void *data, size_t len, char out[44]);

/* ---- owner.c ---- */

/*
 * TEST HOOK (internal, not exported): create an account with any iteration
 * count >= 1, skipping the OPC_ACCOUNT_MIN_ITERATIONS floor; the handle
 * enforces min_iterations as its floor instead. Production code and the
 * public API never lower the floor; only unit tests call this.
 */
opc_err opc__account_create_ex(const char *path, const char *email, const char *password,
                               uint32_t iterations, uint32_t min_iterations, opc_account **out,
                               opc_secret **out_secret_key, opc__ebuf *eb);
/* TEST HOOK: open with another floor (see opc__account_create_ex). */
opc_err opc__account_open_ex(const char *path, uint32_t min_iterations, opc_account **out,
                             opc__ebuf *eb);
/* Open the keyset with an Account Unlock Key (unlock and session unlock). */
opc_err opc__acct_unlock_auk(opc_account *a, const uint8_t auk[32], opc__ebuf *eb);
/* Wipe the unlocked state. */
void opc__acct_lock(opc_account *a);

/* ---- vault.c (store protocol: rows.h) ---- */

/* Attempts of a vault call whose batch met a concurrent change (OPC_ERR_CONFLICT). */
#define OPC__VAULT_TRIES 3
/* The most server grants one vault deletion revokes (its batch: a guard, a
 * grant_revoke per server, vault_delete and the row). */
#define OPC__VAULT_MAX_SERVER_GRANTS (OPC__RPC_MAX_PLAIN_STEPS - 3)
/* Resolve a vault by id or name (named reads; inside the caller's
 * transaction while it holds one). */
opc_err opc__acct_vault_resolve(opc_account *a, const char *ref, char id[OPC_ID_LEN + 1],
                                opc__ebuf *eb);
/* The vault's key (cached; verified grant), borrowed until close. */
opc_err opc__acct_vault_key(opc_account *a, const char *vault_id, const opc__key **key, int64_t *sn,
                            opc__ebuf *eb);
/* The vault's decrypted name (opc__free). */
opc_err opc__acct_vault_name(opc_account *a, const char *vault_id, char **name, opc__ebuf *eb);
/* Append {"id", "name", "access"} (name, access: left out when NULL) to arr: a vault as a
 * server's or a token's JSON lists it. */
opc_err opc__acct_vault_entry(cJSON *arr, const char *vault_id, const char *name,
                              const char *access);
/*
 * Content changed, as a step of the caller's batch: contentVersion + 1,
 * items + delta, updatedAt = now, seq = the batch's k-th change
 * (vault.touch, expecting 1: the vault still exists).
 */
void opc__acct_vault_touch_step(opc__rows_batch *b, const char *vault_id, int delta_items,
                                int64_t now, int k);
/*
 * Wrap the vault key to an accessor's RSA public key and sign the grant
 * (granted = now): *enc the wrapped key (b64url), *sig the owner's
 * signature (opc__free both).
 */
opc_err opc__acct_grant_seal(opc_account *a, const char *vault_id, int64_t sn, const opc__key *vk,
                             const char *accessor_type, const char *accessor_id,
                             const opc__key *accessor_pub, unsigned acl, int64_t now, char **enc,
                             char **sig, opc__ebuf *eb);
/*
 * Seal a grant (opc__acct_grant_seal) and append to the caller's batch the
 * step that inserts (or replaces) its vault_access row with the seq of the
 * batch's k-th change (vault.grant_put, expecting 1).
 */
opc_err opc__acct_grant_add(opc_account *a, opc__rows_batch *b, const char *vault_id, int64_t sn,
                            const opc__key *vk, const char *accessor_type, const char *accessor_id,
                            const opc__key *accessor_pub, unsigned acl, int64_t now, int k,
                            opc__ebuf *eb);
/* Forget a cached vault key. */
void opc__acct_vault_key_drop(opc_account *a, const char *vault_id);

/* ---- server.c ---- */

/* Resolve an active server by id or name (named reads). */
opc_err opc__acct_server_resolve(opc_account *a, const char *ref, char id[OPC_ID_LEN + 1],
                                 opc__ebuf *eb);
/* Whether the server holds a grant for the vault. */
opc_err opc__acct_server_has_vault(opc_account *a, const char *server_id, const char *vault_id,
                                   bool *granted, opc__ebuf *eb);
/* The server's bearer secret T (32 bytes), from its sealed record. Wipe after use. */
opc_err opc__acct_server_secret(opc_account *a, const char *server_id, uint8_t T[32],
                                opc__ebuf *eb);
/*
 * Log grant_revoke for each server grant of vault_id, or of server_id (the
 * other NULL), in vault then server order, as steps of the caller's batch
 * b: one read of the grants, a grant_revoke change per grant added to b
 * (at time now); *n the grants (what the batch's deletion of their rows
 * must change).
 */
opc_err opc__acct_server_grants_gone_steps(opc_account *a, opc__rows_batch *b, const char *vault_id,
                                           const char *server_id, int64_t now, size_t *n,
                                           opc__ebuf *eb);
/* Attempts of a server call whose batch met a concurrent change (OPC_ERR_CONFLICT). */
#define OPC__SERVER_TRIES 3
/* A vault's key wrapped to an accessor and the owner's signature on the
 * grant, ready for a batch (vault_access's columns). */
typedef struct opc__grant_sealed {
    char vault[OPC_ID_LEN + 1];
    int64_t sn; /* the serial of the key wrapped */
    unsigned acl;
    int64_t granted;
    char *enc_key; /* b64url of the wrapped key */
    char *sig;     /* b64url of the owner's signature */
} opc__grant_sealed;
/*
 * Wrap the vault's current key (opc__acct_vault_key) to an accessor's RSA
 * public key and sign the grant at time now (opc__acct_grant_seal): the
 * compute half of a grant, with no write, for a batch built later. Free
 * with opc__acct_grant_sealed_free.
 */
opc_err opc__acct_grant_prepare(opc_account *a, const char *vault_id, const char *accessor_type,
                                const char *accessor_id, const opc__key *accessor_pub, unsigned acl,
                                int64_t now, opc__grant_sealed *out, opc__ebuf *eb);
void opc__acct_grant_sealed_free(opc__grant_sealed *g);
/* ---- token.c, token_registry.c (store protocol: rows.h) ---- */

/* Attempts of a token call whose batch met a concurrent change (OPC_ERR_CONFLICT). */
#define OPC__TOKEN_TRIES 3
/* The registry JSON of a token row (token.get's columns, rows.c) into *out. */
opc_err opc__acct_token_print_row(opc_account *a, const cJSON *row, char **out, opc__ebuf *eb);
/* OPC_ERR_EXISTS when another active token of the server (self: NULL or the
 * token being renamed) has the name, ASCII case-insensitively. */
opc_err opc__acct_token_name_free(opc_account *a, const char *server_id, const char *name,
                                  const char *self, opc__ebuf *eb);
/*
 * Add to b (server delete's batch) the revocation of every active token of a
 * server, each a token_revoke change and token.revoke at the seq read, then
 * a guard that no active token of the server is left (none was created
 * meanwhile). One read of the tokens.
 */
opc_err opc__acct_tokens_revoke_steps(opc_account *a, opc__rows_batch *b, const char *server_id,
                                      int64_t now, opc__ebuf *eb);

/* ---- export.c ---- */

/*
 * Inside the caller's transaction, without a scope check: the item row (in
 * any state; a deleted item has null overview and details) and the vault
 * row, in export.h's shape. OPC_ERR_NOT_FOUND when there is no such row.
 */
opc_err opc__acct_export_item_row(opc_account *a, const char *item_id, cJSON **out, opc__ebuf *eb);
opc_err opc__acct_export_vault_row(opc_account *a, const char *vault_id, cJSON **out,
                                   opc__ebuf *eb);

/* ---- item.c / file.c (store protocol: rows.h) ---- */

/* Attempts of an item call whose batch met a concurrent change (a conflict
 * committed nothing: the call reads again and decides again). */
#define OPC__ITEM_TRIES 3

/* Resolve an active item by id or title in a vault (named reads). */
opc_err opc__acct_item_resolve(opc_account *a, const char *vault_id, const char *ref,
                               char id[OPC_ID_LEN + 1], opc__ebuf *eb);
/* Version, timestamps and last editor of a stored item. */
typedef struct opc__item_meta {
    int64_t version;
    int64_t created;
    int64_t updated;
    char editor[OPC_ID_LEN + 1]; /* the Connect server of the last change; "" the owner */
    int64_t seq;                 /* the row's seq when it was read (its version in a batch) */
} opc__item_meta;

/* OPC_ERR_RANGE when an expected version is negative (0: any). */
opc_err opc__acct_item_check_expected(int64_t expected_version, opc__ebuf *eb);
/*
 * The item a call starts from (named reads): resolve the vault and the item
 * by reference, load it (opc__acct_item_load); OPC_ERR_CONFLICT when
 * expected_version (0: any) is not its version.
 */
opc_err opc__acct_item_find(opc_account *a, const char *vault, const char *item,
                            int64_t expected_version, char vault_id[OPC_ID_LEN + 1],
                            char item_id[OPC_ID_LEN + 1], cJSON **full, opc__item_meta *meta,
                            opc__ebuf *eb);

/* Load an item as a full tree (overview joined with details), with its metadata. */
opc_err opc__acct_item_load(opc_account *a, const char *vault_id, const char *item_id, cJSON **full,
                            opc__item_meta *meta, opc__ebuf *eb);
/* An item's parts, already sealed under the vault key (serial key_sn). */
typedef struct opc__sealed_item {
    const char *vault_id;
    const char *item_id;
    int64_t key_sn;
    const char *overview; /* envelope JSON text */
    const char *details;  /* envelope JSON text */
    const char *editor;   /* the writing Connect server's id; NULL: the owner */
} opc__sealed_item;

/*
 * Append an item write to a batch: a guard that the vault is still sealed
 * under it->key_sn, item_upsert, the insert (version 1) when is_new, else
 * the update of the row read at (version, seq) (it becomes version + 1),
 * and the vault touch. Returns the index of its change.
 */
int opc__acct_item_batch_write(opc__rows_batch *b, const opc__sealed_item *it, bool is_new,
                               int64_t version, int64_t seq, int64_t now);
/*
 * Append an item delete to a batch: item_delete, the tombstone of the row
 * read at (version, seq) (version + 1, state deleted, no ciphertext), the
 * removal of its n_chunks file chunks, the vault touch. editor as above.
 */
void opc__acct_item_batch_tombstone(opc__rows_batch *b, const char *vault_id, const char *item_id,
                                    int64_t version, int64_t seq, const char *editor,
                                    int64_t n_chunks, int64_t now);

/* An owner's write of a full item (opc__acct_item_put). */
typedef struct opc__item_put {
    const char *vault_id;
    const char *item_id;
    bool is_new;
    int64_t version; /* update: the row read (meta.version, meta.seq) */
    int64_t seq;
    const char *file_id; /* a file added by this write: logs file_add after it; NULL none */
} opc__item_put;

/*
 * Seal full under the vault key, make the output (*out, from a copy: full
 * is left as it is), append the write to b (which may hold steps already:
 * chunks) and run b. meta gets the written version, now and the owner as
 * editor. *stale: the batch met a concurrent change (nothing committed).
 */
opc_err opc__acct_item_put(opc_account *a, opc__rows_batch *b, const opc__item_put *p,
                           const cJSON *full, opc__item_meta *meta, int64_t now, opc_secret **out,
                           bool *stale, opc__ebuf *eb);
/* The item as the API shows it (id, vault, version, times, lastEditedBy;
 * presented). full is changed. */
opc_err opc__acct_item_output(opc_account *a, const char *vault_id, const char *item_id,
                              cJSON *full, const opc__item_meta *meta, opc_secret **out,
                              opc__ebuf *eb);
/* A file chunk upload (file.c): what was committed ahead of the item's batch. */
typedef struct opc__file_upload {
    char item_id[OPC_ID_LEN + 1];
    char file_id[OPC_ID_LEN + 1];
    int64_t committed; /* chunks written by batches of their own (a large file) */
} opc__file_upload;

/*
 * Encrypt data as a new file of the item: a file entry with its key is
 * appended to full["files"]; the chunk inserts of the last (or only) group
 * of OPC__FILE_BATCH_CHUNKS go into b, the item's batch, earlier groups run
 * as batches of their own; all of them go into b when one_batch (a new
 * item: its chunks cannot precede its row) (docs/protocol.md, "Files").
 * The caller appends the item write to b (logging file_add) and on any
 * failure calls opc__acct_file_abandon.
 */
#define OPC__FILE_BATCH_CHUNKS 64
opc_err opc__acct_file_add(opc_account *a, opc__rows_batch *b, bool one_batch, const char *item_id,
                           cJSON *full, const char *name, const char *section_id, const void *data,
                           size_t len, opc__file_upload *up, opc__ebuf *eb);
/* Delete the chunks an upload committed ahead of a batch that failed. */
void opc__acct_file_abandon(opc_account *a, opc__file_upload *up);
/* Remove internal members of file entries (keys, chunk layout) before output. */
void opc__acct_files_strip(cJSON *full);
/* Set content_path on every file entry. */
opc_err opc__acct_files_paths(cJSON *full, const char *vault_id, const char *item_id);

#endif
