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

/* Used by global.c. */
void opc__log_reset(void);

#endif
