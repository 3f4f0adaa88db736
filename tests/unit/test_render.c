/*
 * tests/unit/test_render.c - the rendered-item cache (view/render.h).
 */
#include "harness.h"

#include <pthread.h>

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
    assert_int_equal(opc__render_create(64, 1024, &r), OPC_OK);
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
    assert_int_equal(opc__render_create(8, 1024, &r), OPC_OK);
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
    assert_int_equal(opc__render_create(0, 1024, &r), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__render_create(1, 0, &r), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__render_create(1, 16, &r), OPC_OK);
    /* Too large: not stored. */
    opc__render_put(r, V1, I1, 1, INT64_MAX, body1, strlen(body1));
    expect(r, V1, I1, 1, 0, NULL);
    /* One slot: the second item evicts the first. */
    opc__render_put(r, V1, I1, 1, INT64_MAX, "{\"a\":1}", 7);
    opc__render_put(r, V1, I2, 1, INT64_MAX, "{\"b\":2}", 7);
    expect(r, V1, I1, 1, 0, NULL);
    expect(r, V1, I2, 1, 0, "{\"b\":2}");
    /* Bad ids and empty bodies are ignored. */
    opc__render_put(r, "short", I1, 1, INT64_MAX, "{}", 2);
    opc__render_put(r, V1, I1, 1, INT64_MAX, "", 0);
    expect(r, "short", I1, 1, 0, NULL);
    opc__render_clear(r);
    expect(r, V1, I2, 1, 0, NULL);
    opc__render_free(r);
    opc__render_free(NULL);
}

typedef struct race {
    opc__render *r;
    int id;
} race;

static void *race_fn(void *p)
{
    race *x = p;
    char body[64];
    for (int n = 0; n < 2000; n++) {
        int64_t ver = n % 5;
        (void)snprintf(body, sizeof body, "{\"v\":%lld}", (long long)ver);
        if ((n + x->id) % 3 == 0) {
            opc__render_put(x->r, V1, (n & 1) ? I1 : I2, ver, INT64_MAX, body, strlen(body));
        } else {
            opc__buf b;
            opc__buf_init(&b, true);
            if (opc__render_get(x->r, V1, (n & 1) ? I1 : I2, ver, 0, &b)) {
                /* A hit is always the body of exactly that version. */
                if (strcmp(b.data, body) != 0) {
                    opc__buf_free(&b);
                    return (void *)1;
                }
            }
            opc__buf_free(&b);
        }
    }
    return NULL;
}

static void test_render_threads(void **state)
{
    (void)state;
    opc__render *r = NULL;
    assert_int_equal(opc__render_create(2, 1024, &r), OPC_OK);
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
    };
    /* cmocka's leak-checking allocator is not thread-safe: the race runs
     * in its own group on the default allocator. */
    const struct CMUnitTest threaded[] = {
        cmocka_unit_test(test_render_threads),
    };
    int failed = cmocka_run_group_tests(tests, opc_test_group_setup, opc_test_group_teardown);
    return failed + cmocka_run_group_tests(threaded, plain_setup, plain_teardown);
}
