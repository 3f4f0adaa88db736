/*
 * model/totp.c - HOTP (RFC 4226), TOTP (RFC 6238) and otpauth:// URIs.
 *
 * URI form (the de-facto "Key Uri Format" used by authenticator apps):
 *
 *   otpauth://totp/<label>?secret=<base32>&issuer=..&algorithm=..&digits=..&period=..
 *
 * - scheme and type are case-insensitive; "hotp" and any other type are
 *   refused (HOTP needs a stored counter, which a Connect field has not);
 * - the label (path) is optional and not interpreted; a '#' fragment is
 *   ignored;
 * - query parameter names are case-insensitive; values are percent-decoded
 *   ('+' reads as a space); a parameter given twice is an error; unknown
 *   parameters (issuer, image, ...) are ignored;
 * - secret: required, RFC 4648 base32 (A-Z 2-7, case-insensitive), spaces
 *   ignored, '=' padding optional (only at the end). Lengths that no
 *   encoder produces (1, 3 or 6 characters in the last group of 8) are
 *   refused; the spare low bits of the last character are not checked,
 *   because hand-made secrets often have them set;
 * - algorithm SHA1 (default), SHA256 or SHA512 (case-insensitive);
 *   digits 6 (default), 7 or 8; period 1..3600 seconds (default 30).
 *
 * A string that does not start with "otpauth:" is read as a bare base32
 * secret with the defaults. Every buffer that held key material is wiped.
 */
#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/strparse.h"
#include "crypto/kdf.h"
#include "model/totp.h"

#define MAX_URI 4096
#define MAX_PERIOD 3600

static const char *alg_digest(opc__otp_alg alg)
{
    switch (alg) {
    case OPC_OTP_SHA1:
        return "SHA1";
    case OPC_OTP_SHA256:
        return "SHA256";
    case OPC_OTP_SHA512:
        return "SHA512";
    }
    return NULL;
}

opc_err opc__hotp(const uint8_t *key, size_t key_len, opc__otp_alg alg, uint64_t counter,
                  unsigned digits, char out[11])
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    out[0] = '\0';
    const char *digest = alg_digest(alg);
    if (key == NULL || key_len == 0 || digest == NULL || digits < 1 || digits > 10) {
        return OPC_ERR_INVALID_ARG;
    }
    uint8_t msg[8];
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xffu);
        counter >>= 8;
    }
    uint8_t mac[OPC_HMAC_MAX_LEN];
    size_t mac_len = sizeof mac;
    opc_err rc = opc__hmac(digest, key, key_len, msg, sizeof msg, mac, &mac_len);
    if (rc != OPC_OK) {
        opc__wipe(mac, sizeof mac);
        return rc;
    }
    /* RFC 4226 §5.3 dynamic truncation. */
    unsigned off = mac[mac_len - 1] & 0x0fu;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7fu) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    opc__wipe(mac, sizeof mac);
    uint64_t v = bin; /* < 2^31, so 10 digits always suffice */
    for (unsigned i = digits; i > 0; i--) {
        out[i - 1] = (char)('0' + v % 10u);
        v /= 10u;
    }
    out[digits] = '\0';
    opc__wipe(&bin, sizeof bin);
    opc__wipe(&v, sizeof v);
    return OPC_OK;
}

opc_err opc__totp_code(const opc__totp *t, int64_t now, char out[11])
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    out[0] = '\0';
    if (t == NULL || t->period < 1 || t->period > MAX_PERIOD || t->digits < 6 || t->digits > 8 ||
        t->key_len > sizeof t->key) {
        return OPC_ERR_INVALID_ARG;
    }
    if (now < 0) {
        return OPC_ERR_RANGE;
    }
    uint64_t counter = (uint64_t)now / t->period;
    return opc__hotp(t->key, t->key_len, t->alg, counter, t->digits, out);
}

/* ---- base32 ---- */

static int b32_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a';
    }
    if (c >= '2' && c <= '7') {
        return c - '2' + 26;
    }
    return -1;
}

/* Decode s[0..len) into out (wiped on failure). */
static opc_err b32_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                          opc__ebuf *eb)
{
    size_t n = 0;  /* bytes written */
    size_t nc = 0; /* alphabet characters read */
    unsigned acc = 0;
    unsigned bits = 0;
    bool padding = false;
    opc_err rc = OPC_OK;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ' ') {
            continue;
        }
        if (c == '=') {
            padding = true;
            continue;
        }
        int v = b32_value(c);
        if (v < 0) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "OTP secret: invalid base32 character at offset %zu",
                           i);
            goto done;
        }
        if (padding) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "OTP secret: data after '=' padding");
            goto done;
        }
        nc++;
        acc = ((acc << 5) | (unsigned)v) & 0xfffu;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap) {
                rc = opc__fail(eb, OPC_ERR_TOO_LARGE, "OTP secret: longer than %zu bytes", cap);
                goto done;
            }
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (nc == 0) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "OTP secret: empty");
        goto done;
    }
    unsigned rem = (unsigned)(nc % 8);
    if (rem == 1 || rem == 3 || rem == 6) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "OTP secret: invalid base32 length");
        goto done;
    }
    *out_len = n;
done:
    opc__wipe(&acc, sizeof acc);
    if (rc != OPC_OK) {
        opc__wipe(out, cap);
    }
    return rc;
}

/* ---- URI ---- */

static bool prefix_ci(const char *s, size_t len, const char *p)
{
    size_t n = strlen(p);
    if (len < n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (opc__to_lower((unsigned char)s[i]) != opc__to_lower((unsigned char)p[i])) {
            return false;
        }
    }
    return true;
}

static bool equal_ci(const char *s, size_t len, const char *p)
{
    return strlen(p) == len && prefix_ci(s, len, p);
}

enum { P_SECRET, P_ALGORITHM, P_DIGITS, P_PERIOD, P_COUNT };

static const char *const param_names[P_COUNT] = {"secret", "algorithm", "digits", "period"};

static opc_err apply_param(int which, const char *v, size_t vlen, opc__totp *t, opc__ebuf *eb)
{
    uint64_t n = 0;
    switch (which) {
    case P_SECRET:
        return b32_decode(v, vlen, t->key, sizeof t->key, &t->key_len, eb);
    case P_ALGORITHM:
        if (equal_ci(v, vlen, "SHA1")) {
            t->alg = OPC_OTP_SHA1;
        } else if (equal_ci(v, vlen, "SHA256")) {
            t->alg = OPC_OTP_SHA256;
        } else if (equal_ci(v, vlen, "SHA512")) {
            t->alg = OPC_OTP_SHA512;
        } else {
            return opc__fail(eb, OPC_ERR_UNSUPPORTED,
                             "otpauth URI: unsupported algorithm (SHA1, SHA256 or SHA512)");
        }
        return OPC_OK;
    case P_DIGITS:
        if (opc__parse_u64(v, vlen, 10, UINT32_MAX, &n, NULL) != OPC_OK || n < 6 || n > 8) {
            return opc__fail(eb, OPC_ERR_RANGE, "otpauth URI: digits must be 6, 7 or 8");
        }
        t->digits = (unsigned)n;
        return OPC_OK;
    case P_PERIOD:
        if (opc__parse_u64(v, vlen, 10, UINT32_MAX, &n, NULL) != OPC_OK || n < 1 ||
            n > MAX_PERIOD) {
            return opc__fail(eb, OPC_ERR_RANGE, "otpauth URI: period must be 1 to %d seconds",
                             MAX_PERIOD);
        }
        t->period = (unsigned)n;
        return OPC_OK;
    default:
        return OPC_ERR_INTERNAL;
    }
}

static opc_err parse_query(const char *q, size_t len, opc__totp *t, opc__ebuf *eb)
{
    bool seen[P_COUNT] = {false};
    char val[512];
    opc_err rc = OPC_OK;
    size_t i = 0;
    while (i <= len) {
        size_t end = i;
        while (end < len && q[end] != '&') {
            end++;
        }
        const char *part = q + i;
        size_t plen = end - i;
        i = end + 1;
        if (plen == 0) {
            continue;
        }
        const char *eq = memchr(part, '=', plen);
        size_t nlen = eq != NULL ? (size_t)(eq - part) : plen;
        int which = -1;
        for (int k = 0; k < P_COUNT; k++) {
            if (equal_ci(part, nlen, param_names[k])) {
                which = k;
            }
        }
        if (which < 0) {
            continue; /* issuer, image, ...: not needed for the code */
        }
        if (seen[which]) {
            rc =
                opc__fail(eb, OPC_ERR_PARSE, "otpauth URI: \"%s\" given twice", param_names[which]);
            break;
        }
        seen[which] = true;
        size_t vlen = 0;
        rc = eq != NULL ? opc__form_decode(eq + 1, plen - nlen - 1, val, sizeof val, &vlen, "otpauth URI", eb)
                        : opc__form_decode("", 0, val, sizeof val, &vlen, "otpauth URI", eb);
        if (rc == OPC_OK) {
            rc = apply_param(which, val, vlen, t, eb);
        }
        if (rc != OPC_OK) {
            break;
        }
    }
    opc__wipe(val, sizeof val);
    if (rc == OPC_OK && !seen[P_SECRET]) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "otpauth URI: missing \"secret\"");
    }
    return rc;
}

static opc_err parse_uri(const char *uri, size_t len, opc__totp *t, opc__ebuf *eb)
{
    if (!prefix_ci(uri, len, "otpauth://")) {
        return opc__fail(eb, OPC_ERR_PARSE, "otpauth URI: expected \"otpauth://totp/...\"");
    }
    const char *p = uri + 10;
    size_t rest = len - 10;
    /* Drop a fragment. */
    const char *hash = memchr(p, '#', rest);
    if (hash != NULL) {
        rest = (size_t)(hash - p);
    }
    size_t tlen = 0;
    while (tlen < rest && p[tlen] != '/' && p[tlen] != '?') {
        tlen++;
    }
    if (equal_ci(p, tlen, "hotp")) {
        return opc__fail(eb, OPC_ERR_UNSUPPORTED, "otpauth URI: HOTP is not supported (only TOTP)");
    }
    if (!equal_ci(p, tlen, "totp")) {
        return opc__fail(eb, OPC_ERR_UNSUPPORTED, "otpauth URI: unsupported OTP type (only totp)");
    }
    const char *q = memchr(p, '?', rest);
    if (q == NULL) {
        return opc__fail(eb, OPC_ERR_PARSE, "otpauth URI: missing \"secret\"");
    }
    q++;
    return parse_query(q, (size_t)(p + rest - q), t, eb);
}

opc_err opc__totp_parse(const char *uri, opc__totp *out, opc__ebuf *eb)
{
    if (uri == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__totp t;
    memset(&t, 0, sizeof t);
    t.alg = OPC_OTP_SHA1;
    t.digits = 6;
    t.period = 30;
    size_t len = strnlen(uri, MAX_URI + 1);
    opc_err rc;
    if (len > MAX_URI) {
        rc = opc__fail(eb, OPC_ERR_TOO_LARGE, "OTP value longer than %d bytes", MAX_URI);
    } else {
        const char *s = opc__trim(uri, &len);
        if (prefix_ci(s, len, "otpauth:")) {
            rc = parse_uri(s, len, &t, eb);
        } else {
            rc = b32_decode(s, len, t.key, sizeof t.key, &t.key_len, eb);
        }
    }
    if (rc == OPC_OK) {
        *out = t;
    } else {
        opc__wipe(out, sizeof *out);
    }
    opc__wipe(&t, sizeof t);
    return rc;
}
