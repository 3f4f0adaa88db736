/*
 * rest/server.c - the public opc_api object: configuration, civetweb
 * start/stop, and the glue between auth (token registry) and the index.
 *
 * The connection model (core/httpd.h, docs/http.md): one worker thread per
 * open connection, threads of them (default 1,280); idle keep-alive
 * connections wait keepalive_ms for their next request (default 65 s); a
 * first request head must be complete within 10 s; HTTP and HTTPS share
 * the workers. Responses are written with one mg_write each (routes.c).
 */
#include "internal.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <civetweb.h>

#include "rest/api.h"
#include "rest/tls.h"
#include "observe/activity.h"
#include "rest/http.h"
#include "observe/metrics.h"
#include "core/rand.h"
#include "upstream/upstream.h"
#include "core/alloc.h"
#include "core/err.h"
#include "core/httpd.h"
#include "core/log.h"
#include "core/strparse.h"
#include "core/time.h"

/* ---- the token registry as auth sees it: the current index snapshot ---- */

static uint64_t reg_generation(void *ud)
{
    opc_api *api = ud;
    return opc__index_generation(api->index);
}

static opc__token_state reg_lookup(void *ud, const char *jti, int64_t *expires)
{
    opc_api *api = ud;
    opc__ix_snapshot *s = opc__index_acquire(api->index);
    const opc__ix_token *t = opc__ix_find_token(s, jti);
    opc__token_state st = OPC_TOKEN_UNKNOWN;
    *expires = 0;
    if (t != NULL) {
        st = t->state;
        *expires = t->expires;
    }
    opc__index_release(api->index, s);
    return st;
}

opc_err opc_api_create(opc_credentials *creds, const char *cache_path, opc_api **out, char *errbuf,
                       size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (out != NULL) {
        *out = NULL;
    }
    opc_err rc = opc__require_init();
    if (rc != OPC_OK) {
        opc__fail(&eb, rc, "opc_global_init() was not called");
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        return rc;
    }
    if (creds == NULL || cache_path == NULL || cache_path[0] == '\0' || out == NULL) {
        opc__fail(&eb, OPC_ERR_INVALID_ARG, "missing argument");
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        return OPC_ERR_INVALID_ARG;
    }
    opc_api *api = opc__calloc(1, sizeof *api);
    if (api == NULL) {
        return OPC_ERR_NOMEM;
    }
    api->creds = creds;
    pthread_mutex_init(&api->write_mu, NULL);
    api->port = OPC_API_DEFAULT_PORT;
    memcpy(api->bind, "0.0.0.0", sizeof "0.0.0.0");
    api->sync_timeout_ms = OPC_API_DEFAULT_SYNC_TIMEOUT_MS;
    api->threads = OPC_API_DEFAULT_THREADS;
    api->keepalive_ms = OPC_API_DEFAULT_KEEPALIVE_MS;
    api->max_inline_kb = OPC_API_DEFAULT_MAX_INLINE_FILE_KB;
    api->bound_port = -1;
    api->cache_path = opc__strdup(cache_path);
    rc = api->cache_path != NULL ? OPC_OK : OPC_ERR_NOMEM;
    opc__auth_registry reg = {.ud = api, .generation = reg_generation, .lookup = reg_lookup};
    if (rc == OPC_OK) {
        rc = opc__auth_create(creds, &reg, &api->auth);
    }
    if (rc == OPC_OK) {
        rc = opc__vault_keys_create(creds, OPC_VAULT_KEYS_TTL_MS, &api->keys);
    }
    if (rc == OPC_OK) {
        rc = opc__index_create(cache_path, creds, api->auth, api->keys, &api->index);
    }
    if (rc == OPC_OK) {
        rc = opc__render_create(OPC_API_DEFAULT_RENDER_CACHE_BYTES, OPC_RENDER_MAX_BODY,
                                &api->render);
    }
    if (rc == OPC_OK) {
        rc = opc__metrics_create(&api->metrics);
    }
    char *act_path = NULL;
    if (rc == OPC_OK) {
        rc = opc__activity_path_for_cache(cache_path, &act_path, &eb);
    }
    if (rc == OPC_OK) {
        opc__activity_config ac = {.path = act_path,
                                   .server_id = opc_credentials_server_id(creds),
                                   .account_id = opc_credentials_account_id(creds)};
        rc = opc__activity_open(&ac, &api->activity, &eb);
    }
    opc__free(act_path);
    if (rc == OPC_OK) {
        rc = opc__rand_bytes(api->rid_prefix, sizeof api->rid_prefix);
        atomic_init(&api->rid_counter, 0);
    }
    if (rc != OPC_OK) {
        if (eb.msg[0] == '\0') {
            opc__fail(&eb, rc, "cannot create the API server: %s", opc_strerror(rc));
        }
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        opc_api_free(api);
        return rc;
    }
    *out = api;
    return OPC_OK;
}

opc_err opc_api_set_http_port(opc_api *api, int port)
{
    if (api == NULL || api->ctx != NULL || port < 0 || port > 65535) {
        return OPC_ERR_INVALID_ARG;
    }
    api->port = port;
    return OPC_OK;
}

opc_err opc_api_set_bind_address(opc_api *api, const char *address)
{
    if (api == NULL || api->ctx != NULL || address == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (!opc__ip_valid(address)) {
        return OPC_ERR_INVALID_ARG;
    }
    size_t n = strlen(address);
    memcpy(api->bind, address, n + 1);
    return OPC_OK;
}

opc_err opc_api_set_sync_timeout_ms(opc_api *api, int64_t timeout_ms)
{
    if (api == NULL || api->ctx != NULL || timeout_ms < 0 || timeout_ms > 3600000) {
        return OPC_ERR_INVALID_ARG;
    }
    api->sync_timeout_ms = timeout_ms;
    return OPC_OK;
}

static_assert(OPC_API_DEFAULT_JWT_LEEWAY_S == OPC_JWT_LEEWAY_S &&
                  OPC_API_MAX_JWT_LEEWAY_S == OPC_JWT_LEEWAY_MAX_S,
              "the public leeway bounds are the verifier's");

opc_err opc_api_set_jwt_leeway_s(opc_api *api, int seconds)
{
    if (api == NULL || api->ctx != NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    return opc__auth_set_leeway(api->auth, seconds);
}

opc_err opc_api_set_threads(opc_api *api, int threads)
{
    if (api == NULL || api->ctx != NULL || threads < 1 || threads > OPC_API_MAX_THREADS) {
        return OPC_ERR_INVALID_ARG;
    }
    api->threads = threads;
    return OPC_OK;
}

opc_err opc_api_set_keepalive_ms(opc_api *api, int keepalive_ms)
{
    if (api == NULL || api->ctx != NULL || keepalive_ms < 0 || keepalive_ms > 3600000) {
        return OPC_ERR_INVALID_ARG;
    }
    api->keepalive_ms = keepalive_ms;
    return OPC_OK;
}

opc_err opc_api_set_max_inline_file_kb(opc_api *api, int kb)
{
    if (api == NULL || api->ctx != NULL || kb < 0 || kb > OPC_API_MAX_INLINE_FILE_KB) {
        return OPC_ERR_INVALID_ARG;
    }
    api->max_inline_kb = kb;
    return OPC_OK;
}

static_assert(OPC_API_MAX_RENDER_CACHE_BYTES <= OPC_RENDER_MAX_BYTES,
              "the setter's range must be one opc__render_create accepts");

opc_err opc_api_set_render_cache_bytes(opc_api *api, size_t bytes)
{
    if (api == NULL || api->ctx != NULL || bytes > OPC_API_MAX_RENDER_CACHE_BYTES) {
        return OPC_ERR_INVALID_ARG;
    }
    /* A new, empty cache: nothing has been served yet. */
    opc__render *r = NULL;
    opc_err rc = opc__render_create(bytes, OPC_RENDER_MAX_BODY, &r);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__render_free(api->render);
    api->render = r;
    return OPC_OK;
}

/* Worker threads get a slot for their scratch (http.h); others none. */
static void *on_init_thread(const struct mg_context *ctx, int thread_type)
{
    (void)ctx;
    return thread_type == 1 ? opc__api_slot_new() : NULL;
}

static void on_exit_thread(const struct mg_context *ctx, int thread_type, void *thread_pointer)
{
    (void)ctx;
    if (thread_type == 1) {
        opc__api_slot_free(thread_pointer);
    }
}

static void on_connection_closed(void *thread_pointer)
{
    opc__api_slot_release(thread_pointer);
}

opc_err opc_api_start(opc_api *api, char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (api == NULL || api->ctx != NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    /* Read the cache once before serving, so the first request is fast. */
    opc__index_poll(api->index, opc__monotonic_ms(), true);
    opc__httpd_config cfg = {.name = "api",
                             .bind = api->bind,
                             .port = api->port,
                             .threads = api->threads,
                             .keepalive_ms = api->keepalive_ms,
                             .head_timeout_ms = OPC_API_HEAD_TIMEOUT_MS,
                             .max_head = OPC_API_MAX_REQUEST,
                             .handler = opc__api_handle,
                             .handler_data = api,
                             .init_thread = on_init_thread,
                             .exit_thread = on_exit_thread,
                             .connection_closed = on_connection_closed};
    opc_err rc = opc__api_httpd_start(api, &cfg, &eb);
    if (rc != OPC_OK) {
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        opc_api_stop(api);
        return rc;
    }
    if (opc__index_watch_start(api->index) != OPC_OK) {
        opc__log(OPC_LOG_WARN, "api", "cannot start the cache watcher; requests poll the cache");
    }
    bool v6 = strchr(api->bind, ':') != NULL;
    opc__log(OPC_LOG_INFO, "api", "serving on %s%s%s:%d", v6 ? "[" : "", api->bind, v6 ? "]" : "",
             api->bound_port);
    return OPC_OK;
}

int opc_api_port(const opc_api *api)
{
    return api != NULL && api->ctx != NULL ? api->bound_port : -1;
}

void opc_api_stop(opc_api *api)
{
    if (api == NULL) {
        return;
    }
    opc__api_tls_stop(api);
    opc__index_watch_stop(api->index);
    if (api->ctx != NULL) {
        opc__httpd_stop(api->ctx, api->bind, api->bound_port); /* requests in progress finish */
        api->ctx = NULL;
        api->bound_port = -1;
        opc__log(OPC_LOG_INFO, "api", "stopped");
    }
}

void opc_api_free(opc_api *api)
{
    if (api == NULL) {
        return;
    }
    opc_api_stop(api);
    opc__api_tls_free(api);
    opc__index_free(api->index);
    opc__render_free(api->render);
    opc__activity_close(api->activity); /* writes what is queued */
    opc__metrics_free(api->metrics);
    opc__upstream_close(api->upstream);
    opc__cache_close(api->wcache);
    pthread_mutex_destroy(&api->write_mu);
    opc__vault_keys_free(api->keys);
    if (api->auth != NULL) {
        opc__auth_lock(api->auth);
    }
    opc__auth_free(api->auth);
    opc__free(api->cache_path);
    opc__free(api);
}
