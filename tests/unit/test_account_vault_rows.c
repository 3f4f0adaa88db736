/*
 * Unit tests of vault.c on the owner's store protocol (account/rows.h):
 * a concurrent change between a vault call's read phase and its batch
 * (made by a second handle through an interposed backend) makes the batch
 * conflict; the call reads again and decides again, at most
 * OPC__VAULT_TRIES times. Vault names are encrypted, so their uniqueness is
 * the client's: the batch's guard on the feed (vault.names_since) keeps it.
 * Also: the batch steps other modules compose (vault.touch, the owner's
 * grant), the transition forms inside a caller's transaction, and that a
 * call failing on any allocation commits nothing.
 */
#include "rows_fixture.h"
#include "oom_fixture.h"

#include "core/sqlite.h"
#include "core/strparse.h"
#include "core/time.h"

/* ---- helpers ---- */

/* Every key in the handle's cache is a vault of the file (an attempt that
 * committed nothing left no key behind). */
static void cache_consistent(const fx *f)
{
    for (size_t i = 0; i < f->a->n_vkeys; i++) {
        char q[128];
        snprintf(q, sizeof q, "SELECT COUNT(*) FROM vaults WHERE id = '%s'", f->a->vkeys[i].vault);
        if (rx_count(f, q) != 1) {
            fail_msg("the key cache holds vault %s, which is not in the file",
                     f->a->vkeys[i].vault);
        }
    }
}

/* The vault's JSON by opc_account_vault_get (cJSON_Delete). */
static cJSON *vault_get(opc_account *a, const char *ref)
{
    char *json = NULL;
    FX_OK(a, opc_account_vault_get(a, ref, &json));
    cJSON *v = fx_json(json);
    opc_free(json);
    return v;
}

/* The number of vaults whose name is `name`, ASCII case-insensitively. */
static int named(opc_account *a, const char *name)
{
    char *json = NULL;
    FX_OK(a, opc_account_vault_list(a, &json));
    cJSON *list = fx_json(json);
    opc_free(json);
    int n = 0;
    const cJSON *v = NULL;
    cJSON_ArrayForEach(v, list)
    {
        n += opc__strcasecmp(fx_str(v, "name"), name) == 0;
    }
    cJSON_Delete(list);
    return n;
}

/* The interposer (rows_fixture.h) races about `vault` (NULL: none). */
static void ip_install(interposer *ip, fx *f, void (*race)(interposer *), const char *vault,
                       int rounds)
{
    rx_install(ip, f, race, rounds);
    ip->vault = vault;
}

static void race_create_same(interposer *ip)
{
    char *json = NULL;
    FX_OK(ip->other, opc_account_vault_create(ip->other, "Same", NULL, &json));
    opc_free(json);
}

static void race_create_other(interposer *ip)
{
    char name[32];
    snprintf(name, sizeof name, "Other%d", ip->batches);
    char *json = NULL;
    FX_OK(ip->other, opc_account_vault_create(ip->other, name, NULL, &json));
    opc_free(json);
}

static void race_describe(interposer *ip)
{
    char desc[32];
    snprintf(desc, sizeof desc, "theirs%d", ip->batches);
    char *json = NULL;
    FX_OK(ip->other, opc_account_vault_edit(ip->other, ip->vault, NULL, desc, &json));
    opc_free(json);
}

static void race_rename_dup(interposer *ip)
{
    char *json = NULL;
    FX_OK(ip->other, opc_account_vault_edit(ip->other, ip->vault, "Dup", NULL, &json));
    opc_free(json);
}

static void race_item(interposer *ip)
{
    fx_item(ip->other, ip->vault, "{\"title\":\"theirs\",\"category\":\"LOGIN\"}", NULL);
}

static void race_grant(interposer *ip)
{
    FX_OK(ip->other, opc_account_server_grant(ip->other, "Web2", ip->vault));
}

/* ---- create ---- */

/* A vault of the same name (another case) created meanwhile: the retry's
 * read phase refuses the name as the single transaction did; one vault
 * has it. */
static void test_vault_create_name_taken_meanwhile(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    interposer ip;
    char *json = NULL;
    ip_install(&ip, &f, race_create_same, NULL, 1);
    FX_ERR(f.a, OPC_ERR_EXISTS, opc_account_vault_create(f.a, "sAME", "mine", &json));
    assert_null(json);
    assert_int_equal(ip.batches, 1);
    cache_consistent(&f); /* the refused vault's key left the cache */
    rx_remove(&ip, &f);
    assert_int_equal(named(f.a, "same"), 1);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM vaults"), 1);
    fx_destroy(&f);
}

/* Another vault created meanwhile: the guard conflicts (names changed), the
 * call reads again and creates its vault. */
static void test_vault_create_retries(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    interposer ip;
    char *json = NULL;
    ip_install(&ip, &f, race_create_other, NULL, 1);
    FX_OK(f.a, opc_account_vault_create(f.a, "Mine", NULL, &json));
    assert_int_equal(ip.batches, 2);
    cache_consistent(&f); /* the first attempt's key left the cache */
    rx_remove(&ip, &f);
    cJSON *out = fx_json(json);
    opc_free(json);
    cJSON *got = vault_get(f.a, fx_str(out, "id"));
    char *a = cJSON_PrintUnformatted(out);
    char *b = cJSON_PrintUnformatted(got);
    assert_string_equal(a, b); /* the output made before the batch is the row written */
    cJSON_free(a);
    cJSON_free(b);
    cJSON_Delete(out);
    cJSON_Delete(got);
    assert_int_equal(named(f.a, "Mine"), 1);
    assert_int_equal(named(f.a, "Other1"), 1);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM vaults"), 2);
    fx_destroy(&f);
}

/* Conflicts every time: OPC__VAULT_TRIES attempts, then OPC_ERR_CONFLICT
 * naming the guard; nothing of ours committed. */
static void test_vault_create_gives_up(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    interposer ip;
    char *json = NULL;
    ip_install(&ip, &f, race_create_other, NULL, 100);
    FX_ERR(f.a, OPC_ERR_CONFLICT, opc_account_vault_create(f.a, "Mine", NULL, &json));
    assert_null(json);
    assert_int_equal(ip.batches, OPC__VAULT_TRIES);
    assert_non_null(strstr(opc_account_errmsg(f.a), "vault.names_since"));
    cache_consistent(&f);
    rx_remove(&ip, &f);
    assert_int_equal(named(f.a, "Mine"), 0);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM vaults"), OPC__VAULT_TRIES);
    fx_destroy(&f);
}

/* ---- edit ---- */

/* Another vault renamed meanwhile to our new name: the retry refuses it. */
static void test_vault_rename_name_taken_meanwhile(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char a_id[27];
    char b_id[27];
    fx_vault(f.a, "A", a_id);
    fx_vault(f.a, "B", b_id);
    interposer ip;
    char *json = NULL;
    ip_install(&ip, &f, race_rename_dup, b_id, 1);
    FX_ERR(f.a, OPC_ERR_EXISTS, opc_account_vault_edit(f.a, a_id, "dUP", NULL, &json));
    assert_null(json);
    assert_int_equal(ip.batches, 1);
    rx_remove(&ip, &f);
    assert_int_equal(named(f.a, "dup"), 1);
    assert_int_equal(named(f.a, "A"), 1);
    fx_destroy(&f);
}

/* The description edited meanwhile: our rename conflicts at the row's seq
 * and is applied on top (no lost update). */
static void test_vault_edit_no_lost_update(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char id[27];
    fx_vault(f.a, "Prod", id);
    interposer ip;
    char *json = NULL;
    ip_install(&ip, &f, race_describe, id, 1);
    FX_OK(f.a, opc_account_vault_edit(f.a, "Prod", "Production", NULL, &json));
    assert_int_equal(ip.batches, 2);
    rx_remove(&ip, &f);
    cJSON *out = fx_json(json);
    opc_free(json);
    assert_string_equal(fx_str(out, "name"), "Production");
    assert_string_equal(fx_str(out, "description"), "theirs1");
    assert_int_equal((int)fx_num(out, "attributeVersion"), 3);
    cJSON_Delete(out);
    cJSON *got = vault_get(f.a, id);
    assert_string_equal(fx_str(got, "name"), "Production");
    assert_string_equal(fx_str(got, "description"), "theirs1");
    assert_int_equal((int)fx_num(got, "attributeVersion"), 3);
    cJSON_Delete(got);
    fx_destroy(&f);
}

/* An item written meanwhile (the vault touched): the edit conflicts, reads
 * again, and its output shows the contents the batch left. */
static void test_vault_edit_output_is_the_row_written(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char id[27];
    fx_vault(f.a, "Prod", id);
    interposer ip;
    char *json = NULL;
    ip_install(&ip, &f, race_item, id, 1);
    FX_OK(f.a, opc_account_vault_edit(f.a, id, NULL, "mine", &json));
    assert_int_equal(ip.batches, 2);
    rx_remove(&ip, &f);
    cJSON *out = fx_json(json);
    opc_free(json);
    cJSON *got = vault_get(f.a, id);
    assert_int_equal((int)fx_num(out, "items"), 1);
    assert_int_equal((int)fx_num(out, "contentVersion"), 2);
    char *a = cJSON_PrintUnformatted(out);
    char *b = cJSON_PrintUnformatted(got);
    assert_string_equal(a, b);
    cJSON_free(a);
    cJSON_free(b);
    cJSON_Delete(out);
    cJSON_Delete(got);
    fx_destroy(&f);
}

/* ---- delete ---- */

/* A server granted the vault meanwhile: the guard on the vault's grants
 * conflicts, the retry logs grant_revoke for both servers (the cascade
 * alone would have dropped the new grant without telling its server). */
static void test_vault_delete_grant_meanwhile(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char id[27];
    char other[27];
    fx_vault(f.a, "Prod", id);
    fx_vault(f.a, "Dev", other);
    const char *v1[] = {"Prod"};
    const char *v2[] = {"Dev"};
    cJSON_Delete(fx_server(f.a, "Web", v1, 1, NULL));
    cJSON_Delete(fx_server(f.a, "Web2", v2, 1, NULL));
    interposer ip;
    ip_install(&ip, &f, race_grant, id, 1);
    FX_OK(f.a, opc_account_vault_delete(f.a, "Prod"));
    assert_int_equal(ip.batches, 2);
    rx_remove(&ip, &f);
    char q[256];
    snprintf(q, sizeof q,
             "SELECT COUNT(DISTINCT server_id) FROM changes WHERE kind = 'grant_revoke' AND "
             "vault_id = '%s'",
             id);
    assert_int_equal(rx_count(&f, q), 2);
    snprintf(q, sizeof q,
             "SELECT COUNT(*) FROM changes WHERE kind = 'vault_delete' AND "
             "vault_id = '%s'",
             id);
    assert_int_equal(rx_count(&f, q), 1);
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM vault_access WHERE vault_id = '%s'", id);
    assert_int_equal(rx_count(&f, q), 0);
    char *json = NULL;
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_vault_get(f.a, id, &json));
    fx_destroy(&f);
}

/* Deleted meanwhile: the batch conflicts, the retry finds no such vault. */
static void race_delete(interposer *ip)
{
    FX_OK(ip->other, opc_account_vault_delete(ip->other, ip->vault));
}

static void test_vault_delete_deleted_meanwhile(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char id[27];
    fx_vault(f.a, "Prod", id);
    interposer ip;
    ip_install(&ip, &f, race_delete, id, 1);
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_vault_delete(f.a, id));
    assert_int_equal(ip.batches, 1);
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes WHERE kind = 'vault_delete'"), 1);
    fx_destroy(&f);
}

/* ---- steps for other modules, and the transition forms ---- */

/* vault.touch in a batch: content version + 1, items + delta, the seq of the
 * batch's change; a vault that is gone makes the batch conflict. */
static void test_vault_touch_step(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char id[27];
    fx_vault(f.a, "Prod", id);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    opc__change c = {
        .kind = OPC_CHANGE_ITEM_UPSERT, .vault = id, .item = "iiiiiiiiiiiiiiiiiiiiiiiiii"};
    int k = opc__acct_batch_change(&b, &c, 1700000000);
    opc__acct_vault_touch_step(&b, id, 1, 1700000000, k);
    FX_OK(f.a, opc__rows_batch_run(f.a->rows, &b, &eb));
    int64_t seq = b.seqs[0];
    opc__rows_batch_free(&b);
    cJSON *rows = NULL;
    FX_OK(f.a, opc__rows_read(f.a->rows, "vault.get", &rows, &eb, "tt", f.a->id, id));
    const cJSON *row = cJSON_GetArrayItem(rows, 0);
    assert_non_null(row);
    assert_int_equal(opc__rows_int(row, 4), 2); /* content_version */
    assert_int_equal(opc__rows_int(row, 5), 1); /* items */
    assert_int_equal(opc__rows_int(row, 7), 1700000000);
    assert_int_equal(opc__rows_int(row, 9), seq);
    cJSON_Delete(rows);

    int64_t before = rx_count(&f, "SELECT COUNT(*) FROM changes");
    opc__rows_batch_init(&b);
    c.vault = "vvvvvvvvvvvvvvvvvvvvvvvvvv";
    k = opc__acct_batch_change(&b, &c, 1700000000);
    opc__acct_vault_touch_step(&b, "vvvvvvvvvvvvvvvvvvvvvvvvvv", 1, 1700000000, k);
    assert_int_equal(opc__rows_batch_run(f.a->rows, &b, &eb), OPC_ERR_CONFLICT);
    assert_non_null(strstr(eb.msg, "vault.touch"));
    opc__rows_batch_free(&b);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"), before);
    fx_destroy(&f);
}

/* A caller in its own write transaction (the store's side, server_write.c,
 * runs its batch as a savepoint of one): the converted reads (resolve,
 * key, name) run inside it. */
static void test_vault_helpers_inside_caller_transaction(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char id[27];
    fx_vault(f.a, "Prod", id);
    opc_account *b = fx_reopen(&f);
    FX_OK(b, opc_account_unlock(b, FX_PASSWORD, f.sk_text)); /* an empty key cache */
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    FX_OK(b, opc__db_begin(b->db, true, &eb));
    char got[OPC_ID_LEN + 1];
    FX_OK(b, opc__acct_vault_resolve(b, "pROD", got, &eb));
    assert_string_equal(got, id);
    const opc__key *k = NULL;
    int64_t sn = 0;
    FX_OK(b, opc__acct_vault_key(b, id, &k, &sn, &eb));
    assert_int_equal(sn, 1);
    char *name = NULL;
    FX_OK(b, opc__acct_vault_name(b, id, &name, &eb));
    assert_string_equal(name, "Prod");
    opc_free(name);
    FX_OK(b, opc__db_commit(b->db, &eb));
    opc_account_free(b);
    fx_destroy(&f);
}

/* A tampered owner grant in the row read is refused before any key is
 * unwrapped (the verification moved with the read to vault.get's columns). */
static void test_vault_owner_grant_verified(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char id[27];
    fx_vault(f.a, "Prod", id);
    sqlite3 *db = fx_db(&f);
    char q[256];
    snprintf(q, sizeof q,
             "UPDATE vault_access SET acl = 1 WHERE vault_id = '%s' AND accessor_type = 'owner'",
             id);
    fx_exec(db, q);
    sqlite3_close(db);
    opc_account *b = fx_reopen(&f);
    FX_OK(b, opc_account_unlock(b, FX_PASSWORD, f.sk_text));
    char *json = NULL;
    FX_ERR(b, OPC_ERR_SIGNATURE, opc_account_vault_list(b, &json));
    assert_null(json);
    assert_int_equal(b->n_vkeys, 0);
    opc_account_free(b);
    fx_destroy(&f);
}

/* ---- a failed call commits nothing ---- */

typedef opc_err (*vault_op)(fx *f, const char *id);

static opc_err op_create(fx *f, const char *id)
{
    (void)id;
    char *json = NULL;
    opc_err rc = opc_account_vault_create(f->a, "Oom", "d", &json);
    opc_free(json);
    return rc;
}

static opc_err op_edit(fx *f, const char *id)
{
    char *json = NULL;
    opc_err rc = opc_account_vault_edit(f->a, id, "Renamed", "e", &json);
    opc_free(json);
    return rc;
}

static opc_err op_delete(fx *f, const char *id)
{
    return opc_account_vault_delete(f->a, id);
}

/* Run op with its k-th allocation failing, k = 1, 2, ... until it runs
 * clean; each failed run must be OPC_ERR_NOMEM and leave the file as it was. */
static void torture(fx *f, const char *what, vault_op op, const char *id)
{
    long k;
    for (k = 1; k < 100000; k++) {
        int64_t changes = rx_count(f, "SELECT COUNT(*) FROM changes");
        fail_at = k;
        alloc_no = 0;
        injected = 0;
        opc_err rc = op(f, id);
        fail_at = 0;
        if (injected == 0) {
            FX_OK(f->a, rc);
            break;
        }
        if (rc != OPC_ERR_NOMEM) {
            fail_msg("%s: allocation %ld failed but the call returned %s (%s)", what, k,
                     opc_errname(rc), opc_account_errmsg(f->a));
        }
        if (rx_count(f, "SELECT COUNT(*) FROM changes") != changes) {
            fail_msg("%s: allocation %ld failed but the call committed", what, k);
        }
    }
    assert_true(k > 1);
}

static void test_vault_calls_failing_commit_nothing(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char id[27];
    fx_vault(f.a, "Prod", id);
    const char *v1[] = {"Prod"};
    cJSON_Delete(fx_server(f.a, "Web", v1, 1, NULL));
    torture(&f, "vault create", op_create, NULL);
    assert_int_equal(named(f.a, "Oom"), 1);
    torture(&f, "vault edit", op_edit, id);
    cJSON *v = vault_get(f.a, id);
    assert_string_equal(fx_str(v, "name"), "Renamed");
    assert_int_equal((int)fx_num(v, "attributeVersion"), 2);
    cJSON_Delete(v);
    torture(&f, "vault delete", op_delete, id);
    assert_int_equal(named(f.a, "Renamed"), 0);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vault_create_name_taken_meanwhile),
        cmocka_unit_test(test_vault_create_retries),
        cmocka_unit_test(test_vault_create_gives_up),
        cmocka_unit_test(test_vault_rename_name_taken_meanwhile),
        cmocka_unit_test(test_vault_edit_no_lost_update),
        cmocka_unit_test(test_vault_edit_output_is_the_row_written),
        cmocka_unit_test(test_vault_delete_grant_meanwhile),
        cmocka_unit_test(test_vault_delete_deleted_meanwhile),
        cmocka_unit_test(test_vault_touch_step),
        cmocka_unit_test(test_vault_helpers_inside_caller_transaction),
        cmocka_unit_test(test_vault_owner_grant_verified),
        cmocka_unit_test(test_vault_calls_failing_commit_nothing),
    };
    return cmocka_run_group_tests_name("account_vault_rows", tests, oom_setup,
                                       opc_test_group_teardown);
}
