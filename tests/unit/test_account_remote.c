/*
 * tests/unit/test_account_remote.c - a remote handle end to end in one
 * process, through the public API only: an op-account-server
 * (opc_accountd, plain HTTP on loopback) in a temporary directory, sign-up
 * and SRP sign-in (opc_account_remote_*), then the owner's calls on the
 * handle, which run the owner's store protocol over the signed session
 * (lib/account/remote_rows.c): vaults made, listed, renamed; a Connect
 * server whose credentials name the account server and its pin by
 * default; more requests than a block of reserved counters, across two
 * openings of the session (no counter used twice); the calls that need the
 * file itself refused; the server stopped: a read fails plainly.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <opconnect/account.h>
#include <opconnect/account_server.h>
#include <opconnect/credentials.h>
#include <opconnect/secret.h>

#include "credentials/credentials.h"

#define EMAIL "remote-unit@example.com"
#define PASSWORD "remote unit password"

typedef struct world {
    char dir[256];
    char data[300];
    char run[300];
    char url[64];
    opc_accountd *srv;
    char id[64];
    char sk[128];
    char token[128];
} world;

static void world_start(world *w)
{
    memset(w, 0, sizeof *w);
    const char *tmp = getenv("TMPDIR");
    snprintf(w->dir, sizeof w->dir, "%s/opc-remote-XXXXXX", tmp != NULL ? tmp : "/tmp");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->data, sizeof w->data, "%s/data", w->dir);
    snprintf(w->run, sizeof w->run, "%s/run", w->dir);
    assert_int_equal(mkdir(w->data, 0700), 0);
    char accounts[320];
    snprintf(accounts, sizeof accounts, "%s/accounts", w->data);
    assert_int_equal(mkdir(accounts, 0700), 0);
    assert_int_equal(mkdir(w->run, 0700), 0);
    char err[OPC_ERRBUF_SIZE] = "";
    if (opc_accountd_create(w->data, &w->srv, err, sizeof err) != OPC_OK) {
        fail_msg("opc_accountd_create: %s", err);
    }
    assert_int_equal(opc_accountd_set_bind_address(w->srv, "127.0.0.1"), OPC_OK);
    assert_int_equal(opc_accountd_set_http_port(w->srv, 0), OPC_OK);
    assert_int_equal(opc_accountd_set_threads(w->srv, 8), OPC_OK);
    if (opc_accountd_start(w->srv, err, sizeof err) != OPC_OK) {
        fail_msg("opc_accountd_start: %s", err);
    }
    snprintf(w->url, sizeof w->url, "http://127.0.0.1:%d", opc_accountd_http_port(w->srv));
    opc_secret *sk = NULL;
    if (opc_account_remote_create(w->url, NULL, EMAIL, PASSWORD, w->id, sizeof w->id, &sk, err,
                                  sizeof err) != OPC_OK) {
        fail_msg("remote create: %s", err);
    }
    snprintf(w->sk, sizeof w->sk, "%s", (const char *)opc_secret_data(sk));
    opc_secret_free(sk);
    opc_secret *tok = NULL;
    char id[64];
    if (opc_account_remote_signin(w->url, NULL, EMAIL, PASSWORD, w->sk, w->run, id, sizeof id,
                                  &tok, err, sizeof err) != OPC_OK) {
        fail_msg("remote signin: %s", err);
    }
    assert_string_equal(id, w->id);
    snprintf(w->token, sizeof w->token, "%s", (const char *)opc_secret_data(tok));
    opc_secret_free(tok);
}

static opc_account *world_open(world *w)
{
    char err[OPC_ERRBUF_SIZE] = "";
    opc_account *a = NULL;
    if (opc_account_remote_open(w->run, w->id, w->token, NULL, &a, err, sizeof err) != OPC_OK) {
        fail_msg("remote open: %s", err);
    }
    return a;
}

static void world_stop(world *w)
{
    if (w->srv != NULL) {
        opc_accountd_stop(w->srv);
        opc_accountd_free(w->srv);
        w->srv = NULL;
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    assert_int_equal(system(cmd), 0);
}

static void test_remote_handle_owner_calls(void **state)
{
    (void)state;
    world w;
    world_start(&w);
    opc_account *a = world_open(&w);
    assert_true(opc_account_is_unlocked(a));
    assert_string_equal(opc_account_address(a), w.url);
    char *json = NULL;
    assert_int_equal(opc_account_vault_create(a, "Remote", "over the wire", &json), OPC_OK);
    assert_non_null(strstr(json, "\"name\":\"Remote\""));
    opc_free(json);
    assert_int_equal(opc_account_vault_edit(a, "Remote", "Renamed", NULL, &json), OPC_OK);
    opc_free(json);
    assert_int_equal(opc_account_vault_list(a, &json), OPC_OK);
    assert_non_null(strstr(json, "\"name\":\"Renamed\""));
    assert_null(strstr(json, "\"name\":\"Remote\""));
    opc_free(json);
    /* The same name again is refused by the same check as on a file. */
    assert_int_equal(opc_account_vault_create(a, "Renamed", NULL, &json), OPC_ERR_EXISTS);

    /* A Connect server: the credentials name this account server and its pin. */
    const char *vaults[] = {"Renamed"};
    opc_secret *creds = NULL;
    assert_int_equal(opc_account_server_create2(a, "ci", vaults, 1, NULL, NULL, &json, &creds),
                     OPC_OK);
    opc_free(json);
    opc_credentials *c = NULL;
    char err[OPC_ERRBUF_SIZE] = "";
    if (opc_credentials_parse(opc_secret_data(creds), opc_secret_len(creds), &c, err,
                              sizeof err) != OPC_OK) {
        fail_msg("credentials: %s", err);
    }
    assert_string_equal(opc_credentials_upstream_url(c), w.url);
    assert_string_equal(opc_credentials_account_id(c), w.id);
    char pin[64];
    assert_int_equal(opc_accountd_pin(w.data, pin, sizeof pin, err, sizeof err), OPC_OK);
    assert_non_null(opc__credentials_account_server_pin(c));
    assert_string_equal(opc__credentials_account_server_pin(c), pin);
    opc_credentials_free(c);
    opc_secret_free(creds);

    /* What works on the file itself is refused on a remote handle. */
    assert_int_equal(opc_account_unlock(a, PASSWORD, w.sk), OPC_ERR_UNSUPPORTED);
    assert_non_null(strstr(opc_account_errmsg(a), "account file only"));
    opc_account_free(a);
    world_stop(&w);
}

/* Counters are reserved 64 at a time: a session used for more requests
 * than a block, closed and opened again, never sends a counter twice (the
 * server would refuse it as a replay). */
static void test_remote_counters_across_openings(void **state)
{
    (void)state;
    world w;
    world_start(&w);
    for (int round = 0; round < 3; round++) {
        opc_account *a = world_open(&w);
        for (int i = 0; i < 50; i++) {
            char *json = NULL;
            if (opc_account_vault_list(a, &json) != OPC_OK) {
                fail_msg("round %d, list %d: %s", round, i, opc_account_errmsg(a));
            }
            opc_free(json);
        }
        opc_account_free(a);
    }
    world_stop(&w);
}

/* The server gone: a read fails with one plain line, no crash. */
static void test_remote_server_gone(void **state)
{
    (void)state;
    world w;
    world_start(&w);
    opc_account *a = world_open(&w);
    opc_accountd_stop(w.srv);
    char *json = NULL;
    opc_err rc = opc_account_vault_list(a, &json);
    assert_int_equal(rc, OPC_ERR_IO);
    assert_null(json);
    assert_non_null(strstr(opc_account_errmsg(a), "127.0.0.1"));
    opc_account_free(a);
    world_stop(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_handle_owner_calls),
        cmocka_unit_test(test_remote_counters_across_openings),
        cmocka_unit_test(test_remote_server_gone),
    };
    return cmocka_run_group_tests_name("account_remote", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
