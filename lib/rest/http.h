/*
 * rest/http.h - one request as the route handlers see it, and how its
 * response goes out.
 *
 * Every response is assembled in ONE buffer (status line, headers, body)
 * and sent with ONE mg_write, by core/httpd.h's writer: a handler appends
 * the body to the buffer opc__resp_begin() returns, which starts with a
 * gap of OPC_HTTPD_HEADER_GAP bytes; opc__resp_send() writes the headers
 * right-aligned into that gap and sends from there.
 *
 * The buffer belongs to the civetweb worker thread (opc__api_worker, made
 * by civetweb's init_thread callback) and is reused from request to
 * request: it is a secret buffer, wiped after every response, and shrunk
 * when a large response grew it beyond OPC_HTTP_KEEP_BUF.
 *
 * Every response carries 1Password-Connect-Version, Cache-Control:
 * no-store and X-Request-ID (the request's id, r->rid); errors have the
 * JSON body {"status":N,"message":"..."}.
 */
#ifndef OPC_REST_HTTP_H
#define OPC_REST_HTTP_H

#include "rest/api.h"
#include "core/buf.h"
#include "core/httpd.h"
#include "core/id.h"
#include "internal.h"

#include <pthread.h>
#include <stdint.h>

#define OPC_HTTP_KEEP_BUF ((size_t)256 * 1024)
/* Stack below the current frame a worker keeps when a connection closes. */
#define OPC_HTTP_STACK_KEEP ((uintptr_t)8 * 1024)
/* ... and gives it back at most this often (ms). */
#define OPC_HTTP_STACK_RELEASE_MS 1000
/* The pieces a streamed body goes out in (opc__resp_stream_*). */
#define OPC_HTTP_STREAM_PIECE ((size_t)64 * 1024)
/* The longest client X-Request-ID taken as the request's id. */
#define OPC_REQUEST_ID_MAX OPC_HTTPD_REQUEST_ID_MAX

/* Per worker thread scratch (civetweb's thread pointer). */
typedef struct opc__api_worker {
    opc__auth_token tok;
    opc__buf out;
} opc__api_worker;

opc__api_worker *opc__api_worker_new(void);
void opc__api_worker_free(opc__api_worker *w);

/*
 * civetweb's thread pointer of a worker thread: its scratch is made when
 * the thread serves its first request, so the many workers that only wait
 * (docs/http.md) cost no scratch.
 */
typedef struct opc__api_slot {
    opc__api_worker *w;
    pthread_t self;      /* the worker thread */
    uintptr_t stack_lo;  /* the lowest address of its stack; 0: unknown */
    int64_t released_ms; /* when its stack was last given back (monotonic); 0: never */
} opc__api_slot;

opc__api_slot *opc__api_slot_new(void);
void opc__api_slot_free(opc__api_slot *s);
/* The thread's scratch, made now if needed; NULL without a slot or memory. */
opc__api_worker *opc__api_worker_of(opc__api_slot *s);
/* A connection of the thread closed: its scratch is wiped and freed, and
 * the stack pages below the current frame are given back (madvise), so
 * memory follows the open connections, not every worker ever used. */
void opc__api_slot_release(opc__api_slot *s);

typedef struct opc__req {
    struct mg_connection *conn;
    opc_api *api;
    opc__api_worker *w; /* the thread's scratch, or one made for this request */
    bool own_worker;    /* w was made for this request: free it after */
    const char *method;
    char rid[OPC_REQUEST_ID_MAX + 1];
    char jti[65];
    char path[512];  /* as sent (not decoded), without query, trailing slash removed */
    char upath[512]; /* path decoded segment by segment, for routing (routes.c) */
    /* For metrics and the activity log (set by the router as it learns them). */
    int64_t start_ns;  /* monotonic, at entry */
    int route;         /* opc__metrics_route */
    bool audit;        /* an authenticated /v1 request: gets an activity record */
    int resource_type; /* opc__activity_resource */
    char vault[OPC_ID_LEN + 1];
    char item[OPC_ID_LEN + 1];
    int64_t item_version; /* the version answered or written, 0 unknown */
    uint64_t bytes;       /* response body bytes sent (for the request line) */
} opc__req;

/* A fresh UUID-v4-formatted request id: a per-process random prefix and a
 * counter (unique within the process, cheap; not a secret). */
void opc__request_id(opc_api *api, char out[37]);

/*
 * The request's id: the client's X-Request-ID when it is 1 to
 * OPC_REQUEST_ID_MAX bytes of printable ASCII (0x20-0x7e), otherwise (absent,
 * empty, too long, other bytes) a fresh opc__request_id().
 */
void opc__request_id_take(opc_api *api, const char *client, char out[OPC_REQUEST_ID_MAX + 1]);

/* Log the request's completion line, count it in the metrics and (when
 * r->audit) record it in the activity log; returns status. */
int opc__req_finish(opc__req *r, int status);

/* Reset the worker buffer to an empty body behind the header gap. */
opc__buf *opc__resp_begin(opc__req *r);

/*
 * Send the body collected since opc__resp_begin() with status and
 * Content-Type ctype; extra (may be NULL) holds further header lines, each
 * ending in "\r\n". A buffer error sends a 500 instead. Wipes the buffer.
 * Returns the status sent.
 */
int opc__resp_send(opc__req *r, int status, const char *ctype, const char *extra);
/*
 * A body of a known length sent in pieces of about OPC_HTTP_STREAM_PIECE
 * bytes through the worker's buffer (so a large body never needs a large
 * buffer): begin sends the headers (false: an error answer went out, and
 * the request is finished), write appends, end sends the rest and finishes
 * the request. The caller must write exactly len bytes.
 */
bool opc__resp_stream_begin(opc__req *r, int status, const char *ctype, size_t len);
void opc__resp_stream_write(opc__req *r, const char *p, size_t n);
int opc__resp_stream_end(opc__req *r, int status);

/* Send a body held elsewhere, without copying it (core/httpd.h). */
int opc__resp_send_body(opc__req *r, int status, const char *ctype, const char *body, size_t len);

/* Convenience: body given as bytes. */
int opc__resp_json(opc__req *r, int status, const char *body, size_t len);
int opc__resp_raw(opc__req *r, int status, const char *ctype, const char *body, size_t len);
int opc__resp_error(opc__req *r, int status, const char *fmt, ...) OPC_PRINTF(3, 4);

/*
 * The answer while the cache is lost and being rebuilt (view/index.h;
 * docs/decisions.md): 503 with Retry-After OPC_HTTP_REBUILD_RETRY_S and
 * {"status":503,"message":"..."} saying so; nothing was read or changed.
 */
#define OPC_HTTP_REBUILD_RETRY_S 5
int opc__resp_rebuilding(opc__req *r);

/* The fixed 500 answer for when nothing can be allocated; returns 500. */
int opc__resp_oom(struct mg_connection *conn);

#endif
