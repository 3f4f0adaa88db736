/*
 * tools/op/main.c - `op`, the owner's CLI: process set-up, the command
 * table, help and dispatch.
 *
 * Command lines follow the 1Password CLI v2 (`op item create --category
 * login ...`, `op connect token create NAME --server S --vault V,r`), so
 * documented lines work verbatim. See docs/cli.md and op(1).
 */
#include "op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int (*op_handler)(struct op_ctx *ctx, const struct op_args *a);

struct op_cmd {
    const char *path; /* command words, e.g. "connect token create" */
    op_handler run;
    const struct op_flag *flags;
    const char *usage;
    const char *summary;
    const char *help; /* the flags and details, one per line */
};

#define FLAG_END                                                                                   \
    {                                                                                              \
        NULL, '\0', OP_FLAG_BOOL                                                                   \
    }

static const struct op_flag no_flags[] = {FLAG_END};
static const struct op_flag account_create_flags[] = {{"email", '\0', OP_FLAG_VALUE}, FLAG_END};
static const struct op_flag signin_flags[] = {{"ttl", '\0', OP_FLAG_VALUE},
                                              {"raw", '\0', OP_FLAG_BOOL},
                                              {"email", '\0', OP_FLAG_VALUE},
                                              FLAG_END};
static const struct op_flag vault_flags[] = {
    {"name", '\0', OP_FLAG_VALUE}, {"description", '\0', OP_FLAG_VALUE}, FLAG_END};
static const struct op_flag item_create_flags[] = {{"category", '\0', OP_FLAG_VALUE},
                                                   {"title", '\0', OP_FLAG_VALUE},
                                                   {"vault", '\0', OP_FLAG_VALUE},
                                                   {"url", '\0', OP_FLAG_VALUE},
                                                   {"tags", '\0', OP_FLAG_VALUE},
                                                   {"generate-password", '\0', OP_FLAG_OPTVALUE},
                                                   FLAG_END};
static const struct op_flag item_get_flags[] = {{"vault", '\0', OP_FLAG_VALUE},
                                                {"fields", '\0', OP_FLAG_VALUE},
                                                {"reveal", '\0', OP_FLAG_BOOL},
                                                {"otp", '\0', OP_FLAG_BOOL},
                                                FLAG_END};
static const struct op_flag item_list_flags[] = {{"vault", '\0', OP_FLAG_VALUE},
                                                 {"categories", '\0', OP_FLAG_VALUE},
                                                 {"tags", '\0', OP_FLAG_VALUE},
                                                 FLAG_END};
static const struct op_flag item_edit_flags[] = {{"vault", '\0', OP_FLAG_VALUE},
                                                 {"title", '\0', OP_FLAG_VALUE},
                                                 {"url", '\0', OP_FLAG_VALUE},
                                                 {"tags", '\0', OP_FLAG_VALUE},
                                                 {"version", '\0', OP_FLAG_VALUE},
                                                 {"generate-password", '\0', OP_FLAG_OPTVALUE},
                                                 FLAG_END};
static const struct op_flag vault_only_flags[] = {{"vault", '\0', OP_FLAG_VALUE}, FLAG_END};
static const struct op_flag document_create_flags[] = {{"vault", '\0', OP_FLAG_VALUE},
                                                       {"title", '\0', OP_FLAG_VALUE},
                                                       {"file-name", '\0', OP_FLAG_VALUE},
                                                       FLAG_END};
static const struct op_flag document_get_flags[] = {{"vault", '\0', OP_FLAG_VALUE},
                                                    {"out-file", 'o', OP_FLAG_VALUE},
                                                    {"file-name", '\0', OP_FLAG_VALUE},
                                                    {"force", 'f', OP_FLAG_BOOL},
                                                    FLAG_END};
static const struct op_flag server_create_flags[] = {
    {"vaults", '\0', OP_FLAG_VALUE},   {"vault", '\0', OP_FLAG_VALUE},
    {"upstream", '\0', OP_FLAG_VALUE}, {"upstream-pin", '\0', OP_FLAG_VALUE},
    {"force", 'f', OP_FLAG_BOOL},      FLAG_END};
static const struct op_flag name_flags[] = {
    {"name", '\0', OP_FLAG_VALUE}, {"server", '\0', OP_FLAG_VALUE}, FLAG_END};
static const struct op_flag token_create_flags[] = {
    {"server", '\0', OP_FLAG_VALUE},      {"vaults", '\0', OP_FLAG_VALUE},
    {"vault", '\0', OP_FLAG_VALUE},       {"expires-in", '\0', OP_FLAG_VALUE},
    {"activity-log", '\0', OP_FLAG_BOOL}, FLAG_END};
static const struct op_flag server_flags[] = {{"server", '\0', OP_FLAG_VALUE}, FLAG_END};
static const struct op_flag grant_flags[] = {
    {"server", '\0', OP_FLAG_VALUE}, {"vault", '\0', OP_FLAG_VALUE}, FLAG_END};

static const struct op_cmd commands[] = {
    {"account create", op_cmd_account_create, account_create_flags,
     "op account create --email EMAIL [--account PATH | --address URL] [--password-stdin]",
     "Create an account (a file, or on an account server) and print its Secret Key once",
     "  --email EMAIL     the owner's email (part of the key derivation)\n"
     "  --address URL     sign up at op-account-server (https://host:port) instead of\n"
     "                    creating a file; --ca-file PEM (or OP_CA_FILE) trusts a private CA\n"
     "The password comes from --password-stdin, OP_PASSWORD or a prompt (asked twice).\n"
     "The Secret Key is printed once and saved, alone, in\n"
     "$XDG_CONFIG_HOME/opconnect/secret-key-<accountId> (mode 0600).\n"},
    {"account get", op_cmd_account_get, no_flags, "op account get",
     "Show the account's id, email and file (or account server)", ""},
    {"whoami", op_cmd_account_get, no_flags, "op whoami",
     "Show the signed-in account (as op account get)", ""},
    {"signin", op_cmd_signin, signin_flags,
     "op signin [--ttl DURATION] [--raw] [--address URL [--email EMAIL]]",
     "Unlock once (or sign in to an account server) and print an eval-able OP_SESSION_TOKEN",
     "  --ttl DURATION    how long the session lasts (default 30m; s m h d w, e.g. 2h;\n"
     "                    an account server's session lasts 12 h, 30 min idle)\n"
     "  --raw             print only the token\n"
     "  --address URL     sign in to op-account-server with SRP (the password and\n"
     "                    Secret Key never leave op); prints OP_ADDRESS too\n"
     "  --email EMAIL     the account's email (default: the last one used at URL)\n"
     "Use it as: eval $(op signin)\n"},
    {"signout", op_cmd_signout, no_flags, "op signout",
     "End the session (delete its sealed unlock key; on an account server, end it there)", ""},
    {"vault create", op_cmd_vault_create, vault_flags, "op vault create NAME [--description TEXT]",
     "Create a vault", ""},
    {"vault list", op_cmd_vault_list, no_flags, "op vault list", "List vaults", ""},
    {"vault get", op_cmd_vault_get, no_flags, "op vault get VAULT", "Show a vault", ""},
    {"vault edit", op_cmd_vault_edit, vault_flags,
     "op vault edit VAULT [--name NAME] [--description TEXT]", "Rename or describe a vault", ""},
    {"vault delete", op_cmd_vault_delete, no_flags, "op vault delete VAULT",
     "Delete a vault, its items and every server's access to it", ""},
    {"item create", op_cmd_item_create, item_create_flags,
     "op item create --category CATEGORY --vault VAULT [--title TITLE] [--url URL]\n"
     "       [--tags a,b] [--generate-password[=letters,digits,symbols,LENGTH]]\n"
     "       [ASSIGNMENT ...]",
     "Create an item",
     "  --category C      LOGIN, PASSWORD, API_CREDENTIAL, SERVER, DATABASE, SECURE_NOTE,\n"
     "                    ... (case and spaces ignored: \"Secure Note\")\n"
     "  --generate-password[=RECIPE]  generate the password (default: all sets, 32)\n"
     "Assignments: [section.]field[type]=value, type one of password, text, email,\n"
     "url, date, monthYear, otp, concealed; label[file]=PATH attaches a file.\n"},
    {"item get", op_cmd_item_get, item_get_flags,
     "op item get ITEM [--vault VAULT] [--fields f1,f2] [--reveal] [--otp]", "Show an item",
     "  --fields f1,f2    only these fields (label, id or section.label)\n"
     "  --reveal          show concealed values (human format; JSON always shows them)\n"
     "  --otp             print the current one-time password\n"},
    {"item list", op_cmd_item_list, item_list_flags,
     "op item list [--vault VAULT] [--categories c1,c2] [--tags t1,t2]", "List items", ""},
    {"item edit", op_cmd_item_edit, item_edit_flags,
     "op item edit ITEM [--vault VAULT] [--title T] [--url U] [--tags a,b]\n"
     "       [--generate-password[=RECIPE]] [--version N] [ASSIGNMENT ...]",
     "Edit an item (one write, checked against the version read or --version)",
     "  --version N       fail (exit 5) unless the stored item is at version N\n"
     "Assignments as for item create; field[delete] removes a field.\n"},
    {"item delete", op_cmd_item_delete, vault_only_flags, "op item delete ITEM [--vault VAULT]",
     "Delete an item", ""},
    {"document create", op_cmd_document_create, document_create_flags,
     "op document create FILE --vault VAULT [--title T] [--file-name NAME]",
     "Store a file as a document (FILE '-' reads stdin)", ""},
    {"document get", op_cmd_document_get, document_get_flags,
     "op document get DOCUMENT [--vault VAULT] [--out-file PATH [--force]]",
     "Write a document's content to stdout or a file (mode 0600)", ""},
    {"connect server create", op_cmd_server_create, server_create_flags,
     "op connect server create NAME --vaults V1[,V2] [--upstream URL[,URL2] [--upstream-pin PIN]] "
     "[-f|--force]",
     "Create a Connect server; writes ./1password-credentials.json (0600)",
     "  --vaults V1,V2    the vaults the server may use (also --vault, repeatable)\n"
     "  --upstream URL    what the credentials name as upstream (default: this file, or\n"
     "                    the account server signed in to); several account servers\n"
     "                    on one database (up to 8 https:// URLs, one server key): give\n"
     "                    --upstream again or a comma list; the server fails over\n"
     "  --upstream-pin PIN  the account server's key pin (required with https://)\n"
     "  -f, --force       overwrite an existing 1password-credentials.json\n"},
    {"connect server list", op_cmd_server_list, no_flags, "op connect server list",
     "List Connect servers", ""},
    {"connect server get", op_cmd_server_get, no_flags, "op connect server get SERVER",
     "Show a Connect server", ""},
    {"connect server edit", op_cmd_server_edit, name_flags,
     "op connect server edit SERVER --name NAME", "Rename a Connect server", ""},
    {"connect server delete", op_cmd_server_delete, no_flags, "op connect server delete SERVER",
     "Delete a Connect server: its credentials and tokens stop working", ""},
    {"connect token create", op_cmd_token_create, token_create_flags,
     "op connect token create NAME --server SERVER --vault VAULT[,r|w|rw] [--vault ...]\n"
     "       [--expires-in DURATION] [--activity-log]",
     "Issue a token (printed once, alone on one line)",
     "  --vault V[,r|w|rw]  a vault and its access (default: rw); repeatable\n"
     "  --vaults V[,r|w|rw][,V2...]  the same as one comma list\n"
     "  --expires-in D    e.g. 90m, 12h, 30d, 2w (default: no expiry)\n"
     "  --activity-log    the token reads the whole activity log (GET /v1/activity):\n"
     "                    every token's requests with their token id, address and\n"
     "                    user agent; without it, its own requests and those on the\n"
     "                    vaults it can read (without who made them)\n"},
    {"connect token list", op_cmd_token_list, server_flags,
     "op connect token list [--server SERVER]", "List tokens, active and revoked", ""},
    {"connect token edit", op_cmd_token_edit, name_flags,
     "op connect token edit TOKEN --name NAME [--server SERVER]", "Rename a token", ""},
    {"connect token delete", op_cmd_token_delete, server_flags,
     "op connect token delete TOKEN [--server SERVER]", "Revoke a token", ""},
    {"connect vault grant", op_cmd_connect_vault_grant, grant_flags,
     "op connect vault grant --server SERVER --vault VAULT", "Give a server a vault", ""},
    {"connect vault revoke", op_cmd_connect_vault_revoke, grant_flags,
     "op connect vault revoke --server SERVER --vault VAULT", "Take a vault from a server", ""},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_help[] =
    "Global flags:\n"
    "  --account PATH    the account file (default $OP_ACCOUNT, else\n"
    "                    $XDG_DATA_HOME/opconnect/account.db)\n"
    "  --address URL     an account on op-account-server (default $OP_ADDRESS, else\n"
    "                    the account file)\n"
    "  --ca-file PEM     the CA bundle that verifies the account server (default\n"
    "                    $OP_CA_FILE, else the system's)\n"
    "  --format FORMAT   human or json (default human)\n"
    "  --password-stdin  read the password from the first line of stdin (default\n"
    "                    off: $OP_PASSWORD, else a prompt)\n"
    "  --session TOKEN   a token of 'op signin' (default $OP_SESSION_TOKEN)\n"
    "  -h, --help        help for a command\n";

/* Every variable op reads (tests/daemon/test_programs.sh holds this list,
 * and op(1)'s, to the sources): the name at column 3, the default in
 * parentheses. */
static const char env_help[] =
    "Environment (a flag wins over its variable):\n"
    "  OP_ACCOUNT        the account file, as --account\n"
    "                    (default $XDG_DATA_HOME/opconnect/account.db)\n"
    "  OP_ADDRESS        an account on op-account-server, as --address (default\n"
    "                    none: the account file)\n"
    "  OP_CA_FILE        the account server's CA bundle, as --ca-file (default\n"
    "                    none: the system's CAs)\n"
    "  OP_PASSWORD       the password, wiped from the environment once read\n"
    "                    (default none: --password-stdin, else a prompt)\n"
    "  OP_SECRET_KEY     the Secret Key, wiped likewise (default the file\n"
    "                    $XDG_CONFIG_HOME/opconnect/secret-key-<accountId>)\n"
    "  OP_SESSION_TOKEN  a token of 'op signin', as --session (default none)\n"
    "  XDG_DATA_HOME     where the account file lives (default $HOME/.local/share)\n"
    "  XDG_CONFIG_HOME   where the Secret Key file lives (default $HOME/.config)\n"
    "  XDG_RUNTIME_DIR   sessions in its opconnect/ (default unset: sessions in\n"
    "                    $XDG_CACHE_HOME/opconnect/sessions)\n"
    "  XDG_CACHE_HOME    see XDG_RUNTIME_DIR (default $HOME/.cache)\n"
    "  HOME              for the defaults above (default the user's home directory\n"
    "                    in the password database)\n";

static void print_top_help(FILE *out)
{
    (void)fprintf(out, "op - the owner's CLI of opconnect (1Password CLI v2 command shapes)\n\n"
                       "Usage: op COMMAND [flags]\n       op --version\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        (void)fprintf(out, "  %-23s %s\n", commands[i].path, commands[i].summary);
    }
    (void)fprintf(out,
                  "\n%s  --version         print the versions of op, libopconnect and the Connect\n"
                  "                    API its servers speak, and exit\n\n%s\n"
                  "Run 'op help COMMAND' for a command's flags.\n"
                  "Exit codes: 0 ok, 1 error, 2 usage, 3 authentication, 4 not found,\n"
                  "5 conflict, 6 already exists, 7 permission, 8 invalid value, 9 integrity.\n",
                  global_help, env_help);
}

static void print_group_help(const char *prefix)
{
    size_t plen = strlen(prefix);
    (void)printf("Usage: op %s COMMAND [flags]\n\nCommands:\n", prefix);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strncmp(commands[i].path, prefix, plen) == 0 && commands[i].path[plen] == ' ') {
            (void)printf("  %-23s %s\n", commands[i].path, commands[i].summary);
        }
    }
    (void)printf("\n%s", global_help);
}

static void print_cmd_help(const struct op_cmd *c)
{
    (void)printf("%s\n\nUsage: %s\n", c->summary, c->usage);
    if (c->help[0] != '\0') {
        (void)printf("\n%s", c->help);
    }
    (void)printf("\n%s", global_help);
}

/* Whether some command's path is prefix or starts with prefix + ' '. */
static int match_prefix(const char *prefix, const struct op_cmd **exact)
{
    size_t plen = strlen(prefix);
    int any = 0;
    *exact = NULL;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].path, prefix) == 0) {
            *exact = &commands[i];
            any = 1;
        } else if (strncmp(commands[i].path, prefix, plen) == 0 && commands[i].path[plen] == ' ') {
            any = 1;
        }
    }
    return any;
}

static const char *alias(const char *w)
{
    if (strcmp(w, "ls") == 0) {
        return "list";
    }
    if (strcmp(w, "rm") == 0) {
        return "delete";
    }
    return w;
}

/* Process hygiene: private files, no core dumps (they would hold keys). */
static void harden_process(void)
{
    (void)umask(077);
    struct rlimit rl = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &rl);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int finish(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        (void)fprintf(stderr, "[ERROR] writing to standard output failed\n");
        return rc == OP_EXIT_OK ? OP_EXIT_GENERIC : rc;
    }
    return rc;
}

int main(int argc, char **argv)
{
    harden_process();
    bool *skip = calloc((size_t)argc + 1, sizeof(*skip));
    if (skip == NULL) {
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    /* The command words: leading non-flag words, global flags skipped. */
    char prefix[128] = "";
    const struct op_cmd *cmd = NULL;
    bool help = false;
    bool words_done = false;
    int nwords = 0;
    for (int i = 1; i < argc && !words_done; i++) {
        const char *arg = argv[i];
        bool takes_value;
        if (strcmp(arg, "--version") == 0 && nwords == 0) {
            free(skip);
            (void)printf("op %s (libopconnect %s, Connect API %s)\n", OPC_VERSION_STRING,
                         opc_version(), OPC_CONNECT_VERSION);
            return finish(OP_EXIT_OK);
        }
        if (arg[0] == '-' && arg[1] != '\0') {
            if (op_global_flag_kind(arg, &takes_value)) {
                i += takes_value ? 1 : 0;
                continue;
            }
            break;
        }
        if (nwords == 0 && strcmp(arg, "help") == 0 && !help) {
            help = true;
            skip[i] = true;
            continue;
        }
        char next[128];
        const struct op_cmd *exact = NULL;
        int w = snprintf(next, sizeof(next), "%s%s%s", prefix, prefix[0] != '\0' ? " " : "",
                         alias(arg));
        if (w < 0 || (size_t)w >= sizeof(next)) {
            break;
        }
        if (!match_prefix(next, &exact)) {
            break;
        }
        (void)snprintf(prefix, sizeof(prefix), "%s", next);
        skip[i] = true;
        nwords++;
        if (exact != NULL) {
            cmd = exact;
            words_done = true;
        }
    }
    struct op_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.cmd = cmd != NULL ? cmd->path : (prefix[0] != '\0' ? prefix : NULL);
    struct op_args args;
    int rc = op_args_parse(argc, argv, 1, skip, cmd != NULL ? cmd->flags : no_flags, &args);
    free(skip);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    help = help || op_has(&args, "help");
    if (cmd == NULL) {
        if (prefix[0] == '\0' && args.npos == 0) {
            op_args_free(&args);
            if (help || argc == 1) {
                print_top_help(stdout);
                return finish(OP_EXIT_OK);
            }
            print_top_help(stderr);
            return OP_EXIT_USAGE;
        }
        if (args.npos == 0 && help) {
            print_group_help(prefix);
            op_args_free(&args);
            return finish(OP_EXIT_OK);
        }
        if (args.npos > 0) {
            rc = op_usage(&ctx, "unknown command '%s%s%s'", prefix, prefix[0] != '\0' ? " " : "",
                          args.pos[0]);
        } else {
            rc = op_usage(&ctx, "'%s' needs a subcommand", prefix);
        }
        op_args_free(&args);
        return rc;
    }
    if (help) {
        print_cmd_help(cmd);
        op_args_free(&args);
        return finish(OP_EXIT_OK);
    }
    const char *format = op_arg(&args, "format");
    if (format != NULL && strcmp(format, "json") != 0 && strcmp(format, "human") != 0) {
        op_args_free(&args);
        return op_usage(&ctx, "--format must be json or human");
    }
    ctx.json = format != NULL && strcmp(format, "json") == 0;
    ctx.account = op_arg(&args, "account");
    ctx.session = op_arg(&args, "session");
    ctx.address = op_arg(&args, "address");
    ctx.ca_file = op_arg(&args, "ca-file");
    ctx.password_stdin = op_has(&args, "password-stdin");
    opc_err err = opc_global_init(OPC_GLOBAL_DEFAULT);
    if (err != OPC_OK) {
        op_args_free(&args);
        return op_fail_lib(NULL, err, "cannot initialize libopconnect");
    }
    rc = cmd->run(&ctx, &args);
    opc_account_free(ctx.acct);
    ctx.acct = NULL;
    opc_global_cleanup();
    op_args_free(&args);
    return finish(rc);
}
