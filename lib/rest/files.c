/*
 * rest/files.c - the file routes (rest/files.h).
 */
#include "rest/files.h"

#include <stdio.h>
#include <string.h>

#include <civetweb.h>

#include "rest/api.h"
#include "view/filter.h"
#include "view/items.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "crypto/base64.h"
#include "model/shape.h"

#define TOO_LARGE_FMT                                                                              \
    "File is too large to inline in request. Use the /v1/vaults/%s/items/%s/files/%s/content "     \
    "endpoint instead."
/* Seconds a client is asked to wait for a file that is not synced yet. */
#define NOT_SYNCED_RETRY_S 1

/* ---- query and limits ---- */

/* One parameter is a Go strconv.ParseBool "true". */
static bool param_true(const char *query, const char *name)
{
    char v[8];
    size_t n = 0;
    bool found = false;
    if (opc__query_param(query, name, v, sizeof v, &n, &found) != OPC_OK || !found) {
        return false;
    }
    return strcmp(v, "1") == 0 || strcmp(v, "t") == 0 || strcmp(v, "T") == 0 ||
           strcmp(v, "true") == 0 || strcmp(v, "TRUE") == 0 || strcmp(v, "True") == 0;
}

bool opc__files_inline_wanted(const char *query)
{
    return param_true(query, "inline_files") || param_true(query, "inline_content");
}

bool opc__files_inline_fits(size_t size, int max_kb)
{
    return max_kb >= 0 && (uint64_t)size <= (uint64_t)max_kb * 1024u;
}

/* ---- Content-Disposition ---- */

static bool attr_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL);
}

opc_err opc__files_disposition(const char *name, opc__buf *out)
{
    size_t start = out->len;
    opc__buf_append_str(out, "Content-Disposition: attachment; filename=\"");
    size_t fb = out->len;
    bool exact = true;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        unsigned char c = *p;
        if (c >= 0x80) {
            exact = false;
            if (c >= 0xc0) { /* a UTF-8 lead byte: one '_' per sequence */
                opc__buf_append_char(out, '_');
            }
        } else if (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '/' || c == '%') {
            exact = false;
            opc__buf_append_char(out, '_');
        } else {
            opc__buf_append_char(out, (char)c);
        }
    }
    if (out->len == fb) { /* nothing printable: an empty name, or only non-ASCII bytes */
        opc__buf_append_str(out, "file");
    }
    opc__buf_append_char(out, '"');
    if (!exact) {
        static const char hex[] = "0123456789ABCDEF";
        opc__buf_append_str(out, "; filename*=UTF-8''");
        for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
            if (attr_char(*p)) {
                opc__buf_append_char(out, (char)*p);
            } else {
                char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
                opc__buf_append(out, e, sizeof e);
            }
        }
    }
    opc__buf_append_str(out, "\r\n");
    opc_err rc = opc__buf_err(out);
    if (rc != OPC_OK && out->data != NULL && out->len >= start) {
        out->len = start; /* keep what was there; the sticky error stays */
        out->data[start] = '\0';
    }
    return rc;
}

/* ---- reading chunks from the cache ---- */

typedef struct walk {
    const opc__file_entry *e;
    const char *vault;
    const char *item;
    opc__file_reader rd;
    size_t rows;
    enum { W_CHECK, W_STREAM, W_READ } mode;
    uint8_t *out; /* W_READ: the whole file */
    /* W_STREAM */
    const char *head;
    size_t head_len;
    opc__buf *scratch;
    opc__files_write_fn write;
    void *ud;
    bool started;
    opc__ebuf *eb;
} walk;

static opc_err stream_chunk(walk *w, const opc__cache_chunk *ch)
{
    size_t i = w->rd.next;
    size_t at = i == 0 ? w->head_len : 0;
    size_t clen = opc__file_chunk_len(w->e, i);
    opc__buf *b = w->scratch;
    opc__buf_reset(b);
    opc_err rc = opc__buf_reserve(b, at + clen);
    if (rc != OPC_OK) {
        return opc__fail(w->eb, rc, "out of memory");
    }
    if (at > 0) {
        memcpy(b->data, w->head, at);
    }
    rc = opc__file_reader_chunk(&w->rd, ch->idx, ch->blob, ch->len, (uint8_t *)b->data + at, w->eb);
    if (rc != OPC_OK) {
        b->len = at; /* the reset wipes the head (it names the file) */
        return rc;
    }
    b->len = at + clen; /* so that the reset wipes the plaintext */
    b->data[b->len] = '\0';
    w->started = true;
    if (!w->write(w->ud, b->data, b->len)) {
        return opc__fail(w->eb, OPC_ERR_IO, "the client stopped reading");
    }
    return OPC_OK;
}

static opc_err on_chunk(const opc__cache_chunk *ch, void *ud)
{
    walk *w = ud;
    w->rows++;
    if (strcmp(ch->item, w->item) != 0 || strcmp(ch->vault, w->vault) != 0) {
        return opc__fail(w->eb, OPC_ERR_DECRYPT, "file %s: a cached chunk belongs to another item",
                         w->e->id);
    }
    switch (w->mode) {
    case W_CHECK:
        return opc__file_reader_chunk(&w->rd, ch->idx, ch->blob, ch->len, NULL, w->eb);
    case W_READ: {
        size_t off = w->rd.next < w->e->n_chunks ? w->rd.next * w->e->chunk_size : 0;
        return opc__file_reader_chunk(&w->rd, ch->idx, ch->blob, ch->len, w->out + off, w->eb);
    }
    default:
        return stream_chunk(w, ch);
    }
}

static void walk_init(walk *w, const opc__file_entry *e, const char *vault, const char *item,
                      opc__ebuf *eb)
{
    memset(w, 0, sizeof *w);
    w->e = e;
    w->vault = vault;
    w->item = item;
    w->eb = eb;
}

/* One walk over the cached chunks in w->mode; hashing when the entry has a hash. */
static opc_err walk_chunks(opc__cache *c, walk *w, bool hash)
{
    w->rows = 0;
    opc_err rc = opc__file_reader_init(&w->rd, w->e, hash && w->e->has_hash);
    if (rc == OPC_OK) {
        rc = opc__cache_file_chunks(c, w->e->id, on_chunk, w, w->eb);
    }
    if (rc == OPC_OK && w->rows == 0) {
        rc = opc__fail(w->eb, OPC_ERR_NOT_FOUND, "file %s is not synced yet", w->e->id);
    }
    if (rc == OPC_OK) {
        rc = opc__file_reader_finish(&w->rd, w->eb);
    }
    opc__file_reader_clear(&w->rd);
    return rc;
}

opc_err opc__files_stream(opc__cache *c, const char *vault, const char *item,
                          const opc__file_entry *e, const char *head, size_t head_len,
                          opc__buf *scratch, opc__files_write_fn write, void *ud, bool *started,
                          opc__ebuf *eb)
{
    *started = false;
    walk w;
    walk_init(&w, e, vault, item, eb);
    w.head = head;
    w.head_len = head_len;
    w.scratch = scratch;
    w.write = write;
    w.ud = ud;
    opc_err rc = opc__cache_begin(c, false, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    w.mode = W_CHECK;
    rc = walk_chunks(c, &w, true);
    if (rc == OPC_OK) {
        w.mode = W_STREAM;
        rc = walk_chunks(c, &w, false);
    }
    opc__cache_rollback(c); /* a read snapshot: nothing to commit */
    opc__buf_reset(scratch);
    *started = w.started;
    return rc;
}

opc_err opc__files_read(opc__cache *c, const char *vault, const char *item,
                        const opc__file_entry *e, uint8_t *out, opc__ebuf *eb)
{
    walk w;
    walk_init(&w, e, vault, item, eb);
    w.mode = W_READ;
    w.out = out;
    return walk_chunks(c, &w, true);
}

/* ---- HTTP ---- */

/* An error answer with extra headers (opc__resp_error has none). */
static int error_with(opc__req *r, int status, const char *extra, const char *msg)
{
    opc__buf *b = opc__resp_begin(r);
    opc__buf_appendf(b, "{\"status\":%d,\"message\":", status);
    opc__buf_append_json_str(b, msg, strlen(msg));
    opc__buf_append_char(b, '}');
    return opc__resp_send(r, status, "application/json", extra);
}

/* 503 for a file whose chunks are not in the cache yet. */
static int not_synced(opc__req *r, const char *fid)
{
    if (opc__index_lost(r->api->index)) {
        return opc__resp_rebuilding(r); /* not missing: the cache went away */
    }
    char msg[160];
    char extra[48];
    (void)snprintf(msg, sizeof msg, "file %s is not synced yet; retry the request in a moment",
                   fid);
    (void)snprintf(extra, sizeof extra, "Retry-After: %d\r\n", NOT_SYNCED_RETRY_S);
    return error_with(r, 503, extra, msg);
}

/* 500 with the reason logged (ids only). */
static int broken(opc__req *r, const char *vid, const char *iid, opc_err rc, const opc__ebuf *eb)
{
    if (opc__index_lost(r->api->index)) {
        return opc__resp_rebuilding(r); /* the cache went away under the read */
    }
    opc__log_scoped(OPC_LOG_ERROR, "api", r->rid, r->jti[0] != '\0' ? r->jti : NULL,
                    "item %s of vault %s: %s", iid, vid,
                    eb->msg[0] != '\0' ? eb->msg : opc_strerror(rc));
    return opc__resp_error(r, 500, "Something went wrong");
}

static const cJSON *find_entry(const cJSON *files, const char *fid)
{
    const cJSON *f = NULL;
    cJSON_ArrayForEach(f, files)
    {
        const cJSON *id = opc__json_member(f, "id");
        if (cJSON_IsString(id) && id->valuestring != NULL && strcmp(id->valuestring, fid) == 0) {
            return f;
        }
    }
    return NULL;
}

/* Append the inline content of e: "content":"<base64>" (leading comma included). */
static opc_err append_content(opc_api *api, const char *vid, const char *iid,
                              const opc__file_entry *e, opc__buf *b, opc__ebuf *eb)
{
    uint8_t *pt = opc__malloc(e->size + 1);
    if (pt == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    opc__cache *c = NULL;
    opc_err rc = opc__index_handle(api->index, &c, eb);
    if (rc == OPC_OK) {
        rc = opc__files_read(c, vid, iid, e, pt, eb);
    }
    opc__index_handle_release(api->index, c);
    size_t n = opc__b64_encoded_len(e->size, OPC_B64_STD | OPC_B64_PAD);
    if (rc == OPC_OK) {
        opc__buf_append_str(b, ",\"content\":\"");
        rc = opc__buf_reserve(b, n + 2);
    }
    size_t wrote = 0;
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(pt, e->size, OPC_B64_STD | OPC_B64_PAD, b->data + b->len,
                                b->cap - b->len, &wrote);
    }
    if (rc == OPC_OK) {
        b->len += wrote;
        opc__buf_append_char(b, '"');
        rc = opc__buf_err(b);
    }
    opc__secret_free(pt, e->size + 1);
    return rc;
}

/* Append one File object for entry f (with content when inline). */
static opc_err append_file(opc_api *api, const char *vid, const char *iid, const cJSON *f,
                           bool inline_content, opc__buf *b, opc__ebuf *eb)
{
    opc__file_entry e;
    opc_err rc = opc__file_entry_parse(f, false, &e, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__buf_append_str(b, "{\"id\":");
    opc__buf_append_json_str(b, e.id, strlen(e.id));
    opc__buf_append_str(b, ",\"name\":");
    opc__buf_append_json_str(b, e.name, strlen(e.name));
    opc__buf_appendf(b, ",\"size\":%zu,\"content_path\":", e.size);
    char path[OPC_ITEM_FILE_PATH_MAX];
    rc = opc__item_file_path(path, sizeof path, vid, iid, e.id);
    opc__buf_append_json_str(b, path, strlen(path));
    const cJSON *sid = opc__json_member(opc__json_member(f, "section"), "id");
    if (cJSON_IsString(sid) && sid->valuestring != NULL) {
        opc__buf_append_str(b, ",\"section\":{\"id\":");
        opc__buf_append_json_str(b, sid->valuestring, strlen(sid->valuestring));
        opc__buf_append_char(b, '}');
    }
    if (rc == OPC_OK && inline_content) {
        rc = append_content(api, vid, iid, &e, b, eb);
    }
    opc__buf_append_char(b, '}');
    opc__file_entry_wipe(&e);
    return rc == OPC_OK ? opc__buf_err(b) : rc;
}

/* 413 when one of the files to inline is over the limit (first in order). */
static int check_inline(opc__req *r, const char *vid, const char *iid, const cJSON *files,
                        const cJSON *only, bool *over)
{
    int max_kb = r->api->max_inline_kb;
    const cJSON *f = NULL;
    *over = false;
    cJSON_ArrayForEach(f, files)
    {
        if (only != NULL && f != only) {
            continue;
        }
        int64_t size = 0;
        const cJSON *id = opc__json_member(f, "id");
        if (opc__json_get_int(f, "size", true, "file", 0, INT64_MAX, &size, NULL) != OPC_OK ||
            !cJSON_IsString(id) || id->valuestring == NULL) {
            continue; /* malformed: append_file reports it */
        }
        if (!opc__files_inline_fits((size_t)size, max_kb)) {
            *over = true;
            return opc__resp_error(r, 413, TOO_LARGE_FMT, vid, iid, id->valuestring);
        }
    }
    return 0;
}

static int answer_files(opc__req *r, const char *vid, const char *iid, const cJSON *files,
                        const cJSON *only, bool inline_content)
{
    if (inline_content) {
        bool over = false;
        int st = check_inline(r, vid, iid, files, only, &over);
        if (over) {
            return st;
        }
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__buf *b = opc__resp_begin(r);
    opc_err rc = OPC_OK;
    const cJSON *f = only;
    if (only != NULL) {
        rc = append_file(r->api, vid, iid, only, inline_content, b, &eb);
    } else {
        opc__buf_append_char(b, '[');
        cJSON_ArrayForEach(f, files)
        {
            if (f != files->child) {
                opc__buf_append_char(b, ',');
            }
            rc = append_file(r->api, vid, iid, f, inline_content, b, &eb);
            if (rc != OPC_OK) {
                break;
            }
        }
        opc__buf_append_char(b, ']');
    }
    if (rc == OPC_ERR_NOT_FOUND) {
        const cJSON *id = opc__json_member(f, "id");
        return not_synced(r, cJSON_IsString(id) ? id->valuestring : "?");
    }
    if (rc != OPC_OK) {
        return broken(r, vid, iid, rc, &eb);
    }
    return opc__resp_send(r, 200, "application/json", NULL);
}

typedef struct client {
    struct mg_connection *conn;
    bool failed;
    size_t sent;
} client;

static bool client_write(void *ud, const void *p, size_t n)
{
    client *cl = ud;
    int w = mg_write(cl->conn, p, n);
    if (w < 0 || (size_t)w != n) {
        cl->failed = true;
        return false;
    }
    cl->sent += n;
    return true;
}

static int send_content(opc__req *r, const char *vid, const char *iid, const cJSON *f)
{
    opc_api *api = r->api;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__file_entry e;
    opc_err rc = opc__file_entry_parse(f, false, &e, &eb);
    if (rc != OPC_OK) {
        return broken(r, vid, iid, rc, &eb);
    }
    opc__buf head;
    opc__buf scratch;
    opc__buf_init(&head, true);
    opc__buf_init(&scratch, true);
    opc__buf_appendf(&head,
                     "HTTP/1.1 200 OK\r\n"
                     "Content-Type: application/octet-stream\r\n"
                     "Content-Length: %zu\r\n",
                     e.size);
    opc__files_disposition(e.name, &head);
    opc__buf_appendf(&head,
                     "1Password-Connect-Version: " OPC_API_CONNECT_VERSION "\r\n"
                     "Cache-Control: no-store\r\n"
                     "X-Request-ID: %s\r\n"
                     "\r\n",
                     r->rid);
    rc = opc__buf_err(&head);
    opc__cache *c = NULL;
    if (rc == OPC_OK) {
        rc = opc__index_handle(api->index, &c, &eb);
    }
    client cl = {r->conn, false, 0};
    bool started = false;
    if (rc == OPC_OK) {
        rc = opc__files_stream(c, vid, iid, &e, head.data, head.len, &scratch, client_write, &cl,
                               &started, &eb);
    }
    opc__index_handle_release(api->index, c);
    size_t head_len = head.len;
    opc__buf_free(&head);
    opc__buf_free(&scratch);
    char fid[OPC_ID_LEN + 1];
    (void)snprintf(fid, sizeof fid, "%s", e.id);
    size_t size = e.size;
    opc__file_entry_wipe(&e);
    if (!started) {
        if (rc == OPC_ERR_NOT_FOUND) {
            return not_synced(r, fid);
        }
        if (rc != OPC_OK) {
            return broken(r, vid, iid, rc, &eb);
        }
    }
    if (rc != OPC_OK) {
        /* The status line and Content-Length are out: the one honest signal
         * left is to stop and close, so the client sees a short body. */
        size_t body = cl.sent > head_len ? cl.sent - head_len : 0;
        opc__log_scoped(cl.failed ? OPC_LOG_INFO : OPC_LOG_ERROR, "api", r->rid,
                        r->jti[0] != '\0' ? r->jti : NULL,
                        "file %s of item %s (vault %s): %s; connection closed after %zu of %zu "
                        "bytes",
                        fid, iid, vid, eb.msg[0] != '\0' ? eb.msg : opc_strerror(rc), body, size);
        mg_disable_connection_keep_alive(r->conn);
    }
    r->bytes = cl.sent > head_len ? cl.sent - head_len : 0;
    return opc__req_finish(r, 200);
}

int opc__api_files(opc__req *r, const struct mg_request_info *ri, const opc__ix_vault *v,
                   const char *iid, const char *fid, opc__files_route route)
{
    if (opc__ix_find_item(v, iid) == NULL) {
        return opc__resp_error(r, 404, "item %s not found", iid);
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    cJSON *full = NULL;
    opc__cache_item row;
    opc_err rc = opc__view_item_load(r->api->index, r->api->keys, v, iid, &full, &row, &eb);
    int st;
    if (rc != OPC_OK && opc__index_lost(r->api->index)) {
        st = opc__resp_rebuilding(r);
    } else if (rc == OPC_ERR_NOT_FOUND) {
        st = opc__resp_error(r, 404, "item %s not found", iid);
    } else if (rc != OPC_OK) {
        st = broken(r, v->id, iid, rc, &eb);
    } else {
        const cJSON *files = opc__json_member(full, "files");
        const cJSON *f = fid != NULL ? find_entry(files, fid) : NULL;
        bool inline_content = opc__files_inline_wanted(ri->query_string);
        if (route == OPC_FILES_LIST) {
            st = answer_files(r, v->id, iid, files, NULL, inline_content);
        } else if (f == NULL) {
            st = opc__resp_error(r, 404, "file %s not found", fid);
        } else if (route == OPC_FILES_GET) {
            st = answer_files(r, v->id, iid, files, f, inline_content);
        } else {
            st = send_content(r, v->id, iid, f);
        }
    }
    opc__json_delete_secret(full);
    opc__cache_item_clear(&row);
    return st;
}
