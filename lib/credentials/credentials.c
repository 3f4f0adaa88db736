/*
 * credentials/credentials.c - the Connect server's 1password-credentials.json.
 *
 * FORMAT (version "2"; 1Password's member names, written in this order):
 *
 *   {
 *     "verifier": {"salt": b64url(16 random bytes), "localHash": b64url(32 bytes)},
 *     "encCredentials": {"kid": "localauthv2keykid", "enc": "A256GCM",
 *                        "cty": "b5+jwk+json", "iv": b64url(12), "data": b64url(ct||tag)},
 *     "version": "2",
 *     "deviceUuid": 26-char id ([a-z2-7]{26}),
 *     "uniqueKey": {"alg": "A256GCM", "ext": true, "k": b64url(32 bytes),
 *                   "key_ops": ["encrypt", "decrypt"], "kty": "oct",
 *                   "kid": "localauthv2keykid"}
 *   }
 *
 * b64url is base64url without padding (RFC 4648 §5). T is the server's
 * 32-byte bearer secret, carried by every token of the server (never stored).
 *
 *   verifier.localHash = HKDF-SHA256(IKM = T, salt = verifier.salt,
 *                                    info = "connect/localauth/v2", L = 32)
 *   CK = HKDF-SHA256(IKM = uniqueKey.k (32 bytes) || T (32 bytes),
 *                    salt = deviceUuid (26 ASCII bytes),
 *                    info = "connect/credentials/v2", L = 32)
 *
 * OUTER LAYER: encCredentials is an envelope (crypto/envelope.h) under
 * uniqueKey with AAD "opconnect/credentials/v2|outer|" || deviceUuid. Its
 * plaintext is a JSON object with exactly these members:
 *
 *   "serverUuid"  26-char id
 *   "accountUuid" 26-char id
 *   "serviceUrl"  the upstream: an account.db path or an https:// URL (http://
 *                 only for a loopback host, for tests); or an array of 1..8
 *                 such URLs naming account servers that serve the account
 *                 from one database with one server key (one pin): the
 *                 Connect server fails over between them (upstream/https.c).
 *                 An array holds URLs only (no path), no server twice
 *                 (compared without case and a trailing '/'); a one-URL
 *                 file keeps the string form, so older files stay valid.
 *   "accountServerPin" optional: the RFC 7638 thumbprint (43 b64url characters)
 *                 of the account server's P-256 key, which signs its session
 *                 handshakes (docs/protocol.md); required by an https:// upstream
 *   "deviceKey"   EC P-256 private JWK allowing "sign" (authenticates to the upstream)
 *   "issuerKeys"  1..16 EC P-256 public JWKs, each with a distinct kid and key_ops
 *                 exactly ["verify"]: the pinned keys that sign tokens
 *   "keyset"      the inner envelope (below)
 *
 * INNER LAYER: keyset is an envelope under CK (an oct key with kid
 * "connect-ck") with AAD "opconnect/credentials/v2|inner|" || deviceUuid. Its
 * plaintext is {"encKey": RSA-2048 private JWK allowing unwrapKey or decrypt
 * (receives the wrapped vault keys), "symKey": oct JWK with a kid (the server
 * keyset's symmetric key)}.
 *
 * So the file alone opens the outer layer (what connect-sync needs to mirror
 * ciphertext); the inner layer needs T as well. Both AADs bind the envelopes
 * to deviceUuid, so editing deviceUuid breaks decryption.
 *
 * PARSING is strict and stops at the first problem, checked in this order:
 * size (OPC_ERR_TOO_LARGE above OPC_CREDENTIALS_MAX_SIZE), JSON syntax
 * (OPC_ERR_PARSE: "credentials file is not valid JSON: ..."),
 * then, all OPC_ERR_CREDENTIALS: top level an object, "version" present and
 * the string "2", no unknown top-level member, every required member present
 * with its type ("credentials file: \"verifier.salt\" must be a string"),
 * base64url and sizes (salt 16, localHash 32), deviceUuid an id, uniqueKey
 * (members, kty oct, alg A256GCM, key_ops encrypt+decrypt, kid
 * localauthv2keykid, then the JWK import), encCredentials (enc, cty, kid equal
 * to uniqueKey.kid, iv 12 bytes, data >= 16 bytes), decryption of the outer
 * layer, then the outer plaintext member by member with the same strictness
 * (names such as "encCredentials.issuerKeys[1]"). Unlocking checks T against
 * the verifier (OPC_ERR_VERIFIER), derives CK and opens and checks the inner
 * layer (OPC_ERR_CREDENTIALS).
 *
 * Unlocking again with the same T is a no-op; opc_credentials_lock() wipes CK
 * and the inner keys (the state after parsing).
 *
 * SECRETS: uniqueKey, CK, the private keys and every decrypted buffer or JSON
 * tree are wiped after use (opc__secret_free, opc__json_delete_secret,
 * opc__key_free); T is never stored. Messages never contain key material.
 *
 * FILES: this file parses, unlocks and answers getters; create.c writes new
 * files; rules.c holds what both apply (value rules, AADs, derivations);
 * session.c reads OP_SESSION (path, base64 or raw JSON).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/id.h"
#include "core/json.h"
#include "core/secret.h"
#include "credentials/credentials.h"
#include "crypto/base64.h"
#include "crypto/envelope.h"
#include "crypto/key.h"

#define SALT_LEN OPC_CREDENTIALS_SALT_LEN
#define HASH_LEN OPC_CREDENTIALS_HASH_LEN
#define IV_LEN 12
#define TAG_LEN 16
#define JSON_DEPTH 8
#define MAX_BYTES ((size_t)OPC_CREDENTIALS_MAX_SIZE)

#define DEFAULT_LABEL "credentials file"
#define VERIFIER_MSG "token secret does not match this Connect server's credentials"

struct opc_credentials {
    char device_uuid[OPC_ID_LEN + 1];
    char server_id[OPC_ID_LEN + 1];
    char account_id[OPC_ID_LEN + 1];
    char *urls[OPC_CREDENTIALS_MAX_UPSTREAMS]; /* serviceUrl: one path or URL, or 1..8 URLs */
    size_t n_urls;
    char *account_server_pin; /* NULL when absent */
    uint8_t salt[SALT_LEN];
    uint8_t local_hash[HASH_LEN];
    opc__key *unique_key;
    opc__key *device_key;
    opc__key **issuer_keys;
    size_t n_issuer_keys;
    cJSON *keyset; /* the inner envelope, still sealed */
    /* Inner layer, set by unlock. */
    bool unlocked;
    uint8_t ck[OPC_CREDENTIALS_CK_LEN];
    opc__key *enc_key;
    opc__key *sym_key;
};

/* ---- messages ---- */

typedef struct {
    const char *label; /* "credentials file" or "credentials file <path>" */
    opc__ebuf *eb;
} ctx;

/* "<label>: <text>" with OPC_ERR_CREDENTIALS; BAD(x, fmt, ...). */
#define BAD(x, ...) labelled((x), opc__fail((x)->eb, OPC_ERR_CREDENTIALS, __VA_ARGS__))

static opc_err labelled(const ctx *x, opc_err rc)
{
    opc__ebuf_prefix(x->eb, "%s", x->label);
    return rc;
}

/* Pass NOMEM through; anything else becomes "<label>: \"<path>\": <msg>". */
static opc_err bad_sub(const ctx *x, opc_err rc, const char *path, const opc__ebuf *sub)
{
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(x->eb, rc, "out of memory");
    }
    return BAD(x, "\"%s\": %s", path, sub->msg);
}

/* Equality of public strings (kids, member values, names): no secret is ever compared here. */
static bool same(const char *a, const char *b)
{
    return strcmp(a, b) == 0; /* opc-public-compare */
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0; /* opc-public-compare */
}

/* msg without a leading "<prefix>" (e.g. "invalid JSON: "), which ours repeats. */
static const char *unprefixed(const char *msg, const char *prefix)
{
    return has_prefix(msg, prefix) ? msg + strlen(prefix) : msg;
}

/* ---- parsing helpers ---- */

static opc_err need(const ctx *x, const cJSON *obj, const char *key, const char *path,
                    const cJSON **out)
{
    *out = opc__json_member(obj, key);
    if (*out == NULL) {
        return BAD(x, "missing \"%s\"", path);
    }
    return OPC_OK;
}

static opc_err need_str(const ctx *x, const cJSON *obj, const char *key, const char *path,
                        const char **out)
{
    const cJSON *m;
    opc_err rc = need(x, obj, key, path, &m);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!cJSON_IsString(m) || m->valuestring == NULL) {
        return BAD(x, "\"%s\" must be a string", path);
    }
    *out = m->valuestring;
    return OPC_OK;
}

static opc_err need_obj(const ctx *x, const cJSON *obj, const char *key, const char *path,
                        const cJSON **out)
{
    opc_err rc = need(x, obj, key, path, out);
    if (rc == OPC_OK && !cJSON_IsObject(*out)) {
        return BAD(x, "\"%s\" must be an object", path);
    }
    return rc;
}

/* Only the listed members; the message names the object as "<label>: \"<path>\"". */
static opc_err only(const ctx *x, const cJSON *obj, const char *const *allowed, const char *path)
{
    char what[OPC_ERRBUF_SIZE];
    if (path == NULL) {
        (void)snprintf(what, sizeof what, "%s", x->label);
    } else {
        (void)snprintf(what, sizeof what, "%s: \"%s\"", x->label, path);
    }
    opc_err rc = opc__json_only_members(obj, allowed, what, x->eb);
    if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
        rc = OPC_ERR_CREDENTIALS;
    }
    return rc;
}

/* Decode base64url into out[want]; the decoded size must be exactly want. */
static opc_err decode_exact(const ctx *x, const char *s, const char *path, uint8_t *out,
                            size_t want)
{
    unsigned char *buf = NULL;
    size_t n = 0;
    opc__ebuf sub;
    opc__ebuf_clear(&sub);
    opc_err rc = opc__b64_decode(s, strlen(s), OPC_B64URL, &buf, &n, &sub);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(x->eb, rc, "out of memory");
    }
    if (rc != OPC_OK) {
        return BAD(x, "\"%s\" is not valid base64url: %s", path, unprefixed(sub.msg, "base64: "));
    }
    if (n != want) {
        opc__secret_free(buf, n);
        return BAD(x, "\"%s\" must be %zu bytes (it is %zu)", path, want, n);
    }
    memcpy(out, buf, n);
    opc__secret_free(buf, n);
    return OPC_OK;
}

/* Length of decoded base64url (checks the encoding). */
static opc_err decode_len(const ctx *x, const char *s, const char *path, size_t *out)
{
    unsigned char *buf = NULL;
    opc__ebuf sub;
    opc__ebuf_clear(&sub);
    opc_err rc = opc__b64_decode(s, strlen(s), OPC_B64URL, &buf, out, &sub);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(x->eb, rc, "out of memory");
    }
    if (rc != OPC_OK) {
        return BAD(x, "\"%s\" is not valid base64url: %s", path, unprefixed(sub.msg, "base64: "));
    }
    opc__free(buf);
    return OPC_OK;
}

static const char *const envelope_members[] = {"kid", "enc", "cty", "iv", "data", NULL};

/* Presence and types of an envelope's members ("<path>.kid"...). */
static opc_err envelope_shape(const ctx *x, const cJSON *env, const char *path)
{
    for (size_t i = 0; envelope_members[i] != NULL; i++) {
        char sub[96];
        const char *s;
        (void)snprintf(sub, sizeof sub, "%s.%s", path, envelope_members[i]);
        opc_err rc = need_str(x, env, envelope_members[i], sub, &s);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    return OPC_OK;
}

/* Values of an envelope's members; kid must equal `kid`, named `kid_name`. */
static opc_err envelope_values(const ctx *x, const cJSON *env, const char *path, const char *kid,
                               const char *kid_name)
{
    const char *s;
    char sub[96];
    opc_err rc = only(x, env, envelope_members, path);
    if (rc != OPC_OK) {
        return rc;
    }
    s = opc__json_member(env, "enc")->valuestring;
    if (!same(s, OPC_ENVELOPE_ENC)) {
        return BAD(x, "\"%s.enc\" must be \"" OPC_ENVELOPE_ENC "\"", path);
    }
    s = opc__json_member(env, "cty")->valuestring;
    if (!same(s, OPC_ENVELOPE_CTY)) {
        return BAD(x, "\"%s.cty\" must be \"" OPC_ENVELOPE_CTY "\"", path);
    }
    s = opc__json_member(env, "kid")->valuestring;
    if (!same(s, kid)) {
        return BAD(x, "\"%s.kid\" must equal %s", path, kid_name);
    }
    uint8_t iv[IV_LEN];
    (void)snprintf(sub, sizeof sub, "%s.iv", path);
    rc = decode_exact(x, opc__json_member(env, "iv")->valuestring, sub, iv, sizeof iv);
    if (rc != OPC_OK) {
        return rc;
    }
    size_t n = 0;
    (void)snprintf(sub, sizeof sub, "%s.data", path);
    rc = decode_len(x, opc__json_member(env, "data")->valuestring, sub, &n);
    if (rc == OPC_OK && n < TAG_LEN) {
        rc = BAD(x, "\"%s\" is too short (%zu bytes; at least %d)", sub, n, TAG_LEN);
    }
    return rc;
}

/* Import a JWK member, prefixing import errors with its path. */
static opc_err import_jwk(const ctx *x, const cJSON *jwk, unsigned flags, const char *path,
                          opc__key **out)
{
    opc__ebuf sub;
    opc__ebuf_clear(&sub);
    opc_err rc = opc__jwk_import(jwk, flags, out, &sub);
    if (rc != OPC_OK) {
        *out = NULL;
        return bad_sub(x, rc, path, &sub);
    }
    return OPC_OK;
}

/* ---- outer plaintext ---- */

static opc_err parse_service_url(const ctx *x, const cJSON *o, opc_credentials *c);

static opc_err parse_ids(const ctx *x, const cJSON *o, opc_credentials *c)
{
    const char *s;
    opc_err rc = need_str(x, o, "serverUuid", "encCredentials.serverUuid", &s);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!opc__id_valid_str(s)) {
        return BAD(x, "\"encCredentials.serverUuid\" must be a 26-character id");
    }
    memcpy(c->server_id, s, OPC_ID_LEN + 1);
    rc = need_str(x, o, "accountUuid", "encCredentials.accountUuid", &s);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!opc__id_valid_str(s)) {
        return BAD(x, "\"encCredentials.accountUuid\" must be a 26-character id");
    }
    memcpy(c->account_id, s, OPC_ID_LEN + 1);
    return parse_service_url(x, o, c);
}

/* serviceUrl: a string (a path or a URL), or an array of 1..8 URLs. */
static opc_err parse_service_url(const ctx *x, const cJSON *o, opc_credentials *c)
{
    const cJSON *m;
    opc_err rc = need(x, o, "serviceUrl", "encCredentials.serviceUrl", &m);
    if (rc != OPC_OK) {
        return rc;
    }
    const char *list[OPC_CREDENTIALS_MAX_UPSTREAMS];
    size_t n = 0;
    if (cJSON_IsString(m) && m->valuestring != NULL) {
        const char *why = opc__credentials_url_problem(m->valuestring);
        if (why != NULL) {
            return BAD(x, "\"encCredentials.serviceUrl\" %s", why);
        }
        list[n++] = m->valuestring;
    } else if (cJSON_IsArray(m)) {
        int count = cJSON_GetArraySize(m);
        if (count < 1 || count > OPC_CREDENTIALS_MAX_UPSTREAMS) {
            return BAD(x,
                       "\"encCredentials.serviceUrl\" must list 1 to %d account servers (it "
                       "lists %d)",
                       OPC_CREDENTIALS_MAX_UPSTREAMS, count);
        }
        for (const cJSON *e = m->child; e != NULL; e = e->next) {
            if (!cJSON_IsString(e) || e->valuestring == NULL) {
                return BAD(x, "\"encCredentials.serviceUrl[%zu]\" must be a string", n);
            }
            list[n++] = e->valuestring;
        }
        size_t at = 0;
        const char *why = opc__credentials_url_list_problem(list, n, &at);
        if (why != NULL) {
            return BAD(x, "\"encCredentials.serviceUrl[%zu]\" %s", at, why);
        }
    } else {
        return BAD(x, "\"encCredentials.serviceUrl\" must be a string or an array of URLs");
    }
    for (size_t i = 0; i < n; i++) {
        c->urls[i] = opc__strdup(list[i]);
        if (c->urls[i] == NULL) {
            return opc__fail(x->eb, OPC_ERR_NOMEM, "out of memory");
        }
        c->n_urls = i + 1;
    }
    return OPC_OK;
}

static opc_err parse_pin(const ctx *x, const cJSON *o, opc_credentials *c)
{
    const char *why;
    const cJSON *pin = opc__json_member(o, "accountServerPin");
    if (pin != NULL) {
        if (!cJSON_IsString(pin) || pin->valuestring == NULL) {
            return BAD(x, "\"encCredentials.accountServerPin\" must be a string");
        }
        why = opc__credentials_pin_problem(pin->valuestring);
        if (why != NULL) {
            return BAD(x, "\"encCredentials.accountServerPin\" %s", why);
        }
        c->account_server_pin = opc__strdup(pin->valuestring);
        if (c->account_server_pin == NULL) {
            return opc__fail(x->eb, OPC_ERR_NOMEM, "out of memory");
        }
    }
    return OPC_OK;
}

static opc_err parse_issuer_keys(const ctx *x, const cJSON *o, opc_credentials *c)
{
    const cJSON *arr;
    opc_err rc = need(x, o, "issuerKeys", "encCredentials.issuerKeys", &arr);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!cJSON_IsArray(arr)) {
        return BAD(x, "\"encCredentials.issuerKeys\" must be an array");
    }
    int n = cJSON_GetArraySize(arr);
    if (n < 1 || n > OPC_CREDENTIALS_MAX_ISSUER_KEYS) {
        return BAD(x, "\"encCredentials.issuerKeys\" must hold 1 to %d keys (it holds %d)",
                   OPC_CREDENTIALS_MAX_ISSUER_KEYS, n);
    }
    c->issuer_keys = opc__calloc((size_t)n, sizeof(opc__key *));
    if (c->issuer_keys == NULL) {
        return opc__fail(x->eb, OPC_ERR_NOMEM, "out of memory");
    }
    size_t i = 0;
    for (const cJSON *e = arr->child; e != NULL; e = e->next, i++) {
        char path[64];
        (void)snprintf(path, sizeof path, "encCredentials.issuerKeys[%zu]", i);
        if (!cJSON_IsObject(e)) {
            return BAD(x, "\"%s\" must be an object", path);
        }
        rc = import_jwk(x, e, OPC_JWK_PUBLIC_ONLY, path, &c->issuer_keys[i]);
        if (rc != OPC_OK) {
            return rc;
        }
        c->n_issuer_keys = i + 1;
        const opc__key *k = c->issuer_keys[i];
        const char *why = opc__credentials_issuer_key_problem(k);
        if (why != NULL) {
            return BAD(x, "\"%s\" %s", path, why);
        }
        if (opc__key_ops(k) != OPC_KEYOP_VERIFY) {
            return BAD(x, "\"%s\" must have key_ops [\"verify\"]", path);
        }
        for (size_t j = 0; j < i; j++) {
            if (same(opc__key_kid(c->issuer_keys[j]), opc__key_kid(k))) {
                return BAD(x, "\"%s\" has the same kid as issuerKeys[%zu]", path, j);
            }
        }
    }
    return OPC_OK;
}

static opc_err parse_outer(const ctx *x, cJSON *o, opc_credentials *c)
{
    static const char *const members[] = {"serverUuid",       "accountUuid", "serviceUrl",
                                          "accountServerPin", "deviceKey",   "issuerKeys",
                                          "keyset",           NULL};
    if (!cJSON_IsObject(o)) {
        return BAD(x, "encCredentials does not hold a JSON object");
    }
    opc_err rc = only(x, o, members, "encCredentials");
    if (rc == OPC_OK) {
        rc = parse_ids(x, o, c);
    }
    if (rc == OPC_OK) {
        rc = parse_pin(x, o, c);
    }
    const cJSON *m = NULL;
    if (rc == OPC_OK) {
        rc = need_obj(x, o, "deviceKey", "encCredentials.deviceKey", &m);
    }
    if (rc == OPC_OK) {
        rc = import_jwk(x, m, OPC_JWK_REQUIRE_PRIVATE, "encCredentials.deviceKey", &c->device_key);
    }
    if (rc == OPC_OK) {
        const char *why = opc__credentials_device_key_problem(c->device_key);
        if (why != NULL) {
            rc = BAD(x, "\"encCredentials.deviceKey\" %s", why);
        }
    }
    if (rc == OPC_OK) {
        rc = parse_issuer_keys(x, o, c);
    }
    if (rc == OPC_OK) {
        rc = need_obj(x, o, "keyset", "encCredentials.keyset", &m);
    }
    if (rc == OPC_OK) {
        rc = envelope_shape(x, m, "encCredentials.keyset");
    }
    if (rc == OPC_OK) {
        rc = envelope_values(x, m, "encCredentials.keyset", OPC_CREDENTIALS_CK_KID,
                             "\"" OPC_CREDENTIALS_CK_KID "\"");
    }
    if (rc == OPC_OK) {
        c->keyset = cJSON_DetachItemFromObjectCaseSensitive(o, "keyset");
    }
    return rc;
}

/* ---- the file ---- */

static opc_err parse_unique_key(const ctx *x, const cJSON *uk, opc_credentials *c)
{
    static const char *const members[] = {"alg", "ext", "k", "key_ops", "kty", "kid", NULL};
    static const char *const strs[] = {"alg", "k", "kty", "kid"};
    const char *v[4];
    for (size_t i = 0; i < OPC_ARRAY_LEN(strs); i++) {
        char path[32];
        (void)snprintf(path, sizeof path, "uniqueKey.%s", strs[i]);
        opc_err rc = need_str(x, uk, strs[i], path, &v[i]);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    const cJSON *ops;
    opc_err rc = need(x, uk, "key_ops", "uniqueKey.key_ops", &ops);
    if (rc != OPC_OK) {
        return rc;
    }
    if (!cJSON_IsArray(ops)) {
        return BAD(x, "\"uniqueKey.key_ops\" must be an array");
    }
    const cJSON *ext = opc__json_member(uk, "ext");
    if (ext != NULL && !cJSON_IsBool(ext)) {
        return BAD(x, "\"uniqueKey.ext\" must be a boolean");
    }
    rc = only(x, uk, members, "uniqueKey");
    if (rc != OPC_OK) {
        return rc;
    }
    if (!same(v[2], "oct")) {
        return BAD(x, "\"uniqueKey.kty\" must be \"oct\"");
    }
    if (!same(v[0], OPC_ENVELOPE_ENC)) {
        return BAD(x, "\"uniqueKey.alg\" must be \"" OPC_ENVELOPE_ENC "\"");
    }
    if (!same(v[3], OPC_CREDENTIALS_UNIQUE_KID)) {
        return BAD(x, "\"uniqueKey.kid\" must be \"" OPC_CREDENTIALS_UNIQUE_KID "\"");
    }
    rc = import_jwk(x, uk, 0, "uniqueKey", &c->unique_key);
    if (rc != OPC_OK) {
        return rc;
    }
    if (opc__key_type(c->unique_key) != OPC_KTY_OCT || opc__key_oct(c->unique_key) == NULL) {
        return BAD(x, "\"uniqueKey\" must be a 32-byte oct key");
    }
    if (opc__key_ops(c->unique_key) != (OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT)) {
        return BAD(x, "\"uniqueKey.key_ops\" must be [\"encrypt\", \"decrypt\"]");
    }
    return OPC_OK;
}

/* Presence and types of every required member of the file. */
static opc_err file_shape(const ctx *x, const cJSON *root, const cJSON **ver, const cJSON **enc,
                          const cJSON **uk)
{
    const char *s;
    opc_err rc = need_obj(x, root, "verifier", "verifier", ver);
    if (rc == OPC_OK) {
        rc = need_str(x, *ver, "salt", "verifier.salt", &s);
    }
    if (rc == OPC_OK) {
        rc = need_str(x, *ver, "localHash", "verifier.localHash", &s);
    }
    if (rc == OPC_OK) {
        rc = need_obj(x, root, "encCredentials", "encCredentials", enc);
    }
    if (rc == OPC_OK) {
        rc = envelope_shape(x, *enc, "encCredentials");
    }
    if (rc == OPC_OK) {
        rc = need_str(x, root, "deviceUuid", "deviceUuid", &s);
    }
    if (rc == OPC_OK) {
        rc = need_obj(x, root, "uniqueKey", "uniqueKey", uk);
    }
    return rc;
}

static opc_err open_outer(const ctx *x, const cJSON *enc, opc_credentials *c)
{
    uint8_t aad[OPC_CREDENTIALS_AAD_MAX];
    size_t aad_len = 0;
    opc_secret *pt = NULL;
    opc__ebuf sub;
    opc__ebuf_clear(&sub);
    opc_err rc = opc__credentials_aad(false, c->device_uuid, aad, &aad_len);
    if (rc != OPC_OK) {
        return BAD(x, "deviceUuid does not make an AAD");
    }
    rc = opc__envelope_open(enc, c->unique_key, aad, aad_len, &pt, &sub);
    if (rc == OPC_ERR_DECRYPT) {
        return BAD(x, "encCredentials does not decrypt with uniqueKey (file corrupt or tampered)");
    }
    if (rc != OPC_OK) {
        return bad_sub(x, rc, "encCredentials", &sub);
    }
    cJSON *outer = NULL;
    opc__json_limits lim = {MAX_BYTES, JSON_DEPTH};
    rc = opc__json_parse(opc_secret_data(pt), opc_secret_len(pt), &lim, &outer, &sub);
    opc_secret_free(pt);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(x->eb, rc, "out of memory");
    }
    if (rc != OPC_OK) {
        return BAD(x, "encCredentials does not hold valid JSON: %s",
                   unprefixed(sub.msg, "invalid JSON: "));
    }
    rc = parse_outer(x, outer, c);
    opc__json_delete_secret(outer);
    return rc;
}

static opc_err parse_file(const ctx *x, const cJSON *root, opc_credentials *c)
{
    static const char *const members[] = {"verifier",   "encCredentials", "version",
                                          "deviceUuid", "uniqueKey",      NULL};
    if (!cJSON_IsObject(root)) {
        return opc__fail(x->eb, OPC_ERR_CREDENTIALS, "%s is not a JSON object", x->label);
    }
    const cJSON *version = opc__json_member(root, "version");
    if (version == NULL) {
        return opc__fail(x->eb, OPC_ERR_CREDENTIALS, "%s has no \"version\"", x->label);
    }
    if (!cJSON_IsString(version) || version->valuestring == NULL ||
        !same(version->valuestring, "2")) {
        return opc__fail(x->eb, OPC_ERR_CREDENTIALS, "%s is not version 2", x->label);
    }
    opc_err rc = only(x, root, members, NULL);
    if (rc != OPC_OK) {
        return rc;
    }
    const cJSON *ver = NULL, *enc = NULL, *uk = NULL;
    rc = file_shape(x, root, &ver, &enc, &uk);
    if (rc != OPC_OK) {
        return rc;
    }
    rc = only(x, ver, (const char *const[]){"salt", "localHash", NULL}, "verifier");
    if (rc == OPC_OK) {
        rc = decode_exact(x, opc__json_member(ver, "salt")->valuestring, "verifier.salt", c->salt,
                          SALT_LEN);
    }
    if (rc == OPC_OK) {
        rc = decode_exact(x, opc__json_member(ver, "localHash")->valuestring, "verifier.localHash",
                          c->local_hash, HASH_LEN);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    const char *uuid = opc__json_member(root, "deviceUuid")->valuestring;
    if (!opc__id_valid_str(uuid)) {
        return BAD(x, "\"deviceUuid\" must be a 26-character id (a-z, 2-7)");
    }
    memcpy(c->device_uuid, uuid, OPC_ID_LEN + 1);
    rc = parse_unique_key(x, uk, c);
    if (rc == OPC_OK) {
        rc = envelope_values(x, enc, "encCredentials", opc__key_kid(c->unique_key),
                             "\"uniqueKey.kid\"");
    }
    if (rc == OPC_OK) {
        rc = open_outer(x, enc, c);
    }
    return rc;
}

opc_err opc__credentials_parse_labeled(const char *json, size_t len, const char *label,
                                       opc_credentials **out, opc__ebuf *eb)
{
    if (out != NULL) {
        *out = NULL;
    }
    opc_err rc = opc__require_init();
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "the library is not initialized (call opc_global_init first)");
    }
    if (json == NULL || out == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "credentials: json and out must not be NULL");
    }
    ctx x = {label != NULL ? label : DEFAULT_LABEL, eb};
    if (len > MAX_BYTES) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "%s is too large (%zu bytes; the limit is %d)",
                         x.label, len, OPC_CREDENTIALS_MAX_SIZE);
    }
    cJSON *root = NULL;
    opc__json_limits lim = {MAX_BYTES, JSON_DEPTH};
    opc__ebuf sub;
    opc__ebuf_clear(&sub);
    rc = opc__json_parse(json, len, &lim, &root, &sub);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(eb, rc, "out of memory");
    }
    if (rc != OPC_OK) {
        return opc__fail(eb, rc == OPC_ERR_TOO_LARGE ? rc : OPC_ERR_PARSE,
                         "%s is not valid JSON: %s", x.label,
                         unprefixed(sub.msg, "invalid JSON: "));
    }
    opc_credentials *c = opc__calloc(1, sizeof *c);
    if (c == NULL) {
        opc__json_delete_secret(root);
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    rc = parse_file(&x, root, c);
    opc__json_delete_secret(root);
    if (rc != OPC_OK) {
        opc_credentials_free(c);
        return rc;
    }
    *out = c;
    return OPC_OK;
}

opc_err opc__credentials_parse_ex(const char *json, size_t len, opc_credentials **out,
                                  opc__ebuf *eb)
{
    return opc__credentials_parse_labeled(json, len, NULL, out, eb);
}

opc_err opc_credentials_parse(const char *json, size_t len, opc_credentials **out, char *errbuf,
                              size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__credentials_parse_ex(json, len, out, &eb);
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}

/* ---- unlocking ---- */

bool opc_credentials_check_secret(const opc_credentials *c, const void *secret, size_t secret_len)
{
    if (c == NULL || secret == NULL || secret_len != OPC_CREDENTIALS_SECRET_LEN) {
        return false;
    }
    uint8_t h[HASH_LEN];
    bool ok = opc__credentials_verifier_hash(secret, c->salt, h) == OPC_OK &&
              CRYPTO_memcmp(h, c->local_hash, HASH_LEN) == 0;
    opc__wipe(h, sizeof h);
    return ok;
}

static opc_err parse_inner(const ctx *x, const cJSON *in, opc__key **enc_key, opc__key **sym_key)
{
    static const char *const members[] = {"encKey", "symKey", NULL};
    if (!cJSON_IsObject(in)) {
        return BAD(x, "the inner keyset does not hold a JSON object");
    }
    const cJSON *m = NULL;
    opc_err rc = only(x, in, members, "encCredentials.keyset");
    if (rc == OPC_OK) {
        rc = need_obj(x, in, "encKey", "encCredentials.keyset.encKey", &m);
    }
    if (rc == OPC_OK) {
        rc = import_jwk(x, m, OPC_JWK_REQUIRE_PRIVATE, "encCredentials.keyset.encKey", enc_key);
    }
    if (rc == OPC_OK) {
        const char *why = opc__credentials_enc_key_problem(*enc_key);
        if (why != NULL) {
            rc = BAD(x, "\"encCredentials.keyset.encKey\" %s", why);
        }
    }
    if (rc == OPC_OK) {
        rc = need_obj(x, in, "symKey", "encCredentials.keyset.symKey", &m);
    }
    if (rc == OPC_OK) {
        rc = import_jwk(x, m, 0, "encCredentials.keyset.symKey", sym_key);
    }
    if (rc == OPC_OK) {
        const char *why = opc__credentials_sym_key_problem(*sym_key);
        if (why != NULL) {
            rc = BAD(x, "\"encCredentials.keyset.symKey\" %s", why);
        }
    }
    return rc;
}

/* Open the inner layer with CK; on success the keys are the caller's. */
static opc_err open_inner(const ctx *x, const opc_credentials *c, const uint8_t *ck,
                          opc__key **enc_key, opc__key **sym_key)
{
    opc__key *ck_key = NULL;
    opc_err rc = opc__key_from_oct(ck, OPC_CREDENTIALS_CK_LEN, OPC_CREDENTIALS_CK_KID,
                                   OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &ck_key);
    if (rc != OPC_OK) {
        return opc__fail(x->eb, rc, "credentials: cannot make the inner key");
    }
    uint8_t aad[OPC_CREDENTIALS_AAD_MAX];
    size_t aad_len = 0;
    opc_secret *pt = NULL;
    opc__ebuf sub;
    opc__ebuf_clear(&sub);
    rc = opc__credentials_aad(true, c->device_uuid, aad, &aad_len);
    if (rc == OPC_OK) {
        rc = opc__envelope_open(c->keyset, ck_key, aad, aad_len, &pt, &sub);
    }
    opc__key_free(ck_key);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(x->eb, rc, "out of memory");
    }
    if (rc != OPC_OK) {
        return BAD(x, "the inner keyset does not decrypt with the key derived from the token "
                      "secret (file corrupt or tampered)");
    }
    cJSON *in = NULL;
    opc__json_limits lim = {MAX_BYTES, JSON_DEPTH};
    rc = opc__json_parse(opc_secret_data(pt), opc_secret_len(pt), &lim, &in, &sub);
    opc_secret_free(pt);
    if (rc == OPC_ERR_NOMEM) {
        return opc__fail(x->eb, rc, "out of memory");
    }
    if (rc != OPC_OK) {
        return BAD(x, "the inner keyset does not hold valid JSON: %s",
                   unprefixed(sub.msg, "invalid JSON: "));
    }
    rc = parse_inner(x, in, enc_key, sym_key);
    opc__json_delete_secret(in);
    if (rc != OPC_OK) {
        opc__key_free(*enc_key);
        opc__key_free(*sym_key);
        *enc_key = NULL;
        *sym_key = NULL;
    }
    return rc;
}

opc_err opc__credentials_unlock_ex(opc_credentials *c, const void *secret, size_t secret_len,
                                   opc__ebuf *eb)
{
    if (c == NULL || secret == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "credentials: creds and secret must not be NULL");
    }
    if (!opc_credentials_check_secret(c, secret, secret_len)) {
        return opc__fail(eb, OPC_ERR_VERIFIER, VERIFIER_MSG);
    }
    if (c->unlocked) {
        return OPC_OK; /* same T: the verifier pins it */
    }
    ctx x = {DEFAULT_LABEL, eb};
    uint8_t ck[OPC_CREDENTIALS_CK_LEN];
    opc_err rc =
        opc__credentials_derive_ck(opc__key_oct(c->unique_key), secret, c->device_uuid, ck);
    if (rc != OPC_OK) {
        opc__wipe(ck, sizeof ck);
        return opc__fail(eb, rc, "credentials: key derivation failed");
    }
    opc__key *enc_key = NULL, *sym_key = NULL;
    rc = open_inner(&x, c, ck, &enc_key, &sym_key);
    if (rc == OPC_OK) {
        memcpy(c->ck, ck, sizeof ck);
        c->enc_key = enc_key;
        c->sym_key = sym_key;
        c->unlocked = true;
    }
    opc__wipe(ck, sizeof ck);
    return rc;
}

opc_err opc_credentials_unlock(opc_credentials *creds, const void *secret, size_t secret_len,
                               char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__credentials_unlock_ex(creds, secret, secret_len, &eb);
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}

bool opc_credentials_is_unlocked(const opc_credentials *creds)
{
    return creds != NULL && creds->unlocked;
}

void opc_credentials_lock(opc_credentials *creds)
{
    if (creds == NULL) {
        return;
    }
    opc__key_free(creds->enc_key);
    opc__key_free(creds->sym_key);
    creds->enc_key = NULL;
    creds->sym_key = NULL;
    opc__wipe(creds->ck, sizeof creds->ck);
    creds->unlocked = false;
}

void opc_credentials_free(opc_credentials *creds)
{
    if (creds == NULL) {
        return;
    }
    opc_credentials_lock(creds);
    opc__key_free(creds->unique_key);
    opc__key_free(creds->device_key);
    for (size_t i = 0; i < creds->n_issuer_keys; i++) {
        opc__key_free(creds->issuer_keys[i]);
    }
    opc__free(creds->issuer_keys);
    opc__json_delete_secret(creds->keyset);
    for (size_t i = 0; i < creds->n_urls; i++) {
        opc__secret_free_str(creds->urls[i]);
    }
    opc__secret_free_str(creds->account_server_pin);
    opc__secret_free(creds, sizeof *creds);
}

/* ---- getters ---- */

const char *opc_credentials_device_uuid(const opc_credentials *creds)
{
    return creds == NULL ? NULL : creds->device_uuid;
}

const char *opc_credentials_server_id(const opc_credentials *creds)
{
    return creds == NULL ? NULL : creds->server_id;
}

const char *opc_credentials_account_id(const opc_credentials *creds)
{
    return creds == NULL ? NULL : creds->account_id;
}

const char *opc_credentials_upstream_url(const opc_credentials *creds)
{
    return creds == NULL || creds->n_urls == 0 ? NULL : creds->urls[0];
}

size_t opc_credentials_upstream_count(const opc_credentials *creds)
{
    return creds == NULL ? 0 : creds->n_urls;
}

const char *opc_credentials_upstream_url_at(const opc_credentials *creds, size_t i)
{
    return creds == NULL || i >= creds->n_urls ? NULL : creds->urls[i];
}

const char *opc__credentials_account_server_pin(const opc_credentials *c)
{
    return c == NULL ? NULL : c->account_server_pin;
}

const opc__key *opc__credentials_device_key(const opc_credentials *c)
{
    return c == NULL ? NULL : c->device_key;
}

size_t opc__credentials_issuer_key_count(const opc_credentials *c)
{
    return c == NULL ? 0 : c->n_issuer_keys;
}

const opc__key *opc__credentials_issuer_key(const opc_credentials *c, size_t i)
{
    return c == NULL || i >= c->n_issuer_keys ? NULL : c->issuer_keys[i];
}

const opc__key *opc__credentials_issuer_key_by_kid(const opc_credentials *c, const char *kid)
{
    if (c == NULL || kid == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < c->n_issuer_keys; i++) {
        if (same(opc__key_kid(c->issuer_keys[i]), kid)) {
            return c->issuer_keys[i];
        }
    }
    return NULL;
}

const opc__key *opc__credentials_enc_key(const opc_credentials *c)
{
    return c == NULL || !c->unlocked ? NULL : c->enc_key;
}

const opc__key *opc__credentials_sym_key(const opc_credentials *c)
{
    return c == NULL || !c->unlocked ? NULL : c->sym_key;
}

const uint8_t *opc__credentials_ck(const opc_credentials *c)
{
    return c == NULL || !c->unlocked ? NULL : c->ck;
}
