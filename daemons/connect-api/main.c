/*
 * connect-api - the Connect REST API over the local cache: a thin shell over
 * opc_api (docs/configuration.md, docs/API.md). Start-up, logging, signals
 * and the variables both daemons read are daemons/common/daemon.c's.
 *
 * Its own variables (a bad value stops start-up with one line naming it):
 *   OP_SYNC_TIMEOUT  Go duration a request waits for the initial sync
 *                    (default 10s, at most 1h)
 *   OP_JWT_LEEWAY    Go duration of clock skew allowed on a token's exp,
 *                    nbf and iat, whole seconds (default 5s, at most 5m)
 *   OP_API_THREADS   worker threads = connections served at once, idle
 *                    keep-alive ones included (1-16384; default 1280)
 *   OP_HTTP_KEEPALIVE  Go duration an idle keep-alive connection waits for
 *                    its next request (default 65s, at most 1h; 0 closes
 *                    after every answer)
 *   OP_MAX_INLINE_FILE_SIZE_KB  largest file inlined by inline_files /
 *                    inline_content, in KiB (0-65536; default 100)
 *   OP_RENDER_CACHE_MB  memory for the sealed rendered-item cache, in MiB
 *                    (0-1024, 0 disables it; default 16)
 *   OP_HTTPS_PORT, OP_TLS_*, OP_ACME_*  HTTPS (daemons/common/tls_env.c,
 *                    docs/tls.md)
 *
 * SIGTERM/SIGINT: stop accepting, finish the requests in progress, exit 0.
 * SIGHUP: re-read the TLS certificate files (or the ACME state).
 */
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "tls_env.h"

static const dmn_prog prog = {
    .name = "connect-api",
    .title = "1Password Connect API",
    .about = "Serves the 1Password Connect REST API (version " OPC_CONNECT_VERSION
             ") from the local cache that\n"
             "connect-sync fills, over HTTP and, with a certificate or ACME, HTTPS. It is\n"
             "configured by its environment only.\n",
    .env = "  OP_SYNC_TIMEOUT     how long a request waits for the initial sync before a\n"
           "                      408, a Go duration of at most 1h (default 10s)\n"
           "  OP_JWT_LEEWAY       clock skew allowed on a token's exp, nbf and iat, a Go\n"
           "                      duration of whole seconds, at most 5m (default 5s)\n"
           "  OP_API_THREADS      worker threads, 1-16384: one per open connection, idle\n"
           "                      keep-alive ones included (default 1280)\n"
           "  OP_HTTP_KEEPALIVE   how long an idle keep-alive connection waits for its\n"
           "                      next request, a Go duration of at most 1h; 0 closes\n"
           "                      after every answer (default 65s)\n"
           "  OP_MAX_INLINE_FILE_SIZE_KB  the largest file inlined by inline_files or\n"
           "                      inline_content, in KiB, 0-65536 (default 100)\n"
           "  OP_RENDER_CACHE_MB  memory for the rendered-item cache, in MiB, 0-1024;\n"
           "                      0 disables it (default 16)\n" TLS_ENV_HELP,
};

/* The numbers prog.env and TLS_ENV_HELP state: a new default fails here. */
_Static_assert(OPC_API_MAX_THREADS == 16384 && OPC_API_DEFAULT_THREADS == 1280 &&
                   OPC_API_DEFAULT_KEEPALIVE_MS == 65000 &&
                   OPC_API_DEFAULT_SYNC_TIMEOUT_MS == 10000 &&
                   OPC_API_DEFAULT_JWT_LEEWAY_S == 5 && OPC_API_MAX_JWT_LEEWAY_S == 300 &&
                   OPC_API_MAX_INLINE_FILE_KB == 65536 &&
                   OPC_API_DEFAULT_MAX_INLINE_FILE_KB == 100 &&
                   OPC_API_MAX_RENDER_CACHE_BYTES >> 20 == 1024 &&
                   OPC_API_DEFAULT_RENDER_CACHE_BYTES >> 20 == 16 &&
                   OPC_API_DEFAULT_HTTPS_PORT == 8443,
               "connect-api --help (and man/connect-api.8) state these defaults: update them");

static opc_err set_https_port(void *api, int port)
{
    return opc_api_set_https_port(api, port);
}

static opc_err set_files(void *api, const char *cert, const char *key, char *err, size_t n)
{
    return opc_api_set_tls_files(api, cert, key, err, n);
}

static opc_err set_acme(void *api, const char *domain, const char *url, const char *ca,
                        const char *email, const char *dir, char *err, size_t n)
{
    return opc_api_set_acme(api, domain, url, ca, email, dir, err, n);
}

/* HTTPS from the environment; the ACME state lives beside the cache. */
static opc_err apply_tls(opc_api *api, const tls_env *tls, const char *cache_path, char *err,
                         size_t err_len)
{
    char dir[DMN_PATH_MAX];
    const char *slash = strrchr(cache_path, '/');
    size_t n = slash != NULL ? (size_t)(slash - cache_path) : 0;
    if (tls->letsencrypt != NULL && (n == 0 || n >= sizeof dir)) {
        (void)snprintf(err, err_len, "XDG_DATA_HOME: no usable data directory");
        return OPC_ERR_INVALID_ARG;
    }
    n = n < sizeof dir ? n : 0;
    memcpy(dir, cache_path, n);
    dir[n] = '\0';
    const tls_env_target target = {.obj = api,
                                   .set_https_port = set_https_port,
                                   .set_files = set_files,
                                   .set_acme = set_acme};
    return tls_env_apply(&target, tls, dir, err, err_len);
}

static void reload_tls(void *api)
{
    opc_err rc = opc_api_tls_reload(api); /* logs what it did */
    (void)rc; /* OPC_ERR_INVALID_ARG: no HTTPS configured, nothing to re-read */
}

int main(int argc, char **argv)
{
    dmn d;
    int status = dmn_begin(&d, &prog, argc, argv);
    if (status >= 0) {
        return status;
    }
    /* connect-api's own variables, read and checked before anything starts;
     * a new one goes here, and its setter into the chain below. */
    int64_t sync_timeout =
        dmn_env_duration_ms("OP_SYNC_TIMEOUT", 3600000, OPC_API_DEFAULT_SYNC_TIMEOUT_MS);
    int leeway_s = (int)dmn_env_seconds("OP_JWT_LEEWAY", OPC_API_MAX_JWT_LEEWAY_S,
                                        OPC_API_DEFAULT_JWT_LEEWAY_S);
    int threads =
        (int)dmn_env_int("OP_API_THREADS", 1, OPC_API_MAX_THREADS, OPC_API_DEFAULT_THREADS);
    int keepalive =
        (int)dmn_env_duration_ms("OP_HTTP_KEEPALIVE", 3600000, OPC_API_DEFAULT_KEEPALIVE_MS);
    int inline_kb = (int)dmn_env_int("OP_MAX_INLINE_FILE_SIZE_KB", 0, OPC_API_MAX_INLINE_FILE_KB,
                                     OPC_API_DEFAULT_MAX_INLINE_FILE_KB);
    size_t render_mb = (size_t)dmn_env_int("OP_RENDER_CACHE_MB", 0,
                                           OPC_API_MAX_RENDER_CACHE_BYTES >> 20,
                                           OPC_API_DEFAULT_RENDER_CACHE_BYTES >> 20);
    tls_env tls;
    tls_env_read(&tls);
    int https_port = tls_env_https_port(&tls);
    if (https_port > 0 && https_port == d.http_port) {
        dmn_bad("OP_HTTPS_PORT", "the same port as OP_HTTP_PORT");
    }
    dmn_upstream_ca_file(dmn_env("OP_UPSTREAM_CA_FILE"));

    if (dmn_open(&d) != 0) {
        return 1;
    }
    char err[OPC_ERRBUF_SIZE] = "a setting was refused";
    opc_api *api = NULL;
    opc_err rc = opc_api_create(d.creds, d.cache_path, &api, err, sizeof err);
    if (rc == OPC_OK && (opc_api_set_http_port(api, d.http_port) != OPC_OK ||
                         opc_api_set_bind_address(api, d.bind_address) != OPC_OK ||
                         opc_api_set_sync_timeout_ms(api, sync_timeout) != OPC_OK ||
                         opc_api_set_jwt_leeway_s(api, leeway_s) != OPC_OK ||
                         opc_api_set_threads(api, threads) != OPC_OK ||
                         opc_api_set_keepalive_ms(api, keepalive) != OPC_OK ||
                         opc_api_set_max_inline_file_kb(api, inline_kb) != OPC_OK)) {
        rc = OPC_ERR_INVALID_ARG; /* not reached: the values were checked above */
    }
    if (rc == OPC_OK) {
        rc = opc_api_set_render_cache_bytes(api, render_mb << 20); /* OPC_ERR_NOMEM */
    }
    if (rc == OPC_OK) {
        rc = apply_tls(api, &tls, d.cache_path, err, sizeof err);
    }
    if (rc == OPC_OK) {
        rc = opc_api_start(api, err, sizeof err);
    }
    if (rc != OPC_OK) {
        opc_api_free(api); /* closes what it had bound */
        const dmn_port ports[] = {{"OP_HTTP_PORT", d.http_port}, {"OP_HTTPS_PORT", https_port}};
        dmn_fail_start(&d, err, ports, sizeof ports / sizeof ports[0]);
        return 1;
    }
    (void)dmn_wait(reload_tls, api);
    opc_api_free(api); /* drains the requests in progress */
    dmn_close(&d);
    return 0;
}
