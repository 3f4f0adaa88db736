/*
 * view/items.c - loading, presenting and sealing items (items.h).
 */
#include "view/items.h"

#include <string.h>

#include "view/index.h"
#include "view/keys.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/time.h"
#include "crypto/envelope.h"
#include "model/item.h"
#include "model/shape.h"
#include "wire/labels.h"

opc_err opc__view_item_load(opc__index *ix, opc__vault_keys *keys, const opc__ix_vault *v,
                            const char *iid, cJSON **full, opc__cache_item *row, opc__ebuf *eb)
{
    *full = NULL;
    memset(row, 0, sizeof *row);
    opc__cache *c = NULL;
    opc_err rc = opc__index_handle(ix, &c, eb);
    if (rc == OPC_OK) {
        rc = opc__cache_item_get(c, v->id, iid, row, eb);
    }
    opc__index_handle_release(ix, c);
    if (rc == OPC_OK && row->state != NULL && strcmp(row->state, "active") != 0) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "item %s not found", iid);
    }
    opc__vkey *vk = NULL;
    if (rc == OPC_OK) {
        rc =
            opc__vault_keys_get(keys, v->id, row->key_sn, v->enc_key, opc__monotonic_ms(), &vk, eb);
    }
    cJSON *ov = NULL;
    cJSON *det = NULL;
    char aad[OPC_WIRE_LABEL_MAX];
    if (rc == OPC_OK) {
        rc = opc__wire_item_aad(aad, sizeof aad, v->id, row->id, OPC_WIRE_ITEM_OVERVIEW,
                                row->key_sn);
    }
    if (rc == OPC_OK) {
        rc = opc__ix_open_json(row->overview, opc__vkey_key(vk), aad, &ov, eb);
    }
    if (rc == OPC_OK) {
        rc =
            opc__wire_item_aad(aad, sizeof aad, v->id, row->id, OPC_WIRE_ITEM_DETAILS, row->key_sn);
    }
    if (rc == OPC_OK) {
        rc = opc__ix_open_json(row->details, opc__vkey_key(vk), aad, &det, eb);
    }
    opc__vault_keys_release(keys, vk);
    if (rc == OPC_OK) {
        rc = opc__item_join_take(ov, det, full);
    }
    opc__json_delete_secret(det);
    if (*full == NULL) {
        opc__json_delete_secret(ov); /* else it became *full */
    }
    return rc;
}

/* Add server-side members and content paths to a joined item. */
static opc_err decorate(cJSON *full, const opc__cache_item *row)
{
    static const char *const server_side[] = {"id",        "vault",     "version", "lastEditedBy",
                                              "createdAt", "updatedAt", "state",   "trashed"};
    for (size_t i = 0; i < sizeof server_side / sizeof server_side[0]; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(full, server_side[i]);
    }
    /* vault before id here (the list and the owner's output have id first):
     * the order this API has always answered with. */
    cJSON *vo = opc__item_vault_ref(row->vault);
    if (vo == NULL || !cJSON_AddItemToObject(full, "vault", vo)) {
        cJSON_Delete(vo);
        return OPC_ERR_NOMEM;
    }
    if (cJSON_AddStringToObject(full, "id", row->id) == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc__item_stamp stamp = {row->version, row->last_edited_by, row->created, row->updated};
    opc_err rc = opc__item_set_stamp(full, &stamp);
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *files = cJSON_GetObjectItemCaseSensitive(full, "files");
    cJSON *f = NULL;
    cJSON_ArrayForEach(f, files)
    {
        const cJSON *fid = cJSON_GetObjectItemCaseSensitive(f, "id");
        if (!cJSON_IsString(fid) || cJSON_GetObjectItemCaseSensitive(f, "content_path") != NULL) {
            continue;
        }
        char path[OPC_ITEM_FILE_PATH_MAX];
        rc = opc__item_file_path(path, sizeof path, row->vault, row->id, fid->valuestring);
        if (rc != OPC_OK) {
            return rc;
        }
        if (cJSON_AddStringToObject(f, "content_path", path) == NULL) {
            return OPC_ERR_NOMEM;
        }
    }
    return OPC_OK;
}

/* The GET view, made in place. */
static opc_err view_in_place(cJSON *item, const opc__cache_item *row, int64_t now,
                             int64_t *valid_until, opc__ebuf *eb)
{
    opc_err rc = decorate(item, row);
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "item %s: cannot add its metadata", row->id);
    }
    return opc__item_present(item, now, valid_until, eb);
}

opc_err opc__view_item_view(const cJSON *full, const opc__cache_item *row, int64_t now, cJSON **out,
                            int64_t *valid_until, opc__ebuf *eb)
{
    *out = cJSON_Duplicate(full, true);
    opc_err rc = *out != NULL ? OPC_OK : opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    if (rc == OPC_OK) {
        rc = view_in_place(*out, row, now, valid_until, eb);
    }
    if (rc != OPC_OK) {
        opc__json_delete_secret(*out);
        *out = NULL;
    }
    return rc;
}

opc_err opc__view_item_body_take(cJSON *full, const opc__cache_item *row, int64_t now, char **body,
                                 size_t *len, int64_t *valid_until, opc__ebuf *eb)
{
    *body = NULL;
    *len = 0;
    opc_err rc = view_in_place(full, row, now, valid_until, eb);
    if (rc == OPC_OK) {
        rc = opc__json_print(full, body, len);
    }
    return rc;
}

opc_err opc__view_item_body(const cJSON *full, const opc__cache_item *row, int64_t now, char **body,
                            size_t *len, int64_t *valid_until, opc__ebuf *eb)
{
    *body = NULL;
    *len = 0;
    cJSON *view = NULL;
    opc_err rc = opc__view_item_view(full, row, now, &view, valid_until, eb);
    if (rc == OPC_OK) {
        rc = opc__json_print(view, body, len);
    }
    opc__json_delete_secret(view);
    return rc;
}

/* Seal one half; *out is the envelope's JSON text. */
static opc_err seal_part(const opc__key *k, const char *aad, const cJSON *part, char **out)
{
    char *pt = NULL;
    size_t pt_len = 0;
    opc_err rc = opc__json_print(part, &pt, &pt_len);
    cJSON *env = NULL;
    if (rc == OPC_OK) {
        rc = opc__envelope_seal(k, aad, strlen(aad), pt, pt_len, &env);
    }
    if (pt != NULL) {
        opc__secret_free(pt, pt_len);
    }
    size_t n = 0;
    if (rc == OPC_OK) {
        rc = opc__json_print(env, out, &n);
    }
    cJSON_Delete(env);
    return rc;
}

opc_err opc__view_item_seal(opc__vault_keys *keys, const opc__ix_vault *v, const char *iid,
                            const cJSON *full, char **overview, char **details, int64_t *key_sn,
                            opc__ebuf *eb)
{
    *overview = *details = NULL;
    *key_sn = v->key_sn;
    opc__vkey *vk = NULL;
    opc_err rc =
        opc__vault_keys_get(keys, v->id, v->key_sn, v->enc_key, opc__monotonic_ms(), &vk, eb);
    cJSON *ov = NULL;
    cJSON *det = NULL;
    if (rc == OPC_OK) {
        rc = opc__item_split(full, &ov, &det);
    }
    char aad[OPC_WIRE_LABEL_MAX];
    if (rc == OPC_OK) {
        rc = opc__wire_item_aad(aad, sizeof aad, v->id, iid, OPC_WIRE_ITEM_OVERVIEW, v->key_sn);
    }
    if (rc == OPC_OK) {
        rc = seal_part(opc__vkey_key(vk), aad, ov, overview);
    }
    if (rc == OPC_OK) {
        rc = opc__wire_item_aad(aad, sizeof aad, v->id, iid, OPC_WIRE_ITEM_DETAILS, v->key_sn);
    }
    if (rc == OPC_OK) {
        rc = seal_part(opc__vkey_key(vk), aad, det, details);
    }
    opc__vault_keys_release(keys, vk);
    opc__json_delete_secret(ov);
    opc__json_delete_secret(det);
    if (rc != OPC_OK) {
        opc__free(*overview);
        opc__free(*details);
        *overview = *details = NULL;
        if (eb != NULL && eb->msg[0] == '\0') {
            opc__fail(eb, rc, "item %s: cannot seal it", iid);
        }
    }
    return rc;
}
