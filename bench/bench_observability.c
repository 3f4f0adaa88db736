/*
 * bench/bench_observability.c - what the activity log and the metrics cost
 * on a request's path, and what their readers cost: ns per record (with
 * the writer thread draining behind), the writer's sustained rate (records
 * it kept up with vs dropped), one GET /v1/activity page, one /metrics
 * render. A benchmark, not a test: it asserts nothing about speed.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <opconnect/opconnect.h>

#include "observe/activity.h"
#include "observe/metrics.h"
#include "core/buf.h"

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(opc_err rc, const char *what)
{
    if (rc != OPC_OK) {
        fprintf(stderr, "bench: %s failed: %s\n", what, opc_strerror(rc));
        exit(1);
    }
}

static const opc__activity_event event = {
    .request_id = "6f1c1f8e-0d0e-4b8f-9a4e-2f1d3c4b5a69",
    .action = OPC_ACTIVITY_READ,
    .result = OPC_ACTIVITY_SUCCESS,
    .jti = "jtijtijtijtijtijtijtijtijt",
    .user_agent = "connect-sdk-go/1.5.3",
    .request_ip = "127.0.0.1",
    .resource_type = OPC_ACTIVITY_RES_ITEM,
    .vault_id = "vvvvvvvvvvvvvvvvvvvvvvvvvv",
    .item_id = "iiiiiiiiiiiiiiiiiiiiiiiiii",
    .item_version = 3,
};

/* Record n events spread over `secs` seconds (0: as fast as possible). */
static void activity_run(opc__activity *a, long n, double secs, const char *label)
{
    opc__activity_stats s0;
    opc__activity_get_stats(a, &s0);
    double t0 = seconds();
    double busy = 0;
    for (long i = 0; i < n; i++) {
        double b0 = seconds();
        opc__activity_record(a, &event);
        busy += seconds() - b0;
        if (secs > 0) {
            double due = t0 + secs * (double)(i + 1) / (double)n;
            while (seconds() < due) {
                /* spin: paced offered load */
            }
        }
    }
    die(opc__activity_flush(a, NULL), "flush");
    double total = seconds() - t0;
    opc__activity_stats s1;
    opc__activity_get_stats(a, &s1);
    printf("%-40s %8.0f ns/record on the caller, %9.0f records/s offered, %llu dropped\n", label,
           busy / (double)n * 1e9, (double)n / total,
           (unsigned long long)(s1.dropped - s0.dropped));
}

int main(void)
{
    die(opc_global_init(OPC_GLOBAL_DEFAULT), "init");
    char dir[] = "/tmp/opc-bench-obs-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, OPC_ACTIVITY_FILE_NAME);
    opc__activity_config cfg = {.path = path,
                                .server_id = "srvsrvsrvsrvsrvsrvsrvsrvsr",
                                .account_id = "accaccaccaccaccaccaccaccac"};
    opc__activity *a = NULL;
    die(opc__activity_open(&cfg, &a, NULL), "activity open");
    activity_run(a, 20000, 1.0, "activity: 20k records/s paced");
    activity_run(a, 50000, 1.0, "activity: 50k records/s paced");
    activity_run(a, 200000, 0, "activity: unpaced burst of 200k");
    opc__activity_page page;
    const int pages = 200;
    double t0 = seconds();
    for (int i = 0; i < pages; i++) {
        die(opc__activity_list(a, 50, (size_t)i * 7, &page, NULL), "list");
        opc__activity_page_clear(&page);
    }
    printf("%-40s %8.0f us/page\n", "activity: list 50 (GET /v1/activity)",
           (seconds() - t0) / pages * 1e6);
    opc__activity_close(a);
    unlink(path);
    char side[160];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    rmdir(dir);

    opc__metrics *m = NULL;
    die(opc__metrics_create(&m), "metrics create");
    const long n = 10000000;
    t0 = seconds();
    for (long i = 0; i < n; i++) {
        opc__metrics_record_request(m, OPC_METRICS_ROUTE_ITEM, OPC_METRICS_METHOD_GET, 200,
                                    (uint64_t)(i & 1023) * 1000);
    }
    printf("%-40s %8.1f ns/request\n", "metrics: record_request", (seconds() - t0) / n * 1e9);
    const int renders = 1000;
    size_t bytes = 0;
    t0 = seconds();
    for (int i = 0; i < renders; i++) {
        opc__buf b;
        opc__buf_init(&b, false);
        die(opc__metrics_render(m, &b), "render");
        bytes = b.len;
        opc__buf_free(&b);
    }
    printf("%-40s %8.0f us/render (%zu bytes)\n", "metrics: render (GET /metrics)",
           (seconds() - t0) / renders * 1e6, bytes);
    opc__metrics_free(m);
    opc_global_cleanup();
    return 0;
}
