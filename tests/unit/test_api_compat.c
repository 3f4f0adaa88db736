/*
 * tests/unit/test_api_compat.c - what the official SDKs and other clients
 * need from the routes (issue 12), over real HTTP against the API running
 * in this process:
 *
 *   - an id is any [a-z0-9]{26}: one with 0, 1, 8 or 9 is unknown (404),
 *     anything else malformed (400);
 *   - a vault the server holds no grant for is 404, whatever the token
 *     claims; a granted vault outside the token's scope is 403;
 *   - X-Request-ID is echoed (printable ASCII, at most 128 bytes; else a
 *     fresh id) on every response, and is the request's id in the request
 *     line and the activity log;
 *   - a PUT's "version" is an integer from 1 to 2^53 - 1, absent or null;
 *     anything else is 400 and writes nothing;
 *   - the path is decoded by segment: %2F is never a separator, %00, "."
 *     and ".." segments and malformed escapes are 400.
 *
 * Requests go out on plain sockets: curl would resolve dot segments itself.
 */
#include "sync_fixture.h"

#include <pthread.h>
#include <strings.h>

#include "http_client.h"
#include "rest/http.h"

/* Ids the server could never have made (base32 has no 0, 1, 8, 9). */
#define ID_0189 "a0b1c8d9eeeeeeeeeeeeeeeeee"
#define ID_DIGITS "01890189018901890189018901"

typedef struct world {
    fx f;
    char shared[27]; /* granted; both tokens */
    char other[27];  /* granted; in no token */
    char priv[27];   /* never granted */
    char gone[27];   /* granted when the rw token was made, then revoked */
    char item[27];   /* in shared */
    char oitem[27];  /* in other */
    char cache_path[300];
    opc_credentials *creds;
    opc_sync *sync;
    opc_api *api;
    char rw[2048]; /* Shared,rw and Gone,rw */
    char ro[2048]; /* Shared,r */
    int port;
} world;

static void mint(world *w, const char *name, const char *const *specs, size_t n, char *out)
{
    char *tj = NULL;
    opc_secret *tok = NULL;
    FX_OK(w->f.a, opc_account_token_create(w->f.a, name, "Web", specs, n, 0, &tj, &tok));
    snprintf(out, 2048, "%.*s", (int)opc_secret_len(tok), (const char *)opc_secret_data(tok));
    opc_free(tj);
    opc_secret_free(tok);
}

static void world_up(world *w)
{
    memset(w, 0, sizeof *w);
    fx_create(&w->f);
    fx_vault(w->f.a, "Shared", w->shared);
    fx_vault(w->f.a, "Other", w->other);
    fx_vault(w->f.a, "Private", w->priv);
    fx_vault(w->f.a, "Gone", w->gone);
    fx_item(w->f.a, w->shared, "{\"title\":\"Login\",\"category\":\"LOGIN\"}", w->item);
    fx_item(w->f.a, w->other, "{\"title\":\"Other\",\"category\":\"LOGIN\"}", w->oitem);
    const char *vaults[] = {w->shared, w->other, w->gone};
    cJSON_Delete(fx_server(w->f.a, "Web", vaults, 3, &w->creds));
    const char *rw[] = {"Shared,rw", "Gone,rw"};
    mint(w, "rw", rw, 2, w->rw);
    const char *ro[] = {"Shared,r"};
    mint(w, "ro", ro, 1, w->ro);
    FX_OK(w->f.a, opc_account_server_revoke(w->f.a, "Web", w->gone));
    snprintf(w->cache_path, sizeof w->cache_path, "%s/data/.op/data/1password.sqlite", w->f.dir);
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_sync_create(w->creds, w->cache_path, &w->sync, err, sizeof err), OPC_OK);
    sx_run(w->sync);
    assert_int_equal(opc_api_create(w->creds, w->cache_path, &w->api, err, sizeof err), OPC_OK);
    assert_int_equal(opc_api_set_http_port(w->api, 0), OPC_OK);
    assert_int_equal(opc_api_set_bind_address(w->api, "127.0.0.1"), OPC_OK);
    if (opc_api_start(w->api, err, sizeof err) != OPC_OK) {
        fail_msg("api start: %s", err);
    }
    w->port = opc_api_port(w->api);
}

static void world_down(world *w)
{
    opc_api_stop(w->api);
    opc_api_free(w->api);
    opc_sync_free(w->sync);
    opc_credentials_free(w->creds);
    fx_destroy(&w->f);
}

static int setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return -1;
    }
    world_up(w);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    world_down(w);
    free(w);
    return 0;
}

/* ---- raw HTTP ---- */

typedef struct rresp {
    int status;
    char head[4096];
    char *body; /* into all */
    char all[65536];
} rresp;

/*
 * One request, exactly as given (path unchanged), on its own connection:
 * "Authorization: Bearer token" unless token is NULL, then extra (header
 * lines ending in "\r\n", may be NULL), then body (may be NULL).
 */
static void raw_send(const world *w, const char *method, const char *path, const char *token,
                     const char *extra, const char *body, rresp *out)
{
    memset(out, 0, sizeof *out);
    int fd = opc_test_connect_local(w->port);
    assert_true(fd >= 0);
    static char req[16384];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
                     method, path);
    if (token != NULL) {
        n += snprintf(req + n, sizeof req - (size_t)n, "Authorization: Bearer %s\r\n", token);
    }
    if (extra != NULL) {
        n += snprintf(req + n, sizeof req - (size_t)n, "%s", extra);
    }
    if (body != NULL) {
        n += snprintf(req + n, sizeof req - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n", strlen(body));
    }
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n%s", body != NULL ? body : "");
    assert_true(n > 0 && (size_t)n < sizeof req);
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t k = write(fd, req + off, (size_t)n - off);
        assert_true(k > 0);
        off += (size_t)k;
    }
    size_t got = 0;
    for (;;) {
        assert_true(got < sizeof out->all - 1);
        ssize_t k = read(fd, out->all + got, sizeof out->all - 1 - got);
        assert_true(k >= 0);
        if (k == 0) {
            break;
        }
        got += (size_t)k;
    }
    close(fd);
    out->all[got] = '\0';
    char *end = strstr(out->all, "\r\n\r\n");
    if (end == NULL || sscanf(out->all, "HTTP/1.1 %d", &out->status) != 1) {
        fail_msg("%s %s: no HTTP response (%s)", method, path, out->all);
    }
    size_t hl = (size_t)(end - out->all) + 2;
    assert_true(hl < sizeof out->head);
    memcpy(out->head, out->all, hl);
    out->body = end + 4;
}

static void raw_get(const world *w, const char *path, const char *token, rresp *out)
{
    raw_send(w, "GET", path, token, NULL, NULL, out);
}

/* The value of header name (case-insensitive) into out; false when absent. */
static bool header(const rresp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p != NULL && p[2] != '\0';
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ') {
                v++;
            }
            const char *e = strstr(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)(e - v), v);
            return true;
        }
    }
    return false;
}

/* tmpl with "{v}" replaced by v and "{i}" by i, into out[512]. */
static void fill(const char *tmpl, const char *v, const char *i, char out[512])
{
    size_t o = 0;
    for (const char *p = tmpl; *p != '\0';) {
        const char *sub = strncmp(p, "{v}", 3) == 0 ? v : strncmp(p, "{i}", 3) == 0 ? i : NULL;
        size_t n = sub != NULL ? strlen(sub) : 1;
        assert_true(o + n < 512);
        memcpy(out + o, sub != NULL ? sub : p, n);
        o += n;
        p += sub != NULL ? 3 : 1;
    }
    out[o] = '\0';
}

/* status and, when msg is not NULL, the error body's message. */
static void expect(const rresp *r, int status, const char *msg, const char *what)
{
    if (r->status != status) {
        fail_msg("%s: status %d, want %d (%s)", what, r->status, status, r->body);
    }
    if (msg != NULL) {
        cJSON *j = cJSON_Parse(r->body);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
        if (!cJSON_IsString(m) || strcmp(m->valuestring, msg) != 0) {
            fail_msg("%s: message %s, want \"%s\"", what, r->body, msg);
        }
        cJSON_Delete(j);
    }
}

/* ---- ids ---- */

/* Every route under a vault ({v}), with item {i}. */
static const char *const under_vault[] = {
    "/v1/vaults/{v}",
    "/v1/vaults/{v}/items",
    "/v1/vaults/{v}/items/{i}",
    "/v1/vaults/{v}/items/{i}/files",
    "/v1/vaults/{v}/items/{i}/files/aaaaaaaaaaaaaaaaaaaaaaaaaa",
    "/v1/vaults/{v}/items/{i}/files/aaaaaaaaaaaaaaaaaaaaaaaaaa"
    "/content"};

static void test_compat_ids_with_any_digit_are_unknown(void **state)
{
    world *w = *state;
    char path[512];
    char msg[128];
    rresp r;
    /* Vaults: every route under an unknown vault id. */
    static const char *const vids[] = {ID_0189, ID_DIGITS};
    for (size_t v = 0; v < OPC_ARRAY_LEN(vids); v++) {
        for (size_t t = 0; t < OPC_ARRAY_LEN(under_vault); t++) {
            fill(under_vault[t], vids[v], ID_0189, path);
            raw_get(w, path, w->rw, &r);
            snprintf(msg, sizeof msg, "vault %s not found", vids[v]);
            expect(&r, 404, msg, path);
        }
    }
    /* Items in a vault the token reads, through every method. */
    snprintf(path, sizeof path, "/v1/vaults/%s/items/%s", w->shared, ID_0189);
    raw_get(w, path, w->rw, &r);
    expect(&r, 404, "item " ID_0189 " not found", "GET item");
    raw_send(w, "DELETE", path, w->rw, NULL, NULL, &r);
    expect(&r, 404, "item " ID_0189 " not found", "DELETE item");
    raw_send(w, "PUT", path, w->rw, NULL, "{\"title\":\"x\",\"category\":\"LOGIN\"}", &r);
    expect(&r, 404, "item " ID_0189 " not found", "PUT item");
    raw_send(w, "PATCH", path, w->rw, NULL, "[]", &r);
    expect(&r, 404, "item " ID_0189 " not found", "PATCH item");
    snprintf(path, sizeof path, "/v1/vaults/%s/items/%s/files", w->shared, ID_DIGITS);
    raw_get(w, path, w->rw, &r);
    expect(&r, 404, "item " ID_DIGITS " not found", "files of an unknown item");
    /* A file id with digits under a real item. */
    snprintf(path, sizeof path, "/v1/vaults/%s/items/%s/files/%s", w->shared, w->item, ID_0189);
    raw_get(w, path, w->rw, &r);
    expect(&r, 404, "file " ID_0189 " not found", "unknown file");
    snprintf(path, sizeof path, "/v1/vaults/%s/items/%s/files/%s/content", w->shared, w->item,
             ID_DIGITS);
    raw_get(w, path, w->rw, &r);
    expect(&r, 404, "file " ID_DIGITS " not found", "unknown file content");
    /* Still malformed: wrong length, upper case, other characters. */
    static const struct {
        const char *fmt;
        const char *msg;
    } bad[] = {
        {"/v1/vaults/a0b1c8d9eeeeeeeeeeeeeeeee", "Invalid Vault UUID"},
        {"/v1/vaults/a0b1c8d9eeeeeeeeeeeeeeeeeee", "Invalid Vault UUID"},
        {"/v1/vaults/A0B1C8D9EEEEEEEEEEEEEEEEEE/items", "Invalid Vault UUID"},
        {"/v1/vaults/a0b1c8d9eeeeeeeeeeeeeeeee-", "Invalid Vault UUID"},
        {"/v1/vaults/a0b1c8d9eeeeeeeeeeeeeeeee%20", "Invalid Vault UUID"},
        {"/v1/vaults/{v}/items/a0b1c8d9eeeeeeeeeeeeeeeeE", "Invalid Item UUID"},
        {"/v1/vaults/{v}/items/{i}/files/a0b1c8d9eeeeeeeeeeeeeeee_", "Invalid File UUID"},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        fill(bad[i].fmt, w->shared, w->item, path);
        raw_get(w, path, w->rw, &r);
        expect(&r, 400, bad[i].msg, path);
    }
    /* The activity log names the unknown ids the client sent. */
    raw_get(w, "/v1/activity?limit=50", w->rw, &r);
    expect(&r, 200, NULL, "activity");
    assert_non_null(strstr(r.body, "\"vault\":{\"id\":\"" ID_0189 "\"}"));
    assert_non_null(strstr(r.body, "\"item\":{\"id\":\"" ID_0189 "\"}"));
}

/* ---- grants and scope ---- */

static void test_compat_ungranted_vault_is_404_granted_out_of_scope_403(void **state)
{
    world *w = *state;
    char path[512];
    char msg[128];
    rresp r;
    /* Never granted, in no token: 404 to both tokens (it was 403). Revoked
     * from the server though the rw token still claims it: 404 as well. */
    const char *ungranted[] = {w->priv, w->gone};
    const char *tokens[] = {w->rw, w->ro};
    for (size_t v = 0; v < OPC_ARRAY_LEN(ungranted); v++) {
        snprintf(msg, sizeof msg, "vault %s not found", ungranted[v]);
        for (size_t k = 0; k < OPC_ARRAY_LEN(tokens); k++) {
            for (size_t t = 0; t < OPC_ARRAY_LEN(under_vault); t++) {
                fill(under_vault[t], ungranted[v], w->item, path);
                raw_get(w, path, tokens[k], &r);
                expect(&r, 404, msg, path);
            }
            snprintf(path, sizeof path, "/v1/vaults/%s/items", ungranted[v]);
            raw_send(w, "POST", path, tokens[k], NULL, "{\"title\":\"x\",\"category\":\"LOGIN\"}",
                     &r);
            expect(&r, 404, msg, "POST into an ungranted vault");
            snprintf(path, sizeof path, "/v1/vaults/%s/items/%s", ungranted[v], w->item);
            raw_send(w, "DELETE", path, tokens[k], NULL, NULL, &r);
            expect(&r, 404, msg, "DELETE in an ungranted vault");
        }
        /* Ids are checked first: a malformed item id is still 400. */
        snprintf(path, sizeof path, "/v1/vaults/%s/items/nope", ungranted[v]);
        raw_get(w, path, w->ro, &r);
        expect(&r, 400, "Invalid Item UUID", path);
    }
    /* Granted to the server, in neither token: 403, for real and invented
     * items alike (the scope comes before existence). */
    snprintf(msg, sizeof msg, "vault %s is not in scope", w->other);
    const char *items[] = {w->oitem, ID_0189};
    for (size_t k = 0; k < OPC_ARRAY_LEN(tokens); k++) {
        for (size_t t = 0; t < OPC_ARRAY_LEN(under_vault); t++) {
            for (size_t i = 0; i < OPC_ARRAY_LEN(items); i++) {
                fill(under_vault[t], w->other, items[i], path);
                raw_get(w, path, tokens[k], &r);
                expect(&r, 403, msg, path);
            }
        }
        snprintf(path, sizeof path, "/v1/vaults/%s/items/%s", w->other, w->oitem);
        raw_send(w, "DELETE", path, tokens[k], NULL, NULL, &r);
        expect(&r, 403, msg, "DELETE out of scope");
    }
    /* In scope without the permission: 403 as before. */
    snprintf(path, sizeof path, "/v1/vaults/%s/items/%s", w->shared, w->item);
    raw_send(w, "DELETE", path, w->ro, NULL, NULL, &r);
    snprintf(msg, sizeof msg, "token does not have permission to perform delete on vault %s",
             w->shared);
    expect(&r, 403, msg, "DELETE with a read token");
    /* The list shows what both grant and token allow. */
    raw_get(w, "/v1/vaults", w->rw, &r);
    expect(&r, 200, NULL, "vault list");
    assert_non_null(strstr(r.body, w->shared));
    assert_null(strstr(r.body, w->other));
    assert_null(strstr(r.body, w->priv));
    assert_null(strstr(r.body, w->gone));
}

/* ---- X-Request-ID ---- */

typedef struct lines {
    pthread_mutex_t mu;
    char rid[8][160]; /* request ids of the request lines, in order */
    char path[8][160];
    size_t n;
} lines;

static void on_log(const opc_log_record *rec, void *ud)
{
    lines *l = ud;
    if (rec->age < 2 || rec->http == NULL || rec->request_id == NULL) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    if (l->n < OPC_ARRAY_LEN(l->rid)) {
        snprintf(l->rid[l->n], sizeof l->rid[0], "%s", rec->request_id);
        snprintf(l->path[l->n], sizeof l->path[0], "%s", rec->http->path);
        l->n++;
    }
    pthread_mutex_unlock(&l->mu);
}

static bool is_uuid(const char *s)
{
    if (strlen(s) != 36) {
        return false;
    }
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : strchr("0123456789abcdef", s[i]) == NULL) {
            return false;
        }
    }
    return true;
}

static void test_compat_request_id_echoed_everywhere(void **state)
{
    world *w = *state;
    char path[512];
    char got[512];
    rresp r;
    char max_id[OPC_REQUEST_ID_MAX + 2];
    for (size_t i = 0; i < 128; i++) {
        max_id[i] = (char)(0x20 + 1 + i % 94); /* printable, no space at either end */
    }
    max_id[128] = '\0';
    /* Every kind of answer: success, streamed list, errors before and
     * after the token, 204, civetweb's path and ours. */
    char item_path[256];
    snprintf(item_path, sizeof item_path, "/v1/vaults/%s/items/%s", w->shared, w->item);
    char list_path[256];
    snprintf(list_path, sizeof list_path, "/v1/vaults/%s/items?filter=title+eq+%%22Login%%22",
             w->shared);
    const struct {
        const char *method;
        const char *path;
        const char *token;
        int status;
    } reqs[] = {
        {"GET", "/heartbeat", NULL, 200},
        {"GET", "/health", NULL, 200},
        {"GET", "/metrics", NULL, 200},
        {"GET", "/nowhere", NULL, 404},
        {"GET", "/v1/vaults/../vaults", NULL, 400},
        {"POST", "/heartbeat", NULL, 405},
        {"GET", "/v1/vaults", NULL, 401},
        {"GET", "/v1/vaults", w->ro, 200},
        {"GET", "/v1/activity", w->ro, 200},
        {"GET", item_path, w->ro, 200},
        {"GET", list_path, w->ro, 200},
        {"GET", "/v1/vaults/" ID_0189, w->ro, 404},
        {"GET", "/v1/vaults/bad", w->ro, 400},
        {"DELETE", item_path, w->ro, 403},
    };
    const char *ids[] = {"req-1", "a b\"c\\d", max_id};
    for (size_t i = 0; i < OPC_ARRAY_LEN(reqs); i++) {
        for (size_t k = 0; k < OPC_ARRAY_LEN(ids); k++) {
            char extra[300];
            snprintf(extra, sizeof extra, "X-Request-ID: %s\r\n", ids[k]);
            raw_send(w, reqs[i].method, reqs[i].path, reqs[i].token, extra, NULL, &r);
            if (r.status != reqs[i].status) {
                fail_msg("%s %s: %d, want %d", reqs[i].method, reqs[i].path, r.status,
                         reqs[i].status);
            }
            if (!header(&r, "X-Request-ID", got, sizeof got) || strcmp(got, ids[k]) != 0) {
                fail_msg("%s %s: X-Request-ID %s, want %s", reqs[i].method, reqs[i].path,
                         header(&r, "X-Request-ID", got, sizeof got) ? got : "(none)", ids[k]);
            }
        }
    }
    /* 204 carries it too. */
    raw_send(w, "DELETE", item_path, w->rw, "x-request-id: deleted-1\r\n", NULL, &r);
    expect(&r, 204, NULL, "DELETE");
    assert_true(header(&r, "X-Request-ID", got, sizeof got));
    assert_string_equal(got, "deleted-1");
    /* Unusable ids are replaced by a fresh one: too long, a byte outside
     * printable ASCII, empty, absent. Each fresh one differs. */
    char too_long[OPC_REQUEST_ID_MAX + 2];
    memset(too_long, 'x', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    char prev[sizeof got] = "";
    /* (civetweb itself refuses control bytes in a header: see below) */
    const char *unusable[] = {too_long, "caf\xc3\xa9", "", NULL};
    for (size_t k = 0; k < OPC_ARRAY_LEN(unusable); k++) {
        char extra[300] = "";
        if (unusable[k] != NULL) {
            snprintf(extra, sizeof extra, "X-Request-ID: %s\r\n", unusable[k]);
        }
        raw_send(w, "GET", "/heartbeat", NULL, extra, NULL, &r);
        expect(&r, 200, NULL, "heartbeat");
        assert_true(header(&r, "X-Request-ID", got, sizeof got));
        if (!is_uuid(got) || strcmp(got, prev) == 0) {
            fail_msg("for \"%s\": X-Request-ID %s", unusable[k] != NULL ? unusable[k] : "(none)",
                     got);
        }
        snprintf(prev, sizeof prev, "%s", got);
    }
    /* What civetweb would refuse anyway, at the function that decides. */
    const char *direct[] = {"tab\there", "del\x7f", "nl\n", "\x01", "\x80", too_long, "", NULL};
    for (size_t k = 0; k < OPC_ARRAY_LEN(direct); k++) {
        char rid[OPC_REQUEST_ID_MAX + 1];
        opc__request_id_take(w->api, direct[k], rid);
        assert_true(is_uuid(rid));
    }
    char rid[OPC_REQUEST_ID_MAX + 1];
    opc__request_id_take(w->api, max_id, rid);
    assert_string_equal(rid, max_id);
    opc__request_id_take(w->api, " ~", rid);
    assert_string_equal(rid, " ~");
    /* The request line and the activity log carry the client's id. */
    lines l;
    memset(&l, 0, sizeof l);
    pthread_mutex_init(&l.mu, NULL);
    assert_int_equal(opc_global_set_log(on_log, &l, OPC_LOG_INFO), OPC_OK);
    snprintf(path, sizeof path, "/v1/vaults/%s", w->shared);
    char extra[300];
    snprintf(extra, sizeof extra, "X-Request-ID: %s\r\n", max_id);
    raw_send(w, "GET", path, w->ro, extra, NULL, &r);
    expect(&r, 200, NULL, "vault");
    raw_send(w, "GET", "/heartbeat", NULL, NULL, NULL, &r);
    assert_true(header(&r, "X-Request-ID", got, sizeof got));
    assert_int_equal(opc_global_set_log(NULL, NULL, OPC_LOG_INFO), OPC_OK);
    pthread_mutex_destroy(&l.mu);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.path[0], path);
    assert_string_equal(l.rid[0], max_id);
    assert_string_equal(l.rid[1], got);
    cJSON *want = cJSON_CreateString(max_id);
    char *want_json = cJSON_PrintUnformatted(want);
    cJSON_Delete(want);
    char needle[400];
    snprintf(needle, sizeof needle, "\"requestId\":%s", want_json);
    free(want_json);
    bool found = false;
    for (int tries = 0; tries < 100 && !found; tries++) {
        raw_get(w, "/v1/activity?limit=5", w->ro, &r);
        expect(&r, 200, NULL, "activity");
        found = strstr(r.body, needle) != NULL;
        if (!found) {
            nap_ms(20);
        }
    }
    if (!found) {
        fail_msg("activity has no %s: %s", needle, r.body);
    }
}

/* ---- PUT version ---- */

static int64_t item_version(const world *w, const char *token)
{
    char path[256];
    rresp r;
    snprintf(path, sizeof path, "/v1/vaults/%s/items/%s", w->shared, w->item);
    raw_get(w, path, token, &r);
    expect(&r, 200, NULL, "GET item");
    cJSON *j = cJSON_Parse(r.body);
    int64_t v = (int64_t)fx_num(j, "version");
    cJSON_Delete(j);
    return v;
}

static void put_version(const world *w, const char *version, rresp *r)
{
    char path[256];
    char body[512];
    snprintf(path, sizeof path, "/v1/vaults/%s/items/%s", w->shared, w->item);
    snprintf(body, sizeof body, "{\"title\":\"Login\",\"category\":\"LOGIN\"%s%s}",
             version != NULL ? ",\"version\":" : "", version != NULL ? version : "");
    raw_send(w, "PUT", path, w->rw, NULL, body, r);
}

static void test_compat_put_version_must_be_positive_integer(void **state)
{
    world *w = *state;
    rresp r;
    int64_t v = item_version(w, w->rw);
    assert_int_equal(v, 1);
    static const char *const bad[] = {
        "0",
        "-1",
        "\"1\"",
        "1.5",
        "18446744073709551617",
        "9007199254740992",
        "1e300",
        "true",
        "false",
        "[1]",
        "{\"v\":1}",
        "-0.5",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        put_version(w, bad[i], &r);
        if (r.status != 400 || strstr(r.body, "version must be a positive integer") == NULL) {
            fail_msg("version %s: %d %s", bad[i], r.status, r.body);
        }
        assert_int_equal(item_version(w, w->rw), v); /* nothing written */
    }
    /* The version read: written. */
    put_version(w, "1", &r);
    expect(&r, 200, NULL, "version 1");
    assert_int_equal(item_version(w, w->rw), 2);
    /* Stale, and one from the future: 409, nothing written. */
    put_version(w, "1", &r);
    expect(&r, 409, NULL, "stale version");
    put_version(w, "9007199254740991", &r);
    expect(&r, 409, NULL, "largest version");
    put_version(w, "3.0", &r); /* an integer written with a fraction */
    expect(&r, 409, NULL, "version 3.0");
    assert_int_equal(item_version(w, w->rw), 2);
    put_version(w, "2.0e0", &r);
    expect(&r, 200, NULL, "version 2.0e0");
    /* Absent or null: no check. */
    put_version(w, NULL, &r);
    expect(&r, 200, NULL, "no version");
    put_version(w, "null", &r);
    expect(&r, 200, NULL, "null version");
    assert_int_equal(item_version(w, w->rw), 5);
}

/* ---- raw paths ---- */

static void test_compat_paths_decoded_by_segment(void **state)
{
    world *w = *state;
    char path[512];
    rresp r;
    static const char *const dots[] = {
        "/metrics/../v1/vaults",
        "/v1/vaults/../vaults",
        "/v1/./vaults",
        "/./heartbeat",
        "/heartbeat/.",
        "/heartbeat/..",
        "/v1/vaults/%2e%2E",
        "/v1/vaults/%2E",
        "/v1/vaults/.%2e/",
        "/heartbeat/./",
        "/..",
        "/v1/%2e%2e/v1/vaults",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(dots); i++) {
        raw_get(w, dots[i], w->rw, &r);
        expect(&r, 400, "Invalid path: \".\" and \"..\" segments are not allowed", dots[i]);
    }
    static const char *const nul[] = {"/v1/vaults/%00", "/heartbeat%00", "/v1/vaults%00/x",
                                      "/%00/heartbeat"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(nul); i++) {
        raw_get(w, nul[i], w->rw, &r);
        expect(&r, 400, "Invalid path: %00 is not allowed", nul[i]);
    }
    static const char *const esc[] = {"/v1/vaults/%",  "/v1/vaults/%4", "/v1/vaults/%zz",
                                      "/heartbeat%g0", "/v1/%2/vaults", "/%%32%46"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(esc); i++) {
        raw_get(w, esc[i], w->rw, &r);
        expect(&r, 400, "Invalid path: malformed percent-encoding", esc[i]);
    }
    /* An encoded slash stays in its segment: a bad id, or no route. */
    snprintf(path, sizeof path, "/v1/vaults/%s%%2Fitems", w->shared);
    raw_get(w, path, w->rw, &r);
    expect(&r, 400, "Invalid Vault UUID", path);
    snprintf(path, sizeof path, "/v1/vaults/%.24s%%2f", w->shared);
    raw_get(w, path, w->rw, &r);
    expect(&r, 400, "Invalid Vault UUID", path);
    snprintf(path, sizeof path, "/v1/vaults/%s/items%%2F%s", w->shared, w->item);
    raw_get(w, path, w->rw, &r);
    expect(&r, 404, "Not found", path);
    raw_get(w, "/v1%2Fvaults", w->rw, &r);
    expect(&r, 404, "Not found", "/v1%2Fvaults");
    raw_get(w, "/metrics%2F..%2Fv1%2Fvaults", w->rw, &r);
    expect(&r, 404, "Not found", "/metrics%2F..%2Fv1%2Fvaults");
    /* Plain escapes decode, in any segment and letter case. */
    raw_get(w, "/v1/%76aults", w->rw, &r);
    expect(&r, 200, NULL, "/v1/%76aults");
    assert_non_null(strstr(r.body, w->shared));
    snprintf(path, sizeof path, "/v1/vaults/%%%02X%.25s/items/%%%02x%.25s", w->shared[0],
             w->shared + 1, w->item[0], w->item + 1);
    raw_get(w, path, w->rw, &r);
    expect(&r, 200, NULL, path);
    assert_non_null(strstr(r.body, w->item));
    raw_get(w, "/%68eartbeat/", NULL, &r);
    expect(&r, 200, NULL, "/%68eartbeat/");
    /* A segment that only contains dots is fine when it is not . or .. */
    raw_get(w, "/v1/vaults/...", w->rw, &r);
    expect(&r, 400, "Invalid Vault UUID", "/v1/vaults/...");
    /* The query is decoded by the filter, as before (+, %XX). */
    snprintf(path, sizeof path, "/v1/vaults/%s/items?filter=title%%20eq%%20%%22Login%%22",
             w->shared);
    raw_get(w, path, w->rw, &r);
    expect(&r, 200, NULL, path);
    assert_non_null(strstr(r.body, w->item));
    raw_get(w, "/v1/vaults?filter=name+eq+%22Nope%22", w->rw, &r);
    expect(&r, 200, NULL, "vault filter");
    assert_string_equal(r.body, "[]");
    raw_get(w, "/v1/vaults?filter=name+eq+%22shared%22", w->rw, &r);
    expect(&r, 200, NULL, "vault filter");
    assert_non_null(strstr(r.body, w->shared));
    /* Decoded once only: %2522 is the text %22 in the title, not a quote
     * (decoded twice, the filter would have three quotes: 400). */
    snprintf(path, sizeof path, "/v1/vaults/%s/items?filter=title+eq+%%22x%%2522%%22", w->shared);
    raw_get(w, path, w->rw, &r);
    expect(&r, 200, NULL, "a filter with an encoded %");
    assert_string_equal(r.body, "[]");
    snprintf(path, sizeof path, "/v1/vaults/%s/items?filter=title+eq+%%22x%%22%%22", w->shared);
    raw_get(w, path, w->rw, &r);
    expect(&r, 400,
           "invalid filter at position 12: expected a space or a parenthesis after a string",
           "the same filter decoded twice");
    raw_get(w, "/v1/vaults?filter=name+eq+%zz", w->rw, &r);
    expect(&r, 400, "invalid filter: a bad %-escape, a NUL byte or more than 1024 bytes",
           "bad filter escape");
    /* A path too long for any route is not cut and routed. */
    char longp[700];
    snprintf(longp, sizeof longp, "/heartbeat/%0600d", 0);
    raw_get(w, longp, NULL, &r);
    expect(&r, 404, "Not found", "long path");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_compat_ids_with_any_digit_are_unknown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_compat_ungranted_vault_is_404_granted_out_of_scope_403,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_compat_request_id_echoed_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compat_put_version_must_be_positive_integer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_compat_paths_decoded_by_segment, setup, teardown),
    };
    return cmocka_run_group_tests(tests, opc_test_http_group_setup, opc_test_http_group_teardown);
}
