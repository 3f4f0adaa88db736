/*
 * core/httpd.c - civetweb helpers shared by the API and the sync's status
 * listener (httpd.h): the response writer and the quick stop.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>

#include <opconnect/version.h>

#include "core/httpd.h"

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
    case 413:
        return "Payload Too Large";
    case 503:
        return "Service Unavailable";
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
                       size_t body_len)
{
    int hl;
    if (status == 204) { /* no body, and no Content-Length (RFC 9110 §8.6) */
        hl = snprintf(head, cap,
                      "HTTP/1.1 204 No Content\r\n"
                      "1Password-Connect-Version: " OPC_CONNECT_VERSION "\r\n"
                      "Cache-Control: no-store\r\n"
                      "%s"
                      "\r\n",
                      extra != NULL ? extra : "");
    } else {
        hl = snprintf(head, cap,
                      "HTTP/1.1 %d %s\r\n"
                      "Content-Type: %s\r\n"
                      "Content-Length: %zu\r\n"
                      "1Password-Connect-Version: " OPC_CONNECT_VERSION "\r\n"
                      "Cache-Control: no-store\r\n"
                      "%s"
                      "\r\n",
                      status, opc__httpd_reason(status), ctype, body_len,
                      extra != NULL ? extra : "");
    }
    return hl > 0 && (size_t)hl < cap ? hl : -1;
}

int opc__httpd_send(struct mg_connection *conn, opc__buf *b, int status, const char *ctype,
                    const char *extra, bool head_only, const char *fallback)
{
    char head[OPC_HTTPD_HEADER_GAP + 1];
    int hl = -1;
    if (opc__buf_err(b) == OPC_OK && b->len >= OPC_HTTPD_HEADER_GAP) {
        hl = format_head(head, sizeof head, status, ctype, extra, b->len - OPC_HTTPD_HEADER_GAP);
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
    (void)mg_write(conn, fallback, strlen(fallback));
    return 500;
}

int opc__httpd_send_head(struct mg_connection *conn, int status, const char *ctype,
                         const char *extra, size_t len, const char *fallback)
{
    char head[OPC_HTTPD_HEADER_GAP + 1];
    int hl = format_head(head, sizeof head, status, ctype, extra, len);
    if (hl < 0 || status == 204) {
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

typedef struct poker {
    struct sockaddr_in sa;
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
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            (void)connect(fd, (const struct sockaddr *)&p->sa, sizeof p->sa);
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
    poker p;
    memset(&p, 0, sizeof p);
    atomic_init(&p.done, 0);
    p.sa.sin_family = AF_INET;
    p.sa.sin_port = htons((uint16_t)(port > 0 && port <= 65535 ? port : 0));
    if (bind == NULL || strcmp(bind, "0.0.0.0") == 0 ||
        inet_pton(AF_INET, bind, &p.sa.sin_addr) != 1) {
        p.sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    pthread_t t;
    bool poking = port > 0 && port <= 65535 && pthread_create(&t, NULL, poke_main, &p) == 0;
    mg_stop(ctx); /* waits for the workers: requests in progress finish */
    if (poking) {
        atomic_store(&p.done, 1);
        (void)pthread_join(t, NULL);
    }
}
