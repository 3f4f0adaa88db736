/*
 * credentials/rules.c - the parts of the credentials format that both
 * parsing (credentials.c) and creation (create.c) apply: the value rules for
 * the outer layer's members and keys, the AADs and the two derivations. The
 * formulas are documented at the top of credentials.c.
 */
#include "internal.h"

#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/id.h"
#include "core/json.h"
#include "core/strparse.h"
#include "credentials/credentials.h"
#include "crypto/base64.h"
#include "crypto/kdf.h"
#include "crypto/key.h"
#include "wire/labels.h"

#define VERIFIER_INFO OPC_WIRE_KDF_LOCALAUTH
#define CK_INFO OPC_WIRE_KDF_CREDENTIALS

const char *opc__credentials_url_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) {
        return "is empty";
    }
    if (n > OPC_CREDENTIALS_MAX_URL) {
        return "is too long";
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return "contains control characters";
        }
    }
    if (strstr(s, "://") != NULL) {
        if (strncmp(s, "http://", 7) == 0) { /* opc-public-compare */
            return opc__credentials_url_loopback(s) ? NULL
                                                    : "may be http:// for a loopback host only";
        }
        if (strncmp(s, "https://", 8) != 0) { /* opc-public-compare */
            return "must be an https:// URL or a file path";
        }
        if (s[8] == '\0' || s[8] == '/') {
            return "has no host";
        }
    }
    return NULL;
}

_Static_assert(OPC_CREDENTIALS_MAX_UPSTREAMS == 8, "the message below says 8");

/* Two URLs naming the same account server: equal but for the case of
 * their letters and a trailing '/'. */
static bool same_url(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    na -= na > 0 && a[na - 1] == '/' ? 1 : 0;
    nb -= nb > 0 && b[nb - 1] == '/' ? 1 : 0;
    return na == nb && strncasecmp(a, b, na) == 0; /* opc-public-compare */
}

const char *opc__credentials_url_list_problem(const char *const *urls, size_t n, size_t *at)
{
    *at = 0;
    if (n < 1 || n > OPC_CREDENTIALS_MAX_UPSTREAMS) {
        return "must list 1 to 8 account servers";
    }
    for (size_t i = 0; i < n; i++) {
        *at = i;
        const char *why = opc__credentials_url_problem(urls[i]);
        if (why != NULL) {
            return why;
        }
        if (strstr(urls[i], "://") == NULL) {
            return "is a file path: a list names account servers (https:// URLs) only";
        }
        for (size_t j = 0; j < i; j++) {
            if (same_url(urls[i], urls[j])) {
                return "names an account server listed before it";
            }
        }
    }
    return NULL;
}

bool opc__credentials_url_is_list(const char *s)
{
    return s != NULL && strstr(s, "://") != NULL && strchr(s, ',') != NULL;
}

opc_err opc__credentials_url_list_split(const char *s, char *out[OPC_CREDENTIALS_MAX_UPSTREAMS],
                                        size_t *n, opc__ebuf *eb)
{
    *n = 0;
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        opc_err rc = OPC_OK;
        if (len == 0) {
            rc = opc__fail(eb, OPC_ERR_INVALID_ARG, "entry %zu of the upstream list is empty", *n);
        } else if (*n == OPC_CREDENTIALS_MAX_UPSTREAMS) {
            rc = opc__fail(eb, OPC_ERR_INVALID_ARG,
                           "the upstream list names more than %d account servers",
                           OPC_CREDENTIALS_MAX_UPSTREAMS);
        } else {
            out[*n] = opc__strndup(p, len);
            rc = out[*n] == NULL ? OPC_ERR_NOMEM : OPC_OK;
        }
        if (rc != OPC_OK) {
            for (size_t i = 0; i < *n; i++) {
                opc__free(out[i]);
                out[i] = NULL;
            }
            *n = 0;
            return rc;
        }
        (*n)++;
        if (end == NULL) {
            return OPC_OK;
        }
        p = end + 1;
    }
}

bool opc__credentials_url_loopback(const char *url)
{
    return opc__url_loopback(url);
}

const char *opc__credentials_pin_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) {
        return "is empty";
    }
    if (n != OPC_CREDENTIALS_PIN_LEN) {
        return "must be a key thumbprint: 43 base64url characters";
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return "must be a key thumbprint: 43 base64url characters";
        }
    }
    return NULL;
}

const char *opc__credentials_device_key_problem(const opc__key *k)
{
    if (opc__key_type(k) != OPC_KTY_EC) {
        return "must be an EC P-256 key";
    }
    if (!opc__key_is_private(k)) {
        return "must be a private key";
    }
    if ((opc__key_ops(k) & OPC_KEYOP_SIGN) == 0) {
        return "must allow \"sign\"";
    }
    return NULL;
}

const char *opc__credentials_issuer_key_problem(const opc__key *k)
{
    if (opc__key_type(k) != OPC_KTY_EC) {
        return "must be an EC P-256 key";
    }
    if (opc__key_kid(k)[0] == '\0') {
        return "must have a kid";
    }
    if ((opc__key_ops(k) & (OPC_KEYOP_VERIFY | OPC_KEYOP_SIGN)) == 0) {
        return "must allow \"verify\"";
    }
    return NULL;
}

const char *opc__credentials_enc_key_problem(const opc__key *k)
{
    if (opc__key_type(k) != OPC_KTY_RSA) {
        return "must be an RSA key";
    }
    if (!opc__key_is_private(k)) {
        return "must be a private key";
    }
    if ((opc__key_ops(k) & (OPC_KEYOP_UNWRAP | OPC_KEYOP_DECRYPT)) == 0) {
        return "must allow \"unwrapKey\" or \"decrypt\"";
    }
    return NULL;
}

const char *opc__credentials_sym_key_problem(const opc__key *k)
{
    if (opc__key_type(k) != OPC_KTY_OCT) {
        return "must be an oct key";
    }
    if (opc__key_kid(k)[0] == '\0') {
        return "must have a kid";
    }
    return NULL;
}

_Static_assert(OPC_WIRE_CREDENTIALS_AAD_LEN < OPC_CREDENTIALS_AAD_MAX, "AAD fits with its NUL");

opc_err opc__credentials_aad(bool inner, const char *uuid, uint8_t out[OPC_CREDENTIALS_AAD_MAX],
                             size_t *out_len)
{
    char *s = (char *)out;
    opc__wire_credentials_layer layer =
        inner ? OPC_WIRE_CREDENTIALS_INNER : OPC_WIRE_CREDENTIALS_OUTER;
    opc_err rc = opc__wire_credentials_aad(s, OPC_CREDENTIALS_AAD_MAX, layer, uuid);
    *out_len = rc == OPC_OK ? strlen(s) : 0;
    return rc;
}

opc_err opc__credentials_derive_ck(const uint8_t *unique_key, const uint8_t *T, const char *uuid,
                                   uint8_t ck[OPC_CREDENTIALS_CK_LEN])
{
    uint8_t ikm[OPC_CREDENTIALS_CK_LEN + OPC_CREDENTIALS_SECRET_LEN];
    memcpy(ikm, unique_key, OPC_CREDENTIALS_CK_LEN);
    memcpy(ikm + OPC_CREDENTIALS_CK_LEN, T, OPC_CREDENTIALS_SECRET_LEN);
    opc_err rc = opc__hkdf_sha256(ikm, sizeof ikm, uuid, OPC_ID_LEN, CK_INFO, sizeof CK_INFO - 1,
                                  ck, OPC_CREDENTIALS_CK_LEN);
    opc__wipe(ikm, sizeof ikm);
    return rc;
}

opc_err opc__credentials_verifier_hash(const uint8_t *T, const uint8_t *salt,
                                       uint8_t out[OPC_CREDENTIALS_HASH_LEN])
{
    return opc__hkdf_sha256(T, OPC_CREDENTIALS_SECRET_LEN, salt, OPC_CREDENTIALS_SALT_LEN,
                            VERIFIER_INFO, sizeof VERIFIER_INFO - 1, out, OPC_CREDENTIALS_HASH_LEN);
}

opc_err opc__credentials_cache_key(const opc_credentials *c, uint8_t out[32])
{
    const opc__key *dk = c != NULL ? opc__credentials_device_key(c) : NULL;
    const char *sid = c != NULL ? opc_credentials_server_id(c) : NULL;
    const char *aid = c != NULL ? opc_credentials_account_id(c) : NULL;
    if (dk == NULL || out == NULL || !opc__id_valid_str(sid) || !opc__id_valid_str(aid)) {
        return OPC_ERR_INVALID_ARG;
    }
    char salt[2 * OPC_ID_LEN];
    memcpy(salt, sid, OPC_ID_LEN);
    memcpy(salt + OPC_ID_LEN, aid, OPC_ID_LEN);
    return opc__key_derive(dk, salt, sizeof salt, OPC_WIRE_KDF_CACHE, out, 32);
}
