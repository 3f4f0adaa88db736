/*
 * tests/unit/test_rest_space.c - rest/space.h: when connect-api holds
 * item writes back because the cache's disk is full (a 503 before
 * anything goes upstream), and when it lets them go again: the free space
 * of the cache's file system, a write-through that met SQLITE_FULL, the
 * cache seen to change (connect-sync wrote), the probe after
 * OPC_SPACE_PROBE_MS.
 */
#include "harness.h"

#include <string.h>
#include <unistd.h>

#include "rest/space.h"

#define MIB (1024 * 1024)

/* Free space decides alone while nothing is marked. */
static void test_space_free_bytes(void **state)
{
    (void)state;
    opc__space s;
    memset(&s, 0, sizeof s);
    int64_t need = opc__space_need(16 * 1024);
    assert_true(need >= OPC_SPACE_RESERVE + 2 * 16 * 1024); /* the WAL, then the file */
    assert_true(opc__space_need(0) == OPC_SPACE_RESERVE);

    assert_int_equal(opc__space_check(&s, 1000, 5, 7, 100 * MIB, need), OPC_SPACE_WRITE);
    assert_false(opc__space_full(&s));
    /* A full file system: wait, and /health sees it. */
    assert_int_equal(opc__space_check(&s, 1001, 5, 7, 0, need), OPC_SPACE_WAIT);
    assert_true(opc__space_full(&s));
    assert_int_equal(opc__space_check(&s, 1002, 5, 7, need - 1, need), OPC_SPACE_WAIT);
    /* Room again: at once, no probe needed (nothing failed). */
    assert_int_equal(opc__space_check(&s, 1003, 5, 7, need, need), OPC_SPACE_WRITE);
    assert_false(opc__space_full(&s));
    /* Unknown free space is not judged. */
    assert_int_equal(opc__space_check(&s, 1004, 5, 7, -1, need), OPC_SPACE_WRITE);
}

/* A write-through met SQLITE_FULL: wait until the probe time, one probe,
 * then wait again until the next; a success clears. */
static void test_space_marked_probe(void **state)
{
    (void)state;
    opc__space s;
    memset(&s, 0, sizeof s);
    int64_t need = opc__space_need(100);
    opc__space_mark(&s, 10000, 5, 7);
    assert_true(opc__space_full(&s));
    /* statvfs says there is room (a quota it cannot see): still wait. */
    assert_int_equal(opc__space_check(&s, 10001, 5, 7, 100 * MIB, need), OPC_SPACE_WAIT);
    assert_int_equal(opc__space_check(&s, 10000 + OPC_SPACE_PROBE_MS - 1, 5, 7, -1, need),
                     OPC_SPACE_WAIT);
    assert_int_equal(opc__space_check(&s, 10000 + OPC_SPACE_PROBE_MS, 5, 7, -1, need),
                     OPC_SPACE_PROBE);
    /* One probe at a time: the next write waits for the probe's outcome
     * window again. */
    assert_int_equal(opc__space_check(&s, 10000 + OPC_SPACE_PROBE_MS + 1, 5, 7, -1, need),
                     OPC_SPACE_WAIT);
    assert_true(opc__space_full(&s));
    /* The probe's write-through failed again: marked anew, from now. */
    opc__space_mark(&s, 20000, 5, 7);
    assert_int_equal(opc__space_check(&s, 20000 + OPC_SPACE_PROBE_MS - 1, 5, 7, -1, need),
                     OPC_SPACE_WAIT);
    assert_int_equal(opc__space_check(&s, 20000 + OPC_SPACE_PROBE_MS, 5, 7, -1, need),
                     OPC_SPACE_PROBE);
    /* It succeeded: everything goes again. */
    opc__space_clear(&s);
    assert_false(opc__space_full(&s));
    assert_int_equal(opc__space_check(&s, 20000 + OPC_SPACE_PROBE_MS + 1, 5, 7, -1, need),
                     OPC_SPACE_WRITE);
    /* Even when marked, a full file system waits and never probes. */
    opc__space_mark(&s, 30000, 5, 7);
    assert_int_equal(opc__space_check(&s, 30000 + 10 * OPC_SPACE_PROBE_MS, 5, 7, 0, need),
                     OPC_SPACE_WAIT);
}

/* The cache changed (connect-sync wrote an item, or its health): writable. */
static void test_space_cache_changed(void **state)
{
    (void)state;
    opc__space s;
    memset(&s, 0, sizeof s);
    int64_t need = opc__space_need(100);
    opc__space_mark(&s, 1000, 5, 7);
    assert_int_equal(opc__space_check(&s, 1001, 6, 7, -1, need), OPC_SPACE_WRITE);
    assert_false(opc__space_full(&s));
    opc__space_mark(&s, 2000, 6, 7);
    assert_int_equal(opc__space_check(&s, 2001, 6, 7, -1, need), OPC_SPACE_WAIT);
    assert_int_equal(opc__space_check(&s, 2002, 6, 8, -1, need), OPC_SPACE_WRITE);
    assert_false(opc__space_full(&s));
}

/* statvfs of a real path; a missing one is unknown (-1). */
static void test_space_free_of_path(void **state)
{
    (void)state;
    assert_true(opc__space_free("/") >= 0);
    assert_int_equal(opc__space_free("/nonexistent-opc-space/x"), -1);
    assert_int_equal(opc__space_free(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_space_free_bytes),
        cmocka_unit_test(test_space_marked_probe),
        cmocka_unit_test(test_space_cache_changed),
        cmocka_unit_test(test_space_free_of_path),
    };
    return cmocka_run_group_tests_name("rest_space", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
