/*
 * cache/cache.h - the Connect server's local cache, 1password.sqlite.
 *
 * connect-sync writes it (lib/sync); connect-api reads it (lib/view) and
 * writes its own item writes through to it (opc__cache_write_through); the
 * two may be separate processes sharing the file. It holds ciphertext exactly as
 * received from the upstream plus non-secret metadata (security-model §3.7):
 * no plaintext, no key that is not wrapped.
 *
 * File. The daemons use $XDG_DATA_HOME/.op/data/1password.sqlite (default
 * ~/.op/data; opc__cache_default_path builds it; the library never reads
 * the environment). OPC_CACHE_CREATE creates the parent directory (0700,
 * with its parents) and the file (0600); the -wal and -shm files are
 * chmod'ed to 0600 too. Pragmas: journal_mode=WAL, secure_delete=ON,
 * temp_store=MEMORY, foreign_keys=OFF (deletes are explicit), busy_timeout
 * OPC_CACHE_BUSY_TIMEOUT_MS. PRAGMA application_id = OPC_CACHE_APPLICATION_ID
 * ("OPCC", distinct from account.db's "OPCA"); user_version is the schema
 * version, migrated upwards on open by a writer.
 *
 * Tables (all STRICT):
 *   meta          one row: server_id, account_id, cursor (feed seq applied),
 *                 initial_sync_complete, sync health (last_attempt_ms,
 *                 last_success_ms, last_error, failures), change_seq,
 *                 gone_floor (see "Changes"), seal (see "Verified rows")
 *   issuer_keys   kid, jwk (public JWK text), seq, mac
 *   vault_access  vault_id PK, key_sn, enc_key (b64url RSA-OAEP wrapped vault
 *                 key for this server), acl, granted (Unix s), grant_sig, seq,
 *                 mac
 *   vaults        id PK, type, key_sn, attrs (envelope text), attr_version,
 *                 content_version, items, created, updated (Unix s), seq
 *   items         id PK, vault_id, version, state ('active'), key_sn, overview
 *                 (envelope text), details (envelope text), created, updated
 *                 (Unix s), last_edited_by, seq, lseq (see "Changes")
 *   files         (file_id, idx) PK, item_id, vault_id, blob (ciphertext||tag)
 *   tokens        jti PK, server_id, name, scopes (JSON text [{"u","a"}]),
 *                 created, expires (Unix s; 0 = none), state
 *                 ('active'|'revoked'), updated, seq, mac
 *   gone          lseq, vault_id, id of deleted item rows (see "Changes")
 * `seq` is the upstream change sequence of the row's last change, as
 * received (0 when unknown).
 *
 * Transactions. Writers group changes with opc__cache_begin(c, true) ...
 * opc__cache_commit(); a sync page's last rows and its cursor go in ONE
 * transaction (sync/sync.h), never held across a fetch from the upstream.
 * Readers that need a consistent snapshot over several calls may wrap them
 * in opc__cache_begin(c, false) ... opc__cache_commit(). Calls outside a
 * transaction run in SQLite's implicit one.
 *
 * Change detection. opc__cache_data_version() returns PRAGMA data_version:
 * it changes when ANOTHER connection (another handle or process) commits,
 * so a reader can poll it cheaply (no I/O) and refresh its in-memory state.
 * (A write-through made on the reader's own handle would not move it: write
 * through a separate handle.)
 *
 * Changes. Item rows carry a local change number: every insert, update or
 * delete of an item row (whoever makes it, in whatever transaction) takes
 * the next number of meta.change_seq, the row's `lseq` column holds the
 * number of its last put, and a deleted row leaves (lseq, vault_id, id) in
 * the `gone` table. SQL triggers keep them, so no writer can forget. A
 * reader that has seen everything up to number N reads what changed since
 * in one read transaction: opc__cache_items_changed_foreach(N) and
 * opc__cache_gone_foreach(N), applying the gone ids first, then the rows
 * (a row deleted and put again is listed in both). Gone rows are kept for
 * OPC_CACHE_GONE_KEEP numbers; meta.gone_floor tells up to where they were
 * pruned, and a reader with N < gone_floor must read everything again.
 * Vaults, grants and tokens are a few rows each and carry no number: a
 * reader reads them again whenever PRAGMA data_version moved.
 *
 * Monotonic rows. Item and vault rows reach the cache from two writers that
 * race: connect-sync applies rows it fetched from the upstream (maybe a
 * little earlier), connect-api writes through the rows its upstream write
 * returned. Upstream versions only grow, so a row's versions order it in
 * time, and every writer keeps the newer row:
 *   item   stored iff no row with its id is cached or the cached version is
 *          <= the row's (equal versions are the same upstream state, so
 *          writing again is harmless: the sync replaying an item_upsert after
 *          the write-through changes nothing);
 *   vault  stored iff no row is cached or neither attr_version nor
 *          content_version is lower than cached (two rows of one vault taken
 *          at different times are ordered in both counters at once: each
 *          change of the vault row bumps one of them);
 *   delete an item deleted at tombstone version V goes (with its file chunks)
 *          unless the cache holds a version > V (it never does today: a
 *          deleted id is never reused; the rule keeps deletes and puts alike).
 * So an older row applied late can never roll back a newer one. A vault or
 * item dropped for scope (grant revoked, item gone upstream) is dropped
 * unconditionally: scope is not versioned. The rule assumes the upstream
 * never goes back in time: after restoring account.db from a backup, reset
 * the cache (delete the file) so it is mirrored afresh.
 *
 * Write handles. The sync opens the file OPC_CACHE_CREATE; connect-api
 * opens separate OPC_CACHE_WRITE handles for write-through (WAL, so its
 * readers never block; busy timeout OPC_CACHE_BUSY_TIMEOUT_MS, so a write
 * waits for a sync page's transaction rather than failing). One thread per
 * handle: API threads use a handle each or a pool.
 *
 * Verified rows. The rows that decide access - issuer_keys, tokens,
 * vault_access - and the server state in meta (server_id, account_id,
 * feed_cursor, initial_sync_complete) are bound to this Connect server:
 * a handle given the server's cache key (opc__cache_set_key; derived from
 * the credentials, opc__credentials_cache_key, and never written
 * anywhere) stores with every such row mac = HMAC-SHA256(key, the table,
 * the row's key and every column, seq included), and in meta.seal an
 * HMAC over the server state and the (key, mac) of every such row
 * (cache_mac.c gives the bytes). Every write of those rows or of that
 * state marks the transaction, and its commit seals it again (a keyed
 * write outside a transaction runs in one of its own), so no writer can
 * forget. A keyed handle's readers hand out only rows whose MAC holds
 * (the others are skipped: a token that fails is unknown, a grant that
 * fails is no grant); opc__cache_verify() checks the seal and every row
 * and names the rows that fail. A row edited, copied from another
 * server's cache, rolled back to an older MAC of its own, deleted or
 * added, or the cursor moved, fails the seal; the readers then trust no
 * row of those tables (connect-api: every token is unknown, 401) and
 * connect-sync syncs the cache again from the start. A whole file rolled
 * back to an older copy that this server sealed is consistent and passes:
 * the sync resumes from its older cursor and applies the revocations made
 * since (until it has, the older registry answers). A handle without a
 * key (tools, tests, connect-api's write-through handles, which write no
 * such row) neither writes MACs nor checks them.
 *
 * Errors: OPC_ERR_INVALID_ARG, OPC_ERR_NOMEM, OPC_ERR_NOT_FOUND (missing
 * file or row), OPC_ERR_PARSE (not a cache file), OPC_ERR_UNSUPPORTED (newer
 * schema), OPC_ERR_IO (SQLite or file system failure), with a secret-free
 * message in eb.
 *
 * Thread safety: one thread per handle at a time (the handle caches prepared
 * statements). Open one handle per thread, or serialize.
 */
#ifndef OPC_CACHE_CACHE_H
#define OPC_CACHE_CACHE_H

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/id.h"
#include "internal.h"
#include "wire/rows.h"

/* PRAGMA application_id of cache files ("OPCC"). */
#define OPC_CACHE_APPLICATION_ID 0x4f504343
/* Schema version written by this library (PRAGMA user_version). */
#define OPC_CACHE_SCHEMA_VERSION 3
/* SQLite busy timeout, in milliseconds. */
#define OPC_CACHE_BUSY_TIMEOUT_MS 5000
/* File name inside the data directory. */
#define OPC_CACHE_FILE_NAME "1password.sqlite"
/* Changes for which deleted item ids are kept (see "Changes" above). */
#define OPC_CACHE_GONE_KEEP 100000
/* Longest last_error kept in meta, in bytes. */
#define OPC_CACHE_MAX_ERROR 255

typedef struct opc__cache opc__cache;

/* Open modes. */
typedef enum opc__cache_mode {
    OPC_CACHE_READ = 0,   /* read-only; the file must exist and be a cache (schema current) */
    OPC_CACHE_WRITE = 1,  /* read-write; the file must exist; migrates an older schema */
    OPC_CACHE_CREATE = 2, /* read-write; creates directory and file if missing; migrates */
} opc__cache_mode;

/*
 * "<xdg_data_home>/.op/data/1password.sqlite", or with xdg_data_home NULL or
 * empty "<home>/.op/data/1password.sqlite". *out: opc__free. OPC_ERR_INVALID_ARG
 * when both are NULL/empty or the path would exceed PATH_MAX.
 */
opc_err opc__cache_default_path(const char *xdg_data_home, const char *home, char **out,
                                opc__ebuf *eb);

/* Open (see modes). A missing file in READ/WRITE mode is OPC_ERR_NOT_FOUND. */
opc_err opc__cache_open(const char *path, opc__cache_mode mode, opc__cache **out, opc__ebuf *eb);
/* Finalize statements and close. NULL is a no-op. */
void opc__cache_close(opc__cache *c);
/*
 * The most memory, in KiB (1-1048576), this handle's own page cache may
 * hold (PRAGMA cache_size = -kib; SQLite's default is 2000 KiB per
 * connection). For handles kept in numbers, such as connect-api's pool.
 */
opc_err opc__cache_set_page_cache_kib(opc__cache *c, int kib, opc__ebuf *eb);

/*
 * The file under a running handle (issue 15; docs/decisions.md, "The cache
 * lost while running"). A handle keeps the file it opened, whatever happens
 * to the path: deleted, the handle goes on reading and writing a file no one
 * else will see; replaced, it never sees the new one. So the daemons ask:
 *
 * opc__cache_moved: the path no longer names the handle's file (deleted, the
 *   directory removed, or another file in its place): SQLite's
 *   SQLITE_FCNTL_HAS_MOVED, one stat of the path against the open file's
 *   inode. No SQL.
 * opc__cache_file_check: opc__cache_moved, then the first bytes of the file
 *   at the path must still be an SQLite header (a file truncated or
 *   overwritten in place keeps its inode). OPC_OK; OPC_ERR_NOT_FOUND "cache
 *   file <path> was deleted" (the file or its directory); OPC_ERR_PARSE
 *   "... was replaced by another file" / "... was truncated or overwritten";
 *   OPC_ERR_IO when the path cannot be looked at. Two stats and a 16-byte
 *   read through SQLite's own descriptor (opening the file again would
 *   drop SQLite's POSIX locks when closed).
 * opc__cache_damaged: the last SQLite failure on the handle was
 *   SQLITE_CORRUPT or SQLITE_NOTADB (damage inside the file, found by a read).
 * opc__cache_full: the last SQLite failure on the handle was SQLITE_FULL
 *   (the disk, or a quota, had no room for a write; ask right after it).
 * opc__cache_close_lost: opc__cache_close for a handle whose file was lost:
 *   without the checkpoint SQLite makes when the last handle on a file
 *   closes, which would copy the lost file's pages back over a file
 *   overwritten in place (its header readable again, the rest not).
 * opc__cache_remove: delete the file at path with its -wal, -shm and -journal
 *   (missing ones are fine). SQLite finds the side files by name, so those
 *   of a deleted or replaced file would be read as the next file's: a file
 *   is only ever created again at path after this. OPC_ERR_IO on failure.
 */
bool opc__cache_moved(opc__cache *c);
opc_err opc__cache_file_check(opc__cache *c, opc__ebuf *eb);
bool opc__cache_damaged(const opc__cache *c);
bool opc__cache_full(const opc__cache *c);
void opc__cache_close_lost(opc__cache *c);
opc_err opc__cache_remove(const char *path, opc__ebuf *eb);

/* ---- verified rows (see above) ---- */

/* Length of a row MAC, of the seal and of the key. */
#define OPC_CACHE_MAC_LEN 32
/* Rows named in a check's report (the rest are counted). */
#define OPC_CACHE_CHECK_MAX_BAD 8

/* Give the handle the server's cache key (copied; NULL: none). Set it
 * right after opening, before any read or write. Wiped at close. */
void opc__cache_set_key(opc__cache *c, const uint8_t key[OPC_CACHE_MAC_LEN]);
bool opc__cache_keyed(const opc__cache *c);

typedef struct opc__cache_bad_row {
    char table[16]; /* "tokens", "vault_access", "issuer_keys" */
    char id[OPC_ID_LEN + 1];
} opc__cache_bad_row;

typedef struct opc__cache_check {
    bool ok;         /* seal_ok and no bad row: every row may be used */
    bool sealed;     /* meta holds a seal at all (false: never sealed, or older schema) */
    bool seal_ok;    /* the seal matches the server state and the rows' MACs */
    size_t bad_rows; /* rows whose own MAC fails */
    size_t n_bad;    /* the first of them, named */
    opc__cache_bad_row bad[OPC_CACHE_CHECK_MAX_BAD];
} opc__cache_check;

/*
 * Check the seal and every row's MAC in one read snapshot (the caller's
 * transaction when one is open). OPC_OK with *out filled, whatever the
 * verdict; an error only when the check could not run (OPC_ERR_INVALID_ARG
 * on a handle without a key, OPC_ERR_IO, OPC_ERR_NOMEM).
 */
opc_err opc__cache_verify(opc__cache *c, opc__cache_check *out, opc__ebuf *eb);
/* The failures of a check as one secret-free line of table names and ids
 * ("" when ok); returns its length (truncated to cap - 1). */
size_t opc__cache_check_describe(const opc__cache_check *chk, char *out, size_t cap);

/* ---- transactions ---- */

/* BEGIN IMMEDIATE (write) or BEGIN (read snapshot). Not nested: OPC_ERR_INVALID_ARG. */
opc_err opc__cache_begin(opc__cache *c, bool write, opc__ebuf *eb);
opc_err opc__cache_commit(opc__cache *c, opc__ebuf *eb);
/* Roll back the open transaction, if any. */
void opc__cache_rollback(opc__cache *c);
/* Commit when rc is OPC_OK, else roll back; returns the final code. */
opc_err opc__cache_end(opc__cache *c, opc_err rc, opc__ebuf *eb);
/* PRAGMA data_version of this connection (see above). */
opc_err opc__cache_data_version(opc__cache *c, int64_t *out, opc__ebuf *eb);

/* ---- meta ---- */

typedef struct opc__cache_meta {
    char server_id[OPC_ID_LEN + 1];  /* "" until set */
    char account_id[OPC_ID_LEN + 1]; /* "" until set */
    int64_t cursor;                  /* last feed seq applied; 0 initially */
    bool initial_sync_complete;
    int64_t last_attempt_ms; /* Unix ms of the last upstream attempt; 0 never */
    int64_t last_success_ms; /* Unix ms of the last successful sync step; 0 never */
    int64_t failures;        /* consecutive failures since the last success */
    char last_error[OPC_CACHE_MAX_ERROR + 1]; /* "" when the last attempt succeeded */
    int64_t change_seq; /* local change number of the last item change (see "Changes") */
    int64_t gone_floor; /* deleted items are listed for changes above this number only */
} opc__cache_meta;

/* Read the meta row (a fresh cache gives zeros and empty strings). */
opc_err opc__cache_meta_get(opc__cache *c, opc__cache_meta *out, opc__ebuf *eb);
/* Shortcuts. */
opc_err opc__cache_cursor(opc__cache *c, int64_t *out, opc__ebuf *eb);
opc_err opc__cache_initial_sync_complete(opc__cache *c, bool *out, opc__ebuf *eb);

/* Writers. */
opc_err opc__cache_set_ids(opc__cache *c, const char *server_id, const char *account_id,
                           opc__ebuf *eb);
opc_err opc__cache_set_cursor(opc__cache *c, int64_t cursor, opc__ebuf *eb);
opc_err opc__cache_set_initial_sync_complete(opc__cache *c, bool done, opc__ebuf *eb);
/* Health: a success clears last_error and failures; a failure records error
 * (truncated to OPC_CACHE_MAX_ERROR, must be secret-free) and counts. */
opc_err opc__cache_health_success(opc__cache *c, int64_t now_ms, opc__ebuf *eb);
opc_err opc__cache_health_failure(opc__cache *c, int64_t now_ms, const char *error, opc__ebuf *eb);

/*
 * Wipe every mirrored row (issuer keys, access, vaults, items, files, tokens),
 * reset cursor and initial_sync_complete; keeps ids and health. Used when the
 * cache belongs to another server/account than the credentials.
 */
opc_err opc__cache_reset(opc__cache *c, opc__ebuf *eb);

/* ---- rows ----
 * Row structs returned by getters own their strings: release with the
 * matching _clear(). Rows passed to foreach callbacks are borrowed and valid
 * only during the callback. A callback returning non-OK stops the walk and
 * that code is returned. Rows passed to upserts are copied by SQLite. */

/* The rows are the upstream protocol's messages (wire/rows.h), as stored. */
typedef opc__wire_issuer_key opc__cache_issuer_key;
typedef opc__wire_access opc__cache_access;
typedef opc__wire_vault opc__cache_vault;
typedef opc__wire_item opc__cache_item;
typedef opc__wire_chunk opc__cache_chunk; /* blob borrowed: in foreach only; for upserts the
                                             caller's buffer */
typedef opc__wire_token opc__cache_token;

void opc__cache_issuer_key_clear(opc__cache_issuer_key *k);
void opc__cache_access_clear(opc__cache_access *a);
void opc__cache_vault_clear(opc__cache_vault *v);
void opc__cache_item_clear(opc__cache_item *it);
void opc__cache_token_clear(opc__cache_token *t);

typedef opc_err (*opc__cache_issuer_key_fn)(const opc__cache_issuer_key *k, void *ud);
typedef opc_err (*opc__cache_access_fn)(const opc__cache_access *a, void *ud);
typedef opc_err (*opc__cache_vault_fn)(const opc__cache_vault *v, void *ud);
typedef opc_err (*opc__cache_item_fn)(const opc__cache_item *it, void *ud);
typedef opc_err (*opc__cache_chunk_fn)(const opc__cache_chunk *ch, void *ud);
typedef opc_err (*opc__cache_token_fn)(const opc__cache_token *t, void *ud);

/* ---- readers (any mode) ---- */

/* Every issuer key, by kid. */
opc_err opc__cache_issuer_keys_foreach(opc__cache *c, opc__cache_issuer_key_fn fn, void *ud,
                                       opc__ebuf *eb);
opc_err opc__cache_issuer_key_get(opc__cache *c, const char *kid, opc__cache_issuer_key *out,
                                  opc__ebuf *eb);

/* This server's grant for a vault (OPC_ERR_NOT_FOUND when not granted). */
opc_err opc__cache_access_get(opc__cache *c, const char *vault, opc__cache_access *out,
                              opc__ebuf *eb);
opc_err opc__cache_access_foreach(opc__cache *c, opc__cache_access_fn fn, void *ud, opc__ebuf *eb);

/* Vaults, ordered by id. */
opc_err opc__cache_vaults_foreach(opc__cache *c, opc__cache_vault_fn fn, void *ud, opc__ebuf *eb);
opc_err opc__cache_vault_get(opc__cache *c, const char *vault, opc__cache_vault *out,
                             opc__ebuf *eb);

/* Items of a vault ordered by id; details are loaded only when with_details. */
opc_err opc__cache_items_foreach(opc__cache *c, const char *vault, bool with_details,
                                 opc__cache_item_fn fn, void *ud, opc__ebuf *eb);
/* One item of a vault, with details (OPC_ERR_NOT_FOUND when absent or in another vault). */
opc_err opc__cache_item_get(opc__cache *c, const char *vault, const char *item,
                            opc__cache_item *out, opc__ebuf *eb);
/* Number of items of a vault (any vault when vault is NULL). */
opc_err opc__cache_item_count(opc__cache *c, const char *vault, int64_t *out, opc__ebuf *eb);

/*
 * Changes since a local change number (see "Changes"): item rows (without
 * details) whose lseq > since, in change order; ids of item rows deleted
 * after since. Use both in one read transaction.
 */
opc_err opc__cache_items_changed_foreach(opc__cache *c, int64_t since, opc__cache_item_fn fn,
                                         void *ud, opc__ebuf *eb);
typedef opc_err (*opc__cache_gone_fn)(const char *vault, const char *item, void *ud);
opc_err opc__cache_gone_foreach(opc__cache *c, int64_t since, opc__cache_gone_fn fn, void *ud,
                                opc__ebuf *eb);

/* Chunks of a file in index order (none: OPC_OK without calls). */
opc_err opc__cache_file_chunks(opc__cache *c, const char *file, opc__cache_chunk_fn fn, void *ud,
                               opc__ebuf *eb);

/* Token registry. */
opc_err opc__cache_token_get(opc__cache *c, const char *jti, opc__cache_token *out, opc__ebuf *eb);
opc_err opc__cache_tokens_foreach(opc__cache *c, opc__cache_token_fn fn, void *ud, opc__ebuf *eb);

/* ---- writers (WRITE/CREATE modes; inside opc__cache_begin(c, true) for atomicity) ---- */

opc_err opc__cache_issuer_key_put(opc__cache *c, const opc__cache_issuer_key *k, opc__ebuf *eb);
opc_err opc__cache_issuer_key_delete(opc__cache *c, const char *kid, opc__ebuf *eb);
opc_err opc__cache_access_put(opc__cache *c, const opc__cache_access *a, opc__ebuf *eb);
opc_err opc__cache_access_delete(opc__cache *c, const char *vault, opc__ebuf *eb);
/* Monotonic (above); *written (may be NULL) tells whether the row was stored. */
opc_err opc__cache_vault_put(opc__cache *c, const opc__cache_vault *v, bool *written,
                             opc__ebuf *eb);
/* Drop a vault and everything in it: items, files, access row. */
opc_err opc__cache_vault_delete(opc__cache *c, const char *vault, opc__ebuf *eb);
/* Monotonic (above); *written (may be NULL) tells whether the row was stored. */
opc_err opc__cache_item_put(opc__cache *c, const opc__cache_item *it, bool *written, opc__ebuf *eb);
/* Drop an item and its files, whatever version is cached. */
opc_err opc__cache_item_delete(opc__cache *c, const char *item, opc__ebuf *eb);
/*
 * Monotonic delete (above): drop the item and its files unless the cache
 * holds a version newer than `version`. *deleted (may be NULL): whether the
 * item is gone now. Atomic (its own transaction unless one is open).
 */
opc_err opc__cache_item_delete_upto(opc__cache *c, const char *item, int64_t version, bool *deleted,
                                    opc__ebuf *eb);
/* Drop an item's file chunks (the item row stays). */
opc_err opc__cache_item_files_delete(opc__cache *c, const char *item, opc__ebuf *eb);
/* Drop every item and file of a vault (the vault row stays). */
opc_err opc__cache_vault_clear_items(opc__cache *c, const char *vault, opc__ebuf *eb);
/* Drop the items (and files) of a vault whose ids lie strictly between after and before
 * (NULL or "": unbounded). */
opc_err opc__cache_vault_clear_between(opc__cache *c, const char *vault, const char *after,
                                       const char *before, opc__ebuf *eb);
opc_err opc__cache_chunk_put(opc__cache *c, const opc__cache_chunk *ch, opc__ebuf *eb);
opc_err opc__cache_token_put(opc__cache *c, const opc__cache_token *t, opc__ebuf *eb);
opc_err opc__cache_token_delete(opc__cache *c, const char *jti, opc__ebuf *eb);

/* The row MACs (the bytes: cache_mac.c), for the cache and its tests. */
opc_err opc__cache_mac_issuer_key(const uint8_t key[OPC_CACHE_MAC_LEN],
                                  const opc__cache_issuer_key *k, uint8_t out[OPC_CACHE_MAC_LEN]);
opc_err opc__cache_mac_token(const uint8_t key[OPC_CACHE_MAC_LEN], const opc__cache_token *t,
                             uint8_t out[OPC_CACHE_MAC_LEN]);
opc_err opc__cache_mac_access(const uint8_t key[OPC_CACHE_MAC_LEN], const opc__cache_access *a,
                              uint8_t out[OPC_CACHE_MAC_LEN]);

/*
 * Write-through of connect-api's item write: item_row and vault_row are the
 * rows opc__upstream_item_put / _item_delete returned (wire/rows.h).
 * In one transaction (the caller's when one is open, else its own BEGIN
 * IMMEDIATE ... COMMIT): an item row in state "deleted" is a monotonic
 * delete at its version, any other a monotonic put, then a monotonic put
 * of the vault row. Nothing is written when the cache holds no grant for
 * the vault (the sync dropped it since: a grant revoked after the write is
 * not undone here). *out_applied (may be NULL): whether the item change
 * took effect (false: the cache already held a newer version, or the vault
 * is out of scope). Errors: OPC_ERR_INVALID_ARG (read-only handle, rows of
 * different vaults), OPC_ERR_PARSE (malformed rows), OPC_ERR_IO (SQLite,
 * busy beyond the timeout), OPC_ERR_NOMEM. A failure here does not undo the
 * upstream write; the sync brings the row in later.
 */
opc_err opc__cache_write_through(opc__cache *c, const cJSON *item_row, const cJSON *vault_row,
                                 bool *out_applied, opc__ebuf *eb);

#endif
