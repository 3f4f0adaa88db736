/*
 * view/keys.c - unwrapping and caching vault keys (see keys.h).
 */
#include "internal.h"

#include <pthread.h>
#include <string.h>

#include "view/keys.h"
#include "core/alloc.h"
#include "core/id.h"
#include "crypto/base64.h"
#include "crypto/ecdsa.h"
#include "crypto/kdf.h"
#include "crypto/rsa.h"
#include "credentials/credentials.h"
#include "wire/labels.h"

struct opc__vkey {
    opc__key *key;
    char vault[OPC_ID_LEN + 1];
    int64_t sn;
    int64_t expires_ms;
    int refs; /* users + 1 while in the table */
    bool in_table;
};

struct opc__vault_keys {
    const opc_credentials *creds;
    int64_t ttl_ms;
    pthread_mutex_t mu;
    opc__vkey *slots[OPC_VAULT_KEYS_MAX];
};

opc_err opc__vault_keys_create(const opc_credentials *creds, int64_t ttl_ms, opc__vault_keys **out)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (creds == NULL || ttl_ms <= 0) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__vault_keys *k = opc__calloc(1, sizeof *k);
    if (k == NULL) {
        return OPC_ERR_NOMEM;
    }
    if (pthread_mutex_init(&k->mu, NULL) != 0) {
        opc__free(k);
        return OPC_ERR_INTERNAL;
    }
    k->creds = creds;
    k->ttl_ms = ttl_ms;
    *out = k;
    return OPC_OK;
}

static void vkey_destroy(opc__vkey *v)
{
    opc__key_free(v->key);
    opc__wipe(v, sizeof *v);
    opc__free(v);
}

/* Drop the table's reference. Caller holds the mutex. */
static void unlink_slot(opc__vault_keys *k, size_t i)
{
    opc__vkey *v = k->slots[i];
    k->slots[i] = NULL;
    v->in_table = false;
    if (--v->refs == 0) {
        vkey_destroy(v);
    }
}

void opc__vault_keys_wipe(opc__vault_keys *k)
{
    if (k == NULL) {
        return;
    }
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < OPC_VAULT_KEYS_MAX; i++) {
        if (k->slots[i] != NULL) {
            unlink_slot(k, i);
        }
    }
    pthread_mutex_unlock(&k->mu);
}

void opc__vault_keys_free(opc__vault_keys *k)
{
    if (k == NULL) {
        return;
    }
    opc__vault_keys_wipe(k);
    pthread_mutex_destroy(&k->mu);
    opc__free(k);
}

const opc__key *opc__vkey_key(const opc__vkey *v)
{
    return v != NULL ? v->key : NULL;
}

void opc__vault_keys_release(opc__vault_keys *k, opc__vkey *v)
{
    if (k == NULL || v == NULL) {
        return;
    }
    pthread_mutex_lock(&k->mu);
    if (--v->refs == 0) {
        vkey_destroy(v);
    }
    pthread_mutex_unlock(&k->mu);
}

/* Unwrap outside the lock (RSA is slow). */
static opc_err unwrap(const opc__vault_keys *k, const char *vault, int64_t sn, const char *b64,
                      opc__key **out, opc__ebuf *eb)
{
    const opc__key *rsa = opc__credentials_enc_key(k->creds);
    if (rsa == NULL) {
        return opc__fail(eb, OPC_ERR_LOCKED, "credentials are locked");
    }
    const char *server = opc_credentials_server_id(k->creds);
    char label[OPC_WIRE_LABEL_MAX];
    if (opc__wire_vault_key_label(label, sizeof label, vault, sn, server != NULL ? server : "") !=
        OPC_OK) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "vault key label too long");
    }
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    opc_err rc = opc__b64_decode(b64, strlen(b64), OPC_B64URL, &wrapped, &wrapped_len, NULL);
    if (rc != OPC_OK) {
        return rc == OPC_ERR_NOMEM ? rc
                                   : opc__fail(eb, OPC_ERR_DECRYPT,
                                               "vault %s: the wrapped key is malformed", vault);
    }
    uint8_t *vk = NULL;
    size_t vk_len = 0;
    rc = opc__rsa_oaep_decrypt(rsa, label, strlen(label), wrapped, wrapped_len, &vk, &vk_len, NULL);
    opc__free(wrapped);
    if (rc == OPC_OK && vk_len != OPC_VAULT_KEY_LEN) {
        rc = OPC_ERR_DECRYPT;
    }
    if (rc == OPC_OK) {
        rc = opc__key_from_oct(vk, vk_len, vault, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, out);
    } else if (rc != OPC_ERR_NOMEM) {
        rc = opc__fail(eb, OPC_ERR_DECRYPT, "vault %s: the vault key does not unwrap", vault);
    }
    if (vk != NULL) {
        opc__secret_free(vk, vk_len);
    }
    return rc;
}

opc_err opc__vault_keys_get(opc__vault_keys *k, const char *vault, int64_t sn,
                            const char *enc_key_b64, int64_t now_ms, opc__vkey **out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (k == NULL || vault == NULL || enc_key_b64 == NULL || !opc__id_valid_str(vault)) {
        return OPC_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&k->mu);
    size_t free_slot = OPC_VAULT_KEYS_MAX;
    size_t oldest = 0;
    for (size_t i = 0; i < OPC_VAULT_KEYS_MAX; i++) {
        opc__vkey *v = k->slots[i];
        if (v == NULL) {
            if (free_slot == OPC_VAULT_KEYS_MAX) {
                free_slot = i;
            }
            continue;
        }
        if (v->expires_ms <= now_ms) {
            unlink_slot(k, i);
            if (free_slot == OPC_VAULT_KEYS_MAX) {
                free_slot = i;
            }
            continue;
        }
        if (v->sn == sn && strcmp(v->vault, vault) == 0) {
            v->refs++;
            *out = v;
            pthread_mutex_unlock(&k->mu);
            return OPC_OK;
        }
        if (k->slots[oldest] == NULL || v->expires_ms < k->slots[oldest]->expires_ms) {
            oldest = i;
        }
    }
    pthread_mutex_unlock(&k->mu);

    opc__key *key = NULL;
    opc_err rc = unwrap(k, vault, sn, enc_key_b64, &key, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__vkey *v = opc__calloc(1, sizeof *v);
    if (v == NULL) {
        opc__key_free(key);
        return OPC_ERR_NOMEM;
    }
    v->key = key;
    memcpy(v->vault, vault, OPC_ID_LEN + 1);
    v->sn = sn;
    v->expires_ms = now_ms + k->ttl_ms;
    v->refs = 1; /* the caller */
    pthread_mutex_lock(&k->mu);
    if (free_slot >= OPC_VAULT_KEYS_MAX || k->slots[free_slot] != NULL) {
        free_slot = OPC_VAULT_KEYS_MAX;
        for (size_t i = 0; i < OPC_VAULT_KEYS_MAX && free_slot == OPC_VAULT_KEYS_MAX; i++) {
            if (k->slots[i] == NULL) {
                free_slot = i;
            }
        }
        if (free_slot == OPC_VAULT_KEYS_MAX) {
            free_slot = oldest;
            if (k->slots[free_slot] != NULL) {
                unlink_slot(k, free_slot);
            }
        }
    }
    v->refs++;
    v->in_table = true;
    k->slots[free_slot] = v;
    pthread_mutex_unlock(&k->mu);
    *out = v;
    return OPC_OK;
}

bool opc__vault_grant_signed(const opc_credentials *creds, const char *server_id,
                             const char *account_id, const opc__wire_access *a)
{
    if (creds == NULL || server_id == NULL || account_id == NULL || a == NULL ||
        a->enc_key == NULL || a->grant_sig == NULL || a->acl < 0 || a->acl > 0xff) {
        return false;
    }
    uint8_t sig[OPC_ES256_SIG_LEN];
    size_t n = 0;
    if (opc__b64_decode_to(a->grant_sig, strlen(a->grant_sig), OPC_B64URL, sig, sizeof sig, &n,
                           NULL) != OPC_OK ||
        n != sizeof sig) {
        return false;
    }
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    if (opc__b64_decode(a->enc_key, strlen(a->enc_key), OPC_B64URL, &wrapped, &wrapped_len,
                        NULL) != OPC_OK) {
        return false;
    }
    uint8_t h[OPC_SHA256_LEN];
    char hash[44];
    char msg[OPC_WIRE_LABEL_MAX];
    opc_err rc = opc__sha256(wrapped, wrapped_len, h);
    opc__free(wrapped);
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(h, sizeof h, OPC_B64URL, hash, sizeof hash, NULL);
    }
    if (rc == OPC_OK) {
        opc__wire_grant g = {account_id, a->vault, "server", server_id, a->key_sn,
                             (unsigned)a->acl, a->granted, hash};
        rc = opc__wire_grant_message(msg, sizeof msg, &g);
    }
    if (rc != OPC_OK) {
        return false;
    }
    size_t nk = opc__credentials_issuer_key_count(creds);
    for (size_t i = 0; i < nk; i++) {
        const opc__key *k = opc__credentials_issuer_key(creds, i);
        if (k != NULL && opc__ecdsa_verify(k, msg, strlen(msg), sig, sizeof sig, NULL) == OPC_OK) {
            return true;
        }
    }
    return false;
}
