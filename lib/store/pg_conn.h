/*
 * store/pg_conn.h - the PostgreSQL store's connections (pg_conn.c): a pool
 * of libpq connections to one database, each statement of store/pg_sql.h
 * prepared once per connection, parameters passed typed, results read by
 * column, and PostgreSQL's errors turned into the store's codes.
 *
 * Connections: at most `size` open at once, opened when first needed
 * (so a server starts while its database is down, and answers 503 until it
 * is back). A caller takes one for one statement or one transaction and
 * gives it back; a connection that failed (the server went away, a
 * transaction in an unknown state) is closed instead of pooled, and the
 * next take opens a new one; so is an idle one the server closed meanwhile
 * (a database restart), found by the take. A take waits up to
 * OPC_PG_TAKE_MS for a free connection, then fails with OPC_ERR_IO.
 *
 * Errors (opc__pg_fail): a unique index is OPC_ERR_EXISTS; a data value
 * PostgreSQL refuses (text that is not UTF-8, a number out of range) is
 * OPC_ERR_INVALID_ARG; a lost connection, a server shutting down, lack of
 * resources, a serialization failure, deadlock or statement timeout are
 * OPC_ERR_IO (the storage's side: the account server answers 503);
 * anything else is OPC_ERR_INTERNAL (the statement and the schema
 * disagree). Messages name the statement, the SQLSTATE and the constraint,
 * never a value: PostgreSQL's own message text may quote one.
 *
 * Thread safety: the pool is; a taken connection belongs to its taker.
 */
#ifndef OPC_STORE_PG_CONN_H
#define OPC_STORE_PG_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/err.h"
#include "internal.h"

/* Longest wait for a free connection; connect timeout of a new one (s). */
#define OPC_PG_TAKE_MS 5000
#define OPC_PG_CONNECT_TIMEOUT_S 5
/* Most parameters of one statement. */
#define OPC_PG_MAX_PARAMS 24
/* Most connections of a pool. */
#define OPC_PG_MAX_POOL 64

typedef struct opc__pg_pool opc__pg_pool;
typedef struct opc__pg_conn opc__pg_conn;

/* A pool of at most size connections to conninfo (a libpq connection
 * string, copied). Nothing is opened yet. */
opc_err opc__pg_pool_new(const char *conninfo, int size, opc__pg_pool **out, opc__ebuf *eb);
/* Close every idle connection and free the pool (none may be taken). */
void opc__pg_pool_free(opc__pg_pool *p);
/* A connection of the pool, open; OPC_ERR_IO when none can be had. */
opc_err opc__pg_take(opc__pg_pool *p, opc__pg_conn **out, opc__ebuf *eb);
/* Give c back; broken (or c's own state: a failed connection, a
 * transaction left open) closes it instead. */
void opc__pg_give(opc__pg_pool *p, opc__pg_conn *c, bool broken);
/* Open a connection outside the pool (the listener; migrations). */
opc_err opc__pg_connect(const char *conninfo, PGconn **out, opc__ebuf *eb);
/* The pool's connection string. */
const char *opc__pg_conninfo(const opc__pg_pool *p);

/* Parameters of one statement, as PostgreSQL's text format (bytea binary). */
typedef struct opc__pg_args {
    int n;
    const char *v[OPC_PG_MAX_PARAMS];
    int len[OPC_PG_MAX_PARAMS];
    int fmt[OPC_PG_MAX_PARAMS];
    char num[OPC_PG_MAX_PARAMS][24];
    unsigned char *owned[OPC_PG_MAX_PARAMS]; /* decoded bytes (opc__pg_args_free) */
    bool overflow;                           /* more than OPC_PG_MAX_PARAMS */
} opc__pg_args;

void opc__pg_args_init(opc__pg_args *a);
void opc__pg_args_free(opc__pg_args *a);
/* Append text (NULL: null, borrowed), an integer, bytes (borrowed). */
void opc__pg_arg_text(opc__pg_args *a, const char *v);
void opc__pg_arg_int(opc__pg_args *a, int64_t v);
void opc__pg_arg_bytes(opc__pg_args *a, const void *v, size_t len);
/* Bytes the args own (freed by opc__pg_args_free). */
void opc__pg_arg_bytes_owned(opc__pg_args *a, unsigned char *v, size_t len);

/*
 * Run the statement called name (store/pg_sql.h) on c with args: *out the
 * result (PQclear) of a statement that returned rows or ran; a failure
 * clears it and returns the store's code (see above), marking c broken
 * when the connection went.
 */
opc_err opc__pg_run(opc__pg_conn *c, const char *name, const opc__pg_args *args, PGresult **out,
                    opc__ebuf *eb);
/* opc__pg_run on a connection taken from p for that one statement. */
opc_err opc__pg_run_pooled(opc__pg_pool *p, const char *name, const opc__pg_args *args,
                           PGresult **out, opc__ebuf *eb);
/* A plain command without parameters (BEGIN, COMMIT, ROLLBACK, LISTEN ...). */
opc_err opc__pg_command(opc__pg_conn *c, const char *sql, opc__ebuf *eb);
/* The connection's libpq handle (the listener's own loop). */
PGconn *opc__pg_handle(opc__pg_conn *c);

/* A failed result res of what (a statement name) on pg, as the store's code. */
opc_err opc__pg_fail(PGconn *pg, const PGresult *res, const char *what, opc__ebuf *eb);

/* Cells of a result: text (NULL for null), integer (0 for null), null. */
const char *opc__pg_text(const PGresult *r, int row, int col);
int64_t opc__pg_int(const PGresult *r, int row, int col);
bool opc__pg_null(const PGresult *r, int row, int col);
/* The rows a command changed (INSERT, UPDATE, DELETE). */
int64_t opc__pg_changed(const PGresult *r);
/* A bytea cell decoded (opc__free); *len its length. */
opc_err opc__pg_bytes(const PGresult *r, int row, int col, unsigned char **out, size_t *len);

#endif
