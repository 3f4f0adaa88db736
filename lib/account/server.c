/*
 * account/server.c - Connect servers: creation (keys, T, signed grants; the
 * credentials file is made by the caller, account/server.h), rename,
 * grant/revoke, delete (design: schema.c).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "account/account_int.h"
#include "account/server.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/jwt.h"
#include "wire/labels.h"

#define ACL_ALL (OPC_ACL_READ | OPC_ACL_WRITE)
#define MAX_VAULTS 256

/* The owner's signature (b64url) on a server's public key. */
static opc_err sign_key(opc_account *a, opc__wire_server_key which, const char *server_id,
                        const char *jwk, char **out)
{
    opc__buf b;
    opc__buf_init(&b, false);
    opc_err rc = opc__wire_server_key_message(&b, which, a->id, server_id, jwk);
    if (rc == OPC_OK) {
        rc = opc__acct_sign(a, b.data, out);
    }
    opc__buf_free(&b);
    return rc;
}

/* ---- lookups ---- */

opc_err opc__acct_server_resolve(opc_account *a, const char *ref, char id[OPC_ID_LEN + 1],
                                 opc__ebuf *eb)
{
    if (ref[0] == '\0') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "a server name or id is required");
    }
    int64_t one = 0;
    bool found = false;
    opc_err rc = OPC_OK;
    if (opc__id_valid_str(ref)) {
        rc = opc__acct_query_int(a, &found, &one, eb,
                                 "SELECT 1 FROM servers WHERE id = ? AND state = 'active'", "t",
                                 ref);
        if (rc != OPC_OK || found) {
            if (rc == OPC_OK) {
                memcpy(id, ref, OPC_ID_LEN + 1);
            }
            return rc;
        }
    }
    sqlite3_stmt *st = NULL;
    rc = opc__acct_query(a, &st, eb,
                         "SELECT id FROM servers WHERE state = 'active' AND name = ? COLLATE "
                         "NOCASE ORDER BY id",
                         "t", ref);
    size_t n = 0;
    char list[3 * (OPC_ID_LEN + 2)] = "";
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        const char *sid = opc__acct_col_str(st, 0);
        if (n == 0) {
            (void)snprintf(id, OPC_ID_LEN + 1, "%s", sid);
        }
        if (n < 3) {
            size_t len = strlen(list);
            (void)snprintf(list + len, sizeof list - len, "%s%s", n > 0 ? ", " : "", sid);
        }
        n++;
    }
    sqlite3_finalize(st);
    if (rc == OPC_OK && n == 0) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "Connect server \"%s\" not found", ref);
    }
    if (rc == OPC_OK && n > 1) {
        rc = opc__fail(eb, OPC_ERR_CONFLICT, "server name \"%s\" matches %zu servers: %s", ref, n,
                       list);
    }
    return rc;
}

opc_err opc__acct_server_has_vault(opc_account *a, const char *server_id, const char *vault_id,
                                   bool *granted, opc__ebuf *eb)
{
    int64_t one = 0;
    return opc__acct_query_int(a, granted, &one, eb,
                               "SELECT 1 FROM vault_access WHERE vault_id = ? AND accessor_type "
                               "= 'server' AND accessor_id = ?",
                               "tt", vault_id, server_id);
}

/* The decrypted server record {"T", "name"}. */
static opc_err open_record(opc_account *a, const char *server_id, cJSON **out, opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    bool row = false;
    opc_err rc = opc__acct_query_row(a, &st, &row, eb, "SELECT record FROM servers WHERE id = ?",
                                     "t", server_id);
    if (rc == OPC_OK && !row) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "server %s not found", server_id);
    }
    if (rc == OPC_OK) {
        char aad[OPC_WIRE_LABEL_MAX];
        rc = opc__wire_server_record_aad(aad, sizeof aad, server_id);
        if (rc == OPC_OK) {
            rc = opc__acct_open_json(a->sym, aad, (const char *)sqlite3_column_text(st, 0),
                                     "server record", out, eb);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

opc_err opc__acct_server_secret(opc_account *a, const char *server_id, uint8_t T[32], opc__ebuf *eb)
{
    cJSON *rec = NULL;
    opc_err rc = open_record(a, server_id, &rec, eb);
    if (rc == OPC_OK) {
        const cJSON *t = opc__json_member(rec, "T");
        size_t n = 0;
        if (!cJSON_IsString(t) || t->valuestring == NULL ||
            opc__b64_decode_to(t->valuestring, strlen(t->valuestring), OPC_B64URL, T, 32, &n,
                               NULL) != OPC_OK ||
            n != 32) {
            rc = opc__fail(eb, OPC_ERR_DECRYPT, "server %s: the record is malformed", server_id);
        }
    }
    opc__json_delete_secret(rec);
    return rc;
}

/* The server's RSA public key, after checking the owner's signature on it. */
static opc_err server_enc_key(opc_account *a, const char *server_id, opc__key **out, opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    bool row = false;
    opc_err rc = opc__acct_query_row(
        a, &st, &row, eb, "SELECT enc_pub, enc_sig FROM servers WHERE id = ?", "t", server_id);
    if (rc == OPC_OK && !row) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "server %s not found", server_id);
    }
    opc__buf msg;
    opc__buf_init(&msg, false);
    if (rc == OPC_OK) {
        const char *jwk = opc__acct_col_str(st, 0);
        rc = opc__wire_server_key_message(&msg, OPC_WIRE_SERVER_ENC_KEY, a->id, server_id, jwk);
        if (rc == OPC_OK) {
            rc = opc__acct_verify(a, msg.data, (const char *)sqlite3_column_text(st, 1),
                                  "server key", eb);
        }
        if (rc == OPC_OK) {
            rc = opc__jwk_parse(jwk, strlen(jwk), OPC_JWK_PUBLIC_ONLY, out, NULL);
            if (rc == OPC_OK && opc__key_type(*out) != OPC_KTY_RSA) {
                opc__key_free(*out);
                *out = NULL;
                rc = OPC_ERR_KEY;
            }
            if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
                rc = opc__fail(eb, OPC_ERR_KEY, "server %s: malformed public key", server_id);
            }
        }
    }
    opc__buf_free(&msg);
    sqlite3_finalize(st);
    return rc;
}

/* Wrap a vault's key to the server and sign the grant (logged). */
static opc_err grant(opc_account *a, const char *server_id, const opc__key *enc_pub,
                     const char *vault_id, int64_t now, opc__ebuf *eb)
{
    const opc__key *vk = NULL;
    int64_t sn = 0;
    int64_t seq = 0;
    opc_err rc = opc__acct_vault_key(a, vault_id, &vk, &sn, eb);
    if (rc == OPC_OK) {
        opc__change c = {.kind = OPC_CHANGE_GRANT, .vault = vault_id, .server = server_id};
        rc = opc__acct_change(a, &c, &seq, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_grant_write(a, vault_id, sn, vk, "server", server_id, enc_pub, ACL_ALL, now,
                                   seq, eb);
    }
    return rc;
}

/* ---- JSON ---- */

static opc_err server_json(opc_account *a, const char *server_id, cJSON **out, opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    cJSON *o = NULL;
    bool row = false;
    opc_err rc = opc__acct_query_row(
        a, &st, &row, eb, "SELECT name, state, created, updated FROM servers WHERE id = ?", "t",
        server_id);
    if (rc == OPC_OK && !row) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "server %s not found", server_id);
    }
    if (rc == OPC_OK) {
        o = cJSON_CreateObject();
        if (o == NULL || cJSON_AddStringToObject(o, "id", server_id) == NULL ||
            cJSON_AddStringToObject(o, "name", opc__acct_col_str(st, 0)) == NULL ||
            cJSON_AddStringToObject(o, "state", opc__acct_col_str(st, 1)) == NULL ||
            cJSON_AddArrayToObject(o, "vaults") == NULL) {
            rc = OPC_ERR_NOMEM;
        }
    }
    if (rc == OPC_OK) {
        rc = opc__acct_add_time(o, "createdAt", sqlite3_column_int64(st, 2));
    }
    if (rc == OPC_OK) {
        rc = opc__acct_add_time(o, "updatedAt", sqlite3_column_int64(st, 3));
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == OPC_OK) {
        rc = opc__acct_query(a, &st, eb,
                             "SELECT vault_id FROM vault_access WHERE accessor_type = 'server' "
                             "AND accessor_id = ? ORDER BY vault_id",
                             "t", server_id);
    }
    cJSON *vaults = cJSON_GetObjectItemCaseSensitive(o, "vaults");
    while (rc == OPC_OK) {
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        char vid[OPC_ID_LEN + 1];
        char *name = NULL;
        (void)snprintf(vid, sizeof vid, "%s", opc__acct_col_str(st, 0));
        rc = opc__acct_vault_name(a, vid, &name, eb);
        if (rc == OPC_OK) {
            rc = opc__acct_vault_entry(vaults, vid, name, NULL);
        }
        opc__free(name);
    }
    sqlite3_finalize(st);
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

static opc_err print_server(opc_account *a, const char *server_id, char **out, opc__ebuf *eb)
{
    return opc__acct_print_json(a, server_id, server_json, out, eb);
}

static opc_err check_unique(opc_account *a, const char *name, const char *self, opc__ebuf *eb)
{
    bool found = false;
    int64_t one = 0;
    opc_err rc = opc__acct_query_int(a, &found, &one, eb,
                                     "SELECT 1 FROM servers WHERE state = 'active' AND name = ? "
                                     "COLLATE NOCASE AND id IS NOT ?",
                                     "tt", name, self);
    if (rc == OPC_OK && found) {
        rc = opc__fail(eb, OPC_ERR_EXISTS, "a Connect server named \"%s\" already exists", name);
    }
    return rc;
}

/* ---- create ---- */

typedef struct server_keys {
    char id[OPC_ID_LEN + 1];
    opc__key *device;
    opc__key *enc;
    opc__key *enc_pub;
    opc__key *sym;
    opc__key *issuer;
    uint8_t T[OPC_ACCOUNT_SERVER_SECRET_LEN];
    char *device_pub;
    char *device_sig;
    char *enc_pub_text;
    char *enc_sig;
    char *record;
    char *creds;
    size_t creds_len;
} server_keys;

static void server_keys_free(server_keys *k)
{
    opc__key_free(k->device);
    opc__key_free(k->enc);
    opc__key_free(k->enc_pub);
    opc__key_free(k->sym);
    opc__key_free(k->issuer);
    opc__free(k->device_pub);
    opc__free(k->device_sig);
    opc__free(k->enc_pub_text);
    opc__free(k->enc_sig);
    opc__free(k->record);
    opc__secret_free(k->creds, k->creds_len);
    opc__wipe(k, sizeof *k);
}

static opc_err make_record(opc_account *a, server_keys *k, const char *name)
{
    char aad[OPC_WIRE_LABEL_MAX];
    char t64[48];
    cJSON *rec = cJSON_CreateObject();
    opc_err rc = rec == NULL ? OPC_ERR_NOMEM : OPC_OK;
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(k->T, sizeof k->T, OPC_B64URL, t64, sizeof t64, NULL);
    }
    if (rc == OPC_OK && (cJSON_AddStringToObject(rec, "T", t64) == NULL ||
                         cJSON_AddStringToObject(rec, "name", name) == NULL)) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = opc__wire_server_record_aad(aad, sizeof aad, k->id);
    }
    if (rc == OPC_OK) {
        opc__free(k->record);
        k->record = NULL;
        rc = opc__acct_seal_json(a->sym, aad, rec, &k->record);
    }
    opc__wipe(t64, sizeof t64);
    opc__json_delete_secret(rec);
    return rc;
}

static opc_err make_server(opc_account *a, server_keys *k, const char *name, const char *upstream,
                           const char *upstream_pin, opc__acct_creds_fn creds, opc__ebuf *eb)
{
    opc_err rc = opc__id_generate(k->id);
    if (rc == OPC_OK) {
        rc = opc__key_generate_ec(k->id, OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &k->device);
    }
    if (rc == OPC_OK) {
        rc = opc__key_generate_rsa(k->id, OPC_KEYOP_WRAP | OPC_KEYOP_UNWRAP, &k->enc);
    }
    if (rc == OPC_OK) {
        rc = opc__key_public(k->enc, &k->enc_pub);
    }
    if (rc == OPC_OK) {
        rc = opc__key_generate_oct(k->id, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &k->sym);
    }
    if (rc == OPC_OK) {
        rc = opc__key_public(a->sign, &k->issuer);
    }
    if (rc == OPC_OK) {
        rc = opc__rand_priv_bytes(k->T, sizeof k->T);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_jwk_text(k->device, false, &k->device_pub);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_jwk_text(k->enc, false, &k->enc_pub_text);
    }
    if (rc == OPC_OK) {
        rc = sign_key(a, OPC_WIRE_SERVER_DEVICE_KEY, k->id, k->device_pub, &k->device_sig);
    }
    if (rc == OPC_OK) {
        rc = sign_key(a, OPC_WIRE_SERVER_ENC_KEY, k->id, k->enc_pub_text, &k->enc_sig);
    }
    if (rc == OPC_OK) {
        rc = make_record(a, k, name);
    }
    if (rc == OPC_OK) {
        opc__acct_new_server s = {
            .server_id = k->id,
            .account_id = a->id,
            .service_url = upstream != NULL ? upstream : a->path,
            .upstream_pin = upstream_pin,
            .device_key = k->device,
            .issuer_key = k->issuer,
            .enc_key = k->enc,
            .sym_key = k->sym,
            .T = k->T,
        };
        rc = creds(&s, &k->creds, &k->creds_len, eb);
    }
    return rc;
}

static opc_err server_create(opc_account *a, const char *name, const char *const *vaults,
                             size_t n_vaults, const char *upstream, const char *upstream_pin,
                             opc__acct_creds_fn creds, char **out_json, opc_secret **out_creds,
                             opc__ebuf *eb)
{
    opc_err rc = opc__acct_check_name(name, OPC_ACCOUNT_MAX_NAME, "server name", eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (n_vaults == 0 || n_vaults > MAX_VAULTS) {
        return opc__fail(eb, OPC_ERR_RANGE, "a Connect server needs 1 to %d vaults", MAX_VAULTS);
    }
    for (size_t i = 0; i < n_vaults; i++) {
        if (vaults[i] == NULL) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "vault %zu is NULL", i);
        }
    }
    server_keys k;
    memset(&k, 0, sizeof k);
    char(*ids)[OPC_ID_LEN + 1] = opc__calloc(n_vaults, sizeof *ids);
    if (ids == NULL) {
        return OPC_ERR_NOMEM;
    }
    int64_t now = opc__now_s();
    int64_t seq = 0;
    rc = make_server(a, &k, name, upstream, upstream_pin, creds, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_begin(a, true, eb);
        if (rc == OPC_OK) {
            rc = check_unique(a, name, NULL, eb);
            for (size_t i = 0; rc == OPC_OK && i < n_vaults; i++) {
                rc = opc__acct_vault_resolve(a, vaults[i], ids[i], eb);
            }
            if (rc == OPC_OK) {
                opc__change c = {.kind = OPC_CHANGE_SERVER_CREATE, .server = k.id};
                rc = opc__acct_change(a, &c, &seq, eb);
            }
            if (rc == OPC_OK) {
                rc = opc__acct_run(a, NULL, eb,
                                   "INSERT INTO servers (id, name, state, device_pub, device_sig, "
                                   "enc_pub, enc_sig, record, created, updated, seq) VALUES (?, ?, "
                                   "'active', ?, ?, ?, ?, ?, ?, ?, ?)",
                                   "tttttttiii", k.id, name, k.device_pub, k.device_sig,
                                   k.enc_pub_text, k.enc_sig, k.record, now, now, seq);
            }
            for (size_t i = 0; rc == OPC_OK && i < n_vaults; i++) {
                bool dup = false;
                for (size_t j = 0; j < i; j++) {
                    dup = dup || strcmp(ids[i], ids[j]) == 0;
                }
                if (!dup) {
                    rc = grant(a, k.id, k.enc_pub, ids[i], now, eb);
                }
            }
            if (rc == OPC_OK) {
                rc = print_server(a, k.id, out_json, eb);
            }
            if (rc == OPC_OK) {
                rc = opc__secret_new(k.creds, k.creds_len, out_creds);
            }
            rc = opc__acct_end(a, rc, eb);
        }
    }
    if (rc != OPC_OK) {
        opc__free(*out_json);
        *out_json = NULL;
        opc_secret_free(*out_creds);
        *out_creds = NULL;
    }
    opc__free(ids);
    server_keys_free(&k);
    return rc;
}

opc_err opc__acct_server_create(opc_account *a, const char *name, const char *const *vaults,
                                size_t n_vaults, const char *upstream, const char *upstream_pin,
                                opc__acct_creds_fn creds, char **out_json,
                                opc_secret **out_credentials)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED,
                                 name != NULL && vaults != NULL && out_json != NULL &&
                                     out_credentials != NULL,
                                 out_json, out_credentials, &eb);
    if (rc == OPC_OK) {
        rc = server_create(a, name, vaults, n_vaults, upstream, upstream_pin, creds, out_json,
                           out_credentials, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

/* ---- list / get / rename ---- */

static opc_err server_list(opc_account *a, const char *ref, char **out_json, opc__ebuf *eb)
{
    (void)ref;
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__acct_prepare(a,
                                   "SELECT id FROM servers WHERE state = 'active' ORDER BY name "
                                   "COLLATE NOCASE, name, id",
                                   &st, eb);
    return rc == OPC_OK ? opc__acct_print_ids(a, st, server_json, out_json, eb) : rc;
}

opc_err opc_account_server_list(opc_account *a, char **out_json)
{
    return opc__acct_show(a, NULL, NULL, out_json, server_list);
}

opc_err opc_account_server_get(opc_account *a, const char *server, char **out_json)
{
    return opc__acct_show(a, server, opc__acct_server_resolve, out_json, print_server);
}

static opc_err server_rename(opc_account *a, const char *server, const char *new_name,
                             char **out_json, opc__ebuf *eb)
{
    opc_err rc = opc__acct_check_name(new_name, OPC_ACCOUNT_MAX_NAME, "server name", eb);
    if (rc == OPC_OK) {
        rc = opc__acct_begin(a, true, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    server_keys k;
    memset(&k, 0, sizeof k);
    int64_t seq = 0;
    rc = opc__acct_server_resolve(a, server, k.id, eb);
    if (rc == OPC_OK) {
        rc = check_unique(a, new_name, k.id, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_server_secret(a, k.id, k.T, eb);
    }
    if (rc == OPC_OK) {
        rc = make_record(a, &k, new_name);
    }
    if (rc == OPC_OK) {
        opc__change c = {.kind = OPC_CHANGE_SERVER_UPDATE, .server = k.id};
        rc = opc__acct_change(a, &c, &seq, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_run(a, NULL, eb,
                           "UPDATE servers SET name = ?, record = ?, updated = ?, seq = ? WHERE id "
                           "= ?",
                           "ttiit", new_name, k.record, opc__now_s(), seq, k.id);
    }
    if (rc == OPC_OK) {
        rc = print_server(a, k.id, out_json, eb);
    }
    rc = opc__acct_end(a, rc, eb);
    if (rc != OPC_OK) {
        opc__free(*out_json);
        *out_json = NULL;
    }
    server_keys_free(&k);
    return rc;
}

opc_err opc_account_server_rename(opc_account *a, const char *server, const char *new_name,
                                  char **out_json)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED,
                                 server != NULL && new_name != NULL && out_json != NULL, out_json,
                                 NULL, &eb);
    if (rc == OPC_OK) {
        rc = server_rename(a, server, new_name, out_json, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

/* ---- delete / grant / revoke ---- */

static opc_err revoke_grant(opc_account *a, const char *server_id, const char *vault_id,
                            opc__ebuf *eb)
{
    int64_t seq = 0;
    opc__change c = {.kind = OPC_CHANGE_GRANT_REVOKE, .vault = vault_id, .server = server_id};
    opc_err rc = opc__acct_change(a, &c, &seq, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_run(a, NULL, eb,
                           "DELETE FROM vault_access WHERE vault_id = ? AND accessor_type = "
                           "'server' AND accessor_id = ?",
                           "tt", vault_id, server_id);
    }
    return rc;
}

opc_err opc__acct_server_grants_gone(opc_account *a, const char *vault_id, const char *server_id,
                                     opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__acct_query(a, &st, eb,
                                 "SELECT vault_id, accessor_id FROM vault_access WHERE "
                                 "accessor_type = 'server' AND (?1 IS NULL OR vault_id = ?1) AND "
                                 "(?2 IS NULL OR accessor_id = ?2) ORDER BY vault_id, accessor_id",
                                 "tt", vault_id, server_id);
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        char vid[OPC_ID_LEN + 1];
        char sid[OPC_ID_LEN + 1];
        (void)snprintf(vid, sizeof vid, "%s", opc__acct_col_str(st, 0));
        (void)snprintf(sid, sizeof sid, "%s", opc__acct_col_str(st, 1));
        opc__change c = {.kind = OPC_CHANGE_GRANT_REVOKE, .vault = vid, .server = sid};
        int64_t seq = 0;
        rc = opc__acct_change(a, &c, &seq, eb);
    }
    sqlite3_finalize(st);
    return rc;
}

static opc_err server_delete(opc_account *a, const char *server, opc__ebuf *eb)
{
    opc_err rc = opc__acct_begin(a, true, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char id[OPC_ID_LEN + 1];
    int64_t now = opc__now_s();
    int64_t seq = 0;
    rc = opc__acct_server_resolve(a, server, id, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_tokens_revoke_server(a, id, now, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_server_grants_gone(a, NULL, id, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_run(a, NULL, eb,
                           "DELETE FROM vault_access WHERE accessor_type = 'server' AND "
                           "accessor_id = ?",
                           "t", id);
    }
    if (rc == OPC_OK) {
        opc__change c = {.kind = OPC_CHANGE_SERVER_DELETE, .server = id};
        rc = opc__acct_change(a, &c, &seq, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_run(a, NULL, eb,
                           "UPDATE servers SET state = 'deleted', device_pub = NULL, device_sig = "
                           "NULL, enc_pub = NULL, enc_sig = NULL, record = NULL, updated = ?, seq "
                           "= ? WHERE id = ?",
                           "iit", now, seq, id);
    }
    return opc__acct_end(a, rc, eb);
}

opc_err opc_account_server_delete(opc_account *a, const char *server)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, server != NULL, NULL, NULL, &eb);
    if (rc == OPC_OK) {
        rc = server_delete(a, server, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

static opc_err server_grant(opc_account *a, const char *server, const char *vault, bool add,
                            opc__ebuf *eb)
{
    opc_err rc = opc__acct_begin(a, true, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char sid[OPC_ID_LEN + 1];
    char vid[OPC_ID_LEN + 1];
    bool granted = false;
    opc__key *enc_pub = NULL;
    rc = opc__acct_server_resolve(a, server, sid, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_vault_resolve(a, vault, vid, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_server_has_vault(a, sid, vid, &granted, eb);
    }
    if (rc == OPC_OK && add && !granted) {
        rc = server_enc_key(a, sid, &enc_pub, eb);
        if (rc == OPC_OK) {
            rc = grant(a, sid, enc_pub, vid, opc__now_s(), eb);
        }
    } else if (rc == OPC_OK && !add) {
        rc = granted ? revoke_grant(a, sid, vid, eb)
                     : opc__fail(eb, OPC_ERR_NOT_FOUND, "vault %s is not granted to server %s",
                                 vault, server);
    }
    opc__key_free(enc_pub);
    return opc__acct_end(a, rc, eb);
}

/* The public call of grant (add) and revoke. */
static opc_err grant_call(opc_account *a, const char *server, const char *vault, bool add)
{
    opc__ebuf eb;
    opc_err rc =
        opc__acct_enter(a, OPC__ACCT_UNLOCKED, server != NULL && vault != NULL, NULL, NULL, &eb);
    if (rc == OPC_OK) {
        rc = server_grant(a, server, vault, add, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

opc_err opc_account_server_grant(opc_account *a, const char *server, const char *vault)
{
    return grant_call(a, server, vault, true);
}

opc_err opc_account_server_revoke(opc_account *a, const char *server, const char *vault)
{
    return grant_call(a, server, vault, false);
}
