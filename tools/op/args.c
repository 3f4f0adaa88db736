/*
 * tools/op/args.c - flags, positional arguments, durations and lists.
 *
 * Flags follow the 1Password CLI: long flags as "--name value" or
 * "--name=value", a few short aliases ("-f", "-h"), flags anywhere after the
 * command words, and "--" ending the flags.
 */
#include "op.h"

#include <stdlib.h>
#include <string.h>

const struct op_flag op_global_flags[] = {
    {"account", '\0', OP_FLAG_VALUE},
    {"address", '\0', OP_FLAG_VALUE},
    {"ca-file", '\0', OP_FLAG_VALUE},
    {"format", '\0', OP_FLAG_VALUE},
    {"password-stdin", '\0', OP_FLAG_BOOL},
    {"session", '\0', OP_FLAG_VALUE},
    {"help", 'h', OP_FLAG_BOOL},
    {NULL, '\0', OP_FLAG_BOOL},
};

static const struct op_flag *find_long(const struct op_flag *table, const char *name, size_t len)
{
    if (table == NULL) {
        return NULL;
    }
    for (size_t i = 0; table[i].name != NULL; i++) {
        if (strlen(table[i].name) == len && strncmp(table[i].name, name, len) == 0) {
            return &table[i];
        }
    }
    return NULL;
}

static const struct op_flag *find_short(const struct op_flag *table, char c)
{
    if (table == NULL) {
        return NULL;
    }
    for (size_t i = 0; table[i].name != NULL; i++) {
        if (table[i].short_name != '\0' && table[i].short_name == c) {
            return &table[i];
        }
    }
    return NULL;
}

int op_global_flag_kind(const char *arg, bool *takes_value)
{
    *takes_value = false;
    if (strncmp(arg, "--", 2) != 0) {
        if (arg[0] == '-' && arg[1] != '\0' && arg[2] == '\0') {
            return find_short(op_global_flags, arg[1]) != NULL;
        }
        return 0;
    }
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    const struct op_flag *f = find_long(op_global_flags, name, len);
    if (f == NULL) {
        return 0;
    }
    *takes_value = f->kind == OP_FLAG_VALUE && eq == NULL;
    return 1;
}

static int add_opt(struct op_args *out, const struct op_flag *f, const char *value)
{
    out->opts[out->nopts].name = f->name;
    out->opts[out->nopts].value = value;
    out->nopts++;
    return OP_EXIT_OK;
}

int op_args_parse(int argc, char **argv, int first, const bool *skip, const struct op_flag *flags,
                  struct op_args *out)
{
    size_t n = argc > first ? (size_t)(argc - first) : 0;
    memset(out, 0, sizeof(*out));
    out->pos = calloc(n + 1, sizeof(*out->pos));
    out->opts = calloc(n + 1, sizeof(*out->opts));
    if (out->pos == NULL || out->opts == NULL) {
        op_args_free(out);
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    bool only_pos = false;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (skip != NULL && skip[i]) {
            continue;
        }
        if (only_pos || arg[0] != '-' || arg[1] == '\0') {
            out->pos[out->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = true;
            continue;
        }
        const struct op_flag *f;
        const char *value = NULL;
        bool has_eq = false;
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
            f = find_long(flags, name, len);
            if (f == NULL) {
                f = find_long(op_global_flags, name, len);
            }
            if (f == NULL) {
                op_args_free(out);
                return op_fail(OP_EXIT_USAGE, "unknown flag --%.*s (see --help)", (int)len, name);
            }
            if (eq != NULL) {
                value = eq + 1;
                has_eq = true;
            }
        } else {
            f = arg[2] == '\0' ? find_short(flags, arg[1]) : NULL;
            if (f == NULL && arg[2] == '\0') {
                f = find_short(op_global_flags, arg[1]);
            }
            if (f == NULL) {
                op_args_free(out);
                return op_fail(OP_EXIT_USAGE, "unknown flag %s (see --help)", arg);
            }
        }
        switch (f->kind) {
        case OP_FLAG_BOOL:
            if (has_eq) {
                op_args_free(out);
                return op_fail(OP_EXIT_USAGE, "flag --%s takes no value", f->name);
            }
            break;
        case OP_FLAG_VALUE:
            if (!has_eq) {
                if (i + 1 >= argc || (skip != NULL && skip[i + 1])) {
                    op_args_free(out);
                    return op_fail(OP_EXIT_USAGE, "flag --%s needs a value", f->name);
                }
                value = argv[++i];
            }
            break;
        case OP_FLAG_OPTVALUE:
            break;
        }
        add_opt(out, f, value);
    }
    return OP_EXIT_OK;
}

void op_args_free(struct op_args *a)
{
    free(a->pos);
    free(a->opts);
    memset(a, 0, sizeof(*a));
}

const char *op_arg(const struct op_args *a, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < a->nopts; i++) {
        if (strcmp(a->opts[i].name, name) == 0) {
            v = a->opts[i].value;
        }
    }
    return v;
}

bool op_has(const struct op_args *a, const char *name)
{
    for (size_t i = 0; i < a->nopts; i++) {
        if (strcmp(a->opts[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- durations ---- */

bool op_duration_parse(const char *s, int64_t *out_s)
{
    /* Ten years is far beyond any sensible token or session lifetime and
     * keeps every sum far from overflow. */
    const int64_t max_s = 10LL * 366 * 24 * 3600;
    int64_t total = 0;
    const char *p = s;
    if (p == NULL || *p == '\0') {
        return false;
    }
    while (*p != '\0') {
        if (*p < '0' || *p > '9') {
            return false;
        }
        int64_t n = 0;
        while (*p >= '0' && *p <= '9') {
            n = n * 10 + (*p - '0');
            if (n > max_s) {
                return false;
            }
            p++;
        }
        int64_t unit;
        switch (*p) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        case 'w':
            unit = 7 * 86400;
            break;
        default:
            return false;
        }
        p++;
        if (n > (max_s - total) / unit) {
            return false;
        }
        total += n * unit;
    }
    if (total <= 0) {
        return false;
    }
    *out_s = total;
    return true;
}

/* ---- comma-separated lists ---- */

static char *dup_trimmed(const char *b, const char *e)
{
    while (b < e && (*b == ' ' || *b == '\t')) {
        b++;
    }
    while (e > b && (e[-1] == ' ' || e[-1] == '\t')) {
        e--;
    }
    size_t len = (size_t)(e - b);
    char *s = malloc(len + 1);
    if (s != NULL) {
        memcpy(s, b, len);
        s[len] = '\0';
    }
    return s;
}

char **op_split_list(const char *s, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p != '\0'; p++) {
        cap += *p == ',';
    }
    char **v = calloc(cap + 1, sizeof(*v));
    if (v == NULL) {
        return NULL;
    }
    size_t k = 0;
    const char *b = s;
    for (;;) {
        const char *e = strchr(b, ',');
        if (e == NULL) {
            e = b + strlen(b);
        }
        char *item = dup_trimmed(b, e);
        if (item == NULL) {
            op_strv_free(v);
            return NULL;
        }
        if (item[0] == '\0') {
            free(item);
        } else {
            v[k++] = item;
        }
        if (*e == '\0') {
            break;
        }
        b = e + 1;
    }
    *n = k;
    return v;
}

void op_strv_free(char **v)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; v[i] != NULL; i++) {
        free(v[i]);
    }
    free(v);
}
