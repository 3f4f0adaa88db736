/*
 * account/vault.c - vaults, vault keys and signed grants (design: schema.c).
 *
 * Store protocol (rows.h; docs/protocol.md, "Vaults, converted"): no SQL
 * here. A vault row is read with the owner's grant of it (vault.get,
 * vault.list), so the client verifies the grant and unwraps the key from
 * the same read. create, edit and delete read, compute (keys, sealed
 * attributes, signed grants, the output) and send ONE batch; a conflict
 * committed nothing and the call starts again (OPC__VAULT_TRIES attempts).
 * Names are encrypted, so the store cannot keep them unique: the client
 * checks them, and a batch that creates or renames is guarded by the feed
 * (no vault_create / vault_update since the head read before the names).
 * Other modules compose vault.touch and the grant steps into their own
 * batches.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account_int.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/rand.h"
#include "core/strparse.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/jwt.h" /* OPC_ACL_* */
#include "crypto/rsa.h"
#include "model/shape.h"
#include "wire/labels.h"

#define VAULT_KEY_LEN 32
#define ACL_ALL (OPC_ACL_READ | OPC_ACL_WRITE)

/* ---- vault keys ---- */

static opc__vault_key *cache_find(opc_account *a, const char *vault_id)
{
    for (size_t i = 0; i < a->n_vkeys; i++) {
        if (strcmp(a->vkeys[i].vault, vault_id) == 0) {
            return &a->vkeys[i];
        }
    }
    return NULL;
}

static opc_err cache_put(opc_account *a, const char *vault_id, int64_t sn, opc__key *key)
{
    opc__vault_key *v = opc__grow(a->vkeys, &a->cap_vkeys, a->n_vkeys, sizeof *v, 8);
    if (v == NULL) {
        opc__key_free(key);
        return OPC_ERR_NOMEM;
    }
    a->vkeys = v;
    opc__vault_key *e = &a->vkeys[a->n_vkeys++];
    memcpy(e->vault, vault_id, OPC_ID_LEN + 1);
    e->sn = sn;
    e->key = key;
    return OPC_OK;
}

void opc__acct_vault_key_drop(opc_account *a, const char *vault_id)
{
    opc__vault_key *e = cache_find(a, vault_id);
    if (e != NULL) {
        opc__key_free(e->key);
        *e = a->vkeys[a->n_vkeys - 1];
        a->n_vkeys--;
    }
}

/* Columns of vault.get / vault.list (rows.c): the vault, then the owner's grant. */
enum {
    C_ID,
    C_TYPE,
    C_SN,
    C_ATTR_VERSION,
    C_CONTENT_VERSION,
    C_ITEMS,
    C_CREATED,
    C_UPDATED,
    C_ATTRS,
    C_SEQ,
    C_G_SN,
    C_G_ENC,
    C_G_ACL,
    C_G_GRANTED,
    C_G_SIG,
};

/* Verify the owner's signed grant in a vault row and unwrap the vault key. */
static opc_err unwrap_owner_key(opc_account *a, const char *vault_id, const cJSON *r,
                                int64_t *sn_out, opc__key **out, opc__ebuf *eb)
{
    opc_err rc = OPC_OK;
    if (opc__rows_null(r, C_G_SN)) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "vault %s has no key for the owner", vault_id);
    }
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    uint8_t *vk = NULL;
    size_t vk_len = 0;
    int64_t sn = 0;
    if (rc == OPC_OK) {
        sn = opc__rows_int(r, C_G_SN);
        const char *enc = opc__rows_str(r, C_G_ENC);
        int64_t acl = opc__rows_int(r, C_G_ACL);
        int64_t ts = opc__rows_int(r, C_G_GRANTED);
        const char *sig = opc__rows_str(r, C_G_SIG);
        char hash[44];
        char msg[OPC_WIRE_LABEL_MAX];
        if (sn != opc__rows_int(r, C_SN) || acl < 0 || acl > 0xff) {
            rc = opc__fail(eb, OPC_ERR_SIGNATURE, "vault %s: the owner's grant is inconsistent",
                           vault_id);
        }
        if (rc == OPC_OK) {
            rc = opc__b64_decode(enc, strlen(enc), OPC_B64URL, &wrapped, &wrapped_len, NULL);
            if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
                rc = opc__fail(eb, OPC_ERR_DECRYPT, "vault %s: the wrapped key is malformed",
                               vault_id);
            }
        }
        if (rc == OPC_OK) {
            rc = opc__acct_hash_b64(wrapped, wrapped_len, hash);
        }
        if (rc == OPC_OK) {
            opc__wire_grant g = {a->id, vault_id, "owner", a->id, sn, (unsigned)acl, ts, hash};
            rc = opc__wire_grant_message(msg, sizeof msg, &g);
        }
        if (rc == OPC_OK) {
            rc = opc__acct_verify(a, msg, sig, "vault grant", eb);
        }
        char label[OPC_WIRE_LABEL_MAX];
        if (rc == OPC_OK) {
            rc = opc__wire_vault_key_label(label, sizeof label, vault_id, sn, a->id);
        }
        if (rc == OPC_OK) {
            rc = opc__rsa_oaep_decrypt(a->rsa, label, strlen(label), wrapped, wrapped_len, &vk,
                                       &vk_len, NULL);
            if (rc == OPC_OK && vk_len != VAULT_KEY_LEN) {
                rc = OPC_ERR_DECRYPT;
            }
            if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
                rc = opc__fail(eb, OPC_ERR_DECRYPT, "vault %s: the vault key does not unwrap",
                               vault_id);
            }
        }
    }
    if (rc == OPC_OK) {
        rc = opc__key_from_oct(vk, vk_len, vault_id, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, out);
    }
    if (rc == OPC_OK) {
        *sn_out = sn;
    }
    opc__secret_free(vk, vk_len);
    opc__free(wrapped);
    return rc;
}

/* The cached key of the vault in row r (vault.get's columns), unwrapped from
 * the row's owner grant when not cached yet. */
static opc_err row_key(opc_account *a, const char *vault_id, const cJSON *r, opc__vault_key **out,
                       opc__ebuf *eb)
{
    opc__vault_key *e = cache_find(a, vault_id);
    if (e == NULL) {
        opc__key *k = NULL;
        int64_t s = 0;
        opc_err rc = unwrap_owner_key(a, vault_id, r, &s, &k, eb);
        if (rc == OPC_OK) {
            rc = cache_put(a, vault_id, s, k);
        }
        if (rc != OPC_OK) {
            return rc;
        }
        e = &a->vkeys[a->n_vkeys - 1];
    }
    *out = e;
    return OPC_OK;
}

/* The vault's row (vault.get, with the owner's grant): *row borrowed from *rows. */
static opc_err vault_get(opc_account *a, const char *vault_id, cJSON **rows, const cJSON **row,
                         opc__ebuf *eb)
{
    opc_err rc = opc__rows_read(a->rows, "vault.get", rows, eb, "tt", a->id, vault_id);
    *row = rc == OPC_OK ? cJSON_GetArrayItem(*rows, 0) : NULL;
    return rc;
}

opc_err opc__acct_vault_key(opc_account *a, const char *vault_id, const opc__key **key, int64_t *sn,
                            opc__ebuf *eb)
{
    opc__vault_key *e = cache_find(a, vault_id);
    if (e == NULL) {
        cJSON *rows = NULL;
        const cJSON *row = NULL;
        opc_err rc = vault_get(a, vault_id, &rows, &row, eb);
        if (rc == OPC_OK && row == NULL) {
            rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "vault %s has no key for the owner", vault_id);
        }
        if (rc == OPC_OK) {
            rc = row_key(a, vault_id, row, &e, eb);
        }
        cJSON_Delete(rows);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    *key = e->key;
    *sn = e->sn;
    return OPC_OK;
}

opc_err opc__acct_grant_seal(opc_account *a, const char *vault_id, int64_t sn, const opc__key *vk,
                             const char *accessor_type, const char *accessor_id,
                             const opc__key *accessor_pub, unsigned acl, int64_t now, char **enc,
                             char **sig, opc__ebuf *eb)
{
    char label[OPC_WIRE_LABEL_MAX];
    char msg[OPC_WIRE_LABEL_MAX];
    char hash[44];
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    *enc = NULL;
    *sig = NULL;
    opc_err rc = opc__wire_vault_key_label(label, sizeof label, vault_id, sn, accessor_id);
    if (rc == OPC_OK) {
        rc = opc__rsa_oaep_encrypt(accessor_pub, label, strlen(label), opc__key_oct(vk),
                                   VAULT_KEY_LEN, &wrapped, &wrapped_len);
    }
    if (rc == OPC_OK) {
        rc = opc__b64_encode(wrapped, wrapped_len, OPC_B64URL, enc, NULL);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_hash_b64(wrapped, wrapped_len, hash);
    }
    if (rc == OPC_OK) {
        opc__wire_grant g = {a->id, vault_id, accessor_type, accessor_id, sn, acl, now, hash};
        rc = opc__wire_grant_message(msg, sizeof msg, &g);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_sign(a, msg, sig);
    }
    if (rc != OPC_OK) {
        opc__free(*enc);
        *enc = NULL;
        if (rc != OPC_ERR_NOMEM) {
            rc = opc__fail(eb, rc, "cannot wrap the key of vault %s", vault_id);
        }
    }
    opc__free(wrapped);
    return rc;
}

opc_err opc__acct_grant_add(opc_account *a, opc__rows_batch *b, const char *vault_id, int64_t sn,
                            const opc__key *vk, const char *accessor_type, const char *accessor_id,
                            const opc__key *accessor_pub, unsigned acl, int64_t now, int k,
                            opc__ebuf *eb)
{
    char *enc = NULL;
    char *sig = NULL;
    opc_err rc = opc__acct_grant_seal(a, vault_id, sn, vk, accessor_type, accessor_id, accessor_pub,
                                      acl, now, &enc, &sig, eb);
    if (rc == OPC_OK) {
        opc__rows_batch_add(b, "vault.grant_put", 1, "tttitiitq", vault_id, accessor_type,
                            accessor_id, sn, enc, (int64_t)acl, now, sig, k);
    }
    opc__free(sig);
    opc__free(enc);
    return rc;
}

void opc__acct_vault_touch_step(opc__rows_batch *b, const char *vault_id, int delta_items,
                                int64_t now, int k)
{
    opc__rows_batch_add(b, "vault.touch", 1, "iiqt", (int64_t)delta_items, now, k, vault_id);
}

/* ---- rows ---- */

typedef struct vault_row {
    char id[OPC_ID_LEN + 1];
    char type[32];
    int64_t sn;
    int64_t attr_version;
    int64_t content_version;
    int64_t items;
    int64_t created;
    int64_t updated;
    int64_t seq; /* the seq of its last change: the row's version */
    char *name;
    char *description;
} vault_row;

static void row_clear(vault_row *row)
{
    opc__free(row->name);
    opc__free(row->description);
    memset(row, 0, sizeof *row);
}

static void rows_free(vault_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        row_clear(&rows[i]);
    }
    opc__free(rows);
}

/* Decrypt a vault's attributes (r: its vault.get row) into row->name and row->description. */
static opc_err decrypt_attrs(opc_account *a, vault_row *row, const cJSON *r, opc__ebuf *eb)
{
    opc__vault_key *e = NULL;
    opc_err rc = row_key(a, row->id, r, &e, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char aad[OPC_WIRE_LABEL_MAX];
    char what[64];
    rc = opc__wire_vault_attrs_aad(aad, sizeof aad, row->id, row->sn);
    (void)snprintf(what, sizeof what, "vault %s attributes", row->id);
    cJSON *j = NULL;
    if (rc == OPC_OK) {
        rc = opc__acct_open_json(e->key, aad, opc__rows_str(r, C_ATTRS), what, &j, eb);
    }
    const char *name = NULL;
    const char *desc = "";
    if (rc == OPC_OK &&
        (opc__json_get_str(j, "name", true, "vault", &name, NULL) != OPC_OK ||
         opc__json_get_str(j, "description", false, "vault", &desc, NULL) != OPC_OK)) {
        rc = opc__fail(eb, OPC_ERR_DECRYPT, "%s are malformed", what);
    }
    if (rc == OPC_OK) {
        row->name = opc__strdup(name);
        row->description = opc__strdup(desc);
        if (row->name == NULL || row->description == NULL) {
            rc = OPC_ERR_NOMEM;
        }
    }
    cJSON_Delete(j);
    return rc;
}

/* A vault row from its vault.get / vault.list row r, attributes decrypted. */
static opc_err row_from(opc_account *a, const cJSON *r, vault_row *row, opc__ebuf *eb)
{
    (void)snprintf(row->id, sizeof row->id, "%s", opc__rows_str(r, C_ID));
    (void)snprintf(row->type, sizeof row->type, "%s", opc__rows_str(r, C_TYPE));
    row->sn = opc__rows_int(r, C_SN);
    row->attr_version = opc__rows_int(r, C_ATTR_VERSION);
    row->content_version = opc__rows_int(r, C_CONTENT_VERSION);
    row->items = opc__rows_int(r, C_ITEMS);
    row->created = opc__rows_int(r, C_CREATED);
    row->updated = opc__rows_int(r, C_UPDATED);
    row->seq = opc__rows_int(r, C_SEQ);
    if (!opc__id_valid_str(row->id) || strcmp(row->id, opc__rows_str(r, C_ID)) != 0) {
        return opc__fail(eb, OPC_ERR_PARSE, "account file: malformed vault row");
    }
    return decrypt_attrs(a, row, r, eb);
}

/* Every vault, decrypted (one read: vault.list). */
static opc_err load_all(opc_account *a, vault_row **out, size_t *n_out, opc__ebuf *eb)
{
    *out = NULL;
    *n_out = 0;
    cJSON *list = NULL;
    opc_err rc = opc__rows_read(a->rows, "vault.list", &list, eb, "t", a->id);
    size_t n = 0;
    vault_row *rows = NULL;
    if (rc == OPC_OK && cJSON_GetArraySize(list) > 0) {
        rows = opc__calloc((size_t)cJSON_GetArraySize(list), sizeof *rows);
        rc = rows == NULL ? OPC_ERR_NOMEM : OPC_OK;
    }
    const cJSON *r = NULL;
    cJSON_ArrayForEach(r, list)
    {
        if (rc != OPC_OK || rows == NULL) {
            break;
        }
        rc = row_from(a, r, &rows[n++], eb);
    }
    cJSON_Delete(list);
    if (rc != OPC_OK) {
        rows_free(rows, n);
        return rc;
    }
    *out = rows;
    *n_out = n;
    return OPC_OK;
}

static opc_err load_one(opc_account *a, const char *vault_id, vault_row *row, opc__ebuf *eb)
{
    memset(row, 0, sizeof *row);
    cJSON *rows = NULL;
    const cJSON *r = NULL;
    opc_err rc = vault_get(a, vault_id, &rows, &r, eb);
    if (rc == OPC_OK && r == NULL) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "vault %s not found", vault_id);
    }
    if (rc == OPC_OK) {
        rc = row_from(a, r, row, eb);
    }
    cJSON_Delete(rows);
    return rc;
}

opc_err opc__acct_vault_name(opc_account *a, const char *vault_id, char **name, opc__ebuf *eb)
{
    vault_row row;
    opc_err rc = load_one(a, vault_id, &row, eb);
    if (rc == OPC_OK) {
        *name = row.name;
        row.name = NULL;
    }
    row_clear(&row);
    return rc;
}

opc_err opc__acct_vault_entry(cJSON *arr, const char *vault_id, const char *name,
                              const char *access)
{
    cJSON *v = cJSON_CreateObject();
    if (v == NULL || cJSON_AddStringToObject(v, "id", vault_id) == NULL ||
        (name != NULL && cJSON_AddStringToObject(v, "name", name) == NULL) ||
        (access != NULL && cJSON_AddStringToObject(v, "access", access) == NULL)) {
        cJSON_Delete(v);
        return OPC_ERR_NOMEM;
    }
    cJSON_AddItemToArray(arr, v);
    return OPC_OK;
}

static opc_err vault_exists(opc_account *a, const char *id, bool *found, opc__ebuf *eb)
{
    cJSON *rows = NULL;
    const cJSON *row = NULL;
    opc_err rc = vault_get(a, id, &rows, &row, eb);
    *found = row != NULL;
    cJSON_Delete(rows);
    return rc;
}

opc_err opc__acct_vault_resolve(opc_account *a, const char *ref, char id[OPC_ID_LEN + 1],
                                opc__ebuf *eb)
{
    if (ref[0] == '\0') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "a vault name or id is required");
    }
    if (opc__id_valid_str(ref)) {
        bool found = false;
        opc_err rc = vault_exists(a, ref, &found, eb);
        if (rc != OPC_OK || found) {
            if (rc == OPC_OK) {
                memcpy(id, ref, OPC_ID_LEN + 1);
            }
            return rc;
        }
    }
    vault_row *rows = NULL;
    size_t n = 0;
    opc_err rc = load_all(a, &rows, &n, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    size_t matches = 0;
    char list[3 * (OPC_ID_LEN + 2)] = "";
    for (size_t i = 0; i < n; i++) {
        if (opc__strcasecmp(rows[i].name, ref) == 0) {
            if (matches == 0) {
                memcpy(id, rows[i].id, OPC_ID_LEN + 1);
            }
            if (matches < 3) {
                size_t len = strlen(list);
                (void)snprintf(list + len, sizeof list - len, "%s%s", matches > 0 ? ", " : "",
                               rows[i].id);
            }
            matches++;
        }
    }
    rows_free(rows, n);
    if (matches == 0) {
        return opc__fail(eb, OPC_ERR_NOT_FOUND, "vault \"%s\" not found", ref);
    }
    if (matches > 1) {
        return opc__fail(eb, OPC_ERR_CONFLICT, "vault name \"%s\" matches %zu vaults: %s", ref,
                         matches, list);
    }
    return OPC_OK;
}

/* ---- the names' version (docs/protocol.md, "Vaults, converted") ---- */

/*
 * The store's position in the change feed (the seq of its last change), read
 * BEFORE the reads it versions: a change committed later has a greater seq,
 * so a batch guarded by vault.names_since / vault.grants_since at this head
 * (expecting 0) runs only if no vault was created or renamed (or, for one
 * vault, no server grant changed) since the read phase began.
 */
static opc_err feed_head(opc_account *a, int64_t *head, opc__ebuf *eb)
{
    cJSON *rows = NULL;
    opc_err rc = opc__rows_read(a->rows, "vault.feed_head", &rows, eb, "");
    const cJSON *row = rc == OPC_OK ? cJSON_GetArrayItem(rows, 0) : NULL;
    if (rc == OPC_OK && row == NULL) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "rows: vault.feed_head gave no row");
    }
    if (rc == OPC_OK) {
        *head = opc__rows_int(row, 0);
    }
    cJSON_Delete(rows);
    return rc;
}

/* OPC_ERR_EXISTS when another vault (not `self`) has this name, ASCII
 * case-insensitively. Names are encrypted: the client decides, the batch is
 * guarded by vault.names_since. */
static opc_err check_unique(opc_account *a, const char *name, const char *self, opc__ebuf *eb)
{
    vault_row *rows = NULL;
    size_t n = 0;
    opc_err rc = load_all(a, &rows, &n, eb);
    for (size_t i = 0; rc == OPC_OK && i < n; i++) {
        if ((self == NULL || strcmp(rows[i].id, self) != 0) &&
            opc__strcasecmp(rows[i].name, name) == 0) {
            rc = opc__fail(eb, OPC_ERR_EXISTS, "a vault named \"%s\" already exists", name);
        }
    }
    rows_free(rows, n);
    return rc;
}

/* ---- JSON ---- */

static opc_err vault_json(const vault_row *r, cJSON **out)
{
    opc__vault_info v = {.id = r->id,
                         .name = r->name,
                         .description = r->description,
                         .type = r->type,
                         .attr_version = r->attr_version,
                         .content_version = r->content_version,
                         .items = r->items,
                         .created = r->created,
                         .updated = r->updated};
    return opc__vault_json(&v, out);
}

static opc_err info_print(const opc__vault_info *v, char **out)
{
    cJSON *j = NULL;
    opc_err rc = opc__vault_json(v, &j);
    if (rc == OPC_OK) {
        rc = opc__json_print(j, out, NULL);
    }
    cJSON_Delete(j);
    return rc;
}

static opc_err row_print(const vault_row *row, char **out)
{
    cJSON *j = NULL;
    opc_err rc = vault_json(row, &j);
    if (rc == OPC_OK) {
        rc = opc__json_print(j, out, NULL);
    }
    cJSON_Delete(j);
    return rc;
}

static opc_err print_one(opc_account *a, const char *vault_id, char **out, opc__ebuf *eb)
{
    vault_row row;
    opc_err rc = load_one(a, vault_id, &row, eb);
    if (rc == OPC_OK) {
        rc = row_print(&row, out);
    }
    row_clear(&row);
    return rc;
}

/* ---- public API ---- */

static opc_err attrs_seal(const opc__key *vk, const char *vault_id, int64_t sn, const char *name,
                          const char *description, char **out)
{
    cJSON *j = cJSON_CreateObject();
    opc_err rc = OPC_OK;
    if (j == NULL || cJSON_AddStringToObject(j, "name", name) == NULL ||
        cJSON_AddStringToObject(j, "description", description) == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    char aad[OPC_WIRE_LABEL_MAX];
    if (rc == OPC_OK) {
        rc = opc__wire_vault_attrs_aad(aad, sizeof aad, vault_id, sn);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_seal_json(vk, aad, j, out);
    }
    cJSON_Delete(j);
    return rc;
}

static opc_err check_attrs(const char *name, const char *description, opc__ebuf *eb)
{
    opc_err rc =
        name == NULL ? OPC_OK : opc__acct_check_name(name, OPC_ACCOUNT_MAX_NAME, "vault name", eb);
    if (rc == OPC_OK && description != NULL) {
        size_t n = strlen(description);
        if (n > OPC_ACCOUNT_MAX_DESCRIPTION) {
            rc = opc__fail(eb, OPC_ERR_TOO_LARGE, "vault description is longer than %d bytes",
                           OPC_ACCOUNT_MAX_DESCRIPTION);
        } else if (!opc__utf8_valid(description, n)) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "vault description is not valid UTF-8");
        }
    }
    return rc;
}

/*
 * One attempt of create: the feed's head and every vault's name (read), a
 * new id, key, sealed attributes and the owner's signed grant (client), the
 * output and the key's cache entry, then ONE batch: no vault was created or
 * renamed since the head (vault.names_since, 0), vault_create, the vault
 * row and the owner's grant at that change's seq. *stale: the batch met a
 * concurrent change (nothing committed).
 */
static opc_err create_once(opc_account *a, const char *name, const char *description,
                           char **out_json, bool *stale, opc__ebuf *eb)
{
    char id[OPC_ID_LEN + 1];
    uint8_t raw[VAULT_KEY_LEN];
    opc__key *vk = NULL;
    char *attrs = NULL;
    int64_t now = opc__now_s();
    int64_t head = 0;
    const int64_t sn = 1;
    bool cached = false;
    opc_err rc = feed_head(a, &head, eb);
    if (rc == OPC_OK) {
        rc = check_unique(a, name, NULL, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__id_generate(id);
    }
    if (rc == OPC_OK) {
        rc = opc__rand_priv_bytes(raw, sizeof raw);
    }
    if (rc == OPC_OK) {
        rc = opc__key_from_oct(raw, sizeof raw, id, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &vk);
    }
    opc__wipe(raw, sizeof raw);
    if (rc == OPC_OK) {
        rc = attrs_seal(vk, id, sn, name, description, &attrs);
    }
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    if (rc == OPC_OK) {
        opc__rows_batch_add(&b, "vault.names_since", 0, "i", head);
        opc__change c = {.kind = OPC_CHANGE_VAULT_CREATE, .vault = id};
        int k = opc__acct_batch_change(&b, &c, now);
        opc__rows_batch_add(&b, "vault.insert", 1, "ttitiiq", id, OPC_VAULT_TYPE_USER, sn, attrs,
                            now, now, k);
        rc =
            opc__acct_grant_add(a, &b, id, sn, vk, "owner", a->id, a->rsa_pub, ACL_ALL, now, k, eb);
    }
    /* The output, before the batch: the row it writes. */
    if (rc == OPC_OK) {
        opc__vault_info v = {.id = id,
                             .name = name,
                             .description = description,
                             .type = OPC_VAULT_TYPE_USER,
                             .attr_version = 1,
                             .content_version = 1,
                             .items = 0,
                             .created = now,
                             .updated = now};
        rc = info_print(&v, out_json);
    }
    if (rc == OPC_OK) {
        rc = cache_put(a, id, sn, vk);
        vk = NULL;
        cached = rc == OPC_OK;
    }
    if (rc == OPC_OK) {
        rc = opc__rows_batch_run(a->rows, &b, eb);
        *stale = rc == OPC_ERR_CONFLICT;
    }
    opc__rows_batch_free(&b);
    if (rc != OPC_OK) {
        if (cached) {
            opc__acct_vault_key_drop(a, id);
        }
        opc__free(*out_json);
        *out_json = NULL;
    }
    opc__key_free(vk);
    opc__free(attrs);
    return rc;
}

static opc_err vault_create(opc_account *a, const char *name, const char *description,
                            char **out_json, opc__ebuf *eb)
{
    opc_err rc = check_attrs(name, description, eb);
    /* A conflict committed nothing: create again (a new id and key) from a new read. */
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__VAULT_TRIES; i++) {
        again = false;
        rc = create_once(a, name, description, out_json, &again, eb);
    }
    return rc;
}

opc_err opc_account_vault_create(opc_account *a, const char *name, const char *description,
                                 char **out_json)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, name != NULL && out_json != NULL, out_json,
                                 NULL, &eb);
    if (rc == OPC_OK) {
        rc = vault_create(a, name, description == NULL ? "" : description, out_json, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

static int row_cmp(const void *x, const void *y)
{
    const vault_row *a = x;
    const vault_row *b = y;
    int c = opc__strcasecmp(a->name, b->name);
    if (c == 0) {
        c = strcmp(a->name, b->name);
    }
    return c != 0 ? c : strcmp(a->id, b->id);
}

static opc_err vault_list(opc_account *a, char **out_json, opc__ebuf *eb)
{
    vault_row *rows = NULL;
    size_t n = 0;
    opc_err rc = load_all(a, &rows, &n, eb);
    cJSON *arr = NULL;
    if (rc == OPC_OK) {
        if (n > 1) {
            qsort(rows, n, sizeof *rows, row_cmp);
        }
        arr = cJSON_CreateArray();
        rc = arr == NULL ? OPC_ERR_NOMEM : OPC_OK;
    }
    for (size_t i = 0; rc == OPC_OK && i < n; i++) {
        cJSON *o = NULL;
        rc = vault_json(&rows[i], &o);
        if (rc == OPC_OK) {
            cJSON_AddItemToArray(arr, o);
        }
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(arr, out_json, NULL);
    }
    cJSON_Delete(arr);
    rows_free(rows, n);
    return rc;
}

opc_err opc_account_vault_list(opc_account *a, char **out_json)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, out_json != NULL, out_json, NULL, &eb);
    if (rc == OPC_OK) {
        rc = vault_list(a, out_json, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

opc_err opc_account_vault_get(opc_account *a, const char *vault, char **out_json)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, vault != NULL && out_json != NULL, out_json,
                                 NULL, &eb);
    char id[OPC_ID_LEN + 1];
    if (rc == OPC_OK) {
        rc = opc__acct_vault_resolve(a, vault, id, &eb);
    }
    if (rc == OPC_OK) {
        rc = print_one(a, id, out_json, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

/*
 * One attempt of edit: the feed's head (when renaming), the vault's row and
 * seq, the other names (read); the new sealed attributes and the output
 * (client); ONE batch: no vault created or renamed since the head (when
 * renaming), vault_update, the attributes at the seq read.
 */
static opc_err edit_once(opc_account *a, const char *vault, const char *new_name,
                         const char *new_desc, char **out_json, bool *stale, opc__ebuf *eb)
{
    char id[OPC_ID_LEN + 1];
    vault_row row;
    memset(&row, 0, sizeof row);
    char *attrs = NULL;
    int64_t head = 0;
    int64_t now = opc__now_s();
    opc_err rc = new_name != NULL ? feed_head(a, &head, eb) : OPC_OK;
    if (rc == OPC_OK) {
        rc = opc__acct_vault_resolve(a, vault, id, eb);
    }
    if (rc == OPC_OK) {
        rc = load_one(a, id, &row, eb);
    }
    if (rc == OPC_OK && new_name != NULL) {
        rc = check_unique(a, new_name, id, eb);
    }
    const opc__key *vk = NULL;
    int64_t sn = 0;
    if (rc == OPC_OK) {
        rc = opc__acct_vault_key(a, id, &vk, &sn, eb);
    }
    if (rc == OPC_OK && sn != row.sn) {
        rc = opc__fail(eb, OPC_ERR_SIGNATURE, "vault %s: the owner's grant is inconsistent", id);
    }
    if (rc == OPC_OK) {
        rc = attrs_seal(vk, id, sn, new_name != NULL ? new_name : row.name,
                        new_desc != NULL ? new_desc : row.description, &attrs);
    }
    /* The output, before the batch: the row as the batch leaves it. */
    if (rc == OPC_OK) {
        char *n = new_name != NULL ? opc__strdup(new_name) : NULL;
        char *d = new_desc != NULL ? opc__strdup(new_desc) : NULL;
        if ((new_name != NULL && n == NULL) || (new_desc != NULL && d == NULL)) {
            opc__free(n);
            opc__free(d);
            rc = OPC_ERR_NOMEM;
        }
        if (rc == OPC_OK && n != NULL) {
            opc__free(row.name);
            row.name = n;
        }
        if (rc == OPC_OK && d != NULL) {
            opc__free(row.description);
            row.description = d;
        }
    }
    if (rc == OPC_OK) {
        int64_t seq = row.seq;
        row.attr_version++;
        row.updated = now;
        rc = row_print(&row, out_json);
        opc__rows_batch b;
        opc__rows_batch_init(&b);
        if (new_name != NULL) {
            opc__rows_batch_add(&b, "vault.names_since", 0, "i", head);
        }
        opc__change c = {.kind = OPC_CHANGE_VAULT_UPDATE, .vault = id};
        int k = opc__acct_batch_change(&b, &c, now);
        opc__rows_batch_add(&b, "vault.set_attrs", 1, "tiqti", attrs, now, k, id, seq);
        if (rc == OPC_OK) {
            rc = opc__rows_batch_run(a->rows, &b, eb);
            *stale = rc == OPC_ERR_CONFLICT;
        }
        opc__rows_batch_free(&b);
    }
    if (rc != OPC_OK) {
        opc__free(*out_json);
        *out_json = NULL;
    }
    row_clear(&row);
    opc__free(attrs);
    return rc;
}

static opc_err vault_edit(opc_account *a, const char *vault, const char *new_name,
                          const char *new_desc, char **out_json, opc__ebuf *eb)
{
    opc_err rc = check_attrs(new_name, new_desc, eb);
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__VAULT_TRIES; i++) {
        again = false;
        rc = edit_once(a, vault, new_name, new_desc, out_json, &again, eb);
    }
    return rc;
}

opc_err opc_account_vault_edit(opc_account *a, const char *vault, const char *new_name,
                               const char *new_description, char **out_json)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, vault != NULL && out_json != NULL, out_json,
                                 NULL, &eb);
    if (rc == OPC_OK) {
        rc = vault_edit(a, vault, new_name, new_description, out_json, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

/*
 * One attempt of delete: the feed's head, the vault, the servers it is
 * granted to (read); ONE batch: no server grant of the vault changed since
 * the head (vault.grants_since, 0), grant_revoke for each of those servers
 * (each learns that its grant is gone), vault_delete, the row (its items,
 * files and grants go with it: ON DELETE CASCADE).
 */
static opc_err delete_once(opc_account *a, const char *vault, bool *stale, opc__ebuf *eb)
{
    char id[OPC_ID_LEN + 1];
    int64_t head = 0;
    int64_t now = opc__now_s();
    cJSON *servers = NULL;
    opc_err rc = feed_head(a, &head, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_vault_resolve(a, vault, id, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__rows_read(a->rows, "vault.server_grants", &servers, eb, "t", id);
    }
    if (rc == OPC_OK && cJSON_GetArraySize(servers) > OPC__VAULT_MAX_SERVER_GRANTS) {
        rc = opc__fail(eb, OPC_ERR_TOO_LARGE,
                       "vault %s is granted to %d servers, more than one deletion can revoke "
                       "(%d): revoke some of its grants first",
                       id, cJSON_GetArraySize(servers), OPC__VAULT_MAX_SERVER_GRANTS);
    }
    if (rc == OPC_OK) {
        opc__rows_batch b;
        opc__rows_batch_init(&b);
        opc__rows_batch_add(&b, "vault.grants_since", 0, "ti", id, head);
        const cJSON *r = NULL;
        cJSON_ArrayForEach(r, servers)
        {
            opc__change g = {
                .kind = OPC_CHANGE_GRANT_REVOKE, .vault = id, .server = opc__rows_str(r, 0)};
            (void)opc__acct_batch_change(&b, &g, now);
        }
        opc__change c = {.kind = OPC_CHANGE_VAULT_DELETE, .vault = id};
        (void)opc__acct_batch_change(&b, &c, now);
        opc__rows_batch_add(&b, "vault.delete", 1, "t", id);
        rc = opc__rows_batch_run(a->rows, &b, eb);
        *stale = rc == OPC_ERR_CONFLICT;
        opc__rows_batch_free(&b);
    }
    cJSON_Delete(servers);
    if (rc == OPC_OK) {
        opc__acct_vault_key_drop(a, id);
    }
    return rc;
}

static opc_err vault_delete(opc_account *a, const char *vault, opc__ebuf *eb)
{
    opc_err rc = OPC_OK;
    bool again = true;
    for (int i = 0; again && i < OPC__VAULT_TRIES; i++) {
        again = false;
        rc = delete_once(a, vault, &again, eb);
    }
    return rc;
}

opc_err opc_account_vault_delete(opc_account *a, const char *vault)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, vault != NULL, NULL, NULL, &eb);
    if (rc == OPC_OK) {
        rc = vault_delete(a, vault, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}
