/*
 * observe/activity.h - the activity log behind GET /v1/activity (connect-api
 * spec §1.3 item 1, §2.7 APIRequest). Format and decisions:
 * docs/observability.md.
 *
 * One record per API request: request id, time, action (READ / CREATE /
 * UPDATE / DELETE), result (SUCCESS / DENY), actor (server id, account id,
 * token jti, user agent, client IP) and resource (VAULT / ITEM, vault id,
 * item id, item version). Nothing else is stored: no token text, no item
 * titles or fields, no query strings. Client-controlled text (the user
 * agent) is capped at OPC_ACTIVITY_MAX_UA bytes, made valid UTF-8 and
 * stored as data; output is JSON-escaped.
 *
 * Storage. Its own SQLite file, OPC_ACTIVITY_FILE_NAME next to the cache
 * (opc__activity_path_for_cache), 0600 in a 0700 directory, WAL,
 * synchronous=NORMAL, PRAGMA application_id OPC_ACTIVITY_APPLICATION_ID, so
 * connect-api never writes the file connect-sync writes. Bounded: only the
 * newest max_records are ever listed; a drain that would take the table
 * above max_records + prune slack (max_records / 8, at least 64) first
 * deletes the oldest rows to make room (so its inserts reuse their pages),
 * and records of one drain beyond max_records are not inserted at all.
 * The table never holds more than max_records + slack rows.
 *
 * Request path. opc__activity_record() copies the record into a bounded
 * in-memory ring under a mutex (no I/O, no allocation) and assigns it the
 * next sequence number; the order of sequence numbers is the log's order.
 * When the ring is full the OLDEST queued record is dropped and counted.
 * One background writer thread drains the ring in batches (at the latest
 * every flush_interval_ms, earlier once flush_batch records wait), one
 * transaction per drain.
 *
 * Reading. opc__activity_list() first writes everything queued (so a client
 * sees its own previous request), then reads newest first. A close writes
 * the queue too. opc__activity_list_scoped() reads what one token may see
 * (docs/connect-api.md, GET /v1/activity): its own records in full, and
 * other tokens' records on the vaults it can read without their jti, user
 * agent and address; the whole log needs the token's full-log permission
 * (scope.full). Paging and the total count apply to what the reader sees.
 *
 * Errors: OPC_ERR_INVALID_ARG, OPC_ERR_NOMEM, OPC_ERR_IO (SQLite or file
 * system), OPC_ERR_PARSE (the file is not an activity log; a bad query
 * parameter), OPC_ERR_UNSUPPORTED (newer schema), OPC_ERR_INTERNAL (thread
 * creation), with a secret-free message in eb.
 *
 * Thread safety: record, list, flush and stats from any thread; open and
 * close once each, with no other call running.
 */
#ifndef OPC_OBSERVE_ACTIVITY_H
#define OPC_OBSERVE_ACTIVITY_H

#include "core/err.h"
#include "core/id.h"
#include "internal.h"

/* File name inside the data directory (next to 1password.sqlite). */
#define OPC_ACTIVITY_FILE_NAME "activity.sqlite"
/* PRAGMA application_id of activity files ("OPCL"). */
#define OPC_ACTIVITY_APPLICATION_ID 0x4f50434c
#define OPC_ACTIVITY_SCHEMA_VERSION 1

/* Defaults of opc__activity_config (0 selects them). */
#define OPC_ACTIVITY_DEFAULT_MAX_RECORDS 10000
#define OPC_ACTIVITY_DEFAULT_QUEUE 4096
#define OPC_ACTIVITY_DEFAULT_FLUSH_MS 100
#define OPC_ACTIVITY_DEFAULT_FLUSH_BATCH 256
/* Upper bounds of the configuration. */
#define OPC_ACTIVITY_MAX_MAX_RECORDS 10000000
#define OPC_ACTIVITY_MAX_QUEUE 1000000

/* GET /v1/activity paging: default and largest `limit`. */
#define OPC_ACTIVITY_DEFAULT_LIMIT 50
#define OPC_ACTIVITY_MAX_LIMIT 1000
/* Largest `offset` accepted by the query parser. */
#define OPC_ACTIVITY_MAX_OFFSET 100000000

/* Stored lengths (bytes, without NUL); longer values are cut. */
#define OPC_ACTIVITY_MAX_UA 256
#define OPC_ACTIVITY_MAX_IP 63
#define OPC_ACTIVITY_MAX_JTI 64
#define OPC_ACTIVITY_REQUEST_ID_LEN 128

/* Content-Range value: "1-50/1134" (1-based, inclusive) or "* /1134" (no
 * space) for an empty page. */
#define OPC_ACTIVITY_RANGE_LEN 48

typedef enum opc__activity_action {
    OPC_ACTIVITY_READ = 0,
    OPC_ACTIVITY_CREATE = 1,
    OPC_ACTIVITY_UPDATE = 2,
    OPC_ACTIVITY_DELETE = 3
} opc__activity_action;

typedef enum opc__activity_result {
    OPC_ACTIVITY_SUCCESS = 0,
    OPC_ACTIVITY_DENY = 1
} opc__activity_result;

typedef enum opc__activity_resource {
    OPC_ACTIVITY_RES_NONE = 0, /* no resource object in the record */
    OPC_ACTIVITY_RES_VAULT = 1,
    OPC_ACTIVITY_RES_ITEM = 2
} opc__activity_resource;

/*
 * What the request path hands over. Every pointer may be NULL (stored as
 * empty and left out of the JSON) and is only read during the call.
 */
typedef struct opc__activity_event {
    const char *request_id; /* the request's id (http.h); cut at 128 bytes */
    int64_t timestamp_us;   /* Unix microseconds; 0: now */
    opc__activity_action action;
    opc__activity_result result;
    const char *jti;        /* the token's jti (never the token) */
    const char *user_agent; /* raw header value; capped, made valid UTF-8 */
    const char *request_ip; /* remote address text */
    opc__activity_resource resource_type;
    const char *vault_id; /* kept only when it is a valid 26-char id */
    const char *item_id;  /* likewise */
    int64_t item_version; /* > 0 to appear in the record */
} opc__activity_event;

typedef struct opc__activity_config {
    const char *path;       /* the SQLite file, created when missing (required) */
    const char *server_id;  /* actor.id of every record (may be NULL) */
    const char *account_id; /* actor.account (may be NULL) */
    size_t max_records;     /* records kept; 0: default */
    size_t queue_capacity;  /* queued records before the oldest is dropped; 0: default */
    int flush_interval_ms;  /* 0: default */
    size_t flush_batch;     /* 0: default */
    bool no_writer_thread;  /* tests: no background writer; the queue is written only by
                               flush, list and close */
} opc__activity_config;

typedef struct opc__activity_stats {
    uint64_t recorded;     /* opc__activity_record calls */
    uint64_t dropped;      /* queued records dropped because the queue was full */
    uint64_t written;      /* records committed (or aged out within their own drain) */
    uint64_t write_errors; /* failed drains */
    uint64_t lost;         /* records taken by a failed drain (not written) */
    size_t queued;         /* records waiting now */
    size_t rows;           /* rows in the file now */
} opc__activity_stats;

/* One page of GET /v1/activity. */
typedef struct opc__activity_page {
    char *json; /* the JSON array, newest first (opc__free via page_clear) */
    size_t json_len;
    size_t count; /* records in json */
    size_t total; /* records available to list (<= max_records) */
    char content_range[OPC_ACTIVITY_RANGE_LEN];
} opc__activity_page;

/* Who reads the log: what opc__activity_list_scoped() shows them. */
typedef struct opc__activity_scope {
    bool full;                 /* every record as stored (the full-log permission) */
    const char *jti;           /* the reader's token: its records, in full (NULL/"": none) */
    const char *const *vaults; /* vaults the reader can read (26-char ids; others skipped) */
    size_t n_vaults;
} opc__activity_scope;

typedef struct opc__activity opc__activity;

/* "<dir of cache_path>/activity.sqlite". *out: opc__free. */
opc_err opc__activity_path_for_cache(const char *cache_path, char **out, opc__ebuf *eb);

/*
 * Open (creating file and parent directory when missing) and start the
 * writer thread. Records of earlier runs are kept; sequence numbers go on
 * from the largest stored one.
 */
opc_err opc__activity_open(const opc__activity_config *cfg, opc__activity **out, opc__ebuf *eb);

/* Stop the writer, write what is queued, close. NULL is a no-op. */
void opc__activity_close(opc__activity *act);

/* Queue one record (see above). Never blocks on I/O; never fails (a
 * record that cannot be kept is counted as dropped). NULL act: no-op. */
void opc__activity_record(opc__activity *act, const opc__activity_event *ev);

/* Write everything queued now; returns the drain's result. */
opc_err opc__activity_flush(opc__activity *act, opc__ebuf *eb);

/*
 * Newest-first page: skip `offset` records, return at most `limit`
 * (clamped to OPC_ACTIVITY_MAX_LIMIT). An offset at or past the end gives
 * "[]" with the total. Queued records are written first. Release with
 * opc__activity_page_clear (also on failure).
 */
opc_err opc__activity_list(opc__activity *act, size_t limit, size_t offset, opc__activity_page *out,
                           opc__ebuf *eb);
/*
 * The same over the records scope may see (scope->full: all of them, as
 * opc__activity_list). Otherwise: records whose jti is scope->jti, in
 * full; records of other tokens whose vault is one of scope->vaults, with
 * actor.jti, actor.userAgent and actor.requestIp left out; nothing else
 * (a record without a vault only when it is the reader's). total and
 * Content-Range count only these. scope NULL is OPC_ERR_INVALID_ARG.
 */
opc_err opc__activity_list_scoped(opc__activity *act, const opc__activity_scope *scope,
                                  size_t limit, size_t offset, opc__activity_page *out,
                                  opc__ebuf *eb);
void opc__activity_page_clear(opc__activity_page *p);

void opc__activity_get_stats(opc__activity *act, opc__activity_stats *out);

/*
 * `limit` and `offset` of a raw query string (no '?'; NULL: none). Absent:
 * OPC_ACTIVITY_DEFAULT_LIMIT and 0. A value must be a decimal integer
 * without sign (form-decoded first); limit above OPC_ACTIVITY_MAX_LIMIT is
 * clamped, offset above OPC_ACTIVITY_MAX_OFFSET, an empty, negative or
 * non-numeric value is OPC_ERR_PARSE with "Invalid limit" / "Invalid
 * offset" (a 400).
 */
opc_err opc__activity_parse_query(const char *query, size_t *limit, size_t *offset, opc__ebuf *eb);

/* Content-Range text for a page (see OPC_ACTIVITY_RANGE_LEN). */
void opc__activity_content_range(size_t offset, size_t count, size_t total,
                                 char out[OPC_ACTIVITY_RANGE_LEN]);

/* GET/HEAD READ, POST CREATE, PUT/PATCH UPDATE, DELETE DELETE, else READ. */
opc__activity_action opc__activity_action_for_method(const char *method);
/* Status below 400: SUCCESS; otherwise DENY. */
opc__activity_result opc__activity_result_for_status(int status);

/*
 * Copy at most cap - 1 bytes of src into dst as valid UTF-8: an invalid
 * byte becomes '?', a character is never cut in half, a NUL ends the text.
 * Returns the length written. (Exposed for the fuzz target.)
 */
size_t opc__activity_clean_text(char *dst, size_t cap, const char *src);

#endif
