/*
 * Unit tests of items and files on the owner's store protocol (rows.h):
 * a concurrent change between a call's reads and its batch makes the
 * batch conflict (nothing committed) and the call start again, at most
 * OPC__ITEM_TRIES times; a file larger than one batch travels in chunk
 * groups ahead of the item's batch, and its chunks are removed again when
 * that batch fails; chunks are bytes ('b') in the store.
 */
#include "rows_fixture.h"

#include "core/rand.h"

#define ITEM_JSON(title) "{\"title\":\"" title "\",\"category\":\"LOGIN\"}"

/* The race: another handle replaces the item. */
static void replace_item(interposer *ip)
{
    opc_secret *out = NULL;
    FX_OK(ip->other,
          opc_account_item_replace(ip->other, ip->vault, ip->item, ITEM_JSON("theirs"), 0, &out));
    opc_secret_free(out);
}

/* The item is replaced before a batch holding the statement `trigger`, the
 * first `rounds` times. */
static void ip_install(interposer *ip, fx *f, const char *vault, const char *item,
                       const char *trigger, int rounds)
{
    rx_install(ip, f, replace_item, rounds);
    ip->vault = vault;
    ip->item = item;
    ip->trigger = trigger;
}

static void setup_item(fx *f, char vid[27], char id[27])
{
    fx_create(f);
    fx_vault(f->a, "dev", vid);
    fx_item(f->a, vid, ITEM_JSON("mine"), id);
}

/* replace: a concurrent replace is not lost; an expected version the caller
 * gave is checked again; a conflict every time ends in OPC_ERR_CONFLICT. */
static void test_item_rows_replace_retry(void **state)
{
    (void)state;
    fx f;
    char vid[27];
    char id[27];
    setup_item(&f, vid, id);
    interposer ip;
    opc_secret *out = NULL;

    /* Any version: ours is applied after theirs (version 1 -> 2 theirs -> 3 ours). */
    ip_install(&ip, &f, vid, id, "item.update", 1);
    FX_OK(f.a, opc_account_item_replace(f.a, vid, id, ITEM_JSON("ours"), 0, &out));
    assert_int_equal(ip.batches, 2);
    cJSON *j = fx_json_secret(out);
    assert_int_equal((int)fx_num(j, "version"), 3);
    assert_string_equal(fx_str(j, "title"), "ours");
    cJSON_Delete(j);
    opc_secret_free(out);
    rx_remove(&ip, &f);
    j = fx_item_get(f.a, vid, id);
    assert_int_equal((int)fx_num(j, "version"), 3);
    assert_string_equal(fx_str(j, "title"), "ours");
    cJSON_Delete(j);

    /* Expected version 3: theirs made it 4; the second read refuses, as the
     * single transaction did. */
    int64_t before = rx_count(&f, "SELECT COUNT(*) FROM changes");
    ip_install(&ip, &f, vid, id, "item.update", 1);
    out = NULL;
    FX_ERR(f.a, OPC_ERR_CONFLICT,
           opc_account_item_replace(f.a, vid, id, ITEM_JSON("late"), 3, &out));
    assert_null(out);
    assert_int_equal(ip.batches, 1);
    assert_non_null(strstr(opc_account_errmsg(f.a), "expected 3"));
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"), before + 1); /* theirs only */

    /* A conflict every time: OPC__ITEM_TRIES batches, nothing of ours committed. */
    before = rx_count(&f, "SELECT COUNT(*) FROM changes");
    ip_install(&ip, &f, vid, id, "item.update", 100);
    FX_ERR(f.a, OPC_ERR_CONFLICT,
           opc_account_item_replace(f.a, vid, id, ITEM_JSON("never"), 0, &out));
    assert_null(out);
    assert_int_equal(ip.batches, OPC__ITEM_TRIES);
    assert_non_null(strstr(opc_account_errmsg(f.a), "item.update"));
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"), before + OPC__ITEM_TRIES);
    j = fx_item_get(f.a, vid, id);
    assert_string_equal(fx_str(j, "title"), "theirs");
    cJSON_Delete(j);
    fx_destroy(&f);
}

/* delete: a concurrent replace moves the row; the delete reads again and
 * deletes the new version (or refuses an expected version). */
static void test_item_rows_delete_retry(void **state)
{
    (void)state;
    fx f;
    char vid[27];
    char id[27];
    setup_item(&f, vid, id);
    interposer ip;

    ip_install(&ip, &f, vid, id, "item.tombstone", 1);
    FX_ERR(f.a, OPC_ERR_CONFLICT, opc_account_item_delete(f.a, vid, id, 1));
    assert_int_equal(ip.batches, 1);
    rx_remove(&ip, &f);

    ip_install(&ip, &f, vid, id, "item.tombstone", 1);
    FX_OK(f.a, opc_account_item_delete(f.a, vid, id, 0));
    assert_int_equal(ip.batches, 2);
    rx_remove(&ip, &f);
    char q[160];
    snprintf(q, sizeof q,
             "SELECT COUNT(*) FROM items WHERE id = '%s' AND state = 'deleted' AND "
             "version = 4",
             id);
    assert_int_equal(rx_count(&f, q), 1);
    char *vault = NULL;
    FX_OK(f.a, opc_account_vault_get(f.a, vid, &vault));
    cJSON *v = fx_json(vault);
    assert_int_equal((int)fx_num(v, "items"), 0);
    cJSON_Delete(v);
    opc_free(vault);
    fx_destroy(&f);
}

static void random_bytes(unsigned char *p, size_t n)
{
    assert_int_equal(opc__rand_bytes(p, n), OPC_OK);
}

static void read_back(opc_account *a, const char *vid, const char *item, const char *file,
                      const unsigned char *data, size_t len)
{
    opc_secret *content = NULL;
    FX_OK(a, opc_account_file_read(a, vid, item, file, &content));
    assert_int_equal(opc_secret_len(content), len);
    assert_memory_equal(opc_secret_data(content), data, len);
    opc_secret_free(content);
}

/* Attachments of one batch, of one group more, of several groups; a new
 * document of the largest size (1,024 chunks in one batch). */
static void test_item_rows_large_files(void **state)
{
    (void)state;
    fx f;
    char vid[27];
    char id[27];
    setup_item(&f, vid, id);
    const size_t chunk = OPC_ACCOUNT_CHUNK_SIZE;
    const size_t sizes[] = {OPC__FILE_BATCH_CHUNKS * chunk, OPC__FILE_BATCH_CHUNKS * chunk + 1,
                            3 * OPC__FILE_BATCH_CHUNKS * chunk + 5};
    const int64_t chunks[] = {OPC__FILE_BATCH_CHUNKS, OPC__FILE_BATCH_CHUNKS + 1,
                              3 * OPC__FILE_BATCH_CHUNKS + 1};
    const size_t max = OPC_ACCOUNT_MAX_FILE_SIZE;
    unsigned char *data = malloc(max);
    assert_non_null(data);
    random_bytes(data, max);
    int64_t total = 0;
    for (size_t i = 0; i < 3; i++) {
        opc_secret *out = NULL;
        FX_OK(f.a,
              opc_account_file_attach(f.a, vid, id, "blob.bin", NULL, data, sizes[i], 0, &out));
        cJSON *j = fx_json_secret(out);
        opc_secret_free(out);
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
        const cJSON *last = cJSON_GetArrayItem(files, cJSON_GetArraySize(files) - 1);
        char file_id[27];
        snprintf(file_id, sizeof file_id, "%s", fx_str(last, "id"));
        cJSON_Delete(j);
        read_back(f.a, vid, id, file_id, data, sizes[i]);
        total += chunks[i];
        assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM files"), total);
    }
    /* A document of the largest size. */
    opc_secret *out = NULL;
    FX_OK(f.a, opc_account_document_create(f.a, vid, "big", "big.bin", data, max, &out));
    cJSON *doc = fx_json_secret(out);
    opc_secret_free(out);
    const cJSON *file = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "files"), 0);
    assert_int_equal((int)fx_num(doc, "version"), 1);
    read_back(f.a, vid, fx_str(doc, "id"), fx_str(file, "id"), data, max);
    cJSON_Delete(doc);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM files"), total + 1024);
    /* The delete removes every chunk of the item. */
    FX_OK(f.a, opc_account_item_delete(f.a, vid, id, 0));
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM files"), 1024);
    free(data);
    fx_destroy(&f);
}

/* A large file whose item batch conflicts: the chunk groups committed
 * ahead of it are removed, the retry uploads again; no chunk is left over. */
static void test_item_rows_large_file_conflict(void **state)
{
    (void)state;
    fx f;
    char vid[27];
    char id[27];
    setup_item(&f, vid, id);
    const size_t len = (2 * OPC__FILE_BATCH_CHUNKS + 2) * (size_t)OPC_ACCOUNT_CHUNK_SIZE;
    const int64_t n_chunks = 2 * OPC__FILE_BATCH_CHUNKS + 2;
    unsigned char *data = malloc(len);
    assert_non_null(data);
    random_bytes(data, len);
    interposer ip;

    ip_install(&ip, &f, vid, id, "item.update", 1);
    opc_secret *out = NULL;
    FX_OK(f.a, opc_account_file_attach(f.a, vid, id, "big.bin", NULL, data, len, 0, &out));
    assert_int_equal(ip.batches, 2);
    /* Per attempt: 2 chunk groups and the item's batch; 1 cleanup between. */
    assert_int_equal(ip.all, 2 * 3 + 1);
    rx_remove(&ip, &f);
    cJSON *j = fx_json_secret(out);
    opc_secret_free(out);
    const cJSON *file = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "files"), 0);
    assert_non_null(file);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM files"), n_chunks);
    read_back(f.a, vid, id, fx_str(file, "id"), data, len);
    cJSON_Delete(j);

    /* Expected version refused on the second read: nothing of ours is left. */
    ip_install(&ip, &f, vid, id, "item.update", 1);
    FX_ERR(f.a, OPC_ERR_CONFLICT,
           opc_account_file_attach(f.a, vid, id, "late.bin", NULL, data, len, 3, &out));
    assert_null(out);
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM files"), n_chunks);
    j = fx_item_get(f.a, vid, id);
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "files"))
    {
        assert_string_not_equal(fx_str(e, "name"), "late.bin");
    }
    cJSON_Delete(j);
    free(data);
    fx_destroy(&f);
}

/* Chunks are bytes: a read gives base64url text, a batch refuses text that
 * is not base64url before running anything. */
static void test_item_rows_chunks_are_bytes(void **state)
{
    (void)state;
    fx f;
    char vid[27];
    char id[27];
    setup_item(&f, vid, id);
    const unsigned char data[] = "attached";
    opc_secret *out = NULL;
    FX_OK(f.a, opc_account_file_attach(f.a, vid, id, "a.txt", NULL, data, 8, 0, &out));
    cJSON *j = fx_json_secret(out);
    opc_secret_free(out);
    const cJSON *file = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "files"), 0);
    char file_id[27];
    snprintf(file_id, sizeof file_id, "%s", fx_str(file, "id"));
    cJSON_Delete(j);

    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    cJSON *rows = NULL;
    FX_OK(f.a, opc__rows_read(f.a->rows, "file.chunks", &rows, &eb, "ttii", id, file_id, (int64_t)0,
                              (int64_t)10));
    assert_int_equal(cJSON_GetArraySize(rows), 1);
    const cJSON *row = cJSON_GetArrayItem(rows, 0);
    assert_int_equal(opc__rows_int(row, 0), 0);
    assert_true(opc__rpc_blob_valid(cJSON_GetArrayItem(row, 1)));
    unsigned char blob[64];
    size_t blen = 0;
    assert_int_equal(opc__rows_blob(row, 1, blob, sizeof blob, &blen, &eb), OPC_OK);
    assert_int_equal(blen, 8 + 16); /* the content and its GCM tag */
    assert_int_equal(opc__rows_blob(row, 1, blob, 4, &blen, &eb), OPC_ERR_RANGE);
    cJSON_Delete(rows);

    int64_t before = rx_count(&f, "SELECT COUNT(*) FROM files");
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    opc__rows_batch_add(&b, "file.chunk_insert", 1, "ttib", id, "x", (int64_t)0, "ab", (size_t)2);
    opc__rows_batch_add(&b, "file.chunk_insert", 1, "ttit", id, "y", (int64_t)0, "not base64!");
    assert_int_equal(b.rc, OPC_OK);
    assert_int_equal(opc__rows_batch_run(f.a->rows, &b, &eb), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "file.chunk_insert: argument 3 must be bytes"));
    opc__rows_batch_free(&b);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM files"), before);

    /* A blob above the limit is not even built. */
    opc__rows_batch_init(&b);
    opc__rows_batch_add(&b, "file.chunk_insert", 1, "ttib", id, "z", (int64_t)0, data,
                        (size_t)OPC__RPC_MAX_BLOB + 1);
    assert_int_equal(b.rc, OPC_ERR_TOO_LARGE);
    opc__rows_batch_free(&b);
    fx_destroy(&f);
}

/* A batch holds at most 256 statements without bytes and 1,024 with. */
static void test_item_rows_batch_split(void **state)
{
    (void)state;
    fx f;
    char vid[27];
    char id[27];
    setup_item(&f, vid, id);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    for (int i = 0; i < OPC__RPC_MAX_PLAIN_STEPS + 1; i++) {
        opc__rows_batch_add(&b, "item.is_active", 1, "tt", id, vid);
    }
    assert_int_equal(b.rc, OPC_OK);
    assert_int_equal(opc__rows_batch_run(f.a->rows, &b, &eb), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "at most 1024 statements without bytes"));
    opc__rows_batch_free(&b);

    /* 1,024 chunks and 1,024 other statements: one batch. */
    const unsigned char blob[] = "x";
    opc__rows_batch_init(&b);
    for (int i = 0; i < OPC__RPC_MAX_PLAIN_STEPS; i++) {
        opc__rows_batch_add(&b, "item.is_active", 1, "tt", id, vid);
    }
    for (int64_t i = 0; i < OPC__RPC_MAX_BLOB_STEPS; i++) {
        opc__rows_batch_add(&b, "file.chunk_insert", 1, "ttib", id, "f", i, blob, (size_t)1);
    }
    assert_int_equal(b.rc, OPC_OK);
    FX_OK(f.a, opc__rows_batch_run(f.a->rows, &b, &eb));
    opc__rows_batch_free(&b);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM files WHERE file_id = 'f'"),
                     OPC__RPC_MAX_BLOB_STEPS);

    /* One more chunk is refused by the store, before running anything. */
    opc__rows_batch_init(&b);
    for (int64_t i = 0; i < OPC__RPC_MAX_BLOB_STEPS + 1; i++) {
        opc__rows_batch_add(&b, "file.chunk_insert", 1, "ttib", id, "g", i, blob, (size_t)1);
    }
    assert_int_equal(b.rc, OPC_OK);
    assert_int_equal(opc__rows_batch_run(f.a->rows, &b, &eb), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "1024 with"));
    opc__rows_batch_free(&b);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM files WHERE file_id = 'g'"), 0);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_item_rows_replace_retry),
        cmocka_unit_test(test_item_rows_delete_retry),
        cmocka_unit_test(test_item_rows_large_files),
        cmocka_unit_test(test_item_rows_large_file_conflict),
        cmocka_unit_test(test_item_rows_chunks_are_bytes),
        cmocka_unit_test(test_item_rows_batch_split),
    };
    return cmocka_run_group_tests_name("account_item_rows", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
