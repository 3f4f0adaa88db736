/*
 * connect-api - the Connect REST API over the local cache (a thin shell over
 * opc_api; see man/connect-api.8 and docs/API.md).
 *
 * Environment (a bad value stops start-up with one line naming it, exit 1):
 *   OP_SESSION       credentials: path, base64 or JSON
 *                    (default ~/.op/1password-credentials.json)
 *   OP_HTTP_PORT     listen port (default 8080; 0 picks a free one)
 *   OP_BIND_ADDRESS  IPv4 address to listen on (default 0.0.0.0)
 *   OP_LOG_LEVEL     error|warn|info|debug|trace (default info)
 *   OP_SYNC_TIMEOUT  Go duration a request waits for the initial sync
 *                    (default 10s)
 *   OP_API_THREADS   worker threads = peak keep-alive clients (default 64)
 *   OP_MAX_INLINE_FILE_SIZE_KB  largest file inlined by inline_files /
 *                    inline_content, in KiB (0-65536; default 100)
 *   XDG_DATA_HOME    cache at $XDG_DATA_HOME/.op/data/1password.sqlite
 *                    (default ~/.op/data/1password.sqlite)
 *   OP_BUS_PORT, OP_BUS_PEERS  accepted and ignored (no bus here)
 *
 * Logs are JSON lines on stdout. SIGTERM/SIGINT: stop accepting, finish the
 * requests in progress, exit 0. Core dumps are disabled. `--healthcheck`
 * requests GET /heartbeat from 127.0.0.1:$OP_HTTP_PORT and exits 0 when it
 * answers 200, else 1.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif

#include <arpa/inet.h>
#include <errno.h>
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
#include <unistd.h>

#include <opconnect/opconnect.h>

#include "tls_env.h"

static void log_line(const opc_log_record *rec, void *ud)
{
    (void)ud;
    char buf[2048];
    size_t n = opc_log_format_json(rec, buf, sizeof buf);
    if (n >= sizeof buf) {
        n = sizeof buf - 1;
        buf[n - 1] = '\n';
    }
    fwrite(buf, 1, n, stdout);
    fflush(stdout);
}

/* One JSON line from the daemon itself. */
static void say(opc_log_level level, const char *msg)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    opc_log_record rec = {.age = OPC_LOG_RECORD_AGE,
                          .level = level,
                          .time_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec,
                          .subsystem = "connect-api",
                          .message = msg};
    log_line(&rec, NULL);
}

static int bad_env(const char *name, const char *why)
{
    fprintf(stderr, "connect-api: %s: %s\n", name, why);
    return 1;
}

/* A non-negative decimal integer <= max. */
static int parse_int(const char *s, long max, long *out)
{
    if (s == NULL || *s == '\0') {
        return -1;
    }
    long v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        v = v * 10 + (*p - '0');
        if (v > max) {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* A Go duration without sign or fraction: e.g. 10s, 1m30s, 500ms, 2h. */
static int parse_duration_ms(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0') {
        return -1;
    }
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    int64_t total = 0;
    const char *p = s;
    while (*p != '\0') {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        int64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p - '0');
            if (v > 100000000) {
                return -1;
            }
            p++;
        }
        int64_t unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 'h') {
            unit = 3600000;
            p++;
        } else if (*p == 'm') {
            unit = 60000;
            p++;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else {
            return -1;
        }
        total += v * unit;
        if (total > 3600000) {
            return -1;
        }
    }
    *out = total;
    return 0;
}

static int healthcheck(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return 1;
    }
    struct timeval tv = {.tv_sec = 3, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = 1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        static const char req[] = "GET /heartbeat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Connection: close\r\n\r\n";
        char buf[256];
        if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1)) {
            ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
            if (n > 12) {
                buf[n] = '\0';
                ok = strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : 1;
            }
        }
    }
    close(fd);
    return ok;
}

int main(int argc, char **argv)
{
    umask(077);
    bool hc = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--healthcheck") == 0) {
            hc = true;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("connect-api %s (libopconnect %s)\n", OPC_VERSION_STRING, opc_version());
            return 0;
        } else {
            fprintf(stderr, "usage: connect-api [--healthcheck | --version]\n");
            return 2;
        }
    }
    long port = 8080;
    const char *v = getenv("OP_HTTP_PORT");
    if (v != NULL && parse_int(v, 65535, &port) != 0) {
        return bad_env("OP_HTTP_PORT", "not a port number (0-65535)");
    }
    if (hc) {
        return healthcheck((int)port);
    }
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    opc_log_level level = OPC_LOG_INFO;
    v = getenv("OP_LOG_LEVEL");
    if (v != NULL && *v != '\0' && opc_log_level_parse(v, &level) != OPC_OK) {
        return bad_env("OP_LOG_LEVEL", "expected error, warn, info, debug or trace");
    }
    int64_t sync_timeout = 10000;
    v = getenv("OP_SYNC_TIMEOUT");
    if (v != NULL && parse_duration_ms(v, &sync_timeout) != 0) {
        return bad_env("OP_SYNC_TIMEOUT", "not a duration such as 10s, 1m or 500ms (max 1h)");
    }
    long threads = 64;
    v = getenv("OP_API_THREADS");
    if (v != NULL && (parse_int(v, 1024, &threads) != 0 || threads < 1)) {
        return bad_env("OP_API_THREADS", "not a thread count (1-1024)");
    }
    long inline_kb = OPC_API_DEFAULT_MAX_INLINE_FILE_KB;
    v = getenv("OP_MAX_INLINE_FILE_SIZE_KB");
    if (v != NULL && parse_int(v, OPC_API_MAX_INLINE_FILE_KB, &inline_kb) != 0) {
        return bad_env("OP_MAX_INLINE_FILE_SIZE_KB", "not a size in KB (0-65536)");
    }
    const char *bind = getenv("OP_BIND_ADDRESS");
    const char *home = getenv("HOME");
    char session_default[4096];
    const char *session = getenv("OP_SESSION");
    if (session == NULL || *session == '\0') {
        if (home == NULL || *home == '\0') {
            return bad_env("OP_SESSION", "not set and HOME is not set");
        }
        snprintf(session_default, sizeof session_default, "%s/.op/1password-credentials.json",
                 home);
        session = session_default;
    }
    char cache_path[4096];
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg != NULL && *xdg != '\0') {
        if (xdg[0] != '/') {
            return bad_env("XDG_DATA_HOME", "not an absolute path");
        }
        snprintf(cache_path, sizeof cache_path, "%s/.op/data/1password.sqlite", xdg);
    } else if (home != NULL && *home != '\0') {
        snprintf(cache_path, sizeof cache_path, "%s/.op/data/1password.sqlite", home);
    } else {
        return bad_env("XDG_DATA_HOME", "not set and HOME is not set");
    }

    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        fprintf(stderr, "connect-api: cannot initialize libopconnect\n");
        return 1;
    }
    opc_global_set_log(log_line, NULL, level);
    char err[OPC_ERRBUF_SIZE];
    opc_credentials *creds = NULL;
    opc_err rc = opc_credentials_load(session, &creds, err, sizeof err);
    if (rc != OPC_OK) {
        fprintf(stderr, "connect-api: OP_SESSION: %s\n", err);
        opc_global_cleanup();
        return 1;
    }
    opc_api *api = NULL;
    rc = opc_api_create(creds, cache_path, &api, err, sizeof err);
    if (rc == OPC_OK && opc_api_set_http_port(api, (int)port) != OPC_OK) {
        rc = OPC_ERR_INVALID_ARG;
        snprintf(err, sizeof err, "OP_HTTP_PORT: rejected");
    }
    if (rc == OPC_OK && bind != NULL && *bind != '\0' &&
        opc_api_set_bind_address(api, bind) != OPC_OK) {
        fprintf(stderr, "connect-api: OP_BIND_ADDRESS: not an IPv4 address\n");
        opc_api_free(api);
        opc_credentials_free(creds);
        opc_global_cleanup();
        return 1;
    }
    if (rc == OPC_OK) {
        (void)opc_api_set_sync_timeout_ms(api, sync_timeout);
        (void)opc_api_set_threads(api, (int)threads);
        (void)opc_api_set_max_inline_file_kb(api, (int)inline_kb);
    }
    if (rc == OPC_OK) {
        rc = tls_env_apply(api, cache_path, err, sizeof err); /* HTTPS: tls_env.c */
    }
    /* Signals are taken synchronously below: block them before any thread. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (rc == OPC_OK) {
        rc = opc_api_start(api, err, sizeof err);
    }
    if (rc != OPC_OK) {
        fprintf(stderr, "connect-api: %s\n", err);
        opc_api_free(api);
        opc_credentials_free(creds);
        opc_global_cleanup();
        return 1;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "starting 1Password Connect API (libopconnect %s) on port %d",
             opc_version(), opc_api_port(api));
    say(OPC_LOG_INFO, msg);
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
        (void)opc_api_tls_reload(api); /* re-read the TLS files / ACME state */
    }
    say(OPC_LOG_INFO, "shutting down: draining requests");
    opc_api_free(api);
    opc_credentials_free(creds);
    say(OPC_LOG_INFO, "stopped");
    opc_global_cleanup();
    return 0;
}
