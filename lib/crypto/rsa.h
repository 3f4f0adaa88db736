/*
 * crypto/rsa.h - RSA-OAEP with SHA-256 and MGF1-SHA-256 ("RSA-OAEP-256").
 */
#ifndef OPC_CRYPTO_RSA_H
#define OPC_CRYPTO_RSA_H

#include "core/err.h"
#include "crypto/key.h"
#include "internal.h"

/* Encrypt in (at most modulus - 66 bytes) to pub (needs OPC_KEYOP_WRAP or
 * ENCRYPT). label may be NULL/0. *out is opc__malloc'ed. */
opc_err opc__rsa_oaep_encrypt(const opc__key *pub, const void *label, size_t label_len,
                              const void *in, size_t in_len, uint8_t **out, size_t *out_len);

/* Decrypt with priv (needs UNWRAP or DECRYPT). Every failure of the
 * padding or ciphertext is the same OPC_ERR_DECRYPT with the same message
 * (no oracle). *out is opc__malloc'ed; free with opc__secret_free. */
opc_err opc__rsa_oaep_decrypt(const opc__key *priv, const void *label, size_t label_len,
                              const void *in, size_t in_len, uint8_t **out, size_t *out_len,
                              opc__ebuf *eb);

#endif
