/*
 * upstream/upstream.h - the account service as a Connect server sees it
 * (ARCHITECTURE §3): the change feed and the state rows it names, which
 * connect-sync reads, and the item writes of connect-api.
 *
 * One interface, several backends, chosen by the upstream URL of the
 * credentials file: a local account.db path (local.c) or an https:// URL,
 * the account server op-account-server (https.c over transport.c, libcurl;
 * docs/protocol.md, "The network protocol"), or a list of such URLs naming
 * account servers on one database, between which the https backend fails
 * over (https.c). Plain http:// is accepted for a loopback host only
 * (tests).
 *
 * Rows are the protocol's messages of wire/rows.h (encoded and decoded
 * there, nowhere else); the feed is the array of account/feed.h.
 * Everything is ciphertext or metadata.
 *
 * Errors: OPC_ERR_NOT_FOUND for a row that does not exist or is out of the
 * server's scope (the consumer drops it from the cache); OPC_ERR_IO when the
 * upstream is unreachable or unreadable (missing file, permissions, SQLite
 * or network failure): the consumer backs off and retries; OPC_ERR_NOMEM;
 * OPC_ERR_INVALID_ARG. Messages are secret-free.
 *
 * Writes (item_put, item_delete) follow account/import.h: the checks, the
 * effects and the rows they return are described there. Their errors:
 * OPC_ERR_CONFLICT (stale expected version or key serial: HTTP 409),
 * OPC_ERR_NOT_FOUND (no such vault, or no such active item in it),
 * OPC_ERR_PERMISSION (no grant with the write bit, or an inactive server),
 * OPC_ERR_EXISTS (create with an id already used), OPC_ERR_PARSE (an
 * envelope that is not one), OPC_ERR_TOO_LARGE, OPC_ERR_RANGE,
 * OPC_ERR_INVALID_ARG, OPC_ERR_NOMEM, and OPC_ERR_IO for everything on the
 * upstream's side (unreachable, missing, read-only or busy account file:
 * HTTP 503). Nothing was written unless the call returned OPC_OK.
 *
 * Thread safety: one thread per handle at a time, except
 * opc__upstream_interrupt(), which any thread may call. connect-api writes
 * through one handle under its write mutex (rest/write.c); handles on one
 * local account file serialize their writes on its lock (busy timeout 5 s).
 */
#ifndef OPC_UPSTREAM_UPSTREAM_H
#define OPC_UPSTREAM_UPSTREAM_H

#include <stdatomic.h>

#include <cjson/cJSON.h>

#include <opconnect/credentials.h>

#include "core/err.h"
#include "core/id.h"
#include "crypto/key.h"
#include "internal.h"
#include "wire/rows.h"

/* Largest page of changes, items or file chunks one call returns. */
#define OPC_UPSTREAM_MAX_LIMIT 10000
/* Longest wait of one changes() call, in milliseconds. */
#define OPC_UPSTREAM_MAX_WAIT_MS 60000
/* Poll interval of the local backend's long wait, in milliseconds. */
#define OPC_UPSTREAM_LOCAL_POLL_MS 100
/* The https backend's retries: tries of a read, the first backoff and its cap (ms). */
#define OPC_HTTPS_TRIES 4
#define OPC_HTTPS_BACKOFF_MS 100
#define OPC_HTTPS_BACKOFF_CAP_MS 2000
/* Longest OP_UPSTREAM_CA_FILE path (opc_global_set_upstream_ca_file). */
#define OPC_UPSTREAM_CA_PATH_MAX 4096

typedef struct opc__upstream opc__upstream;

typedef struct opc__upstream_ops {
    /*
     * The changes after `since`, at most limit, as a new JSON array (*out);
     * *out_next is the cursor to pass next (feed.h). When nothing is new,
     * waits up to wait_ms for a change (0: answer at once); an interrupt
     * ends the wait early with an empty array.
     */
    opc_err (*changes)(opc__upstream *u, int64_t since, size_t limit, int64_t wait_ms, cJSON **out,
                       int64_t *out_next, opc__ebuf *eb);
    /* One row (object) or one page of rows (array) as account/export.h. */
    opc_err (*issuer_key)(opc__upstream *u, const char *kid, cJSON **out, opc__ebuf *eb);
    opc_err (*access)(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb);
    opc_err (*vault)(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb);
    opc_err (*vault_items)(opc__upstream *u, const char *vault, const char *after, size_t limit,
                           cJSON **out, opc__ebuf *eb);
    opc_err (*item)(opc__upstream *u, const char *item, cJSON **out, opc__ebuf *eb);
    opc_err (*item_files)(opc__upstream *u, const char *item, const char *after_file,
                          int64_t after_idx, size_t limit, cJSON **out, opc__ebuf *eb);
    opc_err (*vault_files)(opc__upstream *u, const char *vault, const char *after_item,
                           const char *after_file, int64_t after_idx, const char *last_item,
                           size_t limit, cJSON **out, opc__ebuf *eb);
    opc_err (*token)(opc__upstream *u, const char *jti, cJSON **out, opc__ebuf *eb);
    /* Item writes as account/import.h: the new item and vault rows come back. */
    opc_err (*item_put)(opc__upstream *u, const opc__item_write *w, cJSON **out_item,
                        cJSON **out_vault, opc__ebuf *eb);
    opc_err (*item_delete)(opc__upstream *u, const char *vault, const char *item,
                           int64_t expected_version, cJSON **out_item, cJSON **out_vault,
                           opc__ebuf *eb);
    /* Release the backend's state (not u itself). */
    void (*close)(opc__upstream *u);
    /* Optional: wake a wait under way after u->interrupted was set (any thread). */
    void (*wakeup)(opc__upstream *u);
} opc__upstream_ops;

struct opc__upstream {
    const opc__upstream_ops *ops;
    char server_id[OPC_ID_LEN + 1];
    char account_id[OPC_ID_LEN + 1];
    atomic_int interrupted; /* set by opc__upstream_interrupt, cleared by the next call */
    void *impl;             /* backend state */
};

/*
 * Open the upstream the credentials name (server and account ids from the
 * outer layer; the https backend also takes the device key and the account
 * server's key pin from it, and reads the CA bundle set by
 * opc_global_set_upstream_ca_file() now). A local path that is missing or
 * unreadable is NOT an error here: the backend retries on every call and
 * reports OPC_ERR_IO until the file is back; nor is an account server that
 * is down (the first call makes the session). Errors: OPC_ERR_CREDENTIALS
 * ("credentials name an https:// upstream without the account server's key
 * pin", an http:// URL whose host is not a loopback address, a URL with a
 * path), OPC_ERR_IO (the CA file missing, unreadable or without a
 * certificate), OPC_ERR_NOMEM.
 */
opc_err opc__upstream_open(const opc_credentials *creds, opc__upstream **out, opc__ebuf *eb);
/* The local account.db backend directly (tests). */
opc_err opc__upstream_local_open(const char *path, const char *server_id, const char *account_id,
                                 opc__upstream **out, opc__ebuf *eb);
/* Close and free; NULL is a no-op. */
void opc__upstream_close(opc__upstream *u);
/* Make a waiting changes() return early (any thread). */
void opc__upstream_interrupt(opc__upstream *u);

/* Dispatchers (argument checks, then the backend). */
opc_err opc__upstream_changes(opc__upstream *u, int64_t since, size_t limit, int64_t wait_ms,
                              cJSON **out, int64_t *out_next, opc__ebuf *eb);
opc_err opc__upstream_issuer_key(opc__upstream *u, const char *kid, cJSON **out, opc__ebuf *eb);
opc_err opc__upstream_access(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb);
opc_err opc__upstream_vault(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb);
opc_err opc__upstream_item(opc__upstream *u, const char *item, cJSON **out, opc__ebuf *eb);
/*
 * Pages (account/export.h): a granted vault's active items after the id
 * `after`, and an active item's file chunks after (after_file, after_idx);
 * NULL or "" starts at the first row. limit 1..OPC_UPSTREAM_MAX_LIMIT; a
 * page shorter than limit is the last.
 */
opc_err opc__upstream_vault_items(opc__upstream *u, const char *vault, const char *after,
                                  size_t limit, cJSON **out, opc__ebuf *eb);
opc_err opc__upstream_item_files(opc__upstream *u, const char *item, const char *after_file,
                                 int64_t after_idx, size_t limit, cJSON **out, opc__ebuf *eb);
/*
 * A page of a vault's file chunks for the items after_item .. last_item
 * (ids, after_item <= last_item), by (item, file, idx): after_item's chunks
 * after (after_file, after_idx) (after_file NULL or "": all of them), then
 * the next items'. A vault's grant loads the files of a page of items in
 * one call instead of one per item. Limits as above.
 */
opc_err opc__upstream_vault_files(opc__upstream *u, const char *vault, const char *after_item,
                                  const char *after_file, int64_t after_idx, const char *last_item,
                                  size_t limit, cJSON **out, opc__ebuf *eb);
opc_err opc__upstream_token(opc__upstream *u, const char *jti, cJSON **out, opc__ebuf *eb);

/*
 * Create (w->expected_version 0) or replace an item of this server's
 * vault; on OPC_OK *out_item and *out_vault (cJSON_Delete both) are the
 * item and vault rows after the write, to hand to opc__cache_write_through.
 * Cleared on failure.
 */
opc_err opc__upstream_item_put(opc__upstream *u, const opc__item_write *w, cJSON **out_item,
                               cJSON **out_vault, opc__ebuf *eb);
/*
 * Delete an item (expected_version 0: whatever version is stored). On OPC_OK
 * *out_item is the tombstone row (state "deleted") and *out_vault the vault
 * row, for opc__cache_write_through.
 */
opc_err opc__upstream_item_delete(opc__upstream *u, const char *vault, const char *item,
                                  int64_t expected_version, cJSON **out_item, cJSON **out_vault,
                                  opc__ebuf *eb);

/* local.c: the backend's constructor (used by opc__upstream_open). */
opc_err opc__upstream_local_init(opc__upstream *u, const char *path, opc__ebuf *eb);
/* https.c: the backend's constructor: urls, 1..OPC_CREDENTIALS_MAX_UPSTREAMS
 * account servers "https://host[:port]" (or http:// on loopback) serving
 * the account from one database with one server key (the handle fails over
 * between them: https.c), the device key (copied), the pin (43 chars) and
 * the CA bundle's path (NULL: the system's trust). */
opc_err opc__upstream_https_init(opc__upstream *u, const char *const *urls, size_t n_urls,
                                 const opc__key *device_key, const char *pin, const char *ca_file,
                                 opc__ebuf *eb);
/* The backend's open (tests): as opc__upstream_open for an https:// URL. */
opc_err opc__upstream_https_open(const char *url, const char *server_id, const char *account_id,
                                 const opc__key *device_key, const char *pin, const char *ca_file,
                                 opc__upstream **out, opc__ebuf *eb);
/* The same for several account servers (urls[0..n_urls), tried in that
 * order, round robin). */
opc_err opc__upstream_https_open_list(const char *const *urls, size_t n_urls, const char *server_id,
                                      const char *account_id, const opc__key *device_key,
                                      const char *pin, const char *ca_file, opc__upstream **out,
                                      opc__ebuf *eb);
/* The https handle's current account server (its base URL; NULL for
 * another backend) and how many times it moved (tests, diagnostics). */
const char *opc__upstream_https_current(const opc__upstream *u);
uint64_t opc__upstream_https_moves(const opc__upstream *u);
/* The jittered backoff before try n + 1 (n >= 1), in ms (https.c). */
int64_t opc__upstream_https_backoff_ms(int n);

#endif
