/*
 * account/file.c - file attachments and documents (security-model §3.9;
 * design: schema.c).
 *
 * The entry in the item's (encrypted) details and the chunk layout are
 * model/file.h's (shared with connect-api, which serves the same chunks
 * from its cache). The content is in table files, one row per chunk.
 */
#include "internal.h"

#include <string.h>

#include "account/account_int.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/gcm.h"
#include "model/file.h"
#include "model/item.h"
#include "model/shape.h"

#define CHUNK OPC_FILE_CHUNK_SIZE
_Static_assert((size_t)OPC_ACCOUNT_CHUNK_SIZE == OPC_FILE_CHUNK_SIZE, "one chunk size");
/* Members of a file entry that never leave the library. */
static const char *const internal_members[] = {"key", "chunkSize", "nonce", "sha256"};

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
        char path[OPC_ITEM_FILE_PATH_MAX];
        opc_err rc = opc__item_file_path(path, sizeof path, vault_id, item_id, id->valuestring);
        if (rc != OPC_OK) {
            return rc;
        }
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
                            const uint8_t key[OPC_FILE_KEY_LEN],
                            const uint8_t prefix[OPC_FILE_PREFIX_LEN], const uint8_t *data,
                            size_t len, char hash[OPC_FILE_HASH_B64_SIZE], opc__ebuf *eb)
{
    size_t n = opc__file_chunk_count(len, CHUNK);
    uint8_t *blob = opc__malloc(CHUNK + OPC_GCM_TAG_LEN);
    opc__file_hash h = {NULL};
    sqlite3_stmt *st = NULL;
    opc_err rc = (blob == NULL) ? OPC_ERR_NOMEM : opc__file_hash_init(&h);
    if (rc == OPC_OK) {
        rc = opc__acct_prepare(
            a, "INSERT INTO files (item_id, file_id, idx, blob) VALUES (?, ?, ?, ?)", &st, eb);
    }
    for (size_t i = 0; rc == OPC_OK && i < n; i++) {
        bool last = (i + 1 == n);
        size_t off = i * CHUNK;
        size_t clen = last ? len - off : CHUNK;
        rc = opc__file_chunk_seal(key, prefix, file_id, (uint32_t)i, last,
                                  clen == 0 ? NULL : data + off, clen, blob);
        if (rc == OPC_OK) {
            rc = opc__file_hash_update(&h, blob, clen + OPC_GCM_TAG_LEN);
        }
        if (rc == OPC_OK) {
            rc = opc__acct_bind(a, st, eb, "ttib", item_id, file_id, (int64_t)i, blob,
                                clen + OPC_GCM_TAG_LEN);
        }
        bool row = false;
        if (rc == OPC_OK) {
            rc = opc__acct_step(a, st, &row, eb);
        }
        int src = sqlite3_reset(st);
        if (src != SQLITE_OK && rc == OPC_OK) {
            rc = opc__acct_sqlerr(a, src, "account file", eb);
        }
    }
    uint8_t d[OPC_FILE_HASH_LEN];
    if (rc == OPC_OK) {
        rc = opc__file_hash_final(&h, d);
    }
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(d, sizeof d, OPC_B64URL, hash, OPC_FILE_HASH_B64_SIZE, NULL);
    }
    sqlite3_finalize(st);
    opc__file_hash_clear(&h);
    opc__free(blob);
    return rc;
}

static opc_err add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) == NULL ? OPC_ERR_NOMEM : OPC_OK;
}

/* The file entry (with its key) for the details. */
static opc_err file_entry(const char *file_id, const char *name, const char *section_id, size_t len,
                          const uint8_t key[OPC_FILE_KEY_LEN],
                          const uint8_t prefix[OPC_FILE_PREFIX_LEN], const char *hash, cJSON **out)
{
    char key_b64[48];
    char nonce_b64[16];
    cJSON *f = cJSON_CreateObject();
    opc_err rc = f == NULL ? OPC_ERR_NOMEM : OPC_OK;
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(key, OPC_FILE_KEY_LEN, OPC_B64URL, key_b64, sizeof key_b64, NULL);
    }
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(prefix, OPC_FILE_PREFIX_LEN, OPC_B64URL, nonce_b64,
                                sizeof nonce_b64, NULL);
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
    uint8_t key[OPC_FILE_KEY_LEN];
    uint8_t prefix[OPC_FILE_PREFIX_LEN];
    char hash[OPC_FILE_HASH_B64_SIZE];
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

/* Read, check and decrypt every chunk of the file in order (model/file.h). */
static opc_err read_chunks(opc_account *a, const char *item_id, const opc__file_entry *fe,
                           opc_secret **out, opc__ebuf *eb)
{
    unsigned char *pt = NULL;
    opc_secret *s = NULL;
    opc__file_reader rd;
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__file_reader_init(&rd, fe, true);
    if (rc == OPC_OK) {
        rc = opc__secret_alloc(fe->size, &s, &pt);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_query(a, &st, eb,
                             "SELECT idx, blob FROM files WHERE item_id = ? AND file_id = ? "
                             "ORDER BY idx",
                             "tt", item_id, fe->id);
    }
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        /* An extra row fails on its index before pt is used. */
        size_t off = rd.next < fe->n_chunks ? rd.next * fe->chunk_size : 0;
        rc = opc__file_reader_chunk(&rd, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
                                    (size_t)sqlite3_column_bytes(st, 1), pt + off, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__file_reader_finish(&rd, eb);
    }
    sqlite3_finalize(st);
    opc__file_reader_clear(&rd);
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
    opc__file_entry fe;
    memset(&fe, 0, sizeof fe);
    rc = opc__acct_item_find(a, vault, item, 0, vault_id, item_id, &full, &meta, eb);
    if (rc == OPC_OK) {
        rc = find_file(full, file, &f, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__file_entry_parse(f, true, &fe, eb);
    }
    if (rc == OPC_OK) {
        rc = read_chunks(a, item_id, &fe, out, eb);
    }
    rc = opc__acct_end(a, rc, eb);
    opc__file_entry_wipe(&fe);
    opc__json_delete_secret(full);
    return rc;
}

opc_err opc_account_file_read(opc_account *a, const char *vault, const char *item,
                              const char *file_id, opc_secret **out)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED,
                                 vault != NULL && item != NULL && file_id != NULL && out != NULL,
                                 NULL, out, &eb);
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
    opc_err rc = opc__acct_item_begin(a, expected_version, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    char file_id[OPC_ID_LEN + 1];
    cJSON *full = NULL;
    opc__item_meta meta = {0, 0, 0, ""};
    int64_t now = opc__now_s();
    rc = opc__acct_item_find(a, vault, item, expected_version, vault_id, item_id, &full, &meta, eb);
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
    rc = opc__acct_item_end(a, rc, vault_id, item_id, full, &meta, out, eb);
    opc__json_delete_secret(full);
    return rc;
}

opc_err opc_account_file_attach(opc_account *a, const char *vault, const char *item,
                                const char *name, const char *section_id, const void *data,
                                size_t len, int64_t expected_version, opc_secret **out)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED,
                                 vault != NULL && item != NULL && name != NULL && out != NULL &&
                                     (data != NULL || len == 0),
                                 NULL, out, &eb);
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
    cJSON *full = NULL;
    opc_err rc = OPC_OK;
    if (req == NULL || cJSON_AddStringToObject(req, "title", title) == NULL ||
        cJSON_AddStringToObject(req, "category", "DOCUMENT") == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = opc__item_check(req, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__item_prepare(req, OPC_ITEM_CREATE_DOCUMENT, NULL, &full, eb);
    }
    opc__json_delete_secret(req);
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
            rc = opc__acct_item_end(a, rc, vault_id, item_id, full, &meta, out, eb);
        }
    }
    opc__json_delete_secret(full);
    return rc;
}

opc_err opc_account_document_create(opc_account *a, const char *vault, const char *title,
                                    const char *filename, const void *data, size_t len,
                                    opc_secret **out)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED,
                                 vault != NULL && title != NULL && filename != NULL &&
                                     out != NULL && (data != NULL || len == 0),
                                 NULL, out, &eb);
    if (rc == OPC_OK) {
        rc = document_create(a, vault, title, filename, data, len, out, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}
