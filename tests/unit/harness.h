/*
 * tests/unit/harness.h - shared fixture for the cmocka unit tests.
 *
 * Every test program runs its group with opc_test_group_setup/teardown:
 * the library is initialized with cmocka's test_malloc/test_realloc/
 * test_free as allocator hooks, so cmocka reports any block the library
 * leaks in a test. Helpers read test-vector files and decode hex.
 */
#ifndef OPC_TEST_HARNESS_H
#define OPC_TEST_HARNESS_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <opconnect/opconnect.h>

#ifndef OPC_TEST_VECTOR_DIR
#define OPC_TEST_VECTOR_DIR "tests/vectors"
#endif

#define OPC_TEST_UNUSED __attribute__((unused))

static void *opc_test_malloc(size_t n)
{
    return test_malloc(n);
}

static void *opc_test_realloc(void *p, size_t n)
{
    return test_realloc(p, n);
}

static void opc_test_free(void *p)
{
    test_free(p);
}

static OPC_TEST_UNUSED int opc_test_group_setup(void **state)
{
    (void)state;
    if (opc_global_init_mem(OPC_GLOBAL_DEFAULT, opc_test_malloc, opc_test_realloc,
                            opc_test_free) != OPC_OK) {
        return -1;
    }
    return 0;
}

static OPC_TEST_UNUSED int opc_test_group_teardown(void **state)
{
    (void)state;
    opc_global_cleanup();
    return 0;
}

/*
 * A new empty directory /tmp/<prefix>-XXXXXX (mkdtemp), its name in
 * dir[dir_cap], and path[path_cap] = dir/rel.
 */
static OPC_TEST_UNUSED void opc_test_mkdtemp(char *dir, size_t dir_cap, const char *prefix,
                                             const char *rel, char *path, size_t path_cap)
{
    int n = snprintf(dir, dir_cap, "/tmp/%s-XXXXXX", prefix);
    assert_true(n > 0 && (size_t)n < dir_cap);
    assert_non_null(mkdtemp(dir));
    n = snprintf(path, path_cap, "%s/%s", dir, rel);
    assert_true(n > 0 && (size_t)n < path_cap);
}

/* Read a whole file (relative to the vector dir) with plain malloc; NUL-terminated. */
static OPC_TEST_UNUSED char *opc_test_read_vector(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", OPC_TEST_VECTOR_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open test vector %s", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL) {
        *len = n;
    }
    return buf;
}

static OPC_TEST_UNUSED int opc_test_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode hex into a plain-malloc'ed buffer (never NULL, even for ""). */
static OPC_TEST_UNUSED unsigned char *opc_test_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    assert_true(n % 2 == 0);
    unsigned char *out = malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = opc_test_hexval(hex[2 * i]);
        int lo = opc_test_hexval(hex[2 * i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

#endif
