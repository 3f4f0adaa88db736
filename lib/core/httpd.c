/*
 * core/httpd.c - civetweb as the library's servers use it (httpd.h): the
 * start with the connection model, the framing checks, errors as JSON,
 * the request body against the clock, the response writer and the quick
 * stop.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>

#include <opconnect/version.h>

#include "core/alloc.h"
#include "core/httpd.h"
#include "core/log.h"
#include "core/mg_engine.h"
#include "core/rand.h"
#include "core/strparse.h"
#include "core/time.h"

const char *opc__httpd_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Internal Server Error";
    }
}

void opc__httpd_begin(opc__buf *b)
{
    opc__buf_reset(b);
    if (opc__buf_reserve(b, OPC_HTTPD_HEADER_GAP + 1024) == OPC_OK) {
        memset(b->data, ' ', OPC_HTTPD_HEADER_GAP);
        b->len = OPC_HTTPD_HEADER_GAP;
        b->data[b->len] = '\0';
    }
}

/* The status line and headers of a response with a body of body_len bytes
 * into head (cap bytes); their length, or -1 when they do not fit. */
static int format_head(char *head, size_t cap, int status, const char *ctype, const char *extra,
                       size_t body_len, bool close)
{
    int hl;
    const char *conn_close = close ? "Connection: close\r\n" : "";
    if (status == 204) { /* no body, and no Content-Length (RFC 9110 §8.6) */
        hl = snprintf(head, cap,
                      "HTTP/1.1 204 No Content\r\n"
                      "1Password-Connect-Version: " OPC_CONNECT_VERSION "\r\n"
                      "Cache-Control: no-store\r\n"
                      "%s%s"
                      "\r\n",
                      conn_close, extra != NULL ? extra : "");
    } else {
        hl = snprintf(head, cap,
                      "HTTP/1.1 %d %s\r\n"
                      "Content-Type: %s\r\n"
                      "Content-Length: %zu\r\n"
                      "1Password-Connect-Version: " OPC_CONNECT_VERSION "\r\n"
                      "Cache-Control: no-store\r\n"
                      "%s%s"
                      "\r\n",
                      status, opc__httpd_reason(status), ctype, body_len, conn_close,
                      extra != NULL ? extra : "");
    }
    return hl > 0 && (size_t)hl < cap ? hl : -1;
}

/* Whether the answer now going out ends the connection: so when part of
 * the request body was not read (it is never drained), and the connection
 * is marked for civetweb. */
static bool closing(struct mg_connection *conn)
{
    if (opc__mg_body_pending(conn)) {
        opc__mg_close_after(conn);
    }
    return opc__mg_closing(conn);
}

void opc__httpd_close_after(struct mg_connection *conn)
{
    opc__mg_close_after(conn);
}

int opc__httpd_send(struct mg_connection *conn, opc__buf *b, int status, const char *ctype,
                    const char *extra, bool head_only, const char *fallback)
{
    char head[OPC_HTTPD_HEADER_GAP + 1];
    int hl = -1;
    if (opc__buf_err(b) == OPC_OK && b->len >= OPC_HTTPD_HEADER_GAP) {
        hl = format_head(head, sizeof head, status, ctype, extra, b->len - OPC_HTTPD_HEADER_GAP,
                         closing(conn));
        if (status == 204) {
            b->len = OPC_HTTPD_HEADER_GAP;
        }
    }
    if (hl > 0 && hl <= OPC_HTTPD_HEADER_GAP) {
        char *start = b->data + OPC_HTTPD_HEADER_GAP - hl;
        memcpy(start, head, (size_t)hl);
        (void)mg_write(conn, start, (size_t)hl + (head_only ? 0 : b->len - OPC_HTTPD_HEADER_GAP));
        return status;
    }
    opc__mg_close_after(conn);
    (void)mg_write(conn, fallback, strlen(fallback));
    return 500;
}

int opc__httpd_send_head(struct mg_connection *conn, int status, const char *ctype,
                         const char *extra, size_t len, const char *fallback)
{
    char head[OPC_HTTPD_HEADER_GAP + 1];
    int hl = format_head(head, sizeof head, status, ctype, extra, len, closing(conn));
    if (hl < 0 || status == 204) {
        opc__mg_close_after(conn);
        (void)mg_write(conn, fallback, strlen(fallback));
        return 500;
    }
    (void)mg_write(conn, head, (size_t)hl);
    return status;
}

int opc__httpd_send_body(struct mg_connection *conn, int status, const char *ctype,
                         const char *extra, const char *body, size_t len, bool head_only,
                         const char *fallback)
{
    int st = opc__httpd_send_head(conn, status, ctype, extra, len, fallback);
    if (st == status && !head_only && len > 0) {
        (void)mg_write(conn, body, len);
    }
    return st;
}

/* ---- errors, framing ---- */

bool opc__httpd_request_id_ok(const char *v)
{
    size_t n = 0;
    while (v != NULL && n <= OPC_HTTPD_REQUEST_ID_MAX && v[n] >= 0x20 && v[n] <= 0x7e) {
        n++;
    }
    return n > 0 && n <= OPC_HTTPD_REQUEST_ID_MAX && v[n] == '\0';
}

void opc__httpd_format_request_id(uint8_t u[16], char out[37])
{
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 0x0f];
    }
    out[o] = '\0';
}

/* The X-Request-ID header line of an answer sent before the router: the
 * client's, or a fresh random one. */
static void request_id_line(const struct mg_connection *conn, char *line, size_t cap)
{
    char id[OPC_HTTPD_REQUEST_ID_MAX + 1];
    const char *client = mg_get_header(conn, "X-Request-ID");
    if (opc__httpd_request_id_ok(client)) {
        (void)snprintf(id, sizeof id, "%s", client);
    } else {
        uint8_t r[16];
        if (opc__rand_bytes(r, sizeof r) != OPC_OK) {
            line[0] = '\0';
            return;
        }
        opc__httpd_format_request_id(r, id);
    }
    (void)snprintf(line, cap, "X-Request-ID: %s\r\n", id);
}

/* An answer {"status":N,"message":...} that closes the connection; message
 * is one of the fixed texts below (nothing of the request is echoed). */
static int send_error_close(struct mg_connection *conn, int status, const char *message)
{
    char body[256];
    char head[OPC_HTTPD_HEADER_GAP + 1];
    char rid[OPC_HTTPD_REQUEST_ID_MAX + 20];
    request_id_line(conn, rid, sizeof rid);
    int bl = snprintf(body, sizeof body, "{\"status\":%d,\"message\":\"%s\"}", status, message);
    opc__mg_close_after(conn);
    int hl = bl > 0 && (size_t)bl < sizeof body
                 ? format_head(head, sizeof head, status, "application/json", rid, (size_t)bl, true)
                 : -1;
    if (hl > 0) {
        (void)mg_write(conn, head, (size_t)hl);
        (void)mg_write(conn, body, (size_t)bl);
    }
    return status;
}

/* A Content-Length value as RFC 9110 §8.6 has it: digits only (and few
 * enough to be a number). */
static bool length_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 18) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return false;
        }
    }
    return true;
}

/*
 * The framing of a request head (RFC 9112 §6.3, §3.2): 0 when it may be
 * served, else the status to answer (and *why). A repeated Content-Length
 * is refused even when the values agree: one copy is all a client sends.
 */
static int check_framing(const struct mg_request_info *ri, const char **why)
{
    const char *length = NULL;
    bool encoding = false;
    int hosts = 0;
    const char *expect = NULL;
    for (int i = 0; i < ri->num_headers; i++) {
        const char *n = ri->http_headers[i].name;
        const char *v = ri->http_headers[i].value != NULL ? ri->http_headers[i].value : "";
        if (strcasecmp(n, "Content-Length") == 0) {
            if (length != NULL) {
                *why = "more than one Content-Length";
                return 400;
            }
            if (!length_ok(v)) {
                *why = "Content-Length is not a number";
                return 400;
            }
            length = v;
        } else if (strcasecmp(n, "Transfer-Encoding") == 0) {
            encoding = true;
        } else if (strcasecmp(n, "Host") == 0) {
            hosts++;
        } else if (strcasecmp(n, "Expect") == 0) {
            expect = v;
        }
    }
    if (encoding && length != NULL) {
        *why = "Content-Length together with Transfer-Encoding";
        return 400;
    }
    if (encoding) {
        *why = "a request body needs Content-Length (Transfer-Encoding is not accepted)";
        return 411;
    }
    bool http11 = ri->http_version != NULL && strcmp(ri->http_version, "1.1") == 0;
    if (hosts > 1 || (hosts == 0 && http11)) {
        *why = hosts > 1 ? "more than one Host" : "the Host header is missing";
        return 400;
    }
    if (expect != NULL && strcasecmp(expect, "100-continue") != 0) {
        *why = "only Expect: 100-continue is understood";
        return 417;
    }
    return 0;
}

/* civetweb's begin_request: the framing, before any handler runs. */
static int on_begin_request(struct mg_connection *conn)
{
    const char *why = NULL;
    int status = check_framing(mg_get_request_info(conn), &why);
    return status == 0 ? 0 : send_error_close(conn, status, why);
}

/* Every error civetweb raises itself (a malformed or too large head, a bad
 * version) gets the JSON body, and the connection closes. */
static int on_http_error(struct mg_connection *conn, int status, const char *msg)
{
    (void)msg; /* may quote the request: not echoed */
    const char *text;
    switch (status) {
    case 411: /* civetweb's answer to a Content-Length it cannot read */
        status = 400;
        text = "Content-Length is not a number";
        break;
    case 413:
        status = 431;
        text = "the request head is too large";
        break;
    case 505:
        text = "only HTTP/1.0 and HTTP/1.1 are served";
        break;
    case 400:
        if (opc__mg_head_overflow(conn)) {
            status = 431;
            text = "the request head is too large";
        } else {
            text = "malformed request";
        }
        break;
    default:
        text = opc__httpd_reason(status);
        break;
    }
    (void)send_error_close(conn, status, text);
    return 0;
}

/* ---- the request body ---- */

/* What the callbacks need; civetweb's user data, freed by the stop. */
typedef struct httpd_ud {
    const char *name;
    void *ssl_ctx;
    int body_grace_ms;
    /* the reaper (reap_main) */
    struct mg_context *ctx;
    pthread_t reaper;
    bool reaper_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    void *(*init_thread)(const struct mg_context *ctx, int thread_type);
    void (*exit_thread)(const struct mg_context *ctx, int thread_type, void *thread_pointer);
    void (*connection_closed)(void *thread_pointer);
} httpd_ud;

opc_err opc__httpd_read_body(struct mg_connection *conn, size_t max, opc__buf *b)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (opc__mg_body_chunked(conn)) {
        opc__mg_close_after(conn);
        return OPC_ERR_UNSUPPORTED;
    }
    long long len = ri->content_length;
    if (len <= 0 || !opc__mg_body_pending(conn)) {
        return OPC_OK;
    }
    if ((unsigned long long)len > max) {
        opc__mg_close_after(conn);
        return OPC_ERR_TOO_LARGE;
    }
    const char *expect = mg_get_header(conn, "Expect");
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
        strcmp(ri->http_version, "1.1") == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        (void)mg_write(conn, cont, sizeof cont - 1);
    }
    if (opc__buf_reserve(b, b->len + (size_t)len + 1) != OPC_OK) {
        opc__mg_close_after(conn);
        return OPC_ERR_NOMEM;
    }
    const httpd_ud *ud = mg_get_user_data(mg_get_context(conn));
    int64_t grace =
        ud != NULL && ud->body_grace_ms > 0 ? ud->body_grace_ms : OPC_HTTPD_BODY_GRACE_MS;
    int64_t deadline = opc__monotonic_ms() + grace + (int64_t)len * 1000 / OPC_HTTPD_BODY_MIN_RATE;
    while (opc__mg_body_pending(conn)) {
        int64_t left = deadline - opc__monotonic_ms();
        if (left <= 0) {
            opc__mg_close_after(conn);
            return OPC_ERR_RANGE;
        }
        int n = opc__mg_read_some(conn, b->data + b->len, b->cap - b->len - 1, (int)left);
        if (n == -1) {
            continue;
        }
        if (n <= 0) {
            opc__mg_close_after(conn);
            return OPC_ERR_IO;
        }
        b->len += (size_t)n;
        b->data[b->len] = '\0';
    }
    return opc__buf_err(b);
}

/* ---- start ---- */

static int on_log(const struct mg_connection *conn, const char *message)
{
    const httpd_ud *ud = conn != NULL ? mg_get_user_data(mg_get_context(conn)) : NULL;
    /* civetweb's own messages carry no request data */
    opc__log(OPC_LOG_DEBUG, ud != NULL ? ud->name : "http", "civetweb: %s", message);
    return 1;
}

static int on_external_ssl_ctx(void **ssl_ctx, void *user_data)
{
    const httpd_ud *ud = user_data;
    if (ud == NULL || ud->ssl_ctx == NULL) {
        return -1;
    }
    *ssl_ctx = ud->ssl_ctx;
    return 1; /* ours: civetweb neither changes nor frees it */
}

static void *on_init_thread(const struct mg_context *ctx, int thread_type)
{
    const httpd_ud *ud = mg_get_user_data(ctx);
    return ud != NULL && ud->init_thread != NULL ? ud->init_thread(ctx, thread_type) : NULL;
}

static void on_connection_close(const struct mg_connection *conn)
{
    const httpd_ud *ud = mg_get_user_data(mg_get_context(conn));
    if (ud != NULL && ud->connection_closed != NULL) {
        ud->connection_closed(mg_get_thread_pointer(conn));
    }
}

static void on_exit_thread(const struct mg_context *ctx, int thread_type, void *thread_pointer)
{
    const httpd_ud *ud = mg_get_user_data(ctx);
    if (ud != NULL && ud->exit_thread != NULL) {
        ud->exit_thread(ctx, thread_type, thread_pointer);
    }
}

/*
 * The reaper: every OPC_HTTPD_REAP_TICK_MS, when accepted connections wait
 * for a worker, the connections idle longest in a request head (at least
 * OPC_HTTPD_REAP_MIN_IDLE_MS) are closed to make room (mg_engine.h).
 */
static void *reap_main(void *arg)
{
    httpd_ud *ud = arg;
    int64_t closed = 0;
    int64_t logged_at = 0;
    pthread_mutex_lock(&ud->mu);
    while (!ud->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += OPC_HTTPD_REAP_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&ud->cv, &ud->mu, &ts);
        if (ud->stopping) {
            break;
        }
        pthread_mutex_unlock(&ud->mu);
        closed += opc__mg_reap_idle(ud->ctx, OPC_HTTPD_REAP_MIN_IDLE_MS, OPC_HTTPD_REAP_MAX);
        int64_t now = opc__monotonic_ms();
        if (closed > 0 && now - logged_at >= 10000) {
            opc__log(OPC_LOG_INFO, ud->name,
                     "every worker was busy: %lld idle connection(s) closed to serve others",
                     (long long)closed);
            closed = 0;
            logged_at = now;
        }
        pthread_mutex_lock(&ud->mu);
    }
    pthread_mutex_unlock(&ud->mu);
    return NULL;
}

static void reaper_stop(httpd_ud *ud)
{
    if (ud == NULL || !ud->reaper_started) {
        return;
    }
    pthread_mutex_lock(&ud->mu);
    ud->stopping = true;
    pthread_cond_broadcast(&ud->cv);
    pthread_mutex_unlock(&ud->mu);
    (void)pthread_join(ud->reaper, NULL);
    ud->reaper_started = false;
}

/* Authorization is the handlers' (tokens); this handler only keeps
 * civetweb from looking for a .htpasswd file on every request. */
static int allow_all(struct mg_connection *conn, void *data)
{
    (void)conn;
    (void)data;
    return 1;
}

/* civetweb's notation of one listening port: "8080" (every IPv4 address),
 * "+8080" (every address, IPv4 and IPv6), "[::1]:8080", "127.0.0.1:8080";
 * an "s" behind it for TLS. */
static void port_spec(char *out, size_t cap, const char *bind, int port, bool tls)
{
    const char *s = tls ? "s" : "";
    if (strcmp(bind, "0.0.0.0") == 0) {
        (void)snprintf(out, cap, "%d%s", port, s);
    } else if (strcmp(bind, "::") == 0) {
        (void)snprintf(out, cap, "+%d%s", port, s);
    } else if (strchr(bind, ':') != NULL) {
        (void)snprintf(out, cap, "[%s]:%d%s", bind, port, s);
    } else {
        (void)snprintf(out, cap, "%s:%d%s", bind, port, s);
    }
}

/* addr:port as a socket address (IPv6 when addr has a ':'); false when
 * addr is no numeric address. loopback: a wildcard ("0.0.0.0", "::") or
 * a NULL addr becomes the loopback address of its family (where to
 * connect to reach a server bound to it). */
static bool sockaddr_of(const char *addr, int port, bool loopback, struct sockaddr_storage *ss,
                        socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (addr != NULL && strchr(addr, ':') != NULL) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        if (loopback && strcmp(addr, "::") == 0) {
            v6->sin6_addr = in6addr_loopback;
            return true;
        }
        return inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1;
    }
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof *v4;
    if (loopback && (addr == NULL || strcmp(addr, "0.0.0.0") == 0)) {
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return true;
    }
    return addr != NULL && inet_pton(AF_INET, addr, &v4->sin_addr) == 1;
}

/* Why binding bind:port fails, tried once more by hand: "address in use"
 * and friends, or "" when it binds now. */
static const char *bind_problem(const char *addr, int port)
{
    if (port <= 0) {
        return "";
    }
    struct sockaddr_storage ss;
    socklen_t len;
    if (!sockaddr_of(addr, port, false, &ss, &len)) {
        return "not an address";
    }
    int family = ss.ss_family;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return family == AF_INET6 ? "IPv6 is not available" : "no socket";
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, (const struct sockaddr *)&ss, len);
    int err = errno;
    (void)close(fd);
    if (rc == 0) {
        return "";
    }
    switch (err) {
    case EADDRINUSE:
        return "address in use";
    case EADDRNOTAVAIL:
        return "address not available on this machine";
    case EACCES:
        return "permission denied (a port below 1024 needs privileges)";
    default:
        return "cannot bind";
    }
}

opc_err opc__httpd_start(const opc__httpd_config *cfg, struct mg_context **out, int *port,
                         int *tls_port, opc__ebuf *eb)
{
    *out = NULL;
    *port = -1;
    *tls_port = -1;
    bool tls = cfg->tls_port >= 0 && cfg->ssl_ctx != NULL;
    char ports[160];
    char plain[72];
    char secure[72];
    port_spec(plain, sizeof plain, cfg->bind, cfg->port, false);
    port_spec(secure, sizeof secure, cfg->bind, cfg->tls_port, true);
    bool plain_on = cfg->port >= 0; /* -1: HTTPS only */
    (void)snprintf(ports, sizeof ports, "%s%s%s", plain_on ? plain : "", plain_on && tls ? "," : "",
                   tls ? secure : "");
    char threads[16];
    char backlog[16];
    char queue[16];
    char keepalive[16];
    char head_timeout[16];
    char max_head[16];
    (void)snprintf(threads, sizeof threads, "%d", cfg->threads);
    (void)snprintf(backlog, sizeof backlog, "%d", cfg->threads < 256 ? 512 : 4096);
    (void)snprintf(queue, sizeof queue, "%d", cfg->threads < 64 ? 64 : 256);
    (void)snprintf(keepalive, sizeof keepalive, "%d", cfg->keepalive_ms);
    (void)snprintf(head_timeout, sizeof head_timeout, "%d", cfg->head_timeout_ms);
    (void)snprintf(max_head, sizeof max_head, "%d", cfg->max_head);
    const char *options[] = {"listening_ports",
                             ports,
                             "num_threads",
                             threads,
                             "listen_backlog",
                             backlog,
                             "connection_queue",
                             queue,
                             "enable_keep_alive",
                             cfg->keepalive_ms > 0 ? "yes" : "no",
                             "keep_alive_timeout_ms",
                             keepalive,
                             "request_timeout_ms",
                             head_timeout,
                             "tcp_nodelay",
                             "1",
                             "max_request_size",
                             max_head,
                             "decode_url",
                             "no",
                             NULL};
    httpd_ud *ud = opc__calloc(1, sizeof *ud);
    if (ud == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    ud->name = cfg->name;
    ud->ssl_ctx = tls ? cfg->ssl_ctx : NULL;
    ud->body_grace_ms = cfg->body_grace_ms;
    pthread_mutex_init(&ud->mu, NULL);
    pthread_cond_init(&ud->cv, NULL);
    ud->init_thread = cfg->init_thread;
    ud->exit_thread = cfg->exit_thread;
    ud->connection_closed = cfg->connection_closed;
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.log_message = on_log;
    cb.begin_request = on_begin_request;
    cb.http_error = on_http_error;
    cb.init_thread = on_init_thread;
    cb.exit_thread = on_exit_thread;
    cb.connection_close = on_connection_close;
    if (tls) {
        cb.external_ssl_ctx = on_external_ssl_ctx;
    }
    mg_init_library(tls ? MG_FEATURES_SSL : 0);
    struct mg_context *ctx = mg_start(&cb, ud, options);
    if (ctx == NULL) {
        mg_exit_library();
        pthread_mutex_destroy(&ud->mu);
        pthread_cond_destroy(&ud->cv);
        opc__free(ud);
        const char *why = bind_problem(cfg->bind, cfg->port);
        int bad = cfg->port;
        if (why[0] == '\0' && tls) {
            why = bind_problem(cfg->bind, cfg->tls_port);
            bad = cfg->tls_port;
        }
        if (why[0] == '\0') {
            return opc__fail(eb, OPC_ERR_IO, "cannot listen on %s", ports);
        }
        return opc__fail(eb, OPC_ERR_IO, "cannot listen on %s%s%s:%d: %s",
                         strchr(cfg->bind, ':') != NULL ? "[" : "", cfg->bind,
                         strchr(cfg->bind, ':') != NULL ? "]" : "", bad, why);
    }
    mg_set_request_handler(ctx, "/", cfg->handler, cfg->handler_data);
    mg_set_auth_handler(ctx, "/", allow_all, NULL);
    ud->ctx = ctx;
    /* Without the reaper idle connections can hold every worker; the
     * server still runs (the deadlines free them), so only a warning. */
    ud->reaper_started = pthread_create(&ud->reaper, NULL, reap_main, ud) == 0;
    if (!ud->reaper_started) {
        opc__log(OPC_LOG_WARN, cfg->name, "cannot start the idle-connection reaper");
    }
    struct mg_server_port sp[4];
    memset(sp, 0, sizeof sp);
    int n = mg_get_server_ports(ctx, 4, sp);
    for (int i = 0; i < n; i++) {
        if (sp[i].is_ssl) {
            *tls_port = *tls_port < 0 ? sp[i].port : *tls_port;
        } else {
            *port = *port < 0 ? sp[i].port : *port;
        }
    }
    *out = ctx;
    return OPC_OK;
}

/* ---- stop ---- */

typedef struct poker {
    struct sockaddr_storage sa;
    socklen_t len;
    atomic_int done;
} poker;

static void *poke_main(void *arg)
{
    poker *p = arg;
    while (atomic_load(&p->done) == 0) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10L * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
        if (atomic_load(&p->done) != 0) {
            break;
        }
        int fd = socket(p->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            (void)connect(fd, (const struct sockaddr *)&p->sa, p->len);
            (void)close(fd);
        }
    }
    return NULL;
}

void opc__httpd_stop(struct mg_context *ctx, const char *bind, int port)
{
    if (ctx == NULL) {
        return;
    }
    httpd_ud *ud = mg_get_user_data(ctx);
    reaper_stop(ud);
    poker p;
    memset(&p, 0, sizeof p);
    atomic_init(&p.done, 0);
    pthread_t t;
    /* where the poker connects: bind:port, or loopback for a wildcard */
    bool poking = port > 0 && port <= 65535 && sockaddr_of(bind, port, true, &p.sa, &p.len) &&
                  pthread_create(&t, NULL, poke_main, &p) == 0;
    mg_stop(ctx); /* waits for the workers: requests in progress finish */
    if (poking) {
        atomic_store(&p.done, 1);
        (void)pthread_join(t, NULL);
    }
    mg_exit_library();
    if (ud != NULL) {
        pthread_mutex_destroy(&ud->mu);
        pthread_cond_destroy(&ud->cv);
    }
    opc__free(ud);
}
