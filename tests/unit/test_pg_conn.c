/*
 * tests/unit/test_pg_conn.c - the PostgreSQL store's connection pool
 * (store/pg_conn.h) against a real PostgreSQL: an idle connection the
 * server ended meanwhile (pg_terminate_backend, as a database restart
 * ends every backend) is not handed out again, so the first request after
 * the database is back does not fail; a healthy idle connection is reused.
 *
 * OPC_TEST_PG_URL is a libpq connection string to a database the test may
 * use as an administrator (it only reads, and ends its own backends).
 * Without it every test is skipped, unless OPC_TEST_PG_REQUIRED=1 (`make
 * unit` starts a cluster: tools/with-pg), when they fail.
 */
#include "harness.h"
#include "pg_fixture.h"

#include <time.h>

#include <libpq-fe.h>

#include "store/pg_conn.h"

static PGconn *admin;
static const char *url;
static const char *no_pg_why;

#define NEED_DB() PG_NEED(admin != NULL, no_pg_why)

static int setup(void **state)
{
    if (opc_test_group_setup(state) != 0) {
        return -1;
    }
    admin = pg_admin(&url, &no_pg_why);
    return 0;
}

static int teardown(void **state)
{
    PQfinish(admin);
    admin = NULL;
    return opc_test_group_teardown(state);
}

/* The first column of the first row of sql on c as a number, -1 on failure. */
static long query_long(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    }
    PQclear(r);
    return v;
}

/* The backend pid of a connection taken from p (given back, unbroken). */
static long take_pid(opc__pg_pool *p)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__pg_conn *c = NULL;
    assert_int_equal(opc__pg_take(p, &c, &eb), OPC_OK);
    long pid = query_long(opc__pg_handle(c), "SELECT pg_backend_pid()");
    opc__pg_give(p, c, false);
    return pid;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

static void test_terminated_idle_connection_is_replaced(void **state)
{
    (void)state;
    NEED_DB();
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__pg_pool *p = NULL;
    assert_int_equal(opc__pg_pool_new(url, 1, &p, &eb), OPC_OK);
    long pid = take_pid(p);
    assert_true(pid > 0);
    /* The server ends the idle connection's backend, as a restart does. */
    char sql[96];
    (void)snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%ld)::int", pid);
    assert_int_equal(query_long(admin, sql), 1);
    (void)snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %ld", pid);
    for (int i = 0; i < 100 && query_long(admin, sql) != 0; i++) {
        sleep_ms(50);
    }
    assert_int_equal(query_long(admin, sql), 0);
    /* The next take gives a connection that works: a new backend. */
    opc__pg_conn *c = NULL;
    assert_int_equal(opc__pg_take(p, &c, &eb), OPC_OK);
    long pid2 = query_long(opc__pg_handle(c), "SELECT pg_backend_pid()");
    opc__pg_give(p, c, false);
    assert_true(pid2 > 0);
    assert_true(pid2 != pid);
    opc__pg_pool_free(p);
}

static void test_healthy_idle_connection_is_reused(void **state)
{
    (void)state;
    NEED_DB();
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__pg_pool *p = NULL;
    assert_int_equal(opc__pg_pool_new(url, 1, &p, &eb), OPC_OK);
    long pid = take_pid(p);
    assert_true(pid > 0);
    assert_int_equal(take_pid(p), pid);
    opc__pg_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terminated_idle_connection_is_replaced),
        cmocka_unit_test(test_healthy_idle_connection_is_reused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
