/*
 * core/secret.h - constructors of the public opc_secret.
 */
#ifndef OPC_CORE_SECRET_H
#define OPC_CORE_SECRET_H

#include <opconnect/secret.h>

#include "internal.h"

/* A zeroed secret of len bytes (plus a NUL); *data is writable. */
opc_err opc__secret_alloc(size_t len, opc_secret **out, unsigned char **data);
/* A copy of p[0..len). */
opc_err opc__secret_new(const void *p, size_t len, opc_secret **out);
/* Shrink the visible length (e.g. after decoding into an upper bound). */
void opc__secret_set_len(opc_secret *s, size_t len);

#endif
