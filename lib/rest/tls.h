/*
 * rest/tls.h - HTTPS of the API server (lib/tls behind the setters of
 * opconnect/api.h); server.c calls these from start, stop and free.
 */
#ifndef OPC_REST_TLS_H
#define OPC_REST_TLS_H

#include "rest/api.h"
#include "core/err.h"
#include "core/httpd.h"
#include "internal.h"

/* Start the listeners of cfg (api->ctx, api->bound_port) with HTTPS on
 * its port when configured (opc__tls_httpd_start). */
opc_err opc__api_httpd_start(opc_api *api, opc__httpd_config *cfg, opc__ebuf *eb);
/* Stop HTTPS (no-op when not running). */
void opc__api_tls_stop(opc_api *api);
/* Release the HTTPS state (after stop). */
void opc__api_tls_free(opc_api *api);

#endif
