#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"

void opc__buf_init(opc__buf *b, bool secret)
{
    memset(b, 0, sizeof *b);
    b->secret = secret;
}

opc_err opc__buf_err(const opc__buf *b)
{
    return b->err;
}

static opc_err set_err(opc__buf *b, opc_err rc)
{
    b->err = rc;
    return rc;
}

opc_err opc__buf_reserve(opc__buf *b, size_t extra)
{
    if (b->err != OPC_OK) {
        return b->err;
    }
    if (extra > SIZE_MAX - b->len - 1) {
        return set_err(b, OPC_ERR_TOO_LARGE);
    }
    size_t need = b->len + extra + 1;
    if (b->max != 0 && b->len + extra > b->max) {
        return set_err(b, OPC_ERR_TOO_LARGE);
    }
    if (need <= b->cap) {
        return OPC_OK;
    }
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p;
    if (b->secret) {
        /* Never let realloc leave a copy of a secret behind. */
        p = opc__malloc(cap);
        if (p != NULL && b->data != NULL) {
            memcpy(p, b->data, b->len + 1);
            opc__secret_free(b->data, b->cap);
        }
    } else {
        p = opc__realloc(b->data, cap);
    }
    if (p == NULL) {
        return set_err(b, OPC_ERR_NOMEM);
    }
    if (b->data == NULL) {
        p[0] = '\0';
    }
    b->data = p;
    b->cap = cap;
    return OPC_OK;
}

opc_err opc__buf_append(opc__buf *b, const void *p, size_t n)
{
    opc_err rc = opc__buf_reserve(b, n);
    if (rc != OPC_OK) {
        return rc;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return OPC_OK;
}

opc_err opc__buf_append_str(opc__buf *b, const char *s)
{
    return opc__buf_append(b, s, strlen(s));
}

opc_err opc__buf_append_char(opc__buf *b, char c)
{
    return opc__buf_append(b, &c, 1);
}

opc_err opc__buf_appendf(opc__buf *b, const char *fmt, ...)
{
    if (b->err != OPC_OK) {
        return b->err;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return set_err(b, OPC_ERR_INTERNAL);
    }
    opc_err rc = opc__buf_reserve(b, (size_t)n);
    if (rc != OPC_OK) {
        return rc;
    }
    va_start(ap, fmt);
    (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return OPC_OK;
}

size_t opc__json_escape(unsigned char c, char out[6])
{
    static const char hex[] = "0123456789abcdef";
    char short_form = 0;
    switch (c) {
    case '"':
        short_form = '"';
        break;
    case '\\':
        short_form = '\\';
        break;
    case '\n':
        short_form = 'n';
        break;
    case '\r':
        short_form = 'r';
        break;
    case '\t':
        short_form = 't';
        break;
    case '\b':
        short_form = 'b';
        break;
    case '\f':
        short_form = 'f';
        break;
    default:
        break;
    }
    out[0] = '\\';
    if (short_form != 0) {
        out[1] = short_form;
        return 2;
    }
    if (c >= 0x20) {
        return 0;
    }
    out[1] = 'u';
    out[2] = '0';
    out[3] = '0';
    out[4] = hex[c >> 4];
    out[5] = hex[c & 15];
    return 6;
}

opc_err opc__buf_append_json_str(opc__buf *b, const char *s, size_t n)
{
    opc__buf_append_char(b, '"');
    size_t run = 0; /* start of the pending run of plain bytes */
    for (size_t i = 0; i < n; i++) {
        char esc[6];
        size_t elen = opc__json_escape((unsigned char)s[i], esc);
        if (elen == 0) {
            continue;
        }
        opc__buf_append(b, s + run, i - run);
        opc__buf_append(b, esc, elen);
        run = i + 1;
    }
    opc__buf_append(b, s + run, n - run);
    return opc__buf_append_char(b, '"');
}

void opc__buf_reset(opc__buf *b)
{
    if (b->data != NULL) {
        if (b->secret) {
            opc__wipe(b->data, b->len);
        }
        b->data[0] = '\0';
    }
    b->len = 0;
    b->err = OPC_OK;
}

char *opc__buf_detach(opc__buf *b, size_t *len)
{
    char *p = b->data;
    if (len != NULL) {
        *len = b->len;
    }
    if (p == NULL && b->err == OPC_OK) {
        p = opc__strdup("");
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

void opc__buf_free(opc__buf *b)
{
    if (b->data != NULL) {
        if (b->secret) {
            opc__secret_free(b->data, b->cap);
        } else {
            opc__free(b->data);
        }
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
