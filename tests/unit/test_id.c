#include "harness.h"

#include "core/id.h"
#include "core/rand.h"

static void test_id_generate_is_valid_and_unique(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char ids[N][OPC_ID_LEN + 1];
    unsigned last_char_mask = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(opc__id_generate(ids[i]), OPC_OK);
        assert_int_equal(strlen(ids[i]), OPC_ID_LEN);
        assert_true(opc__id_valid_str(ids[i]));
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(ids[i], ids[j]);
        }
        /* The last digit carries 3 bits and two zero bits: a, e, i, ..., 4. */
        const char *alpha = "abcdefghijklmnopqrstuvwxyz234567";
        unsigned v = (unsigned)(strchr(alpha, ids[i][25]) - alpha);
        assert_true((v & 3) == 0);
        last_char_mask |= 1u << (v >> 2);
    }
    assert_int_equal(last_char_mask, 0xff);
}

static void test_id_valid_rejects_wrong_forms(void **state)
{
    (void)state;
    assert_true(opc__id_valid_str("ftz4pm2xxwmwrsd7rjqn7grzfz"));
    assert_false(opc__id_valid_str("ftz4pm2xxwmwrsd7rjqn7grzf"));
    assert_false(opc__id_valid_str("ftz4pm2xxwmwrsd7rjqn7grzfzz"));
    assert_false(opc__id_valid_str("FTZ4PM2XXWMWRSD7RJQN7GRZFZ"));
    assert_false(opc__id_valid_str("ftz4pm2xxwmwrsd7rjqn7grzf1"));
    assert_false(opc__id_valid_str("ftz4pm2xxwmwrsd7rjqn7grzf8"));
    assert_false(opc__id_valid_str("ftz4pm2xxwmwrsd7rjqn7grz/."));
    assert_false(opc__id_valid_str(""));
    assert_false(opc__id_valid_str(NULL));
    assert_false(opc__id_valid("ftz4pm2xxwmwrsd7rjqn7grzfz", 25));
}

/* A client's id: any [a-z0-9]{26} (what the SDKs accept), nothing else. */
static void test_id_client_valid_forms(void **state)
{
    (void)state;
    assert_true(opc__id_client_valid_str("ftz4pm2xxwmwrsd7rjqn7grzfz"));
    assert_true(opc__id_client_valid_str("ftz4pm2xxwmwrsd7rjqn7grzf1"));
    assert_true(opc__id_client_valid_str("08919abcdefghijklmnopqrstu"));
    assert_true(opc__id_client_valid_str("00000000000000000000000000"));
    assert_true(opc__id_client_valid_str("99999999999999999999999999"));
    assert_false(opc__id_client_valid_str("ftz4pm2xxwmwrsd7rjqn7grzf"));
    assert_false(opc__id_client_valid_str("ftz4pm2xxwmwrsd7rjqn7grzf89"));
    assert_false(opc__id_client_valid_str("FTZ4PM2XXWMWRSD7RJQN7GRZFZ"));
    assert_false(opc__id_client_valid_str("ftz4pm2xxwmwrsd7rjqn7grzf-"));
    assert_false(opc__id_client_valid_str("ftz4pm2xxwmwrsd7rjqn7grz/."));
    assert_false(opc__id_client_valid_str("ftz4pm2xxwmwrsd7rjqn7grzf:"));
    assert_false(opc__id_client_valid_str("ftz4pm2xxwmwrsd7rjqn7grzf`"));
    assert_false(opc__id_client_valid_str("ftz4pm2xxwmwrsd7rjqn7grzf{"));
    assert_false(opc__id_client_valid_str(""));
    assert_false(opc__id_client_valid_str(NULL));
    assert_false(opc__id_client_valid("ftz4pm2xxwmwrsd7rjqn7grzf8", 25));
    /* Every generated id is a client id too; a client id with 0, 1, 8 or 9
     * is not one the server could have made. */
    char id[OPC_ID_LEN + 1];
    assert_int_equal(opc__id_generate(id), OPC_OK);
    assert_true(opc__id_client_valid_str(id));
    const char digits[] = "0189";
    for (size_t i = 0; i < 4; i++) {
        id[7] = digits[i];
        assert_true(opc__id_client_valid_str(id));
        assert_false(opc__id_valid_str(id));
    }
}

static void test_rand_uniform_is_unbiased(void **state)
{
    (void)state;
    /* 60,000 draws over 6 buckets: chi-square with 5 degrees of freedom
     * stays below 25 (p ~ 0.0001) for an unbiased source. */
    enum { K = 6, N = 60000 };
    unsigned counts[K] = {0};
    for (int i = 0; i < N; i++) {
        uint32_t r = 99;
        assert_int_equal(opc__rand_uniform(K, &r), OPC_OK);
        assert_true(r < K);
        counts[r]++;
    }
    double chi = 0, expect = (double)N / K;
    for (int k = 0; k < K; k++) {
        chi += (counts[k] - expect) * (counts[k] - expect) / expect;
    }
    assert_true(chi < 25.0);
    uint32_t r;
    assert_int_equal(opc__rand_uniform(0, &r), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__rand_uniform(1, &r), OPC_OK);
    assert_int_equal(r, 0);
}

static void test_rand_bytes_fills(void **state)
{
    (void)state;
    unsigned char a[64] = {0}, b[64] = {0};
    assert_int_equal(opc__rand_bytes(a, sizeof a), OPC_OK);
    assert_int_equal(opc__rand_priv_bytes(b, sizeof b), OPC_OK);
    assert_memory_not_equal(a, b, sizeof a);
    assert_int_equal(opc__rand_bytes(NULL, 1), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__rand_bytes(NULL, 0), OPC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_generate_is_valid_and_unique),
        cmocka_unit_test(test_id_valid_rejects_wrong_forms),
        cmocka_unit_test(test_id_client_valid_forms),
        cmocka_unit_test(test_rand_uniform_is_unbiased),
        cmocka_unit_test(test_rand_bytes_fills),
    };
    return cmocka_run_group_tests_name("id", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
