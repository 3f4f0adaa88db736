/*
 * crypto/gcm_longiv.h - AES-GCM for IVs over OPC_GCM_IV_MAX_LEN bytes (see
 * gcm_longiv.c). Only gcm.c calls it. Decryption writes plaintext to out
 * before the tag is checked: out must be the caller's private scratch.
 */
#ifndef OPC_CRYPTO_GCM_LONGIV_H
#define OPC_CRYPTO_GCM_LONGIV_H

#include "crypto/gcm.h"
#include "internal.h"

opc_err opc__gcm_long_iv(int enc, const uint8_t *key, size_t key_len, const uint8_t *iv,
                         size_t iv_len, const void *aad, size_t aad_len, const uint8_t *in,
                         size_t len, uint8_t *out, uint8_t tag[OPC_GCM_TAG_LEN]);

#endif
