/*
 * crypto/envelope.c - seal and open 1Password's ciphertext envelope.
 *
 *   {"kid","enc":"A256GCM","cty":"b5+jwk+json","iv","data"}
 *
 * Sealing draws a fresh 12-byte IV for every call and stores
 * b64url(ciphertext || tag) in data. Opening is strict about the shape (the
 * five members and nothing else, all strings, literal enc and cty, a 12-byte
 * iv, a data member of at least one tag) before any decryption runs, and
 * hands the plaintext back only after the tag verified.
 */
#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/secret.h"
#include "crypto/base64.h"
#include "crypto/envelope.h"
#include "crypto/gcm.h"
#include "crypto/key.h"

/* Members of an envelope, in the order seal writes them. */
enum { M_KID, M_ENC, M_CTY, M_IV, M_DATA, M_COUNT };

static const char *const member_names[M_COUNT] = {"kid", "enc", "cty", "iv", "data"};

/* Equality of public strings (names, ids, literals); never used on secrets. */
static bool str_eq(const char *a, const char *b)
{
    return strcmp(a, b) == 0; /* opc-public-compare */
}

/* A non-NULL pointer for empty AAD or plaintext. */
static const uint8_t empty_byte[1] = {0};

/* Largest data member: b64url of the largest ciphertext plus the tag. */
static size_t data_max_chars(void)
{
    return opc__b64_encoded_len((size_t)OPC_ENVELOPE_MAX_PLAINTEXT + OPC_GCM_TAG_LEN, OPC_B64URL);
}

opc_err opc__envelope_seal(const opc__key *k, const void *aad, size_t aad_len, const void *pt,
                           size_t pt_len, cJSON **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (k == NULL || out == NULL || (aad == NULL && aad_len > 0) || (pt == NULL && pt_len > 0)) {
        return OPC_ERR_INVALID_ARG;
    }
    if (pt_len > (size_t)OPC_ENVELOPE_MAX_PLAINTEXT) {
        return OPC_ERR_TOO_LARGE;
    }
    opc_err rc = opc__key_check(k, OPC_KTY_OCT, OPC_KEYOP_ENCRYPT, NULL);
    if (rc != OPC_OK) {
        return rc;
    }
    const uint8_t *key = opc__key_oct(k);
    if (key == NULL) {
        return OPC_ERR_KEY;
    }

    uint8_t iv[OPC_GCM_IV_LEN];
    uint8_t *ct = NULL;
    char *iv_b64 = NULL;
    char *data_b64 = NULL;
    size_t data_b64_len = 0;
    size_t iv_b64_len = 0;
    size_t ct_len = pt_len + OPC_GCM_TAG_LEN;
    cJSON *env = NULL;

    rc = opc__rand_bytes(iv, sizeof iv);
    if (rc != OPC_OK) {
        goto done;
    }
    ct = opc__malloc(ct_len);
    if (ct == NULL) {
        rc = OPC_ERR_NOMEM;
        goto done;
    }
    rc = opc__gcm_seal(key, iv, aad_len > 0 ? aad : empty_byte, aad_len,
                       pt_len > 0 ? pt : empty_byte, pt_len, ct, ct + pt_len);
    if (rc != OPC_OK) {
        goto done;
    }
    rc = opc__b64_encode(iv, sizeof iv, OPC_B64URL, &iv_b64, &iv_b64_len);
    if (rc != OPC_OK) {
        goto done;
    }
    rc = opc__b64_encode(ct, ct_len, OPC_B64URL, &data_b64, &data_b64_len);
    if (rc != OPC_OK) {
        goto done;
    }

    env = cJSON_CreateObject();
    if (env == NULL || cJSON_AddStringToObject(env, "kid", opc__key_kid(k)) == NULL ||
        cJSON_AddStringToObject(env, "enc", OPC_ENVELOPE_ENC) == NULL ||
        cJSON_AddStringToObject(env, "cty", OPC_ENVELOPE_CTY) == NULL ||
        cJSON_AddStringToObject(env, "iv", iv_b64) == NULL ||
        cJSON_AddStringToObject(env, "data", data_b64) == NULL) {
        cJSON_Delete(env);
        env = NULL;
        rc = OPC_ERR_NOMEM;
        goto done;
    }
    *out = env;
    rc = OPC_OK;

done:
    opc__wipe(iv, sizeof iv);
    opc__secret_free(ct, ct_len);
    opc__secret_free(iv_b64, iv_b64_len);
    opc__secret_free(data_b64, data_b64_len);
    return rc;
}

/*
 * Check the members: exactly the five names (case-sensitive), each once,
 * each a string. Fills vals[] with the borrowed strings.
 */
static opc_err check_shape(const cJSON *env, const char *vals[M_COUNT], opc__ebuf *eb)
{
    for (size_t i = 0; i < M_COUNT; i++) {
        vals[i] = "";
    }
    if (!cJSON_IsObject(env)) {
        return opc__fail(eb, OPC_ERR_PARSE, "envelope: not a JSON object");
    }
    bool seen[M_COUNT] = {false};
    for (const cJSON *m = env->child; m != NULL; m = m->next) {
        size_t idx = M_COUNT;
        for (size_t i = 0; m->string != NULL && i < M_COUNT; i++) {
            if (str_eq(m->string, member_names[i])) {
                idx = i;
                break;
            }
        }
        if (idx == M_COUNT) {
            /* The name comes from the input: do not echo it. */
            return opc__fail(eb, OPC_ERR_PARSE,
                             "envelope: unexpected member (only kid, enc, cty, iv and data)");
        }
        if (seen[idx]) {
            return opc__fail(eb, OPC_ERR_PARSE, "envelope: duplicate member \"%s\"",
                             member_names[idx]);
        }
        seen[idx] = true;
        if (!cJSON_IsString(m) || m->valuestring == NULL) {
            return opc__fail(eb, OPC_ERR_PARSE, "envelope: \"%s\" must be a string",
                             member_names[idx]);
        }
        vals[idx] = m->valuestring;
    }
    for (size_t i = 0; i < M_COUNT; i++) {
        if (!seen[i]) {
            return opc__fail(eb, OPC_ERR_PARSE, "envelope: missing \"%s\"", member_names[i]);
        }
    }
    if (!str_eq(vals[M_ENC], OPC_ENVELOPE_ENC)) {
        return opc__fail(eb, OPC_ERR_PARSE, "envelope: \"enc\" must be \"" OPC_ENVELOPE_ENC "\"");
    }
    if (!str_eq(vals[M_CTY], OPC_ENVELOPE_CTY)) {
        return opc__fail(eb, OPC_ERR_PARSE, "envelope: \"cty\" must be \"" OPC_ENVELOPE_CTY "\"");
    }
    return OPC_OK;
}

/*
 * Decode iv (exactly 12 bytes) and data (at least the tag, at most the
 * limit). On success *data (data_len bytes) is the caller's, released with
 * opc__secret_free.
 */
static opc_err decode_parts(const char *const vals[M_COUNT], uint8_t iv[OPC_GCM_IV_LEN],
                            unsigned char **data, size_t *data_len, opc__ebuf *eb)
{
    *data = NULL;
    *data_len = 0;
    size_t iv_len = 0;
    opc_err rc = opc__b64_decode_to(vals[M_IV], strlen(vals[M_IV]), OPC_B64URL, iv, OPC_GCM_IV_LEN,
                                    &iv_len, NULL);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(eb, rc, "envelope: out of memory");
    }
    if (rc != OPC_OK || iv_len != OPC_GCM_IV_LEN) {
        opc__wipe(iv, OPC_GCM_IV_LEN);
        return opc__fail(eb, OPC_ERR_PARSE,
                         "envelope: \"iv\" must be unpadded base64url of 12 bytes");
    }

    size_t data_chars = strlen(vals[M_DATA]);
    if (data_chars > data_max_chars()) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE,
                         "envelope: \"data\" exceeds the %u-byte plaintext limit",
                         (unsigned)OPC_ENVELOPE_MAX_PLAINTEXT);
    }
    unsigned char *d = NULL;
    size_t n = 0;
    rc = opc__b64_decode(vals[M_DATA], data_chars, OPC_B64URL, &d, &n, NULL);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(eb, rc, "envelope: out of memory");
    }
    if (rc != OPC_OK) {
        return opc__fail(eb, OPC_ERR_PARSE, "envelope: \"data\" is not unpadded base64url");
    }
    if (n < OPC_GCM_TAG_LEN) {
        opc__secret_free(d, n);
        return opc__fail(eb, OPC_ERR_PARSE,
                         "envelope: \"data\" is shorter than the 16-byte GCM tag");
    }
    *data = d;
    *data_len = n;
    return OPC_OK;
}

opc_err opc__envelope_check(const cJSON *env, const char *kid, opc__ebuf *eb)
{
    if (env == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "envelope: NULL argument");
    }
    const char *vals[M_COUNT];
    opc_err rc = check_shape(env, vals, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (kid != NULL && !str_eq(vals[M_KID], kid)) {
        return opc__fail(eb, OPC_ERR_KEY, "envelope: kid does not match the expected key");
    }
    uint8_t iv[OPC_GCM_IV_LEN];
    unsigned char *data = NULL;
    size_t data_len = 0;
    rc = decode_parts(vals, iv, &data, &data_len, eb);
    opc__wipe(iv, sizeof iv);
    opc__secret_free(data, data_len);
    return rc;
}

opc_err opc__envelope_open(const cJSON *env, const opc__key *k, const void *aad, size_t aad_len,
                           opc_secret **out, opc__ebuf *eb)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (env == NULL || k == NULL || out == NULL || (aad == NULL && aad_len > 0)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "envelope: NULL argument");
    }

    const char *vals[M_COUNT];
    opc_err rc = check_shape(env, vals, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!str_eq(vals[M_KID], opc__key_kid(k))) {
        return opc__fail(eb, OPC_ERR_KEY, "envelope: kid does not match the key's kid");
    }
    rc = opc__key_check(k, OPC_KTY_OCT, OPC_KEYOP_DECRYPT, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    const uint8_t *key = opc__key_oct(k);
    if (key == NULL) {
        return opc__fail(eb, OPC_ERR_KEY, "envelope: the key is not an AES-256-GCM key");
    }

    uint8_t iv[OPC_GCM_IV_LEN];
    unsigned char *data = NULL;
    size_t data_len = 0;
    rc = decode_parts(vals, iv, &data, &data_len, eb);
    if (rc != OPC_OK) {
        opc__wipe(iv, sizeof iv);
        return rc;
    }

    size_t ct_len = data_len - OPC_GCM_TAG_LEN;
    opc_secret *sec = NULL;
    unsigned char *pt = NULL;
    rc = opc__secret_alloc(ct_len, &sec, &pt);
    if (rc != OPC_OK) {
        opc__wipe(iv, sizeof iv);
        opc__secret_free(data, data_len);
        return opc__fail(eb, rc, "envelope: out of memory");
    }
    rc = opc__gcm_open(key, iv, aad_len > 0 ? aad : empty_byte, aad_len,
                       ct_len > 0 ? data : empty_byte, ct_len, data + ct_len, pt);
    opc__wipe(iv, sizeof iv);
    opc__secret_free(data, data_len);
    if (rc != OPC_OK) {
        opc_secret_free(sec);
        if (rc == OPC_ERR_DECRYPT) {
            return opc__fail(eb, OPC_ERR_DECRYPT,
                             "envelope does not decrypt (wrong key, wrong context or tampered)");
        }
        return opc__fail(eb, rc, "envelope: AES-GCM failed");
    }
    *out = sec;
    return OPC_OK;
}
