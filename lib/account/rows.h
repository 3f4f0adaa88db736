/*
 * account/rows.h - the owner's store protocol (docs/protocol.md, "The
 * owner's store protocol"): the table of named statements, the interface
 * between the owner's client code and the store, and the client's calls.
 *
 * The owner's code (keys, envelopes, signatures) never runs SQL: it runs a
 * named READ of the table, computes, and sends ONE write BATCH: a list of
 * (statement name, arguments, expected row count) that the store runs in
 * one write transaction. A statement whose row count differs from its
 * expectation rolls the whole batch back: OPC_ERR_CONFLICT naming the
 * statement. The store (the account file here, the account server later)
 * runs exactly the statements of this table, checking each argument against
 * the declared types, and nothing else; no SQL crosses the interface.
 *
 * Kinds of statement:
 *   READ    a SELECT, run by opc__rows_read; rows come back typed. Inside
 *           a batch a read is a GUARD: the number of rows it matches is
 *           compared with the expectation (a precondition on rows the
 *           batch does not write, e.g. "no active token has this name").
 *   WRITE   an INSERT / UPDATE / DELETE inside a batch: sqlite3_changes()
 *           is compared with the expectation (UPDATE ... WHERE seq = ?
 *           must change exactly 1 row: the optimistic version check).
 *   CHANGE  appends to the change feed (expectation 1); the store gives it
 *           its seq, which later arguments of the same batch name with the
 *           seq placeholder (type 'q': "the seq of the batch's k-th
 *           change"), because rows carry the seq of their last change.
 *
 * Types, one character per parameter or result column:
 *   't' text   'T' text or null   'i' integer   'I' integer or null
 *   'b' bytes (a file chunk), at most OPC__RPC_MAX_BLOB: base64url text in
 *       the JSON (wire/rows_rpc.h), a BLOB in the store
 *   'q' (parameters only) a seq placeholder {"seq": k}, k < the number of
 *       changes before this statement in the batch; the ONLY way to give a
 *       seq (a client cannot invent one).
 * Arguments and rows are JSON (wire/rows_rpc.h): a row is an array of cells
 * in the declared column order.
 */
#ifndef OPC_ACCOUNT_ROWS_H
#define OPC_ACCOUNT_ROWS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/sqlite.h"
#include "internal.h"
#include "wire/rows_rpc.h"

typedef enum opc__rows_kind {
    OPC__ROWS_READ,
    OPC__ROWS_WRITE,
    OPC__ROWS_CHANGE,
} opc__rows_kind;

typedef struct opc__rows_stmt {
    const char *name; /* "<module>.<verb>" */
    opc__rows_kind kind;
    const char *params;  /* one type per '?' of sql, in order */
    const char *columns; /* READ: the result columns' types; "" otherwise */
    const char *sql;     /* the local implementation (the account file's SQLite) */
} opc__rows_stmt;

/* ---- the table (rows.c) ---- */

/* All statements (for the documentation's test), *n of them. */
const opc__rows_stmt *opc__rows_table(size_t *n);
/* The statement called name, NULL when there is none. */
const opc__rows_stmt *opc__rows_find(const char *name);
/*
 * What the store does with a request before running it (the local
 * implementation now, the server later): the statement exists, has a kind
 * allowed here (a read in a read; anything in a batch) and
 * args match its parameters exactly (count and types; a placeholder's k is
 * below n_changes, the changes before it in its batch). A batch's change
 * must expect 1 and have one of feed.h's kinds. OPC_ERR_INVALID_ARG naming
 * the statement and the argument.
 */
opc_err opc__rows_check_read(const char *name, const cJSON *args, const opc__rows_stmt **out,
                             opc__ebuf *eb);
opc_err opc__rows_check_step(const opc__rpc_step *step, size_t n_changes,
                             const opc__rows_stmt **out, opc__ebuf *eb);
/*
 * A whole batch (steps[0..n), 1 to OPC__RPC_MAX_STEPS): every step as
 * opc__rows_check_step (stmts[i] gets each one's statement), the limits of
 * steps with and without bytes and of changes (wire/rows_rpc.h), and
 * exactly n_seqs changes. OPC_ERR_INVALID_ARG.
 */
opc_err opc__rows_check_batch(const opc__rpc_step *steps, size_t n, size_t n_seqs,
                              const opc__rows_stmt **stmts, opc__ebuf *eb);
/* The statements only the store runs on its own (the SRP row, create's
 * rows): name's entry when it is one, else NULL. A request naming one is
 * refused. */
const char *opc__rows_store_own(const char *name);
/* The failed expectation of a batch's step i (statement s): OPC_ERR_CONFLICT
 * with the one message every store gives it. */
opc_err opc__rows_conflict(const opc__rows_stmt *s, size_t i, int64_t count, int64_t expect,
                           opc__ebuf *eb);
/* Check rows (a read's answer) against the statement's columns: OPC_ERR_PARSE. */
opc_err opc__rows_check_result(const opc__rows_stmt *s, const cJSON *rows, opc__ebuf *eb);

/* ---- the interface between client and store ---- */

typedef struct opc__rows_backend {
    /* Run a read in a read snapshot; *rows a new JSON array of arrays. */
    opc_err (*read)(void *self, const char *name, const cJSON *args, cJSON **rows, opc__ebuf *eb);
    /* Run a batch in one write transaction; seqs (n_seqs: its changes, may be
     * NULL when 0) gets the seq of each change. */
    opc_err (*batch)(void *self, const opc__rpc_step *steps, size_t n, int64_t *seqs, size_t n_seqs,
                     opc__ebuf *eb);
    void (*close)(void *self);
} opc__rows_backend;

typedef struct opc__rows {
    const opc__rows_backend *vt;
    void *self;
} opc__rows;

/*
 * The local implementation on an open account file (borrowed: close the
 * rows before the db). While the db holds a transaction of its caller (the
 * store's own code: create's schema, server_write.c's checks, the snapshot
 * of opc__acct_show), a read runs inside it and a batch runs as a
 * SAVEPOINT inside it; otherwise each read is its own
 * BEGIN ... COMMIT and each batch its own BEGIN IMMEDIATE ... COMMIT.
 */
opc_err opc__rows_local_open(opc__db *db, opc__rows **out, opc__ebuf *eb);
void opc__rows_close(opc__rows *r);

/* ---- the client's calls (rows_call.c) ---- */

/*
 * Build arguments by a format string: 't' text (const char *; NULL gives
 * null), 'i' integer (int64_t), 'n' null (no argument), 'q' seq placeholder
 * (int: the batch's k-th change), 'b' bytes (const void *, size_t).
 */
opc_err opc__rows_vargs(cJSON **out, const char *fmt, va_list ap);
/* Read: *rows a new JSON array of arrays (cJSON_Delete), checked against
 * the statement's columns. */
opc_err opc__rows_read(opc__rows *r, const char *name, cJSON **rows, opc__ebuf *eb, const char *fmt,
                       ...);

/* Cells of a checked row: text ("" for null), integer (0 for null), null. */
const char *opc__rows_str(const cJSON *row, int col);
int64_t opc__rows_int(const cJSON *row, int col);
bool opc__rows_null(const cJSON *row, int col);
/* A bytes cell ('b') decoded into out[cap]; *len its length (OPC_ERR_PARSE,
 * OPC_ERR_RANGE). */
opc_err opc__rows_blob(const cJSON *row, int col, void *out, size_t cap, size_t *len,
                       opc__ebuf *eb);

/* A write batch under construction. */
typedef struct opc__rows_batch {
    cJSON *args;          /* owns each step's argument array */
    opc__rpc_step *steps; /* steps[i].args points into args */
    size_t n;
    size_t cap;
    size_t n_changes;
    int64_t *seqs;      /* after a run: the seq of each change */
    opc_err rc;         /* the first failure while building (sticky) */
    const char *failed; /* the statement it failed on */
} opc__rows_batch;

void opc__rows_batch_init(opc__rows_batch *b);
void opc__rows_batch_free(opc__rows_batch *b);
/* Append (name, args by fmt, expect). A failure is kept in b->rc and
 * returned by opc__rows_batch_run. */
void opc__rows_batch_add(opc__rows_batch *b, const char *name, int64_t expect, const char *fmt,
                         ...);
/* Run the batch (b->seqs filled). Nothing to run is OPC_OK. */
opc_err opc__rows_batch_run(opc__rows *r, opc__rows_batch *b, opc__ebuf *eb);

#endif
