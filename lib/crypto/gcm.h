/*
 * crypto/gcm.h - AES-GCM through OpenSSL 3 EVP.
 *
 * The production profile is AES-256, 96-bit IV, 128-bit tag. Decryption
 * never releases plaintext before the tag verifies: it decrypts into a
 * private buffer and copies out only on success (wiping the scratch either
 * way); on failure the output buffer is left untouched.
 */
#ifndef OPC_CRYPTO_GCM_H
#define OPC_CRYPTO_GCM_H

#include "internal.h"

#define OPC_GCM_KEY_LEN 32
#define OPC_GCM_IV_LEN 12
#define OPC_GCM_TAG_LEN 16
/* Longest IV the EVP GCM provider of OpenSSL 3.0 takes, and the _ex forms. */
#define OPC_GCM_IV_MAX_LEN 128

/* ct may equal pt (in place). Returns OPC_ERR_CRYPTO if OpenSSL fails. */
opc_err opc__gcm_seal(const uint8_t key[OPC_GCM_KEY_LEN], const uint8_t iv[OPC_GCM_IV_LEN],
                      const void *aad, size_t aad_len, const void *pt, size_t pt_len, uint8_t *ct,
                      uint8_t tag[OPC_GCM_TAG_LEN]);

/* Returns OPC_ERR_DECRYPT when the tag does not verify. */
opc_err opc__gcm_open(const uint8_t key[OPC_GCM_KEY_LEN], const uint8_t iv[OPC_GCM_IV_LEN],
                      const void *aad, size_t aad_len, const void *ct, size_t ct_len,
                      const uint8_t tag[OPC_GCM_TAG_LEN], uint8_t *pt);

/*
 * General forms for known-answer tests: key of 16, 24 or 32 bytes, IV of 1
 * to OPC_GCM_IV_MAX_LEN bytes, tag of 16 bytes (others OPC_ERR_INVALID_ARG).
 */
opc_err opc__gcm_seal_ex(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                         const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                         uint8_t *ct, uint8_t *tag, size_t tag_len);
opc_err opc__gcm_open_ex(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                         const void *aad, size_t aad_len, const void *ct, size_t ct_len,
                         const uint8_t *tag, size_t tag_len, uint8_t *pt);

#endif
