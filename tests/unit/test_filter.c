/*
 * tests/unit/test_filter.c - the `filter` query parameter (view/filter.c):
 * every accepted form (the SDKs' single comparisons kept as they were),
 * form decoding ('+', %20, %22), case-insensitive matching, and, operators,
 * parentheses, category, tag co and updatedAt: parse and match tables,
 * precedence, the nesting limit, and every rejection with its position.
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
        assert_true(strncmp(eb.msg, "invalid filter", 14) == 0);
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
        "filter=id+eq+%22x%22",           /* unsupported attribute */
        "filter=title+ne+%22x%22",        /* unsupported operator */
        "filter=title+sw+%22x%22",
        "filter=title+pr",
        "filter=title+eq+x",                         /* unquoted */
        "filter=title+eq+%27x%27",                   /* single quotes */
        "filter=title+eq+%22x",                      /* unterminated */
        "filter=title+eq+%22x%22+tag+eq+%22y%22", /* trailing text */
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

/* ---- expressions: and, or, not, parentheses, category, tag co, updatedAt ---- */

static void parse_ok(const char *expr, opc__filter_target t, opc__filter *f)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (opc__filter_parse(expr, strlen(expr), t, f, &eb) != OPC_OK) {
        fail_msg("rejected: %s (%s)", expr, eb.msg);
    }
}

static void expect_error_n(const char *expr, size_t len, opc__filter_target t, const char *msg)
{
    opc__filter f;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (opc__filter_parse(expr, len, t, &f, &eb) != OPC_ERR_PARSE) {
        fail_msg("accepted: %s", expr);
    }
    if (strcmp(eb.msg, msg) != 0) {
        fail_msg("%s:\n  got  \"%s\"\n  want \"%s\"", expr, eb.msg, msg);
    }
    assert_int_equal(f.kind, OPC_FILTER_NONE);
    assert_int_equal(f.n_nodes, 0);
    assert_true(opc__filter_match(&f, "x")); /* a rejected filter is left empty */
}

static void expect_error(const char *expr, opc__filter_target t, const char *msg)
{
    expect_error_n(expr, strlen(expr), t, msg);
}

#define ATTRS "expected an attribute: title, tag, category or updatedAt"

static void test_filter_error_positions(void **state)
{
    (void)state;
    static const struct {
        const char *expr;
        size_t at;        /* the position the message names */
        const char *what; /* the message after it */
    } cases[] = {
        {"", 0, "empty filter"},
        {"  \t ", 4, "empty filter"},
        {"id eq \"x\"", 0, ATTRS},
        {"\"title\" eq \"x\"", 0, ATTRS},
        {"title", 5, "expected an operator after 'title': eq or co"},
        {"title ne \"x\"", 6, "expected an operator after 'title': eq or co"},
        {"TAG sw \"x\"", 4, "expected an operator after 'tag': eq or co"},
        {"category co \"x\"", 9, "expected an operator after 'category': eq"},
        {"updatedAt eq \"2024-01-01T00:00:00Z\"",
         10, "expected an operator after 'updatedAt': gt or lt"},
        {"title (eq \"x\")", 6, "expected an operator after 'title': eq or co"},
        {"title eq", 8, "expected a string after 'eq'"},
        {"title eq x", 9, "expected a string after 'eq'"},
        {"title co (\"x\")", 9, "expected a string after 'co'"},
        {"title eq\"x\"", 8, "expected a space before a string"},
        {"title eq \"x", 9, "unterminated string"},
        {"title eq \"x\\\"", 9, "unterminated string"},
        {"title eq \"a\\nb\"", 11, "invalid escape in a string (only \\\" and \\\\)"},
        {"title eq \"a\\", 11, "invalid escape in a string (only \\\" and \\\\)"},
        {"title eq \"x\"and tag eq \"y\"",
         12, "expected a space or a parenthesis after a string"},
        {"title eq \"x\"\"\"", 12, "expected a space or a parenthesis after a string"},
        {"title eq \"x\" tag eq \"y\"",
         13, "expected 'and', 'or' or the end of the filter"},
        {"title eq \"x\" (", 13, "expected 'and', 'or' or the end of the filter"},
        {"title eq \"x\")", 12, "')' without a '('"},
        {"(title eq \"x\"", 13, "expected 'and', 'or' or ')' closing the '(' at 0"},
        {"tag eq \"a\" and ((tag eq \"b\") or tag eq \"c\"",
         42, "expected 'and', 'or' or ')' closing the '(' at 15"},
        {"()", 1, ATTRS},
        {"not", 3, ATTRS},
        {"not not", 7, ATTRS},
        {"title eq \"x\" or", 15, ATTRS},
        {"title eq \"x\" and or tag eq \"y\"", 17, ATTRS},
        {"and title eq \"x\"", 0, ATTRS},
        {"title eq \"x\" not tag eq \"y\"",
         13, "expected 'and', 'or' or the end of the filter"},
        {"updatedAt gt \"2024-13-01T00:00:00Z\"",
         13, "invalid time after 'gt': timestamp has an invalid date or time"},
        {"updatedAt lt \"yesterday\"",
         13, "invalid time after 'lt': timestamp is not RFC 3339 "
         "(YYYY-MM-DDTHH:MM:SSZ)"},
        {"updatedAt gt \"2024-01-01T00:00:00.5\"",
         13, "invalid time after 'gt': timestamp needs 'Z' or a UTC offset"},
        {"updatedAt gt \"2024-01-01T00:00:00+1:00\"",
         13, "invalid time after 'gt': timestamp has a malformed UTC offset"},
        {"updatedAt gt \"2024-01-01T00:00:00.Z\"",
         13, "invalid time after 'gt': timestamp fraction must have 1 to 9 digits"},
        {"tag eq \"a\" or updatedAt lt \"\"",
         27, "invalid time after 'lt': timestamp is not RFC 3339 "
         "(YYYY-MM-DDTHH:MM:SSZ)"},
        {"name eq \"x\"", 0, ATTRS},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(cases); i++) {
        char msg[OPC_ERRBUF_SIZE];
        (void)snprintf(msg, sizeof msg, "invalid filter at position %zu: %s", cases[i].at,
                       cases[i].what);
        expect_error(cases[i].expr, OPC_FILTER_ITEMS, msg);
    }
    expect_error("title co \"x\"", OPC_FILTER_VAULTS,
                 "invalid filter at position 6: expected an operator after 'title': eq");
    expect_error("name eq \"x\" or tag eq \"y\"", OPC_FILTER_VAULTS,
                 "invalid filter at position 15: expected an attribute: name or title");
    expect_error_n("title eq \"a\0\"", 13, OPC_FILTER_ITEMS,
                   "invalid filter at position 11: NUL byte");
    expect_error("title eq \"\xff\"", OPC_FILTER_ITEMS, "invalid filter: not valid UTF-8");
    char big[OPC_FILTER_MAX_LEN + 2];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_error(big, OPC_FILTER_ITEMS, "invalid filter: longer than 1024 bytes");
    opc__filter f;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__filter_from_query("filter=title+eq+%22%G1%22", OPC_FILTER_ITEMS, &f, &eb),
                     OPC_ERR_PARSE);
    assert_string_equal(eb.msg,
                        "invalid filter: a bad %-escape, a NUL byte or more than 1024 bytes");
}

/* No message quotes the client's text: values, unknown words, timestamps. */
static void test_filter_errors_quote_nothing(void **state)
{
    (void)state;
    static const char *const exprs[] = {
        "s3cr3tword eq \"x\"",
        "title s3cr3tword \"x\"",
        "title eq s3cr3tword",
        "title eq \"s3cr3tword",
        "title eq \"s3cr3tword\\q\"",
        "title eq \"s3cr3tword\"s3cr3tword",
        "title eq \"x\" s3cr3tword",
        "updatedAt gt \"s3cr3tword\"",
        "updatedAt gt \"2024-01-01T00:00:00Zs3cr3tword\"",
        "(title eq \"s3cr3tword\"",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(exprs); i++) {
        opc__filter f;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        assert_int_equal(opc__filter_parse(exprs[i], strlen(exprs[i]), OPC_FILTER_ITEMS, &f, &eb),
                         OPC_ERR_PARSE);
        if (strstr(eb.msg, "s3cr3t") != NULL ||
            strncmp(eb.msg, "invalid filter at position ", 27) != 0) {
            fail_msg("%s: %s", exprs[i], eb.msg);
        }
    }
}

typedef struct subject {
    const char *title;
    const char *tags[3];
    size_t n_tags;
    const char *category;
    int64_t updated;
} subject;

/* 2024-01-01T00:00:00Z */
#define NEW_YEAR INT64_C(1704067200)

static const subject items[] = {
    {"Web Login", {"Banking", "web"}, 2, "LOGIN", NEW_YEAR},
    {"Server Notes", {"ops"}, 1, "SECURE_NOTE", NEW_YEAR + 1},
    {"Two Factor", {NULL}, 0, "LOGIN", INT64_C(1700000000)},
    {"web api key", {"Ops-Team", "banking"}, 2, "API_CREDENTIAL", NEW_YEAR},
};

/* Which items pass f (bit i: items[i]), matched folded and not: the two
 * must agree. */
static unsigned passing(const opc__filter *f, const char *expr)
{
    unsigned mask = 0;
    for (size_t i = 0; i < OPC_ARRAY_LEN(items); i++) {
        const subject *it = &items[i];
        opc__filter_subject plain = {it->title, strlen(it->title), it->tags, it->n_tags,
                                     it->category, it->updated, false};
        char *title = opc__filter_fold(it->title, strlen(it->title));
        char *cat = opc__filter_fold(it->category, strlen(it->category));
        char *tags[3] = {NULL, NULL, NULL};
        for (size_t k = 0; k < it->n_tags; k++) {
            tags[k] = opc__filter_fold(it->tags[k], strlen(it->tags[k]));
            assert_non_null(tags[k]);
        }
        assert_non_null(title);
        assert_non_null(cat);
        opc__filter_subject folded = {title, strlen(title), (const char *const *)tags,
                                      it->n_tags, cat, it->updated, true};
        bool a = opc__filter_eval(f, &plain);
        bool b = opc__filter_eval(f, &folded);
        if (a != b) {
            fail_msg("%s on \"%s\": %d plain, %d folded", expr, it->title, a, b);
        }
        mask |= a ? 1u << i : 0u;
        for (size_t k = 0; k < it->n_tags; k++) {
            opc__free(tags[k]);
        }
        opc__free(title);
        opc__free(cat);
    }
    return mask;
}

static void test_filter_match_table(void **state)
{
    (void)state;
    static const struct {
        const char *expr;
        unsigned mask; /* bit i: items[i] passes */
    } cases[] = {
        /* the single comparisons */
        {"title eq \"web login\"", 0x1},
        {"title co \"WEB\"", 0x9},
        {"tag eq \"ops\"", 0x2},
        {"tag eq \"op\"", 0x0},
        {"tag co \"OPS\"", 0xa},
        {"tag co \"\"", 0xb}, /* some tag: an item without tags has none */
        {"tag co \"s-t\"", 0x8},
        {"category eq \"login\"", 0x5},
        {"CATEGORY EQ \"Secure_Note\"", 0x2},
        {"category eq \"LOG\"", 0x0},
        {"updatedAt gt \"2024-01-01T00:00:00Z\"", 0x2},
        {"updatedAt lt \"2024-01-01T00:00:00Z\"", 0x4},
        {"updatedat GT \"2023-12-31T23:59:59.999Z\"", 0xb},
        {"updatedAt lt \"2024-01-01T00:00:00.000001Z\"", 0xd},
        {"updatedAt gt \"2024-01-01T01:00:00+01:00\"", 0x2},
        {"updatedAt lt \"2023-12-31T19:00:00.5-05:00\"", 0xd},
        {"updatedAt gt \"2024-01-01t00:00:00.999999999z\"", 0x2},
        {"updatedAt gt \"0001-01-01T00:00:00Z\"", 0xf},
        {"updatedAt lt \"0001-01-01T00:00:00Z\"", 0x0},
        /* precedence: not > and > or */
        {"title co \"web\" or tag eq \"ops\" and category eq \"LOGIN\"", 0x9},
        {"(title co \"web\" or tag eq \"ops\") and category eq \"LOGIN\"", 0x1},
        {"category eq \"LOGIN\" and tag eq \"ops\" or title co \"web\"", 0x9},
        {"category eq \"LOGIN\" and (tag eq \"ops\" or title co \"web\")", 0x1},
        {"tag eq \"ops\" or category eq \"login\" and title co \"two\" or title eq \"web api key\"",
         0xe},
        {"not title co \"web\"", 0x6},
        {"not title co \"web\" and category eq \"login\"", 0x4},
        {"not (title co \"web\" and category eq \"login\")", 0xe},
        {"not title co \"web\" or tag eq \"banking\"", 0xf},
        {"not not tag eq \"ops\"", 0x2},
        {"not not not tag eq \"ops\"", 0xd},
        {"NOT(tag eq \"ops\")OR(tag eq \"web\")", 0xd},
        {"TITLE CO \"web\" AND NOT TAG EQ \"banking\"", 0x0},
        {"title co \"web\" And Not tag eq \"ops-team\"", 0x1},
        {"tag eq \"ops\" or tag eq \"banking\" or category eq \"LOGIN\"", 0xf},
        {"category eq \"login\" and tag eq \"banking\" and title co \"web\"", 0x1},
        {"((((title eq \"two factor\"))))", 0x4},
        {" ( not ( tag co \"\" ) ) ", 0x4},
        {"updatedAt gt \"2023-12-31T00:00:00Z\" and updatedAt lt \"2024-01-01T00:00:01Z\"", 0x9},
        {"(title co \"(\" or title co \")\") or title co \" and \"", 0x0},
        {"title co \"b l\" or title co \"r n\"", 0x3},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(cases); i++) {
        opc__filter f;
        parse_ok(cases[i].expr, OPC_FILTER_ITEMS, &f);
        unsigned got = passing(&f, cases[i].expr);
        if (got != cases[i].mask) {
            fail_msg("%s: items 0x%x pass, want 0x%x", cases[i].expr, got, cases[i].mask);
        }
    }
}

/* What the parse keeps: one comparison (in parentheses or not) is its own
 * kind with its value at the front (the title scan answers it); anything
 * else is an operator at the root. */
static void test_filter_parse_shapes(void **state)
{
    (void)state;
    opc__filter f;
    parse_ok("((title co \"Harbor\"))", OPC_FILTER_ITEMS, &f);
    assert_int_equal(f.kind, OPC_FILTER_TITLE_CO);
    assert_string_equal(f.value, "Harbor");
    assert_string_equal(f.folded, "harbor");
    assert_int_equal(f.value_len, 6);
    assert_true(opc__filter_titles_only(&f));
    parse_ok("tag co \"x\"", OPC_FILTER_ITEMS, &f);
    assert_int_equal(f.kind, OPC_FILTER_TAG_CO);
    assert_false(opc__filter_titles_only(&f));
    parse_ok("category eq \"Login\"", OPC_FILTER_ITEMS, &f);
    assert_int_equal(f.kind, OPC_FILTER_CATEGORY_EQ);
    assert_string_equal(f.value, "Login");
    parse_ok("updatedAt gt \"2024-01-01T00:00:00.25+00:30\"", OPC_FILTER_ITEMS, &f);
    assert_int_equal(f.kind, OPC_FILTER_UPDATED_GT);
    assert_int_equal(f.nodes[f.root].at_us, (NEW_YEAR - 1800) * 1000000 + 250000);
    parse_ok("title eq \"a\" or title eq \"b\"", OPC_FILTER_ITEMS, &f);
    assert_int_equal(f.kind, OPC_FILTER_OR);
    assert_int_equal(f.value_len, 0);
    assert_int_equal(f.n_nodes, 3);
    assert_false(opc__filter_titles_only(&f));
    parse_ok("not title eq \"a\"", OPC_FILTER_ITEMS, &f);
    assert_int_equal(f.kind, OPC_FILTER_NOT);
    assert_false(opc__filter_titles_only(&f));
    /* Values with escapes, parentheses and keywords stay values. */
    parse_ok("tag eq \"a\\\"(b)\\\\\" and title eq \" or not \"", OPC_FILTER_ITEMS, &f);
    assert_int_equal(f.kind, OPC_FILTER_AND);
    const opc__filter_node *a = &f.nodes[f.nodes[f.root].a];
    const opc__filter_node *b = &f.nodes[f.nodes[f.root].b];
    assert_string_equal(f.value + a->off, "a\"(b)\\");
    assert_int_equal(a->len, 6);
    assert_string_equal(f.value + b->off, " or not ");
    /* Vaults take the operators too. */
    parse_ok("not name eq \"a\" and (title eq \"b\" or NAME EQ \"c\")", OPC_FILTER_VAULTS, &f);
    assert_true(opc__filter_match(&f, "B"));
    assert_true(opc__filter_match(&f, "c"));
    assert_false(opc__filter_match(&f, "a"));
    assert_false(opc__filter_match(&f, "d"));
}

/* lead, n copies of unit, inner, closes ')' (malloc). */
static char *nested(const char *lead, const char *unit, size_t n, const char *inner, size_t closes)
{
    size_t len = strlen(lead) + strlen(unit) * n + strlen(inner) + closes;
    char *s = malloc(len + 1);
    assert_non_null(s);
    strcpy(s, lead);
    for (size_t i = 0; i < n; i++) {
        strcat(s, unit);
    }
    strcat(s, inner);
    memset(s + len - closes, ')', closes);
    s[len] = '\0';
    return s;
}

static void test_filter_nesting_limit(void **state)
{
    (void)state;
    static const struct {
        const char *lead, *unit;
        size_t n;
        const char *inner;
        size_t closes;
        int at;        /* the position of the refusal; -1: accepted */
        unsigned mask; /* accepted: the items that pass */
    } cases[] = {
        {"", "(", 32, "tag eq \"ops\"", 32, -1, 0x2},
        {"", "(", 33, "tag eq \"ops\"", 33, 32, 0},
        {"", "not ", 32, "tag eq \"ops\"", 0, -1, 0x2},
        {"", "not ", 31, "tag eq \"ops\"", 0, -1, 0xd},
        {"tag eq \"a\" or ", "NOT ", 33, "tag eq \"ops\"", 0, 14 + 32 * 4, 0},
        {"", "not (", 16, "tag eq \"ops\"", 16, -1, 0x2},
        {"", "not (", 16, "(tag eq \"ops\"", 17, 80, 0},
        /* Depth is nesting, not length: groups side by side are fine. */
        {"tag eq \"x\"", " or (tag eq \"ops\")", 40, "", 0, -1, 0x2},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(cases); i++) {
        char *expr = nested(cases[i].lead, cases[i].unit, cases[i].n, cases[i].inner,
                            cases[i].closes);
        if (cases[i].at >= 0) {
            char want[128];
            (void)snprintf(want, sizeof want,
                           "invalid filter at position %d: nested deeper than 32 levels",
                           cases[i].at);
            expect_error(expr, OPC_FILTER_ITEMS, want);
        } else {
            opc__filter f;
            parse_ok(expr, OPC_FILTER_ITEMS, &f);
            assert_int_equal(passing(&f, expr), cases[i].mask);
        }
        free(expr);
    }
    /* A single comparison in parentheses is still one comparison. */
    char *expr = nested("", "(", 32, "tag eq \"ops\"", 32);
    opc__filter f;
    parse_ok(expr, OPC_FILTER_ITEMS, &f);
    assert_int_equal(f.kind, OPC_FILTER_TAG_EQ);
    free(expr);
}

/* Long chains: every operand counts, whatever its place. */
static void test_filter_long_chains(void **state)
{
    (void)state;
    char expr[OPC_FILTER_MAX_LEN + 1];
    size_t o = 0;
    size_t n = 0;
    while (o + 20 < sizeof expr) {
        o += (size_t)snprintf(expr + o, sizeof expr - o, "%stag eq \"t%zu\"", n > 0 ? " or " : "",
                              n);
        n++;
    }
    opc__filter f;
    parse_ok(expr, OPC_FILTER_ITEMS, &f);
    assert_int_equal(f.n_nodes, 2 * n - 1);
    for (size_t i = 0; i < n + 2; i++) {
        char tag[32];
        (void)snprintf(tag, sizeof tag, "T%zu", i);
        assert_int_equal(opc__filter_match(&f, tag), i < n);
    }
    /* and: the first failing operand, wherever it is, fails the chain. */
    o = 0;
    for (size_t i = 0; i < 40; i++) {
        o += (size_t)snprintf(expr + o, sizeof expr - o, "%stitle co \"%c\"", i > 0 ? " and " : "",
                              'a' + (int)(i % 26));
    }
    parse_ok(expr, OPC_FILTER_ITEMS, &f);
    assert_true(opc__filter_match(&f, "the quick brown fox jumps over a lazy dog"));
    assert_false(opc__filter_match(&f, "the quick brown fox jumps over a lay dog"));
    assert_false(opc__filter_match(&f, "bcdefghijklmnopqrstuvwxyz"));
    /* The densest filter the length allows (filter.h): 7 chains of 32 nots
     * before a comparison and one of 7, joined by or: 246 nodes. */
    o = 0;
    for (size_t i = 0; i < 8; i++) {
        o += (size_t)snprintf(expr + o, sizeof expr - o, "%s", i > 0 ? " or " : "");
        for (size_t k = 0; k < (i < 7 ? 32u : 7u); k++) {
            o += (size_t)snprintf(expr + o, sizeof expr - o, "not ");
        }
        o += (size_t)snprintf(expr + o, sizeof expr - o, "tag eq \"\"");
    }
    assert_int_equal(o, OPC_FILTER_MAX_LEN);
    parse_ok(expr, OPC_FILTER_ITEMS, &f);
    assert_int_equal(f.n_nodes, 246);
    assert_true(f.n_nodes <= OPC_FILTER_MAX_NODES);
    assert_true(opc__filter_match(&f, "")); /* 32 nots leave tag eq "" as it was */
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
        cmocka_unit_test(test_filter_error_positions),
        cmocka_unit_test(test_filter_errors_quote_nothing),
        cmocka_unit_test(test_filter_match_table),
        cmocka_unit_test(test_filter_parse_shapes),
        cmocka_unit_test(test_filter_nesting_limit),
        cmocka_unit_test(test_filter_long_chains),
    };
    return cmocka_run_group_tests_name("filter", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
