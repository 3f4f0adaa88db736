/*
 * account/token.c - Connect tokens: minting (ES256 JWT signed with the
 * owner's key) and the token registry (design: schema.c).
 *
 * The token is returned once and never stored. The registry row holds jti,
 * server, name, scopes [{"u": vaultId, "a": acl}], created, expires and
 * state active|revoked; connect-api accepts only jtis that are active in the
 * registry it syncs (an allowlist).
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

/* ---- registry JSON ---- */

static opc_err token_json(opc_account *a, const char *jti, cJSON **out, opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    cJSON *o = NULL;
    cJSON *scopes = NULL;
    bool row = false;
    opc_err rc = opc__acct_query_row(a, &st, &row, eb,
                                     "SELECT server_id, name, scopes, created, expires, state FROM "
                                     "tokens WHERE jti = ?",
                                     "t", jti);
    if (rc == OPC_OK && !row) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "token %s not found", jti);
    }
    if (rc == OPC_OK) {
        const char *sc = opc__acct_col_str(st, 2);
        rc = opc__json_parse(sc, strlen(sc), NULL, &scopes, NULL);
        if (rc != OPC_OK || !cJSON_IsArray(scopes)) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "token %s: malformed scopes", jti);
        }
    }
    cJSON *vaults = NULL;
    if (rc == OPC_OK) {
        o = cJSON_CreateObject();
        if (o == NULL || cJSON_AddStringToObject(o, "id", jti) == NULL ||
            cJSON_AddStringToObject(o, "name", opc__acct_col_str(st, 1)) == NULL ||
            cJSON_AddStringToObject(o, "server", opc__acct_col_str(st, 0)) == NULL ||
            (vaults = cJSON_AddArrayToObject(o, "vaults")) == NULL ||
            cJSON_AddStringToObject(o, "state", opc__acct_col_str(st, 5)) == NULL) {
            rc = OPC_ERR_NOMEM;
        }
    }
    if (rc == OPC_OK) {
        rc = opc__acct_add_time(o, "createdAt", sqlite3_column_int64(st, 3));
    }
    if (rc == OPC_OK && sqlite3_column_type(st, 4) != SQLITE_NULL) {
        rc = opc__acct_add_time(o, "expiresAt", sqlite3_column_int64(st, 4));
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
    sqlite3_finalize(st);
    cJSON_Delete(scopes);
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

static opc_err print_token(opc_account *a, const char *jti, char **out, opc__ebuf *eb)
{
    return opc__acct_print_json(a, jti, token_json, out, eb);
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

static opc_err build_claims(opc_account *a, const char *server_id, const char *jti,
                            const uint8_t T[32], const scope *scopes, size_t n, int64_t iat,
                            int64_t exp, char **out)
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
        cJSON *f = cJSON_CreateString("vaultaccess");
        cJSON *au = cJSON_CreateString(OPC_JWT_AUDIENCE);
        if (f == NULL || au == NULL) {
            cJSON_Delete(f);
            cJSON_Delete(au);
            rc = OPC_ERR_NOMEM;
        } else {
            cJSON_AddItemToArray(fts, f);
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

static opc_err check_unique(opc_account *a, const char *server_id, const char *name,
                            const char *self, opc__ebuf *eb)
{
    bool found = false;
    int64_t one = 0;
    opc_err rc = opc__acct_query_int(a, &found, &one, eb,
                                     "SELECT 1 FROM tokens WHERE server_id = ? AND state = "
                                     "'active' AND name = ? COLLATE NOCASE AND jti IS NOT ?",
                                     "ttt", server_id, name, self);
    if (rc == OPC_OK && found) {
        rc = opc__fail(eb, OPC_ERR_EXISTS, "server already has a token named \"%s\"", name);
    }
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

static opc_err token_create(opc_account *a, const char *name, const char *server,
                            const char *const *specs, size_t n_specs, int64_t expires_in_s,
                            char **out_json, opc_secret **out_token, opc__ebuf *eb)
{
    opc_err rc = opc__acct_check_name(name, OPC_ACCOUNT_MAX_NAME, "token name", eb);
    if (rc != OPC_OK) {
        return rc;
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
    rc = opc__acct_begin(a, true, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    mint m;
    memset(&m, 0, sizeof m);
    int64_t now = opc__now_s();
    int64_t exp = expires_in_s > 0 ? now + expires_in_s : 0;
    int64_t seq = 0;
    char header[128];
    rc = opc__acct_server_resolve(a, server, m.server, eb);
    if (rc == OPC_OK) {
        rc = check_unique(a, m.server, name, NULL, eb);
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
        rc = build_claims(a, m.server, m.jti, m.T, m.scopes, m.n, now, exp, &m.claims);
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
        opc__change c = {.kind = OPC_CHANGE_TOKEN_CREATE, .server = m.server, .jti = m.jti};
        rc = opc__acct_change(a, &c, &seq, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_run(
            a, NULL, eb,
            "INSERT INTO tokens (jti, server_id, name, scopes, created, expires, "
            "state, updated, seq) VALUES (?, ?, ?, ?, ?, NULLIF(?, 0), 'active', ?, ?)",
            "ttttiiii", m.jti, m.server, name, m.scopes_json, now, exp, now, seq);
    }
    if (rc == OPC_OK) {
        rc = print_token(a, m.jti, out_json, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__secret_new(m.token, strlen(m.token), out_token);
    }
    rc = opc__acct_end(a, rc, eb);
    if (rc != OPC_OK) {
        opc__free(*out_json);
        *out_json = NULL;
        opc_secret_free(*out_token);
        *out_token = NULL;
    }
    mint_free(&m);
    return rc;
}

opc_err opc_account_token_create(opc_account *a, const char *name, const char *server,
                                 const char *const *vault_specs, size_t n_specs,
                                 int64_t expires_in_s, char **out_json, opc_secret **out_token)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED,
                                 name != NULL && server != NULL && vault_specs != NULL &&
                                     out_json != NULL && out_token != NULL,
                                 out_json, out_token, &eb);
    if (rc == OPC_OK) {
        rc = token_create(a, name, server, vault_specs, n_specs, expires_in_s, out_json, out_token,
                          &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

/* ---- registry: list, lookup, rename, revoke ---- */

static opc_err token_list(opc_account *a, const char *server, char **out_json, opc__ebuf *eb)
{
    char sid[OPC_ID_LEN + 1];
    opc_err rc = server == NULL ? OPC_OK : opc__acct_server_resolve(a, server, sid, eb);
    sqlite3_stmt *st = NULL;
    if (rc == OPC_OK) {
        rc = opc__acct_query(a, &st, eb,
                             "SELECT jti FROM tokens WHERE ?1 IS NULL OR server_id = ?1 ORDER "
                             "BY name COLLATE NOCASE, name, created, jti",
                             "t", server == NULL ? NULL : sid);
    }
    return rc == OPC_OK ? opc__acct_print_ids(a, st, token_json, out_json, eb) : rc;
}

opc_err opc_account_token_list(opc_account *a, const char *server, char **out_json)
{
    return opc__acct_show(a, server, NULL, out_json, token_list);
}

/* Find tokens by a query; exactly one must match. */
static opc_err lookup_one(opc_account *a, const char *sql, const char *ref, const char *sid,
                          char jti[OPC_ID_LEN + 1], size_t *n, opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__acct_query(a, &st, eb, sql, "tt", ref, sid);
    char list[3 * (OPC_ID_LEN + 2)] = "";
    *n = 0;
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        const char *id = opc__acct_col_str(st, 0);
        if (*n == 0) {
            (void)snprintf(jti, OPC_ID_LEN + 1, "%s", id);
        }
        if (*n < 3) {
            size_t len = strlen(list);
            (void)snprintf(list + len, sizeof list - len, "%s%s", *n > 0 ? ", " : "", id);
        }
        (*n)++;
    }
    sqlite3_finalize(st);
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
        rc = lookup_one(a,
                        "SELECT jti FROM tokens WHERE jti = ?1 AND (?2 IS NULL OR server_id = ?2)",
                        ref, s, jti, &n, eb);
    }
    if (rc == OPC_OK && n == 0) {
        rc = lookup_one(a,
                        "SELECT jti FROM tokens WHERE name = ?1 COLLATE NOCASE AND state = "
                        "'active' AND (?2 IS NULL OR server_id = ?2) ORDER BY jti",
                        ref, s, jti, &n, eb);
    }
    if (rc == OPC_OK && n == 0) {
        rc = lookup_one(a,
                        "SELECT jti FROM tokens WHERE name = ?1 COLLATE NOCASE AND (?2 IS NULL "
                        "OR server_id = ?2) ORDER BY jti",
                        ref, s, jti, &n, eb);
    }
    if (rc == OPC_OK && n == 0) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "token \"%s\" not found", ref);
    }
    return rc;
}

static opc_err token_rename(opc_account *a, const char *token, const char *server,
                            const char *new_name, char **out_json, opc__ebuf *eb)
{
    opc_err rc = opc__acct_check_name(new_name, OPC_ACCOUNT_MAX_NAME, "token name", eb);
    if (rc == OPC_OK) {
        rc = opc__acct_begin(a, true, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    char jti[OPC_ID_LEN + 1];
    char sid[OPC_ID_LEN + 1] = "";
    char state[16] = "";
    int64_t seq = 0;
    rc = token_lookup(a, token, server, jti, eb);
    if (rc == OPC_OK) {
        sqlite3_stmt *st = NULL;
        bool row = false;
        rc = opc__acct_query_row(a, &st, &row, eb,
                                 "SELECT server_id, state FROM tokens WHERE jti = ?", "t", jti);
        if (rc == OPC_OK && row) {
            (void)snprintf(sid, sizeof sid, "%s", opc__acct_col_str(st, 0));
            (void)snprintf(state, sizeof state, "%s", opc__acct_col_str(st, 1));
        }
        sqlite3_finalize(st);
    }
    if (rc == OPC_OK && strcmp(state, "active") == 0) {
        rc = check_unique(a, sid, new_name, jti, eb);
    }
    if (rc == OPC_OK) {
        opc__change c = {.kind = OPC_CHANGE_TOKEN_UPDATE, .server = sid, .jti = jti};
        rc = opc__acct_change(a, &c, &seq, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_run(a, NULL, eb,
                           "UPDATE tokens SET name = ?, updated = ?, seq = ? WHERE jti = ?", "tiit",
                           new_name, opc__now_s(), seq, jti);
    }
    if (rc == OPC_OK) {
        rc = print_token(a, jti, out_json, eb);
    }
    rc = opc__acct_end(a, rc, eb);
    if (rc != OPC_OK) {
        opc__free(*out_json);
        *out_json = NULL;
    }
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
        rc = token_rename(a, token, server, new_name, out_json, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

/* Revoke one token row (logged). */
static opc_err revoke_row(opc_account *a, const char *server_id, const char *jti, int64_t now,
                          opc__ebuf *eb)
{
    int64_t seq = 0;
    opc__change c = {.kind = OPC_CHANGE_TOKEN_REVOKE, .server = server_id, .jti = jti};
    opc_err rc = opc__acct_change(a, &c, &seq, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_run(a, NULL, eb,
                           "UPDATE tokens SET state = 'revoked', updated = ?, seq = ? WHERE jti "
                           "= ? AND state = 'active'",
                           "iit", now, seq, jti);
    }
    return rc;
}

opc_err opc__acct_tokens_revoke_server(opc_account *a, const char *server_id, int64_t now,
                                       opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__acct_query(a, &st, eb,
                                 "SELECT jti FROM tokens WHERE server_id = ? AND state = "
                                 "'active' ORDER BY jti",
                                 "t", server_id);
    /* Collect first: the rows are updated while the query would still be open. */
    char(*jtis)[OPC_ID_LEN + 1] = NULL;
    size_t n = 0;
    size_t cap = 0;
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        char(*j)[OPC_ID_LEN + 1] = opc__grow(jtis, &cap, n, sizeof *j, 8);
        if (j == NULL) {
            rc = OPC_ERR_NOMEM;
            break;
        }
        jtis = j;
        (void)snprintf(jtis[n++], OPC_ID_LEN + 1, "%s", opc__acct_col_str(st, 0));
    }
    sqlite3_finalize(st);
    for (size_t i = 0; rc == OPC_OK && i < n; i++) {
        rc = revoke_row(a, server_id, jtis[i], now, eb);
    }
    opc__free(jtis);
    return rc;
}

static opc_err token_revoke(opc_account *a, const char *token, const char *server, opc__ebuf *eb)
{
    opc_err rc = opc__acct_begin(a, true, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char jti[OPC_ID_LEN + 1];
    rc = token_lookup(a, token, server, jti, eb);
    sqlite3_stmt *st = NULL;
    bool row = false;
    if (rc == OPC_OK) {
        rc = opc__acct_query_row(a, &st, &row, eb,
                                 "SELECT server_id, state FROM tokens WHERE jti = ?", "t", jti);
    }
    char sid[OPC_ID_LEN + 1] = "";
    bool active = false;
    if (rc == OPC_OK && row) {
        (void)snprintf(sid, sizeof sid, "%s", opc__acct_col_str(st, 0));
        active = strcmp(opc__acct_col_str(st, 1), "active") == 0;
    }
    sqlite3_finalize(st);
    if (rc == OPC_OK && active) {
        rc = revoke_row(a, sid, jti, opc__now_s(), eb);
    }
    return opc__acct_end(a, rc, eb);
}

opc_err opc_account_token_revoke(opc_account *a, const char *token, const char *server)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED, token != NULL, NULL, NULL, &eb);
    if (rc == OPC_OK) {
        rc = token_revoke(a, token, server, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}
