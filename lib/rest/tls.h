/*
 * rest/tls.h - HTTPS of the API server (lib/tls behind the setters of
 * opconnect/api.h); server.c calls these from start, stop and free.
 */
#ifndef OPC_REST_TLS_H
#define OPC_REST_TLS_H

#include "rest/api.h"
#include "core/err.h"
#include "internal.h"

/* Start HTTPS when configured (after civetweb listens on bound_port). */
opc_err opc__api_tls_start(opc_api *api, opc__ebuf *eb);
/* Stop HTTPS (no-op when not running). */
void opc__api_tls_stop(opc_api *api);
/* Release the HTTPS state (after stop). */
void opc__api_tls_free(opc_api *api);

#endif
