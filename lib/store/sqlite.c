/*
 * store/sqlite.c - the SQLite store (store.h): a directory of account
 * files, one account per file, each the account.db `op` writes.
 *
 * The index maps an account id (read from inside each file) to its path.
 * It is filled by a scan of the directory at open and again when a lookup
 * misses, at most once per OPC_STORE_RESCAN_MS, so that an account file
 * copied in (`op account create --account <dir>/<name>.db`) is served
 * without a restart. Two files of one account: the first found is served,
 * the other is logged and ignored. An account stays indexed once found; a
 * file that went away is OPC_ERR_IO until it is back.
 *
 * Each account keeps up to OPC_STORE_POOL idle LOCKED handles
 * (opc__account_open_export: the store never unlocks anything, it reads
 * and writes ciphertext); a request takes one, or opens another when none
 * is idle, and gives it back after the call. A handle that saw an
 * I/O-class failure is closed instead, and all idle handles are closed
 * when the file was replaced (another inode: a restore from backup).
 * Writers of one file serialize on SQLite's lock (busy timeout 5 s).
 *
 * The owner's store protocol (owner_read, owner_batch) runs on the same
 * pooled handles, through each handle's local implementation of
 * account/rows.h (opc__account_rows_read / _batch).
 *
 * The commit generation: item_put, item_delete and owner_batch bump the account's
 * generation and broadcast its condition variable, so a waiting changes()
 * wakes at once for an in-process commit. A direct write of the file by
 * the owner's `op` wakes the waiters through a watch of the directory
 * (core/watch.h: inotify; a thread bumps every account's generation on a
 * change), and without one through the wait's poll, within
 * OPC_STORE_POLL_MS.
 *
 * One mutex guards the index, the pools, the generations and the stop
 * flag; no SQLite call runs under it except the opening scan of new files.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "account/export.h"
#include "account/feed.h"
#include "account/import.h"
#include "account/signup.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "core/watch.h"
#include "store/store.h"

/* Idle handles kept per account; the shortest interval between scans. */
#define OPC_STORE_POOL 4
#define OPC_STORE_RESCAN_MS 1000
#define OPC_STORE_PATH_MAX 4096

typedef struct acct {
    char id[OPC_ID_LEN + 1];
    char *email; /* lower-case, as the file holds it */
    char *path;
    dev_t dev;
    ino_t ino;
    opc_account *idle[OPC_STORE_POOL];
    size_t n_idle;
    uint64_t gen;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    struct acct *next;
} acct;

typedef struct sq {
    char *dir;
    pthread_mutex_t mu;
    pthread_mutex_t signup; /* one sign-up at a time: one email, one account */
    acct *accts;
    int n;
    int64_t last_scan_ms; /* monotonic; INT64_MIN: never */
    bool stopping;
    opc__watch *watch; /* the directory's files; NULL: waits poll only */
    pthread_t watcher;
    bool watching; /* the watcher thread runs */
} sq;

static acct *find(sq *q, const char *id)
{
    for (acct *ac = q->accts; ac != NULL; ac = ac->next) {
        if (strcmp(ac->id, id) == 0) {
            return ac;
        }
    }
    return NULL;
}

static bool path_known(sq *q, const char *path)
{
    for (acct *ac = q->accts; ac != NULL; ac = ac->next) {
        if (strcmp(ac->path, path) == 0) {
            return true;
        }
    }
    return false;
}

/* Index the file at path, whose open handle a is (kept in the pool). */
static opc_err add(sq *q, const char *path, const struct stat *sb, opc_account *a)
{
    const char *id = opc_account_id(a);
    if (id == NULL || !opc__id_valid_str(id)) {
        return OPC_ERR_PARSE;
    }
    acct *dup = find(q, id);
    if (dup != NULL) {
        opc__log(OPC_LOG_WARN, "store", "%s holds account %s, already served from %s: ignored",
                 path, id, dup->path);
        return OPC_ERR_EXISTS;
    }
    const char *email = opc_account_email(a);
    acct *ac = opc__calloc(1, sizeof *ac);
    if (ac == NULL || (ac->path = opc__strdup(path)) == NULL ||
        (ac->email = opc__strdup(email != NULL ? email : "")) == NULL) {
        if (ac != NULL) {
            opc__free(ac->path);
        }
        opc__free(ac);
        return OPC_ERR_NOMEM;
    }
    pthread_condattr_t ca;
    (void)pthread_condattr_init(&ca);
    (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    (void)pthread_cond_init(&ac->cond, &ca);
    (void)pthread_condattr_destroy(&ca);
    memcpy(ac->id, id, OPC_ID_LEN + 1);
    ac->dev = sb->st_dev;
    ac->ino = sb->st_ino;
    ac->idle[0] = a;
    ac->n_idle = 1;
    ac->next = q->accts;
    q->accts = ac;
    q->n++;
    opc__log(OPC_LOG_INFO, "store", "serving account %s from %s", id, path);
    return OPC_OK;
}

/* Read the directory for account files not indexed yet (under q->mu). */
static void scan(sq *q)
{
    q->last_scan_ms = opc__monotonic_ms();
    DIR *d = opendir(q->dir);
    if (d == NULL) {
        opc__log(OPC_LOG_WARN, "store", "cannot read %s: %s", q->dir, strerror(errno));
        return;
    }
    const struct dirent *e;
    char path[OPC_STORE_PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n <= 3 || strcmp(e->d_name + n - 3, ".db") != 0) {
            continue;
        }
        int len = snprintf(path, sizeof path, "%s/%s", q->dir, e->d_name);
        struct stat sb;
        if (len < 0 || (size_t)len >= sizeof path || path_known(q, path) || stat(path, &sb) != 0 ||
            !S_ISREG(sb.st_mode)) {
            continue;
        }
        opc_account *a = NULL;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        if (opc__account_open_export(path, &a, &eb) != OPC_OK) {
            opc__log(OPC_LOG_WARN, "store", "%s is not a usable account file: %s", path, eb.msg);
            continue;
        }
        if (add(q, path, &sb, a) != OPC_OK) {
            opc_account_free(a);
        }
    }
    (void)closedir(d);
}

static void drop_idle(acct *ac)
{
    for (size_t i = 0; i < ac->n_idle; i++) {
        opc_account_free(ac->idle[i]);
        ac->idle[i] = NULL;
    }
    ac->n_idle = 0;
}

/* The account's entry, scanning again on a miss when the last scan is old. */
static acct *lookup(sq *q, const char *id)
{
    acct *ac = find(q, id);
    if (ac == NULL && opc__monotonic_ms() - q->last_scan_ms >= OPC_STORE_RESCAN_MS) {
        scan(q);
        ac = find(q, id);
    }
    return ac;
}

/* A handle on the account's file: an idle one or a new one. */
static opc_err get(sq *q, const char *id, acct **out_ac, opc_account **out, opc__ebuf *eb)
{
    *out = NULL;
    (void)pthread_mutex_lock(&q->mu);
    acct *ac = lookup(q, id);
    if (ac == NULL) {
        (void)pthread_mutex_unlock(&q->mu);
        (void)opc__fail(eb, OPC_ERR_NOT_FOUND, "no such account %s", id);
        return OPC_ERR_NOT_FOUND;
    }
    struct stat sb;
    if (stat(ac->path, &sb) != 0) {
        int e = errno;
        drop_idle(ac);
        (void)pthread_mutex_unlock(&q->mu);
        (void)opc__fail(eb, OPC_ERR_IO, "account %s: %s: %s", id, ac->path, strerror(e));
        return OPC_ERR_IO;
    }
    if (sb.st_dev != ac->dev || sb.st_ino != ac->ino) { /* replaced: a restore */
        drop_idle(ac);
        ac->dev = sb.st_dev;
        ac->ino = sb.st_ino;
    }
    opc_account *a = ac->n_idle > 0 ? ac->idle[--ac->n_idle] : NULL;
    char *path = a == NULL ? opc__strdup(ac->path) : NULL;
    (void)pthread_mutex_unlock(&q->mu);
    *out_ac = ac;
    if (a != NULL) {
        *out = a;
        return OPC_OK;
    }
    if (path == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc__ebuf oeb;
    opc__ebuf_clear(&oeb);
    opc_err rc = opc__account_open_export(path, &a, &oeb);
    opc__free(path);
    if (rc != OPC_OK) {
        rc = rc == OPC_ERR_NOMEM ? rc : OPC_ERR_IO;
        (void)opc__fail(eb, rc, "account %s: %s", id, oeb.msg);
        return rc;
    }
    const char *aid = opc_account_id(a);
    if (aid == NULL || strcmp(aid, id) != 0) {
        opc_account_free(a);
        (void)opc__fail(eb, OPC_ERR_IO, "account %s: its file now holds another account", id);
        return OPC_ERR_IO;
    }
    *out = a;
    return OPC_OK;
}

/* Give the handle back (or close it after an I/O-class failure). */
static void put(sq *q, acct *ac, opc_account *a, bool broken)
{
    (void)pthread_mutex_lock(&q->mu);
    if (!broken && ac->n_idle < OPC_STORE_POOL) {
        ac->idle[ac->n_idle++] = a;
        a = NULL;
    }
    (void)pthread_mutex_unlock(&q->mu);
    opc_account_free(a);
}

/* End a call on a: map rc as the upstream does, give the handle back. */
static opc_err done(sq *q, acct *ac, opc_account *a, opc_err rc, bool write, opc__ebuf *eb)
{
    opc_err code = opc__account_upstream_code(rc, write);
    if (rc != OPC_OK) {
        const char *msg = opc_account_errmsg(a);
        code = opc__fail(eb, code, "account %s: %s", ac->id,
                         msg != NULL && msg[0] != '\0' ? msg : opc_strerror(rc));
    }
    put(q, ac, a, code == OPC_ERR_IO);
    return code;
}

/* A commit through the store: wake the account's waiters. */
static void bump(sq *q, acct *ac)
{
    (void)pthread_mutex_lock(&q->mu);
    ac->gen++;
    (void)pthread_cond_broadcast(&ac->cond);
    (void)pthread_mutex_unlock(&q->mu);
}

/* ---- the operations ---- */

#define Q(s) ((sq *)(s)->impl)

/* Take a handle into `a` (and `ac`), or return the failure. */
#define TAKE(s, account)                                                                           \
    acct *ac = NULL;                                                                               \
    opc_account *a = NULL;                                                                         \
    opc_err rc_ = get(Q(s), (account), &ac, &a, eb);                                               \
    if (rc_ != OPC_OK) {                                                                           \
        return rc_;                                                                                \
    }

static opc_err s_account(opc__store *s, const char *account, opc__ebuf *eb)
{
    sq *q = Q(s);
    (void)pthread_mutex_lock(&q->mu);
    bool found = lookup(q, account) != NULL;
    (void)pthread_mutex_unlock(&q->mu);
    return found ? OPC_OK : opc__fail(eb, OPC_ERR_NOT_FOUND, "no such account %s", account);
}

static opc_err s_device_key(opc__store *s, const char *account, const char *server, opc__key **out,
                            opc__ebuf *eb)
{
    TAKE(s, account);
    opc_err rc = opc__account_export_device_key(a, server, out);
    /* A key the file cannot give is the file's problem, but not the store's
     * I/O: keep it apart so the handshake can say what it was. */
    if (rc == OPC_ERR_KEY) {
        put(Q(s), ac, a, false);
        return opc__fail(eb, rc, "account %s: server %s: malformed device key", account, server);
    }
    return done(Q(s), ac, a, rc, false, eb);
}

static uint64_t s_generation(opc__store *s, const char *account)
{
    sq *q = Q(s);
    (void)pthread_mutex_lock(&q->mu);
    const acct *ac = find(q, account);
    uint64_t g = ac != NULL ? ac->gen : 0;
    (void)pthread_mutex_unlock(&q->mu);
    return g;
}

static bool s_wait(opc__store *s, const char *account, uint64_t gen, int64_t timeout_ms)
{
    sq *q = Q(s);
    struct timespec until;
    (void)clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    (void)pthread_mutex_lock(&q->mu);
    acct *ac = find(q, account);
    bool moved = false;
    while (ac != NULL && !q->stopping) {
        moved = ac->gen != gen;
        if (moved || pthread_cond_timedwait(&ac->cond, &q->mu, &until) == ETIMEDOUT) {
            moved = ac->gen != gen;
            break;
        }
    }
    (void)pthread_mutex_unlock(&q->mu);
    return moved;
}

static bool stopping(sq *q)
{
    (void)pthread_mutex_lock(&q->mu);
    bool st = q->stopping;
    (void)pthread_mutex_unlock(&q->mu);
    return st;
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
    opc__ebuf *eb = p->eb;
    /* The generation before the read: a commit after it ends the pause. */
    p->gen = s_generation(p->s, p->account);
    TAKE(p->s, p->account);
    return done(Q(p->s), ac, a, opc__account_changes(a, p->server, since, p->limit, out, out_next),
                false, eb);
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
        wait_ms = 0; /* shut down: answer at once */
    }
    return opc__account_changes_wait(since, wait_ms, OPC_STORE_POLL_MS, s_read, s_pause, &p, out,
                                     out_next);
}

static opc_err s_issuer_key(opc__store *s, const char *account, const char *kid, cJSON **out,
                            opc__ebuf *eb)
{
    TAKE(s, account);
    return done(Q(s), ac, a, opc__account_export_issuer_key(a, kid, out), false, eb);
}

static opc_err s_access(opc__store *s, const char *account, const char *server, const char *vault,
                        cJSON **out, opc__ebuf *eb)
{
    TAKE(s, account);
    return done(Q(s), ac, a, opc__account_export_access(a, server, vault, out), false, eb);
}

static opc_err s_vault(opc__store *s, const char *account, const char *server, const char *vault,
                       cJSON **out, opc__ebuf *eb)
{
    TAKE(s, account);
    return done(Q(s), ac, a, opc__account_export_vault(a, server, vault, out), false, eb);
}

static opc_err s_vault_items(opc__store *s, const char *account, const char *server,
                             const char *vault, const char *after, size_t limit, cJSON **out,
                             opc__ebuf *eb)
{
    TAKE(s, account);
    opc_err rc = opc__account_export_vault_items(a, server, vault, after, limit, out);
    return done(Q(s), ac, a, rc, false, eb);
}

static opc_err s_item(opc__store *s, const char *account, const char *server, const char *item,
                      cJSON **out, opc__ebuf *eb)
{
    TAKE(s, account);
    return done(Q(s), ac, a, opc__account_export_item(a, server, item, out), false, eb);
}

static opc_err s_item_files(opc__store *s, const char *account, const char *server,
                            const char *item, const char *after_file, int64_t after_idx,
                            size_t limit, cJSON **out, opc__ebuf *eb)
{
    TAKE(s, account);
    opc_err rc = opc__account_export_item_files(a, server, item, after_file, after_idx, limit, out);
    return done(Q(s), ac, a, rc, false, eb);
}

static opc_err s_vault_files(opc__store *s, const char *account, const char *server,
                             const char *vault, const char *after_item, const char *after_file,
                             int64_t after_idx, const char *last_item, size_t limit, cJSON **out,
                             opc__ebuf *eb)
{
    TAKE(s, account);
    opc_err rc = opc__account_export_vault_files(a, server, vault, after_item, after_file,
                                                 after_idx, last_item, limit, out);
    return done(Q(s), ac, a, rc, false, eb);
}

static opc_err s_token(opc__store *s, const char *account, const char *server, const char *jti,
                       cJSON **out, opc__ebuf *eb)
{
    TAKE(s, account);
    return done(Q(s), ac, a, opc__account_export_token(a, server, jti, out), false, eb);
}

static opc_err s_item_put(opc__store *s, const char *account, const char *server,
                          const opc__item_write *w, cJSON **out_item, cJSON **out_vault,
                          opc__ebuf *eb)
{
    TAKE(s, account);
    opc_err rc =
        opc__account_server_item_put(a, server, w, opc__now_s(), out_item, out_vault, NULL);
    rc = done(Q(s), ac, a, rc, true, eb);
    if (rc == OPC_OK) {
        bump(Q(s), ac);
    }
    return rc;
}

static opc_err s_item_delete(opc__store *s, const char *account, const char *server,
                             const char *vault, const char *item, int64_t expected_version,
                             cJSON **out_item, cJSON **out_vault, opc__ebuf *eb)
{
    TAKE(s, account);
    opc_err rc = opc__account_server_item_delete(a, server, vault, item, expected_version,
                                                 opc__now_s(), out_item, out_vault, NULL);
    rc = done(Q(s), ac, a, rc, true, eb);
    if (rc == OPC_OK) {
        bump(Q(s), ac);
    }
    return rc;
}

/* ---- the owner's operations ---- */

static acct *find_email(sq *q, const char *email)
{
    for (acct *ac = q->accts; ac != NULL; ac = ac->next) {
        if (strcmp(ac->email, email) == 0) {
            return ac;
        }
    }
    return NULL;
}

static opc_err s_owner_create(opc__store *s, const opc__proto_signup *su, opc__ebuf *eb)
{
    sq *q = Q(s);
    const char *id = su->account.id;
    char path[OPC_STORE_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s.db", q->dir, id);
    if (n < 0 || (size_t)n >= sizeof path) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: path too long");
    }
    (void)pthread_mutex_lock(&q->signup);
    /* A scan first (whatever the last one was), so that a file put into
     * the directory by hand counts as well. */
    (void)pthread_mutex_lock(&q->mu);
    scan(q);
    bool taken = find_email(q, su->account.email) != NULL || find(q, id) != NULL;
    (void)pthread_mutex_unlock(&q->mu);
    opc_err rc = OPC_OK;
    if (taken) {
        rc = opc__fail(eb, OPC_ERR_EXISTS, "an account with this email or id exists");
    }
    if (rc == OPC_OK) {
        opc__ebuf ceb;
        opc__ebuf_clear(&ceb);
        rc = opc__account_create_signup(path, su, &ceb);
        if (rc != OPC_OK) {
            rc = rc == OPC_ERR_EXISTS || rc == OPC_ERR_NOMEM || rc == OPC_ERR_INVALID_ARG
                     ? rc
                     : OPC_ERR_IO;
            (void)opc__fail(eb, rc, "account %s: %s", id, ceb.msg);
        }
    }
    if (rc == OPC_OK) {
        opc_account *a = NULL;
        struct stat sb;
        opc__ebuf oeb;
        opc__ebuf_clear(&oeb);
        rc = opc__account_open_export(path, &a, &oeb);
        if (rc == OPC_OK && stat(path, &sb) != 0) {
            rc = OPC_ERR_IO;
        }
        if (rc == OPC_OK) {
            (void)pthread_mutex_lock(&q->mu);
            rc = add(q, path, &sb, a);
            (void)pthread_mutex_unlock(&q->mu);
        }
        if (rc != OPC_OK) {
            opc_account_free(a);
            rc = opc__fail(eb, rc == OPC_ERR_NOMEM ? rc : OPC_ERR_IO,
                           "account %s: created but cannot be served", id);
        }
    }
    (void)pthread_mutex_unlock(&q->signup);
    return rc;
}

static opc_err s_owner_lookup(opc__store *s, const char *email, opc__store_owner *out,
                              opc__ebuf *eb)
{
    sq *q = Q(s);
    /* No rescan on a miss: an unknown email must cost what a known one
     * does (a scan would be a timing oracle), and a file put in by hand
     * has no SRP row anyway; sign-ups are indexed as they are made. */
    (void)pthread_mutex_lock(&q->mu);
    acct *found = find_email(q, email);
    char id[OPC_ID_LEN + 1] = "";
    if (found != NULL) {
        memcpy(id, found->id, sizeof id);
    }
    (void)pthread_mutex_unlock(&q->mu);
    if (found == NULL) {
        return opc__fail(eb, OPC_ERR_NOT_FOUND, "no account for this email");
    }
    TAKE(s, id);
    opc__proto_account row;
    opc_err rc = opc__account_srp(a, out->srp_salt, out->verifier, eb);
    if (rc == OPC_OK) {
        rc = opc__account_row(a, &row, eb);
    }
    if (rc == OPC_OK) {
        memcpy(out->account, id, sizeof out->account);
        memcpy(out->kdf_salt, row.kdf_salt, sizeof out->kdf_salt);
        out->iterations = row.iterations;
        opc__proto_account_clear(&row);
    }
    if (rc == OPC_ERR_NOT_FOUND) { /* an account without SRP: a local file */
        put(q, ac, a, false);
        return rc;
    }
    return done(q, ac, a, rc, false, eb);
}

static opc_err s_owner_account(opc__store *s, const char *account, opc__proto_account *out,
                               opc__ebuf *eb)
{
    TAKE(s, account);
    return done(Q(s), ac, a, opc__account_row(a, out, eb), false, eb);
}

/* End an owner's rows call: the owner's codes stay (store.h), the
 * storage's side is OPC_ERR_IO (and closes the handle). */
static opc_err owner_done(sq *q, acct *ac, opc_account *a, opc_err rc, opc__ebuf *eb)
{
    switch (rc) {
    case OPC_OK:
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
        rc = OPC_ERR_IO; /* busy, read-only, corrupt (PARSE), ... */
        break;
    }
    if (rc != OPC_OK) {
        if (eb != NULL && eb->msg[0] == '\0') {
            (void)opc__fail(eb, rc, "%s", opc_strerror(rc));
        }
        opc__ebuf_prefix(eb, "account %s", ac->id);
    }
    put(q, ac, a, rc == OPC_ERR_IO);
    return rc;
}

static opc_err s_owner_read(opc__store *s, const char *account, const char *name, const cJSON *args,
                            cJSON **rows, opc__ebuf *eb)
{
    TAKE(s, account);
    return owner_done(Q(s), ac, a, opc__account_rows_read(a, name, args, rows, eb), eb);
}

static opc_err s_owner_batch(opc__store *s, const char *account, const opc__rpc_step *steps,
                             size_t n, int64_t *seqs, size_t *n_seqs, opc__ebuf *eb)
{
    TAKE(s, account);
    opc_err rc = opc__account_rows_batch(a, steps, n, seqs, n_seqs, eb);
    rc = owner_done(Q(s), ac, a, rc, eb);
    if (rc == OPC_OK) {
        bump(Q(s), ac);
    }
    return rc;
}

static int s_count(opc__store *s)
{
    sq *q = Q(s);
    (void)pthread_mutex_lock(&q->mu);
    int n = q->n;
    (void)pthread_mutex_unlock(&q->mu);
    return n;
}

/* A file of the directory changed (the owner's `op` writing an account
 * file directly): wake every waiter, which reads its feed again. The store
 * does not know which file, so all accounts' generations move. */
static void bump_all(sq *q)
{
    (void)pthread_mutex_lock(&q->mu);
    for (acct *ac = q->accts; ac != NULL; ac = ac->next) {
        ac->gen++;
        (void)pthread_cond_broadcast(&ac->cond);
    }
    (void)pthread_mutex_unlock(&q->mu);
}

/* The watcher thread: a change wakes the waiters at once, and so does each
 * of the short waits core/watch.h makes after one (a commit is published in
 * the -shm index, which gives no event, a moment after its -wal write). */
static void *watcher_main(void *arg)
{
    sq *q = arg;
    while (!stopping(q)) {
        int64_t t0 = opc__monotonic_ms();
        opc__watch_event ev = opc__watch_wait(q->watch, 1000);
        if (ev == OPC_WATCH_CHANGED ||
            (ev == OPC_WATCH_TIMEOUT && opc__monotonic_ms() - t0 < 900)) {
            bump_all(q);
        }
    }
    return NULL;
}

static void s_shutdown(opc__store *s)
{
    sq *q = Q(s);
    (void)pthread_mutex_lock(&q->mu);
    q->stopping = true;
    for (acct *ac = q->accts; ac != NULL; ac = ac->next) {
        (void)pthread_cond_broadcast(&ac->cond);
    }
    (void)pthread_mutex_unlock(&q->mu);
    if (q->watch != NULL) {
        opc__watch_wake(q->watch);
    }
}

static void s_close(opc__store *s)
{
    sq *q = Q(s);
    if (q == NULL) {
        return;
    }
    if (q->watching) {
        s_shutdown(s);
        (void)pthread_join(q->watcher, NULL);
        q->watching = false;
    }
    opc__watch_close(q->watch);
    acct *ac = q->accts;
    while (ac != NULL) {
        acct *next = ac->next;
        drop_idle(ac);
        (void)pthread_cond_destroy(&ac->cond);
        opc__free(ac->path);
        opc__free(ac->email);
        opc__free(ac);
        ac = next;
    }
    (void)pthread_mutex_destroy(&q->mu);
    (void)pthread_mutex_destroy(&q->signup);
    opc__free(q->dir);
    opc__free(q);
    s->impl = NULL;
}

static const opc__store_ops sqlite_ops = {
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
    .shutdown = s_shutdown,
    .close = s_close,
};

opc_err opc__store_sqlite_open(const char *dir, opc__store **out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (dir == NULL || dir[0] == '\0' || strlen(dir) > OPC_STORE_PATH_MAX - 64) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: missing or too long directory");
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        return opc__fail(eb, OPC_ERR_IO, "store: %s is not a directory", dir);
    }
    opc__store *s = opc__calloc(1, sizeof *s);
    sq *q = opc__calloc(1, sizeof *q);
    if (s == NULL || q == NULL || (q->dir = opc__strdup(dir)) == NULL) {
        opc__free(s);
        opc__free(q);
        return OPC_ERR_NOMEM;
    }
    (void)pthread_mutex_init(&q->mu, NULL);
    (void)pthread_mutex_init(&q->signup, NULL);
    q->last_scan_ms = INT64_MIN / 2;
    s->ops = &sqlite_ops;
    s->impl = q;
    (void)pthread_mutex_lock(&q->mu);
    scan(q);
    (void)pthread_mutex_unlock(&q->mu);
    /* Without a watch (no memory) the waits poll alone; without inotify the
     * watcher's waits only time out, and wake nobody. */
    char watched[OPC_STORE_PATH_MAX];
    (void)snprintf(watched, sizeof watched, "%s/", dir);
    if (opc__watch_open(watched, &q->watch) == OPC_OK) {
        q->watching = pthread_create(&q->watcher, NULL, watcher_main, q) == 0;
    }
    *out = s;
    return OPC_OK;
}
