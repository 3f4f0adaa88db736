/*
 * tests/unit/test_api_files.c - the file routes' pieces that need no HTTP
 * (lib/rest/files.c): the inline query and size decision, Content-Disposition
 * (quotes, CR/LF, non-ASCII, RFC 6266 filename*), and streaming from a real
 * cache file: every byte handed to the client belongs to a chunk whose tag
 * verified, a tampered cache stops before the status line when the entry
 * has a hash and cuts the body short when it has none, an unsynced file is
 * OPC_ERR_NOT_FOUND, and the scratch memory is one chunk whatever the size.
 */
#include "sync_fixture.h"

#include "rest/files.h"
#include "crypto/base64.h"
#include "crypto/kdf.h"

/* ---- inline ---- */

static void test_api_files_inline_wanted(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "inline_files=true",
        "inline_content=true",
        "inline_files=1",
        "inline_files=t",
        "inline_files=T",
        "inline_files=TRUE",
        "inline_files=True",
        "inline_content=1",
        "filter=x&inline_content=True",
        "inline_files=tru%65",
        "inline_files=false&inline_content=true",
    };
    static const char *const no[] = {
        "",
        "inline_files=false",
        "inline_files=0",
        "inline_files=yes",
        "inline_files=",
        "inline_files",
        "inline_files=truex",
        "inline_files=tRUE",
        "inline=true",
        "inline_files=%zz",
        "xinline_files=true",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(yes); i++) {
        if (!opc__files_inline_wanted(yes[i])) {
            fail_msg("not inline: %s", yes[i]);
        }
    }
    for (size_t i = 0; i < OPC_ARRAY_LEN(no); i++) {
        if (opc__files_inline_wanted(no[i])) {
            fail_msg("inline: %s", no[i]);
        }
    }
    assert_false(opc__files_inline_wanted(NULL));
}

static void test_api_files_inline_fits(void **state)
{
    (void)state;
    assert_true(opc__files_inline_fits(0, 0));
    assert_false(opc__files_inline_fits(1, 0));
    assert_true(opc__files_inline_fits(100 * 1024, 100));
    assert_false(opc__files_inline_fits(100 * 1024 + 1, 100));
    assert_true(opc__files_inline_fits((size_t)64 * 1024 * 1024, OPC_API_MAX_INLINE_FILE_KB));
    assert_false(opc__files_inline_fits((size_t)64 * 1024 * 1024 + 1, OPC_API_MAX_INLINE_FILE_KB));
    assert_false(opc__files_inline_fits(0, -1));
}

/* ---- Content-Disposition ---- */

static void disposition_is(const char *name, const char *want)
{
    opc__buf b;
    opc__buf_init(&b, true);
    assert_int_equal(opc__files_disposition(name, &b), OPC_OK);
    if (strcmp(b.data, want) != 0) {
        fail_msg("for %s:\n got  %s\n want %s", name, b.data, want);
    }
    opc__buf_free(&b);
}

static void test_api_files_disposition_cases(void **state)
{
    (void)state;
    disposition_is("report.pdf", "Content-Disposition: attachment; filename=\"report.pdf\"\r\n");
    disposition_is("my file (1).txt",
                   "Content-Disposition: attachment; filename=\"my file (1).txt\"\r\n");
    disposition_is("a\"b\\c/d%e.txt",
                   "Content-Disposition: attachment; filename=\"a_b_c_d_e.txt\"; "
                   "filename*=UTF-8''a%22b%5Cc%2Fd%25e.txt\r\n");
    disposition_is("evil\r\nSet-Cookie: x=1",
                   "Content-Disposition: attachment; filename=\"evil__Set-Cookie: x=1\"; "
                   "filename*=UTF-8''evil%0D%0ASet-Cookie%3A%20x%3D1\r\n");
    disposition_is("r\xc3\xa9p \xc3\xbc.txt",
                   "Content-Disposition: attachment; filename=\"r_p _.txt\"; "
                   "filename*=UTF-8''r%C3%A9p%20%C3%BC.txt\r\n");
    disposition_is("\xe6\x97\xa5\xe6\x9c\xac.txt",
                   "Content-Disposition: attachment; filename=\"__.txt\"; "
                   "filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt\r\n");
    disposition_is("\xf0\x9f\x94\x91", "Content-Disposition: attachment; filename=\"_\"; "
                                       "filename*=UTF-8''%F0%9F%94%91\r\n");
    disposition_is("", "Content-Disposition: attachment; filename=\"file\"\r\n");
    disposition_is("\x80\x81", "Content-Disposition: attachment; filename=\"file\"; "
                               "filename*=UTF-8''%80%81\r\n");
    disposition_is("tab\there\x7f", "Content-Disposition: attachment; filename=\"tab_here_\"; "
                                    "filename*=UTF-8''tab%09here%7F\r\n");
    disposition_is("a;b=c,d'e", "Content-Disposition: attachment; filename=\"a;b=c,d'e\"\r\n");
}

/* Whatever the name: one header line, printable ASCII, quotes balanced. */
static void test_api_files_disposition_any_name(void **state)
{
    (void)state;
    uint32_t seed = 12345;
    for (int round = 0; round < 2000; round++) {
        char name[64];
        size_t n = (size_t)(round % 63);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            name[i] = (char)((seed >> 16) % 255 + 1); /* any byte but NUL */
        }
        name[n] = '\0';
        opc__buf b;
        opc__buf_init(&b, false);
        assert_int_equal(opc__files_disposition(name, &b), OPC_OK);
        assert_true(b.len >= 2);
        assert_memory_equal(b.data + b.len - 2, "\r\n", 2);
        size_t quotes = 0;
        for (size_t i = 0; i + 2 < b.len; i++) {
            unsigned char c = (unsigned char)b.data[i];
            if (c < 0x20 || c >= 0x7f) {
                fail_msg("byte 0x%02x at %zu in %s", c, i, b.data);
            }
            quotes += c == '"';
        }
        assert_int_equal(quotes, 2);
        opc__buf_free(&b);
    }
}

/* ---- streaming from a cache ---- */

#define VAULT "vvvvvvvvvvvvvvvvvvvvvvvvvv"
#define ITEM "iiiiiiiiiiiiiiiiiiiiiiiiii"
#define HEAD "HTTP/1.1 200 OK\r\nX: y\r\n\r\n"

typedef struct cache_dir {
    char dir[64];
    char path[128];
    opc__cache *c;
} cache_dir;

static void cache_make(cache_dir *cd)
{
    opc_test_mkdtemp(cd->dir, sizeof cd->dir, "opc-files-test", "1password.sqlite", cd->path,
                     sizeof cd->path);
    assert_int_equal(opc__cache_open(cd->path, OPC_CACHE_CREATE, &cd->c, NULL), OPC_OK);
}

static void cache_drop(cache_dir *cd)
{
    opc__cache_close(cd->c);
    nftw(cd->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct put_opts {
    const char *item; /* rows' item id (default ITEM) */
    long skip;        /* chunk left out, -1 none */
    long flip;        /* chunk with one byte flipped after hashing, -1 none */
    bool hash;        /* entry carries sha256 */
} put_opts;

/* Seal data in chunks of chunk_size for file id, put the rows, return the entry. */
static cJSON *put_file(opc__cache *c, const char *id, const uint8_t *data, size_t size,
                       size_t chunk_size, put_opts o)
{
    uint8_t key[OPC_FILE_KEY_LEN];
    uint8_t prefix[OPC_FILE_PREFIX_LEN];
    for (size_t i = 0; i < sizeof key; i++) {
        key[i] = (uint8_t)(i * 7 + 1);
    }
    memcpy(prefix, "\x01\x02\x03\x04\x05\x06\x07", sizeof prefix);
    size_t n = opc__file_chunk_count(size, chunk_size);
    uint8_t *blob = malloc(chunk_size + OPC_GCM_TAG_LEN);
    opc__file_hash h = {NULL};
    assert_int_equal(opc__file_hash_init(&h), OPC_OK);
    for (size_t i = 0; i < n; i++) {
        size_t off = i * chunk_size;
        size_t clen = i + 1 == n ? size - off : chunk_size;
        assert_int_equal(opc__file_chunk_seal(key, prefix, id, (uint32_t)i, i + 1 == n,
                                              clen == 0 ? NULL : data + off, clen, blob),
                         OPC_OK);
        assert_int_equal(opc__file_hash_update(&h, blob, clen + OPC_GCM_TAG_LEN), OPC_OK);
        if ((long)i == o.flip) {
            blob[clen / 2] ^= 0x20;
        }
        if ((long)i == o.skip) {
            continue;
        }
        opc__cache_chunk ch;
        memset(&ch, 0, sizeof ch);
        snprintf(ch.file, sizeof ch.file, "%s", id);
        snprintf(ch.item, sizeof ch.item, "%s", o.item != NULL ? o.item : ITEM);
        snprintf(ch.vault, sizeof ch.vault, "%s", VAULT);
        ch.idx = (int64_t)i;
        ch.blob = blob;
        ch.len = clen + OPC_GCM_TAG_LEN;
        assert_int_equal(opc__cache_chunk_put(c, &ch, NULL), OPC_OK);
    }
    uint8_t d[OPC_FILE_HASH_LEN];
    assert_int_equal(opc__file_hash_final(&h, d), OPC_OK);
    opc__file_hash_clear(&h);
    free(blob);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "id", id);
    cJSON_AddStringToObject(e, "name", "f.bin");
    cJSON_AddNumberToObject(e, "size", (double)size);
    char b64[64];
    assert_int_equal(opc__b64_encode_to(key, sizeof key, OPC_B64URL, b64, sizeof b64, NULL),
                     OPC_OK);
    cJSON_AddStringToObject(e, "key", b64);
    cJSON_AddNumberToObject(e, "chunkSize", (double)chunk_size);
    assert_int_equal(opc__b64_encode_to(prefix, sizeof prefix, OPC_B64URL, b64, sizeof b64, NULL),
                     OPC_OK);
    cJSON_AddStringToObject(e, "nonce", b64);
    if (o.hash) {
        assert_int_equal(opc__b64_encode_to(d, sizeof d, OPC_B64URL, b64, sizeof b64, NULL),
                         OPC_OK);
        cJSON_AddStringToObject(e, "sha256", b64);
    }
    return e;
}

/* What the client got: every write, concatenated, and the number of writes. */
typedef struct sink {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t writes;
    size_t fail_at; /* 0: never; else the write number that fails */
} sink;

static bool sink_write(void *ud, const void *p, size_t n)
{
    sink *s = ud;
    s->writes++;
    if (s->fail_at != 0 && s->writes == s->fail_at) {
        return false;
    }
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->data = realloc(s->data, s->cap);
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    return true;
}

static opc_err stream(opc__cache *c, const cJSON *entry, sink *s, bool *started,
                      size_t *scratch_cap, opc__ebuf *eb)
{
    opc__file_entry e;
    opc_err rc = opc__file_entry_parse(entry, false, &e, eb);
    assert_int_equal(rc, OPC_OK);
    opc__buf scratch;
    opc__buf_init(&scratch, true);
    rc = opc__files_stream(c, VAULT, ITEM, &e, HEAD, strlen(HEAD), &scratch, sink_write, s, started,
                           eb);
    if (scratch_cap != NULL) {
        *scratch_cap = scratch.cap;
    }
    assert_int_equal(scratch.len, 0);
    opc__buf_free(&scratch);
    opc__file_entry_wipe(&e);
    return rc;
}

static uint8_t *pattern(size_t n)
{
    uint8_t *p = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(i * 31 + i / 251);
    }
    return p;
}

static void test_api_files_stream_verified(void **state)
{
    (void)state;
    cache_dir cd;
    cache_make(&cd);
    size_t size = 100; /* 7 chunks of 16 (the last 4) */
    uint8_t *data = pattern(size);
    cJSON *entry = put_file(cd.c, "aaaaaaaaaaaaaaaaaaaaaaaaaa", data, size, 16,
                            (put_opts){NULL, -1, -1, true});
    sink s = {0};
    bool started = false;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(stream(cd.c, entry, &s, &started, NULL, &eb), OPC_OK);
    assert_true(started);
    assert_int_equal(s.writes, 7); /* head + chunk 0 together, then one write per chunk */
    assert_int_equal(s.len, strlen(HEAD) + size);
    assert_memory_equal(s.data, HEAD, strlen(HEAD));
    assert_memory_equal(s.data + strlen(HEAD), data, size);
    /* opc__files_read gives the same bytes. */
    opc__file_entry e;
    assert_int_equal(opc__file_entry_parse(entry, false, &e, NULL), OPC_OK);
    uint8_t out[100];
    assert_int_equal(opc__files_read(cd.c, VAULT, ITEM, &e, out, &eb), OPC_OK);
    assert_memory_equal(out, data, size);
    opc__file_entry_wipe(&e);
    free(s.data);
    cJSON_Delete(entry);
    /* An empty file: one empty chunk, head only. */
    memset(&s, 0, sizeof s);
    entry =
        put_file(cd.c, "eeeeeeeeeeeeeeeeeeeeeeeeee", NULL, 0, 16, (put_opts){NULL, -1, -1, true});
    assert_int_equal(stream(cd.c, entry, &s, &started, NULL, &eb), OPC_OK);
    assert_int_equal(s.writes, 1);
    assert_int_equal(s.len, strlen(HEAD));
    free(s.data);
    cJSON_Delete(entry);
    free(data);
    cache_drop(&cd);
}

static void test_api_files_stream_not_synced(void **state)
{
    (void)state;
    cache_dir cd;
    cache_make(&cd);
    uint8_t *data = pattern(40);
    /* Entry of a file whose rows were never put: build it on another cache. */
    cache_dir other;
    cache_make(&other);
    cJSON *entry = put_file(other.c, "nnnnnnnnnnnnnnnnnnnnnnnnnn", data, 40, 16,
                            (put_opts){NULL, -1, -1, true});
    sink s = {0};
    bool started = true;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(stream(cd.c, entry, &s, &started, NULL, &eb), OPC_ERR_NOT_FOUND);
    assert_false(started);
    assert_int_equal(s.writes, 0);
    assert_non_null(strstr(eb.msg, "not synced"));
    opc__file_entry e;
    assert_int_equal(opc__file_entry_parse(entry, false, &e, NULL), OPC_OK);
    uint8_t out[40];
    assert_int_equal(opc__files_read(cd.c, VAULT, ITEM, &e, out, NULL), OPC_ERR_NOT_FOUND);
    opc__file_entry_wipe(&e);
    cJSON_Delete(entry);
    free(data);
    cache_drop(&other);
    cache_drop(&cd);
}

/* With sha256 in the entry every defect is found before anything is written. */
static void test_api_files_stream_refuses_before_headers(void **state)
{
    (void)state;
    cache_dir cd;
    cache_make(&cd);
    size_t size = 100;
    uint8_t *data = pattern(size);
    static const struct {
        const char *id;
        put_opts o;
        const char *msg;
    } cases[] = {
        {"bbbbbbbbbbbbbbbbbbbbbbbbbb", {NULL, -1, 3, true}, "content hash does not match"},
        {"cccccccccccccccccccccccccc", {NULL, -1, 0, true}, "content hash does not match"},
        {"dddddddddddddddddddddddddd", {NULL, 6, -1, true}, "truncated"},
        {"ffffffffffffffffffffffffff", {NULL, 2, -1, true}, "missing or out of order"},
        {"gggggggggggggggggggggggggg", {NULL, 6, -1, false}, "truncated"},
        {"hhhhhhhhhhhhhhhhhhhhhhhhhh",
         {"jjjjjjjjjjjjjjjjjjjjjjjjjj", -1, -1, true},
         "belongs to another item"},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(cases); i++) {
        cJSON *entry = put_file(cd.c, cases[i].id, data, size, 16, cases[i].o);
        sink s = {0};
        bool started = true;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        assert_int_equal(stream(cd.c, entry, &s, &started, NULL, &eb), OPC_ERR_DECRYPT);
        assert_false(started);
        assert_int_equal(s.writes, 0);
        if (strstr(eb.msg, cases[i].msg) == NULL || strstr(eb.msg, cases[i].id) == NULL) {
            fail_msg("case %zu: %s", i, eb.msg);
        }
        opc__file_entry e;
        assert_int_equal(opc__file_entry_parse(entry, false, &e, NULL), OPC_OK);
        uint8_t out[100];
        memset(out, 0, sizeof out);
        assert_int_equal(opc__files_read(cd.c, VAULT, ITEM, &e, out, NULL), OPC_ERR_DECRYPT);
        opc__file_entry_wipe(&e);
        cJSON_Delete(entry);
    }
    free(data);
    cache_drop(&cd);
}

/* Without sha256, a tampered chunk 3 is found when it is opened: chunks 0-2
 * are out, chunk 3's bytes never are. */
static void test_api_files_stream_cut_short_without_hash(void **state)
{
    (void)state;
    cache_dir cd;
    cache_make(&cd);
    size_t size = 100;
    uint8_t *data = pattern(size);
    cJSON *entry = put_file(cd.c, "kkkkkkkkkkkkkkkkkkkkkkkkkk", data, size, 16,
                            (put_opts){NULL, -1, 3, false});
    sink s = {0};
    bool started = false;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(stream(cd.c, entry, &s, &started, NULL, &eb), OPC_ERR_DECRYPT);
    assert_true(started);
    assert_non_null(strstr(eb.msg, "chunk 3 does not decrypt"));
    assert_int_equal(s.writes, 3);
    assert_int_equal(s.len, strlen(HEAD) + 3 * 16);
    assert_memory_equal(s.data + strlen(HEAD), data, 3 * 16);
    free(s.data);
    cJSON_Delete(entry);
    /* Chunk 0 tampered: nothing at all goes out. */
    memset(&s, 0, sizeof s);
    entry = put_file(cd.c, "llllllllllllllllllllllllll", data, size, 16,
                     (put_opts){NULL, -1, 0, false});
    assert_int_equal(stream(cd.c, entry, &s, &started, NULL, &eb), OPC_ERR_DECRYPT);
    assert_false(started);
    assert_int_equal(s.writes, 0);
    cJSON_Delete(entry);
    free(data);
    cache_drop(&cd);
}

static void test_api_files_stream_client_gone(void **state)
{
    (void)state;
    cache_dir cd;
    cache_make(&cd);
    uint8_t *data = pattern(100);
    cJSON *entry =
        put_file(cd.c, "mmmmmmmmmmmmmmmmmmmmmmmmmm", data, 100, 16, (put_opts){NULL, -1, -1, true});
    sink s = {0};
    s.fail_at = 2;
    bool started = false;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(stream(cd.c, entry, &s, &started, NULL, &eb), OPC_ERR_IO);
    assert_true(started);
    assert_int_equal(s.writes, 2);
    assert_non_null(strstr(eb.msg, "stopped reading"));
    free(s.data);
    cJSON_Delete(entry);
    free(data);
    cache_drop(&cd);
}

/* 4 MiB in 64 KiB chunks: the scratch buffer never holds more than one chunk
 * and the head. */
static void test_api_files_stream_memory_is_one_chunk(void **state)
{
    (void)state;
    cache_dir cd;
    cache_make(&cd);
    size_t size = (size_t)4 * 1024 * 1024 + 5;
    uint8_t *data = pattern(size);
    cJSON *entry = put_file(cd.c, "oooooooooooooooooooooooooo", data, size, OPC_FILE_CHUNK_SIZE,
                            (put_opts){NULL, -1, -1, true});
    sink s = {0};
    bool started = false;
    size_t cap = 0;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(stream(cd.c, entry, &s, &started, &cap, &eb), OPC_OK);
    assert_int_equal(s.writes, 65);
    assert_int_equal(s.len, strlen(HEAD) + size);
    assert_memory_equal(s.data + strlen(HEAD), data, size);
    if (cap > 2 * (OPC_FILE_CHUNK_SIZE + strlen(HEAD) + 1)) {
        fail_msg("scratch grew to %zu bytes", cap);
    }
    free(s.data);
    cJSON_Delete(entry);
    free(data);
    cache_drop(&cd);
}

/* ---- the setter ---- */

static void test_api_files_max_inline_setter(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 0);
    opc_api *api = NULL;
    assert_int_equal(opc_api_create(x.creds, x.cache_path, &api, NULL, 0), OPC_OK);
    assert_int_equal(opc_api_set_max_inline_file_kb(api, -1), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_api_set_max_inline_file_kb(api, OPC_API_MAX_INLINE_FILE_KB + 1),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_api_set_max_inline_file_kb(api, 0), OPC_OK);
    assert_int_equal(opc_api_set_max_inline_file_kb(api, OPC_API_MAX_INLINE_FILE_KB), OPC_OK);
    assert_int_equal(opc_api_set_max_inline_file_kb(NULL, 1), OPC_ERR_INVALID_ARG);
    opc_api_free(api);
    sx_teardown(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_files_inline_wanted),
        cmocka_unit_test(test_api_files_inline_fits),
        cmocka_unit_test(test_api_files_disposition_cases),
        cmocka_unit_test(test_api_files_disposition_any_name),
        cmocka_unit_test(test_api_files_stream_verified),
        cmocka_unit_test(test_api_files_stream_not_synced),
        cmocka_unit_test(test_api_files_stream_refuses_before_headers),
        cmocka_unit_test(test_api_files_stream_cut_short_without_hash),
        cmocka_unit_test(test_api_files_stream_client_gone),
        cmocka_unit_test(test_api_files_stream_memory_is_one_chunk),
        cmocka_unit_test(test_api_files_max_inline_setter),
    };
    return cmocka_run_group_tests_name("api_files", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
