/*
 * core/mg_engine.h - what the library needs of civetweb beyond its public
 * API. civetweb is compiled into the library from Debian's source package
 * (tools/build-civetweb); mg_engine.c is that compilation unit, and these
 * few functions look at a connection's state inside it.
 *
 * Only core/httpd.c calls them: everything else goes through httpd.h.
 */
#ifndef OPC_CORE_MG_ENGINE_H
#define OPC_CORE_MG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

struct mg_connection;

/* Close the connection after this response: civetweb does not read what is
 * left of the request body, and the connection is not kept alive. */
void opc__mg_close_after(struct mg_connection *conn);

/* Whether this response closes the connection (opc__mg_close_after, or
 * civetweb decided so already). */
bool opc__mg_closing(const struct mg_connection *conn);

/* Whether the request head filled civetweb's whole buffer without ending
 * (max_request_size): civetweb calls it malformed. */
bool opc__mg_head_overflow(const struct mg_connection *conn);

/* Whether some of the declared request body has not been read yet. */
bool opc__mg_body_pending(const struct mg_connection *conn);

/* Whether the request body is chunked (Transfer-Encoding: chunked). */
bool opc__mg_body_chunked(const struct mg_connection *conn);

/*
 * Read at most len bytes of a request body with a Content-Length, waiting
 * at most timeout_ms for them: what civetweb buffered with the head first,
 * then one read from the socket (TLS or not). Returns the bytes read (> 0),
 * 0 at the end of the body, -1 when nothing came in time, -2 when the peer
 * closed or the read failed. Never waits for more than one read.
 */
int opc__mg_read_some(struct mg_connection *conn, void *buf, size_t len, int timeout_ms);

#endif
