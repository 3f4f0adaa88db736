/*
 * account/vault.c - vaults, vault keys and signed grants (design: schema.c).
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
#include "crypto/jwt.h"
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

static opc_err unwrap_owner_key(opc_account *a, const char *vault_id, int64_t *sn_out,
                                opc__key **out, opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    bool row = false;
    opc_err rc = opc__acct_query_row(a, &st, &row, eb,
                                     "SELECT g.key_sn, g.enc_key, g.acl, g.granted, g.grant_sig, "
                                     "v.key_sn FROM vault_access g JOIN vaults v ON v.id = "
                                     "g.vault_id WHERE g.vault_id = ? AND g.accessor_type = "
                                     "'owner' AND g.accessor_id = ?",
                                     "tt", vault_id, a->id);
    if (rc == OPC_OK && !row) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "vault %s has no key for the owner", vault_id);
    }
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    uint8_t *vk = NULL;
    size_t vk_len = 0;
    int64_t sn = 0;
    if (rc == OPC_OK) {
        sn = sqlite3_column_int64(st, 0);
        const char *enc = opc__acct_col_str(st, 1);
        int64_t acl = sqlite3_column_int64(st, 2);
        int64_t ts = sqlite3_column_int64(st, 3);
        const char *sig = opc__acct_col_str(st, 4);
        char hash[44];
        char msg[OPC_WIRE_LABEL_MAX];
        if (sn != sqlite3_column_int64(st, 5) || acl < 0 || acl > 0xff) {
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
    sqlite3_finalize(st);
    return rc;
}

opc_err opc__acct_vault_key(opc_account *a, const char *vault_id, const opc__key **key, int64_t *sn,
                            opc__ebuf *eb)
{
    opc__vault_key *e = cache_find(a, vault_id);
    if (e == NULL) {
        opc__key *k = NULL;
        int64_t s = 0;
        opc_err rc = unwrap_owner_key(a, vault_id, &s, &k, eb);
        if (rc == OPC_OK) {
            rc = cache_put(a, vault_id, s, k);
        }
        if (rc != OPC_OK) {
            return rc;
        }
        e = &a->vkeys[a->n_vkeys - 1];
    }
    *key = e->key;
    *sn = e->sn;
    return OPC_OK;
}

opc_err opc__acct_grant_write(opc_account *a, const char *vault_id, int64_t sn, const opc__key *vk,
                              const char *accessor_type, const char *accessor_id,
                              const opc__key *accessor_pub, unsigned acl, int64_t now, int64_t seq,
                              opc__ebuf *eb)
{
    char label[OPC_WIRE_LABEL_MAX];
    char msg[OPC_WIRE_LABEL_MAX];
    char hash[44];
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    char *enc = NULL;
    char *sig = NULL;
    opc_err rc = opc__wire_vault_key_label(label, sizeof label, vault_id, sn, accessor_id);
    if (rc == OPC_OK) {
        rc = opc__rsa_oaep_encrypt(accessor_pub, label, strlen(label), opc__key_oct(vk),
                                   VAULT_KEY_LEN, &wrapped, &wrapped_len);
    }
    if (rc == OPC_OK) {
        rc = opc__b64_encode(wrapped, wrapped_len, OPC_B64URL, &enc, NULL);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_hash_b64(wrapped, wrapped_len, hash);
    }
    if (rc == OPC_OK) {
        opc__wire_grant g = {a->id, vault_id, accessor_type, accessor_id, sn, acl, now, hash};
        rc = opc__wire_grant_message(msg, sizeof msg, &g);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_sign(a, msg, &sig);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_run(a, NULL, eb,
                           "INSERT OR REPLACE INTO vault_access (vault_id, accessor_type, "
                           "accessor_id, key_sn, enc_key, acl, granted, grant_sig, seq) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           "tttitiiti", vault_id, accessor_type, accessor_id, sn, enc, (int64_t)acl,
                           now, sig, seq);
    } else if (rc != OPC_ERR_NOMEM) {
        rc = opc__fail(eb, rc, "cannot wrap the key of vault %s", vault_id);
    }
    opc__free(sig);
    opc__free(enc);
    opc__free(wrapped);
    return rc;
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
    char *name;
    char *description;
} vault_row;

static void rows_free(vault_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        opc__free(rows[i].name);
        opc__free(rows[i].description);
    }
    opc__free(rows);
}

/* Decrypt a vault's attributes into row->name and row->description. */
static opc_err decrypt_attrs(opc_account *a, vault_row *row, const char *attrs, opc__ebuf *eb)
{
    const opc__key *k = NULL;
    int64_t sn = 0;
    opc_err rc = opc__acct_vault_key(a, row->id, &k, &sn, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char aad[OPC_WIRE_LABEL_MAX];
    char what[64];
    rc = opc__wire_vault_attrs_aad(aad, sizeof aad, row->id, row->sn);
    (void)snprintf(what, sizeof what, "vault %s attributes", row->id);
    cJSON *j = NULL;
    if (rc == OPC_OK) {
        rc = opc__acct_open_json(k, aad, attrs, what, &j, eb);
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

#define ROW_COLUMNS                                                                                \
    "id, type, key_sn, attr_version, content_version, items, created, updated, attrs"

static opc_err row_from(opc_account *a, sqlite3_stmt *st, vault_row *row, opc__ebuf *eb)
{
    (void)snprintf(row->id, sizeof row->id, "%s", opc__acct_col_str(st, 0));
    (void)snprintf(row->type, sizeof row->type, "%s", opc__acct_col_str(st, 1));
    row->sn = sqlite3_column_int64(st, 2);
    row->attr_version = sqlite3_column_int64(st, 3);
    row->content_version = sqlite3_column_int64(st, 4);
    row->items = sqlite3_column_int64(st, 5);
    row->created = sqlite3_column_int64(st, 6);
    row->updated = sqlite3_column_int64(st, 7);
    if (!opc__id_valid_str(row->id)) {
        return opc__fail(eb, OPC_ERR_PARSE, "account file: malformed vault row");
    }
    return decrypt_attrs(a, row, (const char *)sqlite3_column_text(st, 8), eb);
}

/* Every vault, decrypted (inside a transaction). */
static opc_err load_all(opc_account *a, vault_row **out, size_t *n_out, opc__ebuf *eb)
{
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__acct_prepare(a, "SELECT " ROW_COLUMNS " FROM vaults ORDER BY id", &st, eb);
    vault_row *rows = NULL;
    size_t n = 0;
    size_t cap = 0;
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        vault_row *r = opc__grow(rows, &cap, n, sizeof *r, 8);
        if (r == NULL) {
            rc = OPC_ERR_NOMEM;
            break;
        }
        rows = r;
        memset(&rows[n], 0, sizeof rows[n]);
        n++;
        rc = row_from(a, st, &rows[n - 1], eb);
    }
    sqlite3_finalize(st);
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
    sqlite3_stmt *st = NULL;
    bool found = false;
    opc_err rc = opc__acct_query_row(
        a, &st, &found, eb, "SELECT " ROW_COLUMNS " FROM vaults WHERE id = ?", "t", vault_id);
    if (rc == OPC_OK && !found) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "vault %s not found", vault_id);
    }
    if (rc == OPC_OK) {
        rc = row_from(a, st, row, eb);
    }
    sqlite3_finalize(st);
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
    opc__free(row.name);
    opc__free(row.description);
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
    int64_t one = 0;
    return opc__acct_query_int(a, found, &one, eb, "SELECT 1 FROM vaults WHERE id = ?", "t", id);
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

/* OPC_ERR_EXISTS when another vault (not `self`) has this name. */
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

opc_err opc__acct_vault_touch(opc_account *a, const char *vault_id, int delta_items, int64_t now,
                              int64_t seq, opc__ebuf *eb)
{
    int changed = 0;
    opc_err rc = opc__acct_run(a, &changed, eb,
                               "UPDATE vaults SET content_version = content_version + 1, items = "
                               "items + ?, updated = ?, seq = ? WHERE id = ?",
                               "iiit", (int64_t)delta_items, now, seq, vault_id);
    if (rc == OPC_OK && changed != 1) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "vault %s not found", vault_id);
    }
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

static opc_err print_one(opc_account *a, const char *vault_id, char **out, opc__ebuf *eb)
{
    vault_row row;
    cJSON *j = NULL;
    opc_err rc = load_one(a, vault_id, &row, eb);
    if (rc == OPC_OK) {
        rc = vault_json(&row, &j);
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(j, out, NULL);
    }
    cJSON_Delete(j);
    opc__free(row.name);
    opc__free(row.description);
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

static opc_err vault_create(opc_account *a, const char *name, const char *description,
                            char **out_json, opc__ebuf *eb)
{
    opc_err rc = check_attrs(name, description, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char id[OPC_ID_LEN + 1];
    uint8_t raw[VAULT_KEY_LEN];
    opc__key *vk = NULL;
    char *attrs = NULL;
    int64_t now = opc__now_s();
    int64_t seq = 0;
    const int64_t sn = 1;
    rc = opc__id_generate(id);
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
    if (rc == OPC_OK) {
        rc = opc__acct_begin(a, true, eb);
        if (rc == OPC_OK) {
            rc = check_unique(a, name, NULL, eb);
            if (rc == OPC_OK) {
                opc__change c = {.kind = OPC_CHANGE_VAULT_CREATE, .vault = id};
                rc = opc__acct_change(a, &c, &seq, eb);
            }
            if (rc == OPC_OK) {
                rc = opc__acct_run(a, NULL, eb,
                                   "INSERT INTO vaults (id, type, key_sn, attrs, attr_version, "
                                   "content_version, items, created, updated, seq) VALUES (?, ?, "
                                   "?, ?, 1, 1, 0, ?, ?, ?)",
                                   "ttitiii", id, OPC_VAULT_TYPE_USER, sn, attrs, now, now, seq);
            }
            if (rc == OPC_OK) {
                rc = opc__acct_grant_write(a, id, sn, vk, "owner", a->id, a->rsa_pub, ACL_ALL, now,
                                           seq, eb);
            }
            rc = opc__acct_end(a, rc, eb);
        }
    }
    if (rc == OPC_OK) {
        rc = cache_put(a, id, sn, vk);
        vk = NULL;
    }
    if (rc == OPC_OK) {
        rc = opc__acct_begin(a, false, eb);
        if (rc == OPC_OK) {
            rc = opc__acct_end(a, print_one(a, id, out_json, eb), eb);
        }
    }
    opc__key_free(vk);
    opc__free(attrs);
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

static opc_err vault_list(opc_account *a, const char *ref, char **out_json, opc__ebuf *eb)
{
    (void)ref;
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
    return opc__acct_show(a, NULL, NULL, out_json, vault_list);
}

opc_err opc_account_vault_get(opc_account *a, const char *vault, char **out_json)
{
    return opc__acct_show(a, vault, opc__acct_vault_resolve, out_json, print_one);
}

static opc_err vault_edit(opc_account *a, const char *vault, const char *new_name,
                          const char *new_desc, char **out_json, opc__ebuf *eb)
{
    opc_err rc = check_attrs(new_name, new_desc, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    rc = opc__acct_begin(a, true, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char id[OPC_ID_LEN + 1];
    vault_row row;
    memset(&row, 0, sizeof row);
    char *attrs = NULL;
    int64_t seq = 0;
    rc = opc__acct_vault_resolve(a, vault, id, eb);
    if (rc == OPC_OK) {
        rc = load_one(a, id, &row, eb);
    }
    if (rc == OPC_OK && new_name != NULL) {
        rc = check_unique(a, new_name, id, eb);
    }
    if (rc == OPC_OK) {
        const opc__key *vk = NULL;
        int64_t sn = 0;
        rc = opc__acct_vault_key(a, id, &vk, &sn, eb);
        if (rc == OPC_OK) {
            rc = attrs_seal(vk, id, sn, new_name != NULL ? new_name : row.name,
                            new_desc != NULL ? new_desc : row.description, &attrs);
        }
    }
    if (rc == OPC_OK) {
        opc__change c = {.kind = OPC_CHANGE_VAULT_UPDATE, .vault = id};
        rc = opc__acct_change(a, &c, &seq, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_run(a, NULL, eb,
                           "UPDATE vaults SET attrs = ?, attr_version = attr_version + 1, "
                           "updated = ?, seq = ? WHERE id = ?",
                           "tiit", attrs, opc__now_s(), seq, id);
    }
    if (rc == OPC_OK) {
        rc = print_one(a, id, out_json, eb);
    }
    rc = opc__acct_end(a, rc, eb);
    if (rc != OPC_OK) {
        opc__free(*out_json);
        *out_json = NULL;
    }
    opc__free(row.name);
    opc__free(row.description);
    opc__free(attrs);
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

static opc_err vault_delete(opc_account *a, const char *vault, opc__ebuf *eb)
{
    opc_err rc = opc__acct_begin(a, true, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char id[OPC_ID_LEN + 1];
    rc = opc__acct_vault_resolve(a, vault, id, eb);
    /* Each server that held the vault learns that its grant is gone. */
    if (rc == OPC_OK) {
        rc = opc__acct_server_grants_gone(a, id, NULL, eb);
    }
    if (rc == OPC_OK) {
        opc__change c = {.kind = OPC_CHANGE_VAULT_DELETE, .vault = id};
        int64_t seq = 0;
        rc = opc__acct_change(a, &c, &seq, eb);
    }
    if (rc == OPC_OK) {
        /* Items, files and grants go with it (ON DELETE CASCADE). */
        rc = opc__acct_run(a, NULL, eb, "DELETE FROM vaults WHERE id = ?", "t", id);
    }
    rc = opc__acct_end(a, rc, eb);
    if (rc == OPC_OK) {
        opc__acct_vault_key_drop(a, id);
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
