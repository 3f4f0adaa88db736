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

/* A TLS handshake in progress: an SSL object, and a state civetweb left
 * from before the connection (1 "not consumed", 8 "closed"); it sets 2
 * once the handshake is done. */
static bool in_handshake(const struct mg_connection *c)
{
    return c->ssl != NULL && (c->conn_state == 1 || c->conn_state == 8);
}

/* A worker with no connection (waiting in consume_socket, or about to):
 * state 1 or 8 and no TLS handshake running. */
static bool is_free(const struct mg_connection *c)
{
    return c->ssl == NULL && (c->conn_state == 1 || c->conn_state == 8);
}

typedef struct idle_conn {
    int index;
    int64_t idle_ms;
} idle_conn;

static int longest_first(const void *a, const void *b)
{
    int64_t x = ((const idle_conn *)a)->idle_ms;
    int64_t y = ((const idle_conn *)b)->idle_ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

int opc__mg_reap_idle(struct mg_context *ctx, int64_t min_idle_ms, int max)
{
    pthread_mutex_lock(&ctx->thread_mutex);
    int queued = ctx->sq_head - ctx->sq_tail;
    pthread_mutex_unlock(&ctx->thread_mutex);
    if (queued <= 0 || max <= 0) {
        return 0;
    }
    int n = (int)ctx->cfg_worker_threads;
    idle_conn *idle = mg_malloc(sizeof *idle * (size_t)(n > 0 ? n : 1));
    if (idle == NULL) {
        return 0;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int found = 0;
    for (int i = 0; i < n; i++) {
        const struct mg_connection *c = &ctx->worker_connections[i];
        if (is_free(c)) {
            /* a worker is about to take the waiting connection: no one
             * needs room (a connection passes through the queue even
             * when workers are free) */
            mg_free(idle);
            return 0;
        }
        /* Read without the lock: a stale value only picks a candidate,
         * checked again under the lock. */
        int64_t ms;
        if (c->conn_state == 3) {
            /* the worker waits for (the rest of) a request head since
             * req_time */
            ms = (int64_t)(mg_difftimespec(&now, &c->req_time) * 1000.0);
        } else if (in_handshake(c)) {
            /* conn_birth_time has whole seconds: at least one full one */
            ms = ((int64_t)time(NULL) - (int64_t)c->conn_birth_time - 1) * 1000;
        } else {
            continue;
        }
        if (ms >= min_idle_ms) {
            idle[found].index = i;
            idle[found].idle_ms = ms;
            found++;
        }
    }
    qsort(idle, (size_t)found, sizeof *idle, longest_first);
    int want = queued < max ? queued : max;
    int closed = 0;
    for (int k = 0; k < found && closed < want; k++) {
        struct mg_connection *c = &ctx->worker_connections[idle[k].index];
        mg_lock_connection(c);
        if ((c->conn_state == 3 || in_handshake(c)) && c->client.sock != INVALID_SOCKET) {
            /* its poll() wakes, the read sees the end, civetweb closes */
            (void)shutdown(c->client.sock, SHUT_RDWR);
            closed++;
        }
        mg_unlock_connection(c);
    }
    mg_free(idle);
    return closed;
}
