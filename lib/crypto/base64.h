/*
 * crypto/base64.h - strict base64 (RFC 4648 §4) and base64url (§5).
 *
 * Decoding is strict: no white space, no characters outside the chosen
 * alphabet, no mixing of the two alphabets, padding exactly as the flags
 * allow, length never ≡ 1 (mod 4), and the unused trailing bits must be zero
 * (so each value has exactly one encoding).
 */
#ifndef OPC_CRYPTO_BASE64_H
#define OPC_CRYPTO_BASE64_H

#include "core/err.h"
#include "internal.h"

/* Alphabet (exactly one for encoding; one or both for decoding). */
#define OPC_B64_STD 0x1u /* + / */
#define OPC_B64_URL 0x2u /* - _ */
/* Padding: encoding emits '=' only with OPC_B64_PAD. Decoding: */
#define OPC_B64_PAD 0x4u        /* padding required */
#define OPC_B64_NOPAD 0x8u      /* padding forbidden */
/* With neither PAD nor NOPAD when decoding, padding is optional (but if
 * present it must be complete and correct). */

/* Encoded length without NUL. */
size_t opc__b64_encoded_len(size_t n, unsigned flags);
/* Upper bound of the decoded length of an n-character input. */
size_t opc__b64_decoded_max(size_t n);

/* Encode into a new NUL-terminated string (opc__free it). */
opc_err opc__b64_encode(const void *in, size_t n, unsigned flags, char **out, size_t *out_len);
/* Encode into out[cap] (NUL-terminated); OPC_ERR_TOO_LARGE if it does not fit. */
opc_err opc__b64_encode_to(const void *in, size_t n, unsigned flags, char *out, size_t cap,
                           size_t *out_len);

/*
 * Decode into a new buffer (opc__free / opc__secret_free it; one extra NUL
 * byte is appended and not counted). Errors: OPC_ERR_PARSE with the offset
 * of the first bad character in eb.
 */
opc_err opc__b64_decode(const char *in, size_t n, unsigned flags, unsigned char **out,
                        size_t *out_len, opc__ebuf *eb);
/* Decode into out[cap]; OPC_ERR_RANGE if the result does not fit. Nothing
 * is written to out on failure. */
opc_err opc__b64_decode_to(const char *in, size_t n, unsigned flags, void *out, size_t cap,
                           size_t *out_len, opc__ebuf *eb);

/* Shorthands for JOSE (base64url, no padding). */
#define OPC_B64URL (OPC_B64_URL | OPC_B64_NOPAD)

#endif
