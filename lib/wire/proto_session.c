/*
 * wire/proto_session.c - the account protocol's session handshake (hello
 * and welcome, their transcripts T1 and T2, the session keys) and the MACs
 * of requests and answers (proto.h; docs/protocol.md, "Connect-server
 * sessions" and "Signed requests and answers").
 */
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/rand.h"
#include "crypto/base64.h"
#include "crypto/ecdsa.h"
#include "crypto/kdf.h"
#include "wire/proto.h"

/* Largest integer of a message (2^53 - 1: exact in a JSON number). */
#define INT_MAX53 INT64_C(9007199254740991)
#define NONCE_LEN 16

static const char t1_label[] = "opconnect/connect-session/v1";

/* A decoder's refusal is OPC_ERR_PARSE whatever the helper said (its
 * message names the member), but for a failed allocation. */
static opc_err as_parse(opc_err rc)
{
    return (rc == OPC_OK || rc == OPC_ERR_NOMEM) ? rc : OPC_ERR_PARSE;
}

/* ---- members ---- */

/* "v": exactly the integer 1. */
static opc_err get_version(const cJSON *j, const char *what, opc__ebuf *eb)
{
    int64_t v = 0;
    opc_err rc = opc__json_get_int(j, "v", true, what, 0, INT_MAX53, &v, eb);
    if (rc != OPC_OK) {
        return as_parse(rc);
    }
    if (v != OPC_PROTO_VERSION) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"v\" must be %d", what, OPC_PROTO_VERSION);
    }
    return OPC_OK;
}

/* A string member of exactly b64_len base64url characters decoding to
 * raw_len bytes (into raw when non-NULL), copied into out[b64_len + 1]. */
static opc_err get_b64(const cJSON *j, const char *name, const char *what, size_t b64_len,
                       size_t raw_len, char *out, uint8_t *raw, opc__ebuf *eb)
{
    const char *s = NULL;
    opc_err rc = opc__json_get_str(j, name, true, what, &s, eb);
    if (rc != OPC_OK) {
        return as_parse(rc);
    }
    uint8_t tmp[OPC_ECDH_POINT_LEN]; /* the largest member: a point */
    size_t n = 0;
    if (strlen(s) != b64_len || raw_len > sizeof tmp ||
        opc__b64_decode_to(s, b64_len, OPC_B64URL, tmp, sizeof tmp, &n, NULL) != OPC_OK ||
        n != raw_len) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" must be base64url of %zu bytes", what, name,
                         raw_len);
    }
    memcpy(out, s, b64_len + 1);
    if (raw != NULL) {
        memcpy(raw, tmp, raw_len);
    }
    return OPC_OK;
}

static opc_err get_id(const cJSON *j, const char *name, const char *what, char out[OPC_ID_LEN + 1],
                      opc__ebuf *eb)
{
    const char *s = NULL;
    opc_err rc = opc__json_get_str(j, name, true, what, &s, eb);
    if (rc != OPC_OK) {
        return as_parse(rc);
    }
    if (!opc__id_valid_str(s)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" must be an id", what, name);
    }
    memcpy(out, s, OPC_ID_LEN + 1);
    return OPC_OK;
}

/* Decode a fixed b64url text we hold (already checked) into raw[raw_len]. */
static opc_err unb64(const char *s, size_t b64_len, uint8_t *raw, size_t raw_len)
{
    size_t n = 0;
    if (strlen(s) != b64_len ||
        opc__b64_decode_to(s, b64_len, OPC_B64URL, raw, raw_len, &n, NULL) != OPC_OK ||
        n != raw_len) {
        return OPC_ERR_PARSE;
    }
    return OPC_OK;
}

/* The members of a hello are what its decoder accepts (encode and the
 * transcript rely on it: no LF in any of them). */
static bool hello_valid(const opc__proto_hello *h)
{
    uint8_t nonce[NONCE_LEN];
    uint8_t eph[OPC_ECDH_POINT_LEN];
    uint8_t sig[OPC_ES256_SIG_LEN];
    return opc__id_valid_str(h->account) && opc__id_valid_str(h->server) && h->ts_ms >= 0 &&
           h->ts_ms <= INT_MAX53 &&
           unb64(h->nonce, OPC_PROTO_NONCE_B64, nonce, sizeof nonce) == OPC_OK &&
           unb64(h->eph, OPC_PROTO_POINT_B64, eph, sizeof eph) == OPC_OK &&
           unb64(h->sig, OPC_PROTO_SIG_B64, sig, sizeof sig) == OPC_OK;
}

static bool welcome_valid(const opc__proto_welcome *w)
{
    uint8_t sid[NONCE_LEN];
    uint8_t eph[OPC_ECDH_POINT_LEN];
    uint8_t sig[OPC_ES256_SIG_LEN];
    return w->expires >= 0 && w->expires <= INT_MAX53 && opc__key_type(w->key) == OPC_KTY_EC &&
           unb64(w->session, OPC_PROTO_NONCE_B64, sid, sizeof sid) == OPC_OK &&
           unb64(w->eph, OPC_PROTO_POINT_B64, eph, sizeof eph) == OPC_OK &&
           unb64(w->sig, OPC_PROTO_SIG_B64, sig, sizeof sig) == OPC_OK;
}

/* ---- transcripts and keys ---- */

/* T1 = label LF A LF S LF ts LF nonce LF eph; with sid (non-NULL) also
 * T2 = T1 LF sid LF E LF eph_s. A new string in *out (opc__free). */
static opc_err transcript(const opc__proto_hello *h, const char *sid, int64_t expires,
                          const char *eph_s, char **out, size_t *out_len)
{
    opc__buf b;
    opc__buf_init(&b, false);
    (void)opc__buf_appendf(&b, "%s\n%s\n%s\n%" PRId64 "\n%s\n%s", t1_label, h->account, h->server,
                           h->ts_ms, h->nonce, h->eph);
    if (sid != NULL) {
        (void)opc__buf_appendf(&b, "\n%s\n%" PRId64 "\n%s", sid, expires, eph_s);
    }
    opc_err rc = opc__buf_err(&b);
    if (rc != OPC_OK) {
        opc__buf_free(&b);
        return rc;
    }
    *out = opc__buf_detach(&b, out_len);
    return OPC_OK;
}

opc_err opc__proto_session_keys(const uint8_t *ikm, size_t ikm_len, const char *transcript,
                                size_t transcript_len, const char *info, opc__proto_keys *keys)
{
    uint8_t salt[OPC_SHA256_LEN];
    uint8_t k[64];
    opc_err rc = opc__sha256(transcript, transcript_len, salt);
    if (rc == OPC_OK) {
        rc = opc__hkdf_sha256(ikm, ikm_len, salt, sizeof salt, info, strlen(info), k, sizeof k);
    }
    if (rc == OPC_OK) {
        memcpy(keys->k_req, k, 32);
        memcpy(keys->k_res, k + 32, 32);
    }
    OPENSSL_cleanse(k, sizeof k);
    return rc;
}

/* K = HKDF-SHA256(Z, SHA-256(T2), info, 64): k_req, k_res. */
static opc_err session_keys(const uint8_t z[OPC_ECDH_SECRET_LEN], const char *t2, size_t t2_len,
                            opc__proto_keys *keys)
{
    return opc__proto_session_keys(z, OPC_ECDH_SECRET_LEN, t2, t2_len, OPC_PROTO_KEYS_INFO_CONNECT,
                                   keys);
}

/* Sign text with key and put the b64url signature in out[OPC_PROTO_SIG_B64 + 1]. */
static opc_err sign_b64(const opc__key *key, const char *text, size_t len, char *out)
{
    uint8_t sig[OPC_ES256_SIG_LEN];
    opc_err rc = opc__ecdsa_sign(key, text, len, sig);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(sig, sizeof sig, OPC_B64URL, out, OPC_PROTO_SIG_B64 + 1, NULL);
    }
    return rc;
}

static opc_err verify_b64(const opc__key *key, const char *text, size_t len, const char *sig_b64,
                          opc__ebuf *eb)
{
    uint8_t sig[OPC_ES256_SIG_LEN];
    if (unb64(sig_b64, OPC_PROTO_SIG_B64, sig, sizeof sig) != OPC_OK) {
        return opc__fail(eb, OPC_ERR_SIGNATURE, "the signature is not an ES256 signature");
    }
    return opc__ecdsa_verify(key, text, len, sig, sizeof sig, eb);
}

/* ---- hello ---- */

opc_err opc__proto_hello_make(const char *account, const char *server, const opc__key *device_key,
                              int64_t now_ms, opc__proto_hello *out, opc__key **eph_priv,
                              opc__ebuf *eb)
{
    if (out == NULL || eph_priv == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "hello: no output");
    }
    *eph_priv = NULL;
    memset(out, 0, sizeof *out);
    if (account == NULL || server == NULL || !opc__id_valid_str(account) ||
        !opc__id_valid_str(server)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "hello: the account and server must be ids");
    }
    if (now_ms < 0 || now_ms > INT_MAX53) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "hello: the time is out of range");
    }
    opc_err rc = opc__key_check(device_key, OPC_KTY_EC, OPC_KEYOP_SIGN, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    memcpy(out->account, account, OPC_ID_LEN + 1);
    memcpy(out->server, server, OPC_ID_LEN + 1);
    out->ts_ms = now_ms;

    uint8_t nonce[NONCE_LEN];
    uint8_t point[OPC_ECDH_POINT_LEN];
    opc__key *eph = NULL;
    char *t1 = NULL;
    size_t t1_len = 0;
    rc = opc__rand_bytes(nonce, sizeof nonce);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(nonce, sizeof nonce, OPC_B64URL, out->nonce, sizeof out->nonce,
                                NULL);
    }
    if (rc == OPC_OK) {
        rc = opc__ecdh_generate(&eph, point);
    }
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(point, sizeof point, OPC_B64URL, out->eph, sizeof out->eph, NULL);
    }
    if (rc == OPC_OK) {
        rc = transcript(out, NULL, 0, NULL, &t1, &t1_len);
    }
    if (rc == OPC_OK) {
        rc = sign_b64(device_key, t1, t1_len, out->sig);
    }
    opc__free(t1);
    if (rc != OPC_OK) {
        opc__key_free(eph);
        memset(out, 0, sizeof *out);
        return opc__fail(eb, rc, "hello: could not make the handshake (%s)", opc_errname(rc));
    }
    *eph_priv = eph;
    return OPC_OK;
}

opc_err opc__proto_hello_encode(const opc__proto_hello *h, cJSON **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (h == NULL || !hello_valid(h)) {
        return OPC_ERR_INVALID_ARG;
    }
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddNumberToObject(o, "v", OPC_PROTO_VERSION) == NULL ||
        cJSON_AddStringToObject(o, "account", h->account) == NULL ||
        cJSON_AddStringToObject(o, "server", h->server) == NULL ||
        cJSON_AddNumberToObject(o, "ts", (double)h->ts_ms) == NULL ||
        cJSON_AddStringToObject(o, "nonce", h->nonce) == NULL ||
        cJSON_AddStringToObject(o, "eph", h->eph) == NULL ||
        cJSON_AddStringToObject(o, "sig", h->sig) == NULL) {
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__proto_hello_decode(const cJSON *j, opc__proto_hello *out, opc__ebuf *eb)
{
    static const char what[] = "malformed hello";
    if (out == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "%s: no output", what);
    }
    opc__proto_hello h;
    memset(&h, 0, sizeof h);
    if (!cJSON_IsObject(j)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: not an object", what);
    }
    opc_err rc = get_version(j, what, eb);
    if (rc == OPC_OK) {
        rc = get_id(j, "account", what, h.account, eb);
    }
    if (rc == OPC_OK) {
        rc = get_id(j, "server", what, h.server, eb);
    }
    if (rc == OPC_OK) {
        rc = as_parse(opc__json_get_int(j, "ts", true, what, 0, INT_MAX53, &h.ts_ms, eb));
    }
    if (rc == OPC_OK) {
        rc = get_b64(j, "nonce", what, OPC_PROTO_NONCE_B64, NONCE_LEN, h.nonce, NULL, eb);
    }
    if (rc == OPC_OK) {
        rc = get_b64(j, "eph", what, OPC_PROTO_POINT_B64, OPC_ECDH_POINT_LEN, h.eph, NULL, eb);
    }
    if (rc == OPC_OK) {
        rc = get_b64(j, "sig", what, OPC_PROTO_SIG_B64, OPC_ES256_SIG_LEN, h.sig, NULL, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    *out = h;
    return OPC_OK;
}

opc_err opc__proto_hello_verify(const opc__proto_hello *h, const opc__key *device_pub,
                                int64_t now_ms, opc__ebuf *eb)
{
    if (h == NULL || !hello_valid(h)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "hello: not a decoded hello");
    }
    if (now_ms < 0 || now_ms > INT_MAX53) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "hello: the time is out of range");
    }
    int64_t skew = now_ms - h->ts_ms; /* both within [0, 2^53): no overflow */
    if (skew > OPC_PROTO_SKEW_MS || skew < -OPC_PROTO_SKEW_MS) {
        return opc__fail(eb, OPC_ERR_RANGE,
                         "hello of server %s: its time is more than %d s from ours", h->server,
                         OPC_PROTO_SKEW_MS / 1000);
    }
    opc_err rc = opc__key_check(device_pub, OPC_KTY_EC, OPC_KEYOP_VERIFY, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char *t1 = NULL;
    size_t t1_len = 0;
    rc = transcript(h, NULL, 0, NULL, &t1, &t1_len);
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "hello: out of memory");
    }
    rc = verify_b64(device_pub, t1, t1_len, h->sig, NULL);
    opc__free(t1);
    if (rc != OPC_OK) {
        return opc__fail(eb, OPC_ERR_SIGNATURE,
                         "hello of server %s: the signature does not verify under its device key",
                         h->server);
    }
    return OPC_OK;
}

/* ---- welcome ---- */

opc_err opc__proto_welcome_make(const opc__proto_hello *h, const opc__key *server_key,
                                int64_t expires, opc__proto_welcome *out, opc__proto_keys *keys,
                                opc__ebuf *eb)
{
    if (out == NULL || keys == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "welcome: no output");
    }
    memset(out, 0, sizeof *out);
    if (h == NULL || !hello_valid(h)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "welcome: not a decoded hello");
    }
    if (expires < 0 || expires > INT_MAX53) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "welcome: the expiry is out of range");
    }
    opc_err rc = opc__key_check(server_key, OPC_KTY_EC, OPC_KEYOP_SIGN, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    uint8_t peer[OPC_ECDH_POINT_LEN];
    uint8_t point[OPC_ECDH_POINT_LEN];
    uint8_t sid[NONCE_LEN];
    uint8_t z[OPC_ECDH_SECRET_LEN];
    opc__key *eph = NULL;
    char *t2 = NULL;
    size_t t2_len = 0;
    opc__proto_welcome w;
    memset(&w, 0, sizeof w);
    w.expires = expires;
    rc = unb64(h->eph, OPC_PROTO_POINT_B64, peer, sizeof peer);
    if (rc != OPC_OK) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "welcome: not a decoded hello");
    }
    rc = opc__ecdh_generate(&eph, point);
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "welcome: could not make an ephemeral key");
    }
    /* The client's point: refused here (OPC_ERR_KEY) when not on P-256. */
    rc = opc__ecdh_derive(eph, peer, sizeof peer, z, eb);
    opc__key_free(eph);
    if (rc != OPC_OK) {
        opc__ebuf_prefix(eb, "hello of server %s", h->server);
        return rc;
    }
    rc = opc__b64_encode_to(point, sizeof point, OPC_B64URL, w.eph, sizeof w.eph, NULL);
    if (rc == OPC_OK) {
        rc = opc__rand_bytes(sid, sizeof sid);
    }
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(sid, sizeof sid, OPC_B64URL, w.session, sizeof w.session, NULL);
    }
    if (rc == OPC_OK) {
        rc = transcript(h, w.session, w.expires, w.eph, &t2, &t2_len);
    }
    if (rc == OPC_OK) {
        rc = sign_b64(server_key, t2, t2_len, w.sig);
    }
    if (rc == OPC_OK) {
        rc = opc__key_public(server_key, &w.key);
    }
    if (rc == OPC_OK) {
        rc = session_keys(z, t2, t2_len, keys);
    }
    OPENSSL_cleanse(z, sizeof z);
    opc__free(t2);
    if (rc != OPC_OK) {
        opc__key_free(w.key);
        OPENSSL_cleanse(keys, sizeof *keys);
        return opc__fail(eb, rc, "welcome: could not make the answer (%s)", opc_errname(rc));
    }
    *out = w;
    return OPC_OK;
}

opc_err opc__proto_welcome_encode(const opc__proto_welcome *w, cJSON **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (w == NULL || !welcome_valid(w)) {
        return OPC_ERR_INVALID_ARG;
    }
    cJSON *jwk = NULL;
    opc_err rc = opc__jwk_export(w->key, false, &jwk);
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddNumberToObject(o, "v", OPC_PROTO_VERSION) == NULL ||
        cJSON_AddStringToObject(o, "session", w->session) == NULL ||
        cJSON_AddNumberToObject(o, "expires", (double)w->expires) == NULL ||
        cJSON_AddStringToObject(o, "eph", w->eph) == NULL ||
        !cJSON_AddItemToObject(o, "key", jwk)) {
        cJSON_Delete(jwk);
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    if (cJSON_AddStringToObject(o, "sig", w->sig) == NULL) {
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    *out = o;
    return OPC_OK;
}

opc_err opc__proto_welcome_decode(const cJSON *j, opc__proto_welcome *out, opc__ebuf *eb)
{
    static const char what[] = "malformed welcome";
    if (out == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "%s: no output", what);
    }
    memset(out, 0, sizeof *out);
    opc__proto_welcome w;
    memset(&w, 0, sizeof w);
    if (!cJSON_IsObject(j)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: not an object", what);
    }
    opc_err rc = get_version(j, what, eb);
    if (rc == OPC_OK) {
        rc = get_b64(j, "session", what, OPC_PROTO_NONCE_B64, NONCE_LEN, w.session, NULL, eb);
    }
    if (rc == OPC_OK) {
        rc = as_parse(opc__json_get_int(j, "expires", true, what, 0, INT_MAX53, &w.expires, eb));
    }
    if (rc == OPC_OK) {
        rc = get_b64(j, "eph", what, OPC_PROTO_POINT_B64, OPC_ECDH_POINT_LEN, w.eph, NULL, eb);
    }
    if (rc == OPC_OK) {
        rc = get_b64(j, "sig", what, OPC_PROTO_SIG_B64, OPC_ES256_SIG_LEN, w.sig, NULL, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    const cJSON *jwk = opc__json_member(j, "key");
    if (jwk == NULL) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: missing \"key\"", what);
    }
    rc = opc__jwk_import(jwk, OPC_JWK_PUBLIC_ONLY, &w.key, NULL);
    if (rc == OPC_ERR_NOMEM) {
        return rc;
    }
    if (rc != OPC_OK || opc__key_type(w.key) != OPC_KTY_EC ||
        opc__key_check(w.key, OPC_KTY_EC, OPC_KEYOP_VERIFY, NULL) != OPC_OK) {
        opc__key_free(w.key);
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"key\" must be a public P-256 verification JWK",
                         what);
    }
    *out = w;
    return OPC_OK;
}

opc_err opc__proto_welcome_verify(const opc__proto_hello *h, const opc__proto_welcome *w,
                                  const char *pin, const opc__key *eph_priv, opc__proto_keys *keys,
                                  opc__ebuf *eb)
{
    if (keys == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "welcome: no output");
    }
    if (h == NULL || w == NULL || !hello_valid(h) || !welcome_valid(w)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "welcome: not a decoded handshake");
    }
    if (pin == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "welcome: no pin");
    }
    char tp[OPC_PROTO_HASH_B64 + 1];
    opc_err rc = opc__proto_pin(w->key, tp);
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "welcome: could not compute the key's thumbprint");
    }
    if (!opc__proto_mac_equal(tp, pin)) {
        return opc__fail(eb, OPC_ERR_SIGNATURE,
                         "the account server's key is not the one the credentials pin");
    }
    char *t2 = NULL;
    size_t t2_len = 0;
    rc = transcript(h, w->session, w->expires, w->eph, &t2, &t2_len);
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "welcome: out of memory");
    }
    rc = verify_b64(w->key, t2, t2_len, w->sig, NULL);
    if (rc != OPC_OK) {
        opc__free(t2);
        return opc__fail(eb, OPC_ERR_SIGNATURE,
                         "the account server's handshake signature does not verify");
    }
    uint8_t peer[OPC_ECDH_POINT_LEN];
    uint8_t z[OPC_ECDH_SECRET_LEN];
    rc = unb64(w->eph, OPC_PROTO_POINT_B64, peer, sizeof peer);
    if (rc == OPC_OK) {
        rc = opc__ecdh_derive(eph_priv, peer, sizeof peer, z, eb);
    }
    if (rc == OPC_OK) {
        rc = session_keys(z, t2, t2_len, keys);
        if (rc != OPC_OK) {
            OPENSSL_cleanse(keys, sizeof *keys);
            (void)opc__fail(eb, rc, "welcome: could not derive the session keys");
        }
    }
    OPENSSL_cleanse(z, sizeof z);
    opc__free(t2);
    return rc;
}

void opc__proto_welcome_clear(opc__proto_welcome *w)
{
    if (w == NULL) {
        return;
    }
    opc__key_free(w->key);
    memset(w, 0, sizeof *w);
}

opc_err opc__proto_pin(const opc__key *k, char out[OPC_PROTO_HASH_B64 + 1])
{
    return opc__jwk_thumbprint(k, out);
}

/* ---- MACs ---- */

/* HMAC-SHA256(key, text) where text = label LF sid LF n LF <middle> LF
 * b64url(SHA-256(body)); b64url into out. */
static opc_err mac(const uint8_t key[32], const char *label, const char *sid, uint64_t counter,
                   const char *middle, const void *body, size_t body_len,
                   char out[OPC_PROTO_HASH_B64 + 1])
{
    uint8_t h[OPC_SHA256_LEN];
    char hb[OPC_PROTO_HASH_B64 + 1];
    opc_err rc = opc__sha256(body_len == 0 ? "" : body, body_len, h);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(h, sizeof h, OPC_B64URL, hb, sizeof hb, NULL);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    opc__buf b;
    opc__buf_init(&b, false);
    (void)opc__buf_appendf(&b, "%s\n%s\n%" PRIu64 "\n%s\n%s", label, sid, counter, middle, hb);
    rc = opc__buf_err(&b);
    uint8_t m[OPC_SHA256_LEN];
    if (rc == OPC_OK) {
        rc = opc__hmac_sha256(key, 32, b.data, b.len, m);
    }
    opc__buf_free(&b);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(m, sizeof m, OPC_B64URL, out, OPC_PROTO_HASH_B64 + 1, NULL);
    }
    OPENSSL_cleanse(m, sizeof m);
    return rc;
}

/* A member of a MAC's text: present and without LF (the separator). */
static bool mac_part_ok(const char *s)
{
    return s != NULL && strchr(s, '\n') == NULL;
}

opc_err opc__proto_mac_request(const opc__proto_keys *k, const char *sid, uint64_t counter,
                               const char *method, const char *target, const void *body,
                               size_t body_len, char out[OPC_PROTO_HASH_B64 + 1])
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    out[0] = '\0';
    if (k == NULL || !mac_part_ok(sid) || !mac_part_ok(method) || !mac_part_ok(target) ||
        (body == NULL && body_len != 0)) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__buf mid;
    opc__buf_init(&mid, false);
    (void)opc__buf_appendf(&mid, "%s\n%s", method, target);
    opc_err rc = opc__buf_err(&mid);
    if (rc == OPC_OK) {
        rc = mac(k->k_req, "req", sid, counter, mid.data, body, body_len, out);
    }
    opc__buf_free(&mid);
    return rc;
}

opc_err opc__proto_mac_answer(const opc__proto_keys *k, const char *sid, uint64_t counter,
                              int status, const void *body, size_t body_len,
                              char out[OPC_PROTO_HASH_B64 + 1])
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    out[0] = '\0';
    if (k == NULL || !mac_part_ok(sid) || status < 100 || status > 599 ||
        (body == NULL && body_len != 0)) {
        return OPC_ERR_INVALID_ARG;
    }
    char st[8];
    (void)snprintf(st, sizeof st, "%d", status);
    return mac(k->k_res, "res", sid, counter, st, body, body_len, out);
}

bool opc__proto_mac_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return false;
    }
    /* The lengths are public (always 43 for a MAC); the bytes are not. */
    if (strnlen(a, OPC_PROTO_HASH_B64 + 1) != OPC_PROTO_HASH_B64 ||
        strnlen(b, OPC_PROTO_HASH_B64 + 1) != OPC_PROTO_HASH_B64) {
        return false;
    }
    return CRYPTO_memcmp(a, b, OPC_PROTO_HASH_B64) == 0;
}
