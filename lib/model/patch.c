/*
 * model/patch.c - JSON Patch for Connect items (patch.h has the subset,
 * the deviations from RFC 6902 and the error codes).
 *
 * Each operation goes through four steps:
 *   1. the operation object: op, path, value;
 *   2. the pointer: split at '/', each segment unescaped (~1 '/', ~0 '~')
 *      in a private copy of the path;
 *   3. the shape: the segments are checked against a static schema of the
 *      item (which attributes exist, which are read-only, which arrays are
 *      indexed and which are addressed by id) without looking at the
 *      item, so an unsupported or read-only path is refused whatever the
 *      item holds;
 *   4. the walk: the parents are looked up in the working copy, then the
 *      operation is applied to the last one.
 * Values are detached from the parsed patch and linked into the working
 * copy, never copied. Every tree that may hold secrets (the patch, the
 * working copy, removed or replaced nodes) is freed with
 * opc__json_delete_secret(). Messages name the operation ("patch[2]") and
 * show paths and ids sanitised (printable ASCII, at most 64 bytes); they
 * never show a value.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/json.h"
#include "core/strparse.h"
#include "model/item.h"
#include "model/patch.h"

/* The deepest supported path has 5 segments
 * (/fields/<id>/recipe/characterSets/<i>); one more is enough to say
 * "unsupported" for anything deeper. */
#define MAX_SEGS 6
/* Array indexes: at most 9 digits (the arrays are far smaller). */
#define MAX_INDEX_DIGITS 9

/* ---- the item's schema ---- */

typedef enum { K_SCALAR, K_OBJECT, K_ARRAY, K_IDARRAY } kind;

typedef struct schema schema;

typedef struct member {
    const char *name;
    const schema *node;
    bool ro; /* read-only: never a target nor on the way to one */
} member;

struct schema {
    kind k;
    const member *members; /* K_OBJECT: NULL-name terminated */
    const schema *elem;    /* K_ARRAY / K_IDARRAY */
    const char *what;      /* K_IDARRAY: "field" / "section" (messages) */
};

static const schema s_scalar = {K_SCALAR, NULL, NULL, NULL};
static const schema s_strings = {K_ARRAY, NULL, &s_scalar, NULL};

static const member url_members[] = {
    {"href", &s_scalar, false},
    {"label", &s_scalar, false},
    {"primary", &s_scalar, false},
    {NULL, NULL, false},
};
static const schema s_url = {K_OBJECT, url_members, NULL, NULL};
static const schema s_urls = {K_ARRAY, NULL, &s_url, NULL};

static const member section_members[] = {
    {"id", &s_scalar, false},
    {"label", &s_scalar, false},
    {NULL, NULL, false},
};
static const schema s_section = {K_OBJECT, section_members, NULL, NULL};
static const schema s_sections = {K_IDARRAY, NULL, &s_section, "section"};

static const member ref_members[] = {
    {"id", &s_scalar, false},
    {NULL, NULL, false},
};
static const schema s_section_ref = {K_OBJECT, ref_members, NULL, NULL};

static const member recipe_members[] = {
    {"length", &s_scalar, false},
    {"characterSets", &s_strings, false},
    {"excludeCharacters", &s_scalar, false},
    {NULL, NULL, false},
};
static const schema s_recipe = {K_OBJECT, recipe_members, NULL, NULL};

static const member field_members[] = {
    {"id", &s_scalar, false},
    {"section", &s_section_ref, false},
    {"type", &s_scalar, false},
    {"purpose", &s_scalar, false},
    {"label", &s_scalar, false},
    {"value", &s_scalar, false},
    {"generate", &s_scalar, false},
    {"recipe", &s_recipe, false},
    {"entropy", &s_scalar, true},
    {"totp", &s_scalar, true},
    {NULL, NULL, false},
};
static const schema s_field = {K_OBJECT, field_members, NULL, NULL};
static const schema s_fields = {K_IDARRAY, NULL, &s_field, "field"};

static const member item_members[] = {
    {"title", &s_scalar, false},
    {"category", &s_scalar, false},
    {"favorite", &s_scalar, false},
    {"tags", &s_strings, false},
    {"urls", &s_urls, false},
    {"sections", &s_sections, false},
    {"fields", &s_fields, false},
    {"id", &s_scalar, true},
    {"vault", &s_scalar, true},
    {"version", &s_scalar, true},
    {"createdAt", &s_scalar, true},
    {"updatedAt", &s_scalar, true},
    {"lastEditedBy", &s_scalar, true},
    {"state", &s_scalar, true},
    {"trashed", &s_scalar, true},
    {"files", &s_scalar, true},
    {NULL, NULL, false},
};
static const schema s_item = {K_OBJECT, item_members, NULL, NULL};

static bool is_array_kind(const schema *s)
{
    return s->k == K_ARRAY || s->k == K_IDARRAY;
}

/* ---- one operation ---- */

typedef enum { OP_ADD, OP_REMOVE, OP_REPLACE } op_kind;

typedef struct {
    op_kind op;
    size_t no;                        /* position in the patch (messages) */
    char *buf;                        /* the unescaped path (segments point into it) */
    size_t buf_len;                   /* allocated bytes of buf */
    char *seg[MAX_SEGS];              /* segments, NUL-terminated */
    size_t n;                         /* number of segments; 0 = the whole item */
    const schema *node[MAX_SEGS + 1]; /* node[0] the item, node[i+1] what seg[i] names */
    cJSON *value;                     /* detached from the patch; owned until linked */
    char where[80];                   /* the path, sanitised, for messages */
    opc__ebuf *eb;
} pop;

/* Printable ASCII of s, at most 64 bytes ("..." after a cut). */
static void sanitise(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (i == 64 || o + 4 >= cap) {
            (void)memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        char c = s[i];
        if (c < 0x20 || c >= 0x7f) {
            c = '?';
        }
        out[o++] = c;
    }
    out[o] = '\0';
}

/* Unlink and wipe whatever `m` is in `parent`. */
static void drop(cJSON *parent, cJSON *m)
{
    opc__json_delete_secret(cJSON_DetachItemViaPointer(parent, m));
}

/* "-" */
static bool is_end(const char *seg)
{
    return seg[0] == '-' && seg[1] == '\0';
}

/* An RFC 6901 array index: "0" or [1-9][0-9]*, at most MAX_INDEX_DIGITS. */
static opc_err parse_index(const pop *p, const char *seg, int *out)
{
    size_t n = strlen(seg);
    bool digits = n > 0;
    for (size_t i = 0; i < n; i++) {
        if (seg[i] < '0' || seg[i] > '9') {
            digits = false;
        }
    }
    if (!digits || (n > 1 && seg[0] == '0')) {
        return opc__fail(p->eb, OPC_ERR_PARSE, "patch[%zu]: path \"%s\": bad array index", p->no,
                         p->where);
    }
    if (n > MAX_INDEX_DIGITS) {
        return opc__fail(p->eb, OPC_ERR_RANGE, "patch[%zu]: path \"%s\": index out of range", p->no,
                         p->where);
    }
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (seg[i] - '0');
    }
    *out = v;
    return OPC_OK;
}

/* Step 2: split and unescape the pointer into p->buf / p->seg. */
static opc_err parse_pointer(pop *p, const char *path)
{
    size_t len = strlen(path);
    if (len > OPC_PATCH_MAX_PATH) {
        return opc__fail(p->eb, OPC_ERR_TOO_LARGE,
                         "patch[%zu]: path of %zu bytes exceeds the limit of %d", p->no, len,
                         OPC_PATCH_MAX_PATH);
    }
    if (len == 0) {
        return OPC_OK; /* the whole document */
    }
    if (path[0] != '/') {
        return opc__fail(p->eb, OPC_ERR_PARSE, "patch[%zu]: path \"%s\" must start with \"/\"",
                         p->no, p->where);
    }
    p->buf = opc__strndup(path, len);
    if (p->buf == NULL) {
        return OPC_ERR_NOMEM;
    }
    p->buf_len = len + 1;
    char *s = p->buf + 1;
    for (;;) {
        if (p->n == MAX_SEGS) {
            return opc__fail(p->eb, OPC_ERR_UNSUPPORTED,
                             "patch[%zu]: path \"%s\" is not supported (too deep)", p->no,
                             p->where);
        }
        char *slash = strchr(s, '/');
        if (slash != NULL) {
            *slash = '\0';
        }
        /* Unescape in place (the text only shrinks). */
        char *w = s;
        for (const char *r = s; *r != '\0'; r++) {
            if (*r != '~') {
                *w++ = *r;
                continue;
            }
            if (r[1] != '0' && r[1] != '1') {
                return opc__fail(p->eb, OPC_ERR_PARSE,
                                 "patch[%zu]: path \"%s\": \"~\" must be followed by 0 or 1", p->no,
                                 p->where);
            }
            *w++ = r[1] == '0' ? '~' : '/';
            r++;
        }
        *w = '\0';
        p->seg[p->n++] = s;
        if (slash == NULL) {
            break;
        }
        s = slash + 1;
    }
    /* "/" is the whole item in the Connect API (RFC 6901: the member ""). */
    if (p->n == 1 && p->seg[0][0] == '\0') {
        p->n = 0;
    }
    return OPC_OK;
}

static const member *find_member(const schema *s, const char *name)
{
    for (const member *m = s->members; m->name != NULL; m++) {
        if (strcmp(m->name, name) == 0) {
            return m;
        }
    }
    return NULL;
}

/* Step 3: the segments against the schema, without the item. */
static opc_err check_shape(pop *p)
{
    p->node[0] = &s_item;
    for (size_t i = 0; i < p->n; i++) {
        const schema *s = p->node[i];
        const char *seg = p->seg[i];
        bool last = i + 1 == p->n;
        if (s->k == K_OBJECT) {
            const member *m = find_member(s, seg);
            if (m == NULL) {
                return opc__fail(p->eb, OPC_ERR_UNSUPPORTED,
                                 "patch[%zu]: path \"%s\" is not supported", p->no, p->where);
            }
            if (m->ro) {
                return opc__fail(p->eb, OPC_ERR_UNSUPPORTED, "patch[%zu]: path \"%s\" is read-only",
                                 p->no, p->where);
            }
            p->node[i + 1] = m->node;
        } else if (s->k == K_ARRAY || s->k == K_IDARRAY) {
            if (is_end(seg) && (!last || p->op != OP_ADD) && s->k == K_ARRAY) {
                return opc__fail(p->eb, OPC_ERR_RANGE,
                                 "patch[%zu]: path \"%s\": \"-\" names no element", p->no,
                                 p->where);
            }
            if (s->k == K_IDARRAY && seg[0] == '\0') {
                return opc__fail(p->eb, OPC_ERR_PARSE, "patch[%zu]: path \"%s\": empty %s id",
                                 p->no, p->where, s->what);
            }
            int idx;
            if (s->k == K_ARRAY && !is_end(seg)) {
                opc_err rc = parse_index(p, seg, &idx);
                if (rc != OPC_OK) {
                    return rc;
                }
            }
            p->node[i + 1] = s->elem;
        } else {
            return opc__fail(p->eb, OPC_ERR_UNSUPPORTED, "patch[%zu]: path \"%s\" is not supported",
                             p->no, p->where);
        }
    }
    return OPC_OK;
}

/* The element of an id-addressed array whose "id" is `id`, and its index. */
static cJSON *find_by_id(cJSON *arr, const char *id, int *index)
{
    int i = 0;
    for (cJSON *e = arr != NULL ? arr->child : NULL; e != NULL; e = e->next, i++) {
        const cJSON *eid = opc__json_member(e, "id");
        if (cJSON_IsString(eid) && strcmp(eid->valuestring, id) == 0) {
            *index = i;
            return e;
        }
    }
    return NULL;
}

static opc_err no_such_element(const pop *p, const schema *s, const char *id)
{
    char shown[80];
    sanitise(id, shown, sizeof shown);
    return opc__fail(p->eb, OPC_ERR_NOT_FOUND, "The item doesn't have a %s %s.", shown, s->what);
}

static opc_err missing(const pop *p)
{
    return opc__fail(p->eb, OPC_ERR_NOT_FOUND, "patch[%zu]: path \"%s\" does not exist in the item",
                     p->no, p->where);
}

static bool fits(const cJSON *j, const schema *s)
{
    if (s->k == K_OBJECT) {
        return cJSON_IsObject(j);
    }
    if (is_array_kind(s)) {
        return cJSON_IsArray(j);
    }
    return true;
}

/*
 * A patch adds members only under the schema's names; a member of obj that
 * differs from `key` only in letter case would make a pair that the strict
 * JSON rules (core/json.h) refuse, so the patch is refused here, where the
 * message can say why.
 */
static opc_err no_case_variant(const pop *p, const cJSON *obj, const char *key)
{
    for (const cJSON *m = obj->child; m != NULL; m = m->next) {
        if (m->string != NULL && strcmp(m->string, key) != 0 &&
            opc__strcasecmp(m->string, key) == 0) {
            return opc__fail(p->eb, OPC_ERR_PARSE,
                             "patch[%zu]: path \"%s\": a member differs from \"%s\" only in "
                             "letter case",
                             p->no, p->where, key);
        }
    }
    return OPC_OK;
}

/* An absent (or null) parent that the schema knows: create it empty. */
static opc_err materialise(const pop *p, cJSON *obj, const char *key, const schema *s, cJSON **out)
{
    opc_err rc = no_case_variant(p, obj, key);
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (old != NULL) {
        drop(obj, old);
    }
    cJSON *c = s->k == K_OBJECT ? cJSON_CreateObject() : cJSON_CreateArray();
    if (c == NULL) {
        return OPC_ERR_NOMEM;
    }
    if (!cJSON_AddItemToObject(obj, key, c)) {
        cJSON_Delete(c);
        return OPC_ERR_NOMEM;
    }
    *out = c;
    return OPC_OK;
}

/* Step 4a: the parent of the target (a container that fits its schema). */
static opc_err walk(pop *p, cJSON *doc, cJSON **parent)
{
    cJSON *cur = doc;
    for (size_t i = 0; i + 1 < p->n; i++) {
        const schema *s = p->node[i];
        const schema *next_s = p->node[i + 1];
        const char *seg = p->seg[i];
        cJSON *next = NULL;
        if (s->k == K_OBJECT) {
            next = cJSON_GetObjectItemCaseSensitive(cur, seg);
            if (next == NULL || cJSON_IsNull(next)) {
                if (i + 2 != p->n || p->op == OP_REMOVE) {
                    return missing(p);
                }
                opc_err rc = materialise(p, cur, seg, next_s, &next);
                if (rc != OPC_OK) {
                    return rc;
                }
            }
        } else if (s->k == K_ARRAY) {
            int idx = 0;
            opc_err rc = parse_index(p, seg, &idx);
            if (rc != OPC_OK) {
                return rc;
            }
            next = cJSON_GetArrayItem(cur, idx);
            if (next == NULL) {
                return opc__fail(p->eb, OPC_ERR_RANGE,
                                 "patch[%zu]: path \"%s\": index out of range", p->no, p->where);
            }
        } else {
            int idx = 0;
            next = find_by_id(cur, seg, &idx);
            if (next == NULL) {
                return no_such_element(p, s, seg);
            }
        }
        if (!fits(next, next_s)) {
            return opc__fail(p->eb, OPC_ERR_NOT_FOUND,
                             "patch[%zu]: path \"%s\": the item has no %s there", p->no, p->where,
                             next_s->k == K_OBJECT ? "object" : "array");
        }
        cur = next;
    }
    *parent = cur;
    return OPC_OK;
}

/* Link p->value as member `key` of obj, replacing any old member. */
static opc_err set_member(pop *p, cJSON *obj, const char *key)
{
    opc_err rc = no_case_variant(p, obj, key);
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (old != NULL) {
        drop(obj, old);
    }
    if (!cJSON_AddItemToObject(obj, key, p->value)) {
        return OPC_ERR_NOMEM;
    }
    p->value = NULL;
    return OPC_OK;
}

static opc_err append(pop *p, cJSON *arr)
{
    if (!cJSON_AddItemToArray(arr, p->value)) {
        return OPC_ERR_NOMEM;
    }
    p->value = NULL;
    return OPC_OK;
}

/*
 * Put p->value at index idx of arr (idx <= size): inserted there, or in
 * place of the element (idx < size). Not cJSON_InsertItemInArray():
 * Debian's cJSON 1.7.15 (the CVE-2023-50471 fix) refuses any new item
 * (prev == NULL) except at the ends. The links keep cJSON's invariant that
 * the first element's prev is the last element.
 */
static opc_err put_at(pop *p, cJSON *arr, int idx, bool in_place)
{
    cJSON *at = cJSON_GetArrayItem(arr, idx);
    if (in_place && at != NULL) {
        cJSON *old = at;
        at = old->next;
        drop(arr, old);
    }
    if (at == NULL) {
        return append(p, arr);
    }
    cJSON *item = p->value;
    item->next = at;
    item->prev = at->prev;
    if (at == arr->child) {
        arr->child = item;
    } else {
        at->prev->next = item;
    }
    at->prev = item;
    p->value = NULL;
    return OPC_OK;
}

/* A field or section value: an object whose id is empty or `id` (then set). */
static opc_err element_value(pop *p, const schema *s, const char *id)
{
    if (!cJSON_IsObject(p->value)) {
        return opc__fail(p->eb, OPC_ERR_PARSE, "patch[%zu]: path \"%s\": a %s must be an object",
                         p->no, p->where, s->what);
    }
    if (id == NULL) {
        return OPC_OK;
    }
    cJSON *vid = cJSON_GetObjectItemCaseSensitive(p->value, "id");
    if (cJSON_IsString(vid) && strcmp(vid->valuestring, id) == 0) {
        return OPC_OK;
    }
    if (vid != NULL && !cJSON_IsNull(vid) &&
        !(cJSON_IsString(vid) && vid->valuestring[0] == '\0')) {
        return opc__fail(p->eb, OPC_ERR_PARSE,
                         "patch[%zu]: path \"%s\": the %s's \"id\" does not match the path", p->no,
                         p->where, s->what);
    }
    opc_err rc = no_case_variant(p, p->value, "id");
    if (rc != OPC_OK) {
        return rc;
    }
    if (vid != NULL) {
        drop(p->value, vid);
    }
    return cJSON_AddStringToObject(p->value, "id", id) == NULL ? OPC_ERR_NOMEM : OPC_OK;
}

/* Step 4b on an object member. `s` is the member's schema. */
static opc_err apply_member(pop *p, cJSON *obj, const char *key, const schema *s)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (p->op == OP_REMOVE) {
        if (m == NULL) {
            return missing(p);
        }
        drop(obj, m);
        return OPC_OK;
    }
    if (p->op == OP_ADD && is_array_kind(s) && !cJSON_IsArray(p->value)) {
        /* The Connect quirk: add on an array attribute appends. */
        if (m == NULL || cJSON_IsNull(m)) {
            opc_err rc = materialise(p, obj, key, s, &m);
            if (rc != OPC_OK) {
                return rc;
            }
        } else if (!cJSON_IsArray(m)) {
            return opc__fail(p->eb, OPC_ERR_NOT_FOUND,
                             "patch[%zu]: path \"%s\": the item has no array there", p->no,
                             p->where);
        }
        if (s->k == K_IDARRAY) {
            opc_err rc = element_value(p, s, NULL);
            if (rc != OPC_OK) {
                return rc;
            }
        }
        return append(p, m);
    }
    return set_member(p, obj, key);
}

/* Step 4b on an indexed array. */
static opc_err apply_index(pop *p, cJSON *arr, const char *seg)
{
    if (is_end(seg)) {
        return append(p, arr); /* add only: check_shape refused the rest */
    }
    int idx = 0;
    opc_err rc = parse_index(p, seg, &idx);
    if (rc != OPC_OK) {
        return rc;
    }
    int size = cJSON_GetArraySize(arr);
    if (idx > size || (p->op != OP_ADD && idx == size)) {
        return opc__fail(p->eb, OPC_ERR_RANGE, "patch[%zu]: path \"%s\": index out of range", p->no,
                         p->where);
    }
    if (p->op == OP_REMOVE) {
        opc__json_delete_secret(cJSON_DetachItemFromArray(arr, idx));
        return OPC_OK;
    }
    return put_at(p, arr, idx, p->op == OP_REPLACE);
}

/* Step 4b on an id-addressed array (fields, sections). */
static opc_err apply_id(pop *p, cJSON *arr, const char *seg, const schema *s)
{
    if (p->op == OP_ADD && is_end(seg)) {
        opc_err rc = element_value(p, s, NULL);
        return rc != OPC_OK ? rc : append(p, arr);
    }
    int idx = 0;
    cJSON *e = find_by_id(arr, seg, &idx);
    if (e == NULL && p->op != OP_ADD) {
        return no_such_element(p, s, seg);
    }
    if (p->op == OP_REMOVE) {
        drop(arr, e);
        return OPC_OK;
    }
    opc_err rc = element_value(p, s, seg);
    if (rc != OPC_OK) {
        return rc;
    }
    return e != NULL ? put_at(p, arr, idx, true) : append(p, arr);
}

/* Step 1: the operation object. On success p->value is detached (add and
 * replace) and *path set. */
static opc_err parse_op(pop *p, cJSON *o, const char **path)
{
    if (!cJSON_IsObject(o)) {
        return opc__fail(p->eb, OPC_ERR_PARSE, "patch[%zu] must be a JSON object", p->no);
    }
    char what[32];
    (void)snprintf(what, sizeof what, "patch[%zu]", p->no);
    const char *op = NULL;
    opc_err rc = opc__json_get_str(o, "op", true, what, &op, p->eb);
    if (rc == OPC_OK) {
        rc = opc__json_get_str(o, "path", true, what, path, p->eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    sanitise(*path, p->where, sizeof p->where);
    if (opc__strcasecmp(op, "add") == 0) {
        p->op = OP_ADD;
    } else if (opc__strcasecmp(op, "remove") == 0) {
        p->op = OP_REMOVE;
    } else if (opc__strcasecmp(op, "replace") == 0) {
        p->op = OP_REPLACE;
    } else {
        char shown[80];
        sanitise(op, shown, sizeof shown);
        bool rfc = opc__strcasecmp(op, "move") == 0 || opc__strcasecmp(op, "copy") == 0 ||
                   opc__strcasecmp(op, "test") == 0;
        return opc__fail(p->eb, rfc ? OPC_ERR_UNSUPPORTED : OPC_ERR_PARSE,
                         "patch[%zu]: %s operation \"%s\": only add, remove and replace are "
                         "supported",
                         p->no, rfc ? "unsupported" : "unknown", shown);
    }
    if (p->op == OP_REMOVE) {
        return OPC_OK;
    }
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    if (v == NULL) {
        return opc__fail(p->eb, OPC_ERR_PARSE, "patch[%zu]: \"value\" is required for %s", p->no,
                         p->op == OP_ADD ? "add" : "replace");
    }
    p->value = cJSON_DetachItemViaPointer(o, v);
    if ((p->value->type & cJSON_StringIsConst) == 0 && p->value->string != NULL) {
        cJSON_free(p->value->string);
    }
    p->value->string = NULL;
    return OPC_OK;
}

/* One operation on *doc (which a root add/replace swaps). */
static opc_err apply_op(pop *p, cJSON *o, cJSON **doc)
{
    const char *path = "";
    opc_err rc = parse_op(p, o, &path);
    if (rc == OPC_OK) {
        rc = parse_pointer(p, path);
    }
    if (rc == OPC_OK) {
        rc = check_shape(p);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    if (p->n == 0) {
        if (p->op == OP_REMOVE) {
            return opc__fail(p->eb, OPC_ERR_UNSUPPORTED,
                             "patch[%zu]: the item cannot be removed by a patch", p->no);
        }
        if (!cJSON_IsObject(p->value)) {
            return opc__fail(p->eb, OPC_ERR_PARSE, "patch[%zu]: the item must be an object", p->no);
        }
        opc__json_delete_secret(*doc);
        *doc = p->value;
        p->value = NULL;
        return OPC_OK;
    }
    cJSON *parent = NULL;
    rc = walk(p, *doc, &parent);
    if (rc != OPC_OK || parent == NULL) {
        return rc != OPC_OK ? rc : OPC_ERR_INTERNAL;
    }
    const schema *ps = p->node[p->n - 1];
    const char *last = p->seg[p->n - 1];
    if (ps->k == K_OBJECT) {
        return apply_member(p, parent, last, p->node[p->n]);
    }
    if (ps->k == K_ARRAY) {
        return apply_index(p, parent, last);
    }
    return apply_id(p, parent, last, ps);
}

opc_err opc__item_patch(const cJSON *full, const char *patch_json, size_t len, cJSON **out,
                        size_t *n_ops, opc__ebuf *eb)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (n_ops != NULL) {
        *n_ops = 0;
    }
    if (full == NULL || patch_json == NULL || out == NULL || !cJSON_IsObject(full)) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__json_limits lim = {OPC_PATCH_MAX_JSON, OPC_PATCH_MAX_DEPTH};
    cJSON *patch = NULL;
    opc_err rc = opc__json_parse(patch_json, len, &lim, &patch, eb);
    if (rc != OPC_OK) {
        opc__ebuf_prefix(eb, "patch");
        return rc;
    }
    size_t count = 0;
    cJSON *doc = NULL;
    if (!cJSON_IsArray(patch)) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "patch: must be a JSON array of operations");
    } else {
        for (const cJSON *o = patch->child; o != NULL; o = o->next) {
            count++;
        }
        if (count > OPC_PATCH_MAX_OPS) {
            rc = opc__fail(eb, OPC_ERR_TOO_LARGE,
                           "patch: too many operations (%zu; the limit is %d)", count,
                           OPC_PATCH_MAX_OPS);
        }
    }
    if (rc == OPC_OK) {
        doc = cJSON_Duplicate(full, true);
        rc = doc == NULL ? OPC_ERR_NOMEM : OPC_OK;
    }
    size_t no = 0;
    for (cJSON *o = rc == OPC_OK ? patch->child : NULL; o != NULL && rc == OPC_OK;
         o = o->next, no++) {
        pop p;
        memset(&p, 0, sizeof p);
        p.no = no;
        p.eb = eb;
        rc = apply_op(&p, o, &doc);
        opc__json_delete_secret(p.value);
        opc__secret_free(p.buf, p.buf_len);
    }
    if (rc == OPC_OK) {
        *out = doc;
        doc = NULL;
        if (n_ops != NULL) {
            *n_ops = count;
        }
    } else if (rc == OPC_ERR_NOMEM) {
        (void)opc__fail(eb, OPC_ERR_NOMEM, "patch: out of memory");
    }
    opc__json_delete_secret(doc);
    opc__json_delete_secret(patch);
    return rc;
}

opc_err opc__item_prepare_patched(cJSON *patched, const cJSON *existing, cJSON **out, opc__ebuf *eb)
{
    opc_err rc = opc__item_check(patched, eb);
    if (rc == OPC_OK) {
        rc = opc__item_prepare(patched, OPC_ITEM_REPLACE, existing, out, eb);
    } else if (out != NULL) {
        *out = NULL;
    }
    return rc;
}

opc_err opc__item_patch_apply(const cJSON *existing, const char *patch_json, size_t len,
                              cJSON **out, size_t *n_ops, opc__ebuf *eb)
{
    if (out != NULL) {
        *out = NULL;
    }
    cJSON *doc = NULL;
    opc_err rc = opc__item_patch(existing, patch_json, len, &doc, n_ops, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    rc = opc__item_prepare_patched(doc, existing, out, eb);
    opc__json_delete_secret(doc);
    if (rc != OPC_OK && n_ops != NULL) {
        *n_ops = 0;
    }
    return rc;
}
