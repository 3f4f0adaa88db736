/*
 * tests/unit/gcm_longiv.h - AES-GCM with IVs longer than the EVP provider
 * takes, for the known-answer tests only (test_gcm.c).
 *
 * OpenSSL 3.0's GCM provider refuses IVs over 128 bytes, although GCM
 * defines any IV length (the IV is GHASHed into the first counter block).
 * The library needs 12-byte IVs only and its general forms in
 * crypto/gcm.h stop at OPC_GCM_IV_MAX_LEN; three valid Wycheproof cases
 * have 257-byte IVs. opc_test_gcm_seal_any_iv()/opc_test_gcm_open_any_iv()
 * hand IVs up to OPC_GCM_IV_MAX_LEN to the library and run longer ones
 * through OpenSSL's GCM128 mode functions with an AES-ECB EVP context as
 * the block cipher. Nothing here is part of libopconnect.
 */
#ifndef OPC_TEST_GCM_LONGIV_H
#define OPC_TEST_GCM_LONGIV_H

#include "harness.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/modes.h>

#include "crypto/gcm.h"

/* Longest IV the helpers take. */
#define OPC_TEST_GCM_IV_MAX_LEN 4096

typedef struct {
    EVP_CIPHER_CTX *ecb;
    int failed;
} opc_test_block_ctx;

/* block128_f: one AES block through the ECB context. */
static void opc_test_ecb_block(const unsigned char in[16], unsigned char out[16], const void *key)
{
    opc_test_block_ctx *const *pp = key;
    opc_test_block_ctx *b = *pp;
    int n = 0;
    if (EVP_EncryptUpdate(b->ecb, out, &n, in, 16) != 1 || n != 16) {
        b->failed = 1;
        memset(out, 0, 16);
    }
}

static const char *opc_test_ecb_name(size_t key_len)
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

/* GCM through GCM128 for any IV length. Decryption writes to out before the
 * tag is checked: out must be the caller's scratch. */
static opc_err opc_test_gcm_long_iv(int enc, const uint8_t *key, size_t key_len,
                                    const uint8_t *iv, size_t iv_len, const void *aad,
                                    size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                                    uint8_t tag[OPC_GCM_TAG_LEN])
{
    opc_test_block_ctx b = {NULL, 0};
    opc_test_block_ctx *bp = &b;
    GCM128_CONTEXT *gcm = NULL;
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, opc_test_ecb_name(key_len), NULL);
    opc_err rc = OPC_ERR_CRYPTO;
    if (cipher == NULL) {
        return OPC_ERR_CRYPTO;
    }
    b.ecb = EVP_CIPHER_CTX_new();
    if (b.ecb == NULL || EVP_EncryptInit_ex2(b.ecb, cipher, key, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(b.ecb, 0) != 1) {
        goto done;
    }
    gcm = CRYPTO_gcm128_new(&bp, opc_test_ecb_block);
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
        CRYPTO_gcm128_release(gcm);
    }
    EVP_CIPHER_CTX_free(b.ecb);
    EVP_CIPHER_free(cipher);
    return rc;
}

/* The arguments opc__gcm_seal_ex()/opc__gcm_open_ex() take, but an IV of
 * 1..OPC_TEST_GCM_IV_MAX_LEN bytes. */
static OPC_TEST_UNUSED bool opc_test_gcm_long_args_ok(const uint8_t *key, size_t key_len,
                                                      size_t iv_len, const void *aad,
                                                      size_t aad_len, const uint8_t *tag,
                                                      size_t tag_len)
{
    return key != NULL && (key_len == 16 || key_len == 24 || key_len == 32) &&
           iv_len <= OPC_TEST_GCM_IV_MAX_LEN && (aad != NULL || aad_len == 0) && tag != NULL &&
           tag_len == OPC_GCM_TAG_LEN;
}

/* opc__gcm_seal_ex() for any IV length up to OPC_TEST_GCM_IV_MAX_LEN. */
static OPC_TEST_UNUSED opc_err opc_test_gcm_seal_any_iv(const uint8_t *key, size_t key_len,
                                                        const uint8_t *iv, size_t iv_len,
                                                        const void *aad, size_t aad_len,
                                                        const void *pt, size_t pt_len, uint8_t *ct,
                                                        uint8_t *tag, size_t tag_len)
{
    if (iv_len <= OPC_GCM_IV_MAX_LEN) {
        return opc__gcm_seal_ex(key, key_len, iv, iv_len, aad, aad_len, pt, pt_len, ct, tag,
                                tag_len);
    }
    if (!opc_test_gcm_long_args_ok(key, key_len, iv_len, aad, aad_len, tag, tag_len) ||
        iv == NULL || ((pt == NULL || ct == NULL) && pt_len != 0)) {
        return OPC_ERR_INVALID_ARG;
    }
    return opc_test_gcm_long_iv(1, key, key_len, iv, iv_len, aad, aad_len, pt, pt_len, ct, tag);
}

/* opc__gcm_open_ex() for any IV length up to OPC_TEST_GCM_IV_MAX_LEN; pt is
 * written only when the tag verifies. */
static OPC_TEST_UNUSED opc_err opc_test_gcm_open_any_iv(const uint8_t *key, size_t key_len,
                                                        const uint8_t *iv, size_t iv_len,
                                                        const void *aad, size_t aad_len,
                                                        const void *ct, size_t ct_len,
                                                        const uint8_t *tag, size_t tag_len,
                                                        uint8_t *pt)
{
    if (iv_len <= OPC_GCM_IV_MAX_LEN) {
        return opc__gcm_open_ex(key, key_len, iv, iv_len, aad, aad_len, ct, ct_len, tag, tag_len,
                                pt);
    }
    if (!opc_test_gcm_long_args_ok(key, key_len, iv_len, aad, aad_len, tag, tag_len) ||
        iv == NULL || ((ct == NULL || pt == NULL) && ct_len != 0)) {
        return OPC_ERR_INVALID_ARG;
    }
    uint8_t tagbuf[OPC_GCM_TAG_LEN];
    memcpy(tagbuf, tag, sizeof tagbuf);
    uint8_t *scratch = malloc(ct_len + 1);
    if (scratch == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc_err rc = opc_test_gcm_long_iv(0, key, key_len, iv, iv_len, aad, aad_len, ct, ct_len,
                                      scratch, tagbuf);
    if (rc == OPC_OK && ct_len != 0) {
        memcpy(pt, scratch, ct_len);
    }
    free(scratch);
    return rc;
}

#endif
