/*
 * account/file.c - file attachments and documents (security-model §3.9;
 * design: schema.c).
 *
 * The entry in the item's (encrypted) details and the chunk layout are
 * model/file.h's (shared with connect-api, which serves the same chunks
 * from its cache). The content is in table files, one row per chunk.
 *
 * Store protocol (rows.h): no SQL here. Chunks travel as bytes ('b') in
 * file.chunk_insert steps. An attachment of up to OPC__FILE_BATCH_CHUNKS
 * chunks goes in the item's own batch (atomic), a larger one in batches of
 * that many chunks ahead of it, with the item row (which alone makes the
 * file visible) written last; a new document's chunks all go in the batch
 * that creates its item (docs/protocol.md, "Files"). Reading pages through
 * file.chunks, OPC__FILE_BATCH_CHUNKS at a time.
 */
#include "internal.h"

#include <stdio.h>
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

_Static_assert(OPC__FILE_BATCH_CHUNKS <= OPC__RPC_MAX_BLOB_STEPS, "a chunk group fits a batch");
_Static_assert((size_t)OPC_ACCOUNT_MAX_FILE_SIZE / OPC_FILE_CHUNK_SIZE <= OPC__RPC_MAX_BLOB_STEPS,
               "the largest file fits one batch (a new document)");
_Static_assert(OPC_FILE_CHUNK_SIZE + OPC_GCM_TAG_LEN <= OPC__RPC_MAX_BLOB, "a chunk is a blob");

/* Run a group of chunk inserts as a batch of its own, counted in up->committed. */
static opc_err flush_group(opc_account *a, opc__rows_batch *g, opc__file_upload *up, opc__ebuf *eb)
{
    opc_err rc = opc__rows_batch_run(a->rows, g, eb);
    if (rc == OPC_OK) {
        up->committed += (int64_t)g->n;
    }
    opc__rows_batch_free(g);
    opc__rows_batch_init(g);
    return rc;
}

/*
 * Encrypt every chunk into file.chunk_insert steps: the last group's into
 * b, earlier groups' run as their own batches (one group in memory at a
 * time), or all into b when one_batch; *hash gets the b64url SHA-256 of
 * the blobs.
 */
static opc_err write_chunks(opc_account *a, opc__rows_batch *b, bool one_batch,
                            opc__file_upload *up, const uint8_t key[OPC_FILE_KEY_LEN],
                            const uint8_t prefix[OPC_FILE_PREFIX_LEN], const uint8_t *data,
                            size_t len, char hash[OPC_FILE_HASH_B64_SIZE], opc__ebuf *eb)
{
    size_t n = opc__file_chunk_count(len, CHUNK);
    size_t last_group = one_batch ? 0 : (n - 1) / OPC__FILE_BATCH_CHUNKS;
    uint8_t *blob = opc__malloc(CHUNK + OPC_GCM_TAG_LEN);
    opc__file_hash h = {NULL};
    opc__rows_batch g;
    opc__rows_batch_init(&g);
    opc_err rc = (blob == NULL) ? OPC_ERR_NOMEM : opc__file_hash_init(&h);
    for (size_t i = 0; rc == OPC_OK && i < n; i++) {
        bool last = (i + 1 == n);
        size_t off = i * CHUNK;
        size_t clen = last ? len - off : CHUNK;
        bool own = i / OPC__FILE_BATCH_CHUNKS < last_group;
        rc = opc__file_chunk_seal(key, prefix, up->file_id, (uint32_t)i, last,
                                  clen == 0 ? NULL : data + off, clen, blob);
        if (rc == OPC_OK) {
            rc = opc__file_hash_update(&h, blob, clen + OPC_GCM_TAG_LEN);
        }
        if (rc == OPC_OK) {
            opc__rows_batch_add(own ? &g : b, "file.chunk_insert", 1, "ttib", up->item_id,
                                up->file_id, (int64_t)i, blob, clen + OPC_GCM_TAG_LEN);
        }
        if (rc == OPC_OK && own && (i + 1) % OPC__FILE_BATCH_CHUNKS == 0) {
            rc = flush_group(a, &g, up, eb);
        }
    }
    uint8_t d[OPC_FILE_HASH_LEN];
    if (rc == OPC_OK) {
        rc = opc__file_hash_final(&h, d);
    }
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(d, sizeof d, OPC_B64URL, hash, OPC_FILE_HASH_B64_SIZE, NULL);
    }
    opc__rows_batch_free(&g);
    opc__file_hash_clear(&h);
    opc__free(blob);
    return rc;
}

void opc__acct_file_abandon(opc_account *a, opc__file_upload *up)
{
    if (up->committed == 0) {
        return;
    }
    /* Best effort: the chunks are unreachable anyway (no item entry names
     * the file); an item's delete removes them too. */
    opc__ebuf ignored;
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    opc__rows_batch_add(&b, "file.chunks_delete", up->committed, "tt", up->item_id, up->file_id);
    if (opc__rows_batch_run(a->rows, &b, &ignored) == OPC_OK) {
        up->committed = 0;
    }
    opc__rows_batch_free(&b);
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

opc_err opc__acct_file_add(opc_account *a, opc__rows_batch *b, bool one_batch, const char *item_id,
                           cJSON *full, const char *name, const char *section_id, const void *data,
                           size_t len, opc__file_upload *up, opc__ebuf *eb)
{
    memset(up, 0, sizeof *up);
    (void)snprintf(up->item_id, sizeof up->item_id, "%s", item_id);
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
    rc = opc__id_generate(up->file_id);
    if (rc == OPC_OK) {
        rc = opc__rand_priv_bytes(key, sizeof key);
    }
    if (rc == OPC_OK) {
        rc = opc__rand_bytes(prefix, sizeof prefix);
    }
    if (rc == OPC_OK) {
        rc = write_chunks(a, b, one_batch, up, key, prefix, data, len, hash, eb);
    }
    if (rc == OPC_OK) {
        rc = file_entry(up->file_id, name, section_id, len, key, prefix, hash, &entry);
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

/*
 * Read, check and decrypt every chunk of the file in order (model/file.h),
 * a page of OPC__FILE_BATCH_CHUNKS at a time. Chunks are never changed
 * once written (only deleted with their item), so pages need no common
 * snapshot: a chunk deleted meanwhile fails the reader.
 */
static opc_err read_chunks(opc_account *a, const char *item_id, const opc__file_entry *fe,
                           opc_secret **out, opc__ebuf *eb)
{
    unsigned char *pt = NULL;
    opc_secret *s = NULL;
    opc__file_reader rd;
    uint8_t *blob = opc__malloc(CHUNK + OPC_GCM_TAG_LEN);
    opc_err rc = opc__file_reader_init(&rd, fe, true);
    if (rc == OPC_OK && blob == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = opc__secret_alloc(fe->size, &s, &pt);
    }
    bool more = true;
    while (rc == OPC_OK && more) {
        cJSON *rows = NULL;
        int64_t from = (int64_t)rd.next;
        rc = opc__rows_read(a->rows, "file.chunks", &rows, eb, "ttii", item_id, fe->id, from,
                            (int64_t)OPC__FILE_BATCH_CHUNKS);
        int got = rc == OPC_OK ? cJSON_GetArraySize(rows) : 0;
        more = got == OPC__FILE_BATCH_CHUNKS;
        const cJSON *row = rc == OPC_OK ? rows->child : NULL;
        for (; rc == OPC_OK && row != NULL; row = row->next) {
            size_t blen = 0;
            rc = opc__rows_blob(row, 1, blob, CHUNK + OPC_GCM_TAG_LEN, &blen, eb);
            /* An extra row fails on its index before pt is used. */
            size_t off = rd.next < fe->n_chunks ? rd.next * fe->chunk_size : 0;
            if (rc == OPC_OK) {
                rc = opc__file_reader_chunk(&rd, opc__rows_int(row, 0), blob, blen, pt + off, eb);
            }
        }
        cJSON_Delete(rows);
        /* The reader moved on by every row: a page that did not end a read. */
        if (rc == OPC_OK && more && (int64_t)rd.next != from + got) {
            rc = opc__fail(eb, OPC_ERR_INTERNAL, "file %s: chunks out of order", fe->id);
        }
    }
    if (rc == OPC_OK) {
        rc = opc__file_reader_finish(&rd, eb);
    }
    opc__file_reader_clear(&rd);
    if (blob != NULL) {
        opc__wipe(blob, CHUNK + OPC_GCM_TAG_LEN);
    }
    opc__free(blob);
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
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    cJSON *full = NULL;
    opc__item_meta meta;
    const cJSON *f = NULL;
    opc__file_entry fe;
    memset(&fe, 0, sizeof fe);
    opc_err rc = opc__acct_item_find(a, vault, item, 0, vault_id, item_id, &full, &meta, eb);
    if (rc == OPC_OK) {
        rc = find_file(full, file, &f, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__file_entry_parse(f, true, &fe, eb);
    }
    if (rc == OPC_OK) {
        rc = read_chunks(a, item_id, &fe, out, eb);
    }
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

/* One attempt of an attach: reads, the chunks, the item's batch. */
static opc_err attach_once(opc_account *a, const char *vault, const char *item, const char *name,
                           const char *section_id, const void *data, size_t len,
                           int64_t expected_version, opc_secret **out, bool *stale, opc__ebuf *eb)
{
    *stale = false;
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    cJSON *full = NULL;
    opc__item_meta meta = {0, 0, 0, "", 0};
    opc__file_upload up;
    memset(&up, 0, sizeof up);
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    int64_t now = opc__now_s();
    opc_err rc =
        opc__acct_item_find(a, vault, item, expected_version, vault_id, item_id, &full, &meta, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_file_add(a, &b, false, item_id, full, name, section_id, data, len, &up, eb);
    }
    if (rc == OPC_OK) {
        opc__item_put p = {vault_id, item_id, false, meta.version, meta.seq, up.file_id};
        rc = opc__acct_item_put(a, &b, &p, full, &meta, now, out, stale, eb);
    }
    if (rc != OPC_OK) {
        opc__acct_file_abandon(a, &up);
    }
    opc__rows_batch_free(&b);
    opc__json_delete_secret(full);
    return rc;
}

static opc_err file_attach(opc_account *a, const char *vault, const char *item, const char *name,
                           const char *section_id, const void *data, size_t len,
                           int64_t expected_version, opc_secret **out, opc__ebuf *eb)
{
    opc_err rc = opc__acct_item_check_expected(expected_version, eb);
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__ITEM_TRIES; i++) {
        rc = attach_once(a, vault, item, name, section_id, data, len, expected_version, out, &again,
                         eb);
    }
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

/* One attempt of a document create: reads, the chunks, the item's batch. */
static opc_err document_once(opc_account *a, const char *vault, const cJSON *base,
                             const char *filename, const void *data, size_t len, opc_secret **out,
                             bool *stale, opc__ebuf *eb)
{
    *stale = false;
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    int64_t now = opc__now_s();
    opc__item_meta meta = {0, now, now, "", 0};
    opc__file_upload up;
    memset(&up, 0, sizeof up);
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    cJSON *full = cJSON_Duplicate(base, true);
    opc_err rc = full == NULL ? OPC_ERR_NOMEM : opc__id_generate(item_id);
    if (rc == OPC_OK) {
        rc = opc__acct_vault_resolve(a, vault, vault_id, eb);
    }
    if (rc == OPC_OK) {
        /* The item row does not exist yet, and its chunks reference it
         * (a foreign key checked at each commit): one batch. */
        rc = opc__acct_file_add(a, &b, true, item_id, full, filename, NULL, data, len, &up, eb);
    }
    if (rc == OPC_OK) {
        opc__item_put p = {vault_id, item_id, true, 0, 0, up.file_id};
        rc = opc__acct_item_put(a, &b, &p, full, &meta, now, out, stale, eb);
    }
    if (rc != OPC_OK) {
        opc__acct_file_abandon(a, &up);
    }
    opc__rows_batch_free(&b);
    opc__json_delete_secret(full);
    return rc;
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
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__ITEM_TRIES; i++) {
        rc = document_once(a, vault, full, filename, data, len, out, &again, eb);
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
