#include "internal.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "core/alloc.h"
#include "crypto/rsa.h"

/*
 * RSA-OAEP-256: OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017 §7.1,
 * RFC 7518 §4.3). The padding is always set explicitly; OpenSSL's default
 * for RSA is PKCS#1 v1.5.
 */

#define OAEP_OVERHEAD (2 * 32 + 2) /* 2 * hLen + 2 */

/* The one message of every decryption failure (no padding oracle). */
#define DECRYPT_FAILED "RSA-OAEP decryption failed"

/* A context of pk for encryption or decryption with the OAEP-256 settings
 * and the label (copied; OpenSSL owns the copy once it is set). */
static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *pk, bool decrypt, const void *label, size_t label_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (ctx == NULL) {
        return NULL;
    }
    int ok = decrypt ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_encrypt_init(ctx);
    if (ok != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    if (label_len > 0) {
        void *copy = OPENSSL_memdup(label, label_len);
        if (copy == NULL) {
            EVP_PKEY_CTX_free(ctx);
            return NULL;
        }
        if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, (int)label_len) != 1) {
            OPENSSL_free(copy);
            EVP_PKEY_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

static bool label_ok(const void *label, size_t label_len)
{
    return (label != NULL || label_len == 0) && label_len <= INT_MAX;
}

opc_err opc__rsa_oaep_encrypt(const opc__key *pub, const void *label, size_t label_len,
                              const void *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    static const uint8_t empty[1] = {0};
    if (out == NULL || out_len == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    *out_len = 0;
    if (pub == NULL || (in == NULL && in_len != 0) || !label_ok(label, label_len)) {
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc = opc__key_check(pub, OPC_KTY_RSA, OPC_KEYOP_ENCRYPT | OPC_KEYOP_WRAP, NULL);
    if (rc != OPC_OK) {
        return rc;
    }
    EVP_PKEY *pk = opc__key_pkey(pub);
    int size = EVP_PKEY_get_size(pk);
    if (size <= OAEP_OVERHEAD) {
        ERR_clear_error();
        return OPC_ERR_CRYPTO;
    }
    if (in_len > (size_t)size - OAEP_OVERHEAD) {
        return OPC_ERR_RANGE;
    }
    EVP_PKEY_CTX *ctx = oaep_ctx(pk, false, label, label_len);
    if (ctx == NULL) {
        ERR_clear_error();
        return OPC_ERR_CRYPTO;
    }
    uint8_t *buf = opc__malloc((size_t)size);
    if (buf == NULL) {
        EVP_PKEY_CTX_free(ctx);
        return OPC_ERR_NOMEM;
    }
    size_t n = (size_t)size;
    const uint8_t *src = in_len == 0 ? empty : in;
    if (EVP_PKEY_encrypt(ctx, buf, &n, src, in_len) != 1 || n > (size_t)size) {
        ERR_clear_error();
        EVP_PKEY_CTX_free(ctx);
        opc__free(buf);
        return OPC_ERR_CRYPTO;
    }
    EVP_PKEY_CTX_free(ctx);
    *out = buf;
    *out_len = n;
    return OPC_OK;
}

opc_err opc__rsa_oaep_decrypt(const opc__key *priv, const void *label, size_t label_len,
                              const void *in, size_t in_len, uint8_t **out, size_t *out_len,
                              opc__ebuf *eb)
{
    if (out == NULL || out_len == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "no output for the RSA-OAEP decryption");
    }
    *out = NULL;
    *out_len = 0;
    if (priv == NULL || (in == NULL && in_len != 0) || !label_ok(label, label_len)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "invalid argument to RSA-OAEP decryption");
    }
    opc_err rc = opc__key_check(priv, OPC_KTY_RSA, OPC_KEYOP_DECRYPT | OPC_KEYOP_UNWRAP, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    EVP_PKEY *pk = opc__key_pkey(priv);
    int size = EVP_PKEY_get_size(pk);
    if (size <= OAEP_OVERHEAD) {
        ERR_clear_error();
        return opc__fail(eb, OPC_ERR_CRYPTO, "RSA key size unavailable");
    }
    /* A ciphertext is exactly one modulus long; anything else fails the
     * same way as a bad padding. */
    if (in_len != (size_t)size) {
        return opc__fail(eb, OPC_ERR_DECRYPT, DECRYPT_FAILED);
    }
    EVP_PKEY_CTX *ctx = oaep_ctx(pk, true, label, label_len);
    if (ctx == NULL) {
        ERR_clear_error();
        return opc__fail(eb, OPC_ERR_CRYPTO, "RSA-OAEP setup failed");
    }
    /* Scratch buffer of the modulus size: the result leaves it only on
     * success, and it is wiped either way. */
    uint8_t *scratch = opc__malloc((size_t)size);
    if (scratch == NULL) {
        EVP_PKEY_CTX_free(ctx);
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    size_t n = (size_t)size;
    int ok = EVP_PKEY_decrypt(ctx, scratch, &n, in, in_len);
    EVP_PKEY_CTX_free(ctx);
    if (ok != 1 || n > (size_t)size) {
        ERR_clear_error();
        opc__secret_free(scratch, (size_t)size);
        return opc__fail(eb, OPC_ERR_DECRYPT, DECRYPT_FAILED);
    }
    uint8_t *res = opc__malloc(n == 0 ? 1 : n);
    if (res == NULL) {
        opc__secret_free(scratch, (size_t)size);
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    if (n > 0) {
        memcpy(res, scratch, n);
    }
    opc__secret_free(scratch, (size_t)size);
    *out = res;
    *out_len = n;
    return OPC_OK;
}
