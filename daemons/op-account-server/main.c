/*
 * op-account-server - the account protocol over HTTPS for the Connect
 * servers of many accounts: a thin shell over opc_accountd
 * (<opconnect/account_server.h>, docs/account-server.md). Start-up,
 * logging and signals are daemons/common/daemon.c's; it holds no
 * credentials of its own (DMN_NO_CREDENTIALS).
 *
 * Its variables (a bad value stops start-up with one line naming it):
 *   OP_ACCOUNT_DATA_DIR  the data directory: server-key.jwk and accounts/
 *                    (default $XDG_DATA_HOME/.op/account-server, else
 *                    $HOME/.op/account-server; created 0700 when missing)
 *   OP_HTTPS_PORT, OP_TLS_*, OP_ACME_*  HTTPS (daemons/common/tls_env.c)
 *   OP_ACCOUNT_THREADS  worker threads (1-16384; default 256)
 *   OP_ACCOUNT_DATABASE_URL  a libpq connection string: the accounts in
 *                    PostgreSQL (store/pg.c), not in the accounts/ files
 *   OP_ACCOUNT_DB_POOL  its connections (1-64; default 16)
 *   OP_HTTP_PORT     plain HTTP, refused unless OP_BIND_ADDRESS is a
 *                    loopback address (default none)
 *   OP_BIND_ADDRESS, OP_LOG_LEVEL  as the other daemons
 *
 * --print-pin prints the server key's pin (creating the key when missing).
 * SIGTERM/SIGINT: stop accepting, end the long polls, finish the requests
 * in progress, exit 0. SIGHUP: re-read the TLS certificate (or ACME state).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "tls_env.h"

#define PROG "op-account-server"

static int print_pin(const char *arg);
static int probe(void);

static const dmn_prog prog = {
    .name = PROG,
    .title = "opconnect account server",
    .about = "Serves the account protocol (docs/protocol.md) to the Connect servers of the\n"
             "accounts in its data directory, over HTTPS. It is configured by its\n"
             "environment only.\n",
    .env = "  OP_ACCOUNT_DATA_DIR the data directory: server-key.jwk and accounts/*.db\n"
           "                      (default $XDG_DATA_HOME/.op/account-server, else\n"
           "                      $HOME/.op/account-server)\n"
           "  OP_ACCOUNT_DATABASE_URL\n"
           "                      a libpq connection string: the accounts live in that\n"
           "                      PostgreSQL database, shared with other account servers,\n"
           "                      instead of accounts/*.db (default none)\n"
           "  OP_ACCOUNT_DB_POOL  database connections of this server, 1-64 (default 16)\n"
           "  OP_ACCOUNT_THREADS  worker threads, 1-16384: one per open connection; each\n"
           "                      waiting long poll holds one (default 256)\n"
           "  OP_HTTP_PORT        plain HTTP, 0-65535, only with a loopback\n"
           "                      OP_BIND_ADDRESS (default none)\n"
           "  OP_BIND_ADDRESS     the numeric IPv4 or IPv6 address to listen on; :: is every\n"
           "                      address of both (default 0.0.0.0: every IPv4 address)\n"
           "  OP_LOG_LEVEL        error, warn, info, debug or trace (default info)\n"
           "  XDG_DATA_HOME       an absolute path, for the data directory's default\n"
           "                      (default $HOME)\n"
           "  HOME                for the defaults above (default none)\n" TLS_ENV_HELP,
    .flags = DMN_NO_CREDENTIALS,
    .usage = " | --print-pin",
    .options = "  --healthcheck       GET /heartbeat on the local instance, over HTTPS\n"
               "                      ($OP_HTTPS_PORT) or plain HTTP when $OP_HTTP_PORT is\n"
               "                      set; exit 0 on a 200, else 1\n"
               "  --print-pin         print the server key's pin (accountServerPin of the\n"
               "                      credentials), creating the key when missing, and exit\n",
    .option = print_pin,
    .healthcheck = probe,
};

_Static_assert(OPC_ACCOUNTD_DEFAULT_HTTPS_PORT == 8443 && OPC_API_DEFAULT_HTTPS_PORT == 8443 &&
                   OPC_ACCOUNTD_DEFAULT_THREADS == 256 && OPC_ACCOUNTD_MAX_THREADS == 16384,
               "op-account-server --help and its man page state these defaults");

static bool loopback(const char *addr)
{
    struct in_addr a;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a) == 1) {
        return (ntohl(a.s_addr) >> 24) == 127;
    }
    return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* The data directory (OP_ACCOUNT_DATA_DIR or its default), created 0700. */
static void data_dir(char out[DMN_PATH_MAX])
{
    const char *v = dmn_env("OP_ACCOUNT_DATA_DIR");
    const char *xdg = dmn_env("XDG_DATA_HOME");
    const char *home = dmn_env("HOME");
    int n;
    if (v != NULL) {
        n = snprintf(out, DMN_PATH_MAX, "%s", v);
    } else if (xdg != NULL && xdg[0] == '/') {
        n = snprintf(out, DMN_PATH_MAX, "%s/.op/account-server", xdg);
    } else if (home != NULL) {
        n = snprintf(out, DMN_PATH_MAX, "%s/.op/account-server", home);
    } else {
        dmn_bad("OP_ACCOUNT_DATA_DIR", "not set, and neither XDG_DATA_HOME nor HOME is");
    }
    if (n < 0 || n >= DMN_PATH_MAX - 64) {
        dmn_bad("OP_ACCOUNT_DATA_DIR", "too long");
    }
    /* mkdir -p, 0700 for what it creates */
    for (char *p = out + 1;; p++) {
        char c = *p;
        if (c != '/' && c != '\0') {
            continue;
        }
        *p = '\0';
        if (mkdir(out, 0700) != 0 && errno != EEXIST) {
            char why[DMN_PATH_MAX + 64];
            (void)snprintf(why, sizeof why, "cannot create %s: %s", out, strerror(errno));
            dmn_bad("OP_ACCOUNT_DATA_DIR", why);
        }
        *p = c;
        if (c == '\0') {
            break;
        }
    }
}

static int print_pin(const char *arg)
{
    if (strcmp(arg, "--print-pin") != 0) {
        return -1;
    }
    char dir[DMN_PATH_MAX];
    data_dir(dir);
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        dmn_fail("cannot initialize libopconnect");
        return 1;
    }
    char pin[OPC_ACCOUNTD_PIN_LEN + 1];
    char err[OPC_ERRBUF_SIZE] = "";
    opc_err rc = opc_accountd_pin(dir, pin, sizeof pin, err, sizeof err);
    opc_global_cleanup();
    if (rc != OPC_OK) {
        dmn_fail(err);
        return 1;
    }
    (void)printf("%s\n", pin);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int probe(void)
{
    int http = dmn_env_port("OP_HTTP_PORT", -1);
    int https = dmn_env_port("OP_HTTPS_PORT", OPC_ACCOUNTD_DEFAULT_HTTPS_PORT);
    const char *bind = dmn_env("OP_BIND_ADDRESS");
    const char *host = "127.0.0.1";
    if (bind != NULL && strcmp(bind, "0.0.0.0") != 0) {
        host = strcmp(bind, "::") == 0 ? "::1" : bind;
    }
    opc_err rc = http > 0 ? opc_accountd_probe(host, http, 0, 3000)
                          : opc_accountd_probe(host, https, 1, 3000);
    return rc == OPC_OK ? 0 : 1;
}

static opc_err set_https_port(void *s, int port)
{
    return opc_accountd_set_https_port(s, port);
}

static opc_err set_files(void *s, const char *cert, const char *key, char *err, size_t n)
{
    return opc_accountd_set_tls_files(s, cert, key, err, n);
}

static opc_err set_acme(void *s, const char *domain, const char *url, const char *ca,
                        const char *email, const char *dir, char *err, size_t n)
{
    (void)dir; /* the account server keeps its ACME state in its data directory */
    return opc_accountd_set_acme(s, domain, url, ca, email, err, n);
}

static void reload_tls(void *s)
{
    opc_err rc = opc_accountd_tls_reload(s); /* logs what it did */
    (void)rc;                                /* OPC_ERR_INVALID_ARG: no HTTPS configured */
}

int main(int argc, char **argv)
{
    dmn d;
    int status = dmn_begin(&d, &prog, argc, argv);
    if (status >= 0) {
        return status;
    }
    char dir[DMN_PATH_MAX];
    data_dir(dir);
    int threads = (int)dmn_env_int("OP_ACCOUNT_THREADS", 1, OPC_ACCOUNTD_MAX_THREADS,
                                   OPC_ACCOUNTD_DEFAULT_THREADS);
    int db_pool = (int)dmn_env_int("OP_ACCOUNT_DB_POOL", 1, OPC_ACCOUNTD_MAX_DB_POOL,
                                   OPC_ACCOUNTD_DEFAULT_DB_POOL);
    tls_env tls;
    tls_env_read(&tls);
    int https_port = tls_env_https_port(&tls);
    if (d.http_port >= 0 && !loopback(d.bind_address)) {
        dmn_bad("OP_HTTP_PORT", "plain HTTP is refused unless OP_BIND_ADDRESS is a loopback "
                                "address (127.0.0.1, ::1); use HTTPS");
    }
    if (https_port < 0 && d.http_port < 0) {
        dmn_bad("OP_TLS_CERT_FILE", "not set: HTTPS needs OP_TLS_CERT_FILE and OP_TLS_KEY_FILE, "
                                    "or OP_TLS_USE_LETSENCRYPT");
    }
    if (https_port > 0 && https_port == d.http_port) {
        dmn_bad("OP_HTTPS_PORT", "the same port as OP_HTTP_PORT");
    }

    if (dmn_open(&d) != 0) {
        return 1;
    }
    char err[OPC_ERRBUF_SIZE] = "a setting was refused";
    opc_accountd *s = NULL;
    opc_err rc = opc_accountd_create(dir, &s, err, sizeof err);
    if (rc == OPC_OK && (opc_accountd_set_http_port(s, d.http_port) != OPC_OK ||
                         opc_accountd_set_bind_address(s, d.bind_address) != OPC_OK ||
                         opc_accountd_set_threads(s, threads) != OPC_OK)) {
        rc = OPC_ERR_INVALID_ARG; /* not reached: the values were checked above */
    }
    const char *db = dmn_env("OP_ACCOUNT_DATABASE_URL");
    if (rc == OPC_OK && db != NULL && db[0] != '\0') {
        rc = opc_accountd_set_database(s, db, db_pool, err, sizeof err);
    }
    if (rc == OPC_OK) {
        const tls_env_target target = {.obj = s,
                                       .set_https_port = set_https_port,
                                       .set_files = set_files,
                                       .set_acme = set_acme};
        rc = tls_env_apply(&target, &tls, dir, err, sizeof err);
    }
    if (rc == OPC_OK) {
        rc = opc_accountd_start(s, err, sizeof err);
    }
    if (rc != OPC_OK) {
        opc_accountd_free(s);
        const dmn_port ports[] = {{"OP_HTTPS_PORT", https_port}, {"OP_HTTP_PORT", d.http_port}};
        dmn_fail_start(&d, err, ports, sizeof ports / sizeof ports[0]);
        return 1;
    }
    (void)dmn_wait(reload_tls, s);
    opc_accountd_free(s); /* ends the long polls, drains the requests in progress */
    dmn_close(&d);
    return 0;
}
