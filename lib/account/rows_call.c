/*
 * account/rows_call.c - the client's side of the owner's store (rows.h):
 * arguments by format string, reads checked against the table's columns,
 * write batches built step by step and sent in one call.
 */
#include "internal.h"

#include <string.h>

#include "account/rows.h"
#include "core/alloc.h"
#include "core/json.h"

opc_err opc__rows_vargs(cJSON **out, const char *fmt, va_list ap)
{
    *out = NULL;
    cJSON *args = cJSON_CreateArray();
    if (args == NULL) {
        return OPC_ERR_NOMEM;
    }
    for (const char *f = fmt; *f != '\0'; f++) {
        cJSON *v = NULL;
        if (*f == 't') {
            const char *s = va_arg(ap, const char *);
            v = s == NULL ? cJSON_CreateNull() : cJSON_CreateString(s);
        } else if (*f == 'i') {
            v = cJSON_CreateNumber((double)va_arg(ap, int64_t));
        } else if (*f == 'n') {
            v = cJSON_CreateNull();
        } else if (*f == 'q') {
            v = opc__rpc_seq_new(va_arg(ap, int));
        } else if (*f == 'b') {
            const void *p = va_arg(ap, const void *);
            size_t len = va_arg(ap, size_t);
            if (len > OPC__RPC_MAX_BLOB) {
                cJSON_Delete(args);
                return OPC_ERR_TOO_LARGE;
            }
            v = opc__rpc_blob_new(p, len);
        } else {
            cJSON_Delete(args);
            return OPC_ERR_INVALID_ARG;
        }
        if (v == NULL || !cJSON_AddItemToArray(args, v)) {
            cJSON_Delete(v);
            cJSON_Delete(args);
            return OPC_ERR_NOMEM;
        }
    }
    *out = args;
    return OPC_OK;
}

opc_err opc__rows_read(opc__rows *r, const char *name, cJSON **rows, opc__ebuf *eb, const char *fmt,
                       ...)
{
    *rows = NULL;
    const opc__rows_stmt *s = opc__rows_find(name);
    if (s == NULL) {
        return opc__fail(eb, OPC_ERR_INTERNAL, "rows: unknown statement \"%s\"", name);
    }
    cJSON *args = NULL;
    va_list ap;
    va_start(ap, fmt);
    opc_err rc = opc__rows_vargs(&args, fmt, ap);
    va_end(ap);
    cJSON *out = NULL;
    if (rc == OPC_OK) {
        rc = r->vt->read(r->self, name, args, &out, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__rows_check_result(s, out, eb);
    }
    cJSON_Delete(args);
    if (rc != OPC_OK) {
        cJSON_Delete(out);
        return rc;
    }
    *rows = out;
    return OPC_OK;
}

static const cJSON *cell(const cJSON *row, int col)
{
    return cJSON_GetArrayItem(row, col);
}

const char *opc__rows_str(const cJSON *row, int col)
{
    const cJSON *v = cell(row, col);
    return cJSON_IsString(v) && v->valuestring != NULL ? v->valuestring : "";
}

int64_t opc__rows_int(const cJSON *row, int col)
{
    int64_t n = 0;
    return opc__json_is_int(cell(row, col), &n) ? n : 0;
}

bool opc__rows_null(const cJSON *row, int col)
{
    return cJSON_IsNull(cell(row, col));
}

opc_err opc__rows_blob(const cJSON *row, int col, void *out, size_t cap, size_t *len, opc__ebuf *eb)
{
    return opc__rpc_blob_get(cell(row, col), out, cap, len, eb);
}

void opc__rows_batch_init(opc__rows_batch *b)
{
    memset(b, 0, sizeof *b);
}

void opc__rows_batch_free(opc__rows_batch *b)
{
    cJSON_Delete(b->args);
    opc__free(b->steps);
    opc__free(b->seqs);
    memset(b, 0, sizeof *b);
}

void opc__rows_batch_add(opc__rows_batch *b, const char *name, int64_t expect, const char *fmt, ...)
{
    if (b->rc != OPC_OK) {
        return;
    }
    b->failed = name;
    const opc__rows_stmt *s = opc__rows_find(name);
    if (s == NULL || b->n >= OPC__RPC_MAX_STEPS) {
        b->rc = OPC_ERR_INVALID_ARG;
        return;
    }
    if (b->args == NULL && (b->args = cJSON_CreateArray()) == NULL) {
        b->rc = OPC_ERR_NOMEM;
        return;
    }
    opc__rpc_step *steps = opc__grow(b->steps, &b->cap, b->n, sizeof *steps, 8);
    if (steps == NULL) {
        b->rc = OPC_ERR_NOMEM;
        return;
    }
    b->steps = steps;
    cJSON *args = NULL;
    va_list ap;
    va_start(ap, fmt);
    b->rc = opc__rows_vargs(&args, fmt, ap);
    va_end(ap);
    if (b->rc == OPC_OK && !cJSON_AddItemToArray(b->args, args)) {
        cJSON_Delete(args);
        b->rc = OPC_ERR_NOMEM;
    }
    if (b->rc == OPC_OK) {
        b->steps[b->n++] = (opc__rpc_step){name, args, expect};
        b->n_changes += s->kind == OPC__ROWS_CHANGE;
        b->failed = NULL;
    }
}

opc_err opc__rows_batch_run(opc__rows *r, opc__rows_batch *b, opc__ebuf *eb)
{
    if (b->rc != OPC_OK) {
        return opc__fail(eb, b->rc, "rows: the batch could not be built (at %s: %s)",
                         b->failed != NULL ? b->failed : "?", opc_strerror(b->rc));
    }
    if (b->n == 0) {
        return OPC_OK;
    }
    opc__free(b->seqs);
    b->seqs = NULL;
    if (b->n_changes > 0 && (b->seqs = opc__calloc(b->n_changes, sizeof *b->seqs)) == NULL) {
        return OPC_ERR_NOMEM;
    }
    return r->vt->batch(r->self, b->steps, b->n, b->seqs, b->n_changes, eb);
}
