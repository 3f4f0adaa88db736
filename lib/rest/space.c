/*
 * rest/space.c - whether connect-api may write while the cache's disk is
 * full (space.h).
 */
#include "rest/space.h"

#include <sys/statvfs.h>

int64_t opc__space_need(size_t row_len)
{
    /* The row goes into the WAL, and at the checkpoint into the file. */
    return OPC_SPACE_RESERVE + 2 * (int64_t)row_len;
}

opc__space_verdict opc__space_check(opc__space *s, int64_t now_ms, int64_t seq, int64_t attempt,
                                    int64_t free_bytes, int64_t need)
{
    if (free_bytes >= 0 && free_bytes < need) {
        atomic_store(&s->full, true);
        return OPC_SPACE_WAIT;
    }
    if (s->marked) {
        if (seq != s->seq || attempt != s->attempt) {
            s->marked = false; /* connect-sync wrote to the cache */
        } else if (now_ms - s->probe_ms >= OPC_SPACE_PROBE_MS) {
            s->probe_ms = now_ms;
            return OPC_SPACE_PROBE;
        } else {
            atomic_store(&s->full, true);
            return OPC_SPACE_WAIT;
        }
    }
    atomic_store(&s->full, false);
    return OPC_SPACE_WRITE;
}

void opc__space_mark(opc__space *s, int64_t now_ms, int64_t seq, int64_t attempt)
{
    s->marked = true;
    s->probe_ms = now_ms;
    s->seq = seq;
    s->attempt = attempt;
    atomic_store(&s->full, true);
}

void opc__space_clear(opc__space *s)
{
    s->marked = false;
    atomic_store(&s->full, false);
}

bool opc__space_full(opc__space *s)
{
    return atomic_load(&s->full);
}

int64_t opc__space_free(const char *path)
{
    struct statvfs sv;
    if (path == NULL || statvfs(path, &sv) != 0) {
        return -1;
    }
    return (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
}
