/*
 * The `filter` query parameter (view/filter.h): the input as a raw query
 * string for both targets, and as a decoded expression. Properties: a
 * rejection is OPC_ERR_PARSE, leaves kind NONE and says "invalid filter"
 * in printable ASCII (so it quotes no byte of the input above ASCII); an
 * accepted filter is a well-formed tree (children before the node count,
 * values NUL-terminated inside the pool, operators only where they belong)
 * whose comparisons the target allows; a single comparison's value matches
 * itself (and, for co, inside other text), and written back as a query
 * (percent-encoded, '"' and '\' escaped) parses to the same filter whenever
 * it fits the length limit; any filter written back in its canonical form
 * parses to something that is written back the same; matching the input
 * folded and not answers the same.
 */
#include "internal.h"

#include <stdio.h>

#include "fuzz_common.h"

#include "view/filter.h"
#include "core/alloc.h"
#include "core/err.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

static const char *words(opc__filter_kind k)
{
    switch (k) {
    case OPC_FILTER_NAME_EQ:
        return "name eq";
    case OPC_FILTER_TITLE_EQ:
        return "title eq";
    case OPC_FILTER_TITLE_CO:
        return "title co";
    case OPC_FILTER_TAG_EQ:
        return "tag eq";
    case OPC_FILTER_TAG_CO:
        return "tag co";
    case OPC_FILTER_CATEGORY_EQ:
        return "category eq";
    case OPC_FILTER_UPDATED_GT:
        return "updatedAt gt";
    case OPC_FILTER_UPDATED_LT:
        return "updatedAt lt";
    default:
        abort();
    }
}

static bool is_operator(uint8_t k)
{
    return k == OPC_FILTER_NOT || k == OPC_FILTER_AND || k == OPC_FILTER_OR;
}

static bool allowed(opc__filter_target t, uint8_t k)
{
    if (is_operator(k)) {
        return true;
    }
    if (t == OPC_FILTER_VAULTS) {
        return k == OPC_FILTER_NAME_EQ;
    }
    return k > OPC_FILTER_NAME_EQ && k < OPC_FILTER_NOT;
}

/* Write f back as "filter=<words> "<value>"", percent-encoded, and parse it. */
static void round_trip(const opc__filter *f, opc__filter_target t)
{
    const char *w = words(f->kind);
    size_t escaped = 0;
    for (size_t i = 0; i < f->value_len; i++) {
        escaped += f->value[i] == '"' || f->value[i] == '\\' ? 2 : 1;
    }
    size_t decoded = strlen(w) + 2 + escaped + 1;
    static char q[8 + 3 * (OPC_FILTER_MAX_LEN * 2 + 32) + 1];
    size_t o = (size_t)snprintf(q, sizeof q, "x=1&filter=");
    for (const char *c = w; *c != '\0'; c++) {
        q[o++] = *c == ' ' ? '+' : *c;
    }
    o += (size_t)snprintf(q + o, sizeof q - o, "+%%22");
    for (size_t i = 0; i < f->value_len; i++) {
        unsigned char c = (unsigned char)f->value[i];
        if (c == '"' || c == '\\') {
            o += (size_t)snprintf(q + o, sizeof q - o, "%%5C");
        }
        o += (size_t)snprintf(q + o, sizeof q - o, "%%%02X", c);
    }
    (void)snprintf(q + o, sizeof q - o, "%%22&filter=ignored");
    static opc__filter g;
    opc_err rc = opc__filter_from_query(q, t, &g, NULL);
    if (decoded > OPC_FILTER_MAX_LEN) {
        if (rc != OPC_ERR_PARSE) {
            abort();
        }
        return;
    }
    if (rc != OPC_OK || g.kind != f->kind || g.value_len != f->value_len ||
        memcmp(g.value, f->value, f->value_len + 1) != 0) {
        abort();
    }
}

/* ---- the canonical form: one space, lower-case words, parentheses only
 * where precedence needs them ---- */

typedef struct out {
    char s[8 * OPC_FILTER_MAX_LEN];
    size_t n;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->n + n >= sizeof o->s) {
        abort(); /* every form of a 1 KiB filter fits */
    }
    memcpy(o->s + o->n, s, n);
    o->n += n;
    o->s[o->n] = '\0';
}

static void put_str(out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void print_node(const opc__filter *f, uint16_t i, out *o);

/* Node i as an operand of an operator of kind parent. */
static void print_operand(const opc__filter *f, uint16_t i, uint8_t parent, out *o)
{
    uint8_t k = f->nodes[i].kind;
    bool group = (parent == OPC_FILTER_NOT && (k == OPC_FILTER_AND || k == OPC_FILTER_OR)) ||
                 (parent == OPC_FILTER_AND && k == OPC_FILTER_OR);
    put_str(o, group ? "(" : "");
    print_node(f, i, o);
    put_str(o, group ? ")" : "");
}

static void print_node(const opc__filter *f, uint16_t i, out *o)
{
    const opc__filter_node *n = &f->nodes[i];
    if (n->kind == OPC_FILTER_NOT) {
        put_str(o, "not ");
        print_operand(f, n->a, n->kind, o);
    } else if (n->kind == OPC_FILTER_AND || n->kind == OPC_FILTER_OR) {
        print_operand(f, n->a, n->kind, o);
        put_str(o, n->kind == OPC_FILTER_AND ? " and " : " or ");
        print_operand(f, n->b, n->kind, o);
    } else {
        put_str(o, words((opc__filter_kind)n->kind));
        put_str(o, " \"");
        for (size_t k = 0; k < n->len; k++) {
            char c = f->value[n->off + k];
            put_str(o, c == '"' ? "\\\"" : c == '\\' ? "\\\\" : "");
            put(o, &c, c == '"' || c == '\\' ? 0 : 1);
        }
        put_str(o, "\"");
    }
}

/* Canonical form -> parse -> canonical form: the same text. */
static void canonical_trip(const opc__filter *f, opc__filter_target t)
{
    static out a;
    static out b;
    static opc__filter g;
    a.n = 0;
    b.n = 0;
    print_node(f, f->root, &a);
    if (a.n > OPC_FILTER_MAX_LEN) {
        return;
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (opc__filter_parse(a.s, a.n, t, &g, &eb) != OPC_OK) {
        abort();
    }
    print_node(&g, g.root, &b);
    if (a.n != b.n || memcmp(a.s, b.s, a.n) != 0) {
        abort();
    }
}

static void check_tree(const opc__filter *f, opc__filter_target t)
{
    if (f->n_nodes == 0 || f->n_nodes > OPC_FILTER_MAX_NODES || f->root >= f->n_nodes ||
        f->kind != (opc__filter_kind)f->nodes[f->root].kind) {
        abort();
    }
    for (size_t i = 0; i < f->n_nodes; i++) {
        const opc__filter_node *n = &f->nodes[i];
        if (!allowed(t, n->kind)) {
            abort();
        }
        if (is_operator(n->kind)) {
            if (n->a >= f->n_nodes || (n->kind != OPC_FILTER_NOT && n->b >= f->n_nodes)) {
                abort();
            }
            continue;
        }
        if ((size_t)n->off + n->len > OPC_FILTER_MAX_LEN || f->value[n->off + n->len] != '\0' ||
            strlen(f->value + n->off) != n->len || strlen(f->folded + n->off) != n->len) {
            abort();
        }
    }
}

static void check_single(const opc__filter *f, opc__filter_target t)
{
    if (f->value[f->value_len] != '\0' || strlen(f->value) != f->value_len) {
        abort();
    }
    if (f->kind != OPC_FILTER_UPDATED_GT && f->kind != OPC_FILTER_UPDATED_LT &&
        !opc__filter_match(f, f->value)) {
        abort();
    }
    if (f->kind == OPC_FILTER_TITLE_CO || f->kind == OPC_FILTER_TAG_CO) {
        char s[OPC_FILTER_MAX_LEN + 3];
        (void)snprintf(s, sizeof s, "<%s>", f->value);
        if (!opc__filter_match(f, s)) {
            abort();
        }
    }
    round_trip(f, t);
}

/* The input as every attribute of a subject, folded and not. */
static void check_folded_agrees(const opc__filter *f, const char *s)
{
    size_t n = strlen(s);
    char *folded = opc__filter_fold(s, n);
    if (folded == NULL) {
        return;
    }
    if (opc__filter_match(f, s) != opc__filter_match_folded(f, folded, n)) {
        abort();
    }
    opc__free(folded);
}

static void check_message(const char *msg)
{
    if (strncmp(msg, "invalid filter", 14) != 0) {
        abort();
    }
    for (const char *c = msg; *c != '\0'; c++) {
        if (*c < 0x20 || *c > 0x7e) {
            abort();
        }
    }
}

static void check(opc_err rc, const opc__filter *f, const opc__ebuf *eb, opc__filter_target t,
                  bool from_query, const char *input)
{
    if (rc != OPC_OK) {
        if (rc != OPC_ERR_PARSE || f->kind != OPC_FILTER_NONE || f->n_nodes != 0) {
            abort();
        }
        check_message(eb->msg);
        return;
    }
    if (f->kind == OPC_FILTER_NONE) {
        if (!from_query || f->n_nodes != 0) {
            abort(); /* a bare expression is never "no filter" */
        }
        return;
    }
    check_tree(f, t);
    if (!is_operator((uint8_t)f->kind)) {
        check_single(f, t);
    } else if (f->value_len != 0) {
        abort();
    }
    canonical_trip(f, t);
    check_folded_agrees(f, input);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *query = malloc(size + 1);
    if (query == NULL) {
        return 0;
    }
    memcpy(query, data, size);
    query[size] = '\0';
    static const opc__filter_target targets[] = {OPC_FILTER_VAULTS, OPC_FILTER_ITEMS};
    static opc__filter f;
    for (size_t i = 0; i < 2; i++) {
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        check(opc__filter_from_query(query, targets[i], &f, &eb), &f, &eb, targets[i], true,
              query);
        opc__ebuf_clear(&eb);
        check(opc__filter_parse(query, size, targets[i], &f, &eb), &f, &eb, targets[i], false,
              query);
    }
    free(query);
    return 0;
}
