/*
 * crypto/jwt.c - compact JWS (ES256 only) and Connect token validation.
 *
 * opc__jwt_verify() runs the checks of security-model §2.5 in the order that
 * jwt.h documents and stops at the first failure, with OPC_ERR_TOKEN, a
 * reason code in eb->reason and a message that names the failed check but
 * never quotes the token's secrets. The payload is parsed only after the
 * signature verified. Every buffer that may hold the payload (and with it
 * the 1password.com/token secret) is wiped before it is freed.
 *
 * One refinement of step 1: a token whose only empty segment is the
 * signature and whose header says alg "none" (in any case) is reported as
 * OPC_JWT_ALG_NONE rather than OPC_JWT_SEGMENTS, so that the classic
 * unsigned-token forgery gets its own name. It is rejected either way.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/id.h"
#include "core/json.h"
#include "crypto/base64.h"
#include "crypto/ecdsa.h"
#include "crypto/jwt.h"
#include "crypto/kdf.h"
#include "crypto/key.h"

/* Decoded JOSE header: alg, kid, typ and little else; 2 KiB is plenty. */
#define HEADER_MAX_SIZE 2048
/* Nesting allowed in header and payload (payload: object > vts > entry). */
#define JSON_MAX_DEPTH 4
/* Recursion bound of the duplicate-name walk used to classify failures. */
#define DUP_WALK_MAX_DEPTH 64
/* Claims that are numbers must be integral, >= 0 and below 2^53. */
#define MAX_SAFE_INT ((int64_t)1 << 53)
/* Sanity bounds on the caller's clock and leeway (keeps the arithmetic exact). */
#define MAX_NOW ((int64_t)1 << 62)
#define MAX_LEEWAY ((int64_t)1 << 31)
/* Longest claim strings we keep (sizes of opc__jwt_claims members minus NUL). */
#define CLAIM_ID_MAX 64
#define CLAIM_ISS_MAX 128

static const char *const reason_names[OPC_JWT_REASON_COUNT] = {
    [OPC_JWT_OK] = "ok",
    [OPC_JWT_TOO_LONG] = "too_long",
    [OPC_JWT_SEGMENTS] = "segments",
    [OPC_JWT_BASE64] = "base64",
    [OPC_JWT_HEADER_JSON] = "header_json",
    [OPC_JWT_HEADER_DUPLICATE] = "header_duplicate",
    [OPC_JWT_ALG_NONE] = "alg_none",
    [OPC_JWT_ALG_HMAC] = "alg_hmac",
    [OPC_JWT_ALG_CASE] = "alg_case",
    [OPC_JWT_ALG_UNSUPPORTED] = "alg_unsupported",
    [OPC_JWT_TYP] = "typ",
    [OPC_JWT_FORBIDDEN_HEADER] = "forbidden_header",
    [OPC_JWT_KID_MISSING] = "kid_missing",
    [OPC_JWT_KID_UNKNOWN] = "kid_unknown",
    [OPC_JWT_SIG_DER] = "sig_der",
    [OPC_JWT_SIG_LENGTH] = "sig_length",
    [OPC_JWT_SIG_R_ZERO] = "sig_r_zero",
    [OPC_JWT_SIG_S_ZERO] = "sig_s_zero",
    [OPC_JWT_SIG_R_RANGE] = "sig_r_range",
    [OPC_JWT_SIG_S_RANGE] = "sig_s_range",
    [OPC_JWT_SIG_HIGH_S] = "sig_high_s",
    [OPC_JWT_SIG_INVALID] = "sig_invalid",
    [OPC_JWT_PAYLOAD_JSON] = "payload_json",
    [OPC_JWT_PAYLOAD_DUPLICATE] = "payload_duplicate",
    [OPC_JWT_CLAIM_TYPE] = "claim_type",
    [OPC_JWT_CLAIM_MISSING] = "claim_missing",
    [OPC_JWT_AUD] = "aud",
    [OPC_JWT_SUB] = "sub",
    [OPC_JWT_AUUID] = "auuid",
    [OPC_JWT_EXPIRED] = "expired",
    [OPC_JWT_NOT_YET_VALID] = "not_yet_valid",
    [OPC_JWT_IAT_FUTURE] = "iat_future",
};

const char *opc__jwt_reason_name(opc__jwt_reason r)
{
    if ((unsigned)r < OPC_JWT_REASON_COUNT && reason_names[r] != NULL) {
        return reason_names[r];
    }
    return "unknown";
}

/* Header parameters that would let the token choose its own key or semantics. */
static const char *const forbidden_params[] = {"jku", "x5u", "x5c", "jwk", "crit", "zip"};

static const char *const segment_names[3] = {"header", "payload", "signature"};

/* ---- small helpers ---- */

/* Fail with OPC_ERR_TOKEN and reason r (always returns OPC_ERR_TOKEN). */
static opc_err reject(opc__ebuf *eb, opc__jwt_reason r, const char *fmt, ...) OPC_PRINTF(3, 4);

static opc_err reject(opc__ebuf *eb, opc__jwt_reason r, const char *fmt, ...)
{
    if (eb != NULL) {
        char msg[OPC_ERRBUF_SIZE];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (n < 0) {
            msg[0] = '\0';
        }
        (void)opc__fail_reason(eb, OPC_ERR_TOKEN, (int)r, "%s", msg);
    }
    return OPC_ERR_TOKEN;
}

/* Equality of public strings (names, ids, literals); never used on secrets. */
static bool str_eq(const char *a, const char *b)
{
    return strcmp(a, b) == 0; /* opc-public-compare */
}

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* Locale-free ASCII case-insensitive equality. */
static bool ascii_case_eq(const char *a, const char *b)
{
    for (;; a++, b++) {
        if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b)) {
            return false;
        }
        if (*a == '\0') {
            return true;
        }
    }
}

/*
 * A printable rendering of an attacker-chosen string (for example an alg
 * value) for error messages: at most cap - 1 characters of printable ASCII,
 * other bytes shown as '?', truncation marked by "...".
 */
static void sanitize(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    size_t limit = cap > 4 ? cap - 4 : 0;
    for (; n < limit && in[n] != '\0'; n++) {
        unsigned char c = (unsigned char)in[n];
        char shown = '?';
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            shown = (char)c;
        }
        out[n] = shown;
    }
    if (in[n] != '\0' && cap > 4) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

/* True if any object in the tree has two member names that are equal
 * ignoring ASCII case (which includes exact duplicates). */
static bool has_duplicate_names(const cJSON *node, int depth)
{
    if (node == NULL || depth > DUP_WALK_MAX_DEPTH) {
        return false;
    }
    if (cJSON_IsObject(node)) {
        for (const cJSON *a = node->child; a != NULL; a = a->next) {
            for (const cJSON *b = a->next; b != NULL; b = b->next) {
                if (a->string != NULL && b->string != NULL && ascii_case_eq(a->string, b->string)) {
                    return true;
                }
            }
        }
    }
    if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
        for (const cJSON *c = node->child; c != NULL; c = c->next) {
            if (has_duplicate_names(c, depth + 1)) {
                return true;
            }
        }
    }
    return false;
}

/*
 * After the strict parser refused buf, tell a duplicate-name problem from
 * other ones by parsing it again leniently (cJSON keeps duplicates). The
 * lenient tree only classifies the failure; it is wiped and discarded.
 */
static bool lenient_has_duplicates(const unsigned char *buf, size_t len)
{
    cJSON *tree = cJSON_ParseWithLength((const char *)buf, len);
    if (tree == NULL) {
        return false;
    }
    bool dup = has_duplicate_names(tree, 0);
    opc__json_delete_secret(tree);
    return dup;
}

/* Parse a decoded header or payload into a JSON object, classifying failures. */
static opc_err parse_object(const unsigned char *buf, size_t len, size_t max_size,
                            opc__jwt_reason r_json, opc__jwt_reason r_dup, const char *what,
                            cJSON **out, opc__ebuf *eb)
{
    opc__json_limits lim = {max_size, JSON_MAX_DEPTH};
    opc__ebuf jeb;
    opc__ebuf_clear(&jeb);
    cJSON *root = NULL;
    *out = NULL;
    opc_err rc = opc__json_parse((const char *)buf, len, &lim, &root, &jeb);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(eb, rc, "token %s: out of memory", what);
    }
    if (rc != OPC_OK) {
        if (lenient_has_duplicates(buf, len)) {
            return reject(eb, r_dup, "token %s has a duplicate or case-variant member name", what);
        }
        if (rc == OPC_ERR_TOO_LARGE) {
            return reject(eb, r_json, "token %s is too large or too deeply nested", what);
        }
        return reject(eb, r_json, "token %s is not valid JSON", what);
    }
    /* The strict parser already refuses duplicates; checking again is cheap. */
    if (has_duplicate_names(root, 0)) {
        opc__json_delete_secret(root);
        return reject(eb, r_dup, "token %s has a duplicate or case-variant member name", what);
    }
    if (!cJSON_IsObject(root)) {
        opc__json_delete_secret(root);
        return reject(eb, r_json, "token %s is not a JSON object", what);
    }
    *out = root;
    return OPC_OK;
}

/* ---- verification state ---- */

typedef struct vctx {
    const char *seg[3];
    size_t seg_len[3];
    unsigned char *dec[3]; /* decoded header, payload, signature */
    size_t dec_len[3];
    cJSON *header;
    cJSON *payload;
    const opc__key *key;
} vctx;

static void vctx_free(vctx *v)
{
    for (size_t i = 0; i < 3; i++) {
        opc__secret_free(v->dec[i], v->dec_len[i]);
        v->dec[i] = NULL;
    }
    opc__json_delete_secret(v->header);
    opc__json_delete_secret(v->payload);
    v->header = NULL;
    v->payload = NULL;
}

/* Unsigned "header.payload." with alg "none": name it (see the file comment). */
static bool unsigned_alg_none(const vctx *v)
{
    unsigned char *hdr = NULL;
    size_t hdr_len = 0;
    if (opc__b64_decode(v->seg[0], v->seg_len[0], OPC_B64URL, &hdr, &hdr_len, NULL) != OPC_OK) {
        return false;
    }
    cJSON *h = NULL;
    opc__json_limits lim = {HEADER_MAX_SIZE, JSON_MAX_DEPTH};
    bool none = false;
    if (opc__json_parse((const char *)hdr, hdr_len, &lim, &h, NULL) == OPC_OK) {
        const cJSON *alg = opc__json_member(h, "alg");
        none = cJSON_IsString(alg) && alg->valuestring != NULL &&
               ascii_case_eq(alg->valuestring, "none");
        cJSON_Delete(h);
    }
    opc__secret_free(hdr, hdr_len);
    return none;
}

/* Step 1: three non-empty segments, each strict base64url. */
static opc_err split_and_decode(const char *token, size_t len, vctx *v, opc__ebuf *eb)
{
    size_t n_seg = 1;
    for (size_t i = 0; i < len; i++) {
        if (token[i] == '.') {
            n_seg++;
        }
    }
    if (n_seg != 3) {
        return reject(eb, OPC_JWT_SEGMENTS,
                      "token has %zu dot-separated segments; a compact JWS has exactly 3", n_seg);
    }
    size_t start = 0;
    size_t k = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || token[i] == '.') {
            v->seg[k] = token + start;
            v->seg_len[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    for (size_t i = 0; i < 3; i++) {
        if (v->seg_len[i] == 0) {
            if (i == 2 && v->seg_len[0] > 0 && v->seg_len[1] > 0 && unsigned_alg_none(v)) {
                return reject(eb, OPC_JWT_ALG_NONE,
                              "token alg \"none\" is not accepted (unsigned token)");
            }
            return reject(eb, OPC_JWT_SEGMENTS, "token %s segment is empty", segment_names[i]);
        }
    }
    for (size_t i = 0; i < 3; i++) {
        opc_err rc =
            opc__b64_decode(v->seg[i], v->seg_len[i], OPC_B64URL, &v->dec[i], &v->dec_len[i], NULL);
        if (rc == OPC_ERR_NOMEM) {
            return opc__fail(eb, rc, "token %s: out of memory", segment_names[i]);
        }
        if (rc != OPC_OK) {
            v->dec[i] = NULL;
            v->dec_len[i] = 0;
            return reject(eb, OPC_JWT_BASE64,
                          "token %s segment is not strict base64url (no padding, URL alphabet, "
                          "canonical)",
                          segment_names[i]);
        }
    }
    return OPC_OK;
}

/* The alg check: a whitelist of exactly "ES256", with named rejections. */
static opc_err check_alg(const cJSON *h, opc__ebuf *eb)
{
    const cJSON *alg = opc__json_member(h, "alg");
    if (alg == NULL) {
        return reject(eb, OPC_JWT_ALG_UNSUPPORTED, "token alg is missing (only ES256 is accepted)");
    }
    if (!cJSON_IsString(alg) || alg->valuestring == NULL) {
        return reject(eb, OPC_JWT_ALG_UNSUPPORTED, "token alg must be the string \"ES256\"");
    }
    const char *a = alg->valuestring;
    if (str_eq(a, "ES256")) {
        return OPC_OK;
    }
    char shown[24];
    sanitize(a, shown, sizeof shown);
    if (ascii_case_eq(a, "none")) {
        return reject(eb, OPC_JWT_ALG_NONE, "token alg \"none\" is not accepted");
    }
    if (ascii_case_eq(a, "HS256") || ascii_case_eq(a, "HS384") || ascii_case_eq(a, "HS512")) {
        return reject(eb, OPC_JWT_ALG_HMAC, "token alg %s (HMAC) is not accepted; only ES256",
                      shown);
    }
    if (ascii_case_eq(a, "ES256")) {
        return reject(eb, OPC_JWT_ALG_CASE,
                      "token alg must be exactly \"ES256\" (got a case variant)");
    }
    return reject(eb, OPC_JWT_ALG_UNSUPPORTED, "token alg \"%s\" is not supported (only ES256)",
                  shown);
}

/* Step 2: alg, typ, forbidden parameters, kid pinned. */
static opc_err check_header(vctx *v, const opc__jwt_expect *expect, opc__jwt_claims *claims,
                            opc__ebuf *eb)
{
    opc_err rc = parse_object(v->dec[0], v->dec_len[0], HEADER_MAX_SIZE, OPC_JWT_HEADER_JSON,
                              OPC_JWT_HEADER_DUPLICATE, "header", &v->header, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    const cJSON *h = v->header;
    if (h == NULL) {
        return OPC_ERR_INTERNAL;
    }
    rc = check_alg(h, eb);
    if (rc != OPC_OK) {
        return rc;
    }

    const cJSON *typ = opc__json_member(h, "typ");
    if (typ == NULL) {
        return reject(eb, OPC_JWT_TYP, "token typ is missing (must be \"JWT\")");
    }
    if (!cJSON_IsString(typ) || typ->valuestring == NULL || !str_eq(typ->valuestring, "JWT")) {
        return reject(eb, OPC_JWT_TYP, "token typ must be exactly \"JWT\"");
    }

    /* Names are case-sensitive in JOSE; refusing case variants too costs nothing. */
    for (const cJSON *m = h->child; m != NULL; m = m->next) {
        for (size_t i = 0; m->string != NULL && i < OPC_ARRAY_LEN(forbidden_params); i++) {
            if (ascii_case_eq(m->string, forbidden_params[i])) {
                return reject(eb, OPC_JWT_FORBIDDEN_HEADER,
                              "token header parameter \"%s\" is not accepted (keys and "
                              "extensions never come from the token)",
                              forbidden_params[i]);
            }
        }
    }

    const cJSON *kid = opc__json_member(h, "kid");
    if (kid == NULL) {
        return reject(eb, OPC_JWT_KID_MISSING, "token kid is missing");
    }
    if (!cJSON_IsString(kid) || kid->valuestring == NULL || kid->valuestring[0] == '\0') {
        return reject(eb, OPC_JWT_KID_MISSING, "token kid must be a non-empty string");
    }
    const char *kid_s = kid->valuestring;
    size_t kid_len = strlen(kid_s);
    const opc__key *found = NULL;
    for (size_t i = 0; kid_len <= OPC_KID_MAX && i < expect->n_keys; i++) {
        const opc__key *pk = expect->keys[i];
        if (pk != NULL && str_eq(opc__key_kid(pk), kid_s)) {
            found = pk;
            break;
        }
    }
    if (found == NULL) {
        return reject(eb, OPC_JWT_KID_UNKNOWN, "token kid is not one of the pinned issuer keys");
    }
    if (opc__key_check(found, OPC_KTY_EC, OPC_KEYOP_VERIFY, NULL) != OPC_OK) {
        return reject(eb, OPC_JWT_KID_UNKNOWN,
                      "token kid names a pinned key that cannot verify ES256 signatures");
    }
    v->key = found;
    memcpy(claims->kid, kid_s, kid_len + 1);
    return OPC_OK;
}

/* True when sig[0..len) is exactly one DER ECDSA-Sig-Value. */
static bool is_der_signature(const unsigned char *sig, size_t len)
{
    if (len < 2 || sig[0] != 0x30 || len > OPC_JWT_MAX_LEN) {
        return false;
    }
    const unsigned char *p = sig;
    ERR_set_mark();
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
    ERR_pop_to_mark();
    bool der = s != NULL && p == sig + len;
    ECDSA_SIG_free(s);
    return der;
}

/* Step 3: 64 bytes, 1 <= r, s < n, s <= (n - 1) / 2, ECDSA verify == 1. */
static opc_err check_signature(const vctx *v, const char *token, opc__ebuf *eb)
{
    const unsigned char *sig = v->dec[2];
    size_t sig_len = v->dec_len[2];
    if (sig_len != OPC_ES256_SIG_LEN) {
        if (is_der_signature(sig, sig_len)) {
            return reject(eb, OPC_JWT_SIG_DER,
                          "token signature is DER-encoded; JWS needs raw r||s (64 bytes)");
        }
        return reject(eb, OPC_JWT_SIG_LENGTH,
                      "token signature is %zu bytes; ES256 needs exactly 64 (raw r||s)", sig_len);
    }
    switch (opc__ecdsa_check_range(sig)) {
    case OPC_ECDSA_RANGE_OK:
        break;
    case OPC_ECDSA_R_ZERO:
        return reject(eb, OPC_JWT_SIG_R_ZERO, "token signature r is zero");
    case OPC_ECDSA_S_ZERO:
        return reject(eb, OPC_JWT_SIG_S_ZERO, "token signature s is zero");
    case OPC_ECDSA_R_TOO_LARGE:
        return reject(eb, OPC_JWT_SIG_R_RANGE,
                      "token signature r is not below the P-256 group order");
    case OPC_ECDSA_S_TOO_LARGE:
        return reject(eb, OPC_JWT_SIG_S_RANGE,
                      "token signature s is not below the P-256 group order");
    default:
        return reject(eb, OPC_JWT_SIG_INVALID, "token signature is out of range");
    }
    /* One token, one spelling: (r, n - s) verifies as well as (r, s), so
     * only the low-S twin is accepted (our signer writes no other). */
    int low = opc__ecdsa_is_low_s(sig);
    if (low < 0) {
        return opc__fail(eb, OPC_ERR_CRYPTO, "token signature could not be checked");
    }
    if (low == 0) {
        return reject(eb, OPC_JWT_SIG_HIGH_S,
                      "token signature s is in the high-S form (above half the P-256 group "
                      "order); only the low-S form is accepted");
    }
    size_t input_len = v->seg_len[0] + 1 + v->seg_len[1];
    opc_err rc = opc__ecdsa_verify(v->key, token, input_len, sig, sig_len, NULL);
    if (rc == OPC_ERR_SIGNATURE) {
        return reject(eb, OPC_JWT_SIG_INVALID, "token signature does not verify");
    }
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "token signature could not be checked (%s)", opc_strerror(rc));
    }
    return OPC_OK;
}

/* ---- claims ---- */

/* An optional or required string claim of min..max bytes. *out NULL if absent. */
static opc_err claim_string(const cJSON *p, const char *name, bool required, size_t min, size_t max,
                            const char **out, opc__ebuf *eb)
{
    *out = NULL;
    const cJSON *m = opc__json_member(p, name);
    if (m == NULL) {
        if (required) {
            return reject(eb, OPC_JWT_CLAIM_MISSING, "token claim \"%s\" is missing", name);
        }
        return OPC_OK;
    }
    if (!cJSON_IsString(m) || m->valuestring == NULL) {
        return reject(eb, OPC_JWT_CLAIM_TYPE, "token claim \"%s\" must be a string", name);
    }
    size_t len = strlen(m->valuestring);
    if (len < min || len > max) {
        return reject(eb, OPC_JWT_CLAIM_TYPE, "token claim \"%s\" must be %zu to %zu bytes long",
                      name, min, max);
    }
    *out = m->valuestring;
    return OPC_OK;
}

/* A NumericDate: integral, >= 0, < 2^53. */
static opc_err claim_time(const cJSON *p, const char *name, bool required, int64_t *out,
                          bool *present, opc__ebuf *eb)
{
    *out = 0;
    *present = false;
    const cJSON *m = opc__json_member(p, name);
    if (m == NULL) {
        if (required) {
            return reject(eb, OPC_JWT_CLAIM_MISSING, "token claim \"%s\" is missing", name);
        }
        return OPC_OK;
    }
    int64_t val = 0;
    if (!cJSON_IsNumber(m) || !opc__json_is_int(m, &val) || val < 0 || val >= MAX_SAFE_INT) {
        return reject(eb, OPC_JWT_CLAIM_TYPE, "token claim \"%s\" must be an integer in [0, 2^53)",
                      name);
    }
    *out = val;
    *present = true;
    return OPC_OK;
}

/* aud: a string or an array of strings. *match tells whether want is among them. */
static opc_err claim_aud(const cJSON *p, const char *want, bool *match, opc__ebuf *eb)
{
    *match = false;
    const cJSON *aud = opc__json_member(p, "aud");
    if (aud == NULL) {
        if (want != NULL) {
            return reject(eb, OPC_JWT_CLAIM_MISSING, "token claim \"aud\" is missing");
        }
        return OPC_OK;
    }
    if (cJSON_IsString(aud) && aud->valuestring != NULL) {
        *match = want != NULL && str_eq(aud->valuestring, want);
        return OPC_OK;
    }
    if (!cJSON_IsArray(aud)) {
        return reject(eb, OPC_JWT_CLAIM_TYPE,
                      "token claim \"aud\" must be a string or an array of strings");
    }
    for (const cJSON *e = aud->child; e != NULL; e = e->next) {
        if (!cJSON_IsString(e) || e->valuestring == NULL) {
            return reject(eb, OPC_JWT_CLAIM_TYPE,
                          "token claim \"aud\" must be a string or an array of strings");
        }
        if (want != NULL && str_eq(e->valuestring, want)) {
            *match = true;
        }
    }
    return OPC_OK;
}

/* 1password.com/token: base64url of exactly 32 bytes, decoded into claims. */
static opc_err claim_token_secret(const cJSON *p, opc__jwt_claims *claims, opc__ebuf *eb)
{
    const char *name = "1password.com/token";
    const cJSON *m = opc__json_member(p, name);
    if (m == NULL) {
        return OPC_OK;
    }
    if (!cJSON_IsString(m) || m->valuestring == NULL) {
        return reject(eb, OPC_JWT_CLAIM_TYPE, "token claim \"%s\" must be a string", name);
    }
    size_t n = 0;
    opc_err rc = opc__b64_decode_to(m->valuestring, strlen(m->valuestring), OPC_B64URL,
                                    claims->token_secret, sizeof claims->token_secret, &n, NULL);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(eb, rc, "token claim \"%s\": out of memory", name);
    }
    if (rc != OPC_OK || n != sizeof claims->token_secret) {
        opc__wipe(claims->token_secret, sizeof claims->token_secret);
        return reject(eb, OPC_JWT_CLAIM_TYPE,
                      "token claim \"%s\" must be unpadded base64url of 32 bytes", name);
    }
    claims->has_token_secret = true;
    return OPC_OK;
}

/* 1password.com/fts: an array of strings; the ones the server knows set
 * their OPC_JWT_FT_* bit (matched exactly: the claim is signed as issued). */
static opc_err claim_features(const cJSON *p, unsigned *features, opc__ebuf *eb)
{
    *features = 0;
    const char *name = "1password.com/fts";
    const cJSON *m = opc__json_member(p, name);
    if (m == NULL) {
        return OPC_OK;
    }
    if (!cJSON_IsArray(m)) {
        return reject(eb, OPC_JWT_CLAIM_TYPE, "token claim \"%s\" must be an array of strings",
                      name);
    }
    for (const cJSON *e = m->child; e != NULL; e = e->next) {
        if (!cJSON_IsString(e) || e->valuestring == NULL) {
            return reject(eb, OPC_JWT_CLAIM_TYPE, "token claim \"%s\" must be an array of strings",
                          name);
        }
        if (strcmp(e->valuestring, OPC_JWT_FEATURE_ACTIVITY_LOG) == 0) { /* opc-public-compare */
            *features |= OPC_JWT_FT_ACTIVITY_LOG;
        }
    }
    return OPC_OK;
}

/* One {"u": vault id, "a": acl} entry of 1password.com/vts. */
static opc_err claim_vault(const cJSON *e, size_t idx, opc__jwt_vault *out, opc__ebuf *eb)
{
    const char *name = "1password.com/vts";
    if (!cJSON_IsObject(e)) {
        return reject(eb, OPC_JWT_CLAIM_TYPE, "token claim \"%s\" entry %zu must be an object",
                      name, idx);
    }
    const cJSON *u = NULL;
    const cJSON *a = NULL;
    for (const cJSON *m = e->child; m != NULL; m = m->next) {
        if (m->string != NULL && str_eq(m->string, "u")) {
            u = m;
        } else if (m->string != NULL && str_eq(m->string, "a")) {
            a = m;
        } else {
            return reject(eb, OPC_JWT_CLAIM_TYPE,
                          "token claim \"%s\" entry %zu may only have \"u\" and \"a\"", name, idx);
        }
    }
    if (u == NULL || a == NULL) {
        return reject(eb, OPC_JWT_CLAIM_TYPE, "token claim \"%s\" entry %zu needs \"u\" and \"a\"",
                      name, idx);
    }
    if (!cJSON_IsString(u) || u->valuestring == NULL || strlen(u->valuestring) != OPC_ID_LEN) {
        return reject(eb, OPC_JWT_CLAIM_TYPE,
                      "token claim \"%s\" entry %zu: \"u\" must be a 26-character vault id", name,
                      idx);
    }
    for (size_t i = 0; i < OPC_ID_LEN; i++) {
        out->vault[i] = (char)ascii_lower((unsigned char)u->valuestring[i]);
    }
    out->vault[OPC_ID_LEN] = '\0';
    if (!opc__id_valid(out->vault, OPC_ID_LEN)) {
        return reject(eb, OPC_JWT_CLAIM_TYPE,
                      "token claim \"%s\" entry %zu: \"u\" is not a valid vault id", name, idx);
    }
    int64_t acl = 0;
    if (!cJSON_IsNumber(a) || !opc__json_is_int(a, &acl) || acl < 0 ||
        (acl & ~(int64_t)(OPC_ACL_READ | OPC_ACL_WRITE)) != 0) {
        return reject(eb, OPC_JWT_CLAIM_TYPE,
                      "token claim \"%s\" entry %zu: \"a\" must be an integer of bits 1 (read) "
                      "and 2 (write)",
                      name, idx);
    }
    out->acl = (unsigned)acl;
    return OPC_OK;
}

/* 1password.com/vts: at most OPC_JWT_MAX_VAULTS entries, no vault twice. */
static opc_err claim_vaults(const cJSON *p, opc__jwt_claims *claims, opc__ebuf *eb)
{
    const char *name = "1password.com/vts";
    const cJSON *m = opc__json_member(p, name);
    if (m == NULL) {
        return OPC_OK;
    }
    if (!cJSON_IsArray(m)) {
        return reject(eb, OPC_JWT_CLAIM_TYPE, "token claim \"%s\" must be an array", name);
    }
    size_t n = 0;
    for (const cJSON *e = m->child; e != NULL; e = e->next, n++) {
        if (n >= OPC_JWT_MAX_VAULTS) {
            return reject(eb, OPC_JWT_CLAIM_TYPE, "token claim \"%s\" lists more than %d vaults",
                          name, OPC_JWT_MAX_VAULTS);
        }
        opc_err rc = claim_vault(e, n, &claims->vaults[n], eb);
        if (rc != OPC_OK) {
            return rc;
        }
        for (size_t j = 0; j < n; j++) {
            if (str_eq(claims->vaults[j].vault, claims->vaults[n].vault)) {
                return reject(eb, OPC_JWT_CLAIM_TYPE,
                              "token claim \"%s\" lists the same vault twice", name);
            }
        }
    }
    claims->n_vaults = n;
    return OPC_OK;
}

static void copy_claim(char *dst, size_t cap, const char *src)
{
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1; /* unreachable: lengths were checked */
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Step 4: types and presence of every claim first, then their values. */
static opc_err check_claims(vctx *v, const opc__jwt_expect *expect, opc__jwt_claims *claims,
                            opc__ebuf *eb)
{
    opc_err rc = parse_object(v->dec[1], v->dec_len[1], OPC_JWT_MAX_LEN, OPC_JWT_PAYLOAD_JSON,
                              OPC_JWT_PAYLOAD_DUPLICATE, "payload", &v->payload, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    const cJSON *p = v->payload;
    if (p == NULL) {
        return OPC_ERR_INTERNAL;
    }

    bool aud_match = false;
    const char *sub = NULL;
    const char *auuid = NULL;
    const char *jti = NULL;
    const char *iss = NULL;
    bool has_iat = false;
    bool has_nbf = false;

    rc = claim_aud(p, expect->audience, &aud_match, eb);
    if (rc == OPC_OK) {
        rc = claim_string(p, "sub", expect->sub != NULL, 1, CLAIM_ID_MAX, &sub, eb);
    }
    if (rc == OPC_OK) {
        rc = claim_string(p, "1password.com/auuid", expect->auuid != NULL, 1, CLAIM_ID_MAX, &auuid,
                          eb);
    }
    if (rc == OPC_OK) {
        rc = claim_string(p, "jti", true, 1, CLAIM_ID_MAX, &jti, eb);
    }
    if (rc == OPC_OK) {
        rc = claim_string(p, "iss", false, 1, CLAIM_ISS_MAX, &iss, eb);
    }
    if (rc == OPC_OK) {
        rc = claim_time(p, "iat", true, &claims->iat, &has_iat, eb);
    }
    if (rc == OPC_OK) {
        rc = claim_time(p, "nbf", false, &claims->nbf, &has_nbf, eb);
    }
    if (rc == OPC_OK) {
        rc = claim_time(p, "exp", false, &claims->exp, &claims->has_exp, eb);
    }
    if (rc == OPC_OK) {
        rc = claim_token_secret(p, claims, eb);
    }
    if (rc == OPC_OK) {
        rc = claim_features(p, &claims->features, eb);
    }
    if (rc == OPC_OK) {
        rc = claim_vaults(p, claims, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }

    if (expect->audience != NULL && !aud_match) {
        return reject(eb, OPC_JWT_AUD, "token audience does not include this server's audience");
    }
    if (expect->sub != NULL && !str_eq(sub, expect->sub)) {
        return reject(eb, OPC_JWT_SUB, "token sub is not this Connect server");
    }
    if (expect->auuid != NULL && !str_eq(auuid, expect->auuid)) {
        return reject(eb, OPC_JWT_AUUID, "token 1password.com/auuid is not this account");
    }
    /* now, leeway < 2^62 + 2^31 and claims < 2^53: no overflow below. */
    int64_t late = expect->now + expect->leeway;
    int64_t early = expect->now - expect->leeway;
    if (claims->iat > late) {
        return reject(eb, OPC_JWT_IAT_FUTURE, "token iat is in the future (beyond the leeway)");
    }
    if (has_nbf && claims->nbf > late) {
        return reject(eb, OPC_JWT_NOT_YET_VALID, "token is not valid yet (nbf)");
    }
    if (claims->has_exp && claims->exp <= early) {
        return reject(eb, OPC_JWT_EXPIRED, "token is expired (exp)");
    }

    copy_claim(claims->sub, sizeof claims->sub, sub);
    copy_claim(claims->auuid, sizeof claims->auuid, auuid);
    copy_claim(claims->jti, sizeof claims->jti, jti);
    copy_claim(claims->iss, sizeof claims->iss, iss);
    return OPC_OK;
}

opc_err opc__jwt_verify(const char *token, size_t len, const opc__jwt_expect *expect,
                        opc__jwt_claims *claims, opc__ebuf *eb)
{
    opc__ebuf_clear(eb);
    if (claims != NULL) {
        opc__wipe(claims, sizeof *claims);
    }
    if (token == NULL || expect == NULL || claims == NULL ||
        (expect->keys == NULL && expect->n_keys > 0)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "jwt verify: NULL argument");
    }
    if (expect->now < 0 || expect->now > MAX_NOW || expect->leeway < 0 ||
        expect->leeway > MAX_LEEWAY) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "jwt verify: now or leeway out of range");
    }
    if (len > OPC_JWT_MAX_LEN) {
        return reject(eb, OPC_JWT_TOO_LONG, "token is longer than %d bytes", OPC_JWT_MAX_LEN);
    }

    vctx v;
    memset(&v, 0, sizeof v);
    opc_err rc = split_and_decode(token, len, &v, eb);
    if (rc == OPC_OK) {
        rc = check_header(&v, expect, claims, eb);
    }
    if (rc == OPC_OK) {
        rc = check_signature(&v, token, eb);
    }
    if (rc == OPC_OK) {
        rc = check_claims(&v, expect, claims, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__sha256(v.seg[2], v.seg_len[2], claims->sig_hash);
        if (rc != OPC_OK) {
            rc = opc__fail(eb, rc, "token signature hash failed");
        }
    }
    vctx_free(&v);
    if (rc != OPC_OK) {
        opc__wipe(claims, sizeof *claims);
        return rc;
    }
    if (eb != NULL) {
        eb->reason = OPC_JWT_OK;
    }
    return OPC_OK;
}

/* ---- signing ---- */

opc_err opc__jws_sign_es256(const opc__key *k, const char *header_json, const char *payload_json,
                            char **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (k == NULL || header_json == NULL || payload_json == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc = opc__key_check(k, OPC_KTY_EC, OPC_KEYOP_SIGN, NULL);
    if (rc != OPC_OK) {
        return rc;
    }
    size_t h_len = strlen(header_json);
    size_t p_len = strlen(payload_json);
    if (h_len > SIZE_MAX / 4 || p_len > SIZE_MAX / 4) {
        return OPC_ERR_TOO_LARGE;
    }
    size_t h64 = opc__b64_encoded_len(h_len, OPC_B64URL);
    size_t p64 = opc__b64_encoded_len(p_len, OPC_B64URL);
    size_t s64 = opc__b64_encoded_len(OPC_ES256_SIG_LEN, OPC_B64URL);
    size_t total = h64 + 1 + p64 + 1 + s64 + 1;
    char *buf = opc__malloc(total);
    if (buf == NULL) {
        return OPC_ERR_NOMEM;
    }
    uint8_t sig[OPC_ES256_SIG_LEN];
    size_t n = 0;
    size_t pos = 0;
    rc = opc__b64_encode_to(header_json, h_len, OPC_B64URL, buf, total, &n);
    if (rc == OPC_OK) {
        pos = n;
        buf[pos++] = '.';
        rc = opc__b64_encode_to(payload_json, p_len, OPC_B64URL, buf + pos, total - pos, &n);
    }
    if (rc == OPC_OK) {
        pos += n;
        rc = opc__ecdsa_sign(k, buf, pos, sig);
    }
    if (rc == OPC_OK) {
        buf[pos++] = '.';
        rc = opc__b64_encode_to(sig, sizeof sig, OPC_B64URL, buf + pos, total - pos, &n);
    }
    opc__wipe(sig, sizeof sig);
    if (rc != OPC_OK) {
        opc__secret_free(buf, total);
        return rc;
    }
    *out = buf;
    return OPC_OK;
}
