/*
 * model/totp.h - TOTP (RFC 6238) from otpauth:// URIs.
 */
#ifndef OPC_MODEL_TOTP_H
#define OPC_MODEL_TOTP_H

#include "core/err.h"
#include "internal.h"

typedef enum opc__otp_alg { OPC_OTP_SHA1 = 1, OPC_OTP_SHA256, OPC_OTP_SHA512 } opc__otp_alg;

typedef struct opc__totp {
    uint8_t key[128];
    size_t key_len;
    opc__otp_alg alg; /* default SHA1 */
    unsigned digits;  /* 6 (default), 7 or 8 */
    unsigned period;  /* seconds, default 30, 1..3600 */
} opc__totp;

/*
 * Parse "otpauth://totp/<label>?secret=<base32>&algorithm=&digits=&period=&issuer="
 * (scheme and type case-insensitive; base32 secret case-insensitive, padding
 * optional, spaces ignored). A bare base32 secret is accepted too. Wipe
 * *out after use.
 */
opc_err opc__totp_parse(const char *uri, opc__totp *out, opc__ebuf *eb);

/* The code at Unix time `now`, as digits + NUL in out[11]. */
opc_err opc__totp_code(const opc__totp *t, int64_t now, char out[11]);

/* HOTP (RFC 4226) with the given algorithm: the building block of TOTP. */
opc_err opc__hotp(const uint8_t *key, size_t key_len, opc__otp_alg alg, uint64_t counter,
                  unsigned digits, char out[11]);

#endif
