/*
 * tools/op/output.c - error lines, exit codes, JSON and human output.
 *
 * Errors are one line on stderr, "[ERROR] <message>", with the library's
 * secret-free message. JSON output is the library's JSON (Connect shapes),
 * re-printed with two-space indentation. Trees that may hold secrets are
 * wiped before they are freed.
 */
#include "op.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---- */

static void verror(const char *fmt, va_list ap) OPC_PRINTF(1, 0);

static void verror(const char *fmt, va_list ap)
{
    char line[1024];
    (void)vsnprintf(line, sizeof(line), fmt, ap);
    /* One line: a message never spans lines, whatever it quotes. */
    for (char *p = line; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    (void)fflush(stdout);
    (void)fprintf(stderr, "[ERROR] %s\n", line);
}

int op_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
    return code;
}

int op_usage(const struct op_ctx *ctx, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ctx != NULL && ctx->cmd != NULL) {
        return op_fail(OP_EXIT_USAGE, "%s (see 'op %s --help')", msg, ctx->cmd);
    }
    return op_fail(OP_EXIT_USAGE, "%s (see 'op --help')", msg);
}

int op_exit_for(opc_err err)
{
    switch (err) {
    case OPC_OK:
        return OP_EXIT_OK;
    case OPC_ERR_NOT_FOUND:
        return OP_EXIT_NOT_FOUND;
    case OPC_ERR_CONFLICT:
        return OP_EXIT_CONFLICT;
    case OPC_ERR_EXISTS:
        return OP_EXIT_EXISTS;
    case OPC_ERR_PERMISSION:
        return OP_EXIT_PERMISSION;
    case OPC_ERR_PARSE:
    case OPC_ERR_RANGE:
    case OPC_ERR_TOO_LARGE:
    case OPC_ERR_INVALID_ARG:
        return OP_EXIT_INVALID;
    case OPC_ERR_LOCKED:
    case OPC_ERR_TOKEN:
    case OPC_ERR_VERIFIER:
        return OP_EXIT_AUTH;
    case OPC_ERR_DECRYPT:
    case OPC_ERR_SIGNATURE:
        return OP_EXIT_INTEGRITY;
    default:
        return OP_EXIT_GENERIC;
    }
}

int op_fail_lib(const struct op_ctx *ctx, opc_err err, const char *detail)
{
    const char *msg = detail;
    if (msg == NULL || msg[0] == '\0') {
        msg = ctx != NULL && ctx->acct != NULL ? opc_account_errmsg(ctx->acct) : "";
    }
    if (msg == NULL || msg[0] == '\0') {
        msg = opc_strerror(err);
    }
    return op_fail(op_exit_for(err), "%s", msg);
}

/* ---- JSON ---- */

cJSON *op_json_parse(const char *text, size_t len)
{
    if (text == NULL) {
        return NULL;
    }
    return cJSON_ParseWithLength(text, len);
}

static void wipe_tree(cJSON *j)
{
    for (; j != NULL; j = j->next) {
        if (j->valuestring != NULL) {
            opc_memzero(j->valuestring, strlen(j->valuestring));
        }
        if (j->string != NULL && (j->type & cJSON_StringIsConst) == 0) {
            opc_memzero(j->string, strlen(j->string));
        }
        wipe_tree(j->child);
    }
}

void op_json_free(cJSON *j)
{
    if (j == NULL) {
        return;
    }
    cJSON *next = j->next;
    j->next = NULL; /* wipe this node and its children only */
    wipe_tree(j);
    j->next = next;
    cJSON_Delete(j);
}

/* cJSON indents with tabs and puts a tab after ':'; strings never hold a
 * raw tab (they are escaped), so every tab is layout. */
static void emit_indented(const char *s)
{
    bool line_start = true;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '\t') {
            (void)fputs(line_start ? "  " : " ", stdout);
            continue;
        }
        (void)putchar(*p);
        line_start = *p == '\n';
    }
    (void)putchar('\n');
}

void op_print_secret_string(char *s)
{
    if (s == NULL) {
        return;
    }
    emit_indented(s);
    opc_memzero(s, strlen(s));
    cJSON_free(s);
}

void op_print_json(const cJSON *j)
{
    char *s = cJSON_Print(j);
    if (s == NULL) {
        (void)op_fail(OP_EXIT_GENERIC, "out of memory");
        return;
    }
    op_print_secret_string(s);
}

const char *op_jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring != NULL ? v->valuestring : "";
}

int64_t op_jint(const cJSON *obj, const char *key, int64_t def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

/* ---- tables ---- */

struct op_table {
    size_t ncols;
    size_t nrows; /* including the header row */
    size_t cap;
    char **cells;
};

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

struct op_table *op_table_new(size_t ncols, const char *const *headers)
{
    struct op_table *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->ncols = ncols;
    op_table_add(t, headers);
    return t;
}

void op_table_add(struct op_table *t, const char *const *cells)
{
    if (t == NULL) {
        return;
    }
    if (t->nrows == t->cap) {
        size_t cap = t->cap == 0 ? 16 : t->cap * 2;
        char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
        if (c == NULL) {
            return;
        }
        t->cells = c;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        t->cells[t->nrows * t->ncols + i] = xstrdup(cells[i] != NULL ? cells[i] : "");
    }
    t->nrows++;
}

void op_table_print(struct op_table *t)
{
    if (t == NULL) {
        return;
    }
    size_t width[16] = {0};
    size_t ncols = t->ncols < 16 ? t->ncols : 16;
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t len = s != NULL ? strlen(s) : 0;
            width[c] = len > width[c] ? len : width[c];
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            s = s != NULL ? s : "";
            if (c + 1 == ncols) {
                (void)printf("%s\n", s);
            } else {
                (void)printf("%-*s   ", (int)width[c], s);
            }
        }
    }
}

void op_table_free(struct op_table *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    free(t);
}

void op_kv(const char *label, const char *value)
{
    char key[64];
    (void)snprintf(key, sizeof(key), "%s:", label);
    (void)printf("%-14s %s\n", key, value != NULL ? value : "");
}

/* ---- items ---- */

bool op_field_concealed(const cJSON *field)
{
    const char *type = op_jstr(field, "type");
    return strcmp(type, "CONCEALED") == 0 || strcmp(type, "OTP") == 0 ||
           strcmp(op_jstr(field, "purpose"), "PASSWORD") == 0;
}

static const char *field_label(const cJSON *f)
{
    const char *l = op_jstr(f, "label");
    return l[0] != '\0' ? l : op_jstr(f, "id");
}

static void print_field(const cJSON *f, bool reveal)
{
    char key[160];
    (void)snprintf(key, sizeof(key), "  %s:", field_label(f));
    const char *value = op_jstr(f, "value");
    if (op_field_concealed(f) && !reveal) {
        (void)printf("%-16s %s\n", key, "[concealed; use --reveal]");
        return;
    }
    const char *totp = op_jstr(f, "totp");
    if (totp[0] != '\0') {
        (void)printf("%-16s %s (current code: %s)\n", key, value, totp);
    } else {
        (void)printf("%-16s %s\n", key, value);
    }
}

static bool field_in_section(const cJSON *f, const char *section_id)
{
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(f, "section");
    const char *id = op_jstr(sec, "id");
    if (section_id == NULL) {
        return id[0] == '\0';
    }
    return strcmp(id, section_id) == 0;
}

static void print_fields(const cJSON *item, const char *section_id, const char *heading,
                         bool reveal)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(item, "fields");
    const cJSON *f;
    bool any = false;
    cJSON_ArrayForEach(f, fields)
    {
        if (!field_in_section(f, section_id)) {
            continue;
        }
        if (op_jstr(f, "value")[0] == '\0' && !cJSON_HasObjectItem(f, "totp")) {
            continue; /* empty built-in fields are noise */
        }
        if (!any) {
            (void)printf("%s:\n", heading);
            any = true;
        }
        print_field(f, reveal);
    }
}

void op_print_item_human(const struct op_ctx *ctx, const cJSON *item, bool reveal)
{
    const char *vault_id = op_jstr(cJSON_GetObjectItemCaseSensitive(item, "vault"), "id");
    char vault_line[512];
    (void)snprintf(vault_line, sizeof(vault_line), "%s", vault_id);
    if (ctx != NULL && ctx->acct != NULL && vault_id[0] != '\0') {
        char *vj = NULL;
        if (opc_account_vault_get(ctx->acct, vault_id, &vj) == OPC_OK) {
            cJSON *v = op_json_parse(vj, strlen(vj));
            (void)snprintf(vault_line, sizeof(vault_line), "%s (%s)", op_jstr(v, "name"), vault_id);
            cJSON_Delete(v);
        }
        opc_free(vj);
    }
    char num[32];
    op_kv("ID", op_jstr(item, "id"));
    op_kv("Title", op_jstr(item, "title"));
    op_kv("Vault", vault_line);
    op_kv("Category", op_jstr(item, "category"));
    (void)snprintf(num, sizeof(num), "%lld", (long long)op_jint(item, "version", 0));
    op_kv("Version", num);
    op_kv("Created", op_jstr(item, "createdAt"));
    op_kv("Updated", op_jstr(item, "updatedAt"));
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(item, "tags");
    if (cJSON_GetArraySize(tags) > 0) {
        char line[1024] = "";
        size_t used = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, tags)
        {
            if (cJSON_IsString(t)) {
                int w = snprintf(line + used, sizeof(line) - used, "%s%s", used > 0 ? ", " : "",
                                 t->valuestring);
                if (w < 0 || (size_t)w >= sizeof(line) - used) {
                    break;
                }
                used += (size_t)w;
            }
        }
        op_kv("Tags", line);
    }
    print_fields(item, NULL, "Fields", reveal);
    const cJSON *sections = cJSON_GetObjectItemCaseSensitive(item, "sections");
    const cJSON *s;
    cJSON_ArrayForEach(s, sections)
    {
        const char *label = op_jstr(s, "label");
        print_fields(item, op_jstr(s, "id"), label[0] != '\0' ? label : op_jstr(s, "id"), reveal);
    }
    const cJSON *urls = cJSON_GetObjectItemCaseSensitive(item, "urls");
    if (cJSON_GetArraySize(urls) > 0) {
        (void)printf("URLs:\n");
        const cJSON *u;
        cJSON_ArrayForEach(u, urls)
        {
            const char *label = op_jstr(u, "label");
            bool primary = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "primary"));
            (void)printf("  %-14s %s%s\n", label[0] != '\0' ? label : "website", op_jstr(u, "href"),
                         primary ? " (primary)" : "");
        }
    }
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(item, "files");
    if (cJSON_GetArraySize(files) > 0) {
        (void)printf("Files:\n");
        const cJSON *f;
        cJSON_ArrayForEach(f, files)
        {
            (void)printf("  %-14s %lld bytes, id %s\n", op_jstr(f, "name"),
                         (long long)op_jint(f, "size", 0), op_jstr(f, "id"));
        }
    }
}

void op_print_item(const struct op_ctx *ctx, const cJSON *item, bool reveal)
{
    if (ctx->json) {
        op_print_json(item);
    } else {
        op_print_item_human(ctx, item, reveal);
    }
}
