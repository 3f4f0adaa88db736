/*
 * crypto/gcm_longiv.c - AES-GCM with IVs longer than the EVP provider takes.
 *
 * OpenSSL 3.0's GCM provider refuses IVs over 128 bytes, although GCM
 * defines any IV length (the IV is GHASHed into the first counter block).
 * The general forms in gcm.h accept such IVs for completeness of the
 * known-answer tests; they run through OpenSSL's GCM128 mode functions with
 * an AES-ECB EVP context as the block cipher. Production code uses 12-byte
 * IVs and never reaches this file.
 */
#include "internal.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/modes.h>

#include "core/alloc.h"
#include "crypto/gcm.h"
#include "crypto/gcm_longiv.h"

typedef struct {
    EVP_CIPHER_CTX *ecb;
    int failed;
} block_ctx;

/* block128_f: one AES block through the ECB context. */
static void ecb_block(const unsigned char in[16], unsigned char out[16], const void *key)
{
    block_ctx *const *pp = key;
    block_ctx *b = *pp;
    int n = 0;
    if (EVP_EncryptUpdate(b->ecb, out, &n, in, 16) != 1 || n != 16) {
        b->failed = 1;
        memset(out, 0, 16);
    }
}

static const char *ecb_name(size_t key_len)
{
    switch (key_len) {
    case 16:
        return "AES-128-ECB";
    case 24:
        return "AES-192-ECB";
    default:
        return "AES-256-ECB";
    }
}

opc_err opc__gcm_long_iv(int enc, const uint8_t *key, size_t key_len, const uint8_t *iv,
                         size_t iv_len, const void *aad, size_t aad_len, const uint8_t *in,
                         size_t len, uint8_t *out, uint8_t tag[OPC_GCM_TAG_LEN])
{
    block_ctx b = {NULL, 0};
    block_ctx *bp = &b;
    GCM128_CONTEXT *gcm = NULL;
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, ecb_name(key_len), NULL);
    opc_err rc = OPC_ERR_CRYPTO;
    if (cipher == NULL) {
        return OPC_ERR_CRYPTO;
    }
    b.ecb = EVP_CIPHER_CTX_new();
    if (b.ecb == NULL || EVP_EncryptInit_ex2(b.ecb, cipher, key, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(b.ecb, 0) != 1) {
        goto done;
    }
    gcm = CRYPTO_gcm128_new(&bp, ecb_block);
    if (gcm == NULL) {
        goto done;
    }
    CRYPTO_gcm128_setiv(gcm, iv, iv_len);
    if (aad_len > 0 && CRYPTO_gcm128_aad(gcm, aad, aad_len) != 0) {
        goto done;
    }
    if (len > 0) {
        int r = enc ? CRYPTO_gcm128_encrypt(gcm, in, out, len)
                    : CRYPTO_gcm128_decrypt(gcm, in, out, len);
        if (r != 0) {
            goto done;
        }
    }
    if (b.failed) {
        goto done;
    }
    if (enc) {
        CRYPTO_gcm128_tag(gcm, tag, OPC_GCM_TAG_LEN);
        rc = b.failed ? OPC_ERR_CRYPTO : OPC_OK;
    } else {
        /* Constant-time tag comparison inside OpenSSL. */
        rc = CRYPTO_gcm128_finish(gcm, tag, OPC_GCM_TAG_LEN) == 0 && !b.failed ? OPC_OK
                                                                               : OPC_ERR_DECRYPT;
    }
done:
    if (gcm != NULL) {
        CRYPTO_gcm128_release(gcm); /* cleanses the GCM state */
    }
    EVP_CIPHER_CTX_free(b.ecb);
    EVP_CIPHER_free(cipher);
    return rc;
}
