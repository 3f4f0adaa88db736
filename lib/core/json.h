/*
 * core/json.h - strict JSON on top of cJSON.
 *
 * cJSON accepts duplicate keys (first wins), looks keys up
 * case-insensitively by default, does not check UTF-8 and parses numbers as
 * doubles. These helpers close those gaps: every parser of the library goes
 * through opc__json_parse() and reads members with the case-sensitive
 * getters below.
 */
#ifndef OPC_CORE_JSON_H
#define OPC_CORE_JSON_H

#include <cjson/cJSON.h>

#include "core/err.h"
#include "internal.h"

#define OPC_JSON_MAX_DEPTH_DEFAULT 32

typedef struct opc__json_limits {
    size_t max_size; /* bytes; 0 = no limit */
    int max_depth;   /* nesting of objects/arrays; 0 = OPC_JSON_MAX_DEPTH_DEFAULT */
} opc__json_limits;

/*
 * Parse exactly s[0..len) (no NUL needed; trailing white space allowed,
 * anything else after the value is an error). Rejects: invalid UTF-8 in
 * strings, embedded NUL in strings, duplicate or case-variant keys in any
 * object, depth beyond the limit, size beyond the limit. Errors are
 * OPC_ERR_PARSE or OPC_ERR_TOO_LARGE with a message naming the problem and,
 * for syntax errors, the byte offset. limits may be NULL.
 */
opc_err opc__json_parse(const char *s, size_t len, const opc__json_limits *limits, cJSON **out,
                        opc__ebuf *eb);

/* Check an already-built tree (same rules, no size limit). */
opc_err opc__json_check(const cJSON *root, int max_depth, opc__ebuf *eb);

/*
 * Check a tree built in memory (a patched item, say) as if it were printed
 * unformatted (opc__json_print) and the text given to opc__json_parse()
 * with these limits, without printing it: the same code and message, the
 * size and offsets in it those of the printed text. The one difference: a
 * number that is not finite (cJSON prints it as null) is refused, as
 * opc__json_check() refuses it. A node cJSON would not print as JSON (raw)
 * is OPC_ERR_INVALID_ARG. limits may be NULL.
 */
opc_err opc__json_check_printed(const cJSON *root, const opc__json_limits *limits, opc__ebuf *eb);

/* Case-sensitive member lookup; NULL if absent or obj is not an object. */
const cJSON *opc__json_member(const cJSON *obj, const char *key);

/*
 * Typed getters. `what` names the enclosing thing for messages
 * ("credentials file", "JWT header"). A missing required member gives
 * "<what>: missing \"key\""; a wrong type "<what>: \"key\" must be a string".
 * Optional absent members leave *out untouched and return OPC_OK.
 */
opc_err opc__json_get_str(const cJSON *obj, const char *key, bool required, const char *what,
                          const char **out, opc__ebuf *eb);
/* Integral number in [min, max], |value| < 2^53. */
opc_err opc__json_get_int(const cJSON *obj, const char *key, bool required, const char *what,
                          int64_t min, int64_t max, int64_t *out, opc__ebuf *eb);
opc_err opc__json_get_bool(const cJSON *obj, const char *key, bool required, const char *what,
                           bool *out, opc__ebuf *eb);
/* Integral check for a number node (NULL or non-number fails). */
bool opc__json_is_int(const cJSON *n, int64_t *out);

/* Only the listed members (NULL-terminated list) may appear in obj. */
opc_err opc__json_only_members(const cJSON *obj, const char *const *allowed, const char *what,
                               opc__ebuf *eb);

/* Unformatted print into our allocator (free with opc__free / opc__secret_free_str). */
opc_err opc__json_print(const cJSON *j, char **out, size_t *out_len);

/* Wipe every string (keys and values) in the tree, then cJSON_Delete. NULL ok. */
void opc__json_delete_secret(cJSON *j);

/* Validate UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool opc__utf8_valid(const char *s, size_t len);

#endif
