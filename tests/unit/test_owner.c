/*
 * tests/unit/test_owner.c - the owner over the network without a socket
 * (docs/protocol.md, "Owner sign-in"): the sign-up's rows made by the
 * account's own key-making code; the store's owner operations (a new
 * account file, one per email, the sign-in data by email, the account row;
 * a local account file has no SRP row); SRP against the stored verifier
 * and the keyset unlocked from the row with the AUK; the schema migration
 * v2 -> v3; the messages' round trips and refusals; the session kinds; the
 * answer for an unknown email; the pending sign-ins; the limits.
 */
#include "store_fixture.h"

#include <openssl/crypto.h>

#include "account/signup.h"
#include "accountd/accountd.h"
#include "core/alloc.h"
#include "crypto/srp.h"
#include "wire/proto.h"

#define EMAIL "Remote.Owner@Example.COM"
#define EMAIL_LC "remote.owner@example.com"
#define PW "a remote password"

static void make_signup(const char *email, opc__proto_signup *su, opc_secret **sk)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__account_signup_make(email, PW, FX_ITERATIONS, 1, su, sk, &eb);
    if (rc != OPC_OK) {
        fail_msg("signup make: %s (%s)", opc_errname(rc), eb.msg);
    }
}

/* The sign-up's row: public keys and envelopes only, the email lower-cased. */
static void test_signup_rows(void **state)
{
    (void)state;
    opc__proto_signup su;
    opc_secret *sk = NULL;
    make_signup(EMAIL, &su, &sk);
    assert_string_equal(su.account.email, EMAIL_LC);
    assert_string_equal(su.account.kdf_alg, "PBES2g-HS256");
    assert_int_equal(su.account.iterations, FX_ITERATIONS);
    assert_true(opc__id_valid_str(su.account.id));
    /* The Secret Key's id is the row's skid; the Secret Key is nowhere in it. */
    const char *key = opc_secret_data(sk);
    assert_memory_equal(su.account.skid, key + 3, 6);
    cJSON *j = NULL;
    assert_int_equal(opc__proto_signup_encode(&su, &j), OPC_OK);
    char *text = cJSON_PrintUnformatted(j);
    assert_non_null(text);
    assert_null(strstr(text, key));
    assert_null(strstr(text, key + 10)); /* nor its secret part */
    assert_null(strstr(text, PW));
    assert_null(strstr(text, "\"d\"")); /* no private JWK member */
    /* The SRP salt is not the 2SKD salt. */
    assert_true(memcmp(su.srp_salt, su.account.kdf_salt, sizeof su.srp_salt) != 0);
    /* A round trip through the message, and the decoder's issuer key check. */
    opc__proto_signup back;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__proto_signup_decode(j, &back, &eb), OPC_OK);
    assert_string_equal(back.account.id, su.account.id);
    assert_string_equal(back.account.enc_sym_key, su.account.enc_sym_key);
    assert_memory_equal(back.verifier, su.verifier, sizeof su.verifier);
    opc__proto_signup_clear(&back);
    assert_int_equal(opc__ad_signup_check(&su, &eb), OPC_ERR_RANGE); /* 2 iterations */
    su.account.iterations = OPC_ACCOUNT_MIN_ITERATIONS;
    assert_int_equal(opc__ad_signup_check(&su, &eb), OPC_OK);
    uint8_t keep = su.verifier[0];
    memset(su.verifier, 0xff, sizeof su.verifier); /* above N */
    assert_int_equal(opc__ad_signup_check(&su, &eb), OPC_ERR_PARSE);
    su.verifier[0] = keep;
    cJSON *ik = cJSON_GetObjectItemCaseSensitive(j, "issuerKey");
    cJSON_ReplaceItemInObject(ik, "kid", cJSON_CreateString("abcdefghijklmnopqrstuvwxyz"));
    assert_int_equal(opc__proto_signup_decode(j, &back, &eb), OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "issuer key"));
    cJSON_Delete(j);
    cJSON_free(text);
    opc__proto_signup_clear(&su);
    opc_secret_free(sk);
}

/* SRP with the client's x against the stored verifier; session keys from K
 * with the owner's label, equal on both sides and unlike Connect's. */
static void srp_round(const opc__store_owner *own, const char *email, const char *password,
                      const opc__secret_key *sk, bool expect_ok)
{
    const opc__srp_group *g = opc__srp_group_get(OPC_SRP_GROUP_BITS);
    uint8_t A[OPC_PROTO_SRP_LEN], B[OPC_PROTO_SRP_LEN], M1[32], M2[32], Kc[32], Ks[32], x[32];
    opc__srp_client *c = NULL;
    opc__srp_server *s = NULL;
    assert_int_equal(opc__srp_client_start(g, A, sizeof A, &c, NULL), OPC_OK);
    assert_int_equal(opc__srp_server_start(g, email, strlen(email), own->srp_salt,
                                           sizeof own->srp_salt, own->verifier,
                                           sizeof own->verifier, B, sizeof B, &s, NULL),
                     OPC_OK);
    assert_int_equal(
        opc__2skd_srp_x_raw(password, email, sk, own->srp_salt, own->iterations, x, NULL), OPC_OK);
    assert_int_equal(opc__srp_client_finish(c, email, strlen(email), own->srp_salt,
                                            sizeof own->srp_salt, x, sizeof x, B, sizeof B, M1,
                                            sizeof M1, NULL),
                     OPC_OK);
    opc_err rc =
        opc__srp_server_verify(s, A, sizeof A, M1, sizeof M1, M2, sizeof M2, Ks, sizeof Ks, NULL);
    if (!expect_ok) {
        assert_int_equal(rc, OPC_ERR_SIGNATURE);
    } else {
        assert_int_equal(rc, OPC_OK);
        assert_int_equal(opc__srp_client_verify(c, M2, sizeof M2, Kc, sizeof Kc, NULL), OPC_OK);
        assert_memory_equal(Kc, Ks, sizeof Kc);
        char *t = NULL;
        size_t tl = 0;
        assert_int_equal(opc__proto_owner_transcript("AAAAAAAAAAAAAAAAAAAAAA", own->account,
                                                     "BBBBBBBBBBBBBBBBBBBBBB", 123, &t, &tl),
                         OPC_OK);
        opc__proto_keys ko, kc;
        assert_int_equal(opc__proto_session_keys(Kc, 32, t, tl, OPC_PROTO_KEYS_INFO_OWNER, &ko),
                         OPC_OK);
        assert_int_equal(opc__proto_session_keys(Kc, 32, t, tl, OPC_PROTO_KEYS_INFO_CONNECT, &kc),
                         OPC_OK);
        assert_true(memcmp(&ko, &kc, sizeof ko) != 0);
        assert_true(memcmp(ko.k_req, ko.k_res, 32) != 0);
        opc__free(t);
    }
    opc__srp_client_free(c);
    opc__srp_server_free(s);
}

static void test_store_owner(void **state)
{
    (void)state;
    tx t;
    tx_setup(&t);
    opc__store *st = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__store_sqlite_open(t.dir, &st, &eb), OPC_OK);
    assert_int_equal(opc__store_count(st), 2);

    opc__proto_signup su;
    opc_secret *sk_text = NULL;
    make_signup(EMAIL, &su, &sk_text);
    assert_int_equal(opc__store_owner_create(st, &su, &eb), OPC_OK);
    assert_int_equal(opc__store_count(st), 3);
    char path[400];
    snprintf(path, sizeof path, "%s/%s.db", t.dir, su.account.id);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* The same email again (any case: the message carries it lower-cased)
     * and the same id again: refused, nothing written. */
    opc__proto_signup su2;
    opc_secret *sk2 = NULL;
    make_signup(EMAIL, &su2, &sk2);
    assert_int_equal(opc__store_owner_create(st, &su2, &eb), OPC_ERR_EXISTS);
    char path2[400];
    snprintf(path2, sizeof path2, "%s/%s.db", t.dir, su2.account.id);
    assert_int_equal(stat(path2, &sb), -1);
    snprintf(su2.account.email, sizeof su2.account.email, "other@example.com");
    memcpy(su2.account.id, su.account.id, sizeof su2.account.id);
    assert_int_equal(opc__store_owner_create(st, &su2, &eb), OPC_ERR_EXISTS);
    /* The email of a local account file too (fx's owner@example.com). */
    snprintf(su2.account.email, sizeof su2.account.email, "owner@example.com");
    assert_int_equal(opc__id_generate(su2.account.id), OPC_OK);
    assert_int_equal(opc__store_owner_create(st, &su2, &eb), OPC_ERR_EXISTS);
    opc__proto_signup_clear(&su2);
    opc_secret_free(sk2);

    /* The sign-in data by email. */
    opc__store_owner own;
    assert_int_equal(opc__store_owner_lookup(st, EMAIL_LC, &own, &eb), OPC_OK);
    assert_string_equal(own.account, su.account.id);
    assert_memory_equal(own.srp_salt, su.srp_salt, sizeof own.srp_salt);
    assert_memory_equal(own.verifier, su.verifier, sizeof own.verifier);
    assert_memory_equal(own.kdf_salt, su.account.kdf_salt, sizeof own.kdf_salt);
    assert_int_equal(own.iterations, FX_ITERATIONS);
    assert_int_equal(opc__store_owner_lookup(st, "nobody@example.com", &own, &eb),
                     OPC_ERR_NOT_FOUND);
    /* A local account file has no SRP row: no sign-in over the network. */
    assert_int_equal(opc__store_owner_lookup(st, "owner@example.com", &own, &eb),
                     OPC_ERR_NOT_FOUND);

    /* SRP with the right password and Secret Key, then a wrong password. */
    assert_int_equal(opc__store_owner_lookup(st, EMAIL_LC, &own, &eb), OPC_OK);
    opc__secret_key sk;
    assert_int_equal(opc__secret_key_parse(opc_secret_data(sk_text), &sk, NULL), OPC_OK);
    srp_round(&own, EMAIL_LC, PW, &sk, true);
    srp_round(&own, EMAIL_LC, "not the password", &sk, false);

    /* The account row, unlocked from it with the AUK; a wrong AUK refused. */
    opc__proto_account row;
    assert_int_equal(opc__store_owner_account(st, su.account.id, &row, &eb), OPC_OK);
    assert_string_equal(row.enc_sym_key, su.account.enc_sym_key);
    assert_string_equal(row.pub_key, su.account.pub_key);
    assert_string_equal(row.spub_key, su.account.spub_key);
    uint8_t auk[32];
    assert_int_equal(opc__account_auk(PW, EMAIL_LC, &sk, row.kdf_salt, row.iterations, 1, auk, &eb),
                     OPC_OK);
    opc_account *a = NULL;
    assert_int_equal(opc__account_from_row(&row, auk, &a, &eb), OPC_OK);
    assert_true(opc_account_is_unlocked(a));
    assert_string_equal(opc_account_id(a), su.account.id);
    assert_string_equal(opc_account_email(a), EMAIL_LC);
    /* No file behind it: the calls that need one are refused, not run. */
    char *json = NULL;
    assert_int_equal(opc_account_vault_list(a, &json), OPC_ERR_UNSUPPORTED);
    assert_null(json);
    opc_account_free(a);
    auk[0] ^= 1;
    assert_int_equal(opc__account_from_row(&row, auk, &a, &eb), OPC_ERR_DECRYPT);
    assert_null(a);
    opc__proto_account_clear(&row);
    assert_int_equal(opc__store_owner_account(st, "abcdefghijklmnopqrstuvwxyz", &row, &eb),
                     OPC_ERR_NOT_FOUND);

    /* A new store on the directory finds the account by its email. */
    opc__store_close(st);
    assert_int_equal(opc__store_sqlite_open(t.dir, &st, &eb), OPC_OK);
    assert_int_equal(opc__store_owner_lookup(st, EMAIL_LC, &own, &eb), OPC_OK);
    assert_string_equal(own.account, su.account.id);
    opc__store_close(st);
    OPENSSL_cleanse(&sk, sizeof sk);
    opc__proto_signup_clear(&su);
    opc_secret_free(sk_text);
    tx_teardown(&t);
}

/* A v2 file (before owner_srp) opens as v3. */
static void test_migration_v2(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char path[sizeof f.path];
    snprintf(path, sizeof path, "%s", f.path);
    opc_account_free(f.a);
    f.a = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "DROP TABLE owner_srp; PRAGMA user_version = 2;", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__account_open_ex(path, 1, &f.a, &eb), OPC_OK);
    FX_OK(f.a, opc_account_unlock(f.a, FX_PASSWORD, opc_secret_data(f.sk)));
    uint8_t salt[16], v[OPC_PROTO_SRP_LEN];
    assert_int_equal(opc__account_srp(f.a, salt, v, &eb), OPC_ERR_NOT_FOUND);
    opc_account_free(f.a);
    f.a = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(db, "SELECT count(*) FROM owner_srp", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    fx_destroy(&f);
}

/* The sign-in messages: round trips and strict refusals. */
static void test_messages(void **state)
{
    (void)state;
    opc__proto_auth_start m;
    memset(&m, 0, sizeof m);
    snprintf(m.email, sizeof m.email, "a@b.example");
    memset(m.A, 7, sizeof m.A);
    cJSON *j = NULL;
    assert_int_equal(opc__proto_auth_start_encode(&m, &j), OPC_OK);
    opc__proto_auth_start back;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__proto_auth_start_decode(j, &back, &eb), OPC_OK);
    assert_memory_equal(back.A, m.A, sizeof m.A);
    cJSON_ReplaceItemInObject(j, "email", cJSON_CreateString("A@b.example"));
    assert_int_equal(opc__proto_auth_start_decode(j, &back, &eb), OPC_ERR_PARSE);
    cJSON_ReplaceItemInObject(j, "email", cJSON_CreateString("a@b.example"));
    cJSON_ReplaceItemInObject(j, "A", cJSON_CreateString("AAAA"));
    assert_int_equal(opc__proto_auth_start_decode(j, &back, &eb), OPC_ERR_PARSE);
    cJSON_Delete(j);

    opc__proto_auth_challenge ch;
    memset(&ch, 3, sizeof ch);
    snprintf(ch.id, sizeof ch.id, "AAAAAAAAAAAAAAAAAAAAAA");
    ch.iterations = 650000;
    assert_int_equal(opc__proto_auth_challenge_encode(&ch, &j), OPC_OK);
    opc__proto_auth_challenge cb;
    assert_int_equal(opc__proto_auth_challenge_decode(j, &cb, &eb), OPC_OK);
    assert_memory_equal(cb.B, ch.B, sizeof cb.B);
    assert_int_equal(cb.iterations, 650000);
    cJSON_ReplaceItemInObject(j, "v", cJSON_CreateNumber(2));
    assert_int_equal(opc__proto_auth_challenge_decode(j, &cb, &eb), OPC_ERR_PARSE);
    cJSON_Delete(j);

    opc__proto_auth_session ss;
    memset(&ss, 0, sizeof ss);
    memset(ss.M2, 9, sizeof ss.M2);
    snprintf(ss.account, sizeof ss.account, "abcdefghijklmnopqrstuvwxyz");
    snprintf(ss.session, sizeof ss.session, "BBBBBBBBBBBBBBBBBBBBBB");
    ss.expires = 1700000000;
    ss.idle_s = OPC_PROTO_OWNER_IDLE_S;
    assert_int_equal(opc__proto_auth_session_encode(&ss, &j), OPC_OK);
    opc__proto_auth_session sb;
    assert_int_equal(opc__proto_auth_session_decode(j, &sb, &eb), OPC_OK);
    assert_string_equal(sb.session, ss.session);
    assert_int_equal(sb.expires, ss.expires);
    cJSON_ReplaceItemInObject(j, "session", cJSON_CreateString("short"));
    assert_int_equal(opc__proto_auth_session_decode(j, &sb, &eb), OPC_ERR_PARSE);
    cJSON_Delete(j);

    /* The account row: GET /v1/owner/account's answer carries the server's
     * key pin (required); the sign-up's row does not. */
    opc__proto_signup su;
    opc_secret *sk = NULL;
    make_signup(EMAIL, &su, &sk);
    opc_secret_free(sk);
    assert_int_equal(opc__proto_account_encode(&su.account, &j), OPC_OK);
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "serverPin"));
    opc__proto_account row;
    assert_int_equal(opc__proto_account_decode(j, &row, &eb), OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "serverPin"));
    cJSON_Delete(j);
    opc__key *k = NULL;
    assert_int_equal(opc__key_generate_ec("", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &k), OPC_OK);
    char pin[OPC_PROTO_HASH_B64 + 1];
    assert_int_equal(opc__proto_pin(k, pin), OPC_OK);
    opc__key_free(k);
    memcpy(su.account.server_pin, pin, sizeof pin);
    assert_int_equal(opc__proto_account_encode(&su.account, &j), OPC_OK);
    assert_int_equal(opc__proto_account_decode(j, &row, &eb), OPC_OK);
    assert_string_equal(row.server_pin, pin);
    assert_string_equal(row.enc_spri_key, su.account.enc_spri_key);
    opc__proto_account_clear(&row);
    static const char *const bad[] = {
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 42 characters */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 44 */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",  /* not b64url */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON_ReplaceItemInObject(j, "serverPin", cJSON_CreateString(bad[i]));
        assert_int_equal(opc__proto_account_decode(j, &row, &eb), OPC_ERR_PARSE);
    }
    cJSON_ReplaceItemInObject(j, "serverPin", cJSON_CreateNumber(1));
    assert_int_equal(opc__proto_account_decode(j, &row, &eb), OPC_ERR_PARSE);
    cJSON_Delete(j);
    memcpy(su.account.server_pin, bad[0], strlen(bad[0]) + 1);
    assert_int_equal(opc__proto_account_encode(&su.account, &j), OPC_ERR_INVALID_ARG);
    assert_null(j);
    /* The sign-up message: its row without a pin, and decoded without one. */
    su.account.server_pin[0] = '\0';
    assert_int_equal(opc__proto_signup_encode(&su, &j), OPC_OK);
    opc__proto_signup su2;
    assert_int_equal(opc__proto_signup_decode(j, &su2, &eb), OPC_OK);
    assert_string_equal(su2.account.server_pin, "");
    opc__proto_signup_clear(&su2);
    cJSON_Delete(j);
    opc__proto_signup_clear(&su);
}

/* Owner and Connect sessions: one check, each kind its own endpoints and limits. */
static void test_session_kinds(void **state)
{
    (void)state;
    opc__ad_sessions *t = NULL;
    assert_int_equal(opc__ad_sessions_create(8, &t), OPC_OK);
    opc__proto_keys k;
    memset(&k, 5, sizeof k);
    const char *own = "OOOOOOOOOOOOOOOOOOOOOO";
    const char *con = "CCCCCCCCCCCCCCCCCCCCCC";
    const char *acct = "abcdefghijklmnopqrstuvwxyz";
    const char *srv = "zyxwvutsrqponmlkjihgfedcba";
    int64_t now = 1000000;
    assert_int_equal(opc__ad_sessions_add(t, own, OPC_AD_KIND_OWNER, acct, "", &k,
                                          now + OPC_PROTO_OWNER_TTL_S, now),
                     OPC_OK);
    assert_int_equal(
        opc__ad_sessions_add(t, con, OPC_AD_KIND_CONNECT, acct, srv, &k, now + 600, now), OPC_OK);
    /* An owner session needs no server id; a Connect session does. */
    assert_int_equal(opc__ad_sessions_add(t, con, OPC_AD_KIND_CONNECT, acct, "", &k, now + 6, now),
                     OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__ad_sessions_add(t, own, OPC_AD_KIND_OWNER, acct, srv, &k, now + 6, now),
                     OPC_ERR_INVALID_ARG);
    char mac[OPC_PROTO_HASH_B64 + 1];
    opc__ad_auth au;
    opc__ebuf eb;
    uint64_t n = 1;
    const char *ta = "/v1/owner/account";
    const char *tc = "/v1/connect/changes";
#define CHECK(sid, kind, target, when)                                                             \
    (opc__proto_mac_request(&k, sid, n, "GET", target, "", 0, mac) == OPC_OK                       \
         ? opc__ad_sessions_check(t, sid, kind, n++, "GET", target, "", 0, mac, when, &au, &eb)    \
         : OPC_ERR_INTERNAL)
    opc__ebuf_clear(&eb);
    /* Each on its own kind's endpoints. */
    assert_int_equal(CHECK(own, OPC_AD_KIND_OWNER, ta, now), OPC_OK);
    assert_int_equal(au.kind, OPC_AD_KIND_OWNER);
    assert_string_equal(au.server, "");
    assert_int_equal(CHECK(con, OPC_AD_KIND_CONNECT, tc, now), OPC_OK);
    assert_int_equal(au.kind, OPC_AD_KIND_CONNECT);
    /* Never the other kind's, with a valid MAC and counter. */
    assert_int_equal(CHECK(own, OPC_AD_KIND_CONNECT, tc, now), OPC_ERR_TOKEN);
    assert_non_null(strstr(eb.msg, "other kind"));
    assert_int_equal(CHECK(con, OPC_AD_KIND_OWNER, ta, now), OPC_ERR_TOKEN);
    /* The refusal recorded no counter: the same n works on the right kind. */
    n--;
    assert_int_equal(CHECK(con, OPC_AD_KIND_CONNECT, tc, now), OPC_OK);
    /* Idle limits of their own: 120 s for Connect, 30 min for the owner. */
    int64_t later = now + OPC_PROTO_SESSION_IDLE_S + 1;
    assert_int_equal(CHECK(con, OPC_AD_KIND_CONNECT, tc, later), OPC_ERR_TOKEN);
    assert_int_equal(CHECK(own, OPC_AD_KIND_OWNER, ta, later), OPC_OK);
    assert_int_equal(CHECK(own, OPC_AD_KIND_OWNER, ta, later + OPC_PROTO_OWNER_IDLE_S),
                     OPC_ERR_TOKEN);
    /* Absolute expiry even when in use; sign-out ends it at once. */
    assert_int_equal(opc__ad_sessions_add(t, own, OPC_AD_KIND_OWNER, acct, "", &k, now + 3000, now),
                     OPC_OK);
    n = 1;
    for (int64_t s = 0; s < 3000; s += 1000) {
        assert_int_equal(CHECK(own, OPC_AD_KIND_OWNER, ta, now + s), OPC_OK);
    }
    assert_int_equal(CHECK(own, OPC_AD_KIND_OWNER, ta, now + 3000), OPC_ERR_TOKEN);
    assert_int_equal(opc__ad_sessions_add(t, own, OPC_AD_KIND_OWNER, acct, "", &k, now + 3000, now),
                     OPC_OK);
    assert_true(opc__ad_sessions_end(t, own));
    assert_false(opc__ad_sessions_end(t, own));
    assert_int_equal(CHECK(own, OPC_AD_KIND_OWNER, ta, now), OPC_ERR_TOKEN);
#undef CHECK
    opc__ad_auth_clear(&au);
    opc__ad_sessions_free(t);
    /* The routes' kinds. */
    assert_int_equal(opc__ad_route_kind(OPC_AD_OWNER_ACCOUNT), OPC_AD_KIND_OWNER);
    assert_int_equal(opc__ad_route_kind(OPC_AD_OWNER_SIGNOUT), OPC_AD_KIND_OWNER);
    assert_int_equal(opc__ad_route_kind(OPC_AD_CHANGES), OPC_AD_KIND_CONNECT);
    assert_int_equal(opc__ad_route_kind(OPC_AD_ITEM_PUT), OPC_AD_KIND_CONNECT);
    assert_int_equal((int)opc__ad_route_kind(OPC_AD_OWNER_AUTH_START), 0);
    opc__ad_match m;
    assert_int_equal(opc__ad_route_match("POST", "/v1/owner/auth/verify", &m, NULL), OPC_OK);
    assert_int_equal(m.route, OPC_AD_OWNER_AUTH_VERIFY);
    assert_false(m.bad_method);
    assert_int_equal(opc__ad_route_match("GET", "/v1/owner/signup", &m, NULL), OPC_OK);
    assert_int_equal(m.route, OPC_AD_OWNER_SIGNUP);
    assert_true(m.bad_method);
}

/* An unknown email: the same shape as a real account, stable per email. */
static void test_fake(void **state)
{
    (void)state;
    uint8_t secret[32], other[32];
    memset(secret, 1, sizeof secret);
    memset(other, 2, sizeof other);
    uint8_t s1[16], k1[16], v1[OPC_PROTO_SRP_LEN], s2[16], k2[16], v2[OPC_PROTO_SRP_LEN];
    assert_int_equal(opc__ad_owner_fake(secret, "ghost@example.com", s1, k1, v1, NULL), OPC_OK);
    assert_int_equal(opc__ad_owner_fake(secret, "ghost@example.com", s2, k2, v2, NULL), OPC_OK);
    assert_memory_equal(s1, s2, 16);
    assert_memory_equal(k1, k2, 16);
    assert_memory_equal(v1, v2, sizeof v1);
    assert_true(memcmp(s1, k1, 16) != 0);
    assert_int_equal(opc__ad_owner_fake(secret, "other@example.com", s2, k2, v2, NULL), OPC_OK);
    assert_true(memcmp(s1, s2, 16) != 0 && memcmp(k1, k2, 16) != 0);
    assert_int_equal(opc__ad_owner_fake(other, "ghost@example.com", s2, k2, v2, NULL), OPC_OK);
    assert_true(memcmp(s1, s2, 16) != 0);
    /* The fake verifier drives the server exactly as a real one: a B of
     * |N| bytes, and a proof refused like a wrong password's. */
    const opc__srp_group *g = opc__srp_group_get(OPC_SRP_GROUP_BITS);
    uint8_t A[OPC_PROTO_SRP_LEN], B[OPC_PROTO_SRP_LEN], M1[32], M2[32], K[32];
    opc__srp_client *c = NULL;
    opc__srp_server *s = NULL;
    assert_int_equal(opc__srp_client_start(g, A, sizeof A, &c, NULL), OPC_OK);
    assert_int_equal(opc__srp_server_start(g, "ghost@example.com", 17, s1, 16, v1, sizeof v1, B,
                                           sizeof B, &s, NULL),
                     OPC_OK);
    uint8_t x[32];
    memset(x, 0x42, sizeof x);
    assert_int_equal(opc__srp_client_finish(c, "ghost@example.com", 17, s1, 16, x, sizeof x, B,
                                            sizeof B, M1, sizeof M1, NULL),
                     OPC_OK);
    assert_int_equal(
        opc__srp_server_verify(s, A, sizeof A, M1, sizeof M1, M2, sizeof M2, K, sizeof K, NULL),
        OPC_ERR_SIGNATURE);
    opc__srp_client_free(c);
    opc__srp_server_free(s);
    /* The limiter key of an email: fixed length, case matters not (the
     * caller lower-cases), different emails differ. */
    char e1[OPC_PROTO_HASH_B64 + 1], e2[OPC_PROTO_HASH_B64 + 1];
    assert_int_equal(opc__ad_email_key("a@example.com", e1), OPC_OK);
    assert_int_equal(opc__ad_email_key("b@example.com", e2), OPC_OK);
    assert_int_equal(strlen(e1), OPC_PROTO_HASH_B64);
    assert_string_not_equal(e1, e2);
}

/* Pending sign-ins: one use each, gone after OPC_PROTO_OWNER_PENDING_S,
 * bounded (the oldest goes). */
static void test_pending(void **state)
{
    (void)state;
    opc__ad_pending *p = NULL;
    assert_int_equal(opc__ad_pending_create(2, &p), OPC_OK);
    const opc__srp_group *g = opc__srp_group_get(OPC_SRP_GROUP_BITS);
    uint8_t v[OPC_PROTO_SRP_LEN], B[OPC_PROTO_SRP_LEN], salt[16];
    uint8_t secret[32] = {0};
    assert_int_equal(opc__ad_owner_fake(secret, "p@example.com", salt, salt, v, NULL), OPC_OK);
    char ids[3][OPC_PROTO_NONCE_B64 + 1];
    int64_t now = 5000000;
    for (int i = 0; i < 3; i++) {
        opc__ad_signin in;
        memset(&in, 0, sizeof in);
        snprintf(in.account, sizeof in.account, "abcdefghijklmnopqrstuvwxyz");
        assert_int_equal(opc__srp_server_start(g, "p@example.com", 13, salt, 16, v, sizeof v, B,
                                               sizeof B, &in.srp, NULL),
                         OPC_OK);
        assert_int_equal(opc__ad_pending_add(p, &in, now + i, ids[i]), OPC_OK);
        assert_null(in.srp); /* moved into the table */
    }
    opc__ad_signin out;
    assert_int_equal(opc__ad_pending_take(p, ids[0], now + 3, &out), OPC_ERR_NOT_FOUND);
    assert_int_equal(opc__ad_pending_take(p, ids[1], now + 3, &out), OPC_OK);
    assert_non_null(out.srp);
    assert_string_equal(out.account, "abcdefghijklmnopqrstuvwxyz");
    opc__ad_signin_clear(&out);
    assert_int_equal(opc__ad_pending_take(p, ids[1], now + 3, &out), OPC_ERR_NOT_FOUND);
    assert_int_equal(
        opc__ad_pending_take(p, ids[2], now + 2 + OPC_PROTO_OWNER_PENDING_S * 1000, &out),
        OPC_ERR_NOT_FOUND);
    assert_int_equal(opc__ad_pending_take(p, "short", now, &out), OPC_ERR_NOT_FOUND);
    opc__ad_pending_free(p);
}

/* The owner's limits: 10 failures per 5 minutes, then a Retry-After of the
 * window's rest; per key (an address, an email's key). */
static void test_owner_limits(void **state)
{
    (void)state;
    opc__ad_limiter *l = NULL;
    assert_int_equal(opc__ad_limiter_create_ex(0, 1000, &l), OPC_ERR_INVALID_ARG);
    assert_int_equal(
        opc__ad_limiter_create_ex(OPC_AD_OWNER_FAIL_LIMIT, OPC_AD_OWNER_FAIL_WINDOW_MS, &l),
        OPC_OK);
    int64_t now = 9000000;
    for (int i = 0; i < OPC_AD_OWNER_FAIL_LIMIT; i++) {
        assert_int_equal(opc__ad_limiter_blocked(l, "192.0.2.1", now + i), 0);
        opc__ad_limiter_fail(l, "192.0.2.1", now + i);
    }
    int w = opc__ad_limiter_blocked(l, "192.0.2.1", now + 10);
    assert_true(w > 0 && w <= OPC_AD_OWNER_FAIL_WINDOW_MS / 1000);
    assert_int_equal(opc__ad_limiter_blocked(l, "192.0.2.2", now + 10), 0);
    char key[OPC_PROTO_HASH_B64 + 1];
    assert_int_equal(opc__ad_email_key("victim@example.com", key), OPC_OK);
    assert_int_equal(opc__ad_limiter_blocked(l, key, now + 10), 0);
    assert_int_equal(opc__ad_limiter_blocked(l, "192.0.2.1", now + OPC_AD_OWNER_FAIL_WINDOW_MS), 0);
    opc__ad_limiter_free(l);
    /* The handshake limiter keeps its own numbers. */
    assert_int_equal(opc__ad_limiter_create(&l), OPC_OK);
    for (int i = 0; i < OPC_AD_OWNER_FAIL_LIMIT; i++) {
        opc__ad_limiter_fail(l, "192.0.2.1", now);
    }
    assert_int_equal(opc__ad_limiter_blocked(l, "192.0.2.1", now), 0); /* 20 there */
    opc__ad_limiter_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signup_rows),   cmocka_unit_test(test_store_owner),
        cmocka_unit_test(test_migration_v2),  cmocka_unit_test(test_messages),
        cmocka_unit_test(test_session_kinds), cmocka_unit_test(test_fake),
        cmocka_unit_test(test_pending),       cmocka_unit_test(test_owner_limits),
    };
    return cmocka_run_group_tests_name("owner", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
