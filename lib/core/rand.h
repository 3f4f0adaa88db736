/*
 * core/rand.h - the CSPRNG (OpenSSL RAND). Never rand().
 */
#ifndef OPC_CORE_RAND_H
#define OPC_CORE_RAND_H

#include "internal.h"

/* Public randomness: IVs, nonces, ids. OPC_ERR_CRYPTO if RAND fails. */
opc_err opc__rand_bytes(void *buf, size_t len);
/* Long-term secrets (keys, T): RAND_priv_bytes. */
opc_err opc__rand_priv_bytes(void *buf, size_t len);
/* Uniform integer in [0, upper) without modulo bias (rejection sampling); upper >= 1. */
opc_err opc__rand_uniform(uint32_t upper, uint32_t *out);

#endif
