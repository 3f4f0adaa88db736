/*
 * wire/proto_msg.c - the account protocol's error body and page envelopes
 * (proto.h; docs/protocol.md, "Errors" and "Endpoints").
 */
#include "internal.h"

#include <string.h>

#include "core/json.h"
#include "wire/proto.h"

/* Largest integer of a message (2^53 - 1: exact in a JSON number). */
#define INT_MAX53 INT64_C(9007199254740991)
/* How much of an error answer's message the client keeps. */
#define ERR_MSG_MAX 160

/* ---- errors ---- */

/* The table of docs/protocol.md, "Errors": an opc_err, its status, code
 * and (400) detail. The first row of a code is the one its decoding gives. */
static const struct {
    opc_err rc;
    int status;
    const char *code;
    const char *detail;
} err_table[] = {
    {OPC_ERR_PARSE, 400, "bad_request", "parse"},
    {OPC_ERR_INVALID_ARG, 400, "bad_request", "invalid_arg"},
    {OPC_ERR_RANGE, 400, "bad_request", "range"},
    {OPC_ERR_TOKEN, 401, "unauthorized", NULL},
    {OPC_ERR_PERMISSION, 403, "forbidden", NULL},
    {OPC_ERR_NOT_FOUND, 404, "not_found", NULL},
    {OPC_ERR_CONFLICT, 409, "conflict", NULL},
    {OPC_ERR_EXISTS, 409, "exists", NULL},
    {OPC_ERR_TOO_LARGE, 413, "too_large", NULL},
    {OPC_ERR_IO, 503, "unavailable", NULL},
};

/* The client's opc_err of a status alone (docs/protocol.md): a 401 that
 * persists after a new session is a refusal (PERMISSION); 429 and 5xx are
 * the upstream being unavailable. */
static opc_err status_err(int status)
{
    switch (status) {
    case 400:
        return OPC_ERR_PARSE;
    case 401:
    case 403:
        return OPC_ERR_PERMISSION;
    case 404:
        return OPC_ERR_NOT_FOUND;
    case 409:
        return OPC_ERR_CONFLICT;
    case 413:
        return OPC_ERR_TOO_LARGE;
    default:
        return OPC_ERR_IO; /* 429, 5xx and anything the protocol does not define */
    }
}

int opc__proto_status(opc_err rc, const char **code, const char **detail)
{
    const char *c = NULL;
    const char *d = NULL;
    int status = 200;
    if (rc != OPC_OK) {
        status = 500;
        c = "internal";
        for (size_t i = 0; i < OPC_ARRAY_LEN(err_table); i++) {
            if (err_table[i].rc == rc) {
                status = err_table[i].status;
                c = err_table[i].code;
                d = err_table[i].detail;
                break;
            }
        }
    }
    if (code != NULL) {
        *code = c;
    }
    if (detail != NULL) {
        *detail = d;
    }
    return status;
}

opc_err opc__proto_error_encode(opc_err rc, const char *msg, cJSON **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (rc == OPC_OK) {
        return OPC_ERR_INVALID_ARG;
    }
    const char *code = NULL;
    const char *detail = NULL;
    (void)opc__proto_status(rc, &code, &detail);
    cJSON *o = cJSON_CreateObject();
    cJSON *e = o == NULL ? NULL : cJSON_AddObjectToObject(o, "error");
    if (e == NULL || cJSON_AddStringToObject(e, "code", code) == NULL ||
        cJSON_AddStringToObject(e, "message", msg != NULL ? msg : opc_strerror(rc)) == NULL ||
        (detail != NULL && cJSON_AddStringToObject(e, "detail", detail) == NULL)) {
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    *out = o;
    return OPC_OK;
}

/* The error object's code and detail mapped through the table, when they
 * name a row of this status; else 0. */
static opc_err code_err(int status, const char *code, const char *detail)
{
    for (size_t i = 0; i < OPC_ARRAY_LEN(err_table); i++) {
        if (err_table[i].status != status || strcmp(err_table[i].code, code) != 0) {
            continue;
        }
        if (err_table[i].detail == NULL || detail == NULL ||
            strcmp(err_table[i].detail, detail) == 0) {
            return err_table[i].rc == OPC_ERR_TOKEN ? status_err(status) : err_table[i].rc;
        }
    }
    if (status == 400 && strcmp(code, "bad_request") == 0) {
        return OPC_ERR_PARSE; /* an unknown detail */
    }
    return OPC_OK;
}

/* A printable copy of the server's message (untrusted text) for eb. */
static void copy_message(const char *s, char out[ERR_MSG_MAX + 4])
{
    size_t i = 0;
    for (; i < ERR_MSG_MAX && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = s[i];
        if (c < 0x20 || c == 0x7f) {
            out[i] = '?';
        }
    }
    if (s[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

opc_err opc__proto_error_decode(int status, const cJSON *body, opc__ebuf *eb)
{
    if (status < 400 || status > 599) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "upstream: HTTP %d is not an error answer",
                         status);
    }
    opc_err rc = OPC_OK;
    const char *message = NULL;
    const cJSON *e = opc__json_member(body, "error");
    const char *code = NULL;
    const char *detail = NULL;
    if (cJSON_IsObject(e) && opc__json_get_str(e, "code", true, "error", &code, NULL) == OPC_OK &&
        opc__json_get_str(e, "message", true, "error", &message, NULL) == OPC_OK &&
        opc__json_get_str(e, "detail", false, "error", &detail, NULL) == OPC_OK) {
        rc = code_err(status, code, detail);
    } else {
        message = NULL;
    }
    if (rc == OPC_OK) {
        rc = status_err(status);
    }
    if (message != NULL) {
        char shown[ERR_MSG_MAX + 4];
        copy_message(message, shown);
        return opc__fail(eb, rc, "upstream: %s (HTTP %d)", shown, status);
    }
    return opc__fail(eb, rc, "upstream answered HTTP %d", status);
}

/* ---- pages ---- */

/* Every element of arr is an object (a row or a feed entry). */
static bool all_objects(const cJSON *arr)
{
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsObject(it)) {
            return false;
        }
    }
    return true;
}

/* A new object {name: arr} (arr owned, deleted on failure). */
static opc_err wrap(const char *name, cJSON *arr, cJSON **out)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToObject(o, name, arr)) {
        cJSON_Delete(arr);
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    *out = o;
    return OPC_OK;
}

/* j's member name: an array of objects. */
static opc_err get_array(const cJSON *j, const char *name, const char *what, opc__ebuf *eb)
{
    const cJSON *a = opc__json_member(j, name);
    if (a == NULL) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: missing \"%s\"", what, name);
    }
    if (!cJSON_IsArray(a) || !all_objects(a)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" must be an array of objects", what, name);
    }
    return OPC_OK;
}

opc_err opc__proto_changes_encode(cJSON *changes, int64_t next, cJSON **out)
{
    if (out == NULL) {
        cJSON_Delete(changes);
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (!cJSON_IsArray(changes) || !all_objects(changes) || next < 0 || next > INT_MAX53) {
        cJSON_Delete(changes);
        return OPC_ERR_INVALID_ARG;
    }
    cJSON *o = NULL;
    opc_err rc = wrap("changes", changes, &o);
    if (rc != OPC_OK) {
        return rc;
    }
    if (cJSON_AddNumberToObject(o, "next", (double)next) == NULL) {
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__proto_changes_decode(cJSON *j, cJSON **changes, int64_t *next, opc__ebuf *eb)
{
    static const char what[] = "malformed changes";
    if (changes == NULL || next == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "%s: no output", what);
    }
    *changes = NULL;
    if (!cJSON_IsObject(j)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: not an object", what);
    }
    int64_t n = 0;
    opc_err rc = get_array(j, "changes", what, eb);
    if (rc == OPC_OK) {
        rc = opc__json_get_int(j, "next", true, what, 0, INT_MAX53, &n, eb);
        if (rc != OPC_OK) {
            return OPC_ERR_PARSE;
        }
    }
    if (rc != OPC_OK) {
        return rc;
    }
    *changes = cJSON_DetachItemFromObjectCaseSensitive(j, "changes");
    *next = n;
    return OPC_OK;
}

static bool page_member_ok(const char *member)
{
    return member != NULL && (strcmp(member, "items") == 0 || strcmp(member, "chunks") == 0);
}

opc_err opc__proto_page_encode(const char *member, cJSON *arr, cJSON **out)
{
    if (out == NULL) {
        cJSON_Delete(arr);
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (!page_member_ok(member) || !cJSON_IsArray(arr) || !all_objects(arr)) {
        cJSON_Delete(arr);
        return OPC_ERR_INVALID_ARG;
    }
    return wrap(member, arr, out);
}

opc_err opc__proto_page_decode(cJSON *j, const char *member, cJSON **arr, opc__ebuf *eb)
{
    static const char what[] = "malformed page";
    if (arr == NULL || !page_member_ok(member)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "%s: no output or an unknown member", what);
    }
    *arr = NULL;
    if (!cJSON_IsObject(j)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: not an object", what);
    }
    opc_err rc = get_array(j, member, what, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    *arr = cJSON_DetachItemFromObjectCaseSensitive(j, member);
    return OPC_OK;
}

opc_err opc__proto_write_result_encode(cJSON *item, cJSON *vault, cJSON **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (out == NULL || !cJSON_IsObject(item) || !cJSON_IsObject(vault)) {
        cJSON_Delete(item);
        cJSON_Delete(vault);
        return OPC_ERR_INVALID_ARG;
    }
    cJSON *o = NULL;
    opc_err rc = wrap("item", item, &o);
    if (rc != OPC_OK) {
        cJSON_Delete(vault);
        return rc;
    }
    if (!cJSON_AddItemToObject(o, "vault", vault)) {
        cJSON_Delete(vault);
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__proto_write_result_decode(cJSON *j, cJSON **item, cJSON **vault, opc__ebuf *eb)
{
    static const char what[] = "malformed write result";
    if (item == NULL || vault == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "%s: no output", what);
    }
    *item = NULL;
    *vault = NULL;
    if (!cJSON_IsObject(j)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: not an object", what);
    }
    static const char *const names[] = {"item", "vault"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(names); i++) {
        const cJSON *m = opc__json_member(j, names[i]);
        if (m == NULL) {
            return opc__fail(eb, OPC_ERR_PARSE, "%s: missing \"%s\"", what, names[i]);
        }
        if (!cJSON_IsObject(m)) {
            return opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" must be an object", what, names[i]);
        }
    }
    *item = cJSON_DetachItemFromObjectCaseSensitive(j, "item");
    *vault = cJSON_DetachItemFromObjectCaseSensitive(j, "vault");
    return OPC_OK;
}
