/*
 * crypto/twoskd.h - 1Password's Secret Key and two-secret key derivation.
 *
 * Secret Key: "A3-XXXXXX-XXXXXX-XXXXX-XXXXX-XXXXX-XXXXX": version "A3",
 * a 6-character Secret Key ID (not secret) and 26 secret characters from the
 * 31-symbol alphabet 2-9 A-H J-N P-T V-Z (≈128.8 bits).
 *
 * 2SKD(password, email, secret key, salt, label, iterations):
 *   s'   = HKDF-SHA256(ikm = salt, salt = lowercase(email), info = label, 32)
 *   k_pw = PBKDF2-HMAC-SHA256(trim(NFKD(password)), s', iterations, 32)
 *   k_sk = HKDF-SHA256(ikm = 26 secret chars, salt = key id, info = "A3", 32)
 *   out  = k_pw XOR k_sk
 */
#ifndef OPC_CRYPTO_TWOSKD_H
#define OPC_CRYPTO_TWOSKD_H

#include "core/err.h"
#include "internal.h"

#define OPC_2SKD_MIN_ITERATIONS 100000u
#define OPC_2SKD_DEFAULT_ITERATIONS 650000u
#define OPC_2SKD_SALT_LEN 16
#define OPC_2SKD_LABEL_AUK "PBES2g-HS256"
#define OPC_2SKD_LABEL_SRP "SRPg-4096"

#define OPC_SECRET_KEY_STRLEN 40 /* "A3-" + 6 + "-" + 6 + 4 * ("-" + 5) */

typedef struct opc__secret_key {
    char version[3]; /* "A3" */
    char id[7];      /* 6 chars */
    char secret[27]; /* 26 chars */
} opc__secret_key;

/* Generate a new Secret Key, formatted with dashes, into out[41]. */
opc_err opc__secret_key_generate(char out[OPC_SECRET_KEY_STRLEN + 1]);

/*
 * Parse a Secret Key: dashes optional, case-insensitive, surrounding white
 * space ignored. OPC_ERR_PARSE with a clear message for a wrong version,
 * length or character. Wipe *out after use.
 */
opc_err opc__secret_key_parse(const char *s, opc__secret_key *out, opc__ebuf *eb);

/* 2SKD with the policy floor: iterations < OPC_2SKD_MIN_ITERATIONS is
 * refused (OPC_ERR_RANGE). */
opc_err opc__2skd(const char *password, const char *email, const opc__secret_key *sk,
                  const uint8_t salt[OPC_2SKD_SALT_LEN], const char *label, uint32_t iterations,
                  uint8_t out[32], opc__ebuf *eb);

/* The same without the floor: for tests and for documented test builds. */
opc_err opc__2skd_raw(const char *password, const char *email, const opc__secret_key *sk,
                      const uint8_t salt[OPC_2SKD_SALT_LEN], const char *label, uint32_t iterations,
                      uint8_t out[32], opc__ebuf *eb);

/*
 * The SRP private key x of the owner's sign-in (crypto/srp.h): 2SKD with
 * label OPC_2SKD_LABEL_SRP and the account's SRP salt, a random salt of its
 * own that is never the salt of the Account Unlock Key (label
 * OPC_2SKD_LABEL_AUK). The label is the HKDF info of the salt's expansion,
 * so even over the same salt the PBKDF2 inputs differ: the server, which
 * holds v = g^x, learns nothing that helps derive the unlock key, and x
 * needs the Secret Key as much as the unlock key does. Same floor as
 * opc__2skd; the _raw form has none (tests, documented test builds).
 */
opc_err opc__2skd_srp_x(const char *password, const char *email, const opc__secret_key *sk,
                        const uint8_t srp_salt[OPC_2SKD_SALT_LEN], uint32_t iterations,
                        uint8_t x[32], opc__ebuf *eb);
opc_err opc__2skd_srp_x_raw(const char *password, const char *email, const opc__secret_key *sk,
                            const uint8_t srp_salt[OPC_2SKD_SALT_LEN], uint32_t iterations,
                            uint8_t x[32], opc__ebuf *eb);

/*
 * Passwords are UTF-8, normalised to NFKD before the ASCII trim (twoskd.c's
 * top comment); the functions above refuse invalid UTF-8 (OPC_ERR_PARSE)
 * and passwords longer than 64 KiB (OPC_ERR_TOO_LARGE).
 *
 * opc__2skd_legacy is the derivation of accounts made before passwords
 * were normalised: the trimmed bytes as typed (any bytes), label AUK or
 * SRP, no iteration floor (callers check). Only for opening such an
 * account once, to re-key it (docs/account.md, "Passwords").
 */
opc_err opc__2skd_legacy(const char *password, const char *email, const opc__secret_key *sk,
                         const uint8_t salt[OPC_2SKD_SALT_LEN], const char *label,
                         uint32_t iterations, uint8_t out[32], opc__ebuf *eb);

/*
 * Whether password is valid UTF-8 (*utf8) and whether its legacy bytes
 * differ from its normalised ones (*differ; always true for invalid
 * UTF-8): when they do not, the legacy derivation gives the same key and
 * a second try is pointless.
 */
opc_err opc__2skd_password_forms(const char *password, bool *utf8, bool *differ, opc__ebuf *eb);

/* OPC_OK when password is valid UTF-8, else OPC_ERR_PARSE with a message
 * for the person choosing it (create and sign-up refuse such passwords). */
opc_err opc__2skd_password_check(const char *password, opc__ebuf *eb);

#endif
