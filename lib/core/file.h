/*
 * core/file.h - private files: the library's SQLite stores, and files written
 * whole and atomically (the ACME state, the account server's key).
 *
 * The stores (cache/cache.c, observe/activity.c, through core/sqlite.c's
 * OPC_DB_CREATE and OPC_DB_PRIVATE) keep their files readable by the owner
 * only: the parent directory is created 0700, the file 0600 and
 * SQLite's -wal and -shm side files are chmod'ed to 0600 once they exist
 * (SQLite creates them with the database file's mode, minus the umask, but
 * an older file may have been created laxer).
 *
 * `what` prefixes every message ("cache file", "activity log"); messages name the
 * path and errno's text, never file content.
 */
#ifndef OPC_CORE_FILE_H
#define OPC_CORE_FILE_H

#include <stddef.h>

#include "core/err.h"
#include "internal.h"

/* mkdir -p the parent directory of path; directories it creates get 0700. */
opc_err opc__file_make_parent(const char *what, const char *path, opc__ebuf *eb);

/* Create path with mode 0600 if missing (never through a symbolic link);
 * an existing file must be a regular file and is chmod'ed to 0600 when
 * group or others have any access. */
opc_err opc__file_create_private(const char *what, const char *path, opc__ebuf *eb);

/* chmod 0600 the "<path>-wal" and "<path>-shm" files when they exist and are
 * accessible to group or others. Best effort; allocates nothing (the
 * activity log's writer thread calls it). */
void opc__file_tighten_sidecars(const char *path);

/*
 * Write path atomically with mode 0600: a temporary file beside it
 * (O_EXCL, never through a symbolic link), written, synced, renamed over
 * path, then dir (path's directory) synced; a crash leaves the old or the
 * new content, never half of one. Messages name the path and errno's text.
 */
opc_err opc__file_write_atomic(const char *dir, const char *path, const char *data, size_t len,
                               opc__ebuf *eb);
/* The same, for a file that must not be replaced: it appears whole or not
 * at all (a hard link of the synced temporary file), and when path exists
 * already, by now or by a racing writer, nothing is written:
 * OPC_ERR_EXISTS. */
opc_err opc__file_write_new(const char *dir, const char *path, const char *data, size_t len,
                            opc__ebuf *eb);

/*
 * Read a whole regular file (at most max bytes) into a NUL-terminated
 * buffer (*out_len excludes the NUL; free with opc__secret_free(*out,
 * *out_len + 1) when it may hold a key, opc__free otherwise). Messages
 * ("cannot read: ...", "larger than N bytes": OPC_ERR_TOO_LARGE) do not
 * name the path: the caller prefixes it.
 */
opc_err opc__file_read(const char *path, size_t max, char **out, size_t *out_len, opc__ebuf *eb);

#endif
