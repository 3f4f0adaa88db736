/*
 * examples/appliance.c - an appliance that embeds the Connect server.
 *
 * A vendor's program links libopconnect and runs connect-sync and
 * connect-api inside its own process with opc_server (opconnect/server.h):
 * no second daemon, no container. docs/embedding.md walks through it.
 *
 *   cc -std=c11 -o appliance appliance.c $(pkg-config --cflags --libs libopconnect)
 *   appliance [-b ADDRESS] [-p PORT] CREDENTIALS DATA_DIR
 *
 * CREDENTIALS is a 1password-credentials.json (from `op connect server
 * create`); DATA_DIR receives the cache (created 0700 when missing). PORT 0
 * picks a free port; the bound one is printed. With OP_CONNECT_TOKEN set,
 * the program asks its own server for /heartbeat and /v1/vaults once (the
 * token stays out of argv, where `ps` would show it). SIGINT or SIGTERM
 * stops it cleanly (exit 0); SIGHUP re-reads TLS files when TLS is set up.
 * OP_LOG_LEVEL (default warn) sets how much of the library's log is shown.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <opconnect/opconnect.h>

/* The library never prints: it hands log records to the program. */
static void log_to_stderr(const opc_log_record *rec, void *userdata)
{
    (void)userdata;
    char line[2048];
    size_t n = opc_log_format_json(rec, line, sizeof line);
    if (n >= sizeof line) { /* truncated: keep the newline */
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    fwrite(line, 1, n, stderr);
}

/* One HTTP/1.1 GET over a plain socket; returns the status (0 on failure)
 * and the body's length. A real appliance would use its own client. */
static int http_get(const char *addr, int port, const char *path, const char *token,
                    size_t *body_len)
{
    char buf[65536];
    int status = 0;
    *body_len = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    struct timeval tv = {.tv_sec = 15}; /* the first request may wait for the sync */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, strcmp(addr, "0.0.0.0") == 0 ? "127.0.0.1" : addr, &sa.sin_addr);
    int n = snprintf(buf, sizeof buf,
                     "GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: appliance-example\r\n"
                     "%s%s%sConnection: close\r\n\r\n",
                     path, token ? "Authorization: Bearer " : "", token ? token : "",
                     token ? "\r\n" : "");
    if (n > 0 && (size_t)n < sizeof buf &&
        connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        send(fd, buf, (size_t)n, MSG_NOSIGNAL) == n) {
        size_t got = 0;
        ssize_t r;
        while (got < sizeof buf - 1 && (r = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0) {
            got += (size_t)r;
        }
        buf[got] = '\0';
        const char *body = strstr(buf, "\r\n\r\n");
        if (strncmp(buf, "HTTP/1.1 ", 9) == 0 && body != NULL) {
            status = atoi(buf + 9);
            *body_len = got - (size_t)(body + 4 - buf);
        }
    }
    close(fd);
    opc_memzero(buf, sizeof buf); /* it held the token, and the reply may hold secrets */
    return status;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int port = 8080;
    bool usage = false;
    for (int c; (c = getopt(argc, argv, "b:p:")) != -1;) {
        if (c == 'b') {
            addr = optarg;
        } else if (c == 'p') {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            port = *optarg != '\0' && *end == '\0' && v >= 0 && v <= 65535 ? (int)v : -1;
        } else {
            usage = true;
        }
    }
    if (usage || argc - optind != 2) {
        fprintf(stderr, "usage: appliance [-b ADDRESS] [-p PORT] CREDENTIALS DATA_DIR\n");
        return 2;
    }
    const char *creds_path = argv[optind];
    const char *data_dir = argv[optind + 1];

    /* Process hygiene is the program's job, never the library's: private
     * files, no core dumps (memory holds vault keys), not root. */
    umask(077);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
#ifdef __linux__
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
    if (geteuid() == 0) {
        fprintf(stderr, "appliance: warning: running as root; use a service account\n");
    }

    /* Signals: block them before the library starts any thread (threads
     * inherit the mask), then take them synchronously with sigwait(). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Once per process, before any other call; paired with the cleanup. */
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        fprintf(stderr, "appliance: cannot initialize libopconnect\n");
        return 1;
    }
    opc_log_level level = OPC_LOG_WARN;
    const char *lv = getenv("OP_LOG_LEVEL"); /* the library never reads the environment */
    if (lv != NULL && opc_log_level_parse(lv, &level) != OPC_OK) {
        fprintf(stderr, "appliance: OP_LOG_LEVEL: expected error, warn, info, debug or trace\n");
    }
    if (opc_global_set_log(log_to_stderr, NULL, level) != OPC_OK) {
        fprintf(stderr, "appliance: cannot install the log callback\n");
        opc_global_cleanup();
        return 1;
    }

    int status = 1;
    char err[OPC_ERRBUF_SIZE]; /* one secret-free line on failure */
    char cache[4096];
    opc_credentials *creds = NULL;
    opc_server *srv = NULL;
    snprintf(cache, sizeof cache, "%s/1password.sqlite", data_dir);

    /* The credentials stay locked until the first request with a valid
     * token; the server borrows them, so they must outlive it. */
    opc_err rc = opc_credentials_load(creds_path, &creds, err, sizeof err);
    if (rc == OPC_OK) {
        rc = opc_server_create(creds, cache, &srv, err, sizeof err);
    }
    if (rc == OPC_OK && (opc_server_set_bind_address(srv, addr) != OPC_OK ||
                         opc_server_set_http_port(srv, port) != OPC_OK)) {
        rc = OPC_ERR_INVALID_ARG;
        snprintf(err, sizeof err, "bad address or port");
    }
    if (rc == OPC_OK) {
        rc = opc_server_start(srv, err, sizeof err); /* sync thread + HTTP workers */
    }
    if (rc != OPC_OK) {
        fprintf(stderr, "appliance: %s: %s\n", opc_errname(rc), err);
        goto out;
    }
    port = opc_server_port(srv);
    printf("appliance: libopconnect %s serving on http://%s:%d\n", opc_version(), addr, port);
    fflush(stdout);

    /* Serve a request of our own: what any Connect client would send. */
    const char *token = getenv("OP_CONNECT_TOKEN");
    if (token != NULL && token[0] != '\0') {
        size_t hb_len = 0;
        size_t vl_len = 0;
        int hb = http_get(addr, port, "/heartbeat", NULL, &hb_len);
        int vl = http_get(addr, port, "/v1/vaults", token, &vl_len);
        printf("appliance: self-test: /heartbeat %d, /v1/vaults %d (%zu bytes)\n", hb, vl, vl_len);
        fflush(stdout);
        if (hb != 200 || vl != 200) {
            opc_server_stop(srv);
            goto out;
        }
    }

    /* Main loop: the server runs on its own threads until a signal. */
    for (int sig = 0; sigwait(&sigs, &sig) == 0;) {
        if (sig != SIGHUP) {
            break;
        }
        opc_err reload = opc_server_tls_reload(srv);
        (void)reload; /* OPC_ERR_INVALID_ARG without TLS: fine */
    }
    printf("appliance: stopping\n");
    opc_server_stop(srv); /* finishes requests in progress, joins the sync */
    status = 0;
out:
    opc_server_free(srv);        /* wipes keys, locks the credentials */
    opc_credentials_free(creds); /* after the server that borrowed them */
    opc_global_cleanup();
    if (status == 0) {
        printf("appliance: stopped\n");
    }
    return status;
}
