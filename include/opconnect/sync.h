/*
 * opconnect/sync.h - connect-sync: mirror what a Connect server was granted
 * into its local cache (1password.sqlite).
 *
 * The sync reads the upstream named by the credentials (outer layer only:
 * it never needs a token and decrypts nothing) and writes ciphertext and
 * metadata to the cache: an initial sync in pages, then incremental changes
 * with a long wait. Each page and its cursor are committed in one
 * transaction, so a crash at any moment leaves a consistent cache and a
 * restart resumes from the cursor. Upstream failures are retried with
 * exponential backoff (100 ms doubling to 30 s, with jitter); the health
 * state is kept in the cache, where connect-api can read it too.
 *
 * The status listener (opc_sync_listen) answers GET /heartbeat and
 * GET /health on its own port, as connect-sync does; docs/API.md has the
 * responses. It runs on civetweb's threads: opc_sync_listen() calls
 * mg_init_library(0) and stopping it the matching mg_exit_library() (see
 * api.h about civetweb's initialization).
 *
 * Thread safety: one thread per object at a time, except opc_sync_stop(),
 * opc_sync_health_json() and opc_sync_port(), which any thread may call
 * while opc_sync_start()'s thread runs.
 */
#ifndef OPCONNECT_SYNC_H
#define OPCONNECT_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "credentials.h"
#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct opc_sync opc_sync;

/*
 * opc_sync_default_cache_path - "<xdg_data_home>/.op/data/1password.sqlite"
 * or, with xdg_data_home NULL or empty, "<home>/.op/data/1password.sqlite".
 * *out: release with opc_free(). OPC_ERR_INVALID_ARG when both are unset.
 * Thread safety: any thread. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_sync_default_cache_path(const char *xdg_data_home,
                                                          const char *home, char **out)
    OPC_NONNULL(3);

/*
 * opc_sync_create - a sync for the server of creds (borrowed for the call
 * only) into the cache at cache_path, created (directory 0700, file 0600)
 * when missing. A cache of another server or account is emptied. The
 * rows that decide access are bound to the server by MACs under a key
 * derived from the credentials' device key (docs/API.md, "Verified cache
 * rows"): rows that fail their check, now or before any step, are logged
 * and the cache is synced again from the start. The
 * upstream need not be reachable yet. Errors: OPC_ERR_NOT_INITIALIZED,
 * OPC_ERR_INVALID_ARG, OPC_ERR_CREDENTIALS (no usable device key),
 * OPC_ERR_NOMEM, OPC_ERR_IO, OPC_ERR_PARSE (not a cache file), OPC_ERR_UNSUPPORTED (upstream kind not built, newer cache
 * schema), with errbuf (may be NULL) saying why. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_sync_create(const opc_credentials *creds, const char *cache_path,
                                              opc_sync **out, char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1, 2, 3);

/*
 * opc_sync_run_once - apply at most one page of changes without waiting.
 * OPC_OK when a page (possibly empty) was applied; the upstream's error
 * (OPC_ERR_IO when unreachable) otherwise, recorded in the health state.
 * Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_sync_run_once(opc_sync *s, char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1);

/*
 * opc_sync_run - sync until *stop_flag becomes non-zero (checked at least
 * every 100 ms; e.g. set by a signal handler) or opc_sync_stop() is
 * called, retrying upstream failures with backoff. Returns OPC_OK after a
 * stop, or a cache failure that stops the sync (OPC_ERR_IO...). Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_sync_run(opc_sync *s, volatile int *stop_flag) OPC_NONNULL(1);

/* opc_sync_start - run opc_sync_run() on a new thread. Since 0.1.0. */
OPC_API OPC_NODISCARD opc_err opc_sync_start(opc_sync *s) OPC_NONNULL(1);

/*
 * opc_sync_stop - ask the sync to stop and, when started with
 * opc_sync_start(), join its thread; then stop the status listener
 * (opc_sync_listen), if any. Idempotent. Since 0.1.0.
 */
OPC_API void opc_sync_stop(opc_sync *s);

/*
 * opc_sync_health_json - the sync's health as a JSON object:
 * {"cursor","initialSyncComplete","lastAttempt","lastSuccess" (RFC 3339 or
 * null),"consecutiveFailures","lastError" (or null),"upstream":"ok"|
 * "unreachable"|"unknown"}. *out: release with opc_free(). Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_sync_health_json(opc_sync *s, char **out) OPC_NONNULL(1, 2);

/*
 * opc_sync_listen - serve the sync's status over HTTP on bind_address
 * (a numeric IPv4 address; NULL or "" = "0.0.0.0") and port (0-65535; 0
 * picks a free port, see opc_sync_port()), on a few threads of its own:
 * GET /heartbeat answers 200 "." and GET /health 200 with the dependency
 * list {"name":"1Password Connect Sync","version":OPC_CONNECT_VERSION,
 * "dependencies":[{"service":"sqlite"|"account_data"|"upstream","status":
 * ...,"message":...}]}; HEAD of either the same without a body, other
 * methods 405, other paths 404, errors as {"status":N,"message":"..."}.
 * Every response carries 1Password-Connect-Version. The listener is
 * independent of the sync loop (it serves while opc_sync_run() or
 * opc_sync_start()'s thread runs, or neither) and stops with
 * opc_sync_stop() or opc_sync_free(), which finish the requests in
 * progress. Errors: OPC_ERR_INVALID_ARG (bad address or port, already
 * listening), OPC_ERR_IO (the port cannot be bound), with errbuf (may be
 * NULL) saying why. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_sync_listen(opc_sync *s, const char *bind_address, int port,
                                              char *errbuf, size_t errbuf_len) OPC_NONNULL(1);

/* The status listener's bound port while it runs, else -1. Any thread.
 * Since 0.1.0. */
OPC_API int opc_sync_port(const opc_sync *s);

/* opc_sync_free - stop, close and release; NULL is a no-op. Since 0.1.0. */
OPC_API void opc_sync_free(opc_sync *s);

#ifdef __cplusplus
}
#endif

#endif /* OPCONNECT_SYNC_H */
