/*
 * tools/op/op.h - shared declarations of the owner's CLI `op`.
 *
 * The CLI is a thin program over the public API of libopconnect: it sees
 * include/opconnect/ only (plus cJSON to build and print JSON). It owns the
 * process: umask, core dumps, signals while prompting, the environment and
 * stderr. Every command returns an exit code from enum op_exit.
 */
#ifndef OP_OP_H
#define OP_OP_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <opconnect/opconnect.h>

/* Exit codes (documented in docs/cli.md and op(1); never renumbered). */
enum op_exit {
    OP_EXIT_OK = 0,
    OP_EXIT_GENERIC = 1,    /* anything else: I/O, internal, out of memory */
    OP_EXIT_USAGE = 2,      /* bad command line */
    OP_EXIT_AUTH = 3,       /* wrong password / Secret Key, no or bad session */
    OP_EXIT_NOT_FOUND = 4,  /* the named account, vault, item, server, token */
    OP_EXIT_CONFLICT = 5,   /* stale version, ambiguous name */
    OP_EXIT_EXISTS = 6,     /* already exists (name, account, output file) */
    OP_EXIT_PERMISSION = 7, /* not allowed (vault not granted to the server) */
    OP_EXIT_INVALID = 8,    /* the library refused a value (validation) */
    OP_EXIT_INTEGRITY = 9   /* stored data failed to decrypt or verify */
};

/* ---- command-line parsing (args.c) ---- */

enum op_flag_kind {
    OP_FLAG_BOOL,    /* --force */
    OP_FLAG_VALUE,   /* --vault V or --vault=V */
    OP_FLAG_OPTVALUE /* --generate-password or --generate-password=recipe */
};

struct op_flag {
    const char *name; /* long name without "--"; NULL ends a table */
    char short_name;  /* '\0': none */
    enum op_flag_kind kind;
};

struct op_opt {
    const char *name;  /* the flag's long name (static) */
    const char *value; /* NULL for a boolean or a bare optional-value flag */
};

struct op_args {
    const char **pos; /* positional arguments */
    size_t npos;
    struct op_opt *opts; /* flags in command-line order */
    size_t nopts;
};

/*
 * Parse argv[first..argc) except the indices flagged in skip (the command
 * words) against the command's flags plus the global ones. Returns
 * OP_EXIT_OK or prints a usage error and returns OP_EXIT_USAGE.
 */
int op_args_parse(int argc, char **argv, int first, const bool *skip, const struct op_flag *flags,
                  struct op_args *out);
void op_args_free(struct op_args *a);
/* The last value of a flag (NULL when absent or bare). */
const char *op_arg(const struct op_args *a, const char *name);
/* Whether the flag appears at all. */
bool op_has(const struct op_args *a, const char *name);
/* The global flags every command accepts. */
extern const struct op_flag op_global_flags[];
/* Whether name is a global flag taking a value (for the command-word scan). */
int op_global_flag_kind(const char *arg, bool *takes_value);

/*
 * Parse a Go-style duration ("30d", "1h30m", "2w", "90s"; units s m h d w,
 * whole numbers) into seconds, > 0. Returns false on a malformed value.
 */
bool op_duration_parse(const char *s, int64_t *out_s);

/* Split "a,b,c" into a NULL-terminated array of trimmed, non-empty
 * strings (malloc'd; free with op_strv_free). NULL on allocation failure. */
char **op_split_list(const char *s, size_t *n);
void op_strv_free(char **v);

/* ---- context, authentication (auth.c) ---- */

struct op_ctx {
    const char *cmd;     /* the command path, e.g. "item create" */
    bool json;           /* --format json */
    bool stdin_taken;    /* stdin already carries data (document from "-") */
    bool password_stdin; /* --password-stdin */
    const char *account; /* --account (NULL: env or default) */
    const char *session; /* --session (NULL: env) */
    const char *address; /* --address: an account on op-account-server (NULL: env) */
    const char *ca_file; /* --ca-file (NULL: $OP_CA_FILE, else the system's CAs) */
    char account_path[4096];
    opc_account *acct;
};

/* Resolve the account path into ctx->account_path. */
int op_account_path(struct op_ctx *ctx);
/* Open the account and unlock it (session token, or password + Secret Key). */
int op_open_unlocked(struct op_ctx *ctx);
/* Open the account without unlocking it. */
int op_open_locked(struct op_ctx *ctx);

int op_cmd_account_create(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_account_get(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_signin(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_signout(struct op_ctx *ctx, const struct op_args *a);

/* ---- commands ---- */

int op_cmd_vault_create(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_vault_list(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_vault_get(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_vault_edit(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_vault_delete(struct op_ctx *ctx, const struct op_args *a);

int op_cmd_item_create(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_item_get(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_item_list(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_item_edit(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_item_delete(struct op_ctx *ctx, const struct op_args *a);

int op_cmd_document_create(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_document_get(struct op_ctx *ctx, const struct op_args *a);

int op_cmd_server_create(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_server_list(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_server_get(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_server_edit(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_server_delete(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_token_create(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_token_list(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_token_edit(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_token_delete(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_connect_vault_grant(struct op_ctx *ctx, const struct op_args *a);
int op_cmd_connect_vault_revoke(struct op_ctx *ctx, const struct op_args *a);

/* ---- errors and output (output.c) ---- */

/* Print "[ERROR] <message>" on stderr; returns code. */
int op_fail(int code, const char *fmt, ...) OPC_PRINTF(2, 3);
/* Report a library error of the account handle (or errbuf text when given). */
int op_fail_lib(const struct op_ctx *ctx, opc_err err, const char *detail);
/* The exit code for a library result. */
int op_exit_for(opc_err err);
/* A usage error: "[ERROR] <message>" plus a hint at --help. */
int op_usage(const struct op_ctx *ctx, const char *fmt, ...) OPC_PRINTF(2, 3);

/* Print a JSON tree, indented by two spaces, then a newline. */
void op_print_json(const cJSON *j);
/* Parse JSON text; NULL when it does not parse. */
cJSON *op_json_parse(const char *text, size_t len);
/* Delete a tree that may hold secrets, wiping every string first. */
void op_json_free(cJSON *j);
/* Print text that may be secret, then wipe the copy (for cJSON_Print output). */
void op_print_secret_string(char *s);
/* A member's string value, or "" when absent or not a string. */
const char *op_jstr(const cJSON *obj, const char *key);
/* A member's integer value, or def. */
int64_t op_jint(const cJSON *obj, const char *key, int64_t def);

/* Aligned text tables for human output. */
struct op_table;
struct op_table *op_table_new(size_t ncols, const char *const *headers);
void op_table_add(struct op_table *t, const char *const *cells);
void op_table_print(struct op_table *t);
void op_table_free(struct op_table *t);
/* "Label:     value" lines. */
void op_kv(const char *label, const char *value);

/* Human rendering of a full item (reveal: show concealed values). */
void op_print_item_human(const struct op_ctx *ctx, const cJSON *item, bool reveal);
/* Print a full item in the chosen format. */
void op_print_item(const struct op_ctx *ctx, const cJSON *item, bool reveal);
/* Whether a field's value is concealed in human output. */
bool op_field_concealed(const cJSON *field);

/* ---- files (document.c) ---- */

/* Read a whole file ("-": stdin) into malloc'd memory; max bytes at most. */
int op_read_file(const char *path, size_t max, unsigned char **out, size_t *out_len);
/*
 * Write data to path with mode 0600 atomically (temporary file + rename).
 * exclusive: fail with OP_EXIT_EXISTS when path exists (link(2), race free).
 */
int op_write_file_0600(const char *path, const void *data, size_t len, bool exclusive);
/* Wipe and free a buffer from op_read_file(). */
void op_buf_free(unsigned char *p, size_t len);

/* ---- assignments and item changes (assign.c) ---- */

/* One assignment statement `[section.]field[type]=value`. */
struct op_assign {
    char *section; /* NULL: none given */
    char *field;
    char *type; /* the Connect type, "file", "delete" or NULL */
    const char *value;
    unsigned char *data; /* file content for "file" */
    size_t len;
    char section_id[40];
};

/* Everything an item create/edit changes besides flags read directly. */
struct op_plan {
    struct op_assign *as;
    size_t n;
    cJSON *recipe; /* --generate-password: the recipe (may be an empty object) */
    bool generate;
};

/* Parse the assignments a->pos[first..] and --generate-password; reads the
 * files of `[file]` assignments now. Free with op_plan_free() either way. */
int op_plan_parse(const struct op_ctx *ctx, const struct op_args *a, size_t first,
                  struct op_plan *plan);
void op_plan_free(struct op_plan *plan);
/* Apply --title, --url, --tags, the assignments and the generated password. */
int op_plan_apply(const struct op_ctx *ctx, const struct op_args *a, cJSON *item,
                  struct op_plan *plan);
/* A section by label (exact, then case-insensitive) or id. */
cJSON *op_find_section(const cJSON *item, const char *name);
/* A field by label or id, in section_id when given; otherwise top-level
 * first, then any section. */
cJSON *op_find_field(const cJSON *item, const char *section_id, const char *name);

/* ---- items (item.c) ---- */

/*
 * Find an item: in vault when given, else in every vault (exactly one must
 * match). *out is the parsed full item (free with op_json_free).
 */
int op_item_find(struct op_ctx *ctx, const char *vault, const char *item, cJSON **out);

#endif /* OP_OP_H */
