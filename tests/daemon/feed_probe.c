/*
 * tests/daemon/feed_probe.c - a reader of the change feed, as connect-sync
 * follows it, for the feed-correctness test (test_pg_feed.sh, issue 14
 * must-show 3). Opens the upstream that a credentials file names (the
 * https:// account server: the outer layer only, as upstream_probe.c) and
 * long-polls opc__upstream_changes() from seq 0 with the `since` cursor
 * each page hands back, LIMIT entries a page (a small LIMIT makes it page
 * often while writers commit), WAIT_MS a long poll. Every entry it
 * receives is one line "SEQ KIND" of OUT, flushed at once: the test
 * compares OUT with the database's changes afterwards. A failed call (the
 * upstream unreachable: OPC_ERR_IO) is counted and retried 100 ms later
 * from the same cursor, as connect-sync retries.
 *
 *   feed_probe CREDS OUT STOPFILE LIMIT WAIT_MS
 *
 * Ends when STOPFILE holds a number H and the cursor has reached H (the
 * test writes there the account's last seq once its writers stopped), or
 * after 120 s of failed calls in a row. On stdout, one summary line:
 * "polls P entries E empty M errors R cursor C". Exit 0 when it reached H,
 * 1 when it gave up, 2 when it could not start. Linked like the unit
 * tests, against the static library's internals.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <opconnect/credentials.h>
#include <opconnect/opconnect.h>

#include "core/err.h"
#include "upstream/upstream.h"

#define GIVE_UP_MS 120000

static int64_t arg_int(const char *s)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    return (end == s || *end != '\0') ? -1 : (int64_t)v;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The head the test wrote into path, -1 while there is none. */
static int64_t stop_head(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    long long v = -1;
    if (fscanf(f, "%lld", &v) != 1) {
        v = -1;
    }
    (void)fclose(f);
    return (int64_t)v;
}

static int follow(opc__upstream *u, FILE *out, const char *stopfile, size_t limit, int64_t wait_ms)
{
    int64_t since = 0;
    long polls = 0;
    long entries = 0;
    long empty = 0;
    long errors = 0;
    int64_t failing_since = -1;
    int status = 1;
    for (;;) {
        int64_t head = stop_head(stopfile);
        if (head >= 0 && since >= head) {
            status = 0;
            break;
        }
        opc__ebuf eb;
        opc__ebuf_clear(&eb);
        cJSON *page = NULL;
        int64_t next = since;
        polls++;
        opc_err rc = opc__upstream_changes(u, since, limit, wait_ms, &page, &next, &eb);
        if (rc != OPC_OK) {
            errors++;
            if (failing_since < 0) {
                failing_since = mono_ms();
                (void)fprintf(stderr, "feed_probe: at cursor %lld: %s %s\n", (long long)since,
                              opc_errname(rc), eb.msg);
            } else if (mono_ms() - failing_since > GIVE_UP_MS) {
                (void)fprintf(stderr, "feed_probe: gave up after %d ms of errors\n", GIVE_UP_MS);
                break;
            }
            struct timespec ts = {0, 100 * 1000 * 1000};
            (void)nanosleep(&ts, NULL);
            continue;
        }
        failing_since = -1;
        int n = cJSON_GetArraySize(page);
        if (n == 0) {
            empty++;
        }
        for (int i = 0; i < n; i++) {
            const cJSON *e = cJSON_GetArrayItem(page, i);
            const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "seq");
            const cJSON *kind = cJSON_GetObjectItemCaseSensitive(e, "kind");
            (void)fprintf(out, "%lld %s\n", cJSON_IsNumber(seq) ? (long long)seq->valuedouble : -1LL,
                          cJSON_IsString(kind) ? kind->valuestring : "?");
            entries++;
        }
        (void)fflush(out);
        cJSON_Delete(page);
        if (next < since) {
            (void)fprintf(stderr, "feed_probe: the cursor went back from %lld to %lld\n",
                          (long long)since, (long long)next);
            break;
        }
        since = next;
    }
    (void)printf("polls %ld entries %ld empty %ld errors %ld cursor %lld\n", polls, entries, empty,
                 errors, (long long)since);
    return status;
}

int main(int argc, char **argv)
{
    if (argc != 6 || arg_int(argv[4]) < 1 || arg_int(argv[4]) > OPC_UPSTREAM_MAX_LIMIT ||
        arg_int(argv[5]) < 0 || arg_int(argv[5]) > OPC_UPSTREAM_MAX_WAIT_MS) {
        (void)fprintf(stderr, "usage: feed_probe CREDS OUT STOPFILE LIMIT WAIT_MS\n");
        return 2;
    }
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        (void)fprintf(stderr, "feed_probe: opc_global_init failed\n");
        return 2;
    }
    /* As connect-sync does with OP_UPSTREAM_CA_FILE (daemons/common). */
    if (opc_global_set_upstream_ca_file(getenv("OP_UPSTREAM_CA_FILE")) != OPC_OK) {
        (void)fprintf(stderr, "feed_probe: OP_UPSTREAM_CA_FILE: the path is too long\n");
        opc_global_cleanup();
        return 2;
    }
    char errbuf[OPC_ERRBUF_SIZE];
    opc_credentials *creds = NULL;
    if (opc_credentials_load(argv[1], &creds, errbuf, sizeof errbuf) != OPC_OK) {
        (void)fprintf(stderr, "feed_probe: %s\n", errbuf);
        opc_global_cleanup();
        return 2;
    }
    int status = 2;
    FILE *out = fopen(argv[2], "w");
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__upstream *u = NULL;
    if (out == NULL) {
        (void)fprintf(stderr, "feed_probe: cannot open %s\n", argv[2]);
    } else if (opc__upstream_open(creds, &u, &eb) != OPC_OK) {
        (void)fprintf(stderr, "feed_probe: %s\n", eb.msg);
    } else {
        status = follow(u, out, argv[3], (size_t)arg_int(argv[4]), arg_int(argv[5]));
    }
    if (out != NULL) {
        (void)fclose(out);
    }
    opc__upstream_close(u);
    opc_credentials_free(creds);
    opc_global_cleanup();
    return status;
}
