/*
 * opconnect/api.h - connect-api: the Connect REST API served from the local
 * cache (1password.sqlite) that connect-sync fills.
 *
 * The server starts locked: the credentials' inner layer stays closed until
 * the first request with a valid token of this server (any /v1 route, or
 * /health with a bearer token) unlocks it. Reads are served from the cache;
 * vault names and item summaries are decrypted once into an in-memory index
 * that is refreshed when the cache changes. See docs/API.md ("Connect API")
 * for the routes, the status codes and the logging.
 *
 * civetweb: opc_api_start() calls mg_init_library(0) and opc_api_stop() the
 * matching mg_exit_library(); civetweb counts these calls, so a program that
 * initializes civetweb itself stays unaffected. Start and stop servers from
 * one thread at a time (civetweb's first initialization is not thread-safe).
 *
 * Thread safety: one thread per object at a time (configure, start, stop,
 * free from the thread that owns it); requests are served by civetweb's
 * worker threads.
 */
#ifndef OPCONNECT_API_H
#define OPCONNECT_API_H

#include <stddef.h>
#include <stdint.h>

#include "credentials.h"
#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct opc_api opc_api;

/* The API version announced in 1Password-Connect-Version and /health. */
#define OPC_API_CONNECT_VERSION "1.8.0"
/* Defaults of the setters below. */
#define OPC_API_DEFAULT_PORT 8080
#define OPC_API_DEFAULT_THREADS 64
#define OPC_API_DEFAULT_SYNC_TIMEOUT_MS 10000
#define OPC_API_DEFAULT_MAX_INLINE_FILE_KB 100
/* The largest inline limit: the largest file (64 MiB). */
#define OPC_API_MAX_INLINE_FILE_KB 65536

/*
 * opc_api_create - a stopped API server.
 *
 * creds: parsed credentials (opc_credentials_load/parse), normally locked;
 * borrowed: it must outlive the server, which unlocks it on the first valid
 * token and locks it again on free. cache_path: the cache file (it need not
 * exist yet; requests wait for it as for the initial sync). Returns
 * OPC_ERR_NOT_INITIALIZED, OPC_ERR_INVALID_ARG, OPC_ERR_NOMEM; errbuf (may
 * be NULL) says why. Thread safety: any thread. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_api_create(opc_credentials *creds, const char *cache_path,
                                             opc_api **out, char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1, 2, 3);

/* Settings, before opc_api_start(); OPC_ERR_INVALID_ARG when out of range or
 * the server runs. Since 0.1.0. */
/* TCP port, 0-65535 (0 picks a free port); default 8080. */
OPC_API opc_err opc_api_set_http_port(opc_api *api, int port);
/* Numeric IPv4 address to listen on; default "0.0.0.0". */
OPC_API opc_err opc_api_set_bind_address(opc_api *api, const char *address);
/* How long a request waits for the initial sync before 408 (0-3600000 ms). */
OPC_API opc_err opc_api_set_sync_timeout_ms(opc_api *api, int64_t timeout_ms);
/* Worker threads = most concurrent keep-alive clients (1-1024); default 64. */
OPC_API opc_err opc_api_set_threads(opc_api *api, int threads);
/*
 * Largest file, in KiB (1 KB = 1024 bytes), whose content a File object
 * carries inline when a request asks for it (inline_files=true or
 * inline_content=true); a larger file makes such a request 413. 0 to
 * OPC_API_MAX_INLINE_FILE_KB; default OPC_API_DEFAULT_MAX_INLINE_FILE_KB
 * (the daemon reads OP_MAX_INLINE_FILE_SIZE_KB). Since 0.1.0.
 */
OPC_API opc_err opc_api_set_max_inline_file_kb(opc_api *api, int kb);

/*
 * opc_api_start - listen and serve. Returns OPC_OK, OPC_ERR_IO when the
 * port cannot be bound (errbuf says so), OPC_ERR_INVALID_ARG when already
 * running. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_api_start(opc_api *api, char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1);

/* The bound TCP port while running, else -1. Since 0.1.0. */
OPC_API int opc_api_port(const opc_api *api);

/* Stop serving: finishes the requests in progress (drains), then closes.
 * No-op when stopped. Since 0.1.0. */
OPC_API void opc_api_stop(opc_api *api);

/* Stop, wipe the keys and decrypted data, lock the credentials, release.
 * NULL is a no-op. Since 0.1.0. */
OPC_API void opc_api_free(opc_api *api);

#ifdef __cplusplus
}
#endif

#endif /* OPCONNECT_API_H */
