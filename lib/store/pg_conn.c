/*
 * store/pg_conn.c - the PostgreSQL store's connections (pg_conn.h).
 *
 * Each connection remembers which statements of the table (pg_sql.h) it
 * prepared, by their index: prepared statements live as long as their
 * connection, so a new connection prepares each again on first use. The
 * pool keeps idle connections on a stack and counts the open ones; a take
 * with none idle and the pool full waits on a condition variable.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "store/pg_conn.h"
#include "store/pg_sql.h"

/* Statements of the table a connection can remember (bits). */
#define OPC_PG_MAX_STMTS 256

struct opc__pg_conn {
    PGconn *pg;
    uint64_t prepared[OPC_PG_MAX_STMTS / 64];
    bool broken; /* the connection failed: close it when given back */
};

struct opc__pg_pool {
    char *conninfo;
    int size;
    int open; /* connections open, idle or taken */
    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC: a connection came back */
    opc__pg_conn *idle[OPC_PG_MAX_POOL];
    int n_idle;
};

/* One line of PostgreSQL's connection message (no secrets: libpq never
 * repeats a password), for the log. */
static void log_conn_error(const PGconn *pg)
{
    char msg[256];
    const char *m = pg != NULL ? PQerrorMessage(pg) : "out of memory";
    (void)snprintf(msg, sizeof msg, "%s", m != NULL ? m : "");
    for (char *p = msg; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = (p[1] == '\0') ? '\0' : ' ';
        }
    }
    opc__log(OPC_LOG_WARN, "store", "cannot connect to the database: %s", msg);
}

/* PostgreSQL's notices ("relation already exists, skipping", a server
 * shutting down) are not printed on stderr as libpq would: the outcome of
 * each statement is what counts, and a notice's text may quote values. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

opc_err opc__pg_connect(const char *conninfo, PGconn **out, opc__ebuf *eb)
{
    char timeout[16];
    (void)snprintf(timeout, sizeof timeout, "%d", OPC_PG_CONNECT_TIMEOUT_S);
    /* The caller's string first; ours only fill what it leaves out. */
    /* TCP keepalives: a database host gone without a word (no RST) is
     * noticed within about 25 s instead of the kernel's two hours. */
    const char *const keys[] = {"connect_timeout",
                                "application_name",
                                "keepalives_idle",
                                "keepalives_interval",
                                "keepalives_count",
                                "dbname",
                                NULL};
    const char *const vals[] = {timeout, "op-account-server", "10", "5", "3", conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        log_conn_error(pg);
        PQfinish(pg);
        *out = NULL;
        return opc__fail(eb, OPC_ERR_IO, "store: the database is unreachable");
    }
    (void)PQsetNoticeProcessor(pg, quiet_notice, NULL);
    /* A row lock waited for longer than the account file's busy timeout is
     * the storage being busy (OPC_ERR_IO: 503), as there; no statement runs
     * longer than a long poll's answer may take. */
    PGresult *r = PQexec(pg, "SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'; "
                             "SET lock_timeout = '5s'; SET statement_timeout = '30s'");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        log_conn_error(pg);
        PQfinish(pg);
        *out = NULL;
        return opc__fail(eb, OPC_ERR_IO, "store: the database refused the session settings");
    }
    *out = pg;
    return OPC_OK;
}

opc_err opc__pg_pool_new(const char *conninfo, int size, opc__pg_pool **out, opc__ebuf *eb)
{
    *out = NULL;
    if (conninfo == NULL || size < 1 || size > OPC_PG_MAX_POOL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: the pool has 1 to %d connections",
                         OPC_PG_MAX_POOL);
    }
    opc__pg_pool *p = opc__calloc(1, sizeof *p);
    if (p == NULL || (p->conninfo = opc__strdup(conninfo)) == NULL) {
        opc__free(p);
        return OPC_ERR_NOMEM;
    }
    p->size = size;
    pthread_condattr_t ca;
    (void)pthread_condattr_init(&ca);
    (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    (void)pthread_cond_init(&p->cond, &ca);
    (void)pthread_condattr_destroy(&ca);
    (void)pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return OPC_OK;
}

static void conn_close(opc__pg_conn *c)
{
    if (c != NULL) {
        PQfinish(c->pg);
        opc__free(c);
    }
}

void opc__pg_pool_free(opc__pg_pool *p)
{
    if (p == NULL) {
        return;
    }
    for (int i = 0; i < p->n_idle; i++) {
        conn_close(p->idle[i]);
    }
    (void)pthread_mutex_destroy(&p->mu);
    (void)pthread_cond_destroy(&p->cond);
    /* The connection string may hold a password. */
    opc__wipe(p->conninfo, strlen(p->conninfo));
    opc__free(p->conninfo);
    opc__free(p);
}

const char *opc__pg_conninfo(const opc__pg_pool *p)
{
    return p->conninfo;
}

/*
 * Whether an idle connection may serve a request. Nothing arrives on an
 * idle connection of the pool (no LISTEN there) unless the server ended
 * it: a restart sends FATAL 57P01 and closes, a backend whose postmaster
 * died closes. Such a connection would fail its next statement, i.e. the
 * first requests after the database is back would answer 503: input
 * waiting, or an error polling, and the pool opens a new one instead.
 */
static bool idle_usable(PGconn *pg)
{
    if (PQstatus(pg) != CONNECTION_OK) {
        return false;
    }
    struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
    if (pfd.fd < 0) {
        return false;
    }
    int n;
    do {
        n = poll(&pfd, 1, 0);
    } while (n < 0 && errno == EINTR);
    return n == 0;
}

opc_err opc__pg_take(opc__pg_pool *p, opc__pg_conn **out, opc__ebuf *eb)
{
    *out = NULL;
    struct timespec until;
    (void)clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += OPC_PG_TAKE_MS / 1000;
    (void)pthread_mutex_lock(&p->mu);
    bool timed_out = false;
    while (p->n_idle == 0 && p->open >= p->size && !timed_out) {
        timed_out = pthread_cond_timedwait(&p->cond, &p->mu, &until) == ETIMEDOUT;
    }
    opc__pg_conn *c = NULL;
    if (p->n_idle > 0) {
        c = p->idle[--p->n_idle];
    } else if (p->open < p->size) {
        p->open++; /* ours: opened below, outside the lock */
    } else {
        (void)pthread_mutex_unlock(&p->mu);
        (void)opc__fail(eb, OPC_ERR_IO, "store: every database connection is busy");
        return OPC_ERR_IO;
    }
    (void)pthread_mutex_unlock(&p->mu);
    if (c != NULL && idle_usable(c->pg)) {
        *out = c;
        return OPC_OK;
    }
    if (c != NULL) {
        opc__log(OPC_LOG_DEBUG, "store", "the server closed an idle connection; opening another");
    }
    conn_close(c);
    c = opc__calloc(1, sizeof *c);
    opc_err rc = c == NULL ? OPC_ERR_NOMEM : opc__pg_connect(p->conninfo, &c->pg, eb);
    if (rc != OPC_OK) {
        opc__free(c);
        (void)pthread_mutex_lock(&p->mu);
        p->open--;
        (void)pthread_cond_signal(&p->cond);
        (void)pthread_mutex_unlock(&p->mu);
        return rc;
    }
    *out = c;
    return OPC_OK;
}

void opc__pg_give(opc__pg_pool *p, opc__pg_conn *c, bool broken)
{
    if (c == NULL) {
        return;
    }
    broken = broken || c->broken || PQstatus(c->pg) != CONNECTION_OK ||
             PQtransactionStatus(c->pg) != PQTRANS_IDLE;
    (void)pthread_mutex_lock(&p->mu);
    if (broken) {
        p->open--;
    } else {
        p->idle[p->n_idle++] = c;
        c = NULL;
    }
    (void)pthread_cond_signal(&p->cond);
    (void)pthread_mutex_unlock(&p->mu);
    conn_close(c);
}

PGconn *opc__pg_handle(opc__pg_conn *c)
{
    return c->pg;
}

/* ---- parameters ---- */

void opc__pg_args_init(opc__pg_args *a)
{
    memset(a, 0, sizeof *a);
}

void opc__pg_args_free(opc__pg_args *a)
{
    for (int i = 0; i < a->n; i++) {
        opc__free(a->owned[i]);
        a->owned[i] = NULL;
    }
}

/* The next slot, or NULL (overflow kept). */
static int slot(opc__pg_args *a)
{
    if (a->n >= OPC_PG_MAX_PARAMS) {
        a->overflow = true;
        return -1;
    }
    return a->n++;
}

void opc__pg_arg_text(opc__pg_args *a, const char *v)
{
    int i = slot(a);
    if (i >= 0) {
        a->v[i] = v;
    }
}

void opc__pg_arg_int(opc__pg_args *a, int64_t v)
{
    int i = slot(a);
    if (i >= 0) {
        (void)snprintf(a->num[i], sizeof a->num[i], "%" PRId64, v);
        a->v[i] = a->num[i];
    }
}

void opc__pg_arg_bytes(opc__pg_args *a, const void *v, size_t len)
{
    int i = slot(a);
    if (i >= 0) {
        /* A zero-length value must still be non-NULL: NULL is SQL NULL. */
        a->v[i] = len > 0 ? (const char *)v : "";
        a->len[i] = (int)len;
        a->fmt[i] = 1;
    }
}

void opc__pg_arg_bytes_owned(opc__pg_args *a, unsigned char *v, size_t len)
{
    int i = slot(a);
    if (i < 0) {
        opc__free(v);
        return;
    }
    a->owned[i] = v;
    a->v[i] = len > 0 ? (const char *)v : "";
    a->len[i] = (int)len;
    a->fmt[i] = 1;
}

/* ---- running ---- */

/* Whether the SQLSTATE means the connection itself is gone. */
static bool state_gone(const char *st)
{
    return strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0;
}

opc_err opc__pg_fail(PGconn *pg, const PGresult *res, const char *what, opc__ebuf *eb)
{
    if (res == NULL && pg != NULL && PQstatus(pg) == CONNECTION_OK) {
        return opc__fail(eb, OPC_ERR_NOMEM, "store: %s: out of memory", what);
    }
    const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *con = res != NULL ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    if (st == NULL || pg == NULL || PQstatus(pg) != CONNECTION_OK || state_gone(st)) {
        return opc__fail(eb, OPC_ERR_IO, "store: %s: the database connection was lost", what);
    }
    opc_err code = OPC_ERR_INTERNAL;
    if (strcmp(st, "23505") == 0) {
        code = OPC_ERR_EXISTS;
    } else if (strncmp(st, "22", 2) == 0) {
        code = OPC_ERR_INVALID_ARG;
    } else if (strncmp(st, "53", 2) == 0 || strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 ||
               strcmp(st, "57014") == 0 || strcmp(st, "55P03") == 0 || strcmp(st, "25006") == 0) {
        /* resources, serialization, deadlock, timeout, lock, read-only standby */
        code = OPC_ERR_IO;
    } else if (strcmp(st, "54000") == 0) {
        code = OPC_ERR_TOO_LARGE;
    }
    return opc__fail(eb, code, "store: %s: SQLSTATE %s%s%s", what, st, con != NULL ? " on " : "",
                     con != NULL ? con : "");
}

/* The index of name in the statement table, -1 when there is none. */
static int stmt_index(const char *name, const char **sql)
{
    size_t n = 0;
    const opc__pg_sql *t = opc__pg_sql_table(&n);
    for (size_t i = 0; i < n && i < OPC_PG_MAX_STMTS; i++) {
        if (strcmp(t[i].name, name) == 0) {
            *sql = t[i].sql;
            return (int)i;
        }
    }
    return -1;
}

/* Mark c broken when its connection went; pass rc on. */
static opc_err checked(opc__pg_conn *c, opc_err rc)
{
    if (rc == OPC_ERR_IO && PQstatus(c->pg) != CONNECTION_OK) {
        c->broken = true;
    }
    return rc;
}

opc_err opc__pg_run(opc__pg_conn *c, const char *name, const opc__pg_args *args, PGresult **out,
                    opc__ebuf *eb)
{
    *out = NULL;
    const char *sql = NULL;
    int idx = stmt_index(name, &sql);
    if (idx < 0) {
        return opc__fail(eb, OPC_ERR_INTERNAL, "store: no PostgreSQL text for %s", name);
    }
    if (args->overflow) {
        return opc__fail(eb, OPC_ERR_INTERNAL, "store: %s: too many parameters", name);
    }
    char pname[16];
    (void)snprintf(pname, sizeof pname, "s%d", idx);
    uint64_t bit = UINT64_C(1) << (idx % 64);
    if ((c->prepared[idx / 64] & bit) == 0) {
        PGresult *r = PQprepare(c->pg, pname, sql, 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            opc_err rc = checked(c, opc__pg_fail(c->pg, r, name, eb));
            PQclear(r);
            return rc;
        }
        PQclear(r);
        c->prepared[idx / 64] |= bit;
    }
    PGresult *r = PQexecPrepared(c->pg, pname, args->n, args->v, args->len, args->fmt, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        opc_err rc = checked(c, opc__pg_fail(c->pg, r, name, eb));
        PQclear(r);
        return rc;
    }
    *out = r;
    return OPC_OK;
}

opc_err opc__pg_run_pooled(opc__pg_pool *p, const char *name, const opc__pg_args *args,
                           PGresult **out, opc__ebuf *eb)
{
    *out = NULL;
    opc__pg_conn *c = NULL;
    opc_err rc = opc__pg_take(p, &c, eb);
    if (rc == OPC_OK && c != NULL) {
        rc = opc__pg_run(c, name, args, out, eb);
        opc__pg_give(p, c, false);
    }
    return rc;
}

opc_err opc__pg_command(opc__pg_conn *c, const char *sql, opc__ebuf *eb)
{
    PGresult *r = PQexec(c->pg, sql);
    opc_err rc = OPC_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = checked(c, opc__pg_fail(c->pg, r, sql, eb));
        c->broken = c->broken || PQtransactionStatus(c->pg) == PQTRANS_UNKNOWN;
    }
    PQclear(r);
    return rc;
}

/* ---- cells ---- */

const char *opc__pg_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

int64_t opc__pg_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) {
        return 0;
    }
    return (int64_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool opc__pg_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

int64_t opc__pg_changed(const PGresult *r)
{
    const char *n = PQcmdTuples((PGresult *)(uintptr_t)r);
    return n == NULL || n[0] == '\0' ? 0 : (int64_t)strtoll(n, NULL, 10);
}

opc_err opc__pg_bytes(const PGresult *r, int row, int col, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
    if (raw == NULL) {
        return OPC_ERR_NOMEM;
    }
    unsigned char *copy = opc__malloc(n > 0 ? n : 1);
    if (copy != NULL && n > 0) {
        memcpy(copy, raw, n);
    }
    PQfreemem(raw);
    if (copy == NULL) {
        return OPC_ERR_NOMEM;
    }
    *out = copy;
    *len = n;
    return OPC_OK;
}
