/*
 * The `filter` query parameter (view/filter.h): the input as a raw query
 * string for both targets, and as a decoded expression. Properties: a
 * rejection is OPC_ERR_PARSE with OPC_FILTER_ERROR and leaves kind NONE;
 * an accepted filter has a kind its target allows and a NUL-terminated
 * value of value_len bytes; the value matches itself (and, for co, inside
 * other text); written back as a query (percent-encoded, '"' and '\'
 * escaped) it parses to the same filter whenever it fits the length limit.
 */
#include "internal.h"

#include <stdio.h>

#include "fuzz_common.h"

#include "view/filter.h"
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
    default:
        abort();
    }
}

static bool allowed(opc__filter_target t, opc__filter_kind k)
{
    if (t == OPC_FILTER_VAULTS) {
        return k == OPC_FILTER_NAME_EQ;
    }
    return k == OPC_FILTER_TITLE_EQ || k == OPC_FILTER_TITLE_CO || k == OPC_FILTER_TAG_EQ;
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
    opc__filter g;
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

static void check(opc_err rc, const opc__filter *f, const opc__ebuf *eb, opc__filter_target t,
                  bool from_query)
{
    if (rc != OPC_OK) {
        if (rc != OPC_ERR_PARSE || f->kind != OPC_FILTER_NONE ||
            strcmp(eb->msg, OPC_FILTER_ERROR) != 0) {
            abort();
        }
        return;
    }
    if (f->kind == OPC_FILTER_NONE) {
        if (!from_query) {
            abort(); /* a bare expression is never "no filter" */
        }
        return;
    }
    if (!allowed(t, f->kind) || f->value_len > OPC_FILTER_MAX_LEN ||
        f->value[f->value_len] != '\0' || strlen(f->value) != f->value_len) {
        abort();
    }
    if (!opc__filter_match(f, f->value)) {
        abort();
    }
    if (f->kind == OPC_FILTER_TITLE_CO) {
        char s[OPC_FILTER_MAX_LEN + 3];
        (void)snprintf(s, sizeof s, "<%s>", f->value);
        if (!opc__filter_match(f, s)) {
            abort();
        }
    }
    round_trip(f, t);
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
    for (size_t i = 0; i < 2; i++) {
        opc__filter f;
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        check(opc__filter_from_query(query, targets[i], &f, &eb), &f, &eb, targets[i], true);
        opc__ebuf_clear(&eb);
        check(opc__filter_parse(query, size, targets[i], &f, &eb), &f, &eb, targets[i], false);
    }
    free(query);
    return 0;
}
