/*
 * tools/op/item.c - op item create|get|list|edit|delete.
 *
 * `item edit` reads the item, applies every change to that copy
 * (assign.c) and writes it back with one replace call that carries the
 * version it read (or --version), so a concurrent change is a conflict,
 * never a lost update. Files named by `[file]` assignments are read before
 * anything is written and attached after the item is stored.
 */
#include "op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Parse a library item result; frees the secret. */
static int take_item(opc_secret *s, cJSON **out)
{
    *out = op_json_parse(opc_secret_data(s), opc_secret_len(s));
    opc_secret_free(s);
    if (*out == NULL) {
        return op_fail(OP_EXIT_GENERIC, "the library returned malformed JSON");
    }
    return OP_EXIT_OK;
}

/* Attach the plan's files to the stored item; *item is replaced by the
 * newest version. */
static int attach_files(struct op_ctx *ctx, struct op_plan *plan, cJSON **item)
{
    for (size_t i = 0; i < plan->n; i++) {
        struct op_assign *as = &plan->as[i];
        if (as->type == NULL || strcmp(as->type, "file") != 0) {
            continue;
        }
        const char *vault = op_jstr(cJSON_GetObjectItemCaseSensitive(*item, "vault"), "id");
        opc_secret *out = NULL;
        opc_err err =
            opc_account_file_attach(ctx->acct, vault, op_jstr(*item, "id"), as->field,
                                    as->section_id[0] != '\0' ? as->section_id : NULL, as->data,
                                    as->len, op_jint(*item, "version", 0), &out);
        if (err != OPC_OK) {
            return op_fail_lib(ctx, err, NULL);
        }
        op_json_free(*item);
        int rc = take_item(out, item);
        if (rc != OP_EXIT_OK) {
            return rc;
        }
    }
    return OP_EXIT_OK;
}

static int serialize(const cJSON *item, char **out)
{
    *out = cJSON_PrintUnformatted(item);
    return *out != NULL ? OP_EXIT_OK : op_fail(OP_EXIT_GENERIC, "out of memory");
}

static void free_serialized(char *s)
{
    if (s != NULL) {
        opc_memzero(s, strlen(s));
        cJSON_free(s);
    }
}

/* "API Credential" / "api-credential" / "login" -> "API_CREDENTIAL" / "LOGIN". */
static void category_name(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (const char *p = in; *p != '\0' && k + 1 < n; p++) {
        char c = *p;
        if (c == ' ' || c == '-') {
            c = '_';
        } else if (c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
        }
        out[k++] = c;
    }
    out[k] = '\0';
}

/* ---- op item create ---- */

int op_cmd_item_create(struct op_ctx *ctx, const struct op_args *a)
{
    const char *category = op_arg(a, "category");
    const char *vault = op_arg(a, "vault");
    if (category == NULL || category[0] == '\0') {
        return op_usage(ctx, "--category is required");
    }
    if (vault == NULL) {
        return op_usage(ctx, "--vault is required");
    }
    struct op_plan plan;
    int rc = op_plan_parse(ctx, a, 0, &plan);
    if (rc == OP_EXIT_OK) {
        rc = op_open_unlocked(ctx);
    }
    if (rc != OP_EXIT_OK) {
        op_plan_free(&plan);
        return rc;
    }
    char cat[64];
    category_name(category, cat, sizeof(cat));
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "title", op_arg(a, "title") != NULL ? op_arg(a, "title") : "");
    cJSON_AddStringToObject(item, "category", cat);
    rc = op_plan_apply(ctx, a, item, &plan);
    char *json = NULL;
    if (rc == OP_EXIT_OK) {
        rc = serialize(item, &json);
    }
    op_json_free(item);
    item = NULL;
    if (rc == OP_EXIT_OK) {
        opc_secret *out = NULL;
        opc_err err = opc_account_item_create(ctx->acct, vault, json, &out);
        rc = err == OPC_OK ? take_item(out, &item) : op_fail_lib(ctx, err, NULL);
    }
    free_serialized(json);
    if (rc == OP_EXIT_OK) {
        rc = attach_files(ctx, &plan, &item);
        if (rc != OP_EXIT_OK) {
            /* Undo the create: a failed command leaves nothing behind. */
            const char *vid = op_jstr(cJSON_GetObjectItemCaseSensitive(item, "vault"), "id");
            opc_err undo = opc_account_item_delete(ctx->acct, vid, op_jstr(item, "id"), 0);
            (void)undo; /* the attach error is what the user needs to see */
        }
    }
    if (rc == OP_EXIT_OK) {
        op_print_item(ctx, item, false);
    }
    op_json_free(item);
    op_plan_free(&plan);
    return rc;
}

/* ---- finding items ---- */

/*
 * Item titles are vault content: an error line never repeats the one the
 * user typed (stderr ends up in logs). The library's message is used only
 * when it is about something else (e.g. the vault).
 */
static int item_lookup_fail(struct op_ctx *ctx, opc_err err, const char *vault)
{
    if (err == OPC_ERR_NOT_FOUND) {
        char *vj = NULL;
        opc_err verr = opc_account_vault_get(ctx->acct, vault, &vj);
        opc_free(vj);
        if (verr != OPC_OK) {
            return op_fail_lib(ctx, verr, NULL);
        }
        return op_fail(OP_EXIT_NOT_FOUND, "no item with that title or id in vault %s", vault);
    }
    if (err == OPC_ERR_CONFLICT) {
        return op_fail(OP_EXIT_CONFLICT,
                       "several items in vault %s have that title; use the item's id "
                       "(op item list --vault %s)",
                       vault, vault);
    }
    return op_fail_lib(ctx, err, NULL);
}

int op_item_find(struct op_ctx *ctx, const char *vault, const char *item, cJSON **out)
{
    *out = NULL;
    opc_secret *s = NULL;
    if (vault != NULL) {
        opc_err err = opc_account_item_get(ctx->acct, vault, item, &s);
        if (err != OPC_OK) {
            return item_lookup_fail(ctx, err, vault);
        }
        return take_item(s, out);
    }
    char *vj = NULL;
    opc_err err = opc_account_vault_list(ctx->acct, &vj);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    cJSON *vaults = op_json_parse(vj, strlen(vj));
    opc_free(vj);
    int found = 0;
    int rc = OP_EXIT_OK;
    const cJSON *v;
    cJSON_ArrayForEach(v, vaults)
    {
        s = NULL;
        err = opc_account_item_get(ctx->acct, op_jstr(v, "id"), item, &s);
        if (err == OPC_ERR_NOT_FOUND) {
            continue;
        }
        if (err != OPC_OK) {
            rc = item_lookup_fail(ctx, err, op_jstr(v, "name"));
            break;
        }
        if (++found > 1) {
            opc_secret_free(s);
            rc = op_fail(OP_EXIT_CONFLICT, "items in several vaults match; name a --vault");
            break;
        }
        rc = take_item(s, out);
        if (rc != OP_EXIT_OK) {
            break;
        }
    }
    cJSON_Delete(vaults);
    if (rc == OP_EXIT_OK && found == 0) {
        rc = op_fail(OP_EXIT_NOT_FOUND, "no item with that title or id in any vault");
    }
    if (rc != OP_EXIT_OK) {
        op_json_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- op item get ---- */

static int print_fields(const struct op_ctx *ctx, const cJSON *item, const char *list, bool reveal)
{
    size_t n = 0;
    char **names = op_split_list(list, &n);
    if (names == NULL) {
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    cJSON *picked = cJSON_CreateArray();
    int rc = OP_EXIT_OK;
    for (size_t i = 0; i < n && rc == OP_EXIT_OK; i++) {
        const char *name = names[i];
        if (strncmp(name, "label=", 6) == 0) {
            name += 6;
        }
        const char *dot = strchr(name, '.');
        cJSON *f = op_find_field(item, NULL, name);
        if (f == NULL && dot != NULL) {
            char sec[256];
            (void)snprintf(sec, sizeof(sec), "%.*s", (int)(dot - name), name);
            const cJSON *s = op_find_section(item, sec);
            f = s != NULL ? op_find_field(item, op_jstr(s, "id"), dot + 1) : NULL;
        }
        if (f == NULL) {
            rc = op_fail(OP_EXIT_NOT_FOUND, "the item has no field '%s'", name);
        } else {
            cJSON_AddItemToArray(picked, cJSON_Duplicate(f, true));
        }
    }
    op_strv_free(names);
    if (rc == OP_EXIT_OK && ctx->json) {
        op_print_json(cJSON_GetArraySize(picked) == 1 ? cJSON_GetArrayItem(picked, 0) : picked);
    } else if (rc == OP_EXIT_OK) {
        const cJSON *f;
        bool first = true;
        cJSON_ArrayForEach(f, picked)
        {
            bool hide = op_field_concealed(f) && !reveal;
            (void)printf("%s%s", first ? "" : ",",
                         hide ? "[concealed; use --reveal]" : op_jstr(f, "value"));
            first = false;
        }
        (void)printf("\n");
    }
    op_json_free(picked);
    return rc;
}

int op_cmd_item_get(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 1) {
        return op_usage(ctx, "expected one item name or id");
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    cJSON *item = NULL;
    rc = op_item_find(ctx, op_arg(a, "vault"), a->pos[0], &item);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    bool reveal = op_has(a, "reveal");
    if (op_has(a, "otp")) {
        const cJSON *f;
        const char *code = NULL;
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(item, "fields"))
        {
            if (code == NULL && op_jstr(f, "totp")[0] != '\0') {
                code = op_jstr(f, "totp");
            }
        }
        if (code == NULL) {
            rc = op_fail(OP_EXIT_NOT_FOUND, "the item has no one-time password field");
        } else {
            (void)printf("%s\n", code);
        }
    } else if (op_arg(a, "fields") != NULL) {
        rc = print_fields(ctx, item, op_arg(a, "fields"), reveal);
    } else {
        op_print_item(ctx, item, reveal);
    }
    op_json_free(item);
    return rc;
}

/* ---- op item list ---- */

static bool list_has(char **v, size_t n, const char *s, bool category)
{
    if (n == 0) {
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        char want[64];
        if (category) {
            category_name(v[i], want, sizeof(want));
            if (strcmp(want, s) == 0) {
                return true;
            }
        } else if (strcmp(v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

static bool item_selected(const cJSON *it, char **cats, size_t ncats, char **tags, size_t ntags)
{
    if (!list_has(cats, ncats, op_jstr(it, "category"), true)) {
        return false;
    }
    if (ntags == 0) {
        return true;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(it, "tags"))
    {
        if (cJSON_IsString(t) && list_has(tags, ntags, t->valuestring, false)) {
            return true;
        }
    }
    return false;
}

static int list_vault(struct op_ctx *ctx, const char *vault, cJSON *acc, char **cats, size_t ncats,
                      char **tags, size_t ntags)
{
    opc_secret *s = NULL;
    opc_err err = opc_account_item_list(ctx->acct, vault, &s);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    cJSON *items = NULL;
    int rc = take_item(s, &items);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    cJSON *it = items->child;
    while (it != NULL) {
        cJSON *next = it->next;
        if (item_selected(it, cats, ncats, tags, ntags)) {
            cJSON_AddItemToArray(acc, cJSON_DetachItemViaPointer(items, it));
        }
        it = next;
    }
    op_json_free(items);
    return OP_EXIT_OK;
}

int op_cmd_item_list(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 0) {
        return op_usage(ctx, "unexpected argument '%s'", a->pos[0]);
    }
    size_t ncats = 0, ntags = 0;
    char **cats =
        op_split_list(op_arg(a, "categories") != NULL ? op_arg(a, "categories") : "", &ncats);
    char **tags = op_split_list(op_arg(a, "tags") != NULL ? op_arg(a, "tags") : "", &ntags);
    if (cats == NULL || tags == NULL) {
        op_strv_free(cats);
        op_strv_free(tags);
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    int rc = op_open_unlocked(ctx);
    cJSON *acc = cJSON_CreateArray();
    if (rc == OP_EXIT_OK && op_arg(a, "vault") != NULL) {
        rc = list_vault(ctx, op_arg(a, "vault"), acc, cats, ncats, tags, ntags);
    } else if (rc == OP_EXIT_OK) {
        char *vj = NULL;
        opc_err err = opc_account_vault_list(ctx->acct, &vj);
        cJSON *vaults = err == OPC_OK ? op_json_parse(vj, strlen(vj)) : NULL;
        opc_free(vj);
        rc = err == OPC_OK ? OP_EXIT_OK : op_fail_lib(ctx, err, NULL);
        const cJSON *v;
        cJSON_ArrayForEach(v, vaults)
        {
            if (rc == OP_EXIT_OK) {
                rc = list_vault(ctx, op_jstr(v, "id"), acc, cats, ncats, tags, ntags);
            }
        }
        cJSON_Delete(vaults);
    }
    if (rc == OP_EXIT_OK && ctx->json) {
        op_print_json(acc);
    } else if (rc == OP_EXIT_OK) {
        const char *hdr[] = {"ID", "TITLE", "CATEGORY", "VAULT", "EDITED"};
        struct op_table *t = op_table_new(5, hdr);
        const cJSON *it;
        cJSON_ArrayForEach(it, acc)
        {
            const char *row[] = {op_jstr(it, "id"), op_jstr(it, "title"), op_jstr(it, "category"),
                                 op_jstr(cJSON_GetObjectItemCaseSensitive(it, "vault"), "id"),
                                 op_jstr(it, "updatedAt")};
            op_table_add(t, row);
        }
        op_table_print(t);
        op_table_free(t);
    }
    op_json_free(acc);
    op_strv_free(cats);
    op_strv_free(tags);
    return rc;
}

/* ---- op item edit ---- */

int op_cmd_item_edit(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos < 1) {
        return op_usage(ctx, "expected an item name or id");
    }
    int64_t expected = 0;
    const char *ver = op_arg(a, "version");
    if (ver != NULL) {
        char *endp = NULL;
        long long v = strtoll(ver, &endp, 10);
        if (ver[0] < '0' || ver[0] > '9' || *endp != '\0' || v < 1) {
            return op_usage(ctx, "--version must be a positive whole number");
        }
        expected = (int64_t)v;
    }
    struct op_plan plan;
    int rc = op_plan_parse(ctx, a, 1, &plan);
    if (rc == OP_EXIT_OK) {
        rc = op_open_unlocked(ctx);
    }
    cJSON *item = NULL;
    if (rc == OP_EXIT_OK) {
        rc = op_item_find(ctx, op_arg(a, "vault"), a->pos[0], &item);
    }
    if (rc != OP_EXIT_OK) {
        op_plan_free(&plan);
        return rc;
    }
    if (expected == 0) {
        expected = op_jint(item, "version", 0);
    }
    char vault_id[64], item_id[64];
    (void)snprintf(vault_id, sizeof(vault_id), "%s",
                   op_jstr(cJSON_GetObjectItemCaseSensitive(item, "vault"), "id"));
    (void)snprintf(item_id, sizeof(item_id), "%s", op_jstr(item, "id"));
    rc = op_plan_apply(ctx, a, item, &plan);
    char *json = NULL;
    if (rc == OP_EXIT_OK) {
        rc = serialize(item, &json);
    }
    op_json_free(item);
    item = NULL;
    if (rc == OP_EXIT_OK) {
        opc_secret *out = NULL;
        opc_err err = opc_account_item_replace(ctx->acct, vault_id, item_id, json, expected, &out);
        if (err == OPC_ERR_CONFLICT) {
            rc = op_fail(OP_EXIT_CONFLICT,
                         "the item is not at version %lld (it changed meanwhile); nothing was "
                         "written (get it again and retry)",
                         (long long)expected);
        } else {
            rc = err == OPC_OK ? take_item(out, &item) : op_fail_lib(ctx, err, NULL);
        }
    }
    free_serialized(json);
    if (rc == OP_EXIT_OK) {
        rc = attach_files(ctx, &plan, &item);
    }
    if (rc == OP_EXIT_OK) {
        op_print_item(ctx, item, false);
    }
    op_json_free(item);
    op_plan_free(&plan);
    return rc;
}

/* ---- op item delete ---- */

int op_cmd_item_delete(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 1) {
        return op_usage(ctx, "expected one item name or id");
    }
    int rc = op_open_unlocked(ctx);
    cJSON *item = NULL;
    if (rc == OP_EXIT_OK) {
        rc = op_item_find(ctx, op_arg(a, "vault"), a->pos[0], &item);
    }
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    opc_err err = opc_account_item_delete(
        ctx->acct, op_jstr(cJSON_GetObjectItemCaseSensitive(item, "vault"), "id"),
        op_jstr(item, "id"), 0);
    op_json_free(item);
    return err == OPC_OK ? OP_EXIT_OK : op_fail_lib(ctx, err, NULL);
}
