/*
 * core/httpd.h - what the two civetweb servers of the library (the API,
 * rest/server.c, and the sync's status listener, sync/status.c) share.
 */
#ifndef OPC_CORE_HTTPD_H
#define OPC_CORE_HTTPD_H

#include "internal.h"

struct mg_context;

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
