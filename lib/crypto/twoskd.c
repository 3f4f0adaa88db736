/*
 * crypto/twoskd.c - Secret Key generation and parsing, and 2SKD.
 *
 * The formula is in twoskd.h and in the security model (§1.1).
 *
 * Password normalisation: 1Password trims the password and applies Unicode
 * NFKD. There is no Unicode library in our stack, so only the trimming of
 * ASCII white space at both ends is done here and NFKD is NOT applied. A
 * password that is pure ASCII is unaffected (NFKD leaves ASCII unchanged);
 * a password with characters that NFKD would change (e.g. precomposed
 * accents, ligatures, full-width forms) derives a different key than the
 * 1Password clients would. Callers that need that compatibility must
 * normalise before calling.
 *
 * Error messages never quote the Secret Key or any of its characters; they
 * give positions only.
 */
#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/strparse.h"
#include "crypto/kdf.h"
#include "crypto/twoskd.h"

#define SK_VERSION "A3"
#define SK_VERSION_LEN 2
#define SK_ID_LEN 6
#define SK_SECRET_LEN 26
#define SK_COMPACT_LEN (SK_VERSION_LEN + SK_ID_LEN + SK_SECRET_LEN) /* 34 */
#define TWOSKD_LEN 32

/* 31 symbols: 2-9, A-H, J-N, P-T, V-Z (no 0, 1, I, O, U). */
static const char sk_alphabet[] = "23456789ABCDEFGHJKLMNPQRSTVWXYZ";

/* Compact positions (number of symbols before it) where a dash may stand. */
static const size_t dash_positions[] = {2, 8, 14, 19, 24, 29};

static int to_upper(int c)
{
    return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c;
}

static bool is_sk_symbol(char c)
{
    return c != '\0' && memchr(sk_alphabet, c, sizeof sk_alphabet - 1) != NULL;
}

static bool dash_allowed_at(size_t compact_count)
{
    for (size_t i = 0; i < OPC_ARRAY_LEN(dash_positions); i++) {
        if (dash_positions[i] == compact_count) {
            return true;
        }
    }
    return false;
}

opc_err opc__secret_key_generate(char out[OPC_SECRET_KEY_STRLEN + 1])
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memcpy(out, SK_VERSION, SK_VERSION_LEN);
    size_t o = SK_VERSION_LEN;     /* characters written */
    size_t count = SK_VERSION_LEN; /* symbols written (dashes not counted) */
    while (count < SK_COMPACT_LEN) {
        if (dash_allowed_at(count) && out[o - 1] != '-') {
            out[o++] = '-';
            continue;
        }
        uint32_t v = 0;
        opc_err rc = opc__rand_uniform((uint32_t)(sizeof sk_alphabet - 1), &v);
        if (rc != OPC_OK) {
            opc__wipe(out, OPC_SECRET_KEY_STRLEN + 1);
            return rc;
        }
        out[o++] = sk_alphabet[v];
        opc__wipe(&v, sizeof v);
        count++;
    }
    out[o] = '\0';
    return OPC_OK;
}

opc_err opc__secret_key_parse(const char *s, opc__secret_key *out, opc__ebuf *eb)
{
    if (out != NULL) {
        opc__wipe(out, sizeof *out);
    }
    if (s == NULL || out == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "Secret Key: invalid argument");
    }
    size_t len = strlen(s);
    const char *p = opc__trim(s, &len);
    size_t lead = (size_t)(p - s); /* positions are reported in the caller's string */
    if (len == 0) {
        return opc__fail(eb, OPC_ERR_PARSE, "Secret Key is empty");
    }

    /* The version comes first, so that a key of another format gets a clear message. */
    char version[SK_VERSION_LEN];
    size_t got = 0;
    for (size_t i = 0; i < len && got < SK_VERSION_LEN; i++) {
        version[got++] = (char)to_upper((unsigned char)p[i]);
    }
    bool v_ok = got == SK_VERSION_LEN &&
                memcmp(version, SK_VERSION, SK_VERSION_LEN) == 0; /* opc-public-compare */
    if (!v_ok) {
        return opc__fail(eb, OPC_ERR_PARSE, "Secret Key must start with " SK_VERSION);
    }

    char compact[SK_COMPACT_LEN];
    size_t count = 0;
    opc_err rc = OPC_OK;
    for (size_t i = 0; i < len; i++) {
        char c = (char)to_upper((unsigned char)p[i]);
        size_t pos = lead + i + 1;
        if (c == '-') {
            if (!dash_allowed_at(count) || (i > 0 && p[i - 1] == '-')) {
                rc = opc__fail(eb, OPC_ERR_PARSE, "Secret Key has a misplaced '-' at position %zu",
                               pos);
                goto done;
            }
            continue;
        }
        if (!is_sk_symbol(c)) {
            rc = opc__fail(eb, OPC_ERR_PARSE,
                           "Secret Key has an invalid character at position %zu (allowed: 2-9, "
                           "A-H, J-N, P-T, V-Z)",
                           pos);
            goto done;
        }
        if (count < SK_COMPACT_LEN) {
            compact[count] = c;
        }
        count++;
    }
    if (count != SK_COMPACT_LEN) {
        rc = opc__fail(eb, OPC_ERR_PARSE,
                       "Secret Key has the wrong length: %zu characters without dashes, expected "
                       "%d",
                       count, SK_COMPACT_LEN);
        goto done;
    }
    memcpy(out->version, compact, SK_VERSION_LEN);
    out->version[SK_VERSION_LEN] = '\0';
    memcpy(out->id, compact + SK_VERSION_LEN, SK_ID_LEN);
    out->id[SK_ID_LEN] = '\0';
    memcpy(out->secret, compact + SK_VERSION_LEN + SK_ID_LEN, SK_SECRET_LEN);
    out->secret[SK_SECRET_LEN] = '\0';
done:
    opc__wipe(compact, sizeof compact);
    if (rc != OPC_OK) {
        opc__wipe(out, sizeof *out);
    }
    return rc;
}

/* A parsed key must be well formed before it feeds the KDF. */
static bool secret_key_ok(const opc__secret_key *sk)
{
    if (memcmp(sk->version, SK_VERSION, SK_VERSION_LEN + 1) != 0) { /* opc-public-compare */
        return false;
    }
    for (size_t i = 0; i < SK_ID_LEN; i++) {
        if (!is_sk_symbol(sk->id[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < SK_SECRET_LEN; i++) {
        if (!is_sk_symbol(sk->secret[i])) {
            return false;
        }
    }
    return sk->id[SK_ID_LEN] == '\0' && sk->secret[SK_SECRET_LEN] == '\0';
}

static opc_err derive(const char *password, const char *email, const opc__secret_key *sk,
                      const uint8_t salt[OPC_2SKD_SALT_LEN], const char *label, uint32_t iterations,
                      uint32_t floor, uint8_t out[32], opc__ebuf *eb)
{
    if (password == NULL || email == NULL || sk == NULL || salt == NULL || label == NULL ||
        out == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "2SKD: invalid argument");
    }
    if (!secret_key_ok(sk)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "2SKD: the Secret Key is not well formed");
    }
    if (iterations < floor) {
        return opc__fail(eb, OPC_ERR_RANGE, "2SKD: %u iterations is below the minimum of %u",
                         (unsigned)iterations, (unsigned)floor);
    }

    size_t pw_len = strlen(password);
    const char *pw = opc__trim(password, &pw_len); /* ASCII trim only; see the top comment */

    size_t email_len = strlen(email);
    char *email_lc = opc__malloc(email_len + 1);
    if (email_lc == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "2SKD: out of memory");
    }
    for (size_t i = 0; i < email_len; i++) {
        email_lc[i] = (char)opc__to_lower((unsigned char)email[i]);
    }
    email_lc[email_len] = '\0';

    uint8_t salt2[TWOSKD_LEN];
    uint8_t k_pw[TWOSKD_LEN];
    uint8_t k_sk[TWOSKD_LEN];
    opc_err rc = opc__hkdf_sha256(salt, OPC_2SKD_SALT_LEN, email_lc, email_len, label,
                                  strlen(label), salt2, sizeof salt2);
    if (rc != OPC_OK) {
        rc = opc__fail(eb, rc, "2SKD: HKDF of the salt failed");
        goto done;
    }
    rc = opc__pbkdf2_sha256(pw, pw_len, salt2, sizeof salt2, iterations, k_pw, sizeof k_pw);
    if (rc != OPC_OK) {
        rc = opc__fail(eb, rc, "2SKD: PBKDF2 failed");
        goto done;
    }
    rc = opc__hkdf_sha256(sk->secret, SK_SECRET_LEN, sk->id, SK_ID_LEN, sk->version, SK_VERSION_LEN,
                          k_sk, sizeof k_sk);
    if (rc != OPC_OK) {
        rc = opc__fail(eb, rc, "2SKD: HKDF of the Secret Key failed");
        goto done;
    }
    for (size_t i = 0; i < TWOSKD_LEN; i++) {
        out[i] = (uint8_t)(k_pw[i] ^ k_sk[i]);
    }
done:
    opc__wipe(salt2, sizeof salt2);
    opc__wipe(k_pw, sizeof k_pw);
    opc__wipe(k_sk, sizeof k_sk);
    opc__secret_free(email_lc, email_len + 1);
    return rc;
}

opc_err opc__2skd(const char *password, const char *email, const opc__secret_key *sk,
                  const uint8_t salt[OPC_2SKD_SALT_LEN], const char *label, uint32_t iterations,
                  uint8_t out[32], opc__ebuf *eb)
{
    return derive(password, email, sk, salt, label, iterations, OPC_2SKD_MIN_ITERATIONS, out, eb);
}

opc_err opc__2skd_raw(const char *password, const char *email, const opc__secret_key *sk,
                      const uint8_t salt[OPC_2SKD_SALT_LEN], const char *label, uint32_t iterations,
                      uint8_t out[32], opc__ebuf *eb)
{
    return derive(password, email, sk, salt, label, iterations, 1, out, eb);
}

opc_err opc__2skd_srp_x(const char *password, const char *email, const opc__secret_key *sk,
                        const uint8_t srp_salt[OPC_2SKD_SALT_LEN], uint32_t iterations,
                        uint8_t x[32], opc__ebuf *eb)
{
    return derive(password, email, sk, srp_salt, OPC_2SKD_LABEL_SRP, iterations,
                  OPC_2SKD_MIN_ITERATIONS, x, eb);
}

opc_err opc__2skd_srp_x_raw(const char *password, const char *email, const opc__secret_key *sk,
                            const uint8_t srp_salt[OPC_2SKD_SALT_LEN], uint32_t iterations,
                            uint8_t x[32], opc__ebuf *eb)
{
    return derive(password, email, sk, srp_salt, OPC_2SKD_LABEL_SRP, iterations, 1, x, eb);
}
