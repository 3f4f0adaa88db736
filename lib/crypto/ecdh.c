#include "internal.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto/ecdh.h"
#include "crypto/key.h"

/*
 * Ephemeral ECDH on P-256 over OpenSSL's EVP_PKEY_derive. The peer's point
 * becomes a public key through opc__key_from_ec_point, which refuses any
 * length but 65, the point at infinity and points off the curve.
 */

opc_err opc__ecdh_generate(opc__key **out, uint8_t pub[OPC_ECDH_POINT_LEN])
{
    if (out == NULL || pub == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    opc__key *k = NULL;
    opc_err rc = opc__key_generate_ec(NULL, OPC_KEYOP_DERIVE, &k);
    if (rc == OPC_OK) {
        rc = opc__ecdh_point(k, pub);
    }
    if (rc != OPC_OK) {
        opc__key_free(k);
        return rc;
    }
    *out = k;
    return OPC_OK;
}

opc_err opc__ecdh_point(const opc__key *k, uint8_t pub[OPC_ECDH_POINT_LEN])
{
    if (pub == NULL || opc__key_type(k) != OPC_KTY_EC) {
        return OPC_ERR_INVALID_ARG;
    }
    EVP_PKEY *pk = opc__key_pkey(k);
    BIGNUM *x = NULL;
    BIGNUM *y = NULL;
    opc_err rc = OPC_ERR_CRYPTO;
    if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
        BN_bn2binpad(x, pub + 1, 32) == 32 && BN_bn2binpad(y, pub + 33, 32) == 32) {
        pub[0] = 0x04;
        rc = OPC_OK;
    }
    ERR_clear_error();
    BN_free(x);
    BN_free(y);
    return rc;
}

opc_err opc__ecdh_derive(const opc__key *priv, const uint8_t *peer, size_t peer_len,
                         uint8_t secret[OPC_ECDH_SECRET_LEN], opc__ebuf *eb)
{
    if (secret == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "ECDH: no output");
    }
    opc_err rc = opc__key_check(priv, OPC_KTY_EC, OPC_KEYOP_DERIVE, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (peer == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "ECDH: no peer point");
    }
    opc__key *pub = NULL;
    rc = opc__key_from_ec_point(peer, peer_len, NULL, OPC_KEYOP_DERIVE, &pub, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    uint8_t z[OPC_ECDH_SECRET_LEN];
    size_t zlen = sizeof z;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, opc__key_pkey(priv), NULL);
    if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
        EVP_PKEY_derive_set_peer_ex(ctx, opc__key_pkey(pub), 1) != 1 ||
        EVP_PKEY_derive(ctx, z, &zlen) != 1 || zlen != OPC_ECDH_SECRET_LEN) {
        rc = opc__fail(eb, OPC_ERR_CRYPTO, "ECDH: OpenSSL could not derive the shared secret");
    } else {
        memcpy(secret, z, sizeof z);
        rc = OPC_OK;
    }
    OPENSSL_cleanse(z, sizeof z);
    ERR_clear_error();
    EVP_PKEY_CTX_free(ctx);
    opc__key_free(pub);
    return rc;
}
