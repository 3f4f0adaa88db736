/*
 * wire/rows_rpc.c - the owner's store protocol's JSON (rows_rpc.h): one
 * check per piece (name, argument, cell), which the encoders and the
 * decoders both call.
 */
#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "crypto/base64.h"
#include "wire/rows_rpc.h"

/* Largest integer of a message (2^53 - 1: exact in a JSON number). */
#define INT_MAX53 INT64_C(9007199254740991)

static bool ident_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (!first && ((c >= '0' && c <= '9') || c == '_'));
}

bool opc__rpc_name_valid(const char *s)
{
    if (s == NULL) {
        return false;
    }
    size_t n = strlen(s);
    if (n == 0 || n > OPC__RPC_MAX_NAME) {
        return false;
    }
    int dots = 0;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (first) {
                return false; /* empty part */
            }
            dots++;
            first = true;
            continue;
        }
        if (!ident_char(s[i], first)) {
            return false;
        }
        first = false;
    }
    return dots == 1 && !first;
}

static bool int_valid(const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t n = 0;
    if (!opc__json_is_int(v, &n) || n < lo || n > hi) {
        return false;
    }
    if (out != NULL) {
        *out = n;
    }
    return true;
}

static bool text_valid(const cJSON *v)
{
    return cJSON_IsString(v) && v->valuestring != NULL &&
           opc__utf8_valid(v->valuestring, strlen(v->valuestring));
}

/* A result cell: string, integer or null. */
static bool cell_valid(const cJSON *v)
{
    return cJSON_IsNull(v) || text_valid(v) || int_valid(v, -INT_MAX53, INT_MAX53, NULL);
}

bool opc__rpc_arg_seq(const cJSON *v, int64_t *k)
{
    if (!cJSON_IsObject(v) || v->child == NULL || v->child->next != NULL ||
        v->child->string == NULL || strcmp(v->child->string, "seq") != 0) {
        return false;
    }
    return int_valid(v->child, 0, OPC__RPC_MAX_CHANGES - 1, k);
}

bool opc__rpc_arg_valid(const cJSON *v)
{
    return cell_valid(v) || opc__rpc_arg_seq(v, NULL);
}

cJSON *opc__rpc_seq_new(int64_t k)
{
    cJSON *o = cJSON_CreateObject();
    if (o != NULL && cJSON_AddNumberToObject(o, "seq", (double)k) == NULL) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool opc__rpc_blob_valid(const cJSON *v)
{
    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        return false;
    }
    size_t n = strlen(v->valuestring);
    if (n % 4 == 1 || n > opc__b64_encoded_len(OPC__RPC_MAX_BLOB, OPC_B64URL)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!b64url_char(v->valuestring[i])) {
            return false;
        }
    }
    /* The unused low bits of the last character must be zero (one text per value). */
    if (n % 4 == 0) {
        return true;
    }
    char c = v->valuestring[n - 1];
    unsigned val = c >= 'A' && c <= 'Z'   ? (unsigned)(c - 'A')
                   : c >= 'a' && c <= 'z' ? (unsigned)(c - 'a') + 26
                   : c >= '0' && c <= '9' ? (unsigned)(c - '0') + 52
                   : c == '-'             ? 62u
                                          : 63u;
    return (val & (n % 4 == 2 ? 0x0fu : 0x03u)) == 0;
}

cJSON *opc__rpc_blob_new(const void *data, size_t len)
{
    if (len > OPC__RPC_MAX_BLOB) {
        return NULL;
    }
    char *text = NULL;
    if (opc__b64_encode(len == 0 ? "" : data, len, OPC_B64URL, &text, NULL) != OPC_OK) {
        return NULL;
    }
    cJSON *v = cJSON_CreateString(text);
    opc__free(text);
    return v;
}

opc_err opc__rpc_blob_get(const cJSON *v, void *out, size_t cap, size_t *len, opc__ebuf *eb)
{
    *len = 0;
    if (!opc__rpc_blob_valid(v)) {
        return opc__fail(eb, OPC_ERR_PARSE, "a blob must be base64url text of at most %d bytes",
                         OPC__RPC_MAX_BLOB);
    }
    return opc__b64_decode_to(v->valuestring, strlen(v->valuestring), OPC_B64URL, out, cap, len,
                              eb);
}

/* args: an array of at most OPC__RPC_MAX_ARGS valid arguments. */
static opc_err check_args(const cJSON *args, opc_err code, const char *what, size_t step,
                          opc__ebuf *eb)
{
    if (!cJSON_IsArray(args)) {
        return opc__fail(eb, code, "%s: step %zu: \"args\" must be an array", what, step);
    }
    size_t i = 0;
    for (const cJSON *v = args->child; v != NULL; v = v->next, i++) {
        if (i >= OPC__RPC_MAX_ARGS) {
            return opc__fail(eb, code, "%s: step %zu: more than %d arguments", what, step,
                             OPC__RPC_MAX_ARGS);
        }
        if (!opc__rpc_arg_valid(v)) {
            return opc__fail(eb, code,
                             "%s: step %zu: argument %zu is not a string, integer, null "
                             "or seq placeholder",
                             what, step, i);
        }
    }
    return OPC_OK;
}

static opc_err check_step(const opc__rpc_step *s, opc_err code, const char *what, size_t i,
                          opc__ebuf *eb)
{
    if (!opc__rpc_name_valid(s->stmt)) {
        return opc__fail(eb, code, "%s: step %zu: \"stmt\" is not a statement name", what, i);
    }
    if (s->expect < 0 || s->expect > OPC__RPC_MAX_EXPECT) {
        return opc__fail(eb, code, "%s: step %zu: \"expect\" is out of range", what, i);
    }
    return check_args(s->args, code, what, i, eb);
}

/* Add a copy of src to o under key. */
static opc_err add_copy(cJSON *o, const char *key, const cJSON *src)
{
    cJSON *c = cJSON_Duplicate(src, true);
    if (c == NULL || !cJSON_AddItemToObject(o, key, c)) {
        cJSON_Delete(c);
        return OPC_ERR_NOMEM;
    }
    return OPC_OK;
}

opc_err opc__rpc_read_encode(const char *name, const cJSON *args, cJSON **out, opc__ebuf *eb)
{
    *out = NULL;
    opc__rpc_step s = {name, args, 0};
    opc_err rc = check_step(&s, OPC_ERR_INVALID_ARG, "read", 0, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddStringToObject(o, "read", name) == NULL ||
        add_copy(o, "args", args) != OPC_OK) {
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__rpc_batch_encode(const opc__rpc_step *steps, size_t n, cJSON **out, opc__ebuf *eb)
{
    *out = NULL;
    if (n == 0 || n > OPC__RPC_MAX_STEPS) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "batch: 1 to %d statements", OPC__RPC_MAX_STEPS);
    }
    for (size_t i = 0; i < n; i++) {
        opc_err rc = check_step(&steps[i], OPC_ERR_INVALID_ARG, "batch", i, eb);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o == NULL ? NULL : cJSON_AddArrayToObject(o, "batch");
    opc_err rc = arr == NULL ? OPC_ERR_NOMEM : OPC_OK;
    for (size_t i = 0; rc == OPC_OK && i < n; i++) {
        cJSON *s = cJSON_CreateObject();
        if (s == NULL || !cJSON_AddItemToArray(arr, s) ||
            cJSON_AddStringToObject(s, "stmt", steps[i].stmt) == NULL ||
            add_copy(s, "args", steps[i].args) != OPC_OK ||
            cJSON_AddNumberToObject(s, "expect", (double)steps[i].expect) == NULL) {
            rc = OPC_ERR_NOMEM;
        }
    }
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

void opc__rpc_request_free(opc__rpc_request *r)
{
    if (r != NULL) {
        opc__free(r->steps);
        memset(r, 0, sizeof *r);
    }
}

static opc_err decode_read(const cJSON *o, opc__rpc_request *out, opc__ebuf *eb)
{
    static const char *const members[] = {"read", "args", NULL};
    opc_err rc = opc__json_only_members(o, members, "malformed read", eb);
    if (rc != OPC_OK) {
        return rc;
    }
    const cJSON *name = opc__json_member(o, "read");
    opc__rpc_step s = {cJSON_IsString(name) ? name->valuestring : NULL, opc__json_member(o, "args"),
                       0};
    rc = check_step(&s, OPC_ERR_PARSE, "malformed read", 0, eb);
    if (rc == OPC_OK) {
        out->read = s.stmt;
        out->args = s.args;
    }
    return rc;
}

static opc_err decode_batch(const cJSON *o, opc__rpc_request *out, opc__ebuf *eb)
{
    static const char *const members[] = {"batch", NULL};
    static const char *const step_members[] = {"stmt", "args", "expect", NULL};
    opc_err rc = opc__json_only_members(o, members, "malformed batch", eb);
    if (rc != OPC_OK) {
        return rc;
    }
    const cJSON *arr = opc__json_member(o, "batch");
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (n < 1 || n > OPC__RPC_MAX_STEPS) {
        return opc__fail(eb, OPC_ERR_PARSE,
                         "malformed batch: \"batch\" must be an array of 1 to %d "
                         "statements",
                         OPC__RPC_MAX_STEPS);
    }
    out->steps = opc__calloc((size_t)n, sizeof *out->steps);
    if (out->steps == NULL) {
        return OPC_ERR_NOMEM;
    }
    size_t i = 0;
    for (const cJSON *s = arr->child; s != NULL; s = s->next, i++) {
        rc = opc__json_only_members(s, step_members, "malformed batch step", eb);
        if (rc != OPC_OK) {
            return rc;
        }
        const cJSON *name = opc__json_member(s, "stmt");
        opc__rpc_step *st = &out->steps[i];
        st->stmt = cJSON_IsString(name) ? name->valuestring : NULL;
        st->args = opc__json_member(s, "args");
        if (!int_valid(opc__json_member(s, "expect"), 0, OPC__RPC_MAX_EXPECT, &st->expect)) {
            return opc__fail(eb, OPC_ERR_PARSE,
                             "malformed batch: step %zu: \"expect\" must be an "
                             "integer from 0 to %d",
                             i, OPC__RPC_MAX_EXPECT);
        }
        rc = check_step(st, OPC_ERR_PARSE, "malformed batch", i, eb);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    out->n_steps = i;
    return OPC_OK;
}

opc_err opc__rpc_request_decode(const cJSON *o, opc__rpc_request *out, opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(o)) {
        return opc__fail(eb, OPC_ERR_PARSE, "malformed request: not an object");
    }
    opc_err rc = OPC_OK;
    if (opc__json_member(o, "read") != NULL) {
        rc = decode_read(o, out, eb);
    } else if (opc__json_member(o, "batch") != NULL) {
        rc = decode_batch(o, out, eb);
    } else {
        rc = opc__fail(eb, OPC_ERR_PARSE, "malformed request: neither \"read\" nor \"batch\"");
    }
    if (rc != OPC_OK) {
        opc__rpc_request_free(out);
    }
    return rc;
}

static opc_err check_rows(const cJSON *rows, opc_err code, const char *what, opc__ebuf *eb)
{
    if (!cJSON_IsArray(rows)) {
        return opc__fail(eb, code, "%s: \"rows\" must be an array", what);
    }
    size_t r = 0;
    for (const cJSON *row = rows->child; row != NULL; row = row->next, r++) {
        if (!cJSON_IsArray(row)) {
            return opc__fail(eb, code, "%s: row %zu is not an array", what, r);
        }
        size_t c = 0;
        for (const cJSON *v = row->child; v != NULL; v = v->next, c++) {
            if (!cell_valid(v)) {
                return opc__fail(eb, code,
                                 "%s: row %zu, column %zu is not a string, integer or "
                                 "null",
                                 what, r, c);
            }
        }
    }
    return OPC_OK;
}

opc_err opc__rpc_rows_encode(const cJSON *rows, cJSON **out, opc__ebuf *eb)
{
    *out = NULL;
    opc_err rc = check_rows(rows, OPC_ERR_INVALID_ARG, "rows", eb);
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || add_copy(o, "rows", rows) != OPC_OK) {
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__rpc_rows_decode(const cJSON *o, const cJSON **rows, opc__ebuf *eb)
{
    *rows = NULL;
    if (!cJSON_IsObject(o)) {
        return opc__fail(eb, OPC_ERR_PARSE, "malformed rows: not an object");
    }
    const cJSON *r = opc__json_member(o, "rows");
    opc_err rc = check_rows(r, OPC_ERR_PARSE, "malformed rows", eb);
    if (rc == OPC_OK) {
        *rows = r;
    }
    return rc;
}

opc_err opc__rpc_seqs_encode(const int64_t *seqs, size_t n, cJSON **out, opc__ebuf *eb)
{
    *out = NULL;
    if (n > OPC__RPC_MAX_CHANGES) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "seqs: more than %d", OPC__RPC_MAX_CHANGES);
    }
    for (size_t i = 0; i < n; i++) {
        if (seqs[i] < 1 || seqs[i] > INT_MAX53) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "seqs: seq %zu is out of range", i);
        }
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o == NULL ? NULL : cJSON_AddArrayToObject(o, "seqs");
    opc_err rc = arr == NULL ? OPC_ERR_NOMEM : OPC_OK;
    for (size_t i = 0; rc == OPC_OK && i < n; i++) {
        cJSON *v = cJSON_CreateNumber((double)seqs[i]);
        if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
            cJSON_Delete(v);
            rc = OPC_ERR_NOMEM;
        }
    }
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__rpc_seqs_decode(const cJSON *o, int64_t **seqs, size_t *n, opc__ebuf *eb)
{
    *seqs = NULL;
    *n = 0;
    const cJSON *arr = cJSON_IsObject(o) ? opc__json_member(o, "seqs") : NULL;
    int count = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (count < 0 || count > OPC__RPC_MAX_CHANGES) {
        return opc__fail(eb, OPC_ERR_PARSE,
                         "malformed seqs: \"seqs\" must be an array of at most "
                         "%d",
                         OPC__RPC_MAX_CHANGES);
    }
    if (count == 0 || arr == NULL) {
        return OPC_OK;
    }
    int64_t *s = opc__calloc((size_t)count, sizeof *s);
    if (s == NULL) {
        return OPC_ERR_NOMEM;
    }
    size_t i = 0;
    for (const cJSON *v = arr->child; v != NULL; v = v->next, i++) {
        if (!int_valid(v, 1, INT_MAX53, &s[i])) {
            opc__free(s);
            return opc__fail(eb, OPC_ERR_PARSE,
                             "malformed seqs: seq %zu is not an integer from 1 "
                             "to 2^53 - 1",
                             i);
        }
    }
    *seqs = s;
    *n = i;
    return OPC_OK;
}
