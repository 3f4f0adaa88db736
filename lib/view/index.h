/*
 * view/index.h - connect-api's in-memory view of the cache.
 *
 * A snapshot holds what listing and filtering need, decrypted once: every
 * vault this server is granted (its Vault JSON, pre-serialised; its name;
 * its wrapped key) with its active items (the summary JSON, pre-serialised;
 * title, tags, category and updatedAt for filters), the token registry of
 * this server, and the cache's sync state. Requests take a reference to
 * the current snapshot (a mutex-protected pointer swap, no copy) and never
 * decrypt to list.
 *
 * Refresh. opc__index_poll() reads PRAGMA data_version at most every
 * OPC_INDEX_POLL_MS (or at once with force) on the index's own cache
 * handle; when another connection committed, or the credentials got
 * unlocked since the snapshot was built, a new snapshot is built from one
 * read transaction and swapped in. Only one thread refreshes at a time;
 * others keep using the current snapshot. Vault names and item overviews
 * need the vault keys, so while locked a snapshot has the registry and the
 * sync state only (vaults are not decrypted).
 *
 * The cache lost while running (issue 15; docs/decisions.md). Every poll
 * also asks whether the file the index's handle has open is still the one
 * at the path, whole (opc__cache_file_check: deleted, data directory
 * removed, replaced, truncated or overwritten), and a read that finds the
 * file damaged (opc__cache_damaged: a snapshot's build, or a request's
 * handle given back) counts the same. Then the index is lost: one warning
 * is logged, its handles on the old file are closed (the idle ones at once,
 * those in use when given back: opc__cache_moved), and snapshots carry
 * cache_lost, for which connect-api answers every /v1 request 503 and
 * /health says REBUILDING. Polls keep opening the path; the index is found
 * again (one info line) with the first snapshot read from a new file whose
 * initial sync is complete and whose own header passes the check (a file
 * put in the lost one's place is read through the lost file's -wal and -shm
 * while connect-sync has not removed them yet, and would show its rows).
 * That snapshot is read in full: nothing of the old file's is kept.
 *
 * Verified rows. The index's cache handles carry the server's cache key
 * (cache/cache.h, "Verified rows"; derived from the credentials at
 * create): each build checks the seal and the rows that decide access in
 * its read transaction, and a snapshot built when they fail holds no
 * token and no vault (every request is 401) until connect-sync has synced
 * the cache again; the failure is logged once. Checked rows stay in the
 * snapshot, so a request costs no MAC. A grant row must also carry the
 * account owner's signature (opc__vault_grant_signed; checked once per
 * distinct row): one that does not is logged and gives no vault.
 *
 * Secrets: decrypted names, titles, tags and summaries live only in
 * snapshots and are wiped when a snapshot is released for the last time.
 *
 * Thread safety: any thread.
 */
#ifndef OPC_VIEW_INDEX_H
#define OPC_VIEW_INDEX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <opconnect/credentials.h>

#include "view/auth.h"
#include "view/keys.h"
#include "cache/cache.h"
#include "core/err.h"
#include "internal.h"

#define OPC_INDEX_POLL_MS 100
/* Idle cache handles kept for request threads. */
#define OPC_INDEX_MAX_IDLE_HANDLES 128
/*
 * The page cache of each of those handles, KiB. A request reads one item
 * row (a few B-tree pages) per handle; with SQLite's default (2000 KiB per
 * connection) the idle handles alone could keep 250 MB, and held 57 MB
 * after two 10 s rounds over 10,000 items (docs/performance.md, "Memory
 * under large lists"). 128 idle handles at 128 KiB: at most 16 MiB.
 */
#define OPC_INDEX_HANDLE_PAGE_CACHE_KIB 128
/* Grant rows whose owner signature check is remembered (index.c). */
#define OPC_INDEX_GRANT_MEMO 256

typedef struct opc__ix_item {
    atomic_int refs; /* snapshots holding it (items are shared between snapshots) */
    char id[OPC_ID_LEN + 1];
    int64_t version; /* the cached row's version (keys the render cache) */
    char *title;
    char *title_folded; /* ASCII lower case, for filters (view/filter.h) */
    size_t title_len;
    char **tags;
    char **tags_folded; /* idem, parallel to tags */
    size_t n_tags;
    char *category_folded; /* the summary's category, folded ("" when none) */
    int64_t updated;       /* the summary's updatedAt, Unix seconds */
    char *json; /* summary object text */
    size_t json_len;
} opc__ix_item;

/* A vault's folded titles laid end to end, in item order, for title filters
 * (opc__filter_titles): no item is touched to match one. Shared by the
 * snapshots whose vault holds the same items. */
typedef struct opc__ix_titles {
    atomic_int refs;
    char *text;    /* n NUL-terminated folded titles */
    uint32_t *off; /* n + 1 offsets into text */
    size_t n;
} opc__ix_titles;

typedef struct opc__ix_vault {
    char id[OPC_ID_LEN + 1];
    char *name;
    char *description; /* NULL when none */
    char *json;        /* Vault object text */
    size_t json_len;
    int64_t key_sn;
    char *enc_key;  /* wrapped vault key (b64url) */
    bool decrypted; /* false when its key or attrs failed: items unknown */
    /* The vault row's plain fields (the object is rendered again from them). */
    char *type;
    int64_t attr_version;
    int64_t content_version;
    int64_t created;
    int64_t updated;
    int64_t row_key_sn;
    size_t n_items;
    opc__ix_item **items; /* sorted by id; shared with other snapshots */
    opc__ix_titles *titles; /* items[i]'s folded title is the i-th; NULL when no items */
    char *list;             /* the whole list body, built by opc__ix_vault_list */
    size_t list_len;
} opc__ix_vault;

typedef struct opc__ix_token {
    char jti[OPC_ID_LEN + 1];
    opc__token_state state;
    int64_t expires;
} opc__ix_token;

typedef struct opc__ix_snapshot {
    int refs;
    uint64_t generation; /* bumped at every rebuild */
    bool cache_ok;       /* the cache could be opened and read */
    char cache_error[OPC_ERRBUF_SIZE];
    bool cache_lost;                   /* opc__index_lost() when it was built */
    char lost_reason[OPC_ERRBUF_SIZE]; /* how ("" when not lost) */
    bool unlocked; /* built with the credentials unlocked */
    bool rows_trusted; /* the cache's verified rows held (cache.h); else no tokens, no vaults */
    opc__cache_meta meta;
    size_t n_vaults;
    opc__ix_vault *vaults; /* sorted by id */
    size_t n_tokens;
    opc__ix_token *tokens; /* sorted by jti */
    pthread_mutex_t list_mu; /* guards the vaults' list bodies */
} opc__ix_snapshot;

typedef struct opc__index opc__index;

/* All borrowed for the index's life. */
opc_err opc__index_create(const char *cache_path, opc_credentials *creds, opc__auth *auth,
                          opc__vault_keys *keys, opc__index **out);
void opc__index_free(opc__index *ix);

/* Refresh if due (see above). now_ms: monotonic. */
void opc__index_poll(opc__index *ix, int64_t now_ms, bool force);

/*
 * The watcher (connect-api runs it): a thread that refreshes as soon as a
 * file of the cache changes (another process or handle committed; see
 * core/watch.h), and at least every OPC_INDEX_POLL_MS when no change can be
 * watched. Requests then find the index current and seldom refresh it
 * themselves. Stop joins the thread (also done by opc__index_free).
 */
opc_err opc__index_watch_start(opc__index *ix);
void opc__index_watch_stop(opc__index *ix);

/* The current snapshot (never NULL after create); release it. */
opc__ix_snapshot *opc__index_acquire(opc__index *ix);
void opc__index_release(opc__index *ix, opc__ix_snapshot *s);

/* Whether the cache is lost (above) and not found again yet (cheap, any thread). */
bool opc__index_lost(opc__index *ix);

/* Generation of the current snapshot (cheap; for the auth registry). */
uint64_t opc__index_generation(opc__index *ix);

/*
 * What the index did since it was created: snapshots read in full (every
 * item row of every vault: the first, and after a gap in the change log, a
 * cache replaced or the credentials unlocked), snapshots made from the
 * previous one and the changes since, vaults read in full within those (a
 * new grant, a new vault key), and item overviews decrypted.
 */
typedef struct opc__index_stats_t {
    uint64_t full_builds;
    uint64_t incremental;
    uint64_t vault_loads;
    uint64_t decrypted;
} opc__index_stats_t;
void opc__index_stats(opc__index *ix, opc__index_stats_t *out);

/*
 * A vault's whole item list ("[summary,...]"), built at the first call for
 * this snapshot and kept with it (wiped when it goes): an unfiltered list
 * is then one write, not one copy per item. *body is valid while the
 * snapshot is held. OPC_ERR_NOMEM.
 */
opc_err opc__ix_vault_list(opc__ix_snapshot *s, const opc__ix_vault *v, const char **body,
                           size_t *len);

/* Lookups in a snapshot (NULL when absent). */
const opc__ix_vault *opc__ix_find_vault(const opc__ix_snapshot *s, const char *id);
const opc__ix_item *opc__ix_find_item(const opc__ix_vault *v, const char *id);
const opc__ix_token *opc__ix_find_token(const opc__ix_snapshot *s, const char *jti);

/* A cache handle for a request thread (opened read-only on demand). */
opc_err opc__index_handle(opc__index *ix, opc__cache **out, opc__ebuf *eb);
void opc__index_handle_release(opc__index *ix, opc__cache *c);

/* Decrypt an envelope text with key and AAD into a parsed JSON tree
 * (opc__json_delete_secret). */
opc_err opc__ix_open_json(const char *env_text, const opc__key *key, const char *aad, cJSON **out,
                          opc__ebuf *eb);

#endif
