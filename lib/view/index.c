/*
 * view/index.c - snapshots of the cache for listing and filtering (see
 * index.h).
 */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/index.h"
#include "view/filter.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "core/watch.h"
#include "credentials/credentials.h"
#include "crypto/envelope.h"
#include "crypto/kdf.h"
#include "model/item.h"
#include "model/shape.h"
#include "wire/labels.h"

struct opc__index {
    char *path;
    opc_credentials *creds;
    opc__auth *auth;
    opc__vault_keys *keys;
    char server_id[OPC_ID_LEN + 1];
    uint8_t cache_key[OPC_CACHE_MAC_LEN]; /* the server's cache key (cache.h); wiped at free */
    pthread_mutex_t refresh_mu; /* guards c, data_version, last_poll_ms, refused */
    char refused[OPC_ERRBUF_SIZE]; /* the last refusal logged ("" when none) */
    char account_id[OPC_ID_LEN + 1];
    /* Grants whose owner signature was checked (grant_signed), a ring. */
    struct {
        uint8_t h[OPC_SHA256_LEN]; /* SHA-256 of the grant row's fields */
        bool ok;
    } grants[OPC_INDEX_GRANT_MEMO];
    size_t n_grants;
    size_t next_grant;
    opc__cache *c;
    int64_t data_version;
    atomic_int_fast64_t last_poll_ms;
    atomic_uint_fast64_t full_builds; /* opc__index_stats */
    atomic_uint_fast64_t incremental;
    atomic_uint_fast64_t vault_loads;
    atomic_uint_fast64_t decrypted;
    pthread_mutex_t snap_mu; /* guards cur and refs */
    opc__ix_snapshot *cur;
    atomic_uint_fast64_t generation;
    pthread_mutex_t pool_mu;
    opc__cache *idle[OPC_INDEX_MAX_IDLE_HANDLES];
    size_t n_idle;
    /* The cache lost while running (index.h): set and cleared under
     * refresh_mu, read by any thread. */
    atomic_bool lost;
    char lost_reason[OPC_ERRBUF_SIZE]; /* guarded by refresh_mu */
    /* The watcher: a thread refreshing as soon as the cache files change. */
    opc__watch *watch;
    pthread_t watcher;
    bool watching;
    atomic_bool stop;
};

/* ---- items and snapshots ---- */

/* The size of an element of a vault's items array: a pointer (items are
 * shared by snapshots). One constant, so the lint's warning about sizeof
 * of a pointer to a struct is answered once. */
static const size_t item_ref_size = sizeof(opc__ix_item *); // NOLINT(bugprone-sizeof-expression)

static void item_unref(opc__ix_item *it)
{
    if (it == NULL || atomic_fetch_sub(&it->refs, 1) != 1) {
        return;
    }
    opc__secret_free_str(it->title);
    opc__secret_free_str(it->title_folded);
    for (size_t i = 0; i < it->n_tags; i++) {
        opc__secret_free_str(it->tags[i]);
        opc__secret_free_str(it->tags_folded[i]);
    }
    opc__free(it->tags);
    opc__free(it->tags_folded);
    opc__secret_free_str(it->category_folded);
    if (it->json != NULL) {
        opc__secret_free(it->json, it->json_len);
    }
    opc__free(it);
}

static opc__ix_item *item_ref(opc__ix_item *it)
{
    atomic_fetch_add(&it->refs, 1);
    return it;
}

static void titles_unref(opc__ix_titles *t)
{
    if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1) {
        return;
    }
    if (t->text != NULL) {
        opc__secret_free(t->text, t->off[t->n]);
    }
    opc__free(t->off);
    opc__free(t);
}

/* The folded titles of v's items, end to end (NULL for none: no allocation). */
static opc_err titles_build(opc__ix_vault *v)
{
    if (v->n_items == 0) {
        return OPC_OK;
    }
    size_t total = 0;
    for (size_t i = 0; i < v->n_items; i++) {
        total += v->items[i]->title_len + 1;
    }
    if (total > UINT32_MAX) {
        return OPC_ERR_TOO_LARGE;
    }
    opc__ix_titles *t = opc__calloc(1, sizeof *t);
    if (t == NULL) {
        return OPC_ERR_NOMEM;
    }
    atomic_init(&t->refs, 1);
    t->text = opc__malloc(total);
    t->off = opc__calloc(v->n_items + 1, sizeof *t->off);
    if (t->text == NULL || t->off == NULL) {
        opc__free(t->text);
        opc__free(t->off);
        opc__free(t);
        return OPC_ERR_NOMEM;
    }
    size_t pos = 0;
    for (size_t i = 0; i < v->n_items; i++) {
        const opc__ix_item *it = v->items[i];
        t->off[i] = (uint32_t)pos;
        memcpy(t->text + pos, it->title_folded, it->title_len + 1);
        pos += it->title_len + 1;
    }
    t->off[v->n_items] = (uint32_t)pos;
    t->n = v->n_items;
    v->titles = t;
    return OPC_OK;
}

static void vault_clear(opc__ix_vault *v)
{
    titles_unref(v->titles);
    if (v->list != NULL) {
        opc__secret_free(v->list, v->list_len + 1);
    }
    opc__secret_free_str(v->name);
    opc__secret_free_str(v->description);
    opc__free(v->type);
    if (v->json != NULL) {
        opc__secret_free(v->json, v->json_len);
    }
    opc__free(v->enc_key);
    for (size_t i = 0; i < v->n_items; i++) {
        item_unref(v->items[i]);
    }
    opc__free(v->items);
    memset(v, 0, sizeof *v);
}

static void snapshot_free(opc__ix_snapshot *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_vaults; i++) {
        vault_clear(&s->vaults[i]);
    }
    opc__free(s->vaults);
    opc__free(s->tokens);
    pthread_mutex_destroy(&s->list_mu);
    opc__free(s);
}

opc_err opc__ix_vault_list(opc__ix_snapshot *s, const opc__ix_vault *cv, const char **body,
                           size_t *len)
{
    /* The vault belongs to s (its list is filled once, under s's lock). */
    opc__ix_vault *v = &s->vaults[cv - s->vaults];
    opc_err rc = OPC_OK;
    pthread_mutex_lock(&s->list_mu);
    if (v->list == NULL) {
        size_t total = 2;
        for (size_t i = 0; i < v->n_items; i++) {
            total += v->items[i]->json_len + 1;
        }
        char *p = opc__malloc(total + 1);
        if (p == NULL) {
            rc = OPC_ERR_NOMEM;
        } else {
            size_t pos = 0;
            p[pos++] = '[';
            for (size_t i = 0; i < v->n_items; i++) {
                if (i > 0) {
                    p[pos++] = ',';
                }
                memcpy(p + pos, v->items[i]->json, v->items[i]->json_len);
                pos += v->items[i]->json_len;
            }
            p[pos++] = ']';
            p[pos] = '\0';
            v->list = p;
            v->list_len = pos;
        }
    }
    pthread_mutex_unlock(&s->list_mu);
    *body = v->list;
    *len = v->list_len;
    return rc;
}

opc_err opc__ix_open_json(const char *env_text, const opc__key *key, const char *aad, cJSON **out,
                          opc__ebuf *eb)
{
    *out = NULL;
    if (env_text == NULL) {
        return opc__fail(eb, OPC_ERR_PARSE, "missing envelope");
    }
    cJSON *env = NULL;
    opc__json_limits lim = {.max_size = OPC_ITEM_MAX_JSON * 2, .max_depth = 4};
    opc_err rc = opc__json_parse(env_text, strlen(env_text), &lim, &env, eb);
    opc_secret *pt = NULL;
    if (rc == OPC_OK) {
        rc = opc__envelope_open(env, key, aad, strlen(aad), &pt, eb);
    }
    cJSON_Delete(env);
    if (rc == OPC_OK) {
        opc__json_limits plim = {.max_size = OPC_ITEM_MAX_JSON, .max_depth = OPC_ITEM_MAX_DEPTH};
        rc = opc__json_parse((const char *)opc_secret_data(pt), opc_secret_len(pt), &plim, out, eb);
    }
    opc_secret_free(pt);
    return rc;
}

static int cmp_vault(const void *a, const void *b)
{
    return strcmp(((const opc__ix_vault *)a)->id, ((const opc__ix_vault *)b)->id);
}

static int cmp_item_ptr(const void *a, const void *b)
{
    return strcmp((*(opc__ix_item *const *)a)->id, (*(opc__ix_item *const *)b)->id);
}

static int cmp_token(const void *a, const void *b)
{
    return strcmp(((const opc__ix_token *)a)->jti, ((const opc__ix_token *)b)->jti);
}

/* One item change of a vault, collected while reading the changes. */
typedef struct ix_change {
    char id[OPC_ID_LEN + 1];
    size_t order;     /* position in the change stream: the last change of an id wins */
    opc__ix_item *it; /* the new item (owned), or NULL: the id is gone */
} ix_change;

static int cmp_change(const void *a, const void *b)
{
    const ix_change *x = a;
    const ix_change *y = b;
    int c = strcmp(x->id, y->id);
    if (c != 0) {
        return c;
    }
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Per vault of the snapshot being built. */
typedef struct vault_work {
    bool reuse;                 /* items taken over from the previous snapshot */
    const opc__ix_vault *pv;    /* that vault (same key), or NULL */
    opc__vkey *vk;              /* fetched on first need */
    ix_change *changes;
    size_t n_changes;
    size_t changes_cap;
} vault_work;

typedef struct build_ctx {
    opc__index *ix;
    opc__ix_snapshot *s;
    size_t cap;
    vault_work *work;     /* parallel to s->vaults while they are filled */
    opc__ix_vault *v;     /* vault being filled (items walk) */
    vault_work *w;        /* its work */
    size_t item_cap;
    const opc__ix_snapshot *prev; /* the snapshot being replaced */
    bool incremental;             /* apply prev + changes rather than read everything */
    int64_t now_ms;
    size_t n_changes;             /* changes seen in this build (incremental) */
} build_ctx;

static opc_err on_token(const opc__cache_token *t, void *ud)
{
    build_ctx *b = ud;
    if (strcmp(t->server, b->ix->server_id) != 0) {
        return OPC_OK;
    }
    opc__ix_token *n = opc__grow(b->s->tokens, &b->cap, b->s->n_tokens, sizeof *n, 16);
    if (n == NULL) {
        return OPC_ERR_NOMEM;
    }
    b->s->tokens = n;
    opc__ix_token *k = &b->s->tokens[b->s->n_tokens++];
    memset(k, 0, sizeof *k);
    memcpy(k->jti, t->jti, sizeof k->jti);
    k->state = (t->state != NULL && strcmp(t->state, "active") == 0) ? OPC_TOKEN_ACTIVE
                                                                     : OPC_TOKEN_REVOKED;
    k->expires = t->expires;
    return OPC_OK;
}

/*
 * Whether a grant row carries the owner's signature (keys.h). Checked once
 * per distinct row (ECDSA costs tens of microseconds and the index is
 * rebuilt at every cache change): the outcome is kept by the SHA-256 of
 * the row's fields; a grant that fails is logged once and skipped (no
 * vault). Under refresh_mu (builds only).
 */
static bool grant_signed(opc__index *ix, const opc__cache_access *a)
{
    uint8_t h[OPC_SHA256_LEN];
    char head[160];
    (void)snprintf(head, sizeof head, "%s|%lld|%lld|%lld|", a->vault, (long long)a->key_sn,
                   (long long)a->acl, (long long)a->granted);
    opc__buf m;
    opc__buf_init(&m, false);
    (void)opc__buf_append_str(&m, head);
    (void)opc__buf_append_str(&m, a->enc_key != NULL ? a->enc_key : "");
    (void)opc__buf_append_char(&m, '|');
    (void)opc__buf_append_str(&m, a->grant_sig != NULL ? a->grant_sig : "");
    bool hashed = opc__buf_err(&m) == OPC_OK && opc__sha256(m.data, m.len, h) == OPC_OK;
    opc__buf_free(&m);
    if (hashed) {
        for (size_t i = 0; i < ix->n_grants; i++) {
            if (memcmp(ix->grants[i].h, h, sizeof h) == 0) {
                return ix->grants[i].ok;
            }
        }
    }
    bool ok = opc__vault_grant_signed(ix->creds, ix->server_id, ix->account_id, a);
    if (!ok) {
        opc__log(OPC_LOG_WARN, "api",
                 "the grant of vault %s in the cache does not carry the owner's signature: "
                 "refused",
                 a->vault);
    }
    if (hashed) {
        size_t i = ix->next_grant;
        memcpy(ix->grants[i].h, h, sizeof h);
        ix->grants[i].ok = ok;
        ix->next_grant = (i + 1) % OPC_INDEX_GRANT_MEMO;
        if (ix->n_grants < OPC_INDEX_GRANT_MEMO) {
            ix->n_grants++;
        }
    }
    return ok;
}

static opc_err on_access(const opc__cache_access *a, void *ud)
{
    build_ctx *b = ud;
    if (!grant_signed(b->ix, a)) {
        return OPC_OK;
    }
    opc__ix_vault *n = opc__grow(b->s->vaults, &b->cap, b->s->n_vaults, sizeof *n, 8);
    if (n == NULL) {
        return OPC_ERR_NOMEM;
    }
    b->s->vaults = n;
    opc__ix_vault *v = &b->s->vaults[b->s->n_vaults];
    memset(v, 0, sizeof *v);
    v->enc_key = opc__strdup(a->enc_key != NULL ? a->enc_key : "");
    if (v->enc_key == NULL) {
        return OPC_ERR_NOMEM;
    }
    memcpy(v->id, a->vault, sizeof v->id);
    v->key_sn = a->key_sn;
    b->s->n_vaults++;
    return OPC_OK;
}

static opc_err item_tags(opc__ix_item *it, const cJSON *ov)
{
    const cJSON *tags = opc__json_member(ov, "tags");
    if (!cJSON_IsArray(tags)) {
        return OPC_OK;
    }
    size_t n = (size_t)cJSON_GetArraySize(tags);
    if (n == 0) {
        return OPC_OK;
    }
    it->tags = opc__calloc(n, sizeof *it->tags);
    it->tags_folded = opc__calloc(n, sizeof *it->tags_folded);
    if (it->tags == NULL || it->tags_folded == NULL) {
        return OPC_ERR_NOMEM;
    }
    const cJSON *t = NULL;
    cJSON_ArrayForEach(t, tags)
    {
        if (cJSON_IsString(t)) {
            size_t len = strlen(t->valuestring);
            char *copy = opc__strdup(t->valuestring);
            char *folded = copy != NULL ? opc__filter_fold(t->valuestring, len) : NULL;
            if (folded == NULL) {
                opc__secret_free_str(copy);
                return OPC_ERR_NOMEM;
            }
            it->tags[it->n_tags] = copy;
            it->tags_folded[it->n_tags] = folded;
            it->n_tags++;
        }
    }
    return OPC_OK;
}

static opc_err item_category(opc__ix_item *it, const cJSON *ov)
{
    const cJSON *c = opc__json_member(ov, "category");
    const char *name = cJSON_IsString(c) ? c->valuestring : "";
    it->category_folded = opc__filter_fold(name, strlen(name));
    return it->category_folded != NULL ? OPC_OK : OPC_ERR_NOMEM;
}

/* The vault key of the vault being filled (fetched once per build). */
static opc_err work_key(build_ctx *b, const opc__key **out, opc__ebuf *eb)
{
    vault_work *w = b->w;
    if (w->vk == NULL) {
        opc_err rc = opc__vault_keys_get(b->ix->keys, b->v->id, b->v->key_sn, b->v->enc_key,
                                         b->now_ms, &w->vk, eb);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    *out = opc__vkey_key(w->vk);
    return OPC_OK;
}

/*
 * Decrypt an item row into a new index item (refs 1). *out NULL with OPC_OK
 * when the row is not listed (not active, a key serial not held, does not
 * decrypt: logged).
 */
static opc_err item_make(build_ctx *b, const opc__cache_item *row, opc__ix_item **out)
{
    *out = NULL;
    opc__ix_vault *v = b->v;
    if (row->state != NULL && strcmp(row->state, "active") != 0) {
        return OPC_OK;
    }
    if (row->key_sn != v->key_sn) {
        opc__log(OPC_LOG_WARN, "api", "item %s: key serial %lld not held, skipped", row->id,
                 (long long)row->key_sn);
        return OPC_OK;
    }
    char aad[OPC_WIRE_LABEL_MAX];
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    cJSON *ov = NULL;
    const opc__key *key = NULL;
    opc_err rc = work_key(b, &key, &eb);
    if (rc == OPC_OK) {
        rc = opc__wire_item_aad(aad, sizeof aad, v->id, row->id, OPC_WIRE_ITEM_OVERVIEW,
                                row->key_sn);
    }
    if (rc == OPC_OK) {
        rc = opc__ix_open_json(row->overview, key, aad, &ov, &eb);
    }
    if (rc != OPC_OK) {
        if (rc == OPC_ERR_NOMEM) {
            return rc;
        }
        opc__log(OPC_LOG_WARN, "api", "item %s of vault %s does not decrypt, skipped", row->id,
                 v->id);
        return OPC_OK;
    }
    atomic_fetch_add(&b->ix->decrypted, 1);
    opc__ix_item *it = opc__calloc(1, sizeof *it);
    if (it == NULL) {
        opc__json_delete_secret(ov);
        return OPC_ERR_NOMEM;
    }
    atomic_init(&it->refs, 1);
    memcpy(it->id, row->id, sizeof it->id);
    it->version = row->version;
    it->updated = row->updated;
    cJSON *sum = NULL;
    cJSON *obj = cJSON_CreateObject();
    rc = obj != NULL ? OPC_OK : OPC_ERR_NOMEM;
    if (rc == OPC_OK) {
        rc = opc__item_summary(ov, &sum);
    }
    if (rc == OPC_OK) {
        /* id and vault first, as Connect lists them; then the summary; then the stamp. */
        rc = opc__item_set_ids(obj, v->id, row->id);
        const cJSON *m = NULL;
        cJSON_ArrayForEach(m, sum)
        {
            if (rc == OPC_OK && !cJSON_AddItemToObject(obj, m->string, cJSON_Duplicate(m, true))) {
                rc = OPC_ERR_NOMEM;
            }
        }
        opc__item_stamp stamp = {row->version, row->last_edited_by, row->created, row->updated};
        if (rc == OPC_OK) {
            rc = opc__item_set_stamp(obj, &stamp);
        }
    }
    const cJSON *title = opc__json_member(ov, "title");
    if (rc == OPC_OK) {
        it->title = opc__strdup(cJSON_IsString(title) ? title->valuestring : "");
        it->title_len = it->title != NULL ? strlen(it->title) : 0;
        it->title_folded = it->title != NULL ? opc__filter_fold(it->title, it->title_len) : NULL;
        rc = it->title_folded != NULL ? OPC_OK : OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = item_tags(it, ov);
    }
    if (rc == OPC_OK) {
        rc = item_category(it, ov);
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(obj, &it->json, &it->json_len);
    }
    opc__json_delete_secret(obj);
    opc__json_delete_secret(sum);
    opc__json_delete_secret(ov);
    if (rc != OPC_OK) {
        item_unref(it);
        return rc == OPC_ERR_NOMEM ? rc : OPC_OK;
    }
    *out = it;
    return OPC_OK;
}

static opc_err push_item(build_ctx *b, opc__ix_item *it)
{
    opc__ix_vault *v = b->v;
    opc__ix_item **n = opc__grow(v->items, &b->item_cap, v->n_items, item_ref_size, 16);
    if (n == NULL) {
        item_unref(it);
        return OPC_ERR_NOMEM;
    }
    v->items = n;
    v->items[v->n_items++] = it;
    return OPC_OK;
}

/* Full read of a vault's items: one row at a time. */
static opc_err on_item(const opc__cache_item *row, void *ud)
{
    build_ctx *b = ud;
    opc__ix_item *it = NULL;
    opc_err rc = item_make(b, row, &it);
    if (rc == OPC_OK && it != NULL) {
        rc = push_item(b, it);
    }
    return rc;
}

/* ---- changes since the previous snapshot ---- */

static vault_work *work_of(build_ctx *b, const char *vault, opc__ix_vault **v)
{
    *v = NULL;
    const opc__ix_vault *found = opc__ix_find_vault(b->s, vault);
    if (found == NULL) {
        return NULL;
    }
    size_t i = (size_t)(found - b->s->vaults);
    if (!b->work[i].reuse) {
        return NULL; /* read afresh: already current */
    }
    *v = &b->s->vaults[i];
    return &b->work[i];
}

static opc_err add_change(build_ctx *b, vault_work *w, const char *id, opc__ix_item *it)
{
    ix_change *n = opc__grow(w->changes, &w->changes_cap, w->n_changes, sizeof *n, 8);
    if (n == NULL) {
        item_unref(it);
        return OPC_ERR_NOMEM;
    }
    w->changes = n;
    ix_change *c = &w->changes[w->n_changes++];
    memset(c, 0, sizeof *c);
    memcpy(c->id, id, strnlen(id, OPC_ID_LEN));
    c->order = b->n_changes++;
    c->it = it;
    return OPC_OK;
}

static opc_err on_gone(const char *vault, const char *item, void *ud)
{
    build_ctx *b = ud;
    opc__ix_vault *v = NULL;
    vault_work *w = work_of(b, vault, &v);
    return w == NULL ? OPC_OK : add_change(b, w, item, NULL);
}

static opc_err on_changed(const opc__cache_item *row, void *ud)
{
    build_ctx *b = ud;
    opc__ix_vault *v = NULL;
    vault_work *w = work_of(b, row->vault, &v);
    if (w == NULL) {
        return OPC_OK;
    }
    /* The same version is the same upstream state (the sync replaying a
     * write-through): nothing changes, unless this build saw the id go
     * first; then the decrypted item comes back as it was. */
    const opc__ix_item *have = opc__ix_find_item(w->pv, row->id);
    if (have != NULL && have->version == row->version && row->state != NULL &&
        strcmp(row->state, "active") == 0 && row->key_sn == v->key_sn) {
        for (size_t i = 0; i < w->n_changes; i++) {
            if (strcmp(w->changes[i].id, row->id) == 0) {
                return add_change(b, w, row->id, item_ref((opc__ix_item *)(uintptr_t)have));
            }
        }
        return OPC_OK;
    }
    b->v = v;
    b->w = w;
    opc__ix_item *it = NULL;
    opc_err rc = item_make(b, row, &it);
    return rc == OPC_OK ? add_change(b, w, row->id, it) : rc;
}

/*
 * v->items (the previous snapshot's, referenced) merged with w's changes
 * (the last change of an id wins) into a new sorted array.
 */
static opc_err apply_changes(opc__ix_vault *v, vault_work *w)
{
    if (w->n_changes == 0) {
        return OPC_OK;
    }
    qsort(w->changes, w->n_changes, sizeof *w->changes, cmp_change);
    size_t cap = v->n_items + w->n_changes;
    opc__ix_item **out = opc__calloc(cap, item_ref_size);
    if (out == NULL) {
        return OPC_ERR_NOMEM;
    }
    size_t n = 0;
    size_t i = 0;
    size_t j = 0;
    while (i < v->n_items || j < w->n_changes) {
        /* The last change of an id (sorted by id, then order). */
        size_t k = j;
        while (k + 1 < w->n_changes && strcmp(w->changes[k + 1].id, w->changes[j].id) == 0) {
            k++;
        }
        int c = i >= v->n_items     ? 1
                : j >= w->n_changes ? -1
                                    : strcmp(v->items[i]->id, w->changes[j].id);
        if (c < 0) {
            out[n++] = v->items[i++];
            continue;
        }
        if (c == 0) {
            item_unref(v->items[i++]);
        }
        if (w->changes[k].it != NULL) {
            out[n++] = w->changes[k].it;
            w->changes[k].it = NULL;
        }
        j = k + 1;
    }
    opc__free(v->items);
    v->items = out;
    v->n_items = n;
    return OPC_OK;
}

static void work_clear(opc__index *ix, vault_work *w)
{
    for (size_t i = 0; i < w->n_changes; i++) {
        item_unref(w->changes[i].it);
    }
    opc__free(w->changes);
    opc__vault_keys_release(ix->keys, w->vk);
    memset(w, 0, sizeof *w);
}

/* ---- one vault ---- */

static opc_err vault_strings(opc__ix_vault *v, const opc__cache_vault *row)
{
    v->type = opc__strdup(row->type != NULL ? row->type : "");
    v->attr_version = row->attr_version;
    v->content_version = row->content_version;
    v->created = row->created;
    v->updated = row->updated;
    v->row_key_sn = row->key_sn;
    return v->type != NULL ? OPC_OK : OPC_ERR_NOMEM;
}

/* Name and description: the previous snapshot's when the attributes did not change. */
static opc_err vault_attrs(build_ctx *b, opc__ix_vault *v, const opc__cache_vault *row,
                           opc__ebuf *eb)
{
    const opc__ix_vault *pv = b->w->pv;
    if (pv != NULL && pv->attr_version == row->attr_version && pv->row_key_sn == row->key_sn &&
        pv->name != NULL) {
        v->name = opc__strdup(pv->name);
        v->description = pv->description != NULL ? opc__strdup(pv->description) : NULL;
        return v->name != NULL && (pv->description == NULL || v->description != NULL)
                   ? OPC_OK
                   : OPC_ERR_NOMEM;
    }
    char aad[OPC_WIRE_LABEL_MAX];
    const opc__key *key = NULL;
    cJSON *attrs = NULL;
    opc_err rc = work_key(b, &key, eb);
    if (rc == OPC_OK) {
        rc = opc__wire_vault_attrs_aad(aad, sizeof aad, v->id, row->key_sn);
    }
    if (rc == OPC_OK) {
        rc = opc__ix_open_json(row->attrs, key, aad, &attrs, eb);
    }
    if (rc == OPC_OK) {
        const cJSON *name = opc__json_member(attrs, "name");
        const cJSON *desc = opc__json_member(attrs, "description");
        v->name = opc__strdup(cJSON_IsString(name) ? name->valuestring : "");
        v->description = cJSON_IsString(desc) ? opc__strdup(desc->valuestring) : NULL;
        rc = v->name != NULL && (!cJSON_IsString(desc) || v->description != NULL)
                 ? OPC_OK
                 : OPC_ERR_NOMEM;
    }
    opc__json_delete_secret(attrs);
    return rc;
}

/* The items: the previous snapshot's (referenced) or every row read afresh. */
static opc_err vault_items(build_ctx *b, opc__ix_vault *v, opc__ebuf *eb)
{
    const opc__ix_vault *pv = b->w->pv;
    b->item_cap = 0;
    if (b->w->reuse) {
        if (pv->n_items > 0) {
            v->items = opc__calloc(pv->n_items, item_ref_size);
            if (v->items == NULL) {
                return OPC_ERR_NOMEM;
            }
            for (size_t i = 0; i < pv->n_items; i++) {
                v->items[i] = item_ref(pv->items[i]);
            }
            v->n_items = pv->n_items;
        }
        return OPC_OK;
    }
    if (b->incremental) {
        atomic_fetch_add(&b->ix->vault_loads, 1);
    }
    opc_err rc = opc__cache_items_foreach(b->ix->c, v->id, false, on_item, b, eb);
    if (rc == OPC_OK && v->n_items > 1) {
        qsort(v->items, v->n_items, item_ref_size, cmp_item_ptr);
    }
    return rc;
}

/* Decrypt a vault's attributes and take or read its items. Failures leave it undecrypted. */
static opc_err fill_vault(build_ctx *b, size_t i)
{
    opc__ix_vault *v = &b->s->vaults[i];
    vault_work *w = &b->work[i];
    b->v = v;
    b->w = w;
    if (b->incremental) {
        const opc__ix_vault *pv = opc__ix_find_vault(b->prev, v->id);
        if (pv != NULL && pv->decrypted && pv->key_sn == v->key_sn &&
            strcmp(pv->enc_key, v->enc_key) == 0) {
            w->pv = pv;
            w->reuse = true;
        }
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__cache_vault row;
    memset(&row, 0, sizeof row);
    opc_err rc = opc__cache_vault_get(b->ix->c, v->id, &row, &eb);
    if (rc != OPC_OK) {
        w->reuse = false;
        return rc == OPC_ERR_NOMEM ? rc : OPC_OK; /* granted, not synced yet */
    }
    rc = vault_strings(v, &row);
    if (rc == OPC_OK) {
        rc = vault_attrs(b, v, &row, &eb);
    }
    if (rc == OPC_OK) {
        rc = vault_items(b, v, &eb);
    }
    if (rc == OPC_OK) {
        v->decrypted = true;
    } else {
        w->reuse = false;
        opc__log(OPC_LOG_WARN, "api", "vault %s could not be read: %s", v->id,
                 eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
    }
    opc__cache_vault_clear(&row);
    return rc == OPC_ERR_NOMEM ? rc : OPC_OK;
}

/* The vault object, with the item count of this snapshot. */
static opc_err vault_render(opc__ix_vault *v)
{
    /* The item count is of the items this server could decrypt (the
     * account's column counts every active item). */
    opc__vault_info info = {v->id,
                            v->name,
                            v->description,
                            v->type,
                            v->attr_version,
                            v->content_version,
                            (int64_t)v->n_items,
                            v->created,
                            v->updated};
    cJSON *obj = NULL;
    opc_err rc = opc__vault_json(&info, &obj);
    if (rc == OPC_OK) {
        rc = opc__json_print(obj, &v->json, &v->json_len);
    }
    opc__json_delete_secret(obj);
    return rc;
}

/* Vaults: the grants, each vault filled, then the changes applied. */
static opc_err build_vaults(build_ctx *b, int64_t since, opc__ebuf *eb)
{
    opc__ix_snapshot *s = b->s;
    b->cap = 0;
    opc_err rc = opc__cache_access_foreach(b->ix->c, on_access, b, eb);
    if (rc == OPC_OK && s->n_vaults > 1) {
        qsort(s->vaults, s->n_vaults, sizeof *s->vaults, cmp_vault);
    }
    if (rc == OPC_OK && s->n_vaults > 0) {
        b->work = opc__calloc(s->n_vaults, sizeof *b->work);
        rc = b->work != NULL ? OPC_OK : OPC_ERR_NOMEM;
    }
    for (size_t i = 0; rc == OPC_OK && i < s->n_vaults; i++) {
        rc = fill_vault(b, i);
    }
    if (rc == OPC_OK && b->incremental) {
        rc = opc__cache_gone_foreach(b->ix->c, since, on_gone, b, eb);
    }
    if (rc == OPC_OK && b->incremental) {
        rc = opc__cache_items_changed_foreach(b->ix->c, since, on_changed, b, eb);
    }
    for (size_t i = 0; rc == OPC_OK && i < s->n_vaults; i++) {
        vault_work *w = &b->work[i];
        opc__ix_vault *v = &s->vaults[i];
        if (w->reuse && w->n_changes == 0 && w->pv->titles != NULL) {
            v->titles = w->pv->titles;
            atomic_fetch_add(&v->titles->refs, 1);
        } else if (w->reuse) {
            rc = apply_changes(v, w);
        }
        if (rc == OPC_OK && v->decrypted && v->titles == NULL) {
            rc = titles_build(v);
        }
        if (rc == OPC_OK && s->vaults[i].decrypted) {
            rc = vault_render(&s->vaults[i]);
        }
    }
    if (b->work != NULL) {
        for (size_t i = 0; i < s->n_vaults; i++) {
            work_clear(b->ix, &b->work[i]);
        }
        opc__free(b->work);
        b->work = NULL;
    }
    return rc;
}

/* ---- the cache lost while running (index.h) ---- */

/* Close the idle handles (they are on the lost file). */
static void pool_drain(opc__index *ix)
{
    opc__cache *old[OPC_INDEX_MAX_IDLE_HANDLES];
    pthread_mutex_lock(&ix->pool_mu);
    size_t n = ix->n_idle;
    for (size_t i = 0; i < n; i++) {
        old[i] = ix->idle[i];
    }
    ix->n_idle = 0;
    pthread_mutex_unlock(&ix->pool_mu);
    for (size_t i = 0; i < n; i++) {
        opc__cache_close_lost(old[i]);
    }
}

/* The file under the index went away (why: secret-free, names the path).
 * Under refresh_mu. */
static void index_lose(opc__index *ix, const char *why)
{
    if (!atomic_load(&ix->lost)) {
        (void)snprintf(ix->lost_reason, sizeof ix->lost_reason, "%s", why);
        atomic_store(&ix->lost, true);
        opc__log(OPC_LOG_WARN, "api", "%s: answering 503 until connect-sync has rebuilt the cache",
                 why);
    }
    opc__cache_close_lost(ix->c);
    ix->c = NULL;
    ix->data_version = -1;
    pool_drain(ix);
}

bool opc__index_lost(opc__index *ix)
{
    return ix != NULL && atomic_load(&ix->lost);
}

/*
 * The cache's verified rows (cache/cache.h): *trusted tells whether the
 * seal and every row hold. When they do not, the snapshot takes no token
 * and no grant from the cache (every token is unknown: 401) until
 * connect-sync has synced it again; the failure is logged once (tables and
 * ids), and again only when it changes.
 */
static opc_err check_rows(opc__index *ix, bool *trusted, opc__ebuf *eb)
{
    opc__cache_check chk;
    opc_err rc = opc__cache_verify(ix->c, &chk, eb);
    *trusted = rc == OPC_OK && chk.ok;
    if (rc != OPC_OK) {
        return rc;
    }
    char what[OPC_ERRBUF_SIZE];
    (void)opc__cache_check_describe(&chk, what, sizeof what);
    if (strcmp(what, ix->refused) != 0) {
        if (what[0] != '\0') {
            opc__log(OPC_LOG_WARN, "api",
                     "cache rows failed verification: %s; no token or grant of the cache is used "
                     "until connect-sync has synced it again",
                     what);
        } else {
            opc__log(OPC_LOG_INFO, "api", "the cache's rows verify again");
        }
        (void)snprintf(ix->refused, sizeof ix->refused, "%s", what);
    }
    return OPC_OK;
}

/*
 * A new snapshot: the previous one and the changes since its position when
 * it is current enough (incremental), else everything read afresh.
 */
static opc__ix_snapshot *build(opc__index *ix, int64_t now_ms)
{
    opc__ix_snapshot *s = opc__calloc(1, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    s->refs = 1;
    pthread_mutex_init(&s->list_mu, NULL);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = OPC_OK;
    bool opened = false;
    if (ix->c == NULL) {
        rc = opc__cache_open(ix->path, OPC_CACHE_READ, &ix->c, &eb);
        opened = rc == OPC_OK;
        if (opened) {
            opc__cache_set_key(ix->c, ix->cache_key);
            /* A file that replaced the cache is read through the lost file's
             * -wal and -shm while they are left at the path (SQLite finds
             * them by name): it shows the lost file's rows. Its own first
             * page tells (index.h). */
            rc = opc__cache_file_check(ix->c, &eb);
        }
    }
    bool tx = false;
    if (rc == OPC_OK) {
        rc = opc__cache_begin(ix->c, false, &eb);
        tx = rc == OPC_OK;
    }
    if (rc == OPC_OK) {
        rc = opc__cache_data_version(ix->c, &ix->data_version, &eb);
    }
    if (rc == OPC_OK) {
        rc = opc__cache_meta_get(ix->c, &s->meta, &eb);
    }
    bool trusted = false;
    if (rc == OPC_OK) {
        rc = check_rows(ix, &trusted, &eb);
    }
    opc__ix_snapshot *prev = opc__index_acquire(ix);
    build_ctx b = {.ix = ix, .s = s, .prev = prev, .now_ms = now_ms};
    if (rc == OPC_OK && trusted) {
        rc = opc__cache_tokens_foreach(ix->c, on_token, &b, &eb);
    }
    s->unlocked = opc__auth_unlocked(ix->auth);
    s->rows_trusted = trusted;
    /* A file opened now may be another than prev's (the cache lost and
     * made again): its change numbers say nothing about prev's. */
    b.incremental = rc == OPC_OK && !opened && prev->cache_ok && prev->unlocked && s->unlocked &&
                    prev->rows_trusted && trusted &&
                    prev->meta.change_seq >= s->meta.gone_floor &&
                    prev->meta.change_seq <= s->meta.change_seq;
    if (rc == OPC_OK && s->unlocked && trusted) {
        if (!b.incremental) {
            atomic_fetch_add(&ix->full_builds, 1);
        } else {
            atomic_fetch_add(&ix->incremental, 1);
        }
        rc = build_vaults(&b, prev->meta.change_seq, &eb);
    }
    if (tx) {
        opc__cache_rollback(ix->c);
    }
    opc__index_release(ix, prev);
    if (s->n_tokens > 1) {
        qsort(s->tokens, s->n_tokens, sizeof *s->tokens, cmp_token);
    }
    s->cache_ok = rc == OPC_OK;
    if (rc != OPC_OK) {
        (void)snprintf(s->cache_error, sizeof s->cache_error, "%s",
                       eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
        if (ix->c != NULL && opc__cache_damaged(ix->c)) {
            char why[OPC_ERRBUF_SIZE + 64];
            (void)snprintf(why, sizeof why, "cache file %s is damaged (%s)", ix->path,
                           s->cache_error);
            index_lose(ix, why);
        }
        /* Reopen next time (the file may be replaced or not exist yet). */
        opc__cache_close_lost(ix->c);
        ix->c = NULL;
        ix->data_version = -1;
    } else if (atomic_load(&ix->lost) && s->meta.initial_sync_complete) {
        atomic_store(&ix->lost, false);
        ix->lost_reason[0] = '\0';
        opc__log(OPC_LOG_INFO, "api", "cache file %s rebuilt (initial sync complete): serving it",
                 ix->path);
    }
    s->cache_lost = atomic_load(&ix->lost);
    memcpy(s->lost_reason, ix->lost_reason, sizeof s->lost_reason);
    return s;
}

/* ---- the index ---- */

opc_err opc__index_create(const char *cache_path, opc_credentials *creds, opc__auth *auth,
                          opc__vault_keys *keys, opc__index **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    const char *sid = creds != NULL ? opc_credentials_server_id(creds) : NULL;
    if (cache_path == NULL || auth == NULL || keys == NULL || sid == NULL ||
        strlen(sid) != OPC_ID_LEN) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__index *ix = opc__calloc(1, sizeof *ix);
    if (ix == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc_err krc = opc__credentials_cache_key(creds, ix->cache_key);
    if (krc != OPC_OK) {
        opc__free(ix);
        return krc;
    }
    ix->path = opc__strdup(cache_path);
    ix->cur = opc__calloc(1, sizeof *ix->cur);
    if (ix->path == NULL || ix->cur == NULL) {
        opc__free(ix->path);
        opc__free(ix->cur);
        opc__free(ix);
        return OPC_ERR_NOMEM;
    }
    ix->cur->refs = 1;
    pthread_mutex_init(&ix->cur->list_mu, NULL);
    (void)snprintf(ix->cur->cache_error, sizeof ix->cur->cache_error, "not read yet");
    memcpy(ix->server_id, sid, OPC_ID_LEN + 1);
    const char *aid = opc_credentials_account_id(creds);
    (void)snprintf(ix->account_id, sizeof ix->account_id, "%s", aid != NULL ? aid : "");
    ix->creds = creds;
    ix->auth = auth;
    ix->keys = keys;
    ix->data_version = -1;
    atomic_init(&ix->lost, false);
    atomic_init(&ix->last_poll_ms, INT64_MIN / 2);
    atomic_init(&ix->generation, 1);
    pthread_mutex_init(&ix->refresh_mu, NULL);
    pthread_mutex_init(&ix->snap_mu, NULL);
    pthread_mutex_init(&ix->pool_mu, NULL);
    *out = ix;
    return OPC_OK;
}

void opc__index_free(opc__index *ix)
{
    if (ix == NULL) {
        return;
    }
    opc__index_watch_stop(ix);
    snapshot_free(ix->cur);
    opc__cache_close(ix->c);
    for (size_t i = 0; i < ix->n_idle; i++) {
        opc__cache_close(ix->idle[i]);
    }
    pthread_mutex_destroy(&ix->refresh_mu);
    pthread_mutex_destroy(&ix->snap_mu);
    pthread_mutex_destroy(&ix->pool_mu);
    opc__free(ix->path);
    opc__wipe(ix->cache_key, sizeof ix->cache_key);
    opc__free(ix);
}

static void swap_in(opc__index *ix, opc__ix_snapshot *s)
{
    pthread_mutex_lock(&ix->snap_mu);
    opc__ix_snapshot *old = ix->cur;
    s->generation = atomic_fetch_add(&ix->generation, 1) + 1;
    ix->cur = s;
    bool last = --old->refs == 0;
    pthread_mutex_unlock(&ix->snap_mu);
    if (last) {
        snapshot_free(old);
    }
}

void opc__index_poll(opc__index *ix, int64_t now_ms, bool force)
{
    if (ix == NULL) {
        return;
    }
    if (!force && now_ms - atomic_load(&ix->last_poll_ms) < OPC_INDEX_POLL_MS) {
        return;
    }
    if (force) {
        pthread_mutex_lock(&ix->refresh_mu);
    } else if (pthread_mutex_trylock(&ix->refresh_mu) != 0) {
        return; /* another thread refreshes */
    }
    atomic_store(&ix->last_poll_ms, now_ms);
    bool need = ix->c == NULL;
    if (!need) {
        opc__ebuf why;
        opc__ebuf_clear(&why);
        if (opc__cache_file_check(ix->c, &why) != OPC_OK) {
            index_lose(ix, why.msg);
            need = true;
        }
    }
    if (!need) {
        int64_t dv = -1;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        if (opc__cache_data_version(ix->c, &dv, &eb) != OPC_OK || dv != ix->data_version) {
            need = true;
        }
    }
    pthread_mutex_lock(&ix->snap_mu);
    bool built_unlocked = ix->cur->unlocked;
    pthread_mutex_unlock(&ix->snap_mu);
    if (built_unlocked != opc__auth_unlocked(ix->auth)) {
        need = true;
    }
    if (need) {
        opc__ix_snapshot *s = build(ix, now_ms);
        if (s != NULL) {
            swap_in(ix, s);
        }
    }
    pthread_mutex_unlock(&ix->refresh_mu);
}

opc__ix_snapshot *opc__index_acquire(opc__index *ix)
{
    pthread_mutex_lock(&ix->snap_mu);
    opc__ix_snapshot *s = ix->cur;
    s->refs++;
    pthread_mutex_unlock(&ix->snap_mu);
    return s;
}

void opc__index_release(opc__index *ix, opc__ix_snapshot *s)
{
    if (ix == NULL || s == NULL) {
        return;
    }
    pthread_mutex_lock(&ix->snap_mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&ix->snap_mu);
    if (last) {
        snapshot_free(s);
    }
}

uint64_t opc__index_generation(opc__index *ix)
{
    return (uint64_t)atomic_load(&ix->generation);
}

const opc__ix_vault *opc__ix_find_vault(const opc__ix_snapshot *s, const char *id)
{
    if (s == NULL || id == NULL || s->n_vaults == 0) {
        return NULL;
    }
    opc__ix_vault key;
    memset(&key, 0, sizeof key);
    memcpy(key.id, id, strnlen(id, OPC_ID_LEN));
    key.id[strnlen(id, OPC_ID_LEN)] = '\0';
    return bsearch(&key, s->vaults, s->n_vaults, sizeof *s->vaults, cmp_vault);
}

const opc__ix_item *opc__ix_find_item(const opc__ix_vault *v, const char *id)
{
    if (v == NULL || id == NULL || v->n_items == 0) {
        return NULL;
    }
    opc__ix_item key;
    memset(&key, 0, sizeof key);
    memcpy(key.id, id, strnlen(id, OPC_ID_LEN));
    key.id[strnlen(id, OPC_ID_LEN)] = '\0';
    const opc__ix_item *kp = &key;
    opc__ix_item *const *hit = bsearch(&kp, v->items, v->n_items, item_ref_size, cmp_item_ptr);
    return hit != NULL ? *hit : NULL;
}

void opc__index_stats(opc__index *ix, opc__index_stats_t *out)
{
    out->full_builds = (uint64_t)atomic_load(&ix->full_builds);
    out->incremental = (uint64_t)atomic_load(&ix->incremental);
    out->vault_loads = (uint64_t)atomic_load(&ix->vault_loads);
    out->decrypted = (uint64_t)atomic_load(&ix->decrypted);
}

const opc__ix_token *opc__ix_find_token(const opc__ix_snapshot *s, const char *jti)
{
    if (s == NULL || jti == NULL || s->n_tokens == 0 || strlen(jti) > OPC_ID_LEN) {
        return NULL;
    }
    opc__ix_token key;
    memset(&key, 0, sizeof key);
    memcpy(key.jti, jti, strlen(jti) + 1);
    return bsearch(&key, s->tokens, s->n_tokens, sizeof *s->tokens, cmp_token);
}

opc_err opc__index_handle(opc__index *ix, opc__cache **out, opc__ebuf *eb)
{
    *out = NULL;
    if (atomic_load(&ix->lost)) {
        /* The path may name a new file still being synced: nothing read
         * from it would agree with the snapshot. */
        return opc__fail(eb, OPC_ERR_IO, "the cache is being rebuilt");
    }
    pthread_mutex_lock(&ix->pool_mu);
    if (ix->n_idle > 0) {
        *out = ix->idle[--ix->n_idle];
    }
    pthread_mutex_unlock(&ix->pool_mu);
    if (*out != NULL) {
        return OPC_OK;
    }
    opc_err rc = opc__cache_open(ix->path, OPC_CACHE_READ, out, eb);
    if (rc == OPC_OK) {
        opc__cache_set_key(*out, ix->cache_key);
        rc = opc__cache_set_page_cache_kib(*out, OPC_INDEX_HANDLE_PAGE_CACHE_KIB, eb);
        if (rc != OPC_OK) {
            opc__cache_close(*out);
            *out = NULL;
        }
    }
    return rc;
}

void opc__index_handle_release(opc__index *ix, opc__cache *c)
{
    if (c == NULL) {
        return;
    }
    if (opc__cache_damaged(c)) {
        char why[OPC_ERRBUF_SIZE];
        (void)snprintf(why, sizeof why, "cache file %s is damaged (found by a read)", ix->path);
        pthread_mutex_lock(&ix->refresh_mu);
        index_lose(ix, why);
        pthread_mutex_unlock(&ix->refresh_mu);
    }
    /* A handle on a lost file is not kept (index.h): one stat. */
    if (atomic_load(&ix->lost) || opc__cache_moved(c) || opc__cache_damaged(c)) {
        opc__cache_close_lost(c);
        return;
    }
    pthread_mutex_lock(&ix->pool_mu);
    if (ix->n_idle < OPC_INDEX_MAX_IDLE_HANDLES) {
        ix->idle[ix->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&ix->pool_mu);
    opc__cache_close(c);
}

/* ---- the watcher ---- */

static void *watcher_main(void *arg)
{
    opc__index *ix = arg;
    while (!atomic_load(&ix->stop)) {
        opc__watch_event ev = opc__watch_wait(ix->watch, OPC_INDEX_POLL_MS);
        if (ev == OPC_WATCH_WOKEN || atomic_load(&ix->stop)) {
            continue;
        }
        /* A change or the fallback poll: data_version tells whether to refresh. */
        opc__index_poll(ix, opc__monotonic_ms(), true);
    }
    return NULL;
}

opc_err opc__index_watch_start(opc__index *ix)
{
    if (ix == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (ix->watching) {
        return OPC_OK;
    }
    opc_err rc = opc__watch_open(ix->path, &ix->watch);
    if (rc != OPC_OK) {
        return rc;
    }
    atomic_store(&ix->stop, false);
    if (pthread_create(&ix->watcher, NULL, watcher_main, ix) != 0) {
        opc__watch_close(ix->watch);
        ix->watch = NULL;
        return OPC_ERR_INTERNAL;
    }
    ix->watching = true;
    return OPC_OK;
}

void opc__index_watch_stop(opc__index *ix)
{
    if (ix == NULL || !ix->watching) {
        return;
    }
    atomic_store(&ix->stop, true);
    opc__watch_wake(ix->watch);
    (void)pthread_join(ix->watcher, NULL);
    opc__watch_close(ix->watch);
    ix->watch = NULL;
    ix->watching = false;
}
