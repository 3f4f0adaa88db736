/*
 * model/item.c - opc__item_prepare(): validate and normalise a client's
 * item into the stored full-item shape (item.h has the contract).
 *
 * The work is done in passes over a table of field records that point
 * into the input tree (the caller's, which outlives the call):
 *   1. top level: category (by op), title, favorite, tags, urls, sections;
 *   2. fields: each one parsed (type, purpose, label, value, section
 *      reference, generate/recipe); at most one PASSWORD purpose;
 *   3. the category's built-in fields matched or added (item.h explains
 *      the matching);
 *   4. labels of USERNAME/PASSWORD fields, ids generated, duplicates
 *      refused, values generated and checked against their types;
 *   5. on replace: entropy carried over, files kept, password history;
 *   6. output built.
 * Error messages name fields by position ("fields[3]") and never quote a
 * value, label or title: they may reach logs.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/id.h"
#include "core/json.h"
#include "core/strparse.h"
#include "core/time.h"
#include "model/item.h"
#include "model/password.h"

enum { P_NONE = 0, P_USERNAME, P_PASSWORD, P_NOTES };

static const char *const purpose_names[] = {"", "USERNAME", "PASSWORD", "NOTES"};

typedef struct {
    const char *id;      /* client id, template id, gen_id, or NULL (not yet) */
    const char *section; /* section id or NULL */
    const char *type;    /* canonical type (static string) */
    const char *label;   /* never NULL */
    const char *value;   /* NULL when empty */
    const cJSON *recipe; /* when generate is true */
    double entropy;
    int purpose;
    bool id_given;   /* the client gave a non-empty id */
    bool type_given; /* the client gave a non-empty type */
    bool generate;
    bool has_entropy;
    bool slot;    /* holds a built-in field */
    size_t index; /* position in the client's array (messages) */
    char gen_id[OPC_ID_LEN + 1];
    char gen_value[OPC_RECIPE_MAX_LENGTH + 1];
} field_rec;

typedef struct {
    opc__item_op op;
    const cJSON *existing;
    opc__category cat;
    cJSON *in;  /* the caller's input (secret) */
    cJSON *res; /* the result (secret) */
    field_rec *f;
    size_t n, cap;
    size_t *slot_of; /* template index -> record index */
    const opc__field_template *tmpl;
    size_t tmpl_n;
    const char **section_ids; /* pointers into res */
    size_t n_sections;
    opc__ebuf *eb;
} prep;

/* ---- small helpers ---- */

static bool present(const cJSON *m)
{
    return m != NULL && !cJSON_IsNull(m);
}

/* Optional string member; null counts as absent. */
static opc_err opt_str(const cJSON *o, const char *key, const char *what, const char **out,
                       opc__ebuf *eb)
{
    if (!present(opc__json_member(o, key))) {
        return OPC_OK;
    }
    return opc__json_get_str(o, key, false, what, out, eb);
}

static opc_err opt_bool(const cJSON *o, const char *key, const char *what, bool *out, opc__ebuf *eb)
{
    if (!present(opc__json_member(o, key))) {
        return OPC_OK;
    }
    return opc__json_get_bool(o, key, false, what, out, eb);
}

/* An optional array member: *out NULL when absent or null. */
static opc_err opt_array(const cJSON *o, const char *key, size_t max, const cJSON **out,
                         size_t *count, opc__ebuf *eb)
{
    const cJSON *m = opc__json_member(o, key);
    *out = NULL;
    *count = 0;
    if (!present(m)) {
        return OPC_OK;
    }
    if (!cJSON_IsArray(m)) {
        return opc__fail(eb, OPC_ERR_PARSE, "item: \"%s\" must be an array", key);
    }
    size_t n = 0;
    for (const cJSON *c = m->child; c != NULL; c = c->next) {
        n++;
    }
    if (n > max) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "item: too many %s (%zu; the limit is %zu)", key, n,
                         max);
    }
    *out = m;
    *count = n;
    return OPC_OK;
}

static bool nomem(const void *p)
{
    return p == NULL;
}

static opc_err add_str(cJSON *obj, const char *key, const char *v)
{
    return nomem(cJSON_AddStringToObject(obj, key, v)) ? OPC_ERR_NOMEM : OPC_OK;
}

static opc_err add_item(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL) {
        return OPC_ERR_NOMEM;
    }
    if (!cJSON_AddItemToObject(obj, key, item)) {
        opc__json_delete_secret(item);
        return OPC_ERR_NOMEM;
    }
    return OPC_OK;
}

static opc_err push(cJSON *arr, cJSON *item)
{
    if (item == NULL) {
        return OPC_ERR_NOMEM;
    }
    if (!cJSON_AddItemToArray(arr, item)) {
        opc__json_delete_secret(item);
        return OPC_ERR_NOMEM;
    }
    return OPC_OK;
}

/* ---- pass 1: the top level ---- */

static opc_err do_category(prep *p)
{
    const char *name = NULL;
    opc_err rc = opc__json_get_str(p->in, "category", false, "item", &name, p->eb);
    if (rc != OPC_OK) {
        return opc__fail(p->eb, OPC_ERR_PARSE, "Invalid item category");
    }
    if (name == NULL || name[0] == '\0') {
        return opc__fail(p->eb, OPC_ERR_PARSE, "Invalid item category: \"category\" is required");
    }
    rc = opc__category_parse(name, &p->cat, p->eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (p->op == OPC_ITEM_CREATE && !opc__category_creatable(p->cat)) {
        return opc__fail(p->eb, OPC_ERR_PARSE,
                         "Invalid item category: %s items cannot be created through the API",
                         opc__category_name(p->cat));
    }
    if (p->op == OPC_ITEM_CREATE_DOCUMENT && p->cat != OPC_CAT_DOCUMENT) {
        return opc__fail(p->eb, OPC_ERR_PARSE, "Invalid item category: a document is DOCUMENT");
    }
    if (p->op == OPC_ITEM_REPLACE) {
        const cJSON *ec = opc__json_member(p->existing, "category");
        opc__category old;
        if (!cJSON_IsString(ec) || opc__category_parse(ec->valuestring, &old, NULL) != OPC_OK) {
            return opc__fail(p->eb, OPC_ERR_INVALID_ARG, "item: the existing item has no category");
        }
        if (old != p->cat) {
            return opc__fail(p->eb, OPC_ERR_PARSE,
                             "Invalid item category: an item's category cannot be changed "
                             "(%s to %s)",
                             opc__category_name(old), opc__category_name(p->cat));
        }
    }
    p->tmpl = opc__category_template(p->cat, &p->tmpl_n);
    return OPC_OK;
}

static opc_err do_title_favorite(prep *p)
{
    const char *title = "";
    opc_err rc = opt_str(p->in, "title", "item", &title, p->eb);
    if (rc != OPC_OK) {
        return rc;
    }
    bool fav = false;
    rc = opt_bool(p->in, "favorite", "item", &fav, p->eb);
    if (rc != OPC_OK) {
        return rc;
    }
    rc = add_str(p->res, "title", title);
    if (rc == OPC_OK) {
        rc = add_str(p->res, "category", opc__category_name(p->cat));
    }
    if (rc == OPC_OK) {
        rc = nomem(cJSON_AddBoolToObject(p->res, "favorite", fav)) ? OPC_ERR_NOMEM : OPC_OK;
    }
    return rc;
}

static opc_err do_tags(prep *p)
{
    const cJSON *tags;
    size_t n;
    opc_err rc = opt_array(p->in, "tags", OPC_ITEM_MAX_TAGS, &tags, &n, p->eb);
    if (rc != OPC_OK || tags == NULL) {
        return rc;
    }
    cJSON *out = cJSON_CreateArray();
    rc = add_item(p->res, "tags", out);
    if (rc != OPC_OK) {
        return rc;
    }
    size_t i = 0;
    for (const cJSON *t = tags->child; t != NULL; t = t->next, i++) {
        if (!cJSON_IsString(t) || t->valuestring == NULL) {
            return opc__fail(p->eb, OPC_ERR_PARSE, "item: tags[%zu] must be a string", i);
        }
        if (t->valuestring[0] == '\0') {
            continue;
        }
        bool dup = false;
        for (const cJSON *o = out->child; o != NULL; o = o->next) {
            if (strcmp(o->valuestring, t->valuestring) == 0) {
                dup = true;
                break;
            }
        }
        if (!dup) {
            rc = push(out, cJSON_CreateString(t->valuestring));
            if (rc != OPC_OK) {
                return rc;
            }
        }
    }
    if (out->child == NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(p->res, "tags");
    }
    return OPC_OK;
}

static opc_err do_urls(prep *p)
{
    const cJSON *urls;
    size_t n;
    opc_err rc = opt_array(p->in, "urls", OPC_ITEM_MAX_URLS, &urls, &n, p->eb);
    if (rc != OPC_OK || urls == NULL || n == 0) {
        return rc;
    }
    cJSON *out = cJSON_CreateArray();
    rc = add_item(p->res, "urls", out);
    if (rc != OPC_OK) {
        return rc;
    }
    size_t i = 0;
    for (const cJSON *u = urls->child; u != NULL; u = u->next, i++) {
        if (!cJSON_IsObject(u)) {
            return opc__fail(p->eb, OPC_ERR_PARSE, "item: urls[%zu] must be an object", i);
        }
        char what[32];
        (void)snprintf(what, sizeof what, "urls[%zu]", i);
        const char *href = NULL;
        const char *label = "";
        bool primary = false;
        rc = opt_str(u, "href", what, &href, p->eb);
        if (rc == OPC_OK) {
            rc = opt_str(u, "label", what, &label, p->eb);
        }
        if (rc == OPC_OK) {
            rc = opt_bool(u, "primary", what, &primary, p->eb);
        }
        if (rc != OPC_OK) {
            return rc;
        }
        if (href == NULL || href[0] == '\0') {
            return opc__fail(p->eb, OPC_ERR_PARSE, "item: urls[%zu]: \"href\" is required", i);
        }
        cJSON *o = cJSON_CreateObject();
        rc = push(out, o);
        if (rc == OPC_OK && label[0] != '\0') {
            rc = add_str(o, "label", label);
        }
        if (rc == OPC_OK && primary) {
            rc = nomem(cJSON_AddTrueToObject(o, "primary")) ? OPC_ERR_NOMEM : OPC_OK;
        }
        if (rc == OPC_OK) {
            rc = add_str(o, "href", href);
        }
        if (rc != OPC_OK) {
            return rc;
        }
    }
    return OPC_OK;
}

static opc_err do_sections(prep *p)
{
    const cJSON *secs;
    size_t n;
    opc_err rc = opt_array(p->in, "sections", OPC_ITEM_MAX_SECTIONS, &secs, &n, p->eb);
    if (rc != OPC_OK || secs == NULL || n == 0) {
        return rc;
    }
    p->section_ids = opc__calloc(n, sizeof *p->section_ids);
    if (p->section_ids == NULL) {
        return OPC_ERR_NOMEM;
    }
    cJSON *out = cJSON_CreateArray();
    rc = add_item(p->res, "sections", out);
    if (rc != OPC_OK) {
        return rc;
    }
    size_t i = 0;
    for (const cJSON *s = secs->child; s != NULL; s = s->next, i++) {
        char what[32];
        (void)snprintf(what, sizeof what, "sections[%zu]", i);
        if (!cJSON_IsObject(s)) {
            return opc__fail(p->eb, OPC_ERR_PARSE, "item: %s must be an object", what);
        }
        const char *id = "";
        const char *label = "";
        rc = opt_str(s, "id", what, &id, p->eb);
        if (rc == OPC_OK) {
            rc = opt_str(s, "label", what, &label, p->eb);
        }
        if (rc != OPC_OK) {
            return rc;
        }
        char gen[OPC_ID_LEN + 1];
        if (id[0] == '\0') {
            rc = opc__id_generate(gen);
            if (rc != OPC_OK) {
                return rc;
            }
            id = gen;
        }
        for (size_t k = 0; k < p->n_sections; k++) {
            if (strcmp(p->section_ids[k], id) == 0) {
                return opc__fail(p->eb, OPC_ERR_PARSE, "item: duplicate section id \"%.64s\"", id);
            }
        }
        cJSON *o = cJSON_CreateObject();
        rc = push(out, o);
        if (rc == OPC_OK) {
            rc = add_str(o, "id", id);
        }
        if (rc == OPC_OK) {
            rc = add_str(o, "label", label);
        }
        if (rc != OPC_OK) {
            return rc;
        }
        p->section_ids[p->n_sections++] = opc__json_member(o, "id")->valuestring;
    }
    return OPC_OK;
}

/* ---- pass 2: fields ---- */

static opc_err parse_purpose(const char *s, int *out)
{
    for (int i = 0; i < (int)OPC_ARRAY_LEN(purpose_names); i++) {
        if (opc__strcasecmp(s, purpose_names[i]) == 0) {
            *out = i;
            return OPC_OK;
        }
    }
    return OPC_ERR_PARSE;
}

static opc_err field_section(prep *p, const cJSON *in, field_rec *r, const char *what)
{
    const cJSON *s = opc__json_member(in, "section");
    if (!present(s)) {
        return OPC_OK;
    }
    if (!cJSON_IsObject(s)) {
        return opc__fail(p->eb, OPC_ERR_PARSE, "item: %s: \"section\" must be an object", what);
    }
    const char *id = "";
    char w[64];
    (void)snprintf(w, sizeof w, "%s.section", what);
    opc_err rc = opt_str(s, "id", w, &id, p->eb);
    if (rc != OPC_OK || id[0] == '\0') {
        return rc;
    }
    for (size_t k = 0; k < p->n_sections; k++) {
        if (strcmp(p->section_ids[k], id) == 0) {
            r->section = p->section_ids[k];
            return OPC_OK;
        }
    }
    return opc__fail(p->eb, OPC_ERR_PARSE, "item: %s: the item has no section \"%.64s\"", what, id);
}

static opc_err parse_field(prep *p, const cJSON *in, size_t i, field_rec *r)
{
    char what[32];
    (void)snprintf(what, sizeof what, "fields[%zu]", i);
    r->index = i;
    r->label = "";
    r->type = "STRING";
    if (!cJSON_IsObject(in)) {
        return opc__fail(p->eb, OPC_ERR_PARSE, "item: %s must be an object", what);
    }
    const char *id = "";
    const char *type = "";
    const char *purpose = "";
    const char *value = "";
    opc_err rc = opt_str(in, "id", what, &id, p->eb);
    if (rc == OPC_OK) {
        rc = opt_str(in, "type", what, &type, p->eb);
    }
    if (rc == OPC_OK) {
        rc = opt_str(in, "purpose", what, &purpose, p->eb);
    }
    if (rc == OPC_OK) {
        rc = opt_str(in, "label", what, &r->label, p->eb);
    }
    if (rc == OPC_OK) {
        rc = opt_str(in, "value", what, &value, p->eb);
    }
    if (rc == OPC_OK) {
        rc = opt_bool(in, "generate", what, &r->generate, p->eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    if (id[0] != '\0') {
        r->id = id;
        r->id_given = true;
    }
    r->type = opc__field_type_parse(type);
    if (r->type == NULL) {
        return opc__fail(p->eb, OPC_ERR_PARSE, "item: %s: invalid field type \"%.32s\"", what,
                         type);
    }
    r->type_given = type[0] != '\0';
    if (parse_purpose(purpose, &r->purpose) != OPC_OK) {
        return opc__fail(p->eb, OPC_ERR_PARSE,
                         "item: %s: invalid purpose \"%.32s\" (USERNAME, PASSWORD or NOTES)", what,
                         purpose);
    }
    r->value = value[0] != '\0' ? value : NULL;
    if (r->generate) {
        r->recipe = opc__json_member(in, "recipe");
        opc__recipe rec;
        rc = opc__recipe_parse(r->recipe, &rec, p->eb);
        if (rc != OPC_OK) {
            opc__ebuf_prefix(p->eb, "item: %s", what);
            return rc;
        }
    } else if (present(opc__json_member(in, "recipe")) &&
               !cJSON_IsObject(opc__json_member(in, "recipe"))) {
        return opc__fail(p->eb, OPC_ERR_PARSE, "item: %s: \"recipe\" must be an object", what);
    }
    return field_section(p, in, r, what);
}

static opc_err do_fields(prep *p)
{
    const cJSON *fields;
    size_t n;
    opc_err rc = opt_array(p->in, "fields", OPC_ITEM_MAX_FIELDS, &fields, &n, p->eb);
    if (rc != OPC_OK) {
        return rc;
    }
    p->cap = n + p->tmpl_n;
    if (p->cap > 0) {
        p->f = opc__calloc(p->cap, sizeof *p->f);
        if (p->f == NULL) {
            return OPC_ERR_NOMEM;
        }
    }
    if (p->tmpl_n > 0) {
        p->slot_of = opc__calloc(p->tmpl_n, sizeof *p->slot_of);
        if (p->slot_of == NULL) {
            return OPC_ERR_NOMEM;
        }
    }
    size_t i = 0;
    size_t passwords = 0;
    for (const cJSON *c = fields != NULL ? fields->child : NULL; c != NULL; c = c->next, i++) {
        field_rec *r = &p->f[p->n++];
        rc = parse_field(p, c, i, r);
        if (rc != OPC_OK) {
            return rc;
        }
        if (r->purpose == P_PASSWORD && ++passwords > 1) {
            return opc__fail(p->eb, OPC_ERR_PARSE, "You can only use one \"password\" field.");
        }
    }
    return OPC_OK;
}

/* ---- pass 3: built-in fields ---- */

static bool purpose_taken(const prep *p, int purpose)
{
    for (size_t k = 0; k < p->n; k++) {
        if (p->f[k].purpose == purpose) {
            return true;
        }
    }
    return false;
}

static int template_purpose(const opc__field_template *t)
{
    int pur = P_NONE;
    (void)parse_purpose(t->purpose, &pur);
    return pur;
}

/* Fill in what a matched record left unset from its template. */
static void adopt(prep *p, field_rec *r, const opc__field_template *t, int tp)
{
    if (r->id == NULL) {
        r->id = t->id;
    }
    if (!r->type_given) {
        r->type = t->type;
    }
    if (r->label[0] == '\0') {
        r->label = t->label;
    }
    if (tp != P_NONE && r->purpose == P_NONE && !purpose_taken(p, tp)) {
        r->purpose = tp;
    }
    r->slot = true;
}

static long find_template_match(const prep *p, const opc__field_template *t, int tp)
{
    for (size_t k = 0; k < p->n; k++) {
        if (p->f[k].id_given && strcmp(p->f[k].id, t->id) == 0) {
            return (long)k;
        }
    }
    if (tp != P_NONE) {
        for (size_t k = 0; k < p->n; k++) {
            if (!p->f[k].slot && p->f[k].purpose == tp) {
                return (long)k;
            }
        }
    }
    for (size_t k = 0; k < p->n; k++) {
        const field_rec *r = &p->f[k];
        if (!r->slot && !r->id_given && r->section == NULL &&
            (r->purpose == P_NONE || r->purpose == tp) &&
            opc__strcasecmp(r->label, t->label) == 0) {
            return (long)k;
        }
    }
    return -1;
}

static void do_templates(prep *p)
{
    for (size_t ti = 0; ti < p->tmpl_n; ti++) {
        const opc__field_template *t = &p->tmpl[ti];
        int tp = template_purpose(t);
        long k = find_template_match(p, t, tp);
        if (k < 0 || p->f[k].slot) {
            /* Absent (or its id is held by an earlier built-in's field,
             * which cannot happen with distinct template ids): add it. */
            field_rec *r = &p->f[p->n];
            memset(r, 0, sizeof *r);
            r->id = t->id;
            r->type = t->type;
            r->label = t->label;
            r->purpose = tp;
            r->slot = true;
            r->index = SIZE_MAX;
            k = (long)p->n++;
        } else {
            adopt(p, &p->f[k], t, tp);
        }
        p->slot_of[ti] = (size_t)k;
    }
}

/* ---- pass 4: labels, ids, values ---- */

/* "fields[3]" for a client field, "field \"notesPlain\"" for an added one. */
static void describe(const field_rec *r, char *buf, size_t cap)
{
    if (r->index == SIZE_MAX) {
        (void)snprintf(buf, cap, "field \"%.64s\"", r->id);
    } else {
        (void)snprintf(buf, cap, "fields[%zu]", r->index);
    }
}

static opc_err finish_fields(prep *p)
{
    for (size_t k = 0; k < p->n; k++) {
        field_rec *r = &p->f[k];
        if (r->label[0] == '\0' && r->purpose == P_USERNAME) {
            r->label = "username";
        } else if (r->label[0] == '\0' && r->purpose == P_PASSWORD) {
            r->label = "password";
        }
        if (r->id == NULL) {
            opc_err rc = opc__id_generate(r->gen_id);
            if (rc != OPC_OK) {
                return rc;
            }
            r->id = r->gen_id;
        }
    }
    for (size_t k = 0; k < p->n; k++) {
        for (size_t j = 0; j < k; j++) {
            if (strcmp(p->f[j].id, p->f[k].id) == 0) {
                return opc__fail(p->eb, OPC_ERR_PARSE, "item: duplicate field id \"%.64s\"",
                                 p->f[k].id);
            }
        }
    }
    for (size_t k = 0; k < p->n; k++) {
        field_rec *r = &p->f[k];
        char what[96];
        describe(r, what, sizeof what);
        if (r->generate && r->value == NULL) {
            opc__recipe rec;
            opc_err rc = opc__recipe_parse(r->recipe, &rec, p->eb);
            if (rc == OPC_OK) {
                rc = opc__password_generate(&rec, r->gen_value, &r->entropy, p->eb);
            }
            if (rc != OPC_OK) {
                opc__ebuf_prefix(p->eb, "item: %s", what);
                return rc;
            }
            r->value = r->gen_value;
            r->has_entropy = true;
        }
        if (r->value == NULL) {
            continue;
        }
        /* The value is gen_value or a string of p->in, which the caller lets
         * this call rewrite: the MONTH_YEAR check may shorten it in place. */
        char *v = (char *)(uintptr_t)r->value;
        opc_err rc = opc__field_value_check(r->type, v, p->eb);
        if (rc != OPC_OK) {
            opc__ebuf_prefix(p->eb, "item: %s", what);
            return rc;
        }
    }
    return OPC_OK;
}

/* ---- pass 5: replace ---- */

static const cJSON *existing_field(const cJSON *existing, const char *id)
{
    const cJSON *fields = opc__json_member(existing, "fields");
    if (!cJSON_IsArray(fields)) {
        return NULL;
    }
    for (const cJSON *f = fields->child; f != NULL; f = f->next) {
        const cJSON *fid = opc__json_member(f, "id");
        if (cJSON_IsString(fid) && strcmp(fid->valuestring, id) == 0) {
            return f;
        }
    }
    return NULL;
}

static void carry_entropy(prep *p)
{
    for (size_t k = 0; k < p->n; k++) {
        field_rec *r = &p->f[k];
        if (r->has_entropy || r->value == NULL) {
            continue;
        }
        const cJSON *old = existing_field(p->existing, r->id);
        const cJSON *ov = opc__json_member(old, "value");
        const cJSON *oe = opc__json_member(old, "entropy");
        if (cJSON_IsString(ov) && cJSON_IsNumber(oe) && strcmp(ov->valuestring, r->value) == 0) {
            r->entropy = oe->valuedouble;
            r->has_entropy = true;
        }
    }
}

static const char *old_password(const cJSON *existing)
{
    const cJSON *fields = opc__json_member(existing, "fields");
    if (!cJSON_IsArray(fields)) {
        return NULL;
    }
    for (const cJSON *f = fields->child; f != NULL; f = f->next) {
        const cJSON *pur = opc__json_member(f, "purpose");
        if (cJSON_IsString(pur) && strcmp(pur->valuestring, "PASSWORD") == 0) {
            const cJSON *v = opc__json_member(f, "value");
            return cJSON_IsString(v) && v->valuestring[0] != '\0' ? v->valuestring : NULL;
        }
    }
    return NULL;
}

static opc_err do_files(prep *p)
{
    const cJSON *files = opc__json_member(p->existing, "files");
    if (!cJSON_IsArray(files) || files->child == NULL) {
        return OPC_OK;
    }
    return add_item(p->res, "files", cJSON_Duplicate(files, true));
}

static opc_err do_history(prep *p)
{
    const cJSON *old_hist = opc__json_member(p->existing, "passwordHistory");
    const char *old = old_password(p->existing);
    const char *now = NULL;
    for (size_t k = 0; k < p->n; k++) {
        if (p->f[k].purpose == P_PASSWORD) {
            now = p->f[k].value;
        }
    }
    bool changed = old != NULL && (now == NULL || strcmp(old, now) != 0);
    bool had = cJSON_IsArray(old_hist) && old_hist->child != NULL;
    if (!had && !changed) {
        return OPC_OK;
    }
    cJSON *hist = had ? cJSON_Duplicate(old_hist, true) : cJSON_CreateArray();
    opc_err rc = add_item(p->res, "passwordHistory", hist);
    if (rc != OPC_OK || !changed) {
        return rc;
    }
    cJSON *e = cJSON_CreateObject();
    rc = push(hist, e);
    if (rc == OPC_OK) {
        rc = add_str(e, "value", old);
    }
    if (rc == OPC_OK) {
        rc = nomem(cJSON_AddNumberToObject(e, "time", (double)opc__now_s())) ? OPC_ERR_NOMEM
                                                                             : OPC_OK;
    }
    while (rc == OPC_OK && cJSON_GetArraySize(hist) > OPC_ITEM_MAX_PASSWORD_HISTORY) {
        opc__json_delete_secret(cJSON_DetachItemFromArray(hist, 0));
    }
    return rc;
}

/* ---- pass 6: output ---- */

static opc_err emit_field(cJSON *arr, const field_rec *r)
{
    cJSON *o = cJSON_CreateObject();
    opc_err rc = push(arr, o);
    if (rc == OPC_OK) {
        rc = add_str(o, "id", r->id);
    }
    if (rc == OPC_OK && r->section != NULL) {
        cJSON *s = cJSON_CreateObject();
        rc = add_item(o, "section", s);
        if (rc == OPC_OK) {
            rc = add_str(s, "id", r->section);
        }
    }
    if (rc == OPC_OK) {
        rc = add_str(o, "type", r->type);
    }
    if (rc == OPC_OK && r->purpose != P_NONE) {
        rc = add_str(o, "purpose", purpose_names[r->purpose]);
    }
    if (rc == OPC_OK) {
        rc = add_str(o, "label", r->label);
    }
    if (rc == OPC_OK && r->value != NULL) {
        rc = add_str(o, "value", r->value);
    }
    if (rc == OPC_OK && r->has_entropy) {
        rc = nomem(cJSON_AddNumberToObject(o, "entropy", r->entropy)) ? OPC_ERR_NOMEM : OPC_OK;
    }
    return rc;
}

static opc_err emit_fields(prep *p)
{
    cJSON *arr = cJSON_CreateArray();
    opc_err rc = add_item(p->res, "fields", arr);
    for (size_t ti = 0; rc == OPC_OK && ti < p->tmpl_n; ti++) {
        rc = emit_field(arr, &p->f[p->slot_of[ti]]);
    }
    for (size_t k = 0; rc == OPC_OK && k < p->n; k++) {
        if (!p->f[k].slot) {
            rc = emit_field(arr, &p->f[k]);
        }
    }
    return rc;
}

static opc_err run(prep *p)
{
    opc_err rc = do_category(p);
    if (rc == OPC_OK) {
        rc = do_title_favorite(p);
    }
    if (rc == OPC_OK) {
        rc = do_tags(p);
    }
    if (rc == OPC_OK) {
        rc = do_urls(p);
    }
    if (rc == OPC_OK) {
        rc = do_sections(p);
    }
    if (rc == OPC_OK) {
        rc = do_fields(p);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    do_templates(p);
    rc = finish_fields(p);
    if (rc == OPC_OK && p->op == OPC_ITEM_REPLACE) {
        carry_entropy(p);
    }
    if (rc == OPC_OK) {
        rc = emit_fields(p);
    }
    if (rc == OPC_OK && p->op == OPC_ITEM_REPLACE) {
        rc = do_files(p);
    }
    if (rc == OPC_OK && p->op == OPC_ITEM_REPLACE) {
        rc = do_history(p);
    }
    return rc;
}

static const opc__json_limits item_limits = {OPC_ITEM_MAX_JSON, OPC_ITEM_MAX_DEPTH};

opc_err opc__item_parse(const char *json, size_t len, cJSON **out, opc__ebuf *eb)
{
    return opc__json_parse(json, len, &item_limits, out, eb);
}

opc_err opc__item_check(const cJSON *in, opc__ebuf *eb)
{
    return opc__json_check_printed(in, &item_limits, eb);
}

/* The arguments every preparation needs, whatever its input. */
static bool prepare_args(opc__item_op op, const cJSON *existing, cJSON **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    return out != NULL &&
           (op == OPC_ITEM_CREATE || op == OPC_ITEM_REPLACE || op == OPC_ITEM_CREATE_DOCUMENT) &&
           (op != OPC_ITEM_REPLACE || cJSON_IsObject(existing));
}

opc_err opc__item_prepare(cJSON *in, opc__item_op op, const cJSON *existing, cJSON **out,
                          opc__ebuf *eb)
{
    if (!prepare_args(op, existing, out) || in == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    prep p;
    memset(&p, 0, sizeof p);
    p.op = op;
    p.existing = existing;
    p.eb = eb;
    p.in = in;
    opc_err rc;
    if (!cJSON_IsObject(p.in)) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "item: must be a JSON object");
    } else {
        p.res = cJSON_CreateObject();
        rc = p.res == NULL ? OPC_ERR_NOMEM : run(&p);
    }
    if (rc == OPC_OK) {
        *out = p.res;
        p.res = NULL;
    } else if (rc == OPC_ERR_NOMEM) {
        (void)opc__fail(eb, OPC_ERR_NOMEM, "item: out of memory");
    }
    opc__json_delete_secret(p.res);
    opc__secret_free(p.f, p.cap * sizeof *p.f);
    opc__free(p.slot_of);
    opc__free(p.section_ids);
    return rc;
}

opc_err opc__item_prepare_json(const char *json, size_t len, opc__item_op op, const cJSON *existing,
                               cJSON **out, opc__ebuf *eb)
{
    if (!prepare_args(op, existing, out) || json == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    cJSON *in = NULL;
    opc_err rc = opc__item_parse(json, len, &in, eb);
    if (rc == OPC_OK) {
        rc = opc__item_prepare(in, op, existing, out, eb);
    }
    opc__json_delete_secret(in);
    return rc;
}
