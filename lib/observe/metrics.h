/*
 * observe/metrics.h - connect-api's own metrics, served by GET /metrics in the
 * Prometheus text exposition format 0.0.4 (connect-api spec §1.3 item 15).
 * Names, labels and types: docs/observability.md.
 *
 * Recording is lock-free: every counter, histogram bucket and gauge is a
 * C11 atomic updated with relaxed order, so opc__metrics_record_request()
 * costs four atomic adds and no lock, allocation or I/O. Labels are small
 * enums (route TEMPLATE, never the raw path; method; status code 100-599),
 * so the number of series is bounded by construction.
 *
 * A render reads each atomic once. It is not a snapshot of one instant:
 * a request recorded during the render may appear in one family and not
 * yet in another. Within the duration histogram `_count` is computed from
 * the buckets read, so `le="+Inf"` always equals `_count`.
 *
 * Values that other objects own (cached vaults and items, sync state,
 * unlocked, the verified-token cache's hits and misses, activity log
 * drops) are pushed in by the owner of the request loop with the setters
 * below, typically right before a render.
 *
 * Thread safety: any thread, for every function but create and free.
 */
#ifndef OPC_OBSERVE_METRICS_H
#define OPC_OBSERVE_METRICS_H

#include "core/buf.h"
#include "core/err.h"
#include "internal.h"

/* Route templates (the `route` label). */
typedef enum opc__metrics_route {
    OPC_METRICS_ROUTE_OTHER = 0,    /* "other": no route matched (404) */
    OPC_METRICS_ROUTE_HEARTBEAT,    /* /heartbeat */
    OPC_METRICS_ROUTE_HEALTH,       /* /health */
    OPC_METRICS_ROUTE_METRICS,      /* /metrics */
    OPC_METRICS_ROUTE_ACTIVITY,     /* /v1/activity */
    OPC_METRICS_ROUTE_VAULTS,       /* /v1/vaults */
    OPC_METRICS_ROUTE_VAULT,        /* /v1/vaults/{vaultUuid} */
    OPC_METRICS_ROUTE_ITEMS,        /* /v1/vaults/{vaultUuid}/items */
    OPC_METRICS_ROUTE_ITEM,         /* /v1/vaults/{vaultUuid}/items/{itemUuid} */
    OPC_METRICS_ROUTE_FILES,        /* .../items/{itemUuid}/files */
    OPC_METRICS_ROUTE_FILE,         /* .../files/{fileUuid} */
    OPC_METRICS_ROUTE_FILE_CONTENT, /* .../files/{fileUuid}/content */
    OPC_METRICS_ROUTE_COUNT
} opc__metrics_route;

/* Request methods (the `method` label). */
typedef enum opc__metrics_method {
    OPC_METRICS_METHOD_OTHER = 0, /* "other" */
    OPC_METRICS_METHOD_GET,
    OPC_METRICS_METHOD_HEAD,
    OPC_METRICS_METHOD_POST,
    OPC_METRICS_METHOD_PUT,
    OPC_METRICS_METHOD_PATCH,
    OPC_METRICS_METHOD_DELETE,
    OPC_METRICS_METHOD_COUNT
} opc__metrics_method;

/* Upper bounds of the duration histogram's buckets, in nanoseconds
 * (+Inf is implicit): 50 us ... 10 s. */
#define OPC_METRICS_BUCKETS 17

typedef struct opc__metrics opc__metrics;

/* A zeroed set of metrics; the process start time is taken now. */
opc_err opc__metrics_create(opc__metrics **out);
void opc__metrics_free(opc__metrics *m); /* NULL is a no-op */

/* The method id of a request method name (case-sensitive, as HTTP). */
opc__metrics_method opc__metrics_method_id(const char *method);
/* The label value of a route id ("other" for out-of-range ids). */
const char *opc__metrics_route_name(opc__metrics_route route);

/*
 * Count one finished request: opconnect_http_requests_total{route,method,
 * status} and opconnect_http_request_duration_seconds{route}. Out-of-range
 * route or method ids count as "other"; a status outside 100-599 counts as
 * status="other". NULL m: no-op.
 */
void opc__metrics_record_request(opc__metrics *m, opc__metrics_route route,
                                 opc__metrics_method method, int status, uint64_t duration_ns);

/* opconnect_vaults_cached / opconnect_items_cached. */
void opc__metrics_set_cached(opc__metrics *m, int64_t vaults, int64_t items);
/*
 * Sync state as seen in the cache: the Unix time in ms of the last
 * successful sync step (0: never; then opconnect_sync_lag_seconds is not
 * exposed) and the number of consecutive failures since.
 */
void opc__metrics_set_sync(opc__metrics *m, int64_t last_success_ms, int64_t failures);
void opc__metrics_set_unlocked(opc__metrics *m, bool unlocked);
/* Totals of the verified-token cache (opc__auth_stats), exposed as counters. */
void opc__metrics_set_token_cache(opc__metrics *m, uint64_t hits, uint64_t misses);
/* The item index's totals (opc__index_stats), exposed as counters. */
void opc__metrics_set_index(opc__metrics *m, uint64_t full_builds, uint64_t refreshes,
                            uint64_t vault_loads, uint64_t decrypted);
/* Totals of the activity log (opc__activity_get_stats: dropped, lost). */
void opc__metrics_set_activity(opc__metrics *m, uint64_t dropped, uint64_t lost);

/*
 * Append the exposition text (Content-Type "text/plain; version=0.0.4;
 * charset=utf-8") to out. _at takes the current Unix time in ms for the
 * time-derived values (sync lag); render uses the wall clock.
 */
opc_err opc__metrics_render(opc__metrics *m, opc__buf *out);
opc_err opc__metrics_render_at(opc__metrics *m, int64_t now_ms, opc__buf *out);

#define OPC_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Append s as an escaped label value (\\, \", \n), without quotes. */
void opc__metrics_escape_label(opc__buf *out, const char *s);

#endif
