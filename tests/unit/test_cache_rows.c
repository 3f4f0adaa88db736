/*
 * tests/unit/test_cache_rows.c - the cache's table-driven getters and
 * walkers (cache/cache.c): each row type read back whole by its getter and
 * its walker (their allocation failures: test_oom.c), and the bound on a
 * reader's page cache.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include "harness.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "cache/cache.h"

#define VAULT "vvvvvvvvvvvvvvvvvvvvvvvvvv"
#define ITEM "iiiiiiiiiiiiiiiiiiiiiiiiii"
#define FILE_ID "ffffffffffffffffffffffffff"
#define JTI "tttttttttttttttttttttttttt"
#define SERVER "ssssssssssssssssssssssssss"

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

typedef struct fx {
    char dir[64];
    char path[128];
    opc__cache *c;
} fx;

/* A cache holding one row of each table. */
static void fx_open(fx *f)
{
    memset(f, 0, sizeof *f);
    opc_test_mkdtemp(f->dir, sizeof f->dir, "opc-cache-rows", "cache.sqlite", f->path,
                     sizeof f->path);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__cache_open(f->path, OPC_CACHE_CREATE, &f->c, &eb), OPC_OK);
    /* The row structs hold char *: the values live in arrays. */
    char jwk[] = "{\"kty\":\"EC\"}", enc[] = "enc", sig[] = "sig", type[] = "USER_CREATED";
    char attrs[] = "attrs", active[] = "active", ov[] = "ov", det[] = "det", name[] = "tok";
    char scopes[] = "[]";
    opc__cache_issuer_key k = {.kid = "kid1", .jwk = jwk, .seq = 1};
    assert_int_equal(opc__cache_issuer_key_put(f->c, &k, &eb), OPC_OK);
    opc__cache_access a = {.vault = VAULT,
                           .key_sn = 2,
                           .enc_key = enc,
                           .acl = 3,
                           .granted = 4,
                           .grant_sig = sig,
                           .seq = 5};
    assert_int_equal(opc__cache_access_put(f->c, &a, &eb), OPC_OK);
    opc__cache_vault v = {.id = VAULT,
                          .type = type,
                          .key_sn = 2,
                          .attrs = attrs,
                          .attr_version = 6,
                          .content_version = 7,
                          .items = 1,
                          .created = 8,
                          .updated = 9,
                          .seq = 10};
    assert_int_equal(opc__cache_vault_put(f->c, &v, NULL, &eb), OPC_OK);
    opc__cache_item it = {.id = ITEM,
                          .vault = VAULT,
                          .version = 11,
                          .state = active,
                          .key_sn = 2,
                          .overview = ov,
                          .details = det,
                          .created = 12,
                          .updated = 13,
                          .last_edited_by = SERVER,
                          .seq = 14};
    assert_int_equal(opc__cache_item_put(f->c, &it, NULL, &eb), OPC_OK);
    opc__cache_chunk ch = {.file = FILE_ID, .item = ITEM, .vault = VAULT, .idx = 0};
    ch.blob = "chunk";
    ch.len = 5;
    assert_int_equal(opc__cache_chunk_put(f->c, &ch, &eb), OPC_OK);
    opc__cache_token t = {.jti = JTI,
                          .server = SERVER,
                          .name = name,
                          .scopes = scopes,
                          .created = 15,
                          .expires = 16,
                          .state = active,
                          .updated = 17,
                          .seq = 18};
    assert_int_equal(opc__cache_token_put(f->c, &t, &eb), OPC_OK);
}

static void fx_close(fx *f)
{
    opc__cache_close(f->c);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_cache_rows_read_back(void **state)
{
    (void)state;
    fx f;
    fx_open(&f);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__cache_issuer_key k;
    assert_int_equal(opc__cache_issuer_key_get(f.c, "kid1", &k, &eb), OPC_OK);
    assert_string_equal(k.jwk, "{\"kty\":\"EC\"}");
    assert_int_equal(k.seq, 1);
    opc__cache_issuer_key_clear(&k);
    opc__cache_access a;
    assert_int_equal(opc__cache_access_get(f.c, VAULT, &a, &eb), OPC_OK);
    assert_string_equal(a.enc_key, "enc");
    assert_string_equal(a.grant_sig, "sig");
    assert_int_equal(a.acl + a.granted + a.seq, 3 + 4 + 5);
    opc__cache_access_clear(&a);
    opc__cache_vault v;
    assert_int_equal(opc__cache_vault_get(f.c, VAULT, &v, &eb), OPC_OK);
    assert_string_equal(v.type, "USER_CREATED");
    assert_string_equal(v.attrs, "attrs");
    assert_int_equal(v.content_version, 7);
    assert_int_equal(v.seq, 10);
    opc__cache_vault_clear(&v);
    opc__cache_item it;
    assert_int_equal(opc__cache_item_get(f.c, VAULT, ITEM, &it, &eb), OPC_OK);
    assert_string_equal(it.state, "active");
    assert_string_equal(it.overview, "ov");
    assert_string_equal(it.details, "det");
    assert_string_equal(it.last_edited_by, SERVER);
    assert_int_equal(it.version, 11);
    opc__cache_item_clear(&it);
    assert_null(it.overview);
    opc__cache_token t;
    assert_int_equal(opc__cache_token_get(f.c, JTI, &t, &eb), OPC_OK);
    assert_string_equal(t.name, "tok");
    assert_string_equal(t.scopes, "[]");
    assert_string_equal(t.server, SERVER);
    assert_int_equal(t.expires, 16);
    opc__cache_token_clear(&t);
    /* Missing rows name their table. */
    assert_int_equal(opc__cache_vault_get(f.c, "aaaaaaaaaaaaaaaaaaaaaaaaaa", &v, &eb),
                     OPC_ERR_NOT_FOUND);
    assert_string_equal(eb.msg, "cache: no such vault");
    assert_int_equal(opc__cache_token_get(f.c, "aaaaaaaaaaaaaaaaaaaaaaaaaa", &t, &eb),
                     OPC_ERR_NOT_FOUND);
    assert_string_equal(eb.msg, "cache: no such token");
    /* Clearing NULL is a no-op. */
    opc__cache_item_clear(NULL);
    fx_close(&f);
}

/* Walker callbacks: count the rows and check one member of each. */
static opc_err saw_key(const opc__cache_issuer_key *k, void *ud)
{
    *(int *)ud += strcmp(k->jwk, "{\"kty\":\"EC\"}") == 0 ? 1 : 100;
    return OPC_OK;
}

static opc_err saw_access(const opc__cache_access *a, void *ud)
{
    *(int *)ud += strcmp(a->grant_sig, "sig") == 0 ? 1 : 100;
    return OPC_OK;
}

static opc_err saw_vault(const opc__cache_vault *v, void *ud)
{
    *(int *)ud += strcmp(v->attrs, "attrs") == 0 ? 1 : 100;
    return OPC_OK;
}

static opc_err saw_item(const opc__cache_item *it, void *ud)
{
    *(int *)ud += strcmp(it->overview, "ov") == 0 ? 1 : 100;
    *(int *)ud += it->details == NULL ? 10 : 20;
    return OPC_OK;
}

static opc_err saw_chunk(const opc__cache_chunk *ch, void *ud)
{
    *(int *)ud += ch->len == 5 && memcmp(ch->blob, "chunk", 5) == 0 ? 1 : 100;
    return OPC_OK;
}

static opc_err saw_token(const opc__cache_token *t, void *ud)
{
    *(int *)ud += strcmp(t->scopes, "[]") == 0 ? 1 : 100;
    return OPC_OK;
}

static opc_err stop(const opc__cache_token *t, void *ud)
{
    (void)t;
    (void)ud;
    return OPC_ERR_CONFLICT;
}

static void test_cache_rows_walked(void **state)
{
    (void)state;
    fx f;
    fx_open(&f);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    int n = 0;
    assert_int_equal(opc__cache_issuer_keys_foreach(f.c, saw_key, &n, &eb), OPC_OK);
    assert_int_equal(opc__cache_access_foreach(f.c, saw_access, &n, &eb), OPC_OK);
    assert_int_equal(opc__cache_vaults_foreach(f.c, saw_vault, &n, &eb), OPC_OK);
    assert_int_equal(opc__cache_file_chunks(f.c, FILE_ID, saw_chunk, &n, &eb), OPC_OK);
    assert_int_equal(opc__cache_tokens_foreach(f.c, saw_token, &n, &eb), OPC_OK);
    assert_int_equal(n, 5);
    n = 0;
    assert_int_equal(opc__cache_items_foreach(f.c, VAULT, false, saw_item, &n, &eb), OPC_OK);
    assert_int_equal(n, 11);
    n = 0;
    assert_int_equal(opc__cache_items_foreach(f.c, VAULT, true, saw_item, &n, &eb), OPC_OK);
    assert_int_equal(n, 21);
    /* The callback's error ends the walk and is returned. */
    assert_int_equal(opc__cache_tokens_foreach(f.c, stop, NULL, &eb), OPC_ERR_CONFLICT);
    assert_int_equal(opc__cache_tokens_foreach(f.c, NULL, NULL, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__cache_items_foreach(f.c, "bad", false, saw_item, &n, &eb),
                     OPC_ERR_INVALID_ARG);
    fx_close(&f);
}


/* ---- the change log ---- */

typedef struct seen {
    char ids[8][27];
    int n;
} seen;

static opc_err saw_changed(const opc__cache_item *it, void *ud)
{
    seen *s = ud;
    assert_true(s->n < 8);
    snprintf(s->ids[s->n++], 27, "%s", it->id);
    assert_null(it->details);
    return OPC_OK;
}

static opc_err saw_gone(const char *vault, const char *item, void *ud)
{
    seen *s = ud;
    assert_string_equal(vault, VAULT);
    assert_true(s->n < 8);
    snprintf(s->ids[s->n++], 27, "%s", item);
    return OPC_OK;
}

static int64_t change_seq(opc__cache *c)
{
    opc__cache_meta m;
    assert_int_equal(opc__cache_meta_get(c, &m, NULL), OPC_OK);
    return m.change_seq;
}

static void put_item(opc__cache *c, const char *id, int64_t version, bool *written)
{
    char active[] = "active", ov[] = "ov", det[] = "det";
    opc__cache_item it = {.vault = VAULT,
                          .version = version,
                          .state = active,
                          .key_sn = 2,
                          .overview = ov,
                          .details = det,
                          .last_edited_by = SERVER};
    snprintf(it.id, sizeof it.id, "%s", id);
    assert_int_equal(opc__cache_item_put(c, &it, written, NULL), OPC_OK);
}

static void test_cache_rows_change_log(void **state)
{
    (void)state;
    fx f;
    fx_open(&f);
    const char *other = "jjjjjjjjjjjjjjjjjjjjjjjjjj";
    int64_t base = change_seq(f.c);
    assert_int_equal(base, 1); /* the fixture's one item */
    seen s = {0};
    assert_int_equal(opc__cache_items_changed_foreach(f.c, 0, saw_changed, &s, NULL), OPC_OK);
    assert_int_equal(s.n, 1);
    /* A put takes a number, whatever its transaction; an older version none. */
    bool written = false;
    put_item(f.c, other, 1, &written);
    assert_true(written);
    assert_int_equal(change_seq(f.c), base + 1);
    put_item(f.c, ITEM, 10, &written); /* older than the cached 11 */
    assert_false(written);
    assert_int_equal(change_seq(f.c), base + 1);
    assert_int_equal(opc__cache_begin(f.c, true, NULL), OPC_OK);
    put_item(f.c, ITEM, 12, NULL);
    put_item(f.c, other, 2, NULL);
    assert_int_equal(opc__cache_commit(f.c, NULL), OPC_OK);
    assert_int_equal(change_seq(f.c), base + 3);
    memset(&s, 0, sizeof s);
    assert_int_equal(opc__cache_items_changed_foreach(f.c, base + 1, saw_changed, &s, NULL),
                     OPC_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], ITEM); /* in change order */
    assert_string_equal(s.ids[1], other);
    /* A delete leaves its id in gone; nothing changed since leaves nothing. */
    assert_int_equal(opc__cache_item_delete(f.c, other, NULL), OPC_OK);
    int64_t after_delete = change_seq(f.c);
    assert_int_equal(after_delete, base + 4);
    memset(&s, 0, sizeof s);
    assert_int_equal(opc__cache_gone_foreach(f.c, base + 3, saw_gone, &s, NULL), OPC_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ids[0], other);
    memset(&s, 0, sizeof s);
    assert_int_equal(opc__cache_gone_foreach(f.c, after_delete, saw_gone, &s, NULL), OPC_OK);
    assert_int_equal(opc__cache_items_changed_foreach(f.c, after_delete, saw_changed, &s, NULL),
                     OPC_OK);
    assert_int_equal(s.n, 0);
    /* Clearing a vault lists every id; the floor stays below the kept window. */
    assert_int_equal(opc__cache_vault_clear_items(f.c, VAULT, NULL), OPC_OK);
    memset(&s, 0, sizeof s);
    assert_int_equal(opc__cache_gone_foreach(f.c, after_delete, saw_gone, &s, NULL), OPC_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ids[0], ITEM);
    opc__cache_meta m;
    assert_int_equal(opc__cache_meta_get(f.c, &m, NULL), OPC_OK);
    assert_int_equal(m.gone_floor, 0);
    assert_int_equal(opc__cache_items_changed_foreach(f.c, -1, saw_changed, &s, NULL),
                     OPC_ERR_INVALID_ARG);
    fx_close(&f);
}

/* A cache of schema 1 is migrated by a writer: numbered from then on. */
static void test_cache_rows_migrates_v1(void **state)
{
    (void)state;
    fx f;
    fx_open(&f);
    opc__cache_close(f.c);
    f.c = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f.path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TRIGGER items_added; DROP TRIGGER items_changed;"
                                  "DROP TRIGGER items_gone; DROP TABLE gone;"
                                  "DROP INDEX items_lseq; ALTER TABLE items DROP COLUMN lseq;"
                                  "ALTER TABLE meta DROP COLUMN change_seq;"
                                  "ALTER TABLE meta DROP COLUMN gone_floor;"
                                  "ALTER TABLE issuer_keys DROP COLUMN mac;"
                                  "ALTER TABLE vault_access DROP COLUMN mac;"
                                  "ALTER TABLE tokens DROP COLUMN mac;"
                                  "ALTER TABLE meta DROP COLUMN seal;"
                                  "PRAGMA user_version = 1;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    /* A reader does not migrate; a writer does. */
    assert_int_equal(opc__cache_open(f.path, OPC_CACHE_READ, &f.c, &eb), OPC_ERR_NOT_FOUND);
    assert_int_equal(opc__cache_open(f.path, OPC_CACHE_WRITE, &f.c, &eb), OPC_OK);
    assert_int_equal(change_seq(f.c), 0);
    put_item(f.c, ITEM, 20, NULL);
    assert_int_equal(change_seq(f.c), 1);
    seen s = {0};
    assert_int_equal(opc__cache_items_changed_foreach(f.c, 0, saw_changed, &s, NULL), OPC_OK);
    assert_int_equal(s.n, 1);
    fx_close(&f);
}

static opc_err count_item(const opc__cache_item *it, void *ud)
{
    (void)it;
    (*(int *)ud)++;
    return OPC_OK;
}

/* SQLite's memory after one reader walked every item with its details. */
static int64_t walk_memory(const char *path, int page_cache_kib)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__cache *r = NULL;
    assert_int_equal(opc__cache_open(path, OPC_CACHE_READ, &r, &eb), OPC_OK);
    if (page_cache_kib > 0) {
        assert_int_equal(opc__cache_set_page_cache_kib(r, page_cache_kib, &eb), OPC_OK);
    }
    int64_t before = (int64_t)sqlite3_memory_used();
    int n = 0;
    assert_int_equal(opc__cache_items_foreach(r, VAULT, true, count_item, &n, &eb), OPC_OK);
    assert_int_equal(n, 401); /* the fixture's item and 400 more */
    int64_t used = (int64_t)sqlite3_memory_used() - before;
    opc__cache_close(r);
    return used;
}

/* A handle's page cache stays within its limit (connect-api keeps up to
 * OPC_INDEX_MAX_IDLE_HANDLES of them); SQLite's default keeps ~2 MB. */
static void test_cache_rows_page_cache_bounded(void **state)
{
    (void)state;
    fx f;
    fx_open(&f);
    char active[] = "active", ov[] = "ov";
    static char det[8192];
    memset(det, 'd', sizeof det - 1);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__cache_begin(f.c, true, &eb), OPC_OK);
    for (int i = 0; i < 400; i++) {
        opc__cache_item it = {.vault = VAULT,
                              .version = 1,
                              .state = active,
                              .key_sn = 2,
                              .overview = ov,
                              .details = det,
                              .last_edited_by = SERVER};
        memset(it.id, 'a', OPC_ID_LEN); /* ids are 26 letters: i in base 26 */
        for (int k = 0, x = i; k < 3; k++, x /= 26) {
            it.id[OPC_ID_LEN - 1 - k] = (char)('a' + x % 26);
        }
        it.id[OPC_ID_LEN] = '\0';
        assert_int_equal(opc__cache_item_put(f.c, &it, NULL, &eb), OPC_OK);
    }
    assert_int_equal(opc__cache_commit(f.c, &eb), OPC_OK);
    /* 3.2 MB of rows: the default cache keeps about its 2000 KiB. */
    int64_t dflt = walk_memory(f.path, 0);
    int64_t small = walk_memory(f.path, 64);
    assert_true(dflt > 1024 * 1024);
    assert_true(small < 256 * 1024);
    assert_int_equal(opc__cache_set_page_cache_kib(f.c, 0, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__cache_set_page_cache_kib(f.c, 1048577, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__cache_set_page_cache_kib(NULL, 64, &eb), OPC_ERR_INVALID_ARG);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_rows_read_back),
        cmocka_unit_test(test_cache_rows_walked),
        cmocka_unit_test(test_cache_rows_change_log),
        cmocka_unit_test(test_cache_rows_migrates_v1),
        cmocka_unit_test(test_cache_rows_page_cache_bounded),
    };
    return cmocka_run_group_tests_name("cache_rows", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
