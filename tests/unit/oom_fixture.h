/*
 * tests/unit/oom_fixture.h - allocation-failure injection for the unit
 * tests (test_oom.c, test_account_vault_rows.c): the library's allocator
 * (installed by oom_setup as the group set-up) makes the allocation
 * numbered fail_at fail, counting in alloc_no and injected. A run sets
 * fail_at = k, alloc_no = 0 and injected = 0, runs, and puts fail_at back to
 * 0 (never fail); injected 0 means k exceeded the run's allocations. Blocks
 * go through cmocka's allocator, so every run's leaks are checked.
 */
#ifndef OPC_TEST_OOM_FIXTURE_H
#define OPC_TEST_OOM_FIXTURE_H

#include "harness.h"

static long fail_at;  /* fail the allocation with this number; 0 = never */
static long alloc_no; /* allocations so far in this run */
static long injected; /* failures injected in this run */

static void *oom_malloc(size_t n)
{
    if (fail_at != 0 && ++alloc_no == fail_at) {
        injected++;
        return NULL;
    }
    return test_malloc(n);
}

static void *oom_realloc(void *p, size_t n)
{
    if (fail_at != 0 && ++alloc_no == fail_at) {
        injected++;
        return NULL;
    }
    return test_realloc(p, n);
}

static void oom_free(void *p)
{
    test_free(p);
}

static OPC_TEST_UNUSED int oom_setup(void **state)
{
    (void)state;
    return opc_global_init_mem(OPC_GLOBAL_DEFAULT, oom_malloc, oom_realloc, oom_free) == OPC_OK
               ? 0
               : -1;
}

#endif
