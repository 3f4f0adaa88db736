/*
 * observe/activity.c - the activity log (design: activity.h; record format and
 * decisions: docs/observability.md).
 *
 * Two locks, always taken in this order when both are needed:
 *   db_mu  the SQLite handle, its statements and the scratch batch; held
 *          by a drain (writer thread, flush, list, close) for the whole
 *          transaction, so a record is always either in the ring or
 *          committed (or lost to a failed commit) when a list reads;
 *   q_mu   the ring; held by record() for one memcpy, and by a drain while
 *          it copies at most one batch out.
 *
 * Row ids are SQLite's rowids, assigned in insertion order; rows are only
 * ever deleted from the oldest end, so ids are contiguous and the row count
 * is max(id) - min(id) + 1 (two index probes, no COUNT(*)), and a page is an
 * id range (no OFFSET scan).
 */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "observe/activity.h"
#include "view/filter.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/sqlite.h"
#include "core/strparse.h"
#include "core/time.h"

#define SUB "activity"
#define BUSY_TIMEOUT_MS 5000
/* Connection pragmas; the WAL is truncated back to 1 MiB after a checkpoint. */
#define PRAGMAS                                                                                    \
    "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;"                                     \
    " PRAGMA journal_size_limit = 1048576;"
#define MIN_PRUNE_SLACK 64

/* A queued record: fixed size, so queueing is one copy and no allocation. */
typedef struct rec {
    int64_t ts_us;
    int64_t item_version;
    uint8_t action;
    uint8_t result;
    uint8_t rtype;
    char request_id[OPC_ACTIVITY_REQUEST_ID_LEN + 1];
    char jti[OPC_ACTIVITY_MAX_JTI + 1];
    char ua[OPC_ACTIVITY_MAX_UA + 1];
    char ip[OPC_ACTIVITY_MAX_IP + 1];
    char vault[OPC_ID_LEN + 1];
    char item[OPC_ID_LEN + 1];
} rec;

enum { ST_INSERT, ST_BOUNDS, ST_PRUNE, ST_PAGE, ST_SCOPED_COUNT, ST_SCOPED_PAGE, ST_COUNT };

/* The columns of a listed row, in row_json's order. */
#define ROW_COLUMNS                                                                                \
    "request_id, ts_us, action, result, actor_id, account, jti, user_agent, request_ip,"           \
    " resource_type, vault_id, item_id, item_version"
/*
 * A scoped reader's records (opc__activity_scope) among the newest
 * max_records (id > ?1): its own (jti = ?2; NULL matches none) and those
 * whose vault is one of ?3, a JSON array of ids (json_each: one prepared
 * statement for any number of vaults; SQLite makes the list a temporary
 * index once per run).
 */
#define SCOPED_WHERE                                                                               \
    " WHERE id > ?1 AND (jti = ?2 OR vault_id IN (SELECT value FROM json_each(?3)))"

static const char *const sql_text[ST_COUNT] = {
    [ST_INSERT] = "INSERT INTO activity (request_id, ts_us, action, result, actor_id, account,"
                  " jti, user_agent, request_ip, resource_type, vault_id, item_id, item_version)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    /* Two subqueries: min() and max() together in one query would scan the table. */
    [ST_BOUNDS] = "SELECT (SELECT min(id) FROM activity), (SELECT max(id) FROM activity)",
    [ST_PRUNE] = "DELETE FROM activity WHERE id <= ?1",
    [ST_PAGE] = "SELECT " ROW_COLUMNS " FROM activity WHERE id <= ?1 ORDER BY id DESC LIMIT ?2",
    /* The table holds at most max_records + slack rows: a scan is bounded. */
    [ST_SCOPED_COUNT] = "SELECT count(*) FROM activity" SCOPED_WHERE,
    [ST_SCOPED_PAGE] =
        "SELECT " ROW_COLUMNS " FROM activity" SCOPED_WHERE " ORDER BY id DESC LIMIT ?4 OFFSET ?5",
};

static const char schema_v1[] =
    "CREATE TABLE activity ("
    " id INTEGER PRIMARY KEY,"
    " request_id TEXT NOT NULL,"
    " ts_us INTEGER NOT NULL,"
    " action TEXT NOT NULL"
    "  CHECK (action = 'READ' OR action = 'CREATE' OR action = 'UPDATE' OR action = 'DELETE'),"
    " result TEXT NOT NULL CHECK (result = 'SUCCESS' OR result = 'DENY'),"
    " actor_id TEXT NOT NULL,"
    " account TEXT NOT NULL,"
    " jti TEXT NOT NULL,"
    " user_agent TEXT NOT NULL,"
    " request_ip TEXT NOT NULL,"
    " resource_type TEXT NOT NULL"
    "  CHECK (resource_type = '' OR resource_type = 'VAULT' OR resource_type = 'ITEM'),"
    " vault_id TEXT NOT NULL,"
    " item_id TEXT NOT NULL,"
    " item_version INTEGER NOT NULL) STRICT;";

static const char *const action_names[] = {"READ", "CREATE", "UPDATE", "DELETE"};
static const char *const result_names[] = {"SUCCESS", "DENY"};
static const char *const rtype_names[] = {"", "VAULT", "ITEM"};

struct opc__activity {
    char *path;
    char server_id[OPC_ACTIVITY_MAX_JTI + 1];
    char account_id[OPC_ACTIVITY_MAX_JTI + 1];
    size_t max_records;
    size_t slack;
    size_t cap;
    size_t batch;
    int flush_ms;

    pthread_mutex_t q_mu;
    pthread_cond_t q_cond; /* wakes the writer (CLOCK_MONOTONIC) */
    rec *ring;
    size_t head; /* oldest queued */
    size_t len;
    bool stop;
    uint64_t recorded;
    uint64_t dropped;

    pthread_mutex_t db_mu;
    opc__db *db;  /* its statement table: sql_text, by ST_* */
    rec *scratch; /* batch copied out of the ring */
    bool failing; /* the last drain failed (logged once per streak) */
    _Atomic uint64_t written;
    _Atomic uint64_t write_errors;
    _Atomic uint64_t lost;
    _Atomic size_t rows;

    pthread_t thread;
    bool thread_started;
    bool mutexes_ready;
};

/* ---- small helpers ---- */

size_t opc__activity_clean_text(char *dst, size_t cap, const char *src)
{
    if (cap == 0) {
        return 0;
    }
    size_t o = 0;
    if (src != NULL) {
        const unsigned char *s = (const unsigned char *)src;
        size_t i = 0;
        while (s[i] != '\0') {
            size_t n = 1;
            if (s[i] >= 0x80) {
                n = s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : 2;
                size_t avail = 0;
                while (avail < n && s[i + avail] != '\0') {
                    avail++;
                }
                if (avail < n || !opc__utf8_valid((const char *)s + i, n)) {
                    n = 0; /* an invalid byte: one '?' for it */
                }
            }
            size_t out_n = n == 0 ? 1 : n;
            if (o + out_n > cap - 1) {
                break;
            }
            if (n == 0) {
                dst[o++] = '?';
                i++;
            } else {
                memcpy(dst + o, s + i, n);
                o += n;
                i += n;
            }
        }
    }
    dst[o] = '\0';
    return o;
}

static void copy_id(char out[OPC_ID_LEN + 1], const char *id)
{
    if (id != NULL && opc__id_client_valid(id, strnlen(id, OPC_ID_LEN + 1))) {
        memcpy(out, id, OPC_ID_LEN);
        out[OPC_ID_LEN] = '\0';
    } else {
        out[0] = '\0';
    }
}

opc__activity_action opc__activity_action_for_method(const char *method)
{
    if (method == NULL) {
        return OPC_ACTIVITY_READ;
    }
    if (strcmp(method, "POST") == 0) {
        return OPC_ACTIVITY_CREATE;
    }
    if (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
        return OPC_ACTIVITY_UPDATE;
    }
    if (strcmp(method, "DELETE") == 0) {
        return OPC_ACTIVITY_DELETE;
    }
    return OPC_ACTIVITY_READ;
}

opc__activity_result opc__activity_result_for_status(int status)
{
    return status < 400 ? OPC_ACTIVITY_SUCCESS : OPC_ACTIVITY_DENY;
}

void opc__activity_content_range(size_t offset, size_t count, size_t total,
                                 char out[OPC_ACTIVITY_RANGE_LEN])
{
    if (count == 0) {
        (void)snprintf(out, OPC_ACTIVITY_RANGE_LEN, "*/%zu", total);
    } else {
        (void)snprintf(out, OPC_ACTIVITY_RANGE_LEN, "%zu-%zu/%zu", offset + 1, offset + count,
                       total);
    }
}

/* One decimal parameter: absent -> dflt; clamped to max. */
static opc_err query_number(const char *query, const char *name, size_t dflt, size_t max,
                            size_t *out, opc__ebuf *eb)
{
    char v[64];
    size_t n = 0;
    bool found = false;
    opc_err rc = opc__query_param(query, name, v, sizeof v, &n, &found);
    *out = dflt;
    if (rc == OPC_OK && !found) {
        return OPC_OK;
    }
    bool digits = rc == OPC_OK && n > 0;
    for (size_t i = 0; digits && i < n; i++) {
        digits = v[i] >= '0' && v[i] <= '9';
    }
    if (!digits) {
        return opc__fail(eb, OPC_ERR_PARSE, "Invalid %s", name);
    }
    uint64_t u = UINT64_MAX;
    if (n <= 18) { /* longer (all digits) is beyond any maximum: clamp */
        rc = opc__parse_u64(v, n, 10, UINT64_MAX, &u, NULL);
        if (rc != OPC_OK) {
            return opc__fail(eb, OPC_ERR_PARSE, "Invalid %s", name);
        }
    }
    *out = u > max ? max : (size_t)u;
    return OPC_OK;
}

opc_err opc__activity_parse_query(const char *query, size_t *limit, size_t *offset, opc__ebuf *eb)
{
    if (limit == NULL || offset == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc =
        query_number(query, "limit", OPC_ACTIVITY_DEFAULT_LIMIT, OPC_ACTIVITY_MAX_LIMIT, limit, eb);
    if (rc == OPC_OK) {
        rc = query_number(query, "offset", 0, OPC_ACTIVITY_MAX_OFFSET, offset, eb);
    }
    if (rc != OPC_OK) {
        *limit = OPC_ACTIVITY_DEFAULT_LIMIT;
        *offset = 0;
    }
    return rc;
}

opc_err opc__activity_path_for_cache(const char *cache_path, char **out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (cache_path == NULL || cache_path[0] == '\0') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "activity log: no cache path");
    }
    const char *slash = strrchr(cache_path, '/');
    size_t dir_len = slash != NULL ? (size_t)(slash - cache_path) + 1 : 0;
    size_t need = dir_len + sizeof OPC_ACTIVITY_FILE_NAME;
    char *p = opc__malloc(need);
    if (p == NULL) {
        return OPC_ERR_NOMEM;
    }
    memcpy(p, cache_path, dir_len);
    memcpy(p + dir_len, OPC_ACTIVITY_FILE_NAME, sizeof OPC_ACTIVITY_FILE_NAME);
    *out = p;
    return OPC_OK;
}

/* ---- SQLite ---- */

/* Create the table in a new file, or check an existing one (in a write transaction). */
static opc_err ensure_schema(opc__db *db, void *ud, opc__ebuf *eb)
{
    const opc__activity *a = ud;
    int64_t app = 0;
    int64_t version = 0;
    int64_t tables = 0;
    bool found = false;
    opc_err rc = opc__db_query_int(db, &found, &app, eb, "PRAGMA application_id", "");
    if (rc == OPC_OK) {
        rc = opc__db_query_int(db, &found, &version, eb, "PRAGMA user_version", "");
    }
    if (rc == OPC_OK) {
        rc = opc__db_query_int(db, &found, &tables, eb, "SELECT COUNT(*) FROM sqlite_schema", "");
    }
    if (rc == OPC_OK && app == 0 && version == 0 && tables == 0) {
        char sql[sizeof schema_v1 + 96];
        (void)snprintf(sql, sizeof sql, "%s PRAGMA application_id = %d; PRAGMA user_version = %d;",
                       schema_v1, OPC_ACTIVITY_APPLICATION_ID, OPC_ACTIVITY_SCHEMA_VERSION);
        rc = opc__db_exec(db, sql, eb);
    } else if (rc == OPC_OK && app == OPC_ACTIVITY_APPLICATION_ID &&
               version > OPC_ACTIVITY_SCHEMA_VERSION) {
        rc = opc__fail(eb, OPC_ERR_UNSUPPORTED,
                       "activity log has schema version %lld; this library knows up to %d",
                       (long long)version, OPC_ACTIVITY_SCHEMA_VERSION);
    } else if (rc == OPC_OK &&
               (app != OPC_ACTIVITY_APPLICATION_ID || version != OPC_ACTIVITY_SCHEMA_VERSION)) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "%s is not an opconnect activity log", a->path);
    }
    return rc;
}

static opc_err open_db(opc__activity *a, opc__ebuf *eb)
{
    opc__db_config cfg = {
        .path = a->path,
        .label = "activity log",
        .flags = OPC_DB_CREATE | OPC_DB_NOFOLLOW | OPC_DB_PRIVATE,
        .busy_timeout_ms = BUSY_TIMEOUT_MS,
        .pragmas = PRAGMAS,
        .stmts = sql_text,
        .n_stmts = ST_COUNT,
    };
    opc_err rc = opc__db_open(&cfg, &a->db, eb);
    if (rc == OPC_OK) {
        rc = opc__db_wal(a->db, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__db_txn(a->db, ensure_schema, a, eb);
    }
    /* Prepare every statement now: a file that cannot serve them fails here. */
    for (size_t i = 0; rc == OPC_OK && i < ST_COUNT; i++) {
        sqlite3_stmt *st = NULL;
        rc = opc__db_stmt(a->db, i, &st, eb, "");
        opc__db_done(st);
    }
    if (rc != OPC_OK) {
        opc__db_close(a->db);
        a->db = NULL;
    }
    return rc;
}

/* min and max id (0, 0 when empty). Under db_mu. */
static opc_err bounds(opc__activity *a, int64_t *lo, int64_t *hi, opc__ebuf *eb)
{
    *lo = *hi = 0;
    sqlite3_stmt *st = NULL;
    bool row = false;
    opc_err rc = opc__db_stmt(a->db, ST_BOUNDS, &st, eb, "");
    if (rc == OPC_OK) {
        rc = opc__db_step(a->db, st, &row, eb);
    }
    if (rc == OPC_OK && row) {
        *lo = sqlite3_column_int64(st, 0);
        *hi = sqlite3_column_int64(st, 1);
    }
    opc__db_done(st);
    return rc;
}

static size_t count_of(int64_t lo, int64_t hi)
{
    return hi >= lo && hi > 0 ? (size_t)(hi - lo + 1) : 0;
}

static opc_err insert(opc__activity *a, const rec *r, opc__ebuf *eb)
{
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__db_stmt(a->db, ST_INSERT, &st, eb, "titttttttttti", r->request_id, r->ts_us,
                              action_names[r->action], result_names[r->result], a->server_id,
                              a->account_id, r->jti, r->ua, r->ip, rtype_names[r->rtype], r->vault,
                              r->item, r->item_version);
    return rc == OPC_OK ? opc__db_run(a->db, st, eb) : rc;
}

/*
 * Make room for `incoming` rows: once rows + incoming would pass
 * max_records + slack, delete the oldest so that rows + incoming is
 * max_records. Run before the inserts of a drain (so the pages it frees
 * are reused by them and a large drain does not grow the file) and after
 * them (incoming 0: rows that came along during the drain).
 */
static opc_err prune(opc__activity *a, size_t incoming, opc__ebuf *eb)
{
    int64_t lo = 0;
    int64_t hi = 0;
    opc_err rc = bounds(a, &lo, &hi, eb);
    size_t rows = count_of(lo, hi);
    if (rc != OPC_OK || rows == 0 || rows + incoming <= a->max_records + a->slack) {
        return rc;
    }
    size_t keep = incoming < a->max_records ? a->max_records - incoming : 0;
    sqlite3_stmt *st = NULL;
    rc = opc__db_stmt(a->db, ST_PRUNE, &st, eb, "i", hi - (int64_t)keep);
    return rc == OPC_OK ? opc__db_run(a->db, st, eb) : rc;
}

/* ---- the queue ---- */

/* Move at most max records out of the ring into a->scratch. */
static size_t take(opc__activity *a, size_t max)
{
    pthread_mutex_lock(&a->q_mu);
    size_t n = a->len < max ? a->len : max;
    size_t first = a->cap - a->head < n ? a->cap - a->head : n;
    memcpy(a->scratch, a->ring + a->head, first * sizeof(rec));
    memcpy(a->scratch + first, a->ring, (n - first) * sizeof(rec));
    a->head = (a->head + n) % a->cap;
    a->len -= n;
    pthread_mutex_unlock(&a->q_mu);
    return n;
}

/*
 * Write what is queued now (records queued during the drain may come
 * along), in one transaction, then prune. Under db_mu.
 */
static opc_err drain(opc__activity *a, opc__ebuf *eb)
{
    pthread_mutex_lock(&a->q_mu);
    size_t pending = a->len;
    pthread_mutex_unlock(&a->q_mu);
    if (pending == 0) {
        return OPC_OK;
    }
    /* Records beyond max_records in this drain would be pruned in the same
     * transaction: they are skipped (counted as written) instead. */
    size_t skip = pending > a->max_records ? pending - a->max_records : 0;
    opc_err rc = opc__db_begin(a->db, true, eb);
    if (rc == OPC_OK) {
        rc = prune(a, pending - skip, eb);
    }
    size_t taken = 0;
    while (rc == OPC_OK && taken < pending) {
        size_t n = take(a, a->batch);
        if (n == 0) {
            break;
        }
        for (size_t i = 0; i < n && rc == OPC_OK; i++) {
            if (taken + i >= skip) {
                rc = insert(a, &a->scratch[i], eb);
            }
        }
        taken += n;
    }
    if (rc == OPC_OK) {
        rc = prune(a, 0, eb);
    }
    /* Committed (the side files tightened), or rolled back. */
    rc = opc__db_end(a->db, rc, eb);
    if (rc != OPC_OK) {
        /* The records taken are lost; the rest stays queued for the next try. */
        atomic_fetch_add(&a->write_errors, 1);
        atomic_fetch_add(&a->lost, taken);
        if (!a->failing) {
            opc__log(OPC_LOG_WARN, SUB, "%zu activity records lost: %s", taken,
                     eb != NULL ? eb->msg : "write failed");
        }
        a->failing = true;
    } else {
        atomic_fetch_add(&a->written, taken);
        if (a->failing) {
            opc__log(OPC_LOG_INFO, SUB, "activity log writable again");
        }
        a->failing = false;
    }
    int64_t lo = 0;
    int64_t hi = 0;
    if (bounds(a, &lo, &hi, NULL) == OPC_OK) {
        atomic_store(&a->rows, count_of(lo, hi));
    }
    return rc;
}

static void *writer_main(void *arg)
{
    opc__activity *a = arg;
    for (;;) {
        pthread_mutex_lock(&a->q_mu);
        while (!a->stop && a->len == 0) {
            (void)pthread_cond_wait(&a->q_cond, &a->q_mu);
        }
        if (!a->stop && a->len < a->batch) {
            /* Give the batch flush_ms to fill up (record() wakes us when it is full). */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += (long)a->flush_ms * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            (void)pthread_cond_timedwait(&a->q_cond, &a->q_mu, &ts);
        }
        bool stop = a->stop;
        pthread_mutex_unlock(&a->q_mu);
        if (stop) {
            return NULL; /* close() drains */
        }
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        pthread_mutex_lock(&a->db_mu);
        opc_err rc = drain(a, &eb);
        pthread_mutex_unlock(&a->db_mu);
        if (rc != OPC_OK) {
            /* Do not spin on a failing file: wait a whole interval before retrying. */
            struct timespec pause = {.tv_sec = a->flush_ms / 1000,
                                     .tv_nsec = (long)(a->flush_ms % 1000) * 1000000L};
            (void)nanosleep(&pause, NULL);
        }
    }
}

void opc__activity_record(opc__activity *act, const opc__activity_event *ev)
{
    if (act == NULL || ev == NULL) {
        return;
    }
    rec r;
    r.ts_us = ev->timestamp_us != 0 ? ev->timestamp_us : opc__now_us();
    r.item_version = ev->item_version > 0 ? ev->item_version : 0;
    r.action = (uint8_t)((unsigned)ev->action < OPC_ARRAY_LEN(action_names) ? ev->action
                                                                            : OPC_ACTIVITY_READ);
    r.result = (uint8_t)((unsigned)ev->result < OPC_ARRAY_LEN(result_names) ? ev->result
                                                                            : OPC_ACTIVITY_DENY);
    r.rtype =
        (uint8_t)((unsigned)ev->resource_type < OPC_ARRAY_LEN(rtype_names) ? ev->resource_type
                                                                           : OPC_ACTIVITY_RES_NONE);
    (void)opc__activity_clean_text(r.request_id, sizeof r.request_id, ev->request_id);
    (void)opc__activity_clean_text(r.jti, sizeof r.jti, ev->jti);
    (void)opc__activity_clean_text(r.ua, sizeof r.ua, ev->user_agent);
    (void)opc__activity_clean_text(r.ip, sizeof r.ip, ev->request_ip);
    copy_id(r.vault, ev->vault_id);
    copy_id(r.item, ev->item_id);

    pthread_mutex_lock(&act->q_mu);
    act->recorded++;
    if (act->len == act->cap) {
        act->head = (act->head + 1) % act->cap; /* drop the oldest */
        act->len--;
        act->dropped++;
    }
    act->ring[(act->head + act->len) % act->cap] = r;
    act->len++;
    /* Wake the writer for the first record (it starts its interval) and a full batch. */
    bool wake = act->len == 1 || act->len == act->batch;
    pthread_mutex_unlock(&act->q_mu);
    if (wake) {
        pthread_cond_signal(&act->q_cond);
    }
}

opc_err opc__activity_flush(opc__activity *act, opc__ebuf *eb)
{
    if (act == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&act->db_mu);
    opc_err rc = drain(act, eb);
    pthread_mutex_unlock(&act->db_mu);
    return rc;
}

/* ---- listing ---- */

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s != NULL ? (const char *)s : "";
}

/* A stored text member, cleaned again (the file may have been edited). */
static void member(opc__buf *b, bool *first, const char *key, const char *value, size_t cap)
{
    char tmp[OPC_ACTIVITY_MAX_UA + 1];
    size_t n = opc__activity_clean_text(tmp, cap < sizeof tmp ? cap : sizeof tmp, value);
    if (n == 0) {
        return;
    }
    opc__buf_appendf(b, "%s\"%s\":", *first ? "" : ",", key);
    opc__buf_append_json_str(b, tmp, n);
    *first = false;
}

/* A stored enum text: printed only when it is one of names. */
static const char *known(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (names[i][0] != '\0' && strcmp(s, names[i]) == 0) {
            return names[i];
        }
    }
    return NULL;
}

/* One record as APIRequest JSON; redact leaves out the actor's jti, user
 * agent and address (another token's record seen by a scoped reader). */
static void row_json(opc__buf *b, sqlite3_stmt *st, bool redact)
{
    char ts[OPC_TIME_STRLEN];
    if (opc__time_format_us(sqlite3_column_int64(st, 1), ts) != OPC_OK) {
        ts[0] = '\0';
    }
    const char *action = known(col_text(st, 2), action_names, OPC_ARRAY_LEN(action_names));
    const char *result = known(col_text(st, 3), result_names, OPC_ARRAY_LEN(result_names));
    const char *rtype = known(col_text(st, 9), rtype_names, OPC_ARRAY_LEN(rtype_names));
    bool first = true;
    opc__buf_append_char(b, '{');
    member(b, &first, "requestId", col_text(st, 0), OPC_ACTIVITY_REQUEST_ID_LEN + 1);
    member(b, &first, "timestamp", ts, sizeof ts);
    member(b, &first, "action", action != NULL ? action : "", 16);
    member(b, &first, "result", result != NULL ? result : "", 16);
    opc__buf_append_str(b, first ? "\"actor\":{" : ",\"actor\":{");
    bool f2 = true;
    member(b, &f2, "id", col_text(st, 4), OPC_ACTIVITY_MAX_JTI + 1);
    member(b, &f2, "account", col_text(st, 5), OPC_ACTIVITY_MAX_JTI + 1);
    if (!redact) {
        member(b, &f2, "jti", col_text(st, 6), OPC_ACTIVITY_MAX_JTI + 1);
        member(b, &f2, "userAgent", col_text(st, 7), OPC_ACTIVITY_MAX_UA + 1);
        member(b, &f2, "requestIp", col_text(st, 8), OPC_ACTIVITY_MAX_IP + 1);
    }
    opc__buf_append_char(b, '}');
    if (rtype != NULL) {
        opc__buf_appendf(b, ",\"resource\":{\"type\":\"%s\"", rtype);
        const char *vault = col_text(st, 10);
        const char *item = col_text(st, 11);
        if (opc__id_client_valid_str(vault)) {
            opc__buf_appendf(b, ",\"vault\":{\"id\":\"%s\"}", vault);
        }
        if (opc__id_client_valid_str(item)) {
            opc__buf_appendf(b, ",\"item\":{\"id\":\"%s\"}", item);
        }
        int64_t version = sqlite3_column_int64(st, 12);
        if (version > 0) {
            opc__buf_appendf(b, ",\"itemVersion\":%lld", (long long)version);
        }
        opc__buf_append_char(b, '}');
    }
    opc__buf_append_char(b, '}');
}

/* Append the rows of st (stepped here) to b as a JSON array's members. */
static opc_err page_rows(opc__activity *a, sqlite3_stmt *st, const opc__activity_scope *scope,
                         opc__activity_page *out, opc__buf *b, opc__ebuf *eb)
{
    bool row = true;
    opc_err rc = OPC_OK;
    while (rc == OPC_OK && row) {
        rc = opc__db_step(a->db, st, &row, eb);
        if (rc == OPC_OK && row) {
            if (out->count > 0) {
                opc__buf_append_char(b, ',');
            }
            bool redact = scope != NULL && !scope->full &&
                          (scope->jti == NULL || strcmp(col_text(st, 6), scope->jti) != 0);
            row_json(b, st, redact);
            out->count++;
        }
    }
    return rc;
}

/* ["<id>","<id>",...]: the scope's valid vault ids as a JSON array (ids
 * are [a-z0-9]{26}: nothing to escape). */
static void vault_list(opc__buf *vb, const opc__activity_scope *scope)
{
    bool first = true;
    opc__buf_append_char(vb, '[');
    for (size_t i = 0; i < scope->n_vaults; i++) {
        if (scope->vaults[i] != NULL && opc__id_client_valid_str(scope->vaults[i])) {
            opc__buf_append_str(vb, first ? "\"" : ",\"");
            opc__buf_append(vb, scope->vaults[i], OPC_ID_LEN);
            opc__buf_append_char(vb, '"');
            first = false;
        }
    }
    opc__buf_append(vb, "]", 2); /* with its NUL: bound as text */
}

static opc_err read_scoped(opc__activity *a, const opc__activity_scope *scope, int64_t floor,
                           size_t limit, size_t offset, opc__activity_page *out, opc__buf *b,
                           opc__ebuf *eb)
{
    opc__buf vb;
    opc__buf_init(&vb, false);
    vault_list(&vb, scope);
    opc_err rc = opc__buf_err(&vb);
    const char *jti = scope->jti != NULL && scope->jti[0] != '\0' ? scope->jti : NULL;
    sqlite3_stmt *st = NULL;
    if (rc == OPC_OK) {
        rc = opc__db_stmt(a->db, ST_SCOPED_COUNT, &st, eb, "itt", floor, jti, vb.data);
    }
    bool row = false;
    if (rc == OPC_OK) {
        rc = opc__db_step(a->db, st, &row, eb);
    }
    if (rc == OPC_OK && row) {
        int64_t n = sqlite3_column_int64(st, 0);
        out->total = n > 0 ? (size_t)n : 0;
    }
    opc__db_done(st);
    st = NULL;
    opc__buf_append_char(b, '[');
    if (rc == OPC_OK && offset < out->total && limit > 0) {
        rc = opc__db_stmt(a->db, ST_SCOPED_PAGE, &st, eb, "ittii", floor, jti, vb.data,
                          (int64_t)limit, (int64_t)offset);
        if (rc == OPC_OK) {
            rc = page_rows(a, st, scope, out, b, eb);
        }
        opc__db_done(st);
    }
    opc__buf_free(&vb);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__buf_append_char(b, ']');
    return opc__buf_err(b);
}

/* The page; scope NULL or full: every record, as stored. */
static opc_err read_page(opc__activity *a, const opc__activity_scope *scope, size_t limit,
                         size_t offset, opc__activity_page *out, opc__buf *b, opc__ebuf *eb)
{
    int64_t lo = 0;
    int64_t hi = 0;
    opc_err rc = bounds(a, &lo, &hi, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (scope != NULL && !scope->full) {
        /* Only the newest max_records are listed, as for the whole log. */
        return read_scoped(a, scope, hi - (int64_t)a->max_records, limit, offset, out, b, eb);
    }
    size_t rows = count_of(lo, hi);
    out->total = rows < a->max_records ? rows : a->max_records;
    size_t want = offset < out->total ? out->total - offset : 0;
    if (want > limit) {
        want = limit;
    }
    opc__buf_append_char(b, '[');
    if (want > 0) {
        sqlite3_stmt *st = NULL;
        rc = opc__db_stmt(a->db, ST_PAGE, &st, eb, "ii", hi - (int64_t)offset, (int64_t)want);
        if (rc == OPC_OK) {
            rc = page_rows(a, st, NULL, out, b, eb);
        }
        opc__db_done(st);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    opc__buf_append_char(b, ']');
    return opc__buf_err(b);
}

static opc_err list_page(opc__activity *act, const opc__activity_scope *scope, size_t limit,
                         size_t offset, opc__activity_page *out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    if (act == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (limit > OPC_ACTIVITY_MAX_LIMIT) {
        limit = OPC_ACTIVITY_MAX_LIMIT;
    }
    opc__buf b;
    opc__buf_init(&b, false);
    pthread_mutex_lock(&act->db_mu);
    /* A failed drain is counted and logged; what is stored is still listed. */
    opc__ebuf deb;
    opc__ebuf_clear(&deb);
    (void)drain(act, &deb);
    opc_err rc = read_page(act, scope, limit, offset, out, &b, eb);
    pthread_mutex_unlock(&act->db_mu);
    if (rc != OPC_OK) {
        opc__buf_free(&b);
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->json = opc__buf_detach(&b, &out->json_len);
    opc__activity_content_range(offset, out->count, out->total, out->content_range);
    return OPC_OK;
}

opc_err opc__activity_list(opc__activity *act, size_t limit, size_t offset, opc__activity_page *out,
                           opc__ebuf *eb)
{
    return list_page(act, NULL, limit, offset, out, eb);
}

opc_err opc__activity_list_scoped(opc__activity *act, const opc__activity_scope *scope,
                                  size_t limit, size_t offset, opc__activity_page *out,
                                  opc__ebuf *eb)
{
    if (scope == NULL) {
        if (out != NULL) {
            memset(out, 0, sizeof *out);
        }
        return OPC_ERR_INVALID_ARG;
    }
    return list_page(act, scope, limit, offset, out, eb);
}

void opc__activity_page_clear(opc__activity_page *p)
{
    if (p != NULL) {
        opc__free(p->json);
        memset(p, 0, sizeof *p);
    }
}

void opc__activity_get_stats(opc__activity *act, opc__activity_stats *out)
{
    memset(out, 0, sizeof *out);
    if (act == NULL) {
        return;
    }
    pthread_mutex_lock(&act->q_mu);
    out->recorded = act->recorded;
    out->dropped = act->dropped;
    out->queued = act->len;
    pthread_mutex_unlock(&act->q_mu);
    out->written = atomic_load(&act->written);
    out->write_errors = atomic_load(&act->write_errors);
    out->lost = atomic_load(&act->lost);
    out->rows = atomic_load(&act->rows);
}

/* ---- open / close ---- */

static opc_err init_sync(opc__activity *a)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        return OPC_ERR_INTERNAL;
    }
    bool ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(&a->q_cond, &ca) == 0;
    (void)pthread_condattr_destroy(&ca);
    if (!ok) {
        return OPC_ERR_INTERNAL;
    }
    if (pthread_mutex_init(&a->q_mu, NULL) != 0) {
        (void)pthread_cond_destroy(&a->q_cond);
        return OPC_ERR_INTERNAL;
    }
    if (pthread_mutex_init(&a->db_mu, NULL) != 0) {
        (void)pthread_mutex_destroy(&a->q_mu);
        (void)pthread_cond_destroy(&a->q_cond);
        return OPC_ERR_INTERNAL;
    }
    a->mutexes_ready = true;
    return OPC_OK;
}

static opc_err configure(opc__activity *a, const opc__activity_config *cfg, opc__ebuf *eb)
{
    a->max_records = cfg->max_records != 0 ? cfg->max_records : OPC_ACTIVITY_DEFAULT_MAX_RECORDS;
    a->cap = cfg->queue_capacity != 0 ? cfg->queue_capacity : OPC_ACTIVITY_DEFAULT_QUEUE;
    a->batch = cfg->flush_batch != 0 ? cfg->flush_batch : OPC_ACTIVITY_DEFAULT_FLUSH_BATCH;
    a->flush_ms =
        cfg->flush_interval_ms != 0 ? cfg->flush_interval_ms : OPC_ACTIVITY_DEFAULT_FLUSH_MS;
    if (a->max_records > OPC_ACTIVITY_MAX_MAX_RECORDS || a->cap > OPC_ACTIVITY_MAX_QUEUE ||
        a->flush_ms < 0 || a->flush_ms > 60000) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "activity log: configuration out of range");
    }
    if (a->batch > a->cap) {
        a->batch = a->cap;
    }
    a->slack = a->max_records / 8 > MIN_PRUNE_SLACK ? a->max_records / 8 : MIN_PRUNE_SLACK;
    (void)opc__activity_clean_text(a->server_id, sizeof a->server_id, cfg->server_id);
    (void)opc__activity_clean_text(a->account_id, sizeof a->account_id, cfg->account_id);
    return OPC_OK;
}

opc_err opc__activity_open(const opc__activity_config *cfg, opc__activity **out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (cfg == NULL || cfg->path == NULL || cfg->path[0] == '\0') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "activity log: no path");
    }
    opc__activity *a = opc__calloc(1, sizeof *a);
    if (a == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc_err rc = configure(a, cfg, eb);
    if (rc == OPC_OK) {
        a->path = opc__strdup(cfg->path);
        a->ring = opc__calloc(a->cap, sizeof(rec));
        a->scratch = opc__calloc(a->batch, sizeof(rec));
        if (a->path == NULL || a->ring == NULL || a->scratch == NULL) {
            rc = OPC_ERR_NOMEM;
        }
    }
    if (rc == OPC_OK) {
        rc = init_sync(a);
        if (rc != OPC_OK) {
            opc__fail(eb, rc, "activity log: cannot create its locks");
        }
    }
    if (rc == OPC_OK) {
        rc = open_db(a, eb);
    }
    if (rc == OPC_OK) {
        int64_t lo = 0;
        int64_t hi = 0;
        rc = bounds(a, &lo, &hi, eb);
        atomic_store(&a->rows, count_of(lo, hi));
    }
    if (rc == OPC_OK && !cfg->no_writer_thread) {
        if (pthread_create(&a->thread, NULL, writer_main, a) != 0) {
            rc = opc__fail(eb, OPC_ERR_INTERNAL, "activity log: cannot start its writer thread");
        } else {
            a->thread_started = true;
        }
    }
    if (rc != OPC_OK) {
        opc__activity_close(a);
        return rc;
    }
    *out = a;
    return OPC_OK;
}

void opc__activity_close(opc__activity *act)
{
    if (act == NULL) {
        return;
    }
    if (act->thread_started) {
        pthread_mutex_lock(&act->q_mu);
        act->stop = true;
        pthread_mutex_unlock(&act->q_mu);
        pthread_cond_signal(&act->q_cond);
        (void)pthread_join(act->thread, NULL);
    }
    if (act->db != NULL) {
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        (void)drain(act, &eb);
    }
    opc__db_close(act->db);
    if (act->mutexes_ready) {
        (void)pthread_mutex_destroy(&act->db_mu);
        (void)pthread_mutex_destroy(&act->q_mu);
        (void)pthread_cond_destroy(&act->q_cond);
    }
    opc__free(act->ring);
    opc__free(act->scratch);
    opc__free(act->path);
    opc__free(act);
}
