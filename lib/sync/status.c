/*
 * sync/status.c - connect-sync's status listener (opc_sync_listen): a small
 * civetweb server of its own answering
 *
 *   GET /heartbeat   200 text/plain "."
 *   GET /health      200 application/json, always (the state is in the body):
 *                    {"name":"1Password Connect Sync","version":"<Connect>",
 *                     "dependencies":[{"service":"sqlite",...},
 *                     {"service":"account_data",...},{"service":"upstream",...}]}
 *                    sqlite: ACTIVE; REBUILDING from the cache file's loss
 *                    until the new file's initial sync is complete;
 *                    NOT_CONNECTED while no new file can be made (sync.h)
 *   HEAD of either   the same headers, no body
 *   other methods    405 {"status":405,"message":"Method not allowed"}
 *   other paths      404 {"status":404,"message":"Not found"}
 *
 * One trailing slash is ignored, as by the API. Every response carries
 * 1Password-Connect-Version, Cache-Control: no-store and Connection: close,
 * and is assembled in one buffer and sent with one mg_write by the API's
 * writer (core/httpd.h; ARCHITECTURE §7). Keep-alive is off and the pool is small: the listener
 * serves health probes, which open a connection per request, so an idle client cannot hold a
 * worker. The handlers read only the health snapshot (under the sync's lock) and the cache path;
 * the sync's cache handle stays with the sync's thread.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include <civetweb.h>

#include <opconnect/version.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/httpd.h"
#include "core/log.h"
#include "core/strparse.h"
#include "sync/sync.h"

#define SUB "sync"
#define STATUS_NAME "1Password Connect Sync"
#define STATUS_THREADS 4
#define STATUS_MAX_REQUEST 8192
#define STATUS_TIMEOUT_MS 10000

static const char oom_response[] = "HTTP/1.1 500 Internal Server Error\r\n"
                                   "Content-Type: application/json\r\nContent-Length: 47\r\n"
                                   "1Password-Connect-Version: " OPC_CONNECT_VERSION "\r\n"
                                   "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
                                   "{\"status\":500,\"message\":\"Something went wrong\"}";

/* Connection: close on every answer; Allow on a 405. */
static const char *extra_headers(int status)
{
    return status == 405 ? "Connection: close\r\nAllow: GET, HEAD\r\n" : "Connection: close\r\n";
}

/* Send the body collected in b since opc__httpd_begin() (only the
 * headers for HEAD), in one write; b is freed. */
static int send_body(struct mg_connection *conn, bool head, int status, const char *ctype,
                     opc__buf *b)
{
    status = opc__httpd_send(conn, b, status, ctype, extra_headers(status), head, oom_response);
    opc__buf_free(b);
    return status;
}

static int respond(struct mg_connection *conn, bool head, int status, const char *ctype,
                   const char *body, size_t len)
{
    opc__buf b;
    opc__buf_init(&b, false);
    opc__httpd_begin(&b);
    opc__buf_append(&b, body, len);
    return send_body(conn, head, status, ctype, &b);
}

static int respond_error(struct mg_connection *conn, bool head, int status, const char *message)
{
    char body[128];
    int n = snprintf(body, sizeof body, "{\"status\":%d,\"message\":\"%s\"}", status, message);
    return respond(conn, head, status, "application/json", body, (size_t)n);
}

/* {"service":...,"status":...[,"message":...]} */
static void dependency(opc__buf *b, bool first, const char *service, const char *status,
                       const char *message)
{
    opc__buf_appendf(b, "%s{\"service\":\"%s\",\"status\":\"%s\"", first ? "" : ",", service,
                     status);
    if (message != NULL) {
        opc__buf_append_str(b, ",\"message\":");
        opc__buf_append_json_str(b, message, strlen(message));
    }
    opc__buf_append_char(b, '}');
}

static int respond_health(struct mg_connection *conn, bool head, opc_sync *s)
{
    opc__sync_health h;
    const char *upstream = NULL;
    opc__sync_health_get(s, &h, &upstream);
    opc__buf b;
    opc__buf_init(&b, false);
    opc__httpd_begin(&b);
    opc__buf_append_str(&b, "{\"name\":\"" STATUS_NAME "\",\"version\":\"" OPC_CONNECT_VERSION
                            "\",\"dependencies\":[");
    opc__buf msg;
    opc__buf_init(&msg, false);
    const char *state = "ACTIVE";
    if (!h.cache_open) {
        /* Lost, and no new file could be made yet (sync.h). */
        state = "NOT_CONNECTED";
        opc__buf_append_str(&msg, h.lost);
        opc__buf_append_str(&msg, "; cannot create a new one: ");
        opc__buf_append_str(&msg, h.last_error[0] != '\0' ? h.last_error : "not tried yet");
    } else if (h.rebuilding) {
        state = "REBUILDING";
        opc__buf_append_str(&msg, h.lost);
        opc__buf_append_str(&msg, "; rebuilding it from the account");
    } else {
        opc__buf_append_str(&msg, "Connected to ");
        opc__buf_append_str(&msg, s->cache_path);
    }
    dependency(&b, true, "sqlite", state, opc__buf_err(&msg) == OPC_OK ? msg.data : state);
    opc__buf_free(&msg);
    if (h.initial) {
        dependency(&b, false, "account_data", "ACTIVE", NULL);
    } else {
        dependency(&b, false, "account_data", "NOT_SYNCED",
                   "Account data is not available because synchronization has not yet "
                   "completed");
    }
    if (strcmp(upstream, "unreachable") == 0) {
        dependency(&b, false, "upstream", "UNREACHABLE",
                   h.last_error[0] != '\0' ? h.last_error : "upstream unreachable");
    } else if (strcmp(upstream, "ok") == 0) {
        dependency(&b, false, "upstream", "ACTIVE", NULL);
    } else {
        dependency(&b, false, "upstream", "UNINITIALIZED", NULL);
    }
    opc__buf_append_str(&b, "]}");
    if (opc__buf_err(&b) != OPC_OK) {
        opc__buf_free(&b);
        return respond_error(conn, head, 500, "Something went wrong");
    }
    return send_body(conn, head, 200, "application/json", &b);
}

static int handle(struct mg_connection *conn, void *cbdata)
{
    opc_sync *s = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *method = ri->request_method != NULL ? ri->request_method : "?";
    const char *uri = ri->local_uri != NULL ? ri->local_uri : "/";
    size_t n = strlen(uri);
    if (n > 1 && uri[n - 1] == '/') {
        n--;
    }
    bool heartbeat = n == sizeof "/heartbeat" - 1 && memcmp(uri, "/heartbeat", n) == 0;
    bool health = n == sizeof "/health" - 1 && memcmp(uri, "/health", n) == 0;
    bool head = strcmp(method, "HEAD") == 0;
    int status;
    if (!heartbeat && !health) {
        status = respond_error(conn, head, 404, "Not found");
    } else if (!head && strcmp(method, "GET") != 0) {
        status = respond_error(conn, false, 405, "Method not allowed");
    } else if (heartbeat) {
        status = respond(conn, head, 200, "text/plain", ".", 1);
    } else {
        status = respond_health(conn, head, s);
    }
    opc__log(OPC_LOG_DEBUG, SUB, "%.16s %.128s: %d", method, uri, status);
    return status;
}

opc_err opc_sync_listen(opc_sync *s, const char *bind_address, int port, char *errbuf,
                        size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (bind_address == NULL || bind_address[0] == '\0') {
        bind_address = "0.0.0.0";
    }
    if (s == NULL) {
        opc__fail(&eb, OPC_ERR_INVALID_ARG, "sync: missing argument");
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc = OPC_OK;
    if (port < 0 || port > 65535) {
        rc = opc__fail(&eb, OPC_ERR_INVALID_ARG, "sync: port %d is not 0-65535", port);
    } else if (!opc__ip_valid(bind_address)) {
        rc = opc__fail(&eb, OPC_ERR_INVALID_ARG, "sync: %.64s is not a numeric IP address",
                       bind_address);
    }
    if (rc != OPC_OK) {
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        return rc;
    }
    opc__httpd_config cfg = {.name = SUB,
                             .bind = bind_address,
                             .port = port,
                             .tls_port = -1,
                             .threads = STATUS_THREADS,
                             .keepalive_ms = 0,
                             .head_timeout_ms = STATUS_TIMEOUT_MS,
                             .max_head = STATUS_MAX_REQUEST,
                             .handler = handle,
                             .handler_data = s};
    pthread_mutex_lock(&s->http_lock);
    if (s->http != NULL) {
        rc = opc__fail(&eb, OPC_ERR_INVALID_ARG, "sync: the status listener already runs");
    } else {
        int bound = -1;
        int unused = -1;
        rc = opc__httpd_start(&cfg, &s->http, &bound, &unused, &eb);
        if (rc == OPC_OK) {
            atomic_store(&s->http_port, bound);
            (void)snprintf(s->http_bind, sizeof s->http_bind, "%s", bind_address);
        }
    }
    pthread_mutex_unlock(&s->http_lock);
    if (rc != OPC_OK) {
        opc__ebuf_export(&eb, errbuf, errbuf_len);
        return rc;
    }
    if (errbuf != NULL && errbuf_len > 0) {
        errbuf[0] = '\0';
    }
    opc__log(OPC_LOG_INFO, SUB, "status on %s:%d (/heartbeat, /health)", bind_address,
             atomic_load(&s->http_port));
    return OPC_OK;
}

int opc_sync_port(const opc_sync *s)
{
    return s == NULL ? -1 : atomic_load(&s->http_port);
}

void opc__sync_status_stop(opc_sync *s)
{
    pthread_mutex_lock(&s->http_lock);
    struct mg_context *ctx = s->http;
    int port = atomic_exchange(&s->http_port, -1);
    s->http = NULL;
    pthread_mutex_unlock(&s->http_lock);
    if (ctx != NULL) {
        opc__httpd_stop(ctx, s->http_bind, port); /* requests in progress finish */
        opc__log(OPC_LOG_INFO, SUB, "status listener stopped");
    }
}
