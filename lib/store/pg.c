/*
 * store/pg.c - the PostgreSQL store (store.h): every account in one
 * database (docs/postgres.md), shared by any number of account servers.
 *
 * Reads are one statement each (one snapshot). Writes (the owner's
 * batches, sign-up, a Connect server's item writes) are one transaction
 * each whose first statement locks the account's row (store.lock): the
 * writers of one account take turns, as on the account file, and those of
 * different accounts do not wait for each other. Under that lock the
 * transaction reads the account's feed counter, gives its changes the
 * next seqs, writes the counter back and commits: seqs of one account are
 * committed in their order, so a reader that saw seq n has seen every seq
 * below it, and the feed's cursor may skip to the head a page reports.
 *
 * Wake-ups: a commit runs pg_notify('opc_commit', account) inside its
 * transaction; every account server LISTENs on a connection of its own
 * (the listener thread) and moves that account's generation, which wakes
 * its long polls. A commit through this process moves it at once too.
 * While the listener is not connected (the database restarting), waits
 * poll every OPC_STORE_POLL_MS; when it connects again every account's
 * generation moves, since notifications may have been missed.
 *
 * Migrations (pg_sql.h) run at open under a session advisory lock, so two
 * servers starting at once apply each step once; the version is kept in
 * opc_schema. A database newer than this program is refused.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account/export.h"
#include "account/feed.h"
#include "account/import.h"
#include "account/rows.h"
#include "account/signup.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "store/pg_conn.h"
#include "store/pg_rows.h"
#include "store/pg_sql.h"
#include "store/pg_state.h"
#include "store/store.h"

/* The advisory lock key of migrations ("opcm"), the notification channel. */
#define OPC_PG_MIGRATE_LOCK 0x6f70636dLL
#define OPC_PG_CHANNEL "opc_commit"
/* A waiting changes() reads the feed again this often while notifications
 * flow (a bound on a lost one); the listener's reconnect backoff. */
#define OPC_PG_SAFETY_POLL_MS 5000
#define OPC_PG_BACKOFF_MIN_MS 100
#define OPC_PG_BACKOFF_MAX_MS 2000
#define OPC_PG_BUCKETS 256

/* One account's commit generation. */
typedef struct gen_ent {
    char id[OPC_ID_LEN + 1];
    uint64_t gen;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    struct gen_ent *next;
} gen_ent;

typedef struct pgs {
    opc__pg_pool *pool;
    pthread_mutex_t mu; /* guards the generations and the flags */
    gen_ent *buckets[OPC_PG_BUCKETS];
    bool stopping;
    bool listening; /* the listener holds a LISTENing connection */
    pthread_t listener;
    bool listener_started;
    int wake[2]; /* the listener's wake-up pipe (shutdown) */
} pgs;

#define Q(s) ((pgs *)(s)->impl)

/* ---- generations ---- */

static unsigned bucket(const char *id)
{
    unsigned h = 2166136261u;
    for (const char *p = id; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 16777619u;
    }
    return h % OPC_PG_BUCKETS;
}

/* The entry of id, NULL when there is none; under q->mu. */
static gen_ent *find_ent(pgs *q, const char *id)
{
    for (gen_ent *e = q->buckets[bucket(id)]; e != NULL; e = e->next) {
        if (strcmp(e->id, id) == 0) {
            return e;
        }
    }
    return NULL;
}

/* The entry of id, made when missing (NULL: no memory); under q->mu. */
static gen_ent *entry_of(pgs *q, const char *id)
{
    gen_ent *e = find_ent(q, id);
    if (e != NULL) {
        return e;
    }
    unsigned b = bucket(id);
    e = opc__calloc(1, sizeof *e);
    if (e == NULL) {
        return NULL;
    }
    (void)snprintf(e->id, sizeof e->id, "%s", id);
    e->gen = 1;
    pthread_condattr_t ca;
    (void)pthread_condattr_init(&ca);
    (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    (void)pthread_cond_init(&e->cond, &ca);
    (void)pthread_condattr_destroy(&ca);
    e->next = q->buckets[b];
    q->buckets[b] = e;
    return e;
}

static void bump(pgs *q, const char *id)
{
    (void)pthread_mutex_lock(&q->mu);
    gen_ent *e = opc__id_valid_str(id) ? find_ent(q, id) : NULL;
    if (e != NULL) {
        e->gen++;
        (void)pthread_cond_broadcast(&e->cond);
    }
    (void)pthread_mutex_unlock(&q->mu);
}

/* Every generation moves (notifications may have been missed); under q->mu. */
static void bump_all_locked(pgs *q)
{
    for (size_t b = 0; b < OPC_PG_BUCKETS; b++) {
        for (gen_ent *e = q->buckets[b]; e != NULL; e = e->next) {
            e->gen++;
            (void)pthread_cond_broadcast(&e->cond);
        }
    }
}

static opc_err s_account(opc__store *s, const char *account, opc__ebuf *eb);

/*
 * OPC_OK when the account exists: asked of the database the first time,
 * then known by its generation's entry (accounts are never deleted), so
 * that a long poll or an owner's read does not pay a round trip for it.
 */
static opc_err account_known(opc__store *s, const char *account, opc__ebuf *eb)
{
    pgs *q = Q(s);
    (void)pthread_mutex_lock(&q->mu);
    bool known = find_ent(q, account) != NULL;
    (void)pthread_mutex_unlock(&q->mu);
    if (known) {
        return OPC_OK;
    }
    opc_err rc = s_account(s, account, eb);
    if (rc == OPC_OK) {
        (void)pthread_mutex_lock(&q->mu);
        (void)entry_of(q, account); /* NULL (no memory): asked again next time */
        (void)pthread_mutex_unlock(&q->mu);
    }
    return rc;
}

/* An account's generation is kept from the first time it is asked for,
 * once the database says the account exists (0 otherwise: store.h). */
static uint64_t s_generation(opc__store *s, const char *account)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (account_known(s, account, &eb) != OPC_OK) {
        return 0;
    }
    pgs *q = Q(s);
    (void)pthread_mutex_lock(&q->mu);
    gen_ent *e = find_ent(q, account);
    uint64_t g = e != NULL ? e->gen : 0;
    (void)pthread_mutex_unlock(&q->mu);
    return g;
}

static bool s_wait(opc__store *s, const char *account, uint64_t gen, int64_t timeout_ms)
{
    pgs *q = Q(s);
    (void)pthread_mutex_lock(&q->mu);
    if (!q->listening && timeout_ms > OPC_STORE_POLL_MS) {
        timeout_ms = OPC_STORE_POLL_MS; /* no notifications: the caller reads again */
    }
    struct timespec until;
    (void)clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    gen_ent *e = find_ent(q, account); /* none: an unknown account (s_generation) */
    bool moved = false;
    while (e != NULL && !q->stopping) {
        moved = e->gen != gen;
        if (moved || pthread_cond_timedwait(&e->cond, &q->mu, &until) == ETIMEDOUT) {
            moved = e->gen != gen;
            break;
        }
    }
    (void)pthread_mutex_unlock(&q->mu);
    return moved;
}

static bool stopping(pgs *q)
{
    (void)pthread_mutex_lock(&q->mu);
    bool st = q->stopping;
    (void)pthread_mutex_unlock(&q->mu);
    return st;
}

/* ---- the listener ---- */

static void set_listening(pgs *q, bool on)
{
    (void)pthread_mutex_lock(&q->mu);
    q->listening = on;
    bump_all_locked(q); /* connected: what was missed is read again; lost: waits poll */
    (void)pthread_mutex_unlock(&q->mu);
}

/* Sleep ms or until shut down; true when shut down. */
static bool pause_or_stop(pgs *q, int64_t ms)
{
    struct pollfd p = {.fd = q->wake[0], .events = POLLIN};
    (void)poll(&p, 1, (int)ms);
    return stopping(q);
}

static PGconn *listen_connect(pgs *q)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    PGconn *pg = NULL;
    if (opc__pg_connect(opc__pg_conninfo(q->pool), &pg, &eb) != OPC_OK) {
        return NULL;
    }
    PGresult *r = PQexec(pg, "LISTEN " OPC_PG_CHANNEL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || PQsetnonblocking(pg, 1) != 0) {
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

static void *listener_main(void *arg)
{
    pgs *q = arg;
    PGconn *pg = NULL;
    int64_t backoff = OPC_PG_BACKOFF_MIN_MS;
    while (!stopping(q)) {
        if (pg == NULL) {
            pg = listen_connect(q);
            if (pg == NULL) {
                if (pause_or_stop(q, backoff)) {
                    break;
                }
                backoff = backoff * 2 > OPC_PG_BACKOFF_MAX_MS ? OPC_PG_BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            backoff = OPC_PG_BACKOFF_MIN_MS;
            opc__log(OPC_LOG_INFO, "store", "listening for commits of other account servers");
            set_listening(q, true);
        }
        struct pollfd p[2] = {{.fd = PQsocket(pg), .events = POLLIN},
                              {.fd = q->wake[0], .events = POLLIN}};
        int n = poll(p, 2, 1000);
        if (n < 0 && errno != EINTR) {
            break;
        }
        if ((p[1].revents & POLLIN) != 0) {
            break;
        }
        if (n > 0 && PQconsumeInput(pg) == 0) {
            opc__log(OPC_LOG_WARN, "store", "lost the database's notifications; reconnecting");
            PQfinish(pg);
            pg = NULL;
            set_listening(q, false);
            continue;
        }
        PGnotify *nt = NULL;
        while ((nt = PQnotifies(pg)) != NULL) {
            bump(q, nt->extra);
            PQfreemem(nt);
        }
    }
    PQfinish(pg);
    return NULL;
}

/* ---- calls ---- */

/* The end of a Connect server's call: codes as the upstream's (store.h). */
static opc_err connect_code(opc_err rc, bool write, const char *account, opc__ebuf *eb)
{
    opc_err code = opc__account_upstream_code(rc, write);
    if (rc != OPC_OK) {
        if (eb != NULL && eb->msg[0] == '\0') {
            (void)opc__fail(eb, code, "%s", opc_strerror(code));
        }
        opc__ebuf_prefix(eb, "account %s", account);
    }
    return code;
}

/* The row encoders: a result row as its protocol message (wire/rows.h). */
typedef opc_err (*row_enc)(const PGresult *r, int i, cJSON **out, opc__ebuf *eb);

/* An id-sized text cell ("" when null or longer: the encoder refuses it). */
static void cell_id(const PGresult *r, int i, int c, char out[OPC_ID_LEN + 1])
{
    const char *v = opc__pg_text(r, i, c);
    size_t n = v == NULL ? 0 : strlen(v);
    n = n > OPC_ID_LEN ? 0 : n;
    if (n > 0) {
        memcpy(out, v, n);
    }
    out[n] = '\0';
}

static char *cell_text(const PGresult *r, int i, int c)
{
    return (char *)(uintptr_t)opc__pg_text(r, i, c);
}

/* kid, jwk, seq */
static opc_err enc_issuer_key(const PGresult *r, int i, cJSON **out, opc__ebuf *eb)
{
    opc__wire_issuer_key w = {.jwk = cell_text(r, i, 1), .seq = opc__pg_int(r, i, 2)};
    cell_id(r, i, 0, w.kid);
    return opc__wire_issuer_key_encode(&w, out, eb);
}

/* vault_id, key_sn, enc_key, acl, granted, grant_sig, seq */
static opc_err enc_access(const PGresult *r, int i, cJSON **out, opc__ebuf *eb)
{
    opc__wire_access w = {.key_sn = opc__pg_int(r, i, 1),
                          .enc_key = cell_text(r, i, 2),
                          .acl = opc__pg_int(r, i, 3),
                          .granted = opc__pg_int(r, i, 4),
                          .grant_sig = cell_text(r, i, 5),
                          .seq = opc__pg_int(r, i, 6)};
    cell_id(r, i, 0, w.vault);
    return opc__wire_access_encode(&w, out, eb);
}

/* id, type, key_sn, attrs, attr_version, content_version, items, created, updated, seq */
static opc_err enc_vault(const PGresult *r, int i, cJSON **out, opc__ebuf *eb)
{
    opc__wire_vault w = {.type = cell_text(r, i, 1),
                         .key_sn = opc__pg_int(r, i, 2),
                         .attrs = cell_text(r, i, 3),
                         .attr_version = opc__pg_int(r, i, 4),
                         .content_version = opc__pg_int(r, i, 5),
                         .items = opc__pg_int(r, i, 6),
                         .created = opc__pg_int(r, i, 7),
                         .updated = opc__pg_int(r, i, 8),
                         .seq = opc__pg_int(r, i, 9)};
    cell_id(r, i, 0, w.id);
    return opc__wire_vault_encode(&w, out, eb);
}

/* id, vault_id, version, state, key_sn, overview, details, created, updated,
 * last_edited_by, seq */
static opc_err enc_item(const PGresult *r, int i, cJSON **out, opc__ebuf *eb)
{
    opc__wire_item w = {.version = opc__pg_int(r, i, 2),
                        .state = cell_text(r, i, 3),
                        .key_sn = opc__pg_int(r, i, 4),
                        .overview = cell_text(r, i, 5),
                        .details = cell_text(r, i, 6),
                        .created = opc__pg_int(r, i, 7),
                        .updated = opc__pg_int(r, i, 8),
                        .seq = opc__pg_int(r, i, 10)};
    cell_id(r, i, 0, w.id);
    cell_id(r, i, 1, w.vault);
    cell_id(r, i, 9, w.last_edited_by);
    return opc__wire_item_encode(&w, out, eb);
}

/* file_id, idx, item_id, vault_id, blob */
static opc_err enc_chunk(const PGresult *r, int i, cJSON **out, opc__ebuf *eb)
{
    unsigned char *blob = NULL;
    size_t len = 0;
    opc_err rc = opc__pg_bytes(r, i, 4, &blob, &len);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__wire_chunk w = {.idx = opc__pg_int(r, i, 1), .blob = blob, .len = len};
    cell_id(r, i, 0, w.file);
    cell_id(r, i, 2, w.item);
    cell_id(r, i, 3, w.vault);
    rc = opc__wire_chunk_encode(&w, out, eb);
    opc__free(blob);
    return rc;
}

/* jti, server_id, name, scopes, created, expires, state, updated, seq */
static opc_err enc_token(const PGresult *r, int i, cJSON **out, opc__ebuf *eb)
{
    opc__wire_token w = {.name = cell_text(r, i, 2),
                         .scopes = cell_text(r, i, 3),
                         .created = opc__pg_int(r, i, 4),
                         .expires = opc__pg_int(r, i, 5),
                         .state = cell_text(r, i, 6),
                         .updated = opc__pg_int(r, i, 7),
                         .seq = opc__pg_int(r, i, 8)};
    cell_id(r, i, 0, w.jti);
    cell_id(r, i, 1, w.server);
    return opc__wire_token_encode(&w, out, eb);
}

/* Encode r: many, an array of every row; else its one row (none:
 * OPC_ERR_NOT_FOUND naming what). */
static opc_err encode(const PGresult *r, row_enc enc, bool many, const char *what, cJSON **out,
                      opc__ebuf *eb)
{
    *out = NULL;
    int n = PQntuples(r);
    if (!many && n == 0) {
        return opc__fail(eb, OPC_ERR_NOT_FOUND, "no such %s", what);
    }
    cJSON *arr = many ? cJSON_CreateArray() : NULL;
    if (many && arr == NULL) {
        return OPC_ERR_NOMEM;
    }
    for (int i = 0; i < (many ? n : 1); i++) {
        cJSON *o = NULL;
        opc__ebuf why;
        opc__ebuf_clear(&why);
        opc_err rc = enc(r, i, &o, &why);
        if (rc != OPC_OK) {
            cJSON_Delete(arr);
            /* A row the protocol cannot carry is the database's fault. */
            return opc__fail(eb, rc == OPC_ERR_INVALID_ARG ? OPC_ERR_PARSE : rc, "store: %s",
                             why.msg[0] != '\0' ? why.msg : opc_strerror(rc));
        }
        if (!many) {
            *out = o;
            return OPC_OK;
        }
        cJSON_AddItemToArray(arr, o);
    }
    *out = arr;
    return OPC_OK;
}

/* One read of a Connect server: the statement, its rows encoded. */
static opc_err connect_read(opc__store *s, const char *account, const char *name, opc__pg_args *a,
                            row_enc enc, bool many, const char *what, cJSON **out, opc__ebuf *eb)
{
    PGresult *r = NULL;
    opc_err rc = opc__pg_run_pooled(Q(s)->pool, name, a, &r, eb);
    if (rc == OPC_OK) {
        rc = encode(r, enc, many, what, out, eb);
    }
    PQclear(r);
    opc__pg_args_free(a);
    return connect_code(rc, false, account, eb);
}

/* Args: the account, then up to three texts (NULL: none given). */
static opc__pg_args *args3(opc__pg_args *a, const char *account, const char *p2, const char *p3)
{
    opc__pg_args_init(a);
    opc__pg_arg_text(a, account);
    if (p2 != NULL) {
        opc__pg_arg_text(a, p2);
    }
    if (p3 != NULL) {
        opc__pg_arg_text(a, p3);
    }
    return a;
}

static opc_err s_account(opc__store *s, const char *account, opc__ebuf *eb)
{
    opc__pg_args a;
    PGresult *r = NULL;
    opc_err rc =
        opc__pg_run_pooled(Q(s)->pool, "store.account", args3(&a, account, NULL, NULL), &r, eb);
    if (rc == OPC_OK && PQntuples(r) == 0) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "no such account %s", account);
    }
    PQclear(r);
    return rc == OPC_OK || rc == OPC_ERR_NOT_FOUND ? rc : connect_code(rc, false, account, eb);
}

static opc_err s_device_key(opc__store *s, const char *account, const char *server, opc__key **out,
                            opc__ebuf *eb)
{
    opc__pg_args a;
    PGresult *r = NULL;
    opc_err rc = opc__pg_run_pooled(Q(s)->pool, "store.device_key",
                                    args3(&a, account, server, NULL), &r, eb);
    const char *jwk = rc == OPC_OK && PQntuples(r) > 0 ? opc__pg_text(r, 0, 0) : NULL;
    if (rc == OPC_OK && (jwk == NULL || jwk[0] == '\0')) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "server %s is not an active server", server);
    }
    if (rc == OPC_OK) {
        rc = opc__account_device_key_parse(jwk, server, out, eb);
    }
    PQclear(r);
    /* A key the database cannot give is kept apart, as the SQLite store does. */
    return rc == OPC_ERR_KEY ? rc : connect_code(rc, false, account, eb);
}

/* ---- the feed ---- */

static const char *const id_columns[] = {"vault", "item", "file", "server", "jti", "kid"};

/* Row i of store.changes (columns 1..9) as a feed entry. */
static opc_err feed_entry(const PGresult *r, int i, cJSON **out)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddNumberToObject(o, "seq", (double)opc__pg_int(r, i, 1)) == NULL ||
        cJSON_AddStringToObject(o, "kind", opc__pg_text(r, i, 2)) == NULL) {
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    for (int c = 0; c < (int)OPC_ARRAY_LEN(id_columns); c++) {
        if (!opc__pg_null(r, i, 3 + c) &&
            cJSON_AddStringToObject(o, id_columns[c], opc__pg_text(r, i, 3 + c)) == NULL) {
            cJSON_Delete(o);
            return OPC_ERR_NOMEM;
        }
    }
    if (!opc__pg_null(r, i, 9) &&
        cJSON_AddNumberToObject(o, "version", (double)opc__pg_int(r, i, 9)) == NULL) {
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    *out = o;
    return OPC_OK;
}

/* The state of one long poll (account/feed.h). */
typedef struct s_poll {
    opc__store *s;
    const char *account;
    const char *server;
    size_t limit;
    uint64_t gen; /* the generation before the last read */
    opc__ebuf *eb;
} s_poll;

static opc_err s_read(void *ud, int64_t since, cJSON **out, int64_t *out_next)
{
    s_poll *p = ud;
    p->gen = s_generation(p->s, p->account);
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__pg_arg_text(&a, p->account);
    opc__pg_arg_int(&a, since);
    opc__pg_arg_text(&a, p->server);
    opc__pg_arg_int(&a, (int64_t)p->limit);
    PGresult *r = NULL;
    opc_err rc = opc__pg_run_pooled(Q(p->s)->pool, "store.changes", &a, &r, p->eb);
    if (rc == OPC_OK && (PQntuples(r) == 0 || PQnfields(r) != 10)) {
        rc = PQntuples(r) == 0
                 ? opc__fail(p->eb, OPC_ERR_NOT_FOUND, "no such account %s", p->account)
                 : opc__fail(p->eb, OPC_ERR_INTERNAL, "store: store.changes: wrong columns");
    }
    cJSON *arr = rc == OPC_OK ? cJSON_CreateArray() : NULL;
    if (rc == OPC_OK && arr == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    int64_t last = since;
    size_t n = 0;
    for (int i = 0; rc == OPC_OK && i < PQntuples(r) && !opc__pg_null(r, i, 1); i++) {
        cJSON *o = NULL;
        rc = feed_entry(r, i, &o);
        if (rc == OPC_OK) {
            cJSON_AddItemToArray(arr, o);
            last = opc__pg_int(r, i, 1);
            n++;
        }
    }
    /* Nothing more is visible up to the head: skip past it (seqs commit in
     * order). A cursor beyond the head (the database restored to an earlier
     * point) is answered with the head, below it: the reader starts again. */
    int64_t head = rc == OPC_OK ? opc__pg_int(r, 0, 0) : 0;
    if (rc == OPC_OK && n < p->limit && (head > last || (n == 0 && head < since))) {
        last = head;
    }
    PQclear(r);
    if (rc != OPC_OK) {
        cJSON_Delete(arr);
        return connect_code(rc, false, p->account, p->eb);
    }
    *out = arr;
    *out_next = last;
    return OPC_OK;
}

static bool s_pause(void *ud, int64_t ms)
{
    const s_poll *p = ud;
    (void)s_wait(p->s, p->account, p->gen, ms);
    return stopping(Q(p->s));
}

static opc_err s_changes(opc__store *s, const char *account, const char *server, int64_t since,
                         size_t limit, int64_t wait_ms, cJSON **out, int64_t *out_next,
                         opc__ebuf *eb)
{
    s_poll p = {.s = s, .account = account, .server = server, .limit = limit, .eb = eb};
    if (stopping(Q(s))) {
        wait_ms = 0;
    }
    return opc__account_changes_wait(since, wait_ms, OPC_PG_SAFETY_POLL_MS, s_read, s_pause, &p,
                                     out, out_next);
}

/* ---- state rows ---- */

static opc_err s_issuer_key(opc__store *s, const char *account, const char *kid, cJSON **out,
                            opc__ebuf *eb)
{
    opc__pg_args a;
    return connect_read(s, account, "store.issuer_key", args3(&a, account, kid, NULL),
                        enc_issuer_key, false, "issuer key", out, eb);
}

static opc_err s_access(opc__store *s, const char *account, const char *server, const char *vault,
                        cJSON **out, opc__ebuf *eb)
{
    opc__pg_args a;
    return connect_read(s, account, "store.access", args3(&a, account, server, vault), enc_access,
                        false, "grant", out, eb);
}

static opc_err s_vault(opc__store *s, const char *account, const char *server, const char *vault,
                       cJSON **out, opc__ebuf *eb)
{
    opc__pg_args a;
    return connect_read(s, account, "store.vault", args3(&a, account, server, vault), enc_vault,
                        false, "vault", out, eb);
}

static opc_err s_vault_items(opc__store *s, const char *account, const char *server,
                             const char *vault, const char *after, size_t limit, cJSON **out,
                             opc__ebuf *eb)
{
    opc__pg_args a;
    args3(&a, account, server, vault);
    opc__pg_arg_text(&a, after != NULL ? after : "");
    opc__pg_arg_int(&a, (int64_t)limit);
    return connect_read(s, account, "store.vault_items", &a, enc_item, true, "vault", out, eb);
}

static opc_err s_item(opc__store *s, const char *account, const char *server, const char *item,
                      cJSON **out, opc__ebuf *eb)
{
    opc__pg_args a;
    return connect_read(s, account, "store.item", args3(&a, account, server, item), enc_item, false,
                        "item", out, eb);
}

static opc_err s_item_files(opc__store *s, const char *account, const char *server,
                            const char *item, const char *after_file, int64_t after_idx,
                            size_t limit, cJSON **out, opc__ebuf *eb)
{
    opc__pg_args a;
    args3(&a, account, server, item);
    opc__pg_arg_text(&a, after_file != NULL ? after_file : "");
    opc__pg_arg_int(&a, after_idx);
    opc__pg_arg_int(&a, (int64_t)limit);
    return connect_read(s, account, "store.item_files", &a, enc_chunk, true, "item", out, eb);
}

static opc_err s_vault_files(opc__store *s, const char *account, const char *server,
                             const char *vault, const char *after_item, const char *after_file,
                             int64_t after_idx, const char *last_item, size_t limit, cJSON **out,
                             opc__ebuf *eb)
{
    opc__pg_args a;
    args3(&a, account, server, vault);
    opc__pg_arg_text(&a, after_item != NULL ? after_item : "");
    opc__pg_arg_text(&a, after_file != NULL ? after_file : "");
    opc__pg_arg_int(&a, after_idx);
    opc__pg_arg_text(&a, last_item != NULL ? last_item : "");
    opc__pg_arg_int(&a, (int64_t)limit);
    return connect_read(s, account, "store.vault_files", &a, enc_chunk, true, "vault", out, eb);
}

static opc_err s_token(opc__store *s, const char *account, const char *server, const char *jti,
                       cJSON **out, opc__ebuf *eb)
{
    opc__pg_args a;
    return connect_read(s, account, "store.token", args3(&a, account, server, jti), enc_token,
                        false, "token", out, eb);
}

/* ---- write transactions ---- */

/* The part of a write transaction between the lock and the commit. */
typedef opc_err (*tx_body)(opc__pg_conn *c, void *ud, int64_t *head, opc__ebuf *eb);

/*
 * One write transaction on account: BEGIN, the account row's lock (its
 * feed head; create: a new account, no row yet, head 0), body, the new
 * head and the notification when changes were made, COMMIT. A failure
 * rolls everything back. A commit wakes this process's waiters.
 */
static opc_err write_tx(pgs *q, const char *account, bool create, tx_body body, void *ud,
                        opc__ebuf *eb)
{
    opc__pg_conn *c = NULL;
    opc_err rc = opc__pg_take(q->pool, &c, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__pg_args a;
    args3(&a, account, NULL, NULL);
    int64_t head = 0;
    rc = opc__pg_command(c, "BEGIN", eb);
    if (rc == OPC_OK && !create) {
        PGresult *r = NULL;
        rc = opc__pg_run(c, "store.lock", &a, &r, eb);
        if (rc == OPC_OK && PQntuples(r) == 0) {
            rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "no such account %s", account);
        }
        head = rc == OPC_OK ? opc__pg_int(r, 0, 0) : 0;
        PQclear(r);
    }
    int64_t start = head;
    if (rc == OPC_OK) {
        rc = body(c, ud, &head, eb);
    }
    if (rc == OPC_OK && head != start) {
        opc__pg_args w;
        args3(&w, account, NULL, NULL);
        opc__pg_arg_int(&w, head);
        PGresult *r = NULL;
        rc = opc__pg_run(c, "store.set_seq", &w, &r, eb);
        PQclear(r);
        if (rc == OPC_OK) {
            const char *v[1] = {account};
            r = PQexecParams(opc__pg_handle(c), "SELECT pg_notify('" OPC_PG_CHANNEL "', $1)", 1,
                             NULL, v, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = opc__pg_fail(opc__pg_handle(c), r, "notify", eb);
            }
            PQclear(r);
        }
    }
    if (rc == OPC_OK) {
        /* A connection lost here leaves the outcome unknown: the caller
         * gets OPC_ERR_IO and must look before trying again. */
        rc = opc__pg_command(c, "COMMIT", eb);
    } else {
        opc__ebuf ignored;
        opc__ebuf_clear(&ignored);
        (void)opc__pg_command(c, "ROLLBACK", &ignored);
    }
    opc__pg_give(q->pool, c, false);
    if (rc == OPC_OK && head != start) {
        bump(q, account);
    }
    return rc;
}

/* A checked batch as a transaction body. */
typedef struct steps_ud {
    const char *account;
    const opc__rpc_step *steps;
    const opc__rows_stmt **stmts;
    size_t n;
    int64_t *seqs;
} steps_ud;

static opc_err body_steps(opc__pg_conn *c, void *ud, int64_t *head, opc__ebuf *eb)
{
    steps_ud *b = ud;
    return opc__pg_rows_steps(c, b->account, b->steps, b->stmts, b->n, head, b->seqs, eb);
}

/* ---- a Connect server's item writes ---- */

typedef struct item_ud {
    const char *account;
    const char *server;
    const opc__item_write *w;
    bool remove;
    cJSON *item;
    cJSON *vault;
} item_ud;

/* One row of name (args: account, p2, p3) into *r; none: OPC_ERR_NOT_FOUND. */
static opc_err one_row(opc__pg_conn *c, const char *name, const char *account, const char *p2,
                       const char *p3, PGresult **r, opc__ebuf *eb)
{
    opc__pg_args a;
    opc_err rc = opc__pg_run(c, name, args3(&a, account, p2, p3), r, eb);
    if (rc == OPC_OK && PQntuples(*r) == 0) {
        PQclear(*r);
        *r = NULL;
        return OPC_ERR_NOT_FOUND;
    }
    return rc;
}

static opc_err read_state(opc__pg_conn *c, const item_ud *u, opc__item_write_state *st,
                          opc__ebuf *eb)
{
    memset(st, 0, sizeof *st);
    PGresult *r = NULL;
    opc_err rc = one_row(c, "store.write_auth", u->account, u->server, u->w->vault_id, &r, eb);
    if (rc == OPC_OK) {
        st->server_active = opc__pg_int(r, 0, 0) != 0;
        st->vault_found = !opc__pg_null(r, 0, 1);
        st->key_sn = opc__pg_int(r, 0, 1);
        st->granted = !opc__pg_null(r, 0, 2);
        st->acl = opc__pg_int(r, 0, 2);
    }
    PQclear(r);
    if (rc == OPC_OK) {
        rc = one_row(c, "store.item_state", u->account, u->w->vault_id, u->w->item_id, &r, eb);
        if (rc == OPC_OK) {
            st->item_found = true;
            st->item_in_vault = opc__pg_int(r, 0, 0) != 0;
            st->item_active = opc__pg_int(r, 0, 1) != 0;
            st->version = opc__pg_int(r, 0, 2);
            st->seq = opc__pg_int(r, 0, 3);
        }
        rc = rc == OPC_ERR_NOT_FOUND ? OPC_OK : rc;
        PQclear(r);
    }
    if (rc == OPC_OK && u->remove) {
        rc = one_row(c, "item.chunk_count", u->account, u->w->item_id, NULL, &r, eb);
        st->chunks = rc == OPC_OK ? opc__pg_int(r, 0, 0) : 0;
        PQclear(r);
    }
    return rc;
}

static opc_err body_item(opc__pg_conn *c, void *ud, int64_t *head, opc__ebuf *eb)
{
    item_ud *u = ud;
    opc__item_write_state st;
    opc_err rc = read_state(c, u, &st, eb);
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    if (rc == OPC_OK) {
        rc = opc__item_write_plan(u->server, u->w, u->remove, &st, opc__now_s(), &b, eb);
    }
    const opc__rows_stmt *stmts[OPC__RPC_MAX_STEPS];
    int64_t seqs[OPC__RPC_MAX_CHANGES];
    if (rc == OPC_OK) {
        rc = opc__rows_check_batch(b.steps, b.n, b.n_changes, stmts, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__pg_rows_steps(c, u->account, b.steps, stmts, b.n, head, seqs, eb);
    }
    opc__rows_batch_free(&b);
    if (rc != OPC_OK) {
        return rc;
    }
    /* The rows to return, read before the commit: a failure changes nothing. */
    PGresult *r = NULL;
    rc = one_row(c, "store.item_row", u->account, u->w->item_id, NULL, &r, eb);
    rc = rc == OPC_OK ? encode(r, enc_item, false, "item", &u->item, eb) : rc;
    PQclear(r);
    r = NULL;
    if (rc == OPC_OK) {
        rc = one_row(c, "store.vault_row", u->account, u->w->vault_id, NULL, &r, eb);
        rc = rc == OPC_OK ? encode(r, enc_vault, false, "vault", &u->vault, eb) : rc;
        PQclear(r);
    }
    /* The rows it wrote must be there: their absence is the database's fault. */
    return rc == OPC_ERR_NOT_FOUND ? opc__fail(eb, OPC_ERR_IO, "store: the written rows are gone")
                                   : rc;
}

static opc_err item_write(opc__store *s, const char *account, const char *server,
                          const opc__item_write *w, bool remove, cJSON **out_item,
                          cJSON **out_vault, opc__ebuf *eb)
{
    *out_item = NULL;
    *out_vault = NULL;
    opc_err rc = opc__item_write_check(server, w, remove, eb);
    item_ud u = {account, server, w, remove, NULL, NULL};
    if (rc == OPC_OK) {
        rc = write_tx(Q(s), account, false, body_item, &u, eb);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(u.item);
        cJSON_Delete(u.vault);
        return connect_code(rc, true, account, eb);
    }
    *out_item = u.item;
    *out_vault = u.vault;
    return OPC_OK;
}

static opc_err s_item_put(opc__store *s, const char *account, const char *server,
                          const opc__item_write *w, cJSON **out_item, cJSON **out_vault,
                          opc__ebuf *eb)
{
    return item_write(s, account, server, w, false, out_item, out_vault, eb);
}

static opc_err s_item_delete(opc__store *s, const char *account, const char *server,
                             const char *vault, const char *item, int64_t expected_version,
                             cJSON **out_item, cJSON **out_vault, opc__ebuf *eb)
{
    opc__item_write w = {vault, item, expected_version, 0, NULL, NULL};
    return item_write(s, account, server, &w, true, out_item, out_vault, eb);
}

/* ---- the owner ---- */

static opc_err s_owner_create(opc__store *s, const opc__proto_signup *su, opc__ebuf *eb)
{
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    opc_err rc = opc__account_signup_batch(su, opc__now_s(), &b, eb);
    const opc__rows_stmt *stmts[OPC__RPC_MAX_STEPS];
    int64_t seqs[OPC__RPC_MAX_CHANGES];
    if (rc == OPC_OK) {
        rc = b.rc != OPC_OK ? b.rc : opc__rows_check_batch(b.steps, b.n, b.n_changes, stmts, eb);
    }
    if (rc == OPC_OK) {
        steps_ud u = {su->account.id, b.steps, stmts, b.n, seqs};
        rc = write_tx(Q(s), su->account.id, true, body_steps, &u, eb);
    }
    opc__rows_batch_free(&b);
    if (rc == OPC_ERR_EXISTS) {
        return opc__fail(eb, rc, "an account with this email or id exists");
    }
    return rc;
}

/* A base64url cell decoded into out[n] exactly. */
static bool cell_b64(const PGresult *r, int c, uint8_t *out, size_t n)
{
    const char *v = opc__pg_text(r, 0, c);
    size_t got = 0;
    return v != NULL &&
           opc__b64_decode_to(v, strlen(v), OPC_B64URL, out, n, &got, NULL) == OPC_OK && got == n;
}

static opc_err s_owner_lookup(opc__store *s, const char *email, opc__store_owner *out,
                              opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__pg_arg_text(&a, email);
    PGresult *r = NULL;
    opc_err rc = opc__pg_run_pooled(Q(s)->pool, "store.owner_lookup", &a, &r, eb);
    if (rc == OPC_OK && PQntuples(r) == 0) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "no such account");
    }
    if (rc == OPC_OK) {
        const char *id = opc__pg_text(r, 0, 0);
        int64_t it = opc__pg_int(r, 0, 4);
        if (!opc__id_valid_str(id) || !cell_b64(r, 1, out->srp_salt, sizeof out->srp_salt) ||
            !cell_b64(r, 2, out->verifier, sizeof out->verifier) ||
            !cell_b64(r, 3, out->kdf_salt, sizeof out->kdf_salt) || it < 1 || it > UINT32_MAX) {
            rc = opc__fail(eb, OPC_ERR_IO, "store: malformed sign-in row");
        } else {
            (void)snprintf(out->account, sizeof out->account, "%s", id);
            out->iterations = (uint32_t)it;
        }
    }
    PQclear(r);
    if (rc != OPC_OK) {
        opc__wipe(out, sizeof *out);
    }
    return rc == OPC_OK || rc == OPC_ERR_NOT_FOUND || rc == OPC_ERR_NOMEM ? rc : OPC_ERR_IO;
}

/* The owner's codes stay; the storage's side is OPC_ERR_IO (store.h). */
static opc_err owner_code(opc_err rc, const char *account, opc__ebuf *eb)
{
    switch (rc) {
    case OPC_OK:
        return rc;
    case OPC_ERR_INVALID_ARG:
    case OPC_ERR_CONFLICT:
    case OPC_ERR_EXISTS:
    case OPC_ERR_NOT_FOUND:
    case OPC_ERR_NOMEM:
    case OPC_ERR_RANGE:
    case OPC_ERR_TOO_LARGE:
    case OPC_ERR_INTERNAL:
        break;
    default:
        rc = OPC_ERR_IO;
        break;
    }
    if (eb != NULL && eb->msg[0] == '\0') {
        (void)opc__fail(eb, rc, "%s", opc_strerror(rc));
    }
    opc__ebuf_prefix(eb, "account %s", account);
    return rc;
}

static opc_err s_owner_read(opc__store *s, const char *account, const char *name, const cJSON *args,
                            cJSON **rows, opc__ebuf *eb)
{
    *rows = NULL;
    const opc__rows_stmt *st = NULL;
    const char *own = opc__rows_store_own(name);
    opc_err rc = own != NULL ? opc__fail(eb, OPC_ERR_INVALID_ARG,
                                         "rows: %s is the store's own statement", own)
                             : opc__rows_check_read(name, args, &st, eb);
    opc__pg_conn *c = NULL;
    if (rc == OPC_OK) {
        rc = account_known(s, account, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__pg_take(Q(s)->pool, &c, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__pg_rows_read(c, account, st, args, rows, eb);
        opc__pg_give(Q(s)->pool, c, false);
    }
    return owner_code(rc, account, eb);
}

static opc_err s_owner_batch(opc__store *s, const char *account, const opc__rpc_step *steps,
                             size_t n, int64_t *seqs, size_t *n_seqs, opc__ebuf *eb)
{
    *n_seqs = 0;
    size_t changes = 0;
    opc_err rc = OPC_OK;
    for (size_t i = 0; rc == OPC_OK && i < n; i++) {
        const char *own = opc__rows_store_own(steps[i].stmt);
        if (own != NULL) {
            rc = opc__fail(eb, OPC_ERR_INVALID_ARG,
                           "rows: %s (statement %zu of the batch) is the store's own statement",
                           own, i);
        }
        const opc__rows_stmt *st = opc__rows_find(steps[i].stmt);
        changes += st != NULL && st->kind == OPC__ROWS_CHANGE;
    }
    if (rc == OPC_OK && changes > OPC__RPC_MAX_CHANGES) {
        rc = opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: a batch has at most %d changes",
                       OPC__RPC_MAX_CHANGES);
    }
    const opc__rows_stmt *stmts[OPC__RPC_MAX_STEPS];
    if (rc == OPC_OK) {
        rc = opc__rows_check_batch(steps, n, changes, stmts, eb);
    }
    if (rc == OPC_OK) {
        steps_ud u = {account, steps, stmts, n, seqs};
        rc = write_tx(Q(s), account, false, body_steps, &u, eb);
    }
    if (rc == OPC_OK) {
        *n_seqs = changes;
    }
    return owner_code(rc, account, eb);
}

/* The owner's rows of one account as a rows backend (account/rows.h), so
 * that the account code reads the account row as from a file. */
typedef struct acct_rows {
    opc__store *s;
    char account[OPC_ID_LEN + 1];
} acct_rows;

static opc_err ar_read(void *self, const char *name, const cJSON *args, cJSON **rows, opc__ebuf *eb)
{
    acct_rows *ar = self;
    const opc__rows_stmt *st = NULL;
    opc_err rc = opc__rows_check_read(name, args, &st, eb);
    opc__pg_conn *c = NULL;
    if (rc == OPC_OK) {
        rc = opc__pg_take(Q(ar->s)->pool, &c, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__pg_rows_read(c, ar->account, st, args, rows, eb);
        opc__pg_give(Q(ar->s)->pool, c, false);
    }
    return rc;
}

static opc_err ar_batch(void *self, const opc__rpc_step *steps, size_t n, int64_t *seqs,
                        size_t n_seqs, opc__ebuf *eb)
{
    (void)self;
    (void)steps;
    (void)n;
    (void)seqs;
    (void)n_seqs;
    /* The account row is read only: writes go through owner_batch. */
    return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: this handle only reads the account row");
}

static void ar_close(void *self)
{
    opc__free(self);
}

static const opc__rows_backend acct_rows_vt = {ar_read, ar_batch, ar_close};

static opc_err s_owner_account(opc__store *s, const char *account, opc__proto_account *out,
                               opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    opc__rows *rows = opc__calloc(1, sizeof *rows);
    acct_rows *ar = opc__calloc(1, sizeof *ar);
    if (rows == NULL || ar == NULL) {
        opc__free(rows);
        opc__free(ar);
        return OPC_ERR_NOMEM;
    }
    ar->s = s;
    (void)snprintf(ar->account, sizeof ar->account, "%s", account);
    rows->vt = &acct_rows_vt;
    rows->self = ar;
    opc_account *a = NULL;
    opc_err rc = opc__account_open_rows(rows, &a, eb);
    if (rc == OPC_OK) {
        rc = opc__account_row(a, out, eb);
    }
    opc_account_free(a);
    if (rc == OPC_ERR_PARSE && eb != NULL && strstr(eb->msg, "has no account") != NULL) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "no such account %s", account);
    }
    return connect_code(rc, false, account, eb);
}

static int s_count(opc__store *s)
{
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    PGresult *r = NULL;
    int n = -1;
    if (opc__pg_run_pooled(Q(s)->pool, "store.count", &a, &r, &eb) == OPC_OK && PQntuples(r) == 1) {
        n = (int)opc__pg_int(r, 0, 0);
    }
    PQclear(r);
    return n;
}

static void s_shutdown(opc__store *s)
{
    pgs *q = Q(s);
    (void)pthread_mutex_lock(&q->mu);
    q->stopping = true;
    bump_all_locked(q);
    (void)pthread_mutex_unlock(&q->mu);
    ssize_t w = write(q->wake[1], "x", 1);
    (void)w;
}

static void s_close(opc__store *s)
{
    pgs *q = Q(s);
    if (q == NULL) {
        return;
    }
    if (q->listener_started) {
        s_shutdown(s);
        (void)pthread_join(q->listener, NULL);
    }
    for (size_t b = 0; b < OPC_PG_BUCKETS; b++) {
        gen_ent *e = q->buckets[b];
        while (e != NULL) {
            gen_ent *next = e->next;
            (void)pthread_cond_destroy(&e->cond);
            opc__free(e);
            e = next;
        }
    }
    opc__pg_pool_free(q->pool);
    (void)close(q->wake[0]);
    (void)close(q->wake[1]);
    (void)pthread_mutex_destroy(&q->mu);
    opc__free(q);
    s->impl = NULL;
}

static const opc__store_ops pg_ops = {
    .account = s_account,
    .device_key = s_device_key,
    .changes = s_changes,
    .issuer_key = s_issuer_key,
    .access = s_access,
    .vault = s_vault,
    .vault_items = s_vault_items,
    .item = s_item,
    .item_files = s_item_files,
    .vault_files = s_vault_files,
    .token = s_token,
    .item_put = s_item_put,
    .item_delete = s_item_delete,
    .owner_create = s_owner_create,
    .owner_lookup = s_owner_lookup,
    .owner_account = s_owner_account,
    .owner_read = s_owner_read,
    .owner_batch = s_owner_batch,
    .generation = s_generation,
    .wait = s_wait,
    .count = s_count,
    .session_put = opc__pg_session_put,
    .session_get = opc__pg_session_get,
    .session_use = opc__pg_session_use,
    .session_end = opc__pg_session_end,
    .nonce_take = opc__pg_nonce_take,
    .limit_hit = opc__pg_limit_hit,
    .limit_until = opc__pg_limit_until,
    .pending_put = opc__pg_pending_put,
    .pending_take = opc__pg_pending_take,
    .state_sweep = opc__pg_state_sweep,
    .shutdown = s_shutdown,
    .close = s_close,
};

opc__pg_pool *opc__pg_store_pool(opc__store *s)
{
    return Q(s)->pool;
}

/* ---- migrations ---- */

static opc_err exec_ok(PGconn *pg, const char *sql, const char *what, opc__ebuf *eb)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    opc_err rc =
        st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? OPC_OK : opc__pg_fail(pg, r, what, eb);
    PQclear(r);
    return rc;
}

static opc_err schema_version(PGconn *pg, int64_t *out, opc__ebuf *eb)
{
    PGresult *r = PQexec(pg, "SELECT coalesce(max(version), 0) FROM opc_schema");
    opc_err rc = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                     ? OPC_OK
                     : opc__pg_fail(pg, r, "schema version", eb);
    *out = rc == OPC_OK ? opc__pg_int(r, 0, 0) : 0;
    PQclear(r);
    return rc;
}

/* Bring the database to OPC_PG_SCHEMA_VERSION, one step per transaction. */
static opc_err migrate(const char *conninfo, opc__ebuf *eb)
{
    PGconn *pg = NULL;
    opc_err rc = opc__pg_connect(conninfo, &pg, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    /* A step may take long on a large database, and wait for another
     * server's migration: no timeouts here. */
    rc = exec_ok(pg, "SET lock_timeout = 0; SET statement_timeout = 0", "migration", eb);
    char sql[128];
    (void)snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)", OPC_PG_MIGRATE_LOCK);
    rc = rc == OPC_OK ? exec_ok(pg, sql, "migration lock", eb) : rc;
    if (rc == OPC_OK) {
        rc = exec_ok(pg, "CREATE TABLE IF NOT EXISTS opc_schema (version integer NOT NULL)",
                     "schema version", eb);
    }
    int64_t v = 0;
    if (rc == OPC_OK) {
        rc = schema_version(pg, &v, eb);
    }
    if (rc == OPC_OK && v > OPC_PG_SCHEMA_VERSION) {
        rc = opc__fail(eb, OPC_ERR_UNSUPPORTED,
                       "store: the database has schema version %lld; this program knows up to %d",
                       (long long)v, OPC_PG_SCHEMA_VERSION);
    }
    for (; rc == OPC_OK && v < OPC_PG_SCHEMA_VERSION; v++) {
        rc = exec_ok(pg, "BEGIN", "migration", eb);
        if (rc == OPC_OK) {
            rc = exec_ok(pg, opc__pg_migrations[v], "migration", eb);
        }
        if (rc == OPC_OK) {
            (void)snprintf(sql, sizeof sql,
                           "DELETE FROM opc_schema; INSERT INTO opc_schema VALUES (%lld)",
                           (long long)v + 1);
            rc = exec_ok(pg, sql, "migration", eb);
        }
        rc = rc == OPC_OK ? exec_ok(pg, "COMMIT", "migration", eb)
                          : (exec_ok(pg, "ROLLBACK", "migration", NULL), rc);
        if (rc == OPC_OK) {
            opc__log(OPC_LOG_INFO, "store", "database schema now at version %lld",
                     (long long)v + 1);
        }
    }
    /* The session's end releases the lock too. */
    PQfinish(pg);
    return rc;
}

opc_err opc__store_pg_open(const char *conninfo, int pool, opc__store **out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (conninfo == NULL || conninfo[0] == '\0') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: missing database connection string");
    }
    opc_err rc = migrate(conninfo, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__store *s = opc__calloc(1, sizeof *s);
    pgs *q = opc__calloc(1, sizeof *q);
    if (s == NULL || q == NULL) {
        opc__free(s);
        opc__free(q);
        return OPC_ERR_NOMEM;
    }
    q->wake[0] = q->wake[1] = -1;
    rc = opc__pg_pool_new(conninfo, pool, &q->pool, eb);
    if (rc == OPC_OK && pipe(q->wake) != 0) {
        rc = opc__fail(eb, OPC_ERR_IO, "store: cannot make a pipe");
    }
    if (rc != OPC_OK) {
        opc__pg_pool_free(q->pool);
        opc__free(s);
        opc__free(q);
        return rc;
    }
    (void)pthread_mutex_init(&q->mu, NULL);
    s->ops = &pg_ops;
    s->impl = q;
    q->listener_started = pthread_create(&q->listener, NULL, listener_main, q) == 0;
    *out = s;
    return OPC_OK;
}
