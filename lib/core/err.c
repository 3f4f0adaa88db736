#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

void opc__ebuf_clear(opc__ebuf *eb)
{
    if (eb != NULL) {
        eb->msg[0] = '\0';
        eb->reason = 0;
    }
}

OPC_PRINTF(2, 0) static void vformat(opc__ebuf *eb, const char *fmt, va_list ap)
{
    int n = vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
    if (n < 0) {
        eb->msg[0] = '\0';
    }
}

opc_err opc__fail(opc__ebuf *eb, opc_err code, const char *fmt, ...)
{
    if (eb != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vformat(eb, fmt, ap);
        va_end(ap);
        eb->reason = 0;
    }
    return code;
}

opc_err opc__fail_reason(opc__ebuf *eb, opc_err code, int reason, const char *fmt, ...)
{
    if (eb != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vformat(eb, fmt, ap);
        va_end(ap);
        eb->reason = reason;
    }
    return code;
}

void opc__ebuf_prefix(opc__ebuf *eb, const char *fmt, ...)
{
    if (eb == NULL) {
        return;
    }
    char prefix[OPC_ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    char joined[2 * OPC_ERRBUF_SIZE + 2];
    if (eb->msg[0] == '\0') {
        (void)snprintf(joined, sizeof joined, "%s", prefix);
    } else {
        (void)snprintf(joined, sizeof joined, "%s: %s", prefix, eb->msg);
    }
    size_t n2 = strlen(joined);
    if (n2 >= sizeof eb->msg) {
        n2 = sizeof eb->msg - 1;
    }
    memcpy(eb->msg, joined, n2);
    eb->msg[n2] = '\0';
}

void opc__ebuf_export(const opc__ebuf *eb, char *errbuf, size_t errbuf_len)
{
    if (errbuf == NULL || errbuf_len == 0) {
        return;
    }
    (void)snprintf(errbuf, errbuf_len, "%s", eb != NULL ? eb->msg : "");
}

/* ---- public strerror ---- */

static const struct {
    const char *name;
    const char *text;
} err_table[] = {
    [OPC_OK] = {"OPC_OK", "no error"},
    [OPC_ERR_NOMEM] = {"OPC_ERR_NOMEM", "out of memory"},
    [OPC_ERR_INVALID_ARG] = {"OPC_ERR_INVALID_ARG", "invalid argument"},
    [OPC_ERR_NOT_INITIALIZED] = {"OPC_ERR_NOT_INITIALIZED", "library not initialized"},
    [OPC_ERR_INTERNAL] = {"OPC_ERR_INTERNAL", "internal error"},
    [OPC_ERR_PARSE] = {"OPC_ERR_PARSE", "malformed input"},
    [OPC_ERR_RANGE] = {"OPC_ERR_RANGE", "value out of range"},
    [OPC_ERR_TOO_LARGE] = {"OPC_ERR_TOO_LARGE", "input too large"},
    [OPC_ERR_IO] = {"OPC_ERR_IO", "input/output error"},
    [OPC_ERR_NOT_FOUND] = {"OPC_ERR_NOT_FOUND", "not found"},
    [OPC_ERR_UNSUPPORTED] = {"OPC_ERR_UNSUPPORTED", "not supported"},
    [OPC_ERR_CRYPTO] = {"OPC_ERR_CRYPTO", "cryptographic operation failed"},
    [OPC_ERR_DECRYPT] = {"OPC_ERR_DECRYPT", "decryption failed (wrong key or tampered data)"},
    [OPC_ERR_SIGNATURE] = {"OPC_ERR_SIGNATURE", "signature does not verify"},
    [OPC_ERR_KEY] = {"OPC_ERR_KEY", "unusable key"},
    [OPC_ERR_TOKEN] = {"OPC_ERR_TOKEN", "token rejected"},
    [OPC_ERR_CREDENTIALS] = {"OPC_ERR_CREDENTIALS", "invalid credentials file"},
    [OPC_ERR_VERIFIER] = {"OPC_ERR_VERIFIER", "token secret does not match the credentials"},
    [OPC_ERR_LOCKED] = {"OPC_ERR_LOCKED", "locked: a valid token is needed first"},
    [OPC_ERR_EXISTS] = {"OPC_ERR_EXISTS", "already exists"},
    [OPC_ERR_CONFLICT] = {"OPC_ERR_CONFLICT", "conflict with a concurrent change"},
    [OPC_ERR_PERMISSION] = {"OPC_ERR_PERMISSION", "permission denied"},
};

const char *opc_strerror(opc_err code)
{
    if ((unsigned)code < OPC_ARRAY_LEN(err_table) && err_table[code].text != NULL) {
        return err_table[code].text;
    }
    return "unknown error";
}

const char *opc_errname(opc_err code)
{
    if ((unsigned)code < OPC_ARRAY_LEN(err_table) && err_table[code].name != NULL) {
        return err_table[code].name;
    }
    return "OPC_ERR_UNKNOWN";
}
