/*
 * tests/unit/test_api_slot.c - a worker's slot (rest/http.c): when one of
 * its connections closes, the stack pages below the current frame are given
 * back, so a worker that once served a deep request does not keep them
 * (docs/performance.md, "Memory under large lists").
 */
#define _DEFAULT_SOURCE /* mincore */

#include "harness.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rest/http.h"

#define DEPTH 48           /* frames of 4 KiB: about 192 KiB of stack touched */
#define WINDOW (DEPTH - 8) /* pages looked at, all within what DEPTH touched */

/* Touch DEPTH pages of stack, one frame each. */
static __attribute__((noinline)) int dig(int n)
{
    volatile char page[4096];
    page[0] = (char)n;
    page[sizeof page - 1] = (char)n;
    return n == 0 ? page[0] : dig(n - 1) + page[sizeof page - 1];
}

/* Resident pages of [lo, hi) (page-aligned). */
static size_t resident(uintptr_t lo, uintptr_t hi)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t n = (hi - lo) / pg;
    unsigned char *v = malloc(n);
    assert_non_null(v);
    assert_int_equal(mincore((void *)lo, hi - lo, v), 0);
    size_t r = 0;
    for (size_t i = 0; i < n; i++) {
        r += v[i] & 1;
    }
    free(v);
    return r;
}

typedef struct probe {
    size_t before, after, other_thread;
} probe;

static probe *g_probe;
static opc__api_slot *g_slot;

static void *worker(void *arg)
{
    (void)arg;
    g_slot = opc__api_slot_new();
    assert_non_null(g_slot);
    assert_true(g_slot->stack_lo != 0);
    (void)dig(DEPTH);
    volatile char here = 0;
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    /* The stack below this frame, less what the release keeps (from its
     * own frame, a little deeper: two pages of margin). */
    uintptr_t hi = (((uintptr_t)&here - OPC_HTTP_STACK_KEEP) & ~(pg - 1)) - 2 * pg;
    uintptr_t lo = hi - (uintptr_t)WINDOW * pg;
    assert_true(lo > g_slot->stack_lo);
    g_probe->before = resident(lo, hi);
    opc__api_slot_release(g_slot);
    g_probe->after = resident(lo, hi);
    /* Deep again, then released from another thread: not this stack. */
    (void)dig(DEPTH);
    g_probe->other_thread = resident(lo, hi);
    return NULL;
}

static void *other(void *arg)
{
    (void)arg;
    opc__api_slot_release(g_slot);
    return NULL;
}

static void test_api_slot_gives_stack_back(void **state)
{
    (void)state;
    probe p = {0};
    g_probe = &p;
    pthread_attr_t attr;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 1024 * 1024), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, &attr, worker, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    (void)pthread_attr_destroy(&attr);
    assert_int_equal(p.before, WINDOW);
    assert_int_equal(p.after, 0);
    assert_int_equal(p.other_thread, WINDOW);
    /* A release from a thread that is not the worker's touches nothing. */
    assert_int_equal(pthread_create(&t, NULL, other, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    opc__api_slot_free(g_slot);
    opc__api_slot_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_slot_gives_stack_back),
    };
    return cmocka_run_group_tests_name("api_slot", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
