/*
 * cache/cache_int.h - what the files of lib/cache share (the interface is
 * cache.h):
 *
 *   cache.c        opening, schema, transactions, meta, readers and the
 *                  statement table (SQL through core/sqlite.h)
 *   cache_write.c  writers: plain and monotonic puts, deletes, write-through
 *   cache_mac.c    the row MACs, the seal and the check (cache.h, "Verified rows")
 */
#ifndef OPC_CACHE_CACHE_INT_H
#define OPC_CACHE_CACHE_INT_H

#include <sqlite3.h>

#include "cache/cache.h"
#include "core/err.h"
#include "core/sqlite.h"
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
    S_I_CHANGED,
    S_GONE,
    S_I_DEL,
    S_I_DEL_VAULT,
    S_I_DEL_UPTO,
    S_I_VERSION,
    S_F_ITEM_DEL,
    S_F_ITEM_DEL_UPTO,
    S_F_VAULT_DEL,
    S_F_GAP_DEL,
    S_I_GAP_DEL,
    S_F_CHUNKS,
    S_F_PUT,
    S_T_GET,
    S_T_ALL,
    S_T_PUT,
    S_T_DEL,
    S_IK_MACS,
    S_T_MACS,
    S_AC_MACS,
    S_SEAL_GET,
    S_SET_SEAL,
    S_COUNT
};

struct opc__cache {
    opc__db *db; /* its statement table: stmt_sql in cache.c, by S_* */
    char *path;
    bool writable;
    bool keyed;                      /* key holds the server's cache key */
    bool seal_due;                   /* the open transaction changed sealed state */
    uint8_t key[OPC_CACHE_MAC_LEN]; /* wiped at close */
};

/*
 * Statement id (S_*) of the handle's table, bound by fmt as opc__db_bind()
 * ('t', 'i', 'b', 'n'). Bound SQLITE_STATIC: keep the values alive until
 * opc__cache_done().
 */
#define opc__cache_stmt(c, id, out, eb, ...) opc__db_stmt((c)->db, (id), (out), (eb), __VA_ARGS__)
/* Step: *row true for a row, false when done. */
#define opc__cache_step(c, st, row, eb) opc__db_step((c)->db, (st), (row), (eb))
/* Reset a statement and clear its bindings (NULL is a no-op). */
#define opc__cache_done(st) opc__db_done(st)
/* Step a statement that returns no rows, then opc__cache_done() it. */
#define opc__cache_run(c, st, eb) opc__db_run((c)->db, (st), (eb))
/* OPC_ERR_INVALID_ARG unless the handle was opened for writing. */
opc_err opc__cache_need_write(const opc__cache *c, opc__ebuf *eb);
/*
 * Writers of sealed state (cache.h, "Verified rows"): begin marks the
 * transaction for sealing at commit, opening one of its own (*own) when a
 * keyed handle has none; end commits that one (or passes rc through).
 */
opc_err opc__cache_sealed_begin(opc__cache *c, bool *own, opc__ebuf *eb);
opc_err opc__cache_sealed_end(opc__cache *c, bool own, opc_err rc, opc__ebuf *eb);
/* Write meta.seal for the current state (keyed handles; else nothing). */
opc_err opc__cache_seal(opc__cache *c, opc__ebuf *eb);
/*
 * A stepped row of statement stmt (S_IK_ALL/_GET, S_T_ALL/_GET,
 * S_AC_ALL/_GET): *ok tells whether its mac column is its MAC under the
 * handle's key, id gets the row's key.
 */
opc_err opc__cache_row_check(opc__cache *c, int stmt, sqlite3_stmt *st, bool *ok,
                             char id[OPC_ID_LEN + 1]);
/* Constant-time: got (got_len bytes) is want. */
bool opc__cache_mac_equal(const uint8_t want[OPC_CACHE_MAC_LEN], const void *got, size_t got_len);
/* OPC_ERR_INVALID_ARG "cache: invalid <what> id". */
opc_err opc__cache_bad_id(opc__ebuf *eb, const char *what);

#endif
