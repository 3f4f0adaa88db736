#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/secret.h"

struct opc_secret {
    size_t len;
    size_t cap; /* bytes allocated for data, NUL included */
    unsigned char data[];
};

opc_err opc__secret_alloc(size_t len, opc_secret **out, unsigned char **data)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (len > SIZE_MAX - sizeof(opc_secret) - 1) {
        return OPC_ERR_TOO_LARGE;
    }
    opc_secret *s = opc__calloc(1, sizeof(opc_secret) + len + 1);
    if (s == NULL) {
        return OPC_ERR_NOMEM;
    }
    s->len = len;
    s->cap = len + 1;
    *out = s;
    if (data != NULL) {
        *data = s->data;
    }
    return OPC_OK;
}

opc_err opc__secret_new(const void *p, size_t len, opc_secret **out)
{
    unsigned char *d;
    if (p == NULL && len > 0) {
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc = opc__secret_alloc(len, out, &d);
    if (rc == OPC_OK && len > 0) {
        memcpy(d, p, len);
    }
    return rc;
}

void opc__secret_set_len(opc_secret *s, size_t len)
{
    if (s != NULL && len < s->cap) {
        opc__wipe(s->data + len, s->cap - len);
        s->len = len;
    }
}

const void *opc_secret_data(const opc_secret *s)
{
    return s == NULL ? NULL : s->data;
}

size_t opc_secret_len(const opc_secret *s)
{
    return s == NULL ? 0 : s->len;
}

void opc_secret_free(opc_secret *s)
{
    if (s != NULL) {
        opc__secret_free(s, sizeof(opc_secret) + s->cap);
    }
}
