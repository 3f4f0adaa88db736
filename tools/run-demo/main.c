/*
 * tools/run-demo/main.c - the program behind `make run`: a DEMO of the
 * embedded Connect server (opc_server) on a local account.
 *
 *   run-demo DIR
 *
 * First start: creates under DIR (mode 0700) a demo account (account.db),
 * with a generated password and its Secret Key stored in DIR/password and
 * DIR/secret-key (0600) - acceptable for a throw-away demo only, never for
 * real data - a vault "Demo" with a few items, a Connect server "Demo server"
 * with DIR/1password-credentials.json and a read-write token in DIR/token
 * (both 0600). Later starts reuse DIR. Then serves the API on 127.0.0.1
 * (port 8080, OP_HTTP_PORT overrides) with the cache in
 * DIR/data/1password.sqlite, until SIGINT or SIGTERM, logging JSON lines
 * on stderr at OP_LOG_LEVEL (default info: one line per request).
 *
 * It prints the token, a curl line and the lines that point op (the one
 * next to this program, ../op of its path) at DIR's account: OP_ACCOUNT,
 * OP_SECRET_KEY from DIR/secret-key and `op signin --password-stdin` fed
 * DIR/password. Items op writes there reach the server within a second.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1 /* realpath */

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <opconnect/opconnect.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* Write len bytes to DIR/name, mode 0600 (replacing any old file). */
static int write_secret_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "run-demo: %s: %s\n", path, strerror(errno));
        return -1;
    }
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fprintf(stderr, "run-demo: %s: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd) == 0 ? 0 : -1;
}

/* Read DIR/name into buf (trailing newline removed); 0 on success. */
static int read_small_file(const char *dir, const char *name, char *buf, size_t size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        buf[--n] = '\0';
    }
    return n > 0 ? 0 : -1;
}

/* A random password of 32 characters from [A-Za-z0-9]. */
static int gen_password(char out[33])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char raw[32];
    FILE *f = fopen("/dev/urandom", "rb");
    if (f == NULL || fread(raw, 1, sizeof raw, f) != sizeof raw) {
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    fclose(f);
    for (size_t i = 0; i < sizeof raw; i++) {
        out[i] = alphabet[raw[i] % (sizeof alphabet - 1)];
    }
    out[32] = '\0';
    opc_memzero(raw, sizeof raw);
    return 0;
}

static const char *const demo_items[] = {
    "{\"title\":\"Demo login\",\"category\":\"LOGIN\",\"urls\":[{\"href\":"
    "\"https://example.com\",\"primary\":true}],\"fields\":[{\"id\":\"username\",\"purpose\":"
    "\"USERNAME\",\"type\":\"STRING\",\"value\":\"demo@example.com\"},{\"id\":\"password\","
    "\"purpose\":\"PASSWORD\",\"type\":\"CONCEALED\",\"generate\":true}]}",
    "{\"title\":\"Demo database\",\"category\":\"DATABASE\",\"tags\":[\"demo\"],\"fields\":["
    "{\"id\":\"hostname\",\"type\":\"STRING\",\"label\":\"server\",\"value\":\"db.example.com\"}]}",
    "{\"title\":\"Demo API key\",\"category\":\"API_CREDENTIAL\",\"fields\":[{\"id\":"
    "\"credential\",\"type\":\"CONCEALED\",\"label\":\"credential\",\"value\":\"demo-key-0001\"}]}",
    "{\"title\":\"Demo note\",\"category\":\"SECURE_NOTE\",\"fields\":[{\"id\":\"notesPlain\","
    "\"purpose\":\"NOTES\",\"type\":\"STRING\",\"value\":\"Created by make run.\"}]}",
};

/* The "id" member of a library JSON object into out (27 bytes). */
static int json_id(const char *json, char out[27])
{
    cJSON *j = cJSON_Parse(json);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    int rc = -1;
    if (cJSON_IsString(id) && strlen(id->valuestring) < 27) {
        snprintf(out, 27, "%s", id->valuestring);
        rc = 0;
    }
    cJSON_Delete(j);
    return rc;
}

#define CHECK(what, expr)                                                                          \
    do {                                                                                           \
        opc_err rc_ = (expr);                                                                      \
        if (rc_ != OPC_OK) {                                                                       \
            fprintf(stderr, "run-demo: %s: %s (%s)\n", what, opc_errname(rc_),                     \
                    a != NULL ? opc_account_errmsg(a) : "");                                       \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Create the demo account, server and token under dir. */
static int provision(const char *dir)
{
    int ok = -1;
    char password[33];
    char path[1024];
    char err[OPC_ERRBUF_SIZE];
    char vault[27];
    opc_account *a = NULL;
    opc_secret *sk = NULL;
    opc_secret *creds = NULL;
    opc_secret *token = NULL;
    char *json = NULL;
    if (gen_password(password) != 0) {
        fprintf(stderr, "run-demo: cannot read /dev/urandom\n");
        return -1;
    }
    snprintf(path, sizeof path, "%s/account.db", dir);
    opc_err rc =
        opc_account_create(path, "demo@example.com", password, 0, &a, &sk, err, sizeof err);
    if (rc != OPC_OK) {
        fprintf(stderr, "run-demo: create %s: %s (%s)\n", path, opc_errname(rc), err);
        goto out;
    }
    if (write_secret_file(dir, "password", password, strlen(password)) != 0 ||
        write_secret_file(dir, "secret-key", opc_secret_data(sk), opc_secret_len(sk)) != 0) {
        goto out;
    }
    CHECK("vault Demo", opc_account_vault_create(a, "Demo", NULL, &json));
    if (json_id(json, vault) != 0) {
        goto out;
    }
    opc_free(json);
    json = NULL;
    for (size_t i = 0; i < sizeof demo_items / sizeof demo_items[0]; i++) {
        opc_secret *item = NULL;
        CHECK("demo item", opc_account_item_create(a, vault, demo_items[i], &item));
        opc_secret_free(item);
    }
    const char *vaults[] = {vault};
    CHECK("server", opc_account_server_create(a, "Demo server", vaults, 1, NULL, &json, &creds));
    opc_free(json);
    json = NULL;
    if (write_secret_file(dir, "1password-credentials.json", opc_secret_data(creds),
                          opc_secret_len(creds)) != 0) {
        goto out;
    }
    const char *specs[] = {"Demo,rw"};
    CHECK("token", opc_account_token_create(a, "demo", "Demo server", specs, 1, 0, &json, &token));
    if (write_secret_file(dir, "token", opc_secret_data(token), opc_secret_len(token)) != 0 ||
        write_secret_file(dir, "vault-id", vault, strlen(vault)) != 0) {
        goto out;
    }
    ok = 0;
out:
    opc_memzero(password, sizeof password);
    opc_free(json);
    opc_secret_free(token);
    opc_secret_free(creds);
    opc_secret_free(sk);
    opc_account_free(a);
    return ok;
}

static void log_line(const opc_log_record *rec, void *ud)
{
    (void)ud;
    char buf[2048];
    size_t n = opc_log_format_json(rec, buf, sizeof buf);
    if (n >= sizeof buf) {
        n = sizeof buf - 1;
        buf[n - 1] = '\n';
    }
    fwrite(buf, 1, n, stderr);
}

/* The op next to this program (argv0's directory), absolute; "op" when
 * there is none. */
static void op_path(const char *argv0, char *out, size_t size)
{
    char self[PATH_MAX];
    const char *slash = realpath(argv0, self) != NULL ? strrchr(self, '/') : NULL;
    int n = slash != NULL ? snprintf(out, size, "%.*s/op", (int)(slash - self), self) : -1;
    if (n < 0 || (size_t)n >= size || access(out, X_OK) != 0) {
        snprintf(out, size, "op");
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: run-demo DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    opc_log_level level = OPC_LOG_INFO;
    const char *level_env = getenv("OP_LOG_LEVEL");
    if (level_env != NULL && level_env[0] != '\0' &&
        opc_log_level_parse(level_env, &level) != OPC_OK) {
        fprintf(stderr, "run-demo: OP_LOG_LEVEL: expected error, warn, info, debug or trace\n");
        return 1;
    }
    long port = 8080;
    const char *port_env = getenv("OP_HTTP_PORT");
    if (port_env != NULL && port_env[0] != '\0') {
        char *end = NULL;
        errno = 0;
        port = strtol(port_env, &end, 10);
        if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
            fprintf(stderr, "run-demo: OP_HTTP_PORT: not a port number (1-65535)\n");
            return 1;
        }
    }
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        return 1;
    }
    int status = 1;
    opc_credentials *creds = NULL;
    opc_server *srv = NULL;
    char token[4096];
    char vault[64];
    char path[1024];
    char err[OPC_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s/1password-credentials.json", dir);
    if (access(path, F_OK) != 0) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "run-demo: %s: %s\n", dir, strerror(errno));
            goto done;
        }
        char acct[1024];
        snprintf(acct, sizeof acct, "%s/account.db", dir);
        if (access(acct, F_OK) == 0) {
            fprintf(stderr,
                    "run-demo: %s exists without a credentials file; remove %s to "
                    "start over\n",
                    acct, dir);
            goto done;
        }
        printf("Creating the demo account in %s/ (first run)...\n", dir);
        fflush(stdout);
        if (provision(dir) != 0) {
            goto done;
        }
    }
    if (read_small_file(dir, "token", token, sizeof token) != 0 ||
        read_small_file(dir, "vault-id", vault, sizeof vault) != 0) {
        fprintf(stderr, "run-demo: %s/token or %s/vault-id missing; remove %s to start over\n", dir,
                dir, dir);
        goto done;
    }
    if (opc_global_set_log(log_line, NULL, level) != OPC_OK) {
        fprintf(stderr, "run-demo: cannot install the log callback\n");
        goto done;
    }
    opc_err rc = opc_credentials_load(path, &creds, err, sizeof err);
    if (rc != OPC_OK) {
        fprintf(stderr, "run-demo: %s\n", err);
        goto done;
    }
    char cache[1024];
    snprintf(cache, sizeof cache, "%s/data/1password.sqlite", dir);
    rc = opc_server_create(creds, cache, &srv, err, sizeof err);
    if (rc == OPC_OK) {
        rc = opc_server_set_bind_address(srv, "127.0.0.1");
    }
    if (rc == OPC_OK) {
        rc = opc_server_set_http_port(srv, (int)port);
    }
    if (rc == OPC_OK) {
        rc = opc_server_start(srv, err, sizeof err);
    }
    if (rc != OPC_OK) {
        fprintf(stderr, "run-demo: server: %s (%s)%s\n", opc_errname(rc), err,
                strstr(err, "cannot listen on") != NULL
                    ? "; is another server on that port? OP_HTTP_PORT=<port> make run picks another"
                    : "");
        goto done;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int bound = opc_server_port(srv);
    char adir[PATH_MAX];
    char op[PATH_MAX];
    if (realpath(dir, adir) == NULL) {
        snprintf(adir, sizeof adir, "%s", dir);
    }
    op_path(argv[0], op, sizeof op);
    printf("libopconnect %s: embedded Connect server (sync + API) on http://127.0.0.1:%d\n"
           "DEMO data in %s/ (account, password, Secret Key, credentials and token in plain\n"
           "files, mode 0600 - for this demo only).\n\n"
           "Token (read-write on vault Demo %s):\n%s\n\n"
           "Try:\n"
           "  curl -H \"Authorization: Bearer $(cat %s/token)\" "
           "http://127.0.0.1:%d/v1/vaults/%s/items\n\n"
           "op on this account (in another shell; what it writes reaches the server):\n"
           "  export OP_ACCOUNT=%s/account.db OP_SECRET_KEY=\"$(cat %s/secret-key)\"\n"
           "  eval \"$(%s signin --password-stdin < %s/password)\"\n"
           "  %s item list --vault Demo\n"
           "  %s item create --vault Demo --category login --title \"My login\" "
           "username=me password=s3cret\n\n"
           "Requests are logged on stderr (OP_LOG_LEVEL=%s). Ctrl-C stops.\n",
           opc_version(), bound, adir, vault, token, adir, bound, vault, adir, adir, op, adir, op,
           op, level_env != NULL && level_env[0] != '\0' ? level_env : "info");
    fflush(stdout);
    while (!g_stop) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("\nstopping (the requests in progress finish)...\n");
    fflush(stdout);
    opc_server_stop(srv); /* the library logs "stopped" */
    status = 0;
done:
    opc_memzero(token, sizeof token);
    opc_server_free(srv);
    opc_credentials_free(creds);
    opc_global_cleanup();
    return status;
}
