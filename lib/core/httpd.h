/*
 * core/httpd.h - what the two civetweb servers of the library (the API,
 * rest/server.c, and the sync's status listener, sync/status.c) share:
 * how a response goes out, and how a server stops.
 */
#ifndef OPC_CORE_HTTPD_H
#define OPC_CORE_HTTPD_H

#include "core/buf.h"
#include "core/err.h"
#include "internal.h"

struct mg_connection;
struct mg_context;

/*
 * How a server of the library listens and treats its connections (the
 * model is in docs/http.md). civetweb gives each connection a worker
 * thread for as long as it is open, so:
 *  - threads is the number of connections served at once; more wait in
 *    civetweb's queue and then the kernel's backlog;
 *  - the first request's head must be complete head_timeout_ms after the
 *    connection is accepted, a later one keepalive_ms after the answer
 *    before it (the idle keep-alive); a connection that misses it is
 *    closed;
 *  - a request body is read against the clock (opc__httpd_read_body);
 *  - a response to a request whose body was not read closes the
 *    connection (the rest of the body is never drained).
 */
typedef struct opc__httpd_config {
    const char *name;    /* the log subsystem ("api", "sync") */
    const char *bind;    /* numeric IPv4 or IPv6; "0.0.0.0" every IPv4, "::" both */
    int port;            /* plain HTTP; 0 any free port, -1 none (HTTPS only) */
    int tls_port;        /* HTTPS; 0 any free port, -1 none */
    void *ssl_ctx;       /* SSL_CTX * served on tls_port (borrowed) */
    int threads;         /* connections served at once */
    int keepalive_ms;    /* idle keep-alive; 0 closes after every answer */
    int head_timeout_ms; /* the first request head's deadline */
    int max_head;        /* bytes of a request head (413 beyond) */
    int body_grace_ms;   /* a body's deadline before its rate; 0: OPC_HTTPD_BODY_GRACE_MS */
    int (*handler)(struct mg_connection *conn, void *data);
    void *handler_data;
    void *(*init_thread)(const struct mg_context *ctx, int thread_type);
    void (*exit_thread)(const struct mg_context *ctx, int thread_type, void *thread_pointer);
    /* On the worker thread as a connection closes (may be NULL). */
    void (*connection_closed)(void *thread_pointer);
} opc__httpd_config;

/*
 * Start a server: every request goes to cfg->handler once its framing was
 * checked (RFC 9112: one Content-Length of digits, not with
 * Transfer-Encoding; Host on HTTP/1.1; no chunked body: 411), and every
 * error civetweb itself raises is answered with the JSON {status,message}
 * body. The bound ports go to *port and *tls_port (-1 when none).
 * OPC_ERR_IO with "cannot listen on ADDR:PORT[: address in use]".
 */
opc_err opc__httpd_start(const opc__httpd_config *cfg, struct mg_context **out, int *port,
                         int *tls_port, opc__ebuf *eb);

/* The idle-connection reaper (docs/http.md): how often it looks, how long
 * a connection must have waited for a request head to be closed, and how
 * many it closes at most per look. */
#define OPC_HTTPD_REAP_TICK_MS 20
#define OPC_HTTPD_REAP_MIN_IDLE_MS 100
#define OPC_HTTPD_REAP_MAX 256

/* Body reading: at least this many bytes a second on average, after a
 * grace of OPC_HTTPD_BODY_GRACE_MS. */
#define OPC_HTTPD_BODY_MIN_RATE 16384
#define OPC_HTTPD_BODY_GRACE_MS 10000

/*
 * Read the request body (Content-Length; at most max bytes) into b,
 * answering "Expect: 100-continue" first. The whole body must arrive
 * within the grace (OPC_HTTPD_BODY_GRACE_MS unless the server's
 * configuration says otherwise) plus one second per
 * OPC_HTTPD_BODY_MIN_RATE bytes declared. OPC_ERR_TOO_LARGE over max
 * (413), OPC_ERR_RANGE when it came too slowly (408), OPC_ERR_UNSUPPORTED
 * for a chunked body (411), OPC_ERR_IO when the peer went away; on any
 * error the connection closes after the answer.
 */
opc_err opc__httpd_read_body(struct mg_connection *conn, size_t max, opc__buf *b);

/* The longest X-Request-ID taken from a client. */
#define OPC_HTTPD_REQUEST_ID_MAX 128

/* A request id the server makes: the 16 bytes u as a UUID of version 4
 * (its version and variant bits set in u), lower-case hex with dashes. */
void opc__httpd_format_request_id(uint8_t u[16], char out[37]);

/* Whether a client's X-Request-ID value is taken: 1-128 bytes of printable
 * ASCII (0x20-0x7e); otherwise the server makes one. */
bool opc__httpd_request_id_ok(const char *v);

/* Close the connection after the answer to this request. */
void opc__httpd_close_after(struct mg_connection *conn);

/*
 * A response is assembled in ONE buffer (status line, headers, body) and
 * sent with ONE mg_write (perf-anchors §0.5: several writes collapse
 * throughput). So that the body is not copied behind the headers,
 * opc__httpd_begin() empties the buffer and leaves a gap of
 * OPC_HTTPD_HEADER_GAP bytes, the caller appends the body, and
 * opc__httpd_send() writes the headers right-aligned into the gap and
 * sends from there.
 */
#define OPC_HTTPD_HEADER_GAP 512

/* Empty b (wiped when secret) and leave the header gap; a failure to
 * allocate shows in opc__buf_err() and makes opc__httpd_send() fall back. */
void opc__httpd_begin(opc__buf *b);

/*
 * Send the response begun in b: "HTTP/1.1 <status> <reason>", Content-Type
 * ctype and Content-Length (neither for 204, whose body is dropped),
 * 1Password-Connect-Version, Cache-Control: no-store, "Connection: close"
 * when the connection ends after it (a body left unread), then `extra` (more
 * header lines, each ending in "\r\n"; may be NULL). head_only sends the
 * headers alone (HEAD: Content-Length is still the body's). When b failed
 * or the headers do not fit the gap, the fixed response `fallback` (a
 * whole 500 answer) goes out instead. Returns the status sent. b is left
 * as it is: the caller resets or frees it.
 */
int opc__httpd_send(struct mg_connection *conn, opc__buf *b, int status, const char *ctype,
                    const char *extra, bool head_only, const char *fallback);

/*
 * The same for a body held elsewhere (len bytes, not copied): the headers,
 * then the body, in two writes. For large bodies kept ready (a vault's
 * whole item list), where one more packet costs less than a copy. Not for
 * 204.
 */
int opc__httpd_send_body(struct mg_connection *conn, int status, const char *ctype,
                         const char *extra, const char *body, size_t len, bool head_only,
                         const char *fallback);

/* The headers alone of a response whose body (len bytes) the caller then
 * writes itself with mg_write; 500 and fallback when they cannot be made. */
int opc__httpd_send_head(struct mg_connection *conn, int status, const char *ctype,
                         const char *extra, size_t len, const char *fallback);

/* The reason phrase of a status the servers answer; "Internal Server
 * Error" for any other. */
const char *opc__httpd_reason(int status);

/*
 * mg_stop(ctx) without civetweb's idle wait: its master thread notices the
 * stop only when poll() on the listening sockets returns, which with no
 * traffic takes up to 2 s (SOCKET_TIMEOUT_QUANTUM). While mg_stop() runs,
 * a helper thread connects to bind:port (the loopback address of its
 * family for "0.0.0.0" and "::") every 10 ms and closes at once, which
 * wakes the master; a connection accepted before the stop is closed by
 * its worker on EOF. Requests in progress still finish (mg_stop drains).
 * With port <= 0 or no thread, a plain mg_stop().
 */
void opc__httpd_stop(struct mg_context *ctx, const char *bind, int port);

#endif
