/*
 * rest/routes.c - connect-api's routes (connect-api spec §1, §2.8, §2.9, §9).
 *
 *   GET /heartbeat                      200 text/plain "."
 *   GET /health                         200 ServerHealth (a bearer token, if
 *                                       sent, may unlock the server)
 *   GET /v1/vaults[?filter]             200 [Vault]
 *   GET /v1/vaults/{v}                  200 Vault
 *   GET /v1/vaults/{v}/items[?filter]   200 [Item summary]
 *   GET /v1/vaults/{v}/items/{i}        200 FullItem (OTP fields with totp)
 *   GET /v1/vaults/{v}/items/{i}/files[/{f}[/content]]
 *                                       files.c: [File], File, the bytes
 *   POST /v1/vaults/{v}/items, PUT / PATCH / DELETE /v1/vaults/{v}/items/{i}
 *                                       write.c: the item writes
 *   GET /v1/activity, GET /metrics      the activity log (what the token may
 *                                       see of it), Prometheus text
 *
 * Conventions: every response is assembled in one buffer (status line,
 * headers, body) and sent with ONE mg_write (perf-anchors §0.5); every
 * response carries 1Password-Connect-Version; errors have a JSON
 * {"status","message"} body and every response carries X-Request-ID (the
 * client's, when usable, else a fresh one: http.h); a trailing slash is
 * accepted; path ids must be what the SDKs take for an id, [a-z0-9]{26}
 * ("Invalid Vault UUID" / "Invalid Item UUID" / "Invalid File UUID", 400),
 * and one the server could not have made (a 0, 1, 8 or 9) is unknown (404);
 * unknown routes are 404.
 *
 * Paths: civetweb hands over the path as sent (decode_url no; routing is on
 * local_uri_raw, never on local_uri, whose dot segments civetweb resolves).
 * decode_path() decodes it one segment at a time, so an encoded "/" (%2F)
 * stays inside its segment (kept as the text "%2F": a bad id, or no route)
 * and is never a separator; %00, a "." or ".." segment (also as %2E) and a
 * malformed escape are 400 before anything else, so no path is resolved
 * into another route. The query string is left as sent (civetweb does not
 * decode it): filters and parameters decode it themselves.
 *
 * Order on /v1: route -> the cache lost and being rebuilt (503 with
 * Retry-After, view/index.h) -> token (401) -> unlock -> wait for the initial sync
 * (408 after the sync timeout) -> ids (400) -> grant (404: the server holds
 * no grant for the vault, so it cannot tell whether the vault exists) ->
 * scope (403: the vault is granted but not in the token's vts, or the
 * method needs a permission the token lacks; GET needs read, other methods
 * write) -> existence (404) -> filter (400). A correctly signed token
 * whose jti is not in the registry before the initial sync (the registry
 * itself comes with the sync) waits for the sync like any request (408 on
 * timeout) and is then checked again. Writes are served for items only
 * (write.c); any other method on a /v1 route is 405 once authorized.
 *
 * Logs: two lines per request, "GET <path> started" (debug) and "GET <path>
 * completed (<status>: <reason>)", the path as sent without its query,
 * scoped with the request id (the client's X-Request-ID, or a fresh UUID
 * v4) and the token's jti once known; auth failures log their reason name.
 * Never logged: the Authorization header, tokens, bodies, item fields.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include "rest/api.h"
#include "observe/activity.h"
#include "rest/files.h"
#include "rest/http.h"
#include "view/items.h"
#include "observe/metrics.h"
#include "rest/write.h"
#include "view/render.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/json.h"
#include "core/log.h"
#include "core/strparse.h"
#include "core/time.h"
#include "model/item.h"

#define MAX_AUTH_HEADERS 4

typedef opc__req req;

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Authorization header values of the request. */
static size_t auth_headers(const struct mg_request_info *ri, const char **out)
{
    size_t n = 0;
    for (int i = 0; i < ri->num_headers && n < MAX_AUTH_HEADERS; i++) {
        if (ri->http_headers[i].name != NULL &&
            opc__strcasecmp(ri->http_headers[i].name, "Authorization") == 0) {
            out[n++] = ri->http_headers[i].value;
        }
    }
    return n;
}

/* ---- /health ---- */

static opc_err add_dep(cJSON *deps, const char *service, const char *status, const char *msg)
{
    cJSON *d = cJSON_CreateObject();
    if (d == NULL) {
        return OPC_ERR_NOMEM;
    }
    cJSON_AddItemToArray(deps, d);
    if (cJSON_AddStringToObject(d, "service", service) == NULL ||
        cJSON_AddStringToObject(d, "status", status) == NULL ||
        (msg != NULL && cJSON_AddStringToObject(d, "message", msg) == NULL)) {
        return OPC_ERR_NOMEM;
    }
    return OPC_OK;
}

static int route_health(req *r, const struct mg_request_info *ri)
{
    opc_api *api = r->api;
    const char *hv[MAX_AUTH_HEADERS];
    size_t nh = auth_headers(ri, hv);
    opc__index_poll(api->index, opc__monotonic_ms(), false);
    if (nh > 0) {
        opc__auth_token *tok = &r->w->tok;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        if (opc__auth_check(api->auth, hv, nh, opc__now_s(), tok, &eb) == OPC_OK) {
            memcpy(r->jti, tok->jti, sizeof r->jti);
        } else {
            opc__log_scoped(OPC_LOG_WARN, "api", r->rid, NULL, "token sent to /health rejected (%s)",
                            opc__auth_reason_name(eb.reason));
        }
    }
    bool unlocked = opc__auth_unlocked(api->auth);
    opc__index_poll(api->index, opc__monotonic_ms(), false);
    opc__ix_snapshot *s = opc__index_acquire(api->index);
    if (s->unlocked != unlocked) {
        opc__index_release(api->index, s);
        opc__index_poll(api->index, opc__monotonic_ms(), true);
        s = opc__index_acquire(api->index);
    }
    char msg[OPC_ERRBUF_SIZE + 64];
    cJSON *root = cJSON_CreateObject();
    cJSON *deps = NULL;
    opc_err rc = OPC_OK;
    if (root == NULL || cJSON_AddStringToObject(root, "name", "1Password Connect API") == NULL ||
        cJSON_AddStringToObject(root, "version", OPC_API_CONNECT_VERSION) == NULL ||
        (deps = cJSON_AddArrayToObject(root, "dependencies")) == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        if (s->cache_lost) {
            /* Lost while running (view/index.h): 503s until connect-sync made it again. */
            (void)snprintf(msg, sizeof msg, "%s; %s", s->lost_reason,
                           s->cache_ok ? "connect-sync is rebuilding it from the account"
                                       : "waiting for connect-sync to rebuild it");
            rc = add_dep(deps, "sqlite", "REBUILDING", msg);
        } else if (s->cache_ok && opc__space_full(&api->space)) {
            /* Reads work, so still ACTIVE; item writes answer 503 (rest/space.h). */
            (void)snprintf(msg, sizeof msg,
                           "Connected to %s; its disk is full: item writes wait (503) until it "
                           "has room",
                           api->cache_path);
            rc = add_dep(deps, "sqlite", "ACTIVE", msg);
        } else if (s->cache_ok) {
            (void)snprintf(msg, sizeof msg, "Connected to %s", api->cache_path);
            rc = add_dep(deps, "sqlite", "ACTIVE", msg);
        } else {
            (void)snprintf(msg, sizeof msg, "Cannot read %s: %s", api->cache_path, s->cache_error);
            rc = add_dep(deps, "sqlite", "NOT_CONNECTED", msg);
        }
    }
    if (rc == OPC_OK) {
        if (s->cache_ok && s->meta.initial_sync_complete) {
            rc = add_dep(deps, "account_data", "ACTIVE", NULL);
        } else if (s->cache_lost || (s->cache_ok && s->meta.cursor > 0)) {
            rc = add_dep(deps, "account_data", "NOT_SYNCED",
                         "Account data is not available because synchronization is in progress");
        } else {
            rc = add_dep(deps, "account_data", "NOT_SYNCED",
                         "Account data is not available because synchronization has not yet "
                         "started");
        }
    }
    if (rc == OPC_OK) {
        if (!unlocked) {
            rc = add_dep(deps, "sync", "TOKEN_NEEDED", NULL);
        } else if (s->cache_ok && s->meta.failures > 0) {
            (void)snprintf(msg, sizeof msg, "%lld consecutive sync failures; last: %s",
                           (long long)s->meta.failures, s->meta.last_error);
            rc = add_dep(deps, "sync", "ERROR", msg);
        } else {
            rc = add_dep(deps, "sync", "ACTIVE", NULL);
        }
    }
    if (rc == OPC_OK) {
        rc = unlocked ? add_dep(deps, "1Password", "ACTIVE", NULL)
                      : add_dep(deps, "1Password", "UNINITIALIZED",
                                "Make a request with a valid bearer token to initialize");
    }
    opc__index_release(api->index, s);
    char *body = NULL;
    size_t len = 0;
    if (rc == OPC_OK) {
        rc = opc__json_print(root, &body, &len);
    }
    cJSON_Delete(root);
    if (rc != OPC_OK) {
        return opc__resp_error(r, 500, "Something went wrong");
    }
    int st = opc__resp_json(r, 200, body, len);
    opc__free(body);
    return st;
}

/* ---- /v1/activity and /metrics ---- */

/*
 * What tok may see of the log (docs/connect-api.md): the whole log with
 * the full-log permission (the signed feature "activitylog" of its
 * 1password.com/fts), else its own records and, without their actor's
 * jti, user agent and address, other tokens' records on the vaults it can
 * read: granted to this server (the index now) and read in its scopes.
 * vaults[] gets those ids (borrowed from tok).
 */
static void activity_scope(opc_api *api, const opc__auth_token *tok, opc__activity_scope *scope,
                           const char **vaults)
{
    memset(scope, 0, sizeof *scope);
    scope->full = (tok->features & OPC_JWT_FT_ACTIVITY_LOG) != 0;
    scope->jti = tok->jti;
    size_t n = 0;
    opc__ix_snapshot *s = opc__index_acquire(api->index);
    for (size_t i = 0; i < tok->n_vaults && n < OPC_JWT_MAX_VAULTS; i++) {
        const char *vid = tok->vaults[i].vault;
        if ((opc__auth_acl(tok, vid) & OPC_ACL_READ) != 0 && opc__ix_find_vault(s, vid) != NULL) {
            vaults[n++] = vid;
        }
    }
    opc__index_release(api->index, s);
    scope->vaults = vaults;
    scope->n_vaults = n;
}

static int route_activity(req *r, const struct mg_request_info *ri, const opc__auth_token *tok)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    size_t limit = 0;
    size_t offset = 0;
    if (opc__activity_parse_query(ri->query_string, &limit, &offset, &eb) != OPC_OK) {
        return opc__resp_error(r, 400, "%s", eb.msg);
    }
    const char *vaults[OPC_JWT_MAX_VAULTS];
    opc__activity_scope scope;
    activity_scope(r->api, tok, &scope, vaults);
    opc__activity_page page;
    opc_err rc = opc__activity_list_scoped(r->api->activity, &scope, limit, offset, &page, &eb);
    int st;
    if (rc != OPC_OK) {
        opc__log_scoped(OPC_LOG_ERROR, "api", r->rid, r->jti, "activity log: %s",
                        eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
        st = opc__resp_error(r, 500, "Something went wrong");
    } else {
        char extra[OPC_ACTIVITY_RANGE_LEN + 32];
        (void)snprintf(extra, sizeof extra, "Content-Range: %s\r\n", page.content_range);
        opc__buf *b = opc__resp_begin(r);
        opc__buf_append(b, page.json, page.json_len);
        st = opc__resp_send(r, 200, "application/json", extra);
    }
    opc__activity_page_clear(&page);
    return st;
}

/* Prometheus text; no token needed (scrapers have none), nothing secret. */
static int route_metrics(req *r)
{
    opc_api *api = r->api;
    opc__metrics *m = api->metrics;
    opc__index_poll(api->index, opc__monotonic_ms(), false);
    opc__ix_snapshot *s = opc__index_acquire(api->index);
    int64_t items = 0;
    for (size_t i = 0; i < s->n_vaults; i++) {
        items += (int64_t)s->vaults[i].n_items;
    }
    opc__metrics_set_cached(m, (int64_t)s->n_vaults, items);
    opc__metrics_set_sync(m, s->cache_ok ? s->meta.last_success_ms : 0,
                          s->cache_ok ? s->meta.failures : 0);
    opc__index_release(api->index, s);
    opc__metrics_set_unlocked(m, opc__auth_unlocked(api->auth));
    uint64_t hits = 0;
    uint64_t misses = 0;
    opc__auth_stats(api->auth, &hits, &misses);
    opc__metrics_set_token_cache(m, hits, misses);
    opc__activity_stats st;
    opc__activity_get_stats(api->activity, &st);
    opc__metrics_set_activity(m, st.dropped, st.lost);
    opc__index_stats_t ixs;
    opc__index_stats(api->index, &ixs);
    opc__metrics_set_index(m, ixs.full_builds, ixs.incremental, ixs.vault_loads, ixs.decrypted);
    opc__buf *b = opc__resp_begin(r);
    opc__metrics_render(m, b);
    return opc__resp_send(r, 200, OPC_METRICS_CONTENT_TYPE, NULL);
}

/* ---- the path ---- */

/*
 * Decode raw (a path as sent, without query) into out, each segment on its
 * own: %XX is the byte XX, except that an encoded "/" stays the text "%2F"
 * (it is inside its segment, never a separator, and no id or route word
 * holds a '%'). out is at most as long as raw. NULL when done, else the
 * message of the 400: a malformed escape, %00, a "." or ".." segment.
 */
static const char *decode_path(const char *raw, char *out)
{
    size_t o = 0;
    size_t seg = 0; /* where the current segment starts in out */
    for (size_t i = 0;; i++) {
        char c = raw[i];
        if (c == '/' || c == '\0') {
            size_t n = o - seg;
            if ((n == 1 && out[seg] == '.') || (n == 2 && out[seg] == '.' && out[seg + 1] == '.')) {
                return "Invalid path: \".\" and \"..\" segments are not allowed";
            }
            out[o++] = c;
            if (c == '\0') {
                return NULL;
            }
            seg = o;
            continue;
        }
        if (c != '%') {
            out[o++] = c;
            continue;
        }
        int hi = opc__hexval((unsigned char)raw[i + 1]);
        int lo = hi >= 0 ? opc__hexval((unsigned char)raw[i + 2]) : -1;
        if (lo < 0) {
            return "Invalid path: malformed percent-encoding";
        }
        char d = (char)(hi * 16 + lo);
        if (d == '\0') {
            return "Invalid path: %00 is not allowed";
        }
        if (d == '/') {
            memcpy(out + o, raw + i, 3);
            o += 3;
        } else {
            out[o++] = d;
        }
        i += 2;
    }
}

/* ---- /v1 ---- */

typedef enum rkind {
    R_NONE = 0,
    R_ACTIVITY, /* /v1/activity */
    R_VAULTS,
    R_VAULT,
    R_ITEMS,
    R_ITEM,
    R_FILES, /* R_ITEM < every file route */
    R_FILE,
    R_FILE_CONTENT
} rkind;

/* Copy the path segment at p (up to the next '/') into out; an over-long
 * one is kept truncated (and then rejected as invalid). Returns its end. */
static const char *segment(const char *p, char *out, size_t cap)
{
    const char *e = strchr(p, '/');
    size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
    size_t c = n < cap ? n : cap - 1;
    memcpy(out, p, c);
    out[c] = '\0';
    return p + n;
}

/* Whether p continues with "/<word>" (then *p is moved past it). */
static bool next_word(const char **p, const char *word)
{
    size_t n = strlen(word);
    if ((*p)[0] != '/' || strncmp(*p + 1, word, n) != 0) {
        return false;
    }
    *p += n + 1;
    return true;
}

#define ID_CAP 64

/* Split /v1/vaults[/{v}[/items[/{i}[/files[/{f}[/content]]]]]]; id[0..2]
 * get the vault, item and file ids present ("" otherwise). */
static rkind parse_v1(const char *p, char id[3][ID_CAP])
{
    static const struct {
        const char *word;
        rkind all; /* .../word */
        rkind one; /* .../word/{id} */
    } levels[] = {
        {"vaults", R_VAULTS, R_VAULT},
        {"items", R_ITEMS, R_ITEM},
        {"files", R_FILES, R_FILE},
    };
    id[0][0] = id[1][0] = id[2][0] = '\0';
    if (strcmp(p, "/v1/activity") == 0) {
        return R_ACTIVITY;
    }
    if (strncmp(p, "/v1", 3) != 0) {
        return R_NONE;
    }
    p += 3;
    for (size_t l = 0; l < OPC_ARRAY_LEN(levels); l++) {
        if (!next_word(&p, levels[l].word)) {
            return R_NONE;
        }
        if (*p == '\0') {
            return levels[l].all;
        }
        if (*p != '/' || p[1] == '\0') {
            return R_NONE;
        }
        p = segment(p + 1, id[l], ID_CAP);
        if (*p == '\0') {
            return levels[l].one;
        }
    }
    return strcmp(p, "/content") == 0 ? R_FILE_CONTENT : R_NONE;
}

/* An id as a client may send it ([a-z0-9]{26}); see core/id.h. */
static bool valid_id(const char *s)
{
    return opc__id_client_valid_str(s);
}

static int list_vaults(req *r, const opc__ix_snapshot *s, const opc__auth_token *tok,
                       const char *query)
{
    opc__filter f;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (opc__filter_from_query(query, OPC_FILTER_VAULTS, &f, &eb) != OPC_OK) {
        return opc__resp_error(r, 400, "%s", eb.msg);
    }
    opc__buf *b = opc__resp_begin(r);
    opc__buf_append_char(b, '[');
    bool first = true;
    for (size_t i = 0; i < s->n_vaults; i++) {
        const opc__ix_vault *v = &s->vaults[i];
        if (!v->decrypted || (opc__auth_acl(tok, v->id) & OPC_ACL_READ) == 0 ||
            !opc__filter_match(&f, v->name)) {
            continue;
        }
        if (!first) {
            opc__buf_append_char(b, ',');
        }
        first = false;
        opc__buf_append(b, v->json, v->json_len);
    }
    opc__buf_append_char(b, ']');
    return opc__resp_send(r, 200, "application/json", NULL);
}

/* The items a list answers with (indexes into the vault's items), and the
 * size of their summaries: the body is sized once, then copied into. */
typedef struct list_hits {
    const opc__ix_vault *v;
    uint32_t *idx;
    size_t n;
    size_t bytes;
} list_hits;

static bool list_hit(size_t i, void *ud)
{
    list_hits *h = ud;
    h->idx[h->n++] = (uint32_t)i;
    h->bytes += h->v->items[i]->json_len + 1;
    return true;
}

/* What a filter sees of an item: the index's folded strings. */
static bool item_passes(const opc__filter *f, const opc__ix_item *it)
{
    opc__filter_subject s = {it->title_folded, it->title_len,
                             (const char *const *)it->tags_folded, it->n_tags,
                             it->category_folded, it->updated, true};
    return opc__filter_eval(f, &s);
}

static int list_items(req *r, opc__ix_snapshot *s, const opc__ix_vault *v, const char *query)
{
    opc__filter f;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (opc__filter_from_query(query, OPC_FILTER_ITEMS, &f, &eb) != OPC_OK) {
        return opc__resp_error(r, 400, "%s", eb.msg);
    }
    if (f.kind == OPC_FILTER_NONE) {
        const char *body = NULL;
        size_t len = 0;
        if (opc__ix_vault_list(s, v, &body, &len) != OPC_OK) {
            return opc__resp_error(r, 500, "Something went wrong");
        }
        return opc__resp_send_body(r, 200, "application/json", body, len);
    }
    list_hits h = {v, NULL, 0, 2};
    if (v->n_items > 0) {
        h.idx = opc__malloc(v->n_items * sizeof *h.idx);
        if (h.idx == NULL) {
            return opc__resp_error(r, 500, "Something went wrong");
        }
    }
    if (!opc__filter_titles_only(&f)) {
        for (size_t i = 0; i < v->n_items; i++) {
            if (item_passes(&f, v->items[i])) {
                (void)list_hit(i, &h);
            }
        }
    } else if (v->titles != NULL) {
        opc__filter_titles(&f, v->titles->text, v->titles->off, v->titles->n, list_hit, &h);
    }
    /* The exact length (h.bytes counted a comma after every summary): the
     * body goes out in pieces, so a large answer needs no large buffer. */
    size_t len = h.n > 0 ? h.bytes - 1 : 2;
    int st = 500;
    if (opc__resp_stream_begin(r, 200, "application/json", len)) {
        opc__resp_stream_write(r, "[", 1);
        for (size_t k = 0; k < h.n; k++) {
            const opc__ix_item *it = v->items[h.idx[k]];
            if (k > 0) {
                opc__resp_stream_write(r, ",", 1);
            }
            opc__resp_stream_write(r, it->json, it->json_len);
        }
        opc__resp_stream_write(r, "]", 1);
        st = opc__resp_stream_end(r, 200);
    }
    opc__free(h.idx);
    return st;
}

static int get_item(req *r, const opc__ix_vault *v, const opc__ix_item *it)
{
    opc_api *api = r->api;
    r->item_version = it->version;
    int64_t now = opc__now_s();
    opc__buf *b = opc__resp_begin(r);
    if (opc__render_get(api->render, v->id, it->id, it->version, now, b)) {
        return opc__resp_send(r, 200, "application/json", NULL);
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    char *body = NULL;
    size_t len = 0;
    int64_t valid_until = 0;
    cJSON *full = NULL;
    opc__cache_item row;
    memset(&row, 0, sizeof row);
    opc_err rc = opc__view_item_load(api->index, api->keys, v, it->id, &full, &row, &eb);
    if (rc == OPC_OK) {
        rc = opc__view_item_body_take(full, &row, now, &body, &len, &valid_until, &eb);
    }
    int64_t version = row.version;
    opc__json_delete_secret(full);
    opc__cache_item_clear(&row);
    if (rc != OPC_OK && opc__index_lost(api->index)) {
        return opc__resp_rebuilding(r);
    }
    if (rc == OPC_ERR_NOT_FOUND) {
        return opc__resp_error(r, 404, "item %s not found", it->id);
    }
    if (rc != OPC_OK) {
        opc__log_scoped(OPC_LOG_ERROR, "api", r->rid, r->jti, "item %s of vault %s: %s", it->id,
                        v->id, eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
        return opc__resp_error(r, 500, "Something went wrong");
    }
    opc__render_put(api->render, v->id, it->id, version, valid_until, body, len);
    opc__buf_append(b, body, len);
    opc__secret_free(body, len);
    return opc__resp_send(r, 200, "application/json", NULL);
}

/* Wait (up to the sync timeout) for a readable cache with the initial sync
 * done (and, with need_unlock, an index built unlocked); returns the
 * snapshot to use, or NULL on timeout. */
static opc__ix_snapshot *await_sync(opc_api *api, bool need_unlock)
{
    int64_t start = opc__monotonic_ms();
    opc__ix_snapshot *s = opc__index_acquire(api->index);
    for (;;) {
        if (s->unlocked != opc__auth_unlocked(api->auth)) {
            opc__index_release(api->index, s);
            opc__index_poll(api->index, opc__monotonic_ms(), true);
            s = opc__index_acquire(api->index);
        }
        if (s->cache_lost ||
            (s->cache_ok && s->meta.initial_sync_complete && (s->unlocked || !need_unlock))) {
            return s; /* a lost cache is answered at once (503), not waited for */
        }
        opc__index_release(api->index, s);
        int64_t now = opc__monotonic_ms();
        if (now - start >= api->sync_timeout_ms) {
            return NULL;
        }
        int64_t step = api->sync_timeout_ms - (now - start);
        sleep_ms(step < OPC_API_SYNC_WAIT_STEP_MS ? step : OPC_API_SYNC_WAIT_STEP_MS);
        opc__index_poll(api->index, opc__monotonic_ms(), true);
        s = opc__index_acquire(api->index);
    }
}

/*
 * The permissions a method needs on a route (0: method not allowed) and
 * the verb the 403 message names: GET reads; POST on items creates; PUT
 * and PATCH on an item update (PATCH also reads: its answers depend on the
 * stored item); DELETE on an item deletes.
 */
static unsigned method_need(const char *m, rkind k, const char **verb)
{
    *verb = "read";
    if (strcmp(m, "GET") == 0) {
        return OPC_ACL_READ;
    }
    if (k == R_ITEMS && strcmp(m, "POST") == 0) {
        *verb = "create";
        return OPC_ACL_WRITE;
    }
    if (k == R_ITEM && strcmp(m, "PUT") == 0) {
        *verb = "update";
        return OPC_ACL_WRITE;
    }
    if (k == R_ITEM && strcmp(m, "PATCH") == 0) {
        *verb = "update";
        return OPC_ACL_WRITE | OPC_ACL_READ;
    }
    if (k == R_ITEM && strcmp(m, "DELETE") == 0) {
        *verb = "delete";
        return OPC_ACL_WRITE;
    }
    return 0;
}

static int route_v1(req *r, const struct mg_request_info *ri)
{
    opc_api *api = r->api;
    char id[3][ID_CAP];
    rkind k = parse_v1(r->upath, id);
    const char *vid = id[0];
    const char *iid = id[1];
    const char *fid = id[2];
    static const int route_ids[] = {
        [R_NONE] = OPC_METRICS_ROUTE_OTHER,        [R_ACTIVITY] = OPC_METRICS_ROUTE_ACTIVITY,
        [R_VAULTS] = OPC_METRICS_ROUTE_VAULTS,     [R_VAULT] = OPC_METRICS_ROUTE_VAULT,
        [R_ITEMS] = OPC_METRICS_ROUTE_ITEMS,       [R_ITEM] = OPC_METRICS_ROUTE_ITEM,
        [R_FILES] = OPC_METRICS_ROUTE_FILES,       [R_FILE] = OPC_METRICS_ROUTE_FILE,
        [R_FILE_CONTENT] = OPC_METRICS_ROUTE_FILE_CONTENT,
    };
    r->route = route_ids[k];
    if (k == R_NONE) {
        return opc__resp_error(r, 404, "Not found");
    }
    opc__index_poll(api->index, opc__monotonic_ms(), false);
    if (opc__index_lost(api->index)) {
        /* Before the token: the registry is in the lost file too. */
        return opc__resp_rebuilding(r);
    }
    const char *hv[MAX_AUTH_HEADERS];
    size_t nh = auth_headers(ri, hv);
    opc__auth_token *tok = &r->w->tok;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__auth_check(api->auth, hv, nh, opc__now_s(), tok, &eb);
    if (rc == OPC_ERR_TOKEN && eb.reason == OPC_AUTH_UNKNOWN_JTI) {
        /* A correctly signed token whose jti is not in the registry: before
         * the initial sync the registry may simply not be there yet. Wait
         * for it like any request (408 on timeout), then check again. */
        opc__ix_snapshot *s0 = opc__index_acquire(api->index);
        bool synced = s0->cache_ok && s0->meta.initial_sync_complete;
        opc__index_release(api->index, s0);
        if (!synced) {
            s0 = await_sync(api, false);
            if (s0 == NULL) {
                return opc__resp_error(r, 408,
                                  "sync did not complete within timeout, please retry the request");
            }
            bool lost = s0->cache_lost;
            opc__index_release(api->index, s0);
            if (lost) {
                return opc__resp_rebuilding(r);
            }
            opc__ebuf_clear(&eb);
            rc = opc__auth_check(api->auth, hv, nh, opc__now_s(), tok, &eb);
        }
    }
    if (tok->jti[0] != '\0') {
        memcpy(r->jti, tok->jti, sizeof r->jti);
    }
    if (rc == OPC_ERR_TOKEN) {
        opc__log_scoped(OPC_LOG_WARN, "api", r->rid, r->jti[0] != '\0' ? r->jti : NULL,
                        "authentication failed (%s)", opc__auth_reason_name(eb.reason));
        return opc__resp_error(r, 401, "Invalid bearer token");
    }
    if (rc != OPC_OK) {
        opc__log_scoped(OPC_LOG_ERROR, "api", r->rid, r->jti[0] != '\0' ? r->jti : NULL,
                        "authentication error: %s", eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc));
        return opc__resp_error(r, 500, "failed to initiate, review service logs for details");
    }
    if (k == R_ACTIVITY) {
        return strcmp(r->method, "GET") == 0 ? route_activity(r, ri, tok)
                                             : opc__resp_error(r, 405, "Method not allowed");
    }
    r->audit = true;
    if (valid_id(vid)) {
        memcpy(r->vault, vid, sizeof r->vault);
        r->resource_type = OPC_ACTIVITY_RES_VAULT;
    }
    if (k >= R_ITEM && valid_id(iid)) {
        memcpy(r->item, iid, sizeof r->item);
        r->resource_type = OPC_ACTIVITY_RES_ITEM;
    }
    opc__ix_snapshot *s = await_sync(api, true);
    if (s == NULL) {
        return opc__resp_error(r, 408, "sync did not complete within timeout, please retry the request");
    }
    if (s->cache_lost) {
        opc__index_release(api->index, s);
        return opc__resp_rebuilding(r);
    }
    const char *verb = NULL;
    unsigned need = method_need(r->method, k, &verb);
    int st;
    if (need == 0) {
        st = opc__resp_error(r, 405, "Method not allowed");
    } else if (k == R_VAULTS) {
        st = list_vaults(r, s, tok, ri->query_string);
    } else if (!valid_id(vid)) {
        st = opc__resp_error(r, 400, "Invalid Vault UUID");
    } else if (k >= R_ITEM && !valid_id(iid)) {
        st = opc__resp_error(r, 400, "Invalid Item UUID");
    } else if (k >= R_FILE && !valid_id(fid)) {
        st = opc__resp_error(r, 400, "Invalid File UUID");
    } else {
        /* The index holds every vault granted to this server (decrypted
         * or not): another vault may or may not exist, the server cannot
         * tell, so 404 whatever the token claims. Only a granted vault is
         * 403 for a token without it in scope or without the permission. */
        unsigned acl = opc__auth_acl(tok, vid);
        const opc__ix_vault *v = opc__ix_find_vault(s, vid);
        bool granted = v != NULL;
        if (granted && acl == 0) {
            st = opc__resp_error(r, 403, "vault %s is not in scope", vid);
        } else if (granted && (acl & need) != need) {
            st = opc__resp_error(r, 403, "token does not have permission to perform %s on vault %s",
                                 (acl & need & OPC_ACL_WRITE) == 0 && (need & OPC_ACL_WRITE) != 0
                                     ? verb
                                     : "read",
                                 vid);
        } else if (!granted || !v->decrypted) {
            st = opc__resp_error(r, 404, "vault %s not found", vid);
        } else if (k >= R_ITEM && !opc__id_valid_str(iid)) {
            /* A client id the server could not have made (0, 1, 8, 9): no
             * item has it. Said here, as the lookups below take only ids
             * of the stored form. */
            st = opc__resp_error(r, 404, "item %s not found", iid);
        } else if (k >= R_FILES) {
            st = opc__api_files(r, ri, v, iid, k == R_FILES ? NULL : fid,
                                k == R_FILES  ? OPC_FILES_LIST
                                : k == R_FILE ? OPC_FILES_GET
                                              : OPC_FILES_CONTENT);
        } else if (need & OPC_ACL_WRITE) {
            st = opc__api_item_write(r, v, k == R_ITEM ? iid : NULL);
        } else if (k == R_VAULT) {
            st = opc__resp_json(r, 200, v->json, v->json_len);
        } else if (k == R_ITEMS) {
            st = list_items(r, s, v, ri->query_string);
        } else {
            const opc__ix_item *it = opc__ix_find_item(v, iid);
            st = it == NULL ? opc__resp_error(r, 404, "item %s not found", iid)
                            : get_item(r, v, it);
        }
    }
    opc__index_release(api->index, s);
    return st;
}

static int dispatch(req *r, const struct mg_request_info *ri)
{
    const char *bad = decode_path(r->path, r->upath);
    if (bad != NULL) {
        return opc__resp_error(r, 400, "%s", bad);
    }
    if (strcmp(r->upath, "/metrics") == 0) {
        r->route = OPC_METRICS_ROUTE_METRICS;
        return strcmp(r->method, "GET") == 0 ? route_metrics(r)
                                            : opc__resp_error(r, 405, "Method not allowed");
    }
    if (strcmp(r->upath, "/heartbeat") == 0) {
        r->route = OPC_METRICS_ROUTE_HEARTBEAT;
        return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0
                   ? opc__resp_raw(r, 200, "text/plain", ".", 1)
                   : opc__resp_error(r, 405, "Method not allowed");
    }
    if (strcmp(r->upath, "/health") == 0) {
        r->route = OPC_METRICS_ROUTE_HEALTH;
        return strcmp(r->method, "GET") == 0 ? route_health(r, ri)
                                            : opc__resp_error(r, 405, "Method not allowed");
    }
    if (strncmp(r->upath, "/v1/", 4) == 0) {
        return route_v1(r, ri);
    }
    return opc__resp_error(r, 404, "Not found");
}

int opc__api_handle(struct mg_connection *conn, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    req r;
    memset(&r, 0, sizeof r);
    r.conn = conn;
    r.api = cbdata;
    r.w = opc__api_worker_of(mg_get_thread_pointer(conn));
    if (r.w == NULL) {
        r.w = opc__api_worker_new();
        r.own_worker = true;
        if (r.w == NULL) {
            return opc__resp_oom(conn);
        }
    }
    r.start_ns = opc__monotonic_ns();
    r.method = ri->request_method != NULL ? ri->request_method : "?";
    opc__request_id_take(r.api, mg_get_header(conn, "X-Request-ID"), r.rid);
    /* The path as sent: civetweb decodes nothing (decode_url no) and its
     * dot-segment removal only touches local_uri. */
    const char *uri = ri->local_uri_raw != NULL ? ri->local_uri_raw : "/";
    size_t n = strlen(uri);
    while (n > 1 && uri[n - 1] == '/') {
        n--;
    }
    bool too_long = n >= sizeof r.path;
    if (too_long) {
        n = sizeof r.path - 1;
    }
    memcpy(r.path, uri, n);
    r.path[n] = '\0';
    /* The info line comes when the request ends (opc__req_finish); this one
     * marks the start for debugging, without the query (its values are
     * client data such as item titles). */
    opc__log_scoped(OPC_LOG_DEBUG, "api", r.rid, NULL, "%s %s started", r.method, r.path);
    /* No route is that long; a cut path must not be routed. */
    int st = too_long ? opc__resp_error(&r, 404, "Not found") : dispatch(&r, ri);
    if (r.own_worker) {
        opc__api_worker_free(r.w);
    }
    return st;
}
