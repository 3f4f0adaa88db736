/*
 * Unit tests of server.c on the owner's store protocol (account/rows.h):
 * every call is named reads then ONE batch, and a concurrent change made
 * between the read phase and the batch (by another handle on the same
 * file, through an interposed backend) makes the batch conflict, commit
 * nothing, and the call read again and decide again, at most
 * OPC__SERVER_TRIES times.
 */
#include "rows_fixture.h"

#include "core/sqlite.h"

/*
 * The interposer (rows_fixture.h) runs `act` on the other handle; the last
 * batch's ip.last_has: token.revoke, access.revoke_all_server,
 * server.delete, a guard (token.active_by_server).
 */
static void ip_install(interposer *ip, fx *f, void (*act)(interposer *), int rounds)
{
    rx_install(ip, f, act, rounds);
    ip->watch[0] = "token.revoke";
    ip->watch[1] = "access.revoke_all_server";
    ip->watch[2] = "server.delete";
    ip->watch[3] = "token.active_by_server";
}

/* ---- what the other handle does meanwhile ---- */

static void other_rename(interposer *ip)
{
    char *json = NULL;
    char name[32];
    snprintf(name, sizeof name, "theirs%d", ip->batches);
    FX_OK(ip->other, opc_account_server_rename(ip->other, "Web", name, &json));
    opc_free(json);
    /* back to "Web", so that the next round finds it by that name */
    FX_OK(ip->other, opc_account_server_rename(ip->other, name, "Web", &json));
    opc_free(json);
}

static void other_create_api(interposer *ip)
{
    const char *vaults[] = {"Prod"};
    cJSON *s = fx_server(ip->other, "Api", vaults, 1, NULL);
    cJSON_Delete(s);
}

static void other_grant_dev(interposer *ip)
{
    FX_OK(ip->other, opc_account_server_grant(ip->other, "Web", "Dev"));
}

static void other_revoke_dev(interposer *ip)
{
    FX_OK(ip->other, opc_account_server_revoke(ip->other, "Web", "Dev"));
}

static void other_token(interposer *ip)
{
    const char *specs[] = {"Prod"};
    char *json = NULL;
    opc_secret *tok = NULL;
    char name[32];
    snprintf(name, sizeof name, "late%d", ip->batches);
    FX_OK(ip->other, opc_account_token_create(ip->other, name, "Web", specs, 1, 0, &json, &tok));
    opc_free(json);
    opc_secret_free(tok);
}

static void other_delete_dev(interposer *ip)
{
    FX_OK(ip->other, opc_account_vault_delete(ip->other, "Dev"));
}

/* ---- fixture ---- */

/* Vaults Prod and Dev, server "Web" on Prod with one token "ci"; *sid its id. */
static void setup(fx *f, char sid[27])
{
    fx_create(f);
    char id[27];
    fx_vault(f->a, "Prod", id);
    fx_vault(f->a, "Dev", id);
    const char *vaults[] = {"Prod"};
    cJSON *s = fx_server(f->a, "Web", vaults, 1, NULL);
    snprintf(sid, 27, "%s", fx_str(s, "id"));
    cJSON_Delete(s);
    const char *specs[] = {"Prod"};
    char *json = NULL;
    opc_secret *tok = NULL;
    FX_OK(f->a, opc_account_token_create(f->a, "ci", "Web", specs, 1, 0, &json, &tok));
    opc_free(json);
    opc_secret_free(tok);
}

/* ---- tests ---- */

/* rename: renamed meanwhile (the row's seq moved): ours is applied on top;
 * conflicting every time: OPC__SERVER_TRIES attempts, then OPC_ERR_CONFLICT
 * and nothing changed. */
static void test_server_rows_rename_retry(void **state)
{
    (void)state;
    fx f;
    char sid[27];
    setup(&f, sid);
    interposer ip;
    char *json = NULL;
    ip_install(&ip, &f, other_rename, 1);
    FX_OK(f.a, opc_account_server_rename(f.a, "Web", "Mine", &json));
    assert_int_equal(ip.batches, 2);
    cJSON *s = fx_json(json);
    opc_free(json);
    assert_string_equal(fx_str(s, "name"), "Mine");
    assert_string_equal(fx_str(s, "id"), sid);
    cJSON_Delete(s);
    rx_remove(&ip, &f);
    FX_OK(f.a, opc_account_server_get(f.a, sid, &json));
    s = fx_json(json);
    opc_free(json);
    assert_string_equal(fx_str(s, "name"), "Mine");
    cJSON_Delete(s);
    /* the record was re-sealed with the name: the server still mints */
    const char *specs[] = {"Prod"};
    opc_secret *tok = NULL;
    FX_OK(f.a, opc_account_token_create(f.a, "t2", "Mine", specs, 1, 0, &json, &tok));
    opc_free(json);
    opc_secret_free(tok);

    FX_OK(f.a, opc_account_server_rename(f.a, "Mine", "Web", &json));
    opc_free(json);
    int64_t updates = rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'server_update'");
    ip_install(&ip, &f, other_rename, 100);
    FX_ERR(f.a, OPC_ERR_CONFLICT, opc_account_server_rename(f.a, "Web", "Never", &json));
    assert_null(json);
    assert_int_equal(ip.batches, OPC__SERVER_TRIES);
    assert_non_null(strstr(opc_account_errmsg(f.a), "server.rename"));
    rx_remove(&ip, &f);
    /* only the other handle's renames (two per round) were committed */
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'server_update'"),
                     updates + 2 * OPC__SERVER_TRIES);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM servers WHERE name = 'Never'"), 0);
    fx_destroy(&f);
}

/* create: a server of the same name appeared meanwhile: the guard fails,
 * the retry's read phase refuses the name; nothing of ours is stored. */
static void test_server_rows_create_name_taken_meanwhile(void **state)
{
    (void)state;
    fx f;
    char sid[27];
    setup(&f, sid);
    interposer ip;
    ip_install(&ip, &f, other_create_api, 1);
    const char *vaults[] = {"Prod", "Dev", "prod"};
    char *json = NULL;
    opc_secret *creds = NULL;
    FX_ERR(f.a, OPC_ERR_EXISTS,
           opc_account_server_create(f.a, "api", vaults, 3, NULL, &json, &creds));
    assert_null(json);
    assert_null(creds);
    assert_int_equal(ip.batches, 1);
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM servers"), 2);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'server_create'"), 2);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM vault_access WHERE accessor_type = "
                                  "'server'"),
                     2);
    fx_destroy(&f);
}

/* create: a vault deleted meanwhile: its grant row is not written (0 rows,
 * a conflict), the retry does not find the vault; nothing is stored. */
static void test_server_rows_create_vault_gone_meanwhile(void **state)
{
    (void)state;
    fx f;
    char sid[27];
    setup(&f, sid);
    /* the vault delete (vault.c, in its own transaction) logs Web's grant
     * of Dev going: server.c's read and batch, as a savepoint */
    FX_OK(f.a, opc_account_server_grant(f.a, "Web", "Dev"));
    interposer ip;
    ip_install(&ip, &f, other_delete_dev, 1);
    const char *vaults[] = {"Prod", "Dev"};
    char *json = NULL;
    opc_secret *creds = NULL;
    FX_ERR(f.a, OPC_ERR_NOT_FOUND,
           opc_account_server_create(f.a, "Api", vaults, 2, NULL, &json, &creds));
    assert_null(json);
    assert_null(creds);
    assert_int_equal(ip.batches, 1);
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM servers"), 1);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'server_create'"), 1);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'grant_revoke' AND "
                                  "server_id IS NOT NULL AND vault_id IS NOT NULL"),
                     1);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM vault_access WHERE accessor_type = "
                                  "'server'"),
                     1);
    fx_destroy(&f);
}

/* create: a new server on several vaults is one batch; its JSON lists the
 * distinct vaults in id order, as get shows them. */
static void test_server_rows_create_one_batch(void **state)
{
    (void)state;
    fx f;
    char sid[27];
    setup(&f, sid);
    interposer ip;
    ip_install(&ip, &f, other_rename, 0);
    const char *vaults[] = {"Dev", "Prod", "dev"};
    char *json = NULL;
    opc_secret *creds = NULL;
    FX_OK(f.a, opc_account_server_create(f.a, "Api", vaults, 3, NULL, &json, &creds));
    assert_int_equal(ip.batches, 1);
    assert_int_equal(ip.last_n, 3 + 2 * 2); /* guard, change + row, 2 x (change + grant) */
    rx_remove(&ip, &f);
    cJSON *made = fx_json(json);
    opc_free(json);
    opc_secret_free(creds);
    FX_OK(f.a, opc_account_server_get(f.a, fx_str(made, "id"), &json));
    cJSON *got = fx_json(json);
    opc_free(json);
    const cJSON *mv = cJSON_GetObjectItem(made, "vaults");
    const cJSON *gv = cJSON_GetObjectItem(got, "vaults");
    assert_int_equal(cJSON_GetArraySize(mv), 2);
    assert_int_equal(cJSON_GetArraySize(gv), 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(fx_str(cJSON_GetArrayItem(mv, i), "id"),
                            fx_str(cJSON_GetArrayItem(gv, i), "id"));
        assert_string_equal(fx_str(cJSON_GetArrayItem(mv, i), "name"),
                            fx_str(cJSON_GetArrayItem(gv, i), "name"));
    }
    assert_string_equal(fx_str(made, "createdAt"), fx_str(got, "createdAt"));
    cJSON_Delete(made);
    cJSON_Delete(got);
    fx_destroy(&f);
}

/* grant: granted meanwhile: the guard fails, the retry finds it granted and
 * changes nothing. revoke: revoked meanwhile: the row's seq moved, the
 * retry finds it not granted (OPC_ERR_NOT_FOUND, as when serialized). */
static void test_server_rows_grant_revoke_retry(void **state)
{
    (void)state;
    fx f;
    char sid[27];
    setup(&f, sid);
    interposer ip;
    int64_t grants = rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'grant'");
    ip_install(&ip, &f, other_grant_dev, 1);
    FX_OK(f.a, opc_account_server_grant(f.a, "Web", "Dev"));
    assert_int_equal(ip.batches, 1);
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'grant'"), grants + 1);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM vault_access WHERE accessor_type = "
                                  "'server'"),
                     2);

    int64_t revokes = rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'grant_revoke'");
    ip_install(&ip, &f, other_revoke_dev, 1);
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_server_revoke(f.a, "Web", "Dev"));
    assert_int_equal(ip.batches, 1);
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'grant_revoke'"),
                     revokes + 1);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM vault_access WHERE accessor_type = "
                                  "'server'"),
                     1);
    fx_destroy(&f);
}

/* delete: one batch revokes the tokens and the grants and deletes the
 * server; a token created (or a vault granted) meanwhile makes it conflict,
 * and the retry revokes that one too. */
static void test_server_rows_delete_one_batch_and_retry(void **state)
{
    (void)state;
    fx f;
    char sid[27];
    setup(&f, sid);
    interposer ip;
    ip_install(&ip, &f, other_token, 1);
    FX_OK(f.a, opc_account_server_delete(f.a, "Web"));
    assert_int_equal(ip.batches, 2);
    assert_true(ip.last_has[0] && ip.last_has[1] && ip.last_has[2] && ip.last_has[3]);
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM tokens WHERE state = 'active'"), 0);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM tokens WHERE state = 'revoked'"), 2);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'token_revoke'"), 2);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM vault_access WHERE accessor_type = "
                                  "'server'"),
                     0);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM servers WHERE state = 'deleted' AND record "
                                  "IS NULL AND enc_pub IS NULL"),
                     1);
    char *json = NULL;
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_server_get(f.a, sid, &json));

    /* a grant meanwhile: the deletion of the grants changes one row more */
    fx_destroy(&f);
    setup(&f, sid);
    ip_install(&ip, &f, other_grant_dev, 1);
    FX_OK(f.a, opc_account_server_delete(f.a, "Web"));
    assert_int_equal(ip.batches, 2);
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM vault_access WHERE accessor_type = "
                                  "'server'"),
                     0);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'grant_revoke'"), 2);

    /* always a new token: OPC__SERVER_TRIES attempts, then a conflict naming the guard */
    fx_destroy(&f);
    setup(&f, sid);
    ip_install(&ip, &f, other_token, 100);
    FX_ERR(f.a, OPC_ERR_CONFLICT, opc_account_server_delete(f.a, "Web"));
    assert_int_equal(ip.batches, OPC__SERVER_TRIES);
    assert_non_null(strstr(opc_account_errmsg(f.a), "token.active_by_server"));
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM servers WHERE state = 'active'"), 1);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'server_delete'"), 0);
    fx_destroy(&f);
}

/* A delete is one batch: a server with more active tokens than a batch
 * holds is refused (OPC_ERR_RANGE naming it) and nothing is changed;
 * after revoking some it is deleted. */
static void test_server_rows_delete_bound(void **state)
{
    (void)state;
    fx f;
    char sid[27];
    setup(&f, sid);
    const char *specs[] = {"Prod"};
    for (int i = 0; i < OPC__RPC_MAX_PLAIN_STEPS / 2; i++) {
        char name[32];
        char *json = NULL;
        opc_secret *tok = NULL;
        snprintf(name, sizeof name, "t%d", i);
        FX_OK(f.a, opc_account_token_create(f.a, name, "Web", specs, 1, 0, &json, &tok));
        opc_free(json);
        opc_secret_free(tok);
    }
    int64_t before = rx_count(&f, "SELECT COUNT(*) FROM changes");
    FX_ERR(f.a, OPC_ERR_RANGE, opc_account_server_delete(f.a, "Web"));
    assert_non_null(strstr(opc_account_errmsg(f.a), sid));
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"), before);
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d", i);
        FX_OK(f.a, opc_account_token_revoke(f.a, name, "Web"));
    }
    FX_OK(f.a, opc_account_server_delete(f.a, "Web"));
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM tokens WHERE state = 'active'"), 0);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_rows_rename_retry),
        cmocka_unit_test(test_server_rows_create_name_taken_meanwhile),
        cmocka_unit_test(test_server_rows_create_vault_gone_meanwhile),
        cmocka_unit_test(test_server_rows_create_one_batch),
        cmocka_unit_test(test_server_rows_grant_revoke_retry),
        cmocka_unit_test(test_server_rows_delete_one_batch_and_retry),
        cmocka_unit_test(test_server_rows_delete_bound),
    };
    return cmocka_run_group_tests_name("account_server_rows", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
