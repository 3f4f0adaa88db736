/*
 * tools/op/vault.c - op vault create|list|get|edit|delete.
 *
 * JSON output is the Connect vault object (a JSON array for list); vaults
 * are named by id or name.
 */
#include "op.h"

#include <stdio.h>
#include <string.h>

static int print_vault_json_text(const struct op_ctx *ctx, char *text)
{
    cJSON *v = op_json_parse(text, strlen(text));
    opc_free(text);
    if (v == NULL) {
        return op_fail(OP_EXIT_GENERIC, "the library returned malformed JSON");
    }
    if (ctx->json) {
        op_print_json(v);
    } else {
        char num[32];
        op_kv("ID", op_jstr(v, "id"));
        op_kv("Name", op_jstr(v, "name"));
        if (op_jstr(v, "description")[0] != '\0') {
            op_kv("Description", op_jstr(v, "description"));
        }
        op_kv("Type", op_jstr(v, "type"));
        (void)snprintf(num, sizeof(num), "%lld", (long long)op_jint(v, "items", 0));
        op_kv("Items", num);
        (void)snprintf(num, sizeof(num), "%lld", (long long)op_jint(v, "attributeVersion", 0));
        op_kv("Attr. version", num);
        (void)snprintf(num, sizeof(num), "%lld", (long long)op_jint(v, "contentVersion", 0));
        op_kv("Cont. version", num);
        op_kv("Created", op_jstr(v, "createdAt"));
        op_kv("Updated", op_jstr(v, "updatedAt"));
    }
    cJSON_Delete(v);
    return OP_EXIT_OK;
}

int op_cmd_vault_create(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 1 || a->pos[0][0] == '\0') {
        return op_usage(ctx, "expected one vault name");
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char *out = NULL;
    opc_err err = opc_account_vault_create(ctx->acct, a->pos[0], op_arg(a, "description"), &out);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    return print_vault_json_text(ctx, out);
}

int op_cmd_vault_list(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 0) {
        return op_usage(ctx, "unexpected argument '%s'", a->pos[0]);
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char *out = NULL;
    opc_err err = opc_account_vault_list(ctx->acct, &out);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    cJSON *list = op_json_parse(out, strlen(out));
    opc_free(out);
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(list);
        return op_fail(OP_EXIT_GENERIC, "the library returned malformed JSON");
    }
    if (ctx->json) {
        op_print_json(list);
    } else {
        const char *hdr[] = {"ID", "NAME", "ITEMS"};
        struct op_table *t = op_table_new(3, hdr);
        const cJSON *v;
        cJSON_ArrayForEach(v, list)
        {
            char num[32];
            (void)snprintf(num, sizeof(num), "%lld", (long long)op_jint(v, "items", 0));
            const char *row[] = {op_jstr(v, "id"), op_jstr(v, "name"), num};
            op_table_add(t, row);
        }
        op_table_print(t);
        op_table_free(t);
    }
    cJSON_Delete(list);
    return OP_EXIT_OK;
}

int op_cmd_vault_get(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 1) {
        return op_usage(ctx, "expected one vault name or id");
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char *out = NULL;
    opc_err err = opc_account_vault_get(ctx->acct, a->pos[0], &out);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    return print_vault_json_text(ctx, out);
}

int op_cmd_vault_edit(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 1) {
        return op_usage(ctx, "expected one vault name or id");
    }
    const char *name = op_arg(a, "name");
    const char *desc = op_arg(a, "description");
    if (name == NULL && desc == NULL) {
        return op_usage(ctx, "nothing to change: give --name or --description");
    }
    if (name != NULL && name[0] == '\0') {
        return op_usage(ctx, "--name must not be empty");
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char *out = NULL;
    opc_err err = opc_account_vault_edit(ctx->acct, a->pos[0], name, desc, &out);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    return print_vault_json_text(ctx, out);
}

int op_cmd_vault_delete(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 1) {
        return op_usage(ctx, "expected one vault name or id");
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    opc_err err = opc_account_vault_delete(ctx->acct, a->pos[0]);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    return OP_EXIT_OK;
}
