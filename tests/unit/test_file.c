/*
 * tests/unit/test_file.c - file entries and the chunk layout (lib/model/file.c):
 * known answers for nonce, AAD and sealed chunks (computed independently with
 * pyca/cryptography's AESGCM), entry parsing, and the in-order reader's
 * refusals (tampered, reordered, moved, truncated, extra, wrong size, hash).
 */
#include "harness.h"

#include <cjson/cJSON.h>

#include "core/err.h"
#include "crypto/base64.h"
#include "crypto/kdf.h"
#include "model/file.h"

static const char fid[] = "abcdefghijklmnopqrstuvwxyz";
static const uint8_t prefix[OPC_FILE_PREFIX_LEN] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6};

static void key_bytes(uint8_t key[OPC_FILE_KEY_LEN])
{
    for (int i = 0; i < OPC_FILE_KEY_LEN; i++) {
        key[i] = (uint8_t)i;
    }
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[p[i] >> 4];
        out[2 * i + 1] = h[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void test_file_chunk_count_and_len(void **state)
{
    (void)state;
    assert_int_equal(opc__file_chunk_count(0, 65536), 1);
    assert_int_equal(opc__file_chunk_count(1, 65536), 1);
    assert_int_equal(opc__file_chunk_count(65536, 65536), 1);
    assert_int_equal(opc__file_chunk_count(65537, 65536), 2);
    assert_int_equal(opc__file_chunk_count(3 * 65536 + 10, 65536), 4);
    opc__file_entry e;
    memset(&e, 0, sizeof e);
    e.size = 3 * 65536 + 10;
    e.chunk_size = 65536;
    e.n_chunks = 4;
    assert_int_equal(opc__file_chunk_len(&e, 0), 65536);
    assert_int_equal(opc__file_chunk_len(&e, 2), 65536);
    assert_int_equal(opc__file_chunk_len(&e, 3), 10);
    assert_int_equal(opc__file_chunk_len(&e, 4), 0);
}

static void test_file_nonce_layout(void **state)
{
    (void)state;
    uint8_t iv[OPC_GCM_IV_LEN];
    char h[2 * OPC_GCM_IV_LEN + 1];
    opc__file_chunk_nonce(prefix, 0x01020304u, true, iv);
    hex(iv, sizeof iv, h);
    assert_string_equal(h, "a0a1a2a3a4a5a60102030401");
    opc__file_chunk_nonce(prefix, 7, false, iv);
    hex(iv, sizeof iv, h);
    assert_string_equal(h, "a0a1a2a3a4a5a60000000700");
    /* The chunk AAD's bytes are pinned in test_wire.c. */
}

/* Known answers from pyca/cryptography: AESGCM(key 00..1f).encrypt(nonce, pt, aad). */
static void test_file_seal_known_answers(void **state)
{
    (void)state;
    uint8_t key[OPC_FILE_KEY_LEN];
    key_bytes(key);
    uint8_t blob[64];
    char h[2 * sizeof blob + 1];
    assert_int_equal(opc__file_chunk_seal(key, prefix, fid, 0, false, "hello chunk zero", 16, blob),
                     OPC_OK);
    hex(blob, 16 + OPC_GCM_TAG_LEN, h);
    assert_string_equal(h, "62b470c5f9742655194dafa0e365240462fc6e4f85d813e71d65a01428537711");
    assert_int_equal(opc__file_chunk_seal(key, prefix, fid, 1, true, "end", 3, blob), OPC_OK);
    hex(blob, 3 + OPC_GCM_TAG_LEN, h);
    assert_string_equal(h, "8c68a42889acd4126794bd3df7b3f420372722");
    assert_int_equal(opc__file_chunk_seal(key, prefix, fid, 0, true, NULL, 0, blob), OPC_OK);
    hex(blob, OPC_GCM_TAG_LEN, h);
    assert_string_equal(h, "ac4bc1b19435a60b41267017939cbe6e");
}

/* ---- a small file in memory: chunkSize 16, content "0123456789abcdefghijklmnopqrstuvwxyzAB" ----
 */

#define SMALL_CHUNK 16
#define NCH 3
static const char content[] = "0123456789abcdefghijklmnopqrstuvwxyzAB"; /* 38 bytes: 16+16+6 */

typedef struct small_file {
    uint8_t blob[NCH][SMALL_CHUNK + OPC_GCM_TAG_LEN];
    size_t len[NCH];
    cJSON *entry;
} small_file;

static char *b64url(const void *p, size_t n)
{
    char *s = NULL;
    size_t len = 0;
    assert_int_equal(opc__b64_encode(p, n, OPC_B64URL, &s, &len), OPC_OK);
    return s;
}

/* Seal the chunks and build the entry (with or without sha256). */
static void small_make(small_file *sf, bool with_hash)
{
    uint8_t key[OPC_FILE_KEY_LEN];
    key_bytes(key);
    size_t size = sizeof content - 1;
    uint8_t all[NCH * (SMALL_CHUNK + OPC_GCM_TAG_LEN)];
    size_t off = 0;
    for (size_t i = 0; i < NCH; i++) {
        size_t clen = i + 1 < NCH ? SMALL_CHUNK : size - i * SMALL_CHUNK;
        assert_int_equal(opc__file_chunk_seal(key, prefix, fid, (uint32_t)i, i + 1 == NCH,
                                              content + i * SMALL_CHUNK, clen, sf->blob[i]),
                         OPC_OK);
        sf->len[i] = clen + OPC_GCM_TAG_LEN;
        memcpy(all + off, sf->blob[i], sf->len[i]);
        off += sf->len[i];
    }
    sf->entry = cJSON_CreateObject();
    cJSON_AddStringToObject(sf->entry, "id", fid);
    cJSON_AddStringToObject(sf->entry, "name", "a.txt");
    cJSON_AddNumberToObject(sf->entry, "size", (double)size);
    char *k = b64url(key, sizeof key);
    char *n = b64url(prefix, sizeof prefix);
    cJSON_AddStringToObject(sf->entry, "key", k);
    cJSON_AddNumberToObject(sf->entry, "chunkSize", SMALL_CHUNK);
    cJSON_AddStringToObject(sf->entry, "nonce", n);
    test_free(k);
    test_free(n);
    if (with_hash) {
        uint8_t d[OPC_SHA256_LEN];
        assert_int_equal(opc__sha256(all, off, d), OPC_OK);
        char *hs = b64url(d, sizeof d);
        cJSON_AddStringToObject(sf->entry, "sha256", hs);
        test_free(hs);
    }
}

/* Read rows (idx, blob index) in the given order; returns the reader's verdict. */
static opc_err small_read(small_file *sf, const int64_t *idx, const size_t *which, size_t rows,
                          bool with_hash, char *out, opc__ebuf *eb)
{
    opc__file_entry e;
    opc_err rc = opc__file_entry_parse(sf->entry, with_hash, &e, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__file_reader rd;
    rc = opc__file_reader_init(&rd, &e, with_hash);
    for (size_t r = 0; rc == OPC_OK && r < rows; r++) {
        size_t w = which[r];
        rc = opc__file_reader_chunk(&rd, idx[r], sf->blob[w], sf->len[w],
                                    (uint8_t *)out + (r < NCH ? r : 0) * SMALL_CHUNK, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__file_reader_finish(&rd, eb);
    }
    opc__file_reader_clear(&rd);
    opc__file_entry_wipe(&e);
    return rc;
}

static void test_file_entry_parse(void **state)
{
    (void)state;
    small_file sf;
    small_make(&sf, true);
    opc__file_entry e;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__file_entry_parse(sf.entry, true, &e, &eb), OPC_OK);
    assert_string_equal(e.id, fid);
    assert_string_equal(e.name, "a.txt");
    assert_int_equal(e.size, 38);
    assert_int_equal(e.chunk_size, SMALL_CHUNK);
    assert_int_equal(e.n_chunks, NCH);
    assert_true(e.has_hash);
    assert_memory_equal(e.prefix, prefix, sizeof prefix);
    opc__file_entry_wipe(&e);
    /* Malformed members. */
    static const char *const bad[][2] = {
        {"key", "AAAA"},      {"nonce", "AAAAAAAAAAAA"}, {"sha256", "AAAA"},        {"size", "-1"},
        {"size", "67108865"}, {"chunkSize", "0"},        {"chunkSize", "16777217"}, {"id", "5"},
        {"name", "null"},
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        cJSON *c = cJSON_Duplicate(sf.entry, true);
        cJSON *v = cJSON_Parse(bad[i][1]);
        if (v == NULL) {
            v = cJSON_CreateString(bad[i][1]);
        }
        cJSON_ReplaceItemInObjectCaseSensitive(c, bad[i][0], v);
        opc__ebuf_clear(&eb);
        assert_int_equal(opc__file_entry_parse(c, false, &e, &eb), OPC_ERR_DECRYPT);
        assert_string_equal(eb.msg, "the file's entry in the item is malformed");
        cJSON_Delete(c);
    }
    /* sha256 is optional unless asked for. */
    cJSON *c = cJSON_Duplicate(sf.entry, true);
    cJSON_DeleteItemFromObjectCaseSensitive(c, "sha256");
    assert_int_equal(opc__file_entry_parse(c, false, &e, &eb), OPC_OK);
    assert_false(e.has_hash);
    opc__file_reader rd;
    assert_int_equal(opc__file_reader_init(&rd, &e, true), OPC_ERR_INVALID_ARG);
    opc__file_reader_clear(&rd);
    opc__file_entry_wipe(&e);
    assert_int_equal(opc__file_entry_parse(c, true, &e, &eb), OPC_ERR_DECRYPT);
    cJSON_Delete(c);
    cJSON_Delete(sf.entry);
}

static void test_file_reader_round_trip(void **state)
{
    (void)state;
    small_file sf;
    small_make(&sf, true);
    char out[48];
    memset(out, 0, sizeof out);
    static const int64_t idx[] = {0, 1, 2};
    static const size_t which[] = {0, 1, 2};
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(small_read(&sf, idx, which, 3, true, out, &eb), OPC_OK);
    assert_memory_equal(out, content, sizeof content - 1);
    /* Without the hash, too. */
    memset(out, 0, sizeof out);
    assert_int_equal(small_read(&sf, idx, which, 3, false, out, &eb), OPC_OK);
    assert_memory_equal(out, content, sizeof content - 1);
    cJSON_Delete(sf.entry);
}

static void expect_refusal(small_file *sf, const int64_t *idx, const size_t *which, size_t rows,
                           bool with_hash, const char *msg_part)
{
    char out[48];
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(small_read(sf, idx, which, rows, with_hash, out, &eb), OPC_ERR_DECRYPT);
    if (strstr(eb.msg, msg_part) == NULL) {
        fail_msg("message \"%s\" lacks \"%s\"", eb.msg, msg_part);
    }
    assert_non_null(strstr(eb.msg, fid));
}

static void test_file_reader_refusals(void **state)
{
    (void)state;
    for (int h = 0; h < 2; h++) {
        bool with_hash = h == 1;
        small_file sf;
        small_make(&sf, with_hash);
        /* Reordered: rows 0 and 1 swap blobs. */
        static const int64_t idx3[] = {0, 1, 2};
        static const size_t swap[] = {1, 0, 2};
        expect_refusal(&sf, idx3, swap, 3, with_hash, "does not decrypt");
        /* Truncated: the last chunk is gone. */
        static const size_t first2[] = {0, 1};
        expect_refusal(&sf, idx3, first2, 2, with_hash, "truncated (2 of 3 chunks)");
        /* A gap in the indices. */
        static const int64_t gap[] = {0, 2};
        static const size_t gapw[] = {0, 2};
        expect_refusal(&sf, gap, gapw, 2, with_hash, "missing or out of order");
        /* An extra row. */
        static const int64_t idx4[] = {0, 1, 2, 3};
        static const size_t extra[] = {0, 1, 2, 2};
        expect_refusal(&sf, idx4, extra, 4, with_hash, "missing or out of order");
        /* The last chunk (6 bytes) stored as chunk 1 (16 bytes): wrong size. */
        static const size_t shortw[] = {0, 2, 2};
        expect_refusal(&sf, idx3, shortw, 3, with_hash, "wrong size");
        /* One flipped bit in the middle chunk. */
        sf.blob[1][3] ^= 0x01;
        expect_refusal(&sf, idx3, (const size_t[]){0, 1, 2}, 3, with_hash, "does not decrypt");
        sf.blob[1][3] ^= 0x01;
        /* The last chunk sealed under another file id (moved from another file). */
        uint8_t key[OPC_FILE_KEY_LEN];
        key_bytes(key);
        assert_int_equal(opc__file_chunk_seal(key, prefix, "bbbbbbbbbbbbbbbbbbbbbbbbbb", 2, true,
                                              "uvwxAB", 6, sf.blob[2]),
                         OPC_OK);
        expect_refusal(&sf, idx3, (const size_t[]){0, 1, 2}, 3, with_hash, "does not decrypt");
        cJSON_Delete(sf.entry);
    }
}

/* Chunks that each open but are not the ones the hash names. */
static void test_file_reader_hash_mismatch(void **state)
{
    (void)state;
    small_file sf;
    small_make(&sf, true);
    uint8_t other[OPC_SHA256_LEN];
    memset(other, 0x5a, sizeof other);
    char *hs = b64url(other, sizeof other);
    cJSON_ReplaceItemInObjectCaseSensitive(sf.entry, "sha256", cJSON_CreateString(hs));
    test_free(hs);
    static const int64_t idx[] = {0, 1, 2};
    static const size_t which[] = {0, 1, 2};
    expect_refusal(&sf, idx, which, 3, true, "content hash does not match");
    /* Hash-only pass (no plaintext wanted): the same verdict. */
    opc__file_entry e;
    assert_int_equal(opc__file_entry_parse(sf.entry, true, &e, NULL), OPC_OK);
    opc__file_reader rd;
    assert_int_equal(opc__file_reader_init(&rd, &e, true), OPC_OK);
    for (size_t i = 0; i < NCH; i++) {
        assert_int_equal(opc__file_reader_chunk(&rd, (int64_t)i, sf.blob[i], sf.len[i], NULL, NULL),
                         OPC_OK);
    }
    assert_int_equal(opc__file_reader_finish(&rd, NULL), OPC_ERR_DECRYPT);
    opc__file_reader_clear(&rd);
    opc__file_entry_wipe(&e);
    cJSON_Delete(sf.entry);
}

/* A direct open leaves the output untouched when the tag fails. */
static void test_file_chunk_open_no_plaintext_on_failure(void **state)
{
    (void)state;
    small_file sf;
    small_make(&sf, false);
    opc__file_entry e;
    assert_int_equal(opc__file_entry_parse(sf.entry, false, &e, NULL), OPC_OK);
    uint8_t pt[SMALL_CHUNK];
    memset(pt, 0xee, sizeof pt);
    sf.blob[0][SMALL_CHUNK] ^= 0x80; /* in the tag */
    assert_int_equal(opc__file_chunk_open(&e, 0, sf.blob[0], sf.len[0], pt, NULL), OPC_ERR_DECRYPT);
    for (size_t i = 0; i < sizeof pt; i++) {
        assert_int_equal(pt[i], 0xee);
    }
    assert_int_equal(opc__file_chunk_open(&e, 3, sf.blob[0], sf.len[0], pt, NULL), OPC_ERR_DECRYPT);
    opc__file_entry_wipe(&e);
    cJSON_Delete(sf.entry);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_chunk_count_and_len),
        cmocka_unit_test(test_file_nonce_layout),
        cmocka_unit_test(test_file_seal_known_answers),
        cmocka_unit_test(test_file_entry_parse),
        cmocka_unit_test(test_file_reader_round_trip),
        cmocka_unit_test(test_file_reader_refusals),
        cmocka_unit_test(test_file_reader_hash_mismatch),
        cmocka_unit_test(test_file_chunk_open_no_plaintext_on_failure),
    };
    return cmocka_run_group_tests_name("file", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
