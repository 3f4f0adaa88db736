/*
 * tests/unit/test_core_file.c - whole-file writes (core/file.h): the
 * atomic replace, and the new file that is never replaced (the account
 * server's key, made by whichever of several instances comes first).
 */
#include "harness.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"

/* The number of entries of dir (temporaries left behind would show). */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

static void read_is(const char *path, const char *want)
{
    char *text = NULL;
    size_t len = 0;
    opc__ebuf eb;
    assert_int_equal(opc__file_read(path, 1024, &text, &len, &eb), OPC_OK);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(text, want, len);
    opc_free(text);
}

static void test_write_new_and_atomic(void **state)
{
    (void)state;
    char dir[64];
    char path[128];
    opc_test_mkdtemp(dir, sizeof dir, "opc-file", "key", path, sizeof path);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);

    /* A new file: written whole, mode 0600, nothing else left. */
    assert_int_equal(opc__file_write_new(dir, path, "first", 5, &eb), OPC_OK);
    read_is(path, "first");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(entries(dir), 1);

    /* Never over an existing one: EXISTS, the first kept, no temporary left. */
    assert_int_equal(opc__file_write_new(dir, path, "second", 6, &eb), OPC_ERR_EXISTS);
    assert_non_null(strstr(eb.msg, "already exists"));
    read_is(path, "first");
    assert_int_equal(entries(dir), 1);

    /* The atomic write replaces. */
    assert_int_equal(opc__file_write_atomic(dir, path, "third", 5, &eb), OPC_OK);
    read_is(path, "third");
    assert_int_equal(entries(dir), 1);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_new_and_atomic),
    };
    return cmocka_run_group_tests_name("core_file", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
