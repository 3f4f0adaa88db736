/*
 * account/file.c - file attachments and documents (security-model §3.9;
 * design: schema.c).
 *
 * A file's entry in the item's (encrypted) details:
 *   {"id", "name", "size", "section": {"id"}?,          - shown by the API
 *    "key": b64url(FK, 32 bytes), "chunkSize": 65536,
 *    "nonce": b64url(7-byte prefix), "sha256": b64url(SHA-256 of the blobs)}
 * The content is in table files, one row per chunk: blob = ciphertext || tag
 * of AES-256-GCM(FK, prefix7 || be32(i) || last, AAD "f1|<fileId>|<i>|<last>").
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "account/account_int.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/gcm.h"
#include "crypto/kdf.h"
#include "model/item.h"

#define CHUNK ((size_t)OPC_ACCOUNT_CHUNK_SIZE)
#define PREFIX_LEN 7
#define FILE_KEY_LEN 32
/* Members of a file entry that never leave the library. */
static const char *const internal_members[] = {"key", "chunkSize", "nonce", "sha256"};

static void chunk_nonce(const uint8_t prefix[PREFIX_LEN], uint32_t i, bool last,
                        uint8_t out[OPC_GCM_IV_LEN])
{
    memcpy(out, prefix, PREFIX_LEN);
    out[7] = (uint8_t)(i >> 24);
    out[8] = (uint8_t)(i >> 16);
    out[9] = (uint8_t)(i >> 8);
    out[10] = (uint8_t)i;
    out[11] = last ? 1 : 0;
}

static size_t chunk_aad(const char *file_id, uint32_t i, bool last, char out[OPC_ACCOUNT_AAD_MAX])
{
    return opc__acct_fmt(out, "f1|%s|%u|%d", file_id, i, last ? 1 : 0);
}

static size_t chunk_count(size_t size, size_t chunk)
{
    return size == 0 ? 1 : (size + chunk - 1) / chunk;
}

/* A SHA-256 context; NULL on failure. */
static EVP_MD_CTX *hash_new(void)
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h);
        h = NULL;
    }
    return h;
}

static opc_err hash_final(EVP_MD_CTX *h, char out[44])
{
    uint8_t d[OPC_SHA256_LEN];
    unsigned n = 0;
    if (EVP_DigestFinal_ex(h, d, &n) != 1 || n != sizeof d) {
        return OPC_ERR_CRYPTO;
    }
    return opc__b64_encode_to(d, sizeof d, OPC_B64URL, out, 44, NULL);
}

void opc__acct_files_strip(cJSON *full)
{
    cJSON *files = cJSON_GetObjectItemCaseSensitive(full, "files");
    cJSON *f = NULL;
    cJSON_ArrayForEach(f, files)
    {
        for (size_t i = 0; i < OPC_ARRAY_LEN(internal_members); i++) {
            cJSON *m = cJSON_DetachItemFromObjectCaseSensitive(f, internal_members[i]);
            opc__json_delete_secret(m);
        }
    }
}

opc_err opc__acct_files_paths(cJSON *full, const char *vault_id, const char *item_id)
{
    cJSON *files = cJSON_GetObjectItemCaseSensitive(full, "files");
    cJSON *f = NULL;
    cJSON_ArrayForEach(f, files)
    {
        const cJSON *id = opc__json_member(f, "id");
        if (!cJSON_IsString(id) || id->valuestring == NULL) {
            continue;
        }
        char path[160];
        (void)snprintf(path, sizeof path, "/v1/vaults/%s/items/%s/files/%s/content", vault_id,
                       item_id, id->valuestring);
        cJSON_DeleteItemFromObjectCaseSensitive(f, "content_path");
        if (cJSON_AddStringToObject(f, "content_path", path) == NULL) {
            return OPC_ERR_NOMEM;
        }
    }
    return OPC_OK;
}

static opc_err check_section(const cJSON *full, const char *section_id, opc__ebuf *eb)
{
    const cJSON *sections = opc__json_member(full, "sections");
    const cJSON *s = NULL;
    cJSON_ArrayForEach(s, sections)
    {
        const cJSON *id = opc__json_member(s, "id");
        if (cJSON_IsString(id) && id->valuestring != NULL &&
            strcmp(id->valuestring, section_id) == 0) {
            return OPC_OK;
        }
    }
    return opc__fail(eb, OPC_ERR_NOT_FOUND, "the item has no section \"%s\"", section_id);
}

/* Encrypt and insert every chunk; *hash gets the b64url SHA-256 of the blobs. */
static opc_err write_chunks(opc_account *a, const char *item_id, const char *file_id,
                            const uint8_t key[FILE_KEY_LEN], const uint8_t prefix[PREFIX_LEN],
                            const uint8_t *data, size_t len, char hash[44], opc__ebuf *eb)
{
    size_t n = chunk_count(len, CHUNK);
    uint8_t *blob = opc__malloc(CHUNK + OPC_GCM_TAG_LEN);
    EVP_MD_CTX *h = hash_new();
    sqlite3_stmt *st = NULL;
    opc_err rc = (blob == NULL) ? OPC_ERR_NOMEM : (h == NULL ? OPC_ERR_CRYPTO : OPC_OK);
    if (rc == OPC_OK) {
        rc = opc__acct_prepare(
            a, "INSERT INTO files (item_id, file_id, idx, blob) VALUES (?, ?, ?, ?)", &st, eb);
    }
    static const uint8_t empty[1] = {0};
    for (size_t i = 0; rc == OPC_OK && i < n; i++) {
        bool last = (i + 1 == n);
        size_t off = i * CHUNK;
        size_t clen = last ? len - off : CHUNK;
        uint8_t iv[OPC_GCM_IV_LEN];
        char aad[OPC_ACCOUNT_AAD_MAX];
        size_t aad_len = chunk_aad(file_id, (uint32_t)i, last, aad);
        chunk_nonce(prefix, (uint32_t)i, last, iv);
        rc = opc__gcm_seal(key, iv, aad, aad_len, clen == 0 ? empty : data + off, clen, blob,
                           blob + clen);
        if (rc == OPC_OK && EVP_DigestUpdate(h, blob, clen + OPC_GCM_TAG_LEN) != 1) {
            rc = OPC_ERR_CRYPTO;
        }
        if (rc == OPC_OK) {
            rc = opc__acct_bind(a, st, eb, "ttib", item_id, file_id, (int64_t)i, blob,
                                clen + OPC_GCM_TAG_LEN);
        }
        bool row = false;
        if (rc == OPC_OK) {
            rc = opc__acct_step(a, st, &row, eb);
        }
        if (sqlite3_reset(st) != SQLITE_OK && rc == OPC_OK) {
            rc = opc__acct_sqlerr(a, sqlite3_errcode(a->db), "account file", eb);
        }
    }
    if (rc == OPC_OK) {
        rc = hash_final(h, hash);
    }
    sqlite3_finalize(st);
    EVP_MD_CTX_free(h);
    opc__free(blob);
    return rc;
}

static opc_err add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) == NULL ? OPC_ERR_NOMEM : OPC_OK;
}

/* The file entry (with its key) for the details. */
static opc_err file_entry(const char *file_id, const char *name, const char *section_id, size_t len,
                          const uint8_t key[FILE_KEY_LEN], const uint8_t prefix[PREFIX_LEN],
                          const char *hash, cJSON **out)
{
    char key_b64[48];
    char nonce_b64[16];
    cJSON *f = cJSON_CreateObject();
    opc_err rc = f == NULL ? OPC_ERR_NOMEM : OPC_OK;
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(key, FILE_KEY_LEN, OPC_B64URL, key_b64, sizeof key_b64, NULL);
    }
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(prefix, PREFIX_LEN, OPC_B64URL, nonce_b64, sizeof nonce_b64, NULL);
    }
    if (rc == OPC_OK) {
        rc = add_str(f, "id", file_id);
    }
    if (rc == OPC_OK) {
        rc = add_str(f, "name", name);
    }
    if (rc == OPC_OK && cJSON_AddNumberToObject(f, "size", (double)len) == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK && section_id != NULL) {
        cJSON *s = cJSON_AddObjectToObject(f, "section");
        rc = (s == NULL) ? OPC_ERR_NOMEM : add_str(s, "id", section_id);
    }
    if (rc == OPC_OK) {
        rc = add_str(f, "key", key_b64);
    }
    if (rc == OPC_OK && cJSON_AddNumberToObject(f, "chunkSize", (double)CHUNK) == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = add_str(f, "nonce", nonce_b64);
    }
    if (rc == OPC_OK) {
        rc = add_str(f, "sha256", hash);
    }
    opc__wipe(key_b64, sizeof key_b64);
    if (rc != OPC_OK) {
        opc__json_delete_secret(f);
        return rc;
    }
    *out = f;
    return OPC_OK;
}

opc_err opc__acct_file_add(opc_account *a, const char *item_id, cJSON *full, const char *name,
                           const char *section_id, const void *data, size_t len,
                           char file_id[OPC_ID_LEN + 1], opc__ebuf *eb)
{
    if (len > (size_t)OPC_ACCOUNT_MAX_FILE_SIZE) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "file \"%s\" is larger than %u bytes", name,
                         OPC_ACCOUNT_MAX_FILE_SIZE);
    }
    opc_err rc = opc__acct_check_name(name, OPC_ACCOUNT_MAX_NAME, "file name", eb);
    if (rc == OPC_OK && section_id != NULL) {
        rc = check_section(full, section_id, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    uint8_t key[FILE_KEY_LEN];
    uint8_t prefix[PREFIX_LEN];
    char hash[44];
    cJSON *entry = NULL;
    rc = opc__id_generate(file_id);
    if (rc == OPC_OK) {
        rc = opc__rand_priv_bytes(key, sizeof key);
    }
    if (rc == OPC_OK) {
        rc = opc__rand_bytes(prefix, sizeof prefix);
    }
    if (rc == OPC_OK) {
        rc = write_chunks(a, item_id, file_id, key, prefix, data, len, hash, eb);
    }
    if (rc == OPC_OK) {
        rc = file_entry(file_id, name, section_id, len, key, prefix, hash, &entry);
    }
    if (rc == OPC_OK) {
        cJSON *files = cJSON_GetObjectItemCaseSensitive(full, "files");
        if (files == NULL) {
            files = cJSON_AddArrayToObject(full, "files");
        }
        if (!cJSON_IsArray(files)) {
            rc = OPC_ERR_NOMEM;
        } else {
            cJSON_AddItemToArray(files, entry);
            entry = NULL;
        }
    }
    opc__json_delete_secret(entry);
    opc__wipe(key, sizeof key);
    return rc;
}

/* ---- reading ---- */

typedef struct file_info {
    const char *id;
    size_t size;
    size_t chunk;
    uint8_t key[FILE_KEY_LEN];
    uint8_t prefix[PREFIX_LEN];
    const char *sha256;
} file_info;

static bool get_b64(const cJSON *f, const char *k, void *out, size_t want)
{
    const cJSON *v = opc__json_member(f, k);
    size_t n = 0;
    return cJSON_IsString(v) && v->valuestring != NULL &&
           opc__b64_decode_to(v->valuestring, strlen(v->valuestring), OPC_B64URL, out, want, &n,
                              NULL) == OPC_OK &&
           n == want;
}

/* Find the file entry by id, else by a unique name. */
static opc_err find_file(const cJSON *full, const char *ref, const cJSON **out, opc__ebuf *eb)
{
    const cJSON *files = opc__json_member(full, "files");
    const cJSON *f = NULL;
    const cJSON *by_name = NULL;
    size_t names = 0;
    cJSON_ArrayForEach(f, files)
    {
        const cJSON *id = opc__json_member(f, "id");
        const cJSON *name = opc__json_member(f, "name");
        if (cJSON_IsString(id) && id->valuestring != NULL && strcmp(id->valuestring, ref) == 0) {
            *out = f;
            return OPC_OK;
        }
        if (cJSON_IsString(name) && name->valuestring != NULL &&
            strcmp(name->valuestring, ref) == 0) {
            by_name = f;
            names++;
        }
    }
    if (names == 1) {
        *out = by_name;
        return OPC_OK;
    }
    if (names > 1) {
        return opc__fail(eb, OPC_ERR_CONFLICT, "file name \"%s\" matches %zu files; use an id", ref,
                         names);
    }
    return opc__fail(eb, OPC_ERR_NOT_FOUND, "the item has no file \"%s\"", ref);
}

static opc_err file_info_of(const cJSON *f, file_info *fi, opc__ebuf *eb)
{
    int64_t size = 0;
    int64_t chunk = 0;
    const cJSON *id = opc__json_member(f, "id");
    const cJSON *sha = opc__json_member(f, "sha256");
    if (!cJSON_IsString(id) || id->valuestring == NULL || !cJSON_IsString(sha) ||
        sha->valuestring == NULL ||
        opc__json_get_int(f, "size", true, "file", 0, (int64_t)OPC_ACCOUNT_MAX_FILE_SIZE, &size,
                          NULL) != OPC_OK ||
        opc__json_get_int(f, "chunkSize", true, "file", 1, INT64_C(16) * 1024 * 1024, &chunk,
                          NULL) != OPC_OK ||
        !get_b64(f, "key", fi->key, sizeof fi->key) ||
        !get_b64(f, "nonce", fi->prefix, sizeof fi->prefix)) {
        return opc__fail(eb, OPC_ERR_DECRYPT, "the file's entry in the item is malformed");
    }
    fi->id = id->valuestring;
    fi->sha256 = sha->valuestring;
    fi->size = (size_t)size;
    fi->chunk = (size_t)chunk;
    return OPC_OK;
}

static opc_err read_chunks(opc_account *a, const char *item_id, const file_info *fi,
                           opc_secret **out, opc__ebuf *eb)
{
    size_t n = chunk_count(fi->size, fi->chunk);
    unsigned char *pt = NULL;
    opc_secret *s = NULL;
    EVP_MD_CTX *h = hash_new();
    sqlite3_stmt *st = NULL;
    opc_err rc = h == NULL ? OPC_ERR_CRYPTO : opc__secret_alloc(fi->size, &s, &pt);
    if (rc == OPC_OK) {
        rc = opc__acct_prepare(a,
                               "SELECT idx, blob FROM files WHERE item_id = ? AND file_id = ? "
                               "ORDER BY idx",
                               &st, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_bind(a, st, eb, "tt", item_id, fi->id);
    }
    size_t i = 0;
    static uint8_t scratch[1];
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        bool last = (i + 1 == n);
        size_t off = i * fi->chunk;
        size_t clen = last ? fi->size - off : fi->chunk;
        const uint8_t *blob = sqlite3_column_blob(st, 1);
        size_t blen = (size_t)sqlite3_column_bytes(st, 1);
        if (i >= n || sqlite3_column_int64(st, 0) != (int64_t)i) {
            rc = opc__fail(eb, OPC_ERR_DECRYPT, "file %s: chunks are missing or out of order",
                           fi->id);
            break;
        }
        if (blen != clen + OPC_GCM_TAG_LEN || blob == NULL) {
            rc = opc__fail(eb, OPC_ERR_DECRYPT, "file %s: chunk %zu has the wrong size", fi->id, i);
            break;
        }
        uint8_t iv[OPC_GCM_IV_LEN];
        char aad[OPC_ACCOUNT_AAD_MAX];
        size_t aad_len = chunk_aad(fi->id, (uint32_t)i, last, aad);
        chunk_nonce(fi->prefix, (uint32_t)i, last, iv);
        rc = opc__gcm_open(fi->key, iv, aad, aad_len, blob, clen, blob + clen,
                           clen == 0 ? scratch : pt + off);
        if (rc != OPC_OK) {
            rc = opc__fail(eb, OPC_ERR_DECRYPT,
                           "file %s: chunk %zu does not decrypt (tampered, moved or reordered)",
                           fi->id, i);
            break;
        }
        if (EVP_DigestUpdate(h, blob, blen) != 1) {
            rc = OPC_ERR_CRYPTO;
        }
        i++;
    }
    if (rc == OPC_OK && i != n) {
        rc = opc__fail(eb, OPC_ERR_DECRYPT, "file %s is truncated (%zu of %zu chunks)", fi->id, i,
                       n);
    }
    char hash[44];
    if (rc == OPC_OK) {
        rc = hash_final(h, hash);
    }
    if (rc == OPC_OK && (fi->sha256 == NULL || strcmp(hash, fi->sha256) != 0)) {
        rc = opc__fail(eb, OPC_ERR_DECRYPT, "file %s: content hash does not match", fi->id);
    }
    sqlite3_finalize(st);
    EVP_MD_CTX_free(h);
    if (rc != OPC_OK) {
        opc_secret_free(s);
        return rc;
    }
    *out = s;
    return OPC_OK;
}

static opc_err file_read(opc_account *a, const char *vault, const char *item, const char *file,
                         opc_secret **out, opc__ebuf *eb)
{
    opc_err rc = opc__acct_begin(a, false, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    cJSON *full = NULL;
    opc__item_meta meta;
    const cJSON *f = NULL;
    file_info fi;
    memset(&fi, 0, sizeof fi);
    rc = opc__acct_vault_resolve(a, vault, vault_id, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_item_resolve(a, vault_id, item, item_id, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_item_load(a, vault_id, item_id, &full, &meta, eb);
    }
    if (rc == OPC_OK) {
        rc = find_file(full, file, &f, eb);
    }
    if (rc == OPC_OK) {
        rc = file_info_of(f, &fi, eb);
    }
    if (rc == OPC_OK) {
        rc = read_chunks(a, item_id, &fi, out, eb);
    }
    rc = opc__acct_end(a, rc, eb);
    opc__wipe(&fi, sizeof fi);
    opc__json_delete_secret(full);
    return rc;
}

opc_err opc_account_file_read(opc_account *a, const char *vault, const char *item,
                              const char *file_id, opc_secret **out)
{
    if (a == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (out != NULL) {
        *out = NULL;
    }
    if (vault == NULL || item == NULL || file_id == NULL || out == NULL) {
        return opc__acct_finish(a, opc__fail(&eb, OPC_ERR_INVALID_ARG, "missing argument"), &eb);
    }
    opc_err rc = opc__acct_need_unlocked(a, &eb);
    if (rc == OPC_OK) {
        rc = file_read(a, vault, item, file_id, out, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

static opc_err log_file(opc_account *a, const char *vault_id, const char *item_id,
                        const char *file_id, int64_t version, opc__ebuf *eb)
{
    opc__change c = {.kind = OPC_CHANGE_FILE_ADD,
                     .vault = vault_id,
                     .item = item_id,
                     .file = file_id,
                     .version = version};
    int64_t seq = 0;
    return opc__acct_change(a, &c, &seq, eb);
}

static opc_err file_attach(opc_account *a, const char *vault, const char *item, const char *name,
                           const char *section_id, const void *data, size_t len,
                           int64_t expected_version, opc_secret **out, opc__ebuf *eb)
{
    if (expected_version < 0) {
        return opc__fail(eb, OPC_ERR_RANGE, "expected version must not be negative");
    }
    opc_err rc = opc__acct_begin(a, true, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    char file_id[OPC_ID_LEN + 1];
    cJSON *full = NULL;
    opc__item_meta meta = {0, 0, 0, ""};
    int64_t now = opc__now_s();
    rc = opc__acct_vault_resolve(a, vault, vault_id, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_item_resolve(a, vault_id, item, item_id, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_item_load(a, vault_id, item_id, &full, &meta, eb);
    }
    if (rc == OPC_OK && expected_version > 0 && expected_version != meta.version) {
        rc = opc__fail(eb, OPC_ERR_CONFLICT, "item %s was changed (version %lld, expected %lld)",
                       item_id, (long long)meta.version, (long long)expected_version);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_file_add(a, item_id, full, name, section_id, data, len, file_id, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_item_store(a, vault_id, item_id, full, false, meta.version, now,
                                  &meta.version, eb);
        meta.updated = now;
        meta.editor[0] = '\0';
    }
    if (rc == OPC_OK) {
        rc = log_file(a, vault_id, item_id, file_id, meta.version, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_item_output(a, vault_id, item_id, full, &meta, out, eb);
    }
    rc = opc__acct_end(a, rc, eb);
    if (rc != OPC_OK) {
        opc_secret_free(*out);
        *out = NULL;
    }
    opc__json_delete_secret(full);
    return rc;
}

opc_err opc_account_file_attach(opc_account *a, const char *vault, const char *item,
                                const char *name, const char *section_id, const void *data,
                                size_t len, int64_t expected_version, opc_secret **out)
{
    if (a == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (out != NULL) {
        *out = NULL;
    }
    if (vault == NULL || item == NULL || name == NULL || out == NULL || (data == NULL && len > 0)) {
        return opc__acct_finish(a, opc__fail(&eb, OPC_ERR_INVALID_ARG, "missing argument"), &eb);
    }
    opc_err rc = opc__acct_need_unlocked(a, &eb);
    if (rc == OPC_OK) {
        rc = file_attach(a, vault, item, name, section_id, data, len, expected_version, out, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

static opc_err document_create(opc_account *a, const char *vault, const char *title,
                               const char *filename, const void *data, size_t len, opc_secret **out,
                               opc__ebuf *eb)
{
    cJSON *req = cJSON_CreateObject();
    char *json = NULL;
    cJSON *full = NULL;
    opc_err rc = OPC_OK;
    if (req == NULL || cJSON_AddStringToObject(req, "title", title) == NULL ||
        cJSON_AddStringToObject(req, "category", "DOCUMENT") == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(req, &json, NULL);
    }
    if (rc == OPC_OK) {
        rc = opc__item_prepare(json, strlen(json), OPC_ITEM_CREATE_DOCUMENT, NULL, &full, eb);
    }
    opc__json_delete_secret(req);
    opc__secret_free_str(json);
    if (rc != OPC_OK) {
        return rc;
    }
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    char file_id[OPC_ID_LEN + 1];
    int64_t now = opc__now_s();
    opc__item_meta meta = {0, now, now, ""};
    rc = opc__id_generate(item_id);
    if (rc == OPC_OK) {
        rc = opc__acct_begin(a, true, eb);
        if (rc == OPC_OK) {
            rc = opc__acct_vault_resolve(a, vault, vault_id, eb);
            if (rc == OPC_OK) {
                rc = opc__acct_file_add(a, item_id, full, filename, NULL, data, len, file_id, eb);
            }
            if (rc == OPC_OK) {
                rc = opc__acct_item_store(a, vault_id, item_id, full, true, 0, now, &meta.version,
                                          eb);
            }
            if (rc == OPC_OK) {
                rc = log_file(a, vault_id, item_id, file_id, meta.version, eb);
            }
            if (rc == OPC_OK) {
                rc = opc__acct_item_output(a, vault_id, item_id, full, &meta, out, eb);
            }
            rc = opc__acct_end(a, rc, eb);
        }
    }
    if (rc != OPC_OK) {
        opc_secret_free(*out);
        *out = NULL;
    }
    opc__json_delete_secret(full);
    return rc;
}

opc_err opc_account_document_create(opc_account *a, const char *vault, const char *title,
                                    const char *filename, const void *data, size_t len,
                                    opc_secret **out)
{
    if (a == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (out != NULL) {
        *out = NULL;
    }
    if (vault == NULL || title == NULL || filename == NULL || out == NULL ||
        (data == NULL && len > 0)) {
        return opc__acct_finish(a, opc__fail(&eb, OPC_ERR_INVALID_ARG, "missing argument"), &eb);
    }
    opc_err rc = opc__acct_need_unlocked(a, &eb);
    if (rc == OPC_OK) {
        rc = document_create(a, vault, title, filename, data, len, out, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}
