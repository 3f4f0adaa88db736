/*
 * crypto/twoskd.c - Secret Key generation and parsing, and 2SKD.
 *
 * The formula is in twoskd.h and in the security model (§1.1).
 *
 * Password normalisation (docs/decisions.md, "2SKD normalises passwords to
 * NFKD"): the password must be valid UTF-8; it is put in Unicode
 * compatibility decomposition (NFKD, libunistring's u8_normalize) and then
 * ASCII white space is trimmed at both ends, so "é" typed precomposed
 * (U+00E9) or decomposed ("e" U+0301), the ligature "ﬁ" (U+FB01) or "fi",
 * full-width or ASCII letters, all derive the same key. Pure ASCII is
 * unchanged by NFKD. Accounts made before this derived from the trimmed
 * bytes as typed: opc__2skd_legacy keeps that derivation (it also takes
 * invalid UTF-8) so that such an account can be opened once and re-keyed,
 * and opc__2skd_password_forms tells a caller whether the two derivations
 * can differ for a password at all. libunistring's own work buffers are
 * freed without wiping (it has no hook for that); the result is written
 * into a buffer of ours and wiped.
 *
 * Error messages never quote the Secret Key or any of its characters; they
 * give positions only.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <uninorm.h>
#include <unistr.h>

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

/* Longest password accepted by the normalisation (bytes before NFKD). */
#define PW_MAX_IN ((size_t)1 << 16)

/*
 * The bytes PBKDF2 takes from password: NFKD of the UTF-8 text (nfkd) or
 * the bytes as typed (legacy), then trimmed of ASCII white space at both
 * ends. *out is ours (opc__secret_free(*out, *cap) after use); *pw and
 * *len point into it. Invalid UTF-8 in the NFKD form is OPC_ERR_PARSE.
 */
static opc_err password_bytes(const char *password, bool nfkd, uint8_t **out, size_t *cap,
                              const char **pw, size_t *len, opc__ebuf *eb)
{
    *out = NULL;
    *cap = 0;
    size_t n = strlen(password);
    if (n > PW_MAX_IN) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "2SKD: the password is longer than %zu bytes",
                         PW_MAX_IN);
    }
    size_t c = nfkd ? 4 * n + 16 : n + 1;
    uint8_t *buf = opc__malloc(c);
    if (buf == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "2SKD: out of memory");
    }
    size_t got = 0;
    if (!nfkd) {
        memcpy(buf, password, n + 1); /* c = n + 1: the terminator too */
        got = n;
    } else if (u8_check((const uint8_t *)password, n) != NULL) {
        opc__secret_free(buf, c);
        return opc__fail(eb, OPC_ERR_PARSE,
                         "2SKD: the password is not valid UTF-8 (passwords are normalised to "
                         "Unicode NFKD)");
    } else {
        /* Into our buffer; when it is too small, libunistring returns one
         * of its own (malloc'ed: released with libc's free, not ours) with
         * the length needed: wipe that and run again into a buffer of ours
         * of that length (the result is the same). */
        void (*release)(void *) = free;
        for (int round = 0; round < 2; round++) {
            got = c;
            uint8_t *r = u8_normalize(UNINORM_NFKD, (const uint8_t *)password, n, buf, &got);
            if (r == NULL) {
                opc__secret_free(buf, c);
                return opc__fail(eb, OPC_ERR_NOMEM, "2SKD: password normalisation failed");
            }
            if (r == buf) {
                break;
            }
            opc__wipe(r, got);
            release(r);
            opc__secret_free(buf, c);
            c = got + 1;
            buf = round == 0 ? opc__malloc(c) : NULL;
            if (buf == NULL) {
                return opc__fail(eb, OPC_ERR_NOMEM, "2SKD: out of memory");
            }
        }
    }
    size_t t = got;
    *pw = opc__trim((const char *)buf, &t);
    *len = t;
    *out = buf;
    *cap = c;
    return OPC_OK;
}

opc_err opc__2skd_password_forms(const char *password, bool *utf8, bool *differ, opc__ebuf *eb)
{
    if (password == NULL || utf8 == NULL || differ == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "2SKD: invalid argument");
    }
    *utf8 = u8_check((const uint8_t *)password, strlen(password)) == NULL;
    *differ = true;
    if (!*utf8) {
        return OPC_OK;
    }
    uint8_t *a = NULL;
    uint8_t *b = NULL;
    size_t ca = 0;
    size_t cb = 0;
    const char *pa = NULL;
    const char *pb = NULL;
    size_t la = 0;
    size_t lb = 0;
    opc_err rc = password_bytes(password, true, &a, &ca, &pa, &la, eb);
    if (rc == OPC_OK) {
        rc = password_bytes(password, false, &b, &cb, &pb, &lb, eb);
    }
    if (rc == OPC_OK) {
        *differ = la != lb || CRYPTO_memcmp(pa, pb, la) != 0;
    }
    opc__secret_free(a, ca);
    opc__secret_free(b, cb);
    return rc;
}

opc_err opc__2skd_password_check(const char *password, opc__ebuf *eb)
{
    if (password == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "2SKD: invalid argument");
    }
    if (u8_check((const uint8_t *)password, strlen(password)) != NULL) {
        return opc__fail(eb, OPC_ERR_PARSE,
                         "the password is not valid UTF-8 (passwords are normalised to Unicode "
                         "NFKD)");
    }
    return OPC_OK;
}

static opc_err derive(const char *password, const char *email, const opc__secret_key *sk,
                      const uint8_t salt[OPC_2SKD_SALT_LEN], const char *label, uint32_t iterations,
                      uint32_t floor, bool nfkd, uint8_t out[32], opc__ebuf *eb)
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

    uint8_t *pw_buf = NULL;
    size_t pw_cap = 0;
    size_t pw_len = 0;
    const char *pw = NULL;
    opc_err rc = password_bytes(password, nfkd, &pw_buf, &pw_cap, &pw, &pw_len, eb);
    if (rc != OPC_OK) {
        return rc;
    }

    size_t email_len = strlen(email);
    char *email_lc = opc__malloc(email_len + 1);
    if (email_lc == NULL) {
        opc__secret_free(pw_buf, pw_cap);
        return opc__fail(eb, OPC_ERR_NOMEM, "2SKD: out of memory");
    }
    for (size_t i = 0; i < email_len; i++) {
        email_lc[i] = (char)opc__to_lower((unsigned char)email[i]);
    }
    email_lc[email_len] = '\0';

    uint8_t salt2[TWOSKD_LEN];
    uint8_t k_pw[TWOSKD_LEN];
    uint8_t k_sk[TWOSKD_LEN];
    rc = opc__hkdf_sha256(salt, OPC_2SKD_SALT_LEN, email_lc, email_len, label, strlen(label), salt2,
                          sizeof salt2);
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
    opc__secret_free(pw_buf, pw_cap);
    return rc;
}

opc_err opc__2skd(const char *password, const char *email, const opc__secret_key *sk,
                  const uint8_t salt[OPC_2SKD_SALT_LEN], const char *label, uint32_t iterations,
                  uint8_t out[32], opc__ebuf *eb)
{
    return derive(password, email, sk, salt, label, iterations, OPC_2SKD_MIN_ITERATIONS, true, out,
                  eb);
}

opc_err opc__2skd_raw(const char *password, const char *email, const opc__secret_key *sk,
                      const uint8_t salt[OPC_2SKD_SALT_LEN], const char *label, uint32_t iterations,
                      uint8_t out[32], opc__ebuf *eb)
{
    return derive(password, email, sk, salt, label, iterations, 1, true, out, eb);
}

opc_err opc__2skd_srp_x(const char *password, const char *email, const opc__secret_key *sk,
                        const uint8_t srp_salt[OPC_2SKD_SALT_LEN], uint32_t iterations,
                        uint8_t x[32], opc__ebuf *eb)
{
    return derive(password, email, sk, srp_salt, OPC_2SKD_LABEL_SRP, iterations,
                  OPC_2SKD_MIN_ITERATIONS, true, x, eb);
}

opc_err opc__2skd_srp_x_raw(const char *password, const char *email, const opc__secret_key *sk,
                            const uint8_t srp_salt[OPC_2SKD_SALT_LEN], uint32_t iterations,
                            uint8_t x[32], opc__ebuf *eb)
{
    return derive(password, email, sk, srp_salt, OPC_2SKD_LABEL_SRP, iterations, 1, true, x, eb);
}

opc_err opc__2skd_legacy(const char *password, const char *email, const opc__secret_key *sk,
                         const uint8_t salt[OPC_2SKD_SALT_LEN], const char *label,
                         uint32_t iterations, uint8_t out[32], opc__ebuf *eb)
{
    return derive(password, email, sk, salt, label, iterations, 1, false, out, eb);
}
