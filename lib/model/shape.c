/*
 * model/shape.c - the Connect vault object and the server-side members of a
 * Connect item (shape.h).
 */
#include "model/shape.h"

#include <stdio.h>

#include "core/time.h"

/* Replace (or add, after the others) obj[key] = val; val is consumed. */
static opc_err set_member(cJSON *obj, const char *key, cJSON *val)
{
    if (val == NULL) {
        return OPC_ERR_NOMEM;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    if (!cJSON_AddItemToObject(obj, key, val)) {
        cJSON_Delete(val);
        return OPC_ERR_NOMEM;
    }
    return OPC_OK;
}

static opc_err set_time(cJSON *obj, const char *key, int64_t unix_s)
{
    char t[OPC_TIME_STRLEN];
    opc_err rc = opc__time_format(unix_s, t);
    return rc == OPC_OK ? set_member(obj, key, cJSON_CreateString(t)) : rc;
}

opc_err opc__vault_json(const opc__vault_info *v, cJSON **out)
{
    *out = NULL;
    cJSON *o = cJSON_CreateObject();
    opc_err rc = o == NULL ? OPC_ERR_NOMEM : OPC_OK;
    if (rc == OPC_OK &&
        (cJSON_AddStringToObject(o, "id", v->id) == NULL ||
         cJSON_AddStringToObject(o, "name", v->name) == NULL ||
         (v->description != NULL && v->description[0] != '\0' &&
          cJSON_AddStringToObject(o, "description", v->description) == NULL) ||
         cJSON_AddNumberToObject(o, "attributeVersion", (double)v->attr_version) == NULL ||
         cJSON_AddNumberToObject(o, "contentVersion", (double)v->content_version) == NULL ||
         cJSON_AddNumberToObject(o, "items", (double)v->items) == NULL ||
         cJSON_AddStringToObject(o, "type", v->type != NULL ? v->type : OPC_VAULT_TYPE_USER) ==
             NULL)) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = set_time(o, "createdAt", v->created);
    }
    if (rc == OPC_OK) {
        rc = set_time(o, "updatedAt", v->updated);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

cJSON *opc__item_vault_ref(const char *vault_id)
{
    cJSON *vo = cJSON_CreateObject();
    if (vo != NULL && cJSON_AddStringToObject(vo, "id", vault_id) == NULL) {
        cJSON_Delete(vo);
        vo = NULL;
    }
    return vo;
}

opc_err opc__item_set_ids(cJSON *obj, const char *vault_id, const char *item_id)
{
    opc_err rc = set_member(obj, "id", cJSON_CreateString(item_id));
    return rc == OPC_OK ? set_member(obj, "vault", opc__item_vault_ref(vault_id)) : rc;
}

opc_err opc__item_set_stamp(cJSON *obj, const opc__item_stamp *s)
{
    opc_err rc = set_member(obj, "version", cJSON_CreateNumber((double)s->version));
    if (rc == OPC_OK && s->editor != NULL && s->editor[0] != '\0') {
        rc = set_member(obj, "lastEditedBy", cJSON_CreateString(s->editor));
    }
    if (rc == OPC_OK) {
        rc = set_time(obj, "createdAt", s->created);
    }
    if (rc == OPC_OK) {
        rc = set_time(obj, "updatedAt", s->updated);
    }
    return rc;
}

opc_err opc__item_file_path(char *out, size_t cap, const char *vault_id, const char *item_id,
                            const char *file_id)
{
    if (cap == 0) {
        return OPC_ERR_TOO_LARGE;
    }
    int n =
        snprintf(out, cap, "/v1/vaults/%s/items/%s/files/%s/content", vault_id, item_id, file_id);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return OPC_ERR_TOO_LARGE;
    }
    return OPC_OK;
}
