/*
 * credentials/create.c - write a new 1password-credentials.json (the format
 * is described at the top of credentials.c).
 */
#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/id.h"
#include "core/json.h"
#include "core/rand.h"
#include "credentials/credentials.h"
#include "crypto/base64.h"
#include "crypto/envelope.h"
#include "crypto/key.h"

#define B64_32 48 /* room for base64url of 32 bytes (43 chars) and a NUL */

/* Everything create() allocates, released by builder_free(). */
typedef struct {
    char uuid[OPC_ID_LEN + 1];
    uint8_t salt[OPC_CREDENTIALS_SALT_LEN];
    uint8_t hash[OPC_CREDENTIALS_HASH_LEN];
    uint8_t uk[OPC_CREDENTIALS_CK_LEN];
    uint8_t ck[OPC_CREDENTIALS_CK_LEN];
    opc__key *uk_key;
    opc__key *ck_key;
    cJSON *inner;    /* inner plaintext */
    cJSON *outer;    /* outer plaintext (holds the keyset envelope) */
    cJSON *enc;      /* encCredentials envelope */
    char *text;      /* a printed plaintext */
    size_t text_len; /* its buffer's size */
} builder;

static void builder_free(builder *b)
{
    opc__key_free(b->uk_key);
    opc__key_free(b->ck_key);
    opc__json_delete_secret(b->inner);
    opc__json_delete_secret(b->outer);
    opc__json_delete_secret(b->enc);
    opc__secret_free(b->text, b->text_len);
    opc__wipe(b, sizeof *b);
}

static opc_err arg(opc__ebuf *eb, const char *name, const char *why)
{
    return opc__fail(eb, OPC_ERR_INVALID_ARG, "credentials: %s %s", name, why);
}

static opc_err check_issuer_keys(const opc__credentials_params *p, opc__ebuf *eb)
{
    if (p->n_issuer_keys < 1 || p->n_issuer_keys > OPC_CREDENTIALS_MAX_ISSUER_KEYS ||
        p->issuer_keys == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "credentials: 1 to %d issuer keys are needed",
                         OPC_CREDENTIALS_MAX_ISSUER_KEYS);
    }
    for (size_t i = 0; i < p->n_issuer_keys; i++) {
        const opc__key *k = p->issuer_keys[i];
        const char *why = k == NULL ? "is NULL" : opc__credentials_issuer_key_problem(k);
        if (why != NULL) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "credentials: issuer key %zu %s", i, why);
        }
        for (size_t j = 0; j < i; j++) {
            const char *kid = opc__key_kid(k);
            if (strcmp(opc__key_kid(p->issuer_keys[j]), kid) == 0) { /* opc-public-compare */
                return opc__fail(eb, OPC_ERR_INVALID_ARG,
                                 "credentials: issuer keys %zu and %zu have the same kid", j, i);
            }
        }
    }
    return OPC_OK;
}

/* serviceUrl for a comma-separated list: a JSON array of its URLs, checked
 * (into *out), or an error naming the entry. */
static opc_err url_list(const char *s, cJSON **out, opc__ebuf *eb)
{
    char *urls[OPC_CREDENTIALS_MAX_UPSTREAMS];
    size_t n = 0;
    *out = NULL;
    opc_err rc = opc__credentials_url_list_split(s, urls, &n, eb);
    if (rc != OPC_OK) {
        opc__ebuf_prefix(eb, "credentials: service_url");
        return rc;
    }
    size_t at = 0;
    const char *why = opc__credentials_url_list_problem((const char *const *)urls, n, &at);
    if (why != NULL) {
        rc = opc__fail(eb, OPC_ERR_INVALID_ARG, "credentials: service_url entry %zu %s", at, why);
    }
    if (rc == OPC_OK) {
        *out = cJSON_CreateStringArray((const char *const *)urls, (int)n);
        rc = *out == NULL ? OPC_ERR_NOMEM : OPC_OK;
    }
    for (size_t i = 0; i < n; i++) {
        opc__free(urls[i]);
    }
    return rc;
}

static opc_err check_url_list(const char *s, opc__ebuf *eb)
{
    cJSON *j = NULL;
    opc_err rc = url_list(s, &j, eb);
    cJSON_Delete(j);
    return rc;
}

static opc_err check_params(const opc__credentials_params *p, opc__ebuf *eb)
{
    const char *why;
    if (!opc__id_valid_str(p->server_id)) {
        return arg(eb, "server_id", "must be a 26-character id");
    }
    if (!opc__id_valid_str(p->account_id)) {
        return arg(eb, "account_id", "must be a 26-character id");
    }
    if (p->device_uuid != NULL && !opc__id_valid_str(p->device_uuid)) {
        return arg(eb, "device_uuid", "must be a 26-character id (or NULL)");
    }
    if (opc__credentials_url_is_list(p->service_url)) {
        opc_err rc = check_url_list(p->service_url, eb);
        if (rc != OPC_OK) {
            return rc;
        }
    } else {
        why = p->service_url == NULL ? "is NULL" : opc__credentials_url_problem(p->service_url);
        if (why != NULL) {
            return arg(eb, "service_url", why);
        }
    }
    why =
        p->account_server_pin == NULL ? NULL : opc__credentials_pin_problem(p->account_server_pin);
    if (why != NULL) {
        return arg(eb, "account_server_pin", why);
    }
    why = p->device_key == NULL ? "is NULL" : opc__credentials_device_key_problem(p->device_key);
    if (why != NULL) {
        return arg(eb, "device_key", why);
    }
    opc_err rc = check_issuer_keys(p, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    why = p->enc_key == NULL ? "is NULL" : opc__credentials_enc_key_problem(p->enc_key);
    if (why != NULL) {
        return arg(eb, "enc_key", why);
    }
    why = p->sym_key == NULL ? "is NULL" : opc__credentials_sym_key_problem(p->sym_key);
    if (why != NULL) {
        return arg(eb, "sym_key", why);
    }
    return OPC_OK;
}

/* Add a JWK export of k to obj (or to an array when name is NULL). */
static opc_err add_jwk(cJSON *obj, const char *name, const opc__key *k, bool include_private)
{
    cJSON *j = NULL;
    opc_err rc = opc__jwk_export(k, include_private, &j);
    if (rc != OPC_OK) {
        return rc;
    }
    bool ok = name == NULL ? cJSON_AddItemToArray(obj, j) : cJSON_AddItemToObject(obj, name, j);
    if (!ok) {
        opc__json_delete_secret(j);
        return OPC_ERR_NOMEM;
    }
    return OPC_OK;
}

/*
 * Print root into our own buffer (cJSON_PrintPreallocated: cJSON's printer
 * would otherwise grow private buffers holding key material and free them
 * unwiped), then seal it under k with the AAD of the layer.
 */
static opc_err seal_json(builder *b, cJSON *root, const opc__key *k, bool inner, cJSON **out)
{
    uint8_t aad[OPC_CREDENTIALS_AAD_MAX];
    size_t aad_len = 0;
    opc_err rc = opc__credentials_aad(inner, b->uuid, aad, &aad_len);
    if (rc != OPC_OK) {
        return rc;
    }
    size_t cap = (size_t)OPC_CREDENTIALS_MAX_SIZE;
    b->text = opc__calloc(1, cap);
    if (b->text == NULL) {
        return OPC_ERR_NOMEM;
    }
    b->text_len = cap; /* what builder_free wipes */
    rc = OPC_ERR_TOO_LARGE;
    if (cJSON_PrintPreallocated(root, b->text, (int)cap, 0)) {
        rc = opc__envelope_seal(k, aad, aad_len, b->text, strlen(b->text), out);
    }
    opc__secret_free(b->text, cap);
    b->text = NULL;
    b->text_len = 0;
    return rc;
}

/* The inner layer: {"encKey", "symKey"} sealed under CK. */
static opc_err build_inner(builder *b, const opc__credentials_params *p, cJSON **keyset)
{
    b->inner = cJSON_CreateObject();
    if (b->inner == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc_err rc = add_jwk(b->inner, "encKey", p->enc_key, true);
    if (rc == OPC_OK) {
        rc = add_jwk(b->inner, "symKey", p->sym_key, true);
    }
    if (rc == OPC_OK) {
        rc = seal_json(b, b->inner, b->ck_key, true, keyset);
    }
    return rc;
}

static opc_err add_issuer_keys(cJSON *outer, const opc__credentials_params *p, opc__ebuf *eb)
{
    cJSON *arr = cJSON_AddArrayToObject(outer, "issuerKeys");
    if (arr == NULL) {
        return OPC_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->n_issuer_keys; i++) {
        opc__key *pub = NULL;
        opc_err rc = opc__key_public(p->issuer_keys[i], &pub);
        if (rc != OPC_OK) {
            return rc;
        }
        if (opc__key_ops(pub) != OPC_KEYOP_VERIFY) {
            opc__key_free(pub);
            return opc__fail(eb, OPC_ERR_INVALID_ARG,
                             "credentials: issuer key %zu must allow \"verify\" only", i);
        }
        rc = add_jwk(arr, NULL, pub, false);
        opc__key_free(pub);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    return OPC_OK;
}

/* serviceUrl: the string given, or the array of a comma-separated list. */
static opc_err add_service_url(cJSON *outer, const char *s, opc__ebuf *eb)
{
    if (!opc__credentials_url_is_list(s)) {
        return cJSON_AddStringToObject(outer, "serviceUrl", s) == NULL ? OPC_ERR_NOMEM : OPC_OK;
    }
    cJSON *arr = NULL;
    opc_err rc = url_list(s, &arr, eb);
    if (rc == OPC_OK && !cJSON_AddItemToObject(outer, "serviceUrl", arr)) {
        cJSON_Delete(arr);
        rc = OPC_ERR_NOMEM;
    }
    return rc;
}

/* The outer layer, sealed under uniqueKey into b->enc. */
static opc_err build_outer(builder *b, const opc__credentials_params *p, opc__ebuf *eb)
{
    cJSON *keyset = NULL;
    opc_err rc = build_inner(b, p, &keyset);
    if (rc != OPC_OK) {
        return rc;
    }
    b->outer = cJSON_CreateObject();
    if (b->outer == NULL) {
        cJSON_Delete(keyset);
        return OPC_ERR_NOMEM;
    }
    if (cJSON_AddStringToObject(b->outer, "serverUuid", p->server_id) == NULL ||
        cJSON_AddStringToObject(b->outer, "accountUuid", p->account_id) == NULL) {
        cJSON_Delete(keyset);
        return OPC_ERR_NOMEM;
    }
    rc = add_service_url(b->outer, p->service_url, eb);
    if (rc == OPC_OK && p->account_server_pin != NULL &&
        cJSON_AddStringToObject(b->outer, "accountServerPin", p->account_server_pin) == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = add_jwk(b->outer, "deviceKey", p->device_key, true);
    }
    if (rc == OPC_OK) {
        rc = add_issuer_keys(b->outer, p, eb);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(keyset);
        return rc;
    }
    if (!cJSON_AddItemToObject(b->outer, "keyset", keyset)) {
        cJSON_Delete(keyset);
        return OPC_ERR_NOMEM;
    }
    return seal_json(b, b->outer, b->uk_key, false, &b->enc);
}

static void put_indent(opc__buf *o, int depth)
{
    for (int i = 0; i < depth; i++) {
        opc__buf_append_str(o, "  ");
    }
}

/* `  "key": "value",\n` at the given depth. */
static void put_str(opc__buf *o, int depth, const char *key, const char *val, bool comma)
{
    put_indent(o, depth);
    opc__buf_append_json_str(o, key, strlen(key));
    opc__buf_append_str(o, ": ");
    opc__buf_append_json_str(o, val, strlen(val));
    opc__buf_append_str(o, comma ? ",\n" : "\n");
}

/* The file, in 1Password's member order, two-space indented. */
static opc_err write_file(const builder *b, opc__buf *o)
{
    char salt[B64_32], hash[B64_32], k[B64_32];
    size_t n;
    opc_err rc = opc__b64_encode_to(b->salt, sizeof b->salt, OPC_B64_URL, salt, sizeof salt, &n);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(b->hash, sizeof b->hash, OPC_B64_URL, hash, sizeof hash, &n);
    }
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(b->uk, sizeof b->uk, OPC_B64_URL, k, sizeof k, &n);
    }
    if (rc != OPC_OK) {
        opc__wipe(k, sizeof k);
        return rc;
    }
    opc__buf_append_str(o, "{\n  \"verifier\": {\n");
    put_str(o, 2, "salt", salt, true);
    put_str(o, 2, "localHash", hash, false);
    opc__buf_append_str(o, "  },\n  \"encCredentials\": {\n");
    static const char *const env[] = {"kid", "enc", "cty", "iv", "data"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(env); i++) {
        const cJSON *m = opc__json_member(b->enc, env[i]);
        if (!cJSON_IsString(m) || m->valuestring == NULL) {
            opc__wipe(k, sizeof k);
            return OPC_ERR_INTERNAL;
        }
        put_str(o, 2, env[i], m->valuestring, i + 1 < OPC_ARRAY_LEN(env));
    }
    opc__buf_append_str(o, "  },\n");
    put_str(o, 1, "version", "2", true);
    put_str(o, 1, "deviceUuid", b->uuid, true);
    opc__buf_append_str(o, "  \"uniqueKey\": {\n");
    put_str(o, 2, "alg", OPC_ENVELOPE_ENC, true);
    opc__buf_append_str(o, "    \"ext\": true,\n");
    put_str(o, 2, "k", k, true);
    opc__buf_append_str(o, "    \"key_ops\": [\"encrypt\", \"decrypt\"],\n");
    put_str(o, 2, "kty", "oct", true);
    put_str(o, 2, "kid", OPC_CREDENTIALS_UNIQUE_KID, false);
    opc__buf_append_str(o, "  }\n}\n");
    opc__wipe(k, sizeof k);
    return opc__buf_err(o);
}

/* Random values, the verifier, CK and the two keys. */
static opc_err derive_all(builder *b, const opc__credentials_params *p, const uint8_t *T)
{
    opc_err rc;
    if (p->device_uuid != NULL) {
        memcpy(b->uuid, p->device_uuid, OPC_ID_LEN + 1);
        rc = OPC_OK;
    } else {
        rc = opc__id_generate(b->uuid);
    }
    if (rc == OPC_OK) {
        rc = opc__rand_bytes(b->salt, sizeof b->salt);
    }
    if (rc == OPC_OK) {
        rc = opc__rand_priv_bytes(b->uk, sizeof b->uk);
    }
    if (rc == OPC_OK) {
        rc = opc__credentials_verifier_hash(T, b->salt, b->hash);
    }
    if (rc == OPC_OK) {
        rc = opc__credentials_derive_ck(b->uk, T, b->uuid, b->ck);
    }
    if (rc == OPC_OK) {
        rc = opc__key_from_oct(b->uk, sizeof b->uk, OPC_CREDENTIALS_UNIQUE_KID,
                               OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &b->uk_key);
    }
    if (rc == OPC_OK) {
        rc = opc__key_from_oct(b->ck, sizeof b->ck, OPC_CREDENTIALS_CK_KID,
                               OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &b->ck_key);
    }
    return rc;
}

opc_err opc__credentials_create(const opc__credentials_params *p,
                                const uint8_t T[OPC_CREDENTIALS_SECRET_LEN], char **out_json,
                                size_t *out_len, opc__ebuf *eb)
{
    if (out_json != NULL) {
        *out_json = NULL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    opc_err rc = opc__require_init();
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "the library is not initialized (call opc_global_init first)");
    }
    if (p == NULL || T == NULL || out_json == NULL || out_len == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG,
                         "credentials: params, secret and outputs must not be NULL");
    }
    rc = check_params(p, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    builder b;
    memset(&b, 0, sizeof b);
    opc__buf o;
    opc__buf_init(&o, true);
    o.max = (size_t)OPC_CREDENTIALS_MAX_SIZE;
    rc = derive_all(&b, p, T);
    if (rc == OPC_OK) {
        rc = build_outer(&b, p, eb);
    }
    if (rc == OPC_OK) {
        rc = write_file(&b, &o);
    }
    builder_free(&b);
    if (rc != OPC_OK) {
        opc__buf_free(&o);
        if (rc == OPC_ERR_INVALID_ARG) {
            return rc; /* eb already says why */
        }
        if (rc == OPC_ERR_TOO_LARGE) {
            return opc__fail(eb, rc, "credentials: the file would exceed %d bytes",
                             OPC_CREDENTIALS_MAX_SIZE);
        }
        return opc__fail(eb, rc, "credentials: cannot build the file (%s)", opc_strerror(rc));
    }
    *out_json = opc__buf_detach(&o, out_len);
    return OPC_OK;
}
