/*
 * cache/cache_json.c - rows in the upstream's JSON shape (account/export.h,
 * members named as the cache's columns) as cache row structs (cache.h).
 */
#include "internal.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "cache/cache.h"
#include "core/alloc.h"
#include "core/json.h"
#include "crypto/base64.h"

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = opc__json_member(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A borrowed string member as the row structs' char * (never written through). */
static char *jborrow(const cJSON *o, const char *key)
{
    return (char *)(uintptr_t)jstr(o, key);
}

static int64_t jint(const cJSON *o, const char *key, bool *ok)
{
    int64_t v = 0;
    if (!opc__json_is_int(opc__json_member(o, key), &v)) {
        *ok = false;
    }
    return v;
}

static void jid(const cJSON *o, const char *key, char out[OPC_ID_LEN + 1], bool *ok)
{
    const char *s = jstr(o, key);
    if (!opc__id_valid_str(s)) {
        *ok = false;
        out[0] = '\0';
        return;
    }
    memcpy(out, s, OPC_ID_LEN + 1);
}

static opc_err malformed(opc__ebuf *eb, const char *what)
{
    return opc__fail(eb, OPC_ERR_PARSE, "upstream sent a malformed %s row", what);
}

opc_err opc__cache_issuer_key_from_json(const cJSON *o, opc__cache_issuer_key *out, opc__ebuf *eb)
{
    bool ok = true;
    memset(out, 0, sizeof *out);
    jid(o, "kid", out->kid, &ok);
    out->jwk = jborrow(o, "jwk");
    out->seq = jint(o, "seq", &ok);
    return ok && out->jwk != NULL ? OPC_OK : malformed(eb, "issuer key");
}

opc_err opc__cache_access_from_json(const cJSON *o, opc__cache_access *out, opc__ebuf *eb)
{
    bool ok = true;
    memset(out, 0, sizeof *out);
    jid(o, "vault_id", out->vault, &ok);
    out->key_sn = jint(o, "key_sn", &ok);
    out->enc_key = jborrow(o, "enc_key");
    out->acl = jint(o, "acl", &ok);
    out->granted = jint(o, "granted", &ok);
    out->grant_sig = jborrow(o, "grant_sig");
    out->seq = jint(o, "seq", &ok);
    return ok && out->enc_key != NULL && out->grant_sig != NULL ? OPC_OK : malformed(eb, "grant");
}

opc_err opc__cache_vault_from_json(const cJSON *o, opc__cache_vault *out, opc__ebuf *eb)
{
    bool ok = true;
    memset(out, 0, sizeof *out);
    jid(o, "id", out->id, &ok);
    out->type = jborrow(o, "type");
    out->key_sn = jint(o, "key_sn", &ok);
    out->attrs = jborrow(o, "attrs");
    out->attr_version = jint(o, "attr_version", &ok);
    out->content_version = jint(o, "content_version", &ok);
    out->items = jint(o, "items", &ok);
    out->created = jint(o, "created", &ok);
    out->updated = jint(o, "updated", &ok);
    out->seq = jint(o, "seq", &ok);
    return ok && out->type != NULL && out->attrs != NULL ? OPC_OK : malformed(eb, "vault");
}

opc_err opc__cache_item_from_json(const cJSON *o, opc__cache_item *out, opc__ebuf *eb)
{
    bool ok = true;
    memset(out, 0, sizeof *out);
    jid(o, "id", out->id, &ok);
    jid(o, "vault_id", out->vault, &ok);
    out->version = jint(o, "version", &ok);
    out->state = jborrow(o, "state");
    out->key_sn = jint(o, "key_sn", &ok);
    out->overview = jborrow(o, "overview");
    out->details = jborrow(o, "details");
    out->created = jint(o, "created", &ok);
    out->updated = jint(o, "updated", &ok);
    const char *editor = jstr(o, "last_edited_by");
    if (editor != NULL && strlen(editor) <= OPC_ID_LEN) {
        memcpy(out->last_edited_by, editor, strlen(editor) + 1);
    } else {
        ok = false;
    }
    out->seq = jint(o, "seq", &ok);
    /* A tombstone carries no ciphertext; a live item both parts. */
    bool tombstone = out->state != NULL && strcmp(out->state, "deleted") == 0;
    if (!ok || out->state == NULL ||
        (!tombstone && (out->overview == NULL || out->details == NULL))) {
        return malformed(eb, "item");
    }
    return OPC_OK;
}

opc_err opc__cache_chunk_from_json(const cJSON *o, opc__cache_chunk *out, unsigned char **blob,
                                   opc__ebuf *eb)
{
    bool ok = true;
    memset(out, 0, sizeof *out);
    *blob = NULL;
    jid(o, "file_id", out->file, &ok);
    jid(o, "item_id", out->item, &ok);
    jid(o, "vault_id", out->vault, &ok);
    out->idx = jint(o, "idx", &ok);
    const char *b64 = jstr(o, "blob");
    if (!ok || b64 == NULL) {
        return malformed(eb, "file chunk");
    }
    size_t len = 0;
    opc_err rc = opc__b64_decode(b64, strlen(b64), OPC_B64URL, blob, &len, eb);
    if (rc != OPC_OK) {
        *blob = NULL;
        return rc == OPC_ERR_NOMEM ? rc : malformed(eb, "file chunk");
    }
    out->blob = *blob;
    out->len = len;
    return OPC_OK;
}

opc_err opc__cache_token_from_json(const cJSON *o, opc__cache_token *out, opc__ebuf *eb)
{
    bool ok = true;
    memset(out, 0, sizeof *out);
    jid(o, "jti", out->jti, &ok);
    jid(o, "server_id", out->server, &ok);
    out->name = jborrow(o, "name");
    out->scopes = jborrow(o, "scopes");
    out->created = jint(o, "created", &ok);
    out->expires = jint(o, "expires", &ok);
    out->state = jborrow(o, "state");
    out->updated = jint(o, "updated", &ok);
    out->seq = jint(o, "seq", &ok);
    if (!ok || out->name == NULL || out->scopes == NULL || out->state == NULL) {
        return malformed(eb, "token");
    }
    return OPC_OK;
}
