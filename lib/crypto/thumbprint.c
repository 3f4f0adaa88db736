#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "crypto/base64.h"
#include "crypto/kdf.h"
#include "crypto/key.h"

/*
 * RFC 7638 JWK thumbprints: the canonical JSON of a public key's required
 * members, in lexicographic order and without white space, hashed with
 * SHA-256. ACME's key authorization (tls/acme) and the account server's
 * pin (wire/proto) both use it.
 */

opc_err opc__jwk_canonical(const opc__key *k, char **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    opc__kty type = opc__key_type(k);
    if (type != OPC_KTY_EC && type != OPC_KTY_RSA) {
        return OPC_ERR_KEY;
    }
    cJSON *jwk = NULL;
    opc_err rc = opc__jwk_export(k, false, &jwk);
    if (rc != OPC_OK) {
        return rc;
    }
    const char *a = NULL; /* EC: x, RSA: e */
    const char *b = NULL; /* EC: y, RSA: n */
    bool ec = type == OPC_KTY_EC;
    if (opc__json_get_str(jwk, ec ? "x" : "e", true, "JWK", &a, NULL) != OPC_OK ||
        opc__json_get_str(jwk, ec ? "y" : "n", true, "JWK", &b, NULL) != OPC_OK) {
        cJSON_Delete(jwk);
        return OPC_ERR_KEY;
    }
    opc__buf buf;
    opc__buf_init(&buf, false);
    if (ec) {
        (void)opc__buf_appendf(&buf, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                               a, b);
    } else {
        (void)opc__buf_appendf(&buf, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", a, b);
    }
    cJSON_Delete(jwk);
    rc = opc__buf_err(&buf);
    if (rc != OPC_OK) {
        opc__buf_free(&buf);
        return rc;
    }
    *out = opc__buf_detach(&buf, NULL);
    return OPC_OK;
}

opc_err opc__jwk_thumbprint(const opc__key *k, char out[OPC_JWK_THUMBPRINT_LEN + 1])
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    out[0] = '\0';
    char *jwk = NULL;
    opc_err rc = opc__jwk_canonical(k, &jwk);
    if (rc != OPC_OK) {
        return rc;
    }
    uint8_t h[OPC_SHA256_LEN];
    rc = opc__sha256(jwk, strlen(jwk), h);
    opc__free(jwk);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(h, sizeof h, OPC_B64URL, out, OPC_JWK_THUMBPRINT_LEN + 1, NULL);
    }
    return rc;
}
