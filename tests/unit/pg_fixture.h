/*
 * tests/unit/pg_fixture.h - what the unit tests that need a PostgreSQL
 * share: the server comes from OPC_TEST_PG_URL (make unit: tools/with-pg,
 * which also sets OPC_TEST_PG_REQUIRED=1); without it a test is skipped,
 * or fails when one is required.
 */
#ifndef OPC_TESTS_PG_FIXTURE_H
#define OPC_TESTS_PG_FIXTURE_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

static OPC_TEST_UNUSED bool pg_required(void)
{
    const char *r = getenv("OPC_TEST_PG_REQUIRED");
    return r != NULL && strcmp(r, "1") == 0;
}

/* Skip (or fail, when a PostgreSQL is required) unless have; why says what is missing. */
#define PG_NEED(have, why)                                                                         \
    do {                                                                                           \
        if (!(have)) {                                                                             \
            if (pg_required()) {                                                                   \
                fail_msg("no PostgreSQL: %s", (why));                                              \
            }                                                                                      \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* A connection to url, on database name when given (NULL: the url's). */
static OPC_TEST_UNUSED PGconn *connect_to(const char *url, const char *name)
{
    const char *const keys[] = {"dbname", name != NULL ? "dbname" : NULL, NULL};
    const char *const vals[] = {url, name, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c != NULL && PQstatus(c) != CONNECTION_OK) {
        print_error("connect: %s\n", PQerrorMessage(c));
        PQfinish(c);
        c = NULL;
    }
    return c;
}

static OPC_TEST_UNUSED bool exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        print_error("%s: %s\n", sql, PQresultErrorMessage(r));
    }
    PQclear(r);
    return ok;
}

/* The server's notices ("does not exist, skipping") are no news here. */
static OPC_TEST_UNUSED void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/*
 * A connection to OPC_TEST_PG_URL's server (*url the variable), notices
 * quiet; NULL with *why set when there is none (then PG_NEED skips or fails).
 */
static OPC_TEST_UNUSED PGconn *pg_admin(const char **url, const char **why)
{
    *url = getenv("OPC_TEST_PG_URL");
    if (*url == NULL || (*url)[0] == '\0') {
        *why = "OPC_TEST_PG_URL is not set";
        return NULL;
    }
    PGconn *c = connect_to(*url, NULL);
    if (c == NULL) {
        *why = "cannot connect to OPC_TEST_PG_URL";
        return NULL;
    }
    (void)PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

#endif
