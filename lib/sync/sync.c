/*
 * sync/sync.c - connect-sync: the feed applied to the cache (sync/sync.h,
 * <opconnect/sync.h>).
 *
 * Logging (subsystem "sync") names counts, cursors and error messages,
 * which are secret-free; never a row's content.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cache/cache.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/time.h"
#include "credentials/credentials.h"
#include "sync/sync.h"
#include "upstream/upstream.h"
#include "wire/rows.h"

#define SUB "sync"
/* ---- protocol rows (wire/rows.h) to cache rows ---- */

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = opc__json_member(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static opc_err put_issuer_key(opc_sync *s, const cJSON *o, opc__ebuf *eb)
{
    opc__cache_issuer_key k;
    opc_err rc = opc__wire_issuer_key_decode(o, &k, eb);
    return rc == OPC_OK ? opc__cache_issuer_key_put(s->cache, &k, eb) : rc;
}

static opc_err put_access(opc_sync *s, const cJSON *o, opc__ebuf *eb)
{
    opc__cache_access a;
    opc_err rc = opc__wire_access_decode(o, &a, eb);
    return rc == OPC_OK ? opc__cache_access_put(s->cache, &a, eb) : rc;
}

/* Monotonic (cache.h): an older row than the cached one is skipped. */
static opc_err put_vault(opc_sync *s, const cJSON *o, opc__ebuf *eb)
{
    opc__cache_vault v;
    opc_err rc = opc__wire_vault_decode(o, &v, eb);
    return rc == OPC_OK ? opc__cache_vault_put(s->cache, &v, NULL, eb) : rc;
}

/* Monotonic (cache.h); *written tells whether the row was stored. */
static opc_err put_item(opc_sync *s, const cJSON *o, bool *written, opc__ebuf *eb)
{
    opc__cache_item it;
    opc_err rc = opc__wire_item_decode(o, &it, eb);
    if (rc == OPC_OK && strcmp(it.state, "active") != 0) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "upstream sent a malformed item row");
    }
    return rc == OPC_OK ? opc__cache_item_put(s->cache, &it, written, eb) : rc;
}

static opc_err put_chunk(opc_sync *s, const cJSON *o, opc__ebuf *eb)
{
    opc__cache_chunk ch;
    unsigned char *blob = NULL;
    opc_err rc = opc__wire_chunk_decode(o, &ch, &blob, eb);
    if (rc == OPC_OK) {
        rc = opc__cache_chunk_put(s->cache, &ch, eb);
    }
    opc__free(blob);
    return rc;
}

static opc_err put_token(opc_sync *s, const cJSON *o, opc__ebuf *eb)
{
    opc__cache_token t;
    opc_err rc = opc__wire_token_decode(o, &t, eb);
    if (rc == OPC_OK && strcmp(t.server, s->server_id) != 0) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "upstream sent a malformed token row");
    }
    return rc == OPC_OK ? opc__cache_token_put(s->cache, &t, eb) : rc;
}

/* ---- fetching: the changes a page needs, as actions ----
 * Everything is fetched before the cache's write lock is taken (a slow
 * upstream must never block the cache's other writers), then applied in
 * short transactions (apply_batch). An action holds its fetched rows. */

typedef enum act_kind {
    ACT_ISSUER_KEY,  /* row, or NULL: delete id */
    ACT_TOKEN,       /* row, or NULL: delete id */
    ACT_ACCESS,      /* row: the server's grant */
    ACT_VAULT,       /* row (monotonic put), or NULL: drop vault id and everything in it */
    ACT_ITEM,        /* row and files (monotonic put), or NULL: delete id */
    ACT_ITEM_DELETE, /* monotonic delete of id at version */
    ACT_GAP,         /* drop vault id's items between after and before (cache.h) */
} act_kind;

typedef struct act {
    act_kind kind;
    char id[OPC_ID_LEN + 1];
    char after[OPC_ID_LEN + 1];  /* ACT_GAP */
    char before[OPC_ID_LEN + 1]; /* ACT_GAP */
    int64_t version;             /* ACT_ITEM_DELETE */
    cJSON *row;
    cJSON *files; /* ACT_ITEM: every chunk of the item's files */
} act;

/* The actions fetched and not yet applied, and the bytes their rows hold. */
typedef struct batch {
    act *acts;
    size_t n;
    size_t cap;
    size_t bytes;
} batch;

static void batch_clear(batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        cJSON_Delete(b->acts[i].row);
        cJSON_Delete(b->acts[i].files);
    }
    b->n = 0;
    b->bytes = 0;
}

static void batch_free(batch *b)
{
    batch_clear(b);
    opc__free(b->acts);
    b->acts = NULL;
    b->cap = 0;
}

/* The bytes of a row's (or an array of rows') strings: what the budget counts. */
static size_t row_bytes(const cJSON *o)
{
    size_t n = 0;
    const cJSON *m = NULL;
    cJSON_ArrayForEach(m, o)
    {
        n += 16 + (cJSON_IsString(m) ? strlen(m->valuestring) : row_bytes(m));
    }
    return n;
}

/* Append an action; it owns row and files from here on, also on failure. */
static opc_err add(batch *b, act_kind kind, const char *id, cJSON *row, cJSON *files)
{
    act *n = opc__grow(b->acts, &b->cap, b->n, sizeof *n, 64);
    if (n == NULL) {
        cJSON_Delete(row);
        cJSON_Delete(files);
        return OPC_ERR_NOMEM;
    }
    b->acts = n;
    act *a = &b->acts[b->n++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    if (id != NULL) {
        (void)snprintf(a->id, sizeof a->id, "%s", id);
    }
    a->row = row;
    a->files = files;
    b->bytes += row_bytes(row) + row_bytes(files);
    return OPC_OK;
}

/* A row fetched (kept) or gone upstream (a NULL row: the action deletes). */
typedef opc_err (*row_fetch)(opc__upstream *u, const char *id, cJSON **out, opc__ebuf *eb);

static opc_err fetch_row(opc_sync *s, batch *b, act_kind kind, row_fetch fn, const char *id,
                         opc__ebuf *eb)
{
    cJSON *row = NULL;
    opc_err rc = fn(s->up, id, &row, eb);
    if (rc == OPC_ERR_NOT_FOUND) {
        opc__ebuf_clear(eb);
        rc = OPC_OK;
    }
    return rc == OPC_OK ? add(b, kind, id, row, NULL) : rc;
}

/* Every chunk of an item's files, page by page, as one array in *out. */
static opc_err fetch_files(opc_sync *s, const char *item, cJSON **out, opc__ebuf *eb)
{
    cJSON *all = cJSON_CreateArray();
    opc_err rc = all == NULL ? OPC_ERR_NOMEM : OPC_OK;
    char after[OPC_ID_LEN + 1] = "";
    int64_t idx = 0;
    bool more = true;
    while (rc == OPC_OK && more) {
        cJSON *page = NULL;
        rc = opc__upstream_item_files(s->up, item, after, idx, s->chunk_page, &page, eb);
        if (rc != OPC_OK) {
            break;
        }
        more = (size_t)cJSON_GetArraySize(page) == s->chunk_page;
        cJSON *last = NULL;
        while (cJSON_GetArraySize(page) > 0) {
            last = cJSON_DetachItemFromArray(page, 0);
            cJSON_AddItemToArray(all, last);
        }
        cJSON_Delete(page);
        if (more) {
            /* The next page starts after the last chunk's key. */
            opc__wire_chunk ch;
            unsigned char *blob = NULL;
            rc = opc__wire_chunk_decode(last, &ch, &blob, eb);
            opc__free(blob);
            if (rc == OPC_OK) {
                memcpy(after, ch.file, sizeof after);
                idx = ch.idx;
            }
        }
    }
    if (rc != OPC_OK) {
        cJSON_Delete(all);
        return rc;
    }
    *out = all;
    return OPC_OK;
}

/*
 * The file chunks of a page of a vault's items (its grant), read a chunk
 * page at a time for all of them (opc__upstream_vault_files) and handed
 * out item by item, in id order: most items have no file, and one read per
 * item cost more than the items themselves.
 */
typedef struct vault_chunks {
    const char *vault;
    char last[OPC_ID_LEN + 1]; /* the page's last item */
    cJSON *page;               /* chunks read and not yet handed out */
    bool started;
    bool more;                     /* the upstream may hold chunks after the key */
    char key_item[OPC_ID_LEN + 1]; /* the key of the last chunk read */
    char key_file[OPC_ID_LEN + 1];
    int64_t key_idx;
} vault_chunks;

/* A chunk's key (item, file, idx). */
static opc_err chunk_key(const cJSON *o, opc__wire_chunk *ch, opc__ebuf *eb)
{
    unsigned char *blob = NULL;
    opc_err rc = opc__wire_chunk_decode(o, ch, &blob, eb);
    opc__free(blob);
    return rc;
}

/* Read the next page of chunks (the first from item's first chunk). */
static opc_err vault_chunks_read(opc_sync *s, vault_chunks *vc, const char *item, opc__ebuf *eb)
{
    if (!vc->started) {
        memcpy(vc->key_item, item, sizeof vc->key_item);
        vc->key_file[0] = '\0';
        vc->key_idx = 0;
        vc->started = true;
    }
    cJSON *page = NULL;
    opc_err rc = opc__upstream_vault_files(s->up, vc->vault, vc->key_item, vc->key_file,
                                           vc->key_idx, vc->last, s->chunk_page, &page, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    int n = cJSON_GetArraySize(page);
    vc->more = (size_t)n == s->chunk_page;
    opc__wire_chunk ch;
    memset(&ch, 0, sizeof ch);
    if (n > 0) {
        rc = chunk_key(cJSON_GetArrayItem(page, n - 1), &ch, eb);
    }
    if (rc == OPC_OK && n > 0) {
        /* The key must move on, or a full page would be asked for again and again. */
        int order = strcmp(ch.item, vc->key_item);
        if (order == 0) {
            order = strcmp(ch.file, vc->key_file);
        }
        if (order < 0 || (order == 0 && ch.idx <= vc->key_idx)) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "upstream sent file chunks out of order");
        }
    }
    if (rc == OPC_OK && n > 0) {
        memcpy(vc->key_item, ch.item, sizeof vc->key_item);
        memcpy(vc->key_file, ch.file, sizeof vc->key_file);
        vc->key_idx = ch.idx;
    }
    cJSON_Delete(vc->page);
    vc->page = page;
    return rc;
}

/* Every chunk of item (the page's items are asked for in id order). */
static opc_err vault_chunks_take(opc_sync *s, vault_chunks *vc, const char *item, cJSON **out,
                                 opc__ebuf *eb)
{
    cJSON *all = cJSON_CreateArray();
    opc_err rc = all == NULL ? OPC_ERR_NOMEM : OPC_OK;
    while (rc == OPC_OK) {
        cJSON *head = vc->page != NULL ? vc->page->child : NULL;
        if (head == NULL) {
            if (vc->started && !vc->more) {
                break;
            }
            rc = vault_chunks_read(s, vc, item, eb);
            continue;
        }
        opc__wire_chunk ch;
        rc = chunk_key(head, &ch, eb);
        int order = rc == OPC_OK ? strcmp(ch.item, item) : 0;
        if (rc != OPC_OK || order > 0) {
            break;
        }
        head = cJSON_DetachItemViaPointer(vc->page, head);
        if (order < 0) {
            cJSON_Delete(head); /* an item that is not on the page (made since) */
        } else {
            cJSON_AddItemToArray(all, head);
        }
    }
    if (rc != OPC_OK) {
        cJSON_Delete(all);
        return rc;
    }
    *out = all;
    return OPC_OK;
}

/*
 * An item row and its files, or NULL when it is gone (the action deletes).
 * The files come from vc when given (a grant's page), else from the item's
 * own reads.
 */
static opc_err fetch_item(opc_sync *s, batch *b, const char *item, cJSON *row, vault_chunks *vc,
                          opc__ebuf *eb)
{
    cJSON *files = NULL;
    opc_err rc = OPC_OK;
    if (row == NULL) {
        rc = opc__upstream_item(s->up, item, &row, eb);
        if (rc == OPC_ERR_NOT_FOUND) {
            opc__ebuf_clear(eb);
            return add(b, ACT_ITEM, item, NULL, NULL);
        }
    }
    if (rc == OPC_OK) {
        rc = vc != NULL ? vault_chunks_take(s, vc, item, &files, eb)
                        : fetch_files(s, item, &files, eb);
    }
    if (rc == OPC_ERR_NOT_FOUND && vc == NULL) {
        /* Gone between the two reads (an account server answers 404 for
         * the files of an item out of scope; a local file, an empty page). */
        opc__ebuf_clear(eb);
        cJSON_Delete(row);
        return add(b, ACT_ITEM, item, NULL, NULL);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(row);
        return rc;
    }
    return add(b, ACT_ITEM, item, row, files);
}

static opc_err apply_batch(opc_sync *s, batch *b, opc__ebuf *eb);

/* Apply what was fetched so far when it outgrew the budget (the cursor stays). */
static opc_err maybe_flush(opc_sync *s, batch *b, opc__ebuf *eb)
{
    if (b->bytes < s->batch_bytes) {
        return OPC_OK;
    }
    opc_err rc = opc__cache_begin(s->cache, true, eb);
    if (rc == OPC_OK) {
        rc = opc__cache_end(s->cache, apply_batch(s, b, eb), eb);
    }
    batch_clear(b);
    return rc;
}

/*
 * A grant: the vault's items page by page, each with its files and the
 * cached items between it and the one before dropped (gone upstream); then
 * the grant and vault rows, so a vault granted for the first time shows
 * only once whole (connect-api lists vaults by their grant). Out of scope
 * upstream: the vault is dropped.
 */
static opc_err load_vault(opc_sync *s, batch *b, const char *vault, opc__ebuf *eb)
{
    cJSON *access = NULL;
    cJSON *vrow = NULL;
    opc_err rc = opc__upstream_access(s->up, vault, &access, eb);
    if (rc == OPC_OK) {
        rc = opc__upstream_vault(s->up, vault, &vrow, eb);
    }
    char after[OPC_ID_LEN + 1] = "";
    bool more = true;
    while (rc == OPC_OK && more) {
        cJSON *page = NULL;
        rc = opc__upstream_vault_items(s->up, vault, after, s->item_page, &page, eb);
        if (rc != OPC_OK) {
            break;
        }
        int n = cJSON_GetArraySize(page);
        more = (size_t)n == s->item_page;
        vault_chunks vc = {.vault = vault};
        if (n > 0) {
            opc__wire_item last;
            rc = opc__wire_item_decode(cJSON_GetArrayItem(page, n - 1), &last, eb);
            memcpy(vc.last, last.id, sizeof vc.last);
        }
        while (rc == OPC_OK && page->child != NULL) {
            cJSON *row = cJSON_DetachItemFromArray(page, 0);
            opc__wire_item it;
            rc = opc__wire_item_decode(row, &it, eb);
            if (rc == OPC_OK && strcmp(it.id, after) <= 0) {
                rc = opc__fail(eb, OPC_ERR_PARSE, "upstream sent items out of order");
            }
            if (rc != OPC_OK) {
                cJSON_Delete(row);
                break;
            }
            char cur[OPC_ID_LEN + 1];
            memcpy(cur, it.id, sizeof cur);
            rc = maybe_flush(s, b, eb);
            if (rc == OPC_OK) {
                rc = add(b, ACT_GAP, vault, NULL, NULL);
            }
            if (rc == OPC_OK) {
                memcpy(b->acts[b->n - 1].after, after, sizeof after);
                memcpy(b->acts[b->n - 1].before, cur, sizeof cur);
                rc = fetch_item(s, b, cur, row, &vc, eb);
            } else {
                cJSON_Delete(row);
            }
            memcpy(after, cur, sizeof after);
        }
        cJSON_Delete(vc.page);
        cJSON_Delete(page);
    }
    if (rc == OPC_OK) {
        rc = add(b, ACT_GAP, vault, NULL, NULL);
    }
    if (rc == OPC_OK) {
        memcpy(b->acts[b->n - 1].after, after, sizeof after);
        rc = add(b, ACT_ACCESS, vault, access, NULL);
        access = NULL;
    }
    if (rc == OPC_OK) {
        rc = add(b, ACT_VAULT, vault, vrow, NULL);
        vrow = NULL;
    }
    cJSON_Delete(access);
    cJSON_Delete(vrow);
    if (rc == OPC_ERR_NOT_FOUND) {
        opc__ebuf_clear(eb);
        return add(b, ACT_VAULT, vault, NULL, NULL);
    }
    return rc;
}

/* Fetch the rows of the touched vaults (their reload at the end of a page). */
static opc_err fetch_touched(opc_sync *s, batch *b, opc__ebuf *eb)
{
    opc_err rc = OPC_OK;
    for (size_t i = 0; rc == OPC_OK && i < s->n_touched; i++) {
        rc = fetch_row(s, b, ACT_VAULT, opc__upstream_vault, s->touched[i], eb);
    }
    s->n_touched = 0;
    return rc;
}

/* Remember a vault whose row the page reloads at its end (fetching when full). */
static opc_err touch(opc_sync *s, batch *b, const char *vault, opc__ebuf *eb)
{
    for (size_t i = 0; i < s->n_touched; i++) {
        if (strcmp(s->touched[i], vault) == 0) {
            return OPC_OK;
        }
    }
    if (s->n_touched == OPC_SYNC_MAX_TOUCHED) {
        opc_err rc = fetch_touched(s, b, eb);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    memcpy(s->touched[s->n_touched++], vault, OPC_ID_LEN + 1);
    return OPC_OK;
}

static bool kind_is(const char *kind, const char *name)
{
    return strcmp(kind, name) == 0;
}

static bool is_item_kind(const char *kind)
{
    return kind_is(kind, "item_upsert") || kind_is(kind, "file_add") ||
           kind_is(kind, "item_delete");
}

/* A grant of vault comes after entry e in the feed (initial sync only; sync.h). */
static bool regranted_later(const opc_sync *s, const char *vault, const cJSON *e)
{
    int64_t seq = 0;
    if (s->n_grants == 0 || !opc__json_is_int(opc__json_member(e, "seq"), &seq)) {
        return false;
    }
    for (size_t i = 0; i < s->n_grants; i++) {
        if (s->grants[i].seq > seq && strcmp(s->grants[i].vault, vault) == 0) {
            return true;
        }
    }
    return false;
}

/* Remember vault's grant entry at seq (the newest per vault). */
static opc_err note_grant(opc_sync *s, const char *vault, int64_t seq)
{
    for (size_t i = 0; i < s->n_grants; i++) {
        if (strcmp(s->grants[i].vault, vault) == 0) {
            s->grants[i].seq = seq > s->grants[i].seq ? seq : s->grants[i].seq;
            return OPC_OK;
        }
    }
    opc__sync_grant *g = opc__grow(s->grants, &s->cap_grants, s->n_grants, sizeof *g, 8);
    if (g == NULL) {
        return OPC_ERR_NOMEM;
    }
    s->grants = g;
    memcpy(s->grants[s->n_grants].vault, vault, OPC_ID_LEN + 1);
    s->grants[s->n_grants++].seq = seq;
    return OPC_OK;
}

static void forget_grants(opc_sync *s)
{
    opc__free(s->grants);
    s->grants = NULL;
    s->n_grants = 0;
    s->cap_grants = 0;
    s->grants_scanned = false;
}

/*
 * Initial sync: read the feed after cursor once, ids only, for its grant
 * entries (sync.h). A failure only costs the skipping: the sync goes on
 * without it and reads ahead again at its next step.
 */
static void scan_grants(opc_sync *s, int64_t cursor)
{
    forget_grants(s);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = OPC_OK;
    bool more = true;
    while (rc == OPC_OK && more) {
        cJSON *page = NULL;
        int64_t next = cursor;
        rc = opc__upstream_changes(s->up, cursor, OPC_UPSTREAM_MAX_LIMIT, 0, &page, &next, &eb);
        if (rc != OPC_OK) {
            break;
        }
        more = (size_t)cJSON_GetArraySize(page) == OPC_UPSTREAM_MAX_LIMIT && next > cursor;
        const cJSON *e = NULL;
        cJSON_ArrayForEach(e, page)
        {
            const char *kind = jstr(e, "kind");
            const char *vault = jstr(e, "vault");
            int64_t seq = 0;
            if (rc == OPC_OK && kind != NULL && kind_is(kind, "grant") &&
                opc__id_valid_str(vault) && opc__json_is_int(opc__json_member(e, "seq"), &seq)) {
                rc = note_grant(s, vault, seq);
            }
        }
        cJSON_Delete(page);
        cursor = next;
    }
    if (rc != OPC_OK) {
        forget_grants(s);
        opc__log(OPC_LOG_DEBUG, SUB, "initial sync: cannot read ahead for grants: %s",
                 eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
        return;
    }
    s->grants_scanned = true;
}

/* Fetch what one feed entry needs (sync.h's table). */
static opc_err fetch_entry(opc_sync *s, batch *b, const cJSON *e, opc__ebuf *eb)
{
    const char *kind = jstr(e, "kind");
    if (kind == NULL) {
        return opc__fail(eb, OPC_ERR_PARSE, "upstream sent a feed entry without a kind");
    }
    const char *vault = jstr(e, "vault");
    const char *item = jstr(e, "item");
    const char *jti = jstr(e, "jti");
    const char *kid = jstr(e, "kid");
    bool has_vault = opc__id_valid_str(vault);
    opc_err rc = maybe_flush(s, b, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (has_vault && is_item_kind(kind) && regranted_later(s, vault, e)) {
        return OPC_OK;
    }
    if (kind_is(kind, "issuer_key") && kid != NULL) {
        return fetch_row(s, b, ACT_ISSUER_KEY, opc__upstream_issuer_key, kid, eb);
    }
    if (kind_is(kind, "grant") && has_vault) {
        return load_vault(s, b, vault, eb);
    }
    if ((kind_is(kind, "grant_revoke") || kind_is(kind, "vault_delete")) && has_vault) {
        return add(b, ACT_VAULT, vault, NULL, NULL);
    }
    if ((kind_is(kind, "vault_create") || kind_is(kind, "vault_update")) && has_vault) {
        return touch(s, b, vault, eb);
    }
    if ((kind_is(kind, "item_upsert") || kind_is(kind, "file_add")) && has_vault &&
        opc__id_valid_str(item)) {
        rc = touch(s, b, vault, eb);
        return rc == OPC_OK ? fetch_item(s, b, item, NULL, NULL, eb) : rc;
    }
    if (kind_is(kind, "item_delete") && has_vault && opc__id_valid_str(item)) {
        /* Monotonic: the entry names the tombstone's version. */
        int64_t version = INT64_MAX;
        if (!opc__json_is_int(opc__json_member(e, "version"), &version) || version < 1) {
            version = INT64_MAX;
        }
        rc = touch(s, b, vault, eb);
        if (rc == OPC_OK) {
            rc = add(b, ACT_ITEM_DELETE, item, NULL, NULL);
        }
        if (rc == OPC_OK) {
            b->acts[b->n - 1].version = version;
        }
        return rc;
    }
    if (strncmp(kind, "token_", 6) == 0 && opc__id_valid_str(jti)) {
        return fetch_row(s, b, ACT_TOKEN, opc__upstream_token, jti, eb);
    }
    opc__log(OPC_LOG_TRACE, SUB, "feed entry of kind %.32s: nothing to do", kind);
    return OPC_OK;
}

/* ---- applying actions (inside the caller's write transaction) ---- */

/*
 * An item and its files. The row is put by the monotonic rule: when the
 * cache already holds a newer version (a connect-api write-through),
 * neither the row nor its files are touched; the feed entry of that newer
 * write brings its files in.
 */
static opc_err apply_item(opc_sync *s, const act *a, opc__ebuf *eb)
{
    if (a->row == NULL) {
        return opc__cache_item_delete(s->cache, a->id, eb);
    }
    bool written = false;
    opc_err rc = put_item(s, a->row, &written, eb);
    if (rc != OPC_OK || !written) {
        return rc;
    }
    rc = opc__cache_item_files_delete(s->cache, a->id, eb);
    const cJSON *o = NULL;
    cJSON_ArrayForEach(o, a->files)
    {
        if (rc != OPC_OK) {
            break;
        }
        rc = put_chunk(s, o, eb);
    }
    return rc;
}

static opc_err apply_act(opc_sync *s, const act *a, opc__ebuf *eb)
{
    switch (a->kind) {
    case ACT_ISSUER_KEY:
        return a->row == NULL ? opc__cache_issuer_key_delete(s->cache, a->id, eb)
                              : put_issuer_key(s, a->row, eb);
    case ACT_TOKEN:
        return a->row == NULL ? opc__cache_token_delete(s->cache, a->id, eb)
                              : put_token(s, a->row, eb);
    case ACT_ACCESS:
        return put_access(s, a->row, eb);
    case ACT_VAULT:
        return a->row == NULL ? opc__cache_vault_delete(s->cache, a->id, eb)
                              : put_vault(s, a->row, eb);
    case ACT_ITEM:
        return apply_item(s, a, eb);
    case ACT_ITEM_DELETE:
        return opc__cache_item_delete_upto(s->cache, a->id, a->version, NULL, eb);
    case ACT_GAP:
        return opc__cache_vault_clear_between(s->cache, a->id, a->after, a->before, eb);
    }
    return OPC_ERR_INTERNAL;
}

static opc_err apply_batch(opc_sync *s, batch *b, opc__ebuf *eb)
{
    opc_err rc = OPC_OK;
    for (size_t i = 0; rc == OPC_OK && i < b->n; i++) {
        rc = apply_act(s, &b->acts[i], eb);
    }
    return rc;
}

/* ---- health ---- */

static void health_load(opc_sync *s)
{
    opc__cache_meta m;
    if (s->cache == NULL || opc__cache_meta_get(s->cache, &m, NULL) != OPC_OK) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    s->hl.cursor = m.cursor;
    s->hl.initial = m.initial_sync_complete;
    s->hl.last_attempt_ms = m.last_attempt_ms;
    s->hl.last_success_ms = m.last_success_ms;
    s->hl.last_success_stored_ms = m.last_success_ms;
    s->hl.failures = m.failures;
    memcpy(s->hl.last_error, m.last_error, sizeof s->hl.last_error);
    pthread_mutex_unlock(&s->lock);
}

/*
 * An empty page at the cursor with the initial sync done and no failure to
 * clear: record the success in memory only, unless the cache's record of
 * it is OPC_SYNC_IDLE_HEALTH_MS old (sync.h). True: nothing to write.
 */
static bool idle_step(opc_sync *s, int n, int64_t cursor, int64_t next, bool initial)
{
    if (n != 0 || next != cursor || !initial) {
        return false;
    }
    int64_t now = opc__now_us() / 1000;
    bool idle = false;
    pthread_mutex_lock(&s->lock);
    if (s->hl.failures == 0 && s->hl.last_success_ms > 0 &&
        now - s->hl.last_success_stored_ms < OPC_SYNC_IDLE_HEALTH_MS) {
        s->hl.last_attempt_ms = now;
        s->hl.last_success_ms = now;
        idle = true;
    }
    pthread_mutex_unlock(&s->lock);
    return idle;
}

/*
 * The health could (rc OPC_OK) or could not be written to the cache. A
 * cache that cannot take it (a full disk) fails on every retry, so the
 * error is logged when it starts and a line when it ends, with the count,
 * not on every retry (about 900 lines an hour at the backoff's ceiling).
 */
static void health_recorded(opc_sync *s, opc_err rc, const char *msg)
{
    if (rc != OPC_OK) {
        if (s->health_unrecorded++ == 0) {
            opc__log(OPC_LOG_ERROR, SUB,
                     "cannot record the sync health: %s (logged again when it can)", msg);
        }
        return;
    }
    if (s->health_unrecorded > 0) {
        opc__log(OPC_LOG_INFO, SUB, "the sync health is recorded again, after %lld failed attempts",
                 (long long)s->health_unrecorded);
        s->health_unrecorded = 0;
    }
}

/* Record a failure in its own transaction (the page was rolled back). */
static void record_failure(opc_sync *s, opc_err code, const char *msg)
{
    char text[OPC_CACHE_MAX_ERROR + 1];
    (void)snprintf(text, sizeof text, "%s", msg[0] != '\0' ? msg : opc_strerror(code));
    if (s->cache == NULL) {
        /* No cache to keep it in (a rebuild that failed): memory only. */
        pthread_mutex_lock(&s->lock);
        s->hl.last_attempt_ms = opc__now_us() / 1000;
        s->hl.failures++;
        memcpy(s->hl.last_error, text, sizeof s->hl.last_error);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__cache_begin(s->cache, true, &eb);
    if (rc == OPC_OK) {
        rc = opc__cache_health_failure(s->cache, opc__now_us() / 1000, text, &eb);
    }
    rc = opc__cache_end(s->cache, rc, &eb);
    health_recorded(s, rc, eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
    health_load(s);
}

/* ---- the cache's verified rows ---- */

/*
 * Check the rows that decide access and the seal over the server state
 * (cache/cache.h, "Verified rows"). When something fails, it is logged once
 * (table names and ids) and the cache is emptied and synced again from
 * the start: the feed's cursor cannot be trusted, and reading the feed
 * from the start fetches every row afresh. Until then connect-api uses
 * none of those rows. A handle without a key (tests) checks nothing.
 */
static opc_err check_cache(opc_sync *s, bool *reset, opc__ebuf *eb)
{
    *reset = false;
    if (!opc__cache_keyed(s->cache)) {
        return OPC_OK;
    }
    opc__cache_check chk;
    opc_err rc = opc__cache_verify(s->cache, &chk, eb);
    if (rc != OPC_OK || chk.ok) {
        return rc;
    }
    char what[OPC_ERRBUF_SIZE];
    (void)opc__cache_check_describe(&chk, what, sizeof what);
    opc__log(OPC_LOG_WARN, SUB,
             "cache rows failed verification and are refused: %s; syncing the cache again from "
             "the start",
             what);
    forget_grants(s);
    rc = opc__cache_begin(s->cache, true, eb);
    if (rc == OPC_OK) {
        rc = opc__cache_reset(s->cache, eb);
    }
    rc = opc__cache_end(s->cache, rc, eb);
    *reset = rc == OPC_OK;
    return rc;
}

/* ---- the cache file (sync.h, "The cache lost while running") ---- */

/*
 * The cache file this server opened is its cache, for its server and
 * account: a file that holds another's (or none yet) is emptied and
 * stamped with the credentials' ids.
 */
static opc_err cache_adopt(opc_sync *s, opc__ebuf *eb)
{
    opc__cache_meta m;
    opc_err rc = opc__cache_meta_get(s->cache, &m, eb);
    if (rc != OPC_OK || (strcmp(m.server_id, s->up->server_id) == 0 &&
                         strcmp(m.account_id, s->up->account_id) == 0)) {
        return rc;
    }
    if (m.server_id[0] != '\0') {
        opc__log(OPC_LOG_WARN, SUB, "the cache belonged to server %s; emptying it for server %s",
                 m.server_id, s->up->server_id);
    }
    rc = opc__cache_begin(s->cache, true, eb);
    if (rc == OPC_OK) {
        rc = opc__cache_reset(s->cache, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__cache_set_ids(s->cache, s->up->server_id, s->up->account_id, eb);
    }
    return opc__cache_end(s->cache, rc, eb);
}

/* The cache file went away under the handle (why: secret-free, names the
 * path): one warning, what is at the path removed, the handle closed, the
 * rebuild at once. Removed first, so that no handle closing on a file
 * damaged in place finds it still at the path and checkpoints into it
 * (opc__cache_close_lost is the other half of that). */
static void cache_lost(opc_sync *s, const char *why)
{
    opc__log(OPC_LOG_WARN, SUB,
             "%s: rebuilding the cache from the account (initial sync from the start)", why);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (opc__cache_remove(s->cache_path, &eb) != OPC_OK) {
        opc__log(OPC_LOG_DEBUG, SUB, "%s (tried again before the new file)", eb.msg);
    }
    opc__cache_close_lost(s->cache);
    s->cache = NULL;
    forget_grants(s);
    pthread_mutex_lock(&s->lock);
    s->hl.rebuilding = true;
    s->hl.cache_open = false;
    s->hl.initial = false;
    s->hl.cursor = 0;
    (void)snprintf(s->hl.lost, sizeof s->hl.lost, "%s", why);
    pthread_mutex_unlock(&s->lock);
}

/* A new cache file in place of the lost one: whatever is at the path goes
 * first (opc__cache_remove: its side files would be read as the new
 * file's), then the file is created for this server, at cursor 0. */
static opc_err cache_rebuild(opc_sync *s, opc__ebuf *eb)
{
    opc_err rc = opc__cache_remove(s->cache_path, eb);
    if (rc == OPC_OK) {
        rc = opc__cache_open(s->cache_path, OPC_CACHE_CREATE, &s->cache, eb);
    }
    if (rc == OPC_OK && s->keyed) {
        opc__cache_set_key(s->cache, s->cache_key);
    }
    if (rc == OPC_OK) {
        rc = cache_adopt(s, eb);
    }
    if (rc != OPC_OK) {
        opc__cache_close(s->cache);
        s->cache = NULL;
        record_failure(s, rc, eb != NULL ? eb->msg : "");
        return rc;
    }
    health_load(s);
    pthread_mutex_lock(&s->lock);
    s->hl.cache_open = true;
    pthread_mutex_unlock(&s->lock);
    opc__log(OPC_LOG_INFO, SUB, "new cache file %s created; syncing it from the start",
             s->cache_path);
    return OPC_OK;
}

/* Before a step: the handle's file is still the one at the path, whole;
 * else (or when an earlier rebuild failed) the cache is made again. */
static opc_err cache_ensure(opc_sync *s, opc__ebuf *eb)
{
    if (s->cache != NULL) {
        opc__ebuf why;
        opc__ebuf_clear(&why);
        if (opc__cache_file_check(s->cache, &why) == OPC_OK) {
            return OPC_OK;
        }
        cache_lost(s, why.msg);
    }
    return cache_rebuild(s, eb);
}

/* ---- one step ---- */

static opc_err step(opc_sync *s, int64_t wait_ms, opc__ebuf *eb);

opc_err opc__sync_step(opc_sync *s, int64_t wait_ms, opc__ebuf *eb)
{
    if (s == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc = cache_ensure(s, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    rc = step(s, wait_ms, eb);
    if (rc != OPC_OK && opc__cache_damaged(s->cache)) {
        /* SQLite found the file damaged inside (a read of a page): the same
         * as a file gone; the next step makes a new one. */
        char why[OPC_CACHE_MAX_ERROR + OPC_ERRBUF_SIZE + 64];
        (void)snprintf(why, sizeof why, "cache file %s is damaged (%s)", s->cache_path,
                       eb != NULL && eb->msg[0] != '\0' ? eb->msg : opc_strerror(rc));
        cache_lost(s, why);
    }
    return rc;
}

static opc_err step(opc_sync *s, int64_t wait_ms, opc__ebuf *eb)
{
    int64_t cursor = 0;
    bool initial = false;
    bool reset = false;
    opc_err rc = check_cache(s, &reset, eb);
    if (rc != OPC_OK) {
        record_failure(s, rc, eb != NULL ? eb->msg : "");
        return rc;
    }
    if (reset) {
        health_load(s);
        return OPC_OK; /* the next step reads the feed from the start */
    }
    rc = opc__cache_cursor(s->cache, &cursor, eb);
    if (rc == OPC_OK) {
        rc = opc__cache_initial_sync_complete(s->cache, &initial, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *page = NULL;
    int64_t next = cursor;
    /* The initial sync reads bigger pages (sync.h); a page still commits with its cursor. */
    size_t limit = s->page;
    if (!initial) {
        limit = s->page > OPC_UPSTREAM_MAX_LIMIT / OPC_SYNC_INITIAL_PAGE_FACTOR
                    ? OPC_UPSTREAM_MAX_LIMIT
                    : s->page * OPC_SYNC_INITIAL_PAGE_FACTOR;
    }
    rc = opc__upstream_changes(s->up, cursor, limit, initial ? wait_ms : 0, &page, &next, eb);
    if (rc != OPC_OK) {
        record_failure(s, rc, eb != NULL ? eb->msg : "");
        return rc;
    }
    if (next < cursor) {
        /* The feed ends before our cursor: the account was restored to an
         * earlier point, and what this cache holds beyond it may not exist
         * any more. Empty the cache and sync the account again from the
         * start (connect-api answers as during any initial sync). */
        cJSON_Delete(page);
        opc__log(OPC_LOG_WARN, SUB,
                 "the account's change feed ends at %lld, before this cache's cursor %lld (the "
                 "account was restored to an earlier point): syncing it again from the start",
                 (long long)next, (long long)cursor);
        forget_grants(s);
        rc = opc__cache_begin(s->cache, true, eb);
        if (rc == OPC_OK) {
            rc = opc__cache_reset(s->cache, eb);
        }
        rc = opc__cache_end(s->cache, rc, eb);
        if (rc != OPC_OK) {
            record_failure(s, rc, eb != NULL ? eb->msg : "");
        }
        return rc;
    }
    int n = cJSON_GetArraySize(page);
    if (idle_step(s, n, cursor, next, initial)) {
        cJSON_Delete(page);
        return OPC_OK;
    }
    if (initial) {
        forget_grants(s);
    } else if (!s->grants_scanned && n > 0) {
        scan_grants(s, cursor);
    }
    s->n_touched = 0;
    batch b = {0};
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, page)
    {
        rc = fetch_entry(s, &b, e, eb);
        if (rc != OPC_OK) {
            break;
        }
    }
    if (rc == OPC_OK) {
        rc = fetch_touched(s, &b, eb);
    }
    /* The rest of the page and its cursor: one short transaction. */
    bool began = false;
    if (rc == OPC_OK) {
        rc = opc__cache_begin(s->cache, true, eb);
        began = rc == OPC_OK;
    }
    if (rc == OPC_OK) {
        rc = apply_batch(s, &b, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__cache_set_cursor(s->cache, next, eb);
    }
    bool caught_up = (size_t)n < limit;
    if (rc == OPC_OK && caught_up && !initial) {
        rc = opc__cache_set_initial_sync_complete(s->cache, true, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__cache_health_success(s->cache, opc__now_us() / 1000, eb);
    }
    if (began) {
        rc = opc__cache_end(s->cache, rc, eb);
    }
    batch_free(&b);
    cJSON_Delete(page);
    if (rc != OPC_OK) {
        record_failure(s, rc, eb != NULL ? eb->msg : "");
        return rc;
    }
    health_recorded(s, OPC_OK, NULL);
    health_load(s);
    if (n > 0) {
        opc__log(OPC_LOG_DEBUG, SUB, "applied %d changes, cursor %lld", n, (long long)next);
    }
    if (caught_up && !initial) {
        opc__log(OPC_LOG_INFO, SUB, "initial sync complete at cursor %lld", (long long)next);
        pthread_mutex_lock(&s->lock);
        bool rebuilt = s->hl.rebuilding;
        s->hl.rebuilding = false;
        pthread_mutex_unlock(&s->lock);
        if (rebuilt) {
            opc__log(OPC_LOG_INFO, SUB, "the cache is rebuilt");
        }
    }
    return OPC_OK;
}

int64_t opc__sync_backoff_ms(const opc_sync *s, int64_t failures)
{
    if (failures <= 0) {
        return 0;
    }
    int64_t d = s->backoff_base;
    for (int64_t i = 1; i < failures && d < s->backoff_max; i++) {
        d *= 2;
    }
    if (d > s->backoff_max) {
        d = s->backoff_max;
    }
    /* Jitter: -20% .. +0%, so the cap holds and retries spread out. */
    uint32_t r = 0;
    int64_t span = d / 5;
    if (span > 0 && span < (int64_t)UINT32_MAX &&
        opc__rand_uniform((uint32_t)span + 1, &r) == OPC_OK) {
        d -= (int64_t)r;
    }
    return d;
}

/* ---- object ---- */

opc_err opc__sync_create_ex(opc__upstream *u, const char *cache_path,
                            const uint8_t cache_key[OPC_CACHE_MAC_LEN], opc_sync **out,
                            opc__ebuf *eb)
{
    if (out == NULL) {
        opc__upstream_close(u);
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (u == NULL || cache_path == NULL) {
        opc__upstream_close(u);
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "sync: missing upstream or cache path");
    }
    opc_sync *s = opc__calloc(1, sizeof *s);
    if (s == NULL) {
        opc__upstream_close(u);
        return OPC_ERR_NOMEM;
    }
    s->up = u;
    memcpy(s->server_id, u->server_id, OPC_ID_LEN + 1);
    s->page = OPC_SYNC_PAGE_SIZE;
    s->item_page = OPC_SYNC_ITEM_PAGE;
    s->chunk_page = OPC_SYNC_CHUNK_PAGE;
    s->batch_bytes = OPC_SYNC_BATCH_BYTES;
    s->wait_ms = OPC_SYNC_WAIT_MS;
    s->backoff_base = OPC_SYNC_BACKOFF_BASE_MS;
    s->backoff_max = OPC_SYNC_BACKOFF_MAX_MS;
    atomic_init(&s->stop, 0);
    atomic_init(&s->http_port, -1);
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        opc__upstream_close(u);
        opc__free(s);
        return opc__fail(eb, OPC_ERR_INTERNAL, "sync: cannot create a mutex");
    }
    if (pthread_mutex_init(&s->http_lock, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        opc__upstream_close(u);
        opc__free(s);
        return opc__fail(eb, OPC_ERR_INTERNAL, "sync: cannot create a mutex");
    }
    s->cache_path = opc__strdup(cache_path);
    s->hl.cache_open = true;
    opc_err rc = s->cache_path == NULL
                     ? OPC_ERR_NOMEM
                     : opc__cache_open(cache_path, OPC_CACHE_CREATE, &s->cache, eb);
    if (rc == OPC_OK && cache_key != NULL) {
        memcpy(s->cache_key, cache_key, OPC_CACHE_MAC_LEN);
        s->keyed = true;
        opc__cache_set_key(s->cache, cache_key);
    }
    if (rc == OPC_OK) {
        rc = cache_adopt(s, eb);
    }
    bool reset = false;
    if (rc == OPC_OK) {
        rc = check_cache(s, &reset, eb);
    }
    if (rc != OPC_OK) {
        opc_sync_free(s);
        return rc;
    }
    health_load(s);
    *out = s;
    return OPC_OK;
}

void opc__sync_set_page_size(opc_sync *s, size_t n)
{
    if (s != NULL && n >= 1 && n <= OPC_UPSTREAM_MAX_LIMIT) {
        s->page = n;
    }
}

void opc__sync_set_fetch_limits(opc_sync *s, size_t items, size_t chunks, size_t batch_bytes)
{
    if (s != NULL && items >= 1 && items <= OPC_UPSTREAM_MAX_LIMIT && chunks >= 1 &&
        chunks <= OPC_UPSTREAM_MAX_LIMIT && batch_bytes >= 1) {
        s->item_page = items;
        s->chunk_page = chunks;
        s->batch_bytes = batch_bytes;
    }
}

void opc__sync_set_wait_ms(opc_sync *s, int64_t ms)
{
    if (s != NULL && ms >= 0 && ms <= OPC_UPSTREAM_MAX_WAIT_MS) {
        s->wait_ms = ms;
    }
}

opc__cache *opc__sync_cache(opc_sync *s)
{
    return s == NULL ? NULL : s->cache;
}

/* ---- public API ---- */

opc_err opc_sync_default_cache_path(const char *xdg_data_home, const char *home, char **out)
{
    return opc__cache_default_path(xdg_data_home, home, out, NULL);
}

opc_err opc_sync_create(const opc_credentials *creds, const char *cache_path, opc_sync **out,
                        char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (out != NULL) {
        *out = NULL;
    }
    opc_err rc = opc__require_init();
    if (rc != OPC_OK) {
        rc = opc__fail(&eb, rc, "opc_global_init() was not called");
    } else if (creds == NULL || cache_path == NULL || out == NULL) {
        rc = opc__fail(&eb, OPC_ERR_INVALID_ARG, "sync: missing argument");
    }
    uint8_t key[OPC_CACHE_MAC_LEN];
    if (rc == OPC_OK) {
        opc_err krc = opc__credentials_cache_key(creds, key);
        if (krc == OPC_ERR_NOMEM) {
            rc = krc;
        } else if (krc != OPC_OK) {
            rc = opc__fail(&eb, OPC_ERR_CREDENTIALS,
                           "sync: cannot derive the cache key from the credentials' device key");
        }
    }
    opc__upstream *u = NULL;
    if (rc == OPC_OK) {
        rc = opc__upstream_open(creds, &u, &eb);
    }
    if (rc == OPC_OK) {
        rc = opc__sync_create_ex(u, cache_path, key, out, &eb);
    }
    opc__wipe(key, sizeof key);
    if (rc != OPC_OK) {
        opc__ebuf_export(&eb, errbuf, errbuf_len);
    } else if (errbuf != NULL && errbuf_len > 0) {
        errbuf[0] = '\0';
    }
    return rc;
}

opc_err opc_sync_run_once(opc_sync *s, char *errbuf, size_t errbuf_len)
{
    if (s == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__sync_step(s, 0, &eb);
    if (rc != OPC_OK) {
        opc__ebuf_export(&eb, errbuf, errbuf_len);
    } else if (errbuf != NULL && errbuf_len > 0) {
        errbuf[0] = '\0';
    }
    return rc;
}

static bool stopping(opc_sync *s, volatile int *flag)
{
    return atomic_load(&s->stop) != 0 || (flag != NULL && *flag != 0);
}

/* Sleep ms in slices, returning early on stop. */
static void nap(opc_sync *s, volatile int *flag, int64_t ms)
{
    int64_t end = opc__monotonic_ms() + ms;
    while (!stopping(s, flag)) {
        int64_t left = end - opc__monotonic_ms();
        if (left <= 0) {
            return;
        }
        int64_t slice = left < 50 ? left : 50;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)slice * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
}

/* Cache failures (other than IO on the upstream) that stop the loop. */
static bool fatal(opc_err rc)
{
    return rc == OPC_ERR_INVALID_ARG || rc == OPC_ERR_UNSUPPORTED;
}

/*
 * A stop flag set by a signal handler cannot wake a long poll by itself:
 * while opc_sync_run() runs with one, this thread looks at it every
 * FLAG_WATCH_MS and interrupts the upstream's wait (upstream.h: any thread
 * may), so the sync asks for its full wait (one request per wait, not one
 * per 100 ms, for an https:// upstream) and still stops promptly.
 */
#define FLAG_WATCH_MS 50

typedef struct flag_watch {
    opc_sync *s;
    volatile int *flag;
    atomic_int done;
} flag_watch;

static void *watch_flag(void *arg)
{
    flag_watch *w = arg;
    while (atomic_load(&w->done) == 0) {
        if (*w->flag != 0) {
            opc__upstream_interrupt(w->s->up); /* again each time: the next call clears it */
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = FLAG_WATCH_MS * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    return NULL;
}

static opc_err run_loop(opc_sync *s, volatile int *stop_flag, bool watched);

opc_err opc_sync_run(opc_sync *s, volatile int *stop_flag)
{
    if (s == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (stop_flag == NULL) {
        return run_loop(s, NULL, false);
    }
    flag_watch w = {.s = s, .flag = stop_flag};
    atomic_init(&w.done, 0);
    pthread_t th;
    bool watched = pthread_create(&th, NULL, watch_flag, &w) == 0;
    opc_err rc = run_loop(s, stop_flag, watched);
    if (watched) {
        atomic_store(&w.done, 1);
        (void)pthread_join(th, NULL);
    }
    return rc;
}

static opc_err run_loop(opc_sync *s, volatile int *stop_flag, bool watched)
{
    opc__log(OPC_LOG_INFO, SUB, "sync started for server %s at cursor %lld", s->server_id,
             (long long)s->hl.cursor);
    int64_t failures = 0;
    bool was_failing = false;
    while (!stopping(s, stop_flag)) {
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        /* Without the watcher, the long wait is short enough to notice a
         * stop flag set by a signal. */
        int64_t wait = s->wait_ms;
        if (stop_flag != NULL && !watched && wait > 100) {
            wait = 100;
        }
        opc_err rc = opc__sync_step(s, wait, &eb);
        if (rc == OPC_OK) {
            if (was_failing) {
                opc__log(OPC_LOG_INFO, SUB, "upstream reachable again after %lld failures",
                         (long long)failures);
            }
            failures = 0;
            was_failing = false;
            continue;
        }
        if (fatal(rc)) {
            opc__log(OPC_LOG_ERROR, SUB, "sync stopped: %s", eb.msg);
            return rc;
        }
        failures++;
        was_failing = true;
        int64_t delay = opc__sync_backoff_ms(s, failures);
        opc__log(failures == 1 ? OPC_LOG_WARN : OPC_LOG_DEBUG, SUB,
                 "sync failed (%s): %s; retrying in %lld ms", opc_errname(rc), eb.msg,
                 (long long)delay);
        nap(s, stop_flag, delay);
    }
    opc__log(OPC_LOG_INFO, SUB, "sync stopped");
    return OPC_OK;
}

static void *thread_main(void *arg)
{
    opc_sync *s = arg;
    opc_err rc = opc_sync_run(s, NULL);
    (void)rc;
    return NULL;
}

opc_err opc_sync_start(opc_sync *s)
{
    if (s == NULL || s->thread_started) {
        return OPC_ERR_INVALID_ARG;
    }
    atomic_store(&s->stop, 0);
    if (pthread_create(&s->thread, NULL, thread_main, s) != 0) {
        return OPC_ERR_INTERNAL;
    }
    s->thread_started = true;
    return OPC_OK;
}

void opc_sync_stop(opc_sync *s)
{
    if (s == NULL) {
        return;
    }
    atomic_store(&s->stop, 1);
    opc__upstream_interrupt(s->up);
    if (s->thread_started) {
        (void)pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
    opc__sync_status_stop(s);
}

void opc__sync_health_get(opc_sync *s, opc__sync_health *out, const char **upstream)
{
    pthread_mutex_lock(&s->lock);
    *out = s->hl;
    pthread_mutex_unlock(&s->lock);
    *upstream = "unknown";
    if (out->last_attempt_ms > 0) {
        *upstream = out->failures > 0 ? "unreachable" : "ok";
    }
}

static opc_err add_time(cJSON *o, const char *key, int64_t ms)
{
    if (ms <= 0) {
        return cJSON_AddNullToObject(o, key) == NULL ? OPC_ERR_NOMEM : OPC_OK;
    }
    char buf[OPC_TIME_STRLEN];
    opc_err rc = opc__time_format(ms / 1000, buf);
    if (rc != OPC_OK) {
        return rc;
    }
    return cJSON_AddStringToObject(o, key, buf) == NULL ? OPC_ERR_NOMEM : OPC_OK;
}

opc_err opc_sync_health_json(opc_sync *s, char **out)
{
    if (s == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    opc__sync_health h;
    const char *upstream = NULL;
    opc__sync_health_get(s, &h, &upstream);
    cJSON *o = cJSON_CreateObject();
    opc_err rc = o == NULL ? OPC_ERR_NOMEM : OPC_OK;
    if (rc == OPC_OK && (cJSON_AddNumberToObject(o, "cursor", (double)h.cursor) == NULL ||
                         cJSON_AddBoolToObject(o, "initialSyncComplete", h.initial) == NULL)) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = add_time(o, "lastAttempt", h.last_attempt_ms);
    }
    if (rc == OPC_OK) {
        rc = add_time(o, "lastSuccess", h.last_success_ms);
    }
    if (rc == OPC_OK &&
        (cJSON_AddNumberToObject(o, "consecutiveFailures", (double)h.failures) == NULL ||
         (h.last_error[0] == '\0'
              ? cJSON_AddNullToObject(o, "lastError")
              : cJSON_AddStringToObject(o, "lastError", h.last_error)) == NULL ||
         cJSON_AddStringToObject(o, "upstream", upstream) == NULL)) {
        rc = OPC_ERR_NOMEM;
    }
    size_t len = 0;
    if (rc == OPC_OK) {
        rc = opc__json_print(o, out, &len);
    }
    cJSON_Delete(o);
    return rc;
}

void opc_sync_free(opc_sync *s)
{
    if (s == NULL) {
        return;
    }
    opc_sync_stop(s);
    opc__cache_close(s->cache);
    opc__upstream_close(s->up);
    forget_grants(s);
    pthread_mutex_destroy(&s->http_lock);
    pthread_mutex_destroy(&s->lock);
    opc__free(s->cache_path);
    opc__wipe(s->cache_key, sizeof s->cache_key);
    opc__free(s);
}
