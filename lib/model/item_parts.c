/*
 * model/item_parts.c - the overview/details split, item summaries and the
 * output form of a full item (item.h has the contracts).
 */
#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/json.h"
#include "model/item.h"
#include "model/totp.h"

static const char *const overview_keys[] = {"title", "category", "urls", "tags", "favorite", NULL};
static const char *const details_keys[] = {"sections", "fields", "files", "passwordHistory", NULL};
static const char *const file_keys[] = {"id", "name", "size", "content_path", "section", NULL};

/* A new object with copies of the listed members of src (those present). */
static opc_err copy_members(const cJSON *src, const char *const *keys, cJSON **out)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return OPC_ERR_NOMEM;
    }
    for (const char *const *k = keys; *k != NULL; k++) {
        const cJSON *m = opc__json_member(src, *k);
        if (m == NULL) {
            continue;
        }
        cJSON *d = cJSON_Duplicate(m, true);
        if (d == NULL || !cJSON_AddItemToObject(o, *k, d)) {
            opc__json_delete_secret(d);
            opc__json_delete_secret(o);
            return OPC_ERR_NOMEM;
        }
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__item_split(const cJSON *full, cJSON **overview, cJSON **details)
{
    if (overview != NULL) {
        *overview = NULL;
    }
    if (details != NULL) {
        *details = NULL;
    }
    if (full == NULL || overview == NULL || details == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (!cJSON_IsObject(full)) {
        return OPC_ERR_PARSE;
    }
    cJSON *o = NULL;
    cJSON *d = NULL;
    opc_err rc = copy_members(full, overview_keys, &o);
    if (rc == OPC_OK) {
        rc = copy_members(full, details_keys, &d);
    }
    if (rc != OPC_OK) {
        opc__json_delete_secret(o);
        return rc;
    }
    *overview = o;
    *details = d;
    return OPC_OK;
}

/* Append copies of every member of src to dst; a name already in dst fails. */
static opc_err append_all(cJSON *dst, const cJSON *src)
{
    for (const cJSON *m = src->child; m != NULL; m = m->next) {
        if (m->string == NULL || opc__json_member(dst, m->string) != NULL) {
            return OPC_ERR_PARSE;
        }
        cJSON *d = cJSON_Duplicate(m, true);
        if (d == NULL || !cJSON_AddItemToObject(dst, m->string, d)) {
            opc__json_delete_secret(d);
            return OPC_ERR_NOMEM;
        }
    }
    return OPC_OK;
}

opc_err opc__item_join(const cJSON *overview, const cJSON *details, cJSON **full)
{
    if (full != NULL) {
        *full = NULL;
    }
    if (overview == NULL || details == NULL || full == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (!cJSON_IsObject(overview) || !cJSON_IsObject(details)) {
        return OPC_ERR_PARSE;
    }
    cJSON *f = cJSON_CreateObject();
    if (f == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc_err rc = append_all(f, overview);
    if (rc == OPC_OK) {
        rc = append_all(f, details);
    }
    if (rc != OPC_OK) {
        opc__json_delete_secret(f);
        return rc;
    }
    *full = f;
    return OPC_OK;
}

opc_err opc__item_join_take(cJSON *overview, cJSON *details, cJSON **full)
{
    if (full != NULL) {
        *full = NULL;
    }
    if (overview == NULL || details == NULL || full == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (!cJSON_IsObject(overview) || !cJSON_IsObject(details)) {
        return OPC_ERR_PARSE;
    }
    for (const cJSON *m = details->child; m != NULL; m = m->next) {
        if (m->string == NULL || opc__json_member(overview, m->string) != NULL) {
            return OPC_ERR_PARSE;
        }
    }
    while (details->child != NULL) {
        cJSON *m = cJSON_DetachItemViaPointer(details, details->child);
        /* Appended as it is: the member keeps its name, nothing is copied. */
        if (!cJSON_AddItemToArray(overview, m)) {
            opc__json_delete_secret(m);
            return OPC_ERR_NOMEM;
        }
    }
    *full = overview;
    return OPC_OK;
}

opc_err opc__item_summary(const cJSON *overview, cJSON **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (overview == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (!cJSON_IsObject(overview)) {
        return OPC_ERR_PARSE;
    }
    return copy_members(overview, overview_keys, out);
}

static bool listed(const char *key, const char *const *keys)
{
    for (const char *const *k = keys; *k != NULL; k++) {
        if (strcmp(*k, key) == 0) {
            return true;
        }
    }
    return false;
}

static void strip_file(cJSON *file)
{
    cJSON *m = file->child;
    while (m != NULL) {
        cJSON *next = m->next;
        if (m->string == NULL || !listed(m->string, file_keys)) {
            opc__json_delete_secret(cJSON_DetachItemViaPointer(file, m));
        }
        m = next;
    }
}

/* Set "totp" on an OTP field whose value parses; drop a stale one. */
static opc_err add_totp(cJSON *field, int64_t now, int64_t *valid_until)
{
    opc__json_delete_secret(cJSON_DetachItemFromObjectCaseSensitive(field, "totp"));
    const cJSON *type = opc__json_member(field, "type");
    const cJSON *value = opc__json_member(field, "value");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "OTP") != 0 || !cJSON_IsString(value)) {
        return OPC_OK;
    }
    opc__totp t;
    char code[11];
    opc_err rc = opc__totp_parse(value->valuestring, &t, NULL);
    if (rc == OPC_OK) {
        rc = opc__totp_code(&t, now, code);
    }
    if (rc == OPC_OK && now >= 0) {
        int64_t next = (now / (int64_t)t.period + 1) * (int64_t)t.period;
        if (next < *valid_until) {
            *valid_until = next;
        }
    }
    opc__wipe(&t, sizeof t);
    if (rc != OPC_OK) {
        opc__wipe(code, sizeof code);
        return OPC_OK; /* not a usable OTP value: no code, no error */
    }
    rc = cJSON_AddStringToObject(field, "totp", code) == NULL ? OPC_ERR_NOMEM : OPC_OK;
    opc__wipe(code, sizeof code);
    return rc;
}

opc_err opc__item_present(cJSON *full, int64_t now, int64_t *valid_until, opc__ebuf *eb)
{
    int64_t until = INT64_MAX;
    if (valid_until != NULL) {
        *valid_until = now;
    }
    if (full == NULL || !cJSON_IsObject(full)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "item: not a JSON object");
    }
    opc__json_delete_secret(cJSON_DetachItemFromObjectCaseSensitive(full, "passwordHistory"));
    cJSON *files = cJSON_GetObjectItemCaseSensitive(full, "files");
    if (cJSON_IsArray(files)) {
        for (cJSON *f = files->child; f != NULL; f = f->next) {
            if (cJSON_IsObject(f)) {
                strip_file(f);
            }
        }
    }
    cJSON *fields = cJSON_GetObjectItemCaseSensitive(full, "fields");
    if (cJSON_IsArray(fields)) {
        for (cJSON *f = fields->child; f != NULL; f = f->next) {
            if (!cJSON_IsObject(f)) {
                continue;
            }
            opc_err rc = add_totp(f, now, &until);
            if (rc != OPC_OK) {
                return opc__fail(eb, rc, "item: out of memory");
            }
        }
    }
    if (valid_until != NULL) {
        *valid_until = until;
    }
    return OPC_OK;
}
