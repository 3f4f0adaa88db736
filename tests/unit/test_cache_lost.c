/*
 * tests/unit/test_cache_lost.c - the cache file lost while a handle is
 * open (issue 15 point 2; cache.h "The file under a running handle",
 * sync.h "The cache lost while running"): opc__cache_file_check tells a
 * file deleted, replaced, truncated or overwritten in place, and its
 * directory removed; opc__cache_damaged tells SQLite's SQLITE_CORRUPT on a
 * read; opc__cache_remove takes the side files too; a sync whose file is
 * deleted (its -wal and -shm left), replaced or damaged inside makes a new
 * one at its next step and syncs it from the start, the account's items
 * all there again.
 */
#include "sync_fixture.h"

#include <fcntl.h>
#include <unistd.h>

/* A file of n bytes of garbage written at path (created or overwritten in
 * place, offset off). */
static void scribble(const char *path, off_t off, size_t n, bool truncate)
{
    int fd = open(path, O_WRONLY | O_CREAT | (truncate ? O_TRUNC : 0), 0600);
    assert_true(fd >= 0);
    unsigned char buf[4096];
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (unsigned char)(i * 131u + 7u);
    }
    while (n > 0) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        assert_int_equal(pwrite(fd, buf, k, off), (ssize_t)k);
        off += (off_t)k;
        n -= k;
    }
    close(fd);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void side(char *out, size_t cap, const char *path, const char *suffix)
{
    snprintf(out, cap, "%s%s", path, suffix);
}

/* A cache with a committed row, the handle kept open (WAL: -wal, -shm). */
static opc__cache *made(const char *path)
{
    opc__cache *c = NULL;
    opc__ebuf eb;
    assert_int_equal(opc__cache_open(path, OPC_CACHE_CREATE, &c, &eb), OPC_OK);
    assert_int_equal(opc__cache_begin(c, true, &eb), OPC_OK);
    assert_int_equal(opc__cache_set_cursor(c, 7, &eb), OPC_OK);
    assert_int_equal(opc__cache_commit(c, &eb), OPC_OK);
    return c;
}

static void test_file_check(void **state)
{
    (void)state;
    char dir[64];
    char path[256];
    opc_test_mkdtemp(dir, sizeof dir, "opc-cache-lost", "data/1password.sqlite", path, sizeof path);
    char wal[300];
    char shm[300];
    side(wal, sizeof wal, path, "-wal");
    side(shm, sizeof shm, path, "-shm");
    opc__ebuf eb;

    /* Whole: OK, not moved; a reader sees the same. */
    opc__cache *c = made(path);
    opc__cache *r = NULL;
    assert_int_equal(opc__cache_open(path, OPC_CACHE_READ, &r, &eb), OPC_OK);
    assert_int_equal(opc__cache_file_check(c, &eb), OPC_OK);
    assert_int_equal(opc__cache_file_check(r, &eb), OPC_OK);
    assert_false(opc__cache_moved(c));
    assert_false(opc__cache_damaged(c));

    /* Deleted (the side files stay): NOT_FOUND, moved, for both. */
    assert_int_equal(unlink(path), 0);
    assert_true(exists(wal) && exists(shm));
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__cache_file_check(c, &eb), OPC_ERR_NOT_FOUND);
    assert_non_null(strstr(eb.msg, "was deleted"));
    assert_true(opc__cache_moved(c));
    assert_int_equal(opc__cache_file_check(r, NULL), OPC_ERR_NOT_FOUND);
    /* The handles still read the old file (why the check exists). */
    int64_t cur = 0;
    assert_int_equal(opc__cache_cursor(r, &cur, &eb), OPC_OK);
    assert_int_equal(cur, 7);

    /* Another file in its place (even a good SQLite file): replaced. */
    opc__cache *other = NULL;
    assert_int_equal(opc__cache_remove(path, &eb), OPC_OK);
    assert_false(exists(wal) || exists(shm));
    assert_int_equal(opc__cache_open(path, OPC_CACHE_CREATE, &other, &eb), OPC_OK);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__cache_file_check(c, &eb), OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "was replaced by another file"));
    assert_int_equal(opc__cache_file_check(other, &eb), OPC_OK);
    /* The old handles close without a checkpoint into the new file. */
    opc__cache_close_lost(c);
    opc__cache_close_lost(r);
    assert_int_equal(opc__cache_file_check(other, &eb), OPC_OK);
    assert_int_equal(opc__cache_cursor(other, &cur, &eb), OPC_OK);
    assert_int_equal(cur, 0);

    /* Overwritten in place (same inode): the header is gone. */
    scribble(path, 0, 8192, false);
    assert_false(opc__cache_moved(other));
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__cache_file_check(other, &eb), OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "was truncated or overwritten"));
    /* Truncated in place. */
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(opc__cache_file_check(other, NULL), OPC_ERR_PARSE);
    opc__cache_close_lost(other);

    /* The directory removed. */
    c = made(path);
    char data[300];
    snprintf(data, sizeof data, "%s/data", dir);
    assert_int_equal(opc__cache_remove(path, &eb), OPC_OK);
    assert_int_equal(rmdir(data), 0);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__cache_file_check(c, &eb), OPC_ERR_NOT_FOUND);
    assert_true(opc__cache_moved(c));
    /* Removing what is not there is fine; a missing directory too. */
    assert_int_equal(opc__cache_remove(path, &eb), OPC_OK);
    opc__cache_close_lost(c);
    assert_int_equal(opc__cache_remove(NULL, &eb), OPC_ERR_INVALID_ARG);
    nftw(dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* The root page of a table of the cache file, and the page size. */
static void root_page(const char *path, const char *table, int64_t *page, int64_t *size)
{
    sqlite3 *db = open_ro(path);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT rootpage FROM sqlite_schema WHERE name = '%s'", table);
    *page = fx_count(db, sql);
    *size = fx_count(db, "PRAGMA page_size");
    sqlite3_close(db);
    assert_true(*page > 1 && *size >= 512);
}

static void test_damaged_on_read(void **state)
{
    (void)state;
    char dir[64];
    char path[256];
    opc_test_mkdtemp(dir, sizeof dir, "opc-cache-lost", "1password.sqlite", path, sizeof path);
    opc__ebuf eb;
    opc__cache *c = made(path);
    opc__cache_close(c); /* checkpointed: every page in the file itself */
    int64_t page = 0;
    int64_t size = 0;
    root_page(path, "meta", &page, &size);
    scribble(path, (off_t)((page - 1) * size), (size_t)size, false);
    assert_int_equal(opc__cache_open(path, OPC_CACHE_READ, &c, &eb), OPC_OK);
    /* The header is whole: only a read of the page tells. */
    assert_int_equal(opc__cache_file_check(c, &eb), OPC_OK);
    assert_false(opc__cache_damaged(c));
    opc__cache_meta m;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__cache_meta_get(c, &m, &eb), OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "corrupt"));
    assert_true(opc__cache_damaged(c));
    opc__cache_close_lost(c);
    assert_false(opc__cache_damaged(NULL));
    nftw(dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* The sync's health: whether it is rebuilding, and how the cache was lost. */
static void health(opc_sync *s, opc__sync_health *h)
{
    const char *up = NULL;
    opc__sync_health_get(s, h, &up);
}

/* The file deleted under a synced cache (-wal and -shm left at the path):
 * the next step makes a new one, which syncs to the account again. */
static void test_sync_rebuilds_a_deleted_cache(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 12);
    opc_sync *s = sx_sync(&x, 2);
    sx_run(s);
    int n = sx_compare(&x, x.v1);
    assert_int_equal(n, 12);
    assert_int_equal(unlink(x.cache_path), 0);
    /* A change meanwhile comes with the rebuild. */
    fx_item(x.f.a, x.v1, "{\"title\":\"meanwhile\",\"category\":\"LOGIN\"}", NULL);
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_OK);
    opc__sync_health h;
    health(s, &h);
    assert_true(h.cache_open);
    assert_non_null(strstr(h.lost, "was deleted"));
    assert_true(exists(x.cache_path));
    opc__cache_meta m;
    assert_int_equal(opc__cache_meta_get(opc__sync_cache(s), &m, NULL), OPC_OK);
    assert_string_equal(m.server_id, x.server);
    /* Pages of 2 (8 while initial): the new file's first step cannot be its last. */
    assert_true(h.rebuilding);
    assert_false(h.initial);
    sx_run(s);
    health(s, &h);
    assert_false(h.rebuilding);
    assert_true(h.initial);
    assert_int_equal(sx_compare(&x, x.v1), 13);
    opc_sync_free(s);
    sx_teardown(&x);
}

/* Replaced by garbage, then damaged inside: each time a new file. */
static void test_sync_rebuilds_a_replaced_or_damaged_cache(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 4);
    opc_sync *s = sx_sync(&x, 50);
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), 4);
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", x.cache_path);
    scribble(tmp, 0, 65536, true);
    assert_int_equal(rename(tmp, x.cache_path), 0);
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_OK);
    opc__sync_health h;
    health(s, &h);
    assert_non_null(strstr(h.lost, "was replaced by another file"));
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), 4);
    health(s, &h);
    assert_false(h.rebuilding);

    /* Damage inside, the header whole: the items table's root page. The
     * page is read once the sync's page cache is stale (another handle
     * committed) and an item changes upstream. */
    opc__ebuf eb;
    opc__cache *w = NULL;
    assert_int_equal(opc__cache_open(x.cache_path, OPC_CACHE_WRITE, &w, &eb), OPC_OK);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(x.cache_path, &db), SQLITE_OK);
    fx_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_close(db);
    int64_t page = 0;
    int64_t size = 0;
    root_page(x.cache_path, "items", &page, &size);
    scribble(x.cache_path, (off_t)((page - 1) * size), (size_t)size, false);
    assert_int_equal(opc__cache_begin(w, true, &eb), OPC_OK);
    assert_int_equal(opc__cache_health_success(w, 1, &eb), OPC_OK);
    assert_int_equal(opc__cache_commit(w, &eb), OPC_OK);
    opc__cache_close_lost(w);
    fx_item(x.f.a, x.v1, "{\"title\":\"after\",\"category\":\"LOGIN\"}", NULL);
    opc_err rc = opc_sync_run_once(s, err, sizeof err);
    assert_int_equal(rc, OPC_ERR_PARSE);
    health(s, &h);
    assert_non_null(strstr(h.lost, "is damaged"));
    assert_true(h.rebuilding);
    sx_run(s);
    assert_int_equal(sx_compare(&x, x.v1), 5);
    health(s, &h);
    assert_false(h.rebuilding);
    opc_sync_free(s);
    sx_teardown(&x);
}

/* No new file can be made (a plain file where the data directory was):
 * the step fails, the health says so, and a later step succeeds. */
static void test_sync_rebuild_retries(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 2);
    opc_sync *s = sx_sync(&x, 50);
    sx_run(s);
    char data[320];
    snprintf(data, sizeof data, "%s/data/.op/data", x.f.dir);
    assert_int_equal(opc__cache_remove(x.cache_path, NULL), OPC_OK);
    assert_int_equal(rmdir(data), 0);
    scribble(data, 0, 10, true);
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_ERR_IO); /* not fatal (run_loop) */
    opc__sync_health h;
    health(s, &h);
    assert_false(h.cache_open);
    assert_true(h.failures >= 1);
    assert_null(opc__sync_cache(s));
    assert_non_null(strstr(h.lost, "was deleted"));
    assert_true(h.last_error[0] != '\0');
    assert_int_equal(unlink(data), 0);
    sx_run(s);
    health(s, &h);
    assert_true(h.cache_open);
    assert_false(h.rebuilding);
    assert_int_equal(sx_compare(&x, x.v1), 2);
    opc_sync_free(s);
    sx_teardown(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_check),
        cmocka_unit_test(test_damaged_on_read),
        cmocka_unit_test(test_sync_rebuilds_a_deleted_cache),
        cmocka_unit_test(test_sync_rebuilds_a_replaced_or_damaged_cache),
        cmocka_unit_test(test_sync_rebuild_retries),
    };
    return cmocka_run_group_tests_name("cache_lost", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
