/*
 * cache/cache_int.h - what the files of lib/cache share (the interface is
 * cache.h):
 *
 *   cache.c        opening, schema, transactions, meta, readers, the SQL
 *                  helpers and the statement table
 *   cache_write.c  writers: plain and monotonic puts, deletes, write-through
 */
#ifndef OPC_CACHE_CACHE_INT_H
#define OPC_CACHE_CACHE_INT_H

#include <sqlite3.h>

#include "cache/cache.h"
#include "core/err.h"
#include "internal.h"

/* Prepared statements, by index. */
enum opc__cache_stmt_id {
    S_DATA_VERSION,
    S_META_GET,
    S_SET_IDS,
    S_SET_CURSOR,
    S_SET_INITIAL,
    S_HEALTH_OK,
    S_HEALTH_FAIL,
    S_IK_ALL,
    S_IK_GET,
    S_IK_PUT,
    S_IK_DEL,
    S_AC_ALL,
    S_AC_GET,
    S_AC_PUT,
    S_AC_DEL,
    S_V_ALL,
    S_V_GET,
    S_V_PUT,
    S_V_DEL,
    S_I_ALL,
    S_I_ALL_DETAILS,
    S_I_GET,
    S_I_COUNT,
    S_I_COUNT_ALL,
    S_I_PUT,
    S_I_DEL,
    S_I_DEL_VAULT,
    S_I_DEL_UPTO,
    S_I_VERSION,
    S_F_ITEM_DEL,
    S_F_ITEM_DEL_UPTO,
    S_F_VAULT_DEL,
    S_F_CHUNKS,
    S_F_PUT,
    S_F_DEL,
    S_T_GET,
    S_T_ALL,
    S_T_PUT,
    S_T_DEL,
    S_COUNT
};

struct opc__cache {
    sqlite3 *db;
    char *path;
    bool writable;
    bool in_tx;
    sqlite3_stmt *st[S_COUNT];
};

/* Map a SQLite result code to an opc_err with "<what>: <sqlite message>". */
opc_err opc__cache_sqlerr(const opc__cache *c, int rc, const char *what, opc__ebuf *eb);
/*
 * The prepared statement id (prepared once per handle), bound by fmt: 't'
 * text (NULL binds NULL), 'i' int64_t, 'b' blob (const void *, size_t).
 * Bound SQLITE_STATIC: keep the values alive until opc__cache_done().
 */
opc_err opc__cache_stmt(opc__cache *c, int id, sqlite3_stmt **out, opc__ebuf *eb, const char *fmt,
                        ...);
/* Step: *row true for a row, false when done. */
opc_err opc__cache_step(opc__cache *c, sqlite3_stmt *st, bool *row, opc__ebuf *eb);
/* Reset a statement and clear its bindings (NULL is a no-op). */
void opc__cache_done(sqlite3_stmt *st);
/* Step a statement that returns no rows, then opc__cache_done() it. */
opc_err opc__cache_run(opc__cache *c, sqlite3_stmt *st, opc__ebuf *eb);
/* OPC_ERR_INVALID_ARG unless the handle was opened for writing. */
opc_err opc__cache_need_write(const opc__cache *c, opc__ebuf *eb);
/* OPC_ERR_INVALID_ARG "cache: invalid <what> id". */
opc_err opc__cache_bad_id(opc__ebuf *eb, const char *what);

#endif
