/*
 * rest/space.h - whether connect-api may write while the cache's disk is
 * full (write.c; docs/decisions.md, "A full cache disk").
 *
 * An item write goes to the upstream first and is then written through
 * into the cache. When the cache cannot take it (the disk is full), the
 * write is made upstream but not readable here until connect-sync brings
 * it in, which it cannot either while the disk stays full: the client that
 * got the 200 reads a 404. So writes are held back BEFORE anything goes
 * upstream, with a 503 and Retry-After, while
 *   - the cache's file system has less free space than the write may need
 *     (opc__space_need(); statvfs(3) of the cache's directory, each write),
 *   - or the last write-through failed with a full disk (SQLite's
 *     SQLITE_FULL: quotas and races that statvfs cannot see), until the
 *     cache is seen to change (the sync wrote something: its meta row's
 *     change_seq or last_attempt_ms moved) or OPC_SPACE_PROBE_MS went by,
 *     when one write is let through as a probe.
 * Reads are never held back. The state is plain data, used under the
 * api's write_mu; `full` is also read without the lock by /health, hence
 * atomic.
 */
#ifndef OPC_REST_SPACE_H
#define OPC_REST_SPACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* After this long (ms) with the cache marked full, one write is tried. */
#define OPC_SPACE_PROBE_MS 5000
/* Free bytes kept beyond a write's own row (the vault row, the b-tree
 * pages, the WAL's frame headers): below this, writes wait. */
#define OPC_SPACE_RESERVE ((int64_t)1024 * 1024)

typedef enum opc__space_verdict {
    OPC_SPACE_WRITE = 0, /* go ahead */
    OPC_SPACE_PROBE,     /* go ahead: the one write that tries a cache marked full */
    OPC_SPACE_WAIT,      /* 503: the cache's disk is (still) full */
} opc__space_verdict;

typedef struct opc__space {
    atomic_bool full; /* marked by a failed write-through, or free space too low */
    bool marked;      /* a write-through met SQLITE_FULL (cleared as above) */
    int64_t probe_ms; /* monotonic ms when marked or last probed */
    int64_t seq;      /* the cache's change_seq when marked */
    int64_t attempt;  /* and its meta.last_attempt_ms */
} opc__space;

/* The free bytes a write waits for: row_len is the item's sealed overview
 * and details (0 for a delete). */
int64_t opc__space_need(size_t row_len);

/*
 * Whether the write may go: now_ms monotonic; seq and attempt what the
 * index shows of the cache's meta row now; free_bytes the free space of
 * the cache's file system (negative: unknown, not judged). Updates s.
 */
opc__space_verdict opc__space_check(opc__space *s, int64_t now_ms, int64_t seq, int64_t attempt,
                                    int64_t free_bytes, int64_t need);

/* A write-through met a full disk (now_ms, seq and attempt as above). */
void opc__space_mark(opc__space *s, int64_t now_ms, int64_t seq, int64_t attempt);

/* A write-through succeeded: the cache is writable. */
void opc__space_clear(opc__space *s);

/* Whether writes wait now (any thread, for /health). */
bool opc__space_full(opc__space *s);

/* Free bytes (for an unprivileged writer) of the file system holding the
 * file `path`: statvfs(3) of its directory; -1 when it cannot be read. */
int64_t opc__space_free(const char *path);

#endif
