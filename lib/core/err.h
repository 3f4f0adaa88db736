/*
 * core/err.h - error detail for internal calls.
 *
 * Internal functions that can fail for a reason worth telling take a
 * nullable `opc__ebuf *eb` as their last argument and fill it through
 * opc__fail(). The text must never contain a secret.
 */
#ifndef OPC_CORE_ERR_H
#define OPC_CORE_ERR_H

#include "internal.h"

typedef struct opc__ebuf {
    char msg[OPC_ERRBUF_SIZE];
    int reason; /* module-specific detail code (e.g. opc__jwt_reason), 0 if none */
} opc__ebuf;

/* Clear msg and reason. NULL is a no-op. */
void opc__ebuf_clear(opc__ebuf *eb);

/* Format msg (if eb is non-NULL), set reason to 0 and return code. */
opc_err opc__fail(opc__ebuf *eb, opc_err code, const char *fmt, ...) OPC_PRINTF(3, 4);

/* As opc__fail(), also setting eb->reason. */
opc_err opc__fail_reason(opc__ebuf *eb, opc_err code, int reason, const char *fmt, ...)
    OPC_PRINTF(4, 5);

/* Prefix the existing message: "<prefix>: <old message>". */
void opc__ebuf_prefix(opc__ebuf *eb, const char *fmt, ...) OPC_PRINTF(2, 3);

/* Copy eb's message into a public caller buffer (either may be NULL). */
void opc__ebuf_export(const opc__ebuf *eb, char *errbuf, size_t errbuf_len);

/* Returns OPC_ERR_NOT_INITIALIZED unless opc_global_init() holds a reference. */
opc_err opc__require_init(void);

#endif
