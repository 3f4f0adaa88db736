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

static opc_err bad(opc__ebuf *eb)
{
    return opc__fail(eb, OPC_ERR_PARSE, OPC_FILTER_ERROR);
}

opc_err opc__filter_parse(const char *expr, size_t len, opc__filter_target target, opc__filter *f,
                          opc__ebuf *eb)
{
    memset(f, 0, sizeof *f);
    if (expr == NULL || len > OPC_FILTER_MAX_LEN || memchr(expr, '\0', len) != NULL ||
        !opc__utf8_valid(expr, len)) {
        return bad(eb);
    }
    size_t i = 0;
    while (i < len && opc__is_space((unsigned char)expr[i])) {
        i++;
    }
    size_t a0 = i;
    while (i < len && !opc__is_space((unsigned char)expr[i])) {
        i++;
    }
    size_t a1 = i;
    while (i < len && opc__is_space((unsigned char)expr[i])) {
        i++;
    }
    size_t o0 = i;
    while (i < len && !opc__is_space((unsigned char)expr[i]) && expr[i] != '"') {
        i++;
    }
    size_t o1 = i;
    if (a1 == a0 || o1 == o0 || o0 == a1) {
        return bad(eb);
    }
    while (i < len && opc__is_space((unsigned char)expr[i])) {
        i++;
    }
    if (i == o1 || i >= len || expr[i] != '"') {
        return bad(eb);
    }
    const char *attr = expr + a0;
    size_t attr_len = a1 - a0;
    const char *op = expr + o0;
    size_t op_len = o1 - o0;
    opc__filter_kind kind = OPC_FILTER_NONE;
    if (target == OPC_FILTER_VAULTS) {
        if ((word_is(attr, attr_len, "name") || word_is(attr, attr_len, "title")) &&
            word_is(op, op_len, "eq")) {
            kind = OPC_FILTER_NAME_EQ;
        }
    } else if (target == OPC_FILTER_ITEMS) {
        if (word_is(attr, attr_len, "title") && word_is(op, op_len, "eq")) {
            kind = OPC_FILTER_TITLE_EQ;
        } else if (word_is(attr, attr_len, "title") && word_is(op, op_len, "co")) {
            kind = OPC_FILTER_TITLE_CO;
        } else if (word_is(attr, attr_len, "tag") && word_is(op, op_len, "eq")) {
            kind = OPC_FILTER_TAG_EQ;
        }
    }
    if (kind == OPC_FILTER_NONE) {
        return bad(eb);
    }
    i++; /* opening quote */
    size_t o = 0;
    bool closed = false;
    while (i < len) {
        char c = expr[i++];
        if (c == '"') {
            closed = true;
            break;
        }
        if (c == '\\') {
            if (i >= len || (expr[i] != '"' && expr[i] != '\\')) {
                return bad(eb);
            }
            c = expr[i++];
        }
        f->value[o++] = c; /* o < len <= OPC_FILTER_MAX_LEN */
    }
    while (i < len && opc__is_space((unsigned char)expr[i])) {
        i++;
    }
    if (!closed || i != len) {
        memset(f, 0, sizeof *f);
        return bad(eb);
    }
    f->value[o] = '\0';
    f->value_len = o;
    for (size_t k = 0; k <= o; k++) {
        f->folded[k] = (char)opc__to_lower((unsigned char)f->value[k]);
    }
    f->kind = kind;
    return OPC_OK;
}

opc_err opc__filter_from_query(const char *query, opc__filter_target target, opc__filter *f,
                               opc__ebuf *eb)
{
    char raw[OPC_FILTER_MAX_LEN + 1];
    size_t len = 0;
    bool found = false;
    memset(f, 0, sizeof *f);
    opc_err rc = opc__query_param(query, "filter", raw, sizeof raw, &len, &found);
    if (rc != OPC_OK) {
        return bad(eb);
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

bool opc__filter_match(const opc__filter *f, const char *s)
{
    if (f == NULL || f->kind == OPC_FILTER_NONE) {
        return true;
    }
    if (s == NULL) {
        s = "";
    }
    size_t n = strlen(s);
    if (f->kind == OPC_FILTER_TITLE_CO) {
        if (f->value_len == 0) {
            return true;
        }
        for (size_t i = 0; i + f->value_len <= n; i++) {
            if (ieq_n(s + i, f->value, f->value_len)) {
                return true;
            }
        }
        return false;
    }
    return n == f->value_len && ieq_n(s, f->value, n);
}

bool opc__filter_match_folded(const opc__filter *f, const char *folded, size_t n)
{
    if (f == NULL || f->kind == OPC_FILTER_NONE) {
        return true;
    }
    if (folded == NULL) {
        folded = "";
        n = 0;
    }
    if (f->kind == OPC_FILTER_TITLE_CO) {
        return f->value_len == 0 || memmem(folded, n, f->folded, f->value_len) != NULL;
    }
    return n == f->value_len && memcmp(folded, f->folded, n) == 0;
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
