/*
 * daemons/common/daemon.h - what connect-api, connect-sync and
 * op-account-server share
 * (compiled into both; public headers of libopconnect only).
 *
 * A daemon's main() is:
 *
 *   dmn d;
 *   int status = dmn_begin(&d, &x_prog, argc, argv);
 *   if (status >= 0) return status;  (--help, --version, --healthcheck, usage)
 *   ... its own variables: dmn_env_int(), dmn_env_duration_ms() ...
 *   if (dmn_open(&d) != 0) return 1;           (library, log, credentials)
 *   ... create and start the library object (it logs "serving on") ...
 *   on failure: free the object, dmn_fail_start(&d, err, ports, n)
 *   dmn_wait(...) or opc_sync_run(.., dmn_stop_flag())
 *   ... free the object (it logs "stopped") ...; dmn_close(&d); return 0;
 *
 * The listening events are the library's to log ("serving on <addr>:<port>"
 * and "stopped" of opc_api, "status on ..." and "status listener stopped"
 * of opc_sync): it knows the ports it bound, and embedders get the same
 * lines. A daemon logs its start-up banner (versions) and the signal that
 * stops it, never a second line for either event (docs/decisions.md).
 *
 * Every variable a daemon reads is listed, with its default, in its
 * --help (dmn_prog.env, and the shared ones here) and in its man page;
 * tests/daemon/test_programs.sh greps the sources to hold both to it.
 *
 * Configuration (ARCHITECTURE §4, docs/configuration.md) is read and
 * checked before the library starts: a bad value prints ONE line on stderr,
 * "<prog>: <VARIABLE>: <why>", and exits 1 (dmn_bad). Nothing else is
 * printed on stderr except a start-up failure after dmn_open(), also one
 * line (dmn_fail, dmn_fail_start), and a refused argument (one line naming
 * --help, exit 2). Logs are JSON lines on stdout (opc_log_format_json),
 * never with a secret: the daemon's own lines carry no values from the
 * environment except ports, addresses and paths.
 *
 * Signals: dmn_begin() blocks SIGTERM, SIGINT and SIGHUP before any thread
 * exists, so library threads never take them; the main thread then takes
 * them in dmn_wait() (connect-api) or, with dmn_stop_flag(), while it runs
 * opc_sync_run() (connect-sync). SIGPIPE is ignored.
 */
#ifndef OPC_DAEMON_H
#define OPC_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include <opconnect/opconnect.h>

/* Largest path the daemons build (credentials default, cache path). */
#define DMN_PATH_MAX 4096
/* The heap dmn_begin() sets up unless MALLOC_ARENA_MAX or GLIBC_TUNABLES is
 * set: glibc arenas, and the size from which an allocation is mapped. */
#define DMN_MALLOC_ARENAS 2
/* Fewer open files than this at start are worth a warning (docs/http.md). */
#define DMN_MIN_FILES 4096
#define DMN_MALLOC_MMAP_THRESHOLD (256 * 1024)

/* What a daemon says about itself in --help, --version and its banner. */
typedef struct dmn_prog {
    const char *name;  /* "connect-api": messages, log subsystem */
    const char *title; /* "1Password Connect API": the start-up banner */
    const char *about; /* --help: what it does, lines of at most 79 columns */
    const char *env;   /* --help: its own variables, as dmn_help() lays them out */
    /* The rest may be zero (connect-api, connect-sync). */
    unsigned flags;      /* DMN_* below */
    const char *usage;   /* more alternatives of the usage line (" | --print-pin") */
    const char *options; /* --help: more options, laid out as the others */
    /* A further argument alone on the command line (after --help,
     * --version and --healthcheck were ruled out): an exit status, or -1
     * when the argument is not one of the daemon's. */
    int (*option)(const char *arg);
    /* --healthcheck of its own (exit status); NULL: GET /heartbeat on
     * OP_HTTP_PORT. */
    int (*healthcheck)(void);
} dmn_prog;

/*
 * The daemon serves no Connect server of its own (op-account-server): no
 * OP_SESSION, no credentials, no cache path; OP_HTTP_PORT has no default
 * (d->http_port -1 when unset); --help lists only dmn_prog.env besides the
 * heap variables, so env names every variable it reads, the shared ones
 * included.
 */
#define DMN_NO_CREDENTIALS 0x1u

typedef struct dmn {
    const dmn_prog *p;         /* the daemon's name, title and help */
    int http_port;             /* OP_HTTP_PORT: 0-65535, default 8080 (DMN_NO_CREDENTIALS: -1) */
    const char *bind_address;  /* OP_BIND_ADDRESS: IPv4 or IPv6, default 0.0.0.0 */
    opc_log_level log_level;   /* OP_LOG_LEVEL: default info */
    const char *session;       /* OP_SESSION (path, base64 or JSON) or default path */
    char *session_taken;       /* OP_SESSION's value, taken out of the environment; wiped
                                * and freed once the credentials are loaded */
    const char *xdg_data_home; /* XDG_DATA_HOME (absolute) or NULL */
    const char *home;          /* HOME or NULL */
    char *cache_path;          /* after dmn_open(): the cache file (opc_free) */
    opc_credentials *creds;    /* after dmn_open(): loaded, locked */
    char session_default[DMN_PATH_MAX];
} dmn;

/*
 * Start-up: handles the arguments (--help and --version print on stdout
 * and return 0, --healthcheck probes GET /heartbeat on the local instance
 * and returns 0 or 1; anything else is one line on stderr naming --help,
 * and 2), then disables core dumps (RLIMIT_CORE 0, PR_SET_DUMPABLE 0),
 * sets umask 077, blocks the signals and reads the variables both daemons
 * share: OP_HTTP_PORT, OP_BIND_ADDRESS, OP_LOG_LEVEL, OP_SESSION,
 * XDG_DATA_HOME, HOME (exits 1 on a bad value). Returns -1 when the daemon
 * should go on. p must outlive d.
 */
int dmn_begin(dmn *d, const dmn_prog *p, int argc, char **argv);

/* ---- the environment (before dmn_open; a bad value exits 1) ---- */

/* The variable's value; NULL when unset or empty. */
const char *dmn_env(const char *name);

/*
 * Take a secret out of the environment: a copy of the value (malloc'ed;
 * the caller wipes and frees it with dmn_secret_free), or NULL when unset or
 * empty. Every "name=value" of the environment then has its value
 * overwritten with zeros in place, and the variable is unset:
 * /proc/<pid>/environ shows the block the process started with, which
 * unsetenv alone leaves untouched (op does the same with OP_PASSWORD).
 * Exits 1 naming the variable when no memory is left.
 */
char *dmn_env_take(const char *name);

/* Wipe and free what dmn_env_take returned (NULL is fine). */
void dmn_secret_free(char *s);

/* "<prog>: <name>: <why>" on stderr, exit 1. Before dmn_open() only. */
_Noreturn void dmn_bad(const char *name, const char *why);
/* The Connect daemons' OP_UPSTREAM_CA_FILE (the value; NULL or "": the
 * system's trust): checked readable, then handed to the library, which
 * reads it when the upstream opens. Exits 1 naming the variable. */
void dmn_upstream_ca_file(const char *path);

/* A decimal integer in [min, max]; def when unset or empty. */
int64_t dmn_env_int(const char *name, int64_t min, int64_t max, int64_t def);

/* A TCP port, 0-65535 (0 picks a free one); def when unset or empty. */
int dmn_env_port(const char *name, int def);

/* A Go duration ("10s", "1m30s", "500ms") of at most max_ms, in ms. */
int64_t dmn_env_duration_ms(const char *name, int64_t max_ms, int64_t def);

/* A Go duration of whole seconds ("5s", "1m", "0") of at most max_s, in
 * seconds: "1500ms" is refused rather than rounded. */
int64_t dmn_env_seconds(const char *name, int64_t max_s, int64_t def);

/* ---- running ---- */

/*
 * Initialize the library, route its log to stdout at d->log_level, log the
 * banner ("<title> <version> (libopconnect <v>, Connect API <c>)
 * starting"), compute the cache path and load the credentials
 * (OP_SESSION). On failure: one line on stderr, everything released, -1.
 */
int dmn_open(dmn *d);

/* Release the credentials now (a daemon that needs them only to start). */
void dmn_drop_credentials(dmn *d);

/* One start-up failure line after dmn_open(): "<prog>: <msg>". */
void dmn_fail(const char *msg);

/* One JSON log line of the daemon itself (subsystem = prog). */
void dmn_log(opc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A port a daemon listens on, and the variable that sets it. */
typedef struct dmn_port {
    const char *var; /* "OP_HTTP_PORT" */
    int port;        /* as configured; 0 (a free one) is never busy */
} dmn_port;

/*
 * A start failure of the library, err, after the library object was freed.
 * When err names one of the ports, with why the library could not bind it
 * ("cannot listen on 127.0.0.1:8080: address in use"), the line names the
 * variable to change:
 *   "<prog>: OP_HTTP_PORT: cannot listen on 127.0.0.1:8080: address in use;
 *    choose another with OP_HTTP_PORT (or OP_BIND_ADDRESS)"
 * (OP_BIND_ADDRESS alone for "address not available"). A listen error that
 * names no reason (the port was free again when the library looked) gets
 * the candidate variables appended; any other err is printed as it is, as
 * dmn_fail(). Then dmn_close().
 */
void dmn_fail_start(dmn *d, const char *err, const dmn_port *ports, size_t n);

/*
 * Sleep until SIGTERM or SIGINT; each SIGHUP calls on_hup(ud) first (may
 * be NULL). Returns the signal that stopped it.
 */
int dmn_wait(void (*on_hup)(void *ud), void *ud);

/*
 * Take SIGTERM and SIGINT on this thread from now on, setting the flag
 * returned (for opc_sync_run()); SIGHUP is taken and ignored.
 */
volatile int *dmn_stop_flag(void);

/* Release what dmn_open() holds and the library (the log written out). */
void dmn_close(dmn *d);

#endif
