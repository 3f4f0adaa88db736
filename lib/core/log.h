/*
 * core/log.h - emit log events through the callback set with
 * opc_global_set_log(). Messages must be secret-free.
 */
#ifndef OPC_CORE_LOG_H
#define OPC_CORE_LOG_H

#include <opconnect/global.h>

#include "internal.h"

/* True when an event at level would reach the callback. */
bool opc__log_enabled(opc_log_level level);

void opc__log(opc_log_level level, const char *subsystem, const char *fmt, ...) OPC_PRINTF(3, 4);

/* With request scope (request_id and jti may be NULL). */
void opc__log_scoped(opc_log_level level, const char *subsystem, const char *request_id,
                     const char *jti, const char *fmt, ...) OPC_PRINTF(5, 6);

/* Caps of the JSON line, in input bytes (opc_log_format_json cuts there
 * and appends "..."): the message, a request path, ids. */
#define OPC_LOG_MESSAGE_MAX 1024
#define OPC_LOG_PATH_MAX 256
#define OPC_LOG_ID_MAX 128

/* The writer gathers lines for at most this long before one write. */
#define OPC_LOG_WRITER_DELAY_MS 50

/*
 * The one line of a finished request: "(I) GET /path completed (200: OK)"
 * with the request's scope and the fields of http (opc_log_http), built
 * without printf. reason is the status text. Never pass a query string.
 */
void opc__log_request(opc_log_level level, const char *subsystem, const char *request_id,
                      const char *jti, const opc_log_http *http, const char *reason);

/* Decimal digits of v into out (NUL-terminated); returns their count. */
size_t opc__log_u64(uint64_t v, char out[24]);

/* Queue one formatted line (n bytes, ending in '\n') on w, or drop it. */
void opc__log_writer_put(opc_log_writer *w, const char *line, size_t n);

/* Used by global.c. */
void opc__log_reset(void);

#endif
