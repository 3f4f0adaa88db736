/*
 * tools/op/connect.c - op connect server|token|vault.
 *
 * `server create` writes ./1password-credentials.json (mode 0600) and
 * refuses to replace an existing one without --force, checking before the
 * server is created so that a refusal changes nothing; if the file cannot
 * be written after all, the new server is deleted again. `token create`
 * prints the token and nothing else (human format); the account keeps only
 * the token's registry entry.
 */
#include "op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OP_CREDENTIALS_FILE "1password-credentials.json"

/* A member that may be a string or an object with "name"/"id". */
static const char *str_or_name(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsString(v)) {
        return v->valuestring;
    }
    const char *name = op_jstr(v, "name");
    return name[0] != '\0' ? name : op_jstr(v, "id");
}

static void vault_names(const cJSON *vaults, char *out, size_t n, bool with_access)
{
    size_t used = 0;
    out[0] = '\0';
    const cJSON *v;
    cJSON_ArrayForEach(v, vaults)
    {
        const char *name = cJSON_IsString(v) ? v->valuestring : op_jstr(v, "name");
        if (name[0] == '\0') {
            name = op_jstr(v, "id");
        }
        const char *acc = with_access ? op_jstr(v, "access") : "";
        int w = snprintf(out + used, n - used, "%s%s%s%s", used > 0 ? ", " : "", name,
                         acc[0] != '\0' ? ":" : "", acc);
        if (w < 0 || (size_t)w >= n - used) {
            break;
        }
        used += (size_t)w;
    }
}

/* Print the library's JSON (an object or an array) in the chosen format. */
static int print_server(const struct op_ctx *ctx, const cJSON *s)
{
    if (ctx->json) {
        op_print_json(s);
        return OP_EXIT_OK;
    }
    char vaults[1024];
    vault_names(cJSON_GetObjectItemCaseSensitive(s, "vaults"), vaults, sizeof(vaults), false);
    op_kv("ID", op_jstr(s, "id"));
    op_kv("Name", op_jstr(s, "name"));
    op_kv("State", op_jstr(s, "state"));
    op_kv("Vaults", vaults);
    op_kv("Created", op_jstr(s, "createdAt"));
    op_kv("Updated", op_jstr(s, "updatedAt"));
    return OP_EXIT_OK;
}

static int print_token(const struct op_ctx *ctx, const cJSON *t)
{
    if (ctx->json) {
        op_print_json(t);
        return OP_EXIT_OK;
    }
    char vaults[1024];
    vault_names(cJSON_GetObjectItemCaseSensitive(t, "vaults"), vaults, sizeof(vaults), true);
    op_kv("ID", op_jstr(t, "id"));
    op_kv("Name", op_jstr(t, "name"));
    op_kv("Server", str_or_name(t, "server"));
    op_kv("State", op_jstr(t, "state"));
    op_kv("Vaults", vaults);
    op_kv("Created", op_jstr(t, "createdAt"));
    op_kv("Expires", op_jstr(t, "expiresAt")[0] != '\0' ? op_jstr(t, "expiresAt") : "never");
    return OP_EXIT_OK;
}

/* Parse and print library JSON text (freed here) with printer. */
static int print_text(const struct op_ctx *ctx, char *text,
                      int (*printer)(const struct op_ctx *, const cJSON *))
{
    cJSON *j = op_json_parse(text, strlen(text));
    opc_free(text);
    if (j == NULL) {
        return op_fail(OP_EXIT_GENERIC, "the library returned malformed JSON");
    }
    int rc = printer(ctx, j);
    cJSON_Delete(j);
    return rc;
}

/* Every value of a repeatable flag and the comma lists of another. */
static char **collect_vaults(const struct op_args *a, size_t *n)
{
    size_t cap = 1;
    for (size_t i = 0; i < a->nopts; i++) {
        if (a->opts[i].value != NULL) {
            cap += strlen(a->opts[i].value) + 1;
        }
    }
    char **v = calloc(cap + 1, sizeof(*v));
    if (v == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < a->nopts; i++) {
        const char *val = a->opts[i].value;
        if (val == NULL ||
            (strcmp(a->opts[i].name, "vault") != 0 && strcmp(a->opts[i].name, "vaults") != 0)) {
            continue;
        }
        size_t m = 0;
        char **parts = op_split_list(val, &m);
        if (parts == NULL) {
            op_strv_free(v);
            return NULL;
        }
        for (size_t j = 0; j < m; j++) {
            v[k++] = parts[j];
            parts[j] = NULL;
        }
        free(parts);
    }
    *n = k;
    return v;
}

/*
 * The --upstream values as the library takes them: one value as given (a
 * path, a URL or a comma-separated list of URLs); several (the flag
 * repeated, one account server each) joined with commas. NULL without the
 * flag, or out of memory (the flag given).
 */
static char *join_upstreams(const struct op_args *a)
{
    size_t len = 0, count = 0;
    for (size_t i = 0; i < a->nopts; i++) {
        if (a->opts[i].value != NULL && strcmp(a->opts[i].name, "upstream") == 0) {
            len += strlen(a->opts[i].value) + 1;
            count++;
        }
    }
    if (count == 0) {
        return NULL;
    }
    char *s = malloc(len);
    if (s == NULL) {
        return NULL;
    }
    s[0] = '\0';
    for (size_t i = 0; i < a->nopts; i++) {
        if (a->opts[i].value != NULL && strcmp(a->opts[i].name, "upstream") == 0) {
            if (s[0] != '\0') {
                strcat(s, ",");
            }
            strcat(s, a->opts[i].value);
        }
    }
    return s;
}

static bool is_access(const char *s)
{
    return strcmp(s, "r") == 0 || strcmp(s, "w") == 0 || strcmp(s, "rw") == 0;
}

/* Join "vault" with a following "r|w|rw" element into "vault,r". */
static int group_specs(const struct op_ctx *ctx, char **v, size_t n, size_t *out_n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_access(v[i])) {
            if (k == 0 || strchr(v[k - 1], ',') != NULL) {
                return op_usage(ctx, "access '%s' must follow a vault (e.g. --vault prod,r)", v[i]);
            }
            size_t len = strlen(v[k - 1]) + strlen(v[i]) + 2;
            char *joined = malloc(len);
            if (joined == NULL) {
                return op_fail(OP_EXIT_GENERIC, "out of memory");
            }
            (void)snprintf(joined, len, "%s,%s", v[k - 1], v[i]);
            free(v[k - 1]);
            free(v[i]);
            v[i] = NULL;
            v[k - 1] = joined;
            continue;
        }
        v[k++] = v[i];
        if (k - 1 != i) {
            v[i] = NULL;
        }
    }
    v[k] = NULL;
    *out_n = k;
    return OP_EXIT_OK;
}

/* ---- servers ---- */

int op_cmd_server_create(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 1 || a->pos[0][0] == '\0') {
        return op_usage(ctx, "expected one server name");
    }
    size_t n = 0;
    char **vaults = collect_vaults(a, &n);
    if (vaults == NULL) {
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    bool force = op_has(a, "force");
    int rc = OP_EXIT_OK;
    struct stat st;
    char *upstream = join_upstreams(a);
    const char *pin = op_arg(a, "upstream-pin");
    bool remote = upstream != NULL && strstr(upstream, "://") != NULL;
    if (upstream == NULL && op_arg(a, "upstream") != NULL) {
        op_strv_free(vaults);
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    if (n == 0) {
        rc = op_usage(ctx, "--vaults is required (the vaults the server may read)");
    } else if (remote && pin == NULL) {
        rc = op_usage(ctx, "an https:// --upstream needs --upstream-pin (the account server's "
                           "key pin, printed by op-account-server)");
    } else if (!remote && pin != NULL) {
        rc = op_usage(ctx, "--upstream-pin goes with an https:// --upstream");
    } else if (!force && lstat(OP_CREDENTIALS_FILE, &st) == 0) {
        rc = op_fail(OP_EXIT_EXISTS, "./%s already exists (use --force to overwrite it)",
                     OP_CREDENTIALS_FILE);
    }
    if (rc == OP_EXIT_OK) {
        rc = op_open_unlocked(ctx);
    }
    if (rc != OP_EXIT_OK) {
        op_strv_free(vaults);
        free(upstream);
        return rc;
    }
    char *json = NULL;
    opc_secret *creds = NULL;
    opc_err err = opc_account_server_create2(ctx->acct, a->pos[0], (const char *const *)vaults, n,
                                             upstream, pin, &json, &creds);
    op_strv_free(vaults);
    free(upstream);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    rc = op_write_file_0600(OP_CREDENTIALS_FILE, opc_secret_data(creds), opc_secret_len(creds),
                            !force);
    opc_secret_free(creds);
    cJSON *server = op_json_parse(json, strlen(json));
    opc_free(json);
    if (rc != OP_EXIT_OK) {
        /* The credentials are shown only once: without the file the server
         * is useless, so undo it. */
        if (server != NULL) {
            opc_err undo = opc_account_server_delete(ctx->acct, op_jstr(server, "id"));
            (void)undo; /* the write error is what the user needs to see */
        }
        cJSON_Delete(server);
        return rc;
    }
    if (server == NULL) {
        return op_fail(OP_EXIT_GENERIC, "the library returned malformed JSON");
    }
    char cwd[4096];
    char path[4200];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        (void)snprintf(cwd, sizeof(cwd), ".");
    }
    (void)snprintf(path, sizeof(path), "%s/%s", cwd, OP_CREDENTIALS_FILE);
    if (ctx->json) {
        cJSON_AddStringToObject(server, "credentialsFile", path);
        op_print_json(server);
    } else {
        (void)printf("Set up a Connect server.\n");
        op_kv("UUID", op_jstr(server, "id"));
        op_kv("Credentials", path);
    }
    cJSON_Delete(server);
    return OP_EXIT_OK;
}

int op_cmd_server_list(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 0) {
        return op_usage(ctx, "unexpected argument '%s'", a->pos[0]);
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char *out = NULL;
    opc_err err = opc_account_server_list(ctx->acct, &out);
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
        const char *hdr[] = {"ID", "NAME", "STATE", "VAULTS"};
        struct op_table *t = op_table_new(4, hdr);
        const cJSON *s;
        cJSON_ArrayForEach(s, list)
        {
            char vaults[1024];
            vault_names(cJSON_GetObjectItemCaseSensitive(s, "vaults"), vaults, sizeof(vaults),
                        false);
            const char *row[] = {op_jstr(s, "id"), op_jstr(s, "name"), op_jstr(s, "state"), vaults};
            op_table_add(t, row);
        }
        op_table_print(t);
        op_table_free(t);
    }
    cJSON_Delete(list);
    return OP_EXIT_OK;
}

int op_cmd_server_get(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 1) {
        return op_usage(ctx, "expected one server name or id");
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char *out = NULL;
    opc_err err = opc_account_server_get(ctx->acct, a->pos[0], &out);
    return err == OPC_OK ? print_text(ctx, out, print_server) : op_fail_lib(ctx, err, NULL);
}

int op_cmd_server_edit(struct op_ctx *ctx, const struct op_args *a)
{
    const char *name = op_arg(a, "name");
    if (a->npos != 1) {
        return op_usage(ctx, "expected one server name or id");
    }
    if (name == NULL || name[0] == '\0') {
        return op_usage(ctx, "--name is required");
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char *out = NULL;
    opc_err err = opc_account_server_rename(ctx->acct, a->pos[0], name, &out);
    return err == OPC_OK ? print_text(ctx, out, print_server) : op_fail_lib(ctx, err, NULL);
}

int op_cmd_server_delete(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 1) {
        return op_usage(ctx, "expected one server name or id");
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    opc_err err = opc_account_server_delete(ctx->acct, a->pos[0]);
    return err == OPC_OK ? OP_EXIT_OK : op_fail_lib(ctx, err, NULL);
}

/* ---- tokens ---- */

int op_cmd_token_create(struct op_ctx *ctx, const struct op_args *a)
{
    const char *server = op_arg(a, "server");
    if (a->npos != 1 || a->pos[0][0] == '\0') {
        return op_usage(ctx, "expected one token name");
    }
    if (server == NULL || server[0] == '\0') {
        return op_usage(ctx, "--server is required");
    }
    int64_t expires = 0;
    const char *exp = op_arg(a, "expires-in");
    if (exp != NULL && !op_duration_parse(exp, &expires)) {
        return op_usage(ctx, "invalid --expires-in '%s' (use e.g. 90m, 12h, 30d, 2w)", exp);
    }
    size_t n = 0;
    char **specs = collect_vaults(a, &n);
    if (specs == NULL) {
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    int rc = group_specs(ctx, specs, n, &n);
    if (rc == OP_EXIT_OK && n == 0) {
        rc = op_usage(ctx, "--vault is required (e.g. --vault prod,r)");
    }
    if (rc == OP_EXIT_OK) {
        rc = op_open_unlocked(ctx);
    }
    if (rc != OP_EXIT_OK) {
        op_strv_free(specs);
        return rc;
    }
    char *json = NULL;
    opc_secret *token = NULL;
    uint32_t flags = op_has(a, "activity-log") ? OPC_TOKEN_ACTIVITY_LOG : 0;
    opc_err err = opc_account_token_create2(
        ctx->acct, a->pos[0], server, (const char *const *)specs, n, expires, flags, &json, &token);
    op_strv_free(specs);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    if (ctx->json) {
        cJSON *t = op_json_parse(json, strlen(json));
        if (t == NULL) {
            t = cJSON_CreateObject();
        }
        cJSON_AddStringToObject(t, "token", opc_secret_data(token));
        if (flags != 0) {
            cJSON_AddBoolToObject(t, "activityLog", true);
        }
        op_print_json(t);
        op_json_free(t);
    } else {
        (void)printf("%s\n", (const char *)opc_secret_data(token));
    }
    opc_free(json);
    opc_secret_free(token);
    return OP_EXIT_OK;
}

int op_cmd_token_list(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 0) {
        return op_usage(ctx, "unexpected argument '%s'", a->pos[0]);
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char *out = NULL;
    opc_err err = opc_account_token_list(ctx->acct, op_arg(a, "server"), &out);
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
        const char *hdr[] = {"ID", "NAME", "SERVER", "STATE", "EXPIRES"};
        struct op_table *t = op_table_new(5, hdr);
        const cJSON *tk;
        cJSON_ArrayForEach(tk, list)
        {
            const char *exp = op_jstr(tk, "expiresAt");
            const char *row[] = {op_jstr(tk, "id"), op_jstr(tk, "name"), str_or_name(tk, "server"),
                                 op_jstr(tk, "state"), exp[0] != '\0' ? exp : "never"};
            op_table_add(t, row);
        }
        op_table_print(t);
        op_table_free(t);
    }
    cJSON_Delete(list);
    return OP_EXIT_OK;
}

int op_cmd_token_edit(struct op_ctx *ctx, const struct op_args *a)
{
    const char *name = op_arg(a, "name");
    if (a->npos != 1) {
        return op_usage(ctx, "expected one token name or id");
    }
    if (name == NULL || name[0] == '\0') {
        return op_usage(ctx, "--name is required");
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char *out = NULL;
    opc_err err = opc_account_token_rename(ctx->acct, a->pos[0], op_arg(a, "server"), name, &out);
    return err == OPC_OK ? print_text(ctx, out, print_token) : op_fail_lib(ctx, err, NULL);
}

int op_cmd_token_delete(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 1) {
        return op_usage(ctx, "expected one token name or id");
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    opc_err err = opc_account_token_revoke(ctx->acct, a->pos[0], op_arg(a, "server"));
    return err == OPC_OK ? OP_EXIT_OK : op_fail_lib(ctx, err, NULL);
}

/* ---- vault grants ---- */

static int grant_or_revoke(struct op_ctx *ctx, const struct op_args *a, bool grant)
{
    const char *server = op_arg(a, "server");
    const char *vault = op_arg(a, "vault");
    if (a->npos != 0) {
        return op_usage(ctx, "unexpected argument '%s'", a->pos[0]);
    }
    if (server == NULL || vault == NULL) {
        return op_usage(ctx, "--server and --vault are required");
    }
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    opc_err err = grant ? opc_account_server_grant(ctx->acct, server, vault)
                        : opc_account_server_revoke(ctx->acct, server, vault);
    return err == OPC_OK ? OP_EXIT_OK : op_fail_lib(ctx, err, NULL);
}

int op_cmd_connect_vault_grant(struct op_ctx *ctx, const struct op_args *a)
{
    return grant_or_revoke(ctx, a, true);
}

int op_cmd_connect_vault_revoke(struct op_ctx *ctx, const struct op_args *a)
{
    return grant_or_revoke(ctx, a, false);
}
