/*
 * daemons/common/daemon.c - start-up, environment, logging and signals of
 * connect-api, connect-sync and op-account-server (daemon.h).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif

#include "daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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

static const char *g_prog = "daemon";
static opc_log_level g_level = OPC_LOG_INFO;
static sigset_t g_signals; /* SIGTERM, SIGINT, SIGHUP */
static volatile sig_atomic_t g_stop;

/* ---- logging: JSON lines on stdout ---- */

/* From dmn_open to dmn_close the lines go through a buffered writer (a
 * thread of its own writes them; docs/observability.md, "Logs"); before and
 * after, straight to stdout. */
static opc_log_writer *g_writer;

static void log_line(const opc_log_record *rec, void *ud)
{
    (void)ud;
    if (g_writer != NULL) {
        opc_log_writer_fn(rec, g_writer);
        return;
    }
    char buf[2048];
    char *line = buf;
    char *big = NULL;
    size_t n = opc_log_format_json(rec, buf, sizeof buf);
    if (n >= sizeof buf) { /* a long line: format it again, whole */
        big = malloc(n + 1);
        if (big != NULL && opc_log_format_json(rec, big, n + 1) == n) {
            line = big;
        } else {
            n = sizeof buf - 1;
            buf[n - 1] = '\n';
        }
    }
    (void)fwrite(line, 1, n, stdout);
    (void)fflush(stdout);
    free(big);
}

void dmn_log(opc_log_level level, const char *fmt, ...)
{
    if (level > g_level) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    opc_log_record rec = {.age = OPC_LOG_RECORD_AGE,
                          .level = level,
                          .time_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
                          .subsystem = g_prog,
                          .message = msg};
    log_line(&rec, NULL);
}

void dmn_fail(const char *msg)
{
    (void)fprintf(stderr, "%s: %s\n", g_prog, msg);
}

/* ---- the environment ---- */

const char *dmn_env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

_Noreturn void dmn_bad(const char *name, const char *why)
{
    (void)fprintf(stderr, "%s: %s: %s\n", g_prog, name, why);
    exit(1);
}

extern char **environ;

char *dmn_env_take(const char *name)
{
    const char *v = dmn_env(name);
    char *copy = NULL;
    if (v != NULL) {
        size_t len = strlen(v);
        copy = malloc(len + 1);
        if (copy == NULL) {
            dmn_bad(name, "out of memory");
        }
        memcpy(copy, v, len + 1);
    }
    /* Each occurrence (a block may name a variable twice): the strings of
     * the start-up block live on the stack, where the kernel reads them. */
    size_t n = strlen(name);
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
            char *value = *e + n + 1;
            opc_memzero(value, strlen(value));
        }
    }
    (void)unsetenv(name);
    return copy;
}

void dmn_secret_free(char *s)
{
    if (s != NULL) {
        opc_memzero(s, strlen(s));
        free(s);
    }
}

/* Decimal digits only, at most 18 of them, into *out. */
static bool parse_decimal(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18) {
        return false;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int64_t dmn_env_int(const char *name, int64_t min, int64_t max, int64_t def)
{
    const char *v = dmn_env(name);
    int64_t n = def;
    if (v != NULL && (!parse_decimal(v, &n) || n < min || n > max)) {
        char why[96];
        (void)snprintf(why, sizeof why, "not a whole number from %lld to %lld", (long long)min,
                       (long long)max);
        dmn_bad(name, why);
    }
    return n;
}

int dmn_env_port(const char *name, int def)
{
    const char *v = dmn_env(name);
    int64_t n = def;
    if (v != NULL && (!parse_decimal(v, &n) || n > 65535)) {
        dmn_bad(name, "not a port number (0-65535)");
    }
    return (int)n;
}

int64_t dmn_env_duration_ms(const char *name, int64_t max_ms, int64_t def)
{
    const char *v = dmn_env(name);
    int64_t ms = def;
    if (v != NULL && opc_duration_parse_ms(v, max_ms, &ms) != OPC_OK) {
        static const struct {
            int64_t ms;
            const char *unit;
        } units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
        size_t u = 0;
        while (max_ms % units[u].ms != 0) {
            u++;
        }
        char why[128];
        (void)snprintf(why, sizeof why,
                       "not a duration such as 10s, 1m30s or 500ms (at most %lld%s)",
                       (long long)(max_ms / units[u].ms), units[u].unit);
        dmn_bad(name, why);
    }
    return ms;
}

int64_t dmn_env_seconds(const char *name, int64_t max_s, int64_t def)
{
    const char *v = dmn_env(name);
    int64_t ms = 0;
    if (v == NULL) {
        return def;
    }
    if (opc_duration_parse_ms(v, max_s * 1000, &ms) != OPC_OK || ms % 1000 != 0) {
        char why[128];
        bool minutes = max_s % 60 == 0;
        (void)snprintf(why, sizeof why,
                       "not a duration of whole seconds such as 5s, 30s or 1m (at most %lld%s)",
                       (long long)(minutes ? max_s / 60 : max_s), minutes ? "m" : "s");
        dmn_bad(name, why);
    }
    return ms / 1000;
}

static const char *env_bind_address(void)
{
    const char *v = dmn_env("OP_BIND_ADDRESS");
    struct in_addr a;
    struct in6_addr a6;
    if (v != NULL && (strlen(v) > 45 || (inet_pton(AF_INET, v, &a) != 1 &&
                                         inet_pton(AF_INET6, v, &a6) != 1))) {
        dmn_bad("OP_BIND_ADDRESS",
                "not a numeric IP address such as 127.0.0.1, 0.0.0.0, ::1 or :: (both families)");
    }
    return v != NULL ? v : "0.0.0.0";
}

/* The variables both daemons read; exits 1 on a bad one. */
static void read_common(dmn *d)
{
    bool own = (d->p->flags & DMN_NO_CREDENTIALS) != 0;
    d->http_port = dmn_env_port("OP_HTTP_PORT", own ? -1 : 8080);
    d->bind_address = env_bind_address();
    const char *v = dmn_env("OP_LOG_LEVEL");
    d->log_level = OPC_LOG_INFO;
    if (v != NULL && opc_log_level_parse(v, &d->log_level) != OPC_OK) {
        dmn_bad("OP_LOG_LEVEL", "expected error, warn, info, debug or trace");
    }
    g_level = d->log_level;
    d->home = dmn_env("HOME");
    d->xdg_data_home = dmn_env("XDG_DATA_HOME");
    if (d->xdg_data_home != NULL && d->xdg_data_home[0] != '/') {
        dmn_bad("XDG_DATA_HOME", "not an absolute path");
    }
    if (d->xdg_data_home == NULL && d->home == NULL) {
        dmn_bad("XDG_DATA_HOME", "not set, and HOME is not set either");
    }
    if (own) {
        return; /* no credentials */
    }
    /* The credentials' base64 or JSON would otherwise stay readable in
     * /proc/<pid>/environ for the process's life (issue 15). */
    d->session_taken = dmn_env_take("OP_SESSION");
    d->session = d->session_taken;
    if (d->session == NULL) {
        if (d->home == NULL) {
            dmn_bad("OP_SESSION", "not set, and HOME is not set for the default path");
        }
        int n = snprintf(d->session_default, sizeof d->session_default,
                         "%s/.op/1password-credentials.json", d->home);
        if (n < 0 || (size_t)n >= sizeof d->session_default) {
            dmn_bad("OP_SESSION", "not set, and HOME is too long for the default path");
        }
        d->session = d->session_default;
    }
}

/* ---- --healthcheck: GET /heartbeat on the local instance ---- */

static int healthcheck(void)
{
    int port = dmn_env_port("OP_HTTP_PORT", 8080);
    const char *bind = env_bind_address();
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    /* A daemon on all addresses answers on loopback; else probe its own address. */
    if (strcmp(bind, "0.0.0.0") == 0 || inet_pton(AF_INET, bind, &sa.sin_addr) != 1) {
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 1;
    }
    struct timeval tv = {.tv_sec = 3, .tv_usec = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static const char req[] = "GET /heartbeat HTTP/1.1\r\nHost: localhost\r\n"
                              "Connection: close\r\n\r\n";
    char buf[64];
    size_t got = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1)) {
        while (got < sizeof buf - 1) {
            ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
            if (n <= 0) {
                break;
            }
            got += (size_t)n;
        }
    }
    (void)close(fd);
    buf[got] = '\0';
    return strncmp(buf, "HTTP/1.1 200 ", 13) == 0 || strncmp(buf, "HTTP/1.0 200 ", 13) == 0 ? 0 : 1;
}

/* ---- the arguments: --help, --version, --healthcheck ---- */

/* Both daemons' variables, laid out as dmn_prog.env: the name at column 3,
 * the text at column 23, the default in parentheses. */
static const char common_env[] =
    "  OP_SESSION          the credentials file 1password-credentials.json: its\n"
    "                      path, its base64 or its JSON\n"
    "                      (default $HOME/.op/1password-credentials.json)\n"
    "  OP_HTTP_PORT        the HTTP port, 0-65535; 0 picks a free one (default 8080)\n"
    "  OP_BIND_ADDRESS     the numeric IPv4 or IPv6 address to listen on; :: is every\n"
    "                      address of both (default 0.0.0.0: every IPv4 address)\n"
    "  OP_LOG_LEVEL        error, warn, info, debug or trace (default info)\n"
    "  OP_UPSTREAM_CA_FILE a PEM bundle that an https:// upstream's certificate\n"
    "                      must chain to (default the system's trust store)\n"
    "  XDG_DATA_HOME       an absolute path; the cache is in $XDG_DATA_HOME/.op/data\n"
    "                      (default $HOME)\n"
    "  HOME                for the defaults above (default none: then OP_SESSION\n"
    "                      and XDG_DATA_HOME must be set)\n";
static const char heap_env[] =
    "  MALLOC_ARENA_MAX    when it or GLIBC_TUNABLES is set, glibc's heap follows\n"
    "                      them (default unset: 2 arenas, mmap from 256 KiB)\n"
    "  GLIBC_TUNABLES      see MALLOC_ARENA_MAX (default unset)\n"
    "  OP_BUS_PORT         accepted and ignored, logged (default unset)\n"
    "  OP_BUS_PEERS        accepted and ignored, logged (default unset)\n";

static int print_help(const dmn_prog *p)
{
    bool own = (p->flags & DMN_NO_CREDENTIALS) != 0;
    (void)printf("Usage: %s [--help | --version | --healthcheck%s]\n\n%s\n"
                 "Options:\n"
                 "  -h, --help          print this help and exit\n"
                 "  --version           print the versions of %s,\n"
                 "                      libopconnect and the Connect API it speaks, and exit\n"
                 "%s%s\n"
                 "Environment (an empty variable counts as unset; a bad value stops start-up\n"
                 "with one line on stderr naming it, exit status 1):\n%s%s%s\n"
                 "Logs are JSON lines on stdout. See %s(8).\n",
                 p->name, p->usage != NULL ? p->usage : "", p->about, p->name,
                 p->healthcheck != NULL
                     ? ""
                     : "  --healthcheck       GET /heartbeat on 127.0.0.1:$OP_HTTP_PORT (on\n"
                       "                      $OP_BIND_ADDRESS when it names one address); exit 0\n"
                       "                      on a 200, else 1\n",
                 p->options != NULL ? p->options : "", own ? "" : common_env, p->env, heap_env,
                 p->name);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

static int print_version(const dmn_prog *p)
{
    (void)printf("%s %s (libopconnect %s, Connect API %s)\n", p->name, OPC_VERSION_STRING,
                 opc_version(), OPC_CONNECT_VERSION);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

/* An exit status, or -1 when there is no argument and the daemon goes on. */
static int handle_args(const dmn_prog *p, int argc, char **argv)
{
    if (argc < 2) {
        return -1;
    }
    const char *a = argv[1];
    bool help = strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
    bool version = strcmp(a, "--version") == 0;
    bool check = strcmp(a, "--healthcheck") == 0;
    int own = -1;
    if (!help && !version && !check && p->option != NULL && argc == 2) {
        own = p->option(a);
        if (own >= 0) {
            return own;
        }
    }
    if (!help && !version && !check) {
        (void)fprintf(stderr, "%s: %s '%s' (see %s --help)\n", p->name,
                      a[0] == '-' ? "unknown option" : "unexpected argument", a, p->name);
        return 2;
    }
    if (argc > 2) {
        (void)fprintf(stderr, "%s: %s takes nothing after it, got '%s' (see %s --help)\n", p->name,
                      a, argv[2], p->name);
        return 2;
    }
    return help      ? print_help(p)
           : version ? print_version(p)
           : p->healthcheck != NULL ? p->healthcheck()
                                    : healthcheck();
}

/* ---- start-up ---- */

static void no_core_dumps(void)
{
    struct rlimit rl = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &rl);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Blocked before any thread exists, so only the main thread takes them. */
static void block_signals(void)
{
    (void)sigemptyset(&g_signals);
    (void)sigaddset(&g_signals, SIGTERM);
    (void)sigaddset(&g_signals, SIGINT);
    (void)sigaddset(&g_signals, SIGHUP);
    (void)pthread_sigmask(SIG_BLOCK, &g_signals, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    (void)sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGPIPE, &sa, NULL);
}

/*
 * glibc gives threads that allocate at once arenas of their own (up to eight
 * per core) and keeps what they free; with 64 API threads, GETs over 10,000
 * items and multi-megabyte lists, connect-api's RSS grew past 250 MB. Two
 * arenas, and a fixed mmap threshold (a list body above it is mapped and
 * unmapped, not kept in an arena), keep it flat (docs/performance.md). An
 * operator's own MALLOC_ARENA_MAX or GLIBC_TUNABLES win.
 */
static void bounded_heap(void)
{
    if (getenv("MALLOC_ARENA_MAX") != NULL || getenv("GLIBC_TUNABLES") != NULL) {
        return;
    }
    (void)mallopt(M_ARENA_MAX, DMN_MALLOC_ARENAS);
    (void)mallopt(M_MMAP_THRESHOLD, DMN_MALLOC_MMAP_THRESHOLD);
}

/*
 * Every open connection is a file descriptor, and connect-api serves
 * OP_API_THREADS (1,280) at once: the soft RLIMIT_NOFILE (often 1,024) is
 * raised to the hard one. Below DMN_MIN_FILES the daemon says so.
 */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < DMN_MIN_FILES) {
        dmn_log(OPC_LOG_WARN,
                "only %llu file descriptors may be open (ulimit -n): connections beyond "
                "that are refused",
                (unsigned long long)rl.rlim_cur);
    }
}

int dmn_begin(dmn *d, const dmn_prog *p, int argc, char **argv)
{
    memset(d, 0, sizeof *d);
    d->p = p;
    g_prog = p->name;
    int status = handle_args(p, argc, argv);
    if (status >= 0) {
        return status;
    }
    no_core_dumps();
    bounded_heap();
    (void)umask(077);
    read_common(d);
    block_signals();
    return -1;
}

/* ---- running ---- */

void dmn_upstream_ca_file(const char *path)
{
    if (path == NULL || path[0] == '\0') {
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        dmn_bad("OP_UPSTREAM_CA_FILE", strerror(errno));
    }
    (void)close(fd);
    if (opc_global_set_upstream_ca_file(path) != OPC_OK) {
        dmn_bad("OP_UPSTREAM_CA_FILE", "the path is too long");
    }
}

int dmn_open(dmn *d)
{
    raise_fd_limit();
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        dmn_fail("cannot initialize libopconnect");
        return -1;
    }
    if (opc_log_writer_open(STDOUT_FILENO, 0, &g_writer) != OPC_OK) {
        g_writer = NULL; /* unbuffered, then */
    }
    if (opc_global_set_log(log_line, NULL, d->log_level) != OPC_OK) {
        dmn_fail("cannot install the log callback");
        return -1;
    }
    dmn_log(OPC_LOG_INFO, "%s %s (libopconnect %s, Connect API %s) starting", d->p->title,
            OPC_VERSION_STRING, opc_version(), OPC_CONNECT_VERSION);
    if ((d->p->flags & DMN_NO_CREDENTIALS) != 0) {
        return 0;
    }
    char err[OPC_ERRBUF_SIZE] = "";
    char line[OPC_ERRBUF_SIZE + 64];
    opc_err rc = opc_sync_default_cache_path(d->xdg_data_home, d->home, &d->cache_path);
    if (rc != OPC_OK) {
        (void)snprintf(line, sizeof line, "XDG_DATA_HOME: no cache path (%s)", opc_strerror(rc));
    } else {
        rc = opc_credentials_load(d->session, &d->creds, err, sizeof err);
        dmn_secret_free(d->session_taken); /* loaded: the copy is not needed again */
        d->session_taken = NULL;
        d->session = NULL;
        /* The library's messages about OP_SESSION name it already. */
        (void)snprintf(line, sizeof line, "%s%s",
                       strncmp(err, "OP_SESSION", 10) == 0 ? "" : "OP_SESSION: ", err);
    }
    if (rc != OPC_OK) {
        dmn_fail(line);
        dmn_close(d);
        return -1;
    }
    if (dmn_env("OP_BUS_PORT") != NULL || dmn_env("OP_BUS_PEERS") != NULL) {
        dmn_log(OPC_LOG_INFO, "OP_BUS_PORT and OP_BUS_PEERS are ignored: the daemons share the "
                              "cache instead of a bus");
    }
    return 0;
}

void dmn_drop_credentials(dmn *d)
{
    opc_credentials_free(d->creds);
    d->creds = NULL;
}

void dmn_fail_start(dmn *d, const char *err, const dmn_port *ports, size_t n)
{
    /* The library names the port it could not bind, and why, once it has
     * tried it again: "cannot listen on 127.0.0.1:8080: address in use"
     * ("[::1]:8080" for IPv6). */
    bool v6 = strchr(d->bind_address, ':') != NULL;
    for (size_t i = 0; i < n; i++) {
        if (ports[i].port <= 0) {
            continue; /* a free port is never busy */
        }
        char at[80];
        char needle[112];
        (void)snprintf(at, sizeof at, "%s%s%s:%d", v6 ? "[" : "", d->bind_address, v6 ? "]" : "",
                       ports[i].port);
        (void)snprintf(needle, sizeof needle, "cannot listen on %s: ", at);
        const char *p = strstr(err, needle);
        if (p == NULL) {
            continue;
        }
        const char *why = p + strlen(needle);
        bool addr = strncmp(why, "address not available", 21) == 0;
        const char *var = addr ? "OP_BIND_ADDRESS" : ports[i].var;
        (void)fprintf(stderr, "%s: %s: cannot listen on %s: %s; choose another with %s%s\n", g_prog,
                      var, at, why, var, addr ? "" : " (or OP_BIND_ADDRESS)");
        dmn_close(d);
        return;
    }
    if (strstr(err, "cannot listen on") != NULL) { /* the port is free by now */
        (void)fprintf(stderr, "%s: %s; check OP_HTTP_PORT%s and OP_BIND_ADDRESS\n", g_prog, err,
                      n > 1 ? ", OP_HTTPS_PORT" : "");
    } else {
        dmn_fail(err);
    }
    dmn_close(d);
}

int dmn_wait(void (*on_hup)(void *ud), void *ud)
{
    /* The start-up lines (the pin, the addresses) are written now, not
     * up to OPC_LOG_WRITER_DELAY_MS later: whoever reads the log once
     * the daemon answers finds them there, or a moment after. */
    opc_log_writer_flush(g_writer);
    int sig = 0;
    while (sigwait(&g_signals, &sig) == 0) {
        if (sig != SIGHUP) {
            dmn_log(OPC_LOG_INFO, "%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return sig;
        }
        dmn_log(OPC_LOG_INFO, "SIGHUP");
        if (on_hup != NULL) {
            on_hup(ud);
        }
    }
    return 0;
}

static void on_signal(int sig)
{
    if (sig != SIGHUP) {
        g_stop = 1;
    }
}

volatile int *dmn_stop_flag(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    (void)sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGHUP, &sa, NULL);
    (void)pthread_sigmask(SIG_UNBLOCK, &g_signals, NULL);
    return &g_stop;
}

void dmn_close(dmn *d)
{
    opc_credentials_free(d->creds);
    d->creds = NULL;
    dmn_secret_free(d->session_taken);
    d->session_taken = NULL;
    opc_free(d->cache_path);
    d->cache_path = NULL;
    if (opc_global_set_log(NULL, NULL, OPC_LOG_INFO) != OPC_OK) {
        /* cannot happen: the level is valid */
    }
    opc_log_writer *w = g_writer;
    g_writer = NULL;
    opc_log_writer_close(w); /* writes what is queued */
    opc_global_cleanup();
}
