/*
 * rest/api.h - the connect-api server object (shared by server.c and
 * routes.c).
 */
#ifndef OPC_REST_API_H
#define OPC_REST_API_H

#include <pthread.h>
#include <stdatomic.h>

#include <opconnect/api.h>

#include "rest/space.h"
#include "view/auth.h"
#include "view/filter.h"
#include "view/index.h"
#include "view/keys.h"
#include "view/render.h"
#include "internal.h"

/* Largest request head accepted by civetweb, in bytes (413 beyond). */
#define OPC_API_MAX_REQUEST 16384
/* The first request's head must be complete this long after the accept. */
#define OPC_API_HEAD_TIMEOUT_MS 10000
/* Sleep between cache checks while waiting for the initial sync. */
#define OPC_API_SYNC_WAIT_STEP_MS 50

struct mg_context;
struct mg_connection;

struct opc_api {
    opc_credentials *creds;
    char *cache_path;
    int port;
    char bind[64];
    int64_t sync_timeout_ms;
    int threads;
    int keepalive_ms; /* idle keep-alive between requests */
    int max_inline_kb; /* inline file content up to this many KiB (files.c) */
    opc__auth *auth;
    opc__vault_keys *keys;
    opc__index *index;
    opc__render *render; /* sealed rendered items (render.h) */
    struct opc__metrics *metrics;   /* GET /metrics (metrics.h) */
    struct opc__activity *activity; /* GET /v1/activity (activity.h) */
    uint8_t rid_prefix[8];               /* request ids: random prefix... */
    atomic_uint_fast64_t rid_counter;    /* ...and a counter */
    pthread_mutex_t write_mu;     /* serialises item writes (write.c) */
    struct opc__upstream *upstream; /* opened at the first write */
    struct opc__cache *wcache;      /* write-through handle, idem */
    opc__space space;               /* writes held back on a full cache disk (space.h) */
    struct mg_context *ctx;
    int bound_port;
    struct opc__api_tls *tls; /* HTTPS (rest/tls.c); NULL without TLS */
};

/* routes.c: civetweb's request handler (cbdata = the opc_api). */
int opc__api_handle(struct mg_connection *conn, void *cbdata);

#endif
