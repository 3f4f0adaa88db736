/*
 * rest/tls.h - HTTPS of the API server (lib/tls behind the setters of
 * opconnect/api.h); server.c calls these from start, stop and free.
 */
#ifndef OPC_REST_TLS_H
#define OPC_REST_TLS_H

#include "rest/api.h"
#include "core/err.h"
#include "internal.h"

/* Before the listener starts: when HTTPS is configured, its port (0 any)
 * and SSL_CTX; else *port -1 and *ssl_ctx NULL. */
opc_err opc__api_tls_prepare(opc_api *api, int *port, void **ssl_ctx, opc__ebuf *eb);
/* Once the listener serves HTTPS on port: start the certificate thread. */
opc_err opc__api_tls_run(opc_api *api, int port, opc__ebuf *eb);
/* Stop HTTPS (no-op when not running). */
void opc__api_tls_stop(opc_api *api);
/* Release the HTTPS state (after stop). */
void opc__api_tls_free(opc_api *api);

#endif
