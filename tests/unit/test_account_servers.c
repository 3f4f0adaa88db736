/*
 * tests/unit/test_account_servers.c - lib/account: Connect servers, grants,
 * tokens and their registry, the change feed, and the canary scan.
 */
#include "account_fixture.h"

#include <limits.h>
#include <stdlib.h>

#include <time.h>

#include "account/feed.h"
#include "account/server.h"
#include "core/alloc.h"
#include "core/rand.h"
#include "credentials/credentials.h"
#include "crypto/base64.h"
#include "crypto/jwt.h"
#include "crypto/rsa.h"

/* Mint a token; returns its registry JSON, *token the token text (opc_secret). */
static cJSON *make_token(opc_account *a, const char *name, const char *server,
                         const char *const *specs, size_t n, int64_t expires, opc_secret **token)
{
    char *json = NULL;
    opc_secret *t = NULL;
    FX_OK(a, opc_account_token_create(a, name, server, specs, n, expires, &json, &t));
    cJSON *j = fx_json(json);
    opc_free(json);
    if (token != NULL) {
        *token = t;
    } else {
        opc_secret_free(t);
    }
    return j;
}

static void verify_token(const opc_secret *token, opc_credentials *creds, const char *server_id,
                         const char *account_id, opc__jwt_claims *claims)
{
    const opc__key *keys[1] = {opc__credentials_issuer_key(creds, 0)};
    assert_non_null(keys[0]);
    opc__jwt_expect ex = {
        .keys = keys,
        .n_keys = 1,
        .audience = OPC_JWT_AUDIENCE,
        .sub = server_id,
        .auuid = account_id,
        .now = time(NULL),
        .leeway = OPC_JWT_LEEWAY_S,
    };
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__jwt_verify(opc_secret_data(token), opc_secret_len(token), &ex, claims, &eb);
    if (rc != OPC_OK) {
        fail_msg("token does not verify: %s", eb.msg);
    }
}

static void test_account_server_create_credentials_and_token(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char prod[27];
    char dev[27];
    fx_vault(f.a, "Prod", prod);
    fx_vault(f.a, "Dev", dev);
    const char *vaults[] = {"Prod"};
    opc_credentials *creds = NULL;
    cJSON *s = fx_server(f.a, "Web", vaults, 1, &creds);
    char sid[27];
    snprintf(sid, sizeof sid, "%s", fx_str(s, "id"));
    assert_string_equal(fx_str(s, "name"), "Web");
    assert_string_equal(fx_str(s, "state"), "active");
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(s, "vaults");
    assert_int_equal(cJSON_GetArraySize(sv), 1);
    assert_string_equal(fx_str(cJSON_GetArrayItem(sv, 0), "id"), prod);
    assert_string_equal(fx_str(cJSON_GetArrayItem(sv, 0), "name"), "Prod");
    cJSON_Delete(s);

    /* The credentials file names this server, account and file. */
    assert_string_equal(opc_credentials_server_id(creds), sid);
    assert_string_equal(opc_credentials_account_id(creds), opc_account_id(f.a));
    char real[PATH_MAX];
    assert_non_null(realpath(f.path, real));
    assert_string_equal(opc_credentials_upstream_url(creds), real);
    assert_false(opc_credentials_is_unlocked(creds));

    /* An r token for Prod with an expiry: the claims, then T unlocks the file. */
    const char *specs[] = {"Prod,r"};
    opc_secret *token = NULL;
    cJSON *t = make_token(f.a, "ci", "Web", specs, 1, 3600, &token);
    assert_string_equal(fx_str(t, "name"), "ci");
    assert_string_equal(fx_str(t, "server"), sid);
    assert_string_equal(fx_str(t, "state"), "active");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(t, "expiresAt"));
    const cJSON *tv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t, "vaults"), 0);
    assert_string_equal(fx_str(tv, "id"), prod);
    assert_string_equal(fx_str(tv, "name"), "Prod");
    assert_string_equal(fx_str(tv, "access"), "r");
    opc__jwt_claims *c = calloc(1, sizeof *c);
    verify_token(token, creds, sid, opc_account_id(f.a), c);
    assert_string_equal(c->jti, fx_str(t, "id"));
    assert_string_equal(c->iss, OPC_JWT_ISSUER);
    assert_string_equal(c->kid, f.a->issuer_kid);
    assert_int_equal(c->n_vaults, 1);
    assert_string_equal(c->vaults[0].vault, prod);
    assert_int_equal(c->vaults[0].acl, OPC_ACL_READ);
    assert_true(c->has_exp);
    assert_int_equal(c->exp - c->iat, 3600);
    assert_true(c->has_token_secret);
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_credentials_unlock(creds, c->token_secret, 32, err, sizeof err), OPC_OK);
    cJSON_Delete(t);
    opc_secret_free(token);

    /* The server's RSA key unwraps its grant to the owner's vault key. */
    sqlite3 *db = fx_db(&f);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT enc_key, key_sn FROM vault_access WHERE "
                                        "accessor_type = 'server' AND accessor_id = ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    unsigned char *wrapped = NULL;
    size_t wlen = 0;
    const char *enc = (const char *)sqlite3_column_text(st, 0);
    assert_int_equal(opc__b64_decode(enc, strlen(enc), OPC_B64URL, &wrapped, &wlen, NULL), OPC_OK);
    char label[200];
    snprintf(label, sizeof label, "opconnect/vaultkey/v1|%s|%lld|%s", prod,
             (long long)sqlite3_column_int64(st, 1), sid);
    sqlite3_finalize(st);
    sqlite3_close(db);
    uint8_t *vk = NULL;
    size_t vk_len = 0;
    assert_int_equal(opc__rsa_oaep_decrypt(opc__credentials_enc_key(creds), label, strlen(label),
                                           wrapped, wlen, &vk, &vk_len, NULL),
                     OPC_OK);
    const opc__key *owner_vk = NULL;
    int64_t sn = 0;
    assert_int_equal(opc__acct_vault_key(f.a, prod, &owner_vk, &sn, NULL), OPC_OK);
    assert_int_equal(vk_len, 32);
    assert_memory_equal(vk, opc__key_oct(owner_vk), 32);
    opc__secret_free(vk, vk_len);
    opc__free(wrapped);

    /* w and rw, a case-insensitive suffix, no expiry. */
    const char *specs2[] = {"Prod,w"};
    t = make_token(f.a, "writer", sid, specs2, 1, 0, &token);
    assert_null(cJSON_GetObjectItemCaseSensitive(t, "expiresAt"));
    verify_token(token, creds, sid, opc_account_id(f.a), c);
    assert_int_equal(c->vaults[0].acl, OPC_ACL_WRITE);
    assert_false(c->has_exp);
    cJSON_Delete(t);
    opc_secret_free(token);
    const char *specs3[] = {prod};
    t = make_token(f.a, "both", "web", specs3, 1, 0, &token);
    verify_token(token, creds, sid, opc_account_id(f.a), c);
    assert_int_equal(c->vaults[0].acl, OPC_ACL_READ | OPC_ACL_WRITE);
    assert_string_equal(
        fx_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t, "vaults"), 0), "access"),
        "rw");
    assert_int_equal(c->features, 0); /* no full-log permission unless asked */
    cJSON_Delete(t);
    opc_secret_free(token);

    /* The full-log permission of GET /v1/activity: "activitylog" in the
     * signed 1password.com/fts; the registry entry looks like any other. */
    char *aj = NULL;
    FX_OK(f.a, opc_account_token_create2(f.a, "auditor", "Web", specs, 1, 0, OPC_TOKEN_ACTIVITY_LOG,
                                         &aj, &token));
    t = fx_json(aj);
    opc_free(aj);
    verify_token(token, creds, sid, opc_account_id(f.a), c);
    assert_int_equal(c->features, OPC_JWT_FT_ACTIVITY_LOG);
    assert_int_equal(c->n_vaults, 1);
    assert_int_equal(c->vaults[0].acl, OPC_ACL_READ);
    assert_null(cJSON_GetObjectItemCaseSensitive(t, "activityLog"));
    cJSON_Delete(t);
    opc_secret_free(token);
    token = NULL;
    /* Unknown flags are refused before anything is minted or stored. */
    FX_ERR(f.a, OPC_ERR_INVALID_ARG,
           opc_account_token_create2(f.a, "odd", "Web", specs, 1, 0, 0x2u, &aj, &token));
    assert_null(aj);
    assert_null(token);
    opc__wipe(c, sizeof *c);
    free(c);

    /* A token for a vault the server lacks is refused and nothing is stored. */
    const char *bad[] = {"Prod,r", "Dev"};
    char *json = NULL;
    FX_ERR(f.a, OPC_ERR_PERMISSION,
           opc_account_token_create(f.a, "bad", "Web", bad, 2, 0, &json, &token));
    assert_null(json);
    assert_null(token);
    assert_string_equal(opc_account_errmsg(f.a), "vault Dev is not granted to server Web");
    /* Duplicate token names are refused. */
    FX_ERR(f.a, OPC_ERR_EXISTS,
           opc_account_token_create(f.a, "CI", "Web", specs, 1, 0, &json, &token));
    db = fx_db(&f);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM tokens"), 4);
    sqlite3_close(db);
    opc_credentials_free(creds);
    fx_destroy(&f);
}

static void test_account_server_duplicate_name_and_rename(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char prod[27];
    fx_vault(f.a, "Prod", prod);
    const char *vaults[] = {"Prod"};
    cJSON *s = fx_server(f.a, "Web", vaults, 1, NULL);
    char sid[27];
    snprintf(sid, sizeof sid, "%s", fx_str(s, "id"));
    cJSON_Delete(s);
    char *json = NULL;
    opc_secret *file = NULL;
    FX_ERR(f.a, OPC_ERR_EXISTS,
           opc_account_server_create(f.a, "WEB", vaults, 1, NULL, &json, &file));
    assert_null(json);
    assert_null(file);
    const char *missing[] = {"Nope"};
    FX_ERR(f.a, OPC_ERR_NOT_FOUND,
           opc_account_server_create(f.a, "Other", missing, 1, NULL, &json, &file));
    FX_ERR(f.a, OPC_ERR_RANGE,
           opc_account_server_create(f.a, "Other", vaults, 0, NULL, &json, &file));
    sqlite3 *db = fx_db(&f);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM servers"), 1);
    sqlite3_close(db);

    s = fx_server(f.a, "Api", vaults, 1, NULL);
    cJSON_Delete(s);
    FX_ERR(f.a, OPC_ERR_EXISTS, opc_account_server_rename(f.a, "Web", "api", &json));
    FX_OK(f.a, opc_account_server_rename(f.a, "Web", "Frontend", &json));
    s = fx_json(json);
    opc_free(json);
    assert_string_equal(fx_str(s, "name"), "Frontend");
    cJSON_Delete(s);
    /* The renamed server still mints tokens (its sealed record was re-sealed). */
    const char *specs[] = {"Prod"};
    cJSON *t = make_token(f.a, "t", "Frontend", specs, 1, 0, NULL);
    cJSON_Delete(t);
    FX_OK(f.a, opc_account_server_list(f.a, &json));
    cJSON *list = fx_json(json);
    opc_free(json);
    assert_int_equal(cJSON_GetArraySize(list), 2);
    assert_string_equal(fx_str(cJSON_GetArrayItem(list, 0), "name"), "Api");
    assert_string_equal(fx_str(cJSON_GetArrayItem(list, 1), "name"), "Frontend");
    cJSON_Delete(list);
    FX_OK(f.a, opc_account_server_get(f.a, sid, &json));
    opc_free(json);
    fx_destroy(&f);
}

static int vault_count(const cJSON *server)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(server, "vaults"));
}

#define PIN "obviouslyfakepin-obviouslyfakepin_obviously"

/* What the account hands to the maker of the credentials file. */
static struct {
    char server_id[27];
    char service_url[64];
    char pin[64];
    bool keys;
    bool fail;
} handed;

static opc_err record_creds(const opc__acct_new_server *s, char **out, size_t *out_len,
                            opc__ebuf *eb)
{
    snprintf(handed.server_id, sizeof handed.server_id, "%s", s->server_id);
    snprintf(handed.service_url, sizeof handed.service_url, "%s", s->service_url);
    snprintf(handed.pin, sizeof handed.pin, "%s", s->upstream_pin != NULL ? s->upstream_pin : "");
    handed.keys = s->account_id != NULL && s->device_key != NULL && s->issuer_key != NULL &&
                  s->enc_key != NULL && s->sym_key != NULL && s->T != NULL;
    if (handed.fail) {
        return opc__fail(eb, OPC_ERR_CRYPTO, "no file this time");
    }
    *out = opc__strndup("the file", 8);
    *out_len = 8;
    return *out != NULL ? OPC_OK : OPC_ERR_NOMEM;
}

static void test_account_server_credentials_made_before_storing(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char prod[27];
    fx_vault(f.a, "Prod", prod);
    const char *vaults[] = {"Prod"};
    char *json = NULL;
    opc_secret *file = NULL;
    /* A file that cannot be made: the error is the account's, nothing stored. */
    memset(&handed, 0, sizeof handed);
    handed.fail = true;
    FX_ERR(f.a, OPC_ERR_CRYPTO,
           opc__acct_server_create(f.a, "Web", vaults, 1, "https://up.example", NULL, record_creds,
                                   &json, &file));
    assert_string_equal(opc_account_errmsg(f.a), "no file this time");
    assert_null(json);
    assert_null(file);
    assert_int_equal(strlen(handed.server_id), 26);
    assert_true(handed.keys);
    sqlite3 *db = fx_db(&f);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM servers"), 0);
    /* The file made is the one returned, for the server stored. */
    handed.fail = false;
    FX_OK(f.a, opc__acct_server_create(f.a, "Web", vaults, 1, "https://up.example", PIN,
                                       record_creds, &json, &file));
    assert_int_equal(opc_secret_len(file), 8);
    assert_memory_equal(opc_secret_data(file), "the file", 8);
    assert_string_equal(handed.service_url, "https://up.example");
    assert_string_equal(handed.pin, PIN);
    cJSON *sj = fx_json(json);
    assert_string_equal(fx_str(sj, "id"), handed.server_id);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM servers"), 1);
    sqlite3_close(db);
    cJSON_Delete(sj);
    opc_free(json);
    opc_secret_free(file);
    fx_destroy(&f);
}

/* opc_account_server_create2: the pin reaches the credentials file; a pin
 * that is not a thumbprint stores nothing. */
static void test_account_server_create2_pin(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char prod[27];
    fx_vault(f.a, "Prod", prod);
    const char *vaults[] = {"Prod"};
    char *json = NULL;
    opc_secret *file = NULL;
    FX_ERR(f.a, OPC_ERR_INVALID_ARG,
           opc_account_server_create2(f.a, "Web", vaults, 1, "https://up.example:8443", "x", &json,
                                      &file));
    assert_non_null(strstr(opc_account_errmsg(f.a), "account_server_pin must be a key thumbprint"));
    FX_OK(f.a, opc_account_server_create2(f.a, "Web", vaults, 1, "https://up.example:8443", PIN,
                                          &json, &file));
    opc_credentials *c = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(
        opc__credentials_parse_ex(opc_secret_data(file), opc_secret_len(file), &c, &eb), OPC_OK);
    assert_string_equal(opc__credentials_account_server_pin(c), PIN);
    assert_string_equal(opc_credentials_upstream_url(c), "https://up.example:8443");
    opc_credentials_free(c);
    opc_secret_free(file);
    opc_free(json);
    fx_destroy(&f);
}

static void test_account_server_grant_revoke_delete(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char prod[27];
    char dev[27];
    fx_vault(f.a, "Prod", prod);
    fx_vault(f.a, "Dev", dev);
    const char *vaults[] = {"Prod"};
    cJSON *s = fx_server(f.a, "Web", vaults, 1, NULL);
    char sid[27];
    snprintf(sid, sizeof sid, "%s", fx_str(s, "id"));
    cJSON_Delete(s);

    FX_OK(f.a, opc_account_server_grant(f.a, "Web", "Dev"));
    FX_OK(f.a, opc_account_server_grant(f.a, "Web", "Dev")); /* already granted: no-op */
    char *json = NULL;
    FX_OK(f.a, opc_account_server_get(f.a, "web", &json));
    s = fx_json(json);
    opc_free(json);
    assert_int_equal(vault_count(s), 2);
    cJSON_Delete(s);
    const char *specs[] = {"Dev,r", "Prod,rw"};
    cJSON *t = make_token(f.a, "t1", "Web", specs, 2, 0, NULL);
    cJSON_Delete(t);
    t = make_token(f.a, "t2", "Web", specs, 1, 0, NULL);
    cJSON_Delete(t);

    FX_OK(f.a, opc_account_server_revoke(f.a, "Web", "Dev"));
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_server_revoke(f.a, "Web", "Dev"));
    FX_OK(f.a, opc_account_server_get(f.a, sid, &json));
    s = fx_json(json);
    opc_free(json);
    assert_int_equal(vault_count(s), 1);
    cJSON_Delete(s);
    opc_secret *tok = NULL;
    FX_ERR(f.a, OPC_ERR_PERMISSION,
           opc_account_token_create(f.a, "t3", "Web", specs, 1, 0, &json, &tok));

    /* A tampered server key is refused before any vault key is wrapped to it. */
    sqlite3 *db = fx_db(&f);
    fx_exec(db, "UPDATE servers SET enc_sig = 'AAAA'");
    FX_ERR(f.a, OPC_ERR_SIGNATURE, opc_account_server_grant(f.a, "Web", "Dev"));
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM vault_access WHERE accessor_type = "
                                  "'server'"),
                     1);

    /* Delete: grants gone, tokens revoked, keys dropped. */
    FX_OK(f.a, opc_account_server_delete(f.a, "Web"));
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_server_get(f.a, sid, &json));
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM vault_access WHERE accessor_type = "
                                  "'server'"),
                     0);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM servers WHERE state = 'deleted' AND "
                                  "record IS NULL AND device_pub IS NULL AND enc_pub IS NULL"),
                     1);
    sqlite3_close(db);
    FX_OK(f.a, opc_account_token_list(f.a, NULL, &json));
    cJSON *list = fx_json(json);
    opc_free(json);
    assert_int_equal(cJSON_GetArraySize(list), 2);
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, list)
    {
        assert_string_equal(fx_str(e, "state"), "revoked");
    }
    cJSON_Delete(list);
    /* The name is free again. */
    s = fx_server(f.a, "Web", vaults, 1, NULL);
    cJSON_Delete(s);
    fx_destroy(&f);
}

static void test_account_token_revoke_list_rename(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char prod[27];
    fx_vault(f.a, "Prod", prod);
    const char *vaults[] = {"Prod"};
    cJSON *s = fx_server(f.a, "Web", vaults, 1, NULL);
    cJSON_Delete(s);
    s = fx_server(f.a, "Api", vaults, 1, NULL);
    cJSON_Delete(s);
    const char *specs[] = {"Prod,r"};
    cJSON *t1 = make_token(f.a, "one", "Web", specs, 1, 60, NULL);
    cJSON *t2 = make_token(f.a, "two", "Web", specs, 1, 0, NULL);
    cJSON *t3 = make_token(f.a, "one", "Api", specs, 1, 0, NULL); /* names are per server */
    char *json = NULL;
    FX_OK(f.a, opc_account_token_list(f.a, "Web", &json));
    cJSON *list = fx_json(json);
    opc_free(json);
    assert_int_equal(cJSON_GetArraySize(list), 2);
    assert_string_equal(fx_str(cJSON_GetArrayItem(list, 0), "name"), "one");
    cJSON_Delete(list);
    FX_OK(f.a, opc_account_token_list(f.a, NULL, &json));
    list = fx_json(json);
    opc_free(json);
    assert_int_equal(cJSON_GetArraySize(list), 3);
    cJSON_Delete(list);

    /* "one" is ambiguous across servers unless the server is named. */
    FX_ERR(f.a, OPC_ERR_CONFLICT, opc_account_token_rename(f.a, "one", NULL, "uno", &json));
    FX_ERR(f.a, OPC_ERR_EXISTS, opc_account_token_rename(f.a, "one", "Web", "TWO", &json));
    FX_OK(f.a, opc_account_token_rename(f.a, "one", "Web", "uno", &json));
    cJSON *r = fx_json(json);
    opc_free(json);
    assert_string_equal(fx_str(r, "name"), "uno");
    assert_string_equal(fx_str(r, "id"), fx_str(t1, "id"));
    cJSON_Delete(r);

    FX_OK(f.a, opc_account_token_revoke(f.a, "uno", NULL));
    FX_OK(f.a, opc_account_token_revoke(f.a, fx_str(t2, "id"), NULL));
    FX_OK(f.a, opc_account_token_revoke(f.a, fx_str(t2, "id"), NULL)); /* again: no-op */
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_token_revoke(f.a, "nothing", NULL));
    FX_OK(f.a, opc_account_token_list(f.a, "Web", &json));
    list = fx_json(json);
    opc_free(json);
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, list)
    {
        assert_string_equal(fx_str(e, "state"), "revoked");
    }
    cJSON_Delete(list);
    /* Api's token is untouched; a revoked name can be reused. */
    FX_OK(f.a, opc_account_token_list(f.a, "Api", &json));
    list = fx_json(json);
    opc_free(json);
    assert_string_equal(fx_str(cJSON_GetArrayItem(list, 0), "state"), "active");
    cJSON_Delete(list);
    cJSON *t4 = make_token(f.a, "two", "Web", specs, 1, 0, NULL);
    cJSON_Delete(t4);
    cJSON_Delete(t1);
    cJSON_Delete(t2);
    cJSON_Delete(t3);
    fx_destroy(&f);
}

/* ---- change feed ---- */

static cJSON *feed(opc_account *a, const char *server, int64_t since, size_t limit, int64_t *last)
{
    cJSON *out = NULL;
    FX_OK(a, opc__account_changes(a, server, since, limit, &out, last));
    return out;
}

static bool feed_mentions(const cJSON *arr, const char *key, const char *id)
{
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, arr)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, key);
        if (cJSON_IsString(m) && strcmp(m->valuestring, id) == 0) {
            return true;
        }
    }
    return false;
}

static void test_account_feed_kinds_order_and_visibility(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char va[27];
    char vb[27];
    char item[27];
    fx_vault(f.a, "A", va);
    fx_vault(f.a, "B", vb);
    const char *sa[] = {"A"};
    const char *sb[] = {"B"};
    cJSON *s1 = fx_server(f.a, "S1", sa, 1, NULL);
    cJSON *s2 = fx_server(f.a, "S2", sb, 1, NULL);
    char id1[27];
    char id2[27];
    snprintf(id1, sizeof id1, "%s", fx_str(s1, "id"));
    snprintf(id2, sizeof id2, "%s", fx_str(s2, "id"));
    cJSON_Delete(s1);
    cJSON_Delete(s2);
    fx_item(f.a, va, "{\"title\":\"in A\",\"category\":\"SECURE_NOTE\"}", item);
    fx_item(f.a, vb, "{\"title\":\"in B\",\"category\":\"SECURE_NOTE\"}", NULL);
    opc_secret *out = NULL;
    FX_OK(f.a, opc_account_file_attach(f.a, va, item, "a.txt", NULL, "abc", 3, 0, &out));
    opc_secret_free(out);
    cJSON *t = make_token(f.a, "tok", "S1", sa, 1, 0, NULL);
    char jti[27];
    snprintf(jti, sizeof jti, "%s", fx_str(t, "id"));
    cJSON_Delete(t);
    char *json = NULL;
    FX_OK(f.a, opc_account_vault_edit(f.a, "A", "A2", NULL, &json));
    opc_free(json);
    FX_OK(f.a, opc_account_token_revoke(f.a, jti, NULL));
    FX_OK(f.a, opc_account_item_delete(f.a, va, item, 0));
    FX_OK(f.a, opc_account_server_rename(f.a, "S1", "S1b", &json));
    opc_free(json);

    static const char *const want_all[] = {
        "issuer_key",   "vault_create",  "vault_create", "server_create",
        "grant",        "server_create", "grant",        "item_upsert",
        "item_upsert",  "item_upsert",   "file_add",     "token_create",
        "vault_update", "token_revoke",  "item_delete",  "server_update",
    };
    int64_t last = 0;
    cJSON *all = feed(f.a, NULL, 0, 1000, &last);
    assert_int_equal(cJSON_GetArraySize(all), (int)OPC_ARRAY_LEN(want_all));
    int64_t prev = 0;
    int i = 0;
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, all)
    {
        assert_string_equal(fx_str(e, "kind"), want_all[i]);
        int64_t seq = (int64_t)fx_num(e, "seq");
        assert_true(seq > prev);
        prev = seq;
        i++;
    }
    assert_int_equal(last, prev);
    /* The item change names vault, item and version; the file change its file. */
    const cJSON *up = cJSON_GetArrayItem(all, 9);
    assert_string_equal(fx_str(up, "vault"), va);
    assert_string_equal(fx_str(up, "item"), item);
    assert_int_equal((int)fx_num(up, "version"), 2);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(all, 10), "file"));

    /* S1 sees its own changes, vault A and the issuer key, nothing of B or S2. */
    int64_t last1 = 0;
    cJSON *f1 = feed(f.a, id1, 0, 1000, &last1);
    assert_true(feed_mentions(f1, "vault", va));
    assert_true(feed_mentions(f1, "jti", jti));
    assert_true(feed_mentions(f1, "server", id1));
    assert_false(feed_mentions(f1, "vault", vb));
    assert_false(feed_mentions(f1, "server", id2));
    assert_string_equal(fx_str(cJSON_GetArrayItem(f1, 0), "kind"), "issuer_key");
    assert_int_equal(last1, last);
    int64_t last2 = 0;
    cJSON *f2 = feed(f.a, id2, 0, 1000, &last2);
    assert_true(feed_mentions(f2, "vault", vb));
    assert_false(feed_mentions(f2, "vault", va));
    assert_false(feed_mentions(f2, "server", id1));
    assert_false(feed_mentions(f2, "jti", jti));
    assert_int_equal(last2, last); /* the cursor skips what S2 cannot see */

    /* Paging gives the same sequence. */
    int64_t cursor = 0;
    int seen = 0;
    for (;;) {
        int64_t next = 0;
        cJSON *page = feed(f.a, id1, cursor, 2, &next);
        int n = cJSON_GetArraySize(page);
        for (int k = 0; k < n; k++) {
            assert_int_equal((int64_t)fx_num(cJSON_GetArrayItem(page, k), "seq"),
                             (int64_t)fx_num(cJSON_GetArrayItem(f1, seen + k), "seq"));
        }
        seen += n;
        cJSON_Delete(page);
        assert_true(next >= cursor);
        if (n < 2) {
            break;
        }
        cursor = next;
    }
    assert_int_equal(seen, cJSON_GetArraySize(f1));

    /* Revoking S1's grant: S1 is told, and then no longer sees vault A's changes. */
    FX_OK(f.a, opc_account_server_revoke(f.a, "S1b", "A2"));
    int64_t l3 = 0;
    cJSON *f3 = feed(f.a, id1, last1, 100, &l3);
    assert_int_equal(cJSON_GetArraySize(f3), 1);
    assert_string_equal(fx_str(cJSON_GetArrayItem(f3, 0), "kind"), "grant_revoke");
    cJSON_Delete(f3);
    fx_item(f.a, va, "{\"title\":\"after\",\"category\":\"SECURE_NOTE\"}", NULL);
    f3 = feed(f.a, id1, l3, 100, &l3);
    assert_int_equal(cJSON_GetArraySize(f3), 0);
    cJSON_Delete(f3);
    /* The feed works on a locked handle. */
    opc_account_free(f.a);
    f.a = fx_reopen(&f);
    f3 = feed(f.a, NULL, 0, 1000, &l3);
    assert_int_equal(cJSON_GetArraySize(f3), (int)OPC_ARRAY_LEN(want_all) + 2);
    cJSON_Delete(f3);
    cJSON *none = NULL;
    assert_int_equal(opc__account_changes(f.a, NULL, -1, 10, &none, &l3), OPC_ERR_RANGE);
    assert_int_equal(opc__account_changes(f.a, NULL, 0, 0, &none, &l3), OPC_ERR_RANGE);
    cJSON_Delete(all);
    cJSON_Delete(f1);
    cJSON_Delete(f2);
    fx_destroy(&f);
}

/* ---- canary scan ---- */

static void canary(char *out, const char *tag)
{
    unsigned char r[12];
    assert_int_equal(opc__rand_bytes(r, sizeof r), OPC_OK);
    int n = snprintf(out, 64, "%s-", tag);
    for (size_t i = 0; i < sizeof r; i++) {
        n += snprintf(out + n, 64 - (size_t)n, "%02x", r[i]);
    }
}

static void scan(const char *path, const char *const *needles, const size_t *lens, size_t n)
{
    size_t len = 0;
    unsigned char *bytes = fx_read_file(path, &len);
    for (size_t i = 0; i < n; i++) {
        if (fx_contains(bytes, len, needles[i], lens[i])) {
            fail_msg("canary %zu found in %s", i, path);
        }
    }
    free(bytes);
}

static void test_account_canary_scan(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char c_vault[64];
    char c_title[64];
    char c_user[64];
    char c_pass[64];
    char c_note[64];
    char c_url[64];
    char c_tag[64];
    char c_file[64];
    canary(c_vault, "vault");
    canary(c_title, "title");
    canary(c_user, "user");
    canary(c_pass, "pass");
    canary(c_note, "note");
    canary(c_url, "url");
    canary(c_tag, "tag");
    canary(c_file, "file");
    char vid[27];
    fx_vault(f.a, c_vault, vid);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"title\":\"%s\",\"category\":\"LOGIN\",\"tags\":[\"%s\"],\"urls\":[{\"href\":"
             "\"https://%s.example\"}],\"fields\":[{\"id\":\"username\",\"purpose\":\"USERNAME\","
             "\"value\":\"%s\"},{\"id\":\"password\",\"purpose\":\"PASSWORD\",\"value\":\"%s\"},"
             "{\"id\":\"notesPlain\",\"purpose\":\"NOTES\",\"value\":\"%s\"}]}",
             c_title, c_tag, c_url, c_user, c_pass, c_note);
    char item[27];
    fx_item(f.a, vid, json, item);
    /* A generated password. */
    opc_secret *out = NULL;
    FX_OK(f.a, opc_account_item_create(f.a, vid,
                                       "{\"title\":\"gen\",\"category\":\"PASSWORD\",\"fields\":"
                                       "[{\"id\":\"password\",\"purpose\":\"PASSWORD\","
                                       "\"generate\":true}]}",
                                       &out));
    cJSON *g = fx_json_secret(out);
    opc_secret_free(out);
    char gen[128];
    const cJSON *fl = NULL;
    gen[0] = '\0';
    cJSON_ArrayForEach(fl, cJSON_GetObjectItemCaseSensitive(g, "fields"))
    {
        if (strcmp(fx_str(fl, "id"), "password") == 0) {
            snprintf(gen, sizeof gen, "%s", fx_str(fl, "value"));
        }
    }
    cJSON_Delete(g);
    assert_true(strlen(gen) >= 20);
    /* A file. */
    char content[256];
    snprintf(content, sizeof content, "file body %s end", c_file);
    FX_OK(f.a, opc_account_file_attach(f.a, vid, item, "secret.txt", NULL, content, strlen(content),
                                       0, &out));
    opc_secret_free(out);
    /* A server and a token; T from the token's claims. */
    const char *vaults[] = {vid};
    opc_credentials *creds = NULL;
    cJSON *s = fx_server(f.a, "Canary server", vaults, 1, &creds);
    char sid[27];
    snprintf(sid, sizeof sid, "%s", fx_str(s, "id"));
    cJSON_Delete(s);
    const char *specs[] = {vid};
    opc_secret *token = NULL;
    cJSON *t = make_token(f.a, "canary token", sid, specs, 1, 0, &token);
    cJSON_Delete(t);
    opc__jwt_claims *c = calloc(1, sizeof *c);
    verify_token(token, creds, sid, opc_account_id(f.a), c);
    char t_b64[64];
    assert_int_equal(opc__b64_encode_to(c->token_secret, 32, OPC_B64URL, t_b64, sizeof t_b64, NULL),
                     OPC_OK);
    /* The token's signature segment (enough to identify it). */
    const char *tok = opc_secret_data(token);
    const char *sig = strrchr(tok, '.') + 1;

    const char *needles[] = {c_vault, c_title, c_user,    c_pass,        c_note, c_url, c_tag,
                             c_file,  gen,     f.sk_text, f.sk_text + 3, t_b64,  sig,   tok};
    size_t lens[OPC_ARRAY_LEN(needles)];
    for (size_t i = 0; i < OPC_ARRAY_LEN(needles); i++) {
        lens[i] = strlen(needles[i]);
    }
    /* While open: the database and its WAL. */
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", f.path);
    assert_int_equal(access(wal, F_OK), 0);
    scan(f.path, needles, lens, OPC_ARRAY_LEN(needles));
    scan(wal, needles, lens, OPC_ARRAY_LEN(needles));
    /* The raw T as well. */
    size_t n = 0;
    unsigned char *bytes = fx_read_file(wal, &n);
    assert_false(fx_contains(bytes, n, c->token_secret, 32));
    free(bytes);
    /* After close (checkpointed into the main file). */
    opc_account_free(f.a);
    f.a = NULL;
    scan(f.path, needles, lens, OPC_ARRAY_LEN(needles));
    bytes = fx_read_file(f.path, &n);
    assert_false(fx_contains(bytes, n, c->token_secret, 32));
    /* The test is able to fail: the server name is stored in the clear. */
    assert_true(fx_contains(bytes, n, "Canary server", 13));
    free(bytes);
    opc__wipe(c, sizeof *c);
    free(c);
    opc_secret_free(token);
    opc_credentials_free(creds);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_server_create_credentials_and_token),
        cmocka_unit_test(test_account_server_duplicate_name_and_rename),
        cmocka_unit_test(test_account_server_credentials_made_before_storing),
        cmocka_unit_test(test_account_server_create2_pin),
        cmocka_unit_test(test_account_server_grant_revoke_delete),
        cmocka_unit_test(test_account_token_revoke_list_rename),
        cmocka_unit_test(test_account_feed_kinds_order_and_visibility),
        cmocka_unit_test(test_account_canary_scan),
    };
    return cmocka_run_group_tests_name("account_servers", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
