/*
 * accountd/probe.c - opc_accountd_probe(): GET /heartbeat on the
 * local instance, for op-account-server --healthcheck. Over TLS the
 * certificate is not verified: the probe sends and receives nothing
 * secret, it only asks whether the listener answers (a certificate for a
 * public name would not match 127.0.0.1 anyway).
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#include "internal.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <opconnect/account_server.h>

static int dial(const char *host, int port, int timeout_ms)
{
    char svc[8];
    (void)snprintf(svc, sizeof svc, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, svc, &hints, &ai) != 0 || ai == NULL) {
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (long)(timeout_ms % 1000) * 1000};
    if (fd >= 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            (void)close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

opc_err opc_accountd_probe(const char *host, int port, int tls, int timeout_ms)
{
    if (host == NULL || port <= 0 || port > 65535 || timeout_ms <= 0) {
        return OPC_ERR_INVALID_ARG;
    }
    static const char req[] = "GET /heartbeat HTTP/1.1\r\nHost: localhost\r\n"
                              "Connection: close\r\n\r\n";
    int fd = dial(host, port, timeout_ms);
    if (fd < 0) {
        return OPC_ERR_IO;
    }
    char buf[64];
    size_t got = 0;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    bool ok = true;
    if (tls) {
        ctx = SSL_CTX_new(TLS_client_method());
        ssl = ctx != NULL ? SSL_new(ctx) : NULL;
        ok = ssl != NULL && SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1 &&
             SSL_write(ssl, req, (int)(sizeof req - 1)) == (int)(sizeof req - 1);
    } else {
        ok = send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1);
    }
    while (ok && got < sizeof buf - 1) {
        ssize_t n = tls ? SSL_read(ssl, buf + got, (int)(sizeof buf - 1 - got))
                        : recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    (void)close(fd);
    return strncmp(buf, "HTTP/1.1 200 ", 13) == 0 ? OPC_OK : OPC_ERR_IO;
}
