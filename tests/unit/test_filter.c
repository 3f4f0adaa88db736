/*
 * tests/unit/test_filter.c - the `filter` query parameter (view/filter.c):
 * every accepted form, form decoding ('+', %20, %22), case-insensitive
 * matching, and every rejection.
 */
#include "harness.h"

#include "core/alloc.h"
#include "view/filter.h"

/* Parse the filter out of a raw query string. */
static opc_err q(const char *query, opc__filter_target t, opc__filter *f)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__filter_from_query(query, t, f, &eb);
    if (rc != OPC_OK) {
        assert_string_equal(eb.msg, OPC_FILTER_ERROR);
    }
    return rc;
}

static void expect(const char *query, opc__filter_target t, opc__filter_kind kind,
                   const char *value)
{
    opc__filter f;
    opc_err rc = q(query, t, &f);
    if (rc != OPC_OK) {
        fail_msg("rejected: %s", query);
    }
    assert_int_equal(f.kind, kind);
    assert_string_equal(f.value, value);
    assert_int_equal(f.value_len, strlen(value));
}

static void reject(const char *query, opc__filter_target t)
{
    opc__filter f;
    if (q(query, t, &f) != OPC_ERR_PARSE) {
        fail_msg("accepted: %s", query);
    }
    assert_int_equal(f.kind, OPC_FILTER_NONE);
}

static void test_filter_vault_forms(void **state)
{
    (void)state;
    expect("filter=name%20eq%20%22Demo%20Vault%22", OPC_FILTER_VAULTS, OPC_FILTER_NAME_EQ,
           "Demo Vault");
    expect("filter=title+eq+%22Kubernetes%22", OPC_FILTER_VAULTS, OPC_FILTER_NAME_EQ, "Kubernetes");
    expect("filter=NAME+EQ+%22x%22", OPC_FILTER_VAULTS, OPC_FILTER_NAME_EQ, "x");
    expect("filter=Title+Eq+\"A+B\"", OPC_FILTER_VAULTS, OPC_FILTER_NAME_EQ, "A B");
    /* Vaults have no co or tag. */
    reject("filter=title+co+%22x%22", OPC_FILTER_VAULTS);
    reject("filter=tag+eq+%22x%22", OPC_FILTER_VAULTS);
}

static void test_filter_item_forms(void **state)
{
    (void)state;
    expect("filter=title+eq+%22secret1%22", OPC_FILTER_ITEMS, OPC_FILTER_TITLE_EQ, "secret1");
    expect("filter=title%20co%20%22sec%22", OPC_FILTER_ITEMS, OPC_FILTER_TITLE_CO, "sec");
    expect("filter=tag+eq+%22banking%22", OPC_FILTER_ITEMS, OPC_FILTER_TAG_EQ, "banking");
    expect("a=1&filter=tag+eq+%22b%22&z=2", OPC_FILTER_ITEMS, OPC_FILTER_TAG_EQ, "b");
    expect("filter=++title++eq++%22x%22++", OPC_FILTER_ITEMS, OPC_FILTER_TITLE_EQ, "x");
    expect("filter=title+eq+%22%22", OPC_FILTER_ITEMS, OPC_FILTER_TITLE_EQ, "");
    /* Escapes inside the value; a single quote is an ordinary character. */
    expect("filter=title+eq+%22a%5C%22b%5C%5Cc%22", OPC_FILTER_ITEMS, OPC_FILTER_TITLE_EQ,
           "a\"b\\c");
    expect("filter=title+eq+%22it%27s%22", OPC_FILTER_ITEMS, OPC_FILTER_TITLE_EQ, "it's");
    /* %2B is a literal plus. */
    expect("filter=title+eq+%22a%2Bb%22", OPC_FILTER_ITEMS, OPC_FILTER_TITLE_EQ, "a+b");
    /* Vault-only attribute. */
    reject("filter=name+eq+%22x%22", OPC_FILTER_ITEMS);
}

static void test_filter_absent(void **state)
{
    (void)state;
    opc__filter f;
    assert_int_equal(q(NULL, OPC_FILTER_ITEMS, &f), OPC_OK);
    assert_int_equal(f.kind, OPC_FILTER_NONE);
    assert_int_equal(q("", OPC_FILTER_ITEMS, &f), OPC_OK);
    assert_int_equal(f.kind, OPC_FILTER_NONE);
    assert_int_equal(q("filterx=1&xfilter=2", OPC_FILTER_ITEMS, &f), OPC_OK);
    assert_int_equal(f.kind, OPC_FILTER_NONE);
    assert_true(opc__filter_match(&f, "anything"));
}

static void test_filter_rejections(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "filter=",                        /* empty */
        "filter",                         /* no value */
        "filter=category+eq+%22LOGIN%22", /* unsupported attribute */
        "filter=title+ne+%22x%22",        /* unsupported operator */
        "filter=title+sw+%22x%22",
        "filter=title+pr",
        "filter=title+eq+x",                         /* unquoted */
        "filter=title+eq+%27x%27",                   /* single quotes */
        "filter=title+eq+%22x",                      /* unterminated */
        "filter=title+eq+%22x%22+or+tag+eq+%22y%22", /* trailing text */
        "filter=title+eq+%22x%22%22",
        "filter=title+eq+%22a%5Cnb%22", /* unknown escape */
        "filter=title+eq+%22a%5C",      /* escape at the end */
        "filter=title+eq%22x%22",       /* no space before the value */
        "filter=titleeq+%22x%22",
        "filter=%22title%22+eq+%22x%22",
        "filter=title+eq+%22x%2",     /* truncated %XX */
        "filter=title+eq+%22x%zz%22", /* bad %XX */
        "filter=title+eq+%22x%00%22", /* NUL byte */
        "filter=title+eq+%22%ff%22",  /* invalid UTF-8 */
        "filter=+",
        "filter=eq+%22x%22",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        reject(bad[i], OPC_FILTER_ITEMS);
    }
    /* Longer than OPC_FILTER_MAX_LEN. */
    char *big = malloc(OPC_FILTER_MAX_LEN + 64);
    assert_non_null(big);
    strcpy(big, "filter=title+eq+%22");
    size_t n = strlen(big);
    memset(big + n, 'a', OPC_FILTER_MAX_LEN);
    strcpy(big + n + OPC_FILTER_MAX_LEN, "%22");
    reject(big, OPC_FILTER_ITEMS);
    free(big);
}

static void test_filter_match_case_insensitive(void **state)
{
    (void)state;
    opc__filter f;
    assert_int_equal(q("filter=title+eq+%22Demo+Vault%22", OPC_FILTER_VAULTS, &f), OPC_OK);
    assert_true(opc__filter_match(&f, "demo vault"));
    assert_true(opc__filter_match(&f, "DEMO VAULT"));
    assert_false(opc__filter_match(&f, "demo vault2"));
    assert_false(opc__filter_match(&f, "demo"));
    assert_false(opc__filter_match(&f, NULL));
    assert_int_equal(q("filter=title+co+%22SeC%22", OPC_FILTER_ITEMS, &f), OPC_OK);
    assert_true(opc__filter_match(&f, "my secret"));
    assert_true(opc__filter_match(&f, "SEC"));
    assert_false(opc__filter_match(&f, "se c"));
    assert_false(opc__filter_match(&f, ""));
    assert_int_equal(q("filter=title+co+%22%22", OPC_FILTER_ITEMS, &f), OPC_OK);
    assert_true(opc__filter_match(&f, "anything"));
    /* Bytes above ASCII compare exactly. */
    assert_int_equal(q("filter=title+eq+%22%C3%A9t%C3%A9%22", OPC_FILTER_ITEMS, &f), OPC_OK);
    assert_true(opc__filter_match(&f, "\xc3\xa9T\xc3\xa9"));
    assert_false(opc__filter_match(&f, "\xc3\x89t\xc3\xa9"));
}

static void test_filter_query_param(void **state)
{
    (void)state;
    char out[16];
    size_t len = 0;
    bool found = false;
    assert_int_equal(opc__query_param("a=1&b=x+y%21", "b", out, sizeof out, &len, &found), OPC_OK);
    assert_true(found);
    assert_string_equal(out, "x y!");
    assert_int_equal(len, 4);
    assert_int_equal(opc__query_param("a=1&a=2", "a", out, sizeof out, &len, &found), OPC_OK);
    assert_string_equal(out, "1");
    assert_int_equal(opc__query_param("a=1", "b", out, sizeof out, &len, &found), OPC_OK);
    assert_false(found);
    /* Does not fit. */
    assert_int_equal(opc__query_param("a=0123456789abcdefg", "a", out, sizeof out, &len, &found),
                     OPC_ERR_PARSE);
}


/* The folded match (the index's titles and tags) answers as the plain one. */
static void test_filter_folded_agrees(void **state)
{
    (void)state;
    static const char *const exprs[] = {
        "title co \"WEB\"", "title co \"\"",    "title eq \"Web Login\"", "tag eq \"Ops\"",
        "title co \"\xc3\x89t\xc3\xa9\"", "title co \"b l\"", "title eq \"\"",
    };
    static const char *const subjects[] = {
        "Web Login", "web login", "WEB", "", "ops", "OPS", "\xc3\x89t\xc3\xa9 web",
        "\xc3\xa9t\xc3\xa9", "Bob Lee", "weB lOGIN", "x",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(exprs); i++) {
        opc__filter f;
        assert_int_equal(opc__filter_parse(exprs[i], strlen(exprs[i]), OPC_FILTER_ITEMS, &f, NULL),
                         OPC_OK);
        for (size_t k = 0; k < OPC_ARRAY_LEN(subjects); k++) {
            char *folded = opc__filter_fold(subjects[k], strlen(subjects[k]));
            assert_non_null(folded);
            bool plain = opc__filter_match(&f, subjects[k]);
            bool fast = opc__filter_match_folded(&f, folded, strlen(folded));
            if (plain != fast) {
                fail_msg("%s on \"%s\": %d plain, %d folded", exprs[i], subjects[k], plain, fast);
            }
            opc__free(folded);
        }
    }
    opc__filter none;
    memset(&none, 0, sizeof none);
    assert_true(opc__filter_match_folded(&none, NULL, 0));
}

typedef struct hits {
    size_t idx[16];
    size_t n;
    size_t stop_after;
} hits;

static bool on_hit(size_t i, void *ud)
{
    hits *h = ud;
    assert_true(h->n < 16);
    h->idx[h->n++] = i;
    return h->stop_after == 0 || h->n < h->stop_after;
}

/* Titles end to end: the same hits as matching each title, in order. */
static void test_filter_titles_scan(void **state)
{
    (void)state;
    static const char *const titles[] = {"Web Login", "harbor", "", "Harbor Bank", "x harbo",
                                         "rHarbor", "web login", "HARBORHARBOR"};
    size_t n = OPC_ARRAY_LEN(titles);
    char text[256];
    uint32_t off[16];
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        off[i] = (uint32_t)pos;
        char *folded = opc__filter_fold(titles[i], strlen(titles[i]));
        assert_non_null(folded);
        memcpy(text + pos, folded, strlen(folded) + 1);
        pos += strlen(folded) + 1;
        opc__free(folded);
    }
    off[n] = (uint32_t)pos;
    static const char *const exprs[] = {"title co \"harbor\"", "title eq \"web login\"",
                                        "title co \"\"", "title eq \"\"", "title co \"r\\\"\"",
                                        "title co \"borh\""};
    for (size_t e = 0; e < OPC_ARRAY_LEN(exprs); e++) {
        opc__filter f;
        assert_int_equal(opc__filter_parse(exprs[e], strlen(exprs[e]), OPC_FILTER_ITEMS, &f, NULL),
                         OPC_OK);
        hits h = {.n = 0};
        opc__filter_titles(&f, text, off, n, on_hit, &h);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (opc__filter_match(&f, titles[i])) {
                if (k >= h.n || h.idx[k] != i) {
                    fail_msg("%s: title %zu (%s) should be hit %zu", exprs[e], i, titles[i], k);
                }
                k++;
            }
        }
        assert_int_equal(k, h.n);
    }
    /* The callback stops the scan. */
    opc__filter f;
    assert_int_equal(opc__filter_parse("title co \"harbor\"", 17, OPC_FILTER_ITEMS, &f, NULL),
                     OPC_OK);
    hits h = {.stop_after = 2};
    opc__filter_titles(&f, text, off, n, on_hit, &h);
    assert_int_equal(h.n, 2);
    h = (hits){.n = 0};
    opc__filter_titles(&f, text, off, 0, on_hit, &h);
    assert_int_equal(h.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_vault_forms),
        cmocka_unit_test(test_filter_item_forms),
        cmocka_unit_test(test_filter_absent),
        cmocka_unit_test(test_filter_rejections),
        cmocka_unit_test(test_filter_match_case_insensitive),
        cmocka_unit_test(test_filter_query_param),
        cmocka_unit_test(test_filter_folded_agrees),
        cmocka_unit_test(test_filter_titles_scan),
    };
    return cmocka_run_group_tests_name("filter", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
