/*
 * sync/sync.h - internals of connect-sync (<opconnect/sync.h>).
 *
 * How a feed entry (account/feed.h) is applied to the cache:
 *   issuer_key                  reload the key (gone upstream: delete)
 *   grant                       reload the whole vault, page by page: every
 *                               item with its file chunks (those of a page's
 *                               items read together, in chunk pages), cached
 *                               items no longer upstream dropped; then the
 *                               grant and vault rows (grant gone: drop the
 *                               vault)
 *   grant_revoke, vault_delete  drop the vault and everything in it
 *   vault_create, vault_update  reload the vault row (out of scope: drop)
 *   item_upsert, file_add       reload the item and its files (gone: delete);
 *                               monotonic: a cached newer version stays
 *   item_delete                 delete the item and its files unless a
 *                               newer version is cached
 *   token_*                     reload the registry row (gone: delete)
 *   server_*, unknown kinds     nothing
 * Rows are read in their current state, so applying an old entry is
 * idempotent and the cache converges to the upstream. Item and vault rows
 * follow cache.h's monotonic rule, so a row fetched before a connect-api
 * write-through and applied after it cannot roll the write back. Vault rows touched by
 * item changes are reloaded once per page.
 *
 * Fetch first, then apply: the rows a page of the feed needs are fetched
 * before the cache's write lock is taken, so a slow upstream never blocks
 * the cache's other writers (connect-api's write-through). Memory is
 * bounded: a vault's items and an item's file chunks are fetched in pages,
 * and when the fetched rows outgrow the batch budget they are applied in a
 * transaction of their own, without the cursor. The rest and the new cursor
 * are the page's last transaction, so the cursor only advances with the data
 * it covers: a crash in between leaves whole items (an item, its files and
 * the cached items next to it that are gone upstream change in one
 * transaction) and a cursor that replays the page, which is idempotent. The
 * unit of a transaction is an item with all its files, so one item's files
 * (at most a few files of OPC_ACCOUNT_MAX_FILE_SIZE) may exceed the budget.
 *
 * The initial sync skips what a later grant reloads anyway. A Connect server
 * is usually created after its vaults filled up, so its feed lists every
 * item change of a vault and then the vault's grant, whose load reads the
 * vault's whole current state (items, files, vault row; cached items gone
 * upstream dropped). Until the initial sync is complete, the sync reads the
 * feed's remaining entries once, ids only (OPC_UPSTREAM_MAX_LIMIT a call),
 * and keeps the newest grant entry of each vault; an item entry
 * (item_upsert, file_add, item_delete) of a vault whose grant comes later in
 * the feed is then skipped. The grant is still ahead of the cursor (a
 * cursor only passes entries it applied, and grant entries name the server,
 * so they stay visible), so a crash anywhere still ends with the grant
 * applied. The cost: until the grant is applied, a vault the cache already
 * shows (resumed initial sync, or a second grant of one vault) keeps its
 * older items a little longer; a fresh vault shows only with its grant row.
 *
 * The cache lost while running (issue 15). Every step starts by asking
 * whether the path still names the file the sync's handle has open, whole
 * (opc__cache_file_check: deleted, the data directory removed, replaced by
 * another file, truncated or overwritten in place), and a step that fails
 * with SQLite finding the file damaged (opc__cache_damaged) counts the
 * same. Then the sync logs one warning, closes its handle, removes what is
 * at the path (the file and its side files: opc__cache_remove), creates a
 * new cache and syncs it from cursor 0 like a first start; /health says
 * REBUILDING until that initial sync is complete (status.c), and connect-api
 * answers 503 meanwhile (view/index.h). A new file that cannot be made (a
 * read-only or full disk) is tried again at every step with the usual
 * backoff, /health saying NOT_CONNECTED. So within a step (about a second
 * when idle: OPC_SYNC_WAIT_MS) of the loss, without a restart.
 */
#ifndef OPC_SYNC_SYNC_H
#define OPC_SYNC_SYNC_H

#include <pthread.h>
#include <stdatomic.h>

#include <opconnect/sync.h>

#include "cache/cache.h"
#include "core/err.h"
#include "internal.h"
#include "upstream/upstream.h"

/* Defaults. */
#define OPC_SYNC_PAGE_SIZE 500
/*
 * Until the initial sync is complete, feed pages are this many times
 * bigger (at most OPC_UPSTREAM_MAX_LIMIT): most of their entries are
 * skipped (above), so fewer steps mean fewer commits and meta writes.
 */
#define OPC_SYNC_INITIAL_PAGE_FACTOR 4
#define OPC_SYNC_WAIT_MS 1000
#define OPC_SYNC_BACKOFF_BASE_MS 100
#define OPC_SYNC_BACKOFF_MAX_MS 30000
/* Pages of a vault's items and of an item's file chunks, as fetched. */
#define OPC_SYNC_ITEM_PAGE 200
#define OPC_SYNC_CHUNK_PAGE 64
/* Bytes of fetched rows held before they are applied (see above). */
#define OPC_SYNC_BATCH_BYTES ((size_t)8 * 1024 * 1024)
/* Vaults whose rows a page reloads at its end. */
#define OPC_SYNC_MAX_TOUCHED 64
/*
 * A step that brings nothing (an empty page at the cursor, initial sync
 * done, no failure to clear) writes nothing into the cache: connect-api
 * rebuilds its index when the cache changes, so an idle sync must not
 * change it. Its success is kept in memory (the status listener shows it)
 * and written to the cache's meta row at most this often.
 */
#define OPC_SYNC_IDLE_HEALTH_MS 10000

/* The health state, as kept in the cache's meta row (and in memory, sync.c). */
typedef struct opc__sync_health {
    int64_t cursor;
    bool initial;
    int64_t last_attempt_ms;
    int64_t last_success_ms;
    int64_t last_success_stored_ms; /* last_success_ms as the cache holds it */
    int64_t failures;
    char last_error[OPC_CACHE_MAX_ERROR + 1];
    /* The cache lost while running (below); memory only. */
    bool rebuilding; /* from the loss until the new file's initial sync is complete */
    bool cache_open; /* false while no new file could be made */
    char lost[OPC_CACHE_MAX_ERROR + 1]; /* how it was lost ("" when never) */
} opc__sync_health;

/* A vault's newest grant entry ahead of the cursor (initial sync, above). */
typedef struct opc__sync_grant {
    char vault[OPC_ID_LEN + 1];
    int64_t seq;
} opc__sync_grant;

struct mg_context;

/* Shared by sync.c and status.c. */
struct opc_sync {
    opc__upstream *up;
    opc__cache *cache;
    char *cache_path;
    uint8_t cache_key[OPC_CACHE_MAC_LEN]; /* set on every handle opened, a rebuilt one too */
    bool keyed;
    char server_id[OPC_ID_LEN + 1];
    size_t page;
    size_t item_page;
    size_t chunk_page;
    size_t batch_bytes;
    int64_t wait_ms;
    int64_t backoff_base;
    int64_t backoff_max;
    atomic_int stop;
    bool thread_started;
    pthread_t thread;
    pthread_mutex_t lock; /* guards hl */
    opc__sync_health hl;
    /* Failed attempts to record the health since the last that worked
     * (sync thread; logged when it starts and when it ends, sync.c). */
    int64_t health_unrecorded;
    /* Initial sync: the newest grant entry per vault ahead of the cursor. */
    bool grants_scanned;
    opc__sync_grant *grants;
    size_t n_grants;
    size_t cap_grants;
    /* Per page. */
    char touched[OPC_SYNC_MAX_TOUCHED][OPC_ID_LEN + 1];
    size_t n_touched;
    /* The status listener (status.c): set and cleared under http_lock. */
    pthread_mutex_t http_lock;
    struct mg_context *http;
    char http_bind[64];
    atomic_int http_port; /* bound port while listening, else -1 */
};

/*
 * A sync over an already opened upstream and cache path (tests inject a
 * local upstream). Takes ownership of u (also on failure). cache_key: the
 * server's cache key (opc__credentials_cache_key; copied), or NULL for a
 * cache without verified rows (tests). With a key, the cache's verified
 * rows are checked now and before every step (cache/cache.h); rows that
 * fail are logged and the cache is synced again from the start.
 */
opc_err opc__sync_create_ex(opc__upstream *u, const char *cache_path,
                            const uint8_t cache_key[OPC_CACHE_MAC_LEN], opc_sync **out,
                            opc__ebuf *eb);
/* Tunables (before running): page size 1..OPC_UPSTREAM_MAX_LIMIT (the initial
 * sync's pages: OPC_SYNC_INITIAL_PAGE_FACTOR times that), long wait. */
void opc__sync_set_page_size(opc_sync *s, size_t n);
/* Fetch pages (1..OPC_UPSTREAM_MAX_LIMIT) and the batch budget in bytes (>= 1). */
void opc__sync_set_fetch_limits(opc_sync *s, size_t items, size_t chunks, size_t batch_bytes);
void opc__sync_set_wait_ms(opc_sync *s, int64_t ms);
/* One step: one page with a wait of wait_ms (0: none). Health recorded. */
opc_err opc__sync_step(opc_sync *s, int64_t wait_ms, opc__ebuf *eb);
/* The delay before the next attempt after `failures` consecutive failures (jittered). */
int64_t opc__sync_backoff_ms(const opc_sync *s, int64_t failures);
/* The sync's cache handle (borrowed; the sync's thread must not be running). */
opc__cache *opc__sync_cache(opc_sync *s);
/* A copy of the health state and its upstream summary ("ok", "unreachable",
 * "unknown"); any thread. */
void opc__sync_health_get(opc_sync *s, opc__sync_health *out, const char **upstream);
/* status.c: stop and release the status listener, if any (opc_sync_stop). */
void opc__sync_status_stop(opc_sync *s);

#endif
