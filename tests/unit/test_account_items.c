/*
 * tests/unit/test_account_items.c - lib/account: items, optimistic
 * concurrency, tampering, files, documents, two writers, canary scan.
 */
#include "account_fixture.h"

#include <sys/wait.h>

#include "core/rand.h"

#define LOGIN_JSON                                                                                 \
    "{\"title\":\"GitHub\",\"category\":\"LOGIN\",\"tags\":[\"dev\"],"                             \
    "\"urls\":[{\"href\":\"https://github.com\",\"primary\":true}],"                               \
    "\"fields\":[{\"id\":\"username\",\"purpose\":\"USERNAME\",\"value\":\"octocat\"},"            \
    "{\"id\":\"password\",\"purpose\":\"PASSWORD\",\"type\":\"CONCEALED\","                        \
    "\"value\":\"hunter2-first\"}]}"

static const cJSON *field_by_id(const cJSON *item, const char *id)
{
    const cJSON *f = NULL;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(item, "fields"))
    {
        const cJSON *fid = cJSON_GetObjectItemCaseSensitive(f, "id");
        if (cJSON_IsString(fid) && strcmp(fid->valuestring, id) == 0) {
            return f;
        }
    }
    return NULL;
}

static cJSON *get_vault(opc_account *a, const char *vault)
{
    char *out = NULL;
    FX_OK(a, opc_account_vault_get(a, vault, &out));
    cJSON *j = fx_json(out);
    opc_free(out);
    return j;
}

static void test_account_item_create_get_list(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    char id[27];
    fx_vault(f.a, "Dev", vid);
    opc_secret *out = NULL;
    FX_OK(f.a, opc_account_item_create(f.a, "dev", LOGIN_JSON, &out));
    cJSON *it = fx_json_secret(out);
    opc_secret_free(out);
    snprintf(id, sizeof id, "%s", fx_str(it, "id"));
    assert_true(opc__id_valid_str(id));
    assert_string_equal(fx_str(it, "title"), "GitHub");
    assert_string_equal(fx_str(it, "category"), "LOGIN");
    assert_int_equal((int)fx_num(it, "version"), 1);
    assert_string_equal(fx_str(cJSON_GetObjectItemCaseSensitive(it, "vault"), "id"), vid);
    char editor[27];
    for (size_t i = 0; i <= 26; i++) {
        char c = opc_account_id(f.a)[i];
        editor[i] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    assert_string_equal(fx_str(it, "lastEditedBy"), editor);
    assert_non_null(strchr(fx_str(it, "createdAt"), 'Z'));
    assert_string_equal(fx_str(field_by_id(it, "username"), "value"), "octocat");
    assert_non_null(field_by_id(it, "notesPlain")); /* built-in field added */
    cJSON_Delete(it);

    /* Get by id and by title. */
    it = fx_item_get(f.a, vid, id);
    assert_string_equal(fx_str(field_by_id(it, "password"), "value"), "hunter2-first");
    cJSON_Delete(it);
    it = fx_item_get(f.a, "Dev", "GitHub");
    assert_string_equal(fx_str(it, "id"), id);
    cJSON_Delete(it);
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_item_get(f.a, vid, "Nothing", &out));

    /* Invalid items. */
    FX_ERR(f.a, OPC_ERR_PARSE, opc_account_item_create(f.a, vid, "{\"category\":\"NOPE\"}", &out));
    assert_non_null(strstr(opc_account_errmsg(f.a), "Invalid item category"));
    FX_ERR(f.a, OPC_ERR_PARSE, opc_account_item_create(f.a, vid, "not json", &out));
    assert_null(out);

    /* List: summaries sorted by title, no fields. */
    fx_item(f.a, vid, "{\"title\":\"b note\",\"category\":\"SECURE_NOTE\"}", NULL);
    fx_item(f.a, vid, "{\"title\":\"A server\",\"category\":\"SERVER\"}", NULL);
    FX_OK(f.a, opc_account_item_list(f.a, vid, &out));
    cJSON *list = fx_json_secret(out);
    opc_secret_free(out);
    assert_int_equal(cJSON_GetArraySize(list), 3);
    assert_string_equal(fx_str(cJSON_GetArrayItem(list, 0), "title"), "A server");
    assert_string_equal(fx_str(cJSON_GetArrayItem(list, 1), "title"), "b note");
    assert_string_equal(fx_str(cJSON_GetArrayItem(list, 2), "title"), "GitHub");
    const cJSON *s = cJSON_GetArrayItem(list, 2);
    assert_string_equal(fx_str(s, "id"), id);
    assert_int_equal((int)fx_num(s, "version"), 1);
    assert_null(cJSON_GetObjectItemCaseSensitive(s, "fields"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(s, "lastEditedBy"));
    cJSON_Delete(list);

    cJSON *v = get_vault(f.a, vid);
    assert_int_equal((int)fx_num(v, "items"), 3);
    assert_int_equal((int)fx_num(v, "contentVersion"), 4);
    cJSON_Delete(v);
    fx_destroy(&f);
}

static void test_account_item_replace_and_delete_versions(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    char id[27];
    fx_vault(f.a, "Dev", vid);
    fx_item(f.a, vid, LOGIN_JSON, id);
    opc_secret *out = NULL;
    const char *v2 = "{\"title\":\"GitHub v2\",\"category\":\"LOGIN\",\"fields\":[{\"id\":"
                     "\"password\",\"purpose\":\"PASSWORD\",\"value\":\"hunter2-second\"}]}";
    FX_OK(f.a, opc_account_item_replace(f.a, vid, id, v2, 1, &out));
    cJSON *it = fx_json_secret(out);
    opc_secret_free(out);
    assert_int_equal((int)fx_num(it, "version"), 2);
    assert_string_equal(fx_str(it, "title"), "GitHub v2");
    assert_null(cJSON_GetObjectItemCaseSensitive(it, "passwordHistory")); /* internal */
    cJSON_Delete(it);

    /* A stale edit fails and changes nothing. */
    const char *v3 = "{\"title\":\"GitHub stale\",\"category\":\"LOGIN\"}";
    FX_ERR(f.a, OPC_ERR_CONFLICT, opc_account_item_replace(f.a, vid, id, v3, 1, &out));
    assert_null(out);
    char want[160];
    snprintf(want, sizeof want, "item %s was changed (version 2, expected 1)", id);
    assert_string_equal(opc_account_errmsg(f.a), want);
    it = fx_item_get(f.a, vid, id);
    assert_int_equal((int)fx_num(it, "version"), 2);
    assert_string_equal(fx_str(it, "title"), "GitHub v2");
    assert_string_equal(fx_str(field_by_id(it, "password"), "value"), "hunter2-second");
    cJSON_Delete(it);
    /* A category change is refused by the model. */
    FX_ERR(f.a, OPC_ERR_PARSE,
           opc_account_item_replace(f.a, vid, id, "{\"category\":\"SERVER\"}", 0, &out));

    /* 0 skips the check. */
    FX_OK(f.a, opc_account_item_replace(f.a, vid, "GitHub v2", v3, 0, &out));
    opc_secret_free(out);
    it = fx_item_get(f.a, vid, id);
    assert_int_equal((int)fx_num(it, "version"), 3);
    cJSON_Delete(it);

    /* Delete: stale version refused, then done. */
    FX_ERR(f.a, OPC_ERR_CONFLICT, opc_account_item_delete(f.a, vid, id, 2));
    it = fx_item_get(f.a, vid, id);
    cJSON_Delete(it);
    FX_OK(f.a, opc_account_item_delete(f.a, vid, id, 3));
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_item_get(f.a, vid, id, &out));
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_item_delete(f.a, vid, id, 0));
    cJSON *v = get_vault(f.a, vid);
    assert_int_equal((int)fx_num(v, "items"), 0);
    assert_int_equal((int)fx_num(v, "contentVersion"), 5); /* 1 + create + 2 edits + delete */
    cJSON_Delete(v);
    /* The tombstone keeps no ciphertext. */
    sqlite3 *db = fx_db(&f);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM items WHERE state = 'deleted' AND "
                                  "overview IS NULL AND details IS NULL AND version = 4"),
                     1);
    sqlite3_close(db);
    fx_destroy(&f);
}

static void test_account_item_ambiguous_title(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    char a1[27];
    char a2[27];
    fx_vault(f.a, "Dev", vid);
    fx_item(f.a, vid, "{\"title\":\"Dup\",\"category\":\"SECURE_NOTE\"}", a1);
    fx_item(f.a, vid, "{\"title\":\"Dup\",\"category\":\"SECURE_NOTE\"}", a2);
    fx_item(f.a, vid, "{\"title\":\"dup\",\"category\":\"SECURE_NOTE\"}", NULL);
    opc_secret *out = NULL;
    FX_ERR(f.a, OPC_ERR_CONFLICT, opc_account_item_get(f.a, vid, "Dup", &out));
    assert_non_null(strstr(opc_account_errmsg(f.a), a1));
    assert_non_null(strstr(opc_account_errmsg(f.a), a2));
    /* The exact-case match wins over case-insensitive ones. */
    cJSON *it = fx_item_get(f.a, vid, "dup");
    assert_string_equal(fx_str(it, "title"), "dup");
    cJSON_Delete(it);
    FX_ERR(f.a, OPC_ERR_CONFLICT, opc_account_item_get(f.a, vid, "DUP", &out));
    fx_destroy(&f);
}

/* Flip one base64url character inside the "data" member of a stored envelope. */
static void flip_envelope(sqlite3 *db, const char *column, const char *id)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s FROM items WHERE id = ?", column);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char *env = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    char *d = strstr(env, "\"data\":\"");
    assert_non_null(d);
    d += 8 + 5;
    *d = (*d == 'A') ? 'B' : 'A';
    snprintf(sql, sizeof sql, "UPDATE items SET %s = ? WHERE id = ?", column);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, env, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    free(env);
}

static void test_account_item_tampered_ciphertext_detected(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    char id[27];
    char other[27];
    fx_vault(f.a, "Dev", vid);
    fx_item(f.a, vid, LOGIN_JSON, id);
    fx_item(f.a, vid, "{\"title\":\"Other\",\"category\":\"SECURE_NOTE\"}", other);
    sqlite3 *db = fx_db(&f);
    flip_envelope(db, "overview", id);
    opc_secret *out = NULL;
    FX_ERR(f.a, OPC_ERR_DECRYPT, opc_account_item_get(f.a, vid, id, &out));
    assert_null(out);
    assert_non_null(strstr(opc_account_errmsg(f.a), "overview does not decrypt"));
    assert_null(strstr(opc_account_errmsg(f.a), "hunter2"));
    /* The untouched item still reads. */
    cJSON *it = fx_item_get(f.a, vid, other);
    cJSON_Delete(it);
    /* Details too. */
    flip_envelope(db, "details", other);
    FX_ERR(f.a, OPC_ERR_DECRYPT, opc_account_item_get(f.a, vid, other, &out));
    assert_non_null(strstr(opc_account_errmsg(f.a), "details does not decrypt"));
    sqlite3_close(db);
    fx_destroy(&f);
}

static void test_account_item_swapped_overview_detected(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    char x[27];
    char y[27];
    fx_vault(f.a, "Dev", vid);
    fx_item(f.a, vid, "{\"title\":\"X\",\"category\":\"SECURE_NOTE\"}", x);
    fx_item(f.a, vid, "{\"title\":\"Y\",\"category\":\"SECURE_NOTE\"}", y);
    sqlite3 *db = fx_db(&f);
    char sql[300];
    snprintf(sql, sizeof sql,
             "UPDATE items SET overview = (SELECT overview FROM items WHERE id = '%s') WHERE id = "
             "'%s'",
             y, x);
    fx_exec(db, sql);
    sqlite3_close(db);
    opc_secret *out = NULL;
    FX_ERR(f.a, OPC_ERR_DECRYPT, opc_account_item_get(f.a, vid, x, &out));
    assert_null(out);
    FX_ERR(f.a, OPC_ERR_DECRYPT, opc_account_item_list(f.a, vid, &out));
    fx_destroy(&f);
}

/* ---- files ---- */

static void random_bytes(unsigned char *p, size_t n)
{
    assert_int_equal(opc__rand_bytes(p, n), OPC_OK);
}

static void test_account_file_round_trip_sizes(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    char id[27];
    fx_vault(f.a, "Files", vid);
    fx_item(f.a, vid,
            "{\"title\":\"With files\",\"category\":\"SECURE_NOTE\",\"sections\":[{\"id\":"
            "\"sec1\",\"label\":\"Attachments\"}]}",
            id);
    const size_t sizes[] = {0, 1, 65536, 65537, 1048576 + 123};
    const size_t chunks[] = {1, 1, 1, 2, 17};
    unsigned char *data = malloc(sizes[4]);
    assert_non_null(data);
    random_bytes(data, sizes[4]);
    char fids[5][27];
    sqlite3 *db = fx_db(&f);
    for (size_t i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "file-%zu.bin", sizes[i]);
        opc_secret *out = NULL;
        FX_OK(f.a, opc_account_file_attach(f.a, vid, id, name, i == 1 ? "sec1" : NULL, data,
                                           sizes[i], (int64_t)i + 1, &out));
        cJSON *it = fx_json_secret(out);
        opc_secret_free(out);
        assert_int_equal((int)fx_num(it, "version"), (int)i + 2);
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(it, "files");
        assert_int_equal(cJSON_GetArraySize(files), (int)i + 1);
        const cJSON *fe = cJSON_GetArrayItem(files, (int)i);
        snprintf(fids[i], 27, "%s", fx_str(fe, "id"));
        assert_string_equal(fx_str(fe, "name"), name);
        assert_int_equal((size_t)fx_num(fe, "size"), sizes[i]);
        char path[512];
        snprintf(path, sizeof path, "/v1/vaults/%s/items/%s/files/%s/content", vid, id, fids[i]);
        assert_string_equal(fx_str(fe, "content_path"), path);
        assert_null(cJSON_GetObjectItemCaseSensitive(fe, "key"));
        assert_null(cJSON_GetObjectItemCaseSensitive(fe, "nonce"));
        assert_null(cJSON_GetObjectItemCaseSensitive(fe, "chunkSize"));
        assert_null(cJSON_GetObjectItemCaseSensitive(fe, "sha256"));
        if (i == 1) {
            assert_string_equal(fx_str(cJSON_GetObjectItemCaseSensitive(fe, "section"), "id"),
                                "sec1");
        }
        cJSON_Delete(it);
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM files WHERE file_id = '%s'", fids[i]);
        assert_int_equal(fx_count(db, sql), (int64_t)chunks[i]);
    }
    for (size_t i = 0; i < 5; i++) {
        opc_secret *content = NULL;
        FX_OK(f.a, opc_account_file_read(f.a, vid, id, fids[i], &content));
        assert_int_equal(opc_secret_len(content), sizes[i]);
        if (sizes[i] > 0) {
            assert_memory_equal(opc_secret_data(content), data, sizes[i]);
        }
        opc_secret_free(content);
    }
    /* Files survive a replace of the item; the stale version check applies to attach. */
    opc_secret *out = NULL;
    FX_OK(f.a, opc_account_item_replace(
                   f.a, vid, id,
                   "{\"title\":\"Renamed\",\"category\":\"SECURE_NOTE\",\"sections\":[{\"id\":"
                   "\"sec1\",\"label\":\"Attachments\"}]}",
                   6, &out));
    opc_secret_free(out);
    opc_secret *content = NULL;
    FX_OK(f.a, opc_account_file_read(f.a, vid, "Renamed", "file-65537.bin", &content));
    assert_int_equal(opc_secret_len(content), 65537);
    opc_secret_free(content);
    FX_ERR(f.a, OPC_ERR_CONFLICT,
           opc_account_file_attach(f.a, vid, id, "late.bin", NULL, data, 3, 6, &out));
    FX_ERR(f.a, OPC_ERR_NOT_FOUND,
           opc_account_file_attach(f.a, vid, id, "x.bin", "nosection", data, 3, 0, &out));
    FX_ERR(f.a, OPC_ERR_TOO_LARGE,
           opc_account_file_attach(f.a, vid, id, "huge.bin", NULL, data,
                                   (size_t)OPC_ACCOUNT_MAX_FILE_SIZE + 1, 0, &out));
    FX_ERR(f.a, OPC_ERR_NOT_FOUND, opc_account_file_read(f.a, vid, id, "nofile", &content));
    /* The file content is not in the database in the clear. */
    size_t n = 0;
    unsigned char *bytes = fx_read_file(f.path, &n);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", f.path);
    size_t wn = 0;
    unsigned char *wbytes = fx_read_file(wal, &wn);
    assert_false(fx_contains(bytes, n, data + 1000, 32));
    assert_false(fx_contains(wbytes, wn, data + 1000, 32));
    free(bytes);
    free(wbytes);
    /* Deleting the item removes its chunks. */
    FX_OK(f.a, opc_account_item_delete(f.a, vid, id, 0));
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM files"), 0);
    sqlite3_close(db);
    free(data);
    fx_destroy(&f);
}

static void test_account_file_truncated_reordered_tampered(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    char id[27];
    fx_vault(f.a, "Files", vid);
    fx_item(f.a, vid, "{\"title\":\"F\",\"category\":\"SECURE_NOTE\"}", id);
    size_t len = 3 * 65536 + 10; /* 4 chunks */
    unsigned char *data = malloc(len);
    random_bytes(data, len);
    char fid[3][27];
    for (int i = 0; i < 3; i++) {
        opc_secret *out = NULL;
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        FX_OK(f.a, opc_account_file_attach(f.a, vid, id, name, NULL, data, len, 0, &out));
        cJSON *it = fx_json_secret(out);
        opc_secret_free(out);
        snprintf(
            fid[i], 27, "%s",
            fx_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(it, "files"), i), "id"));
        cJSON_Delete(it);
    }
    sqlite3 *db = fx_db(&f);
    char sql[300];
    /* Truncation: the last chunk is gone. */
    snprintf(sql, sizeof sql, "DELETE FROM files WHERE file_id = '%s' AND idx = 3", fid[0]);
    fx_exec(db, sql);
    opc_secret *content = NULL;
    FX_ERR(f.a, OPC_ERR_DECRYPT, opc_account_file_read(f.a, vid, id, fid[0], &content));
    assert_null(content);
    assert_non_null(strstr(opc_account_errmsg(f.a), "truncated"));
    /* Reordering: chunks 0 and 1 swap places. */
    snprintf(sql, sizeof sql,
             "UPDATE files SET idx = -1 WHERE file_id = '%s' AND idx = 0;"
             "UPDATE files SET idx = 0 WHERE file_id = '%s' AND idx = 1;"
             "UPDATE files SET idx = 1 WHERE file_id = '%s' AND idx = -1;",
             fid[1], fid[1], fid[1]);
    fx_exec(db, sql);
    FX_ERR(f.a, OPC_ERR_DECRYPT, opc_account_file_read(f.a, vid, id, fid[1], &content));
    assert_non_null(strstr(opc_account_errmsg(f.a), "does not decrypt"));
    /* A flipped byte in a chunk. */
    snprintf(sql, sizeof sql,
             "UPDATE files SET blob = CAST(zeroblob(100) || substr(blob, 101) AS BLOB) WHERE "
             "file_id = '%s' AND idx = 2",
             fid[2]);
    fx_exec(db, sql);
    FX_ERR(f.a, OPC_ERR_DECRYPT, opc_account_file_read(f.a, vid, id, fid[2], &content));
    sqlite3_close(db);
    free(data);
    fx_destroy(&f);
}

static void test_account_document_create(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    fx_vault(f.a, "Docs", vid);
    const char body[] = "%PDF-1.4 obviously fake document body";
    opc_secret *out = NULL;
    FX_OK(f.a, opc_account_document_create(f.a, "Docs", "Passport scan", "scan.pdf", body,
                                           sizeof body - 1, &out));
    cJSON *it = fx_json_secret(out);
    opc_secret_free(out);
    assert_string_equal(fx_str(it, "category"), "DOCUMENT");
    assert_string_equal(fx_str(it, "title"), "Passport scan");
    assert_int_equal((int)fx_num(it, "version"), 1);
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(it, "files");
    assert_int_equal(cJSON_GetArraySize(files), 1);
    assert_string_equal(fx_str(cJSON_GetArrayItem(files, 0), "name"), "scan.pdf");
    char id[27];
    snprintf(id, sizeof id, "%s", fx_str(it, "id"));
    cJSON_Delete(it);
    opc_secret *content = NULL;
    FX_OK(f.a, opc_account_file_read(f.a, vid, "Passport scan", "scan.pdf", &content));
    assert_int_equal(opc_secret_len(content), sizeof body - 1);
    assert_memory_equal(opc_secret_data(content), body, sizeof body - 1);
    opc_secret_free(content);
    /* DOCUMENT is not creatable as a plain item. */
    FX_ERR(f.a, OPC_ERR_PARSE,
           opc_account_item_create(f.a, vid, "{\"title\":\"x\",\"category\":\"DOCUMENT\"}", &out));
    /* A failed document changes nothing. */
    FX_ERR(f.a, OPC_ERR_NOT_FOUND,
           opc_account_document_create(f.a, "No vault", "t", "a.txt", body, 3, &out));
    sqlite3 *db = fx_db(&f);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM items"), 1);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM files"), 1);
    sqlite3_close(db);
    fx_destroy(&f);
}

/* ---- concurrency ---- */

static int writer(const char *path, const char *vault, const char *sk, int who)
{
    opc_account *a = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (opc__account_open_ex(path, 1, &a, &eb) != OPC_OK) {
        fprintf(stderr, "writer %d: open: %s\n", who, eb.msg);
        return 1;
    }
    int status = 0;
    if (opc_account_unlock(a, FX_PASSWORD, sk) != OPC_OK) {
        fprintf(stderr, "writer %d: unlock: %s\n", who, opc_account_errmsg(a));
        status = 1;
    }
    for (int i = 0; status == 0 && i < 50; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"title\":\"w%d-%02d\",\"category\":\"PASSWORD\"}", who, i);
        opc_secret *out = NULL;
        opc_err rc = opc_account_item_create(a, vault, json, &out);
        opc_secret_free(out);
        if (rc != OPC_OK) {
            fprintf(stderr, "writer %d item %d: %s (%s)\n", who, i, opc_errname(rc),
                    opc_account_errmsg(a));
            status = 1;
        }
    }
    opc_account_free(a);
    return status;
}

static void test_account_two_writers_in_parallel(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vid[27];
    fx_vault(f.a, "Shared", vid);
    opc_account_free(f.a); /* no connection crosses fork() */
    f.a = NULL;
    fflush(NULL);
    pid_t pids[2];
    for (int w = 0; w < 2; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            _exit(writer(f.path, vid, f.sk_text, w));
        }
    }
    for (int w = 0; w < 2; w++) {
        int st = 0;
        assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    f.a = fx_reopen(&f);
    FX_OK(f.a, opc_account_unlock(f.a, FX_PASSWORD, f.sk_text));
    opc_secret *out = NULL;
    FX_OK(f.a, opc_account_item_list(f.a, vid, &out));
    cJSON *list = fx_json_secret(out);
    opc_secret_free(out);
    assert_int_equal(cJSON_GetArraySize(list), 100);
    cJSON_Delete(list);
    cJSON *v = get_vault(f.a, vid);
    assert_int_equal((int)fx_num(v, "items"), 100);
    assert_int_equal((int)fx_num(v, "contentVersion"), 101);
    cJSON_Delete(v);
    sqlite3 *db = fx_db(&f);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    /* Sequence numbers are unique and dense across both writers. */
    assert_int_equal(fx_count(db, "SELECT COUNT(DISTINCT seq) FROM changes WHERE kind = "
                                  "'item_upsert'"),
                     100);
    sqlite3_close(db);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_item_create_get_list),
        cmocka_unit_test(test_account_item_replace_and_delete_versions),
        cmocka_unit_test(test_account_item_ambiguous_title),
        cmocka_unit_test(test_account_item_tampered_ciphertext_detected),
        cmocka_unit_test(test_account_item_swapped_overview_detected),
        cmocka_unit_test(test_account_file_round_trip_sizes),
        cmocka_unit_test(test_account_file_truncated_reordered_tampered),
        cmocka_unit_test(test_account_document_create),
        cmocka_unit_test(test_account_two_writers_in_parallel),
    };
    return cmocka_run_group_tests_name("account_items", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
