/*
 * core/watch.c - file change wake-ups through inotify (see watch.h).
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/time.h"
#include "core/watch.h"

#define WATCH_MASK                                                                                 \
    (IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_ATTRIB)

struct opc__watch {
    char *dir;
    char *prefix;
    size_t prefix_len;
    int ifd;  /* inotify descriptor, -1 when unavailable */
    int wd;   /* watch on dir, -1 until added */
    int efd;  /* eventfd for wake-ups, -1 when unavailable */
    int settle; /* short waits left after a change (settle_ms) */
};

/* After a change, the next waits are capped to these (see watch.h). */
static const int settle_ms[] = {10, 5, 2, 1};

opc_err opc__watch_open(const char *path, opc__watch **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (path == NULL || path[0] == '\0' || strlen(path) >= PATH_MAX) {
        return OPC_ERR_INVALID_ARG;
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    if (base[0] == '\0' && (slash == NULL || slash == path)) {
        return OPC_ERR_INVALID_ARG; /* "dir/" watches every file of dir; "/" is refused */
    }
    opc__watch *w = opc__calloc(1, sizeof *w);
    if (w == NULL) {
        return OPC_ERR_NOMEM;
    }
    w->dir = slash == NULL        ? opc__strdup(".")
             : slash == path      ? opc__strdup("/")
                                  : opc__memdup(path, (size_t)(slash - path) + 1);
    w->prefix = opc__strdup(base);
    if (w->dir == NULL || w->prefix == NULL) {
        opc__free(w->dir);
        opc__free(w->prefix);
        opc__free(w);
        return OPC_ERR_NOMEM;
    }
    if (slash != NULL && slash != path) {
        w->dir[slash - path] = '\0';
    }
    w->prefix_len = strlen(w->prefix);
    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    w->wd = -1;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    *out = w;
    return OPC_OK;
}

void opc__watch_close(opc__watch *w)
{
    if (w == NULL) {
        return;
    }
    if (w->ifd >= 0) {
        (void)close(w->ifd);
    }
    if (w->efd >= 0) {
        (void)close(w->efd);
    }
    opc__free(w->dir);
    opc__free(w->prefix);
    opc__free(w);
}

bool opc__watch_active(const opc__watch *w)
{
    return w != NULL && w->ifd >= 0 && w->wd >= 0;
}

void opc__watch_wake(opc__watch *w)
{
    if (w != NULL && w->efd >= 0) {
        uint64_t one = 1;
        ssize_t n = write(w->efd, &one, sizeof one);
        (void)n; /* a full counter already wakes */
    }
}

/* Read every pending inotify event; whether one names a watched file. */
static bool drain_events(opc__watch *w)
{
    bool hit = false;
    _Alignas(struct inotify_event) char buf[4096];
    for (;;) {
        ssize_t n = read(w->ifd, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            if ((ev->mask & IN_IGNORED) != 0) {
                w->wd = -1; /* the directory went away: add it again later */
            }
            if ((ev->mask & IN_Q_OVERFLOW) != 0 ||
                (ev->len > 0 && strncmp(ev->name, w->prefix, w->prefix_len) == 0)) {
                hit = true;
            }
            p += sizeof *ev + ev->len;
        }
    }
    return hit;
}

opc__watch_event opc__watch_wait(opc__watch *w, int timeout_ms)
{
    if (w == NULL) {
        return OPC_WATCH_TIMEOUT;
    }
    if (timeout_ms < 0) {
        timeout_ms = 0;
    }
    if (w->settle > 0) {
        int cap = settle_ms[--w->settle];
        timeout_ms = timeout_ms < cap ? timeout_ms : cap;
    }
    if (w->ifd >= 0 && w->wd < 0) {
        w->wd = inotify_add_watch(w->ifd, w->dir, WATCH_MASK | IN_ONLYDIR);
    }
    struct pollfd fds[2];
    nfds_t n = 0;
    if (w->ifd >= 0 && w->wd >= 0) {
        fds[n++] = (struct pollfd){.fd = w->ifd, .events = POLLIN};
    }
    if (w->efd >= 0) {
        fds[n++] = (struct pollfd){.fd = w->efd, .events = POLLIN};
    }
    int64_t deadline = opc__monotonic_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - opc__monotonic_ms();
        if (left < 0) {
            left = 0;
        }
        int r = n > 0 ? poll(fds, n, (int)left) : 0;
        if (n == 0 && left > 0) {
            struct timespec ts = {.tv_sec = (time_t)(left / 1000),
                                  .tv_nsec = (long)(left % 1000) * 1000000L};
            (void)nanosleep(&ts, NULL);
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return OPC_WATCH_TIMEOUT;
        }
        bool woken = false;
        bool changed = false;
        for (nfds_t i = 0; i < n; i++) {
            if ((fds[i].revents & POLLIN) == 0) {
                continue;
            }
            if (fds[i].fd == w->efd) {
                uint64_t v = 0;
                ssize_t got = read(w->efd, &v, sizeof v);
                woken = got == (ssize_t)sizeof v;
            } else {
                changed = drain_events(w) || changed;
            }
        }
        if (woken) {
            return OPC_WATCH_WOKEN;
        }
        if (changed) {
            w->settle = (int)(sizeof settle_ms / sizeof settle_ms[0]);
            return OPC_WATCH_CHANGED;
        }
        if (opc__monotonic_ms() >= deadline) {
            return OPC_WATCH_TIMEOUT;
        }
    }
}
