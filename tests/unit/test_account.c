/*
 * tests/unit/test_account.c - lib/account: creating, opening and unlocking
 * accounts, file modes, schema versions, sessions and vaults.
 */
#include "account_fixture.h"

#include <fcntl.h>
#include <sys/types.h>

#include "crypto/twoskd.h"

/* ---- create / open / unlock ---- */

static void test_account_create_returns_secret_key_unlocked(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    assert_int_equal(strlen(f.sk_text), OPC_SECRET_KEY_STRLEN);
    assert_memory_equal(f.sk_text, "A3-", 3);
    assert_true(opc_account_is_unlocked(f.a));
    assert_true(opc__id_valid_str(opc_account_id(f.a)));
    assert_string_equal(opc_account_email(f.a), "owner@example.com");
    assert_string_equal(opc_account_errmsg(f.a), "");
    fx_destroy(&f);
}

static void test_account_create_refuses_existing_file(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    opc_account *b = NULL;
    opc_secret *sk = NULL;
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_account_create(f.path, FX_EMAIL, FX_PASSWORD, 0, &b, &sk, err, sizeof err),
                     OPC_ERR_EXISTS);
    assert_null(b);
    assert_null(sk);
    assert_non_null(strstr(err, "already exists"));
    fx_destroy(&f);
}

/*
 * opc_account_create() with the fixture's email and password at path,
 * account.db in a new empty directory (dir).
 */
static opc_err create_fresh(char *dir, size_t dir_cap, char *path, size_t path_cap,
                            uint32_t iterations, opc_account **a, opc_secret **sk)
{
    opc_test_mkdtemp(dir, dir_cap, "opc-account-test", "account.db", path, path_cap);
    char err[OPC_ERRBUF_SIZE];
    return opc_account_create(path, FX_EMAIL, FX_PASSWORD, iterations, a, sk, err, sizeof err);
}

static void test_account_create_refuses_low_iterations(void **state)
{
    (void)state;
    char dir[64];
    char path[128];
    opc_account *a = NULL;
    opc_secret *sk = NULL;
    assert_int_equal(
        create_fresh(dir, sizeof dir, path, sizeof path, OPC_ACCOUNT_MIN_ITERATIONS - 1, &a, &sk),
        OPC_ERR_RANGE);
    char err[OPC_ERRBUF_SIZE];
    assert_null(a);
    assert_int_equal(access(path, F_OK), -1); /* nothing created */
    /* A bad email is refused before any file appears. */
    assert_int_equal(
        opc_account_create(path, "not-an-email", FX_PASSWORD, 0, &a, &sk, err, sizeof err),
        OPC_ERR_PARSE);
    assert_int_equal(access(path, F_OK), -1);
    rmdir(dir);
}

static void test_account_create_file_modes_0600(void **state)
{
    (void)state;
    mode_t old = umask(022); /* a typical umask: the library must not rely on it */
    fx f;
    fx_create(&f);
    umask(old);
    char vid[27];
    fx_vault(f.a, "Modes", vid); /* make sure the WAL is in use */
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[300];
        struct stat sb;
        snprintf(p, sizeof p, "%s%s", f.path, suffixes[i]);
        assert_int_equal(stat(p, &sb), 0);
        if ((sb.st_mode & 0777) != 0600) {
            fail_msg("%s has mode %o, want 0600", p, (unsigned)(sb.st_mode & 0777));
        }
    }
    /* WAL, secure_delete and foreign keys on the library's connection. */
    sqlite3 *db = fx_db(&f);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(fx_count(db, "PRAGMA user_version"), OPC_ACCOUNT_SCHEMA_VERSION);
    sqlite3_close(db);
    fx_destroy(&f);
}

static void test_account_open_unlock_roundtrip(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    fx_vault(f.a, "Personal", vid);
    char id[27];
    snprintf(id, sizeof id, "%s", opc_account_id(f.a));
    opc_account_free(f.a);

    f.a = fx_reopen(&f);
    assert_false(opc_account_is_unlocked(f.a));
    assert_string_equal(opc_account_id(f.a), id);
    assert_string_equal(opc_account_email(f.a), "owner@example.com");
    char *out = NULL;
    FX_ERR(f.a, OPC_ERR_LOCKED, opc_account_vault_list(f.a, &out));
    assert_null(out);
    assert_string_equal(opc_account_errmsg(f.a), "account is locked: unlock it first");

    /* The Secret Key is accepted without dashes and in lower case. */
    char compact[64];
    size_t n = 0;
    for (const char *p = f.sk_text; *p != '\0'; p++) {
        if (*p != '-') {
            compact[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        }
    }
    compact[n] = '\0';
    FX_OK(f.a, opc_account_unlock(f.a, FX_PASSWORD, compact));
    assert_true(opc_account_is_unlocked(f.a));
    FX_OK(f.a, opc_account_vault_get(f.a, vid, &out));
    cJSON *j = fx_json(out);
    assert_string_equal(fx_str(j, "name"), "Personal");
    cJSON_Delete(j);
    opc_free(out);
    fx_destroy(&f);
}

static void test_account_unlock_wrong_password(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    opc_account_free(f.a);
    f.a = fx_reopen(&f);
    FX_ERR(f.a, OPC_ERR_DECRYPT,
           opc_account_unlock(f.a, "correct horse battery stapler", f.sk_text));
    assert_string_equal(opc_account_errmsg(f.a), "wrong password or Secret Key");
    assert_false(opc_account_is_unlocked(f.a));
    fx_destroy(&f);
}

static void test_account_unlock_wrong_secret_key(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    opc_account_free(f.a);
    f.a = fx_reopen(&f);
    char other[OPC_SECRET_KEY_STRLEN + 1];
    assert_int_equal(opc__secret_key_generate(other), OPC_OK);
    FX_ERR(f.a, OPC_ERR_DECRYPT, opc_account_unlock(f.a, FX_PASSWORD, other));
    assert_string_equal(opc_account_errmsg(f.a), "wrong password or Secret Key");
    assert_false(opc_account_is_unlocked(f.a));
    /* The right one still works afterwards. */
    FX_OK(f.a, opc_account_unlock(f.a, FX_PASSWORD, f.sk_text));
    fx_destroy(&f);
}

static void test_account_unlock_malformed_secret_key(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    opc_account_free(f.a);
    f.a = fx_reopen(&f);
    FX_ERR(f.a, OPC_ERR_PARSE, opc_account_unlock(f.a, FX_PASSWORD, "A3-NOTAKEY"));
    assert_null(strstr(opc_account_errmsg(f.a), "NOTAKEY"));
    FX_ERR(f.a, OPC_ERR_PARSE, opc_account_unlock(f.a, FX_PASSWORD, ""));
    assert_false(opc_account_is_unlocked(f.a));
    fx_destroy(&f);
}

static void test_account_open_refuses_downgraded_iterations(void **state)
{
    (void)state;
    fx f;
    fx_create(&f); /* 2 iterations through the test hook */
    opc_account *b = NULL;
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_account_open(f.path, &b, err, sizeof err), OPC_ERR_RANGE);
    assert_null(b);
    assert_non_null(strstr(err, "below the minimum"));
    fx_destroy(&f);
}

static void test_account_open_missing_foreign_and_newer_files(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    opc_account *b = NULL;
    char err[OPC_ERRBUF_SIZE];
    char p[300];
    snprintf(p, sizeof p, "%s/missing.db", f.dir);
    assert_int_equal(opc_account_open(p, &b, err, sizeof err), OPC_ERR_NOT_FOUND);

    /* A text file and a SQLite file of another application. */
    snprintf(p, sizeof p, "%s/text.db", f.dir);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("this is not a database, just text that is long enough to have a header......\n", fp);
    fclose(fp);
    assert_int_equal(opc_account_open(p, &b, err, sizeof err), OPC_ERR_PARSE);
    snprintf(p, sizeof p, "%s/other.db", f.dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    fx_exec(db, "CREATE TABLE t(x); PRAGMA user_version = 1;");
    sqlite3_close(db);
    assert_int_equal(opc_account_open(p, &b, err, sizeof err), OPC_ERR_PARSE);
    assert_non_null(strstr(err, "not an opconnect account file"));

    /* A newer schema. */
    opc_account_free(f.a);
    f.a = NULL;
    db = fx_db(&f);
    fx_exec(db, "PRAGMA user_version = 99");
    sqlite3_close(db);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__account_open_ex(f.path, 1, &b, &eb), OPC_ERR_UNSUPPORTED);
    assert_null(b);
    fx_destroy(&f);
}

/* A v1 file (no items.editor) is migrated on open; its items read as the owner's. */
static void test_account_open_migrates_v1(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    char iid[27];
    fx_vault(f.a, "Old", vid);
    fx_item(f.a, vid, "{\"title\":\"before\",\"category\":\"LOGIN\"}", iid);
    opc_account_free(f.a);
    f.a = NULL;
    sqlite3 *db = fx_db(&f);
    /* A real v1 file: neither items.editor (v2) nor owner_srp (v3). */
    fx_exec(db, "ALTER TABLE items DROP COLUMN editor; DROP TABLE owner_srp; "
                "PRAGMA user_version = 1;");
    sqlite3_close(db);
    f.a = fx_reopen(&f);
    db = fx_db(&f);
    assert_int_equal(fx_count(db, "PRAGMA user_version"), OPC_ACCOUNT_SCHEMA_VERSION);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM items WHERE editor IS NULL"), 1);
    sqlite3_close(db);
    FX_OK(f.a, opc_account_unlock(f.a, FX_PASSWORD, f.sk_text));
    opc_secret *out = NULL;
    FX_OK(f.a, opc_account_item_get(f.a, vid, iid, &out));
    cJSON *j = fx_json_secret(out);
    opc_secret_free(out);
    char owner[27];
    opc__acct_editor(f.a, NULL, owner);
    assert_string_equal(fx_str(j, "lastEditedBy"), owner);
    cJSON_Delete(j);
    fx_destroy(&f);
}

/* One account at the real floor of 100,000 iterations, through the public API only. */
static void test_account_create_public_api_at_floor(void **state)
{
    (void)state;
    char dir[64];
    char path[128];
    opc_account *a = NULL;
    opc_secret *sk = NULL;
    assert_int_equal(
        create_fresh(dir, sizeof dir, path, sizeof path, OPC_ACCOUNT_MIN_ITERATIONS, &a, &sk),
        OPC_OK);
    char err[OPC_ERRBUF_SIZE];
    opc_account_free(a);
    a = NULL;
    assert_int_equal(opc_account_open(path, &a, err, sizeof err), OPC_OK);
    FX_OK(a, opc_account_unlock(a, FX_PASSWORD, opc_secret_data(sk)));
    opc_account_free(a);
    opc_secret_free(sk);
    fx_rm_path(path);
    rmdir(dir);
}

/*
 * The public functions are declared OPC_NONNULL, so passing NULL directly is
 * undefined behaviour that UBSan reports. The run-time checks are reached
 * through function pointers, whose types carry no such attribute.
 */
typedef opc_err (*vault_create_fn)(opc_account *, const char *, const char *, char **);
typedef opc_err (*vault_get_fn)(opc_account *, const char *, char **);
typedef opc_err (*vault_list_fn)(opc_account *, char **);
typedef opc_err (*item_get_fn)(opc_account *, const char *, const char *, opc_secret **);
typedef opc_err (*unlock_fn)(opc_account *, const char *, const char *);
typedef opc_err (*revoke_fn)(opc_account *, const char *, const char *);
typedef opc_err (*server_create_fn)(opc_account *, const char *, const char *const *, size_t,
                                    const char *, char **, opc_secret **);
typedef opc_err (*open_fn)(const char *, opc_account **, char *, size_t);

static void test_account_null_arguments(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char *out = NULL;
    opc_secret *sec = NULL;
    vault_create_fn vault_create = opc_account_vault_create;
    vault_get_fn vault_get = opc_account_vault_get;
    vault_list_fn vault_list = opc_account_vault_list;
    item_get_fn item_get = opc_account_item_get;
    unlock_fn unlock = opc_account_unlock;
    revoke_fn revoke = opc_account_token_revoke;
    server_create_fn server_create = opc_account_server_create;
    open_fn open_ = opc_account_open;
    FX_ERR(f.a, OPC_ERR_INVALID_ARG, vault_create(f.a, NULL, NULL, &out));
    assert_string_equal(opc_account_errmsg(f.a), "missing argument");
    FX_ERR(f.a, OPC_ERR_INVALID_ARG, vault_get(f.a, NULL, &out));
    FX_ERR(f.a, OPC_ERR_INVALID_ARG, item_get(f.a, "v", NULL, &sec));
    FX_ERR(f.a, OPC_ERR_INVALID_ARG, unlock(f.a, NULL, f.sk_text));
    FX_ERR(f.a, OPC_ERR_INVALID_ARG, revoke(f.a, NULL, NULL));
    FX_ERR(f.a, OPC_ERR_INVALID_ARG, server_create(f.a, "s", NULL, 1, NULL, &out, &sec));
    assert_int_equal(vault_list(NULL, &out), OPC_ERR_INVALID_ARG);
    assert_int_equal(open_(NULL, NULL, NULL, 0), OPC_ERR_INVALID_ARG);
    opc_account_free(NULL);
    assert_string_equal(opc_account_errmsg(NULL), "");
    assert_null(opc_account_id(NULL));
    assert_false(opc_account_is_unlocked(NULL));
    fx_destroy(&f);
}

/* The deprecated opc_account_close() still releases everything (cmocka's
 * allocator would report a leak) and accepts NULL. */
static void test_account_close_alias_frees(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    opc_account_close(f.a);
    opc_account_close(NULL);
#pragma GCC diagnostic pop
    f.a = NULL;
    fx_destroy(&f);
}

/* ---- sessions ---- */

static void test_account_session_save_and_unlock(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char sdir[200];
    snprintf(sdir, sizeof sdir, "%s/sessions", f.dir);
    opc_secret *token = NULL;
    FX_OK(f.a, opc_account_session_save(f.a, sdir, 600, &token));
    struct stat sb;
    assert_int_equal(stat(sdir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    char spath[300];
    snprintf(spath, sizeof spath, "%s/session-%s", sdir, opc_account_id(f.a));
    assert_int_equal(stat(spath, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* Neither the token nor the AUK is in the file. */
    size_t n = 0;
    unsigned char *bytes = fx_read_file(spath, &n);
    assert_false(fx_contains(bytes, n, opc_secret_data(token), opc_secret_len(token)));
    assert_false(fx_contains(bytes, n, f.a->auk, sizeof f.a->auk));
    free(bytes);

    opc_account_free(f.a);
    f.a = fx_reopen(&f);
    FX_OK(f.a, opc_account_session_unlock(f.a, sdir, opc_secret_data(token)));
    assert_true(opc_account_is_unlocked(f.a));
    char vid[27];
    fx_vault(f.a, "After session", vid);

    FX_OK(f.a, opc_account_session_end(f.a, sdir));
    assert_int_equal(access(spath, F_OK), -1);
    opc_account_free(f.a);
    f.a = fx_reopen(&f);
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_session_unlock(f.a, sdir, opc_secret_data(token)));
    opc_secret_free(token);
    fx_destroy(&f);
}

static void test_account_session_wrong_token_and_expired(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char sdir[200];
    snprintf(sdir, sizeof sdir, "%s/sessions", f.dir);
    opc_secret *token = NULL;
    FX_OK(f.a, opc_account_session_save(f.a, sdir, 600, &token));
    opc_account_free(f.a);
    f.a = fx_reopen(&f);
    FX_ERR(f.a, OPC_ERR_DECRYPT,
           opc_account_session_unlock(f.a, sdir, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    FX_ERR(f.a, OPC_ERR_DECRYPT, opc_account_session_unlock(f.a, sdir, "garbage"));
    assert_false(opc_account_is_unlocked(f.a));

    /* Expired: move exp into the past (the check comes before decryption). */
    char spath[300];
    snprintf(spath, sizeof spath, "%s/session-%s", sdir, opc_account_id(f.a));
    size_t n = 0;
    unsigned char *bytes = fx_read_file(spath, &n);
    cJSON *doc = cJSON_ParseWithLength((const char *)bytes, n);
    free(bytes);
    assert_non_null(doc);
    cJSON_ReplaceItemInObjectCaseSensitive(doc, "exp", cJSON_CreateNumber(1000));
    char *text = cJSON_PrintUnformatted(doc);
    FILE *fp = fopen(spath, "w");
    fputs(text, fp);
    fclose(fp);
    cJSON_free(text);
    cJSON_Delete(doc);
    FX_ERR(f.a, OPC_ERR_RANGE, opc_account_session_unlock(f.a, sdir, opc_secret_data(token)));
    assert_false(opc_account_is_unlocked(f.a));
    /* A locked handle cannot save a session. */
    opc_secret *t2 = NULL;
    FX_ERR(f.a, OPC_ERR_LOCKED, opc_account_session_save(f.a, sdir, 60, &t2));
    opc_secret_free(token);
    fx_destroy(&f);
}

/* ---- vaults ---- */

static void test_account_vault_crud_and_lookup(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char *out = NULL;
    FX_OK(f.a, opc_account_vault_create(f.a, "Production", "prod secrets", &out));
    cJSON *v = fx_json(out);
    opc_free(out);
    char pid[27];
    snprintf(pid, sizeof pid, "%s", fx_str(v, "id"));
    assert_true(opc__id_valid_str(pid));
    assert_string_equal(fx_str(v, "type"), "USER_CREATED");
    assert_string_equal(fx_str(v, "description"), "prod secrets");
    assert_int_equal((int)fx_num(v, "attributeVersion"), 1);
    assert_int_equal((int)fx_num(v, "contentVersion"), 1);
    assert_int_equal((int)fx_num(v, "items"), 0);
    assert_non_null(strchr(fx_str(v, "createdAt"), 'Z'));
    cJSON_Delete(v);
    char aid[27];
    fx_vault(f.a, "alpha", aid);

    /* Names are unique, case-insensitively. */
    FX_ERR(f.a, OPC_ERR_EXISTS, opc_account_vault_create(f.a, "PRODUCTION", NULL, &out));
    assert_null(out);
    FX_ERR(f.a, OPC_ERR_PARSE, opc_account_vault_create(f.a, "", NULL, &out));

    /* Lookup by id, by name in any case. */
    FX_OK(f.a, opc_account_vault_get(f.a, "production", &out));
    v = fx_json(out);
    assert_string_equal(fx_str(v, "id"), pid);
    cJSON_Delete(v);
    opc_free(out);
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_vault_get(f.a, "nope", &out));
    assert_non_null(strstr(opc_account_errmsg(f.a), "not found"));

    /* List ordered by name. */
    FX_OK(f.a, opc_account_vault_list(f.a, &out));
    cJSON *list = fx_json(out);
    opc_free(out);
    assert_int_equal(cJSON_GetArraySize(list), 2);
    assert_string_equal(fx_str(cJSON_GetArrayItem(list, 0), "name"), "alpha");
    assert_string_equal(fx_str(cJSON_GetArrayItem(list, 1), "name"), "Production");
    cJSON_Delete(list);

    /* Edit: rename keeps the description; attributeVersion bumps. */
    FX_ERR(f.a, OPC_ERR_EXISTS, opc_account_vault_edit(f.a, pid, "Alpha", NULL, &out));
    FX_OK(f.a, opc_account_vault_edit(f.a, pid, "Prod", NULL, &out));
    v = fx_json(out);
    opc_free(out);
    assert_string_equal(fx_str(v, "name"), "Prod");
    assert_string_equal(fx_str(v, "description"), "prod secrets");
    assert_int_equal((int)fx_num(v, "attributeVersion"), 2);
    cJSON_Delete(v);
    FX_OK(f.a, opc_account_vault_edit(f.a, "prod", NULL, "", &out));
    v = fx_json(out);
    opc_free(out);
    assert_null(cJSON_GetObjectItemCaseSensitive(v, "description"));
    cJSON_Delete(v);

    /* Delete. */
    FX_OK(f.a, opc_account_vault_delete(f.a, "Prod"));
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_vault_get(f.a, pid, &out));
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_vault_delete(f.a, pid));

    /* Names are not stored in the clear. */
    opc_account_free(f.a);
    f.a = NULL;
    size_t n = 0;
    unsigned char *bytes = fx_read_file(f.path, &n);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", f.path);
    size_t wn = 0;
    unsigned char *wbytes = fx_read_file(wal, &wn);
    assert_false(fx_contains(bytes, n, "alpha", 5));
    assert_false(fx_contains(wbytes, wn, "alpha", 5));
    free(bytes);
    free(wbytes);
    fx_destroy(&f);
}

static void test_account_vault_tampered_grant_refused(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    fx_vault(f.a, "Grants", vid);
    opc_account_free(f.a);
    /* Change the grant's acl: the owner's signature no longer matches. */
    sqlite3 *db = fx_db(&f);
    fx_exec(db, "UPDATE vault_access SET acl = 1");
    sqlite3_close(db);
    f.a = fx_reopen(&f);
    FX_OK(f.a, opc_account_unlock(f.a, FX_PASSWORD, f.sk_text));
    char *out = NULL;
    FX_ERR(f.a, OPC_ERR_SIGNATURE, opc_account_vault_get(f.a, vid, &out));
    assert_null(out);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_create_returns_secret_key_unlocked),
        cmocka_unit_test(test_account_create_refuses_existing_file),
        cmocka_unit_test(test_account_create_refuses_low_iterations),
        cmocka_unit_test(test_account_create_file_modes_0600),
        cmocka_unit_test(test_account_open_unlock_roundtrip),
        cmocka_unit_test(test_account_unlock_wrong_password),
        cmocka_unit_test(test_account_unlock_wrong_secret_key),
        cmocka_unit_test(test_account_unlock_malformed_secret_key),
        cmocka_unit_test(test_account_open_refuses_downgraded_iterations),
        cmocka_unit_test(test_account_open_missing_foreign_and_newer_files),
        cmocka_unit_test(test_account_open_migrates_v1),
        cmocka_unit_test(test_account_create_public_api_at_floor),
        cmocka_unit_test(test_account_null_arguments),
        cmocka_unit_test(test_account_close_alias_frees),
        cmocka_unit_test(test_account_session_save_and_unlock),
        cmocka_unit_test(test_account_session_wrong_token_and_expired),
        cmocka_unit_test(test_account_vault_crud_and_lookup),
        cmocka_unit_test(test_account_vault_tampered_grant_refused),
    };
    return cmocka_run_group_tests_name("account", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
