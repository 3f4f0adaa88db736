/*
 * model/file.h - a file's entry in an item's details and the layout of its
 * encrypted content (security-model §3.9; account/schema.c "Files"): the one
 * definition shared by the owner side (account/file.c writes and reads files)
 * and connect-api (rest/files.c serves them from the cache).
 *
 * The entry, inside the item's encrypted details:
 *   {"id", "name", "size", "section": {"id"}?,            shown by the API
 *    "key": b64url(FK, 32 bytes), "chunkSize": 65536,     never shown
 *    "nonce": b64url(7-byte prefix), "sha256": b64url(SHA-256 of the blobs)}
 *
 * The content is n = ceil(size / chunkSize) chunks (an empty file is one
 * empty chunk). Chunk i (0-based) is stored as one blob, ciphertext || tag, of
 *   AES-256-GCM(FK, nonce = prefix7 || be32(i) || last,
 *               AAD   = "f1|<fileId>|<i>|<last>" (wire/labels.h))
 * with last = 1 on the final chunk only: a chunk moved to another index, to
 * another file (other key, other AAD), or a truncated file (no chunk with
 * last = 1 where the size says the end is) fails its tag. "sha256" binds the
 * whole sequence of blobs; the reader checks it after the last chunk.
 *
 * Reading in order (opc__file_reader): every stored chunk is checked for its
 * index (0, 1, 2, ... with none missing or extra), its length (chunk length
 * + 16), then optionally hashed and/or opened; _finish() checks that all n
 * chunks came and that the hash matches. Every failure is OPC_ERR_DECRYPT
 * with a message naming the file id and the chunk index (never content).
 *
 * Secrets: the entry's key (opc__file_entry.key) and every plaintext chunk;
 * wipe them (opc__file_entry_wipe, opc__wipe).
 */
#ifndef OPC_MODEL_FILE_H
#define OPC_MODEL_FILE_H

#include <cjson/cJSON.h>

#include <opconnect/account.h>

#include "core/err.h"
#include "crypto/gcm.h"
#include "internal.h"

/* Chunk size written by this library (readers take any 1..OPC_FILE_MAX_CHUNK). */
#define OPC_FILE_CHUNK_SIZE ((size_t)64 * 1024)
#define OPC_FILE_MAX_CHUNK ((size_t)16 * 1024 * 1024)
/* Largest file (the owner side refuses larger ones). */
#define OPC_FILE_MAX_SIZE ((size_t)OPC_ACCOUNT_MAX_FILE_SIZE)
#define OPC_FILE_KEY_LEN 32
#define OPC_FILE_PREFIX_LEN 7
#define OPC_FILE_HASH_LEN 32
/* b64url of the hash (43 characters) and its NUL. */
#define OPC_FILE_HASH_B64_SIZE 44

typedef struct opc__file_entry {
    const char *id;   /* borrowed from the parsed tree */
    const char *name; /* borrowed from the parsed tree */
    size_t size;
    size_t chunk_size;
    size_t n_chunks;               /* opc__file_chunk_count(size, chunk_size) */
    uint8_t key[OPC_FILE_KEY_LEN]; /* secret */
    uint8_t prefix[OPC_FILE_PREFIX_LEN];
    bool has_hash; /* the entry carries "sha256" */
    uint8_t hash[OPC_FILE_HASH_LEN];
} opc__file_entry;

/*
 * Parse a file entry (an element of the item's "files"): id and name
 * strings, size 0..OPC_FILE_MAX_SIZE, chunkSize 1..OPC_FILE_MAX_CHUNK, key
 * and nonce of the right lengths, sha256 (32 bytes) when present; with
 * need_hash a missing sha256 is an error too. Anything else wrong is
 * OPC_ERR_DECRYPT "the file's entry in the item is malformed" (the entry is
 * inside authenticated ciphertext, so a bad one means a bad writer). The
 * strings are borrowed from f; wipe *out when done.
 */
opc_err opc__file_entry_parse(const cJSON *f, bool need_hash, opc__file_entry *out, opc__ebuf *eb);
void opc__file_entry_wipe(opc__file_entry *e);

/* Number of chunks of a file (1 for an empty file); chunk_size > 0. */
size_t opc__file_chunk_count(size_t size, size_t chunk_size);
/* Plaintext length of chunk i of e (0 when i is past the end). */
size_t opc__file_chunk_len(const opc__file_entry *e, size_t i);

void opc__file_chunk_nonce(const uint8_t prefix[OPC_FILE_PREFIX_LEN], uint32_t i, bool last,
                           uint8_t out[OPC_GCM_IV_LEN]);

/* Seal chunk i (len plaintext bytes) into blob[len + OPC_GCM_TAG_LEN]. */
opc_err opc__file_chunk_seal(const uint8_t key[OPC_FILE_KEY_LEN],
                             const uint8_t prefix[OPC_FILE_PREFIX_LEN], const char *file_id,
                             uint32_t i, bool last, const void *pt, size_t len, uint8_t *blob);

/*
 * Open chunk i of e from blob (blob_len must be opc__file_chunk_len(e, i) +
 * OPC_GCM_TAG_LEN) into pt (that many bytes minus the tag). Nothing is
 * written to pt unless the tag verifies. OPC_ERR_DECRYPT otherwise.
 */
opc_err opc__file_chunk_open(const opc__file_entry *e, size_t i, const void *blob, size_t blob_len,
                             uint8_t *pt, opc__ebuf *eb);

/* SHA-256 of the concatenated blobs (the entry's "sha256"). */
struct evp_md_ctx_st;
typedef struct opc__file_hash {
    struct evp_md_ctx_st *md;
} opc__file_hash;

opc_err opc__file_hash_init(opc__file_hash *h);
opc_err opc__file_hash_update(opc__file_hash *h, const void *blob, size_t len);
opc_err opc__file_hash_final(opc__file_hash *h, uint8_t out[OPC_FILE_HASH_LEN]);
/* Free (safe on a zeroed or already cleared hash). */
void opc__file_hash_clear(opc__file_hash *h);

/* An in-order reader of e's stored chunks (see above). */
typedef struct opc__file_reader {
    const opc__file_entry *e;
    size_t next; /* index of the chunk expected next */
    bool hashing;
    opc__file_hash hash;
} opc__file_reader;

/* with_hash: hash the blobs and check them in _finish (needs e->has_hash). */
opc_err opc__file_reader_init(opc__file_reader *r, const opc__file_entry *e, bool with_hash);
/*
 * The next stored chunk: idx as stored, its blob. Checks index and length,
 * hashes it (with_hash) and, when pt is non-NULL, opens it into pt
 * (opc__file_chunk_len bytes). OPC_ERR_DECRYPT on any mismatch.
 */
opc_err opc__file_reader_chunk(opc__file_reader *r, int64_t idx, const void *blob, size_t blob_len,
                               uint8_t *pt, opc__ebuf *eb);
/* After the last stored chunk: every chunk came ("truncated" otherwise) and
 * the hash matches. */
opc_err opc__file_reader_finish(opc__file_reader *r, opc__ebuf *eb);
void opc__file_reader_clear(opc__file_reader *r);

#endif
