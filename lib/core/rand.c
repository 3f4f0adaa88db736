#include "internal.h"

#include <limits.h>

#include <openssl/rand.h>

#include "core/rand.h"

/* RAND_bytes takes an int length: feed it in chunks. */
static opc_err fill(void *buf, size_t len, int (*fn)(unsigned char *, int))
{
    unsigned char *p = buf;
    if (buf == NULL && len > 0) {
        return OPC_ERR_INVALID_ARG;
    }
    while (len > 0) {
        int n = len > (size_t)INT_MAX ? INT_MAX : (int)len;
        if (fn(p, n) != 1) {
            return OPC_ERR_CRYPTO;
        }
        p += n;
        len -= (size_t)n;
    }
    return OPC_OK;
}

opc_err opc__rand_bytes(void *buf, size_t len)
{
    return fill(buf, len, RAND_bytes);
}

opc_err opc__rand_priv_bytes(void *buf, size_t len)
{
    return fill(buf, len, RAND_priv_bytes);
}

opc_err opc__rand_uniform(uint32_t upper, uint32_t *out)
{
    if (upper == 0 || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    /* Reject values in the last partial bucket: 2^32 mod upper of them. */
    uint32_t min = (uint32_t)(-upper) % upper;
    for (;;) {
        uint32_t r;
        opc_err rc = opc__rand_bytes(&r, sizeof r);
        if (rc != OPC_OK) {
            return rc;
        }
        if (r >= min) {
            *out = r % upper;
            return OPC_OK;
        }
    }
}
