/*
 * account/token_registry.c - the Connect token registry: its JSON, list,
 * lookup by jti or name, rename and revoke (design: schema.c). Minting is
 * token.c.
 *
 * Converted to the owner's store protocol (rows.h): every call is a read
 * phase (named reads), then ONE write batch whose preconditions make it
 * equivalent to the former single transaction. A token row's seq (the seq
 * of its last change) is its version: rename and revoke change the row
 * only "WHERE seq = <the seq read>", expecting 1 row, so a concurrent
 * change of the same token is OPC_ERR_CONFLICT instead of a lost update,
 * and the public call reads again and retries (OPC__TOKEN_TRIES times).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "account/account_int.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/time.h"
#include "crypto/jwt.h"

/* Columns of token.get / token.list (rows.c). */
enum { C_JTI, C_SERVER, C_NAME, C_SCOPES, C_CREATED, C_EXPIRES, C_STATE, C_SEQ };

static const char *acl_text(unsigned acl)
{
    switch (acl) {
    case OPC_ACL_READ:
        return "r";
    case OPC_ACL_WRITE:
        return "w";
    default:
        return "rw";
    }
}

/* ---- registry JSON ---- */

/* The API's JSON of a token row (token.get's columns). */
static opc_err token_json(opc_account *a, const cJSON *row, cJSON **out, opc__ebuf *eb)
{
    const char *jti = opc__rows_str(row, C_JTI);
    const char *sc = opc__rows_str(row, C_SCOPES);
    cJSON *o = NULL;
    cJSON *scopes = NULL;
    opc_err rc = opc__json_parse(sc, strlen(sc), NULL, &scopes, NULL);
    if (rc != OPC_OK || !cJSON_IsArray(scopes)) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "token %s: malformed scopes", jti);
    }
    cJSON *vaults = NULL;
    if (rc == OPC_OK) {
        o = cJSON_CreateObject();
        if (o == NULL || cJSON_AddStringToObject(o, "id", jti) == NULL ||
            cJSON_AddStringToObject(o, "name", opc__rows_str(row, C_NAME)) == NULL ||
            cJSON_AddStringToObject(o, "server", opc__rows_str(row, C_SERVER)) == NULL ||
            (vaults = cJSON_AddArrayToObject(o, "vaults")) == NULL ||
            cJSON_AddStringToObject(o, "state", opc__rows_str(row, C_STATE)) == NULL) {
            rc = OPC_ERR_NOMEM;
        }
    }
    if (rc == OPC_OK) {
        rc = opc__acct_add_time(o, "createdAt", opc__rows_int(row, C_CREATED));
    }
    if (rc == OPC_OK && !opc__rows_null(row, C_EXPIRES)) {
        rc = opc__acct_add_time(o, "expiresAt", opc__rows_int(row, C_EXPIRES));
    }
    const cJSON *s = NULL;
    cJSON_ArrayForEach(s, scopes)
    {
        if (rc != OPC_OK) {
            break;
        }
        const cJSON *u = opc__json_member(s, "u");
        int64_t acl = 0;
        if (!cJSON_IsString(u) || u->valuestring == NULL || !opc__id_valid_str(u->valuestring) ||
            !opc__json_is_int(opc__json_member(s, "a"), &acl)) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "token %s: malformed scopes", jti);
            break;
        }
        char *name = NULL;
        opc__ebuf ignored;
        opc_err nrc = opc__acct_vault_name(a, u->valuestring, &name, &ignored);
        if (nrc == OPC_ERR_NOMEM) {
            rc = nrc;
            break;
        }
        rc = opc__acct_vault_entry(vaults, u->valuestring, name, acl_text((unsigned)acl));
        opc__free(name);
    }
    cJSON_Delete(scopes);
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

/* The token's row (token.get): *row borrowed from *rows (cJSON_Delete *rows). */
static opc_err token_row(opc_account *a, const char *jti, cJSON **rows, const cJSON **row,
                         opc__ebuf *eb)
{
    opc_err rc = opc__rows_read(a->rows, "token.get", rows, eb, "t", jti);
    *row = rc == OPC_OK ? cJSON_GetArrayItem(*rows, 0) : NULL;
    if (rc == OPC_OK && *row == NULL) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "token %s not found", jti);
    }
    return rc;
}

opc_err opc__acct_token_print_row(opc_account *a, const cJSON *row, char **out, opc__ebuf *eb)
{
    cJSON *o = NULL;
    opc_err rc = token_json(a, row, &o, eb);
    if (rc == OPC_OK) {
        rc = opc__json_print(o, out, NULL);
    }
    cJSON_Delete(o);
    return rc;
}

opc_err opc__acct_token_name_free(opc_account *a, const char *server_id, const char *name,
                                  const char *self, opc__ebuf *eb)
{
    cJSON *rows = NULL;
    opc_err rc =
        opc__rows_read(a->rows, "token.name_taken", &rows, eb, "ttt", server_id, name, self);
    if (rc == OPC_OK && cJSON_GetArraySize(rows) > 0) {
        rc = opc__fail(eb, OPC_ERR_EXISTS, "server already has a token named \"%s\"", name);
    }
    cJSON_Delete(rows);
    return rc;
}

/* ---- list ---- */

static opc_err token_list(opc_account *a, const char *server, char **out_json, opc__ebuf *eb)
{
    char sid[OPC_ID_LEN + 1];
    opc_err rc = server == NULL ? OPC_OK : opc__acct_server_resolve(a, server, sid, eb);
    cJSON *rows = NULL;
    if (rc == OPC_OK) {
        rc = opc__rows_read(a->rows, "token.list", &rows, eb, "t", server == NULL ? NULL : sid);
    }
    cJSON *arr = NULL;
    if (rc == OPC_OK) {
        arr = cJSON_CreateArray();
        rc = arr == NULL ? OPC_ERR_NOMEM : OPC_OK;
    }
    const cJSON *row = NULL;
    cJSON_ArrayForEach(row, rows)
    {
        cJSON *o = NULL;
        if (rc == OPC_OK) {
            rc = token_json(a, row, &o, eb);
        }
        if (rc == OPC_OK && !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            rc = OPC_ERR_NOMEM;
        }
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(arr, out_json, NULL);
    }
    cJSON_Delete(arr);
    cJSON_Delete(rows);
    return rc;
}

opc_err opc_account_token_list(opc_account *a, const char *server, char **out_json)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, out_json != NULL, out_json, NULL, &eb);
    if (rc == OPC_OK) {
        rc = token_list(a, server, out_json, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

/* ---- lookup ---- */

/* Find tokens by a named read; more than one match is OPC_ERR_CONFLICT. */
static opc_err lookup_one(opc_account *a, const char *stmt, const char *ref, const char *sid,
                          char jti[OPC_ID_LEN + 1], size_t *n, opc__ebuf *eb)
{
    cJSON *rows = NULL;
    opc_err rc = opc__rows_read(a->rows, stmt, &rows, eb, "tt", ref, sid);
    char list[3 * (OPC_ID_LEN + 2)] = "";
    *n = 0;
    const cJSON *row = NULL;
    cJSON_ArrayForEach(row, rows)
    {
        const char *id = opc__rows_str(row, 0);
        if (*n == 0) {
            (void)snprintf(jti, OPC_ID_LEN + 1, "%s", id);
        }
        if (*n < 3) {
            size_t len = strlen(list);
            (void)snprintf(list + len, sizeof list - len, "%s%s", *n > 0 ? ", " : "", id);
        }
        (*n)++;
    }
    cJSON_Delete(rows);
    if (rc == OPC_OK && *n > 1) {
        rc = opc__fail(eb, OPC_ERR_CONFLICT, "token name \"%s\" matches %zu tokens: %s", ref, *n,
                       list);
    }
    return rc;
}

static opc_err token_lookup(opc_account *a, const char *ref, const char *server,
                            char jti[OPC_ID_LEN + 1], opc__ebuf *eb)
{
    char sid[OPC_ID_LEN + 1];
    opc_err rc = server == NULL ? OPC_OK : opc__acct_server_resolve(a, server, sid, eb);
    const char *s = server == NULL ? NULL : sid;
    size_t n = 0;
    if (rc == OPC_OK && opc__id_valid_str(ref)) {
        rc = lookup_one(a, "token.find_jti", ref, s, jti, &n, eb);
    }
    if (rc == OPC_OK && n == 0) {
        rc = lookup_one(a, "token.find_active_name", ref, s, jti, &n, eb);
    }
    if (rc == OPC_OK && n == 0) {
        rc = lookup_one(a, "token.find_name", ref, s, jti, &n, eb);
    }
    if (rc == OPC_OK && n == 0) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "token \"%s\" not found", ref);
    }
    return rc;
}

/* What rename and revoke read of the token they change. */
typedef struct found {
    char jti[OPC_ID_LEN + 1];
    char server[OPC_ID_LEN + 1];
    bool active;
    int64_t seq; /* the row's version */
    cJSON *rows; /* token.get's answer (cJSON_Delete) */
    cJSON *row;  /* its row, borrowed from rows */
} found;

static opc_err token_find(opc_account *a, const char *ref, const char *server, found *f,
                          opc__ebuf *eb)
{
    memset(f, 0, sizeof *f);
    opc_err rc = token_lookup(a, ref, server, f->jti, eb);
    const cJSON *row = NULL;
    if (rc == OPC_OK) {
        rc = token_row(a, f->jti, &f->rows, &row, eb);
    }
    if (rc == OPC_OK) {
        f->row = cJSON_GetArrayItem(f->rows, 0); /* == row, writable */
        (void)snprintf(f->server, sizeof f->server, "%s", opc__rows_str(row, C_SERVER));
        f->active = strcmp(opc__rows_str(row, C_STATE), "active") == 0;
        f->seq = opc__rows_int(row, C_SEQ);
    }
    return rc;
}

/* Run b; a conflict (the rows changed since they were read) sets *stale. */
static opc_err run_batch(opc_account *a, opc__rows_batch *b, bool *stale, opc__ebuf *eb)
{
    opc_err rc = opc__rows_batch_run(a->rows, b, eb);
    *stale = rc == OPC_ERR_CONFLICT;
    return rc;
}

/* Add the revocation of the token (jti at version seq) to b. */
static void batch_revoke(opc__rows_batch *b, const char *server_id, const char *jti, int64_t seq,
                         int64_t now)
{
    opc__change c = {.kind = OPC_CHANGE_TOKEN_REVOKE, .server = server_id, .jti = jti};
    int k = opc__acct_batch_change(b, &c, now);
    opc__rows_batch_add(b, "token.revoke", 1, "iqti", now, k, jti, seq);
}

/* ---- rename ---- */

/* The registry JSON of f's row as the rename leaves it (built before the
 * batch: once the batch commits, nothing is left that can fail). */
static opc_err renamed_json(opc_account *a, found *f, const char *new_name, char **out,
                            opc__ebuf *eb)
{
    cJSON *name = cJSON_CreateString(new_name);
    if (name == NULL || !cJSON_ReplaceItemInArray(f->row, C_NAME, name)) {
        cJSON_Delete(name);
        return OPC_ERR_NOMEM;
    }
    return opc__acct_token_print_row(a, f->row, out, eb);
}

static opc_err rename_once(opc_account *a, const char *token, const char *server,
                           const char *new_name, char **out_json, bool *stale, opc__ebuf *eb)
{
    found f;
    opc_err rc = token_find(a, token, server, &f, eb);
    int64_t now = opc__now_s();
    if (rc == OPC_OK && f.active) {
        rc = opc__acct_token_name_free(a, f.server, new_name, f.jti, eb);
    }
    if (rc == OPC_OK) {
        rc = renamed_json(a, &f, new_name, out_json, eb);
    }
    if (rc == OPC_OK) {
        opc__rows_batch b;
        opc__rows_batch_init(&b);
        if (f.active) { /* the name is still free when the batch runs */
            opc__rows_batch_add(&b, "token.name_taken", 0, "ttt", f.server, new_name, f.jti);
        }
        opc__change c = {.kind = OPC_CHANGE_TOKEN_UPDATE, .server = f.server, .jti = f.jti};
        int k = opc__acct_batch_change(&b, &c, now);
        opc__rows_batch_add(&b, "token.rename", 1, "tiqti", new_name, now, k, f.jti, f.seq);
        rc = run_batch(a, &b, stale, eb);
        opc__rows_batch_free(&b);
    }
    if (rc != OPC_OK) {
        opc__free(*out_json);
        *out_json = NULL;
    }
    cJSON_Delete(f.rows);
    return rc;
}

opc_err opc_account_token_rename(opc_account *a, const char *token, const char *server,
                                 const char *new_name, char **out_json)
{
    opc__ebuf eb;
    opc_err rc =
        opc__acct_enter(a, OPC__ACCT_UNLOCKED,
                        token != NULL && new_name != NULL && out_json != NULL, out_json, NULL, &eb);
    if (rc == OPC_OK) {
        rc = opc__acct_check_name(new_name, OPC_ACCOUNT_MAX_NAME, "token name", &eb);
    }
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__TOKEN_TRIES; i++) {
        again = false;
        rc = rename_once(a, token, server, new_name, out_json, &again, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

/* ---- revoke ---- */

opc_err opc__acct_tokens_revoke_steps(opc_account *a, opc__rows_batch *b, const char *server_id,
                                      int64_t now, opc__ebuf *eb)
{
    cJSON *rows = NULL;
    opc_err rc = opc__rows_read(a->rows, "token.active_by_server", &rows, eb, "t", server_id);
    const cJSON *row = NULL;
    cJSON_ArrayForEach(row, rows)
    {
        batch_revoke(b, server_id, opc__rows_str(row, 0), opc__rows_int(row, 1), now);
    }
    if (rc == OPC_OK) { /* no token was created meanwhile */
        opc__rows_batch_add(b, "token.active_by_server", 0, "t", server_id);
    }
    cJSON_Delete(rows);
    return rc;
}

static opc_err revoke_once(opc_account *a, const char *token, const char *server, bool *stale,
                           opc__ebuf *eb)
{
    found f;
    opc_err rc = token_find(a, token, server, &f, eb);
    cJSON_Delete(f.rows);
    if (rc != OPC_OK || !f.active) {
        return rc; /* revoking a revoked token changes nothing */
    }
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    batch_revoke(&b, f.server, f.jti, f.seq, opc__now_s());
    rc = run_batch(a, &b, stale, eb);
    opc__rows_batch_free(&b);
    return rc;
}

opc_err opc_account_token_revoke(opc_account *a, const char *token, const char *server)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, token != NULL, NULL, NULL, &eb);
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__TOKEN_TRIES; i++) {
        again = false;
        rc = revoke_once(a, token, server, &again, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}
