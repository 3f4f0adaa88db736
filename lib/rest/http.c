/*
 * rest/http.c - response assembly and sending (http.h).
 */
#define _GNU_SOURCE /* pthread_getattr_np */
#include "rest/http.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <civetweb.h>

#include "core/alloc.h"
#include "core/httpd.h"
#include "core/log.h"
#include "core/time.h"
#include "observe/activity.h"
#include "observe/metrics.h"

static const char oom_response[] =
    "HTTP/1.1 500 Internal Server Error\r\n"
    "Content-Type: application/json\r\nContent-Length: 47\r\n"
    "1Password-Connect-Version: " OPC_API_CONNECT_VERSION "\r\n\r\n"
    "{\"status\":500,\"message\":\"Something went wrong\"}";

int opc__resp_oom(struct mg_connection *conn)
{
    mg_write(conn, oom_response, sizeof oom_response - 1);
    return 500;
}

opc__api_worker *opc__api_worker_new(void)
{
    opc__api_worker *w = opc__calloc(1, sizeof *w);
    if (w != NULL) {
        opc__buf_init(&w->out, true);
    }
    return w;
}

opc__api_slot *opc__api_slot_new(void)
{
    opc__api_slot *s = opc__calloc(1, sizeof(opc__api_slot));
    if (s == NULL) {
        return NULL;
    }
    /* Made by the worker thread itself (civetweb's init_thread): its stack. */
    s->self = pthread_self();
    pthread_attr_t attr;
    if (pthread_getattr_np(s->self, &attr) == 0) {
        void *addr = NULL;
        size_t size = 0;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr != NULL && size > 0) {
            s->stack_lo = (uintptr_t)addr;
        }
        (void)pthread_attr_destroy(&attr);
    }
    return s;
}

/*
 * The pages of the worker's stack below the current frame (less
 * OPC_HTTP_STACK_KEEP) hold nothing live while the worker waits for its
 * next connection: given back, so that the stack depth a request once
 * reached (JSON, crypto, SQLite) is not kept by every worker that ever
 * served one. Only on the worker's own thread; the next request faults in
 * zeroed pages again. At most once per OPC_HTTP_STACK_RELEASE_MS per
 * worker: with a new connection for every request, a release and the
 * faults after it at every close cost 10-12 % of the rate (docs/performance.md).
 */
static void stack_release(opc__api_slot *s)
{
    if (s->stack_lo == 0 || !pthread_equal(s->self, pthread_self())) {
        return;
    }
    int64_t now = opc__monotonic_ms();
    if (s->released_ms != 0 && now - s->released_ms < OPC_HTTP_STACK_RELEASE_MS) {
        return;
    }
    s->released_ms = now;
    long pg = sysconf(_SC_PAGESIZE); /* from the auxiliary vector: no system call */
    uintptr_t page = pg > 0 ? (uintptr_t)pg : 4096;
    volatile char here = 0;
    uintptr_t sp = (uintptr_t)&here;
    if (sp < s->stack_lo + OPC_HTTP_STACK_KEEP + page) {
        return;
    }
    uintptr_t hi = (sp - OPC_HTTP_STACK_KEEP) & ~(page - 1);
    uintptr_t lo = (s->stack_lo + page - 1) & ~(page - 1);
    if (hi > lo) {
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
}

void opc__api_slot_free(opc__api_slot *s)
{
    if (s != NULL) {
        opc__api_worker_free(s->w);
        opc__free(s);
    }
}

void opc__api_slot_release(opc__api_slot *s)
{
    if (s != NULL) {
        opc__api_worker_free(s->w);
        s->w = NULL;
        stack_release(s);
    }
}

opc__api_worker *opc__api_worker_of(opc__api_slot *s)
{
    if (s != NULL && s->w == NULL) {
        s->w = opc__api_worker_new();
    }
    return s != NULL ? s->w : NULL;
}

void opc__api_worker_free(opc__api_worker *w)
{
    if (w == NULL) {
        return;
    }
    opc__buf_free(&w->out);
    opc__wipe(&w->tok, sizeof w->tok);
    opc__free(w);
}

void opc__request_id(opc_api *api, char out[37])
{
    uint8_t u[16];
    memcpy(u, api->rid_prefix, 8);
    uint64_t n = atomic_fetch_add(&api->rid_counter, 1);
    for (int i = 0; i < 8; i++) {
        u[15 - i] = (uint8_t)(n >> (8 * i));
    }
    opc__httpd_format_request_id(u, out);
}

void opc__request_id_take(opc_api *api, const char *client, char out[OPC_REQUEST_ID_MAX + 1])
{
    if (!opc__httpd_request_id_ok(client)) {
        opc__request_id(api, out);
        return;
    }
    (void)snprintf(out, OPC_REQUEST_ID_MAX + 1, "%s", client);
}

/*
 * The X-Request-ID header line followed by extra (may be NULL), in out
 * (OPC_HTTPD_HEADER_GAP + 1 bytes). Cut short only when the two alone fill
 * the header gap, so the headers cannot fit it either: the writer then
 * answers its fallback 500, never a cut header.
 */
static const char *rid_header(const opc__req *r, const char *extra, char *out, size_t cap)
{
    (void)snprintf(out, cap, "X-Request-ID: %s\r\n%s", r->rid, extra != NULL ? extra : "");
    return out;
}

#define RID_HEADER_CAP (OPC_HTTPD_HEADER_GAP + 1)

int opc__req_finish(opc__req *r, int status)
{
    int64_t now = opc__monotonic_ns();
    uint64_t took_ns = now > r->start_ns ? (uint64_t)(now - r->start_ns) : 0;
    const struct mg_request_info *ri = mg_get_request_info(r->conn);
    if (opc__log_enabled(OPC_LOG_INFO)) {
        /* The one line per request (docs/observability.md, "Logs"): the
         * path without its query, ids, never a header. */
        opc_log_http h = {.method = r->method,
                          .path = r->path,
                          .status = status,
                          .duration_us = (int64_t)(took_ns / 1000),
                          .remote_addr = ri != NULL ? ri->remote_addr : NULL,
                          .bytes = r->bytes};
        opc__log_request(OPC_LOG_INFO, "api", r->rid, r->jti[0] != '\0' ? r->jti : NULL, &h,
                         opc__httpd_reason(status));
    }
    opc__metrics_record_request(r->api->metrics, (opc__metrics_route)r->route,
                                opc__metrics_method_id(r->method), status, took_ns);
    if (r->audit) {
        opc__activity_event ev = {
            .request_id = r->rid,
            .action = opc__activity_action_for_method(r->method),
            .result = opc__activity_result_for_status(status),
            .jti = r->jti,
            .user_agent = mg_get_header(r->conn, "User-Agent"),
            .request_ip = ri != NULL ? ri->remote_addr : NULL,
            .resource_type = (opc__activity_resource)r->resource_type,
            .vault_id = r->vault[0] != '\0' ? r->vault : NULL,
            .item_id = r->item[0] != '\0' ? r->item : NULL,
            .item_version = r->item_version,
        };
        opc__activity_record(r->api->activity, &ev);
    }
    return status;
}

opc__buf *opc__resp_begin(opc__req *r)
{
    opc__httpd_begin(&r->w->out);
    return &r->w->out;
}

/* Wipe the buffer; give memory back after an unusually large response. */
static void resp_done(opc__req *r)
{
    opc__buf *b = &r->w->out;
    if (b->cap > OPC_HTTP_KEEP_BUF) {
        opc__buf_free(b);
        opc__buf_init(b, true);
    } else {
        opc__buf_reset(b);
    }
}

int opc__resp_send(opc__req *r, int status, const char *ctype, const char *extra)
{
    const opc__buf *b = &r->w->out;
    r->bytes = status != 204 && b->len > OPC_HTTPD_HEADER_GAP ? b->len - OPC_HTTPD_HEADER_GAP : 0;
    char head[RID_HEADER_CAP];
    const char *h = rid_header(r, extra, head, sizeof head);
    status = opc__httpd_send(r->conn, &r->w->out, status, ctype, h, false, oom_response);
    resp_done(r);
    return opc__req_finish(r, status);
}

int opc__resp_send_body(opc__req *r, int status, const char *ctype, const char *body, size_t len)
{
    char head[RID_HEADER_CAP];
    status = opc__httpd_send_body(r->conn, status, ctype, rid_header(r, NULL, head, sizeof head),
                                  body, len, false, oom_response);
    r->bytes = status == 500 ? 0 : len;
    return opc__req_finish(r, status);
}

bool opc__resp_stream_begin(opc__req *r, int status, const char *ctype, size_t len)
{
    r->bytes = 0;
    char head[RID_HEADER_CAP];
    int st = opc__httpd_send_head(r->conn, status, ctype, rid_header(r, NULL, head, sizeof head),
                                  len, oom_response);
    if (st != status) {
        (void)opc__req_finish(r, st);
        return false;
    }
    opc__httpd_begin(&r->w->out);
    return true;
}

/* Send what the buffer holds (what was appended is whole even when a later
 * append failed), then empty it (wiped). */
static void stream_flush(opc__req *r)
{
    opc__buf *b = &r->w->out;
    if (b->data != NULL && b->len > OPC_HTTPD_HEADER_GAP) {
        size_t n = b->len - OPC_HTTPD_HEADER_GAP;
        (void)mg_write(r->conn, b->data + OPC_HTTPD_HEADER_GAP, n);
        r->bytes += n;
    }
    opc__httpd_begin(b);
}

void opc__resp_stream_write(opc__req *r, const char *p, size_t n)
{
    opc__buf *b = &r->w->out;
    if (b->len >= OPC_HTTPD_HEADER_GAP && b->len - OPC_HTTPD_HEADER_GAP + n > OPC_HTTP_STREAM_PIECE) {
        stream_flush(r);
    }
    /* Large pieces, and any piece the buffer cannot take, go out directly. */
    if (n > OPC_HTTP_STREAM_PIECE || opc__buf_err(b) != OPC_OK || b->len < OPC_HTTPD_HEADER_GAP ||
        opc__buf_append(b, p, n) != OPC_OK) {
        stream_flush(r);
        (void)mg_write(r->conn, p, n);
        r->bytes += n;
    }
}

int opc__resp_stream_end(opc__req *r, int status)
{
    stream_flush(r);
    resp_done(r);
    return opc__req_finish(r, status);
}

int opc__resp_raw(opc__req *r, int status, const char *ctype, const char *body, size_t len)
{
    opc__buf *b = opc__resp_begin(r);
    opc__buf_append(b, body, len);
    return opc__resp_send(r, status, ctype, NULL);
}

int opc__resp_json(opc__req *r, int status, const char *body, size_t len)
{
    return opc__resp_raw(r, status, "application/json", body, len);
}

int opc__resp_rebuilding(opc__req *r)
{
    static const char msg[] = "the server's cache file was lost and is being rebuilt from the "
                              "account; nothing was read or changed, retry the request later";
    char extra[48];
    (void)snprintf(extra, sizeof extra, "Retry-After: %d\r\n", OPC_HTTP_REBUILD_RETRY_S);
    opc__buf *b = opc__resp_begin(r);
    opc__buf_append_str(b, "{\"status\":503,\"message\":");
    opc__buf_append_json_str(b, msg, sizeof msg - 1);
    opc__buf_append_char(b, '}');
    return opc__resp_send(r, 503, "application/json", extra);
}

int opc__resp_error(opc__req *r, int status, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    opc__buf *b = opc__resp_begin(r);
    opc__buf_appendf(b, "{\"status\":%d,\"message\":", status);
    opc__buf_append_json_str(b, msg, strlen(msg));
    opc__buf_append_char(b, '}');
    return opc__resp_send(r, status, "application/json", NULL);
}
