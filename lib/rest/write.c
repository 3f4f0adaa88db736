/*
 * rest/write.c - the item writes (connect-api spec §1.3 nos. 5, 7, 8, 9):
 *
 *   POST   /v1/vaults/{v}/items        200 the created FullItem
 *   PUT    /v1/vaults/{v}/items/{i}    200 the replaced FullItem
 *   PATCH  /v1/vaults/{v}/items/{i}    200 the patched FullItem
 *   DELETE /v1/vaults/{v}/items/{i}    204, empty body
 *
 * Each write: read the body (at most OPC_ITEM_MAX_JSON bytes, 413 beyond)
 * -> parse it once, strictly -> validate and normalise the tree
 * (model/item.h, model/patch.h; 400 with the model's message, nothing
 * written) -> seal overview and details under the vault key -> the
 * upstream write carrying the expected version (account/
 * import.h checks it in one transaction) -> write-through of the returned
 * rows into the cache -> refresh the index -> respond. So a client reads
 * its own write at once: the index and the render cache hold the new
 * version before the response leaves.
 *
 * The expected version is the version the item had when this request read
 * it, or the body's "version" when the client sent one: the JS SDK
 * PUTs back the item it read, so a concurrent change between its GET and
 * its PUT is a 409 instead of a lost update. 409 answers name the item and
 * change nothing; the client re-reads and retries. A "version" that is
 * present must be an integer from 1 to 2^53 - 1 (400 otherwise: 0, -1, 1.5,
 * "3", 2^64 + 1); absent or null means no check (body_version).
 *
 * Writes are serialised in this process (one upstream handle, one cache
 * write handle, under api->write_mu): the account store serialises them
 * anyway, and this keeps write-through in upstream order.
 *
 * Permissions (checked by routes.c before this file runs): every method
 * needs write on the vault; PATCH also needs read, because its answers and
 * its errors depend on the stored item (the original's 1.7.1 fix), and
 * PUT / POST answer with what the client sent plus server-side members;
 * to a token without read, a PUT's answer leaves out what item_prepare
 * kept of the stored item (its files, the entropy of unchanged values).
 *
 * The cache lost while running (view/index.h): no write is tried, 503 with
 * Retry-After (opc__resp_rebuilding), until connect-sync has made it again
 * and the index serves it; the write-through handle on the lost file is
 * closed and a new one opened on the new file (write_handles).
 *
 * A full cache disk (rest/space.h; docs/decisions.md, "A full cache
 * disk"): a write whose write-through met SQLITE_FULL was made upstream
 * and keeps its 200 (a 503 would make the client POST it again), but it is
 * not readable here until the sync brings it in; so, before anything goes
 * upstream, writes answer 503 with Retry-After (resp_cache_full) while the
 * cache's file system lacks the room a write may need, or after such a
 * failure until the cache changes or a probe write gets through.
 *
 * Errors: upstream unreachable (OPC_ERR_IO) is 503 with Retry-After
 * (UPSTREAM_RETRY_S) and a message saying reads keep working; so is an
 * upstream answer that failed its MAC check (OPC_ERR_SIGNATURE: logged as
 * an error, since something between us and the account server altered
 * it); a full account file (SQLITE_FULL in the local upstream's message)
 * is 503 saying so; a version conflict 409; the item gone 404; the server's grant lost
 * its write bit 403.
 */
#include "rest/write.h"

#include <stdio.h>
#include <string.h>

#include "observe/activity.h"
#include "view/items.h"
#include "core/alloc.h"
#include "core/httpd.h"
#include "core/id.h"
#include "core/json.h"
#include "core/log.h"
#include "core/sqlite.h"
#include "core/strparse.h"
#include "core/time.h"
#include "model/item.h"
#include "model/patch.h"
#include "upstream/upstream.h"
#include "wire/rows.h"

/* Retry-After of a write the upstream could not take (s): the https
 * backend has already retried within the call, connect-sync backs off up
 * to 4 s. */
#define UPSTREAM_RETRY_S 5

/* Read the request body into b (secret), against the clock (httpd.h):
 * OPC_ERR_TOO_LARGE over max, OPC_ERR_RANGE too slow, OPC_ERR_IO gone. */
static opc_err read_body(opc__req *r, size_t max, opc__buf *b)
{
    return opc__httpd_read_body(r->conn, max, b);
}

/* The body's text: an empty body is "" (malformed JSON: 400), never NULL,
 * which the parsers take for a missing argument (500). */
static const char *body_text(const opc__buf *b)
{
    return b->data != NULL ? b->data : "";
}

/*
 * The member "version" of a PUT body in *out: 0 when absent or null (no
 * version check), else an integer from 1 to 2^53 - 1 (JSON numbers are
 * doubles; beyond that two versions read the same). Anything else (0, a
 * negative or fractional number, a string, a number out of range) is
 * false: a 400, never a write without the check the client asked for.
 */
static bool body_version(const cJSON *body, int64_t *out)
{
    *out = 0;
    const cJSON *v = cJSON_IsObject(body) ? opc__json_member(body, "version") : NULL;
    if (v == NULL || cJSON_IsNull(v)) {
        return true;
    }
    int64_t n = 0;
    if (!opc__json_is_int(v, &n) || n < 1) {
        return false;
    }
    *out = n;
    return true;
}

/* A 4xx for a model error (item_prepare, patch). */
static int model_error(opc__req *r, opc_err rc, const opc__ebuf *eb)
{
    const char *msg = eb->msg[0] != '\0' ? eb->msg : opc_strerror(rc);
    if (rc == OPC_ERR_TOO_LARGE) {
        return opc__resp_error(r, 413, "%s", msg);
    }
    if (rc == OPC_ERR_NOMEM || rc == OPC_ERR_INVALID_ARG || rc == OPC_ERR_INTERNAL) {
        return opc__resp_error(r, 500, "Something went wrong");
    }
    return opc__resp_error(r, 400, "%s", msg);
}

/*
 * Open the write handles on first use (under write_mu). The cache's is
 * first made sure of: a handle whose file was lost is closed (and the
 * index told at once), and while the index says the cache is lost, or no
 * cache handle opens, nothing is written: *rebuilding (a 503, never the
 * NOT_FOUND of a missing file, which would read as a 404 "item not found").
 */
static opc_err write_handles(opc_api *api, bool *rebuilding, opc__ebuf *eb)
{
    if (api->wcache != NULL && opc__cache_file_check(api->wcache, NULL) != OPC_OK) {
        opc__cache_close_lost(api->wcache);
        api->wcache = NULL;
        opc__index_poll(api->index, opc__monotonic_ms(), true);
    }
    if (opc__index_lost(api->index)) {
        *rebuilding = true;
        return opc__fail(eb, OPC_ERR_IO, "the cache is being rebuilt");
    }
    opc_err rc = OPC_OK;
    if (api->wcache == NULL) {
        rc = opc__cache_open(api->cache_path, OPC_CACHE_WRITE, &api->wcache, eb);
        if (rc != OPC_OK) {
            opc__log(OPC_LOG_WARN, "api",
                     "no write-through handle on the cache, writes answer 503: %s",
                     eb != NULL && eb->msg[0] != '\0' ? eb->msg : opc_strerror(rc));
            *rebuilding = true;
            return rc;
        }
    }
    if (api->upstream == NULL) {
        rc = opc__upstream_open(api->creds, &api->upstream, eb);
    }
    return rc;
}

/* The cache's meta marks that move when connect-sync writes (space.h). */
static void cache_marks(opc_api *api, int64_t *seq, int64_t *attempt)
{
    opc__ix_snapshot *s = opc__index_acquire(api->index);
    *seq = s->meta.change_seq;
    *attempt = s->meta.last_attempt_ms;
    opc__index_release(api->index, s);
}

/*
 * The upstream write and the write-through, serialised. w == NULL deletes
 * (vault, item, expected). On success *row_json is the new item row.
 * *rebuilding: nothing was written because the cache is lost (write_handles).
 * *full: nothing was written because the cache's disk is full (space.h);
 * row_len (the sealed overview and details, 0 for a delete) sizes the room
 * the write may need.
 */
static opc_err commit_write(opc_api *api, const opc__item_write *w, const char *vault,
                            const char *item, int64_t expected, size_t row_len, cJSON **row_json,
                            bool *rebuilding, bool *full, opc__ebuf *eb)
{
    cJSON *vault_row = NULL;
    *row_json = NULL;
    *rebuilding = false;
    *full = false;
    pthread_mutex_lock(&api->write_mu);
    opc_err rc = write_handles(api, rebuilding, eb);
    int64_t seq = 0;
    int64_t attempt = 0;
    opc__space_verdict sv = OPC_SPACE_WRITE;
    if (rc == OPC_OK) {
        opc__index_poll(api->index, opc__monotonic_ms(), false);
        cache_marks(api, &seq, &attempt);
        bool was_full = opc__space_full(&api->space);
        int64_t free_b = opc__space_free(api->cache_path);
        int64_t need = opc__space_need(row_len);
        sv = opc__space_check(&api->space, opc__monotonic_ms(), seq, attempt, free_b, need);
        if (sv == OPC_SPACE_WAIT) {
            if (!was_full) {
                opc__log(OPC_LOG_WARN, "api",
                         "the cache's disk is full (%lld bytes free, a write needs %lld): item "
                         "writes answer 503 until it has room",
                         (long long)free_b, (long long)need);
            }
            *full = true;
            rc = opc__fail(eb, OPC_ERR_IO, "the cache's disk is full");
        } else if (sv == OPC_SPACE_PROBE) {
            opc__log(OPC_LOG_INFO, "api", "the cache's disk was full: item %s tries it", item);
        } else if (was_full) {
            opc__log(OPC_LOG_INFO, "api", "the cache's disk has room again: item writes go ahead");
        }
    }
    if (rc == OPC_OK) {
        rc = w != NULL ? opc__upstream_item_put(api->upstream, w, row_json, &vault_row, eb)
                       : opc__upstream_item_delete(api->upstream, vault, item, expected, row_json,
                                                   &vault_row, eb);
    }
    if (rc == OPC_OK) {
        opc__ebuf web;
        opc__ebuf_clear(&web);
        opc_err wrc = opc__cache_write_through(api->wcache, *row_json, vault_row, NULL, &web);
        if (wrc == OPC_OK) {
            if (sv == OPC_SPACE_PROBE) {
                opc__log(OPC_LOG_INFO, "api", "the cache took item %s: item writes go ahead", item);
            }
            opc__space_clear(&api->space);
        } else if (opc__cache_full(api->wcache)) {
            /* Made upstream: its 200 stands. The next writes wait (space.h). */
            opc__log(OPC_LOG_WARN, "api",
                     "write-through of item %s failed: the cache's disk is full; the sync will "
                     "apply it, writes answer 503 until the cache has room",
                     item);
            opc__space_mark(&api->space, opc__monotonic_ms(), seq, attempt);
            opc__cache_close(api->wcache);
            api->wcache = NULL;
        } else {
            /* The write is done upstream; the sync brings it in. Reopen next time. */
            opc__log(OPC_LOG_WARN, "api", "write-through of item %s failed (%s); the sync will "
                     "apply it", item, web.msg[0] != '\0' ? web.msg : opc_strerror(wrc));
            opc__cache_close(api->wcache);
            api->wcache = NULL;
        }
    } else if (rc == OPC_ERR_IO && !*full) {
        /* Reopen the upstream next time (a replaced or returning file). */
        opc__upstream_close(api->upstream);
        api->upstream = NULL;
    }
    pthread_mutex_unlock(&api->write_mu);
    cJSON_Delete(vault_row);
    if (rc != OPC_OK) {
        cJSON_Delete(*row_json);
        *row_json = NULL;
    }
    return rc;
}

/* 503 with Retry-After and a JSON message (msg a literal). */
static int resp_503(opc__req *r, const char *msg, size_t len, int retry_s)
{
    char extra[48];
    (void)snprintf(extra, sizeof extra, "Retry-After: %d\r\n", retry_s);
    opc__buf *b = opc__resp_begin(r);
    opc__buf_appendf(b, "{\"status\":503,\"message\":");
    opc__buf_append_json_str(b, msg, len);
    opc__buf_append_char(b, '}');
    return opc__resp_send(r, 503, "application/json", extra);
}

/* The write held back because the cache's disk is full (space.h). */
static int resp_cache_full(opc__req *r)
{
    static const char msg[] = "the server's cache disk is full: the write was not sent to the "
                              "account; reads keep working, retry the write later";
    return resp_503(r, msg, sizeof msg - 1, OPC_SPACE_PROBE_MS / 1000);
}

/* An error answer for a failed commit_write. */
static int write_error(opc__req *r, opc_err rc, const opc__ebuf *eb, const char *vault,
                       const char *item, const char *what)
{
    switch (rc) {
    case OPC_ERR_CONFLICT:
    case OPC_ERR_EXISTS:
        return opc__resp_error(r, 409,
                               "item %s was changed by another request since it was read; "
                               "read it again and retry",
                               item);
    case OPC_ERR_NOT_FOUND:
        return opc__resp_error(r, 404, "item %s not found", item);
    case OPC_ERR_PERMISSION:
        return opc__resp_error(r, 403, "token does not have permission to perform %s on vault %s",
                               what, vault);
    case OPC_ERR_IO:
    case OPC_ERR_SIGNATURE: {
        opc__log_scoped(rc == OPC_ERR_IO ? OPC_LOG_WARN : OPC_LOG_ERROR, "api", r->rid, r->jti,
                        "upstream write failed: %s",
                        eb->msg[0] != '\0' ? eb->msg : opc_strerror(rc));
        if (rc == OPC_ERR_IO && opc__db_msg_full(eb->msg)) {
            /* SQLite rolled the transaction back: nothing was written. */
            static const char full[] = "the account's storage is full: the write was not made; "
                                       "reads keep working, retry the write later";
            return resp_503(r, full, sizeof full - 1, UPSTREAM_RETRY_S);
        }
        /* Not "the item was not changed": a write whose answer was lost and
         * could not be confirmed by reading it back may have applied. */
        static const char msg[] = "the account server cannot be reached or did not confirm the "
                                  "write; reads keep working, read the item and retry the "
                                  "write later";
        return resp_503(r, msg, sizeof msg - 1, UPSTREAM_RETRY_S);
    }
    default:
        opc__log_scoped(OPC_LOG_ERROR, "api", r->rid, r->jti, "%s of item %s failed: %s", what,
                        item, eb->msg[0] != '\0' ? eb->msg : opc_strerror(rc));
        return opc__resp_error(r, 500, "Something went wrong");
    }
}

/* The field of `item` whose id is `id`, or NULL. */
static const cJSON *field_by_id(const cJSON *item, const char *id)
{
    const cJSON *fields = opc__json_member(item, "fields");
    const cJSON *f = NULL;
    cJSON_ArrayForEach(f, fields)
    {
        const cJSON *fid = opc__json_member(f, "id");
        if (cJSON_IsString(fid) && strcmp(fid->valuestring, id) == 0) {
            return f;
        }
    }
    return NULL;
}

/*
 * What a token without read permission is shown of its PUT: the item as it
 * sent it plus what the server made for this request (ids, generated
 * values with their entropy, metadata), never what came from the stored
 * item. item_prepare keeps the stored files, and the entropy of a value
 * that did not change: that entropy would tell a write-only token that a
 * value it sent is the stored one (issue 5, "Must show" 4). Modifies
 * `shown` (a copy of the new item) in place.
 */
static void hide_stored(cJSON *shown, const cJSON *stored)
{
    opc__json_delete_secret(cJSON_DetachItemFromObjectCaseSensitive(shown, "files"));
    cJSON *fields = cJSON_GetObjectItemCaseSensitive(shown, "fields");
    cJSON *f = NULL;
    cJSON_ArrayForEach(f, fields)
    {
        const cJSON *id = opc__json_member(f, "id");
        const cJSON *val = opc__json_member(f, "value");
        if (!cJSON_IsString(id) || !cJSON_IsString(val) || opc__json_member(f, "entropy") == NULL) {
            continue;
        }
        const cJSON *old = opc__json_member(field_by_id(stored, id->valuestring), "value");
        if (cJSON_IsString(old) && strcmp(old->valuestring, val->valuestring) == 0) {
            cJSON_DeleteItemFromObjectCaseSensitive(f, "entropy");
        }
    }
}

/*
 * Seal `full` as item iid, write it, and answer with the new version.
 * `stored` is the item it replaces (NULL on create): a token that may not
 * read the vault is answered without what came from it (hide_stored).
 */
static int put_and_answer(opc__req *r, const opc__ix_vault *v, const char *iid, int64_t expected,
                          const cJSON *full, const cJSON *stored, const char *what)
{
    opc_api *api = r->api;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    char *ov = NULL;
    char *det = NULL;
    int64_t key_sn = 0;
    opc_err rc = opc__view_item_seal(api->keys, v, iid, full, &ov, &det, &key_sn, &eb);
    cJSON *row_json = NULL;
    bool rebuilding = false;
    bool disk_full = false;
    if (rc == OPC_OK) {
        opc__item_write w = {.vault_id = v->id,
                             .item_id = iid,
                             .expected_version = expected,
                             .key_sn = key_sn,
                             .overview = ov,
                             .details = det};
        rc = commit_write(api, &w, v->id, iid, expected, strlen(ov) + strlen(det), &row_json,
                          &rebuilding, &disk_full, &eb);
    }
    opc__free(ov);
    opc__free(det);
    if (rebuilding) {
        return opc__resp_rebuilding(r);
    }
    if (disk_full) {
        return resp_cache_full(r);
    }
    if (rc != OPC_OK) {
        return write_error(r, rc, &eb, v->id, iid, what);
    }
    opc__index_poll(api->index, opc__monotonic_ms(), true);
    opc__cache_item row;
    rc = opc__wire_item_decode(row_json, &row, &eb);
    char *body = NULL;
    size_t len = 0;
    int64_t valid_until = 0;
    int64_t now = opc__now_s();
    if (rc == OPC_OK) {
        rc = opc__view_item_body(full, &row, now, &body, &len, &valid_until, &eb);
    }
    if (rc == OPC_OK) {
        opc__render_put(api->render, v->id, iid, row.version, valid_until, body, len);
        memcpy(r->item, iid, sizeof r->item);
        r->resource_type = OPC_ACTIVITY_RES_ITEM;
        r->item_version = row.version;
    }
    if (rc == OPC_OK && stored != NULL && (opc__auth_acl(&r->w->tok, v->id) & OPC_ACL_READ) == 0) {
        opc__secret_free(body, len);
        body = NULL;
        len = 0;
        cJSON *shown = cJSON_Duplicate(full, true);
        rc = shown != NULL ? OPC_OK : opc__fail(&eb, OPC_ERR_NOMEM, "out of memory");
        if (rc == OPC_OK) {
            hide_stored(shown, stored);
            rc = opc__view_item_body(shown, &row, now, &body, &len, NULL, &eb);
        }
        opc__json_delete_secret(shown);
    }
    cJSON_Delete(row_json);
    if (rc != OPC_OK) {
        opc__log_scoped(OPC_LOG_ERROR, "api", r->rid, r->jti, "item %s written, answer failed: %s",
                        iid, eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
        return opc__resp_error(r, 500, "Something went wrong");
    }
    opc__buf *b = opc__resp_begin(r);
    opc__buf_append(b, body, len);
    opc__secret_free(body, len);
    return opc__resp_send(r, 200, "application/json", NULL);
}

/* The body's "vault": {"id"} must be the path's when given. */
static bool vault_matches(const cJSON *body, const char *vault)
{
    const cJSON *vo = opc__json_member(body, "vault");
    const cJSON *id = cJSON_IsObject(vo) ? opc__json_member(vo, "id") : NULL;
    return id == NULL || !cJSON_IsString(id) || id->valuestring[0] == '\0' ||
           opc__strcasecmp(id->valuestring, vault) == 0;
}

/* The body's "id" must be the path's when given (PUT). */
static bool item_matches(const cJSON *body, const char *item)
{
    const cJSON *id = opc__json_member(body, "id");
    return id == NULL || !cJSON_IsString(id) || id->valuestring[0] == '\0' ||
           opc__strcasecmp(id->valuestring, item) == 0;
}

static int create_item(opc__req *r, const opc__ix_vault *v, const opc__buf *body)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    cJSON *in = NULL;
    cJSON *full = NULL;
    opc_err rc = opc__item_parse(body_text(body), body->len, &in, &eb);
    if (rc == OPC_OK) {
        rc = opc__item_prepare(in, OPC_ITEM_CREATE, NULL, &full, &eb);
    }
    bool same_vault = rc == OPC_OK && vault_matches(in, v->id);
    opc__json_delete_secret(in);
    if (rc != OPC_OK) {
        return model_error(r, rc, &eb);
    }
    int st;
    char iid[OPC_ID_LEN + 1];
    if (!same_vault) {
        st = opc__resp_error(r, 400, "the item's vault.id does not match the vault in the path");
    } else if (opc__id_generate(iid) != OPC_OK) {
        st = opc__resp_error(r, 500, "Something went wrong");
    } else {
        st = put_and_answer(r, v, iid, 0, full, NULL, "create");
    }
    opc__json_delete_secret(full);
    return st;
}

/* PUT and PATCH: load, build the new version, write it. */
static int replace_item(opc__req *r, const opc__ix_vault *v, const char *iid, const opc__buf *body,
                        bool patch)
{
    opc_api *api = r->api;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    cJSON *existing = NULL;
    opc__cache_item row;
    opc_err rc = opc__view_item_load(api->index, api->keys, v, iid, &existing, &row, &eb);
    int64_t version = row.version;
    if (rc != OPC_OK && opc__index_lost(api->index)) {
        opc__cache_item_clear(&row);
        return opc__resp_rebuilding(r);
    }
    if (rc == OPC_ERR_NOT_FOUND) {
        opc__cache_item_clear(&row);
        return opc__resp_error(r, 404, "item %s not found", iid);
    }
    if (rc != OPC_OK) {
        opc__cache_item_clear(&row);
        opc__log_scoped(OPC_LOG_ERROR, "api", r->rid, r->jti, "item %s of vault %s: %s", iid, v->id,
                        eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
        return opc__resp_error(r, 500, "Something went wrong");
    }
    int st = 0;
    int64_t expected = version;
    cJSON *next = NULL;
    if (patch) {
        /* The patch addresses the item as GET shows it. */
        cJSON *view = NULL;
        cJSON *patched = NULL;
        size_t n_ops = 0;
        rc = opc__view_item_view(existing, &row, opc__now_s(), &view, NULL, &eb);
        if (rc == OPC_OK) {
            rc = opc__item_patch(view, body_text(body), body->len, &patched, &n_ops, &eb);
            if (rc != OPC_OK) {
                st = model_error(r, rc, &eb);
            }
        }
        opc__json_delete_secret(view);
        if (rc == OPC_OK && n_ops > 0) {
            rc = opc__item_prepare_patched(patched, existing, &next, &eb);
            if (rc != OPC_OK) {
                st = model_error(r, rc, &eb);
            }
        }
        opc__json_delete_secret(patched);
        if (rc == OPC_OK && n_ops == 0) {
            /* An empty patch answers the item as it is. */
            char *text = NULL;
            size_t text_len = 0;
            rc = opc__view_item_body(existing, &row, opc__now_s(), &text, &text_len, NULL, &eb);
            if (rc == OPC_OK) {
                opc__buf *b = opc__resp_begin(r);
                opc__buf_append(b, text, text_len);
                opc__secret_free(text, text_len);
                st = opc__resp_send(r, 200, "application/json", NULL);
            }
        }
    } else {
        cJSON *in = NULL;
        int64_t bv = 0;
        rc = opc__item_parse(body_text(body), body->len, &in, &eb);
        /* The ids are checked before the content: a body the strict parse
         * refuses is read once more, leniently, for them alone. */
        cJSON *lax = rc != OPC_OK ? cJSON_ParseWithLength(body_text(body), body->len) : NULL;
        const cJSON *ids = rc == OPC_OK ? in : lax;
        if (ids != NULL && !item_matches(ids, iid)) {
            st = opc__resp_error(r, 400, "the item's id does not match the item in the path");
        } else if (ids != NULL && !vault_matches(ids, v->id)) {
            st = opc__resp_error(r, 400, "the item's vault.id does not match the vault in the path");
        } else if (rc != OPC_OK) {
            st = model_error(r, rc, &eb);
        } else if (!body_version(in, &bv)) {
            st = opc__resp_error(r, 400,
                                 "the item's version must be a positive integer (at most "
                                 "9007199254740991), or left out to replace whatever version");
        } else {
            expected = bv > 0 ? bv : version;
            rc = opc__item_prepare(in, OPC_ITEM_REPLACE, existing, &next, &eb);
            if (rc != OPC_OK) {
                st = model_error(r, rc, &eb);
            }
        }
        opc__json_delete_secret(lax);
        opc__json_delete_secret(in);
    }
    opc__cache_item_clear(&row);
    if (st == 0 && rc != OPC_OK) {
        st = opc__resp_error(r, 500, "Something went wrong");
    }
    if (st == 0 && expected != version) {
        st = write_error(r, OPC_ERR_CONFLICT, &eb, v->id, iid, "update");
    }
    if (st == 0) {
        st = put_and_answer(r, v, iid, expected, next, existing, "update");
    }
    opc__json_delete_secret(existing);
    opc__json_delete_secret(next);
    return st;
}

static int delete_item(opc__req *r, const opc__ix_vault *v, const char *iid)
{
    opc_api *api = r->api;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    cJSON *row_json = NULL;
    bool rebuilding = false;
    bool disk_full = false;
    opc_err rc = commit_write(api, NULL, v->id, iid, 0, 0, &row_json, &rebuilding, &disk_full, &eb);
    cJSON_Delete(row_json);
    if (rebuilding) {
        return opc__resp_rebuilding(r);
    }
    if (disk_full) {
        return resp_cache_full(r);
    }
    if (rc != OPC_OK) {
        return write_error(r, rc, &eb, v->id, iid, "delete");
    }
    /* The item's rendered body can never be served again: free it now
     * rather than when the budget evicts it (docs/performance.md, "Memory
     * under the mixed load"). */
    opc__render_drop(api->render, v->id, iid);
    opc__index_poll(api->index, opc__monotonic_ms(), true);
    opc__resp_begin(r);
    return opc__resp_send(r, 204, "application/json", NULL);
}

int opc__api_item_write(opc__req *r, const opc__ix_vault *v, const char *iid)
{
    const char *m = r->method;
    if (strcmp(m, "DELETE") == 0) {
        return delete_item(r, v, iid);
    }
    opc__buf body;
    opc__buf_init(&body, true);
    opc_err rc = read_body(r, OPC_ITEM_MAX_JSON, &body);
    int st;
    if (rc == OPC_ERR_TOO_LARGE) {
        st = opc__resp_error(r, 413, "request body is larger than %zu bytes",
                             (size_t)OPC_ITEM_MAX_JSON);
    } else if (rc == OPC_ERR_RANGE) {
        st = opc__resp_error(r, 408, "the request body came too slowly");
    } else if (rc != OPC_OK) {
        st = opc__resp_error(r, 400, "the request body could not be read");
    } else if (iid == NULL) {
        st = create_item(r, v, &body);
    } else {
        st = replace_item(r, v, iid, &body, strcmp(m, "PATCH") == 0);
    }
    opc__buf_free(&body);
    return st;
}
