#include "harness.h"

#include "core/json.h"

static opc_err parse(const char *s, cJSON **out, opc__ebuf *eb)
{
    return opc__json_parse(s, strlen(s), NULL, out, eb);
}

static void test_json_parse_accepts_valid(void **state)
{
    (void)state;
    cJSON *j = NULL;
    assert_int_equal(parse(" {\"a\":[1,2,{\"b\":\"c\"}],\"d\":true} \n", &j, NULL), OPC_OK);
    assert_non_null(j);
    const char *s = NULL;
    assert_int_equal(opc__json_get_str(opc__json_member(j, "a")->child->next->next, "b", true,
                                       "x", &s, NULL),
                     OPC_OK);
    assert_string_equal(s, "c");
    cJSON_Delete(j);
    /* Not NUL-terminated: only len bytes are read. */
    const char buf[] = {'[', '1', ']', 'x'};
    assert_int_equal(opc__json_parse(buf, 3, NULL, &j, NULL), OPC_OK);
    cJSON_Delete(j);
}

static void test_json_parse_rejects_duplicates(void **state)
{
    (void)state;
    cJSON *j = (cJSON *)1;
    opc__ebuf eb;
    assert_int_equal(parse("{\"alg\":\"ES256\",\"alg\":\"none\"}", &j, &eb), OPC_ERR_PARSE);
    assert_null(j);
    assert_non_null(strstr(eb.msg, "duplicate key \"alg\""));
    assert_int_equal(parse("{\"alg\":\"ES256\",\"ALG\":\"none\"}", &j, &eb), OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "case-variant duplicate key \"ALG\""));
    assert_int_equal(parse("[{\"x\":{\"k\":1,\"k\":2}}]", &j, &eb), OPC_ERR_PARSE);
    /* Same key in sibling objects is fine. */
    assert_int_equal(parse("[{\"k\":1},{\"k\":2}]", &j, &eb), OPC_OK);
    cJSON_Delete(j);
}

static void test_json_parse_rejects_bad_text(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "   ",
        "{",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "{'a':1}",
        "[1,]",
        "\"a\\u0000b\"",
        "\"tab\there\"",
        "\"\xff\"",
        "\"\xc0\xaf\"",             /* overlong */
        "\"\xed\xa0\x80\"",         /* surrogate */
        "{\"\xfe\":1}",
        "\"\\ud800\"",              /* lone surrogate escape */
        "1e999",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        cJSON *j = NULL;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc_err rc = parse(bad[i], &j, &eb);
        if (rc == OPC_OK) {
            fail_msg("accepted bad JSON #%zu", i);
        }
        assert_null(j);
        assert_true(strncmp(eb.msg, "invalid JSON", 12) == 0);
    }
    /* An embedded NUL byte within the length. */
    cJSON *j = NULL;
    assert_int_equal(opc__json_parse("[1]\0", 4, NULL, &j, NULL), OPC_ERR_PARSE);
}

static void test_json_parse_enforces_limits(void **state)
{
    (void)state;
    cJSON *j = NULL;
    opc__ebuf eb;
    opc__json_limits lim = {.max_size = 8, .max_depth = 2};
    assert_int_equal(opc__json_parse("[1,2,3,4,5]", 11, &lim, &j, &eb), OPC_ERR_TOO_LARGE);
    lim.max_size = 0;
    assert_int_equal(opc__json_parse("[[[1]]]", 7, &lim, &j, &eb), OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "deeper than 2"));
    assert_int_equal(opc__json_parse("[[1]]", 5, &lim, &j, &eb), OPC_OK);
    cJSON_Delete(j);
    /* Brackets inside strings do not count. */
    assert_int_equal(opc__json_parse("[\"[[[[\"]", 8, &lim, &j, &eb), OPC_OK);
    cJSON_Delete(j);
}

static void test_json_getters_check_types(void **state)
{
    (void)state;
    cJSON *j = NULL;
    assert_int_equal(parse("{\"s\":\"x\",\"i\":42,\"f\":1.5,\"b\":true,\"big\":9007199254740992,"
                           "\"neg\":-3,\"Key\":1}",
                           &j, NULL),
                     OPC_OK);
    opc__ebuf eb;
    const char *s = NULL;
    int64_t i = 0;
    bool b = false;
    assert_int_equal(opc__json_get_str(j, "i", true, "thing", &s, &eb), OPC_ERR_PARSE);
    assert_string_equal(eb.msg, "thing: \"i\" must be a string");
    assert_int_equal(opc__json_get_str(j, "zz", true, "thing", &s, &eb), OPC_ERR_PARSE);
    assert_string_equal(eb.msg, "thing: missing \"zz\"");
    assert_int_equal(opc__json_get_str(j, "zz", false, "thing", &s, &eb), OPC_OK);
    assert_null(s);
    assert_int_equal(opc__json_get_int(j, "i", true, "t", 0, 100, &i, &eb), OPC_OK);
    assert_true(i == 42);
    assert_int_equal(opc__json_get_int(j, "i", true, "t", 0, 10, &i, &eb), OPC_ERR_RANGE);
    assert_int_equal(opc__json_get_int(j, "f", true, "t", 0, 10, &i, &eb), OPC_ERR_PARSE);
    assert_int_equal(opc__json_get_int(j, "big", true, "t", 0, INT64_MAX, &i, &eb),
                     OPC_ERR_PARSE);
    assert_int_equal(opc__json_get_int(j, "neg", true, "t", -5, 5, &i, &eb), OPC_OK);
    assert_true(i == -3);
    assert_int_equal(opc__json_get_bool(j, "b", true, "t", &b, &eb), OPC_OK);
    assert_true(b);
    assert_int_equal(opc__json_get_bool(j, "i", true, "t", &b, &eb), OPC_ERR_PARSE);
    /* Lookups are case-sensitive. */
    assert_null(opc__json_member(j, "key"));
    assert_non_null(opc__json_member(j, "Key"));
    const char *const allowed[] = {"s", "i", "f", "b", "big", "neg", NULL};
    assert_int_equal(opc__json_only_members(j, allowed, "t", &eb), OPC_ERR_PARSE);
    assert_string_equal(eb.msg, "t: unexpected member \"Key\"");
    cJSON_Delete(j);
}

static void test_json_print_and_secret_delete(void **state)
{
    (void)state;
    cJSON *j = NULL;
    assert_int_equal(parse("{ \"a\" : [ 1 , \"two\" ] }", &j, NULL), OPC_OK);
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(opc__json_print(j, &out, &n), OPC_OK);
    assert_string_equal(out, "{\"a\":[1,\"two\"]}");
    assert_int_equal(n, strlen(out));
    opc_free(out);
    opc__json_delete_secret(j);
    opc__json_delete_secret(NULL);
}

static void test_json_utf8_validation(void **state)
{
    (void)state;
    assert_true(opc__utf8_valid("", 0));
    assert_true(opc__utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x94\x91", 15));
    assert_false(opc__utf8_valid("\x80", 1));
    assert_false(opc__utf8_valid("\xc3", 1));
    assert_false(opc__utf8_valid("\xe0\x80\x80", 3));
    assert_false(opc__utf8_valid("\xf4\x90\x80\x80", 4));
    assert_false(opc__utf8_valid("\xf8\x88\x80\x80\x80", 5));
}

/* check_printed(tree) answers what parse(print(tree)) answers, message included. */
static void assert_as_printed(const cJSON *tree, const opc__json_limits *lim, opc_err want)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(opc__json_print(tree, &text, &len), OPC_OK);
    opc__ebuf by_text;
    opc__ebuf by_tree;
    opc__ebuf_clear(&by_text);
    opc__ebuf_clear(&by_tree);
    cJSON *back = NULL;
    assert_int_equal(opc__json_parse(text, len, lim, &back, &by_text), want);
    assert_int_equal(opc__json_check_printed(tree, lim, &by_tree), want);
    assert_string_equal(by_tree.msg, by_text.msg);
    cJSON_Delete(back);
    opc_free(text);
}

static cJSON *nest(int levels, cJSON *inner)
{
    for (int i = 0; i < levels; i++) {
        cJSON *a = cJSON_CreateArray();
        assert_non_null(a);
        if (inner != NULL) {
            cJSON_AddItemToArray(a, inner);
        }
        inner = a;
    }
    return inner;
}

static void test_json_check_printed_measures_as_cjson_prints(void **state)
{
    (void)state;
    char controls[40];
    for (int c = 1; c < 32; c++) {
        controls[c - 1] = (char)c;
    }
    memcpy(controls + 31, "\"\\/\x7f\xc3\xa9", 7);
    controls[38] = '\0';
    cJSON *j = cJSON_CreateObject();
    assert_non_null(j);
    cJSON_AddStringToObject(j, controls, controls);
    cJSON_AddStringToObject(j, "", "");
    static const double numbers[] = {
        0,       1,     -17,       2147483647.0,         2147483648.0, -2147483649.0,     0.1,
        1.0 / 3, 1e300, -2.5e-300, 123456789012345678.0, 3.14159,      9007199254740993.0};
    cJSON *nums = cJSON_AddArrayToObject(j, "n");
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        cJSON_AddItemToArray(nums, cJSON_CreateNumber(numbers[i]));
    }
    cJSON_AddTrueToObject(j, "t");
    cJSON_AddFalseToObject(j, "f");
    cJSON_AddNullToObject(j, "z");
    cJSON_AddObjectToObject(j, "o");
    cJSON_AddItemToObject(j, "deep", nest(3, cJSON_CreateString("x")));
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(opc__json_print(j, &text, &len), OPC_OK);
    opc_free(text);
    /* Exactly at the size limit, and one byte under it. */
    opc__json_limits lim = {.max_size = len, .max_depth = 0};
    assert_as_printed(j, &lim, OPC_OK);
    assert_as_printed(j, NULL, OPC_OK);
    lim.max_size = len - 1;
    assert_as_printed(j, &lim, OPC_ERR_TOO_LARGE);
    /* Too deep: the offset of the first bracket past the limit. */
    lim.max_size = 0;
    lim.max_depth = 4;
    assert_as_printed(j, &lim, OPC_OK);
    lim.max_depth = 3;
    assert_as_printed(j, &lim, OPC_ERR_PARSE);
    cJSON_Delete(j);
    /* An empty array counts as a level, as its bracket does in text. */
    j = nest(5, NULL);
    lim.max_depth = 5;
    assert_as_printed(j, &lim, OPC_OK);
    lim.max_depth = 4;
    assert_as_printed(j, &lim, OPC_ERR_PARSE);
    /* Size comes before depth, as in the parser. */
    lim.max_size = 9;
    assert_as_printed(j, &lim, OPC_ERR_TOO_LARGE);
    cJSON_Delete(j);
}

static void test_json_check_printed_applies_the_strict_rules(void **state)
{
    (void)state;
    cJSON *j = cJSON_CreateObject();
    assert_non_null(j);
    cJSON_AddNumberToObject(j, "k", 1);
    cJSON_AddNumberToObject(j, "K", 2);
    assert_as_printed(j, NULL, OPC_ERR_PARSE);
    cJSON_Delete(j);
    j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "k", 1);
    cJSON_AddNumberToObject(j, "k", 2);
    assert_as_printed(j, NULL, OPC_ERR_PARSE);
    cJSON_Delete(j);
    j = cJSON_CreateArray();
    cJSON_AddItemToArray(j, cJSON_CreateString("\xc3"));
    assert_as_printed(j, NULL, OPC_ERR_PARSE);
    cJSON_Delete(j);
    /* The documented difference: a number cJSON would print as null. */
    opc__ebuf eb;
    j = cJSON_CreateArray();
    cJSON_AddItemToArray(j, cJSON_CreateNumber(1e308 * 10));
    assert_int_equal(opc__json_check_printed(j, NULL, &eb), OPC_ERR_PARSE);
    assert_string_equal(eb.msg, "invalid JSON: number out of range");
    cJSON_Delete(j);
    j = cJSON_CreateRaw("{}");
    assert_int_equal(opc__json_check_printed(j, NULL, &eb), OPC_ERR_INVALID_ARG);
    cJSON_Delete(j);
    assert_int_equal(opc__json_check_printed(NULL, NULL, &eb), OPC_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_parse_accepts_valid),
        cmocka_unit_test(test_json_parse_rejects_duplicates),
        cmocka_unit_test(test_json_parse_rejects_bad_text),
        cmocka_unit_test(test_json_parse_enforces_limits),
        cmocka_unit_test(test_json_getters_check_types),
        cmocka_unit_test(test_json_print_and_secret_delete),
        cmocka_unit_test(test_json_utf8_validation),
        cmocka_unit_test(test_json_check_printed_measures_as_cjson_prints),
        cmocka_unit_test(test_json_check_printed_applies_the_strict_rules),
    };
    return cmocka_run_group_tests_name("json", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
