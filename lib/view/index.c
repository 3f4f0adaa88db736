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
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "crypto/envelope.h"
#include "model/item.h"
#include "model/shape.h"
#include "wire/labels.h"

struct opc__index {
    char *path;
    opc_credentials *creds;
    opc__auth *auth;
    opc__vault_keys *keys;
    char server_id[OPC_ID_LEN + 1];
    pthread_mutex_t refresh_mu; /* guards c, data_version, last_poll_ms */
    opc__cache *c;
    int64_t data_version;
    atomic_int_fast64_t last_poll_ms;
    pthread_mutex_t snap_mu; /* guards cur and refs */
    opc__ix_snapshot *cur;
    atomic_uint_fast64_t generation;
    pthread_mutex_t pool_mu;
    opc__cache *idle[OPC_INDEX_MAX_IDLE_HANDLES];
    size_t n_idle;
};

/* ---- snapshots ---- */

static void item_clear(opc__ix_item *it)
{
    opc__secret_free_str(it->title);
    for (size_t i = 0; i < it->n_tags; i++) {
        opc__secret_free_str(it->tags[i]);
    }
    opc__free(it->tags);
    if (it->json != NULL) {
        opc__secret_free(it->json, it->json_len);
    }
    memset(it, 0, sizeof *it);
}

static void vault_clear(opc__ix_vault *v)
{
    opc__secret_free_str(v->name);
    if (v->json != NULL) {
        opc__secret_free(v->json, v->json_len);
    }
    opc__free(v->enc_key);
    for (size_t i = 0; i < v->n_items; i++) {
        item_clear(&v->items[i]);
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
    opc__free(s);
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

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const opc__ix_item *)a)->id, ((const opc__ix_item *)b)->id);
}

static int cmp_token(const void *a, const void *b)
{
    return strcmp(((const opc__ix_token *)a)->jti, ((const opc__ix_token *)b)->jti);
}

/* Print j into out and len (a buffer to wipe). */
static opc_err print_secret(const cJSON *j, char **out, size_t *len)
{
    return opc__json_print(j, out, len);
}

typedef struct build_ctx {
    opc__index *ix;
    opc__ix_snapshot *s;
    size_t cap;
    opc__ix_vault *v; /* vault being filled (items walk) */
    size_t item_cap;
    const opc__ix_snapshot *prev; /* the snapshot being replaced */
    const opc__ix_vault *pv;      /* v in prev (decrypted, same key), or NULL */
    const opc__key *key;
    opc_err err;
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

static opc_err on_access(const opc__cache_access *a, void *ud)
{
    build_ctx *b = ud;
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
    if (it->tags == NULL) {
        return OPC_ERR_NOMEM;
    }
    const cJSON *t = NULL;
    cJSON_ArrayForEach(t, tags)
    {
        if (cJSON_IsString(t)) {
            it->tags[it->n_tags] = opc__strdup(t->valuestring);
            if (it->tags[it->n_tags] == NULL) {
                return OPC_ERR_NOMEM;
            }
            it->n_tags++;
        }
    }
    return OPC_OK;
}

/* Copy an item of the previous snapshot (same id and version: its
 * decrypted summary cannot have changed). */
static opc_err item_copy(opc__ix_item *dst, const opc__ix_item *src)
{
    memset(dst, 0, sizeof *dst);
    memcpy(dst->id, src->id, sizeof dst->id);
    dst->version = src->version;
    dst->title = opc__strdup(src->title);
    dst->json = opc__memdup(src->json, src->json_len + 1);
    if (dst->title == NULL || dst->json == NULL) {
        return OPC_ERR_NOMEM;
    }
    dst->json_len = src->json_len;
    if (src->n_tags > 0) {
        dst->tags = opc__calloc(src->n_tags, sizeof *dst->tags);
        if (dst->tags == NULL) {
            return OPC_ERR_NOMEM;
        }
        for (size_t i = 0; i < src->n_tags; i++) {
            dst->tags[i] = opc__strdup(src->tags[i]);
            if (dst->tags[i] == NULL) {
                return OPC_ERR_NOMEM;
            }
            dst->n_tags++;
        }
    }
    return OPC_OK;
}

static opc_err grow_items(build_ctx *b)
{
    opc__ix_vault *v = b->v;
    opc__ix_item *n = opc__grow(v->items, &b->item_cap, v->n_items, sizeof *n, 16);
    if (n == NULL) {
        return OPC_ERR_NOMEM;
    }
    v->items = n;
    return OPC_OK;
}

static opc_err on_item(const opc__cache_item *row, void *ud)
{
    build_ctx *b = ud;
    opc__ix_vault *v = b->v;
    if (row->state != NULL && strcmp(row->state, "active") != 0) {
        return OPC_OK;
    }
    if (row->key_sn != v->key_sn) {
        opc__log(OPC_LOG_WARN, "api", "item %s: key serial %lld not held, skipped", row->id,
                 (long long)row->key_sn);
        return OPC_OK;
    }
    const opc__ix_item *old = b->pv != NULL ? opc__ix_find_item(b->pv, row->id) : NULL;
    if (old != NULL && old->version == row->version) {
        opc_err rc = grow_items(b);
        if (rc == OPC_OK) {
            rc = item_copy(&v->items[v->n_items], old);
            if (rc != OPC_OK) {
                item_clear(&v->items[v->n_items]);
            }
        }
        if (rc == OPC_OK) {
            v->n_items++;
        }
        return rc;
    }
    char aad[OPC_WIRE_LABEL_MAX];
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    cJSON *ov = NULL;
    opc_err rc =
        opc__wire_item_aad(aad, sizeof aad, v->id, row->id, OPC_WIRE_ITEM_OVERVIEW, row->key_sn);
    if (rc == OPC_OK) {
        rc = opc__ix_open_json(row->overview, b->key, aad, &ov, &eb);
    }
    if (rc != OPC_OK) {
        if (rc == OPC_ERR_NOMEM) {
            return rc;
        }
        opc__log(OPC_LOG_WARN, "api", "item %s of vault %s does not decrypt, skipped", row->id,
                 v->id);
        return OPC_OK;
    }
    if (grow_items(b) != OPC_OK) {
        opc__json_delete_secret(ov);
        return OPC_ERR_NOMEM;
    }
    opc__ix_item *it = &v->items[v->n_items];
    memset(it, 0, sizeof *it);
    memcpy(it->id, row->id, sizeof it->id);
    it->version = row->version;
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
        rc = it->title != NULL ? OPC_OK : OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = item_tags(it, ov);
    }
    if (rc == OPC_OK) {
        rc = print_secret(obj, &it->json, &it->json_len);
    }
    opc__json_delete_secret(obj);
    opc__json_delete_secret(sum);
    opc__json_delete_secret(ov);
    if (rc != OPC_OK) {
        item_clear(it);
        return rc == OPC_ERR_NOMEM ? rc : OPC_OK;
    }
    v->n_items++;
    return OPC_OK;
}

/* Decrypt a vault's attributes and items. Failures leave it undecrypted. */
static opc_err fill_vault(build_ctx *b, opc__ix_vault *v, int64_t now_ms)
{
    opc__cache *c = b->ix->c;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__cache_vault row;
    memset(&row, 0, sizeof row);
    opc_err rc = opc__cache_vault_get(c, v->id, &row, &eb);
    if (rc != OPC_OK) {
        return rc == OPC_ERR_NOMEM ? rc : OPC_OK; /* granted, not synced yet */
    }
    opc__vkey *vk = NULL;
    rc = opc__vault_keys_get(b->ix->keys, v->id, v->key_sn, v->enc_key, now_ms, &vk, &eb);
    cJSON *attrs = NULL;
    char aad[OPC_WIRE_LABEL_MAX];
    if (rc == OPC_OK) {
        rc = opc__wire_vault_attrs_aad(aad, sizeof aad, v->id, row.key_sn);
    }
    if (rc == OPC_OK) {
        rc = opc__ix_open_json(row.attrs, opc__vkey_key(vk), aad, &attrs, &eb);
    }
    cJSON *obj = NULL;
    if (rc == OPC_OK) {
        b->v = v;
        b->item_cap = 0;
        b->key = opc__vkey_key(vk);
        b->pv = NULL;
        if (b->prev != NULL && b->prev->unlocked) {
            const opc__ix_vault *pv = opc__ix_find_vault(b->prev, v->id);
            if (pv != NULL && pv->decrypted && pv->key_sn == v->key_sn) {
                b->pv = pv;
            }
        }
        rc = opc__cache_items_foreach(c, v->id, false, on_item, b, &eb);
        if (rc == OPC_OK && v->n_items > 1) {
            qsort(v->items, v->n_items, sizeof *v->items, cmp_item);
        }
    }
    if (rc == OPC_OK) {
        const cJSON *name = opc__json_member(attrs, "name");
        const cJSON *desc = opc__json_member(attrs, "description");
        v->name = opc__strdup(cJSON_IsString(name) ? name->valuestring : "");
        rc = v->name != NULL ? OPC_OK : OPC_ERR_NOMEM;
        /* The item count is of the items this server could decrypt (the
         * account's column counts every active item). */
        opc__vault_info info = {v->id,
                                v->name,
                                cJSON_IsString(desc) ? desc->valuestring : NULL,
                                row.type,
                                row.attr_version,
                                row.content_version,
                                (int64_t)v->n_items,
                                row.created,
                                row.updated};
        if (rc == OPC_OK) {
            rc = opc__vault_json(&info, &obj);
        }
    }
    if (rc == OPC_OK) {
        rc = print_secret(obj, &v->json, &v->json_len);
    }
    if (rc == OPC_OK) {
        v->decrypted = true;
    } else {
        opc__log(OPC_LOG_WARN, "api", "vault %s could not be read: %s", v->id,
                 eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
    }
    opc__json_delete_secret(obj);
    opc__json_delete_secret(attrs);
    opc__vault_keys_release(b->ix->keys, vk);
    opc__cache_vault_clear(&row);
    return rc == OPC_ERR_NOMEM ? rc : OPC_OK;
}

static opc__ix_snapshot *build(opc__index *ix, int64_t now_ms)
{
    opc__ix_snapshot *s = opc__calloc(1, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    s->refs = 1;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = OPC_OK;
    if (ix->c == NULL) {
        rc = opc__cache_open(ix->path, OPC_CACHE_READ, &ix->c, &eb);
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
    opc__ix_snapshot *prev = opc__index_acquire(ix);
    build_ctx b = {.ix = ix, .s = s, .prev = prev};
    if (rc == OPC_OK) {
        rc = opc__cache_tokens_foreach(ix->c, on_token, &b, &eb);
    }
    s->unlocked = opc__auth_unlocked(ix->auth);
    if (rc == OPC_OK && s->unlocked) {
        b.cap = 0;
        rc = opc__cache_access_foreach(ix->c, on_access, &b, &eb);
        for (size_t i = 0; rc == OPC_OK && i < s->n_vaults; i++) {
            rc = fill_vault(&b, &s->vaults[i], now_ms);
        }
    }
    if (tx) {
        opc__cache_rollback(ix->c);
    }
    opc__index_release(ix, prev);
    if (s->n_tokens > 1) {
        qsort(s->tokens, s->n_tokens, sizeof *s->tokens, cmp_token);
    }
    if (s->n_vaults > 1) {
        qsort(s->vaults, s->n_vaults, sizeof *s->vaults, cmp_vault);
    }
    s->cache_ok = rc == OPC_OK;
    if (rc != OPC_OK) {
        (void)snprintf(s->cache_error, sizeof s->cache_error, "%s",
                       eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
        /* Reopen next time (the file may be replaced or not exist yet). */
        opc__cache_close(ix->c);
        ix->c = NULL;
        ix->data_version = -1;
    }
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
    ix->path = opc__strdup(cache_path);
    ix->cur = opc__calloc(1, sizeof *ix->cur);
    if (ix->path == NULL || ix->cur == NULL) {
        opc__free(ix->path);
        opc__free(ix->cur);
        opc__free(ix);
        return OPC_ERR_NOMEM;
    }
    ix->cur->refs = 1;
    (void)snprintf(ix->cur->cache_error, sizeof ix->cur->cache_error, "not read yet");
    memcpy(ix->server_id, sid, OPC_ID_LEN + 1);
    ix->creds = creds;
    ix->auth = auth;
    ix->keys = keys;
    ix->data_version = -1;
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
    snapshot_free(ix->cur);
    opc__cache_close(ix->c);
    for (size_t i = 0; i < ix->n_idle; i++) {
        opc__cache_close(ix->idle[i]);
    }
    pthread_mutex_destroy(&ix->refresh_mu);
    pthread_mutex_destroy(&ix->snap_mu);
    pthread_mutex_destroy(&ix->pool_mu);
    opc__free(ix->path);
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
    return bsearch(&key, v->items, v->n_items, sizeof *v->items, cmp_item);
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
    pthread_mutex_lock(&ix->pool_mu);
    if (ix->n_idle > 0) {
        *out = ix->idle[--ix->n_idle];
    }
    pthread_mutex_unlock(&ix->pool_mu);
    if (*out != NULL) {
        return OPC_OK;
    }
    return opc__cache_open(ix->path, OPC_CACHE_READ, out, eb);
}

void opc__index_handle_release(opc__index *ix, opc__cache *c)
{
    if (c == NULL) {
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
