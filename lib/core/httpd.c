/*
 * core/httpd.c - civetweb helpers shared by the API and the sync's status
 * listener (httpd.h).
 */
#include "internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>

#include "core/httpd.h"

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
