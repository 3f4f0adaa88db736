/*
 * tls/listener.c - the HTTPS listener: OpenSSL in front of the plain HTTP
 * listener.
 *
 * Debian's civetweb 1.15 loads libssl at run time and cannot use OpenSSL 3
 * (SSL_get_peer_certificate is a macro there; with the table half-loaded
 * every HTTPS connection calls a NULL pointer), so TLS is terminated here:
 * an accept thread takes connections, one thread per connection does the
 * handshake with our SSL_CTX (certificate chosen per handshake, see ctx.c)
 * and then relays bytes both ways to the HTTP listener over loopback. An
 * acme-tls/1 handshake ends right after the handshake (RFC 8737 §3).
 *
 * At most max_conns connections run at once; more wait in the kernel's
 * backlog, as with civetweb's own one-thread-per-connection model. Every
 * thread of the listener blocks all signals (so a write to a closed peer
 * gives EPIPE, never SIGPIPE, without touching the process's handlers).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* accept4, pipe2 */
#endif
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "tls/tls.h"

#define HANDSHAKE_TIMEOUT_MS 10000
#define IDLE_TIMEOUT_MS 60000
#define RELAY_BUF 16384

struct opc__tls_listener {
    SSL_CTX *ctx;
    int fd;
    int port;
    struct sockaddr_in backend;
    int max_conns;
    int stop_pipe[2]; /* the write end is closed to stop: the read end turns readable */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active;
    bool stopping;
};

typedef struct conn {
    opc__tls_listener *l;
    int fd;
} conn;

static void block_signals(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}

/* Wait for fd (events) or the stop pipe; 1 ready, 0 timeout or stop. */
static int wait_fd(opc__tls_listener *l, int fd, short events, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = l->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        int n = poll(p, 2, timeout_ms);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || p[1].revents != 0) {
            return 0;
        }
        return 1;
    }
}

static bool handshake(opc__tls_listener *l, SSL *ssl, int fd)
{
    int64_t deadline = opc__monotonic_ms() + HANDSHAKE_TIMEOUT_MS;
    for (;;) {
        ERR_clear_error();
        int r = SSL_accept(ssl);
        if (r == 1) {
            return true;
        }
        int e = SSL_get_error(ssl, r);
        short ev;
        if (e == SSL_ERROR_WANT_READ) {
            ev = POLLIN;
        } else if (e == SSL_ERROR_WANT_WRITE) {
            ev = POLLOUT;
        } else {
            unsigned long code = ERR_peek_error();
            char why[128] = "connection closed";
            if (code != 0) {
                ERR_error_string_n(code, why, sizeof why);
            }
            opc__log(OPC_LOG_DEBUG, "tls", "handshake failed: %s", why);
            ERR_clear_error();
            return false;
        }
        int64_t left = deadline - opc__monotonic_ms();
        if (left <= 0 || wait_fd(l, fd, ev, (int)left) != 1) {
            opc__log(OPC_LOG_DEBUG, "tls", "handshake timed out");
            return false;
        }
    }
}

static int connect_backend(const opc__tls_listener *l)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&l->backend, sizeof l->backend) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

typedef struct pipe_buf {
    unsigned char data[RELAY_BUF];
    size_t len;
    size_t off;
} pipe_buf;

/* What the next poll waits for on each side. */
typedef struct relay_wait {
    short client;
    short backend;
    bool progress;
    bool client_eof;
    bool backend_eof;
    bool failed;
} relay_wait;

static void ssl_want(SSL *ssl, int r, relay_wait *w, bool *eof)
{
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        w->client |= POLLIN;
    } else if (e == SSL_ERROR_WANT_WRITE) {
        w->client |= POLLOUT;
    } else {
        ERR_clear_error();
        *eof = true;
    }
}

/* One round of non-blocking reads and writes in both directions. */
static void relay_step(SSL *ssl, int bfd, pipe_buf *up, pipe_buf *down, relay_wait *w)
{
    if (!w->client_eof && up->len == 0) {
        int n = SSL_read(ssl, up->data, (int)sizeof up->data);
        if (n > 0) {
            up->len = (size_t)n;
            up->off = 0;
            w->progress = true;
        } else {
            ssl_want(ssl, n, w, &w->client_eof);
        }
    }
    if (up->len > up->off) {
        ssize_t n = send(bfd, up->data + up->off, up->len - up->off, MSG_NOSIGNAL);
        if (n > 0) {
            up->off += (size_t)n;
            if (up->off == up->len) {
                up->len = up->off = 0;
            }
            w->progress = true;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            w->backend |= POLLOUT;
        } else if (!(n < 0 && errno == EINTR)) {
            w->failed = true;
        }
    }
    if (!w->backend_eof && down->len == 0) {
        ssize_t n = recv(bfd, down->data, sizeof down->data, 0);
        if (n > 0) {
            down->len = (size_t)n;
            down->off = 0;
            w->progress = true;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            w->backend |= POLLIN;
        } else if (!(n < 0 && errno == EINTR)) {
            w->backend_eof = true;
        }
    }
    if (down->len > down->off) {
        int n = SSL_write(ssl, down->data + down->off, (int)(down->len - down->off));
        if (n > 0) {
            down->off += (size_t)n;
            if (down->off == down->len) {
                down->len = down->off = 0;
            }
            w->progress = true;
        } else {
            ssl_want(ssl, n, w, &w->failed);
        }
    }
}

static void relay(opc__tls_listener *l, SSL *ssl, int cfd, int bfd)
{
    pipe_buf *bufs = opc__malloc(2 * sizeof *bufs);
    if (bufs == NULL) {
        return;
    }
    pipe_buf *up = &bufs[0];
    pipe_buf *down = &bufs[1];
    up->len = up->off = down->len = down->off = 0;
    bool client_eof = false;
    bool backend_eof = false;
    for (;;) {
        relay_wait w = {.client_eof = client_eof, .backend_eof = backend_eof};
        relay_step(ssl, bfd, up, down, &w);
        client_eof = w.client_eof;
        backend_eof = w.backend_eof;
        if (w.failed || (backend_eof && down->len == 0) || (client_eof && up->len == 0)) {
            break;
        }
        if (w.progress) {
            continue;
        }
        struct pollfd p[3] = {{.fd = cfd, .events = w.client},
                              {.fd = bfd, .events = w.backend},
                              {.fd = l->stop_pipe[0], .events = POLLIN}};
        int n = poll(p, 3, IDLE_TIMEOUT_MS);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || p[2].revents != 0) {
            break;
        }
    }
    opc__secret_free(bufs, 2 * sizeof *bufs);
}

static void serve(opc__tls_listener *l, int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *ssl = SSL_new(l->ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        ERR_clear_error();
        SSL_free(ssl);
        return;
    }
    if (handshake(l, ssl, fd)) {
        if (opc__tls_is_acme_handshake(ssl)) {
            opc__log(OPC_LOG_DEBUG, "tls", "answered an acme-tls/1 validation handshake");
        } else {
            int bfd = connect_backend(l);
            if (bfd < 0) {
                opc__log(OPC_LOG_WARN, "tls", "cannot reach the HTTP listener: %s",
                         strerror(errno));
            } else {
                relay(l, ssl, fd, bfd);
                close(bfd);
            }
        }
        (void)SSL_shutdown(ssl); /* best effort close_notify */
    }
    ERR_clear_error();
    SSL_free(ssl);
}

static void *conn_main(void *arg)
{
    block_signals();
    conn *c = arg;
    opc__tls_listener *l = c->l;
    serve(l, c->fd);
    close(c->fd);
    opc__free(c);
    pthread_mutex_lock(&l->mu);
    l->active--;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void spawn(opc__tls_listener *l, int fd)
{
    conn *c = opc__calloc(1, sizeof *c);
    pthread_attr_t attr;
    bool attr_ok = pthread_attr_init(&attr) == 0;
    if (c == NULL || !attr_ok ||
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0) {
        goto fail;
    }
    c->l = l;
    c->fd = fd;
    pthread_mutex_lock(&l->mu);
    l->active++;
    pthread_mutex_unlock(&l->mu);
    pthread_t t;
    if (pthread_create(&t, &attr, conn_main, c) != 0) {
        pthread_mutex_lock(&l->mu);
        l->active--;
        pthread_mutex_unlock(&l->mu);
        goto fail;
    }
    pthread_attr_destroy(&attr);
    return;
fail:
    if (attr_ok) {
        pthread_attr_destroy(&attr);
    }
    opc__log(OPC_LOG_WARN, "tls", "cannot start a connection thread");
    opc__free(c);
    close(fd);
}

static void *accept_main(void *arg)
{
    block_signals();
    opc__tls_listener *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (l->active >= l->max_conns && !l->stopping) {
            pthread_cond_wait(&l->cv, &l->mu);
        }
        bool stop = l->stopping;
        pthread_mutex_unlock(&l->mu);
        if (stop || wait_fd(l, l->fd, POLLIN, -1) != 1) {
            break;
        }
        int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                (void)poll(NULL, 0, 100); /* out of descriptors: let others finish */
            }
            continue;
        }
        spawn(l, fd);
    }
    return NULL;
}

static opc_err parse_ipv4(const char *host, int port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? OPC_OK : OPC_ERR_INVALID_ARG;
}

static int bind_socket(int fd, const struct sockaddr_in *sa)
{
    return bind(fd, (const struct sockaddr *)sa, sizeof *sa);
}

opc_err opc__tls_listener_start(void *ctx, const char *addr, int port, const char *backend_host,
                                int backend_port, int max_conns, opc__tls_listener **out,
                                opc__ebuf *eb)
{
    *out = NULL;
    struct sockaddr_in sa;
    if (ctx == NULL || port < 0 || port > 65535 || max_conns < 1 ||
        parse_ipv4(addr, port, &sa) != OPC_OK) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "invalid HTTPS listener settings");
    }
    opc__tls_listener *l = opc__calloc(1, sizeof *l);
    if (l == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    l->ctx = ctx;
    l->max_conns = max_conns;
    l->fd = -1;
    l->stop_pipe[0] = l->stop_pipe[1] = -1;
    if (parse_ipv4(backend_host, backend_port, &l->backend) != OPC_OK) {
        opc__free(l);
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "invalid HTTP listener address");
    }
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        opc__free(l);
        return opc__fail(eb, OPC_ERR_INTERNAL, "cannot create a mutex");
    }
    if (pthread_cond_init(&l->cv, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        opc__free(l);
        return opc__fail(eb, OPC_ERR_INTERNAL, "cannot create a condition variable");
    }
    opc_err rc = OPC_OK;
    int one = 1;
    if (pipe2(l->stop_pipe, O_CLOEXEC) != 0) {
        rc = opc__fail(eb, OPC_ERR_INTERNAL, "cannot create a pipe: %s", strerror(errno));
    } else if ((l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
               setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
               bind_socket(l->fd, &sa) != 0 || listen(l->fd, 128) != 0) {
        rc = opc__fail(eb, OPC_ERR_IO, "cannot listen on %s:%d: %s", addr, port,
                       strerror(errno));
    }
    if (rc == OPC_OK) {
        struct sockaddr_in got;
        memset(&got, 0, sizeof got);
        socklen_t glen = sizeof got;
        if (getsockname(l->fd, (struct sockaddr *)&got, &glen) != 0) {
            rc = opc__fail(eb, OPC_ERR_IO, "cannot read the HTTPS port: %s", strerror(errno));
        } else {
            l->port = ntohs(got.sin_port);
        }
    }
    if (rc == OPC_OK && pthread_create(&l->thread, NULL, accept_main, l) != 0) {
        rc = opc__fail(eb, OPC_ERR_INTERNAL, "cannot start the HTTPS accept thread");
    }
    if (rc != OPC_OK) {
        opc__tls_listener_stop(l);
        return rc;
    }
    l->thread_started = true;
    *out = l;
    return OPC_OK;
}

int opc__tls_listener_port(const opc__tls_listener *l)
{
    return l != NULL ? l->port : -1;
}

void opc__tls_listener_stop(opc__tls_listener *l)
{
    if (l == NULL) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->stop_pipe[1] >= 0) {
        close(l->stop_pipe[1]); /* every poll on the read end wakes up */
        l->stop_pipe[1] = -1;
    }
    if (l->thread_started) {
        pthread_join(l->thread, NULL);
    }
    pthread_mutex_lock(&l->mu);
    while (l->active > 0) {
        pthread_cond_wait(&l->cv, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    if (l->fd >= 0) {
        close(l->fd);
    }
    if (l->stop_pipe[0] >= 0) {
        close(l->stop_pipe[0]);
    }
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    opc__free(l);
}
