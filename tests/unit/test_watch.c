/*
 * tests/unit/test_watch.c - core/watch: a write to a watched file ends the
 * wait, other files of the directory do not, a wake-up ends it from another
 * thread, the waits after a change are short, and a directory that appears
 * later is watched from then on.
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/time.h"
#include "core/watch.h"

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
}

static void test_watch_sees_its_files_only(void **state)
{
    (void)state;
    char dir[128];
    char path[192];
    opc_test_mkdtemp(dir, sizeof dir, "opc-watch", "db.sqlite", path, sizeof path);
    opc__watch *w = NULL;
    assert_int_equal(opc__watch_open(path, &w), OPC_OK);
    assert_int_equal(opc__watch_wait(w, 0), OPC_WATCH_TIMEOUT); /* adds the watch */
    assert_true(opc__watch_active(w));
    char other[256];
    snprintf(other, sizeof other, "%s/unrelated", dir);
    touch(other);
    assert_int_equal(opc__watch_wait(w, 20), OPC_WATCH_TIMEOUT);
    char wal[256];
    snprintf(wal, sizeof wal, "%s-wal", path);
    touch(wal);
    int64_t t0 = opc__monotonic_ms();
    assert_int_equal(opc__watch_wait(w, 5000), OPC_WATCH_CHANGED);
    assert_true(opc__monotonic_ms() - t0 < 1000);
    /* After a change the waits are short (1, 2, 5, 10 ms), then as asked. */
    t0 = opc__monotonic_ms();
    for (int i = 0; i < 4; i++) {
        assert_int_equal(opc__watch_wait(w, 5000), OPC_WATCH_TIMEOUT);
    }
    assert_true(opc__monotonic_ms() - t0 < 1000);
    t0 = opc__monotonic_ms();
    assert_int_equal(opc__watch_wait(w, 50), OPC_WATCH_TIMEOUT);
    assert_true(opc__monotonic_ms() - t0 >= 45);
    opc__watch_close(w);
    unlink(wal);
    unlink(other);
    rmdir(dir);
}

static void *waker(void *arg)
{
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    opc__watch_wake(arg);
    return NULL;
}

static void test_watch_wakes_and_follows_a_new_directory(void **state)
{
    (void)state;
    char dir[128];
    char path[192];
    opc_test_mkdtemp(dir, sizeof dir, "opc-watch", "later/db.sqlite", path, sizeof path);
    opc__watch *w = NULL;
    assert_int_equal(opc__watch_open(path, &w), OPC_OK);
    /* The directory does not exist: the wait only times out. */
    assert_int_equal(opc__watch_wait(w, 10), OPC_WATCH_TIMEOUT);
    assert_false(opc__watch_active(w));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, waker, w), 0);
    int64_t t0 = opc__monotonic_ms();
    assert_int_equal(opc__watch_wait(w, 5000), OPC_WATCH_WOKEN);
    assert_true(opc__monotonic_ms() - t0 < 2000);
    pthread_join(t, NULL);
    char sub[192];
    snprintf(sub, sizeof sub, "%s/later", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(opc__watch_wait(w, 0), OPC_WATCH_TIMEOUT);
    assert_true(opc__watch_active(w));
    touch(path);
    assert_int_equal(opc__watch_wait(w, 5000), OPC_WATCH_CHANGED);
    opc__watch_close(w);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
    opc__watch *bad = NULL;
    assert_int_equal(opc__watch_open("", &bad), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__watch_open("/", &bad), OPC_ERR_INVALID_ARG);
    assert_null(bad);
}

/* "dir/" watches every file of dir (the account server's accounts/). */
static void test_watch_whole_directory(void **state)
{
    (void)state;
    char dir[128];
    char path[192];
    opc_test_mkdtemp(dir, sizeof dir, "opc-watch", "any.db", path, sizeof path);
    char all[160];
    snprintf(all, sizeof all, "%s/", dir);
    opc__watch *w = NULL;
    assert_int_equal(opc__watch_open(all, &w), OPC_OK);
    assert_int_equal(opc__watch_wait(w, 0), OPC_WATCH_TIMEOUT); /* adds the watch */
    assert_true(opc__watch_active(w));
    touch(path);
    assert_int_equal(opc__watch_wait(w, 5000), OPC_WATCH_CHANGED);
    opc__watch_close(w);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_sees_its_files_only),
        cmocka_unit_test(test_watch_wakes_and_follows_a_new_directory),
        cmocka_unit_test(test_watch_whole_directory),
    };
    return cmocka_run_group_tests_name("watch", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
