/*
 * store/pg_rows.h - the owner's store protocol (account/rows.h) on a
 * PostgreSQL connection (pg_rows.c), for one account. The caller checked
 * the request (opc__rows_check_read / opc__rows_check_batch) and owns the
 * transaction of a batch (pg.c).
 */
#ifndef OPC_STORE_PG_ROWS_H
#define OPC_STORE_PG_ROWS_H

#include <cjson/cJSON.h>

#include "account/rows.h"
#include "core/err.h"
#include "internal.h"
#include "store/pg_conn.h"
#include "wire/rows_rpc.h"

/* A checked read s with args on account: *rows a new JSON array of arrays. */
opc_err opc__pg_rows_read(opc__pg_conn *c, const char *account, const opc__rows_stmt *s,
                          const cJSON *args, cJSON **rows, opc__ebuf *eb);

/*
 * A checked batch's steps (stmts[i] the statement of steps[i]) inside the
 * caller's transaction on account. *head is the feed counter read under
 * the account row's lock; each change takes the next seq (seqs[k], *head
 * moves with it). A step whose row count differs from its expectation is
 * OPC_ERR_CONFLICT naming it: the caller rolls back.
 */
opc_err opc__pg_rows_steps(opc__pg_conn *c, const char *account, const opc__rpc_step *steps,
                           const opc__rows_stmt *const *stmts, size_t n, int64_t *head,
                           int64_t *seqs, opc__ebuf *eb);

#endif
