/*
 * tests/unit/test_server.c - lib/server: the embedded server (sync + API in
 * one process) over a small account, queried with real HTTP (libcurl).
 *
 * The library is initialized with the system allocator here (not cmocka's,
 * whose bookkeeping is not thread-safe): civetweb's workers and the sync
 * thread allocate concurrently.
 */
#include "account_fixture.h"
#include "http_client.h"

static void test_server_serves_vaults(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vault[27];
    fx_vault(f.a, "Demo", vault);
    fx_item(f.a, vault, "{\"title\":\"Router\",\"category\":\"LOGIN\"}", NULL);
    const char *vaults[] = {vault};
    opc_credentials *creds = NULL;
    cJSON_Delete(fx_server(f.a, "Embedded", vaults, 1, &creds));
    char err[OPC_ERRBUF_SIZE];
    const char *specs[] = {"Demo,r"};
    char *tj = NULL;
    opc_secret *tok = NULL;
    FX_OK(f.a, opc_account_token_create(f.a, "ci", "Embedded", specs, 1, 0, &tj, &tok));
    opc_free(tj);

    char cache[300];
    snprintf(cache, sizeof cache, "%s/data/1password.sqlite", f.dir);
    opc_server *srv = NULL;
    opc_err rc = opc_server_create(creds, cache, &srv, err, sizeof err);
    if (rc != OPC_OK) {
        fail_msg("server create: %s (%s)", opc_errname(rc), err);
    }
    assert_int_equal(opc_server_port(srv), -1);
    assert_int_equal(opc_server_set_http_port(srv, 70000), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_server_set_http_port(srv, 0), OPC_OK);
    assert_int_equal(opc_server_set_bind_address(srv, "127.0.0.1"), OPC_OK);
    rc = opc_server_start(srv, err, sizeof err);
    if (rc != OPC_OK) {
        fail_msg("server start: %s (%s)", opc_errname(rc), err);
    }
    int port = opc_server_port(srv);
    assert_true(port > 0);
    assert_int_equal(opc_server_start(srv, NULL, 0), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_server_set_http_port(srv, 1234), OPC_ERR_INVALID_ARG);

    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/vaults", port);
    resp r;
    opc_test_http(NULL, url, (const char *)opc_secret_data(tok), &r);
    assert_int_equal(r.status, 200);
    cJSON *j = fx_json(r.body);
    assert_true(cJSON_IsArray(j));
    assert_int_equal(cJSON_GetArraySize(j), 1);
    assert_string_equal(fx_str(cJSON_GetArrayItem(j, 0), "id"), vault);
    assert_string_equal(fx_str(cJSON_GetArrayItem(j, 0), "name"), "Demo");
    cJSON_Delete(j);
    /* A wrong token is refused. */
    opc_test_http(NULL, url, "not-a-token", &r);
    assert_int_equal(r.status, 401);

    opc_server_stop(srv);
    assert_int_equal(opc_server_port(srv), -1);
    opc_server_stop(srv); /* idempotent */
    opc_server_free(srv);
    assert_false(opc_credentials_is_unlocked(creds));
    opc_secret_free(tok);
    opc_credentials_free(creds);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_serves_vaults),
    };
    return cmocka_run_group_tests_name("server", tests, opc_test_http_group_setup,
                                       opc_test_http_group_teardown);
}
