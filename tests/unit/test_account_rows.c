/*
 * Unit tests of the owner's store protocol (account/rows.h) on the local
 * implementation: the table matches its SQL, reads come back typed, a batch
 * is one transaction that rolls back whole on a failed expectation, seq
 * placeholders carry the seqs the store gave, and the store refuses
 * unknown names, wrong types and placeholders that point forward, before
 * running anything.
 */
#include "rows_fixture.h"

#include "account/signup.h"
#include "core/sqlite.h"

/* A fixture with one server "Web" (vault Prod) and one token "ci"; jti out. */
static void setup_token(fx *f, char jti[27])
{
    fx_create(f);
    char prod[27];
    fx_vault(f->a, "Prod", prod);
    const char *vaults[] = {"Prod"};
    cJSON *s = fx_server(f->a, "Web", vaults, 1, NULL);
    cJSON_Delete(s);
    const char *specs[] = {"Prod"};
    char *json = NULL;
    opc_secret *tok = NULL;
    FX_OK(f->a, opc_account_token_create(f->a, "ci", "Web", specs, 1, 0, &json, &tok));
    cJSON *t = fx_json(json);
    snprintf(jti, 27, "%s", fx_str(t, "id"));
    cJSON_Delete(t);
    opc_free(json);
    opc_secret_free(tok);
}

/* The token's row by token.get (one row expected); cJSON_Delete. */
static cJSON *token_row(opc_account *a, const char *jti)
{
    cJSON *rows = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__rows_read(a->rows, "token.get", &rows, &eb, "t", jti);
    if (rc != OPC_OK) {
        fail_msg("token.get: %s", eb.msg);
    }
    assert_int_equal(cJSON_GetArraySize(rows), 1);
    cJSON *row = cJSON_DetachItemFromArray(rows, 0);
    cJSON_Delete(rows);
    return row;
}

/* Every statement's SQL prepares on the schema with exactly the declared
 * parameters and columns; names are valid and unique. */
static void test_rows_table_matches_sql(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    sqlite3 *db = fx_db(&f);
    size_t n = 0;
    const opc__rows_stmt *t = opc__rows_table(&n);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        assert_true(opc__rpc_name_valid(t[i].name));
        assert_ptr_equal(opc__rows_find(t[i].name), &t[i]);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, t[i].sql, -1, &st, NULL) != SQLITE_OK) {
            fail_msg("%s: %s", t[i].name, sqlite3_errmsg(db));
        }
        assert_int_equal(sqlite3_bind_parameter_count(st), (int)strlen(t[i].params));
        assert_int_equal(sqlite3_column_count(st), (int)strlen(t[i].columns));
        assert_int_equal(strspn(t[i].params, "tTiIqb"), strlen(t[i].params));
        assert_int_equal(strspn(t[i].columns, "tTiIb"), strlen(t[i].columns));
        /* Reads have columns and no placeholders; writes and changes no columns. */
        if (t[i].kind == OPC__ROWS_READ) {
            assert_true(t[i].columns[0] != '\0');
            assert_null(strchr(t[i].params, 'q'));
        } else {
            assert_string_equal(t[i].columns, "");
        }
        sqlite3_finalize(st);
    }
    assert_null(opc__rows_find("token.drop"));
    sqlite3_close(db);
    fx_destroy(&f);
}

/* A read's rows are typed cells in the declared order (null where none). */
static void test_rows_read_typed(void **state)
{
    (void)state;
    fx f;
    char jti[27];
    setup_token(&f, jti);
    cJSON *row = token_row(f.a, jti);
    assert_string_equal(opc__rows_str(row, 0), jti);
    assert_string_equal(opc__rows_str(row, 2), "ci");
    assert_true(opc__rows_null(row, 5)); /* no expiry */
    assert_string_equal(opc__rows_str(row, 6), "active");
    assert_true(cJSON_IsNumber(cJSON_GetArrayItem(row, 7)));
    assert_true(opc__rows_int(row, 7) > 0);
    cJSON_Delete(row);
    /* No row: an empty array. */
    cJSON *rows = NULL;
    opc__ebuf eb;
    FX_OK(f.a, opc__rows_read(f.a->rows, "token.get", &rows, &eb, "t", "nonexistent"));
    assert_int_equal(cJSON_GetArraySize(rows), 0);
    cJSON_Delete(rows);
    fx_destroy(&f);
}

/* Placeholders take the seqs the store gave the batch's changes, in order. */
static void test_rows_batch_seq_placeholders(void **state)
{
    (void)state;
    fx f;
    char jti[27];
    setup_token(&f, jti);
    cJSON *row = token_row(f.a, jti);
    int64_t seq = opc__rows_int(row, 7);
    cJSON_Delete(row);

    opc__rows_batch b;
    opc__rows_batch_init(&b);
    opc__change c = {.kind = OPC_CHANGE_TOKEN_UPDATE, .jti = jti};
    assert_int_equal(opc__acct_batch_change(&b, &c, 100), 0);
    assert_int_equal(opc__acct_batch_change(&b, &c, 100), 1);
    /* The row takes the seq of the batch's second change (k = 1). */
    opc__rows_batch_add(&b, "token.rename", 1, "tiqti", "renamed", (int64_t)100, 1, jti, seq);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    FX_OK(f.a, opc__rows_batch_run(f.a->rows, &b, &eb));
    assert_int_equal(b.n_changes, 2);
    assert_true(b.seqs[0] > seq);
    assert_int_equal(b.seqs[1], b.seqs[0] + 1);
    row = token_row(f.a, jti);
    assert_string_equal(opc__rows_str(row, 2), "renamed");
    assert_int_equal(opc__rows_int(row, 7), b.seqs[1]);
    cJSON_Delete(row);
    /* The changes are in the feed with those seqs. */
    sqlite3 *db = fx_db(&f);
    char q[160];
    snprintf(q, sizeof q,
             "SELECT COUNT(*) FROM changes WHERE seq IN (%lld, %lld) AND kind = "
             "'token_update'",
             (long long)b.seqs[0], (long long)b.seqs[1]);
    assert_int_equal(fx_count(db, q), 2);
    sqlite3_close(db);
    opc__rows_batch_free(&b);
    fx_destroy(&f);
}

/* More changes than a batch may hold (OPC__RPC_MAX_CHANGES, the size of
 * the seqs every store fills; here also more plain statements than it may
 * hold) is refused before anything runs. */
static void test_rows_batch_too_many_changes(void **state)
{
    (void)state;
    fx f;
    char jti[27];
    setup_token(&f, jti);
    sqlite3 *db = fx_db(&f);
    int before = fx_count(db, "SELECT COUNT(*) FROM changes");
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    opc__change c = {.kind = OPC_CHANGE_TOKEN_UPDATE, .jti = jti};
    for (int i = 0; i <= OPC__RPC_MAX_CHANGES; i++) {
        (void)opc__acct_batch_change(&b, &c, 100);
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__rows_batch_run(f.a->rows, &b, &eb), OPC_ERR_INVALID_ARG);
    if (strstr(eb.msg, "at most 1024") == NULL) {
        fail_msg("%s", eb.msg);
    }
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM changes"), before);
    sqlite3_close(db);
    opc__rows_batch_free(&b);
    fx_destroy(&f);
}

/* A failed expectation rolls the whole batch back, changes included, and
 * names the statement; a stale version is exactly such a failure. */
static void test_rows_batch_rollback_on_expectation(void **state)
{
    (void)state;
    fx f;
    char jti[27];
    setup_token(&f, jti);
    cJSON *row = token_row(f.a, jti);
    int64_t seq = opc__rows_int(row, 7);
    cJSON_Delete(row);
    int64_t before = rx_count(&f, "SELECT COUNT(*) FROM changes");

    /* The version read is stale (seq - 1): token.rename changes 0 rows. */
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    opc__change c = {.kind = OPC_CHANGE_TOKEN_UPDATE, .jti = jti};
    int k = opc__acct_batch_change(&b, &c, 100);
    opc__rows_batch_add(&b, "token.rename", 1, "tiqti", "lost", (int64_t)100, k, jti, seq - 1);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__rows_batch_run(f.a->rows, &b, &eb), OPC_ERR_CONFLICT);
    assert_non_null(strstr(eb.msg, "token.rename"));
    assert_null(strstr(eb.msg, "lost"));
    opc__rows_batch_free(&b);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"), before);
    row = token_row(f.a, jti);
    assert_string_equal(opc__rows_str(row, 2), "ci");
    cJSON_Delete(row);

    /* A guard that fails after a write that succeeded: the write is undone too. */
    opc__rows_batch_init(&b);
    k = opc__acct_batch_change(&b, &c, 100);
    opc__rows_batch_add(&b, "token.rename", 1, "tiqti", "undone", (int64_t)100, k, jti, seq);
    row = token_row(f.a, jti);
    opc__rows_batch_add(&b, "token.name_taken", 0, "ttn", opc__rows_str(row, 1), "undone");
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__rows_batch_run(f.a->rows, &b, &eb), OPC_ERR_CONFLICT);
    assert_non_null(strstr(eb.msg, "token.name_taken"));
    cJSON_Delete(row);
    opc__rows_batch_free(&b);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"), before);
    row = token_row(f.a, jti);
    assert_string_equal(opc__rows_str(row, 2), "ci");
    assert_int_equal(opc__rows_int(row, 7), seq);
    cJSON_Delete(row);

    /* The same batch with the current version goes through. */
    opc__rows_batch_init(&b);
    k = opc__acct_batch_change(&b, &c, 100);
    opc__rows_batch_add(&b, "token.rename", 1, "tiqti", "ok", (int64_t)100, k, jti, seq);
    FX_OK(f.a, opc__rows_batch_run(f.a->rows, &b, &eb));
    opc__rows_batch_free(&b);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"), before + 1);
    fx_destroy(&f);
}

/* No lost update: a second handle renames between this handle's read and
 * its batch; the batch conflicts, and the public call (which reads again)
 * succeeds. */
static void test_rows_concurrent_writer_conflicts(void **state)
{
    (void)state;
    fx f;
    char jti[27];
    setup_token(&f, jti);
    cJSON *row = token_row(f.a, jti);
    int64_t seq = opc__rows_int(row, 7);
    cJSON_Delete(row);

    opc_account *b = fx_reopen(&f);
    FX_OK(b, opc_account_unlock(b, FX_PASSWORD, f.sk_text));
    char *json = NULL;
    FX_OK(b, opc_account_token_rename(b, jti, NULL, "theirs", &json));
    opc_free(json);

    opc__rows_batch batch;
    opc__rows_batch_init(&batch);
    opc__change c = {.kind = OPC_CHANGE_TOKEN_UPDATE, .jti = jti};
    int k = opc__acct_batch_change(&batch, &c, 100);
    opc__rows_batch_add(&batch, "token.rename", 1, "tiqti", "mine", (int64_t)100, k, jti, seq);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__rows_batch_run(f.a->rows, &batch, &eb), OPC_ERR_CONFLICT);
    opc__rows_batch_free(&batch);
    row = token_row(f.a, jti);
    assert_string_equal(opc__rows_str(row, 2), "theirs");
    cJSON_Delete(row);

    FX_OK(f.a, opc_account_token_rename(f.a, "theirs", NULL, "mine", &json));
    opc_free(json);
    row = token_row(b, jti);
    assert_string_equal(opc__rows_str(row, 2), "mine");
    cJSON_Delete(row);
    opc_account_free(b);
    fx_destroy(&f);
}

/*
 * The interposer (rows_fixture.h, the vtable at work): the other handle
 * renames or revokes the token `jti`, or creates a token "same" (`what`:
 * "rename", "revoke" or "create"), so the public calls' retry can be
 * observed.
 */
static void race_token(interposer *ip)
{
    char *json = NULL;
    char name[32];
    snprintf(name, sizeof name, "theirs%d", ip->batches);
    if (strcmp(ip->what, "rename") == 0) {
        FX_OK(ip->other, opc_account_token_rename(ip->other, ip->jti, NULL, name, &json));
    } else if (strcmp(ip->what, "revoke") == 0) {
        FX_OK(ip->other, opc_account_token_revoke(ip->other, ip->jti, NULL));
    } else {
        const char *specs[] = {"Prod"};
        opc_secret *tok = NULL;
        FX_OK(ip->other,
              opc_account_token_create(ip->other, "same", "Web", specs, 1, 0, &json, &tok));
        opc_secret_free(tok);
    }
    opc_free(json);
}

static void ip_install(interposer *ip, fx *f, const char *jti, const char *what, int rounds)
{
    rx_install(ip, f, race_token, rounds);
    ip->jti = jti;
    ip->what = what;
}

/* A concurrent change between a call's read phase and its batch: the
 * batch conflicts, the call reads again and decides again. */
static void test_rows_public_calls_retry(void **state)
{
    (void)state;
    fx f;
    char jti[27];
    setup_token(&f, jti);
    interposer ip;
    char *json = NULL;

    /* rename: the other handle renamed first; ours is applied on top (no lost update). */
    ip_install(&ip, &f, jti, "rename", 1);
    FX_OK(f.a, opc_account_token_rename(f.a, jti, NULL, "mine", &json));
    assert_int_equal(ip.batches, 2);
    cJSON *t = fx_json(json);
    assert_string_equal(fx_str(t, "name"), "mine");
    cJSON_Delete(t);
    opc_free(json);
    rx_remove(&ip, &f);
    cJSON *row = token_row(f.a, jti);
    assert_string_equal(opc__rows_str(row, 2), "mine");
    cJSON_Delete(row);

    /* Conflicts every time: OPC__TOKEN_TRIES attempts, then OPC_ERR_CONFLICT. */
    ip_install(&ip, &f, jti, "rename", 100);
    FX_ERR(f.a, OPC_ERR_CONFLICT, opc_account_token_rename(f.a, jti, NULL, "never", &json));
    assert_null(json);
    assert_int_equal(ip.batches, OPC__TOKEN_TRIES);
    assert_non_null(strstr(opc_account_errmsg(f.a), "token.rename"));
    rx_remove(&ip, &f);

    /* create: a token of the same name appeared meanwhile: the retry's read
     * phase refuses it as the single transaction did. */
    ip_install(&ip, &f, jti, "create", 1);
    const char *specs[] = {"Prod"};
    opc_secret *tok = NULL;
    FX_ERR(f.a, OPC_ERR_EXISTS,
           opc_account_token_create(f.a, "same", "Web", specs, 1, 0, &json, &tok));
    assert_null(json);
    assert_null(tok);
    assert_int_equal(ip.batches, 1);
    rx_remove(&ip, &f);
    sqlite3 *db = fx_db(&f);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM tokens WHERE name = 'same'"), 1);
    sqlite3_close(db);

    /* revoke: revoked meanwhile: the retry finds it revoked and changes nothing. */
    int64_t before = rx_count(&f, "SELECT COUNT(*) FROM changes");
    ip_install(&ip, &f, jti, "revoke", 1);
    FX_OK(f.a, opc_account_token_revoke(f.a, jti, NULL));
    assert_int_equal(ip.batches, 1);
    rx_remove(&ip, &f);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"),
                     before + 1); /* the other handle's revoke only */
    row = token_row(f.a, jti);
    assert_string_equal(opc__rows_str(row, 6), "revoked");
    cJSON_Delete(row);
    fx_destroy(&f);
}

/* Run steps given as JSON text on the backend directly (what a remote
 * client could send); n_seqs: the changes the caller counts. */
static opc_err raw_batch(opc_account *a, const char *json, size_t n_seqs, opc__ebuf *eb)
{
    cJSON *o = fx_json(json);
    opc__rpc_request req;
    opc__ebuf_clear(eb);
    opc_err rc = opc__rpc_request_decode(o, &req, eb);
    int64_t seqs[4];
    if (rc == OPC_OK) {
        rc = a->rows->vt->batch(a->rows->self, req.steps, req.n_steps, seqs, n_seqs, eb);
    }
    opc__rpc_request_free(&req);
    cJSON_Delete(o);
    return rc;
}

static opc_err raw_read(opc_account *a, const char *name, const char *args_json, opc__ebuf *eb)
{
    cJSON *args = fx_json(args_json);
    cJSON *rows = NULL;
    opc__ebuf_clear(eb);
    opc_err rc = a->rows->vt->read(a->rows->self, name, args, &rows, eb);
    cJSON_Delete(rows);
    cJSON_Delete(args);
    return rc;
}

/* The store checks names, kinds, types and placeholders before running
 * anything: a refused batch changed nothing, even its valid first steps. */
static void test_rows_store_refuses(void **state)
{
    (void)state;
    fx f;
    char jti[27];
    setup_token(&f, jti);
    int64_t before = rx_count(&f, "SELECT COUNT(*) FROM changes");
    opc__ebuf eb;
#define CHANGE                                                                                     \
    "{\"stmt\":\"change.append\",\"args\":[\"token_update\",null,null,null,null,null,"             \
    "null,null,1],\"expect\":1}"

    /* Unknown names and names that are not names. */
    assert_int_equal(raw_read(f.a, "token.drop", "[]", &eb), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "unknown statement \"token.drop\""));
    assert_int_equal(raw_read(f.a, "DROP TABLE tokens", "[]", &eb), OPC_ERR_INVALID_ARG);
    assert_null(strstr(eb.msg, "DROP"));
    assert_int_equal(raw_batch(f.a,
                               "{\"batch\":[" CHANGE ",{\"stmt\":\"token.drop\",\"args\":[],"
                               "\"expect\":0}]}",
                               1, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "token.drop"));

    /* Types: an integer for text, text for an integer, too few / many arguments. */
    assert_int_equal(raw_read(f.a, "token.get", "[1]", &eb), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "token.get: argument 0 must be text"));
    assert_int_equal(raw_read(f.a, "token.get", "[null]", &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(raw_read(f.a, "token.get", "[]", &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(raw_read(f.a, "token.get", "[\"a\",\"b\"]", &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(raw_read(f.a, "token.get", "[1.5]", &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(raw_read(f.a, "token.list", "[null]", &eb), OPC_OK); /* 'T' takes null */
    /* A write is not a read. */
    assert_int_equal(raw_read(f.a, "token.rename", "[\"x\",1,{\"seq\":0},\"y\",1]", &eb),
                     OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "not a read"));

    char json[1024];
    /* A placeholder is the only way to give a seq: a literal is refused... */
    snprintf(json, sizeof json,
             "{\"batch\":[" CHANGE ",{\"stmt\":\"token.rename\",\"args\":[\"x\",1,5,\"%s\",1],"
             "\"expect\":1}]}",
             jti);
    assert_int_equal(raw_batch(f.a, json, 1, &eb), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "token.rename: argument 2 must be a seq placeholder"));
    /* ...and so is one naming a change that is not before it. */
    snprintf(json, sizeof json,
             "{\"batch\":[" CHANGE ",{\"stmt\":\"token.rename\",\"args\":[\"x\",1,{\"seq\":1},"
             "\"%s\",1],\"expect\":1}]}",
             jti);
    assert_int_equal(raw_batch(f.a, json, 1, &eb), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "earlier change"));
    /* A placeholder where an integer is declared. */
    snprintf(json, sizeof json,
             "{\"batch\":[" CHANGE ",{\"stmt\":\"token.rename\",\"args\":[\"x\",{\"seq\":0},"
             "{\"seq\":0},\"%s\",1],\"expect\":1}]}",
             jti);
    assert_int_equal(raw_batch(f.a, json, 1, &eb), OPC_ERR_INVALID_ARG);
    /* A change must expect exactly one row. */
    assert_int_equal(raw_batch(f.a,
                               "{\"batch\":[{\"stmt\":\"change.append\",\"args\":[\"token_update\","
                               "null,null,null,null,null,null,null,1],\"expect\":2}]}",
                               1, &eb),
                     OPC_ERR_INVALID_ARG);
    /* A change of a kind the feed does not have. */
    assert_int_equal(raw_batch(f.a,
                               "{\"batch\":[{\"stmt\":\"change.append\",\"args\":[\"token_drop\","
                               "null,null,null,null,null,null,null,1],\"expect\":1}]}",
                               1, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "unknown change kind"));
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"), before);

    /* The same change alone is accepted: the refusals above were the checks. */
    assert_int_equal(raw_batch(f.a, "{\"batch\":[" CHANGE "]}", 1, &eb), OPC_OK);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"), before + 1);
#undef CHANGE
    fx_destroy(&f);
}

/* Inside a transaction of an unconverted caller the batch is a savepoint:
 * a failed batch undoes only itself, a good one commits with the caller. */
static void test_rows_batch_inside_caller_transaction(void **state)
{
    (void)state;
    fx f;
    char jti[27];
    setup_token(&f, jti);
    int64_t before = rx_count(&f, "SELECT COUNT(*) FROM changes");
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    FX_OK(f.a, opc__db_begin(f.a->db, true, &eb));
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    opc__change c = {.kind = OPC_CHANGE_TOKEN_UPDATE, .jti = jti};
    (void)opc__acct_batch_change(&b, &c, 100);
    FX_OK(f.a, opc__rows_batch_run(f.a->rows, &b, &eb));
    opc__rows_batch_free(&b);

    opc__rows_batch_init(&b);
    (void)opc__acct_batch_change(&b, &c, 100);
    opc__rows_batch_add(&b, "token.name_taken", 1, "ttn", jti, "nobody");
    assert_int_equal(opc__rows_batch_run(f.a->rows, &b, &eb), OPC_ERR_CONFLICT);
    opc__rows_batch_free(&b);
    assert_true(opc__db_in_tx(f.a->db));
    FX_OK(f.a, opc__db_commit(f.a->db, &eb));
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"), before + 1);
    fx_destroy(&f);
}

/* ---- owner.c: the account row through a->rows ---- */

/* A backend in front of a handle's own that records the reads' names and
 * can fail them (fail: the code every read returns; OPC_OK: pass). */
typedef struct recorder {
    opc__rows inner;
    char names[8][64];
    int n;
    opc_err fail;
} recorder;

static opc_err rec_read(void *self, const char *name, const cJSON *args, cJSON **rows,
                        opc__ebuf *eb)
{
    recorder *r = self;
    if (r->n < 8) {
        snprintf(r->names[r->n], sizeof r->names[0], "%s", name);
    }
    r->n++;
    if (r->fail != OPC_OK) {
        *rows = NULL;
        return opc__fail(eb, r->fail, "recorder: %s refused", name);
    }
    return r->inner.vt->read(r->inner.self, name, args, rows, eb);
}

static opc_err rec_batch(void *self, const opc__rpc_step *steps, size_t n, int64_t *seqs,
                         size_t n_seqs, opc__ebuf *eb)
{
    recorder *r = self;
    return r->inner.vt->batch(r->inner.self, steps, n, seqs, n_seqs, eb);
}

static void rec_close(void *self)
{
    (void)self;
}

static const opc__rows_backend rec_vt = {rec_read, rec_batch, rec_close};

static void rec_install(recorder *r, opc_account *a)
{
    memset(r, 0, sizeof *r);
    r->inner = *a->rows;
    a->rows->vt = &rec_vt;
    a->rows->self = r;
}

static void rec_remove(recorder *r, opc_account *a)
{
    *a->rows = r->inner;
}

/* Unlocking, the account row and the SRP row are named reads through
 * a->rows, and nothing else: a failing backend fails them. */
static void test_rows_account_reads(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    opc_account *a = fx_reopen(&f);
    /* The handle was opened by account.get: its row is what create wrote. */
    assert_string_equal(opc_account_id(a), opc_account_id(f.a));
    assert_string_equal(opc_account_email(a), "owner@example.com");
    recorder r;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);

    rec_install(&r, a);
    FX_OK(a, opc_account_unlock(a, FX_PASSWORD, f.sk_text));
    assert_int_equal(r.n, 1);
    assert_string_equal(r.names[0], "account.keyset");

    opc__proto_account row;
    r.n = 0;
    FX_OK(a, opc__account_row(a, &row, &eb));
    assert_int_equal(r.n, 1);
    assert_string_equal(r.names[0], "account.keyset");
    assert_string_equal(row.id, opc_account_id(a));
    assert_int_equal(row.iterations, FX_ITERATIONS);
    assert_non_null(strstr(row.pub_key, "\"kty\":\"RSA\""));
    assert_non_null(row.enc_sym_key);
    assert_non_null(row.enc_spri_key);
    opc__proto_account_clear(&row);

    /* A local file has no SRP row: OPC_ERR_NOT_FOUND, as the store expects. */
    uint8_t salt[OPC_PROTO_SRP_SALT_LEN];
    uint8_t verifier[OPC_PROTO_SRP_LEN];
    r.n = 0;
    assert_int_equal(opc__account_srp(a, salt, verifier, &eb), OPC_ERR_NOT_FOUND);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.names[0], "account.srp");

    /* Only through the backend: when it fails, so do they. */
    r.fail = OPC_ERR_IO;
    opc__acct_lock(a);
    FX_ERR(a, OPC_ERR_IO, opc_account_unlock(a, FX_PASSWORD, f.sk_text));
    assert_false(opc_account_is_unlocked(a));
    assert_int_equal(opc__account_row(a, &row, &eb), OPC_ERR_IO);
    assert_null(row.pub_key);
    assert_int_equal(opc__account_srp(a, salt, verifier, &eb), OPC_ERR_IO);
    rec_remove(&r, a);
    opc_account_free(a);

    /* A file whose account row is gone: open refuses it. */
    sqlite3 *db = fx_db(&f);
    fx_exec(db, "DELETE FROM account");
    sqlite3_close(db);
    opc_account *b = NULL;
    assert_int_equal(opc__account_open_ex(f.path, 1, &b, &eb), OPC_ERR_PARSE);
    assert_null(b);
    assert_non_null(strstr(eb.msg, "account file has no account"));
    fx_destroy(&f);
}

static bool file_exists(const char *path, const char *suffix)
{
    char p[600];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* The server's create: the schema and ONE batch of the account's rows in
 * one transaction, and the SRP row read back; a create whose batch is
 * refused leaves no file. */
static void test_rows_account_create_batch(void **state)
{
    (void)state;
    char dir[64];
    char path[512];
    opc_test_mkdtemp(dir, sizeof dir, "opc-account-test", "signup.db", path, sizeof path);
    opc__proto_signup su;
    opc_secret *sk = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__account_signup_make(FX_EMAIL, FX_PASSWORD, FX_ITERATIONS, 1, &su, &sk, &eb);
    if (rc != OPC_OK) {
        fail_msg("signup make: %s (%s)", opc_errname(rc), eb.msg);
    }
    opc_secret_free(sk);

    /* A row the table refuses (a text that is null): nothing is left. */
    char *spub = su.account.spub_key;
    su.account.spub_key = NULL;
    assert_int_equal(opc__account_create_signup(path, &su, &eb), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "account.insert"));
    su.account.spub_key = spub;
    assert_false(file_exists(path, ""));
    assert_false(file_exists(path, "-wal"));
    assert_false(file_exists(path, "-shm"));

    FX_OK(NULL, opc__account_create_signup(path, &su, &eb));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    opc_account *a = NULL;
    FX_OK(NULL, opc__account_open_ex(path, 1, &a, &eb));
    assert_string_equal(opc_account_id(a), su.account.id);
    uint8_t salt[OPC_PROTO_SRP_SALT_LEN];
    uint8_t verifier[OPC_PROTO_SRP_LEN];
    FX_OK(a, opc__account_srp(a, salt, verifier, &eb));
    assert_memory_equal(salt, su.srp_salt, sizeof salt);
    assert_memory_equal(verifier, su.verifier, sizeof verifier);
    opc_account_free(a);
    /* The batch's rows: one account, its issuer key at the seq of its change. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM account"), 1);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM owner_srp"), 1);
    assert_int_equal(fx_count(db, "SELECT COUNT(*) FROM issuer_keys k JOIN changes c ON c.seq = "
                                  "k.seq AND c.kind = 'issuer_key' AND c.kid = k.kid"),
                     1);
    sqlite3_close(db);

    /* Again at the same path: OPC_ERR_EXISTS, and the file is untouched. */
    assert_int_equal(opc__account_create_signup(path, &su, &eb), OPC_ERR_EXISTS);
    assert_true(file_exists(path, ""));
    opc__proto_signup_clear(&su);
    nftw(dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* The statements only the store runs (the SRP row, create's writes) are
 * refused in a request; the account row itself is the owner's to read. */
static void test_rows_account_store_own_refused(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    cJSON *args = cJSON_CreateArray();
    cJSON *rows = NULL;
    assert_int_equal(opc__account_rows_read(f.a, "account.srp", args, &rows, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_null(rows);
    assert_non_null(strstr(eb.msg, "account.srp is the store's own statement"));
    FX_OK(f.a, opc__account_rows_read(f.a, "account.get", args, &rows, &eb));
    assert_int_equal(cJSON_GetArraySize(rows), 1);
    assert_string_equal(opc__rows_str(cJSON_GetArrayItem(rows, 0), 0), opc_account_id(f.a));
    cJSON_Delete(rows);
    cJSON_Delete(args);

    int64_t before = rx_count(&f, "SELECT COUNT(*) FROM changes");
    cJSON *o = fx_json("{\"batch\":[{\"stmt\":\"change.append\",\"args\":[\"token_update\","
                       "null,null,null,null,null,null,null,1],\"expect\":1},{\"stmt\":"
                       "\"account.srp_insert\",\"args\":[\"s\",\"v\",1],\"expect\":1}]}");
    opc__rpc_request req;
    FX_OK(f.a, opc__rpc_request_decode(o, &req, &eb));
    int64_t seqs[OPC__RPC_MAX_CHANGES];
    size_t n_seqs = 0;
    assert_int_equal(opc__account_rows_batch(f.a, req.steps, req.n_steps, seqs, &n_seqs, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "account.srp_insert (statement 1 of the batch)"));
    assert_int_equal(n_seqs, 0);
    opc__rpc_request_free(&req);
    cJSON_Delete(o);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM changes"), before);
    assert_int_equal(rx_count(&f, "SELECT COUNT(*) FROM owner_srp"), 0);
    fx_destroy(&f);
}

/* docs/protocol.md's "Statements so far" has a row for every statement of
 * the table. */
static void test_rows_table_documented(void **state)
{
    (void)state;
    FILE *fp = fopen(OPC_TEST_VECTOR_DIR "/../../docs/protocol.md", "r");
    if (fp == NULL) {
        fail_msg("docs/protocol.md: cannot open it");
    }
    static char doc[1 << 20];
    size_t len = fread(doc, 1, sizeof doc - 1, fp);
    fclose(fp);
    doc[len] = '\0';
    const char *table = strstr(doc, "## Statements so far");
    assert_non_null(table);
    const char *end = strstr(table + 1, "\n## ");
    size_t n = 0;
    const opc__rows_stmt *t = opc__rows_table(&n);
    for (size_t i = 0; i < n; i++) {
        char cell[96];
        snprintf(cell, sizeof cell, "\n| `%s` |", t[i].name);
        const char *at = strstr(table, cell);
        if (at == NULL || (end != NULL && at > end)) {
            fail_msg("docs/protocol.md, \"Statements so far\": no row for %s", t[i].name);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_table_matches_sql),
        cmocka_unit_test(test_rows_read_typed),
        cmocka_unit_test(test_rows_batch_seq_placeholders),
        cmocka_unit_test(test_rows_batch_rollback_on_expectation),
        cmocka_unit_test(test_rows_concurrent_writer_conflicts),
        cmocka_unit_test(test_rows_public_calls_retry),
        cmocka_unit_test(test_rows_store_refuses),
        cmocka_unit_test(test_rows_batch_inside_caller_transaction),
        cmocka_unit_test(test_rows_batch_too_many_changes),
        cmocka_unit_test(test_rows_account_reads),
        cmocka_unit_test(test_rows_account_create_batch),
        cmocka_unit_test(test_rows_account_store_own_refused),
        cmocka_unit_test(test_rows_table_documented),
    };
    return cmocka_run_group_tests_name("account_rows", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
