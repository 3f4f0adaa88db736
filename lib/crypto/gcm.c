/*
 * crypto/gcm.c - AES-GCM through OpenSSL 3 EVP.
 *
 * The three ciphers are fetched once (pthread_once) from the default
 * library context and kept for the life of the process: fetching per call
 * costs a provider lookup and a lock. A failed fetch leaves the slot NULL,
 * and every call that needs it returns OPC_ERR_CRYPTO.
 *
 * Decryption writes into a private scratch buffer (on the stack up to
 * SCRATCH_STACK bytes, else from opc__malloc), copies to the caller only
 * after EVP_DecryptFinal_ex has verified the tag, and wipes the scratch on
 * every path. On failure the caller's buffer is untouched.
 *
 * OpenSSL takes int lengths, so data and AAD are fed in chunks of at most
 * CHUNK bytes; GCM is a stream mode, so chunking does not change the result.
 *
 * OpenSSL 3's GCM provider accepts IVs of 1..128 bytes (GCM_IV_MAX_SIZE),
 * so a longer IV is refused up front as OPC_ERR_INVALID_ARG. GCM itself
 * allows longer IVs (hashed with GHASH into J0), but doing that here would
 * mean our own GHASH over the key-derived H; no caller needs it (JOSE and
 * the 1Password envelope use 12 bytes). The known-answer tests run the
 * longer Wycheproof IVs through tests/unit/gcm_longiv.h.
 */
#include "internal.h"

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/alloc.h"
#include "crypto/gcm.h"

#define SCRATCH_STACK 1024
#define CHUNK ((size_t)1 << 30)

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *cipher_128;
static EVP_CIPHER *cipher_192;
static EVP_CIPHER *cipher_256;

static void fetch_ciphers(void)
{
    cipher_128 = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    cipher_192 = EVP_CIPHER_fetch(NULL, "AES-192-GCM", NULL);
    cipher_256 = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static const EVP_CIPHER *cipher_for(size_t key_len)
{
    if (pthread_once(&fetch_once, fetch_ciphers) != 0) {
        return NULL;
    }
    switch (key_len) {
    case 16:
        return cipher_128;
    case 24:
        return cipher_192;
    case 32:
        return cipher_256;
    default:
        return NULL;
    }
}

static bool args_ok(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                    const void *aad, size_t aad_len, const void *in, size_t in_len, const void *out,
                    const uint8_t *tag, size_t tag_len)
{
    if (key == NULL || (key_len != 16 && key_len != 24 && key_len != 32)) {
        return false;
    }
    if (iv == NULL || iv_len == 0 || iv_len > OPC_GCM_IV_MAX_LEN) {
        return false;
    }
    if (aad == NULL && aad_len != 0) {
        return false;
    }
    if ((in == NULL || out == NULL) && in_len != 0) {
        return false;
    }
    return tag != NULL && tag_len == OPC_GCM_TAG_LEN;
}

/* Set cipher, IV length, key and IV on a fresh context; 1 on success. */
static int init_ctx(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, int enc, const uint8_t *key,
                    const uint8_t *iv, size_t iv_len)
{
    if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1) {
        return 0;
    }
    if (iv_len != OPC_GCM_IV_LEN &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)iv_len, NULL) != 1) {
        return 0;
    }
    return EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) == 1;
}

/* Feed AAD (out == NULL) or data in int-sized chunks; 1 on success. */
static int update_chunks(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t n = len - done < CHUNK ? len - done : CHUNK;
        int outl = 0;
        if (EVP_CipherUpdate(ctx, out == NULL ? NULL : out + done, &outl, in + done, (int)n) != 1) {
            return 0;
        }
        if (out != NULL && (size_t)outl != n) {
            return 0;
        }
        done += n;
    }
    return 1;
}

opc_err opc__gcm_seal_ex(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                         const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                         uint8_t *ct, uint8_t *tag, size_t tag_len)
{
    if (!args_ok(key, key_len, iv, iv_len, aad, aad_len, pt, pt_len, ct, tag, tag_len)) {
        return OPC_ERR_INVALID_ARG;
    }
    const EVP_CIPHER *cipher = cipher_for(key_len);
    if (cipher == NULL) {
        return OPC_ERR_CRYPTO;
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return OPC_ERR_CRYPTO;
    }
    opc_err rc = OPC_ERR_CRYPTO;
    uint8_t tagbuf[OPC_GCM_TAG_LEN];
    int outl = 0;
    if (init_ctx(ctx, cipher, 1, key, iv, iv_len) != 1) {
        goto done;
    }
    if (update_chunks(ctx, NULL, aad, aad_len) != 1) {
        goto done;
    }
    if (update_chunks(ctx, ct, pt, pt_len) != 1) {
        goto done;
    }
    if (EVP_EncryptFinal_ex(ctx, tagbuf, &outl) != 1 || outl != 0) {
        goto done;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, OPC_GCM_TAG_LEN, tagbuf) != 1) {
        goto done;
    }
    memcpy(tag, tagbuf, OPC_GCM_TAG_LEN);
    rc = OPC_OK;
done:
    if (rc != OPC_OK && pt_len != 0 && (const void *)ct != pt) {
        /* Outputs are cleared on failure (not in place: that is the caller's plaintext). */
        memset(ct, 0, pt_len);
    }
    opc__wipe(tagbuf, sizeof tagbuf);
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return rc;
}

opc_err opc__gcm_open_ex(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                         const void *aad, size_t aad_len, const void *ct, size_t ct_len,
                         const uint8_t *tag, size_t tag_len, uint8_t *pt)
{
    if (!args_ok(key, key_len, iv, iv_len, aad, aad_len, ct, ct_len, pt, tag, tag_len)) {
        return OPC_ERR_INVALID_ARG;
    }
    const EVP_CIPHER *cipher = cipher_for(key_len);
    if (cipher == NULL) {
        return OPC_ERR_CRYPTO;
    }
    uint8_t stack_buf[SCRATCH_STACK];
    uint8_t *scratch = stack_buf;
    if (ct_len > sizeof stack_buf) {
        scratch = opc__malloc(ct_len);
        if (scratch == NULL) {
            return OPC_ERR_NOMEM;
        }
    }
    opc_err rc = OPC_ERR_CRYPTO;
    uint8_t tagbuf[OPC_GCM_TAG_LEN];
    uint8_t finalbuf[16];
    int outl = 0;
    memcpy(tagbuf, tag, sizeof tagbuf); /* the ctrl takes a non-const pointer */
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        goto done;
    }
    if (init_ctx(ctx, cipher, 0, key, iv, iv_len) != 1) {
        goto done;
    }
    if (update_chunks(ctx, NULL, aad, aad_len) != 1) {
        goto done;
    }
    if (update_chunks(ctx, scratch, ct, ct_len) != 1) {
        goto done;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, OPC_GCM_TAG_LEN, tagbuf) != 1) {
        goto done;
    }
    if (EVP_DecryptFinal_ex(ctx, finalbuf, &outl) != 1 || outl != 0) {
        rc = OPC_ERR_DECRYPT;
        goto done;
    }
    if (ct_len != 0) {
        memcpy(pt, scratch, ct_len);
    }
    rc = OPC_OK;
done:
    EVP_CIPHER_CTX_free(ctx);
    opc__wipe(tagbuf, sizeof tagbuf);
    opc__wipe(finalbuf, sizeof finalbuf);
    if (scratch == stack_buf) {
        opc__wipe(stack_buf, ct_len);
    } else {
        opc__secret_free(scratch, ct_len);
    }
    return rc;
}

opc_err opc__gcm_seal(const uint8_t key[OPC_GCM_KEY_LEN], const uint8_t iv[OPC_GCM_IV_LEN],
                      const void *aad, size_t aad_len, const void *pt, size_t pt_len, uint8_t *ct,
                      uint8_t tag[OPC_GCM_TAG_LEN])
{
    return opc__gcm_seal_ex(key, OPC_GCM_KEY_LEN, iv, OPC_GCM_IV_LEN, aad, aad_len, pt, pt_len, ct,
                            tag, OPC_GCM_TAG_LEN);
}

opc_err opc__gcm_open(const uint8_t key[OPC_GCM_KEY_LEN], const uint8_t iv[OPC_GCM_IV_LEN],
                      const void *aad, size_t aad_len, const void *ct, size_t ct_len,
                      const uint8_t tag[OPC_GCM_TAG_LEN], uint8_t *pt)
{
    return opc__gcm_open_ex(key, OPC_GCM_KEY_LEN, iv, OPC_GCM_IV_LEN, aad, aad_len, ct, ct_len, tag,
                            OPC_GCM_TAG_LEN, pt);
}
