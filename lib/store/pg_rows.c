/*
 * store/pg_rows.c - the owner's store protocol (account/rows.h) on
 * PostgreSQL (pg_rows.h): each named statement's PostgreSQL text
 * (store/pg_sql.h) bound from its checked JSON arguments, with the account
 * as $1, and its rows or changed-row count read back as the SQLite store's
 * implementation (account/rows_local.c) gives them.
 *
 * Seqs: the feed counter is the account row's last_seq, read by the write
 * transaction under the row's lock (pg.c); each change of a batch takes
 * the next value, passed to change.append as its $2, and the batch's
 * placeholders resolve to them.
 */
#include "internal.h"

#include <string.h>

#include "account/rows.h"
#include "core/alloc.h"
#include "core/json.h"
#include "crypto/base64.h"
#include "store/pg_rows.h"

/* Bind account, then (the change's seq,) the checked arguments of s. */
static opc_err bind(const char *account, const opc__rows_stmt *s, const cJSON *args,
                    const int64_t *seqs, const int64_t *change_seq, opc__pg_args *pa,
                    opc__ebuf *eb)
{
    opc__pg_arg_text(pa, account);
    if (change_seq != NULL) {
        opc__pg_arg_int(pa, *change_seq);
    }
    size_t i = 0;
    for (const cJSON *v = args->child; v != NULL; v = v->next, i++) {
        int64_t k = 0;
        if (cJSON_IsNull(v)) {
            opc__pg_arg_text(pa, NULL);
        } else if (s->params[i] == 'b') {
            unsigned char *bytes = NULL;
            size_t len = 0;
            opc_err rc = opc__b64_decode(v->valuestring, strlen(v->valuestring), OPC_B64URL,
                                         &bytes, &len, eb);
            if (rc != OPC_OK) {
                return rc;
            }
            opc__pg_arg_bytes_owned(pa, bytes, len);
        } else if (cJSON_IsString(v)) {
            opc__pg_arg_text(pa, v->valuestring);
        } else if (opc__rpc_arg_seq(v, &k)) {
            opc__pg_arg_int(pa, seqs[k]);
        } else {
            int64_t n = 0;
            (void)opc__json_is_int(v, &n);
            opc__pg_arg_int(pa, n);
        }
    }
    return OPC_OK;
}

/* Cell (row, c) of r as a cell of s's column type. */
static opc_err cell(const opc__rows_stmt *s, const PGresult *r, int row, int c, cJSON **out,
                    opc__ebuf *eb)
{
    char t = s->columns[c];
    if (opc__pg_null(r, row, c)) {
        if (t != 'T' && t != 'I') {
            return opc__fail(eb, OPC_ERR_INTERNAL, "rows: %s: column %d is null", s->name, c);
        }
        *out = cJSON_CreateNull();
    } else if (t == 't' || t == 'T') {
        *out = cJSON_CreateString(opc__pg_text(r, row, c));
    } else if (t == 'i' || t == 'I') {
        *out = cJSON_CreateNumber((double)opc__pg_int(r, row, c));
    } else {
        unsigned char *bytes = NULL;
        size_t len = 0;
        opc_err rc = opc__pg_bytes(r, row, c, &bytes, &len);
        if (rc != OPC_OK) {
            return rc;
        }
        if (len > OPC__RPC_MAX_BLOB) {
            opc__free(bytes);
            return opc__fail(eb, OPC_ERR_TOO_LARGE, "rows: %s: column %d is too large", s->name,
                             c);
        }
        *out = opc__rpc_blob_new(bytes, len);
        opc__free(bytes);
    }
    return *out == NULL ? OPC_ERR_NOMEM : OPC_OK;
}

static opc_err collect(const opc__rows_stmt *s, const PGresult *r, cJSON **out, opc__ebuf *eb)
{
    int ncol = (int)strlen(s->columns);
    if (PQnfields(r) != ncol) {
        return opc__fail(eb, OPC_ERR_INTERNAL, "rows: %s: the SQL's columns differ from the table's",
                         s->name);
    }
    cJSON *rows = cJSON_CreateArray();
    opc_err rc = rows == NULL ? OPC_ERR_NOMEM : OPC_OK;
    for (int i = 0; rc == OPC_OK && i < PQntuples(r); i++) {
        cJSON *row = cJSON_CreateArray();
        if (row == NULL || !cJSON_AddItemToArray(rows, row)) {
            cJSON_Delete(row);
            rc = OPC_ERR_NOMEM;
        }
        for (int c = 0; rc == OPC_OK && c < ncol; c++) {
            cJSON *v = NULL;
            rc = cell(s, r, i, c, &v, eb);
            if (rc == OPC_OK && !cJSON_AddItemToArray(row, v)) {
                cJSON_Delete(v);
                rc = OPC_ERR_NOMEM;
            }
        }
    }
    if (rc != OPC_OK) {
        cJSON_Delete(rows);
        return rc;
    }
    *out = rows;
    return OPC_OK;
}

opc_err opc__pg_rows_read(opc__pg_conn *c, const char *account, const opc__rows_stmt *s,
                          const cJSON *args, cJSON **rows, opc__ebuf *eb)
{
    *rows = NULL;
    opc__pg_args pa;
    opc__pg_args_init(&pa);
    PGresult *r = NULL;
    opc_err rc = bind(account, s, args, NULL, NULL, &pa, eb);
    if (rc == OPC_OK) {
        rc = opc__pg_run(c, s->name, &pa, &r, eb);
    }
    if (rc == OPC_OK) {
        rc = collect(s, r, rows, eb);
    }
    PQclear(r);
    opc__pg_args_free(&pa);
    return rc;
}

opc_err opc__pg_rows_steps(opc__pg_conn *c, const char *account, const opc__rpc_step *steps,
                           const opc__rows_stmt *const *stmts, size_t n, int64_t *head,
                           int64_t *seqs, opc__ebuf *eb)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const opc__rows_stmt *s = stmts[i];
        int64_t next = *head + 1;
        bool change = s->kind == OPC__ROWS_CHANGE;
        opc__pg_args pa;
        opc__pg_args_init(&pa);
        PGresult *r = NULL;
        opc_err rc = bind(account, s, steps[i].args, seqs, change ? &next : NULL, &pa, eb);
        if (rc == OPC_OK) {
            rc = opc__pg_run(c, s->name, &pa, &r, eb);
        }
        opc__pg_args_free(&pa);
        if (rc == OPC_OK && s->kind == OPC__ROWS_READ && PQnfields(r) != (int)strlen(s->columns)) {
            rc = opc__fail(eb, OPC_ERR_INTERNAL,
                           "rows: %s: the SQL's columns differ from the table's", s->name);
        }
        int64_t count = 0;
        if (rc == OPC_OK) {
            count = s->kind == OPC__ROWS_READ ? (int64_t)PQntuples(r) : opc__pg_changed(r);
        }
        PQclear(r);
        if (rc != OPC_OK) {
            return rc;
        }
        if (change && count == 1) {
            seqs[k++] = next;
            *head = next;
        }
        if (count != steps[i].expect) {
            return opc__rows_conflict(s, i, count, steps[i].expect, eb);
        }
    }
    return OPC_OK;
}
