/*
 * observe/metrics.c - lock-free counters and the Prometheus text exposition
 * (design: metrics.h; names and decisions: docs/observability.md).
 *
 * Numbers are printed from integers only (seconds as fixed-point from
 * nanoseconds or milliseconds): no floating point, so the output does not
 * depend on the locale.
 */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <opconnect/api.h>
#include <opconnect/version.h>

#include "observe/metrics.h"
#include "core/alloc.h"
#include "core/strparse.h"
#include "core/time.h"

/* Status slots: 100..599, then one for anything else. */
#define STATUS_MIN 100
#define STATUS_MAX 599
#define N_STATUS (STATUS_MAX - STATUS_MIN + 2)
#define STATUS_OTHER (N_STATUS - 1)

#define NS_PER_S INT64_C(1000000000)

static const uint64_t bucket_ns[OPC_METRICS_BUCKETS] = {
    50000,     100000,     250000,     500000,     1000000,     2500000,
    5000000,   10000000,   25000000,   50000000,   100000000,   250000000,
    500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

static const char *const route_names[OPC_METRICS_ROUTE_COUNT] = {
    [OPC_METRICS_ROUTE_OTHER] = "other",
    [OPC_METRICS_ROUTE_HEARTBEAT] = "/heartbeat",
    [OPC_METRICS_ROUTE_HEALTH] = "/health",
    [OPC_METRICS_ROUTE_METRICS] = "/metrics",
    [OPC_METRICS_ROUTE_ACTIVITY] = "/v1/activity",
    [OPC_METRICS_ROUTE_VAULTS] = "/v1/vaults",
    [OPC_METRICS_ROUTE_VAULT] = "/v1/vaults/{vaultUuid}",
    [OPC_METRICS_ROUTE_ITEMS] = "/v1/vaults/{vaultUuid}/items",
    [OPC_METRICS_ROUTE_ITEM] = "/v1/vaults/{vaultUuid}/items/{itemUuid}",
    [OPC_METRICS_ROUTE_FILES] = "/v1/vaults/{vaultUuid}/items/{itemUuid}/files",
    [OPC_METRICS_ROUTE_FILE] = "/v1/vaults/{vaultUuid}/items/{itemUuid}/files/{fileUuid}",
    [OPC_METRICS_ROUTE_FILE_CONTENT] =
        "/v1/vaults/{vaultUuid}/items/{itemUuid}/files/{fileUuid}/content",
};

static const char *const method_names[OPC_METRICS_METHOD_COUNT] = {
    [OPC_METRICS_METHOD_OTHER] = "other",   [OPC_METRICS_METHOD_GET] = "GET",
    [OPC_METRICS_METHOD_HEAD] = "HEAD",     [OPC_METRICS_METHOD_POST] = "POST",
    [OPC_METRICS_METHOD_PUT] = "PUT",       [OPC_METRICS_METHOD_PATCH] = "PATCH",
    [OPC_METRICS_METHOD_DELETE] = "DELETE",
};

struct opc__metrics {
    _Atomic uint64_t requests[OPC_METRICS_ROUTE_COUNT][OPC_METRICS_METHOD_COUNT][N_STATUS];
    /* Per bucket, NOT cumulative; the last slot is above the largest bound. */
    _Atomic uint64_t buckets[OPC_METRICS_ROUTE_COUNT][OPC_METRICS_BUCKETS + 1];
    _Atomic uint64_t sum_ns[OPC_METRICS_ROUTE_COUNT];
    _Atomic int64_t vaults;
    _Atomic int64_t items;
    _Atomic int64_t last_success_ms;
    _Atomic int64_t failures;
    _Atomic int unlocked;
    _Atomic uint64_t tc_hits;
    _Atomic uint64_t tc_misses;
    _Atomic uint64_t ix_full;  /* opc__index_stats */
    _Atomic uint64_t ix_incremental;
    _Atomic uint64_t ix_vault_loads;
    _Atomic uint64_t ix_decrypted;
    _Atomic uint64_t act_dropped;
    _Atomic uint64_t act_lost;
    int64_t start_us;
};

opc_err opc__metrics_create(opc__metrics **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__metrics *m = opc__malloc(sizeof *m);
    *out = NULL;
    if (m == NULL) {
        return OPC_ERR_NOMEM;
    }
    for (size_t r = 0; r < OPC_METRICS_ROUTE_COUNT; r++) {
        for (size_t k = 0; k < OPC_METRICS_METHOD_COUNT; k++) {
            for (size_t s = 0; s < N_STATUS; s++) {
                atomic_init(&m->requests[r][k][s], 0);
            }
        }
        for (size_t b = 0; b <= OPC_METRICS_BUCKETS; b++) {
            atomic_init(&m->buckets[r][b], 0);
        }
        atomic_init(&m->sum_ns[r], 0);
    }
    atomic_init(&m->vaults, 0);
    atomic_init(&m->items, 0);
    atomic_init(&m->last_success_ms, 0);
    atomic_init(&m->failures, 0);
    atomic_init(&m->unlocked, 0);
    atomic_init(&m->tc_hits, 0);
    atomic_init(&m->tc_misses, 0);
    atomic_init(&m->ix_full, 0);
    atomic_init(&m->ix_incremental, 0);
    atomic_init(&m->ix_vault_loads, 0);
    atomic_init(&m->ix_decrypted, 0);
    atomic_init(&m->act_dropped, 0);
    atomic_init(&m->act_lost, 0);
    m->start_us = opc__now_us();
    *out = m;
    return OPC_OK;
}

void opc__metrics_free(opc__metrics *m)
{
    opc__free(m);
}

opc__metrics_method opc__metrics_method_id(const char *method)
{
    if (method != NULL) {
        for (size_t i = 1; i < OPC_METRICS_METHOD_COUNT; i++) {
            if (strcmp(method, method_names[i]) == 0) {
                return (opc__metrics_method)i;
            }
        }
    }
    return OPC_METRICS_METHOD_OTHER;
}

const char *opc__metrics_route_name(opc__metrics_route route)
{
    return (unsigned)route < OPC_METRICS_ROUTE_COUNT ? route_names[route] : route_names[0];
}

/* ---- recording ---- */

void opc__metrics_record_request(opc__metrics *m, opc__metrics_route route,
                                 opc__metrics_method method, int status, uint64_t duration_ns)
{
    if (m == NULL) {
        return;
    }
    size_t r = (unsigned)route < OPC_METRICS_ROUTE_COUNT ? (size_t)route : 0;
    size_t k = (unsigned)method < OPC_METRICS_METHOD_COUNT ? (size_t)method : 0;
    size_t s =
        status >= STATUS_MIN && status <= STATUS_MAX ? (size_t)(status - STATUS_MIN) : STATUS_OTHER;
    size_t b = 0;
    while (b < OPC_METRICS_BUCKETS && duration_ns > bucket_ns[b]) {
        b++;
    }
    atomic_fetch_add_explicit(&m->requests[r][k][s], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->buckets[r][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_ns[r], duration_ns, memory_order_relaxed);
}

void opc__metrics_set_cached(opc__metrics *m, int64_t vaults, int64_t items)
{
    if (m != NULL) {
        atomic_store_explicit(&m->vaults, vaults, memory_order_relaxed);
        atomic_store_explicit(&m->items, items, memory_order_relaxed);
    }
}

void opc__metrics_set_sync(opc__metrics *m, int64_t last_success_ms, int64_t failures)
{
    if (m != NULL) {
        atomic_store_explicit(&m->last_success_ms, last_success_ms, memory_order_relaxed);
        atomic_store_explicit(&m->failures, failures, memory_order_relaxed);
    }
}

void opc__metrics_set_unlocked(opc__metrics *m, bool unlocked)
{
    if (m != NULL) {
        atomic_store_explicit(&m->unlocked, unlocked ? 1 : 0, memory_order_relaxed);
    }
}

void opc__metrics_set_token_cache(opc__metrics *m, uint64_t hits, uint64_t misses)
{
    if (m != NULL) {
        atomic_store_explicit(&m->tc_hits, hits, memory_order_relaxed);
        atomic_store_explicit(&m->tc_misses, misses, memory_order_relaxed);
    }
}

void opc__metrics_set_index(opc__metrics *m, uint64_t full_builds, uint64_t refreshes,
                            uint64_t vault_loads, uint64_t decrypted)
{
    if (m != NULL) {
        atomic_store_explicit(&m->ix_full, full_builds, memory_order_relaxed);
        atomic_store_explicit(&m->ix_incremental, refreshes, memory_order_relaxed);
        atomic_store_explicit(&m->ix_vault_loads, vault_loads, memory_order_relaxed);
        atomic_store_explicit(&m->ix_decrypted, decrypted, memory_order_relaxed);
    }
}

void opc__metrics_set_activity(opc__metrics *m, uint64_t dropped, uint64_t lost)
{
    if (m != NULL) {
        atomic_store_explicit(&m->act_dropped, dropped, memory_order_relaxed);
        atomic_store_explicit(&m->act_lost, lost, memory_order_relaxed);
    }
}

/* ---- rendering ---- */

void opc__metrics_escape_label(opc__buf *out, const char *s)
{
    size_t run = 0;
    size_t i = 0;
    for (; s[i] != '\0'; i++) {
        const char *esc = s[i] == '\\'   ? "\\\\"
                          : s[i] == '"'  ? "\\\""
                          : s[i] == '\n' ? "\\n"
                                         : NULL;
        if (esc != NULL) {
            opc__buf_append(out, s + run, i - run);
            opc__buf_append(out, esc, 2);
            run = i + 1;
        }
    }
    opc__buf_append(out, s + run, i - run);
}

/* A non-negative fixed-point value v / unit (unit a power of ten up to
 * 10^9) with trailing zeros of the fraction dropped: "0.00005", "1.5", "2". */
static void append_fixed(opc__buf *out, uint64_t v, uint64_t unit)
{
    opc__buf_appendf(out, "%llu", (unsigned long long)(v / unit));
    uint64_t f = v % unit;
    if (f == 0) {
        return;
    }
    char frac[20] = {0};
    size_t digits = 0;
    for (uint64_t u = unit; u > 1 && digits < sizeof frac; u /= 10) {
        digits++;
    }
    for (size_t i = digits; i > 0; i--) {
        frac[i - 1] = (char)('0' + f % 10);
        f /= 10;
    }
    while (digits > 0 && frac[digits - 1] == '0') {
        digits--;
    }
    opc__buf_append_char(out, '.');
    opc__buf_append(out, frac, digits);
}

static void family(opc__buf *out, const char *name, const char *type, const char *help)
{
    /* HELP texts are constants without '\\' or newlines: nothing to escape. */
    opc__buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family with one unlabelled integer sample. */
static void single_u64(opc__buf *out, const char *name, const char *type, const char *help,
                       uint64_t v)
{
    family(out, name, type, help);
    opc__buf_appendf(out, "%s %llu\n", name, (unsigned long long)v);
}

static void single_i64(opc__buf *out, const char *name, const char *help, int64_t v)
{
    family(out, name, "gauge", help);
    opc__buf_appendf(out, "%s %lld\n", name, (long long)v);
}

static void render_requests(opc__metrics *m, opc__buf *out)
{
    family(out, "opconnect_http_requests_total", "counter",
           "HTTP requests answered, by route template, method and status code.");
    for (size_t r = 0; r < OPC_METRICS_ROUTE_COUNT; r++) {
        for (size_t k = 0; k < OPC_METRICS_METHOD_COUNT; k++) {
            for (size_t s = 0; s < N_STATUS; s++) {
                uint64_t v = atomic_load_explicit(&m->requests[r][k][s], memory_order_relaxed);
                if (v == 0) {
                    continue;
                }
                opc__buf_append_str(out, "opconnect_http_requests_total{route=\"");
                opc__metrics_escape_label(out, route_names[r]);
                opc__buf_append_str(out, "\",method=\"");
                opc__metrics_escape_label(out, method_names[k]);
                if (s == STATUS_OTHER) {
                    opc__buf_appendf(out, "\",status=\"other\"} %llu\n", (unsigned long long)v);
                } else {
                    opc__buf_appendf(out, "\",status=\"%d\"} %llu\n", (int)s + STATUS_MIN,
                                     (unsigned long long)v);
                }
            }
        }
    }
}

static void render_durations(opc__metrics *m, opc__buf *out)
{
    static const char name[] = "opconnect_http_request_duration_seconds";
    family(out, name, "histogram",
           "Time from the start of request handling to the response being written, by route "
           "template.");
    for (size_t r = 0; r < OPC_METRICS_ROUTE_COUNT; r++) {
        uint64_t counts[OPC_METRICS_BUCKETS + 1];
        uint64_t total = 0;
        for (size_t b = 0; b <= OPC_METRICS_BUCKETS; b++) {
            counts[b] = atomic_load_explicit(&m->buckets[r][b], memory_order_relaxed);
            total += counts[b];
        }
        if (total == 0) {
            continue;
        }
        uint64_t sum = atomic_load_explicit(&m->sum_ns[r], memory_order_relaxed);
        uint64_t cum = 0;
        for (size_t b = 0; b <= OPC_METRICS_BUCKETS; b++) {
            cum += counts[b];
            opc__buf_appendf(out, "%s_bucket{route=\"", name);
            opc__metrics_escape_label(out, route_names[r]);
            opc__buf_append_str(out, "\",le=\"");
            if (b < OPC_METRICS_BUCKETS) {
                append_fixed(out, bucket_ns[b], (uint64_t)NS_PER_S);
            } else {
                opc__buf_append_str(out, "+Inf");
            }
            opc__buf_appendf(out, "\"} %llu\n", (unsigned long long)cum);
        }
        opc__buf_appendf(out, "%s_sum{route=\"", name);
        opc__metrics_escape_label(out, route_names[r]);
        opc__buf_append_str(out, "\"} ");
        append_fixed(out, sum, (uint64_t)NS_PER_S);
        opc__buf_appendf(out, "\n%s_count{route=\"", name);
        opc__metrics_escape_label(out, route_names[r]);
        opc__buf_appendf(out, "\"} %llu\n", (unsigned long long)total);
    }
}

static void render_state(opc__metrics *m, int64_t now_ms, opc__buf *out)
{
    single_i64(out, "opconnect_vaults_cached",
               "Vaults this server is granted and holds decrypted in its index.",
               atomic_load(&m->vaults));
    single_i64(out, "opconnect_items_cached", "Active items in the index.", atomic_load(&m->items));

    int64_t last = atomic_load(&m->last_success_ms);
    family(out, "opconnect_sync_last_success_timestamp_seconds", "gauge",
           "Unix time of the last successful sync step; 0 before the first.");
    opc__buf_append_str(out, "opconnect_sync_last_success_timestamp_seconds ");
    append_fixed(out, last > 0 ? (uint64_t)last : 0, 1000);
    opc__buf_append_char(out, '\n');
    family(out, "opconnect_sync_lag_seconds", "gauge",
           "Seconds since the last successful sync step (absent before the first).");
    if (last > 0) {
        opc__buf_append_str(out, "opconnect_sync_lag_seconds ");
        append_fixed(out, now_ms > last ? (uint64_t)(now_ms - last) : 0, 1000);
        opc__buf_append_char(out, '\n');
    }
    single_i64(out, "opconnect_sync_consecutive_failures",
               "Failed sync attempts since the last success.", atomic_load(&m->failures));
    single_i64(out, "opconnect_unlocked",
               "1 once a valid token has unlocked the credentials, else 0.",
               atomic_load(&m->unlocked));

    static const struct {
        const char *name;
        const char *help;
    } counters[] = {
        {"opconnect_token_cache_hits_total",
         "Bearer tokens accepted from the verified-token cache."},
        {"opconnect_token_cache_misses_total", "Bearer tokens that needed a full signature check."},
        {"opconnect_activity_dropped_total",
         "Activity records dropped because the in-memory queue was full."},
        {"opconnect_activity_lost_total",
         "Activity records lost to a failed write of the activity log."},
        {"opconnect_index_full_builds_total",
         "Times the item index read every item of the cache (the first load, or a gap)."},
        {"opconnect_index_refreshes_total",
         "Times the item index applied the cache's changes since its last refresh."},
        {"opconnect_index_vault_loads_total",
         "Vaults read in full by a refresh (a new grant or vault key)."},
        {"opconnect_index_overviews_decrypted_total", "Item overviews the index decrypted."},
    };
    const uint64_t values[] = {atomic_load(&m->tc_hits),        atomic_load(&m->tc_misses),
                               atomic_load(&m->act_dropped),    atomic_load(&m->act_lost),
                               atomic_load(&m->ix_full),        atomic_load(&m->ix_incremental),
                               atomic_load(&m->ix_vault_loads), atomic_load(&m->ix_decrypted)};
    for (size_t i = 0; i < OPC_ARRAY_LEN(counters); i++) {
        single_u64(out, counters[i].name, "counter", counters[i].help, values[i]);
    }

    family(out, "opconnect_build_info", "gauge",
           "Library version and the Connect API version served; always 1.");
    opc__buf_append_str(out, "opconnect_build_info{version=\"");
    opc__metrics_escape_label(out, OPC_VERSION_STRING);
    opc__buf_append_str(out, "\",api_version=\"");
    opc__metrics_escape_label(out, OPC_API_CONNECT_VERSION);
    opc__buf_append_str(out, "\"} 1\n");
}

/* The second field of /proc/self/statm (resident pages); false if unknown. */
static bool resident_bytes(uint64_t *out)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    (void)close(fd);
    if (n <= 0) {
        return false;
    }
    buf[n] = '\0';
    const char *p = strchr(buf, ' ');
    if (p == NULL) {
        return false;
    }
    p++;
    size_t len = strcspn(p, " \n");
    uint64_t pages = 0;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 ||
        opc__parse_u64(p, len, 10, UINT64_MAX / (uint64_t)page, &pages, NULL) != OPC_OK) {
        return false;
    }
    *out = pages * (uint64_t)page;
    return true;
}

/* Open descriptors (entries of /proc/self/fd but the one reading it). */
static bool open_fds(uint64_t *out)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return false;
    }
    uint64_t n = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    (void)closedir(d);
    *out = n > 0 ? n - 1 : 0;
    return true;
}

static void render_process(opc__metrics *m, opc__buf *out)
{
    family(out, "process_start_time_seconds", "gauge",
           "Unix time at which the metrics of this server were created (its start).");
    opc__buf_append_str(out, "process_start_time_seconds ");
    append_fixed(out, m->start_us > 0 ? (uint64_t)m->start_us : 0, 1000000);
    opc__buf_append_char(out, '\n');
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0) {
        family(out, "process_cpu_seconds_total", "counter",
               "User and system CPU time of the process, in seconds.");
        opc__buf_append_str(out, "process_cpu_seconds_total ");
        append_fixed(out, (uint64_t)ts.tv_sec * (uint64_t)NS_PER_S + (uint64_t)ts.tv_nsec,
                     (uint64_t)NS_PER_S);
        opc__buf_append_char(out, '\n');
    }
    uint64_t v = 0;
    if (resident_bytes(&v)) {
        single_u64(out, "process_resident_memory_bytes", "gauge", "Resident memory of the process.",
                   v);
    }
    if (open_fds(&v)) {
        single_u64(out, "process_open_fds", "gauge", "Open file descriptors of the process.", v);
    }
}

opc_err opc__metrics_render_at(opc__metrics *m, int64_t now_ms, opc__buf *out)
{
    if (m == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    render_requests(m, out);
    render_durations(m, out);
    render_state(m, now_ms, out);
    render_process(m, out);
    return opc__buf_err(out);
}

opc_err opc__metrics_render(opc__metrics *m, opc__buf *out)
{
    return opc__metrics_render_at(m, opc__now_us() / 1000, out);
}
