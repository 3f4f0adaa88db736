/*
 * account/server.c - Connect servers: creation (keys, T, signed grants; the
 * credentials file is made by the caller, account/server.h), list, get,
 * rename, grant/revoke, delete (design: schema.c).
 *
 * Store protocol (rows.h; docs/protocol.md, "Servers, converted"): no SQL
 * here. Every call is a read phase (named reads), then compute and crypto
 * in the client (keys, the sealed record, vault keys wrapped to the server
 * and the owner's signatures on the grants), then ONE write batch whose
 * preconditions make it equivalent to the former single transaction: a
 * server row is changed only at the seq read (its version), the name is
 * still free, a grant is written only while its vault's key is still the
 * one wrapped, and a delete revokes exactly the tokens and grants it read.
 * The outputs are made before the batch, so a call that fails committed
 * nothing; a conflict committed nothing either, and the call starts again
 * from its read phase (OPC__SERVER_TRIES attempts; the keys and the
 * credentials of a new server are made once, before the first).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
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
#include "crypto/rsa.h"
#include "wire/labels.h"

#define ACL_ALL (OPC_ACL_READ | OPC_ACL_WRITE)
#define MAX_VAULTS 256
/* A create's batch: the name guard, server_create and the row, then a change
 * and a row per distinct vault, within one batch (OPC__RPC_MAX_PLAIN_STEPS). */
#define MAX_DISTINCT_VAULTS ((OPC__RPC_MAX_PLAIN_STEPS - 3) / 2)
#define VAULT_KEY_LEN 32

/* Columns of server.show (rows.c): one row per (server, granted vault). */
enum { S_ID, S_NAME, S_CREATED, S_UPDATED, S_SEQ, S_VAULT };

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

/* Run b; a conflict (rows changed since they were read) sets *stale. */
static opc_err run_batch(opc_account *a, opc__rows_batch *b, bool *stale, opc__ebuf *eb)
{
    opc_err rc = opc__rows_batch_run(a->rows, b, eb);
    *stale = rc == OPC_ERR_CONFLICT;
    return rc;
}

/* ---- lookups ---- */

opc_err opc__acct_server_resolve(opc_account *a, const char *ref, char id[OPC_ID_LEN + 1],
                                 opc__ebuf *eb)
{
    if (ref[0] == '\0') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "a server name or id is required");
    }
    cJSON *rows = NULL;
    opc_err rc = OPC_OK;
    if (opc__id_valid_str(ref)) {
        rc = opc__rows_read(a->rows, "server.is_active", &rows, eb, "t", ref);
        bool found = cJSON_GetArraySize(rows) > 0;
        cJSON_Delete(rows);
        rows = NULL;
        if (rc != OPC_OK || found) {
            if (rc == OPC_OK) {
                memcpy(id, ref, OPC_ID_LEN + 1);
            }
            return rc;
        }
    }
    rc = opc__rows_read(a->rows, "server.find_name", &rows, eb, "t", ref);
    size_t n = 0;
    char list[3 * (OPC_ID_LEN + 2)] = "";
    const cJSON *row = NULL;
    cJSON_ArrayForEach(row, rows)
    {
        const char *sid = opc__rows_str(row, 0);
        if (n == 0) {
            (void)snprintf(id, OPC_ID_LEN + 1, "%s", sid);
        }
        if (n < 3) {
            size_t len = strlen(list);
            (void)snprintf(list + len, sizeof list - len, "%s%s", n > 0 ? ", " : "", sid);
        }
        n++;
    }
    cJSON_Delete(rows);
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
    cJSON *rows = NULL;
    opc_err rc =
        opc__rows_read(a->rows, "access.server_vault", &rows, eb, "tt", vault_id, server_id);
    *granted = rc == OPC_OK && cJSON_GetArraySize(rows) > 0;
    cJSON_Delete(rows);
    return rc;
}

/* The one row of a one-row read (*rows: cJSON_Delete); OPC_ERR_NOT_FOUND without one. */
static opc_err server_row(opc_account *a, const char *stmt, const char *server_id, cJSON **rows,
                          const cJSON **row, opc__ebuf *eb)
{
    opc_err rc = opc__rows_read(a->rows, stmt, rows, eb, "t", server_id);
    *row = rc == OPC_OK ? cJSON_GetArrayItem(*rows, 0) : NULL;
    if (rc == OPC_OK && *row == NULL) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "server %s not found", server_id);
    }
    return rc;
}

/* The decrypted server record {"T", "name"}. */
static opc_err open_record(opc_account *a, const char *server_id, cJSON **out, opc__ebuf *eb)
{
    cJSON *rows = NULL;
    const cJSON *row = NULL;
    opc_err rc = server_row(a, "server.record", server_id, &rows, &row, eb);
    if (rc == OPC_OK) {
        char aad[OPC_WIRE_LABEL_MAX];
        rc = opc__wire_server_record_aad(aad, sizeof aad, server_id);
        if (rc == OPC_OK) {
            rc = opc__acct_open_json(a->sym, aad, opc__rows_str(row, 0), "server record", out, eb);
        }
    }
    cJSON_Delete(rows);
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
    cJSON *rows = NULL;
    const cJSON *row = NULL;
    opc_err rc = server_row(a, "server.enc_key", server_id, &rows, &row, eb);
    opc__buf msg;
    opc__buf_init(&msg, false);
    if (rc == OPC_OK) {
        const char *jwk = opc__rows_str(row, 0);
        rc = opc__wire_server_key_message(&msg, OPC_WIRE_SERVER_ENC_KEY, a->id, server_id, jwk);
        if (rc == OPC_OK) {
            rc = opc__acct_verify(a, msg.data, opc__rows_str(row, 1), "server key", eb);
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
    cJSON_Delete(rows);
    return rc;
}

/* ---- grants ---- */

void opc__acct_grant_sealed_free(opc__grant_sealed *g)
{
    opc__free(g->enc_key);
    opc__free(g->sig);
    memset(g, 0, sizeof *g);
}

opc_err opc__acct_grant_prepare(opc_account *a, const char *vault_id, const char *accessor_type,
                                const char *accessor_id, const opc__key *accessor_pub, unsigned acl,
                                int64_t now, opc__grant_sealed *out, opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    const opc__key *vk = NULL;
    int64_t sn = 0;
    opc_err rc = opc__acct_vault_key(a, vault_id, &vk, &sn, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_grant_seal(a, vault_id, sn, vk, accessor_type, accessor_id, accessor_pub,
                                  acl, now, &out->enc_key, &out->sig, eb);
    }
    if (rc != OPC_OK) {
        opc__acct_grant_sealed_free(out);
        return rc;
    }
    (void)snprintf(out->vault, sizeof out->vault, "%s", vault_id);
    out->sn = sn;
    out->acl = acl;
    out->granted = now;
    return OPC_OK;
}

/* Add the grant (logged) of g to the server to b: written only while the
 * vault's key is still at g->sn (0 rows otherwise: a conflict). */
static void batch_grant(opc__rows_batch *b, const char *server_id, const opc__grant_sealed *g)
{
    opc__change c = {.kind = OPC_CHANGE_GRANT, .vault = g->vault, .server = server_id};
    int k = opc__acct_batch_change(b, &c, g->granted);
    opc__rows_batch_add(b, "access.grant_server", 1, "ttitiitq", g->vault, server_id, g->sn,
                        g->enc_key, (int64_t)g->acl, g->granted, g->sig, k);
}

opc_err opc__acct_server_grants_gone_steps(opc_account *a, opc__rows_batch *b, const char *vault_id,
                                           const char *server_id, int64_t now, size_t *n,
                                           opc__ebuf *eb)
{
    cJSON *rows = NULL;
    opc_err rc =
        opc__rows_read(a->rows, "access.server_grants", &rows, eb, "tt", vault_id, server_id);
    *n = 0;
    const cJSON *row = NULL;
    cJSON_ArrayForEach(row, rows)
    {
        opc__change c = {.kind = OPC_CHANGE_GRANT_REVOKE,
                         .vault = opc__rows_str(row, 0),
                         .server = opc__rows_str(row, 1)};
        (void)opc__acct_batch_change(b, &c, now);
        (*n)++;
    }
    cJSON_Delete(rows);
    return rc;
}

/* ---- JSON ---- */

/* A server's JSON without its vaults (server_add_vault adds them, in vault id order). */
static opc_err server_obj(const char *id, const char *name, int64_t created, int64_t updated,
                          cJSON **out)
{
    cJSON *o = cJSON_CreateObject();
    opc_err rc = OPC_OK;
    if (o == NULL || cJSON_AddStringToObject(o, "id", id) == NULL ||
        cJSON_AddStringToObject(o, "name", name) == NULL ||
        cJSON_AddStringToObject(o, "state", "active") == NULL ||
        cJSON_AddArrayToObject(o, "vaults") == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = opc__acct_add_time(o, "createdAt", created);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_add_time(o, "updatedAt", updated);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

static opc_err server_add_vault(opc_account *a, cJSON *o, const char *vault_id, opc__ebuf *eb)
{
    char *name = NULL;
    opc_err rc = opc__acct_vault_name(a, vault_id, &name, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_vault_entry(cJSON_GetObjectItemCaseSensitive(o, "vaults"), vault_id, name,
                                   NULL);
    }
    opc__free(name);
    return rc;
}

/* The servers of server.show's rows (one row per server and granted vault,
 * a server's rows together), appended to arr. */
static opc_err shown_servers(opc_account *a, const cJSON *rows, cJSON *arr, opc__ebuf *eb)
{
    opc_err rc = OPC_OK;
    cJSON *o = NULL;
    const char *cur = NULL;
    const cJSON *row = NULL;
    cJSON_ArrayForEach(row, rows)
    {
        const char *id = opc__rows_str(row, S_ID);
        if (cur == NULL || strcmp(cur, id) != 0) {
            rc = server_obj(id, opc__rows_str(row, S_NAME), opc__rows_int(row, S_CREATED),
                            opc__rows_int(row, S_UPDATED), &o);
            if (rc == OPC_OK && !cJSON_AddItemToArray(arr, o)) {
                cJSON_Delete(o);
                rc = OPC_ERR_NOMEM;
            }
            cur = id;
        }
        if (rc == OPC_OK && !opc__rows_null(row, S_VAULT)) {
            rc = server_add_vault(a, o, opc__rows_str(row, S_VAULT), eb);
        }
        if (rc != OPC_OK) {
            break;
        }
    }
    return rc;
}

/* server.show of one active server (*rows: cJSON_Delete; *row its first row). */
static opc_err show_one(opc_account *a, const char *server_id, cJSON **rows, const cJSON **row,
                        opc__ebuf *eb)
{
    return server_row(a, "server.show", server_id, rows, row, eb);
}

/* The JSON of the active servers (server_id NULL) or of one, printed into *out. */
static opc_err server_show(opc_account *a, const char *server_id, const char *ref, char **out,
                           opc__ebuf *eb)
{
    cJSON *rows = NULL;
    opc_err rc = opc__rows_read(a->rows, "server.show", &rows, eb, "t", server_id);
    cJSON *arr = NULL;
    if (rc == OPC_OK) {
        arr = cJSON_CreateArray();
        rc = arr == NULL ? OPC_ERR_NOMEM : shown_servers(a, rows, arr, eb);
    }
    if (rc == OPC_OK && server_id != NULL && cJSON_GetArraySize(arr) == 0) {
        /* deleted since it was resolved */
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "Connect server \"%s\" not found", ref);
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(server_id != NULL ? cJSON_GetArrayItem(arr, 0) : arr, out, NULL);
    }
    cJSON_Delete(arr);
    cJSON_Delete(rows);
    return rc;
}

/* OPC_ERR_EXISTS when another active server (self: NULL or the one renamed) has the name. */
static opc_err check_unique(opc_account *a, const char *name, const char *self, opc__ebuf *eb)
{
    cJSON *rows = NULL;
    opc_err rc = opc__rows_read(a->rows, "server.name_taken", &rows, eb, "tt", name, self);
    if (rc == OPC_OK && cJSON_GetArraySize(rows) > 0) {
        rc = opc__fail(eb, OPC_ERR_EXISTS, "a Connect server named \"%s\" already exists", name);
    }
    cJSON_Delete(rows);
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

/* What a create grants: the distinct vaults in the order given, each sealed. */
typedef struct grants {
    char (*ids)[OPC_ID_LEN + 1];
    opc__grant_sealed *g;
    size_t n;
} grants;

static void grants_clear(grants *gs)
{
    for (size_t i = 0; gs->g != NULL && i < gs->n; i++) {
        opc__acct_grant_sealed_free(&gs->g[i]);
    }
    gs->n = 0;
}

static int cmp_ids(const void *x, const void *y)
{
    const char *const *p = x;
    const char *const *q = y;
    return strcmp(*p, *q);
}

/* The new server's JSON (its vaults in id order, as server.show gives them). */
static opc_err created_json(opc_account *a, const server_keys *k, const char *name,
                            const grants *gs, int64_t now, char **out, opc__ebuf *eb)
{
    cJSON *o = NULL;
    const char **order = opc__calloc(gs->n, sizeof *order);
    opc_err rc = order == NULL ? OPC_ERR_NOMEM : server_obj(k->id, name, now, now, &o);
    for (size_t i = 0; order != NULL && i < gs->n; i++) {
        order[i] = gs->g[i].vault;
    }
    if (rc == OPC_OK) {
        qsort((void *)order, gs->n, sizeof *order, cmp_ids);
    }
    for (size_t i = 0; rc == OPC_OK && i < gs->n; i++) {
        rc = server_add_vault(a, o, order[i], eb);
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(o, out, NULL);
    }
    cJSON_Delete(o);
    opc__free(order);
    return rc;
}

/* One attempt: read phase (name, vaults, vault keys), seal the grants, the
 * outputs, one batch. */
static opc_err create_once(opc_account *a, const server_keys *k, const char *name,
                           const char *const *vaults, size_t n_vaults, grants *gs, char **out_json,
                           opc_secret **out_creds, bool *stale, opc__ebuf *eb)
{
    int64_t now = opc__now_s();
    grants_clear(gs);
    opc_err rc = check_unique(a, name, NULL, eb);
    for (size_t i = 0; rc == OPC_OK && i < n_vaults; i++) {
        char id[OPC_ID_LEN + 1];
        rc = opc__acct_vault_resolve(a, vaults[i], id, eb);
        bool dup = false;
        for (size_t j = 0; rc == OPC_OK && j < gs->n; j++) {
            dup = dup || strcmp(gs->ids[j], id) == 0;
        }
        if (rc == OPC_OK && !dup) {
            memcpy(gs->ids[gs->n++], id, sizeof id);
        }
    }
    if (rc == OPC_OK && gs->n > MAX_DISTINCT_VAULTS) {
        rc = opc__fail(eb, OPC_ERR_RANGE, "a Connect server is created with at most %d vaults",
                       MAX_DISTINCT_VAULTS);
    }
    size_t sealed = 0;
    for (; rc == OPC_OK && sealed < gs->n; sealed++) {
        rc = opc__acct_grant_prepare(a, gs->ids[sealed], "server", k->id, k->enc_pub, ACL_ALL, now,
                                     &gs->g[sealed], eb);
    }
    if (rc != OPC_OK) {
        gs->n = sealed; /* what grants_clear frees */
    }
    if (rc == OPC_OK) {
        rc = created_json(a, k, name, gs, now, out_json, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__secret_new(k->creds, k->creds_len, out_creds);
    }
    if (rc == OPC_OK) {
        opc__rows_batch b;
        opc__rows_batch_init(&b);
        opc__rows_batch_add(&b, "server.name_taken", 0, "tn", name);
        opc__change c = {.kind = OPC_CHANGE_SERVER_CREATE, .server = k->id};
        int q = opc__acct_batch_change(&b, &c, now);
        opc__rows_batch_add(&b, "server.insert", 1, "tttttttiiq", k->id, name, k->device_pub,
                            k->device_sig, k->enc_pub_text, k->enc_sig, k->record, now, now, q);
        for (size_t i = 0; i < gs->n; i++) {
            batch_grant(&b, k->id, &gs->g[i]);
        }
        rc = run_batch(a, &b, stale, eb);
        opc__rows_batch_free(&b);
    }
    if (rc != OPC_OK) {
        opc__free(*out_json);
        *out_json = NULL;
        opc_secret_free(*out_creds);
        *out_creds = NULL;
    }
    grants_clear(gs);
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
    if (upstream == NULL && a->address != NULL) {
        /* Through an account server: the server syncs from that server,
         * whose pin came with the account row (MAC'd by the session). */
        upstream = a->address;
        upstream_pin = upstream_pin != NULL ? upstream_pin : a->server_pin;
        if (upstream_pin[0] == '\0') {
            return opc__fail(eb, OPC_ERR_INVALID_ARG,
                             "the account server's key pin is unknown: give it (--upstream-pin)");
        }
    }
    for (size_t i = 0; i < n_vaults; i++) {
        if (vaults[i] == NULL) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "vault %zu is NULL", i);
        }
    }
    server_keys k;
    memset(&k, 0, sizeof k);
    grants gs = {opc__calloc(n_vaults, sizeof *gs.ids), opc__calloc(n_vaults, sizeof *gs.g), 0};
    rc = gs.ids == NULL || gs.g == NULL ? OPC_ERR_NOMEM : OPC_OK;
    if (rc == OPC_OK) {
        rc = make_server(a, &k, name, upstream, upstream_pin, creds, eb);
    }
    /* A conflict committed nothing: the same server, from a new read. */
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__SERVER_TRIES; i++) {
        again = false;
        rc = create_once(a, &k, name, vaults, n_vaults, &gs, out_json, out_creds, &again, eb);
    }
    opc__free(gs.ids);
    opc__free(gs.g);
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

opc_err opc_account_server_list(opc_account *a, char **out_json)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, out_json != NULL, out_json, NULL, &eb);
    if (rc == OPC_OK) {
        rc = server_show(a, NULL, NULL, out_json, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

opc_err opc_account_server_get(opc_account *a, const char *server, char **out_json)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, server != NULL && out_json != NULL,
                                 out_json, NULL, &eb);
    char id[OPC_ID_LEN + 1];
    if (rc == OPC_OK) {
        rc = opc__acct_server_resolve(a, server, id, &eb);
    }
    if (rc == OPC_OK) {
        rc = server_show(a, id, server, out_json, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

/* The renamed server's JSON (its row as the rename leaves it), made before the batch. */
static opc_err renamed_json(opc_account *a, const cJSON *rows, const char *new_name, int64_t now,
                            char **out, opc__ebuf *eb)
{
    cJSON *arr = cJSON_CreateArray();
    opc_err rc = arr == NULL ? OPC_ERR_NOMEM : shown_servers(a, rows, arr, eb);
    cJSON *o = cJSON_GetArrayItem(arr, 0);
    cJSON *name = NULL;
    if (rc == OPC_OK) {
        name = cJSON_CreateString(new_name);
        rc = name == NULL || !cJSON_ReplaceItemInObjectCaseSensitive(o, "name", name)
                 ? OPC_ERR_NOMEM
                 : OPC_OK;
        if (rc != OPC_OK) {
            cJSON_Delete(name);
        }
    }
    if (rc == OPC_OK) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "updatedAt");
        rc = opc__acct_add_time(o, "updatedAt", now);
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(o, out, NULL);
    }
    cJSON_Delete(arr);
    return rc;
}

static opc_err rename_once(opc_account *a, const char *server, const char *new_name,
                           char **out_json, bool *stale, opc__ebuf *eb)
{
    server_keys k;
    memset(&k, 0, sizeof k);
    int64_t now = opc__now_s();
    cJSON *rows = NULL;
    const cJSON *row = NULL;
    opc_err rc = opc__acct_server_resolve(a, server, k.id, eb);
    if (rc == OPC_OK) {
        rc = check_unique(a, new_name, k.id, eb);
    }
    if (rc == OPC_OK) { /* its version first: a change after this read moves it */
        rc = show_one(a, k.id, &rows, &row, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_server_secret(a, k.id, k.T, eb);
    }
    if (rc == OPC_OK) {
        rc = make_record(a, &k, new_name);
    }
    if (rc == OPC_OK) {
        rc = renamed_json(a, rows, new_name, now, out_json, eb);
    }
    if (rc == OPC_OK) {
        opc__rows_batch b;
        opc__rows_batch_init(&b);
        opc__rows_batch_add(&b, "server.name_taken", 0, "tt", new_name, k.id);
        opc__change c = {.kind = OPC_CHANGE_SERVER_UPDATE, .server = k.id};
        int q = opc__acct_batch_change(&b, &c, now);
        opc__rows_batch_add(&b, "server.rename", 1, "ttiqti", new_name, k.record, now, q, k.id,
                            opc__rows_int(row, S_SEQ));
        rc = run_batch(a, &b, stale, eb);
        opc__rows_batch_free(&b);
    }
    if (rc != OPC_OK) {
        opc__free(*out_json);
        *out_json = NULL;
    }
    cJSON_Delete(rows);
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
        rc = opc__acct_check_name(new_name, OPC_ACCOUNT_MAX_NAME, "server name", &eb);
    }
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__SERVER_TRIES; i++) {
        again = false;
        rc = rename_once(a, server, new_name, out_json, &again, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

/* ---- delete / grant / revoke ---- */

/*
 * One batch: each active token of the server revoked at the seq read (and
 * a guard that none is left), a grant_revoke per grant read and their rows
 * deleted (exactly as many), server_delete and the row emptied at its seq.
 */
static opc_err delete_once(opc_account *a, const char *server, bool *stale, opc__ebuf *eb)
{
    char id[OPC_ID_LEN + 1];
    int64_t now = opc__now_s();
    cJSON *rows = NULL;
    const cJSON *row = NULL;
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    size_t n_grants = 0;
    opc_err rc = opc__acct_server_resolve(a, server, id, eb);
    if (rc == OPC_OK) {
        rc = show_one(a, id, &rows, &row, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_tokens_revoke_steps(a, &b, id, now, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_server_grants_gone_steps(a, &b, NULL, id, now, &n_grants, eb);
    }
    if (rc == OPC_OK) {
        opc__rows_batch_add(&b, "access.revoke_all_server", (int64_t)n_grants, "t", id);
        opc__change c = {.kind = OPC_CHANGE_SERVER_DELETE, .server = id};
        int q = opc__acct_batch_change(&b, &c, now);
        opc__rows_batch_add(&b, "server.delete", 1, "iqti", now, q, id, opc__rows_int(row, S_SEQ));
        if ((b.rc == OPC_ERR_INVALID_ARG && b.n >= OPC__RPC_MAX_STEPS) ||
            b.n > OPC__RPC_MAX_PLAIN_STEPS || q + 1 > OPC__RPC_MAX_CHANGES) {
            rc = opc__fail(eb, OPC_ERR_RANGE,
                           "server %s has too many active tokens and grants to delete at once "
                           "(at most %d statements); revoke some tokens first",
                           id, OPC__RPC_MAX_PLAIN_STEPS);
        }
    }
    if (rc == OPC_OK) {
        rc = run_batch(a, &b, stale, eb);
    }
    opc__rows_batch_free(&b);
    cJSON_Delete(rows);
    return rc;
}

opc_err opc_account_server_delete(opc_account *a, const char *server)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, server != NULL, NULL, NULL, &eb);
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__SERVER_TRIES; i++) {
        again = false;
        rc = delete_once(a, server, &again, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

/* Grant (add) or revoke: the read phase decides; a batch only when something changes. */
static opc_err grant_once(opc_account *a, const char *server, const char *vault, bool add,
                          bool *stale, opc__ebuf *eb)
{
    char sid[OPC_ID_LEN + 1];
    char vid[OPC_ID_LEN + 1];
    opc__key *enc_pub = NULL;
    opc__grant_sealed g;
    memset(&g, 0, sizeof g);
    cJSON *rows = NULL;
    opc_err rc = opc__acct_server_resolve(a, server, sid, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_vault_resolve(a, vault, vid, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__rows_read(a->rows, "access.server_grant", &rows, eb, "tt", vid, sid);
    }
    const cJSON *row = cJSON_GetArrayItem(rows, 0);
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    if (rc == OPC_OK && add && row == NULL) {
        rc = server_enc_key(a, sid, &enc_pub, eb);
        if (rc == OPC_OK) {
            rc = opc__acct_grant_prepare(a, vid, "server", sid, enc_pub, ACL_ALL, opc__now_s(), &g,
                                         eb);
        }
        if (rc == OPC_OK) { /* the server is still active and the vault not granted meanwhile */
            opc__rows_batch_add(&b, "server.is_active", 1, "t", sid);
            opc__rows_batch_add(&b, "access.server_vault", 0, "tt", vid, sid);
            batch_grant(&b, sid, &g);
        }
    } else if (rc == OPC_OK && !add && row == NULL) {
        rc =
            opc__fail(eb, OPC_ERR_NOT_FOUND, "vault %s is not granted to server %s", vault, server);
    } else if (rc == OPC_OK && !add) {
        int64_t now = opc__now_s();
        opc__change c = {.kind = OPC_CHANGE_GRANT_REVOKE, .vault = vid, .server = sid};
        (void)opc__acct_batch_change(&b, &c, now);
        opc__rows_batch_add(&b, "access.revoke_server", 1, "tti", vid, sid, opc__rows_int(row, 0));
    }
    if (rc == OPC_OK) {
        rc = run_batch(a, &b, stale, eb); /* nothing to run: already granted */
    }
    opc__rows_batch_free(&b);
    opc__acct_grant_sealed_free(&g);
    opc__key_free(enc_pub);
    cJSON_Delete(rows);
    return rc;
}

/* The public call of grant (add) and revoke. */
static opc_err grant_call(opc_account *a, const char *server, const char *vault, bool add)
{
    opc__ebuf eb;
    opc_err rc =
        opc__acct_enter(a, OPC__ACCT_UNLOCKED, server != NULL && vault != NULL, NULL, NULL, &eb);
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__SERVER_TRIES; i++) {
        again = false;
        rc = grant_once(a, server, vault, add, &again, &eb);
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
