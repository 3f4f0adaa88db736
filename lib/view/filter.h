/*
 * view/filter.h - the `filter` query parameter of the list endpoints
 * (connect-api spec §3) and form-urlencoded query decoding.
 *
 * Grammar, after form decoding ('+' is a space, %XX a byte); docs/filters.md
 * has it in EBNF with every message:
 *
 *   filter     := or-expr END
 *   or-expr    := and-expr ("or" and-expr)*
 *   and-expr   := not-expr ("and" not-expr)*
 *   not-expr   := "not" not-expr | primary
 *   primary    := "(" or-expr ")" | attr op string
 *   string     := '"' (any byte but '"' and '\' | '\"' | '\\')* '"'
 *
 * Tokens (words, strings, parentheses) may have white space around them;
 * two words or a word and a string must have some between them, while a
 * parenthesis needs none (`not(tag eq "a")`).
 * Keywords, attributes and operators are matched case-insensitively.
 * Comparisons by target:
 *   vaults: name eq, title eq (title is an alias of name)
 *   items:  title eq|co, tag eq|co, category eq, updatedAt gt|lt
 * `not` binds tighter than `and`, `and` tighter than `or`. At most
 * OPC_FILTER_MAX_DEPTH parentheses and nots nest; at most
 * OPC_FILTER_MAX_LEN bytes, no NUL byte, valid UTF-8.
 *
 * A rejection is OPC_ERR_PARSE with a message for the client that never
 * quotes the input: "invalid filter at position N: <what was expected>"
 * (N the byte offset from 0 in the decoded filter), or "invalid filter:
 * <why>" for what has no position (the encoding, the length).
 *
 * Matching is ASCII case-insensitive (bytes >= 0x80 compare exactly): eq
 * is whole-string equality, co a substring test; tag eq / co hold when
 * some tag of the item matches; category eq compares the category as the
 * API renders it; updatedAt gt / lt compare instants (the value is RFC
 * 3339 with 'Z' or an offset, fractions of a second allowed).
 */
#ifndef OPC_VIEW_FILTER_H
#define OPC_VIEW_FILTER_H

#include <stdint.h>

#include "core/err.h"
#include "internal.h"

#define OPC_FILTER_MAX_LEN 1024
#define OPC_FILTER_MAX_DEPTH 32
/* Comparisons and operators. The densest filter that fits the length,
 * chains of 32 nots ("not ", 4 bytes) before a comparison (9 bytes) joined
 * by " or ", has 246, so the nodes never run out (the parser checks all
 * the same). */
#define OPC_FILTER_MAX_NODES 256

typedef enum opc__filter_target { OPC_FILTER_VAULTS = 1, OPC_FILTER_ITEMS = 2 } opc__filter_target;

typedef enum opc__filter_kind {
    OPC_FILTER_NONE = 0,    /* no filter: everything matches */
    OPC_FILTER_NAME_EQ,     /* vaults: name/title eq */
    OPC_FILTER_TITLE_EQ,    /* items, from here on */
    OPC_FILTER_TITLE_CO,
    OPC_FILTER_TAG_EQ,
    OPC_FILTER_TAG_CO,
    OPC_FILTER_CATEGORY_EQ,
    OPC_FILTER_UPDATED_GT,
    OPC_FILTER_UPDATED_LT,
    OPC_FILTER_NOT,         /* operators (both targets) */
    OPC_FILTER_AND,
    OPC_FILTER_OR
} opc__filter_kind;

/* One comparison or operator of a parsed filter (16 bytes: a filter lives
 * on a request thread's stack). */
typedef struct opc__filter_node {
    int64_t at_us; /* updatedAt: the instant, Unix microseconds */
    union {
        struct {
            uint16_t a, b; /* AND / OR: the operands; NOT: a */
        };
        struct {
            uint16_t off, len; /* comparisons: the value at opc__filter.value + off */
        };
    };
    uint8_t kind; /* opc__filter_kind */
} opc__filter_node;

typedef struct opc__filter {
    opc__filter_kind kind; /* the root's: a comparison's kind when f is one */
    /* The comparisons' values, unquoted, unescaped, each NUL-terminated,
     * the first at offset 0; folded: the same with ASCII letters
     * lower-cased. When f is one comparison, value is its value. */
    char value[OPC_FILTER_MAX_LEN + 1];
    size_t value_len; /* the root comparison's value length; 0 for an operator */
    char folded[OPC_FILTER_MAX_LEN + 1];
    uint16_t root;
    uint16_t n_nodes;
    opc__filter_node nodes[OPC_FILTER_MAX_NODES];
} opc__filter;

/*
 * What a filter is matched against: an item's title, tags, category and
 * updatedAt (Unix seconds), or a vault's name as the title. With folded,
 * the strings were lower-cased by opc__filter_fold (a byte comparison or
 * a memmem then); otherwise they are compared case-insensitively. NULL
 * strings are "".
 */
typedef struct opc__filter_subject {
    const char *title;
    size_t title_len;
    const char *const *tags;
    size_t n_tags;
    const char *category;
    int64_t updated_s;
    bool folded;
} opc__filter_subject;

/*
 * Find parameter `name` in a raw query string (no leading '?'; NULL or ""
 * means none) and form-decode its value into out (NUL-terminated, at most
 * out_size - 1 bytes). Returns OPC_OK with *found, OPC_ERR_PARSE for a bad
 * escape, a NUL byte, or a value that does not fit. The first occurrence
 * wins.
 */
opc_err opc__query_param(const char *query, const char *name, char *out, size_t out_size,
                         size_t *out_len, bool *found);

/* Parse a decoded filter expression for target into *f (kind NONE on
 * failure). */
opc_err opc__filter_parse(const char *expr, size_t len, opc__filter_target target, opc__filter *f,
                          opc__ebuf *eb);

/* Parse the `filter` parameter of a raw query string; absent: kind NONE. */
opc_err opc__filter_from_query(const char *query, opc__filter_target target, opc__filter *f,
                               opc__ebuf *eb);

/* Whether subject s passes f. A NONE filter passes everything. */
bool opc__filter_eval(const opc__filter *f, const opc__filter_subject *s);

/* Whether a string matches f, s standing for every string attribute (the
 * title or name, the only tag, the category; updatedAt is 0): for one
 * comparison, s compared with its value by its operator. A NONE filter
 * matches everything; s NULL is "". */
bool opc__filter_match(const opc__filter *f, const char *s);

/*
 * The same match against a string already folded by opc__filter_fold (n
 * bytes): a byte comparison or a memmem, no per-byte case folding.
 */
bool opc__filter_match_folded(const opc__filter *f, const char *folded, size_t n);

/*
 * Title filters over a vault's folded titles laid end to end (the index's
 * opc__ix_titles): text holds n NUL-terminated titles, the i-th starting at
 * off[i] (off[n] is the end). Calls hit(i, ud) for each matching title in
 * order and stops early when it returns false. "co" is one memmem over the
 * whole text (the value holds no NUL, so a match never spans two titles),
 * "eq" a length check and a memcmp per title; no item is touched.
 * Only for OPC_FILTER_TITLE_EQ / _CO (and NONE: every title); see
 * opc__filter_titles_only.
 */
typedef bool (*opc__filter_hit_fn)(size_t i, void *ud);
void opc__filter_titles(const opc__filter *f, const char *text, const uint32_t *off, size_t n,
                        opc__filter_hit_fn hit, void *ud);

/* Whether opc__filter_titles can answer f (one title comparison, or none). */
bool opc__filter_titles_only(const opc__filter *f);

/* A copy of s (n bytes) with ASCII letters lower-cased, NUL-terminated
 * (opc__free; NULL when out of memory). */
char *opc__filter_fold(const char *s, size_t n);

#endif
