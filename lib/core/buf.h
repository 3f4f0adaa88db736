/*
 * core/buf.h - growable byte buffer with a sticky error.
 *
 * Appends after a failure do nothing, so a sequence of appends is checked
 * once at the end through opc__buf_err(). A buffer marked secret is wiped
 * whenever it grows (the old block) and when it is freed.
 */
#ifndef OPC_CORE_BUF_H
#define OPC_CORE_BUF_H

#include "internal.h"

typedef struct opc__buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t max; /* 0: unlimited; otherwise appends beyond it fail with OPC_ERR_TOO_LARGE */
    bool secret;
    opc_err err;
} opc__buf;

void opc__buf_init(opc__buf *b, bool secret);
opc_err opc__buf_reserve(opc__buf *b, size_t extra);
opc_err opc__buf_append(opc__buf *b, const void *p, size_t n);
opc_err opc__buf_append_str(opc__buf *b, const char *s);
opc_err opc__buf_append_char(opc__buf *b, char c);
opc_err opc__buf_appendf(opc__buf *b, const char *fmt, ...) OPC_PRINTF(2, 3);
/*
 * The JSON escape of byte c into out (no NUL): its length (2 for \" \\ \n \r \t
 * \b \f, 6 for other control characters as \u00XX), or 0 when c stands as is.
 */
size_t opc__json_escape(unsigned char c, char out[6]);
/* Append s as a JSON string literal, quotes included (control chars escaped). */
opc_err opc__buf_append_json_str(opc__buf *b, const char *s, size_t n);
opc_err opc__buf_err(const opc__buf *b);
void opc__buf_reset(opc__buf *b); /* len = 0 (wiped if secret), keeps memory */
/* Hand the memory to the caller (free with opc__free / opc__secret_free). */
char *opc__buf_detach(opc__buf *b, size_t *len);
void opc__buf_free(opc__buf *b);

#endif
