/*
 * account/rows_local.c - the local implementation of the owner's store
 * (rows.h) on the account file: each named statement's SQL, bound from its
 * checked JSON arguments. The checks are opc__rows_check_read/_step, the
 * ones the account server runs.
 */
#include "internal.h"

#include <string.h>

#include "account/rows.h"
#include "core/alloc.h"
#include "core/json.h"
#include "crypto/base64.h"

typedef struct local {
    opc__db *db;
} local;

/* Prepare s and bind its checked arguments (seqs: the batch's change seqs so far). */
static opc_err prepare(opc__db *db, const opc__rows_stmt *s, const cJSON *args, const int64_t *seqs,
                       sqlite3_stmt **out, opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__db_prepare(db, s->sql, &st, eb);
    if (rc == OPC_OK && (size_t)sqlite3_bind_parameter_count(st) != strlen(s->params)) {
        rc = opc__fail(eb, OPC_ERR_INTERNAL,
                       "rows: %s: the SQL's parameters differ from the "
                       "table's",
                       s->name);
    }
    int i = 1;
    for (const cJSON *v = args->child; rc == OPC_OK && v != NULL; v = v->next, i++) {
        int src = SQLITE_OK;
        int64_t k = 0;
        if (cJSON_IsNull(v)) {
            src = sqlite3_bind_null(st, i);
        } else if (s->params[i - 1] == 'b') {
            /* Checked base64url (opc__rpc_blob_valid): decoded, bound as a BLOB. */
            unsigned char *bytes = NULL;
            size_t len = 0;
            rc = opc__b64_decode(v->valuestring, strlen(v->valuestring), OPC_B64URL, &bytes, &len,
                                 eb);
            if (rc == OPC_OK) {
                src = sqlite3_bind_blob64(st, i, bytes, len, SQLITE_TRANSIENT);
            }
            opc__free(bytes);
        } else if (cJSON_IsString(v)) {
            src = sqlite3_bind_text(st, i, v->valuestring, -1, SQLITE_STATIC);
        } else if (opc__rpc_arg_seq(v, &k)) {
            src = sqlite3_bind_int64(st, i, seqs[k]);
        } else {
            int64_t n = 0;
            (void)opc__json_is_int(v, &n);
            src = sqlite3_bind_int64(st, i, n);
        }
        if (src != SQLITE_OK) {
            rc = opc__db_err(db, src, NULL, eb);
        }
    }
    if (rc != OPC_OK) {
        sqlite3_finalize(st);
        st = NULL;
    }
    *out = st;
    return rc;
}

/* Column c of the current row as a cell of type t. */
static opc_err cell(const opc__rows_stmt *s, sqlite3_stmt *st, int c, cJSON **out, opc__ebuf *eb)
{
    char t = s->columns[c];
    int type = sqlite3_column_type(st, c);
    if (type == SQLITE_NULL && (t == 'T' || t == 'I')) {
        *out = cJSON_CreateNull();
    } else if (type == SQLITE_TEXT && (t == 't' || t == 'T')) {
        *out = cJSON_CreateString((const char *)sqlite3_column_text(st, c));
    } else if (type == SQLITE_INTEGER && (t == 'i' || t == 'I')) {
        *out = cJSON_CreateNumber((double)sqlite3_column_int64(st, c));
    } else if (type == SQLITE_BLOB && t == 'b') {
        size_t len = (size_t)sqlite3_column_bytes(st, c);
        if (len > OPC__RPC_MAX_BLOB) {
            return opc__fail(eb, OPC_ERR_TOO_LARGE, "rows: %s: column %d is too large", s->name, c);
        }
        *out = opc__rpc_blob_new(sqlite3_column_blob(st, c), len);
    } else {
        return opc__fail(eb, OPC_ERR_INTERNAL, "rows: %s: column %d has the wrong type", s->name,
                         c);
    }
    return *out == NULL ? OPC_ERR_NOMEM : OPC_OK;
}

/* Step st to its end; rows (NULL: only count) gets each row; *count the rows. */
static opc_err collect(opc__db *db, const opc__rows_stmt *s, sqlite3_stmt *st, cJSON *rows,
                       int64_t *count, opc__ebuf *eb)
{
    int ncol = (int)strlen(s->columns);
    opc_err rc = sqlite3_column_count(st) == ncol
                     ? OPC_OK
                     : opc__fail(eb, OPC_ERR_INTERNAL,
                                 "rows: %s: the SQL's columns differ from "
                                 "the table's",
                                 s->name);
    *count = 0;
    while (rc == OPC_OK) {
        bool more = false;
        rc = opc__db_step(db, st, &more, eb);
        if (rc != OPC_OK || !more) {
            break;
        }
        (*count)++;
        cJSON *row = rows == NULL ? NULL : cJSON_CreateArray();
        if (rows != NULL && (row == NULL || !cJSON_AddItemToArray(rows, row))) {
            cJSON_Delete(row);
            rc = OPC_ERR_NOMEM;
        }
        for (int c = 0; rc == OPC_OK && row != NULL && c < ncol; c++) {
            cJSON *v = NULL;
            rc = cell(s, st, c, &v, eb);
            if (rc == OPC_OK && !cJSON_AddItemToArray(row, v)) {
                cJSON_Delete(v);
                rc = OPC_ERR_NOMEM;
            }
        }
    }
    return rc;
}

static opc_err local_read(void *self, const char *name, const cJSON *args, cJSON **rows,
                          opc__ebuf *eb)
{
    local *l = self;
    *rows = NULL;
    const opc__rows_stmt *s = NULL;
    opc_err rc = opc__rows_check_read(name, args, &s, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    bool own = !opc__db_in_tx(l->db);
    if (own) {
        rc = opc__db_begin(l->db, false, eb);
    }
    sqlite3_stmt *st = NULL;
    cJSON *out = NULL;
    if (rc == OPC_OK) {
        rc = prepare(l->db, s, args, NULL, &st, eb);
    }
    if (rc == OPC_OK) {
        out = cJSON_CreateArray();
        rc = out == NULL ? OPC_ERR_NOMEM : OPC_OK;
    }
    int64_t count = 0;
    if (rc == OPC_OK) {
        rc = collect(l->db, s, st, out, &count, eb);
    }
    sqlite3_finalize(st);
    if (own) {
        rc = opc__db_end(l->db, rc, eb);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(out);
        return rc;
    }
    *rows = out;
    return OPC_OK;
}

typedef struct batch {
    const opc__rpc_step *steps;
    const opc__rows_stmt **stmts;
    size_t n;
    int64_t *seqs;
} batch;

/* Run every step; the caller's transaction (or savepoint) commits or rolls back. */
static opc_err run_steps(opc__db *db, void *ud, opc__ebuf *eb)
{
    batch *b = ud;
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        const opc__rows_stmt *s = b->stmts[i];
        sqlite3_stmt *st = NULL;
        opc_err rc = prepare(db, s, b->steps[i].args, b->seqs, &st, eb);
        int64_t count = 0;
        if (rc == OPC_OK) {
            rc = collect(db, s, st, NULL, &count, eb);
        }
        sqlite3_finalize(st);
        if (rc != OPC_OK) {
            return rc;
        }
        if (s->kind != OPC__ROWS_READ) {
            count = sqlite3_changes(opc__db_sqlite(db));
        }
        if (s->kind == OPC__ROWS_CHANGE && count == 1) {
            b->seqs[k++] = (int64_t)sqlite3_last_insert_rowid(opc__db_sqlite(db));
        }
        if (count != b->steps[i].expect) {
            return opc__rows_conflict(s, i, count, b->steps[i].expect, eb);
        }
    }
    return OPC_OK;
}

static opc_err in_savepoint(opc__db *db, batch *b, opc__ebuf *eb)
{
    opc_err rc = opc__db_exec(db, "SAVEPOINT opc_rows_batch", eb);
    if (rc != OPC_OK) {
        return rc;
    }
    rc = run_steps(db, b, eb);
    opc__ebuf ignored;
    if (rc != OPC_OK) {
        (void)opc__db_exec(db, "ROLLBACK TO opc_rows_batch", &ignored);
    }
    opc_err rel = opc__db_exec(db, "RELEASE opc_rows_batch", rc == OPC_OK ? eb : &ignored);
    return rc != OPC_OK ? rc : rel;
}

static opc_err local_batch(void *self, const opc__rpc_step *steps, size_t n, int64_t *seqs,
                           size_t n_seqs, opc__ebuf *eb)
{
    local *l = self;
    const opc__rows_stmt *stmts[OPC__RPC_MAX_STEPS];
    opc_err rc = opc__rows_check_batch(steps, n, n_seqs, stmts, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    int64_t scratch[OPC__RPC_MAX_CHANGES];
    batch b = {steps, stmts, n, scratch};
    rc = opc__db_in_tx(l->db) ? in_savepoint(l->db, &b, eb) : opc__db_txn(l->db, run_steps, &b, eb);
    if (rc == OPC_OK && n_seqs > 0) {
        memcpy(seqs, scratch, n_seqs * sizeof *seqs);
    }
    return rc;
}

static void local_close(void *self)
{
    opc__free(self);
}

static const opc__rows_backend local_vt = {local_read, local_batch, local_close};

opc_err opc__rows_local_open(opc__db *db, opc__rows **out, opc__ebuf *eb)
{
    *out = NULL;
    opc__rows *r = opc__calloc(1, sizeof *r);
    local *l = opc__calloc(1, sizeof *l);
    if (r == NULL || l == NULL) {
        opc__free(r);
        opc__free(l);
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    l->db = db;
    r->vt = &local_vt;
    r->self = l;
    *out = r;
    return OPC_OK;
}

void opc__rows_close(opc__rows *r)
{
    if (r != NULL) {
        r->vt->close(r->self);
        opc__free(r);
    }
}
