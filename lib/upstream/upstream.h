/*
 * upstream/upstream.h - what connect-sync reads from: the account service's
 * change feed and the state rows it names (ARCHITECTURE §3).
 *
 * One interface, several backends, chosen by the upstream URL of the
 * credentials file: a local account.db path (local.c, now) or an https://
 * URL (libcurl, a later issue: OPC_ERR_UNSUPPORTED until then).
 *
 * Rows are JSON objects keyed by the cache's column names, exactly as
 * account/export.h describes them (blobs in b64url); the feed is the array
 * of account/feed.h. Everything is ciphertext or metadata.
 *
 * Errors: OPC_ERR_NOT_FOUND for a row that does not exist or is out of the
 * server's scope (the consumer drops it from the cache); OPC_ERR_IO when the
 * upstream is unreachable or unreadable (missing file, permissions, SQLite
 * or network failure): the consumer backs off and retries; OPC_ERR_NOMEM;
 * OPC_ERR_INVALID_ARG. Messages are secret-free.
 *
 * Thread safety: one thread per handle at a time, except
 * opc__upstream_interrupt(), which any thread may call.
 */
#ifndef OPC_UPSTREAM_UPSTREAM_H
#define OPC_UPSTREAM_UPSTREAM_H

#include <stdatomic.h>

#include <cjson/cJSON.h>

#include <opconnect/credentials.h>

#include "core/err.h"
#include "core/id.h"
#include "internal.h"

/* Largest page of changes one call returns. */
#define OPC_UPSTREAM_MAX_LIMIT 10000
/* Longest wait of one changes() call, in milliseconds. */
#define OPC_UPSTREAM_MAX_WAIT_MS 60000
/* Poll interval of the local backend's long wait, in milliseconds. */
#define OPC_UPSTREAM_LOCAL_POLL_MS 100

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
    /* One row (object) or every row (array) as account/export.h. */
    opc_err (*issuer_key)(opc__upstream *u, const char *kid, cJSON **out, opc__ebuf *eb);
    opc_err (*access)(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb);
    opc_err (*vault)(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb);
    opc_err (*vault_items)(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb);
    opc_err (*vault_files)(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb);
    opc_err (*item)(opc__upstream *u, const char *item, cJSON **out, opc__ebuf *eb);
    opc_err (*item_files)(opc__upstream *u, const char *item, cJSON **out, opc__ebuf *eb);
    opc_err (*token)(opc__upstream *u, const char *jti, cJSON **out, opc__ebuf *eb);
    /* Release the backend's state (not u itself). */
    void (*close)(opc__upstream *u);
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
 * outer layer; no secret is needed). A local path that is missing or
 * unreadable is NOT an error here: the backend retries on every call and
 * reports OPC_ERR_IO until the file is back.
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
opc_err opc__upstream_vault_items(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb);
opc_err opc__upstream_vault_files(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb);
opc_err opc__upstream_item(opc__upstream *u, const char *item, cJSON **out, opc__ebuf *eb);
opc_err opc__upstream_item_files(opc__upstream *u, const char *item, cJSON **out, opc__ebuf *eb);
opc_err opc__upstream_token(opc__upstream *u, const char *jti, cJSON **out, opc__ebuf *eb);

/* local.c: the backend's constructor (used by opc__upstream_open). */
opc_err opc__upstream_local_init(opc__upstream *u, const char *path, opc__ebuf *eb);

#endif
