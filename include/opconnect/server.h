/*
 * opconnect/server.h - the embedded Connect server: connect-sync and
 * connect-api in one process, over one credentials object and one cache.
 *
 * opc_server_start() runs the sync on a background thread (opc_sync_start)
 * and the API on civetweb's worker threads (opc_api_start); requests wait
 * for the initial sync as with the separate daemons. The cache is created
 * (directory 0700, file 0600) by opc_server_create() when missing.
 *
 * Thread safety: one thread per object at a time (configure, start, stop,
 * free from the thread that owns it). Start and stop servers from one
 * thread at a time (see api.h).
 */
#ifndef OPCONNECT_SERVER_H
#define OPCONNECT_SERVER_H

#include <stddef.h>

#include "credentials.h"
#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct opc_server opc_server;

/*
 * opc_server_create - a stopped embedded server.
 *
 * creds: parsed credentials (opc_credentials_load/parse), normally locked;
 * borrowed: it must outlive the server. Not const: the API unlocks it on the
 * first valid token and opc_server_free() locks it again. cache_path: the
 * cache file, created when missing. Errors as opc_sync_create() and
 * opc_api_create(); errbuf (may be NULL) says why. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_server_create(opc_credentials *creds, const char *cache_path,
                                                opc_server **out, char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1, 2, 3);

/* Settings, before opc_server_start(); as opc_api_set_http_port() and
 * opc_api_set_bind_address() (defaults 8080 and "0.0.0.0"). Since 0.1.0. */
OPC_API OPC_NODISCARD opc_err opc_server_set_http_port(opc_server *srv, int port);
OPC_API OPC_NODISCARD opc_err opc_server_set_bind_address(opc_server *srv, const char *address);
/* The tokens' clock skew, as opc_api_set_jwt_leeway_s() (0-300 s, default
 * 5 s). Since 0.2.0. */
OPC_API OPC_NODISCARD opc_err opc_server_set_jwt_leeway_s(opc_server *srv, int seconds);

/*
 * HTTPS, as the opc_api_* functions of the same names (api.h, docs/tls.md):
 * before opc_server_start(); the ACME client runs on a background thread
 * of the library. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_server_set_https_port(opc_server *srv, int port);
OPC_API OPC_NODISCARD opc_err opc_server_set_tls_files(opc_server *srv, const char *cert_file,
                                                       const char *key_file, char *errbuf,
                                                       size_t errbuf_len) OPC_NONNULL(1, 2, 3);
OPC_API OPC_NODISCARD opc_err opc_server_set_acme(opc_server *srv, const char *domain,
                                                  const char *directory_url,
                                                  const char *ca_file, const char *email,
                                                  const char *data_dir, char *errbuf,
                                                  size_t errbuf_len) OPC_NONNULL(1, 2, 6);
/* Re-read the files / re-check the ACME certificate; any thread. */
OPC_API OPC_NODISCARD opc_err opc_server_tls_reload(opc_server *srv);
/* The bound HTTPS port while serving HTTPS, else -1. */
OPC_API int opc_server_https_port(const opc_server *srv);

/*
 * opc_server_start - start the sync thread, then listen and serve. On
 * failure nothing runs. Returns OPC_OK, OPC_ERR_IO when the port cannot be
 * bound (errbuf says so), OPC_ERR_INVALID_ARG when already running,
 * OPC_ERR_INTERNAL when the sync thread cannot start. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_server_start(opc_server *srv, char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1);

/* The bound TCP port while running, else -1. Since 0.1.0. */
OPC_API int opc_server_port(const opc_server *srv);

/* Stop serving (drains the requests in progress), then stop and join the
 * sync thread. No-op when stopped; the server can be started again.
 * Since 0.1.0. */
OPC_API void opc_server_stop(opc_server *srv);

/* Stop, wipe, lock the credentials, close the cache, release. NULL is a
 * no-op. Since 0.1.0. */
OPC_API void opc_server_free(opc_server *srv);

#ifdef __cplusplus
}
#endif

#endif /* OPCONNECT_SERVER_H */
