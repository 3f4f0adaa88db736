/*
 * core/sqlite.c - the one SQLite helper of the stores (see sqlite.h).
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/sqlite.h"
#include "core/time.h"

struct opc__db {
    sqlite3 *conn;
    const char *label;
    char *path;  /* OPC_DB_PRIVATE only: the file whose side files are tightened */
    int busy_ms; /* the busy handler's wait */
    bool in_tx;
    int last; /* SQLite code of the last mapped failure */
    const char *const *sql;
    sqlite3_stmt **st;
    size_t n_st;
};

/* ---- errors ---- */

opc_err opc__db_err(opc__db *db, int src, const char *what, opc__ebuf *eb)
{
    const char *label = (db != NULL) ? db->label : "database";
    const char *msg =
        (db != NULL && db->conn != NULL) ? sqlite3_errmsg(db->conn) : sqlite3_errstr(src);
    if (what == NULL) {
        what = label;
    }
    if (db != NULL) {
        db->last = src;
    }
    opc_err code = OPC_ERR_INTERNAL;
    switch (src & 0xff) {
    case SQLITE_NOMEM:
        return opc__fail(eb, OPC_ERR_NOMEM, "%s: out of memory", what);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return opc__fail(eb, OPC_ERR_IO, "%s: the %s is busy (another process holds its lock)",
                         what, label);
    case SQLITE_NOTADB:
        return opc__fail(eb, OPC_ERR_PARSE, "%s: not an opconnect %s", what, label);
    case SQLITE_CORRUPT:
        return opc__fail(eb, OPC_ERR_PARSE, "%s: the %s is corrupt", what, label);
    case SQLITE_CONSTRAINT:
        if (src == SQLITE_CONSTRAINT_UNIQUE || src == SQLITE_CONSTRAINT_PRIMARYKEY) {
            code = OPC_ERR_EXISTS;
        }
        break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_FULL:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_NOLFS:
    case SQLITE_PROTOCOL:
        code = OPC_ERR_IO;
        break;
    case SQLITE_TOOBIG:
        code = OPC_ERR_TOO_LARGE;
        break;
    default:
        break;
    }
    return opc__fail(eb, code, "%s: %s", what, msg);
}

int opc__db_last_error(const opc__db *db)
{
    return db == NULL ? SQLITE_OK : db->last;
}

bool opc__db_msg_full(const char *msg)
{
    return msg != NULL && strstr(msg, sqlite3_errstr(SQLITE_FULL)) != NULL;
}

/* ---- opening ---- */

opc_err opc__db_open(const opc__db_config *cfg, opc__db **out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (cfg == NULL || cfg->path == NULL || cfg->label == NULL ||
        (cfg->n_stmts > 0 && cfg->stmts == NULL)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "database: missing path or label");
    }
    bool readonly = (cfg->flags & OPC_DB_READONLY) != 0;
    if ((cfg->flags & OPC_DB_CREATE) != 0 && !readonly) {
        opc_err rc = opc__file_make_parent(cfg->label, cfg->path, eb);
        if (rc == OPC_OK) {
            rc = opc__file_create_private(cfg->label, cfg->path, eb);
        }
        if (rc != OPC_OK) {
            return rc;
        }
    }
    opc__db *db = opc__calloc(1, sizeof *db);
    if (db == NULL) {
        return OPC_ERR_NOMEM;
    }
    db->label = cfg->label;
    db->busy_ms = cfg->busy_timeout_ms;
    db->sql = cfg->stmts;
    db->n_st = cfg->n_stmts;
    if (db->n_st > 0) {
        db->st = opc__calloc(db->n_st, sizeof(sqlite3_stmt *));
    }
    if ((cfg->flags & OPC_DB_PRIVATE) != 0 && !readonly) {
        db->path = opc__strdup(cfg->path);
    }
    if ((db->n_st > 0 && db->st == NULL) ||
        ((cfg->flags & OPC_DB_PRIVATE) != 0 && !readonly && db->path == NULL)) {
        opc__db_close(db);
        return OPC_ERR_NOMEM;
    }
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                ((cfg->flags & OPC_DB_SHARED) != 0 ? SQLITE_OPEN_FULLMUTEX : SQLITE_OPEN_NOMUTEX) |
                ((cfg->flags & OPC_DB_NOFOLLOW) != 0 ? SQLITE_OPEN_NOFOLLOW : 0);
    int src = sqlite3_open_v2(cfg->path, &db->conn, flags, NULL);
    opc_err rc = OPC_OK;
    if (src != SQLITE_OK) {
        char what[64];
        (void)snprintf(what, sizeof what, "cannot open the %s", cfg->label);
        rc = opc__db_err(db, src, what, eb);
        opc__db_close(db);
        return rc;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    src = sqlite3_busy_timeout(db->conn, cfg->busy_timeout_ms);
    if (src != SQLITE_OK) {
        rc = opc__db_err(db, src, NULL, eb);
    }
    if (rc == OPC_OK && cfg->pragmas != NULL) {
        rc = opc__db_exec(db, cfg->pragmas, eb);
    }
    if (rc != OPC_OK) {
        opc__db_close(db);
        return rc;
    }
    if (db->path != NULL) {
        opc__file_tighten_sidecars(db->path); /* an older file's, created laxer */
    }
    *out = db;
    return OPC_OK;
}

void opc__db_close(opc__db *db)
{
    if (db == NULL) {
        return;
    }
    if (db->conn != NULL) {
        opc__db_rollback(db);
    }
    for (size_t i = 0; db->st != NULL && i < db->n_st; i++) {
        sqlite3_finalize(db->st[i]);
    }
    sqlite3_close_v2(db->conn);
    opc__free(db->st);
    opc__free(db->path);
    opc__free(db);
}

sqlite3 *opc__db_sqlite(opc__db *db)
{
    return db == NULL ? NULL : db->conn;
}

opc_err opc__db_wal(opc__db *db, opc__ebuf *eb)
{
    /* journal_mode answers with a row, so it is read like a query. */
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__db_prepare(db, "PRAGMA journal_mode = WAL", &st, eb);
    bool row = false;
    if (rc == OPC_OK) {
        rc = opc__db_step(db, st, &row, eb);
    }
    if (rc == OPC_OK) {
        const unsigned char *mode = row ? sqlite3_column_text(st, 0) : NULL;
        if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
            rc = opc__fail(eb, OPC_ERR_IO, "%s: cannot switch to WAL journal mode", db->label);
        }
    }
    sqlite3_finalize(st);
    if (rc == OPC_OK && db->path != NULL) {
        opc__file_tighten_sidecars(db->path);
    }
    return rc;
}

/* ---- statements ---- */

opc_err opc__db_exec(opc__db *db, const char *sql, opc__ebuf *eb)
{
    int src = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? OPC_OK : opc__db_err(db, src, NULL, eb);
}

opc_err opc__db_prepare(opc__db *db, const char *sql, sqlite3_stmt **st, opc__ebuf *eb)
{
    *st = NULL;
    int src = sqlite3_prepare_v2(db->conn, sql, -1, st, NULL);
    if (src != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return opc__db_err(db, src, NULL, eb);
    }
    return OPC_OK;
}

opc_err opc__db_vbind(opc__db *db, sqlite3_stmt *st, opc__ebuf *eb, const char *fmt, va_list ap)
{
    int idx = 1;
    for (const char *f = fmt; *f != '\0'; f++, idx++) {
        int src = SQLITE_OK;
        switch (*f) {
        case 't': {
            const char *s = va_arg(ap, const char *);
            src = (s == NULL) ? sqlite3_bind_null(st, idx)
                              : sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC);
            break;
        }
        case 'i':
            src = sqlite3_bind_int64(st, idx, (sqlite3_int64)va_arg(ap, int64_t));
            break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            if (n > (size_t)INT_MAX) {
                return opc__fail(eb, OPC_ERR_TOO_LARGE, "%s: blob too large", db->label);
            }
            src = sqlite3_bind_blob(st, idx, n == 0 ? "" : p, (int)n, SQLITE_STATIC);
            break;
        }
        case 'n':
            src = sqlite3_bind_null(st, idx);
            break;
        default:
            return opc__fail(eb, OPC_ERR_INTERNAL, "%s: bad bind format", db->label);
        }
        if (src != SQLITE_OK) {
            return opc__db_err(db, src, NULL, eb);
        }
    }
    return OPC_OK;
}

opc_err opc__db_bind(opc__db *db, sqlite3_stmt *st, opc__ebuf *eb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    opc_err rc = opc__db_vbind(db, st, eb, fmt, ap);
    va_end(ap);
    return rc;
}

opc_err opc__db_stmt(opc__db *db, size_t id, sqlite3_stmt **out, opc__ebuf *eb, const char *fmt,
                     ...)
{
    *out = NULL;
    if (id >= db->n_st) {
        return opc__fail(eb, OPC_ERR_INTERNAL, "%s: no statement %zu", db->label, id);
    }
    if (db->st[id] == NULL) {
        int src = sqlite3_prepare_v3(db->conn, db->sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                     &db->st[id], NULL);
        if (src != SQLITE_OK) {
            sqlite3_finalize(db->st[id]);
            db->st[id] = NULL;
            return opc__db_err(db, src, NULL, eb);
        }
    }
    va_list ap;
    va_start(ap, fmt);
    opc_err rc = opc__db_vbind(db, db->st[id], eb, fmt, ap);
    va_end(ap);
    if (rc != OPC_OK) {
        opc__db_done(db->st[id]);
        return rc;
    }
    *out = db->st[id];
    return OPC_OK;
}

void opc__db_done(sqlite3_stmt *st)
{
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

opc_err opc__db_step(opc__db *db, sqlite3_stmt *st, bool *row, opc__ebuf *eb)
{
    int src = sqlite3_step(st);
    *row = (src == SQLITE_ROW);
    if (src == SQLITE_ROW || src == SQLITE_DONE) {
        return OPC_OK;
    }
    return opc__db_err(db, src, NULL, eb);
}

opc_err opc__db_run(opc__db *db, sqlite3_stmt *st, opc__ebuf *eb)
{
    bool row = false;
    opc_err rc = opc__db_step(db, st, &row, eb);
    opc__db_done(st);
    return rc;
}

/* Prepare a one-off statement and bind it (*st NULL on failure). */
static opc_err prepare_bound(opc__db *db, const char *sql, sqlite3_stmt **st, opc__ebuf *eb,
                             const char *fmt, va_list ap)
{
    opc_err rc = opc__db_prepare(db, sql, st, eb);
    if (rc == OPC_OK) {
        rc = opc__db_vbind(db, *st, eb, fmt, ap);
    }
    if (rc != OPC_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
    }
    return rc;
}

opc_err opc__db_run_sql(opc__db *db, int *changed, opc__ebuf *eb, const char *sql, const char *fmt,
                        ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    va_start(ap, fmt);
    opc_err rc = prepare_bound(db, sql, &st, eb, fmt, ap);
    va_end(ap);
    bool row = true;
    while (rc == OPC_OK && row) {
        rc = opc__db_step(db, st, &row, eb);
    }
    if (rc == OPC_OK && changed != NULL) {
        *changed = opc__db_changes(db);
    }
    sqlite3_finalize(st);
    return rc;
}

opc_err opc__db_query(opc__db *db, sqlite3_stmt **st, opc__ebuf *eb, const char *sql,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    opc_err rc = prepare_bound(db, sql, st, eb, fmt, ap);
    va_end(ap);
    return rc;
}

/* prepare_bound, then one step: *row whether it gave a row. */
static opc_err first_row(opc__db *db, const char *sql, sqlite3_stmt **st, bool *row, opc__ebuf *eb,
                         const char *fmt, va_list ap)
{
    *row = false;
    opc_err rc = prepare_bound(db, sql, st, eb, fmt, ap);
    if (rc == OPC_OK) {
        rc = opc__db_step(db, *st, row, eb);
    }
    return rc;
}

opc_err opc__db_query_row(opc__db *db, sqlite3_stmt **st, bool *row, opc__ebuf *eb, const char *sql,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    opc_err rc = first_row(db, sql, st, row, eb, fmt, ap);
    va_end(ap);
    return rc;
}

opc_err opc__db_query_int(opc__db *db, bool *found, int64_t *out, opc__ebuf *eb, const char *sql,
                          const char *fmt, ...)
{
    *found = false;
    sqlite3_stmt *st = NULL;
    bool row = false;
    va_list ap;
    va_start(ap, fmt);
    opc_err rc = first_row(db, sql, &st, &row, eb, fmt, ap);
    va_end(ap);
    if (rc == OPC_OK && row) {
        *found = true;
        *out = (int64_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return rc;
}

int opc__db_changes(opc__db *db)
{
    return sqlite3_changes(db->conn);
}

/* ---- transactions ---- */

static bool busy(int src)
{
    return (src & 0xff) == SQLITE_BUSY;
}

/* The pauses between OPC_DB_BUSY_TRIES attempts, all together. */
#define BACKOFF_TOTAL_MS (OPC_DB_BUSY_BACKOFF_MS * ((1 << (OPC_DB_BUSY_TRIES - 1)) - 1))

/*
 * Attempt `attempt` (from 0), begun with the first at start_ms, met
 * SQLITE_BUSY: pause and return true when another attempt fits, that is
 * attempts are left and, when the busy timeout is longer than all the
 * pauses together, less than the busy timeout has passed. A BUSY that came
 * after the busy handler's whole wait is final: a file locked for good
 * still fails after the busy timeout.
 */
static bool retry_after_busy(const opc__db *db, int64_t start_ms, int attempt)
{
    /* The clock only matters when the busy handler waits longer than the
     * pauses: otherwise the attempts bound the wait, and a loaded machine
     * stretching a pause must not cost an attempt. */
    bool handler_waited = db->busy_ms > BACKOFF_TOTAL_MS &&
                          opc__monotonic_ms() - start_ms >= db->busy_ms;
    if (attempt + 1 >= OPC_DB_BUSY_TRIES || handler_waited) {
        return false;
    }
    long ms = (long)OPC_DB_BUSY_BACKOFF_MS << attempt;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return true;
}

opc_err opc__db_begin(opc__db *db, bool write, opc__ebuf *eb)
{
    if (db->in_tx) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "%s: transaction already open", db->label);
    }
    int64_t start = opc__monotonic_ms();
    int src = SQLITE_OK;
    for (int attempt = 0;; attempt++) {
        src = sqlite3_exec(db->conn, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL);
        if (!busy(src) || !retry_after_busy(db, start, attempt)) {
            break;
        }
    }
    if (src != SQLITE_OK) {
        return opc__db_err(db, src, NULL, eb);
    }
    db->in_tx = true;
    return OPC_OK;
}

opc_err opc__db_commit(opc__db *db, opc__ebuf *eb)
{
    if (!db->in_tx) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "%s: no transaction open", db->label);
    }
    opc_err rc = opc__db_exec(db, "COMMIT", eb);
    if (rc != OPC_OK) {
        opc__db_rollback(db);
        return rc;
    }
    db->in_tx = false;
    if (db->path != NULL) {
        opc__file_tighten_sidecars(db->path);
    }
    return OPC_OK;
}

void opc__db_rollback(opc__db *db)
{
    if (!sqlite3_get_autocommit(db->conn)) {
        /* A failed ROLLBACK leaves nothing better to do: SQLite rolls back
         * on close anyway. */
        (void)sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
    }
    db->in_tx = false;
}

opc_err opc__db_end(opc__db *db, opc_err rc, opc__ebuf *eb)
{
    if (rc == OPC_OK) {
        return opc__db_commit(db, eb);
    }
    opc__db_rollback(db);
    return rc;
}

bool opc__db_in_tx(const opc__db *db)
{
    return db->in_tx;
}

opc_err opc__db_txn(opc__db *db, opc__db_txn_fn fn, void *ud, opc__ebuf *eb)
{
    int64_t start = opc__monotonic_ms();
    for (int attempt = 0;; attempt++) {
        db->last = SQLITE_OK;
        opc_err rc = opc__db_begin(db, true, eb); /* with its own attempts */
        if (rc != OPC_OK) {
            return rc;
        }
        rc = opc__db_end(db, fn(db, ud, eb), eb);
        if (rc == OPC_OK || !busy(db->last) || !retry_after_busy(db, start, attempt)) {
            return rc;
        }
    }
}
