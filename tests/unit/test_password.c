/*
 * tests/unit/test_password.c - the password generator and GeneratorRecipe
 * parsing (lib/model/password.c).
 *
 * The statistical tests draw 100,000 passwords and compare the character
 * counts with their exact expectations by a chi-square test at p = 0.001.
 * A correct generator fails one run in a thousand, so a failing experiment
 * is repeated once with fresh draws and the test fails only if both fail
 * (one in a million); a biased generator fails both every time.
 */
#include "harness.h"

#include <math.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "model/password.h"

#define DRAWS 100000

static const char LETTERS[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char DIGITS[] = "0123456789";
static const char SYMBOLS[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/* Parse a recipe given as JSON text (NULL text = NULL recipe). */
static opc_err parse_recipe(const char *json, opc__recipe *r, opc__ebuf *eb)
{
    cJSON *j = NULL;
    if (json != NULL) {
        j = cJSON_Parse(json);
        assert_non_null(j);
    }
    opc_err rc = opc__recipe_parse(j, r, eb);
    cJSON_Delete(j);
    return rc;
}

static int set_of(char c)
{
    if (strchr(LETTERS, c) != NULL) {
        return 0;
    }
    if (strchr(DIGITS, c) != NULL) {
        return 1;
    }
    if (strchr(SYMBOLS, c) != NULL) {
        return 2;
    }
    return -1;
}

/* ---- recipe parsing ---- */

static void test_password_recipe_parse_defaults(void **state)
{
    (void)state;
    opc__recipe r;
    memset(&r, 0xff, sizeof r);
    assert_int_equal(parse_recipe(NULL, &r, NULL), OPC_OK);
    assert_int_equal(r.length, 32);
    assert_int_equal(r.sets, OPC_CHARSET_ALL);
    assert_string_equal(r.exclude, "");
    memset(&r, 0xff, sizeof r);
    assert_int_equal(parse_recipe("{}", &r, NULL), OPC_OK);
    assert_int_equal(r.length, 32);
    assert_int_equal(r.sets, OPC_CHARSET_ALL);
    assert_string_equal(r.exclude, "");
    assert_int_equal(parse_recipe("null", &r, NULL), OPC_OK);
    assert_int_equal(r.length, 32);
    assert_int_equal(
        parse_recipe("{\"length\":null,\"characterSets\":[],\"excludeCharacters\":null}", &r, NULL),
        OPC_OK);
    assert_int_equal(r.length, 32);
    assert_int_equal(r.sets, OPC_CHARSET_ALL);
}

static void test_password_recipe_parse_values(void **state)
{
    (void)state;
    opc__recipe r;
    assert_int_equal(parse_recipe("{\"length\":12,\"characterSets\":[\"DIGITS\",\"letters\"],"
                                  "\"excludeCharacters\":\"aa0O\"}",
                                  &r, NULL),
                     OPC_OK);
    assert_int_equal(r.length, 12);
    assert_int_equal(r.sets, OPC_CHARSET_DIGITS | OPC_CHARSET_LETTERS);
    assert_string_equal(r.exclude, "a0O"); /* de-duplicated */
    assert_int_equal(parse_recipe("{\"length\":1,\"characterSets\":[\"Symbols\"]}", &r, NULL),
                     OPC_OK);
    assert_int_equal(r.length, 1);
    assert_int_equal(r.sets, OPC_CHARSET_SYMBOLS);
    assert_int_equal(parse_recipe("{\"length\":64}", &r, NULL), OPC_OK);
    assert_int_equal(r.length, 64);
    /* Every printable ASCII character may be excluded. */
    char all[96];
    for (int c = 0x20; c < 0x7f; c++) {
        all[c - 0x20] = (char)c;
    }
    all[95] = '\0';
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "excludeCharacters", all);
    assert_int_equal(opc__recipe_parse(j, &r, NULL), OPC_OK);
    assert_string_equal(r.exclude, all);
    cJSON_Delete(j);
}

static void test_password_recipe_parse_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        opc_err rc;
        const char *msg;
    } bad[] = {
        {"\"LETTERS\"", OPC_ERR_PARSE, "must be a JSON object"},
        {"[]", OPC_ERR_PARSE, "must be a JSON object"},
        {"{\"size\":10}", OPC_ERR_PARSE, "unexpected member \"size\""},
        {"{\"Length\":10}", OPC_ERR_PARSE, "unexpected member \"Length\""},
        {"{\"length\":0}", OPC_ERR_RANGE, "between 1 and 64"},
        {"{\"length\":65}", OPC_ERR_RANGE, "between 1 and 64"},
        {"{\"length\":-1}", OPC_ERR_RANGE, "between 1 and 64"},
        {"{\"length\":1.5}", OPC_ERR_PARSE, "must be an integer"},
        {"{\"length\":\"32\"}", OPC_ERR_PARSE, "must be an integer"},
        {"{\"length\":true}", OPC_ERR_PARSE, "must be an integer"},
        {"{\"characterSets\":\"LETTERS\"}", OPC_ERR_PARSE, "must be an array"},
        {"{\"characterSets\":[1]}", OPC_ERR_PARSE, "must hold strings"},
        {"{\"characterSets\":[\"EMOJI\"]}", OPC_ERR_PARSE, "unknown character set \"EMOJI\""},
        {"{\"characterSets\":[\"\"]}", OPC_ERR_PARSE, "unknown character set"},
        {"{\"characterSets\":[\"LETTER\"]}", OPC_ERR_PARSE, "unknown character set"},
        {"{\"characterSets\":[\"LETTERS\",\"letters\"]}", OPC_ERR_PARSE, "LETTERS given twice"},
        {"{\"excludeCharacters\":5}", OPC_ERR_PARSE, "must be a string"},
        {"{\"excludeCharacters\":[\"a\"]}", OPC_ERR_PARSE, "must be a string"},
        {"{\"excludeCharacters\":\"\\u00e9\"}", OPC_ERR_PARSE, "printable ASCII"},
        {"{\"excludeCharacters\":\"a\\tb\"}", OPC_ERR_PARSE, "printable ASCII"},
        {"{\"excludeCharacters\":\"\\u007f\"}", OPC_ERR_PARSE, "printable ASCII"},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        opc__recipe r;
        opc__recipe_default(&r);
        r.length = 7;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc_err rc = parse_recipe(bad[i].json, &r, &eb);
        if (rc != bad[i].rc || strstr(eb.msg, bad[i].msg) == NULL) {
            fail_msg("case %zu %s: rc %d, \"%s\"", i, bad[i].json, (int)rc, eb.msg);
        }
        assert_int_equal(r.length, 7); /* untouched on failure */
    }
    assert_int_equal(opc__recipe_parse(NULL, NULL, NULL), OPC_ERR_INVALID_ARG);
}

static void test_password_recipe_parse_cli_forms(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        unsigned length, sets;
    } good[] = {
        {"letters,digits,symbols,20", 20, OPC_CHARSET_ALL},
        {"20,symbols,letters", 20, OPC_CHARSET_SYMBOLS | OPC_CHARSET_LETTERS},
        {"digits", 32, OPC_CHARSET_DIGITS},
        {" DIGITS , Letters , 8 ", 8, OPC_CHARSET_DIGITS | OPC_CHARSET_LETTERS},
        {"64", 64, OPC_CHARSET_ALL},
        {"1", 1, OPC_CHARSET_ALL},
        {"007", 7, OPC_CHARSET_ALL},
        {"", 32, OPC_CHARSET_ALL},
        {"  ", 32, OPC_CHARSET_ALL},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(good); i++) {
        opc__recipe r;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        if (opc__recipe_parse_cli(good[i].s, &r, &eb) != OPC_OK) {
            fail_msg("rejected \"%s\": %s", good[i].s, eb.msg);
        }
        assert_int_equal(r.length, good[i].length);
        assert_int_equal(r.sets, good[i].sets);
        assert_string_equal(r.exclude, "");
    }
}

/* CLI-form recipes both parsers refuse: the code and a part of the message. */
static const struct {
    const char *s;
    opc_err rc;
    const char *msg;
} cli_bad[] = {
    {"letters,,digits", OPC_ERR_PARSE, "empty item"},
    {",", OPC_ERR_PARSE, "empty item"},
    {"letters,", OPC_ERR_PARSE, "empty item"},
    {"letters,LETTERS", OPC_ERR_PARSE, "LETTERS given twice"},
    {"10,20", OPC_ERR_PARSE, "more than one length"},
    {"0", OPC_ERR_RANGE, "between 1 and 64"},
    {"65", OPC_ERR_RANGE, "between 1 and 64"},
    {"99999999999999999999999", OPC_ERR_PARSE, "invalid length"},
    {"12x", OPC_ERR_PARSE, "invalid length"},
    {"-5", OPC_ERR_PARSE, "unknown item \"-5\""},
    {"words", OPC_ERR_PARSE, "unknown item \"words\""},
    {"letters digits", OPC_ERR_PARSE, "unknown item"},
};

static void test_password_recipe_parse_cli_rejects(void **state)
{
    (void)state;
    for (size_t i = 0; i < OPC_ARRAY_LEN(cli_bad); i++) {
        opc__recipe r;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc_err rc = opc__recipe_parse_cli(cli_bad[i].s, &r, &eb);
        if (rc != cli_bad[i].rc || strstr(eb.msg, cli_bad[i].msg) == NULL) {
            fail_msg("case %zu \"%s\": rc %d, \"%s\"", i, cli_bad[i].s, (int)rc, eb.msg);
        }
    }
    opc__recipe r;
    assert_int_equal(opc__recipe_parse_cli(NULL, &r, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__recipe_parse_cli("20", NULL, NULL), OPC_ERR_INVALID_ARG);
}

/* The public form: the same rules, a GeneratorRecipe object as JSON that
 * the item parser reads back to the same recipe. */
static void test_password_recipe_parse_public_json(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        const char *json;
    } good[] = {
        {"letters,digits,symbols,20",
         "{\"length\":20,\"characterSets\":[\"LETTERS\",\"DIGITS\",\"SYMBOLS\"]}"},
        {" 8 , DIGITS , Letters ", "{\"length\":8,\"characterSets\":[\"LETTERS\",\"DIGITS\"]}"},
        {"symbols", "{\"length\":32,\"characterSets\":[\"SYMBOLS\"]}"},
        {"", "{\"length\":32,\"characterSets\":[\"LETTERS\",\"DIGITS\",\"SYMBOLS\"]}"},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(good); i++) {
        char *json = NULL;
        char err[OPC_ERRBUF_SIZE] = "";
        if (opc_password_recipe_parse(good[i].s, &json, err, sizeof err) != OPC_OK) {
            fail_msg("rejected \"%s\": %s", good[i].s, err);
        }
        assert_string_equal(json, good[i].json);
        opc__recipe cli;
        opc__recipe back;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        assert_int_equal(opc__recipe_parse_cli(good[i].s, &cli, &eb), OPC_OK);
        assert_int_equal(parse_recipe(json, &back, &eb), OPC_OK);
        assert_int_equal(back.length, cli.length);
        assert_int_equal(back.sets, cli.sets);
        opc_free(json);
    }
    static char untouched[] = "untouched";
    for (size_t i = 0; i < OPC_ARRAY_LEN(cli_bad); i++) {
        char *json = untouched;
        char err[OPC_ERRBUF_SIZE] = "";
        opc_err rc = opc_password_recipe_parse(cli_bad[i].s, &json, err, sizeof err);
        if (rc != cli_bad[i].rc || strstr(err, cli_bad[i].msg) == NULL || json != NULL) {
            fail_msg("case %zu \"%s\": rc %d, \"%s\"", i, cli_bad[i].s, (int)rc, err);
        }
    }
    char *json = NULL;
    assert_int_equal(opc_password_recipe_parse("20", &json, NULL, 0), OPC_OK);
    opc_free(json);
    typedef opc_err (*recipe_fn)(const char *, char **, char *, size_t);
    recipe_fn parse = opc_password_recipe_parse; /* past OPC_NONNULL */
    assert_int_equal(parse(NULL, &json, NULL, 0), OPC_ERR_INVALID_ARG);
    assert_null(json);
    assert_int_equal(parse("20", NULL, NULL, 0), OPC_ERR_INVALID_ARG);
}

/* ---- generation ---- */

static void test_password_generate_lengths_and_sets(void **state)
{
    (void)state;
    for (unsigned sets = 1; sets <= OPC_CHARSET_ALL; sets++) {
        unsigned nsets = ((sets & 1) != 0) + ((sets & 2) != 0) + ((sets & 4) != 0);
        for (unsigned len = 1; len <= OPC_RECIPE_MAX_LENGTH; len++) {
            opc__recipe r;
            opc__recipe_default(&r);
            r.length = len;
            r.sets = sets;
            char out[OPC_RECIPE_MAX_LENGTH + 1];
            double bits = -1;
            opc_err rc = opc__password_generate(&r, out, &bits, NULL);
            if (len < nsets) {
                assert_int_equal(rc, OPC_ERR_RANGE);
                assert_string_equal(out, "");
                continue;
            }
            assert_int_equal(rc, OPC_OK);
            assert_int_equal(strlen(out), len);
            assert_true(bits > 0);
            unsigned seen = 0;
            for (unsigned i = 0; i < len; i++) {
                int k = set_of(out[i]);
                assert_true(k >= 0);
                seen |= 1u << k;
            }
            assert_int_equal(seen, sets); /* every chosen set, nothing else */
        }
    }
}

static void test_password_generate_honours_exclusions(void **state)
{
    (void)state;
    opc__recipe r;
    assert_int_equal(parse_recipe("{\"length\":64,\"excludeCharacters\":"
                                  "\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY0123456789"
                                  "!#$%&'()*+,-./:;<=>?@[\\\\]^_`{|}~\"}",
                                  &r, NULL),
                     OPC_OK);
    /* Left: Z, no digit at all. */
    char out[65];
    opc__ebuf eb;
    assert_int_equal(opc__password_generate(&r, out, NULL, &eb), OPC_ERR_RANGE);
    assert_non_null(strstr(eb.msg, "no character of DIGITS"));
    assert_int_equal(parse_recipe("{\"length\":64,\"excludeCharacters\":"
                                  "\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY012345678"
                                  "!#$%&'()*+,-./:;<=>?@[\\\\]^_`{|}~\"}",
                                  &r, NULL),
                     OPC_OK);
    /* Left: Z, 9 and the double quote; each must appear. */
    for (int n = 0; n < 50; n++) {
        double bits = 0;
        assert_int_equal(opc__password_generate(&r, out, &bits, NULL), OPC_OK);
        assert_int_equal(strlen(out), 64);
        assert_non_null(strchr(out, 'Z'));
        assert_non_null(strchr(out, '9'));
        assert_non_null(strchr(out, '"'));
        assert_int_equal(strspn(out, "Z9\""), 64);
    }
    /* Exclusions on a larger pool: none of them ever appears. */
    assert_int_equal(parse_recipe("{\"excludeCharacters\":\"lI1O0o|`'\\\"\"}", &r, NULL), OPC_OK);
    for (int n = 0; n < 2000; n++) {
        assert_int_equal(opc__password_generate(&r, out, NULL, NULL), OPC_OK);
        assert_int_equal(strcspn(out, "lI1O0o|`'\""), 32);
    }
}

static void test_password_generate_rejects_bad_recipes(void **state)
{
    (void)state;
    opc__recipe r;
    char out[65] = "x";
    opc__recipe_default(&r);
    r.length = 0;
    assert_int_equal(opc__password_generate(&r, out, NULL, NULL), OPC_ERR_INVALID_ARG);
    assert_string_equal(out, "");
    r.length = 65;
    assert_int_equal(opc__password_generate(&r, out, NULL, NULL), OPC_ERR_INVALID_ARG);
    r.length = 2; /* three sets */
    opc__ebuf eb;
    assert_int_equal(opc__password_generate(&r, out, NULL, &eb), OPC_ERR_RANGE);
    assert_non_null(strstr(eb.msg, "too short for 3 character sets"));
    r.length = 10;
    memset(r.exclude, 'x', sizeof r.exclude); /* not NUL-terminated */
    assert_int_equal(opc__password_generate(&r, out, NULL, NULL), OPC_ERR_INVALID_ARG);
    opc__recipe_default(&r);
    assert_int_equal(opc__password_generate(NULL, out, NULL, NULL), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__password_generate(&r, NULL, NULL, NULL), OPC_ERR_INVALID_ARG);
    /* sets == 0 means all */
    r.sets = 0;
    double bits = 0;
    assert_int_equal(opc__password_generate(&r, out, &bits, NULL), OPC_OK);
    assert_true(fabs(bits - 209.70684) < 1e-4);
}

static void test_password_generate_entropy_values(void **state)
{
    (void)state;
    static const struct {
        const char *recipe;
        double bits;
    } v[] = {
        {"{\"length\":10,\"characterSets\":[\"DIGITS\"]}", 33.219281}, /* 10 log2 10 */
        {"{\"length\":64,\"characterSets\":[\"SYMBOLS\"]}", 320.0},    /* 64 log2 32 */
        {"{\"length\":1,\"characterSets\":[\"LETTERS\"]}", 5.700440},  /* log2 52 */
        /* log2(62^2 - 52^2 - 10^2) = log2 1040 */
        {"{\"length\":2,\"characterSets\":[\"LETTERS\",\"DIGITS\"]}", 10.022368},
        /* inclusion-exclusion over 94 characters, 32 long */
        {"{}", 209.706844},
        {"{\"length\":20}", 130.930638},
        /* pool {a, b, 0, !}: 3! * 2 = 12 strings of length 3 hold all three sets */
        {"{\"length\":3,\"excludeCharacters\":\"cdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
         "123456789\\\"#$%&'()*+,-./:;<=>?@[\\\\]^_`{|}~\"}",
         3.584963},
        /* a single excluded digit: 9 log2 9 */
        {"{\"length\":9,\"characterSets\":[\"DIGITS\"],\"excludeCharacters\":\"5\"}", 28.529325},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(v); i++) {
        opc__recipe r;
        assert_int_equal(parse_recipe(v[i].recipe, &r, NULL), OPC_OK);
        char out[65];
        double bits = -1;
        assert_int_equal(opc__password_generate(&r, out, &bits, NULL), OPC_OK);
        if (fabs(bits - v[i].bits) > 1e-5) {
            fail_msg("case %zu: %.6f bits, want %.6f", i, bits, v[i].bits);
        }
    }
}

/* ---- statistics ---- */

static double chi_square(const unsigned long *count, const double *expect, size_t n)
{
    double x = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)count[i] - expect[i];
        x += d * d / expect[i];
    }
    return x;
}

/* 100k passwords of length 1 from the 10 digits. */
static double run_digits(void)
{
    opc__recipe r;
    opc__recipe_default(&r);
    r.length = 1;
    r.sets = OPC_CHARSET_DIGITS;
    unsigned long count[10] = {0};
    double expect[10];
    for (int i = 0; i < 10; i++) {
        expect[i] = DRAWS / 10.0;
    }
    for (int n = 0; n < DRAWS; n++) {
        char out[2];
        assert_int_equal(opc__password_generate(&r, out, NULL, NULL), OPC_OK);
        assert_true(out[0] >= '0' && out[0] <= '9');
        count[out[0] - '0']++;
    }
    return chi_square(count, expect, 10);
}

static void test_password_generate_unbiased_digits(void **state)
{
    (void)state;
    const double crit = 27.88; /* chi-square, 9 dof, p = 0.001 */
    double x = run_digits();
    print_message("digits, 100k draws: chi-square %.2f (9 dof, limit %.2f)\n", x, crit);
    if (x >= crit) {
        x = run_digits();
        print_message("repeated: chi-square %.2f\n", x);
    }
    assert_true(x < crit);
}

/*
 * The exact expected frequency of each character in a full-charset
 * password of length L. Passwords are uniform over strings that contain
 * every set, so a character of set k appears at a position with
 * probability (1/pool) P(the other L-1 positions cover the other sets) /
 * P(L positions cover all sets): digits and symbols, the smaller sets,
 * come out a little more often than 1/94.
 */
static double cover(unsigned L, const double size[3], unsigned need, double pool)
{
    double p = 0;
    for (unsigned s = 0; s < 8; s++) {
        if ((s & ~need) != 0) {
            continue;
        }
        double removed = 0;
        int sign = 1;
        for (int k = 0; k < 3; k++) {
            if ((s & (1u << k)) != 0) {
                removed += size[k];
                sign = -sign;
            }
        }
        p += sign * pow((pool - removed) / pool, L);
    }
    return p;
}

static const char *full_pool(void)
{
    static char pool[95];
    if (pool[0] == '\0') {
        snprintf(pool, sizeof pool, "%s%s%s", LETTERS, DIGITS, SYMBOLS);
    }
    return pool;
}

/* 100k default passwords (94 characters, length 32): per-character counts
 * over all positions, and at the first and the last position. */
static void run_full(double x[3])
{
    const char *pool = full_pool();
    assert_int_equal(strlen(pool), 94);
    const unsigned L = 32;
    const double size[3] = {52, 10, 32};
    double p_valid = cover(L, size, 7, 94);
    double e_all[94], e_pos[94];
    unsigned long all[94] = {0}, first[94] = {0}, last[94] = {0};
    double total = 0;
    for (int i = 0; i < 94; i++) {
        int k = set_of(pool[i]);
        double p = cover(L - 1, size, 7u & ~(1u << k), 94) / (94.0 * p_valid);
        e_pos[i] = DRAWS * p;
        e_all[i] = DRAWS * (double)L * p;
        total += p;
    }
    assert_true(fabs(total - 1.0) < 1e-9); /* the expectations are a distribution */
    opc__recipe r;
    opc__recipe_default(&r);
    for (int n = 0; n < DRAWS; n++) {
        char out[33];
        assert_int_equal(opc__password_generate(&r, out, NULL, NULL), OPC_OK);
        for (unsigned i = 0; i < L; i++) {
            const char *c = strchr(pool, out[i]);
            assert_non_null(c);
            all[c - pool]++;
        }
        first[strchr(pool, out[0]) - pool]++;
        last[strchr(pool, out[L - 1]) - pool]++;
    }
    x[0] = chi_square(all, e_all, 94);
    x[1] = chi_square(first, e_pos, 94);
    x[2] = chi_square(last, e_pos, 94);
}

static void test_password_generate_unbiased_full_charset(void **state)
{
    (void)state;
    const double crit = 140.9; /* chi-square, 93 dof, p = 0.001 */
    double x[3];
    run_full(x);
    print_message("94 characters, 100k x 32: chi-square all %.2f, first %.2f, last %.2f "
                  "(93 dof, limit %.1f)\n",
                  x[0], x[1], x[2], crit);
    if (x[0] >= crit || x[1] >= crit || x[2] >= crit) {
        run_full(x);
        print_message("repeated: %.2f, %.2f, %.2f\n", x[0], x[1], x[2]);
    }
    assert_true(x[0] < crit);
    assert_true(x[1] < crit);
    assert_true(x[2] < crit);
}

/* Uniform over the 12 valid strings of the pool {a, b, 0, !} at length 3. */
static void test_password_generate_uniform_over_valid_strings(void **state)
{
    (void)state;
    opc__recipe r;
    assert_int_equal(
        parse_recipe("{\"length\":3,\"excludeCharacters\":\"cdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ123456789\\\"#$%&'()*+,-./:;<=>?@[\\\\]"
                     "^_`{|}~\"}",
                     &r, NULL),
        OPC_OK);
    static const char *const valid[12] = {"a0!", "a!0", "0a!", "0!a", "!a0", "!0a",
                                          "b0!", "b!0", "0b!", "0!b", "!b0", "!0b"};
    const double crit = 31.26; /* 11 dof, p = 0.001 */
    double x = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        unsigned long count[12] = {0};
        double expect[12];
        for (int i = 0; i < 12; i++) {
            expect[i] = 24000 / 12.0;
        }
        for (int n = 0; n < 24000; n++) {
            char out[4];
            assert_int_equal(opc__password_generate(&r, out, NULL, NULL), OPC_OK);
            int hit = -1;
            for (int i = 0; i < 12; i++) {
                if (strcmp(out, valid[i]) == 0) {
                    hit = i;
                }
            }
            assert_true(hit >= 0);
            count[hit]++;
        }
        x = chi_square(count, expect, 12);
        print_message("12 valid strings, 24k draws: chi-square %.2f (11 dof)\n", x);
        if (x < crit) {
            break;
        }
    }
    assert_true(x < crit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_recipe_parse_defaults),
        cmocka_unit_test(test_password_recipe_parse_values),
        cmocka_unit_test(test_password_recipe_parse_rejects),
        cmocka_unit_test(test_password_recipe_parse_cli_forms),
        cmocka_unit_test(test_password_recipe_parse_cli_rejects),
        cmocka_unit_test(test_password_recipe_parse_public_json),
        cmocka_unit_test(test_password_generate_lengths_and_sets),
        cmocka_unit_test(test_password_generate_honours_exclusions),
        cmocka_unit_test(test_password_generate_rejects_bad_recipes),
        cmocka_unit_test(test_password_generate_entropy_values),
        cmocka_unit_test(test_password_generate_unbiased_digits),
        cmocka_unit_test(test_password_generate_unbiased_full_charset),
        cmocka_unit_test(test_password_generate_uniform_over_valid_strings),
    };
    return cmocka_run_group_tests_name("password", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
