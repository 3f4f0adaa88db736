/*
 * upstream/local.c - the local account.db backend (upstream.h).
 *
 * Opens the account file with a locked, never-unlockable handle
 * (opc__account_open_export): everything it reads is ciphertext, and the
 * item writes it makes (account/import.h) store ciphertext sealed by the
 * caller. The SQLite connection is read-write; concurrent writers wait on
 * the file's lock up to its busy timeout (5 s), then fail with OPC_ERR_IO.
 * Before every call it checks that the path is still there and readable
 * (and writable, for writes), and
 * reopens the file when it was replaced (another inode), so a removed,
 * renamed or chmod'ed account file shows as OPC_ERR_IO at once even though
 * an open SQLite handle would keep reading the old inode. The long wait of
 * changes() reads the feed again as soon as a file of the account changes
 * (core/watch.h: `op` committing shows as a write of account.db-wal), and
 * at least every OPC_UPSTREAM_LOCAL_POLL_MS.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "account/export.h"
#include "account/feed.h"
#include "account/import.h"
#include "core/alloc.h"
#include "core/time.h"
#include "core/watch.h"
#include "upstream/upstream.h"

typedef struct local {
    char *path;
    opc__watch *watch; /* the account file's directory; NULL: plain polling */
    opc_account *a;
    dev_t dev;
    ino_t ino;
} local;

static void local_drop(local *l)
{
    opc_account_free(l->a);
    l->a = NULL;
}

/* The handle, (re)opened as needed; OPC_ERR_IO when the file is not usable. */
static opc_err ensure(opc__upstream *u, bool write, opc__ebuf *eb)
{
    local *l = u->impl;
    struct stat sb;
    if (stat(l->path, &sb) != 0 || access(l->path, write ? R_OK | W_OK : R_OK) != 0) {
        int e = errno;
        local_drop(l);
        return opc__fail(eb, OPC_ERR_IO, "upstream account file %s: %s", l->path, strerror(e));
    }
    if (l->a != NULL && (sb.st_dev != l->dev || sb.st_ino != l->ino)) {
        local_drop(l);
    }
    if (l->a != NULL) {
        return OPC_OK;
    }
    opc__ebuf oeb;
    opc__ebuf_clear(&oeb);
    opc_err rc = opc__account_open_export(l->path, &l->a, &oeb);
    if (rc != OPC_OK) {
        l->a = NULL;
        return opc__fail(eb, rc == OPC_ERR_NOMEM ? rc : OPC_ERR_IO, "upstream: %s", oeb.msg);
    }
    const char *id = opc_account_id(l->a);
    if (id == NULL || strcmp(id, u->account_id) != 0) {
        local_drop(l);
        return opc__fail(eb, OPC_ERR_IO, "upstream account file %s holds another account", l->path);
    }
    l->dev = sb.st_dev;
    l->ino = sb.st_ino;
    return OPC_OK;
}

/*
 * Map an account call's failure (opc__account_upstream_code): NOT_FOUND,
 * NOMEM, INVALID_ARG stay (and for a write, the caller's problems); the
 * rest is IO.
 */
static opc_err mapped(opc__upstream *u, opc_err rc, bool write, opc__ebuf *eb)
{
    if (rc == OPC_OK) {
        return rc;
    }
    local *l = u->impl;
    const char *msg = l->a != NULL ? opc_account_errmsg(l->a) : "";
    opc_err code = opc__account_upstream_code(rc, write);
    rc =
        opc__fail(eb, code, "upstream: %s", msg == NULL || msg[0] == '\0' ? opc_strerror(rc) : msg);
    if (code == OPC_ERR_IO) {
        local_drop(l);
    }
    return rc;
}

/* The state of one long poll. */
typedef struct l_poll {
    opc__upstream *u;
    size_t limit;
    opc__ebuf *eb;
} l_poll;

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* One read of the feed for the long poll (account/feed.h). */
static opc_err l_read(void *ud, int64_t since, cJSON **out, int64_t *out_next)
{
    l_poll *p = ud;
    opc_err rc = ensure(p->u, false, p->eb);
    if (rc != OPC_OK) {
        return rc;
    }
    local *l = p->u->impl;
    return mapped(p->u,
                  opc__account_changes(l->a, p->u->server_id, since, p->limit, out, out_next),
                  false, p->eb);
}

/* Until the account file changes, or at most ms; true once interrupted. */
static bool l_pause(void *ud, int64_t ms)
{
    l_poll *p = ud;
    const local *l = p->u->impl;
    if (atomic_load(&p->u->interrupted) != 0) {
        return true;
    }
    if (l->watch != NULL) {
        (void)opc__watch_wait(l->watch, (int)ms);
    } else {
        sleep_ms(ms);
    }
    return atomic_load(&p->u->interrupted) != 0;
}

static opc_err l_changes(opc__upstream *u, int64_t since, size_t limit, int64_t wait_ms,
                         cJSON **out, int64_t *out_next, opc__ebuf *eb)
{
    atomic_store(&u->interrupted, 0);
    l_poll p = {.u = u, .limit = limit, .eb = eb};
    return opc__account_changes_wait(since, wait_ms, OPC_UPSTREAM_LOCAL_POLL_MS, l_read, l_pause,
                                     &p, out, out_next);
}

typedef opc_err (*export_fn)(opc_account *a, const char *server_id, const char *id, cJSON **out);

static opc_err fetch(opc__upstream *u, export_fn fn, const char *id, cJSON **out, opc__ebuf *eb)
{
    opc_err rc = ensure(u, false, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    local *l = u->impl;
    return mapped(u, fn(l->a, u->server_id, id, out), false, eb);
}

static opc_err l_issuer_key(opc__upstream *u, const char *kid, cJSON **out, opc__ebuf *eb)
{
    opc_err rc = ensure(u, false, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    local *l = u->impl;
    return mapped(u, opc__account_export_issuer_key(l->a, kid, out), false, eb);
}

static opc_err l_access(opc__upstream *u, const char *id, cJSON **out, opc__ebuf *eb)
{
    return fetch(u, opc__account_export_access, id, out, eb);
}

static opc_err l_vault(opc__upstream *u, const char *id, cJSON **out, opc__ebuf *eb)
{
    return fetch(u, opc__account_export_vault, id, out, eb);
}

static opc_err l_vault_items(opc__upstream *u, const char *id, const char *after, size_t limit,
                             cJSON **out, opc__ebuf *eb)
{
    opc_err rc = ensure(u, false, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    local *l = u->impl;
    rc = opc__account_export_vault_items(l->a, u->server_id, id, after, limit, out);
    return mapped(u, rc, false, eb);
}

static opc_err l_item(opc__upstream *u, const char *id, cJSON **out, opc__ebuf *eb)
{
    return fetch(u, opc__account_export_item, id, out, eb);
}

static opc_err l_item_files(opc__upstream *u, const char *id, const char *after_file,
                            int64_t after_idx, size_t limit, cJSON **out, opc__ebuf *eb)
{
    opc_err rc = ensure(u, false, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    local *l = u->impl;
    rc = opc__account_export_item_files(l->a, u->server_id, id, after_file, after_idx, limit, out);
    return mapped(u, rc, false, eb);
}

static opc_err l_vault_files(opc__upstream *u, const char *vault, const char *after_item,
                             const char *after_file, int64_t after_idx, const char *last_item,
                             size_t limit, cJSON **out, opc__ebuf *eb)
{
    opc_err rc = ensure(u, false, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    local *l = u->impl;
    rc = opc__account_export_vault_files(l->a, u->server_id, vault, after_item, after_file,
                                         after_idx, last_item, limit, out);
    return mapped(u, rc, false, eb);
}

static opc_err l_token(opc__upstream *u, const char *id, cJSON **out, opc__ebuf *eb)
{
    return fetch(u, opc__account_export_token, id, out, eb);
}

static opc_err l_item_put(opc__upstream *u, const opc__item_write *w, cJSON **out_item,
                          cJSON **out_vault, opc__ebuf *eb)
{
    opc_err rc = ensure(u, true, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    local *l = u->impl;
    rc = opc__account_server_item_put(l->a, u->server_id, w, opc__now_s(), out_item, out_vault,
                                      NULL);
    return mapped(u, rc, true, eb);
}

static opc_err l_item_delete(opc__upstream *u, const char *vault, const char *item,
                             int64_t expected_version, cJSON **out_item, cJSON **out_vault,
                             opc__ebuf *eb)
{
    opc_err rc = ensure(u, true, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    local *l = u->impl;
    rc = opc__account_server_item_delete(l->a, u->server_id, vault, item, expected_version,
                                         opc__now_s(), out_item, out_vault, NULL);
    return mapped(u, rc, true, eb);
}

static void l_close(opc__upstream *u)
{
    local *l = u->impl;
    if (l != NULL) {
        local_drop(l);
        opc__watch_close(l->watch);
        opc__free(l->path);
        opc__free(l);
        u->impl = NULL;
    }
}

static const opc__upstream_ops local_ops = {
    .changes = l_changes,
    .issuer_key = l_issuer_key,
    .access = l_access,
    .vault = l_vault,
    .vault_items = l_vault_items,
    .item = l_item,
    .item_files = l_item_files,
    .vault_files = l_vault_files,
    .token = l_token,
    .item_put = l_item_put,
    .item_delete = l_item_delete,
    .close = l_close,
};

opc_err opc__upstream_local_init(opc__upstream *u, const char *path, opc__ebuf *eb)
{
    (void)eb;
    local *l = opc__calloc(1, sizeof *l);
    if (l == NULL) {
        return OPC_ERR_NOMEM;
    }
    l->path = opc__strdup(path);
    if (l->path == NULL) {
        opc__free(l);
        return OPC_ERR_NOMEM;
    }
    /* Without inotify the watch only times out: the wait polls (core/watch.h). */
    opc_err rc = opc__watch_open(path, &l->watch);
    if (rc != OPC_OK) {
        opc__free(l->path);
        opc__free(l);
        return rc;
    }
    u->impl = l;
    u->ops = &local_ops;
    return OPC_OK;
}
