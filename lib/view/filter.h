/*
 * view/filter.h - the `filter` query parameter of the list endpoints
 * (connect-api spec §3) and form-urlencoded query decoding.
 *
 * Grammar, after form decoding ('+' is a space, %XX a byte):
 *
 *   filter := ws* attr ws+ op ws+ '"' value '"' ws*
 *   value  := any bytes but '"' and '\', or '\"' / '\\'
 *
 * attr and op are matched case-insensitively. Accepted forms:
 *   vaults: name eq "X", title eq "X" (title is an alias of name)
 *   items:  title eq "X", title co "X", tag eq "X"
 * Everything else (another attribute or operator, a missing or single
 * quote, an unterminated value, a bad escape, trailing text, bad %XX, a NUL
 * byte, invalid UTF-8, more than OPC_FILTER_MAX_LEN bytes) is OPC_ERR_PARSE
 * with the message OPC_FILTER_ERROR, which the routes answer with 400.
 *
 * Matching is ASCII case-insensitive (bytes >= 0x80 compare exactly): eq
 * is whole-string equality, co a substring test; tag eq matches an item
 * whose tags contain the value.
 */
#ifndef OPC_VIEW_FILTER_H
#define OPC_VIEW_FILTER_H

#include <stdint.h>

#include "core/err.h"
#include "internal.h"

#define OPC_FILTER_MAX_LEN 1024
#define OPC_FILTER_ERROR "Unsupported request filter"

typedef enum opc__filter_target { OPC_FILTER_VAULTS = 1, OPC_FILTER_ITEMS = 2 } opc__filter_target;

typedef enum opc__filter_kind {
    OPC_FILTER_NONE = 0, /* no filter: everything matches */
    OPC_FILTER_NAME_EQ,  /* vaults: name/title eq */
    OPC_FILTER_TITLE_EQ, /* items */
    OPC_FILTER_TITLE_CO, /* items */
    OPC_FILTER_TAG_EQ    /* items */
} opc__filter_kind;

typedef struct opc__filter {
    opc__filter_kind kind;
    char value[OPC_FILTER_MAX_LEN + 1]; /* unquoted, unescaped, NUL-terminated */
    size_t value_len;
    char folded[OPC_FILTER_MAX_LEN + 1]; /* value, ASCII letters lower-cased */
} opc__filter;

/*
 * Find parameter `name` in a raw query string (no leading '?'; NULL or ""
 * means none) and form-decode its value into out (NUL-terminated, at most
 * out_size - 1 bytes). Returns OPC_OK with *found, OPC_ERR_PARSE for a bad
 * escape, a NUL byte, or a value that does not fit. The first occurrence
 * wins.
 */
opc_err opc__query_param(const char *query, const char *name, char *out, size_t out_size,
                         size_t *out_len, bool *found);

/* Parse a decoded filter expression for target into *f. */
opc_err opc__filter_parse(const char *expr, size_t len, opc__filter_target target, opc__filter *f,
                          opc__ebuf *eb);

/* Parse the `filter` parameter of a raw query string; absent: kind NONE. */
opc_err opc__filter_from_query(const char *query, opc__filter_target target, opc__filter *f,
                               opc__ebuf *eb);

/* Whether a string matches f's value with f's operator (eq / co). A NONE
 * filter matches everything; s NULL is "". */
bool opc__filter_match(const opc__filter *f, const char *s);

/*
 * The same match against a string already folded by opc__filter_fold (n
 * bytes): a byte comparison or a memmem, no per-byte case folding. The
 * index keeps titles and tags folded, so a list scan costs one memmem per
 * item.
 */
bool opc__filter_match_folded(const opc__filter *f, const char *folded, size_t n);

/*
 * Title filters over a vault's folded titles laid end to end (the index's
 * opc__ix_titles): text holds n NUL-terminated titles, the i-th starting at
 * off[i] (off[n] is the end). Calls hit(i, ud) for each matching title in
 * order and stops early when it returns false. "co" is one memmem over the
 * whole text (the value holds no NUL, so a match never spans two titles),
 * "eq" a length check and a memcmp per title; no item is touched.
 * Only for OPC_FILTER_TITLE_EQ / _CO (and NONE: every title).
 */
typedef bool (*opc__filter_hit_fn)(size_t i, void *ud);
void opc__filter_titles(const opc__filter *f, const char *text, const uint32_t *off, size_t n,
                        opc__filter_hit_fn hit, void *ud);

/* A copy of s (n bytes) with ASCII letters lower-cased, NUL-terminated
 * (opc__free; NULL when out of memory). */
char *opc__filter_fold(const char *s, size_t n);

#endif
