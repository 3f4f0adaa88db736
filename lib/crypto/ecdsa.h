/*
 * crypto/ecdsa.h - ECDSA P-256 with SHA-256 (ES256).
 *
 * The wire form is JOSE's raw r||s, 64 bytes, each big-endian and
 * left-padded to 32 bytes. OpenSSL speaks DER, so the functions convert.
 */
#ifndef OPC_CRYPTO_ECDSA_H
#define OPC_CRYPTO_ECDSA_H

#include "core/err.h"
#include "crypto/key.h"
#include "internal.h"

#define OPC_ES256_SIG_LEN 64

/* Result of the range check on a raw signature. */
typedef enum opc__ecdsa_range {
    OPC_ECDSA_RANGE_OK = 0,
    OPC_ECDSA_R_ZERO = 1,
    OPC_ECDSA_S_ZERO = 2,
    OPC_ECDSA_R_TOO_LARGE = 3, /* r >= n */
    OPC_ECDSA_S_TOO_LARGE = 4  /* s >= n */
} opc__ecdsa_range;

/* Check 1 <= r, s < n on a raw 64-byte signature (r first, then s). */
opc__ecdsa_range opc__ecdsa_check_range(const uint8_t sig[OPC_ES256_SIG_LEN]);

/* 1 when the raw signature's s is in the low-S form, s <= (n - 1) / 2;
 * 0 when it is high (its twin (r, n - s) is the low one); -1 when OpenSSL
 * fails or sig is NULL. Only meaningful after opc__ecdsa_check_range. */
int opc__ecdsa_is_low_s(const uint8_t sig[OPC_ES256_SIG_LEN]);

/* Sign msg (hashed with SHA-256 inside); needs an EC private key with SIGN.
 * The signature is always in the low-S form. */
opc_err opc__ecdsa_sign(const opc__key *k, const void *msg, size_t len,
                        uint8_t sig[OPC_ES256_SIG_LEN]);

/* Verify a raw signature: sig_len must be 64, r and s in range, then the
 * OpenSSL verify must return exactly 1. OPC_ERR_SIGNATURE otherwise. */
opc_err opc__ecdsa_verify(const opc__key *k, const void *msg, size_t len, const uint8_t *sig,
                          size_t sig_len, opc__ebuf *eb);

/* Verify a strict-DER signature (for known-answer tests and DER peers). */
opc_err opc__ecdsa_verify_der(const opc__key *k, const void *msg, size_t len, const uint8_t *der,
                              size_t der_len, opc__ebuf *eb);

#endif
