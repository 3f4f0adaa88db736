/*
 * tests/unit/test_render.c - the rendered-item cache (view/render.h): hits
 * only for the same ids and version before valid_until, the byte budget
 * under random puts, a hot set that fits, replacement, CLOCK, budget 0,
 * allocation failures, threads, and opc_api_set_render_cache_bytes.
 */
#include "sync_fixture.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "rest/api.h"
#include "view/render.h"

#define V1 "aaaaaaaaaaaaaaaaaaaaaaaaaa"
#define V2 "bbbbbbbbbbbbbbbbbbbbbbbbbb"
#define I1 "cccccccccccccccccccccccccc"
#define I2 "dddddddddddddddddddddddddd"

static const char body1[] = "{\"id\":\"" I1 "\",\"fields\":[{\"value\":\"s3cret\"}]}";

/* Look up and compare with want (NULL: expect a miss). */
static void expect(opc__render *r, const char *v, const char *i, int64_t ver, int64_t now,
                   const char *want)
{
    opc__buf b;
    opc__buf_init(&b, true);
    opc__buf_append_str(&b, "prefix|");
    bool hit = opc__render_get(r, v, i, ver, now, &b);
    if (want == NULL) {
        assert_false(hit);
        assert_string_equal(b.data, "prefix|"); /* untouched on a miss */
    } else {
        assert_true(hit);
        assert_int_equal(b.len, strlen("prefix|") + strlen(want));
        assert_string_equal(b.data + strlen("prefix|"), want);
    }
    opc__buf_free(&b);
}

static void test_render_hit_needs_same_ids_and_version(void **state)
{
    (void)state;
    opc__render *r = NULL;
    assert_int_equal(opc__render_create(64 * 1024, 1024, &r), OPC_OK);
    expect(r, V1, I1, 1, 100, NULL);
    opc__render_put(r, V1, I1, 1, INT64_MAX, body1, strlen(body1));
    expect(r, V1, I1, 1, 100, body1);
    expect(r, V1, I1, 1, 100, body1); /* repeatable */
    expect(r, V1, I1, 2, 100, NULL);  /* edited: the index has version 2 */
    expect(r, V2, I1, 1, 100, NULL);  /* same item id, other vault */
    expect(r, V1, I2, 1, 100, NULL);
    /* A newer render replaces the entry. */
    opc__render_put(r, V1, I1, 2, INT64_MAX, "{\"v\":2}", 7);
    expect(r, V1, I1, 2, 100, "{\"v\":2}");
    expect(r, V1, I1, 1, 100, NULL);
    uint64_t hits = 0;
    uint64_t misses = 0;
    opc__render_stats(r, &hits, &misses);
    assert_int_equal(hits, 3);
    assert_int_equal(misses, 5);
    opc__render_free(r);
}

static void test_render_expires_at_valid_until(void **state)
{
    (void)state;
    opc__render *r = NULL;
    assert_int_equal(opc__render_create(64 * 1024, 1024, &r), OPC_OK);
    /* An item with a 30 s OTP rendered at 59: its code changes at 60. */
    opc__render_put(r, V1, I1, 3, 60, body1, strlen(body1));
    expect(r, V1, I1, 3, 59, body1);
    expect(r, V1, I1, 3, 60, NULL);
    expect(r, V1, I1, 3, 61, NULL);
    opc__render_free(r);
}

static void test_render_bounds_and_clear(void **state)
{
    (void)state;
    opc__render *r = NULL;
    assert_int_equal(opc__render_create(OPC_RENDER_MAX_BYTES + 1, 1024, &r),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__render_create(4096, 0, &r), OPC_ERR_INVALID_ARG);
    assert_null(r);
    assert_int_equal(opc__render_create(64 * 1024, 16, &r), OPC_OK);
    /* Larger than max_body: not stored. */
    opc__render_put(r, V1, I1, 1, INT64_MAX, body1, strlen(body1));
    expect(r, V1, I1, 1, 0, NULL);
    opc__render_put(r, V1, I1, 1, INT64_MAX, "{\"a\":1}", 7);
    opc__render_put(r, V1, I2, 1, INT64_MAX, "{\"b\":2}", 7);
    expect(r, V1, I1, 1, 0, "{\"a\":1}");
    expect(r, V1, I2, 1, 0, "{\"b\":2}");
    /* Bad ids and empty bodies are ignored. */
    opc__render_put(r, "short", I1, 1, INT64_MAX, "{}", 2);
    opc__render_put(r, V1, I1, 1, INT64_MAX, "", 0);
    expect(r, "short", I1, 1, 0, NULL);
    expect(r, V1, I1, 1, 0, "{\"a\":1}");
    size_t entries = 0;
    opc__render_usage(r, NULL, &entries, NULL);
    assert_int_equal(entries, 2);
    opc__render_clear(r);
    expect(r, V1, I2, 1, 0, NULL);
    opc__render_usage(r, NULL, &entries, NULL);
    assert_int_equal(entries, 0);
    opc__render_free(r);
    opc__render_free(NULL);
}

/* A 26-character id made from n (distinct n, distinct ids). */
static void make_id(char out[27], char lead, unsigned n)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyz234567";
    memset(out, lead, 26);
    for (int i = 25; i >= 18; i--) {
        out[i] = digits[n % 32];
        n /= 32;
    }
    out[26] = '\0';
}

/* A body of len bytes that names the item and version, the rest filler. */
static void make_body(char *out, size_t len, const char *item, int64_t version)
{
    int n = snprintf(out, len + 1, "{\"id\":\"%s\",\"version\":%lld,\"x\":\"", item,
                     (long long)version);
    assert_true(n > 0 && (size_t)n < len);
    memset(out + n, 'x', len - (size_t)n);
    out[len] = '\0';
}

static void test_render_budget_zero_stores_nothing(void **state)
{
    (void)state;
    opc__render *r = NULL;
    assert_int_equal(opc__render_create(0, 1024, &r), OPC_OK);
    opc__render_put(r, V1, I1, 1, INT64_MAX, body1, strlen(body1));
    expect(r, V1, I1, 1, 0, NULL);
    size_t bytes = 1;
    size_t entries = 1;
    opc__render_usage(r, &bytes, &entries, NULL);
    assert_int_equal(bytes, 0);
    assert_int_equal(entries, 0);
    opc__render_clear(r);
    opc__render_free(r);
}

/* Random puts of 1 B to 16 KiB over 3,000 keys into 256 KiB: the bytes
 * charged never pass the budget, the entry just stored always hits, and
 * emptying the cache gives every charged byte back. */
static void test_render_budget_holds_under_random_puts(void **state)
{
    (void)state;
    const size_t budget = 256 * 1024;
    opc__render *r = NULL;
    assert_int_equal(opc__render_create(budget, OPC_RENDER_MAX_BODY, &r), OPC_OK);
    size_t empty = 0;
    opc__render_usage(r, &empty, NULL, NULL);
    assert_true(empty > 0 && empty < budget / 32); /* the bucket arrays */
    char *body = malloc(OPC_RENDER_MAX_BODY + 1);
    assert_non_null(body);
    srand(11);
    size_t most = 0;
    for (int n = 0; n < 20000; n++) {
        char item[27];
        make_id(item, 'i', (unsigned)rand() % 3000);
        /* Mostly small bodies, some large. */
        size_t len = n % 10 == 0 ? 64 + (size_t)rand() % (OPC_RENDER_MAX_BODY - 63)
                                 : 64 + (size_t)rand() % 2000;
        make_body(body, len, item, n);
        opc__render_put(r, V1, item, n, INT64_MAX, body, len);
        opc__buf b;
        opc__buf_init(&b, true);
        assert_true(opc__render_get(r, V1, item, n, 0, &b));
        assert_int_equal(b.len, len);
        assert_memory_equal(b.data, body, len);
        opc__buf_free(&b);
        size_t bytes = 0;
        size_t entries = 0;
        opc__render_usage(r, &bytes, &entries, NULL);
        assert_true(bytes <= budget);
        assert_true(bytes >= empty + entries * OPC_RENDER_ENTRY_OVERHEAD);
        most = bytes > most ? bytes : most;
    }
    /* Eviction kept it nearly full, not nearly empty. */
    assert_true(most > budget / 2);
    opc__render_clear(r);
    size_t bytes = 0;
    opc__render_usage(r, &bytes, NULL, NULL);
    assert_int_equal(bytes, empty);
    free(body);
    opc__render_free(r);
}

/* Replacing an entry charges the new body and gives back the old one. */
static void test_render_replace_frees_old_bytes(void **state)
{
    (void)state;
    opc__render *r = NULL;
    assert_int_equal(opc__render_create(1024 * 1024, OPC_RENDER_MAX_BODY, &r), OPC_OK);
    size_t empty = 0;
    opc__render_usage(r, &empty, NULL, NULL);
    char *body = malloc(8001);
    assert_non_null(body);
    make_body(body, 8000, I1, 1);
    opc__render_put(r, V1, I1, 1, INT64_MAX, body, 8000);
    size_t bytes = 0;
    size_t entries = 0;
    opc__render_usage(r, &bytes, &entries, NULL);
    assert_int_equal(entries, 1);
    assert_int_equal(bytes, empty + OPC_RENDER_ENTRY_OVERHEAD + 8000);
    make_body(body, 100, I1, 2);
    opc__render_put(r, V1, I1, 2, INT64_MAX, body, 100);
    opc__render_usage(r, &bytes, &entries, NULL);
    assert_int_equal(entries, 1);
    assert_int_equal(bytes, empty + OPC_RENDER_ENTRY_OVERHEAD + 100);
    expect(r, V1, I1, 2, 0, body);
    expect(r, V1, I1, 1, 0, NULL);
    free(body);
    opc__render_free(r);
}

/* A dropped entry (the item was deleted) gives its bytes back at once;
 * the other ids keep theirs, and dropping what is not there is harmless. */
static void test_render_drop_frees_the_entry(void **state)
{
    (void)state;
    opc__render *r = NULL;
    assert_int_equal(opc__render_create(1024 * 1024, OPC_RENDER_MAX_BODY, &r), OPC_OK);
    size_t empty = 0;
    opc__render_usage(r, &empty, NULL, NULL);
    opc__render_put(r, V1, I1, 1, INT64_MAX, "{\"a\":1}", 7);
    opc__render_put(r, V1, I2, 4, INT64_MAX, "{\"b\":2}", 7);
    opc__render_drop(r, V1, I1);
    size_t bytes = 0;
    size_t entries = 0;
    opc__render_usage(r, &bytes, &entries, NULL);
    assert_int_equal(entries, 1);
    assert_int_equal(bytes, empty + OPC_RENDER_ENTRY_OVERHEAD + 7);
    expect(r, V1, I1, 1, 0, NULL);
    expect(r, V1, I2, 4, 0, "{\"b\":2}");
    opc__render_drop(r, V1, I1);
    opc__render_drop(r, "short", I2);
    opc__render_drop(NULL, V1, I2);
    opc__render_usage(r, NULL, &entries, NULL);
    assert_int_equal(entries, 1);
    opc__render_drop(r, V1, I2);
    opc__render_usage(r, &bytes, &entries, NULL);
    assert_int_equal(entries, 0);
    assert_int_equal(bytes, empty);
    opc__render_free(r);
}

/* The default budget holds 10,000 items of about 1 KB: all of them hit,
 * again and again. */
static void test_render_hot_set_stays_cached(void **state)
{
    (void)state;
    const size_t budget = (size_t)16 * 1024 * 1024;
    const unsigned n_items = 10000;
    opc__render *r = NULL;
    assert_int_equal(opc__render_create(budget, OPC_RENDER_MAX_BODY, &r), OPC_OK);
    char body[1200];
    srand(7);
    for (unsigned i = 0; i < n_items; i++) {
        char item[27];
        make_id(item, 'h', i);
        size_t len = 900 + (size_t)rand() % 300;
        make_body(body, len, item, 1);
        opc__render_put(r, i % 2 ? V1 : V2, item, 1, INT64_MAX, body, len);
    }
    size_t bytes = 0;
    size_t entries = 0;
    opc__render_usage(r, &bytes, &entries, NULL);
    assert_int_equal(entries, n_items);
    assert_true(bytes <= budget);
    print_message("render: %u items of 900-1200 B charge %zu bytes of %zu\n", n_items, bytes,
                  budget);
    for (int round = 0; round < 2; round++) {
        opc__buf b;
        opc__buf_init(&b, true);
        for (unsigned i = 0; i < n_items; i++) {
            char item[27];
            make_id(item, 'h', i);
            b.len = 0;
            assert_true(opc__render_get(r, i % 2 ? V1 : V2, item, 1, 0, &b));
            assert_memory_equal(b.data, "{\"id\":\"", 7);
            assert_memory_equal(b.data + 7, item, 26);
        }
        opc__buf_free(&b);
    }
    uint64_t misses = 0;
    opc__render_stats(r, NULL, &misses);
    assert_int_equal(misses, 0);
    opc__render_free(r);
}

/* CLOCK: an entry read since the hand passed survives the next eviction,
 * one never read goes. The budget is one shard holding three entries. */
static void test_render_clock_keeps_read_entries(void **state)
{
    (void)state;
    opc__render *r = NULL;
    const size_t len = 100;
    assert_int_equal(opc__render_create(8 + 3 * (OPC_RENDER_ENTRY_OVERHEAD + len) + 50, 1024,
                                        &r),
                     OPC_OK);
    char body[4][128];
    char item[4][27];
    for (unsigned i = 0; i < 4; i++) {
        make_id(item[i], 'k', i);
        make_body(body[i], len, item[i], 1);
    }
    for (unsigned i = 0; i < 3; i++) {
        opc__render_put(r, V1, item[i], 1, INT64_MAX, body[i], len);
    }
    size_t entries = 0;
    opc__render_usage(r, NULL, &entries, NULL);
    assert_int_equal(entries, 3);
    expect(r, V1, item[0], 1, 0, body[0]);
    opc__render_put(r, V1, item[3], 1, INT64_MAX, body[3], len);
    expect(r, V1, item[0], 1, 0, body[0]); /* read: kept */
    expect(r, V1, item[1], 1, 0, NULL);    /* the oldest unread: evicted */
    expect(r, V1, item[2], 1, 0, body[2]);
    expect(r, V1, item[3], 1, 0, body[3]);
    opc__render_free(r);
}

/* The public setter replaces the server's cache with one of the new budget;
 * a value out of range changes nothing. */
static void test_render_api_setter(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 0);
    opc_api *api = NULL;
    assert_int_equal(opc_api_create(x.creds, x.cache_path, &api, NULL, 0), OPC_OK);
    size_t budget = 0;
    opc__render_usage(api->render, NULL, NULL, &budget);
    assert_int_equal(budget, OPC_API_DEFAULT_RENDER_CACHE_BYTES);
    assert_int_equal(opc_api_set_render_cache_bytes(api, 1024 * 1024), OPC_OK);
    opc__render_usage(api->render, NULL, NULL, &budget);
    assert_int_equal(budget, 1024 * 1024);
    assert_int_equal(opc_api_set_render_cache_bytes(api, OPC_API_MAX_RENDER_CACHE_BYTES + 1),
                     OPC_ERR_INVALID_ARG);
    opc__render_usage(api->render, NULL, NULL, &budget);
    assert_int_equal(budget, 1024 * 1024);
    assert_int_equal(opc_api_set_render_cache_bytes(api, 0), OPC_OK);
    opc__render_usage(api->render, NULL, NULL, &budget);
    assert_int_equal(budget, 0);
    assert_int_equal(opc_api_set_render_cache_bytes(NULL, 1), OPC_ERR_INVALID_ARG);
    opc_api_free(api);
    sx_teardown(&x);
}

typedef struct race {
    opc__render *r;
    int id;
} race;

/* Gets and puts over 64 items of 100 B to 3 KB: a hit is always the body
 * of exactly the version asked for. */
static void *race_fn(void *p)
{
    race *x = p;
    char body[3100];
    unsigned seed = (unsigned)x->id * 7919u + 1;
    for (int n = 0; n < 4000; n++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % 64;
        int64_t ver = (int64_t)((seed >> 16) % 5);
        char item[27];
        make_id(item, 'r', k);
        /* The length follows from key and version, so any hit can be
         * checked against the body of that version. */
        size_t len = 100 + (k * 97 + (size_t)ver * 613) % 3000;
        (void)snprintf(body, sizeof body, "{\"id\":\"%s\",\"version\":%lld,\"x\":\"", item,
                       (long long)ver);
        size_t head = strlen(body);
        memset(body + head, 'a' + (int)ver, len - head);
        body[len] = '\0';
        if ((n + x->id) % 3 == 0) {
            opc__render_put(x->r, (k & 1) ? V1 : V2, item, ver, INT64_MAX, body, len);
        } else {
            opc__buf b;
            opc__buf_init(&b, true);
            bool hit = opc__render_get(x->r, (k & 1) ? V1 : V2, item, ver, 0, &b);
            bool same = !hit || (b.len == len && memcmp(b.data, body, len) == 0);
            opc__buf_free(&b);
            if (!same) {
                return (void *)1;
            }
        }
    }
    return NULL;
}

static void run_race(size_t budget)
{
    opc__render *r = NULL;
    assert_int_equal(opc__render_create(budget, 4096, &r), OPC_OK);
    pthread_t t[8];
    race x[8];
    for (int i = 0; i < 8; i++) {
        x[i].r = r;
        x[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, race_fn, &x[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        void *res = NULL;
        pthread_join(t[i], &res);
        assert_null(res);
    }
    size_t bytes = 0;
    opc__render_usage(r, &bytes, NULL, NULL);
    assert_true(bytes <= budget);
    uint64_t hits = 0;
    opc__render_stats(r, &hits, NULL);
    assert_true(hits > 0);
    opc__render_free(r);
}

static void test_render_threads(void **state)
{
    (void)state;
    run_race(40 * 1024);   /* one shard, evicting all the time */
    run_race(1024 * 1024); /* sharded, everything fits */
}

/* Allocation failures: create fails cleanly at each of its allocations; a
 * put that cannot allocate stores nothing and keeps the old entry; a get
 * whose buffer cannot grow misses and leaves the buffer as it was. */
static long fail_at;  /* fail the allocation with this number; 0 = never */
static long alloc_no; /* allocations so far in this run */

static void *oom_malloc(size_t n)
{
    return fail_at != 0 && ++alloc_no == fail_at ? NULL : opc_test_malloc(n);
}

static void *oom_realloc(void *p, size_t n)
{
    return fail_at != 0 && ++alloc_no == fail_at ? NULL : opc_test_realloc(p, n);
}

static int oom_setup(void **state)
{
    (void)state;
    return opc_global_init_mem(OPC_GLOBAL_DEFAULT, oom_malloc, oom_realloc, opc_test_free) ==
                   OPC_OK
               ? 0
               : -1;
}

static void test_render_out_of_memory(void **state)
{
    (void)state;
    long k;
    for (k = 1; k < 1000; k++) {
        fail_at = k;
        alloc_no = 0;
        opc__render *r = NULL;
        opc_err rc = opc__render_create(1024 * 1024, 1024, &r);
        fail_at = 0;
        if (rc == OPC_OK) {
            opc__render_free(r);
            break;
        }
        assert_int_equal(rc, OPC_ERR_NOMEM);
        assert_null(r);
    }
    assert_true(k > 1);
    opc__render *r = NULL;
    assert_int_equal(opc__render_create(1024 * 1024, 1024, &r), OPC_OK);
    opc__render_put(r, V1, I1, 1, INT64_MAX, body1, strlen(body1));
    alloc_no = 0;
    fail_at = 1;
    opc__render_put(r, V1, I1, 2, INT64_MAX, "{\"v\":2}", 7);
    fail_at = 0;
    expect(r, V1, I1, 1, 0, body1);
    expect(r, V1, I1, 2, 0, NULL);
    opc__buf b;
    opc__buf_init(&b, true);
    alloc_no = 0;
    fail_at = 1;
    assert_false(opc__render_get(r, V1, I1, 1, 0, &b));
    fail_at = 0;
    assert_int_equal(b.len, 0);
    opc__buf_free(&b);
    opc__render_free(r);
}

static int plain_setup(void **state)
{
    (void)state;
    return opc_global_init(OPC_GLOBAL_DEFAULT) == OPC_OK ? 0 : -1;
}

static int plain_teardown(void **state)
{
    (void)state;
    opc_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_hit_needs_same_ids_and_version),
        cmocka_unit_test(test_render_expires_at_valid_until),
        cmocka_unit_test(test_render_bounds_and_clear),
        cmocka_unit_test(test_render_budget_zero_stores_nothing),
        cmocka_unit_test(test_render_budget_holds_under_random_puts),
        cmocka_unit_test(test_render_replace_frees_old_bytes),
        cmocka_unit_test(test_render_drop_frees_the_entry),
        cmocka_unit_test(test_render_hot_set_stays_cached),
        cmocka_unit_test(test_render_clock_keeps_read_entries),
        cmocka_unit_test(test_render_api_setter),
    };
    const struct CMUnitTest oom[] = {
        cmocka_unit_test(test_render_out_of_memory),
    };
    /* cmocka's leak-checking allocator is not thread-safe: the race runs
     * in its own group on the default allocator. */
    const struct CMUnitTest threaded[] = {
        cmocka_unit_test(test_render_threads),
    };
    int failed = cmocka_run_group_tests(tests, opc_test_group_setup, opc_test_group_teardown);
    failed += cmocka_run_group_tests(oom, oom_setup, opc_test_group_teardown);
    return failed + cmocka_run_group_tests(threaded, plain_setup, plain_teardown);
}
