/*
 * tests/unit/account_fixture.h - helpers shared by the test_account*.c
 * programs: a temporary directory per test, an account created through the
 * internal test hook with a tiny 2SKD iteration count (so the suite stays
 * fast), raw access to the SQLite file, and JSON helpers.
 *
 * Each test creates and closes its account inside the test function, so
 * cmocka's leak check covers every block the library allocates on the way.
 */
#ifndef OPC_TEST_ACCOUNT_FIXTURE_H
#define OPC_TEST_ACCOUNT_FIXTURE_H

#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* nftw */
#endif
#include "harness.h"

#include <cjson/cJSON.h>
#include <ftw.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opconnect/account.h>

#include "account/account_int.h"
#include "core/err.h"
#include "core/json.h"
#include "model/item.h"
#include "wire/labels.h"

#define FX_ITERATIONS 2u
#define FX_EMAIL "Owner@Example.COM"
#define FX_PASSWORD "correct horse battery staple"

typedef struct fx {
    char dir[128];
    char path[256];
    opc_account *a;
    opc_secret *sk;
    char sk_text[64];
} fx;

/* Create the account at f->path (its directory exists). */
static OPC_TEST_UNUSED void fx_create_at(fx *f)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__account_create_ex(f->path, FX_EMAIL, FX_PASSWORD, FX_ITERATIONS, 1, &f->a,
                                        &f->sk, &eb);
    if (rc != OPC_OK) {
        fail_msg("account create: %s (%s)", opc_errname(rc), eb.msg);
    }
    snprintf(f->sk_text, sizeof f->sk_text, "%s", (const char *)opc_secret_data(f->sk));
}

/* A new account in a new temporary directory. */
static OPC_TEST_UNUSED void fx_create(fx *f)
{
    memset(f, 0, sizeof *f);
    opc_test_mkdtemp(f->dir, sizeof f->dir, "opc-account-test", "account.db", f->path,
                     sizeof f->path);
    fx_create_at(f);
}

/* Reopen f->path with the test floor (locked handle). */
static OPC_TEST_UNUSED opc_account *fx_reopen(const fx *f)
{
    opc_account *a = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__account_open_ex(f->path, 1, &a, &eb);
    if (rc != OPC_OK) {
        fail_msg("account open: %s (%s)", opc_errname(rc), eb.msg);
    }
    return a;
}

static int fx_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Remove an account file and its -wal/-shm. */
static OPC_TEST_UNUSED void fx_rm_path(const char *path)
{
    char p[512];
    remove(path);
    snprintf(p, sizeof p, "%s-wal", path);
    remove(p);
    snprintf(p, sizeof p, "%s-shm", path);
    remove(p);
}

static OPC_TEST_UNUSED void fx_destroy(fx *f)
{
    opc_account_free(f->a);
    opc_secret_free(f->sk);
    f->a = NULL;
    f->sk = NULL;
    nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Check rc; print the handle's message on failure. */
#define FX_OK(a, expr)                                                                             \
    do {                                                                                           \
        opc_err fx_rc_ = (expr);                                                                   \
        if (fx_rc_ != OPC_OK) {                                                                    \
            fail_msg("%s: %s (%s)", #expr, opc_errname(fx_rc_), opc_account_errmsg(a));            \
        }                                                                                          \
    } while (0)

#define FX_ERR(a, code, expr)                                                                      \
    do {                                                                                           \
        opc_err fx_rc_ = (expr);                                                                   \
        if (fx_rc_ != (code)) {                                                                    \
            fail_msg("%s: got %s, want %s (%s)", #expr, opc_errname(fx_rc_), opc_errname(code),    \
                     opc_account_errmsg(a));                                                       \
        }                                                                                          \
    } while (0)

/* Parse library JSON output (plain cJSON; test code). */
static OPC_TEST_UNUSED cJSON *fx_json(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    return j;
}

static OPC_TEST_UNUSED cJSON *fx_json_secret(const opc_secret *s)
{
    return fx_json((const char *)opc_secret_data(s));
}

static OPC_TEST_UNUSED const char *fx_str(const cJSON *o, const char *k)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsString(m));
    return m->valuestring;
}

static OPC_TEST_UNUSED double fx_num(const cJSON *o, const char *k)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(m));
    return m->valuedouble;
}

/* Create a vault; its id goes to id_out[27]. */
static OPC_TEST_UNUSED void fx_vault(opc_account *a, const char *name, char *id_out)
{
    char *out = NULL;
    FX_OK(a, opc_account_vault_create(a, name, NULL, &out));
    cJSON *j = fx_json(out);
    snprintf(id_out, 27, "%s", fx_str(j, "id"));
    cJSON_Delete(j);
    opc_free(out);
}

/*
 * Create a Connect server on the given vaults: its JSON (cJSON_Delete);
 * *creds, unless creds is NULL, the parsed (locked) credentials file.
 */
static OPC_TEST_UNUSED cJSON *fx_server(opc_account *a, const char *name, const char *const *vaults,
                                        size_t n, opc_credentials **creds)
{
    char *json = NULL;
    opc_secret *file = NULL;
    FX_OK(a, opc_account_server_create(a, name, vaults, n, NULL, &json, &file));
    cJSON *s = fx_json(json);
    opc_free(json);
    if (creds != NULL) {
        char err[OPC_ERRBUF_SIZE];
        opc_err rc = opc_credentials_parse(opc_secret_data(file), opc_secret_len(file), creds, err,
                                           sizeof err);
        if (rc != OPC_OK) {
            fail_msg("credentials: %s", err);
        }
    }
    opc_secret_free(file);
    return s;
}

/* Create an item from JSON text; id and version out. */
static OPC_TEST_UNUSED void fx_item(opc_account *a, const char *vault, const char *json,
                                    char *id_out)
{
    opc_secret *out = NULL;
    FX_OK(a, opc_account_item_create(a, vault, json, &out));
    cJSON *j = fx_json_secret(out);
    if (id_out != NULL) {
        snprintf(id_out, 27, "%s", fx_str(j, "id"));
    }
    cJSON_Delete(j);
    opc_secret_free(out);
}

/* An item's JSON by opc_account_item_get (cJSON_Delete). */
static OPC_TEST_UNUSED cJSON *fx_item_get(opc_account *a, const char *vault, const char *item)
{
    opc_secret *out = NULL;
    FX_OK(a, opc_account_item_get(a, vault, item, &out));
    cJSON *j = fx_json_secret(out);
    opc_secret_free(out);
    return j;
}

/*
 * Seal a Connect item (JSON text) for (vault, item) as connect-api does:
 * overview and details under the vault key, with the item AADs of
 * schema.c. *ov and *det: envelope texts (opc__free); *sn the key serial.
 */
static OPC_TEST_UNUSED void fx_seal_item(opc_account *a, const char *vault, const char *item,
                                         const char *json, char **ov, char **det, int64_t *sn)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    cJSON *full = NULL;
    cJSON *pov = NULL;
    cJSON *pdet = NULL;
    const opc__key *k = NULL;
    if (opc__item_prepare_json(json, strlen(json), OPC_ITEM_CREATE, NULL, &full, &eb) != OPC_OK) {
        fail_msg("item prepare: %s", eb.msg);
    }
    assert_int_equal(opc__item_split(full, &pov, &pdet), OPC_OK);
    if (opc__acct_vault_key(a, vault, &k, sn, &eb) != OPC_OK) {
        fail_msg("vault key: %s", eb.msg);
    }
    char aad[OPC_WIRE_LABEL_MAX];
    assert_int_equal(opc__wire_item_aad(aad, sizeof aad, vault, item, OPC_WIRE_ITEM_OVERVIEW, *sn),
                     OPC_OK);
    assert_int_equal(opc__acct_seal_json(k, aad, pov, ov), OPC_OK);
    assert_int_equal(opc__wire_item_aad(aad, sizeof aad, vault, item, OPC_WIRE_ITEM_DETAILS, *sn),
                     OPC_OK);
    assert_int_equal(opc__acct_seal_json(k, aad, pdet, det), OPC_OK);
    opc__json_delete_secret(full);
    opc__json_delete_secret(pov);
    opc__json_delete_secret(pdet);
}

/* A second SQLite connection to the account file, for tampering. */
static OPC_TEST_UNUSED sqlite3 *fx_db(const fx *f)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static OPC_TEST_UNUSED void fx_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fail_msg("%s: %s", sql, err != NULL ? err : "?");
    }
}

static OPC_TEST_UNUSED int64_t fx_count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* The stored version of an item (any state) in the account file at path. */
static OPC_TEST_UNUSED int64_t fx_item_version(const char *path, const char *item)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char q[128];
    snprintf(q, sizeof q, "SELECT version FROM items WHERE id = '%s'", item);
    int64_t v = fx_count(db, q);
    sqlite3_close(db);
    return v;
}

/* Whole file into malloc'ed memory (NULL and *len 0 when absent). */
static OPC_TEST_UNUSED unsigned char *fx_read_file(const char *path, size_t *len)
{
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16;
    size_t n = 0;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        if (got == 0) {
            break;
        }
        n += got;
    }
    fclose(fp);
    *len = n;
    return buf;
}

static OPC_TEST_UNUSED bool fx_contains(const unsigned char *hay, size_t n, const void *needle,
                                        size_t m)
{
    if (m == 0 || m > n) {
        return false;
    }
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0) {
            return true;
        }
    }
    return false;
}

#endif
