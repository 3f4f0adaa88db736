/*
 * model/file.c - file entries and the chunk layout (model/file.h).
 */
#include "model/file.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/json.h"
#include "crypto/base64.h"
#include "wire/labels.h"

static bool get_b64(const cJSON *f, const char *k, void *out, size_t want)
{
    const cJSON *v = opc__json_member(f, k);
    size_t n = 0;
    return cJSON_IsString(v) && v->valuestring != NULL &&
           opc__b64_decode_to(v->valuestring, strlen(v->valuestring), OPC_B64URL, out, want, &n,
                              NULL) == OPC_OK &&
           n == want;
}

opc_err opc__file_entry_parse(const cJSON *f, bool need_hash, opc__file_entry *out, opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    int64_t size = 0;
    int64_t chunk = 0;
    const cJSON *id = opc__json_member(f, "id");
    const cJSON *name = opc__json_member(f, "name");
    const cJSON *sha = opc__json_member(f, "sha256");
    bool ok = cJSON_IsString(id) && id->valuestring != NULL && cJSON_IsString(name) &&
              name->valuestring != NULL &&
              opc__json_get_int(f, "size", true, "file", 0, (int64_t)OPC_FILE_MAX_SIZE, &size,
                                NULL) == OPC_OK &&
              opc__json_get_int(f, "chunkSize", true, "file", 1, (int64_t)OPC_FILE_MAX_CHUNK,
                                &chunk, NULL) == OPC_OK &&
              get_b64(f, "key", out->key, sizeof out->key) &&
              get_b64(f, "nonce", out->prefix, sizeof out->prefix);
    if (ok && sha != NULL) {
        ok = get_b64(f, "sha256", out->hash, sizeof out->hash);
        out->has_hash = ok;
    }
    if (ok && need_hash && !out->has_hash) {
        ok = false;
    }
    if (!ok) {
        opc__file_entry_wipe(out);
        return opc__fail(eb, OPC_ERR_DECRYPT, "the file's entry in the item is malformed");
    }
    out->id = id->valuestring;
    out->name = name->valuestring;
    out->size = (size_t)size;
    out->chunk_size = (size_t)chunk;
    out->n_chunks = opc__file_chunk_count(out->size, out->chunk_size);
    return OPC_OK;
}

void opc__file_entry_wipe(opc__file_entry *e)
{
    if (e != NULL) {
        opc__wipe(e, sizeof *e);
    }
}

size_t opc__file_chunk_count(size_t size, size_t chunk_size)
{
    return size == 0 ? 1 : size / chunk_size + (size % chunk_size != 0 ? 1 : 0);
}

size_t opc__file_chunk_len(const opc__file_entry *e, size_t i)
{
    if (i >= e->n_chunks) {
        return 0;
    }
    return i + 1 == e->n_chunks ? e->size - i * e->chunk_size : e->chunk_size;
}

void opc__file_chunk_nonce(const uint8_t prefix[OPC_FILE_PREFIX_LEN], uint32_t i, bool last,
                           uint8_t out[OPC_GCM_IV_LEN])
{
    memcpy(out, prefix, OPC_FILE_PREFIX_LEN);
    out[7] = (uint8_t)(i >> 24);
    out[8] = (uint8_t)(i >> 16);
    out[9] = (uint8_t)(i >> 8);
    out[10] = (uint8_t)i;
    out[11] = last ? 1 : 0;
}

/* A non-empty pointer for the empty chunk (GCM takes no NULL with length 0 on all paths). */
static const uint8_t empty_chunk[1];

opc_err opc__file_chunk_seal(const uint8_t key[OPC_FILE_KEY_LEN],
                             const uint8_t prefix[OPC_FILE_PREFIX_LEN], const char *file_id,
                             uint32_t i, bool last, const void *pt, size_t len, uint8_t *blob)
{
    uint8_t iv[OPC_GCM_IV_LEN];
    char aad[OPC_WIRE_FILE_AAD_MAX];
    opc_err rc = opc__wire_file_chunk_aad(aad, sizeof aad, file_id, i, last);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__file_chunk_nonce(prefix, i, last, iv);
    return opc__gcm_seal(key, iv, aad, strlen(aad), len == 0 ? empty_chunk : pt, len, blob,
                         blob + len);
}

opc_err opc__file_chunk_open(const opc__file_entry *e, size_t i, const void *blob, size_t blob_len,
                             uint8_t *pt, opc__ebuf *eb)
{
    size_t clen = opc__file_chunk_len(e, i);
    if (i >= e->n_chunks || blob == NULL || blob_len != clen + OPC_GCM_TAG_LEN) {
        return opc__fail(eb, OPC_ERR_DECRYPT, "file %s: chunk %zu has the wrong size", e->id, i);
    }
    bool last = i + 1 == e->n_chunks;
    uint8_t iv[OPC_GCM_IV_LEN];
    char aad[OPC_WIRE_FILE_AAD_MAX];
    opc_err rc = opc__wire_file_chunk_aad(aad, sizeof aad, e->id, (uint32_t)i, last);
    opc__file_chunk_nonce(e->prefix, (uint32_t)i, last, iv);
    const uint8_t *b = blob;
    uint8_t scratch[1];
    if (rc == OPC_OK) {
        rc = opc__gcm_open(e->key, iv, aad, strlen(aad), b, clen, b + clen,
                           clen == 0 ? scratch : pt);
    }
    if (rc == OPC_ERR_DECRYPT) {
        return opc__fail(eb, OPC_ERR_DECRYPT,
                         "file %s: chunk %zu does not decrypt (tampered, moved or reordered)",
                         e->id, i);
    }
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "file %s: chunk %zu: %s", e->id, i, opc_strerror(rc));
    }
    return OPC_OK;
}

opc_err opc__file_hash_init(opc__file_hash *h)
{
    h->md = EVP_MD_CTX_new();
    if (h->md == NULL) {
        return OPC_ERR_NOMEM;
    }
    if (EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        opc__file_hash_clear(h);
        return OPC_ERR_CRYPTO;
    }
    return OPC_OK;
}

opc_err opc__file_hash_update(opc__file_hash *h, const void *blob, size_t len)
{
    if (h->md == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    return EVP_DigestUpdate(h->md, blob, len) == 1 ? OPC_OK : OPC_ERR_CRYPTO;
}

opc_err opc__file_hash_final(opc__file_hash *h, uint8_t out[OPC_FILE_HASH_LEN])
{
    unsigned n = 0;
    if (h->md == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (EVP_DigestFinal_ex(h->md, out, &n) != 1 || n != OPC_FILE_HASH_LEN) {
        return OPC_ERR_CRYPTO;
    }
    return OPC_OK;
}

void opc__file_hash_clear(opc__file_hash *h)
{
    if (h != NULL) {
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
    }
}

opc_err opc__file_reader_init(opc__file_reader *r, const opc__file_entry *e, bool with_hash)
{
    memset(r, 0, sizeof *r);
    r->e = e;
    if (with_hash && !e->has_hash) {
        return OPC_ERR_INVALID_ARG;
    }
    r->hashing = with_hash;
    return with_hash ? opc__file_hash_init(&r->hash) : OPC_OK;
}

opc_err opc__file_reader_chunk(opc__file_reader *r, int64_t idx, const void *blob, size_t blob_len,
                               uint8_t *pt, opc__ebuf *eb)
{
    const opc__file_entry *e = r->e;
    size_t i = r->next;
    if (i >= e->n_chunks || idx != (int64_t)i) {
        return opc__fail(eb, OPC_ERR_DECRYPT, "file %s: chunks are missing or out of order", e->id);
    }
    if (blob == NULL || blob_len != opc__file_chunk_len(e, i) + OPC_GCM_TAG_LEN) {
        return opc__fail(eb, OPC_ERR_DECRYPT, "file %s: chunk %zu has the wrong size", e->id, i);
    }
    opc_err rc = OPC_OK;
    if (pt != NULL) {
        rc = opc__file_chunk_open(e, i, blob, blob_len, pt, eb);
    }
    if (rc == OPC_OK && r->hashing) {
        rc = opc__file_hash_update(&r->hash, blob, blob_len);
    }
    if (rc == OPC_OK) {
        r->next++;
    }
    return rc;
}

opc_err opc__file_reader_finish(opc__file_reader *r, opc__ebuf *eb)
{
    const opc__file_entry *e = r->e;
    if (r->next != e->n_chunks) {
        return opc__fail(eb, OPC_ERR_DECRYPT, "file %s is truncated (%zu of %zu chunks)", e->id,
                         r->next, e->n_chunks);
    }
    if (!r->hashing) {
        return OPC_OK;
    }
    uint8_t d[OPC_FILE_HASH_LEN];
    opc_err rc = opc__file_hash_final(&r->hash, d);
    if (rc == OPC_OK && CRYPTO_memcmp(d, e->hash, sizeof d) != 0) {
        rc = opc__fail(eb, OPC_ERR_DECRYPT, "file %s: content hash does not match", e->id);
    }
    return rc;
}

void opc__file_reader_clear(opc__file_reader *r)
{
    if (r != NULL) {
        opc__file_hash_clear(&r->hash);
        memset(r, 0, sizeof *r);
    }
}
