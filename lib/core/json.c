#include "internal.h"

#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/strparse.h"

#define MAX_MEMBERS 4096

bool opc__utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return false;
        }
        if (len - i <= n) {
            return false;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

/* The limits in force: no size limit and the default depth unless given. */
static void limits_of(const opc__json_limits *limits, size_t *max_size, int *max_depth)
{
    *max_size = limits != NULL ? limits->max_size : 0;
    *max_depth =
        limits != NULL && limits->max_depth > 0 ? limits->max_depth : OPC_JSON_MAX_DEPTH_DEFAULT;
}

/* The errors of the limits, shared by the parser and opc__json_check_printed(). */
static opc_err too_large(opc__ebuf *eb, size_t len, size_t max_size)
{
    return opc__fail(eb, OPC_ERR_TOO_LARGE, "JSON of %zu bytes exceeds the limit of %zu", len,
                     max_size);
}

static opc_err too_deep(opc__ebuf *eb, int max_depth, size_t offset)
{
    return opc__fail(eb, OPC_ERR_PARSE, "invalid JSON: nested deeper than %d levels at offset %zu",
                     max_depth, offset);
}

/*
 * One pass over the raw text before cJSON sees it: rejects NUL bytes, raw
 * control characters and \u0000 inside strings, and nesting beyond the
 * limit (so cJSON's recursion stays shallow).
 */
static opc_err prescan(const char *s, size_t len, int max_depth, opc__ebuf *eb)
{
    bool in_str = false;
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0) {
            return opc__fail(eb, OPC_ERR_PARSE, "invalid JSON: NUL byte at offset %zu", i);
        }
        if (in_str) {
            if (c == '"') {
                in_str = false;
            } else if (c < 0x20) {
                return opc__fail(eb, OPC_ERR_PARSE,
                                 "invalid JSON: control character in a string at offset %zu", i);
            } else if (c == '\\' && i + 1 < len) {
                if (s[i + 1] == 'u' && i + 5 < len) {
                    int v = 0;
                    for (size_t k = 2; k < 6; k++) {
                        int h = opc__hexval((unsigned char)s[i + k]);
                        if (h < 0) {
                            v = -1;
                            break;
                        }
                        v = v * 16 + h;
                    }
                    if (v == 0) {
                        return opc__fail(eb, OPC_ERR_PARSE,
                                         "invalid JSON: \\u0000 in a string at offset %zu", i);
                    }
                }
                i++; /* skip the escaped character */
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth) {
                return too_deep(eb, max_depth, i);
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return OPC_OK;
}

static bool key_equal_ci(const char *a, const char *b)
{
    return opc__strcasecmp(a, b) == 0;
}

static opc_err check_node(const cJSON *n, int depth, int max_depth, opc__ebuf *eb)
{
    if (depth > max_depth) {
        return opc__fail(eb, OPC_ERR_PARSE, "invalid JSON: nested deeper than %d levels",
                         max_depth);
    }
    if (cJSON_IsString(n)) {
        if (n->valuestring == NULL || !opc__utf8_valid(n->valuestring, strlen(n->valuestring))) {
            return opc__fail(eb, OPC_ERR_PARSE, "invalid JSON: a string is not valid UTF-8");
        }
        return OPC_OK;
    }
    if (cJSON_IsNumber(n)) {
        if (!isfinite(n->valuedouble)) {
            return opc__fail(eb, OPC_ERR_PARSE, "invalid JSON: number out of range");
        }
        return OPC_OK;
    }
    if (!cJSON_IsObject(n) && !cJSON_IsArray(n)) {
        return OPC_OK;
    }
    bool obj = cJSON_IsObject(n) != 0;
    size_t count = 0;
    for (const cJSON *c = n->child; c != NULL; c = c->next) {
        if (obj) {
            if (c->string == NULL || !opc__utf8_valid(c->string, strlen(c->string))) {
                return opc__fail(eb, OPC_ERR_PARSE, "invalid JSON: a key is not valid UTF-8");
            }
            if (++count > MAX_MEMBERS) {
                return opc__fail(eb, OPC_ERR_PARSE,
                                 "invalid JSON: object with more than %d members", MAX_MEMBERS);
            }
            for (const cJSON *p = n->child; p != c; p = p->next) {
                if (key_equal_ci(p->string, c->string)) {
                    bool exact = strcmp(p->string, c->string) == 0;
                    return opc__fail(eb, OPC_ERR_PARSE, "invalid JSON: %s key \"%.64s\"",
                                     exact ? "duplicate" : "case-variant duplicate", c->string);
                }
            }
        }
        opc_err rc = check_node(c, depth + 1, max_depth, eb);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    return OPC_OK;
}

opc_err opc__json_check(const cJSON *root, int max_depth, opc__ebuf *eb)
{
    if (root == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    return check_node(root, 0, max_depth > 0 ? max_depth : OPC_JSON_MAX_DEPTH_DEFAULT, eb);
}

opc_err opc__json_parse(const char *s, size_t len, const opc__json_limits *limits, cJSON **out,
                        opc__ebuf *eb)
{
    if (s == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    size_t max_size = 0;
    int max_depth = 0;
    limits_of(limits, &max_size, &max_depth);
    if (max_size != 0 && len > max_size) {
        return too_large(eb, len, max_size);
    }
    size_t tlen = len;
    (void)opc__trim(s, &tlen);
    if (tlen == 0) {
        return opc__fail(eb, OPC_ERR_PARSE, "invalid JSON: empty input");
    }
    opc_err rc = prescan(s, len, max_depth, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(s, len, &end, 0);
    if (root == NULL) {
        size_t off = end != NULL && end >= s && end <= s + len ? (size_t)(end - s) : 0;
        return opc__fail(eb, OPC_ERR_PARSE, "invalid JSON: syntax error at offset %zu", off);
    }
    size_t used = end != NULL && end >= s && end <= s + len ? (size_t)(end - s) : len;
    for (size_t i = used; i < len; i++) {
        if (!opc__is_space((unsigned char)s[i]) || s[i] == '\v' || s[i] == '\f') {
            cJSON_Delete(root);
            return opc__fail(eb, OPC_ERR_PARSE, "invalid JSON: unexpected data at offset %zu", i);
        }
    }
    rc = check_node(root, 0, max_depth, eb);
    if (rc != OPC_OK) {
        opc__json_delete_secret(root);
        return rc;
    }
    *out = root;
    return OPC_OK;
}

/* What the parser would see of a tree's unformatted print (cJSON's), without it. */
typedef struct printed {
    size_t len;     /* bytes printed so far */
    size_t deep_at; /* offset of the first bracket nested deeper than the limit */
    bool deep;
    bool bad; /* a node cJSON prints as something else (raw) or not at all */
} printed;

/* A string as cJSON prints it: quoted, with '"', '\\' and the controls
 * \b \f \n \r \t escaped in two bytes and the other controls as \u00XX. */
static size_t printed_str_len(const char *s)
{
    size_t n = 2;
    for (const unsigned char *p = (const unsigned char *)s; p != NULL && *p != '\0'; p++) {
        switch (*p) {
        case '"':
        case '\\':
        case '\b':
        case '\f':
        case '\n':
        case '\r':
        case '\t':
            n += 2;
            break;
        default:
            n += *p < 0x20 ? 6 : 1;
            break;
        }
    }
    return n;
}

static void measure(const cJSON *n, int depth, int max_depth, printed *m)
{
    if (cJSON_IsString(n)) {
        m->len += printed_str_len(n->valuestring);
    } else if (cJSON_IsNumber(n)) {
        /* Numbers are cJSON's to format (%d, %1.15g or %1.17g): ask it. */
        char num[64];
        if (cJSON_PrintPreallocated((cJSON *)(uintptr_t)n, num, (int)sizeof num, false)) {
            m->len += strlen(num);
        } else {
            m->bad = true;
        }
    } else if (cJSON_IsTrue(n) || cJSON_IsNull(n)) {
        m->len += 4;
    } else if (cJSON_IsFalse(n)) {
        m->len += 5;
    } else if (cJSON_IsArray(n) || cJSON_IsObject(n)) {
        if (depth + 1 > max_depth && !m->deep) {
            m->deep = true;
            m->deep_at = m->len;
        }
        bool obj = cJSON_IsObject(n) != 0;
        m->len++;
        for (const cJSON *c = n->child; c != NULL; c = c->next) {
            if (obj) {
                m->len += printed_str_len(c->string) + 1;
            }
            measure(c, depth + 1, max_depth, m);
            m->len += c->next != NULL ? 1 : 0;
        }
        m->len++;
    } else {
        m->bad = true;
    }
}

opc_err opc__json_check_printed(const cJSON *root, const opc__json_limits *limits, opc__ebuf *eb)
{
    if (root == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    size_t max_size = 0;
    int max_depth = 0;
    limits_of(limits, &max_size, &max_depth);
    printed m = {0, 0, false, false};
    measure(root, 0, max_depth, &m);
    if (m.bad) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "JSON tree with a node that does not print");
    }
    if (max_size != 0 && m.len > max_size) {
        return too_large(eb, m.len, max_size);
    }
    if (m.deep) {
        return too_deep(eb, max_depth, m.deep_at);
    }
    return check_node(root, 0, max_depth, eb);
}

const cJSON *opc__json_member(const cJSON *obj, const char *key)
{
    if (!cJSON_IsObject(obj) || key == NULL) {
        return NULL;
    }
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

opc_err opc__json_get_str(const cJSON *obj, const char *key, bool required, const char *what,
                          const char **out, opc__ebuf *eb)
{
    const cJSON *m = opc__json_member(obj, key);
    if (m == NULL) {
        return required ? opc__fail(eb, OPC_ERR_PARSE, "%s: missing \"%s\"", what, key) : OPC_OK;
    }
    if (!cJSON_IsString(m) || m->valuestring == NULL) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" must be a string", what, key);
    }
    *out = m->valuestring;
    return OPC_OK;
}

bool opc__json_is_int(const cJSON *n, int64_t *out)
{
    if (!cJSON_IsNumber(n)) {
        return false;
    }
    double v = n->valuedouble;
    if (!isfinite(v) || v != floor(v) || fabs(v) >= 9007199254740992.0) {
        return false;
    }
    if (out != NULL) {
        *out = (int64_t)v;
    }
    return true;
}

opc_err opc__json_get_int(const cJSON *obj, const char *key, bool required, const char *what,
                          int64_t min, int64_t max, int64_t *out, opc__ebuf *eb)
{
    const cJSON *m = opc__json_member(obj, key);
    if (m == NULL) {
        return required ? opc__fail(eb, OPC_ERR_PARSE, "%s: missing \"%s\"", what, key) : OPC_OK;
    }
    int64_t v;
    if (!opc__json_is_int(m, &v)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" must be an integer", what, key);
    }
    if (v < min || v > max) {
        return opc__fail(eb, OPC_ERR_RANGE, "%s: \"%s\" must be between %lld and %lld", what, key,
                         (long long)min, (long long)max);
    }
    *out = v;
    return OPC_OK;
}

opc_err opc__json_get_bool(const cJSON *obj, const char *key, bool required, const char *what,
                           bool *out, opc__ebuf *eb)
{
    const cJSON *m = opc__json_member(obj, key);
    if (m == NULL) {
        return required ? opc__fail(eb, OPC_ERR_PARSE, "%s: missing \"%s\"", what, key) : OPC_OK;
    }
    if (!cJSON_IsBool(m)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" must be true or false", what, key);
    }
    *out = cJSON_IsTrue(m) != 0;
    return OPC_OK;
}

opc_err opc__json_only_members(const cJSON *obj, const char *const *allowed, const char *what,
                               opc__ebuf *eb)
{
    if (!cJSON_IsObject(obj)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s must be a JSON object", what);
    }
    for (const cJSON *c = obj->child; c != NULL; c = c->next) {
        bool ok = false;
        for (const char *const *a = allowed; *a != NULL; a++) {
            if (strcmp(*a, c->string) == 0) {
                ok = true;
                break;
            }
        }
        if (!ok) {
            return opc__fail(eb, OPC_ERR_PARSE, "%s: unexpected member \"%.64s\"", what, c->string);
        }
    }
    return OPC_OK;
}

opc_err opc__json_print(const cJSON *j, char **out, size_t *out_len)
{
    if (j == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    char *p = cJSON_PrintUnformatted(j);
    if (p == NULL) {
        return OPC_ERR_NOMEM;
    }
    size_t n = strlen(p);
    char *q = opc__strndup(p, n);
    opc__wipe(p, n);
    cJSON_free(p);
    if (q == NULL) {
        return OPC_ERR_NOMEM;
    }
    *out = q;
    if (out_len != NULL) {
        *out_len = n;
    }
    return OPC_OK;
}

static void wipe_tree(cJSON *j)
{
    for (; j != NULL; j = j->next) {
        if (j->string != NULL) {
            opc__wipe(j->string, strlen(j->string));
        }
        if (j->valuestring != NULL) {
            opc__wipe(j->valuestring, strlen(j->valuestring));
        }
        if (cJSON_IsNumber(j)) {
            j->valuedouble = 0;
            j->valueint = 0;
        }
        wipe_tree(j->child);
    }
}

void opc__json_delete_secret(cJSON *j)
{
    if (j == NULL) {
        return;
    }
    wipe_tree(j->child);
    if (j->string != NULL) {
        opc__wipe(j->string, strlen(j->string));
    }
    if (j->valuestring != NULL) {
        opc__wipe(j->valuestring, strlen(j->valuestring));
    }
    cJSON_Delete(j);
}
