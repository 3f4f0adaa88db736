/*
 * bench/pg/swarm.c - many Connect servers on one account service (issue 14,
 * must-show 6), the helper of bench/pg/run: it registers Connect servers on
 * an account held by op-account-server, then holds one sync client per
 * server against it, each with its own device key and session, each
 * long-polling the change feed as connect-sync does (the library's https
 * upstream, lib/upstream/https.c: GET /v1/connect/changes?since=&wait=).
 * Linked like the unit tests, against the static library's internals.
 *
 *   swarm servers ACCOUNT_ID VAULT FROM N OUTDIR
 *       N Connect servers "swarm-<FROM>".. with access to VAULT (their
 *       grants signed by the owner), made through the owner's session on the
 *       account server; each one's credentials (naming the account server
 *       and its pin) written to OUTDIR/<FROM>.json.. (0600), numbered from
 *       FROM (several processes, each signed in with its own session, make
 *       a range each). Prints the rate on stderr.
 *   swarm hold ACCOUNT_ID VAULT ITEM CREDS_DIR N CHANGES
 *       N client threads, client i using CREDS_DIR/<i mod S>.json, S the
 *       number of credentials files there (N <= S: every client its own
 *       Connect server and device key; past S, clients share a server's
 *       credentials but each opens its own session). Each reads the
 *       feed from 0 once (its cursor), then long-polls from its cursor in a
 *       loop with wait SWARM_WAIT_MS (default connect-sync's, 1000 ms). Once
 *       every client holds its cursor (or SWARM_READY_S, 600, have passed:
 *       the clients not served by then keep trying but are not counted) and
 *       SETTLE_MS (2000) more have passed, prints "held M" (M the clients
 *       holding their cursor) and waits for a line on stdin (the caller
 *       reads the server's /proc status then). Then CHANGES times: a pause
 *       of 200 to 400 ms, an owner write (a full replace of ITEM), and a
 *       wait until every held client's long poll has answered it (at most
 *       30 s); after each, one line:
 *         change K T_START T_END N_ANSWERED A_1 .. A_n
 *       wall-clock seconds (CLOCK_REALTIME, microseconds): the write's start
 *       and end, and each answering client's time of answer, sorted. Last,
 *       "done polls P errors E" (the long polls answered and failed calls
 *       of all clients during the run). When the owner's session cannot
 *       reach the server (every worker held by clients), the line
 *       "owner-unreachable" replaces the changes.
 *       SWARM_URLS (comma-separated, at most 8 https:// URLs of instances
 *       sharing the account server's key, hence its pin): client i
 *       long-polls the (i mod n)-th instead of the credentials' URL, and
 *       each change line is followed by one line per URL:
 *         change-by-url K U N_ANSWERED A_1 .. A_n
 *
 * Both use the owner's session of `op signin --address`: the token in
 * OP_SESSION_TOKEN, the session files in $XDG_RUNTIME_DIR/opconnect,
 * OP_CA_FILE for the owner's connection and OP_UPSTREAM_CA_FILE for the
 * clients' (the CA bundle of the account server's certificate). Client
 * threads have 512 KiB stacks. A benchmark tool, not part of the library or
 * of `make check`.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <opconnect/credentials.h>
#include <opconnect/opconnect.h>

#include "core/err.h"
#include "credentials/credentials.h"
#include "upstream/upstream.h"

#define CLIENT_STACK (512 * 1024)
#define MAX_URLS 8
#define ANSWER_TIMEOUT_S 30.0

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        return dflt;
    }
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < 0) {
        (void)fprintf(stderr, "swarm: %s=%s is not a whole number\n", name, v);
        exit(2);
    }
    return n;
}

/* The owner's remote account, unlocked with the session of `op signin
 * --address`; NULL (and a message on stderr) when it cannot be opened. */
static opc_account *owner_open(const char *account_id)
{
    const char *token = getenv("OP_SESSION_TOKEN");
    const char *rt = getenv("XDG_RUNTIME_DIR");
    const char *ca = getenv("OP_CA_FILE");
    if (token == NULL || rt == NULL) {
        (void)fprintf(stderr, "swarm: OP_SESSION_TOKEN and XDG_RUNTIME_DIR must be set\n");
        exit(2);
    }
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/opconnect", rt) >= (int)sizeof dir) {
        (void)fprintf(stderr, "swarm: XDG_RUNTIME_DIR too long\n");
        exit(2);
    }
    char err[OPC_ERRBUF_SIZE] = "";
    opc_account *a = NULL;
    if (opc_account_remote_open(dir, account_id, token, ca != NULL && ca[0] != '\0' ? ca : NULL, &a,
                                err, sizeof err) != OPC_OK) {
        (void)fprintf(stderr, "swarm: open account %s: %s\n", account_id, err);
        return NULL;
    }
    return a;
}

/* ---- servers ---- */

static int do_servers(const char *account_id, const char *vault, long from, long n,
                      const char *outdir)
{
    if (mkdir(outdir, 0700) != 0 && errno != EEXIST) {
        (void)fprintf(stderr, "swarm: mkdir %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    opc_account *a = owner_open(account_id);
    if (a == NULL) {
        return 1;
    }
    const char *vaults[1] = {vault};
    double t0 = wall_s();
    for (long i = from; i < from + n; i++) {
        char name[32];
        char path[4200];
        (void)snprintf(name, sizeof name, "swarm-%05ld", i);
        (void)snprintf(path, sizeof path, "%s/%05ld.json", outdir, i);
        char *json = NULL;
        opc_secret *creds = NULL;
        opc_err rc = opc_account_server_create2(a, name, vaults, 1, NULL, NULL, &json, &creds);
        if (rc != OPC_OK) {
            (void)fprintf(stderr, "swarm: server create %s: %s (%s)\n", name, opc_strerror(rc),
                          opc_account_errmsg(a));
            opc_account_free(a);
            return 1;
        }
        opc_free(json);
        FILE *f = fopen(path, "wx");
        int ok =
            f != NULL && chmod(path, 0600) == 0 &&
            fwrite(opc_secret_data(creds), 1, opc_secret_len(creds), f) == opc_secret_len(creds);
        if (f != NULL && fclose(f) != 0) {
            ok = 0;
        }
        opc_secret_free(creds);
        if (!ok) {
            (void)fprintf(stderr, "swarm: cannot write %s\n", path);
            opc_account_free(a);
            return 1;
        }
    }
    double dt = wall_s() - t0;
    (void)fprintf(stderr, "swarm: %ld servers in %.2f s (%.1f ms each)\n", n, dt,
                  n > 0 ? dt * 1000.0 / (double)n : 0.0);
    opc_account_free(a);
    return 0;
}

/* ---- hold ---- */

typedef struct client {
    long idx;
    long url; /* its index in SWARM_URLS */
    char path[4200];
    opc_credentials *creds;
    opc__upstream *u;
    pthread_t th;
    bool started;
    int64_t cursor;
    atomic_int ready;    /* 1 once the first read gave the cursor, -1 on failure */
    atomic_long answers; /* long polls answered with entries */
    double *at;          /* at[k]: wall time of answer k (k < cap) */
    long cap;
    atomic_long polls;
    atomic_long errors;
} client;

static atomic_int stopping;
static long wait_ms;

static void *client_main(void *arg)
{
    client *c = arg;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    cJSON *out = NULL;
    int64_t next = 0;
    /* The first read: the cursor (a new server sees its own rows and its grant). */
    opc_err rc = OPC_ERR_IO;
    for (int tries = 0; tries < 20 && atomic_load(&stopping) == 0; tries++) {
        rc = opc__upstream_changes(c->u, 0, OPC_UPSTREAM_MAX_LIMIT, 0, &out, &next, &eb);
        cJSON_Delete(out);
        out = NULL;
        if (rc == OPC_OK) {
            break;
        }
        atomic_fetch_add(&c->errors, 1);
        sleep_ms(200 + 100 * tries);
    }
    if (rc != OPC_OK) {
        (void)fprintf(stderr, "swarm: client %ld: first read: %s: %s\n", c->idx, opc_errname(rc),
                      eb.msg);
        atomic_store(&c->ready, -1);
        return NULL;
    }
    c->cursor = next;
    atomic_store(&c->ready, 1);
    while (atomic_load(&stopping) == 0) {
        opc__ebuf_clear(&eb);
        rc = opc__upstream_changes(c->u, c->cursor, OPC_UPSTREAM_MAX_LIMIT, wait_ms, &out, &next,
                                   &eb);
        double t = wall_s();
        if (rc != OPC_OK) {
            atomic_fetch_add(&c->errors, 1);
            sleep_ms(100);
            continue;
        }
        atomic_fetch_add(&c->polls, 1);
        if (cJSON_GetArraySize(out) > 0) {
            long k = atomic_load(&c->answers);
            if (k < c->cap) {
                c->at[k] = t;
            }
            atomic_store(&c->answers, k + 1);
        }
        cJSON_Delete(out);
        out = NULL;
        c->cursor = next;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Every started client's answers reached want (or failed): true; false on timeout. */
static bool all_answered(client *cs, long n, long want, double limit_s)
{
    double end = wall_s() + limit_s;
    for (;;) {
        long behind = 0;
        for (long i = 0; i < n; i++) {
            if (atomic_load(&cs[i].ready) == 1 && atomic_load(&cs[i].answers) < want) {
                behind++;
            }
        }
        if (behind == 0) {
            return true;
        }
        if (wall_s() > end) {
            return false;
        }
        sleep_ms(1);
    }
}

/* The credentials files of dir (00000.json, 00001.json, .. without a gap). */
static long count_creds(const char *dir)
{
    long n = 0;
    char path[4200];
    struct stat st;
    for (;;) {
        (void)snprintf(path, sizeof path, "%s/%05ld.json", dir, n);
        if (stat(path, &st) != 0) {
            return n;
        }
        n++;
    }
}

static int do_hold(const char *account_id, const char *vault, const char *item,
                   const char *creds_dir, long n, long changes)
{
    wait_ms = env_long("SWARM_WAIT_MS", 1000);
    long ready_s = env_long("SWARM_READY_S", 600);
    long settle_ms = env_long("SETTLE_MS", 2000);
    if (opc_global_set_upstream_ca_file(getenv("OP_UPSTREAM_CA_FILE")) != OPC_OK) {
        (void)fprintf(stderr, "swarm: OP_UPSTREAM_CA_FILE: the path is too long\n");
        return 2;
    }
    client *cs = calloc((size_t)n, sizeof *cs);
    double *times = calloc((size_t)n + 1, sizeof *times);
    if (cs == NULL || times == NULL) {
        (void)fprintf(stderr, "swarm: out of memory\n");
        return 1;
    }
    /* SWARM_URLS: client i long-polls the i mod n-th of these instead. */
    char *urls[MAX_URLS];
    long n_urls = 0;
    char *url_list = getenv("SWARM_URLS") != NULL ? strdup(getenv("SWARM_URLS")) : NULL;
    char *save = NULL;
    for (char *t = url_list != NULL ? strtok_r(url_list, ",", &save) : NULL;
         t != NULL && n_urls < MAX_URLS; t = strtok_r(NULL, ",", &save)) {
        urls[n_urls++] = t;
    }
    long n_creds = count_creds(creds_dir);
    int status = 0;
    if (n_creds == 0) {
        (void)fprintf(stderr, "swarm: no credentials in %s\n", creds_dir);
        status = 1;
    }
    for (long i = 0; i < n && status == 0; i++) {
        client *c = &cs[i];
        c->idx = i;
        c->cap = changes + 1;
        c->at = calloc((size_t)c->cap, sizeof *c->at);
        (void)snprintf(c->path, sizeof c->path, "%s/%05ld.json", creds_dir, i % n_creds);
        char errbuf[OPC_ERRBUF_SIZE] = "";
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        opc_err rc = c->at == NULL
                         ? OPC_ERR_NOMEM
                         : opc_credentials_load(c->path, &c->creds, errbuf, sizeof errbuf);
        if (rc == OPC_OK && n_urls > 0) {
            /* Another instance than the credentials name: the same server
             * key (a shared data dir), so the same pin. */
            c->url = i % n_urls;
            const char *ca = getenv("OP_UPSTREAM_CA_FILE");
            rc = opc__upstream_https_open(urls[c->url], opc_credentials_server_id(c->creds),
                                          opc_credentials_account_id(c->creds),
                                          opc__credentials_device_key(c->creds),
                                          opc__credentials_account_server_pin(c->creds),
                                          ca != NULL && ca[0] != '\0' ? ca : NULL, &c->u, &eb);
            (void)snprintf(errbuf, sizeof errbuf, "%s", eb.msg);
        } else if (rc == OPC_OK) {
            rc = opc__upstream_open(c->creds, &c->u, &eb);
            (void)snprintf(errbuf, sizeof errbuf, "%s", eb.msg);
        }
        if (rc != OPC_OK) {
            (void)fprintf(stderr, "swarm: client %ld (%s): %s: %s\n", i, c->path, opc_errname(rc),
                          errbuf);
            status = 1;
        }
    }
    pthread_attr_t attr;
    (void)pthread_attr_init(&attr);
    (void)pthread_attr_setstacksize(&attr, CLIENT_STACK);
    for (long i = 0; i < n && status == 0; i++) {
        int e = pthread_create(&cs[i].th, &attr, client_main, &cs[i]);
        if (e != 0) {
            (void)fprintf(stderr, "swarm: thread %ld: %s\n", i, strerror(e));
            status = 1;
            break;
        }
        cs[i].started = true;
    }
    (void)pthread_attr_destroy(&attr);
    double t_ready = wall_s();
    long ready = 0;
    long failed = 0;
    while (status == 0) {
        ready = failed = 0;
        for (long i = 0; i < n; i++) {
            int r = atomic_load(&cs[i].ready);
            ready += r == 1;
            failed += r == -1;
        }
        if (ready + failed == n || wall_s() - t_ready > (double)ready_s) {
            break;
        }
        sleep_ms(10);
    }
    if (status == 0 && ready == 0) {
        (void)fprintf(stderr, "swarm: no client ready (%ld failed)\n", failed);
        status = 1;
    }
    if (status == 0) {
        (void)fprintf(stderr, "swarm: %ld of %ld clients ready in %.2f s (%ld failed)\n", ready, n,
                      wall_s() - t_ready, failed);
        sleep_ms(settle_ms);
        (void)printf("held %ld\n", ready);
        (void)fflush(stdout);
        char line[64];
        if (fgets(line, sizeof line, stdin) == NULL) {
            status = 1;
        }
    }
    opc_account *a = status == 0 ? owner_open(account_id) : NULL;
    if (status == 0 && a == NULL) {
        /* Every worker of the server held by clients: the owner's write
         * cannot get through either. A finding, not a failure. */
        (void)printf("owner-unreachable\n");
        changes = 0;
    }
    unsigned seed = 14;
    for (long k = 0; k < changes && status == 0; k++) {
        sleep_ms(200 + (long)(rand_r(&seed) % 201));
        char json[512];
        (void)snprintf(json, sizeof json,
                       "{\"title\":\"Swarm login\",\"category\":\"LOGIN\",\"fields\":["
                       "{\"id\":\"password\",\"type\":\"CONCEALED\",\"purpose\":\"PASSWORD\","
                       "\"label\":\"password\",\"value\":\"swarm-%ld\"}]}",
                       k);
        opc_secret *out = NULL;
        double t0 = wall_s();
        opc_err rc = opc_account_item_replace(a, vault, item, json, 0, &out);
        double t1 = wall_s();
        opc_secret_free(out);
        if (rc != OPC_OK) {
            (void)fprintf(stderr, "swarm: change %ld: %s (%s)\n", k, opc_strerror(rc),
                          opc_account_errmsg(a));
            status = 1;
            break;
        }
        if (!all_answered(cs, n, k + 1, ANSWER_TIMEOUT_S)) {
            (void)fprintf(stderr, "swarm: change %ld: not every client answered in %.0f s\n", k,
                          ANSWER_TIMEOUT_S);
        }
        long m = 0;
        for (long i = 0; i < n; i++) {
            if (atomic_load(&cs[i].answers) >= k + 1 && k < cs[i].cap) {
                times[m++] = cs[i].at[k];
            }
        }
        qsort(times, (size_t)m, sizeof *times, cmp_double);
        (void)printf("change %ld %.6f %.6f %ld", k, t0, t1, m);
        for (long i = 0; i < m; i++) {
            (void)printf(" %.6f", times[i]);
        }
        (void)printf("\n");
        for (long u = 0; u < n_urls && n_urls > 1; u++) {
            m = 0;
            for (long i = 0; i < n; i++) {
                if (cs[i].url == u && atomic_load(&cs[i].answers) >= k + 1 && k < cs[i].cap) {
                    times[m++] = cs[i].at[k];
                }
            }
            qsort(times, (size_t)m, sizeof *times, cmp_double);
            (void)printf("change-by-url %ld %ld %ld", k, u, m);
            for (long i = 0; i < m; i++) {
                (void)printf(" %.6f", times[i]);
            }
            (void)printf("\n");
        }
        (void)fflush(stdout);
        /* Every answered client re-polls before the next change: answers
         * of a later change must not count for this one. */
        for (long i = 0; i < n; i++) {
            if (atomic_load(&cs[i].answers) > k + 1) {
                (void)fprintf(stderr, "swarm: client %ld answered more than once for change %ld\n",
                              i, k);
                status = 1;
            }
        }
    }
    opc_account_free(a);
    atomic_store(&stopping, 1);
    long polls = 0;
    long errors = 0;
    for (long i = 0; i < n; i++) {
        if (cs[i].u != NULL) {
            opc__upstream_interrupt(cs[i].u);
        }
    }
    for (long i = 0; i < n; i++) {
        if (cs[i].started) {
            (void)pthread_join(cs[i].th, NULL);
        }
        polls += atomic_load(&cs[i].polls);
        errors += atomic_load(&cs[i].errors);
        opc__upstream_close(cs[i].u);
        opc_credentials_free(cs[i].creds);
        free(cs[i].at);
    }
    (void)printf("done polls %ld errors %ld\n", polls, errors);
    free(url_list);
    free(cs);
    free(times);
    return status;
}

int main(int argc, char **argv)
{
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        (void)fprintf(stderr, "swarm: cannot initialize libopconnect\n");
        return 1;
    }
    int rc = 2;
    if (argc == 7 && strcmp(argv[1], "servers") == 0) {
        rc = do_servers(argv[2], argv[3], strtol(argv[4], NULL, 10), strtol(argv[5], NULL, 10),
                        argv[6]);
    } else if (argc == 8 && strcmp(argv[1], "hold") == 0) {
        long n = strtol(argv[6], NULL, 10);
        long changes = strtol(argv[7], NULL, 10);
        if (n >= 1 && changes >= 0) {
            rc = do_hold(argv[2], argv[3], argv[4], argv[5], n, changes);
        }
    }
    if (rc == 2) {
        (void)fprintf(stderr, "usage: swarm servers ACCOUNT_ID VAULT FROM N OUTDIR\n"
                              "       swarm hold ACCOUNT_ID VAULT ITEM CREDS_DIR N CHANGES\n");
    }
    opc_global_cleanup();
    return rc;
}
