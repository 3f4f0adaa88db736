/*
 * core/mg_engine.c - civetweb itself, compiled into libopconnect.
 *
 * This unit includes civetweb.c from the source tree tools/build-civetweb
 * unpacks (Debian 12's civetweb 1.15 source package), built by its own
 * Makefile rule with civetweb's flags (native OpenSSL 3, IPv6, no CGI,
 * files or file system; docs/decisions.md) and every symbol hidden. Below
 * it, the few functions of mg_engine.h that read or set a connection's
 * state, which civetweb's public API does not offer.
 */
#include <civetweb.c> /* from the source tree tools/build-civetweb unpacks */

#include "core/mg_engine.h"

void opc__mg_close_after(struct mg_connection *conn)
{
    conn->must_close = 1;
}

bool opc__mg_closing(const struct mg_connection *conn)
{
    return conn->must_close != 0;
}

bool opc__mg_head_overflow(const struct mg_connection *conn)
{
    return conn->request_len <= 0 && conn->data_len >= conn->buf_size;
}

bool opc__mg_body_chunked(const struct mg_connection *conn)
{
    return conn->is_chunked != 0;
}

bool opc__mg_body_pending(const struct mg_connection *conn)
{
    if (conn->is_chunked) {
        return conn->is_chunked != 4; /* 4: the last chunk was read */
    }
    return conn->content_len > 0 && conn->consumed_content < conn->content_len;
}

int opc__mg_read_some(struct mg_connection *conn, void *buf, size_t len, int timeout_ms)
{
    if (conn->is_chunked || conn->content_len < 0) {
        return -2; /* only bodies of a known length are read here */
    }
    int64_t left = conn->content_len - conn->consumed_content;
    if (left <= 0 || len == 0) {
        return 0;
    }
    if ((int64_t)len > left) {
        len = (size_t)left;
    }
    if (len > INT_MAX) {
        len = INT_MAX;
    }
    /* What came with the head, in civetweb's buffer. */
    int64_t buffered =
        (int64_t)conn->data_len - (int64_t)conn->request_len - conn->consumed_content;
    if (buffered > 0) {
        size_t n = (size_t)buffered < len ? (size_t)buffered : len;
        memcpy(buf, conn->buf + conn->request_len + conn->consumed_content, n);
        conn->consumed_content += (int64_t)n;
        return (int)n;
    }
    int n = pull_inner(NULL, conn, (char *)buf, (int)len, timeout_ms / 1000.0);
    if (n > 0) {
        conn->consumed_content += n;
        return n;
    }
    return n == -1 || n == 0 ? -1 : -2;
}
