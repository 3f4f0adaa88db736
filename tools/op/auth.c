/*
 * tools/op/auth.c - where the account lives, how it is unlocked, and the
 * account / signin / signout commands.
 *
 *  account file  --account, $OP_ACCOUNT, $XDG_DATA_HOME/opconnect/account.db
 *                (default ~/.local/share/opconnect/account.db)
 *  password      --password-stdin, $OP_PASSWORD, or a no-echo prompt on
 *                /dev/tty
 *  Secret Key    $OP_SECRET_KEY, or $XDG_CONFIG_HOME/opconnect/
 *                secret-key-<accountId> (mode 0600, written by
 *                `op account create`; the only thing kept there)
 *  session       --session, $OP_SESSION_TOKEN: a token of `op signin`; the
 *                sealed unlock key lives in $XDG_RUNTIME_DIR/opconnect (or
 *                ~/.cache/opconnect/sessions)
 *  remote        --address URL or $OP_ADDRESS: the account is on
 *                op-account-server (docs/account-server.md, "The owner
 *                over the network"); the flag or variable decides, never a
 *                saved default. $XDG_CONFIG_HOME/opconnect/accounts.json
 *                remembers each (address, email, account id) signed up or
 *                signed in, so that later commands find the account id of
 *                an address (the last one used there, or --email's).
 *                --ca-file or $OP_CA_FILE: the PEM bundle of a private CA
 *                (verification is always on).
 */
#include "op.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define OP_PASSWORD_MAX 1024
#define OP_SECRET_KEY_MAX 256
#define OP_DEFAULT_SESSION_TTL (30 * 60)

/* ---- directories ---- */

static int home_dir(char *out, size_t n)
{
    const char *h = getenv("HOME");
    if (h == NULL || h[0] != '/') {
        const struct passwd *pw = getpwuid(getuid());
        h = pw != NULL ? pw->pw_dir : NULL;
    }
    if (h == NULL || h[0] != '/') {
        return op_fail(OP_EXIT_GENERIC, "cannot find the home directory (set HOME)");
    }
    int w = snprintf(out, n, "%s", h);
    if (w < 0 || (size_t)w >= n) {
        return op_fail(OP_EXIT_GENERIC, "home directory path too long");
    }
    return OP_EXIT_OK;
}

/* $env/sub when $env is an absolute path, else ~/fallback/sub. */
static int xdg_path(const char *env, const char *fallback, const char *sub, char *out, size_t n)
{
    const char *base = getenv(env);
    int w;
    if (base != NULL && base[0] == '/') {
        w = snprintf(out, n, "%s/%s", base, sub);
    } else {
        char home[2048];
        int rc = home_dir(home, sizeof(home));
        if (rc != OP_EXIT_OK) {
            return rc;
        }
        w = snprintf(out, n, "%s/%s/%s", home, fallback, sub);
    }
    if (w < 0 || (size_t)w >= n) {
        return op_fail(OP_EXIT_GENERIC, "path too long under $%s", env);
    }
    return OP_EXIT_OK;
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int mkdir_p(const char *path)
{
    char buf[4096];
    int w = snprintf(buf, sizeof(buf), "%s", path);
    if (w < 0 || (size_t)w >= sizeof(buf)) {
        return op_fail(OP_EXIT_GENERIC, "path too long");
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                return op_fail(OP_EXIT_GENERIC, "cannot create directory %s: %s", buf,
                               strerror(errno));
            }
            *p = c;
            if (c == '\0') {
                break;
            }
        }
    }
    return OP_EXIT_OK;
}

static int parent_dir(const char *path, char *out, size_t n)
{
    int w = snprintf(out, n, "%s", path);
    if (w < 0 || (size_t)w >= n) {
        return op_fail(OP_EXIT_GENERIC, "path too long");
    }
    char *slash = strrchr(out, '/');
    if (slash == NULL) {
        (void)snprintf(out, n, ".");
    } else if (slash == out) {
        out[1] = '\0';
    } else {
        *slash = '\0';
    }
    return OP_EXIT_OK;
}

int op_account_path(struct op_ctx *ctx)
{
    const char *p = ctx->account;
    if (p == NULL || p[0] == '\0') {
        p = getenv("OP_ACCOUNT");
    }
    if (p != NULL && p[0] != '\0') {
        int w = snprintf(ctx->account_path, sizeof(ctx->account_path), "%s", p);
        if (w < 0 || (size_t)w >= sizeof(ctx->account_path)) {
            return op_fail(OP_EXIT_USAGE, "account path too long");
        }
        return OP_EXIT_OK;
    }
    return xdg_path("XDG_DATA_HOME", ".local/share", "opconnect/account.db", ctx->account_path,
                    sizeof(ctx->account_path));
}

static int sessions_dir(char *out, size_t n)
{
    const char *rt = getenv("XDG_RUNTIME_DIR");
    if (rt != NULL && rt[0] == '/') {
        return xdg_path("XDG_RUNTIME_DIR", "", "opconnect", out, n);
    }
    return xdg_path("XDG_CACHE_HOME", ".cache", "opconnect/sessions", out, n);
}

static int secret_key_path(const char *account_id, char *out, size_t n)
{
    char sub[256];
    int w = snprintf(sub, sizeof(sub), "opconnect/secret-key-%s", account_id);
    if (w < 0 || (size_t)w >= sizeof(sub)) {
        return op_fail(OP_EXIT_GENERIC, "account id too long");
    }
    return xdg_path("XDG_CONFIG_HOME", ".config", sub, out, n);
}

/* ---- secrets from the environment ---- */

/* Copy an environment variable into buf and wipe it from the environment
 * block, so that it does not linger in /proc/<pid>/environ. */
static bool take_env_secret(const char *name, char *buf, size_t n)
{
    char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        return false;
    }
    size_t len = strlen(v);
    if (len >= n) {
        return false;
    }
    memcpy(buf, v, len + 1);
    opc_memzero(v, len);
    return true;
}

static void trim_line(char *s)
{
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) {
        s[--len] = '\0';
    }
}

/* ---- the password ---- */

static int tty_fd = -1;
static struct termios tty_saved;
static volatile sig_atomic_t tty_echo_off;

static void restore_tty_on_signal(int sig)
{
    if (tty_echo_off) {
        (void)tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
    }
    (void)signal(sig, SIG_DFL);
    (void)raise(sig);
}

/* Read one line from fd into buf byte by byte (no stdio buffer keeps a copy). */
static int read_line_fd(int fd, char *buf, size_t n, const char *what)
{
    size_t len = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return op_fail(OP_EXIT_GENERIC, "reading the %s: %s", what, strerror(errno));
        }
        if (r == 0 || c == '\n') {
            break;
        }
        if (len + 1 >= n) {
            opc_memzero(buf, n);
            return op_fail(OP_EXIT_USAGE, "the %s is too long", what);
        }
        buf[len++] = c;
    }
    buf[len] = '\0';
    trim_line(buf);
    return OP_EXIT_OK;
}

static int prompt_tty(const char *prompt, char *buf, size_t n)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        return op_fail(OP_EXIT_AUTH, "no password given and no terminal to ask on "
                                     "(use --password-stdin, OP_PASSWORD or OP_SESSION_TOKEN)");
    }
    struct termios t;
    bool echo_off = false;
    struct sigaction sa, old_int, old_term, old_hup;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = restore_tty_on_signal;
    (void)sigemptyset(&sa.sa_mask);
    if (tcgetattr(fd, &t) == 0) {
        tty_fd = fd;
        tty_saved = t;
        (void)sigaction(SIGINT, &sa, &old_int);
        (void)sigaction(SIGTERM, &sa, &old_term);
        (void)sigaction(SIGHUP, &sa, &old_hup);
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        t.c_lflag |= ICANON;
        if (tcsetattr(fd, TCSAFLUSH, &t) == 0) {
            echo_off = true;
            tty_echo_off = 1;
        }
    }
    (void)!write(fd, prompt, strlen(prompt));
    int rc = read_line_fd(fd, buf, n, "password");
    if (echo_off) {
        (void)tcsetattr(fd, TCSAFLUSH, &tty_saved);
        tty_echo_off = 0;
        (void)sigaction(SIGINT, &old_int, NULL);
        (void)sigaction(SIGTERM, &old_term, NULL);
        (void)sigaction(SIGHUP, &old_hup, NULL);
    }
    (void)!write(fd, "\n", 1);
    (void)close(fd);
    tty_fd = -1;
    return rc;
}

/* The password from --password-stdin, OP_PASSWORD or the terminal. With
 * confirm, a terminal prompt asks twice. */
static int get_password(struct op_ctx *ctx, char *buf, size_t n, bool confirm)
{
    int rc;
    buf[0] = '\0';
    if (ctx->password_stdin) {
        if (ctx->stdin_taken) {
            return op_usage(ctx, "--password-stdin cannot be used while stdin carries a file");
        }
        rc = read_line_fd(STDIN_FILENO, buf, n, "password");
    } else if (take_env_secret("OP_PASSWORD", buf, n)) {
        rc = OP_EXIT_OK;
    } else {
        rc = prompt_tty(confirm ? "Choose a password: " : "Password: ", buf, n);
        if (rc == OP_EXIT_OK && confirm) {
            char again[OP_PASSWORD_MAX];
            rc = prompt_tty("Repeat the password: ", again, sizeof(again));
            if (rc == OP_EXIT_OK && strcmp(again, buf) != 0) {
                rc = op_fail(OP_EXIT_USAGE, "the passwords do not match");
            }
            opc_memzero(again, sizeof(again));
        }
    }
    if (rc == OP_EXIT_OK && buf[0] == '\0') {
        rc = op_fail(OP_EXIT_AUTH, "empty password");
    }
    if (rc != OP_EXIT_OK) {
        opc_memzero(buf, n);
    }
    return rc;
}

/* ---- the Secret Key file ---- */

static int read_secret_key(const char *account_id, char *buf, size_t n)
{
    buf[0] = '\0';
    if (take_env_secret("OP_SECRET_KEY", buf, n)) {
        trim_line(buf);
        return OP_EXIT_OK;
    }
    char path[4096];
    int rc = secret_key_path(account_id, path, sizeof(path));
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return op_fail(OP_EXIT_AUTH,
                       "no Secret Key for account %s: set OP_SECRET_KEY or restore %s", account_id,
                       path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0) {
        (void)close(fd);
        return op_fail(OP_EXIT_AUTH, "%s must be a regular file of yours with mode 0600", path);
    }
    rc = read_line_fd(fd, buf, n, "Secret Key file");
    (void)close(fd);
    if (rc == OP_EXIT_OK && buf[0] == '\0') {
        rc = op_fail(OP_EXIT_AUTH, "%s is empty", path);
    }
    return rc;
}

static int save_secret_key(const char *account_id, const char *key, char *path, size_t n)
{
    int rc = secret_key_path(account_id, path, n);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char dir[4096];
    rc = parent_dir(path, dir, sizeof(dir));
    if (rc == OP_EXIT_OK) {
        rc = mkdir_p(dir);
    }
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char line[OP_SECRET_KEY_MAX + 2];
    int w = snprintf(line, sizeof(line), "%s\n", key);
    if (w < 0 || (size_t)w >= sizeof(line)) {
        return op_fail(OP_EXIT_GENERIC, "Secret Key too long");
    }
    rc = op_write_file_0600(path, line, (size_t)w, false);
    opc_memzero(line, sizeof(line));
    return rc;
}

static const char *session_token(const struct op_ctx *ctx);

/* ---- an account on op-account-server ---- */

#define OP_ACCOUNTS_FILE_MAX (256 * 1024)

static const char *remote_address(const struct op_ctx *ctx)
{
    if (ctx->address != NULL && ctx->address[0] != '\0') {
        return ctx->address;
    }
    const char *e = getenv("OP_ADDRESS");
    return e != NULL && e[0] != '\0' ? e : NULL;
}

static const char *ca_file(const struct op_ctx *ctx)
{
    if (ctx->ca_file != NULL && ctx->ca_file[0] != '\0') {
        return ctx->ca_file;
    }
    const char *e = getenv("OP_CA_FILE");
    return e != NULL && e[0] != '\0' ? e : NULL;
}

static int accounts_path(char *out, size_t n)
{
    return xdg_path("XDG_CONFIG_HOME", ".config", "opconnect/accounts.json", out, n);
}

/* The accounts list ({"accounts":[{"address","email","id"}...]}, newest first). */
static cJSON *accounts_load(void)
{
    char path[4096];
    unsigned char *data = NULL;
    size_t len = 0;
    cJSON *doc = NULL;
    if (accounts_path(path, sizeof(path)) == OP_EXIT_OK && access(path, F_OK) == 0 &&
        op_read_file(path, OP_ACCOUNTS_FILE_MAX, &data, &len) == OP_EXIT_OK) {
        doc = op_json_parse((const char *)data, len);
        op_buf_free(data, len);
    }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "accounts"))) {
        cJSON_Delete(doc);
        doc = cJSON_CreateObject();
        if (doc != NULL) {
            (void)cJSON_AddArrayToObject(doc, "accounts");
        }
    }
    return doc;
}

/* The entry of address (NULL: any) and email (NULL: any), newest first; NULL: none. */
static const cJSON *accounts_find(const cJSON *doc, const char *address, const char *email)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "accounts"))
    {
        if ((address == NULL || strcmp(op_jstr(e, "address"), address) == 0) &&
            (email == NULL || strcasecmp(op_jstr(e, "email"), email) == 0)) {
            return e;
        }
    }
    return NULL;
}

/* Put (address, email, id) first in the list (replacing an older entry). */
static int accounts_remember(const char *address, const char *email, const char *id)
{
    cJSON *doc = accounts_load();
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "accounts");
    if (arr == NULL) {
        cJSON_Delete(doc);
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    for (int i = cJSON_GetArraySize(arr) - 1; i >= 0; i--) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        if (strcmp(op_jstr(e, "address"), address) == 0 &&
            (strcmp(op_jstr(e, "id"), id) == 0 || strcasecmp(op_jstr(e, "email"), email) == 0)) {
            cJSON_DeleteItemFromArray(arr, i);
        }
    }
    cJSON *e = cJSON_CreateObject();
    if (e == NULL || cJSON_AddStringToObject(e, "address", address) == NULL ||
        cJSON_AddStringToObject(e, "email", email) == NULL ||
        cJSON_AddStringToObject(e, "id", id) == NULL || !cJSON_InsertItemInArray(arr, 0, e)) {
        cJSON_Delete(e);
        cJSON_Delete(doc);
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    char path[4096];
    char dir[4096];
    int rc = accounts_path(path, sizeof(path));
    if (rc == OP_EXIT_OK) {
        rc = parent_dir(path, dir, sizeof(dir));
    }
    if (rc == OP_EXIT_OK) {
        rc = mkdir_p(dir);
    }
    char *text = rc == OP_EXIT_OK ? cJSON_Print(doc) : NULL;
    if (rc == OP_EXIT_OK && text == NULL) {
        rc = op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    if (rc == OP_EXIT_OK) {
        rc = op_write_file_0600(path, text, strlen(text), false);
    }
    cJSON_free(text);
    cJSON_Delete(doc);
    return rc;
}

/* The account id of the remote account: --email's or the last one used at address. */
static int remote_account_id(const struct op_ctx *ctx, const char *address, const char *email,
                             char *out, size_t n)
{
    (void)ctx;
    cJSON *doc = accounts_load();
    const cJSON *e = accounts_find(doc, address, email);
    int rc = OP_EXIT_OK;
    if (e == NULL) {
        rc = op_fail(OP_EXIT_NOT_FOUND,
                     "no account known at %s; sign in with 'eval $(op signin --address %s "
                     "--email EMAIL)'",
                     address, address);
    } else {
        (void)snprintf(out, n, "%s", op_jstr(e, "id"));
    }
    cJSON_Delete(doc);
    return rc;
}

static int remote_fail(const struct op_ctx *ctx, opc_err err, const char *errbuf)
{
    if (err == OPC_ERR_PERMISSION) {
        return op_fail(OP_EXIT_AUTH, "%s", errbuf[0] != '\0' ? errbuf : "refused");
    }
    return op_fail_lib(ctx, err, errbuf);
}

/* Open the signed-in remote account: its row downloaded, unlocked with the session's AUK. */
static int open_remote(struct op_ctx *ctx, const char *address)
{
    const char *token = session_token(ctx);
    if (token == NULL) {
        return op_fail(OP_EXIT_AUTH,
                       "not signed in to %s; sign in with "
                       "'eval $(op signin --address %s)'",
                       address, address);
    }
    char id[64];
    int rc = remote_account_id(ctx, address, NULL, id, sizeof(id));
    char dir[4096];
    if (rc == OP_EXIT_OK) {
        rc = sessions_dir(dir, sizeof(dir));
    }
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char errbuf[OPC_ERRBUF_SIZE] = "";
    opc_err err =
        opc_account_remote_open(dir, id, token, ca_file(ctx), &ctx->acct, errbuf, sizeof(errbuf));
    if (err == OPC_ERR_NOT_FOUND) {
        return op_fail(OP_EXIT_AUTH,
                       "no session for this account; sign in with "
                       "'eval $(op signin --address %s)'",
                       address);
    }
    if (err == OPC_ERR_RANGE) {
        return op_fail(OP_EXIT_AUTH,
                       "the session has expired; sign in again with "
                       "'eval $(op signin --address %s)'",
                       address);
    }
    if (err == OPC_ERR_DECRYPT) {
        return op_fail(OP_EXIT_AUTH,
                       "invalid session token; sign in again with "
                       "'eval $(op signin --address %s)'",
                       address);
    }
    if (err != OPC_OK) {
        ctx->acct = NULL;
        return remote_fail(ctx, err, errbuf);
    }
    return OP_EXIT_OK;
}

static int remote_create(struct op_ctx *ctx, const char *address, const char *email)
{
    char password[OP_PASSWORD_MAX];
    int rc = get_password(ctx, password, sizeof(password), true);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char errbuf[OPC_ERRBUF_SIZE] = "";
    char id[64] = "";
    opc_secret *key = NULL;
    opc_err err = opc_account_remote_create(address, ca_file(ctx), email, password, id, sizeof(id),
                                            &key, errbuf, sizeof(errbuf));
    opc_memzero(password, sizeof(password));
    if (err == OPC_ERR_EXISTS) {
        return op_fail(OP_EXIT_EXISTS, "%s", errbuf);
    }
    if (err != OPC_OK) {
        return remote_fail(ctx, err, errbuf);
    }
    char key_path[4096];
    rc = save_secret_key(id, opc_secret_data(key), key_path, sizeof(key_path));
    if (rc == OP_EXIT_OK) {
        rc = accounts_remember(address, email, id);
    }
    /* The account exists on the server now: print the Secret Key whatever
     * happened to its copy here (without it, the account is lost). */
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "email", email);
        cJSON_AddStringToObject(o, "address", address);
        cJSON_AddStringToObject(o, "secretKey", opc_secret_data(key));
        cJSON_AddStringToObject(o, "secretKeyFile", rc == OP_EXIT_OK ? key_path : "");
        op_print_json(o);
        op_json_free(o);
    } else {
        op_kv("Account", id);
        op_kv("Email", email);
        op_kv("Address", address);
        op_kv("Secret Key", opc_secret_data(key));
        if (rc == OP_EXIT_OK) {
            op_kv("Saved to", key_path);
        }
        (void)printf("\nThe Secret Key is shown only this once. Keep a copy somewhere safe:\n"
                     "without it and your password the account cannot be opened.\n");
    }
    opc_secret_free(key);
    return rc;
}

static int remote_signin(struct op_ctx *ctx, const struct op_args *a, const char *address)
{
    const char *email = op_arg(a, "email");
    cJSON *doc = accounts_load();
    const cJSON *e = accounts_find(doc, address, email);
    if (e == NULL && email != NULL) {
        /* The same account reached at another address: its Secret Key file. */
        e = accounts_find(doc, NULL, email);
    }
    char known_id[64] = "";
    char mail[512] = "";
    if (e != NULL) {
        (void)snprintf(known_id, sizeof(known_id), "%s", op_jstr(e, "id"));
        (void)snprintf(mail, sizeof(mail), "%s", op_jstr(e, "email"));
    }
    cJSON_Delete(doc);
    if (email != NULL && email[0] != '\0') {
        (void)snprintf(mail, sizeof(mail), "%s", email);
    }
    if (mail[0] == '\0') {
        return op_usage(ctx, "--email is required for a first sign-in at %s", address);
    }
    char key[OP_SECRET_KEY_MAX] = "";
    char password[OP_PASSWORD_MAX];
    int rc;
    if (known_id[0] != '\0') {
        rc = read_secret_key(known_id, key, sizeof(key));
    } else {
        rc = take_env_secret("OP_SECRET_KEY", key, sizeof(key))
                 ? OP_EXIT_OK
                 : op_fail(OP_EXIT_AUTH, "no Secret Key for %s at %s: set OP_SECRET_KEY", mail,
                           address);
        trim_line(key);
    }
    if (rc == OP_EXIT_OK) {
        rc = get_password(ctx, password, sizeof(password), false);
    }
    char dir[4096];
    if (rc == OP_EXIT_OK) {
        rc = sessions_dir(dir, sizeof(dir));
    }
    if (rc == OP_EXIT_OK) {
        char parent[4096];
        rc = parent_dir(dir, parent, sizeof(parent));
        if (rc == OP_EXIT_OK) {
            rc = mkdir_p(parent);
        }
    }
    opc_secret *token = NULL;
    char id[64] = "";
    if (rc == OP_EXIT_OK) {
        char errbuf[OPC_ERRBUF_SIZE] = "";
        opc_err err = opc_account_remote_signin(address, ca_file(ctx), mail, password, key, dir, id,
                                                sizeof(id), &token, errbuf, sizeof(errbuf));
        if (err == OPC_ERR_PARSE && strstr(errbuf, "Secret Key") != NULL) {
            rc = op_fail(OP_EXIT_AUTH, "malformed Secret Key");
        } else if (err != OPC_OK) {
            rc = remote_fail(ctx, err, errbuf);
        }
    }
    opc_memzero(password, sizeof(password));
    opc_memzero(key, sizeof(key));
    if (rc == OP_EXIT_OK) {
        rc = accounts_remember(address, mail, id);
    }
    if (rc != OP_EXIT_OK) {
        opc_secret_free(token);
        return rc;
    }
    const char *tok = opc_secret_data(token);
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", id);
        cJSON_AddStringToObject(o, "address", address);
        cJSON_AddStringToObject(o, "token", tok);
        op_print_json(o);
        op_json_free(o);
    } else if (op_has(a, "raw")) {
        (void)printf("%s\n", tok);
    } else {
        (void)printf("export OP_SESSION_TOKEN=\"%s\"\n", tok);
        (void)printf("export OP_ADDRESS=\"%s\"\n", address);
        (void)printf("# Use it with: eval $(op signin --address %s)\n", address);
    }
    opc_secret_free(token);
    return OP_EXIT_OK;
}

static int remote_signout(struct op_ctx *ctx, const char *address)
{
    const char *token = session_token(ctx);
    if (token == NULL) {
        return op_fail(OP_EXIT_AUTH, "not signed in (no OP_SESSION_TOKEN)");
    }
    char id[64];
    char dir[4096];
    int rc = remote_account_id(ctx, address, NULL, id, sizeof(id));
    if (rc == OP_EXIT_OK) {
        rc = sessions_dir(dir, sizeof(dir));
    }
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char errbuf[OPC_ERRBUF_SIZE] = "";
    opc_err err = opc_account_remote_signout(dir, id, token, ca_file(ctx), errbuf, sizeof(errbuf));
    if (err == OPC_ERR_NOT_FOUND) {
        return OP_EXIT_OK; /* already signed out */
    }
    return err == OPC_OK ? OP_EXIT_OK : remote_fail(ctx, err, errbuf);
}

/* ---- opening and unlocking ---- */

int op_open_locked(struct op_ctx *ctx)
{
    const char *address = remote_address(ctx);
    if (address != NULL) {
        return open_remote(ctx, address); /* a remote account opens only signed in */
    }
    int rc = op_account_path(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char errbuf[OPC_ERRBUF_SIZE] = "";
    opc_err err = opc_account_open(ctx->account_path, &ctx->acct, errbuf, sizeof(errbuf));
    if (err == OPC_ERR_NOT_FOUND) {
        return op_fail(OP_EXIT_NOT_FOUND, "no account at %s (create one with 'op account create')",
                       ctx->account_path);
    }
    if (err != OPC_OK) {
        ctx->acct = NULL;
        return op_fail(op_exit_for(err), "cannot open %s: %s", ctx->account_path,
                       errbuf[0] != '\0' ? errbuf : opc_strerror(err));
    }
    return OP_EXIT_OK;
}

static const char *session_token(const struct op_ctx *ctx)
{
    if (ctx->session != NULL && ctx->session[0] != '\0') {
        return ctx->session;
    }
    const char *t = getenv("OP_SESSION_TOKEN");
    return t != NULL && t[0] != '\0' ? t : NULL;
}

static int unlock_with_session(struct op_ctx *ctx, const char *token)
{
    char dir[4096];
    int rc = sessions_dir(dir, sizeof(dir));
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    opc_err err = opc_account_session_unlock(ctx->acct, dir, token);
    switch (err) {
    case OPC_OK:
        return OP_EXIT_OK;
    case OPC_ERR_NOT_FOUND:
        return op_fail(OP_EXIT_AUTH, "no session for this account; sign in with "
                                     "'eval $(op signin)'");
    case OPC_ERR_RANGE:
        return op_fail(OP_EXIT_AUTH, "the session has expired; sign in again with "
                                     "'eval $(op signin)'");
    case OPC_ERR_NOMEM:
    case OPC_ERR_IO:
    case OPC_ERR_INTERNAL:
    case OPC_ERR_NOT_INITIALIZED:
        return op_fail_lib(ctx, err, NULL);
    default:
        return op_fail(OP_EXIT_AUTH, "invalid session token; sign in again with "
                                     "'eval $(op signin)'");
    }
}

static int unlock_with_password(struct op_ctx *ctx)
{
    char key[OP_SECRET_KEY_MAX];
    char password[OP_PASSWORD_MAX];
    int rc = read_secret_key(opc_account_id(ctx->acct), key, sizeof(key));
    if (rc == OP_EXIT_OK) {
        rc = get_password(ctx, password, sizeof(password), false);
    }
    if (rc == OP_EXIT_OK) {
        opc_err err = opc_account_unlock(ctx->acct, password, key);
        if (err == OPC_ERR_DECRYPT || err == OPC_ERR_PARSE) {
            rc = op_fail(OP_EXIT_AUTH, "%s",
                         err == OPC_ERR_DECRYPT ? "wrong password or Secret Key"
                                                : "malformed Secret Key");
        } else if (err != OPC_OK) {
            rc = op_fail_lib(ctx, err, NULL);
        }
    }
    opc_memzero(password, sizeof(password));
    opc_memzero(key, sizeof(key));
    return rc;
}

int op_open_unlocked(struct op_ctx *ctx)
{
    const char *address = remote_address(ctx);
    if (address != NULL) {
        return open_remote(ctx, address);
    }
    int rc = op_open_locked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    const char *token = session_token(ctx);
    if (token != NULL) {
        return unlock_with_session(ctx, token);
    }
    return unlock_with_password(ctx);
}

/* ---- op account create / get ---- */

int op_cmd_account_create(struct op_ctx *ctx, const struct op_args *a)
{
    const char *email = op_arg(a, "email");
    if (email == NULL || email[0] == '\0') {
        return op_usage(ctx, "--email is required");
    }
    const char *address = remote_address(ctx);
    if (address != NULL) {
        return remote_create(ctx, address, email);
    }
    int rc = op_account_path(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    struct stat st;
    if (lstat(ctx->account_path, &st) == 0) {
        return op_fail(OP_EXIT_EXISTS, "%s already exists", ctx->account_path);
    }
    char dir[4096];
    rc = parent_dir(ctx->account_path, dir, sizeof(dir));
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char password[OP_PASSWORD_MAX];
    rc = get_password(ctx, password, sizeof(password), true);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    rc = mkdir_p(dir);
    if (rc != OP_EXIT_OK) {
        opc_memzero(password, sizeof(password));
        return rc;
    }
    char errbuf[OPC_ERRBUF_SIZE] = "";
    opc_secret *key = NULL;
    opc_err err = opc_account_create(ctx->account_path, email, password, 0, &ctx->acct, &key,
                                     errbuf, sizeof(errbuf));
    opc_memzero(password, sizeof(password));
    if (err != OPC_OK) {
        ctx->acct = NULL;
        return op_fail_lib(ctx, err, errbuf);
    }
    char key_path[4096];
    rc = save_secret_key(opc_account_id(ctx->acct), opc_secret_data(key), key_path,
                         sizeof(key_path));
    if (rc != OP_EXIT_OK) {
        /* Without its Secret Key the new account is unusable: undo it. */
        opc_account_free(ctx->acct);
        ctx->acct = NULL;
        const char *suffix[] = {"", "-wal", "-shm", "-journal"};
        for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
            char p[4200];
            (void)snprintf(p, sizeof(p), "%s%s", ctx->account_path, suffix[i]);
            (void)unlink(p);
        }
        opc_secret_free(key);
        return rc;
    }
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", opc_account_id(ctx->acct));
        cJSON_AddStringToObject(o, "email", opc_account_email(ctx->acct));
        cJSON_AddStringToObject(o, "path", ctx->account_path);
        cJSON_AddStringToObject(o, "secretKey", opc_secret_data(key));
        cJSON_AddStringToObject(o, "secretKeyFile", key_path);
        op_print_json(o);
        op_json_free(o);
    } else {
        op_kv("Account", opc_account_id(ctx->acct));
        op_kv("Email", opc_account_email(ctx->acct));
        op_kv("File", ctx->account_path);
        op_kv("Secret Key", opc_secret_data(key));
        op_kv("Saved to", key_path);
        (void)printf("\nThe Secret Key is shown only this once. Keep a copy somewhere safe:\n"
                     "without it and your password the account cannot be opened.\n");
    }
    opc_secret_free(key);
    return OP_EXIT_OK;
}

int op_cmd_account_get(struct op_ctx *ctx, const struct op_args *a)
{
    (void)a;
    int rc = op_open_locked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    const char *address = opc_account_address(ctx->acct);
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", opc_account_id(ctx->acct));
        cJSON_AddStringToObject(o, "email", opc_account_email(ctx->acct));
        if (address != NULL) {
            cJSON_AddStringToObject(o, "address", address);
        } else {
            cJSON_AddStringToObject(o, "path", ctx->account_path);
        }
        op_print_json(o);
        cJSON_Delete(o);
    } else {
        op_kv("ID", opc_account_id(ctx->acct));
        op_kv("Email", opc_account_email(ctx->acct));
        if (address != NULL) {
            op_kv("Address", address);
        } else {
            op_kv("File", ctx->account_path);
        }
    }
    return OP_EXIT_OK;
}

/* ---- op signin / signout ---- */

static void format_time(int64_t t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        (void)snprintf(out, n, "%lld", (long long)t);
    }
}

int op_cmd_signin(struct op_ctx *ctx, const struct op_args *a)
{
    int64_t ttl = OP_DEFAULT_SESSION_TTL;
    const char *ttl_s = op_arg(a, "ttl");
    if (ttl_s != NULL && !op_duration_parse(ttl_s, &ttl)) {
        return op_usage(ctx, "invalid --ttl '%s' (use e.g. 30m, 2h, 1d)", ttl_s);
    }
    const char *address = remote_address(ctx);
    if (address != NULL) {
        return remote_signin(ctx, a, address);
    }
    int rc = op_open_locked(ctx);
    if (rc == OP_EXIT_OK) {
        rc = unlock_with_password(ctx);
    }
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char dir[4096];
    rc = sessions_dir(dir, sizeof(dir));
    if (rc == OP_EXIT_OK) {
        char parent[4096];
        rc = parent_dir(dir, parent, sizeof(parent));
        if (rc == OP_EXIT_OK) {
            rc = mkdir_p(parent);
        }
    }
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    opc_secret *token = NULL;
    opc_err err = opc_account_session_save(ctx->acct, dir, ttl, &token);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    const char *tok = opc_secret_data(token);
    if (ctx->json) {
        char exp[64];
        format_time((int64_t)time(NULL) + ttl, exp, sizeof(exp));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", opc_account_id(ctx->acct));
        cJSON_AddStringToObject(o, "token", tok);
        cJSON_AddStringToObject(o, "expiresAt", exp);
        op_print_json(o);
        op_json_free(o);
    } else if (op_has(a, "raw")) {
        (void)printf("%s\n", tok);
    } else {
        (void)printf("export OP_SESSION_TOKEN=\"%s\"\n", tok);
        (void)printf("# Use it with: eval $(op signin)\n");
    }
    opc_secret_free(token);
    return OP_EXIT_OK;
}

int op_cmd_signout(struct op_ctx *ctx, const struct op_args *a)
{
    (void)a;
    const char *address = remote_address(ctx);
    if (address != NULL) {
        return remote_signout(ctx, address);
    }
    int rc = op_open_locked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    char dir[4096];
    rc = sessions_dir(dir, sizeof(dir));
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    opc_err err = opc_account_session_end(ctx->acct, dir);
    if (err == OPC_ERR_LOCKED) {
        const char *token = session_token(ctx);
        if (token == NULL) {
            return op_fail(OP_EXIT_AUTH, "not signed in (no OP_SESSION_TOKEN)");
        }
        rc = unlock_with_session(ctx, token);
        if (rc != OP_EXIT_OK) {
            return rc;
        }
        err = opc_account_session_end(ctx->acct, dir);
    }
    if (err == OPC_ERR_NOT_FOUND) {
        return OP_EXIT_OK; /* already signed out */
    }
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    return OP_EXIT_OK;
}
