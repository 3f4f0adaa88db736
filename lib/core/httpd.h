/*
 * core/httpd.h - what the two civetweb servers of the library (the API,
 * rest/server.c, and the sync's status listener, sync/status.c) share:
 * how a response goes out, and how a server stops.
 */
#ifndef OPC_CORE_HTTPD_H
#define OPC_CORE_HTTPD_H

#include "core/buf.h"
#include "internal.h"

struct mg_connection;
struct mg_context;

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
 * 1Password-Connect-Version, Cache-Control: no-store, then `extra` (more
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
 * a helper thread connects to bind:port (127.0.0.1 for "0.0.0.0") every
 * 10 ms and closes at once, which wakes the master; a connection accepted
 * before the stop is closed by its worker on EOF. Requests in progress
 * still finish (mg_stop drains). With port <= 0 or no thread, a plain
 * mg_stop().
 */
void opc__httpd_stop(struct mg_context *ctx, const char *bind, int port);

#endif
