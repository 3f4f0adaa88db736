/*
 * core/watch.h - wake up when a file of a directory changes.
 *
 * A watch follows the files of one directory whose names start with a
 * prefix ("1password.sqlite" covers the database and its -wal and -shm
 * files): any write, creation, rename into, removal or attribute change of
 * one of them ends opc__watch_wait() early. It is a hint, never a promise:
 * the caller still reads the state it cares about (a SQLite commit shows
 * as several writes, some before the commit is visible), and polls at its
 * own pace when nothing wakes it. On Linux it uses inotify; where inotify
 * is not available (or the directory does not exist yet; it is retried at
 * every wait) the wait simply lasts its timeout, so the caller degrades to
 * polling.
 *
 * A change is often seen before it is visible: SQLite writes a commit's
 * frames to the -wal file (an event), then publishes it in the -shm index,
 * which is shared memory (no event). So after a change the next four waits
 * last at most 1, 2, 5 and 10 ms: a caller that found nothing new looks
 * again a moment later, not a whole poll interval later.
 *
 * opc__watch_wake() ends the current or next wait from any thread (a
 * stop request).
 *
 * Thread safety: one thread waits; any thread may wake.
 */
#ifndef OPC_CORE_WATCH_H
#define OPC_CORE_WATCH_H

#include "core/err.h"
#include "internal.h"

typedef struct opc__watch opc__watch;

typedef enum opc__watch_event {
    OPC_WATCH_TIMEOUT = 0, /* nothing happened (or nothing could be watched) */
    OPC_WATCH_CHANGED = 1, /* a watched file changed */
    OPC_WATCH_WOKEN = 2,   /* opc__watch_wake() */
} opc__watch_event;

/* Watch the files of the directory of path whose names start with path's
 * last component; a path ending in '/' ("dir/") watches every file of dir.
 * OPC_ERR_NOMEM, OPC_ERR_INVALID_ARG. */
opc_err opc__watch_open(const char *path, opc__watch **out);
void opc__watch_close(opc__watch *w);

/* Wait up to timeout_ms (>= 0) for a change or a wake-up; every pending
 * event is consumed. */
opc__watch_event opc__watch_wait(opc__watch *w, int timeout_ms);

/* Whether changes are actually watched (false: the wait only times out). */
bool opc__watch_active(const opc__watch *w);

void opc__watch_wake(opc__watch *w);

#endif
