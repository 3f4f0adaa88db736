/*
 * test_oom.c - allocation-failure torture: each operation is run again and
 * again with its k-th allocation failing (k = 1, 2, ...) until it runs with
 * no failure injected. Every run must end cleanly (an error code, never a
 * crash) with OPC_ERR_NOMEM and leak nothing (cmocka checks every block).
 */
#include "account_fixture.h"
#include "oom_fixture.h"

#include "core/alloc.h"
#include "core/json.h"
#include "crypto/base64.h"
#include "crypto/envelope.h"
#include "crypto/jwt.h"
#include "crypto/key.h"
#include "credentials/credentials.h"
#include "model/item.h"
#include "model/patch.h"
#include "account/account_int.h"
#include "cache/cache.h"
#include "upstream/upstream.h"

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

typedef opc_err (*op_fn)(void *ctx);

/* Run op with failure at allocation 1, 2, ... until it runs clean. */
static void torture(const char *name, op_fn op, void *ctx)
{
    long k;
    for (k = 1; k < 100000; k++) {
        fail_at = k;
        alloc_no = 0;
        injected = 0;
        opc_err rc = op(ctx);
        if (injected == 0) {
            /* k exceeded the operation's allocation count: it ran clean. */
            assert_int_equal(rc, OPC_OK);
            break;
        }
        if (rc != OPC_ERR_NOMEM) {
            fail_msg("%s: allocation %ld failed but the operation returned %s", name, k,
                     opc_errname(rc));
        }
    }
    fail_at = 0;
    print_message("%s: %ld allocation failures survived\n", name, k - 1);
    assert_true(k > 1);
}

static opc_err op_json(void *ctx)
{
    (void)ctx;
    const char *s = "{\"a\":[1,2,{\"b\":\"c\"}],\"d\":\"e\"}";
    cJSON *j = NULL;
    opc_err rc = opc__json_parse(s, strlen(s), NULL, &j, NULL);
    if (rc != OPC_OK) {
        return rc;
    }
    char *out = NULL;
    rc = opc__json_print(j, &out, NULL);
    opc__free(out);
    cJSON_Delete(j);
    return rc;
}

static opc_err op_base64(void *ctx)
{
    (void)ctx;
    unsigned char *out = NULL;
    size_t n;
    opc_err rc = opc__b64_decode("Zm9vYmFy", 8, OPC_B64_STD, &out, &n, NULL);
    if (rc != OPC_OK) {
        return rc;
    }
    char *enc = NULL;
    rc = opc__b64_encode(out, n, OPC_B64URL, &enc, NULL);
    opc__free(enc);
    opc__free(out);
    return rc;
}

static opc_err op_envelope(void *ctx)
{
    const opc__key *k = ctx;
    cJSON *env = NULL;
    opc_err rc = opc__envelope_seal(k, "aad", 3, "plaintext", 9, &env);
    if (rc != OPC_OK) {
        return rc;
    }
    opc_secret *pt = NULL;
    rc = opc__envelope_open(env, k, "aad", 3, &pt, NULL);
    opc_secret_free(pt);
    cJSON_Delete(env);
    return rc;
}

static opc_err op_jwk(void *ctx)
{
    const opc__key *k = ctx;
    cJSON *j = NULL;
    opc_err rc = opc__jwk_export(k, true, &j);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__key *k2 = NULL;
    rc = opc__jwk_import(j, 0, &k2, NULL);
    opc__key_free(k2);
    opc__json_delete_secret(j);
    return rc;
}

typedef struct {
    const opc__key *keys[1];
    char *token;
} jwt_ctx;

static opc_err op_jwt(void *ctx)
{
    jwt_ctx *c = ctx;
    opc__jwt_expect e = {.keys = c->keys, .n_keys = 1, .audience = OPC_JWT_AUDIENCE,
                         .now = 1800000000, .leeway = OPC_JWT_LEEWAY_S};
    static opc__jwt_claims claims;
    return opc__jwt_verify(c->token, strlen(c->token), &e, &claims, NULL);
}

typedef struct {
    char *json;
    size_t len;
    uint8_t T[32];
} cred_ctx;

static opc_err op_credentials(void *ctx)
{
    cred_ctx *c = ctx;
    opc_credentials *cr = NULL;
    opc_err rc = opc_credentials_parse(c->json, c->len, &cr, NULL, 0);
    if (rc != OPC_OK) {
        return rc;
    }
    rc = opc_credentials_unlock(cr, c->T, sizeof c->T, NULL, 0);
    opc_credentials_free(cr);
    return rc;
}

static void test_oom_core_and_crypto(void **state)
{
    (void)state;
    torture("json parse+print", op_json, NULL);
    torture("base64 decode+encode", op_base64, NULL);
    opc__key *oct = NULL;
    assert_int_equal(opc__key_generate_oct("k", OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &oct),
                     OPC_OK);
    torture("envelope seal+open", op_envelope, oct);
    torture("jwk export+import (oct)", op_jwk, oct);
    opc__key_free(oct);
    opc__key *ec = NULL;
    assert_int_equal(opc__key_generate_ec("issuer", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &ec),
                     OPC_OK);
    torture("jwk export+import (EC)", op_jwk, ec);
    jwt_ctx jc = {{ec}, NULL};
    assert_int_equal(
        opc__jws_sign_es256(ec, "{\"alg\":\"ES256\",\"kid\":\"issuer\",\"typ\":\"JWT\"}",
                            "{\"aud\":[\"com.1password.connect\"],\"iat\":1799999000,"
                            "\"jti\":\"oomtokenaaaaaaaaaaaaaaaaaa\","
                            "\"1password.com/vts\":[{\"u\":\"oomvaultaaaaaaaaaaaaaaaaaa\",\"a\":1}]}",
                            &jc.token),
        OPC_OK);
    torture("jwt verify", op_jwt, &jc);
    opc_free(jc.token);
    opc__key_free(ec);
}

static void test_oom_credentials(void **state)
{
    (void)state;
    opc__key *dev = NULL, *iss = NULL, *iss_pub = NULL, *rsa = NULL, *sym = NULL;
    assert_int_equal(opc__key_generate_ec("device", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &dev),
                     OPC_OK);
    assert_int_equal(opc__key_generate_ec("issuerkey", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &iss),
                     OPC_OK);
    assert_int_equal(opc__key_public(iss, &iss_pub), OPC_OK);
    assert_int_equal(opc__key_generate_rsa("enckey", OPC_KEYOP_WRAP | OPC_KEYOP_UNWRAP |
                                                         OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT,
                                           &rsa),
                     OPC_OK);
    assert_int_equal(opc__key_generate_oct("symkey", OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &sym),
                     OPC_OK);
    const opc__key *issuers[1] = {iss_pub};
    opc__credentials_params p = {
        .server_id = "oomserveraaaaaaaaaaaaaaaaa",
        .account_id = "oomaccountaaaaaaaaaaaaaaaa",
        .service_url = "/var/lib/opconnect/account.db",
        .device_key = dev,
        .issuer_keys = issuers,
        .n_issuer_keys = 1,
        .enc_key = rsa,
        .sym_key = sym,
    };
    cred_ctx c;
    memset(c.T, 0x5a, sizeof c.T);
    assert_int_equal(opc__credentials_create(&p, c.T, &c.json, &c.len, NULL), OPC_OK);
    torture("credentials parse+unlock", op_credentials, &c);
    opc__secret_free(c.json, c.len);
    opc__key_free(dev);
    opc__key_free(iss);
    opc__key_free(iss_pub);
    opc__key_free(rsa);
    opc__key_free(sym);
}

static opc_err op_item_prepare(void *ctx)
{
    const char *json = ctx;
    cJSON *item = NULL;
    opc_err rc = opc__item_prepare_json(json, strlen(json), OPC_ITEM_CREATE, NULL, &item, NULL);
    opc__json_delete_secret(item);
    return rc;
}

typedef struct {
    cJSON *item;
    const char *patch;
} patch_ctx;

static opc_err op_item_patch(void *ctx)
{
    const patch_ctx *c = ctx;
    cJSON *item = NULL;
    opc_err rc = opc__item_patch_apply(c->item, c->patch, strlen(c->patch), &item, NULL, NULL);
    opc__json_delete_secret(item);
    return rc;
}

typedef struct {
    opc_account *a;
    char vault[OPC_ID_LEN + 1];
    char path[256];
} acct_ctx;

static int64_t item_count(acct_ctx *c)
{
    opc_secret *list = NULL;
    assert_int_equal(opc_account_item_list(c->a, c->vault, &list), OPC_OK);
    cJSON *j = cJSON_Parse(opc_secret_data(list));
    int64_t n = cJSON_GetArraySize(j);
    cJSON_Delete(j);
    opc_secret_free(list);
    return n;
}

static opc_err op_account_item_create(void *ctx)
{
    acct_ctx *c = ctx;
    opc_secret *out = NULL;
    opc_err rc = opc_account_item_create(
        c->a, c->vault,
        "{\"title\":\"oom\",\"category\":\"LOGIN\",\"fields\":[{\"id\":\"password\","
        "\"generate\":true}]}",
        &out);
    opc_secret_free(out);
    return rc;
}

static opc_err op_account_token_create(void *ctx)
{
    acct_ctx *c = ctx;
    const char *specs[1] = {"Oom,r"};
    char *json = NULL;
    opc_secret *token = NULL;
    opc_err rc = opc_account_token_create(c->a, "t", "srv", specs, 1, 3600, &json, &token);
    opc_free(json);
    opc_secret_free(token);
    return rc;
}

static void test_oom_model_and_account(void **state)
{
    (void)state;
    static char item_json[] = "{\"title\":\"t\",\"category\":\"LOGIN\",\"tags\":[\"a\"],"
                    "\"sections\":[{\"id\":\"s\",\"label\":\"S\"}],"
                    "\"fields\":[{\"section\":{\"id\":\"s\"},\"type\":\"otp\","
                    "\"value\":\"otpauth://totp/x?secret=JBSWY3DPEHPK3PXP\"}]}";
    torture("item prepare", op_item_prepare, item_json);
    patch_ctx pc = {NULL, "[{\"op\":\"replace\",\"path\":\"/title\",\"value\":\"u\"},"
                          "{\"op\":\"add\",\"path\":\"/tags/0\",\"value\":\"b\"},"
                          "{\"op\":\"add\",\"path\":\"/fields\",\"value\":{\"label\":\"l\"}},"
                          "{\"op\":\"replace\",\"path\":\"/fields/password/value\","
                          "\"value\":\"fake\"},"
                          "{\"op\":\"remove\",\"path\":\"/sections/s/label\"}]"};
    assert_int_equal(
        opc__item_prepare_json(item_json, strlen(item_json), OPC_ITEM_CREATE, NULL, &pc.item, NULL),
        OPC_OK);
    torture("item patch", op_item_patch, &pc);
    opc__json_delete_secret(pc.item);

    acct_ctx c;
    char dir[64];
    opc_test_mkdtemp(dir, sizeof dir, "opc-oom", "account.db", c.path, sizeof c.path);
    opc_secret *sk = NULL;
    assert_int_equal(opc__account_create_ex(c.path, "oom@example.com", "pw", 1000, 1, &c.a, &sk,
                                            NULL),
                     OPC_OK);
    opc_secret_free(sk);
    char *vault = NULL;
    assert_int_equal(opc_account_vault_create(c.a, "Oom", NULL, &vault), OPC_OK);
    cJSON *v = cJSON_Parse(vault);
    snprintf(c.vault, sizeof c.vault, "%s", cJSON_GetObjectItem(v, "id")->valuestring);
    cJSON_Delete(v);
    opc_free(vault);
    /* Every failed attempt must leave no item behind: one transaction per call. */
    torture("account item create", op_account_item_create, &c);
    assert_int_equal(item_count(&c), 1);

    const char *vaults[1] = {"Oom"};
    char *server = NULL;
    opc_secret *creds = NULL;
    assert_int_equal(opc_account_server_create(c.a, "srv", vaults, 1, NULL, &server, &creds),
                     OPC_OK);
    opc_free(server);
    opc_secret_free(creds);
    torture("account token create", op_account_token_create, &c);
    char *tokens = NULL;
    assert_int_equal(opc_account_token_list(c.a, "srv", &tokens), OPC_OK);
    cJSON *tl = cJSON_Parse(tokens);
    assert_int_equal(cJSON_GetArraySize(tl), 1);
    cJSON_Delete(tl);
    opc_free(tokens);
    opc_account_free(c.a);
    unlink(c.path);
    char side[300];
    snprintf(side, sizeof side, "%s-wal", c.path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", c.path);
    unlink(side);
    rmdir(dir);
}

typedef struct {
    char path[256];
    char account[OPC_ID_LEN + 1];
    char server[OPC_ID_LEN + 1];
    char vault[OPC_ID_LEN + 1];
    char item[OPC_ID_LEN + 1];
    opc__item_write w;
    bool remove;
} write_ctx;

/* A Connect server's write through a fresh local upstream (as a connect-api thread). */
static opc_err op_server_write(void *ctx)
{
    write_ctx *c = ctx;
    opc__upstream *u = NULL;
    cJSON *it = NULL;
    cJSON *v = NULL;
    opc_err rc = opc__upstream_local_open(c->path, c->server, c->account, &u, NULL);
    if (rc == OPC_OK && c->remove) {
        rc = opc__upstream_item_delete(u, c->vault, c->item, c->w.expected_version, &it, &v, NULL);
    } else if (rc == OPC_OK) {
        rc = opc__upstream_item_put(u, &c->w, &it, &v, NULL);
    }
    cJSON_Delete(it);
    cJSON_Delete(v);
    opc__upstream_close(u);
    return rc;
}

static void test_oom_server_write(void **state)
{
    (void)state;
    write_ctx c;
    memset(&c, 0, sizeof c);
    char dir[64];
    opc_test_mkdtemp(dir, sizeof dir, "opc-oom", "account.db", c.path, sizeof c.path);
    opc_account *a = NULL;
    opc_secret *sk = NULL;
    assert_int_equal(opc__account_create_ex(c.path, "oom@example.com", "pw", 1000, 1, &a, &sk,
                                            NULL),
                     OPC_OK);
    opc_secret_free(sk);
    snprintf(c.account, sizeof c.account, "%s", opc_account_id(a));
    char *json = NULL;
    assert_int_equal(opc_account_vault_create(a, "Oom", NULL, &json), OPC_OK);
    cJSON *j = cJSON_Parse(json);
    snprintf(c.vault, sizeof c.vault, "%s", cJSON_GetObjectItem(j, "id")->valuestring);
    cJSON_Delete(j);
    opc_free(json);
    const char *vaults[1] = {"Oom"};
    opc_secret *creds = NULL;
    assert_int_equal(opc_account_server_create(a, "srv", vaults, 1, NULL, &json, &creds), OPC_OK);
    j = cJSON_Parse(json);
    snprintf(c.server, sizeof c.server, "%s", cJSON_GetObjectItem(j, "id")->valuestring);
    cJSON_Delete(j);
    opc_free(json);
    opc_secret_free(creds);
    assert_int_equal(opc__id_generate(c.item), OPC_OK);
    char *ov = NULL;
    char *det = NULL;
    fx_seal_item(a, c.vault, c.item, "{\"title\":\"oom\",\"category\":\"LOGIN\"}", &ov, &det,
                 &c.w.key_sn);
    c.w.vault_id = c.vault;
    c.w.item_id = c.item;
    c.w.overview = ov;
    c.w.details = det;
    /* Every failed attempt must leave the account as it was: the clean run
     * finds the item at the version the previous step left. */
    c.w.expected_version = 0;
    torture("server item create", op_server_write, &c);
    assert_int_equal(fx_item_version(c.path, c.item), 1);
    c.w.expected_version = 1;
    torture("server item replace", op_server_write, &c);
    assert_int_equal(fx_item_version(c.path, c.item), 2);
    c.remove = true;
    c.w.expected_version = 2;
    torture("server item delete", op_server_write, &c);
    assert_int_equal(fx_item_version(c.path, c.item), 3);
    opc__free(ov);
    opc__free(det);
    opc_account_free(a);
    fx_rm_path(c.path);
    rmdir(dir);
}

static opc_err op_cache_item_get(void *ctx)
{
    opc__cache_item it;
    opc_err rc = opc__cache_item_get(ctx, "vvvvvvvvvvvvvvvvvvvvvvvvvv",
                                     "iiiiiiiiiiiiiiiiiiiiiiiiii", &it, NULL);
    opc__cache_item_clear(&it);
    return rc;
}

static void test_oom_cache_getter(void **state)
{
    (void)state;
    char dir[64];
    char path[64];
    opc_test_mkdtemp(dir, sizeof dir, "opc-oom", "cache.sqlite", path, sizeof path);
    opc__cache *c = NULL;
    assert_int_equal(opc__cache_open(path, OPC_CACHE_CREATE, &c, NULL), OPC_OK);
    char state_s[] = "active", ov[] = "overview", det[] = "details";
    opc__cache_item it = {.id = "iiiiiiiiiiiiiiiiiiiiiiiiii",
                          .vault = "vvvvvvvvvvvvvvvvvvvvvvvvvv",
                          .version = 1,
                          .state = state_s,
                          .overview = ov,
                          .details = det};
    assert_int_equal(opc__cache_item_put(c, &it, NULL, NULL), OPC_OK);
    /* Each copied column fails in turn: no copy leaks (cmocka checks). */
    torture("cache item get", op_cache_item_get, c);
    opc__cache_close(c);
    fx_rm_path(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_core_and_crypto),
        cmocka_unit_test(test_oom_credentials),
        cmocka_unit_test(test_oom_model_and_account),
        cmocka_unit_test(test_oom_server_write),
        cmocka_unit_test(test_oom_cache_getter),
    };
    return cmocka_run_group_tests_name("oom", tests, oom_setup, opc_test_group_teardown);
}
