/*
 * server/server.c - the embedded server: an opc_sync on its own thread and
 * an opc_api on civetweb's threads, sharing one cache file (each opens its
 * own SQLite connection, exactly as the two daemons do in two processes).
 */
#include "internal.h"

#include <stdbool.h>

#include <opconnect/api.h>
#include <opconnect/server.h>
#include <opconnect/sync.h>

#include "core/alloc.h"
#include "core/err.h"
#include "server/server_api.h"

struct opc_server {
    opc_sync *sync;
    opc_api *api;
    bool running;
};

opc_err opc_server_create(opc_credentials *creds, const char *cache_path, opc_server **out,
                          char *errbuf, size_t errbuf_len)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (creds == NULL || cache_path == NULL || out == NULL) {
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc__fail(&eb, OPC_ERR_INVALID_ARG, "missing argument");
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        return OPC_ERR_INVALID_ARG;
    }
    opc_server *srv = opc__calloc(1, sizeof *srv);
    if (srv == NULL) {
        return OPC_ERR_NOMEM;
    }
    /* The sync first: it creates the cache file the API will open. */
    opc_err rc = opc_sync_create(creds, cache_path, &srv->sync, errbuf, errbuf_len);
    if (rc == OPC_OK) {
        rc = opc_api_create(creds, cache_path, &srv->api, errbuf, errbuf_len);
    }
    if (rc != OPC_OK) {
        opc_server_free(srv);
        return rc;
    }
    *out = srv;
    return OPC_OK;
}

opc_err opc_server_set_http_port(opc_server *srv, int port)
{
    if (srv == NULL || srv->running) {
        return OPC_ERR_INVALID_ARG;
    }
    return opc_api_set_http_port(srv->api, port);
}

opc_err opc_server_set_bind_address(opc_server *srv, const char *address)
{
    if (srv == NULL || srv->running) {
        return OPC_ERR_INVALID_ARG;
    }
    return opc_api_set_bind_address(srv->api, address);
}

opc_err opc_server_set_jwt_leeway_s(opc_server *srv, int seconds)
{
    if (srv == NULL || srv->running) {
        return OPC_ERR_INVALID_ARG;
    }
    return opc_api_set_jwt_leeway_s(srv->api, seconds);
}

opc_err opc_server_start(opc_server *srv, char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (srv == NULL || srv->running) {
        opc__fail(&eb, OPC_ERR_INVALID_ARG, "server already running");
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc = opc_sync_start(srv->sync);
    if (rc != OPC_OK) {
        opc__fail(&eb, rc, "cannot start the sync thread");
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        return rc;
    }
    rc = opc_api_start(srv->api, errbuf, errbuf_len);
    if (rc != OPC_OK) {
        opc_sync_stop(srv->sync);
        return rc;
    }
    srv->running = true;
    return OPC_OK;
}

opc_api *opc__server_api(const opc_server *srv)
{
    return srv->api;
}

int opc_server_port(const opc_server *srv)
{
    if (srv == NULL || !srv->running) {
        return -1;
    }
    return opc_api_port(srv->api);
}

void opc_server_stop(opc_server *srv)
{
    if (srv == NULL || !srv->running) {
        return;
    }
    opc_api_stop(srv->api);
    opc_sync_stop(srv->sync);
    srv->running = false;
}

void opc_server_free(opc_server *srv)
{
    if (srv == NULL) {
        return;
    }
    opc_server_stop(srv);
    opc_api_free(srv->api);
    opc_sync_free(srv->sync);
    opc__free(srv);
}
