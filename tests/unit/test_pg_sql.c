/*
 * tests/unit/test_pg_sql.c - the PostgreSQL store's SQL (store/pg_sql.h)
 * against a real PostgreSQL: the migrations apply; every statement of the
 * owner's table (account/rows.c) has a PostgreSQL text; every text
 * prepares, with the parameter and result column count and types of its
 * convention ($1 the account, then the statement's parameters; the store's
 * own as listed below); then a few behaviours (the account row, vaults and
 * grants, NOCASE token names, byte-order keyset paging, the feed's head
 * row, a file chunk through bytea, the Connect server's reads).
 *
 * OPC_TEST_PG_URL is a libpq connection string to a database the test may
 * use as an administrator: it creates its own database (named with its
 * pid) and drops it at the end. Without it every test is skipped, unless
 * OPC_TEST_PG_REQUIRED=1 (`make unit` starts a cluster: tools/with-pg),
 * when they fail.
 */
#include "harness.h"
#include "pg_fixture.h"

#include <unistd.h>

#include <libpq-fe.h>

#include "account/rows.h"
#include "store/pg_sql.h"

/* The type OIDs of PostgreSQL (catalog/pg_type.dat). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

/* The store's own statements: every parameter ($1 first) and result column
 * by rows.h's letters (pg_sql.h's list). */
static const struct {
    const char *name;
    const char *params;
    const char *columns;
} store_stmts[] = {
    {"store.changes", "titi", "iItTTTTTTI"},
    {"store.account", "t", "i"},
    {"store.count", "", "i"},
    {"store.device_key", "tt", "t"},
    {"store.issuer_key", "tt", "tti"},
    {"store.access", "ttt", "titiiti"},
    {"store.vault", "ttt", "ttitiiiiii"},
    {"store.item", "ttt", "ttitiTTiiti"},
    {"store.vault_items", "tttti", "ttitiTTiiti"},
    {"store.item_files", "ttttii", "tittb"},
    {"store.vault_files", "tttttiti", "tittb"},
    {"store.vault_row", "tt", "ttitiiiiii"},
    {"store.item_row", "tt", "ttitiTTiiti"},
    {"store.token", "ttt", "ttttiitii"},
    {"store.write_auth", "ttt", "iII"},
    {"store.item_state", "ttt", "iiii"},
    {"store.lock", "t", "i"},
    {"store.set_seq", "ti", ""},
    {"store.owner_lookup", "t", "tttti"},
    {"store.session_put", "tittbiii", ""},
    {"store.session_get", "ti", "ittbiiii"},
    {"store.session_use", "tii", "i"},
    {"store.session_end", "t", ""},
    {"store.nonce_take", "tii", "i"},
    {"store.limit_hit", "tiii", ""},
    {"store.limit_until", "tii", "i"},
    {"store.pending_put", "tbi", ""},
    {"store.pending_take", "t", "bi"},
    {"store.sweep_sessions", "i", ""},
    {"store.sweep_nonces", "i", ""},
    {"store.sweep_limits", "i", ""},
    {"store.sweep_pending", "i", ""},
};

static PGconn *admin;
static PGconn *db;
static char dbname[64];
static const char *no_pg_why;

#define NEED_DB() PG_NEED(db != NULL, no_pg_why)

static int setup(void **state)
{
    if (opc_test_group_setup(state) != 0) {
        return -1;
    }
    const char *url = NULL;
    admin = pg_admin(&url, &no_pg_why);
    if (admin == NULL) {
        return 0;
    }
    (void)snprintf(dbname, sizeof dbname, "opc_test_pg_sql_%ld", (long)getpid());
    char sql[128];
    (void)snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
    bool ok = exec_ok(admin, sql);
    /* A default collation that is not byte order and folds more than
     * ASCII (ICU's en-US), so that a text without COLLATE "C" shows; a
     * server without ICU gets the default one. */
    char icu[192];
    (void)snprintf(icu, sizeof icu,
                   "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' "
                   "LOCALE_PROVIDER icu ICU_LOCALE 'en-US'",
                   dbname);
    if (ok && !exec_ok(admin, icu)) {
        print_message("no ICU collation: the database's default collation instead\n");
        (void)snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
        ok = exec_ok(admin, sql);
    }
    db = ok ? connect_to(url, dbname) : NULL;
    if (db == NULL) {
        no_pg_why = "cannot create the test database";
        return 0;
    }
    (void)PQsetNoticeProcessor(db, quiet, NULL);
    /* As pg.c does: every step in one transaction. */
    ok = exec_ok(db, "BEGIN");
    for (size_t i = 0; ok && i < OPC_PG_SCHEMA_VERSION; i++) {
        ok = exec_ok(db, opc__pg_migrations[i]);
    }
    ok = ok && exec_ok(db, "COMMIT");
    if (!ok) {
        /* Not a skip: the schema is what is tested. */
        print_error("the migrations failed\n");
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    if (db != NULL) {
        PQfinish(db);
        db = NULL;
    }
    if (admin != NULL) {
        char sql[128];
        (void)snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
        (void)exec_ok(admin, sql);
        PQfinish(admin);
        admin = NULL;
    }
    return opc_test_group_teardown(state);
}

static unsigned type_oid(char t)
{
    switch (t) {
    case 't':
    case 'T':
        return OID_TEXT;
    case 'b':
        return OID_BYTEA;
    default: /* i I q */
        return OID_INT8;
    }
}

/* The conventions of pg_sql.h: a rows.c statement's PostgreSQL parameters
 * and columns, as type letters. */
static void rows_convention(const opc__rows_stmt *s, char *params, size_t cap, const char **cols)
{
    (void)snprintf(params, cap, "t%s%s", s->kind == OPC__ROWS_CHANGE ? "i" : "", s->params);
    *cols = s->kind == OPC__ROWS_READ ? s->columns : "";
}

static void test_every_rows_statement_has_text(void **state)
{
    (void)state;
    /* No database needed: the table alone. */
    size_t n = 0;
    const opc__rows_stmt *t = opc__rows_table(&n);
    char missing[2048] = "";
    size_t n_missing = 0;
    for (size_t i = 0; i < n; i++) {
        if (opc__pg_sql_find(t[i].name) == NULL) {
            n_missing++;
            size_t len = strlen(missing);
            (void)snprintf(missing + len, sizeof missing - len, " %s", t[i].name);
        }
    }
    if (n_missing > 0) {
        fail_msg("%zu statements of account/rows.c have no PostgreSQL text:%s", n_missing, missing);
    }
    /* And every text is of rows.c or of the store's list, once. */
    size_t np = 0;
    const opc__pg_sql *p = opc__pg_sql_table(&np);
    for (size_t i = 0; i < np; i++) {
        bool known = opc__rows_find(p[i].name) != NULL;
        for (size_t k = 0; !known && k < OPC_ARRAY_LEN(store_stmts); k++) {
            known = strcmp(store_stmts[k].name, p[i].name) == 0;
        }
        if (!known) {
            fail_msg("%s: neither a statement of account/rows.c nor a documented store one",
                     p[i].name);
        }
        for (size_t k = i + 1; k < np; k++) {
            if (strcmp(p[i].name, p[k].name) == 0) {
                fail_msg("%s: twice in the table", p[i].name);
            }
        }
        assert_true(p[i].sql != NULL && p[i].sql[0] != '\0');
    }
    for (size_t k = 0; k < OPC_ARRAY_LEN(store_stmts); k++) {
        if (opc__pg_sql_find(store_stmts[k].name) == NULL) {
            fail_msg("%s: missing", store_stmts[k].name);
        }
    }
    assert_null(opc__pg_sql_find("no.such"));
    assert_null(opc__pg_sql_find(NULL));
    assert_int_equal(np, n + OPC_ARRAY_LEN(store_stmts));
}

/* Prepare name and compare its parameters and columns with the letters. */
static int check_prepared(const char *name, const char *sql, const char *params, const char *cols)
{
    int bad = 0;
    PGresult *r = PQprepare(db, name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        print_error("%s: prepare: %s\n", name, PQresultErrorMessage(r));
        PQclear(r);
        return 1;
    }
    PQclear(r);
    r = PQdescribePrepared(db, name);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        print_error("%s: describe: %s\n", name, PQresultErrorMessage(r));
        PQclear(r);
        return 1;
    }
    int np = PQnparams(r);
    int nf = PQnfields(r);
    if (np != (int)strlen(params)) {
        print_error("%s: %d parameters, want %zu\n", name, np, strlen(params));
        bad = 1;
    }
    for (int i = 0; !bad && i < np; i++) {
        if (PQparamtype(r, i) != type_oid(params[i])) {
            print_error("%s: parameter $%d has type %u, want %u\n", name, i + 1, PQparamtype(r, i),
                        type_oid(params[i]));
            bad = 1;
        }
    }
    if (nf != (int)strlen(cols)) {
        print_error("%s: %d result columns, want %zu\n", name, nf, strlen(cols));
        bad = 1;
    }
    for (int i = 0; !bad && i < nf; i++) {
        if (PQftype(r, i) != type_oid(cols[i])) {
            print_error("%s: column %d (%s) has type %u, want %u\n", name, i, PQfname(r, i),
                        PQftype(r, i), type_oid(cols[i]));
            bad = 1;
        }
    }
    PQclear(r);
    return bad;
}

static void test_every_text_prepares(void **state)
{
    (void)state;
    NEED_DB();
    size_t n = 0;
    const opc__rows_stmt *t = opc__rows_table(&n);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const char *sql = opc__pg_sql_find(t[i].name);
        if (sql == NULL) {
            continue; /* test_every_rows_statement_has_text names it */
        }
        char params[64];
        const char *cols = NULL;
        rows_convention(&t[i], params, sizeof params, &cols);
        bad += check_prepared(t[i].name, sql, params, cols);
    }
    for (size_t k = 0; k < OPC_ARRAY_LEN(store_stmts); k++) {
        const char *sql = opc__pg_sql_find(store_stmts[k].name);
        if (sql != NULL) {
            bad += check_prepared(store_stmts[k].name, sql, store_stmts[k].params,
                                  store_stmts[k].columns);
        }
    }
    assert_true(exec_ok(db, "DEALLOCATE ALL"));
    if (bad > 0) {
        fail_msg("%d statements disagree with their convention (above)", bad);
    }
}

/* ---- behaviour ---- */

/* A transaction of its own (one a failed test left open is rolled back),
 * each test ROLLBACKs its rows. */
static void begin(void)
{
    PQclear(PQexec(db, "ROLLBACK"));
    assert_true(exec_ok(db, "BEGIN"));
}

#define ACCT "ACCT000000000000000000000A"
#define ACCT2 "ACCT000000000000000000000B"

/* Run statement name with the n text arguments (NULL: SQL NULL). */
static PGresult *run(const char *name, int n, const char *const *args)
{
    const char *sql = opc__pg_sql_find(name);
    assert_non_null(sql);
    return PQexecParams(db, sql, n, NULL, args, NULL, NULL, 0);
}

/* name must succeed; its row count (affected rows for a write). */
static int run_ok(const char *name, int n, const char *const *args, PGresult **out)
{
    PGresult *r = run(name, n, args);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fail_msg("%s: %s", name, PQresultErrorMessage(r));
    }
    int rows = st == PGRES_TUPLES_OK ? PQntuples(r) : atoi(PQcmdTuples(r));
    if (out != NULL) {
        *out = r;
    } else {
        PQclear(r);
    }
    return rows;
}

/* name must fail with SQLSTATE state. */
static void run_fails(const char *name, int n, const char *const *args, const char *state)
{
    PGresult *r = run(name, n, args);
    const char *got = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (got == NULL || strcmp(got, state) != 0) {
        fail_msg("%s: SQLSTATE %s, want %s", name, got != NULL ? got : "(none)", state);
    }
    PQclear(r);
}

#define ARGS(...)                                                                                  \
    (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)), (const char *const[])     \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

static void insert_account(const char *acct, const char *email)
{
    assert_int_equal(
        run_ok("account.insert",
               ARGS(acct, acct, email, "skid", "PBES2g-HS256", "salt", "650000", "keyset", "encsym",
                    "pub", "encpri", "kid", "spub", "encspri", "1700000000"),
               NULL),
        1);
}

static void test_account_and_vaults(void **state)
{
    (void)state;
    NEED_DB();
    begin();
    /* The id parameter must be the account: no row otherwise. */
    assert_int_equal(
        run_ok("account.insert",
               ARGS(ACCT, ACCT2, "a@example.com", "skid", "PBES2g-HS256", "salt", "650000",
                    "keyset", "encsym", "pub", "encpri", "kid", "spub", "encspri", "1700000000"),
               NULL),
        0);
    insert_account(ACCT, "a@example.com");
    insert_account(ACCT2, "b@example.com");
    PGresult *r = NULL;
    assert_int_equal(run_ok("account.get", ARGS(ACCT), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), ACCT);
    assert_string_equal(PQgetvalue(r, 0, 5), "650000");
    PQclear(r);
    assert_int_equal(run_ok("store.count", 0, NULL, &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "2");
    PQclear(r);
    assert_int_equal(run_ok("store.account", ARGS(ACCT2), NULL), 1);
    assert_int_equal(run_ok("store.account", ARGS("NOSUCH"), NULL), 0);

    /* Vaults of two accounts; the owner's grant put twice (an upsert). */
    assert_int_equal(
        run_ok("vault.insert", ARGS(ACCT, "V2", "U", "1", "attrs2", "5", "5", "1"), NULL), 1);
    assert_int_equal(
        run_ok("vault.insert", ARGS(ACCT, "V1", "U", "1", "attrs1", "5", "5", "2"), NULL), 1);
    assert_int_equal(
        run_ok("vault.insert", ARGS(ACCT2, "V1", "U", "1", "other", "5", "5", "1"), NULL), 1);
    assert_int_equal(run_ok("vault.grant_put",
                            ARGS(ACCT, "V1", "owner", ACCT, "1", "k1", "3", "5", "sig", "2"), NULL),
                     1);
    assert_int_equal(run_ok("vault.grant_put",
                            ARGS(ACCT, "V1", "owner", ACCT, "1", "k2", "3", "6", "sig2", "3"),
                            NULL),
                     1);
    assert_int_equal(run_ok("vault.list", ARGS(ACCT, ACCT), &r), 2);
    assert_string_equal(PQgetvalue(r, 0, 0), "V1");
    assert_string_equal(PQgetvalue(r, 0, 8), "attrs1");
    assert_string_equal(PQgetvalue(r, 0, 11), "k2"); /* the second put replaced the first */
    assert_string_equal(PQgetvalue(r, 1, 0), "V2");
    assert_true(PQgetisnull(r, 1, 10)); /* no owner grant on V2 */
    PQclear(r);
    assert_int_equal(run_ok("vault.get", ARGS(ACCT2, ACCT2, "V1"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 8), "other");
    PQclear(r);
    /* A grant to a vault of another account is refused (the foreign key). */
    run_fails("vault.grant_put", ARGS(ACCT2, "V2", "owner", ACCT2, "1", "k", "3", "5", "s", "2"),
              "23503");
    assert_true(exec_ok(db, "ROLLBACK"));
}

static void test_token_names_nocase(void **state)
{
    (void)state;
    NEED_DB();
    begin();
    insert_account(ACCT, "a@example.com");
    assert_int_equal(run_ok("server.insert",
                            ARGS(ACCT, "S1", "Box", "dp", "ds", "ep", "es", "rec", "1", "1", "1"),
                            NULL),
                     1);
    /* ASCII case: "box" is taken; "BÖX" and "böx" are different names (NOCASE folds ASCII only). */
    assert_int_equal(run_ok("server.name_taken", ARGS(ACCT, "bOX", NULL), NULL), 1);
    assert_int_equal(run_ok("server.name_taken", ARGS(ACCT, "BOX", "S1"), NULL), 0);
    assert_int_equal(
        run_ok("token.insert", ARGS(ACCT, "J1", "S1", "Deploy", "[]", "1", NULL, "1", "2"), NULL),
        1);
    assert_int_equal(run_ok("token.insert",
                            ARGS(ACCT, "J2", "S1", "\xc3\xa9t\xc3\xa9", "[]", "1", "9", "1", "3"),
                            NULL),
                     1);
    assert_int_equal(run_ok("token.name_taken", ARGS(ACCT, "S1", "DEPLOY", NULL), NULL), 1);
    assert_int_equal(run_ok("token.name_taken", ARGS(ACCT, "S1", "deploy", "J1"), NULL), 0);
    assert_int_equal(run_ok("token.find_name", ARGS(ACCT, "\xc3\xa9T\xc3\xa9", NULL), NULL), 1);
    assert_int_equal(run_ok("token.find_name", ARGS(ACCT, "\xc3\x89T\xc3\x89", NULL), NULL), 0);
    /* The unique index: a second active "DEPLOY" of the server is refused... */
    assert_true(exec_ok(db, "SAVEPOINT s"));
    run_fails("token.insert", ARGS(ACCT, "J3", "S1", "DEPLOY", "[]", "1", NULL, "1", "4"), "23505");
    assert_true(exec_ok(db, "ROLLBACK TO SAVEPOINT s"));
    /* ... and allowed once the first is revoked (seq 2 expected). */
    assert_int_equal(run_ok("token.revoke", ARGS(ACCT, "5", "5", "J1", "1"), NULL), 0);
    assert_int_equal(run_ok("token.revoke", ARGS(ACCT, "5", "5", "J1", "2"), NULL), 1);
    assert_int_equal(
        run_ok("token.insert", ARGS(ACCT, "J3", "S1", "DEPLOY", "[]", "1", NULL, "1", "6"), NULL),
        1);
    PGresult *r = NULL;
    assert_int_equal(run_ok("token.list", ARGS(ACCT, NULL), &r), 3);
    /* lower(name), name: "deploy" (J3 "DEPLOY" < J1 "Deploy" by bytes), then "été" */
    assert_string_equal(PQgetvalue(r, 0, 0), "J3");
    assert_string_equal(PQgetvalue(r, 1, 0), "J1");
    assert_string_equal(PQgetvalue(r, 2, 0), "J2");
    PQclear(r);
    assert_int_equal(run_ok("store.token", ARGS(ACCT, "S1", "J1"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 5), "0"); /* coalesce(expires, 0) */
    assert_string_equal(PQgetvalue(r, 0, 6), "revoked");
    PQclear(r);
    assert_true(exec_ok(db, "ROLLBACK"));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_keyset_paging_byte_order(void **state)
{
    (void)state;
    NEED_DB();
    begin();
    insert_account(ACCT, "a@example.com");
    assert_int_equal(run_ok("vault.insert", ARGS(ACCT, "V1", "U", "1", "a", "5", "5", "1"), NULL),
                     1);
    assert_int_equal(run_ok("server.insert",
                            ARGS(ACCT, "S1", "Box", "dp", "ds", "ep", "es", "rec", "1", "1", "1"),
                            NULL),
                     1);
    /* Not granted yet: nothing. */
    const char *ids[] = {"b", "B", "_", "a", "Z", "0", "ab", "A", "z", "\xc3\xa9", "~"};
    enum { N = sizeof ids / sizeof ids[0] };
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(
            run_ok("item.insert",
                   ARGS(ACCT, ids[i], "V1", "1", "o", "d", "1", "1", "2", i % 2 ? NULL : "S1"),
                   NULL),
            1);
    }
    assert_int_equal(
        run_ok("item.tombstone", ARGS(ACCT, "3", "3", NULL, "ab", "V1", "1", "2"), NULL), 1);
    assert_int_equal(run_ok("store.vault_items", ARGS(ACCT, "S1", "V1", "", "100"), NULL), 0);
    assert_int_equal(
        run_ok("access.grant_server", ARGS(ACCT, "V1", "S1", "2", "k", "1", "1", "s", "4"), NULL),
        0); /* key serial 2: not the vault's */
    assert_int_equal(
        run_ok("access.grant_server", ARGS(ACCT, "V1", "S1", "1", "k", "1", "1", "s", "4"), NULL),
        1);
    const char *want[N];
    size_t n_want = 0;
    for (size_t i = 0; i < N; i++) {
        if (strcmp(ids[i], "ab") != 0) {
            want[n_want++] = ids[i];
        }
    }
    qsort(want, n_want, sizeof want[0], cmp_str);
    char after[16] = "";
    size_t got = 0;
    for (;;) {
        PGresult *r = NULL;
        int rows = run_ok("store.vault_items", ARGS(ACCT, "S1", "V1", after, "3"), &r);
        for (int i = 0; i < rows; i++, got++) {
            assert_true(got < n_want);
            assert_string_equal(PQgetvalue(r, i, 0), want[got]);
            /* last_edited_by: the server, or the account (editor NULL) */
            size_t k = 0;
            while (k < N && strcmp(ids[k], want[got]) != 0) {
                k++;
            }
            assert_string_equal(PQgetvalue(r, i, 9), k % 2 ? ACCT : "S1");
        }
        if (rows > 0) {
            (void)snprintf(after, sizeof after, "%s", PQgetvalue(r, rows - 1, 0));
        }
        PQclear(r);
        if (rows < 3) {
            break;
        }
    }
    assert_int_equal(got, n_want);
    /* The tombstone is there unscoped; the owner's writes are the account's. */
    PGresult *r = NULL;
    assert_int_equal(run_ok("store.item_row", ARGS(ACCT, "ab"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 3), "deleted");
    assert_string_equal(PQgetvalue(r, 0, 9), ACCT);
    PQclear(r);
    assert_int_equal(run_ok("store.item", ARGS(ACCT, "S1", "ab"), NULL), 0);
    assert_int_equal(run_ok("store.item", ARGS(ACCT, "S2", "b"), NULL), 0);
    assert_int_equal(run_ok("store.item_state", ARGS(ACCT, "V2", "b"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    assert_string_equal(PQgetvalue(r, 0, 1), "1");
    PQclear(r);
    assert_int_equal(run_ok("store.write_auth", ARGS(ACCT, "S1", "V1"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "1");
    assert_string_equal(PQgetvalue(r, 0, 1), "1");
    assert_string_equal(PQgetvalue(r, 0, 2), "1");
    PQclear(r);
    assert_int_equal(run_ok("store.write_auth", ARGS(ACCT, "S9", "V9"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    assert_true(PQgetisnull(r, 0, 1));
    assert_true(PQgetisnull(r, 0, 2));
    PQclear(r);
    assert_true(exec_ok(db, "ROLLBACK"));
}

static void test_changes_head(void **state)
{
    (void)state;
    NEED_DB();
    begin();
    insert_account(ACCT, "a@example.com");
    PGresult *r = NULL;
    /* No changes: the head row alone. Unknown account: no row. */
    assert_int_equal(run_ok("store.changes", ARGS(ACCT, "0", "S1", "10"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    assert_true(PQgetisnull(r, 0, 1));
    PQclear(r);
    assert_int_equal(run_ok("store.changes", ARGS("NOSUCH", "0", "S1", "10"), NULL), 0);
    assert_int_equal(run_ok("vault.feed_head", ARGS(ACCT), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);

    assert_int_equal(run_ok("store.lock", ARGS(ACCT), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    /* 1 issuer key (everyone), 2 vault V1 (granted to S1 below), 3 vault
     * V2 (not granted), 4 server S2's, 5 S1's token. */
    assert_int_equal(
        run_ok("change.append",
               ARGS(ACCT, "1", "issuer_key", NULL, NULL, NULL, NULL, NULL, "K", NULL, "9"), NULL),
        1);
    assert_int_equal(
        run_ok("change.append",
               ARGS(ACCT, "2", "vault_create", "V1", NULL, NULL, NULL, NULL, NULL, NULL, "9"),
               NULL),
        1);
    assert_int_equal(
        run_ok("change.append",
               ARGS(ACCT, "3", "vault_create", "V2", NULL, NULL, NULL, NULL, NULL, NULL, "9"),
               NULL),
        1);
    assert_int_equal(
        run_ok("change.append",
               ARGS(ACCT, "4", "server_update", NULL, NULL, NULL, "S2", NULL, NULL, NULL, "9"),
               NULL),
        1);
    assert_int_equal(
        run_ok("change.append",
               ARGS(ACCT, "5", "token_create", NULL, NULL, NULL, "S1", "J1", NULL, NULL, "9"),
               NULL),
        1);
    assert_int_equal(run_ok("store.set_seq", ARGS(ACCT, "5"), NULL), 1);
    assert_int_equal(run_ok("vault.insert", ARGS(ACCT, "V1", "U", "1", "a", "5", "5", "2"), NULL),
                     1);
    assert_int_equal(run_ok("server.insert",
                            ARGS(ACCT, "S1", "Box", "dp", "ds", "ep", "es", "rec", "1", "1", "1"),
                            NULL),
                     1);
    assert_int_equal(run_ok("vault.grant_put",
                            ARGS(ACCT, "V1", "server", "S1", "1", "k", "1", "5", "s", "2"), NULL),
                     1);
    assert_int_equal(run_ok("store.changes", ARGS(ACCT, "0", "S1", "10"), &r), 3);
    assert_string_equal(PQgetvalue(r, 0, 0), "5");
    assert_string_equal(PQgetvalue(r, 0, 1), "1");
    assert_string_equal(PQgetvalue(r, 1, 1), "2");
    assert_string_equal(PQgetvalue(r, 2, 1), "5");
    assert_string_equal(PQgetvalue(r, 2, 7), "J1");
    assert_true(PQgetisnull(r, 2, 9));
    PQclear(r);
    assert_int_equal(run_ok("store.changes", ARGS(ACCT, "1", "S1", "1"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 1), "2");
    PQclear(r);
    assert_int_equal(run_ok("store.changes", ARGS(ACCT, "5", "S1", "10"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "5");
    assert_true(PQgetisnull(r, 0, 1));
    PQclear(r);
    assert_int_equal(run_ok("vault.feed_head", ARGS(ACCT), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "5");
    PQclear(r);
    /* The seq is the account's: a repeated one is refused. */
    run_fails("change.append",
              ARGS(ACCT, "5", "vault_update", "V1", NULL, NULL, NULL, NULL, NULL, NULL, "9"),
              "23505");
    assert_true(exec_ok(db, "ROLLBACK"));
}

static void test_file_chunks_bytea(void **state)
{
    (void)state;
    NEED_DB();
    begin();
    insert_account(ACCT, "a@example.com");
    assert_int_equal(run_ok("vault.insert", ARGS(ACCT, "V1", "U", "1", "a", "5", "5", "1"), NULL),
                     1);
    assert_int_equal(run_ok("server.insert",
                            ARGS(ACCT, "S1", "Box", "dp", "ds", "ep", "es", "rec", "1", "1", "1"),
                            NULL),
                     1);
    assert_int_equal(
        run_ok("access.grant_server", ARGS(ACCT, "V1", "S1", "1", "k", "1", "1", "s", "4"), NULL),
        1);
    assert_int_equal(
        run_ok("item.insert", ARGS(ACCT, "I1", "V1", "1", "o", "d", "1", "1", "2", NULL), NULL), 1);
    /* As pg.c sends it: bytea in binary, the rest as text. */
    static const char blob[] = {'\0', '\x01', '\xff', '\'', '\\'};
    for (int idx = 0; idx < 3; idx++) {
        char sidx[16];
        (void)snprintf(sidx, sizeof sidx, "%d", idx);
        const char *vals[] = {ACCT, "I1", "F1", sidx, blob};
        const int lens[] = {0, 0, 0, 0, (int)sizeof blob};
        const int fmts[] = {0, 0, 0, 0, 1};
        PGresult *r =
            PQexecParams(db, opc__pg_sql_find("file.chunk_insert"), 5, NULL, vals, lens, fmts, 0);
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
    }
    PGresult *r = NULL;
    assert_int_equal(run_ok("item.chunk_count", ARGS(ACCT, "I1"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "3");
    PQclear(r);
    assert_int_equal(run_ok("store.item_files", ARGS(ACCT, "S1", "I1", "F1", "0", "10"), NULL), 2);
    assert_int_equal(
        run_ok("store.vault_files", ARGS(ACCT, "S1", "V1", "I1", "", "0", "I1", "2"), NULL), 2);
    assert_int_equal(
        run_ok("store.vault_files", ARGS(ACCT, "S1", "V1", "", "", "0", "I0", "9"), NULL), 0);
    const char *vals[] = {ACCT, "I1", "F1", "1", "10"};
    r = PQexecParams(db, opc__pg_sql_find("file.chunks"), 5, NULL, vals, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 2);
    assert_int_equal(PQgetlength(r, 0, 1), (int)sizeof blob);
    assert_memory_equal(PQgetvalue(r, 0, 1), blob, sizeof blob);
    PQclear(r);
    /* Deleting the vault takes its items and their chunks along. */
    assert_int_equal(run_ok("vault.delete", ARGS(ACCT, "V1"), NULL), 1);
    assert_int_equal(run_ok("item.chunk_count", ARGS(ACCT, "I1"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    assert_true(exec_ok(db, "ROLLBACK"));
}

static void test_connect_reads(void **state)
{
    (void)state;
    NEED_DB();
    begin();
    insert_account(ACCT, "a@example.com");
    insert_account(ACCT2, "b@example.com");
    PGresult *r = NULL;
    /* Sign-in: the account of an email, with its SRP row. */
    assert_int_equal(run_ok("store.owner_lookup", ARGS("a@example.com"), NULL), 0);
    assert_int_equal(run_ok("account.srp_insert", ARGS(ACCT, "ssalt", "verifier", "1"), NULL), 1);
    assert_int_equal(run_ok("store.owner_lookup", ARGS("a@example.com"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), ACCT);
    assert_string_equal(PQgetvalue(r, 0, 1), "ssalt");
    assert_string_equal(PQgetvalue(r, 0, 2), "verifier");
    assert_string_equal(PQgetvalue(r, 0, 3), "salt");
    assert_string_equal(PQgetvalue(r, 0, 4), "650000");
    PQclear(r);
    assert_int_equal(run_ok("account.issuer_key_insert", ARGS(ACCT, "K1", "{}", "1", "1"), NULL),
                     1);
    assert_int_equal(run_ok("store.issuer_key", ARGS(ACCT, "K1"), NULL), 1);
    assert_int_equal(run_ok("store.issuer_key", ARGS(ACCT2, "K1"), NULL), 0);
    assert_int_equal(run_ok("vault.insert", ARGS(ACCT, "V1", "U", "1", "a", "5", "5", "1"), NULL),
                     1);
    assert_int_equal(run_ok("vault.insert", ARGS(ACCT, "V2", "U", "1", "a", "5", "5", "1"), NULL),
                     1);
    assert_int_equal(run_ok("server.insert",
                            ARGS(ACCT, "S1", "Box", "dp", "ds", "ep", "es", "rec", "1", "1", "1"),
                            NULL),
                     1);
    assert_int_equal(
        run_ok("access.grant_server", ARGS(ACCT, "V1", "S1", "1", "wk", "1", "7", "gs", "4"), NULL),
        1);
    /* Scoped to the server's grants, and to the account. */
    assert_int_equal(run_ok("store.access", ARGS(ACCT, "S1", "V1"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 2), "wk");
    assert_string_equal(PQgetvalue(r, 0, 4), "7");
    PQclear(r);
    assert_int_equal(run_ok("store.access", ARGS(ACCT, "S1", "V2"), NULL), 0);
    assert_int_equal(run_ok("store.vault", ARGS(ACCT, "S1", "V1"), NULL), 1);
    assert_int_equal(run_ok("store.vault", ARGS(ACCT, "S1", "V2"), NULL), 0);
    assert_int_equal(run_ok("store.vault", ARGS(ACCT2, "S1", "V1"), NULL), 0);
    assert_int_equal(run_ok("store.vault_row", ARGS(ACCT, "V2"), NULL), 1);
    /* The device key of an active server only. */
    assert_int_equal(run_ok("store.device_key", ARGS(ACCT, "S1"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "dp");
    PQclear(r);
    assert_int_equal(run_ok("server.delete", ARGS(ACCT, "2", "2", "S1", "1"), NULL), 1);
    assert_int_equal(run_ok("store.device_key", ARGS(ACCT, "S1"), NULL), 0);
    assert_int_equal(run_ok("store.write_auth", ARGS(ACCT, "S1", "V1"), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    /* The write lock and the feed counter. */
    assert_int_equal(run_ok("store.set_seq", ARGS(ACCT, "42"), NULL), 1);
    assert_int_equal(run_ok("store.lock", ARGS(ACCT), &r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "42");
    PQclear(r);
    assert_int_equal(run_ok("store.lock", ARGS("NOSUCH"), NULL), 0);
    assert_true(exec_ok(db, "ROLLBACK"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_rows_statement_has_text),
        cmocka_unit_test(test_every_text_prepares),
        cmocka_unit_test(test_account_and_vaults),
        cmocka_unit_test(test_token_names_nocase),
        cmocka_unit_test(test_keyset_paging_byte_order),
        cmocka_unit_test(test_changes_head),
        cmocka_unit_test(test_file_chunks_bytea),
        cmocka_unit_test(test_connect_reads),
    };
    return cmocka_run_group_tests_name("pg_sql", tests, setup, teardown);
}
