/*
 * tests/unit/test_sqlite.c - the SQLite helper (core/sqlite.c): the error
 * mapping, opening (file mode, pragmas, foreign files), the statement
 * table, transactions and their retry on SQLITE_BUSY.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include "harness.h"

#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/sqlite.h"

typedef struct fx {
    char dir[64];
    char path[128];
    opc__db *db;
} fx;

enum { ST_INSERT, ST_COUNT_ROWS, ST_GET, ST_N };

static const char *const stmts[ST_N] = {
    [ST_INSERT] = "INSERT INTO t (k, v) VALUES (?1, ?2)",
    [ST_COUNT_ROWS] = "SELECT COUNT(*) FROM t",
    [ST_GET] = "SELECT v FROM t WHERE k = ?1",
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static opc__db_config config(const fx *f, unsigned flags, int busy_ms)
{
    opc__db_config cfg = {
        .path = f->path,
        .label = "test file",
        .flags = flags,
        .busy_timeout_ms = busy_ms,
        .pragmas = "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
        .stmts = stmts,
        .n_stmts = ST_N,
    };
    return cfg;
}

/* A fresh file with table t (k UNIQUE) and a child table with a deferred foreign key. */
static void fx_open(fx *f, int busy_ms)
{
    memset(f, 0, sizeof *f);
    opc_test_mkdtemp(f->dir, sizeof f->dir, "opc-sqlite", "sub/test.db", f->path, sizeof f->path);
    opc__db_config cfg = config(f, OPC_DB_CREATE | OPC_DB_NOFOLLOW | OPC_DB_PRIVATE, busy_ms);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__db_open(&cfg, &f->db, &eb), OPC_OK);
    assert_int_equal(opc__db_wal(f->db, &eb), OPC_OK);
    assert_int_equal(opc__db_exec(f->db,
                                  "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
                                  "CREATE TABLE c (k TEXT REFERENCES t(k)"
                                  " DEFERRABLE INITIALLY DEFERRED);",
                                  &eb),
                     OPC_OK);
}

static void fx_close(fx *f)
{
    opc__db_close(f->db);
    f->db = NULL;
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int64_t count_rows(fx *f)
{
    opc__ebuf eb;
    bool found = false;
    int64_t n = -1;
    assert_int_equal(opc__db_query_int(f->db, &found, &n, &eb, "SELECT COUNT(*) FROM t", ""),
                     OPC_OK);
    assert_true(found);
    return n;
}

/* ---- the error mapping ---- */

static void test_sqlite_error_mapping(void **state)
{
    (void)state;
    static const struct {
        int src;
        opc_err want;
        const char *text; /* in the message; NULL: SQLite's own */
    } table[] = {
        {SQLITE_NOMEM, OPC_ERR_NOMEM, "x: out of memory"},
        {SQLITE_BUSY, OPC_ERR_IO, "x: the test file is busy"},
        {SQLITE_BUSY_SNAPSHOT, OPC_ERR_IO, "x: the test file is busy"},
        {SQLITE_LOCKED, OPC_ERR_IO, "x: the test file is busy"},
        {SQLITE_NOTADB, OPC_ERR_PARSE, "x: not an opconnect test file"},
        {SQLITE_CORRUPT, OPC_ERR_PARSE, "x: the test file is corrupt"},
        {SQLITE_CORRUPT_INDEX, OPC_ERR_PARSE, "x: the test file is corrupt"},
        {SQLITE_CONSTRAINT_UNIQUE, OPC_ERR_EXISTS, NULL},
        {SQLITE_CONSTRAINT_PRIMARYKEY, OPC_ERR_EXISTS, NULL},
        {SQLITE_CONSTRAINT_NOTNULL, OPC_ERR_INTERNAL, NULL},
        {SQLITE_CONSTRAINT_FOREIGNKEY, OPC_ERR_INTERNAL, NULL},
        {SQLITE_IOERR, OPC_ERR_IO, NULL},
        {SQLITE_IOERR_WRITE, OPC_ERR_IO, NULL},
        {SQLITE_CANTOPEN, OPC_ERR_IO, NULL},
        {SQLITE_READONLY, OPC_ERR_IO, NULL},
        {SQLITE_FULL, OPC_ERR_IO, NULL},
        {SQLITE_PERM, OPC_ERR_IO, NULL},
        {SQLITE_AUTH, OPC_ERR_IO, NULL},
        {SQLITE_NOLFS, OPC_ERR_IO, NULL},
        {SQLITE_PROTOCOL, OPC_ERR_IO, NULL},
        {SQLITE_TOOBIG, OPC_ERR_TOO_LARGE, NULL},
        {SQLITE_ERROR, OPC_ERR_INTERNAL, NULL},
        {SQLITE_MISUSE, OPC_ERR_INTERNAL, NULL},
        {SQLITE_RANGE, OPC_ERR_INTERNAL, NULL},
        {SQLITE_SCHEMA, OPC_ERR_INTERNAL, NULL},
        {SQLITE_MISMATCH, OPC_ERR_INTERNAL, NULL},
    };
    fx f;
    fx_open(&f, 0);
    for (size_t i = 0; i < OPC_ARRAY_LEN(table); i++) {
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        assert_int_equal(opc__db_err(f.db, table[i].src, "x", &eb), table[i].want);
        assert_int_equal(opc__db_last_error(f.db), table[i].src);
        assert_memory_equal(eb.msg, "x: ", 3);
        if (table[i].text != NULL) {
            assert_non_null(strstr(eb.msg, table[i].text));
        }
        /* Without a handle: the same code, SQLite's static text. */
        opc__ebuf_clear(&eb);
        assert_int_equal(opc__db_err(NULL, table[i].src, "x", &eb), table[i].want);
        /* what NULL names the file by its label. */
        opc__ebuf_clear(&eb);
        (void)opc__db_err(f.db, table[i].src, NULL, &eb);
        assert_memory_equal(eb.msg, "test file: ", 11);
    }
    fx_close(&f);
}

static void test_sqlite_errors_from_real_statements(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, 0);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(
        opc__db_run_sql(f.db, NULL, &eb, "INSERT INTO t VALUES (?1, ?2)", "ti", "a", (int64_t)1),
        OPC_OK);
    /* A duplicate key is OPC_ERR_EXISTS; the bound value is not in the message. */
    assert_int_equal(
        opc__db_run_sql(f.db, NULL, &eb, "INSERT INTO t VALUES (?1, ?2)", "ti", "a", (int64_t)2),
        OPC_ERR_EXISTS);
    assert_int_equal(opc__db_last_error(f.db), SQLITE_CONSTRAINT_PRIMARYKEY);
    assert_null(strstr(eb.msg, "'a'"));
    /* NOT NULL: a bug of ours, not the caller's. */
    assert_int_equal(opc__db_run_sql(f.db, NULL, &eb, "INSERT INTO t VALUES (?1, ?2)", "tn", "b"),
                     OPC_ERR_INTERNAL);
    /* Bad SQL and a bad bind format. */
    sqlite3_stmt *st = NULL;
    assert_int_equal(opc__db_prepare(f.db, "SELEKT 1", &st, &eb), OPC_ERR_INTERNAL);
    assert_null(st);
    assert_int_equal(opc__db_run_sql(f.db, NULL, &eb, "SELECT ?1", "q", 1), OPC_ERR_INTERNAL);
    assert_non_null(strstr(eb.msg, "bad bind format"));
    /* A changed row count. */
    int changed = -1;
    assert_int_equal(opc__db_run_sql(f.db, &changed, &eb, "UPDATE t SET v = v + 1", ""), OPC_OK);
    assert_int_equal(changed, 1);
    fx_close(&f);
}

/* opc__db_query and opc__db_query_row: bound, stepped once, NULL after a failure. */
static void test_sqlite_query_row(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, 0);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(
        opc__db_run_sql(f.db, NULL, &eb, "INSERT INTO t VALUES ('a', 1), ('b', 2)", ""), OPC_OK);
    sqlite3_stmt *st = NULL;
    bool row = false;
    assert_int_equal(
        opc__db_query_row(f.db, &st, &row, &eb, "SELECT v FROM t WHERE k = ?1", "t", "b"), OPC_OK);
    assert_true(row);
    assert_int_equal(sqlite3_column_int64(st, 0), 2);
    sqlite3_finalize(st);
    row = true;
    assert_int_equal(
        opc__db_query_row(f.db, &st, &row, &eb, "SELECT v FROM t WHERE k = ?1", "t", "none"),
        OPC_OK);
    assert_false(row);
    sqlite3_finalize(st);
    /* A bad bind format: no statement left to finalize, no row. */
    row = true;
    assert_int_equal(opc__db_query_row(f.db, &st, &row, &eb, "SELECT ?1", "q", 1),
                     OPC_ERR_INTERNAL);
    assert_null(st);
    assert_false(row);
    /* opc__db_query binds and leaves the stepping to the caller. */
    assert_int_equal(
        opc__db_query(f.db, &st, &eb, "SELECT k FROM t WHERE v > ?1 ORDER BY k", "i", (int64_t)0),
        OPC_OK);
    int n = 0;
    while (opc__db_step(f.db, st, &row, &eb) == OPC_OK && row) {
        n++;
    }
    assert_int_equal(n, 2);
    sqlite3_finalize(st);
    assert_int_equal(opc__db_query(f.db, &st, &eb, "SELEKT 1", ""), OPC_ERR_INTERNAL);
    assert_null(st);
    fx_close(&f);
}

/* ---- opening ---- */

static void test_sqlite_open_creates_a_private_file(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, 0);
    struct stat sb;
    assert_int_equal(stat(f.path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char dir[160];
    snprintf(dir, sizeof dir, "%s/sub", f.dir);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    /* The pragmas ran. */
    opc__ebuf eb;
    bool found = false;
    int64_t v = 0;
    assert_int_equal(opc__db_query_int(f.db, &found, &v, &eb, "PRAGMA foreign_keys", ""), OPC_OK);
    assert_true(found);
    assert_int_equal(v, 1);
    assert_int_equal(opc__db_query_int(f.db, &found, &v, &eb, "PRAGMA secure_delete", ""), OPC_OK);
    assert_int_equal(v, 1);
    /* A query without a row. */
    v = 42;
    assert_int_equal(
        opc__db_query_int(f.db, &found, &v, &eb, "SELECT v FROM t WHERE k = ?1", "t", "none"),
        OPC_OK);
    assert_false(found);
    assert_int_equal(v, 42);
    /* A write commits and tightens the side files. */
    assert_int_equal(opc__db_begin(f.db, true, &eb), OPC_OK);
    assert_int_equal(opc__db_run_sql(f.db, NULL, &eb, "INSERT INTO t VALUES ('k', 1)", ""), OPC_OK);
    assert_int_equal(opc__db_commit(f.db, &eb), OPC_OK);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f.path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0077, 0);
    fx_close(&f);
}

static void test_sqlite_open_refuses_foreign_files(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, 0);
    opc__db_close(f.db);
    f.db = NULL;
    /* Text, not a database: a pragma that reads the file meets SQLITE_NOTADB. */
    FILE *fp = fopen(f.path, "w");
    assert_non_null(fp);
    fputs("this is not a database, just text that is long enough to have a header......\n", fp);
    fclose(fp);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f.path);
    (void)unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", f.path);
    (void)unlink(wal);
    opc__db_config cfg = config(&f, 0, 0);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__db *db = NULL;
    cfg.pragmas = "PRAGMA secure_delete = ON; PRAGMA user_version;";
    assert_int_equal(opc__db_open(&cfg, &db, &eb), OPC_ERR_PARSE);
    assert_null(db);
    assert_non_null(strstr(eb.msg, "not an opconnect test file"));
    /* Without a pragma that reads it, the first read says so. */
    cfg.pragmas = NULL;
    assert_int_equal(opc__db_open(&cfg, &db, &eb), OPC_OK);
    bool found = false;
    int64_t v = 0;
    assert_int_equal(opc__db_query_int(db, &found, &v, &eb, "PRAGMA application_id", ""),
                     OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "test file: not an opconnect test file"));
    opc__db_close(db);
    db = NULL;
    /* A missing file without OPC_DB_CREATE. */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none/x.db", f.dir);
    cfg.path = missing;
    assert_int_equal(opc__db_open(&cfg, &db, &eb), OPC_ERR_IO);
    assert_non_null(strstr(eb.msg, "cannot open the test file"));
    /* A symbolic link with OPC_DB_NOFOLLOW. */
    char link[160];
    snprintf(link, sizeof link, "%s/link.db", f.dir);
    assert_int_equal(symlink(f.path, link), 0);
    cfg.path = link;
    cfg.flags = OPC_DB_NOFOLLOW;
    assert_int_equal(opc__db_open(&cfg, &db, &eb), OPC_ERR_IO);
    assert_null(db);
    /* Bad arguments. */
    assert_int_equal(opc__db_open(NULL, &db, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__db_open(&cfg, NULL, &eb), OPC_ERR_INVALID_ARG);
    fx_close(&f);
}

/* ---- the statement table ---- */

static void test_sqlite_statements_are_reused(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, 0);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    sqlite3_stmt *first = NULL;
    assert_int_equal(opc__db_stmt(f.db, ST_INSERT, &first, &eb, "ti", "a", (int64_t)1), OPC_OK);
    assert_int_equal(opc__db_run(f.db, first, &eb), OPC_OK);
    sqlite3_stmt *again = NULL;
    assert_int_equal(opc__db_stmt(f.db, ST_INSERT, &again, &eb, "ti", "b", (int64_t)2), OPC_OK);
    assert_ptr_equal(again, first);
    assert_int_equal(opc__db_run(f.db, again, &eb), OPC_OK);
    /* After run the statement is reset and its bindings cleared. */
    assert_false(sqlite3_stmt_busy(first));
    char *expanded = sqlite3_expanded_sql(first);
    assert_non_null(expanded);
    assert_non_null(strstr(expanded, "VALUES (NULL, NULL)"));
    sqlite3_free(expanded);
    assert_int_equal(count_rows(&f), 2);
    /* A read statement: the same object each time, current data each time. */
    sqlite3_stmt *get = NULL;
    bool row = false;
    assert_int_equal(opc__db_stmt(f.db, ST_GET, &get, &eb, "t", "b"), OPC_OK);
    assert_int_equal(opc__db_step(f.db, get, &row, &eb), OPC_OK);
    assert_true(row);
    assert_int_equal(sqlite3_column_int64(get, 0), 2);
    opc__db_done(get);
    assert_false(sqlite3_stmt_busy(get));
    assert_int_equal(opc__db_run_sql(f.db, NULL, &eb, "UPDATE t SET v = 7 WHERE k = 'b'", ""),
                     OPC_OK);
    sqlite3_stmt *get2 = NULL;
    assert_int_equal(opc__db_stmt(f.db, ST_GET, &get2, &eb, "t", "b"), OPC_OK);
    assert_ptr_equal(get2, get);
    assert_int_equal(opc__db_step(f.db, get2, &row, &eb), OPC_OK);
    assert_int_equal(sqlite3_column_int64(get2, 0), 7);
    opc__db_done(get2);
    /* Ids outside the table; a bind that fails leaves the statement reset. */
    sqlite3_stmt *bad = NULL;
    assert_int_equal(opc__db_stmt(f.db, ST_N, &bad, &eb, ""), OPC_ERR_INTERNAL);
    assert_null(bad);
    assert_int_equal(opc__db_stmt(f.db, ST_GET, &bad, &eb, "tt", "b", "extra"), OPC_ERR_INTERNAL);
    assert_null(bad);
    /* A duplicate through the table. */
    assert_int_equal(opc__db_stmt(f.db, ST_INSERT, &first, &eb, "ti", "a", (int64_t)3), OPC_OK);
    assert_int_equal(opc__db_run(f.db, first, &eb), OPC_ERR_EXISTS);
    assert_int_equal(count_rows(&f), 2);
    fx_close(&f);
}

/* ---- transactions ---- */

static void test_sqlite_transaction_rolls_back_on_failure(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, 0);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    /* A failed body. */
    assert_int_equal(opc__db_begin(f.db, true, &eb), OPC_OK);
    assert_true(opc__db_in_tx(f.db));
    assert_int_equal(opc__db_begin(f.db, true, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__db_run_sql(f.db, NULL, &eb, "INSERT INTO t VALUES ('a', 1)", ""), OPC_OK);
    assert_int_equal(opc__db_end(f.db, OPC_ERR_PARSE, &eb), OPC_ERR_PARSE);
    assert_false(opc__db_in_tx(f.db));
    assert_int_equal(count_rows(&f), 0);
    /* A COMMIT that fails (a deferred foreign key) rolls back too. */
    assert_int_equal(opc__db_begin(f.db, true, &eb), OPC_OK);
    assert_int_equal(opc__db_run_sql(f.db, NULL, &eb, "INSERT INTO t VALUES ('b', 1)", ""), OPC_OK);
    assert_int_equal(opc__db_run_sql(f.db, NULL, &eb, "INSERT INTO c VALUES ('missing')", ""),
                     OPC_OK);
    assert_int_equal(opc__db_end(f.db, OPC_OK, &eb), OPC_ERR_INTERNAL);
    assert_false(opc__db_in_tx(f.db));
    assert_true(sqlite3_get_autocommit(opc__db_sqlite(f.db)) != 0);
    assert_int_equal(count_rows(&f), 0);
    /* Commit without a transaction. */
    assert_int_equal(opc__db_commit(f.db, &eb), OPC_ERR_INVALID_ARG);
    /* A read transaction commits. */
    assert_int_equal(opc__db_begin(f.db, false, &eb), OPC_OK);
    assert_int_equal(opc__db_end(f.db, OPC_OK, &eb), OPC_OK);
    fx_close(&f);
}

typedef struct body_ctx {
    int calls;
    int busy_calls; /* the first busy_calls calls fail as SQLITE_BUSY would */
    opc_err fail;   /* else this code (after the insert) */
} body_ctx;

static opc_err body(opc__db *db, void *ud, opc__ebuf *eb)
{
    body_ctx *c = ud;
    c->calls++;
    opc_err rc =
        opc__db_run_sql(db, NULL, eb, "INSERT INTO t VALUES ('row', ?1)", "i", (int64_t)c->calls);
    if (rc != OPC_OK) {
        return rc;
    }
    if (c->calls <= c->busy_calls) {
        /* What a statement that met SQLITE_BUSY returns (snapshot too old). */
        return opc__db_err(db, SQLITE_BUSY_SNAPSHOT, NULL, eb);
    }
    return c->fail == OPC_OK ? OPC_OK : opc__fail(eb, c->fail, "body failed");
}

static void test_sqlite_txn_retries_busy_only(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, 0);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    /* Busy twice: each attempt rolled back, the third commits. */
    body_ctx c = {0, 2, OPC_OK};
    assert_int_equal(opc__db_txn(f.db, body, &c, &eb), OPC_OK);
    assert_int_equal(c.calls, 3);
    bool found = false;
    int64_t v = 0;
    assert_int_equal(
        opc__db_query_int(f.db, &found, &v, &eb, "SELECT v FROM t WHERE k = 'row'", ""), OPC_OK);
    assert_true(found);
    assert_int_equal(v, 3);
    assert_int_equal(count_rows(&f), 1);
    /* Busy every time: bounded. */
    assert_int_equal(opc__db_run_sql(f.db, NULL, &eb, "DELETE FROM t", ""), OPC_OK);
    c = (body_ctx){0, 100, OPC_OK};
    assert_int_equal(opc__db_txn(f.db, body, &c, &eb), OPC_ERR_IO);
    assert_int_equal(c.calls, OPC_DB_BUSY_TRIES);
    assert_int_equal(count_rows(&f), 0);
    /* Another failure: no retry, rolled back. */
    c = (body_ctx){0, 0, OPC_ERR_CONFLICT};
    assert_int_equal(opc__db_txn(f.db, body, &c, &eb), OPC_ERR_CONFLICT);
    assert_int_equal(c.calls, 1);
    assert_int_equal(count_rows(&f), 0);
    assert_false(opc__db_in_tx(f.db));
    fx_close(&f);
}

typedef struct holder {
    sqlite3 *db;
    int hold_ms;
} holder;

static void *release_later(void *arg)
{
    holder *h = arg;
    struct timespec ts = {0, (long)h->hold_ms * 1000000L};
    nanosleep(&ts, NULL);
    (void)sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_sqlite_begin_retries_while_another_connection_writes(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, 0); /* no busy handler: only the helper's retries wait */
    holder h = {NULL, 15};
    assert_int_equal(sqlite3_open(f.path, &h.db), SQLITE_OK);
    /* Held for good: every attempt is busy, the error says so. */
    assert_int_equal(sqlite3_exec(h.db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    int64_t t0 = now_ms();
    assert_int_equal(opc__db_begin(f.db, true, &eb), OPC_ERR_IO);
    int64_t waited = now_ms() - t0;
    /* The backoff: 10 + 20 + 40 ms between the four attempts. */
    assert_true(waited >= 70);
    assert_int_equal(opc__db_last_error(f.db) & 0xff, SQLITE_BUSY);
    assert_non_null(strstr(eb.msg, "busy"));
    assert_false(opc__db_in_tx(f.db));
    /* With a busy timeout, its whole wait is the budget: one attempt, not four. */
    opc__db_config cfg = config(&f, 0, 150);
    opc__db *slow = NULL;
    assert_int_equal(opc__db_open(&cfg, &slow, &eb), OPC_OK);
    t0 = now_ms();
    assert_int_equal(opc__db_begin(slow, true, &eb), OPC_ERR_IO);
    waited = now_ms() - t0;
    assert_true(waited >= 150);
    assert_true(waited < 4 * 150);
    opc__db_close(slow);
    /* Held briefly (released by another thread): a retry gets the lock. */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_later, &h), 0);
    assert_int_equal(opc__db_begin(f.db, true, &eb), OPC_OK);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(opc__db_run_sql(f.db, NULL, &eb, "INSERT INTO t VALUES ('w', 1)", ""), OPC_OK);
    assert_int_equal(opc__db_commit(f.db, &eb), OPC_OK);
    /* And the same for a whole transaction. */
    assert_int_equal(sqlite3_exec(h.db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    /* (a lone statement is not retried) */
    assert_int_equal(opc__db_run_sql(f.db, NULL, &eb, "DELETE FROM t", ""), OPC_ERR_IO);
    assert_int_equal(pthread_create(&th, NULL, release_later, &h), 0);
    body_ctx c = {0, 0, OPC_OK};
    assert_int_equal(opc__db_txn(f.db, body, &c, &eb), OPC_OK);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(c.calls, 1);
    sqlite3_close(h.db);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_error_mapping),
        cmocka_unit_test(test_sqlite_errors_from_real_statements),
        cmocka_unit_test(test_sqlite_query_row),
        cmocka_unit_test(test_sqlite_open_creates_a_private_file),
        cmocka_unit_test(test_sqlite_open_refuses_foreign_files),
        cmocka_unit_test(test_sqlite_statements_are_reused),
        cmocka_unit_test(test_sqlite_transaction_rolls_back_on_failure),
        cmocka_unit_test(test_sqlite_txn_retries_busy_only),
        cmocka_unit_test(test_sqlite_begin_retries_while_another_connection_writes),
    };
    return cmocka_run_group_tests_name("sqlite", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
