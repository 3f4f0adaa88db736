/*
 * daemons/connect-sync/main.c - connect-sync: mirror the Connect server's
 * granted vaults and token registry into 1password.sqlite (opc_sync), and
 * serve GET /heartbeat and GET /health on OP_HTTP_PORT.
 *
 * Environment (ARCHITECTURE §4): OP_SESSION (credentials path, base64 or
 * JSON; default ~/.op/1password-credentials.json), OP_HTTP_PORT (8080; the
 * docs give sync 8081), OP_LOG_LEVEL (info), XDG_DATA_HOME (data directory
 * $XDG_DATA_HOME/.op/data, default ~/.op/data). OP_BUS_PORT and
 * OP_BUS_PEERS are accepted and ignored. A bad value stops start-up with one
 * line naming the variable. `--healthcheck` probes the local instance's
 * /heartbeat and exits 0 or 1.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <civetweb.h>

#include <opconnect/opconnect.h>

#define NAME "1Password Connect Sync"

static volatile int g_stop;
static opc_sync *g_sync;
static char g_cache_path[4096];

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- logging: JSON lines on stdout ---- */

static void log_cb(const opc_log_record *r, void *ud)
{
    (void)ud;
    char line[2048];
    size_t n = opc_log_format_json(r, line, sizeof line);
    if (n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    (void)fwrite(line, 1, n, stdout);
    (void)fflush(stdout);
}

static opc_log_level g_level = OPC_LOG_INFO;

static void dlog(opc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dlog(opc_log_level level, const char *fmt, ...)
{
    if (level > g_level) {
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    opc_log_record r = {
        .age = OPC_LOG_RECORD_AGE,
        .level = level,
        .time_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
        .subsystem = "connect-sync",
        .message = msg,
    };
    log_cb(&r, NULL);
}

/* One line on stderr naming the variable, then exit 1. */
static void bad_env(const char *var, const char *why)
{
    (void)fprintf(stderr, "connect-sync: %s: %s\n", var, why);
    exit(1);
}

static int parse_port(const char *s, long *out)
{
    if (s == NULL || *s == '\0' || strlen(s) > 5) {
        return -1;
    }
    long v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535) {
        return -1;
    }
    *out = v;
    return 0;
}

static long http_port(void)
{
    const char *s = getenv("OP_HTTP_PORT");
    long port = 8080;
    if (s != NULL && parse_port(s, &port) != 0) {
        bad_env("OP_HTTP_PORT", "must be a port number from 1 to 65535");
    }
    return port;
}

/* ---- HTTP ---- */

/* Write status, headers and body with ONE mg_write. */
static int reply(struct mg_connection *conn, int status, const char *reason, const char *type,
                 const char *body)
{
    size_t blen = strlen(body);
    size_t cap = blen + 256;
    char *buf = malloc(cap);
    if (buf == NULL) {
        return 500;
    }
    int n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n\r\n%s",
                     status, reason, type, blen, body);
    if (n > 0 && (size_t)n < cap) {
        (void)mg_write(conn, buf, (size_t)n);
    }
    free(buf);
    return status;
}

static int heartbeat(struct mg_connection *conn, void *ud)
{
    (void)ud;
    return reply(conn, 200, "OK", "text/plain", ".");
}

static cJSON *dependency(cJSON *arr, const char *service, const char *status, const char *msg)
{
    cJSON *d = cJSON_CreateObject();
    if (d == NULL) {
        return NULL;
    }
    cJSON_AddStringToObject(d, "service", service);
    cJSON_AddStringToObject(d, "status", status);
    if (msg != NULL) {
        cJSON_AddStringToObject(d, "message", msg);
    }
    cJSON_AddItemToArray(arr, d);
    return d;
}

static int health(struct mg_connection *conn, void *ud)
{
    (void)ud;
    char *hj = NULL;
    cJSON *h = NULL;
    if (g_sync != NULL && opc_sync_health_json(g_sync, &hj) == OPC_OK) {
        h = cJSON_Parse(hj);
    }
    opc_free(hj);
    cJSON *o = cJSON_CreateObject();
    cJSON *deps = cJSON_CreateArray();
    char body_fallback[] = "{\"name\":\"" NAME "\",\"version\":\"\",\"dependencies\":[]}";
    if (o == NULL || deps == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(deps);
        cJSON_Delete(h);
        return reply(conn, 200, "OK", "application/json", body_fallback);
    }
    cJSON_AddStringToObject(o, "name", NAME);
    cJSON_AddStringToObject(o, "version", opc_version());
    char msg[4200];
    (void)snprintf(msg, sizeof msg, "Connected to %s", g_cache_path);
    dependency(deps, "sqlite", "ACTIVE", msg);
    cJSON *initial = cJSON_GetObjectItemCaseSensitive(h, "initialSyncComplete");
    cJSON *up = cJSON_GetObjectItemCaseSensitive(h, "upstream");
    cJSON *err = cJSON_GetObjectItemCaseSensitive(h, "lastError");
    if (cJSON_IsTrue(initial)) {
        dependency(deps, "account_data", "ACTIVE", NULL);
    } else {
        dependency(deps, "account_data", "NOT_SYNCED",
                   "Account data is not available because synchronization has not yet "
                   "completed");
    }
    if (cJSON_IsString(up) && strcmp(up->valuestring, "unreachable") == 0) {
        dependency(deps, "upstream", "UNREACHABLE",
                   cJSON_IsString(err) ? err->valuestring : "upstream unreachable");
    } else if (cJSON_IsString(up) && strcmp(up->valuestring, "ok") == 0) {
        dependency(deps, "upstream", "ACTIVE", NULL);
    } else {
        dependency(deps, "upstream", "UNINITIALIZED", NULL);
    }
    cJSON_AddItemToObject(o, "dependencies", deps);
    char *text = cJSON_PrintUnformatted(o);
    int status = reply(conn, 200, "OK", "application/json", text != NULL ? text : body_fallback);
    cJSON_free(text);
    cJSON_Delete(o);
    cJSON_Delete(h);
    return status;
}

static int not_found(struct mg_connection *conn, void *ud)
{
    (void)ud;
    return reply(conn, 404, "Not Found", "application/json",
                 "{\"status\":404,\"message\":\"Invalid request path\"}");
}

/* ---- --healthcheck ---- */

static int healthcheck(void)
{
    long port = http_port();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 1;
    }
    struct timeval tv = {.tv_sec = 3, .tv_usec = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        (void)close(fd);
        return 1;
    }
    const char req[] = "GET /heartbeat HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1)) {
        (void)close(fd);
        return 1;
    }
    char buf[512];
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        if (got == sizeof buf - 1) {
            break;
        }
    }
    (void)close(fd);
    buf[got] = '\0';
    return strncmp(buf, "HTTP/1.1 200", 12) == 0 || strncmp(buf, "HTTP/1.0 200", 12) == 0 ? 0 : 1;
}

/* ---- main ---- */

static void no_core_dumps(void)
{
    struct rlimit rl = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &rl);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--healthcheck") == 0) {
            return healthcheck();
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("connect-sync %s (library %s)\n", OPC_VERSION_STRING, opc_version());
            return 0;
        }
        (void)fprintf(stderr, "usage: connect-sync [--healthcheck | --version]\n");
        return 2;
    }
    no_core_dumps();
    umask(077);

    const char *lvl = getenv("OP_LOG_LEVEL");
    if (lvl != NULL && opc_log_level_parse(lvl, &g_level) != OPC_OK) {
        bad_env("OP_LOG_LEVEL", "must be error, warn, info, debug or trace");
    }
    long port = http_port();
    const char *home = getenv("HOME");
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg != NULL && xdg[0] != '\0' && xdg[0] != '/') {
        bad_env("XDG_DATA_HOME", "must be an absolute path");
    }
    const char *session = getenv("OP_SESSION");
    char default_session[4096];
    if (session == NULL || session[0] == '\0') {
        if (home == NULL || home[0] == '\0') {
            bad_env("OP_SESSION", "not set, and HOME is not set for the default path");
        }
        (void)snprintf(default_session, sizeof default_session, "%s/.op/1password-credentials.json",
                       home);
        session = default_session;
    }

    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        (void)fprintf(stderr, "connect-sync: cannot initialize the library\n");
        return 1;
    }
    (void)opc_global_set_log(log_cb, NULL, g_level);

    char err[OPC_ERRBUF_SIZE];
    opc_credentials *creds = NULL;
    if (opc_credentials_load(session, &creds, err, sizeof err) != OPC_OK) {
        (void)fprintf(stderr, "connect-sync: OP_SESSION: %s\n", err);
        opc_global_cleanup();
        return 1;
    }
    char *path = NULL;
    if (opc_sync_default_cache_path(xdg, home, &path) != OPC_OK) {
        (void)fprintf(stderr, "connect-sync: XDG_DATA_HOME: neither it nor HOME is set\n");
        opc_credentials_free(creds);
        opc_global_cleanup();
        return 1;
    }
    (void)snprintf(g_cache_path, sizeof g_cache_path, "%s", path);
    opc_free(path);

    opc_err rc = opc_sync_create(creds, g_cache_path, &g_sync, err, sizeof err);
    opc_credentials_free(creds);
    if (rc != OPC_OK) {
        (void)fprintf(stderr, "connect-sync: %s\n", err);
        opc_global_cleanup();
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    (void)sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    mg_init_library(0);
    char port_text[16];
    (void)snprintf(port_text, sizeof port_text, "%ld", port);
    const char *options[] = {
        "listening_ports",    port_text, "num_threads",           "4",   "tcp_nodelay", "1",
        "request_timeout_ms", "10000",   "keep_alive_timeout_ms", "500", NULL};
    struct mg_callbacks cbs;
    memset(&cbs, 0, sizeof cbs);
    struct mg_context *ctx = mg_start(&cbs, NULL, options);
    if (ctx == NULL) {
        (void)fprintf(stderr, "connect-sync: OP_HTTP_PORT: cannot listen on port %ld\n", port);
        opc_sync_free(g_sync);
        mg_exit_library();
        opc_global_cleanup();
        return 1;
    }
    mg_set_request_handler(ctx, "/heartbeat$", heartbeat, NULL);
    mg_set_request_handler(ctx, "/health$", health, NULL);
    mg_set_request_handler(ctx, "/", not_found, NULL);

    if (getenv("OP_BUS_PORT") != NULL || getenv("OP_BUS_PEERS") != NULL) {
        dlog(OPC_LOG_INFO, "OP_BUS_PORT/OP_BUS_PEERS are ignored: the daemons share the cache");
    }
    dlog(OPC_LOG_INFO, "starting " NAME " %s", opc_version());
    dlog(OPC_LOG_INFO, "serving on :%ld", port);

    rc = opc_sync_run(g_sync, &g_stop);
    int status = rc == OPC_OK ? 0 : 1;
    dlog(OPC_LOG_INFO, "shutting down");
    mg_stop(ctx);
    opc_sync_free(g_sync);
    g_sync = NULL;
    mg_exit_library();
    opc_global_cleanup();
    return status;
}
