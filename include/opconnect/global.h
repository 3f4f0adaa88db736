/*
 * opconnect/global.h - library initialization, memory and logging.
 *
 * opc_global_init() (or opc_global_init_mem()) must be called before any
 * constructor; constructors return OPC_ERR_NOT_INITIALIZED otherwise. Init is
 * reference-counted and thread-safe: each successful init is paired with one
 * opc_global_cleanup(). The library never changes process-wide settings of
 * its dependencies (allocators, locale, signals).
 */
#ifndef OPCONNECT_GLOBAL_H
#define OPCONNECT_GLOBAL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flags for opc_global_init(); none are defined yet. */
#define OPC_GLOBAL_DEFAULT 0u

typedef void *(*opc_malloc_fn)(size_t size);
typedef void *(*opc_realloc_fn)(void *ptr, size_t size);
typedef void (*opc_free_fn)(void *ptr);

/*
 * opc_global_init - initialize the library (libcurl, SQLite) once per process.
 *
 * flags: OPC_GLOBAL_DEFAULT. Returns OPC_OK, OPC_ERR_INVALID_ARG for unknown
 * flags, or OPC_ERR_INTERNAL when a dependency fails to initialize.
 * Thread safety: any thread (serialized internally). Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_global_init(uint32_t flags);

/*
 * opc_global_init_mem - as opc_global_init(), with allocator hooks.
 *
 * The three functions replace malloc/realloc/free for libopconnect's own
 * memory (not for OpenSSL, libcurl, cJSON or SQLite). They must be
 * thread-safe. All three must be given; the hooks are installed only by the
 * first (outermost) init and stay until the matching final cleanup.
 * Returns OPC_ERR_INVALID_ARG if a hook is NULL, or if hooks differ from
 * those already installed by an outer init. Thread safety: any thread.
 * Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_global_init_mem(uint32_t flags, opc_malloc_fn malloc_fn,
                                                  opc_realloc_fn realloc_fn, opc_free_fn free_fn);

/*
 * opc_global_cleanup - release one reference taken by opc_global_init().
 *
 * The last release clears the log callback and allocator hooks. Every object
 * of the library must be freed before it. Calling it without a matching init
 * does nothing. Thread safety: any thread. Since 0.1.0.
 */
OPC_API void opc_global_cleanup(void);

/*
 * opc_global_set_upstream_ca_file - the PEM bundle (a private CA) that
 * https:// upstreams (op-account-server) are verified against instead of
 * the system's trust store; NULL or "" restores the system's. The file is
 * read when an upstream is opened (a missing or unreadable one fails that
 * open with OPC_ERR_IO); verification is never turned off. connect-sync
 * and connect-api set it from OP_UPSTREAM_CA_FILE. Returns OPC_OK, or
 * OPC_ERR_TOO_LARGE for a path of 4096 bytes or more. Thread safety: any
 * thread. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_global_set_upstream_ca_file(const char *path);

/*
 * opc_free - release memory the library returned as an owned pointer.
 *
 * NULL is a no-op. Use it, never free(), for owned returns: the allocator may
 * be replaced. Thread safety: any thread. Since 0.1.0.
 */
OPC_API void opc_free(void *ptr);

/*
 * opc_memzero - overwrite len bytes at ptr with zeros in a way the compiler
 * may not remove. Use it on buffers that held secrets. Since 0.1.0.
 */
OPC_API void opc_memzero(void *ptr, size_t len);

/* Log levels, numbered as the Connect server's JSON logs number them. */
typedef enum opc_log_level {
    OPC_LOG_ERROR = 1,
    OPC_LOG_WARN = 2,
    OPC_LOG_INFO = 3,
    OPC_LOG_DEBUG = 4,
    OPC_LOG_TRACE = 5
} opc_log_level;

/* Current value of opc_log_record.age. */
#define OPC_LOG_RECORD_AGE 2

/*
 * The fields of a request's completion line (opc_log_record.http). Strings
 * are secret-free; path has no query string. Since 0.1.0 (record age 2).
 */
typedef struct opc_log_http {
    const char *method;      /* "GET", ...; never NULL */
    const char *path;        /* request path, no query; never NULL */
    int status;              /* HTTP status answered */
    int64_t duration_us;     /* from the start of handling to the response written */
    const char *remote_addr; /* peer address, or NULL */
    uint64_t bytes;          /* response body bytes sent */
} opc_log_http;

/*
 * One log event. The struct may grow: new fields are appended and `age` is
 * raised. All strings are secret-free UTF-8 and valid only during the
 * callback.
 */
typedef struct opc_log_record {
    int age;                /* OPC_LOG_RECORD_AGE at the time of writing */
    opc_log_level level;    /* severity */
    int64_t time_us;        /* Unix time of the event, microseconds */
    const char *subsystem;  /* e.g. "core", "sync", "api"; never NULL */
    const char *message;    /* never NULL */
    const char *request_id; /* request being served, or NULL */
    const char *jti;        /* token id of that request, or NULL */
    /* age >= 2: */
    const opc_log_http *http; /* a request's completion line, or NULL */
} opc_log_record;

typedef void (*opc_log_fn)(const opc_log_record *record, void *userdata);

/*
 * opc_global_set_log - route library log events to fn.
 *
 * Events more verbose than max_level are dropped before formatting. With fn
 * NULL (the default) the library logs nothing. The callback may run on any
 * library thread, concurrently; it must not call back into the library
 * except for opc_log_format_json(). Thread safety: init-time only (set it
 * before starting servers). Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_global_set_log(opc_log_fn fn, void *userdata,
                                                 opc_log_level max_level);

/*
 * opc_log_level_parse - parse "error", "warn", "info", "debug" or "trace"
 * (also "warning"; case-insensitive) into *out. Returns OPC_ERR_PARSE for
 * anything else. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_log_level_parse(const char *name, opc_log_level *out);

/*
 * opc_duration_parse_ms - parse a Go-style duration into milliseconds: a
 * sequence of decimal numbers, each with an optional fraction and a unit
 * (ns, us, ms, s, m, h, and d for 24 h), e.g. "10s", "1m30s", "1.5h",
 * "250ms"; "0" alone is zero. No sign, no spaces; sub-millisecond parts are
 * truncated. *out_ms is written on success only. Returns OPC_ERR_PARSE for
 * anything else, OPC_ERR_RANGE above max_ms, OPC_ERR_INVALID_ARG for NULL
 * or a negative max_ms. Thread safety: any thread. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_duration_parse_ms(const char *text, int64_t max_ms,
                                                    int64_t *out_ms) OPC_NONNULL(1, 3);

/*
 * opc_log_format_json - format a record as one JSON line in the Connect
 * server's layout: {"log_message":"(I) ...","timestamp":"...Z","level":3,
 * "scope":{"request_id":"...","jti":"..."}} followed by '\n'; a record with
 * http adds "http":{"method":...,"path":...,"status":...,"duration_us":...,
 * "remote_addr":...,"bytes":...}. Text is JSON-escaped, invalid UTF-8 bytes
 * become U+FFFD, and the message and path are cut (marked with "...") at
 * fixed caps, so a line stays short whatever a client sent.
 *
 * Writes at most buf_len bytes including the terminating NUL and returns the
 * length of the full line (excluding NUL), like snprintf: a result >= buf_len
 * means the line was truncated. Thread safety: any thread. Since 0.1.0.
 */
OPC_API size_t opc_log_format_json(const opc_log_record *record, char *buf, size_t buf_len);

/*
 * opc_log_writer - a buffered writer of log lines to a file descriptor, off
 * the caller's thread. opc_log_writer_fn (an opc_log_fn, userdata = the
 * writer) formats a record with opc_log_format_json and copies the line
 * into a bounded in-memory queue; a background thread writes what is queued
 * to fd in batches, at the latest about 50 ms after a line was queued. A
 * caller never waits for the fd: when the queue is full the line is dropped
 * and counted, and the writer reports the count in a warning line of its
 * own once there is room. Lines are written whole, never interleaved.
 *
 * opc_log_writer_open: queue_bytes 0 means the default (4 MiB); at least 64
 * KiB are used. The fd stays the caller's (not closed). Returns
 * OPC_ERR_NOMEM, OPC_ERR_IO (no thread) or OPC_ERR_INVALID_ARG (fd < 0).
 * opc_log_writer_flush: returns once everything queued before the call is
 * written (or failed to be). opc_log_writer_dropped: lines dropped so far.
 * opc_log_writer_close: writes what is queued, stops the thread and frees
 * the writer; NULL is a no-op. Uninstall the callback before closing.
 * Thread safety: fn, flush and dropped from any thread; close once, after
 * every other call has returned. Since 0.1.0.
 */
typedef struct opc_log_writer opc_log_writer;

OPC_API OPC_NODISCARD opc_err opc_log_writer_open(int fd, size_t queue_bytes, opc_log_writer **out);
OPC_API void opc_log_writer_fn(const opc_log_record *record, void *writer);
OPC_API void opc_log_writer_flush(opc_log_writer *writer);
OPC_API uint64_t opc_log_writer_dropped(const opc_log_writer *writer);
OPC_API void opc_log_writer_close(opc_log_writer *writer);

#ifdef __cplusplus
}
#endif

#endif /* OPCONNECT_GLOBAL_H */
