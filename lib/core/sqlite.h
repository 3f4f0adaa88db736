/*
 * core/sqlite.h - the one SQLite helper of the library's stores (the
 * account file, the Connect server's cache, the activity log).
 *
 * A handle (opc__db) owns the connection, a table of prepared statements
 * (prepared once, on first use, and reset after each use, so none keeps a
 * read transaction open between calls) and the transaction state. Every
 * SQLite result code becomes an opc_err through one mapping:
 *
 *   SQLITE_NOMEM                          OPC_ERR_NOMEM
 *   SQLITE_BUSY, SQLITE_LOCKED            OPC_ERR_IO ("the <label> is busy")
 *   SQLITE_NOTADB                         OPC_ERR_PARSE ("not an opconnect <label>")
 *   SQLITE_CORRUPT                        OPC_ERR_PARSE ("the <label> is corrupt")
 *   SQLITE_CONSTRAINT_UNIQUE/_PRIMARYKEY  OPC_ERR_EXISTS
 *   SQLITE_IOERR, CANTOPEN, READONLY,
 *   FULL, PERM, AUTH, NOLFS, PROTOCOL     OPC_ERR_IO
 *   SQLITE_TOOBIG                         OPC_ERR_TOO_LARGE
 *   anything else (ERROR, MISUSE, RANGE,
 *   other constraints...)                 OPC_ERR_INTERNAL
 *
 * Messages are "<what>: <text>", with SQLite's message as the text where
 * no fixed one is given. SQL is only ever run with bound parameters and
 * SQLite's messages name tables and constraints, never bound values, so
 * no secret reaches a message.
 *
 * A handle is used by one thread at a time unless opened OPC_DB_SHARED.
 */
#ifndef OPC_CORE_SQLITE_H
#define OPC_CORE_SQLITE_H

#include <stdarg.h>

#include <sqlite3.h>

#include "core/err.h"
#include "internal.h"

/*
 * SQLITE_BUSY: SQLite's busy handler waits up to the handle's busy timeout
 * inside each statement. A BEGIN (and a whole opc__db_txn()) that still
 * meets SQLITE_BUSY is tried again, up to OPC_DB_BUSY_TRIES attempts with
 * pauses from OPC_DB_BUSY_BACKOFF_MS doubling (and, when the busy timeout
 * is longer than the pauses, while less than it has passed since the
 * first; a slow machine stretching a pause never costs an attempt): a
 * BUSY that comes at once (a snapshot too old, a handler that gave up) is
 * retried, a file locked for good still fails after the busy timeout.
 */
#define OPC_DB_BUSY_TRIES 4
#define OPC_DB_BUSY_BACKOFF_MS 10

/* Flags of opc__db_config. */
enum {
    OPC_DB_READONLY = 1u << 0, /* open read-only (default: read-write) */
    OPC_DB_CREATE = 1u << 1,   /* create a missing file (parent directory 0700, file 0600) */
    OPC_DB_NOFOLLOW = 1u << 2, /* refuse a symbolic link */
    OPC_DB_SHARED = 1u << 3,   /* serialized connection: callable from several threads */
    OPC_DB_PRIVATE = 1u << 4,  /* keep -wal and -shm at 0600 (after opening and each commit) */
};

typedef struct opc__db_config {
    const char *path;
    const char *label;   /* names the file in messages: "account file" */
    unsigned flags;      /* OPC_DB_* */
    int busy_timeout_ms; /* SQLite's busy handler waits this long per attempt */
    const char *pragmas; /* run once opened (NULL: none) */
    /* The statement table of opc__db_stmt() (NULL, 0: none); the strings
     * must outlive the handle. */
    const char *const *stmts;
    size_t n_stmts;
} opc__db_config;

typedef struct opc__db opc__db;

/* Open (extended result codes on), set the busy timeout, run the pragmas. */
opc_err opc__db_open(const opc__db_config *cfg, opc__db **out, opc__ebuf *eb);
/* Roll back an open transaction, finalize the statements, close. NULL is a no-op. */
void opc__db_close(opc__db *db);
/* The connection, for what the helper does not wrap (column reads, changes). */
sqlite3 *opc__db_sqlite(opc__db *db);
/* Switch to (or confirm) WAL journal mode; OPC_ERR_IO when SQLite refuses. */
opc_err opc__db_wal(opc__db *db, opc__ebuf *eb);

/*
 * The mapping above: fill eb with "<what>: ..." (what NULL: the label) and
 * return the opc_err for the SQLite result code src.
 */
opc_err opc__db_err(opc__db *db, int src, const char *what, opc__ebuf *eb);
/* The SQLite result code of the last failure mapped on this handle (SQLITE_OK: none). */
int opc__db_last_error(const opc__db *db);
/* Whether an error message made above tells of SQLITE_FULL ("database or
 * disk is full"), for callers that get only the text (an upstream's). */
bool opc__db_msg_full(const char *msg);

/* Execute SQL text without parameters (several statements allowed). */
opc_err opc__db_exec(opc__db *db, const char *sql, opc__ebuf *eb);
/* Prepare a one-off statement (the caller finalizes it). */
opc_err opc__db_prepare(opc__db *db, const char *sql, sqlite3_stmt **st, opc__ebuf *eb);
/*
 * Bind parameters 1..n by a format string: 't' text (const char *, NULL
 * binds NULL), 'i' int64_t, 'b' blob (const void *, size_t), 'n' NULL (no
 * argument). Text and blobs are bound SQLITE_STATIC: keep them alive until
 * the statement is stepped.
 */
opc_err opc__db_bind(opc__db *db, sqlite3_stmt *st, opc__ebuf *eb, const char *fmt, ...);
opc_err opc__db_vbind(opc__db *db, sqlite3_stmt *st, opc__ebuf *eb, const char *fmt, va_list ap);
/*
 * Statement id of the handle's table (prepared on first use, then reused),
 * bound by fmt as opc__db_bind(). Give it back with opc__db_done().
 */
opc_err opc__db_stmt(opc__db *db, size_t id, sqlite3_stmt **out, opc__ebuf *eb, const char *fmt,
                     ...);
/* Reset a statement and clear its bindings (NULL is a no-op). */
void opc__db_done(sqlite3_stmt *st);
/* Step: *row true for SQLITE_ROW, false for SQLITE_DONE; anything else is an error. */
opc_err opc__db_step(opc__db *db, sqlite3_stmt *st, bool *row, opc__ebuf *eb);
/* Step a statement of the table that returns no rows, then opc__db_done() it. */
opc_err opc__db_run(opc__db *db, sqlite3_stmt *st, opc__ebuf *eb);
/* Prepare, bind, step to the end and finalize a one-off statement. *changed
 * (may be NULL) gets the rows it changed. */
opc_err opc__db_run_sql(opc__db *db, int *changed, opc__ebuf *eb, const char *sql, const char *fmt,
                        ...);
/* Prepare a one-off statement and bind it by fmt as opc__db_bind() (*st
 * NULL on failure); the caller steps and finalizes it. */
opc_err opc__db_query(opc__db *db, sqlite3_stmt **st, opc__ebuf *eb, const char *sql,
                      const char *fmt, ...);
/* opc__db_query, then one step: *row true when it gave a row, whose columns
 * the caller reads; the caller finalizes *st (also on failure). */
opc_err opc__db_query_row(opc__db *db, sqlite3_stmt **st, bool *row, opc__ebuf *eb, const char *sql,
                          const char *fmt, ...);
/* A one-off one-row integer query (first column); *found false (and *out
 * untouched) when there is no row. */
opc_err opc__db_query_int(opc__db *db, bool *found, int64_t *out, opc__ebuf *eb, const char *sql,
                          const char *fmt, ...);
/* Rows changed by the last statement. */
int opc__db_changes(opc__db *db);

/*
 * Transactions, not nested: BEGIN IMMEDIATE (write) or BEGIN (read). A
 * BEGIN that meets SQLITE_BUSY is tried again (see OPC_DB_BUSY_TRIES). A
 * failed COMMIT rolls back.
 */
opc_err opc__db_begin(opc__db *db, bool write, opc__ebuf *eb);
opc_err opc__db_commit(opc__db *db, opc__ebuf *eb);
void opc__db_rollback(opc__db *db);
/* Commit when rc is OPC_OK, else roll back; returns the final code. */
opc_err opc__db_end(opc__db *db, opc_err rc, opc__ebuf *eb);
/* Whether a transaction of ours is open. */
bool opc__db_in_tx(const opc__db *db);

/*
 * Run fn in a write transaction: BEGIN IMMEDIATE, fn, COMMIT; rolled back
 * when anything fails. When the failure was SQLITE_BUSY (fn's or the
 * COMMIT's) the whole transaction runs again (see OPC_DB_BUSY_TRIES): fn
 * must be safe to repeat (its effects outside the database idempotent).
 */
typedef opc_err (*opc__db_txn_fn)(opc__db *db, void *ud, opc__ebuf *eb);
opc_err opc__db_txn(opc__db *db, opc__db_txn_fn fn, void *ud, opc__ebuf *eb);

#endif
