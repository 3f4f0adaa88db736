/*
 * tests/unit/test_store_conformance.c - the store conformance suite (issue
 * 14): ONE list of cases, run against every kind of store behind
 * store/store.h through a factory, so that each kind is held to the same
 * contract with the same assertions.
 *
 * The cases are in two programs: this one (sign-up, the owner's rows, the
 * Connect reads and pages) and test_store_conformance_writes.c (server
 * writes, long polls, concurrency); the fixture is store_conformance.h.
 *
 * The kinds (the table `kinds` in store_conformance.h):
 *   sqlite  a fresh temporary directory per case (opc__store_sqlite_open).
 *           Always runs.
 *   pg      a fresh database per case, made with libpq on the server of
 *           OPC_TEST_PG_URL (a connection string with the right to create
 *           databases), opened with opc__store_pg_open and dropped after
 *           the case. Skipped when OPC_TEST_PG_URL is unset, FAILED instead
 *           when OPC_TEST_PG_REQUIRED=1 (make unit: tools/with-pg).
 *
 * How a store is filled without knowing what is inside it: the owner's own
 * code runs on it, as op-account-server runs it for `op`. A sign-up made by
 * opc__account_signup_make goes in through owner_create; the account row
 * comes back through owner_account and opens (with the AUK) a handle whose
 * store protocol (account/rows.h) is the store's owner_read / owner_batch,
 * each request and answer sent through its wire encoding
 * (wire/rows_rpc.h) as over the network. On that handle the public API
 * makes vaults, items, documents, Connect servers, grants and tokens; the
 * Connect side of the store is then read and written as connect-sync and
 * connect-api do through op-account-server. Envelopes of server writes are
 * sealed the way connect-api seals them (account_fixture.h).
 *
 * Cases: the sign-up and the owner's sign-in data; the owner's reads and
 * batches (a failed expectation commits nothing, seqs consecutive after the
 * head, refused statements); the Connect reads (device keys, the feed's
 * visibility, cursor, limit, issuer keys, grants, vaults, items, tokens);
 * the pages (items, file chunks); the server writes (import.h's checks and
 * codes, the rows returned, the feed entries appended); the commit
 * generation, long polls and shutdown; concurrent writers (no gap, no
 * duplicate, nothing lost).
 *
 * The cases of a kind whose operations allocate on the caller's thread only
 * run with cmocka's allocator (leak checks); the threaded cases, and every
 * case of a kind that may allocate on threads of its own, with the system
 * allocator.
 */
#include "store_conformance.h"

static void case_signup(void **state)
{
    env e;
    env_open(&e, state);
    opc__store *s = e.s;
    opc__ebuf eb;
    assert_int_equal(opc__store_count(s), 0);

    opc__proto_signup su;
    opc_secret *sk = NULL;
    make_signup("Sign.Up@Example.COM", &su, &sk);
    assert_string_equal(su.account.email, "sign.up@example.com");
    WANT(OPC_ERR_NOT_FOUND, opc__store_account(s, su.account.id, &eb));
    OK(opc__store_owner_create(s, &su, &eb));
    OK(opc__store_account(s, su.account.id, &eb));
    assert_int_equal(opc__store_count(s), 1);

    /* One email, one account; one id, one account. */
    opc__proto_signup again;
    opc_secret *sk2 = NULL;
    make_signup("Sign.Up@Example.COM", &again, &sk2);
    assert_string_not_equal(again.account.id, su.account.id);
    WANT(OPC_ERR_EXISTS, opc__store_owner_create(s, &again, &eb));
    WANT(OPC_ERR_NOT_FOUND, opc__store_account(s, again.account.id, &eb));
    opc__proto_signup_clear(&again);
    opc_secret_free(sk2);
    make_signup("someone.else@example.com", &again, &sk2);
    snprintf(again.account.id, sizeof again.account.id, "%s", su.account.id);
    WANT(OPC_ERR_EXISTS, opc__store_owner_create(s, &again, &eb));
    WANT(OPC_ERR_NOT_FOUND,
         opc__store_owner_lookup(s, "someone.else@example.com", &(opc__store_owner){0}, &eb));
    opc__proto_signup_clear(&again);
    opc_secret_free(sk2);
    assert_int_equal(opc__store_count(s), 1);

    /* The sign-in data by (lower-case) email: the sign-up's. */
    opc__store_owner own;
    OK(opc__store_owner_lookup(s, "sign.up@example.com", &own, &eb));
    assert_string_equal(own.account, su.account.id);
    assert_memory_equal(own.srp_salt, su.srp_salt, sizeof own.srp_salt);
    assert_memory_equal(own.verifier, su.verifier, sizeof own.verifier);
    assert_memory_equal(own.kdf_salt, su.account.kdf_salt, sizeof own.kdf_salt);
    assert_int_equal(own.iterations, FX_ITERATIONS);
    OPENSSL_cleanse(&own, sizeof own);
    WANT(OPC_ERR_NOT_FOUND, opc__store_owner_lookup(s, "nobody@example.com", &own, &eb));

    /* The account row: the sign-up's row. */
    opc__proto_account row;
    OK(opc__store_owner_account(s, su.account.id, &row, &eb));
    assert_string_equal(row.id, su.account.id);
    assert_string_equal(row.email, "sign.up@example.com");
    assert_string_equal(row.skid, su.account.skid);
    assert_string_equal(row.kdf_alg, su.account.kdf_alg);
    assert_memory_equal(row.kdf_salt, su.account.kdf_salt, sizeof row.kdf_salt);
    assert_int_equal(row.iterations, su.account.iterations);
    assert_string_equal(row.keyset_id, su.account.keyset_id);
    assert_string_equal(row.issuer_kid, su.account.issuer_kid);
    assert_string_equal(row.enc_sym_key, su.account.enc_sym_key);
    assert_string_equal(row.pub_key, su.account.pub_key);
    assert_string_equal(row.enc_pri_key, su.account.enc_pri_key);
    assert_string_equal(row.spub_key, su.account.spub_key);
    assert_string_equal(row.enc_spri_key, su.account.enc_spri_key);
    opc__proto_account_clear(&row);
    char other[27];
    new_id(other);
    WANT(OPC_ERR_NOT_FOUND, opc__store_owner_account(s, other, &row, &eb));
    WANT(OPC_ERR_NOT_FOUND, opc__store_account(s, other, &eb));
    assert_int_equal(opc__store_generation(s, other), 0);

    /* The issuer key of the sign-up is there for the Connect servers. */
    cJSON *ik = NULL;
    OK(opc__store_issuer_key(s, su.account.id, su.account.issuer_kid, &ik, &eb));
    assert_string_equal(fx_str(ik, "kid"), su.account.issuer_kid);
    assert_true(num(ik, "seq") >= 1);
    cJSON_Delete(ik);
    WANT(OPC_ERR_NOT_FOUND, opc__store_issuer_key(s, su.account.id, other, &ik, &eb));
    assert_null(ik);

    /* The owner signs in on the row: the keyset opens, the account is empty. */
    owner o;
    owner_open(s, su.account.id, sk, &o);
    assert_true(opc_account_is_unlocked(o.a));
    assert_string_equal(opc_account_email(o.a), "sign.up@example.com");
    char *json = NULL;
    FX_OK(o.a, opc_account_vault_list(o.a, &json));
    assert_string_equal(json, "[]");
    opc_free(json);
    owner_close(&o);

    /* A second account: counted, found by its own email. */
    owner o2;
    owner_new(s, "Second@Example.COM", &o2);
    assert_int_equal(opc__store_count(s), 2);
    OK(opc__store_owner_lookup(s, "second@example.com", &own, &eb));
    assert_string_equal(own.account, o2.id);
    OK(opc__store_owner_lookup(s, "sign.up@example.com", &own, &eb));
    assert_string_equal(own.account, su.account.id);
    owner_close(&o2);

    opc__proto_signup_clear(&su);
    opc_secret_free(sk);
    env_close(&e);
}

/* ==== case 2: the owner's reads and batches ==== */

/* Run a rows request (wire/rows_rpc.h JSON text) on account through the store. */
static opc_err owner_call(opc__store *s, const char *account, const char *text, cJSON **rows,
                          int64_t *seqs, size_t *n_seqs, opc__ebuf *eb)
{
    cJSON *j = fx_json(text);
    opc__rpc_request rq;
    assert_int_equal(opc__rpc_request_decode(j, &rq, NULL), OPC_OK);
    opc__ebuf_clear(eb);
    opc_err rc = rq.read != NULL
                     ? opc__store_owner_read(s, account, rq.read, rq.args, rows, eb)
                     : opc__store_owner_batch(s, account, rq.steps, rq.n_steps, seqs, n_seqs, eb);
    opc__rpc_request_free(&rq);
    cJSON_Delete(j);
    return rc;
}

/* The owner's row of vault (vault.list): its content_version and seq. */
static void vault_versions(opc__store *s, const char *account, const char *vault, int64_t *cv,
                           int64_t *seq)
{
    opc__ebuf eb;
    cJSON *rows = NULL;
    char text[128];
    snprintf(text, sizeof text, "{\"read\":\"vault.list\",\"args\":[\"%s\"]}", account);
    OK(owner_call(s, account, text, &rows, NULL, NULL, &eb));
    const cJSON *row = NULL;
    bool found = false;
    cJSON_ArrayForEach(row, rows)
    {
        if (strcmp(opc__rows_str(row, 0), vault) == 0) {
            *cv = opc__rows_int(row, 4);
            *seq = opc__rows_int(row, 9);
            found = true;
        }
    }
    assert_true(found);
    cJSON_Delete(rows);
}

/* Batch steps (wire/rows_rpc.h JSON); %s: a vault id. */
#define CHANGE_STEP(kind_)                                                                         \
    "{\"stmt\":\"change.append\",\"args\":[\"" kind_ "\",\"%s\",null,null,null,null,null,null,"    \
    "1700000000],\"expect\":1}"
#define UPDATE_STEP CHANGE_STEP("vault_update")
#define CREATE_STEP CHANGE_STEP("vault_create")
#define ISSUER_STEP CHANGE_STEP("issuer_key")

static void case_owner_rows(void **state)
{
    env e;
    env_open(&e, state);
    opc__store *s = e.s;
    opc__ebuf eb;
    owner o;
    owner_new(s, "Rows.Owner@Example.COM", &o);
    owner o2;
    owner_new(s, "Other.Owner@Example.COM", &o2);
    char va[27];
    fx_vault(o.a, "Alpha", va);
    char sv[27];
    server_new(o.a, "Alpha server", va, sv);
    cJSON *rows = NULL;
    int64_t seqs[OPC__RPC_MAX_CHANGES];
    size_t n = 0;
    char text[2048];

    /* Reads: typed rows of this account only. */
    WANT(OPC_OK, owner_call(s, o.id, "{\"read\":\"server.find_name\",\"args\":[\"alpha SERVER\"]}",
                            &rows, NULL, NULL, &eb));
    assert_int_equal(cJSON_GetArraySize(rows), 1);
    assert_string_equal(opc__rows_str(cJSON_GetArrayItem(rows, 0), 0), sv);
    cJSON_Delete(rows);
    WANT(OPC_OK, owner_call(s, o2.id, "{\"read\":\"server.find_name\",\"args\":[\"Alpha server\"]}",
                            &rows, NULL, NULL, &eb));
    assert_int_equal(cJSON_GetArraySize(rows), 0);
    cJSON_Delete(rows);
    int64_t head = feed_head(s, o.id);
    assert_true(head >= 4); /* issuer key, vault, server, grant */
    int64_t cv0 = 0;
    int64_t vseq0 = 0;
    vault_versions(s, o.id, va, &cv0, &vseq0);

    /* Refused requests. */
    char other[27];
    new_id(other);
    WANT(OPC_ERR_NOT_FOUND, owner_call(s, other, "{\"read\":\"vault.feed_head\",\"args\":[]}",
                                       &rows, NULL, NULL, &eb));
    assert_null(rows);
    WANT(OPC_ERR_INVALID_ARG,
         owner_call(s, o.id, "{\"read\":\"nope.nothing\",\"args\":[]}", &rows, NULL, NULL, &eb));
    WANT(OPC_ERR_INVALID_ARG,
         owner_call(s, o.id, "{\"read\":\"vault.get\",\"args\":[1]}", &rows, NULL, NULL, &eb));
    WANT(OPC_ERR_INVALID_ARG,
         owner_call(s, o.id, "{\"read\":\"item.insert\",\"args\":[]}", &rows, NULL, NULL, &eb));
    WANT(OPC_ERR_INVALID_ARG,
         owner_call(s, o.id, "{\"batch\":[{\"stmt\":\"nope.nothing\",\"args\":[],\"expect\":1}]}",
                    NULL, seqs, &n, &eb));
    /* The store's own statements: never the owner's. */
    WANT(OPC_ERR_INVALID_ARG,
         owner_call(s, o.id, "{\"read\":\"account.srp\",\"args\":[]}", &rows, NULL, NULL, &eb));
    assert_null(rows);
    snprintf(text, sizeof text,
             "{\"batch\":[{\"stmt\":\"account.srp_insert\",\"args\":[\"c2FsdA\",\"dmVyaWZpZXI\","
             "1700000000],\"expect\":1}]}");
    WANT(OPC_ERR_INVALID_ARG, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    snprintf(text, sizeof text,
             "{\"batch\":[" ISSUER_STEP ",{\"stmt\":\"account.issuer_key_insert\",\"args\":[\"%s\","
             "\"{}\",1700000000,{\"seq\":0}],\"expect\":1}]}",
             va, other);
    WANT(OPC_ERR_INVALID_ARG, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    snprintf(text, sizeof text,
             "{\"batch\":[{\"stmt\":\"account.insert\",\"args\":[\"%s\",\"x@example.com\",\"A3"
             "ABCDE\",\"PBES2g-HS256\",\"c2FsdA\",2,\"%s\",\"e\",\"p\",\"e\",\"%s\",\"s\",\"e\","
             "1700000000],\"expect\":1}]}",
             other, other, other);
    WANT(OPC_ERR_INVALID_ARG, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    /* A placeholder naming no earlier change: refused. */
    snprintf(text, sizeof text,
             "{\"batch\":[{\"stmt\":\"vault.touch\",\"args\":[0,1700000000,{\"seq\":0},\"%s\"],"
             "\"expect\":1}]}",
             va);
    WANT(OPC_ERR_INVALID_ARG, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(n, 0);
    assert_int_equal(feed_head(s, o.id), head);

    /* A failed expectation, late in the batch: a conflict naming the
     * statement, and nothing of the batch committed. */
    snprintf(text, sizeof text,
             "{\"batch\":[" UPDATE_STEP "," UPDATE_STEP
             ",{\"stmt\":\"vault.touch\",\"args\":[0,1700000000,{\"seq\":1},\"%s\"],\"expect\":1},"
             "{\"stmt\":\"vault.touch\",\"args\":[0,1700000000,{\"seq\":1},\"%s\"],\"expect\":1}]}",
             va, va, va, other);
    WANT(OPC_ERR_CONFLICT, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(n, 0);
    assert_non_null(strstr(eb.msg, "vault.touch"));
    assert_int_equal(feed_head(s, o.id), head);
    int64_t cv = 0;
    int64_t vseq = 0;
    vault_versions(s, o.id, va, &cv, &vseq);
    assert_int_equal(cv, cv0);
    assert_int_equal(vseq, vseq0);
    /* A guard (a read in a batch) whose count differs: the same. */
    snprintf(text, sizeof text,
             "{\"batch\":[" UPDATE_STEP
             ",{\"stmt\":\"vault.touch\",\"args\":[0,1700000000,{\"seq\":0},\"%s\"],\"expect\":1},"
             "{\"stmt\":\"server.find_name\",\"args\":[\"nobody\"],\"expect\":1}]}",
             va, va);
    WANT(OPC_ERR_CONFLICT, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_non_null(strstr(eb.msg, "server.find_name"));
    assert_int_equal(feed_head(s, o.id), head);
    /* A unique index: exists, nothing committed. */
    snprintf(text, sizeof text,
             "{\"batch\":[" CREATE_STEP ",{\"stmt\":\"vault.insert\",\"args\":["
             "\"%s\",\"U\",1,\"x\",1700000000,1700000000,{\"seq\":0}],\"expect\":1}]}",
             va, va);
    WANT(OPC_ERR_EXISTS, owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(feed_head(s, o.id), head);
    /* The same batch on another account (no such vault there): a conflict. */
    snprintf(
        text, sizeof text,
        "{\"batch\":[" UPDATE_STEP
        ",{\"stmt\":\"vault.touch\",\"args\":[0,1700000000,{\"seq\":0},\"%s\"],\"expect\":1}]}",
        va, va);
    int64_t head2 = feed_head(s, o2.id);
    WANT(OPC_ERR_CONFLICT, owner_call(s, o2.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(feed_head(s, o2.id), head2);

    /* A batch that holds: its seqs follow the head, one by one, whatever
     * failed before; the rows carry them; the generation moves. */
    uint64_t g0 = opc__store_generation(s, o.id);
    snprintf(
        text, sizeof text,
        "{\"batch\":[" UPDATE_STEP "," UPDATE_STEP "," UPDATE_STEP
        ",{\"stmt\":\"vault.touch\",\"args\":[0,1700000001,{\"seq\":2},\"%s\"],\"expect\":1}]}",
        va, va, va, va);
    OK(owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(n, 3);
    assert_int_equal(seqs[0], head + 1);
    assert_int_equal(seqs[1], head + 2);
    assert_int_equal(seqs[2], head + 3);
    assert_int_equal(feed_head(s, o.id), head + 3);
    vault_versions(s, o.id, va, &cv, &vseq);
    assert_int_equal(cv, cv0 + 1);
    assert_int_equal(vseq, head + 3);
    assert_true(opc__store_generation(s, o.id) != g0);
    /* The server granted the vault sees the three entries. */
    int64_t next = 0;
    cJSON *f = feed(s, o.id, sv, head, 100, &next);
    assert_int_equal(cJSON_GetArraySize(f), 3);
    for (int i = 0; i < 3; i++) {
        const cJSON *en = cJSON_GetArrayItem(f, i);
        assert_int_equal(num(en, "seq"), head + 1 + i);
        assert_string_equal(fx_str(en, "kind"), "vault_update");
        assert_string_equal(fx_str(en, "vault"), va);
    }
    assert_int_equal(next, head + 3);
    cJSON_Delete(f);
    /* The other account's feed did not move. */
    assert_int_equal(feed_head(s, o2.id), head2);
    /* A batch of no change: no seqs. */
    snprintf(text, sizeof text,
             "{\"batch\":[{\"stmt\":\"server.find_name\",\"args\":[\"Alpha server\"],"
             "\"expect\":1}]}");
    OK(owner_call(s, o.id, text, NULL, seqs, &n, &eb));
    assert_int_equal(n, 0);
    assert_int_equal(feed_head(s, o.id), head + 3);

    owner_close(&o2);
    owner_close(&o);
    env_close(&e);
}

/* ==== case 3: the Connect reads ==== */

static void case_connect_reads(void **state)
{
    env e;
    env_open(&e, state);
    opc__store *s = e.s;
    opc__ebuf eb;
    world w;
    world_make(s, &w);
    const char *acct = w.o.id;
    opc_account *a = w.o.a;
    char other[27];
    new_id(other);

    /* Device keys: an active server's, of this account. */
    opc__key *k = NULL;
    OK(opc__store_device_key(s, acct, w.s, &k, &eb));
    assert_non_null(k);
    assert_int_equal(opc__key_type(k), OPC_KTY_EC);
    opc__key_free(k);
    k = NULL;
    WANT(OPC_ERR_NOT_FOUND, opc__store_device_key(s, acct, other, &k, &eb));
    assert_null(k);
    WANT(OPC_ERR_NOT_FOUND, opc__store_device_key(s, other, w.s, &k, &eb));
    /* The very key of the server's credentials. */
    opc_credentials *creds = NULL;
    char gone[27];
    server_new_creds(a, "Gone", w.va, gone, &creds);
    OK(opc__store_device_key(s, acct, gone, &k, &eb));
    char tp_store[OPC_JWK_THUMBPRINT_LEN + 1];
    char tp_creds[OPC_JWK_THUMBPRINT_LEN + 1];
    assert_int_equal(opc__jwk_thumbprint(k, tp_store), OPC_OK);
    assert_int_equal(opc__jwk_thumbprint(opc__credentials_device_key(creds), tp_creds), OPC_OK);
    assert_string_equal(tp_store, tp_creds);
    opc_credentials_free(creds);
    opc__key_free(k);
    k = NULL;
    FX_OK(a, opc_account_server_delete(a, gone));
    WANT(OPC_ERR_NOT_FOUND, opc__store_device_key(s, acct, gone, &k, &eb));
    assert_null(k);

    /* The feed as S sees it: its own and A's entries, up to the head. */
    int64_t head = feed_head(s, acct);
    int64_t next = -1;
    cJSON *all = feed(s, acct, w.s, 0, OPC_STORE_MAX_LIMIT, &next);
    assert_int_equal(next, head);
    int64_t prev = 0;
    const cJSON *en = NULL;
    cJSON_ArrayForEach(en, all)
    {
        int64_t seq = num(en, "seq");
        assert_true(seq > prev && seq <= head);
        prev = seq;
        const char *v = opt_str(en, "vault");
        const char *sv = opt_str(en, "server");
        assert_true(v == NULL || strcmp(v, w.va) == 0);
        assert_true(sv == NULL || strcmp(sv, w.s) == 0);
        assert_false(same_str(opt_str(en, "item"), w.ib));
    }
    assert_true(has_entry(all, "issuer_key", NULL, NULL, NULL));
    assert_true(has_entry(all, "vault_create", w.va, NULL, NULL));
    assert_true(has_entry(all, "item_upsert", w.va, w.ia, NULL));
    assert_true(has_entry(all, "server_create", NULL, NULL, w.s));
    assert_true(has_entry(all, "grant", w.va, NULL, w.s));
    assert_false(has_entry(all, "vault_create", w.vb, NULL, NULL));
    assert_false(has_entry(all, "server_create", NULL, NULL, w.r));
    assert_false(has_entry(all, "server_create", NULL, NULL, gone));
    int n_all = cJSON_GetArraySize(all);
    assert_true(n_all >= 5);
    /* R sees B's, never A's. */
    cJSON *fr = feed(s, acct, w.r, 0, OPC_STORE_MAX_LIMIT, &next);
    assert_int_equal(next, head);
    assert_true(has_entry(fr, "item_upsert", w.vb, w.ib, NULL));
    assert_false(has_entry(fr, "item_upsert", w.va, w.ia, NULL));
    assert_false(has_entry(fr, "grant", w.va, NULL, NULL));
    cJSON_Delete(fr);

    /* Pages of 3 give the same entries; the cursor is the last entry's
     * seq, and the head once a page is short. */
    int got = 0;
    int64_t since = 0;
    for (;;) {
        cJSON *pg = feed(s, acct, w.s, since, 3, &next);
        int np = cJSON_GetArraySize(pg);
        for (int i = 0; i < np; i++) {
            assert_true(
                cJSON_Compare(cJSON_GetArrayItem(pg, i), cJSON_GetArrayItem(all, got + i), true));
        }
        got += np;
        if (np == 3) {
            assert_int_equal(next, num(cJSON_GetArrayItem(pg, 2), "seq"));
        } else {
            assert_int_equal(next, head);
        }
        cJSON_Delete(pg);
        if (np < 3) {
            break;
        }
        since = next;
    }
    assert_int_equal(got, n_all);

    /* Changes of B only: S's page is empty, its cursor moves past them. */
    char ib2[27];
    fx_item(a, w.vb, "{\"title\":\"B again\",\"category\":\"LOGIN\"}", ib2);
    int64_t head2 = feed_head(s, acct);
    assert_true(head2 > head);
    cJSON *pg = feed(s, acct, w.s, head, 100, &next);
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    assert_int_equal(next, head2);
    cJSON_Delete(pg);
    /* since beyond the head (the account restored to an earlier point):
     * empty, and the cursor back at the head, so the reader can tell. */
    pg = feed(s, acct, w.s, head2 + 50, 100, &next);
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    assert_int_equal(next, head2);
    cJSON_Delete(pg);
    /* Visibility follows the grants S holds now (feed.h): granted B, S sees
     * B's entries, earlier ones included; revoked, it sees the revocation
     * and none of them again. */
    FX_OK(a, opc_account_server_grant(a, w.s, w.vb));
    pg = feed(s, acct, w.s, 0, OPC_STORE_MAX_LIMIT, &next);
    assert_true(has_entry(pg, "vault_create", w.vb, NULL, NULL));
    assert_true(has_entry(pg, "item_upsert", w.vb, ib2, NULL));
    assert_true(has_entry(pg, "grant", w.vb, NULL, w.s));
    cJSON_Delete(pg);
    FX_OK(a, opc_account_server_revoke(a, w.s, w.vb));
    int64_t head3 = feed_head(s, acct);
    pg = feed(s, acct, w.s, head2, OPC_STORE_MAX_LIMIT, &next);
    assert_int_equal(next, head3);
    assert_int_equal(cJSON_GetArraySize(pg), 2);
    assert_true(has_entry(pg, "grant", w.vb, NULL, w.s));
    assert_true(has_entry(pg, "grant_revoke", w.vb, NULL, w.s));
    cJSON_Delete(pg);
    pg = feed(s, acct, w.s, 0, OPC_STORE_MAX_LIMIT, &next);
    assert_false(has_entry(pg, "vault_create", w.vb, NULL, NULL));
    assert_false(has_entry(pg, "item_upsert", w.vb, NULL, NULL));
    cJSON_Delete(pg);
    /* A vault deleted under S: S sees its grant revoked, not the delete
     * (the owner's view only), and none of the vault's rows. */
    char vc[27];
    char ic[27];
    fx_vault(a, "Doomed", vc);
    fx_item(a, vc, "{\"title\":\"doomed\",\"category\":\"LOGIN\"}", ic);
    FX_OK(a, opc_account_server_grant(a, w.s, vc));
    cJSON *row_c = NULL;
    OK(opc__store_item(s, acct, w.s, ic, &row_c, &eb));
    cJSON_Delete(row_c);
    int64_t before_delete = feed_head(s, acct);
    FX_OK(a, opc_account_vault_delete(a, vc));
    head3 = feed_head(s, acct);
    pg = feed(s, acct, w.s, before_delete, OPC_STORE_MAX_LIMIT, &next);
    assert_int_equal(next, head3);
    assert_true(has_entry(pg, "grant_revoke", vc, NULL, w.s));
    assert_false(has_entry(pg, "vault_delete", NULL, NULL, NULL));
    cJSON_Delete(pg);
    WANT(OPC_ERR_NOT_FOUND, opc__store_vault(s, acct, w.s, vc, &row_c, &eb));
    WANT(OPC_ERR_NOT_FOUND, opc__store_item(s, acct, w.s, ic, &row_c, &eb));
    WANT(OPC_ERR_NOT_FOUND, opc__store_access(s, acct, w.s, vc, &row_c, &eb));
    head2 = head3;
    /* An unknown account or server. */
    cJSON *x = NULL;
    WANT(OPC_ERR_NOT_FOUND, opc__store_changes(s, other, w.s, 0, 10, 0, &x, &next, &eb));
    assert_null(x);

    /* The issuer key of the account. */
    opc__proto_account row;
    OK(opc__store_owner_account(s, acct, &row, &eb));
    OK(opc__store_issuer_key(s, acct, row.issuer_kid, &x, &eb));
    assert_string_equal(fx_str(x, "kid"), row.issuer_kid);
    cJSON *jwk = fx_json(fx_str(x, "jwk"));
    assert_string_equal(fx_str(jwk, "kty"), "EC");
    assert_null(cJSON_GetObjectItemCaseSensitive(jwk, "d"));
    cJSON_Delete(jwk);
    assert_true(has_entry(all, "issuer_key", NULL, NULL, NULL));
    cJSON_Delete(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_issuer_key(s, acct, other, &x, &eb));
    opc__proto_account_clear(&row);

    /* Grants: S's of A, read and write; none of B. */
    OK(opc__store_access(s, acct, w.s, w.va, &x, &eb));
    assert_string_equal(fx_str(x, "vault_id"), w.va);
    assert_int_equal(num(x, "acl"), OPC_ACL_READ | OPC_ACL_WRITE);
    assert_int_equal(num(x, "key_sn"), 1);
    assert_true(strlen(fx_str(x, "enc_key")) > 100);
    assert_true(strlen(fx_str(x, "grant_sig")) > 40);
    assert_true(num(x, "seq") >= 1 && num(x, "seq") <= head);
    assert_true(has_entry(all, "grant", w.va, NULL, w.s));
    cJSON_Delete(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_access(s, acct, w.s, w.vb, &x, &eb));
    assert_null(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_access(s, acct, gone, w.va, &x, &eb));

    /* Vaults: A, not B. */
    x = vault_row(s, acct, w.s, w.va);
    assert_string_equal(fx_str(x, "id"), w.va);
    assert_int_equal(num(x, "items"), 1);
    assert_int_equal(num(x, "key_sn"), 1);
    assert_true(num(x, "content_version") >= 1);
    (void)fx_str(x, "attrs");
    cJSON_Delete(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_vault(s, acct, w.s, w.vb, &x, &eb));
    assert_null(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_vault(s, acct, w.s, other, &x, &eb));
    WANT(OPC_ERR_NOT_FOUND, opc__store_vault(s, other, w.s, w.va, &x, &eb));

    /* Items: A's as the owner wrote it, not B's, not a deleted one. */
    OK(opc__store_item(s, acct, w.s, w.ia, &x, &eb));
    assert_string_equal(fx_str(x, "id"), w.ia);
    assert_string_equal(fx_str(x, "vault_id"), w.va);
    assert_string_equal(fx_str(x, "state"), "active");
    assert_int_equal(num(x, "version"), 1);
    cJSON *orows = NULL;
    OK(opc__rows_read(a->rows, "item.get", &orows, &eb, "tt", w.ia, w.va));
    const cJSON *orow = cJSON_GetArrayItem(orows, 0);
    assert_string_equal(fx_str(x, "overview"), opc__rows_str(orow, 2));
    assert_string_equal(fx_str(x, "details"), opc__rows_str(orow, 3));
    assert_int_equal(num(x, "key_sn"), opc__rows_int(orow, 1));
    assert_int_equal(num(x, "seq"), opc__rows_int(orow, 7));
    cJSON_Delete(orows);
    cJSON_Delete(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_item(s, acct, w.s, w.ib, &x, &eb));
    assert_null(x);
    OK(opc__store_item(s, acct, w.r, w.ib, &x, &eb));
    cJSON_Delete(x);
    char dead[27];
    fx_item(a, w.va, "{\"title\":\"short-lived\",\"category\":\"LOGIN\"}", dead);
    OK(opc__store_item(s, acct, w.s, dead, &x, &eb));
    cJSON_Delete(x);
    FX_OK(a, opc_account_item_delete(a, w.va, dead, 0));
    WANT(OPC_ERR_NOT_FOUND, opc__store_item(s, acct, w.s, dead, &x, &eb));
    assert_null(x);

    /* Tokens: S's registry rows, as they are; not R's. */
    const char *specs[] = {w.va};
    char *json = NULL;
    opc_secret *tok = NULL;
    FX_OK(a, opc_account_token_create(a, "reader", w.s, specs, 1, 0, &json, &tok));
    cJSON *tj = fx_json(json);
    char jti[27];
    snprintf(jti, sizeof jti, "%s", fx_str(tj, "id"));
    cJSON_Delete(tj);
    opc_free(json);
    opc_secret_free(tok);
    OK(opc__store_token(s, acct, w.s, jti, &x, &eb));
    assert_string_equal(fx_str(x, "jti"), jti);
    assert_string_equal(fx_str(x, "server_id"), w.s);
    assert_string_equal(fx_str(x, "name"), "reader");
    assert_string_equal(fx_str(x, "state"), "active");
    assert_int_equal(num(x, "expires"), 0);
    assert_non_null(strstr(fx_str(x, "scopes"), w.va));
    int64_t tseq = num(x, "seq");
    cJSON_Delete(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_token(s, acct, w.r, jti, &x, &eb));
    assert_null(x);
    WANT(OPC_ERR_NOT_FOUND, opc__store_token(s, acct, w.s, other, &x, &eb));
    FX_OK(a, opc_account_token_revoke(a, jti, w.s));
    OK(opc__store_token(s, acct, w.s, jti, &x, &eb));
    assert_string_equal(fx_str(x, "state"), "revoked");
    assert_true(num(x, "seq") > tseq);
    cJSON_Delete(x);
    pg = feed(s, acct, w.s, head2, 100, &next);
    assert_true(has_entry(pg, "token_create", NULL, NULL, w.s));
    assert_true(has_entry(pg, "token_revoke", NULL, NULL, w.s));
    cJSON_Delete(pg);
    pg = feed(s, acct, w.r, head2, 100, &next);
    assert_false(has_entry(pg, "token_create", NULL, NULL, NULL));
    cJSON_Delete(pg);

    cJSON_Delete(all);
    world_free(&w);
    env_close(&e);
}

/* ==== case 3b: pages of items and file chunks ==== */

static int cmp_id(const void *x, const void *y)
{
    return strcmp((const char *)x, (const char *)y);
}

/* Every chunk of the owner's file, as the owner reads it (file.chunks). */
static cJSON *owner_chunks(opc_account *a, const char *item, const char *file)
{
    opc__ebuf eb;
    cJSON *rows = NULL;
    OK(opc__rows_read(a->rows, "file.chunks", &rows, &eb, "ttii", item, file, (int64_t)0,
                      (int64_t)1000));
    return rows;
}

static void case_connect_pages(void **state)
{
    env e;
    env_open(&e, state);
    opc__store *s = e.s;
    opc__ebuf eb;
    world w;
    world_make(s, &w);
    const char *acct = w.o.id;
    opc_account *a = w.o.a;

    /* 22 items in A, one deleted again: 21 active with the first. */
    enum { N_NEW = 22 };
    char ids[N_NEW + 1][27];
    size_t n_ids = 0;
    snprintf(ids[n_ids++], 27, "%s", w.ia);
    char dead[27] = "";
    for (int i = 0; i < N_NEW; i++) {
        char json[96];
        char id[27];
        snprintf(json, sizeof json, LOGIN, "paged");
        fx_item(a, w.va, json, id);
        if (i == 5) {
            snprintf(dead, sizeof dead, "%s", id);
        } else {
            snprintf(ids[n_ids++], 27, "%s", id);
        }
    }
    FX_OK(a, opc_account_item_delete(a, w.va, dead, 0));
    qsort(ids, n_ids, sizeof ids[0], cmp_id);

    /* Keyset pages of 7: each id once, in byte order. */
    size_t seen = 0;
    char after[27] = "";
    for (;;) {
        cJSON *pg = NULL;
        OK(opc__store_vault_items(s, acct, w.s, w.va, after[0] != '\0' ? after : NULL, 7, &pg,
                                  &eb));
        int np = cJSON_GetArraySize(pg);
        assert_true(np <= 7);
        const cJSON *it = NULL;
        cJSON_ArrayForEach(it, pg)
        {
            assert_true(seen < n_ids);
            assert_string_equal(fx_str(it, "id"), ids[seen]);
            assert_string_equal(fx_str(it, "vault_id"), w.va);
            assert_string_equal(fx_str(it, "state"), "active");
            seen++;
            snprintf(after, sizeof after, "%s", fx_str(it, "id"));
        }
        cJSON_Delete(pg);
        if (np < 7) {
            break;
        }
    }
    assert_int_equal(seen, n_ids);
    /* No id to start after ("" as NULL): from the first. */
    cJSON *pg = NULL;
    OK(opc__store_vault_items(s, acct, w.s, w.va, "", 7, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 7);
    assert_string_equal(fx_str(cJSON_GetArrayItem(pg, 0), "id"), ids[0]);
    cJSON_Delete(pg);
    /* After the last id: nothing; the items of B, or A's for R: empty pages. */
    OK(opc__store_vault_items(s, acct, w.s, w.va, ids[n_ids - 1], 7, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    cJSON_Delete(pg);
    OK(opc__store_vault_items(s, acct, w.s, w.vb, NULL, 100, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    cJSON_Delete(pg);
    OK(opc__store_vault_items(s, acct, w.r, w.va, NULL, 100, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    cJSON_Delete(pg);
    WANT(OPC_ERR_RANGE, opc__store_vault_items(s, acct, w.s, w.va, NULL, 0, &pg, &eb));

    /* A document of four chunks, and a small file on the first item. */
    size_t doc_len = 3 * OPC_ACCOUNT_CHUNK_SIZE + 1000;
    unsigned char *data = malloc(doc_len);
    assert_non_null(data);
    for (size_t i = 0; i < doc_len; i++) {
        data[i] = (unsigned char)(i * 7 + i / 251);
    }
    opc_secret *out = NULL;
    FX_OK(a, opc_account_document_create(a, w.va, "Doc", "doc.bin", data, doc_len, &out));
    cJSON *dj = fx_json_secret(out);
    char doc[27];
    snprintf(doc, sizeof doc, "%s", fx_str(dj, "id"));
    cJSON_Delete(dj);
    opc_secret_free(out);
    FX_OK(a, opc_account_file_attach(a, w.va, w.ia, "small.txt", NULL, "hello", 5, 0, &out));
    opc_secret_free(out);

    /* The document's chunks in pages of 3: idx 0..3 of one file, the
     * owner's bytes; the owner reads the document back whole. */
    cJSON *c1 = NULL;
    OK(opc__store_item_files(s, acct, w.s, doc, NULL, 0, 3, &c1, &eb));
    assert_int_equal(cJSON_GetArraySize(c1), 3);
    char file[27];
    snprintf(file, sizeof file, "%s", fx_str(cJSON_GetArrayItem(c1, 0), "file_id"));
    cJSON *c2 = NULL;
    OK(opc__store_item_files(s, acct, w.s, doc, file, 2, 3, &c2, &eb));
    assert_int_equal(cJSON_GetArraySize(c2), 1);
    cJSON *c3 = NULL;
    OK(opc__store_item_files(s, acct, w.s, doc, file, 3, 3, &c3, &eb));
    assert_int_equal(cJSON_GetArraySize(c3), 0);
    cJSON_Delete(c3);
    cJSON *mine = owner_chunks(a, doc, file);
    assert_int_equal(cJSON_GetArraySize(mine), 4);
    for (int i = 0; i < 4; i++) {
        const cJSON *ch = i < 3 ? cJSON_GetArrayItem(c1, i) : cJSON_GetArrayItem(c2, 0);
        assert_int_equal(num(ch, "idx"), i);
        assert_string_equal(fx_str(ch, "file_id"), file);
        assert_string_equal(fx_str(ch, "item_id"), doc);
        assert_string_equal(fx_str(ch, "vault_id"), w.va);
        assert_string_equal(fx_str(ch, "blob"), opc__rows_str(cJSON_GetArrayItem(mine, i), 1));
    }
    cJSON_Delete(mine);
    cJSON_Delete(c1);
    cJSON_Delete(c2);
    FX_OK(a, opc_account_file_read(a, w.va, doc, file, &out));
    assert_int_equal(opc_secret_len(out), doc_len);
    assert_memory_equal(opc_secret_data(out), data, doc_len);
    opc_secret_free(out);
    /* A second file on the document (two chunks): the item's pages walk
     * both files by (file, idx), each chunk once. */
    FX_OK(a, opc_account_file_attach(a, w.va, doc, "second.bin", NULL, data,
                                     OPC_ACCOUNT_CHUNK_SIZE + 10, 0, &out));
    opc_secret_free(out);
    free(data);
    char key_last[64] = "";
    int per_file[2] = {0, 0};
    char after_file[27] = "";
    int64_t after_idx = 0;
    for (;;) {
        OK(opc__store_item_files(s, acct, w.s, doc, after_file, after_idx, 4, &pg, &eb));
        int np = cJSON_GetArraySize(pg);
        assert_true(np <= 4);
        const cJSON *ch = NULL;
        cJSON_ArrayForEach(ch, pg)
        {
            char key[64];
            snprintf(key, sizeof key, "%s/%08" PRId64, fx_str(ch, "file_id"), num(ch, "idx"));
            assert_true(strcmp(key, key_last) > 0);
            snprintf(key_last, sizeof key_last, "%s", key);
            per_file[strcmp(fx_str(ch, "file_id"), file) == 0 ? 0 : 1]++;
            snprintf(after_file, sizeof after_file, "%s", fx_str(ch, "file_id"));
            after_idx = num(ch, "idx");
        }
        cJSON_Delete(pg);
        if (np < 4) {
            break;
        }
    }
    assert_int_equal(per_file[0], 4);
    assert_int_equal(per_file[1], 2);
    /* No file to start after: from the first, whatever the index. */
    OK(opc__store_item_files(s, acct, w.s, doc, "", 7, 100, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 6);
    cJSON_Delete(pg);
    /* Out of scope: empty. */
    OK(opc__store_item_files(s, acct, w.r, doc, NULL, 0, 10, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    cJSON_Delete(pg);

    /* The vault's chunks over the range of its items, in pages of 2: every
     * chunk once, by (item, file, idx): the first item's one and the
     * document's six. */
    n_ids = 0;
    after[0] = '\0';
    for (;;) { /* the active items again (the document is one now) */
        OK(opc__store_vault_items(s, acct, w.s, w.va, after[0] != '\0' ? after : NULL, 100, &pg,
                                  &eb));
        const cJSON *it = NULL;
        cJSON_ArrayForEach(it, pg)
        {
            assert_true(n_ids < N_NEW + 1);
            snprintf(ids[n_ids++], 27, "%s", fx_str(it, "id"));
            snprintf(after, sizeof after, "%s", fx_str(it, "id"));
        }
        int np = cJSON_GetArraySize(pg);
        cJSON_Delete(pg);
        if (np < 100) {
            break;
        }
    }
    assert_int_equal(n_ids, N_NEW + 1);
    char a_item[27];
    char a_file[27] = "";
    int64_t a_idx = 0;
    snprintf(a_item, sizeof a_item, "%s", ids[0]);
    char last_key[80] = "";
    int chunks = 0;
    int doc_chunks = 0;
    for (;;) {
        OK(opc__store_vault_files(s, acct, w.s, w.va, a_item, a_file, a_idx, ids[n_ids - 1], 2, &pg,
                                  &eb));
        int np = cJSON_GetArraySize(pg);
        assert_true(np <= 2);
        const cJSON *ch = NULL;
        cJSON_ArrayForEach(ch, pg)
        {
            char key[80];
            snprintf(key, sizeof key, "%s/%s/%08" PRId64, fx_str(ch, "item_id"),
                     fx_str(ch, "file_id"), num(ch, "idx"));
            assert_true(strcmp(key, last_key) > 0);
            snprintf(last_key, sizeof last_key, "%s", key);
            assert_string_equal(fx_str(ch, "vault_id"), w.va);
            doc_chunks += strcmp(fx_str(ch, "item_id"), doc) == 0;
            chunks++;
            snprintf(a_item, sizeof a_item, "%s", fx_str(ch, "item_id"));
            snprintf(a_file, sizeof a_file, "%s", fx_str(ch, "file_id"));
            a_idx = num(ch, "idx");
        }
        cJSON_Delete(pg);
        if (np < 2) {
            break;
        }
    }
    assert_int_equal(chunks, 7);
    assert_int_equal(doc_chunks, 6);
    /* The range's end bounds it: the first item alone has one chunk. */
    OK(opc__store_vault_files(s, acct, w.s, w.va, w.ia, NULL, 0, w.ia, 100, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 1);
    assert_string_equal(fx_str(cJSON_GetArrayItem(pg, 0), "item_id"), w.ia);
    cJSON_Delete(pg);
    OK(opc__store_vault_files(s, acct, w.r, w.va, ids[0], NULL, 0, ids[n_ids - 1], 100, &pg, &eb));
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    cJSON_Delete(pg);

    world_free(&w);
    env_close(&e);
}

/* ==== case 4: server writes (account/import.h) ==== */

static const case_def cases[] = {
    {"signup", case_signup, false},
    {"owner_rows", case_owner_rows, false},
    {"connect_reads", case_connect_reads, false},
    {"connect_pages", case_connect_pages, false},
};

int main(void)
{
    return run_cases(cases, sizeof cases / sizeof cases[0]);
}
