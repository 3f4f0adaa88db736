/*
 * account/token.c - Connect tokens: minting (ES256 JWT signed with the
 * owner's key) and its registry row (design: schema.c; the registry's other
 * calls are token_registry.c).
 *
 * Features (1password.com/fts): "vaultaccess" always; "activitylog" with
 * OPC_TOKEN_ACTIVITY_LOG, the full-log permission of GET /v1/activity.
 * The permission lives only in the signed token, not in the registry row.
 *
 * The token is returned once and never stored. The registry row holds jti,
 * server, name, scopes [{"u": vaultId, "a": acl}], created, expires and
 * state active|revoked; connect-api accepts only jtis that are active in the
 * registry it syncs (an allowlist).
 *
 * Store protocol (rows.h): the read phase resolves the server and the
 * vaults, checks the name and opens the server's record; the client mints
 * and signs; ONE batch then guards what was read (the server is active,
 * each vault is still granted to it, the name is still free), appends
 * token_create and inserts the row with that change's seq. The outputs
 * (registry JSON, the token) are made before the batch, so that a call
 * that fails committed nothing. A conflict committed nothing: the call
 * starts again (OPC__TOKEN_TRIES attempts).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "account/account_int.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/secret.h"
#include "core/strparse.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/jwt.h"

/* Longest token lifetime accepted: ten years. */
#define MAX_EXPIRES_S (INT64_C(10) * 366 * 24 * 3600)

typedef struct scope {
    char vault[OPC_ID_LEN + 1];
    unsigned acl;
} scope;

/* ---- vault specs ---- */

static unsigned parse_acl(const char *s)
{
    if (opc__strcasecmp(s, "r") == 0) {
        return OPC_ACL_READ;
    }
    if (opc__strcasecmp(s, "w") == 0) {
        return OPC_ACL_WRITE;
    }
    if (opc__strcasecmp(s, "rw") == 0 || opc__strcasecmp(s, "wr") == 0) {
        return OPC_ACL_READ | OPC_ACL_WRITE;
    }
    return 0;
}

/*
 * "<vault>[,r|,w|,rw]": the text after the last comma is an access suffix
 * when it is one of r, w, rw (any case); otherwise the whole spec names the
 * vault (so vault names may contain commas).
 */
static opc_err parse_spec(opc_account *a, const char *server_id, const char *server_ref,
                          const char *spec, scope *out, opc__ebuf *eb)
{
    char ref[OPC_ACCOUNT_MAX_NAME + 8];
    if (strlen(spec) >= sizeof ref) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "vault spec is too long");
    }
    (void)snprintf(ref, sizeof ref, "%s", spec);
    unsigned acl = OPC_ACL_READ | OPC_ACL_WRITE;
    char *comma = strrchr(ref, ',');
    if (comma != NULL) {
        unsigned suffix = parse_acl(comma + 1);
        if (suffix != 0) {
            acl = suffix;
            *comma = '\0';
        }
    }
    opc_err rc = opc__acct_vault_resolve(a, ref, out->vault, eb);
    bool granted = false;
    if (rc == OPC_OK) {
        rc = opc__acct_server_has_vault(a, server_id, out->vault, &granted, eb);
    }
    if (rc == OPC_OK && !granted) {
        rc = opc__fail(eb, OPC_ERR_PERMISSION, "vault %s is not granted to server %s", ref,
                       server_ref);
    }
    out->acl = acl;
    return rc;
}

/* ---- minting ---- */

/* Append the scopes to arr as [{"u": vaultId, "a": acl}] (claims and registry alike). */
static opc_err add_scopes(cJSON *arr, const scope *scopes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cJSON *v = cJSON_CreateObject();
        if (v == NULL || cJSON_AddStringToObject(v, "u", scopes[i].vault) == NULL ||
            cJSON_AddNumberToObject(v, "a", (double)scopes[i].acl) == NULL) {
            cJSON_Delete(v);
            return OPC_ERR_NOMEM;
        }
        cJSON_AddItemToArray(arr, v);
    }
    return OPC_OK;
}

/* 1password.com/fts: "vaultaccess", and "activitylog" for OPC_TOKEN_ACTIVITY_LOG. */
static opc_err add_features(cJSON *fts, uint32_t flags)
{
    cJSON *f = cJSON_CreateString("vaultaccess");
    if (f == NULL) {
        return OPC_ERR_NOMEM;
    }
    cJSON_AddItemToArray(fts, f);
    if ((flags & OPC_TOKEN_ACTIVITY_LOG) != 0) {
        f = cJSON_CreateString(OPC_JWT_FEATURE_ACTIVITY_LOG);
        if (f == NULL) {
            return OPC_ERR_NOMEM;
        }
        cJSON_AddItemToArray(fts, f);
    }
    return OPC_OK;
}

static opc_err build_claims(opc_account *a, const char *server_id, const char *jti,
                            const uint8_t T[32], const scope *scopes, size_t n, uint32_t flags,
                            int64_t iat, int64_t exp, char **out)
{
    char t64[48];
    cJSON *c = cJSON_CreateObject();
    opc_err rc = c == NULL ? OPC_ERR_NOMEM : OPC_OK;
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(T, 32, OPC_B64URL, t64, sizeof t64, NULL);
    }
    cJSON *fts = NULL;
    cJSON *vts = NULL;
    cJSON *aud = NULL;
    if (rc == OPC_OK && (cJSON_AddStringToObject(c, "1password.com/auuid", a->id) == NULL ||
                         cJSON_AddStringToObject(c, "1password.com/token", t64) == NULL ||
                         (fts = cJSON_AddArrayToObject(c, "1password.com/fts")) == NULL ||
                         (vts = cJSON_AddArrayToObject(c, "1password.com/vts")) == NULL ||
                         (aud = cJSON_AddArrayToObject(c, "aud")) == NULL)) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = add_features(fts, flags);
    }
    if (rc == OPC_OK) {
        cJSON *au = cJSON_CreateString(OPC_JWT_AUDIENCE);
        if (au == NULL) {
            rc = OPC_ERR_NOMEM;
        } else {
            cJSON_AddItemToArray(aud, au);
        }
    }
    if (rc == OPC_OK) {
        rc = add_scopes(vts, scopes, n);
    }
    if (rc == OPC_OK && (cJSON_AddStringToObject(c, "sub", server_id) == NULL ||
                         cJSON_AddStringToObject(c, "iss", OPC_JWT_ISSUER) == NULL ||
                         cJSON_AddNumberToObject(c, "iat", (double)iat) == NULL ||
                         (exp > 0 && cJSON_AddNumberToObject(c, "exp", (double)exp) == NULL) ||
                         cJSON_AddStringToObject(c, "jti", jti) == NULL)) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(c, out, NULL);
    }
    opc__wipe(t64, sizeof t64);
    opc__json_delete_secret(c);
    return rc;
}

static opc_err scopes_text(const scope *scopes, size_t n, char **out)
{
    cJSON *arr = cJSON_CreateArray();
    opc_err rc = arr == NULL ? OPC_ERR_NOMEM : add_scopes(arr, scopes, n);
    if (rc == OPC_OK) {
        rc = opc__json_print(arr, out, NULL);
    }
    cJSON_Delete(arr);
    return rc;
}

typedef struct mint {
    char server[OPC_ID_LEN + 1];
    char jti[OPC_ID_LEN + 1];
    uint8_t T[32];
    scope *scopes;
    size_t n;
    char *claims;
    char *scopes_json;
    char *token;
} mint;

static void mint_free(mint *m)
{
    opc__free(m->scopes);
    opc__secret_free_str(m->claims);
    opc__free(m->scopes_json);
    opc__secret_free_str(m->token);
    opc__wipe(m, sizeof *m);
}

/* Resolve the specs into m->scopes (duplicates merged). */
static opc_err collect_scopes(opc_account *a, mint *m, const char *server_ref,
                              const char *const *specs, size_t n_specs, opc__ebuf *eb)
{
    m->scopes = opc__calloc(n_specs, sizeof *m->scopes);
    if (m->scopes == NULL) {
        return OPC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n_specs; i++) {
        scope s;
        memset(&s, 0, sizeof s);
        opc_err rc = parse_spec(a, m->server, server_ref, specs[i], &s, eb);
        if (rc != OPC_OK) {
            return rc;
        }
        bool merged = false;
        for (size_t j = 0; j < m->n; j++) {
            if (strcmp(m->scopes[j].vault, s.vault) == 0) {
                m->scopes[j].acl |= s.acl;
                merged = true;
            }
        }
        if (!merged) {
            m->scopes[m->n++] = s;
        }
    }
    return OPC_OK;
}

/* The batch's preconditions: what the read phase checked still holds when it runs. */
static void batch_guards(opc__rows_batch *b, const mint *m, const char *name)
{
    opc__rows_batch_add(b, "server.is_active", 1, "t", m->server);
    for (size_t i = 0; i < m->n; i++) {
        opc__rows_batch_add(b, "access.server_vault", 1, "tt", m->scopes[i].vault, m->server);
    }
    opc__rows_batch_add(b, "token.name_taken", 0, "ttn", m->server, name);
}

/* The row the batch inserts, in token.get's columns (rows.c); its seq is the
 * store's (0 here: the registry JSON does not show it). */
static opc_err new_row(const mint *m, const char *name, int64_t now, int64_t exp, cJSON **out)
{
    cJSON *cells[] = {
        cJSON_CreateArray(),
        cJSON_CreateString(m->jti),
        cJSON_CreateString(m->server),
        cJSON_CreateString(name),
        cJSON_CreateString(m->scopes_json),
        cJSON_CreateNumber((double)now),
        exp > 0 ? cJSON_CreateNumber((double)exp) : cJSON_CreateNull(),
        cJSON_CreateString("active"),
        cJSON_CreateNumber(0),
    };
    size_t n = sizeof cells / sizeof cells[0];
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        ok = ok && cells[i] != NULL;
    }
    for (size_t i = 1; ok && i < n; i++) {
        ok = cJSON_AddItemToArray(cells[0], cells[i]);
        cells[i] = NULL;
    }
    for (size_t i = ok ? n : 0; i < n; i++) {
        cJSON_Delete(cells[i]);
    }
    *out = ok ? cells[0] : NULL;
    return ok ? OPC_OK : OPC_ERR_NOMEM;
}

/* The outputs, made before the batch: once it commits nothing is left that can fail. */
static opc_err outputs(opc_account *a, const mint *m, const char *name, int64_t now, int64_t exp,
                       char **out_json, opc_secret **out_token, opc__ebuf *eb)
{
    cJSON *row = NULL;
    opc_err rc = new_row(m, name, now, exp, &row);
    if (rc == OPC_OK) {
        rc = opc__acct_token_print_row(a, row, out_json, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__secret_new(m->token, strlen(m->token), out_token);
    }
    cJSON_Delete(row);
    return rc;
}

/* One attempt: read phase, mint, one batch. *stale: the batch met a concurrent change. */
static opc_err create_once(opc_account *a, const char *name, const char *server,
                           const char *const *specs, size_t n_specs, int64_t expires_in_s,
                           uint32_t flags, char **out_json, opc_secret **out_token, bool *stale,
                           opc__ebuf *eb)
{
    mint m;
    memset(&m, 0, sizeof m);
    int64_t now = opc__now_s();
    int64_t exp = expires_in_s > 0 ? now + expires_in_s : 0;
    char header[128];
    opc_err rc = opc__acct_server_resolve(a, server, m.server, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_token_name_free(a, m.server, name, NULL, eb);
    }
    if (rc == OPC_OK) {
        rc = collect_scopes(a, &m, server, specs, n_specs, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_server_secret(a, m.server, m.T, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__id_generate(m.jti);
    }
    if (rc == OPC_OK) {
        rc = build_claims(a, m.server, m.jti, m.T, m.scopes, m.n, flags, now, exp, &m.claims);
    }
    if (rc == OPC_OK) {
        (void)snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                       a->issuer_kid);
        rc = opc__jws_sign_es256(a->sign, header, m.claims, &m.token);
    }
    if (rc == OPC_OK) {
        rc = scopes_text(m.scopes, m.n, &m.scopes_json);
    }
    if (rc == OPC_OK) {
        rc = outputs(a, &m, name, now, exp, out_json, out_token, eb);
    }
    if (rc == OPC_OK) {
        opc__rows_batch b;
        opc__rows_batch_init(&b);
        batch_guards(&b, &m, name);
        opc__change c = {.kind = OPC_CHANGE_TOKEN_CREATE, .server = m.server, .jti = m.jti};
        int k = opc__acct_batch_change(&b, &c, now);
        if (exp > 0) {
            opc__rows_batch_add(&b, "token.insert", 1, "ttttiiiq", m.jti, m.server, name,
                                m.scopes_json, now, exp, now, k);
        } else {
            opc__rows_batch_add(&b, "token.insert", 1, "ttttiniq", m.jti, m.server, name,
                                m.scopes_json, now, now, k);
        }
        rc = opc__rows_batch_run(a->rows, &b, eb);
        *stale = rc == OPC_ERR_CONFLICT;
        opc__rows_batch_free(&b);
    }
    if (rc != OPC_OK) {
        opc__free(*out_json);
        *out_json = NULL;
        opc_secret_free(*out_token);
        *out_token = NULL;
    }
    mint_free(&m);
    return rc;
}

static opc_err token_create(opc_account *a, const char *name, const char *server,
                            const char *const *specs, size_t n_specs, int64_t expires_in_s,
                            uint32_t flags, char **out_json, opc_secret **out_token, opc__ebuf *eb)
{
    opc_err rc = opc__acct_check_name(name, OPC_ACCOUNT_MAX_NAME, "token name", eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if ((flags & ~(uint32_t)OPC_TOKEN_ACTIVITY_LOG) != 0) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "unknown token flags 0x%x", (unsigned)flags);
    }
    if (n_specs == 0 || n_specs > OPC_JWT_MAX_VAULTS) {
        return opc__fail(eb, OPC_ERR_RANGE, "a token needs 1 to %d vaults", OPC_JWT_MAX_VAULTS);
    }
    for (size_t i = 0; i < n_specs; i++) {
        if (specs[i] == NULL) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "vault spec %zu is NULL", i);
        }
    }
    if (expires_in_s < 0 || expires_in_s > MAX_EXPIRES_S) {
        return opc__fail(eb, OPC_ERR_RANGE, "token expiry must be 0 (none) to ten years");
    }
    /* A conflict committed nothing: mint again (a new jti) from a new read. */
    bool again = true;
    for (int i = 0; again && i < OPC__TOKEN_TRIES; i++) {
        again = false;
        rc = create_once(a, name, server, specs, n_specs, expires_in_s, flags, out_json, out_token,
                         &again, eb);
    }
    return rc;
}

opc_err opc_account_token_create(opc_account *a, const char *name, const char *server,
                                 const char *const *vault_specs, size_t n_specs,
                                 int64_t expires_in_s, char **out_json, opc_secret **out_token)
{
    return opc_account_token_create2(a, name, server, vault_specs, n_specs, expires_in_s, 0,
                                     out_json, out_token);
}

opc_err opc_account_token_create2(opc_account *a, const char *name, const char *server,
                                  const char *const *vault_specs, size_t n_specs,
                                  int64_t expires_in_s, uint32_t flags, char **out_json,
                                  opc_secret **out_token)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED,
                                 name != NULL && server != NULL && vault_specs != NULL &&
                                     out_json != NULL && out_token != NULL,
                                 out_json, out_token, &eb);
    if (rc == OPC_OK) {
        rc = token_create(a, name, server, vault_specs, n_specs, expires_in_s, flags, out_json,
                          out_token, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}
