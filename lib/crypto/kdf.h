/*
 * crypto/kdf.h - SHA-256, HMAC-SHA256, HKDF-SHA256 and PBKDF2-HMAC-SHA256,
 * and HMAC with SHA-1/SHA-256/SHA-512 for TOTP.
 */
#ifndef OPC_CRYPTO_KDF_H
#define OPC_CRYPTO_KDF_H

#include "internal.h"

#define OPC_SHA256_LEN 32
#define OPC_HKDF_MAX_OUT (255 * 32)

opc_err opc__sha256(const void *msg, size_t len, uint8_t out[OPC_SHA256_LEN]);

opc_err opc__hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                         uint8_t out[OPC_SHA256_LEN]);
/* Constant-time check of a tag of tag_len bytes (16..32, a prefix of the
 * full MAC); OPC_ERR_SIGNATURE on mismatch. */
opc_err opc__hmac_sha256_verify(const void *key, size_t key_len, const void *msg, size_t msg_len,
                                const uint8_t *tag, size_t tag_len);

/*
 * HMAC with the named digest: "SHA1", "SHA256" or "SHA512" (exact spelling;
 * anything else is OPC_ERR_UNSUPPORTED). *out_len is the capacity of out on
 * entry (OPC_ERR_RANGE if smaller than the digest: 20, 32 or 64 bytes) and
 * the MAC length on return. For HOTP/TOTP (RFC 4226/6238), whose SHA-1 use
 * is not a collision-resistance question; new designs use HMAC-SHA256.
 */
#define OPC_HMAC_MAX_LEN 64
opc_err opc__hmac(const char *digest, const void *key, size_t key_len, const void *msg,
                  size_t msg_len, uint8_t *out, size_t *out_len);

/* RFC 5869. out_len 1..OPC_HKDF_MAX_OUT (else OPC_ERR_RANGE). salt may be empty. */
opc_err opc__hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
                         const void *info, size_t info_len, void *out, size_t out_len);

/* RFC 8018. iterations >= 1, out_len >= 1. No policy minimum here (see twoskd.h). */
opc_err opc__pbkdf2_sha256(const void *pw, size_t pw_len, const void *salt, size_t salt_len,
                           uint32_t iterations, void *out, size_t out_len);

#endif
