/*
 * view/filter.c - `filter` parsing and form-urlencoded query decoding (see
 * filter.h for the grammar and the accepted forms).
 */
#define _GNU_SOURCE /* memmem */
#include "internal.h"

#include <string.h>

#include "view/filter.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/strparse.h"
#include "core/time.h"

opc_err opc__query_param(const char *query, const char *name, char *out, size_t out_size,
                         size_t *out_len, bool *found)
{
    *found = false;
    *out_len = 0;
    if (out_size > 0) {
        out[0] = '\0';
    }
    if (query == NULL || name == NULL || out == NULL || out_size == 0) {
        return query == NULL ? OPC_OK : OPC_ERR_INVALID_ARG;
    }
    size_t name_len = strlen(name);
    const char *p = query;
    while (*p != '\0') {
        const char *end = strchr(p, '&');
        size_t seg = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', seg);
        size_t key_len = eq != NULL ? (size_t)(eq - p) : seg;
        if (key_len == name_len && memcmp(p, name, name_len) == 0) {
            *found = true;
            if (eq == NULL) {
                return OPC_OK;
            }
            opc_err rc = opc__form_decode(eq + 1, seg - key_len - 1, out, out_size, out_len,
                                          "query", NULL);
            return rc == OPC_OK ? OPC_OK : OPC_ERR_PARSE;
        }
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    return OPC_OK;
}

static bool word_is(const char *s, size_t n, const char *w)
{
    if (strlen(w) != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (opc__to_lower((unsigned char)s[i]) != (unsigned char)w[i]) {
            return false;
        }
    }
    return true;
}

/* The comparisons each target accepts: attribute and operator as matched
 * (lower case); for the messages, the attribute as spelt and all its
 * operators. */
typedef struct cmp_def {
    const char *attr;
    const char *op;
    const char *shown;
    const char *ops;
    opc__filter_target target;
    opc__filter_kind kind;
} cmp_def;

static const cmp_def cmps[] = {
    {"name", "eq", "name", "eq", OPC_FILTER_VAULTS, OPC_FILTER_NAME_EQ},
    {"title", "eq", "title", "eq", OPC_FILTER_VAULTS, OPC_FILTER_NAME_EQ},
    {"title", "eq", "title", "eq or co", OPC_FILTER_ITEMS, OPC_FILTER_TITLE_EQ},
    {"title", "co", "title", "eq or co", OPC_FILTER_ITEMS, OPC_FILTER_TITLE_CO},
    {"tag", "eq", "tag", "eq or co", OPC_FILTER_ITEMS, OPC_FILTER_TAG_EQ},
    {"tag", "co", "tag", "eq or co", OPC_FILTER_ITEMS, OPC_FILTER_TAG_CO},
    {"category", "eq", "category", "eq", OPC_FILTER_ITEMS, OPC_FILTER_CATEGORY_EQ},
    {"updatedat", "gt", "updatedAt", "gt or lt", OPC_FILTER_ITEMS, OPC_FILTER_UPDATED_GT},
    {"updatedat", "lt", "updatedAt", "gt or lt", OPC_FILTER_ITEMS, OPC_FILTER_UPDATED_LT},
};

_Static_assert(sizeof(opc__filter_node) == 16, "a filter's nodes stay small (filter.h)");

typedef enum tok_kind { T_END, T_OPEN, T_CLOSE, T_WORD, T_STRING } tok_kind;

typedef struct parser {
    const char *s;
    size_t len;
    opc__filter_target target;
    opc__filter *f;
    opc__ebuf *eb;
    size_t pool; /* bytes of f->value in use */
    tok_kind tok; /* the current token: s[at, end) */
    size_t at;
    size_t end;
} parser;

/* The start of every message with a position. The parser recurses per
 * level of nesting on a request thread's small stack, so messages are
 * formatted by opc__fail itself, not in buffers of the recursive frames. */
#define AT "invalid filter at position %zu: "

static opc_err fail_at(const parser *p, size_t at, const char *what)
{
    return opc__fail(p->eb, OPC_ERR_PARSE, AT "%s", at, what);
}

static bool ends_token(char c)
{
    return opc__is_space((unsigned char)c) || c == '(' || c == ')';
}

/* A string from its opening quote at p->at: escapes checked, its end set. */
static opc_err lex_string(parser *p)
{
    size_t k = p->at + 1;
    while (k < p->len && p->s[k] != '"') {
        if (p->s[k] == '\\') {
            if (k + 1 >= p->len || (p->s[k + 1] != '"' && p->s[k + 1] != '\\')) {
                return fail_at(p, k, "invalid escape in a string (only \\\" and \\\\)");
            }
            k++;
        }
        k++;
    }
    if (k >= p->len) {
        return fail_at(p, p->at, "unterminated string");
    }
    p->end = k + 1;
    if (p->end < p->len && !ends_token(p->s[p->end])) {
        return fail_at(p, p->end, "expected a space or a parenthesis after a string");
    }
    return OPC_OK;
}

/* Move to the next token. */
static opc_err next(parser *p)
{
    size_t i = p->end;
    while (i < p->len && opc__is_space((unsigned char)p->s[i])) {
        i++;
    }
    p->at = i;
    p->end = i;
    if (i == p->len) {
        p->tok = T_END;
        return OPC_OK;
    }
    char c = p->s[i];
    if (c == '(' || c == ')') {
        p->tok = c == '(' ? T_OPEN : T_CLOSE;
        p->end = i + 1;
        return OPC_OK;
    }
    if (c == '"') {
        p->tok = T_STRING;
        return lex_string(p);
    }
    p->tok = T_WORD;
    while (i < p->len && !ends_token(p->s[i]) && p->s[i] != '"') {
        i++;
    }
    p->end = i;
    if (i < p->len && p->s[i] == '"') {
        return fail_at(p, i, "expected a space before a string");
    }
    return OPC_OK;
}

static bool tok_is(const parser *p, const char *w)
{
    return p->tok == T_WORD && word_is(p->s + p->at, p->end - p->at, w);
}

static opc_err new_node(parser *p, opc__filter_kind kind, uint16_t *out)
{
    opc__filter *f = p->f;
    if (f->n_nodes >= OPC_FILTER_MAX_NODES) {
        return fail_at(p, p->at, "too many comparisons and operators");
    }
    *out = f->n_nodes++;
    memset(&f->nodes[*out], 0, sizeof f->nodes[*out]);
    f->nodes[*out].kind = (uint8_t)kind;
    return OPC_OK;
}

/* The current string token, unescaped into the value pool for node n. */
static void take_value(parser *p, opc__filter_node *n)
{
    opc__filter *f = p->f;
    size_t o = p->pool;
    for (size_t k = p->at + 1; k + 1 < p->end; k++) {
        char c = p->s[k];
        if (c == '\\') {
            c = p->s[++k];
        }
        f->value[o] = c; /* o < len <= OPC_FILTER_MAX_LEN: every string has two quotes */
        f->folded[o] = (char)opc__to_lower((unsigned char)c);
        o++;
    }
    f->value[o] = '\0';
    f->folded[o] = '\0';
    n->off = (uint16_t)p->pool;
    n->len = (uint16_t)(o - p->pool);
    p->pool = o + 1;
}

static const cmp_def *find_attr(const parser *p)
{
    for (size_t i = 0; i < OPC_ARRAY_LEN(cmps); i++) {
        if (cmps[i].target == p->target && tok_is(p, cmps[i].attr)) {
            return &cmps[i];
        }
    }
    return NULL;
}

static const cmp_def *find_op(const parser *p, const cmp_def *attr)
{
    for (size_t i = 0; i < OPC_ARRAY_LEN(cmps); i++) {
        if (cmps[i].target == p->target && strcmp(cmps[i].attr, attr->attr) == 0 &&
            tok_is(p, cmps[i].op)) {
            return &cmps[i];
        }
    }
    return NULL;
}

static opc_err take_time(parser *p, opc__filter_node *n, const cmp_def *c, size_t at)
{
    if (opc__time_parse(p->f->value + n->off, n->len, &n->at_us, p->eb) == OPC_OK) {
        return OPC_OK;
    }
    opc__ebuf_prefix(p->eb, AT "invalid time after '%s'", at, c->op);
    return OPC_ERR_PARSE;
}

/* attr op string */
static opc_err parse_cmp(parser *p, uint16_t *out)
{
    const cmp_def *attr = find_attr(p);
    if (attr == NULL) {
        return opc__fail(p->eb, OPC_ERR_PARSE, AT "expected an attribute: %s", p->at,
                         p->target == OPC_FILTER_VAULTS ? "name or title"
                                                        : "title, tag, category or updatedAt");
    }
    opc_err rc = next(p);
    const cmp_def *c = rc == OPC_OK ? find_op(p, attr) : NULL;
    if (rc == OPC_OK && c == NULL) {
        return opc__fail(p->eb, OPC_ERR_PARSE, AT "expected an operator after '%s': %s", p->at,
                         attr->shown, attr->ops);
    }
    if (rc == OPC_OK) {
        rc = next(p);
    }
    if (rc == OPC_OK && p->tok != T_STRING) {
        return opc__fail(p->eb, OPC_ERR_PARSE, AT "expected a string after '%s'", p->at, c->op);
    }
    if (rc == OPC_OK) {
        rc = new_node(p, c->kind, out);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    opc__filter_node *n = &p->f->nodes[*out];
    size_t at = p->at;
    take_value(p, n);
    if (c->kind == OPC_FILTER_UPDATED_GT || c->kind == OPC_FILTER_UPDATED_LT) {
        rc = take_time(p, n, c, at);
    }
    return rc == OPC_OK ? next(p) : rc;
}

static opc_err parse_chain(parser *p, unsigned depth, opc__filter_kind kind, uint16_t *out);

static opc_err deeper(const parser *p, unsigned depth)
{
    return depth < OPC_FILTER_MAX_DEPTH ? OPC_OK
                                        : fail_at(p, p->at, "nested deeper than 32 levels");
}

/* "(" or-expr ")" */
static opc_err parse_group(parser *p, unsigned depth, uint16_t *out)
{
    size_t open = p->at;
    opc_err rc = deeper(p, depth);
    if (rc == OPC_OK) {
        rc = next(p);
    }
    if (rc == OPC_OK) {
        rc = parse_chain(p, depth + 1, OPC_FILTER_OR, out);
    }
    if (rc == OPC_OK && p->tok != T_CLOSE) {
        return opc__fail(p->eb, OPC_ERR_PARSE,
                         AT "expected 'and', 'or' or ')' closing the '(' at %zu", p->at, open);
    }
    return rc == OPC_OK ? next(p) : rc;
}

/* "not" not-expr | primary */
static opc_err parse_not(parser *p, unsigned depth, uint16_t *out)
{
    if (p->tok == T_OPEN) {
        return parse_group(p, depth, out);
    }
    if (!tok_is(p, "not")) {
        return parse_cmp(p, out);
    }
    uint16_t n = 0;
    uint16_t a = 0;
    opc_err rc = deeper(p, depth);
    if (rc == OPC_OK) {
        rc = new_node(p, OPC_FILTER_NOT, &n);
    }
    if (rc == OPC_OK) {
        rc = next(p);
    }
    if (rc == OPC_OK) {
        rc = parse_not(p, depth + 1, &a);
    }
    if (rc == OPC_OK) {
        p->f->nodes[n].a = a;
        *out = n;
    }
    return rc;
}

static opc_err parse_operand(parser *p, unsigned depth, opc__filter_kind kind, uint16_t *out)
{
    return kind == OPC_FILTER_OR ? parse_chain(p, depth, OPC_FILTER_AND, out)
                                 : parse_not(p, depth, out);
}

/*
 * or-expr (kind OR) or and-expr (kind AND). The chain is built leaning
 * right (a op (b op c)), so matching walks it in a loop, recursing only
 * into operands: its depth is the nesting, not the chain's length.
 */
static opc_err parse_chain(parser *p, unsigned depth, opc__filter_kind kind, uint16_t *out)
{
    const char *word = kind == OPC_FILTER_OR ? "or" : "and";
    opc_err rc = parse_operand(p, depth, kind, out);
    bool first = true;
    uint16_t last = 0; /* the last operator node of the chain */
    while (rc == OPC_OK && tok_is(p, word)) {
        uint16_t n = 0;
        uint16_t rhs = 0;
        rc = new_node(p, kind, &n);
        if (rc == OPC_OK) {
            rc = next(p);
        }
        if (rc == OPC_OK) {
            rc = parse_operand(p, depth, kind, &rhs);
        }
        if (rc != OPC_OK) {
            break;
        }
        opc__filter_node *nodes = p->f->nodes;
        if (first) {
            nodes[n].a = *out;
            *out = n;
        } else {
            nodes[n].a = nodes[last].b;
            nodes[last].b = n;
        }
        nodes[n].b = rhs;
        last = n;
        first = false;
    }
    return rc;
}

static opc_err parse_all(parser *p)
{
    opc__filter *f = p->f;
    opc_err rc = next(p);
    if (rc == OPC_OK && p->tok == T_END) {
        return fail_at(p, p->at, "empty filter");
    }
    if (rc == OPC_OK) {
        rc = parse_chain(p, 0, OPC_FILTER_OR, &f->root);
    }
    if (rc == OPC_OK && p->tok != T_END) {
        return fail_at(p, p->at,
                       p->tok == T_CLOSE ? "')' without a '('"
                                         : "expected 'and', 'or' or the end of the filter");
    }
    return rc;
}

/* An empty filter (kind NONE), without clearing the whole pool and node
 * array: what is read of them is always written first. */
static void reset(opc__filter *f)
{
    f->kind = OPC_FILTER_NONE;
    f->value[0] = '\0';
    f->value_len = 0;
    f->folded[0] = '\0';
    f->root = 0;
    f->n_nodes = 0;
}

opc_err opc__filter_parse(const char *expr, size_t len, opc__filter_target target, opc__filter *f,
                          opc__ebuf *eb)
{
    reset(f);
    if (expr == NULL) {
        return opc__fail(eb, OPC_ERR_PARSE, "invalid filter: none given");
    }
    if (len > OPC_FILTER_MAX_LEN) {
        return opc__fail(eb, OPC_ERR_PARSE, "invalid filter: longer than %d bytes",
                         OPC_FILTER_MAX_LEN);
    }
    parser p = {expr, len, target, f, eb, 0, T_END, 0, 0};
    const char *nul = memchr(expr, '\0', len);
    if (nul != NULL) {
        return fail_at(&p, (size_t)(nul - expr), "NUL byte");
    }
    if (!opc__utf8_valid(expr, len)) {
        return opc__fail(eb, OPC_ERR_PARSE, "invalid filter: not valid UTF-8");
    }
    opc_err rc = parse_all(&p);
    if (rc != OPC_OK) {
        reset(f);
        return rc;
    }
    const opc__filter_node *root = &f->nodes[f->root];
    f->kind = (opc__filter_kind)root->kind;
    f->value_len = root->kind < OPC_FILTER_NOT ? root->len : 0;
    return OPC_OK;
}

opc_err opc__filter_from_query(const char *query, opc__filter_target target, opc__filter *f,
                               opc__ebuf *eb)
{
    char raw[OPC_FILTER_MAX_LEN + 1];
    size_t len = 0;
    bool found = false;
    reset(f);
    opc_err rc = opc__query_param(query, "filter", raw, sizeof raw, &len, &found);
    if (rc != OPC_OK) {
        return opc__fail(eb, OPC_ERR_PARSE,
                         "invalid filter: a bad %%-escape, a NUL byte or more than %d bytes",
                         OPC_FILTER_MAX_LEN);
    }
    if (!found) {
        return OPC_OK;
    }
    return opc__filter_parse(raw, len, target, f, eb);
}

static bool ieq_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (opc__to_lower((unsigned char)a[i]) != opc__to_lower((unsigned char)b[i])) {
            return false;
        }
    }
    return true;
}

/* s (n bytes) against comparison c's value: whole (eq) or inside (co). */
static bool match_str(const opc__filter *f, const opc__filter_node *c, const char *s, size_t n,
                      bool folded, bool co)
{
    if (s == NULL) {
        s = "";
        n = 0;
    }
    if (!co) {
        return n == c->len && (folded ? memcmp(s, f->folded + c->off, n) == 0
                                      : ieq_n(s, f->value + c->off, n));
    }
    if (c->len == 0 || folded) {
        return c->len == 0 || memmem(s, n, f->folded + c->off, c->len) != NULL;
    }
    for (size_t i = 0; i + c->len <= n; i++) {
        if (ieq_n(s + i, f->value + c->off, c->len)) {
            return true;
        }
    }
    return false;
}

static bool some_tag(const opc__filter *f, const opc__filter_node *c,
                     const opc__filter_subject *s, bool co)
{
    for (size_t i = 0; i < s->n_tags; i++) {
        const char *t = s->tags[i];
        if (match_str(f, c, t, t != NULL ? strlen(t) : 0, s->folded, co)) {
            return true;
        }
    }
    return false;
}

/* updatedAt (whole seconds) against the bound: -1 before, 0 at, 1 after. */
static int cmp_time(int64_t updated_s, int64_t at_us)
{
    int64_t q = at_us / 1000000; /* floor(at_us / 1e6), r its remainder in [0, 1e6) */
    int64_t r = at_us % 1000000;
    if (r < 0) {
        q--;
        r += 1000000;
    }
    if (updated_s != q) {
        return updated_s > q ? 1 : -1;
    }
    return r == 0 ? 0 : -1;
}

static bool compare(const opc__filter *f, const opc__filter_node *c, const opc__filter_subject *s)
{
    switch ((opc__filter_kind)c->kind) {
    case OPC_FILTER_NAME_EQ:
    case OPC_FILTER_TITLE_EQ:
    case OPC_FILTER_TITLE_CO:
        return match_str(f, c, s->title, s->title_len, s->folded, c->kind == OPC_FILTER_TITLE_CO);
    case OPC_FILTER_TAG_EQ:
    case OPC_FILTER_TAG_CO:
        return some_tag(f, c, s, c->kind == OPC_FILTER_TAG_CO);
    case OPC_FILTER_CATEGORY_EQ:
        return match_str(f, c, s->category, s->category != NULL ? strlen(s->category) : 0,
                         s->folded, false);
    case OPC_FILTER_UPDATED_GT:
        return cmp_time(s->updated_s, c->at_us) > 0;
    case OPC_FILTER_UPDATED_LT:
        return cmp_time(s->updated_s, c->at_us) < 0;
    default:
        return false;
    }
}

/* Node i; the right operands of a chain in a loop (parse_chain). */
static bool eval_node(const opc__filter *f, uint16_t i, const opc__filter_subject *s)
{
    for (;;) {
        const opc__filter_node *n = &f->nodes[i];
        switch ((opc__filter_kind)n->kind) {
        case OPC_FILTER_NOT:
            return !eval_node(f, n->a, s);
        case OPC_FILTER_AND:
            if (!eval_node(f, n->a, s)) {
                return false;
            }
            i = n->b;
            break;
        case OPC_FILTER_OR:
            if (eval_node(f, n->a, s)) {
                return true;
            }
            i = n->b;
            break;
        default:
            return compare(f, n, s);
        }
    }
}

bool opc__filter_eval(const opc__filter *f, const opc__filter_subject *s)
{
    if (f == NULL || f->kind == OPC_FILTER_NONE || f->n_nodes == 0) {
        return true;
    }
    return eval_node(f, f->root, s);
}

static bool match_as_every(const opc__filter *f, const char *s, size_t n, bool folded)
{
    if (s == NULL) {
        s = "";
        n = 0;
    }
    const char *const tags[1] = {s};
    opc__filter_subject subj = {s, n, tags, 1, s, 0, folded};
    return opc__filter_eval(f, &subj);
}

bool opc__filter_match(const opc__filter *f, const char *s)
{
    return match_as_every(f, s, s != NULL ? strlen(s) : 0, false);
}

bool opc__filter_match_folded(const opc__filter *f, const char *folded, size_t n)
{
    return match_as_every(f, folded, n, true);
}

bool opc__filter_titles_only(const opc__filter *f)
{
    return f == NULL || f->kind == OPC_FILTER_NONE || f->kind == OPC_FILTER_TITLE_EQ ||
           f->kind == OPC_FILTER_TITLE_CO;
}

char *opc__filter_fold(const char *s, size_t n)
{
    char *out = opc__malloc(n + 1);
    if (out != NULL) {
        for (size_t i = 0; i < n; i++) {
            out[i] = (char)opc__to_lower((unsigned char)s[i]);
        }
        out[n] = '\0';
    }
    return out;
}

/* The title holding byte pos: the last i with off[i] <= pos (from i = lo). */
static size_t title_at(const uint32_t *off, size_t lo, size_t n, size_t pos)
{
    size_t hi = n; /* off[hi] > pos */
    while (lo + 1 < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (off[mid] <= pos) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

void opc__filter_titles(const opc__filter *f, const char *text, const uint32_t *off, size_t n,
                        opc__filter_hit_fn hit, void *ud)
{
    if (n == 0) {
        return;
    }
    if (f == NULL || f->kind == OPC_FILTER_NONE ||
        (f->kind == OPC_FILTER_TITLE_CO && f->value_len == 0)) {
        for (size_t i = 0; i < n; i++) {
            if (!hit(i, ud)) {
                return;
            }
        }
        return;
    }
    if (f->kind == OPC_FILTER_TITLE_EQ) {
        for (size_t i = 0; i < n; i++) {
            size_t len = off[i + 1] - off[i] - 1;
            if (len == f->value_len && memcmp(text + off[i], f->folded, len) == 0 && !hit(i, ud)) {
                return;
            }
        }
        return;
    }
    size_t end = off[n];
    size_t pos = 0;
    size_t i = 0;
    while (pos < end) {
        const char *m = memmem(text + pos, end - pos, f->folded, f->value_len);
        if (m == NULL) {
            return;
        }
        i = title_at(off, i, n, (size_t)(m - text));
        if (!hit(i, ud)) {
            return;
        }
        pos = off[i + 1]; /* the next title */
    }
}
