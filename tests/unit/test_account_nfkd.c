/*
 * tests/unit/test_account_nfkd.c - passwords normalised to Unicode NFKD
 * against one account file (lib/account/owner.c, crypto/twoskd.h): made
 * with one form of a password, opened with the others; invalid UTF-8
 * refused at create and sign-up; and the migration of an account made
 * before the change (its keyset sealed under the AUK of the bytes as
 * typed, as the old derivation did): opened with those bytes, re-keyed,
 * and opened with every form afterwards. A file with an SRP verifier (an
 * account of op-account-server's SQLite store) gets the verifier of the
 * normalised password too. Through an op-account-server in this process
 * (opc_accountd, plain HTTP on loopback): sign-up with one form, sign-in
 * with another; an old account on the server signed in with the bytes as
 * typed (the second SRP exchange), not re-keyed, until the operator opens
 * its file with the server stopped.
 *
 * All passwords, keys and emails here are obviously fake test values.
 */
#include "account_fixture.h"

#include <opconnect/account_server.h>

#include "account/rows.h"
#include "account/signup.h"
#include "core/alloc.h"
#include "crypto/base64.h"
#include "crypto/srp.h"
#include "crypto/twoskd.h"

/* "café ﬁne Ｐw" in four forms: NFC é (U+00E9), the ligature ﬁ (U+FB01),
 * full-width Ｐ (U+FF30); NFD (e + U+0301); the ligature spelt out; ASCII
 * P; and NFKD, all three at once. */
#define PW_NFC "caf\xc3\xa9 \xef\xac\x81ne \xef\xbc\xb0w"
#define PW_NFD "cafe\xcc\x81 \xef\xac\x81ne \xef\xbc\xb0w"
#define PW_FI "caf\xc3\xa9 fine \xef\xbc\xb0w"
#define PW_HALF "caf\xc3\xa9 \xef\xac\x81ne Pw"
#define PW_NFKD "cafe\xcc\x81 fine Pw"

static const char *const forms[] = {PW_NFC, PW_NFD, PW_FI, PW_HALF, PW_NFKD};

static void create_with(fx *f, const char *password)
{
    memset(f, 0, sizeof *f);
    opc_test_mkdtemp(f->dir, sizeof f->dir, "opc-nfkd-test", "account.db", f->path, sizeof f->path);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc =
        opc__account_create_ex(f->path, FX_EMAIL, password, FX_ITERATIONS, 1, &f->a, &f->sk, &eb);
    if (rc != OPC_OK) {
        fail_msg("account create: %s (%s)", opc_errname(rc), eb.msg);
    }
    snprintf(f->sk_text, sizeof f->sk_text, "%s", (const char *)opc_secret_data(f->sk));
}

/* The stored text of one column of the account file's one row of table. */
static char *stored(const fx *f, const char *table, const char *col)
{
    sqlite3 *db = fx_db(f);
    char q[128];
    snprintf(q, sizeof q, "SELECT %s FROM %s WHERE one = 1", col, table);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char *v = strdup((const char *)sqlite3_column_text(st, 0));
    assert_non_null(v);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void store_text(const fx *f, const char *table, const char *col, const char *v)
{
    sqlite3 *db = fx_db(f);
    char q[128];
    snprintf(q, sizeof q, "UPDATE %s SET %s = ? WHERE one = 1", table, col);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, v, -1, SQLITE_TRANSIENT), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* A fresh handle on f's file, unlocked with password: the result code. */
static opc_err unlock_fresh(const fx *f, const char *password)
{
    opc_account *a = fx_reopen(f);
    opc_err rc = opc_account_unlock(a, password, f->sk_text);
    if (rc == OPC_OK) {
        assert_true(opc_account_is_unlocked(a));
    } else {
        assert_string_equal(opc_account_errmsg(a), "wrong password or Secret Key");
    }
    opc_account_free(a);
    return rc;
}

/*
 * Make f's account what the derivation before NFKD would have made for
 * password: the keyset's symmetric key sealed under the AUK of the bytes
 * as typed (opc__2skd_legacy, the old formula: test_twoskd pins it) and,
 * with srp, the verifier of the same bytes. f->a is unlocked (its sym key).
 */
static void make_legacy(fx *f, const char *password, bool srp)
{
    opc_account *a = f->a;
    assert_true(opc_account_is_unlocked(a));
    opc__secret_key sk;
    assert_int_equal(opc__secret_key_parse(f->sk_text, &sk, NULL), OPC_OK);
    uint8_t auk[32];
    assert_int_equal(opc__2skd_legacy(password, a->email, &sk, a->salt, OPC_2SKD_LABEL_AUK,
                                      a->iterations, auk, NULL),
                     OPC_OK);
    opc__key *k = NULL;
    assert_int_equal(opc__key_from_oct(auk, 32, "mp", OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &k),
                     OPC_OK);
    char aad[OPC_WIRE_LABEL_MAX];
    assert_int_equal(opc__wire_account_key_aad(aad, sizeof aad, OPC_WIRE_ACCOUNT_KEYSET, a->id),
                     OPC_OK);
    char *text = NULL;
    char *env = NULL;
    assert_int_equal(opc__acct_jwk_text(a->sym, true, &text), OPC_OK);
    assert_int_equal(opc__acct_seal(k, aad, text, strlen(text), &env), OPC_OK);
    store_text(f, "account", "enc_sym_key", env);
    if (srp) {
        uint8_t salt[OPC_PROTO_SRP_SALT_LEN], v[OPC_PROTO_SRP_LEN], x[32];
        assert_int_equal(opc__account_srp(a, salt, v, NULL), OPC_OK);
        assert_int_equal(opc__2skd_legacy(password, a->email, &sk, salt, OPC_2SKD_LABEL_SRP,
                                          a->iterations, x, NULL),
                         OPC_OK);
        assert_int_equal(opc__srp_verifier(opc__srp_group_get(OPC_SRP_GROUP_BITS), x, sizeof x, v,
                                           sizeof v, NULL),
                         OPC_OK);
        char *vb = NULL;
        size_t vn = 0;
        assert_int_equal(opc__b64_encode(v, sizeof v, OPC_B64URL, &vb, &vn), OPC_OK);
        store_text(f, "owner_srp", "verifier", vb);
        opc__free(vb);
    }
    opc__secret_free_str(text);
    opc__free(env);
    opc__key_free(k);
    opc__wipe(auk, sizeof auk);
    opc__wipe(&sk, sizeof sk);
    opc_account_free(f->a);
    f->a = NULL;
}

/* The SRP verifier (base64url) of password's normalised form for f's file. */
static char *verifier_of(const fx *f, const char *password)
{
    opc_account *a = fx_reopen(f);
    opc__secret_key sk;
    assert_int_equal(opc__secret_key_parse(f->sk_text, &sk, NULL), OPC_OK);
    uint8_t salt[OPC_PROTO_SRP_SALT_LEN], v[OPC_PROTO_SRP_LEN], x[32];
    assert_int_equal(opc__account_srp(a, salt, v, NULL), OPC_OK);
    assert_int_equal(opc__2skd_srp_x_raw(password, a->email, &sk, salt, a->iterations, x, NULL),
                     OPC_OK);
    assert_int_equal(
        opc__srp_verifier(opc__srp_group_get(OPC_SRP_GROUP_BITS), x, sizeof x, v, sizeof v, NULL),
        OPC_OK);
    char *vb = NULL;
    size_t vn = 0;
    assert_int_equal(opc__b64_encode(v, sizeof v, OPC_B64URL, &vb, &vn), OPC_OK);
    char *out = strdup(vb);
    opc__free(vb);
    opc__wipe(&sk, sizeof sk);
    opc_account_free(a);
    return out;
}

static void test_nfkd_every_form_opens_one_account(void **state)
{
    (void)state;
    for (size_t made = 0; made < OPC_ARRAY_LEN(forms); made++) {
        fx f;
        create_with(&f, forms[made]);
        char vid[27];
        fx_vault(f.a, "Personal", vid);
        opc_account_free(f.a);
        f.a = NULL;
        char *env = stored(&f, "account", "enc_sym_key");
        for (size_t i = 0; i < OPC_ARRAY_LEN(forms); i++) {
            if (unlock_fresh(&f, forms[i]) != OPC_OK) {
                fail_msg("made with form %zu, form %zu does not open it", made, i);
            }
        }
        /* Trailing NO-BREAK SPACE is a space under NFKD: trimmed. */
        assert_int_equal(unlock_fresh(&f, PW_NFD "\xc2\xa0"), OPC_OK);
        /* Normalisation folds neither accents nor case. */
        assert_int_equal(unlock_fresh(&f, "cafe fine Pw"), OPC_ERR_DECRYPT);
        assert_int_equal(unlock_fresh(&f, "caf\xc3\xa8 fine Pw"), OPC_ERR_DECRYPT);
        assert_int_equal(unlock_fresh(&f, "caf\xc3\xa9 fine pw"), OPC_ERR_DECRYPT);
        assert_int_equal(unlock_fresh(&f, "caf\xe9 fine Pw"), OPC_ERR_DECRYPT); /* Latin-1 */
        /* No re-key of an account made normalised. */
        char *after = stored(&f, "account", "enc_sym_key");
        assert_string_equal(after, env);
        free(after);
        free(env);
        /* The data is there under any form. */
        f.a = fx_reopen(&f);
        FX_OK(f.a, opc_account_unlock(f.a, forms[(made + 1) % OPC_ARRAY_LEN(forms)], f.sk_text));
        char *out = NULL;
        FX_OK(f.a, opc_account_vault_get(f.a, vid, &out));
        opc_free(out);
        fx_destroy(&f);
    }
}

static void test_nfkd_create_and_signup_refuse_invalid_utf8(void **state)
{
    (void)state;
    char dir[128], path[256];
    opc_test_mkdtemp(dir, sizeof dir, "opc-nfkd-test", "account.db", path, sizeof path);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_account *a = NULL;
    opc_secret *sk = NULL;
    assert_int_equal(
        opc__account_create_ex(path, FX_EMAIL, "caf\xe9", FX_ITERATIONS, 1, &a, &sk, &eb),
        OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "not valid UTF-8"));
    assert_null(a);
    assert_null(sk);
    assert_int_equal(access(path, F_OK), -1); /* nothing made */
    opc__proto_signup su;
    opc__ebuf_clear(&eb);
    assert_int_equal(
        opc__account_signup_make(FX_EMAIL, "pw\xed\xa0\x80", FX_ITERATIONS, 1, &su, &sk, &eb),
        OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "not valid UTF-8"));
    assert_null(sk);
    /* The public entry point says the same. */
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_account_create(path, FX_EMAIL, "\xff", 0, &a, &sk, err, sizeof err),
                     OPC_ERR_PARSE);
    assert_non_null(strstr(err, "not valid UTF-8"));
    assert_int_equal(access(path, F_OK), -1);
    rmdir(dir);
}

static void test_nfkd_legacy_account_is_rekeyed(void **state)
{
    (void)state;
    fx f;
    create_with(&f, PW_NFKD);
    char vid[27];
    fx_vault(f.a, "Personal", vid);
    make_legacy(&f, PW_NFC, false);
    char *env = stored(&f, "account", "enc_sym_key");
    /* Before: only the bytes it was made with open it (the old derivation
     * took them as typed), so NFD does not; the failed tries change nothing. */
    assert_int_equal(unlock_fresh(&f, PW_NFD), OPC_ERR_DECRYPT);
    assert_int_equal(unlock_fresh(&f, PW_NFKD), OPC_ERR_DECRYPT);
    assert_int_equal(unlock_fresh(&f, "caf\xc3\xa9"), OPC_ERR_DECRYPT);
    char *same = stored(&f, "account", "enc_sym_key");
    assert_string_equal(same, env);
    free(same);
    /* The bytes as typed open it, and re-key it. */
    f.a = fx_reopen(&f);
    FX_OK(f.a, opc_account_unlock(f.a, PW_NFC, f.sk_text));
    char *out = NULL;
    FX_OK(f.a, opc_account_vault_get(f.a, vid, &out));
    opc_free(out);
    /* The handle's AUK is the new one: a session saved now opens the file. */
    opc_secret *tok = NULL;
    FX_OK(f.a, opc_account_session_save(f.a, f.dir, 60, &tok));
    opc_account_free(f.a);
    f.a = NULL;
    char *after = stored(&f, "account", "enc_sym_key");
    assert_string_not_equal(after, env);
    free(after);
    /* After: every form opens it, the data is there. */
    for (size_t i = 0; i < OPC_ARRAY_LEN(forms); i++) {
        if (unlock_fresh(&f, forms[i]) != OPC_OK) {
            fail_msg("after the re-key, form %zu does not open the account", i);
        }
    }
    f.a = fx_reopen(&f);
    FX_OK(f.a, opc_account_session_unlock(f.a, f.dir, opc_secret_data(tok)));
    opc_secret_free(tok);
    FX_OK(f.a, opc_account_vault_get(f.a, vid, &out));
    opc_free(out);
    free(env);
    fx_destroy(&f);
}

static void test_nfkd_legacy_ascii_and_invalid_utf8(void **state)
{
    (void)state;
    /* An old account with a password that is not UTF-8 (Latin-1 "é"):
     * opened by the bytes as typed, never re-keyed (it has no normalised
     * form), and it keeps opening. */
    fx f;
    create_with(&f, "placeholder password");
    make_legacy(&f, "caf\xe9 pw", false);
    char *env = stored(&f, "account", "enc_sym_key");
    assert_int_equal(unlock_fresh(&f, "caf\xe9 pw"), OPC_OK);
    assert_int_equal(unlock_fresh(&f, "caf\xe9 pw"), OPC_OK);
    assert_int_equal(unlock_fresh(&f, "caf\xc3\xa9 pw"), OPC_ERR_DECRYPT);
    char *after = stored(&f, "account", "enc_sym_key");
    assert_string_equal(after, env);
    free(after);
    free(env);
    fx_destroy(&f);
    /* An old account with an ASCII password is the same under both
     * derivations: nothing to migrate. */
    create_with(&f, "placeholder password");
    make_legacy(&f, "  plain ascii ", false);
    env = stored(&f, "account", "enc_sym_key");
    assert_int_equal(unlock_fresh(&f, "plain ascii"), OPC_OK);
    after = stored(&f, "account", "enc_sym_key");
    assert_string_equal(after, env);
    free(after);
    free(env);
    fx_destroy(&f);
}

static void test_nfkd_legacy_file_with_verifier_rekeys_both(void **state)
{
    (void)state;
    /* A file of op-account-server's SQLite store, made by sign-up. */
    fx f;
    memset(&f, 0, sizeof f);
    opc_test_mkdtemp(f.dir, sizeof f.dir, "opc-nfkd-test", "account.db", f.path, sizeof f.path);
    opc__proto_signup su;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__account_signup_make(FX_EMAIL, PW_FI, FX_ITERATIONS, 1, &su, &f.sk, &eb),
                     OPC_OK);
    assert_int_equal(opc__account_create_signup(f.path, &su, &eb), OPC_OK);
    opc__proto_signup_clear(&su);
    snprintf(f.sk_text, sizeof f.sk_text, "%s", (const char *)opc_secret_data(f.sk));
    /* Made normalised: its verifier is the one of every form. */
    char *v_new = verifier_of(&f, PW_NFKD);
    char *v = stored(&f, "owner_srp", "verifier");
    assert_string_equal(v, v_new);
    free(v);
    /* Made the old way with PW_NFC. */
    f.a = fx_reopen(&f);
    FX_OK(f.a, opc_account_unlock(f.a, PW_NFD, f.sk_text));
    make_legacy(&f, PW_NFC, true);
    char *v_old = stored(&f, "owner_srp", "verifier");
    assert_string_not_equal(v_old, v_new);
    assert_int_equal(unlock_fresh(&f, PW_NFD), OPC_ERR_DECRYPT);
    /* Opened with the bytes as typed: both re-keyed. */
    assert_int_equal(unlock_fresh(&f, PW_NFC), OPC_OK);
    v = stored(&f, "owner_srp", "verifier");
    assert_string_equal(v, v_new);
    free(v);
    for (size_t i = 0; i < OPC_ARRAY_LEN(forms); i++) {
        assert_int_equal(unlock_fresh(&f, forms[i]), OPC_OK);
    }
    free(v_old);
    free(v_new);
    fx_destroy(&f);
}

static void test_nfkd_rekey_statements_are_the_stores_own(void **state)
{
    (void)state;
    /* A request through op-account-server never names them: an owner
     * rewrites neither the keyset's envelope nor the verifier. */
    assert_string_equal(opc__rows_store_own("account.rekey"), "account.rekey");
    assert_string_equal(opc__rows_store_own("account.srp_rekey"), "account.srp_rekey");
    fx f;
    fx_create(&f);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__rpc_step step;
    memset(&step, 0, sizeof step);
    step.stmt = "account.rekey";
    int64_t seqs[OPC__RPC_MAX_CHANGES];
    size_t n_seqs = 0;
    assert_int_equal(opc__account_rows_batch(f.a, &step, 1, seqs, &n_seqs, &eb),
                     OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "account.rekey (statement 0 of the batch) is the store's own"));
    fx_destroy(&f);
}

/* ---- through op-account-server ---- */

typedef struct world {
    char dir[128];
    char data[160];
    char run[160];
    char url[64];
    opc_accountd *srv;
    char id[32];
    char sk[64];
} world;

static void world_serve(world *w)
{
    char err[OPC_ERRBUF_SIZE] = "";
    if (opc_accountd_create(w->data, &w->srv, err, sizeof err) != OPC_OK) {
        fail_msg("opc_accountd_create: %s", err);
    }
    assert_int_equal(opc_accountd_set_bind_address(w->srv, "127.0.0.1"), OPC_OK);
    assert_int_equal(opc_accountd_set_http_port(w->srv, 0), OPC_OK);
    if (opc_accountd_start(w->srv, err, sizeof err) != OPC_OK) {
        fail_msg("opc_accountd_start: %s", err);
    }
    snprintf(w->url, sizeof w->url, "http://127.0.0.1:%d", opc_accountd_http_port(w->srv));
}

static void world_halt(world *w)
{
    opc_accountd_stop(w->srv);
    opc_accountd_free(w->srv);
    w->srv = NULL;
}

/* Sign in with password and open the session: the code of the sign-in;
 * when it is OPC_OK, the handle must list the vault "Remote". */
static opc_err remote_try(world *w, const char *password)
{
    char err[OPC_ERRBUF_SIZE] = "";
    char id[64];
    opc_secret *tok = NULL;
    opc_err rc = opc_account_remote_signin(w->url, NULL, FX_EMAIL, password, w->sk, w->run, id,
                                           sizeof id, &tok, err, sizeof err);
    if (rc != OPC_OK) {
        assert_null(tok);
        return rc;
    }
    assert_string_equal(id, w->id);
    opc_account *a = NULL;
    if (opc_account_remote_open(w->run, w->id, opc_secret_data(tok), NULL, &a, err, sizeof err) !=
        OPC_OK) {
        fail_msg("remote open: %s", err);
    }
    char *json = NULL;
    FX_OK(a, opc_account_vault_list(a, &json));
    assert_non_null(strstr(json, "\"Remote\""));
    opc_free(json);
    opc_account_free(a);
    opc_secret_free(tok);
    return OPC_OK;
}

static void test_nfkd_through_account_server(void **state)
{
    (void)state;
    world w;
    memset(&w, 0, sizeof w);
    opc_test_mkdtemp(w.dir, sizeof w.dir, "opc-nfkd-remote", "data", w.data, sizeof w.data);
    snprintf(w.run, sizeof w.run, "%s/run", w.dir);
    assert_int_equal(mkdir(w.data, 0700), 0);
    assert_int_equal(mkdir(w.run, 0700), 0);
    char accounts[180];
    snprintf(accounts, sizeof accounts, "%s/accounts", w.data);
    assert_int_equal(mkdir(accounts, 0700), 0);
    world_serve(&w);

    /* Sign-up with NFC; every form signs in and opens the keyset. */
    char err[OPC_ERRBUF_SIZE] = "";
    opc_secret *sk = NULL;
    if (opc_account_remote_create(w.url, NULL, FX_EMAIL, PW_NFC, w.id, sizeof w.id, &sk, err,
                                  sizeof err) != OPC_OK) {
        fail_msg("remote create: %s", err);
    }
    snprintf(w.sk, sizeof w.sk, "%s", (const char *)opc_secret_data(sk));
    opc_secret_free(sk);
    assert_int_equal(opc_account_remote_create(w.url, NULL, "other@example.com", "caf\xe9", w.id,
                                               sizeof w.id, &sk, err, sizeof err),
                     OPC_ERR_PARSE);
    assert_non_null(strstr(err, "not valid UTF-8"));
    {
        opc_secret *tok = NULL;
        char id[64];
        opc_account *a = NULL;
        if (opc_account_remote_signin(w.url, NULL, FX_EMAIL, PW_NFD, w.sk, w.run, id, sizeof id,
                                      &tok, err, sizeof err) != OPC_OK) {
            fail_msg("remote signin with the NFD form: %s", err);
        }
        if (opc_account_remote_open(w.run, w.id, opc_secret_data(tok), NULL, &a, err, sizeof err) !=
            OPC_OK) {
            fail_msg("remote open: %s", err);
        }
        char vid[27];
        fx_vault(a, "Remote", vid);
        opc_account_free(a);
        opc_secret_free(tok);
    }
    assert_int_equal(remote_try(&w, PW_NFKD), OPC_OK);
    assert_int_equal(remote_try(&w, "cafe fine Pw"), OPC_ERR_PERMISSION);

    /* The server's file made what the old derivation made of PW_NFC. */
    world_halt(&w);
    fx f;
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "%s/%s.db", accounts, w.id);
    snprintf(f.sk_text, sizeof f.sk_text, "%s", w.sk);
    f.a = fx_reopen(&f);
    FX_OK(f.a, opc_account_unlock(f.a, PW_HALF, f.sk_text));
    make_legacy(&f, PW_NFC, true);
    char *env = stored(&f, "account", "enc_sym_key");
    char *v_old = stored(&f, "owner_srp", "verifier");
    world_serve(&w);

    /* The bytes as typed sign in (a second exchange); another form does
     * not, and nothing on the server changed: no re-key over the network. */
    assert_int_equal(remote_try(&w, PW_NFC), OPC_OK);
    assert_int_equal(remote_try(&w, PW_NFD), OPC_ERR_PERMISSION);
    world_halt(&w);
    char *v = stored(&f, "owner_srp", "verifier");
    assert_string_equal(v, v_old);
    free(v);
    v = stored(&f, "account", "enc_sym_key");
    assert_string_equal(v, env);
    free(v);

    /* The operator's re-key: the file opened in place, server stopped. */
    assert_int_equal(unlock_fresh(&f, PW_NFC), OPC_OK);
    v = stored(&f, "owner_srp", "verifier");
    assert_string_not_equal(v, v_old);
    free(v);
    world_serve(&w);
    for (size_t i = 0; i < OPC_ARRAY_LEN(forms); i++) {
        if (remote_try(&w, forms[i]) != OPC_OK) {
            fail_msg("after the re-key, form %zu does not sign in", i);
        }
    }
    world_halt(&w);
    free(env);
    free(v_old);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w.dir);
    assert_int_equal(system(cmd), 0);
}

static int sys_setup(void **state)
{
    (void)state;
    return opc_global_init_mem(OPC_GLOBAL_DEFAULT, malloc, realloc, free) == OPC_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nfkd_every_form_opens_one_account),
        cmocka_unit_test(test_nfkd_create_and_signup_refuse_invalid_utf8),
        cmocka_unit_test(test_nfkd_legacy_account_is_rekeyed),
        cmocka_unit_test(test_nfkd_legacy_ascii_and_invalid_utf8),
        cmocka_unit_test(test_nfkd_legacy_file_with_verifier_rekeys_both),
        cmocka_unit_test(test_nfkd_rekey_statements_are_the_stores_own),
    };
    /* The server's threads allocate too: the system allocator, not cmocka's. */
    const struct CMUnitTest threaded[] = {
        cmocka_unit_test(test_nfkd_through_account_server),
    };
    int failed = cmocka_run_group_tests_name("account_nfkd", tests, opc_test_group_setup,
                                             opc_test_group_teardown);
    failed += cmocka_run_group_tests_name("account_nfkd_server", threaded, sys_setup,
                                          opc_test_group_teardown);
    return failed;
}
