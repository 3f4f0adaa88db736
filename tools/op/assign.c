/*
 * tools/op/assign.c - assignment statements and the other item changes of
 * `op item create` / `op item edit`, applied to an item's JSON tree.
 *
 * An assignment is `[section.]field[type]=value` as in the 1Password CLI:
 * a backslash escapes '.', '=', '[', ']' and '\' in the names; type is one
 * of password, text, email, url, date, monthYear, otp, concealed (mapped
 * to the Connect field types), `file` (value: a path to attach) or
 * `delete` (no value: remove the field). A new field gets no id: the
 * library matches a category's built-in fields by label (`username=...`
 * fills LOGIN's username) and gives other fields fresh ids. New sections
 * get "Section_<26 random base32>" ids chosen here, so fields can name them.
 */
#include "op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void op_plan_free(struct op_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->as[i].section);
        free(p->as[i].field);
        free(p->as[i].type);
        op_buf_free(p->as[i].data, p->as[i].len);
    }
    free(p->as);
    cJSON_Delete(p->recipe);
    memset(p, 0, sizeof(*p));
}

/* ---- parsing ---- */

static const struct {
    const char *cli;
    const char *connect;
} field_types[] = {
    {"password", "CONCEALED"},
    {"concealed", "CONCEALED"},
    {"text", "STRING"},
    {"string", "STRING"},
    {"email", "EMAIL"},
    {"url", "URL"},
    {"date", "DATE"},
    {"monthYear", "MONTH_YEAR"},
    {"month_year", "MONTH_YEAR"},
    {"otp", "OTP"},
    {"totp", "OTP"},
    {"file", "file"},
    {"delete", "delete"},
};

static char *xstrndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Copy [b, e) removing backslash escapes. */
static char *unescape(const char *b, const char *e)
{
    char *d = malloc((size_t)(e - b) + 1);
    if (d == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (const char *p = b; p < e; p++) {
        if (*p == '\\' && p + 1 < e) {
            p++;
        }
        d[k++] = *p;
    }
    d[k] = '\0';
    return d;
}

/* The first unescaped c in [b, e), or NULL. */
static const char *find_unescaped(const char *b, const char *e, char c)
{
    for (const char *p = b; p < e; p++) {
        if (*p == '\\' && p + 1 < e) {
            p++;
            continue;
        }
        if (*p == c) {
            return p;
        }
    }
    return NULL;
}

static int parse_assignment(const struct op_ctx *ctx, const char *s, size_t index,
                            struct op_assign *out)
{
    memset(out, 0, sizeof(*out));
    const char *end = s + strlen(s);
    const char *eq = find_unescaped(s, end, '=');
    const char *lhs_end = eq != NULL ? eq : end;
    const char *name_end = lhs_end;
    if (lhs_end > s && lhs_end[-1] == ']') {
        const char *open = NULL;
        for (const char *p = s; p < lhs_end - 1; p++) {
            if (*p == '\\' && p + 1 < lhs_end) {
                p++;
                continue;
            }
            if (*p == '[') {
                open = p;
            }
        }
        if (open == NULL) {
            return op_usage(ctx, "malformed field type in assignment '%.*s'", (int)(lhs_end - s),
                            s);
        }
        size_t tlen = (size_t)(lhs_end - 1 - (open + 1));
        const char *t = open + 1;
        for (size_t i = 0; i < sizeof(field_types) / sizeof(field_types[0]); i++) {
            if (strlen(field_types[i].cli) == tlen &&
                strncasecmp(field_types[i].cli, t, tlen) == 0) {
                out->type = xstrndup(field_types[i].connect, strlen(field_types[i].connect));
                break;
            }
        }
        if (out->type == NULL) {
            return op_usage(
                ctx,
                "unknown field type '%.*s' in an assignment (use password, text, email, "
                "url, date, monthYear, otp, concealed, file or delete)",
                (int)tlen, t);
        }
        name_end = open;
    }
    bool is_delete = out->type != NULL && strcmp(out->type, "delete") == 0;
    if (eq == NULL && !is_delete) {
        free(out->type);
        out->type = NULL;
        /* Not quoted: a mistyped argument may well be a secret. */
        return op_usage(ctx, "argument %zu is not an assignment [section.]field[type]=value",
                        index);
    }
    out->value = eq != NULL ? eq + 1 : "";
    const char *dot = find_unescaped(s, name_end, '.');
    if (dot != NULL) {
        out->section = unescape(s, dot);
        out->field = unescape(dot + 1, name_end);
    } else {
        out->field = unescape(s, name_end);
    }
    if (out->field == NULL || out->field[0] == '\0' ||
        (out->section != NULL && out->section[0] == '\0')) {
        return op_usage(ctx, "assignment '%.*s=...' needs a field name", (int)(lhs_end - s), s);
    }
    return OP_EXIT_OK;
}

/* "letters,digits,symbols,32" (any subset, any order, each part once; an
 * empty string means the defaults) into a Connect GeneratorRecipe, by the
 * library, with the rules its generator applies. */
static int parse_recipe(const struct op_ctx *ctx, const char *s, cJSON **out)
{
    char *json = NULL;
    char err[OPC_ERRBUF_SIZE] = "";
    opc_err rc = opc_password_recipe_parse(s != NULL ? s : "", &json, err, sizeof err);
    if (rc == OPC_ERR_PARSE || rc == OPC_ERR_RANGE) {
        return op_usage(ctx, "%s", err);
    }
    if (rc != OPC_OK) {
        return op_fail_lib(NULL, rc, err);
    }
    *out = op_json_parse(json, strlen(json));
    opc_free(json);
    return *out != NULL ? OP_EXIT_OK : op_fail(OP_EXIT_GENERIC, "out of memory");
}

/* Assignments and --generate-password; file contents are read now, so an
 * unreadable file fails before anything changes. */
int op_plan_parse(const struct op_ctx *ctx, const struct op_args *a, size_t first,
                  struct op_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    if (op_has(a, "generate-password")) {
        plan->generate = true;
        int rc = parse_recipe(ctx, op_arg(a, "generate-password"), &plan->recipe);
        if (rc != OP_EXIT_OK) {
            return rc;
        }
    }
    size_t n = a->npos > first ? a->npos - first : 0;
    plan->as = calloc(n + 1, sizeof(*plan->as));
    if (plan->as == NULL) {
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct op_assign *as = &plan->as[i];
        int rc = parse_assignment(ctx, a->pos[first + i], first + i + 1, as);
        plan->n = i + 1;
        if (rc == OP_EXIT_OK && as->type != NULL && strcmp(as->type, "file") == 0) {
            if (as->value[0] == '\0') {
                rc = op_usage(ctx, "file assignment '%s' needs a path", a->pos[first + i]);
            } else {
                rc = op_read_file(as->value, OPC_ACCOUNT_MAX_FILE_SIZE, &as->data, &as->len);
            }
        }
        if (rc != OP_EXIT_OK) {
            return rc;
        }
    }
    return OP_EXIT_OK;
}

/* ---- applying changes to an item tree ---- */

static void new_section_id(char out[40])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char rnd[26];
    if (getentropy(rnd, sizeof(rnd)) != 0) {
        memset(rnd, 0, sizeof(rnd)); /* ids are not secret; uniqueness is checked */
    }
    memcpy(out, "Section_", 8);
    for (size_t i = 0; i < sizeof(rnd); i++) {
        out[8 + i] = alphabet[rnd[i] & 31];
    }
    out[8 + sizeof(rnd)] = '\0';
}

static cJSON *get_array(cJSON *obj, const char *key)
{
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsArray(arr)) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        arr = cJSON_AddArrayToObject(obj, key);
    }
    return arr;
}

cJSON *op_find_section(const cJSON *item, const char *name)
{
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(item, "sections"))
    {
        if (strcmp(op_jstr(s, "label"), name) == 0) {
            return s;
        }
    }
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(item, "sections"))
    {
        if (strcasecmp(op_jstr(s, "label"), name) == 0 || strcmp(op_jstr(s, "id"), name) == 0) {
            return s;
        }
    }
    return NULL;
}

static const char *ensure_section(cJSON *item, const char *label, char id_out[40])
{
    cJSON *s = op_find_section(item, label);
    if (s != NULL) {
        (void)snprintf(id_out, 40, "%s", op_jstr(s, "id"));
        return id_out;
    }
    new_section_id(id_out);
    s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "id", id_out);
    cJSON_AddStringToObject(s, "label", label);
    cJSON_AddItemToArray(get_array(item, "sections"), s);
    return id_out;
}

static bool field_matches(const cJSON *f, const char *name)
{
    return strcasecmp(op_jstr(f, "label"), name) == 0 || strcmp(op_jstr(f, "id"), name) == 0;
}

static const char *field_section(const cJSON *f)
{
    return op_jstr(cJSON_GetObjectItemCaseSensitive(f, "section"), "id");
}

/* A field by label or id: in section_id when given; otherwise a top-level
 * field first, then one in any section. */
cJSON *op_find_field(const cJSON *item, const char *section_id, const char *name)
{
    cJSON *fields = cJSON_GetObjectItemCaseSensitive(item, "fields");
    cJSON *f;
    cJSON_ArrayForEach(f, fields)
    {
        const char *sid = field_section(f);
        bool here = section_id != NULL ? strcmp(sid, section_id) == 0 : sid[0] == '\0';
        if (here && field_matches(f, name)) {
            return f;
        }
    }
    if (section_id == NULL) {
        cJSON_ArrayForEach(f, fields)
        {
            if (field_matches(f, name)) {
                return f;
            }
        }
    }
    return NULL;
}

static void set_str(cJSON *obj, const char *key, const char *value)
{
    cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(obj, key);
    op_json_free(old);
    cJSON_AddStringToObject(obj, key, value);
}

static void drop(cJSON *obj, const char *key)
{
    op_json_free(cJSON_DetachItemFromObjectCaseSensitive(obj, key));
}

/* A new field's type when the assignment names none: "password" is
 * concealed (as in the 1Password CLI); anything else is left to the model,
 * which gives a category's built-in field its template type (matched by
 * label) and other fields STRING. */
static const char *default_type(const char *name)
{
    return strcasecmp(name, "password") == 0 ? "CONCEALED" : NULL;
}

static int apply_assign(const struct op_ctx *ctx, cJSON *item, struct op_assign *as)
{
    const char *sid = NULL;
    bool is_file = as->type != NULL && strcmp(as->type, "file") == 0;
    bool is_delete = as->type != NULL && strcmp(as->type, "delete") == 0;
    if (as->section != NULL) {
        if (is_delete) {
            cJSON *s = op_find_section(item, as->section);
            if (s == NULL) {
                return op_fail(OP_EXIT_NOT_FOUND, "no section '%s' in the item", as->section);
            }
            (void)snprintf(as->section_id, sizeof(as->section_id), "%s", op_jstr(s, "id"));
            sid = as->section_id;
        } else {
            sid = ensure_section(item, as->section, as->section_id);
        }
    }
    if (is_file) {
        return OP_EXIT_OK; /* attached after the item is written */
    }
    cJSON *fields = get_array(item, "fields");
    cJSON *f = op_find_field(item, sid, as->field);
    if (is_delete) {
        if (f == NULL) {
            return op_fail(OP_EXIT_NOT_FOUND, "no field '%s' in the item", as->field);
        }
        cJSON_DetachItemViaPointer(fields, f);
        op_json_free(f);
        return OP_EXIT_OK;
    }
    (void)ctx;
    if (f == NULL) {
        f = cJSON_CreateObject();
        if (sid != NULL) {
            cJSON *sec = cJSON_AddObjectToObject(f, "section");
            cJSON_AddStringToObject(sec, "id", sid);
        }
        bool notes = sid == NULL &&
                     (strcmp(as->field, "notes") == 0 || strcmp(as->field, "notesPlain") == 0);
        if (notes) {
            cJSON_AddStringToObject(f, "id", "notesPlain"); /* the built-in notes field */
        }
        cJSON_AddStringToObject(f, "label", notes ? "notesPlain" : as->field);
        const char *type = as->type != NULL ? as->type : default_type(as->field);
        if (type != NULL) {
            cJSON_AddStringToObject(f, "type", type);
        }
        cJSON_AddItemToArray(fields, f);
    } else if (as->type != NULL) {
        set_str(f, "type", as->type);
    }
    set_str(f, "value", as->value);
    drop(f, "generate");
    drop(f, "recipe");
    drop(f, "entropy");
    drop(f, "totp");
    return OP_EXIT_OK;
}

static void apply_generate(cJSON *item, const cJSON *recipe)
{
    cJSON *fields = get_array(item, "fields");
    cJSON *pw = NULL;
    cJSON *f;
    cJSON_ArrayForEach(f, fields)
    {
        if (strcmp(op_jstr(f, "purpose"), "PASSWORD") == 0) {
            pw = f;
            break;
        }
    }
    if (pw == NULL) {
        pw = op_find_field(item, NULL, "password");
    }
    if (pw == NULL) {
        pw = cJSON_CreateObject();
        cJSON_AddStringToObject(pw, "id", "password");
        cJSON_AddStringToObject(pw, "label", "password");
        cJSON_AddStringToObject(pw, "purpose", "PASSWORD");
        cJSON_AddStringToObject(pw, "type", "CONCEALED");
        cJSON_AddItemToArray(fields, pw);
    }
    drop(pw, "value");
    drop(pw, "entropy");
    drop(pw, "generate");
    drop(pw, "recipe");
    cJSON_AddBoolToObject(pw, "generate", true);
    if (recipe != NULL && cJSON_GetArraySize(recipe) > 0) {
        cJSON_AddItemToObject(pw, "recipe", cJSON_Duplicate(recipe, true));
    }
}

static void set_urls(cJSON *item, const char *url)
{
    cJSON *urls = get_array(item, "urls");
    cJSON *u;
    cJSON *target = NULL;
    cJSON_ArrayForEach(u, urls)
    {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "primary"))) {
            target = u;
        }
    }
    if (target == NULL) {
        target = cJSON_GetArrayItem(urls, 0);
    }
    if (target == NULL) {
        target = cJSON_CreateObject();
        cJSON_AddStringToObject(target, "label", "website");
        cJSON_AddBoolToObject(target, "primary", true);
        cJSON_AddItemToArray(urls, target);
    }
    set_str(target, "href", url);
}

static int set_tags(cJSON *item, const char *tags)
{
    size_t n = 0;
    char **v = op_split_list(tags, &n);
    if (v == NULL) {
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    drop(item, "tags");
    cJSON *arr = cJSON_AddArrayToObject(item, "tags");
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
    }
    op_strv_free(v);
    return OP_EXIT_OK;
}

/* Title, URL, tags, assignments and the generated password. */
int op_plan_apply(const struct op_ctx *ctx, const struct op_args *a, cJSON *item,
                  struct op_plan *plan)
{
    if (op_arg(a, "title") != NULL) {
        set_str(item, "title", op_arg(a, "title"));
    }
    if (op_arg(a, "url") != NULL) {
        set_urls(item, op_arg(a, "url"));
    }
    if (op_arg(a, "tags") != NULL) {
        int rc = set_tags(item, op_arg(a, "tags"));
        if (rc != OP_EXIT_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < plan->n; i++) {
        int rc = apply_assign(ctx, item, &plan->as[i]);
        if (rc != OP_EXIT_OK) {
            return rc;
        }
    }
    if (plan->generate) {
        apply_generate(item, plan->recipe);
    }
    return OP_EXIT_OK;
}
