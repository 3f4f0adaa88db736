/*
 * core/log.c - log events to the callback (log.h), the JSON line formatter
 * (opc_log_format_json) and the buffered writer (opc_log_writer).
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <opconnect/global.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/strparse.h"
#include "core/time.h"

static opc_log_fn log_fn;
static void *log_userdata;
static opc_log_level log_max = OPC_LOG_INFO;

opc_err opc_global_set_log(opc_log_fn fn, void *userdata, opc_log_level max_level)
{
    if (max_level < OPC_LOG_ERROR || max_level > OPC_LOG_TRACE) {
        return OPC_ERR_INVALID_ARG;
    }
    log_fn = fn;
    log_userdata = userdata;
    log_max = max_level;
    return OPC_OK;
}

void opc__log_reset(void)
{
    log_fn = NULL;
    log_userdata = NULL;
    log_max = OPC_LOG_INFO;
}

bool opc__log_enabled(opc_log_level level)
{
    return log_fn != NULL && level <= log_max;
}

static void emit(opc_log_level level, const char *subsystem, const char *request_id,
                 const char *jti, const char *msg, const opc_log_http *http)
{
    opc_log_record rec = {
        .age = OPC_LOG_RECORD_AGE,
        .level = level,
        .time_us = opc__now_us(),
        .subsystem = subsystem != NULL ? subsystem : "core",
        .message = msg,
        .request_id = request_id,
        .jti = jti,
        .http = http,
    };
    log_fn(&rec, log_userdata);
}

OPC_PRINTF(5, 0)
static void vemit(opc_log_level level, const char *subsystem, const char *request_id,
                  const char *jti, const char *fmt, va_list ap)
{
    char msg[1024];
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0) {
        return;
    }
    emit(level, subsystem, request_id, jti, msg, NULL);
}

void opc__log(opc_log_level level, const char *subsystem, const char *fmt, ...)
{
    if (!opc__log_enabled(level)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vemit(level, subsystem, NULL, NULL, fmt, ap);
    va_end(ap);
}

void opc__log_scoped(opc_log_level level, const char *subsystem, const char *request_id,
                     const char *jti, const char *fmt, ...)
{
    if (!opc__log_enabled(level)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vemit(level, subsystem, request_id, jti, fmt, ap);
    va_end(ap);
}

opc_err opc_log_level_parse(const char *name, opc_log_level *out)
{
    static const struct {
        const char *name;
        opc_log_level level;
    } names[] = {
        {"error", OPC_LOG_ERROR}, {"warn", OPC_LOG_WARN},   {"warning", OPC_LOG_WARN},
        {"info", OPC_LOG_INFO},   {"debug", OPC_LOG_DEBUG}, {"trace", OPC_LOG_TRACE},
    };
    if (name == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < OPC_ARRAY_LEN(names); i++) {
        if (opc__strcasecmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return OPC_OK;
        }
    }
    return OPC_ERR_PARSE;
}

/* ---- the request line ---- */

/* Copy at most max bytes of src to dst (room: max + 4), never cutting a
 * UTF-8 sequence, with "..." when cut; returns the length written. */
static size_t copy_capped(char *dst, const char *src, size_t max)
{
    size_t n = strnlen(src, max + 1);
    bool cut = n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80) {
            n--; /* src[n] continues a sequence: cut before its lead byte */
        }
    }
    for (size_t i = 0; i < n; i++) {
        dst[i] = src[i];
    }
    if (!cut) {
        return n;
    }
    dst[n] = '.';
    dst[n + 1] = '.';
    dst[n + 2] = '.';
    return n + 3;
}

void opc__log_request(opc_log_level level, const char *subsystem, const char *request_id,
                      const char *jti, const opc_log_http *http, const char *reason)
{
    if (!opc__log_enabled(level) || http == NULL) {
        return;
    }
    /* "GET /v1/vaults completed (200: OK)", built without printf. */
    char msg[OPC_LOG_PATH_MAX + 128];
    size_t o = copy_capped(msg, http->method != NULL ? http->method : "?", 16);
    msg[o++] = ' ';
    o += copy_capped(msg + o, http->path != NULL ? http->path : "", OPC_LOG_PATH_MAX);
    static const char done[] = " completed (";
    memcpy(msg + o, done, sizeof done - 1);
    o += sizeof done - 1;
    char num[24];
    size_t nl = opc__log_u64((uint64_t)(http->status > 0 ? http->status : 0), num);
    memcpy(msg + o, num, nl);
    o += nl;
    msg[o++] = ':';
    msg[o++] = ' ';
    o += copy_capped(msg + o, reason != NULL ? reason : "", 40);
    msg[o++] = ')';
    msg[o] = '\0';
    emit(level, subsystem, request_id, jti, msg, http);
}

/* ---- the formatter ---- */

size_t opc__log_u64(uint64_t v, char out[24])
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    out[n] = '\0';
    return n;
}

/* Fixed-buffer writer: counts the full length like snprintf. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} sink;

static void put(sink *s, const char *p, size_t n)
{
    if (s->len < s->cap) {
        size_t room = s->cap - s->len;
        memcpy(s->buf + s->len, p, n < room ? n : room);
    }
    s->len += n;
}

static void put_str(sink *s, const char *p)
{
    put(s, p, strlen(p));
}

static void put_u64(sink *s, uint64_t v)
{
    char num[24];
    put(s, num, opc__log_u64(v, num));
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. avail >= 1. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (avail < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n;
}

/* JSON string body of at most max input bytes of p: escapes, U+FFFD for
 * bytes that are not UTF-8, "..." when cut (never inside a character). */
static void put_text(sink *s, const char *p, size_t max)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t n = strlen(p);
    size_t i = 0;
    size_t run = 0; /* start of the pending run of plain bytes */
    while (i < n) {
        unsigned char c = u[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && i < max) {
            i++; /* the common case: printable ASCII, copied as it is */
            continue;
        }
        size_t cl = utf8_len(u + i, n - i);
        size_t step = cl != 0 ? cl : 1;
        if (i + step > max) {
            put(s, p + run, i - run);
            put(s, "...", 3);
            return;
        }
        char esc[6];
        size_t elen = cl == 1 ? opc__json_escape(u[i], esc) : 0;
        if (cl == 0) {
            put(s, p + run, i - run);
            put(s, "\\ufffd", 6);
            run = i + 1;
        } else if (elen != 0) {
            put(s, p + run, i - run);
            put(s, esc, elen);
            run = i + 1;
        }
        i += step;
    }
    put(s, p + run, n - run);
}

static void put_json_str(sink *s, const char *p, size_t max)
{
    put(s, "\"", 1);
    put_text(s, p, max);
    put(s, "\"", 1);
}

/* RFC 3339 with microseconds; the part up to the seconds is kept per
 * thread, as most lines of a thread fall in the same second as its last. */
static void format_time(int64_t time_us, char out[OPC_TIME_STRLEN])
{
    static _Thread_local int64_t last_sec = INT64_MIN;
    static _Thread_local char last[OPC_TIME_STRLEN];
    int64_t sec = time_us / 1000000;
    int64_t us = time_us % 1000000;
    if (us < 0) {
        us += 1000000;
        sec--;
    }
    if (sec != last_sec) {
        if (opc__time_format(sec, last) != OPC_OK || strlen(last) != 20) {
            (void)snprintf(out, OPC_TIME_STRLEN, "%s", "1970-01-01T00:00:00.000000Z");
            return;
        }
        last_sec = sec;
    }
    memcpy(out, last, 19); /* "YYYY-MM-DDTHH:MM:SS" without the 'Z' */
    out[19] = '.';
    for (int i = 25; i >= 20; i--) {
        out[i] = (char)('0' + us % 10);
        us /= 10;
    }
    out[26] = 'Z';
    out[27] = '\0';
}

size_t opc_log_format_json(const opc_log_record *rec, char *buf, size_t buf_len)
{
    static const char letters[] = "?EWIDT";
    sink s = {buf, buf_len > 0 ? buf_len - 1 : 0, 0};
    if (rec == NULL) {
        if (buf_len > 0) {
            buf[0] = '\0';
        }
        return 0;
    }
    int lvl = rec->level >= OPC_LOG_ERROR && rec->level <= OPC_LOG_TRACE ? (int)rec->level : 0;
    char prefix[5] = {'(', letters[lvl], ')', ' ', '\0'};
    char ts[OPC_TIME_STRLEN];
    format_time(rec->time_us, ts);
    char lvlnum[4] = {(char)('0' + lvl), '\0'};

    put_str(&s, "{\"log_message\":\"");
    put_str(&s, prefix);
    put_text(&s, rec->message != NULL ? rec->message : "", OPC_LOG_MESSAGE_MAX);
    put(&s, "\"", 1);
    put_str(&s, ",\"timestamp\":\"");
    put_str(&s, ts);
    put_str(&s, "\",\"level\":");
    put_str(&s, lvlnum);
    if (rec->request_id != NULL || rec->jti != NULL) {
        put_str(&s, ",\"scope\":{");
        bool comma = false;
        if (rec->request_id != NULL) {
            put_str(&s, "\"request_id\":");
            put_json_str(&s, rec->request_id, OPC_LOG_ID_MAX);
            comma = true;
        }
        if (rec->jti != NULL) {
            if (comma) {
                put(&s, ",", 1);
            }
            put_str(&s, "\"jti\":");
            put_json_str(&s, rec->jti, OPC_LOG_ID_MAX);
        }
        put(&s, "}", 1);
    }
    const opc_log_http *h = rec->age >= 2 ? rec->http : NULL;
    if (h != NULL) {
        put_str(&s, ",\"http\":{\"method\":");
        put_json_str(&s, h->method != NULL ? h->method : "?", 16);
        put_str(&s, ",\"path\":");
        put_json_str(&s, h->path != NULL ? h->path : "", OPC_LOG_PATH_MAX);
        put_str(&s, ",\"status\":");
        put_u64(&s, (uint64_t)(h->status > 0 ? h->status : 0));
        put_str(&s, ",\"duration_us\":");
        put_u64(&s, (uint64_t)(h->duration_us > 0 ? h->duration_us : 0));
        if (h->remote_addr != NULL) {
            put_str(&s, ",\"remote_addr\":");
            put_json_str(&s, h->remote_addr, 64);
        }
        put_str(&s, ",\"bytes\":");
        put_u64(&s, h->bytes);
        put(&s, "}", 1);
    }
    put_str(&s, "}\n");
    if (buf_len > 0) {
        buf[s.len < buf_len ? s.len : buf_len - 1] = '\0';
    }
    return s.len;
}

/* ---- the buffered writer ---- */

#define WRITER_DEFAULT_QUEUE ((size_t)4 * 1024 * 1024)
#define WRITER_MIN_QUEUE ((size_t)64 * 1024)

struct opc_log_writer {
    int fd;
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* the thread: lines, a flush or stop */
    pthread_cond_t drained; /* flushers: head moved */
    char *ring;
    size_t cap;
    /* Byte positions since open; the queued bytes are [head, tail). The
     * thread writes [head, tail) without the lock (producers only append
     * behind tail), then moves head. */
    uint64_t head;
    uint64_t tail;
    bool idle;   /* the thread waits for a first line (producers wake it) */
    bool urgent; /* write now: a quarter full, a flush or stop */
    bool stop;
    uint64_t dropped;              /* lines dropped at a full queue */
    uint64_t reported;             /* of those, already told in a line */
    _Atomic uint64_t dropped_seen; /* copy of dropped for opc_log_writer_dropped */
    pthread_t thread;
};

static void writer_kick(opc_log_writer *w)
{
    w->idle = false;
    pthread_cond_signal(&w->wake);
}

/* Append one whole line, or drop it. Under w->mu. */
static bool writer_put(opc_log_writer *w, const char *line, size_t n)
{
    uint64_t used = w->tail - w->head;
    if (n > w->cap - used) {
        w->dropped++;
        atomic_store_explicit(&w->dropped_seen, w->dropped, memory_order_relaxed);
        return false;
    }
    size_t at = (size_t)(w->tail % w->cap);
    size_t first = n < w->cap - at ? n : w->cap - at;
    memcpy(w->ring + at, line, first);
    memcpy(w->ring, line + first, n - first);
    w->tail += n;
    if (w->idle) {
        writer_kick(w);
    } else if (used < w->cap / 4 && used + n >= w->cap / 4) {
        w->urgent = true;
        pthread_cond_signal(&w->wake);
    }
    return true;
}

/* Write [from, to) of the ring to the fd; bytes the fd refuses are lost. */
static void writer_out(opc_log_writer *w, uint64_t from, uint64_t to)
{
    while (from < to) {
        size_t at = (size_t)(from % w->cap);
        size_t n = (size_t)(to - from);
        struct iovec iov[2];
        int cnt = 1;
        iov[0].iov_base = w->ring + at;
        iov[0].iov_len = n < w->cap - at ? n : w->cap - at;
        if (iov[0].iov_len < n) {
            iov[1].iov_base = w->ring;
            iov[1].iov_len = n - iov[0].iov_len;
            cnt = 2;
        }
        ssize_t k = writev(w->fd, iov, cnt);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return; /* closed or broken fd: nothing better to do than drop */
        }
        from += (uint64_t)k;
    }
}

static void writer_report_drops(opc_log_writer *w)
{
    uint64_t n = w->dropped - w->reported;
    char msg[96];
    (void)snprintf(msg, sizeof msg, "log: %llu lines dropped (the log queue was full)",
                   (unsigned long long)n);
    opc_log_record rec = {.age = OPC_LOG_RECORD_AGE,
                          .level = OPC_LOG_WARN,
                          .time_us = opc__now_us(),
                          .subsystem = "core",
                          .message = msg};
    char line[256];
    size_t len = opc_log_format_json(&rec, line, sizeof line);
    if (len >= sizeof line) {
        w->reported = w->dropped; /* cannot happen: the message is short */
    } else if (len <= w->cap - (w->tail - w->head) && writer_put(w, line, len)) {
        w->reported += n;
    } /* else no room yet: told after the next write */
}

static void deadline_after_ms(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_nsec += ms * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec += ts->tv_nsec / 1000000000L;
        ts->tv_nsec %= 1000000000L;
    }
}

static void *writer_main(void *arg)
{
    opc_log_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->head == w->tail) {
            if (w->dropped != w->reported) {
                writer_report_drops(w);
                continue;
            }
            if (w->stop) {
                break;
            }
            w->idle = true;
            while (w->idle && !w->stop) {
                pthread_cond_wait(&w->wake, &w->mu);
            }
            w->idle = false;
            continue;
        }
        /* Let lines gather for a moment: one write for many lines. */
        struct timespec until;
        deadline_after_ms(&until, OPC_LOG_WRITER_DELAY_MS);
        while (!w->urgent && !w->stop) {
            if (pthread_cond_timedwait(&w->wake, &w->mu, &until) == ETIMEDOUT) {
                break;
            }
        }
        w->urgent = false;
        uint64_t from = w->head;
        uint64_t to = w->tail;
        pthread_mutex_unlock(&w->mu);
        writer_out(w, from, to);
        pthread_mutex_lock(&w->mu);
        w->head = to;
        if (w->dropped != w->reported) {
            writer_report_drops(w); /* now, not only once the load stops */
        }
        pthread_cond_broadcast(&w->drained);
    }
    pthread_cond_broadcast(&w->drained);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

opc_err opc_log_writer_open(int fd, size_t queue_bytes, opc_log_writer **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (fd < 0) {
        return OPC_ERR_INVALID_ARG;
    }
    if (queue_bytes == 0) {
        queue_bytes = WRITER_DEFAULT_QUEUE;
    }
    if (queue_bytes < WRITER_MIN_QUEUE) {
        queue_bytes = WRITER_MIN_QUEUE;
    }
    opc_log_writer *w = opc__calloc(1, sizeof *w);
    if (w == NULL) {
        return OPC_ERR_NOMEM;
    }
    w->ring = opc__malloc(queue_bytes);
    if (w->ring == NULL) {
        opc__free(w);
        return OPC_ERR_NOMEM;
    }
    w->fd = fd;
    w->cap = queue_bytes;
    atomic_init(&w->dropped_seen, 0);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->wake, &ca);
    pthread_cond_init(&w->drained, NULL);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->drained);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->mu);
        opc__free(w->ring);
        opc__free(w);
        return OPC_ERR_IO;
    }
    *out = w;
    return OPC_OK;
}

void opc__log_writer_put(opc_log_writer *w, const char *line, size_t n)
{
    pthread_mutex_lock(&w->mu);
    (void)writer_put(w, line, n);
    pthread_mutex_unlock(&w->mu);
}

void opc_log_writer_fn(const opc_log_record *record, void *writer)
{
    opc_log_writer *w = writer;
    if (w == NULL || record == NULL) {
        return;
    }
    char buf[2048];
    size_t n = opc_log_format_json(record, buf, sizeof buf);
    if (n < sizeof buf) {
        opc__log_writer_put(w, buf, n);
        return;
    }
    char *big = opc__malloc(n + 1); /* a long line (the caps bound it) */
    if (big != NULL && opc_log_format_json(record, big, n + 1) == n) {
        opc__log_writer_put(w, big, n);
    } else {
        pthread_mutex_lock(&w->mu);
        w->dropped++;
        atomic_store_explicit(&w->dropped_seen, w->dropped, memory_order_relaxed);
        pthread_mutex_unlock(&w->mu);
    }
    opc__free(big);
}

void opc_log_writer_flush(opc_log_writer *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->tail;
    if (w->head < target) {
        w->urgent = true;
        writer_kick(w);
        while (w->head < target && !w->stop) {
            pthread_cond_wait(&w->drained, &w->mu);
            if (w->head < target) {
                w->urgent = true; /* lines came in behind a batch */
                pthread_cond_signal(&w->wake);
            }
        }
    }
    pthread_mutex_unlock(&w->mu);
}

uint64_t opc_log_writer_dropped(const opc_log_writer *w)
{
    return w != NULL ? atomic_load_explicit(&w->dropped_seen, memory_order_relaxed) : 0;
}

void opc_log_writer_close(opc_log_writer *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    w->urgent = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->drained);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    opc__free(w->ring);
    opc__free(w);
}
