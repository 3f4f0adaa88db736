/*
 * tests/unit/test_tls_acme.c - ACME messages of lib/tls (acme_msg.c) and
 * the data-directory store (store.c): the flattened JWS (jwk, then kid;
 * POST-as-GET), the JWK thumbprint and key authorization, the strict
 * parsers of directory, problem, order and authorization documents,
 * Retry-After, domain and URL checks, and the account and certificate
 * files.
 */
#include "harness.h"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/json.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "tls/acme.h"

/* RFC 7515 A.3 P-256 key (public test vector). */
#define A3_JWK                                                                                 \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","  \
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","                                    \
    "\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}"

static opc__key *a3_key(void)
{
    opc__key *k = NULL;
    assert_int_equal(opc__jwk_parse(A3_JWK, strlen(A3_JWK), OPC_JWK_REQUIRE_PRIVATE, &k, NULL),
                     OPC_OK);
    return k;
}

static char *b64dec(const char *s, size_t n)
{
    unsigned char *out = NULL;
    size_t len = 0;
    assert_int_equal(opc__b64_decode(s, n, OPC_B64URL, &out, &len, NULL), OPC_OK);
    return (char *)out;
}

/* ---- JWS ---- */

static void check_jws(const char *jws, const opc__key *k, const char *want_header,
                      const char *want_payload)
{
    cJSON *j = NULL;
    assert_int_equal(opc__json_parse(jws, strlen(jws), NULL, &j, NULL), OPC_OK);
    const char *prot = NULL;
    const char *payload = NULL;
    const char *sig = NULL;
    static const char *const only[] = {"protected", "payload", "signature", NULL};
    assert_int_equal(opc__json_only_members(j, only, "jws", NULL), OPC_OK);
    assert_int_equal(opc__json_get_str(j, "protected", true, "jws", &prot, NULL), OPC_OK);
    assert_int_equal(opc__json_get_str(j, "payload", true, "jws", &payload, NULL), OPC_OK);
    assert_int_equal(opc__json_get_str(j, "signature", true, "jws", &sig, NULL), OPC_OK);
    char *h = b64dec(prot, strlen(prot));
    assert_string_equal(h, want_header);
    opc__free(h);
    if (want_payload[0] == '\0') {
        assert_string_equal(payload, "");
    } else {
        char *p = b64dec(payload, strlen(payload));
        assert_string_equal(p, want_payload);
        opc__free(p);
    }
    /* the signature covers protected "." payload */
    char input[4096];
    snprintf(input, sizeof input, "%s.%s", prot, payload);
    unsigned char raw[64];
    size_t raw_len = 0;
    assert_int_equal(opc__b64_decode_to(sig, strlen(sig), OPC_B64URL, raw, sizeof raw, &raw_len,
                                        NULL),
                     OPC_OK);
    opc__key *pub = NULL;
    assert_int_equal(opc__key_public(k, &pub), OPC_OK);
    assert_int_equal(opc__ecdsa_verify(pub, input, strlen(input), raw, raw_len, NULL), OPC_OK);
    opc__key_free(pub);
    cJSON_Delete(j);
}

static void test_jws_jwk_then_kid(void **state)
{
    (void)state;
    opc__key *k = a3_key();
    char *jwk = NULL;
    assert_int_equal(opc__jwk_canonical(k, &jwk), OPC_OK);
    assert_string_equal(jwk, "{\"crv\":\"P-256\",\"kty\":\"EC\","
                             "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                             "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}");
    char *jws = NULL;
    assert_int_equal(opc__acme_jws(k, NULL, "nonce-1", "https://ca.example/new-acct",
                                   "{\"termsOfServiceAgreed\":true}", &jws),
                     OPC_OK);
    char want[1024];
    snprintf(want, sizeof want,
             "{\"alg\":\"ES256\",\"jwk\":%s,\"nonce\":\"nonce-1\","
             "\"url\":\"https://ca.example/new-acct\"}",
             jwk);
    check_jws(jws, k, want, "{\"termsOfServiceAgreed\":true}");
    opc__free(jws);
    /* with the account URL, and POST-as-GET (empty payload) */
    assert_int_equal(opc__acme_jws(k, "https://ca.example/acct/1", "n\"2", "https://ca.example/o/1",
                                   "", &jws),
                     OPC_OK);
    check_jws(jws, k,
              "{\"alg\":\"ES256\",\"kid\":\"https://ca.example/acct/1\",\"nonce\":\"n\\\"2\","
              "\"url\":\"https://ca.example/o/1\"}",
              "");
    opc__free(jws);
    opc__free(jwk);
    opc__key_free(k);
}

static void test_thumbprint_and_key_authorization(void **state)
{
    (void)state;
    opc__key *k = a3_key();
    char tp[OPC_JWK_THUMBPRINT_LEN + 1];
    assert_int_equal(opc__jwk_thumbprint(k, tp), OPC_OK);
    assert_int_equal(strlen(tp), 43);
    /* independently: SHA-256 of the canonical JWK */
    const char *canon = "{\"crv\":\"P-256\",\"kty\":\"EC\","
                        "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
    unsigned char h[32];
    unsigned hl = 0;
    EVP_Digest(canon, strlen(canon), h, &hl, EVP_sha256(), NULL);
    char want[44];
    assert_int_equal(opc__b64_encode_to(h, 32, OPC_B64URL, want, sizeof want, NULL), OPC_OK);
    assert_string_equal(tp, want);
    char *ka = NULL;
    assert_int_equal(opc__acme_key_authorization("tok_EN-1", k, &ka), OPC_OK);
    char expect[64];
    snprintf(expect, sizeof expect, "tok_EN-1.%s", want);
    assert_string_equal(ka, expect);
    opc__free(ka);
    opc__key_free(k);
}

/* ---- parsers ---- */

#define PARSE(fn, text, out) fn(text, strlen(text), out, &eb)

static void test_parse_directory(void **state)
{
    (void)state;
    opc__acme_directory d;
    opc__ebuf eb;
    const char *ok = "{\"newNonce\":\"https://ca/nonce\",\"newAccount\":\"https://ca/acct\","
                     "\"newOrder\":\"https://ca/order\",\"meta\":{\"termsOfService\":\"x\"},"
                     "\"keyChange\":\"https://ca/kc\"}";
    assert_int_equal(PARSE(opc__acme_parse_directory, ok, &d), OPC_OK);
    assert_string_equal(d.new_nonce, "https://ca/nonce");
    assert_string_equal(d.new_account, "https://ca/acct");
    assert_string_equal(d.new_order, "https://ca/order");
    assert_int_equal(PARSE(opc__acme_parse_directory, "{\"newNonce\":\"https://ca/n\"}", &d),
                     OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "missing \"newAccount\""));
    assert_int_equal(PARSE(opc__acme_parse_directory,
                           "{\"newNonce\":\"http://ca/n\",\"newAccount\":\"https://a\","
                           "\"newOrder\":\"https://o\"}",
                           &d),
                     OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "not an https URL"));
    assert_int_equal(PARSE(opc__acme_parse_directory,
                           "{\"newNonce\":\"https://ca/n x\",\"newAccount\":\"https://a\","
                           "\"newOrder\":\"https://o\"}",
                           &d),
                     OPC_ERR_PARSE);
    assert_int_equal(PARSE(opc__acme_parse_directory, "[1,2]", &d), OPC_ERR_PARSE);
    assert_int_equal(PARSE(opc__acme_parse_directory, "{\"a\":1,\"A\":2}", &d), OPC_ERR_PARSE);
    assert_int_equal(PARSE(opc__acme_parse_directory, "", &d), OPC_ERR_PARSE);
}

static void test_parse_problem(void **state)
{
    (void)state;
    opc__acme_problem p;
    opc__ebuf eb;
    assert_int_equal(PARSE(opc__acme_parse_problem,
                           "{\"type\":\"urn:ietf:params:acme:error:badNonce\","
                           "\"detail\":\"JWS has an invalid anti-replay nonce\",\"status\":400}",
                           &p),
                     OPC_OK);
    assert_string_equal(p.type, "urn:ietf:params:acme:error:badNonce");
    assert_string_equal(p.detail, "JWS has an invalid anti-replay nonce");
    assert_int_equal(p.status, 400);
    /* control characters in the CA's text never reach a log line */
    assert_int_equal(PARSE(opc__acme_parse_problem,
                           "{\"type\":\"urn:x\",\"detail\":\"two\\nlines\\u001b[31m\"}", &p),
                     OPC_OK);
    assert_string_equal(p.detail, "two?lines?[31m");
    assert_int_equal(PARSE(opc__acme_parse_problem, "{\"status\":400}", &p), OPC_ERR_PARSE);
    assert_int_equal(PARSE(opc__acme_parse_problem, "<html>", &p), OPC_ERR_PARSE);
}

static void test_parse_order(void **state)
{
    (void)state;
    opc__acme_order *o = opc__calloc(1, sizeof *o);
    opc__ebuf eb;
    assert_int_equal(PARSE(opc__acme_parse_order,
                           "{\"status\":\"pending\",\"expires\":\"2030-01-01T00:00:00Z\","
                           "\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}],"
                           "\"authorizations\":[\"https://ca/authz/1\"],"
                           "\"finalize\":\"https://ca/finalize/1\"}",
                           o),
                     OPC_OK);
    assert_int_equal(o->status, OPC_ACME_PENDING);
    assert_int_equal(o->n_authz, 1);
    assert_string_equal(o->authz[0], "https://ca/authz/1");
    assert_string_equal(o->finalize, "https://ca/finalize/1");
    assert_string_equal(o->certificate, "");
    assert_int_equal(PARSE(opc__acme_parse_order,
                           "{\"status\":\"invalid\",\"authorizations\":[],"
                           "\"finalize\":\"https://ca/f\",\"error\":{\"type\":\"urn:ietf:params:"
                           "acme:error:unauthorized\",\"detail\":\"no\"}}",
                           o),
                     OPC_OK);
    assert_int_equal(o->status, OPC_ACME_INVALID);
    assert_string_equal(o->error.type, "urn:ietf:params:acme:error:unauthorized");
    assert_int_equal(PARSE(opc__acme_parse_order,
                           "{\"status\":\"valid\",\"authorizations\":[],\"finalize\":\"https://"
                           "ca/f\",\"certificate\":\"https://ca/cert/1\"}",
                           o),
                     OPC_OK);
    assert_string_equal(o->certificate, "https://ca/cert/1");
    /* errors */
    assert_int_equal(PARSE(opc__acme_parse_order,
                           "{\"status\":\"bogus\",\"authorizations\":[],\"finalize\":\"https://f\"}",
                           o),
                     OPC_ERR_PARSE);
    assert_int_equal(PARSE(opc__acme_parse_order,
                           "{\"status\":\"ready\",\"authorizations\":[1],\"finalize\":\"https://f\"}",
                           o),
                     OPC_ERR_PARSE);
    assert_int_equal(PARSE(opc__acme_parse_order,
                           "{\"status\":\"ready\",\"authorizations\":\"x\",\"finalize\":\"https://f\"}",
                           o),
                     OPC_ERR_PARSE);
    assert_int_equal(PARSE(opc__acme_parse_order,
                           "{\"status\":\"ready\",\"authorizations\":[\"https://a\",\"https://a\","
                           "\"https://a\",\"https://a\",\"https://a\",\"https://a\",\"https://a\","
                           "\"https://a\",\"https://a\"],\"finalize\":\"https://f\"}",
                           o),
                     OPC_ERR_TOO_LARGE);
    opc__free(o);
}

static void test_parse_authz(void **state)
{
    (void)state;
    opc__acme_authz *a = opc__calloc(1, sizeof *a);
    opc__ebuf eb;
    const char *ok =
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"Svc.Example\"},"
        "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://ca/c/1\",\"token\":\"aaa\","
        "\"status\":\"pending\"},{\"type\":\"tls-alpn-01\",\"url\":\"https://ca/c/2\","
        "\"token\":\"DGyRejmCefe7v4NfDGDKfA\",\"status\":\"pending\"},"
        "{\"type\":\"dns-01\",\"url\":\"https://ca/c/3\",\"token\":\"ccc\",\"status\":\"pending\"}],"
        "\"expires\":\"2030-01-01T00:00:00Z\"}";
    assert_int_equal(PARSE(opc__acme_parse_authz, ok, a), OPC_OK);
    assert_int_equal(a->status, OPC_ACME_PENDING);
    assert_string_equal(a->domain, "svc.example");
    assert_true(a->has_challenge);
    assert_string_equal(a->challenge_url, "https://ca/c/2");
    assert_string_equal(a->token, "DGyRejmCefe7v4NfDGDKfA");
    assert_int_equal(a->challenge_status, OPC_ACME_PENDING);
    /* an invalid challenge keeps the CA's error */
    assert_int_equal(
        PARSE(opc__acme_parse_authz,
              "{\"status\":\"invalid\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
              "\"challenges\":[{\"type\":\"tls-alpn-01\",\"url\":\"https://ca/c\",\"token\":\"t\","
              "\"status\":\"invalid\",\"error\":{\"type\":\"urn:ietf:params:acme:error:tls\","
              "\"detail\":\"no acme-tls/1\"}}]}",
              a),
        OPC_OK);
    assert_int_equal(a->challenge_status, OPC_ACME_INVALID);
    assert_string_equal(a->challenge_error.detail, "no acme-tls/1");
    /* no tls-alpn-01 offered */
    assert_int_equal(
        PARSE(opc__acme_parse_authz,
              "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
              "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://ca/c\",\"token\":\"t\","
              "\"status\":\"pending\"}]}",
              a),
        OPC_OK);
    assert_false(a->has_challenge);
    /* a token that is not base64url (it becomes part of a hashed string) */
    assert_int_equal(
        PARSE(opc__acme_parse_authz,
              "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
              "\"challenges\":[{\"type\":\"tls-alpn-01\",\"url\":\"https://ca/c\","
              "\"token\":\"a/b\",\"status\":\"pending\"}]}",
              a),
        OPC_ERR_PARSE);
    /* an IP identifier, a wildcard-looking value */
    assert_int_equal(
        PARSE(opc__acme_parse_authz,
              "{\"status\":\"pending\",\"identifier\":{\"type\":\"ip\",\"value\":\"1.2.3.4\"},"
              "\"challenges\":[]}",
              a),
        OPC_ERR_UNSUPPORTED);
    assert_int_equal(
        PARSE(opc__acme_parse_authz,
              "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"*.a.example\"},"
              "\"challenges\":[]}",
              a),
        OPC_ERR_INVALID_ARG);
    assert_int_equal(PARSE(opc__acme_parse_authz, "{\"status\":\"pending\"}", a), OPC_ERR_PARSE);
    opc__free(a);
}

static void test_retry_after(void **state)
{
    (void)state;
    int64_t s = -1;
    int64_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    assert_int_equal(opc__acme_parse_retry_after("120", 3, now, &s), OPC_OK);
    assert_int_equal(s, 120);
    assert_int_equal(opc__acme_parse_retry_after(" 7 ", 3, now, &s), OPC_OK);
    assert_int_equal(s, 7);
    const char *d = "Sun, 06 Nov 1994 08:50:37 GMT";
    assert_int_equal(opc__acme_parse_retry_after(d, strlen(d), now, &s), OPC_OK);
    assert_int_equal(s, 60);
    d = "Sun, 06 Nov 1994 08:00:00 GMT"; /* in the past */
    assert_int_equal(opc__acme_parse_retry_after(d, strlen(d), now, &s), OPC_OK);
    assert_int_equal(s, 0);
    assert_int_equal(opc__acme_parse_retry_after("999999999", 9, now, &s), OPC_OK);
    assert_int_equal(s, 86400);
    assert_int_equal(opc__acme_parse_retry_after("-5", 2, now, &s), OPC_ERR_PARSE);
    assert_int_equal(opc__acme_parse_retry_after("", 0, now, &s), OPC_ERR_PARSE);
    d = "Sun, 06 Xyz 1994 08:50:37 GMT";
    assert_int_equal(opc__acme_parse_retry_after(d, strlen(d), now, &s), OPC_ERR_PARSE);
}

static void test_domain_and_url(void **state)
{
    (void)state;
    char out[OPC_ACME_DOMAIN_MAX + 1];
    opc__ebuf eb;
    assert_int_equal(opc__acme_domain_check("Connect.Example.COM", out, &eb), OPC_OK);
    assert_string_equal(out, "connect.example.com");
    assert_int_equal(opc__acme_domain_check("localhost", out, &eb), OPC_OK);
    assert_int_equal(opc__acme_domain_check("a-b.c", out, &eb), OPC_OK);
    static const char *const bad[] = {"",        "*.example.com", "-a.example", "a-.example",
                                      "a..b",    "a.example.",    ".a",         "1.2.3.4",
                                      "a b.com", "a/b",           "ä.example"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(bad); i++) {
        if (opc__acme_domain_check(bad[i], out, &eb) != OPC_ERR_INVALID_ARG) {
            fail_msg("domain \"%s\" was accepted", bad[i]);
        }
    }
    char longlabel[80];
    memset(longlabel, 'a', 64);
    memcpy(longlabel + 64, ".com", 5);
    assert_int_equal(opc__acme_domain_check(longlabel, out, &eb), OPC_ERR_INVALID_ARG);
    assert_true(opc__acme_url_ok("https://acme-v02.api.letsencrypt.org/directory"));
    assert_false(opc__acme_url_ok("http://ca/dir"));
    assert_false(opc__acme_url_ok("https://"));
    assert_false(opc__acme_url_ok("https://ca/a b"));
    assert_false(opc__acme_url_ok("https://ca/\x7f"));
}

/* ---- the store ---- */

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A fresh data directory (dir is a mkdtemp template) for svc.example. */
static opc__acme_config store_config(char *dir)
{
    assert_non_null(mkdtemp(dir));
    opc__acme_config cfg = {
        .domain = "svc.example", .directory_url = "https://ca.example/dir", .data_dir = dir};
    return cfg;
}

static void test_store_account(void **state)
{
    (void)state;
    char dir[] = "/tmp/opc_acme_store.XXXXXX";
    opc__acme_config cfg = store_config(dir);
    opc__key *k = NULL;
    char kid[OPC_ACME_URL_MAX];
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    /* first use: a new key, saved 0600 in a 0700 directory */
    assert_int_equal(opc__acme_store_load_account(&cfg, &k, kid, &eb), OPC_OK);
    assert_non_null(k);
    assert_string_equal(kid, "");
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/acme/account.json", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/acme", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(opc__acme_store_save_account(&cfg, k, "https://ca.example/acct/7", &eb),
                     OPC_OK);
    /* reloaded: the same key and the account URL */
    opc__key *k2 = NULL;
    assert_int_equal(opc__acme_store_load_account(&cfg, &k2, kid, &eb), OPC_OK);
    assert_true(opc__key_equal_public(k, k2));
    assert_true(opc__key_is_private(k2));
    assert_string_equal(kid, "https://ca.example/acct/7");
    opc__key_free(k2);
    /* another CA: the same key, no account URL */
    cfg.directory_url = "https://other.example/dir";
    assert_int_equal(opc__acme_store_load_account(&cfg, &k2, kid, &eb), OPC_OK);
    assert_true(opc__key_equal_public(k, k2));
    assert_string_equal(kid, "");
    opc__key_free(k2);
    opc__key_free(k);
    /* a damaged file is an error that names it */
    snprintf(path, sizeof path, "%s/acme/account.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{not json", f);
    fclose(f);
    assert_int_equal(opc__acme_store_load_account(&cfg, &k2, kid, &eb), OPC_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "account.json"));
    rm_rf(dir);
}

static void test_store_cert(void **state)
{
    (void)state;
    char dir[] = "/tmp/opc_acme_cert.XXXXXX";
    opc__acme_config cfg = store_config(dir);
    opc__certkey *ck = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__acme_store_load_cert(&cfg, opc__now_s(), &ck, &eb), OPC_ERR_NOT_FOUND);
    assert_string_equal(eb.msg, "");
    /* a self-signed stand-in for an issued chain */
    void *key = NULL;
    assert_int_equal(opc__tls_ec_key_new(&key), OPC_OK);
    opc__certkey *alpn = NULL;
    assert_int_equal(opc__tls_alpn_cert("svc.example", "x.y", key, opc__now_s(), &alpn), OPC_OK);
    opc__certkey_unref(alpn);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"svc.example", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *chain = NULL;
    long chain_len = BIO_get_mem_data(b, &chain);
    char *kp = NULL;
    size_t kp_len = 0;
    assert_int_equal(opc__tls_key_pem(key, &kp, &kp_len), OPC_OK);
    assert_int_equal(opc__acme_store_save_cert(&cfg, chain, (size_t)chain_len, kp, kp_len, &eb),
                     OPC_OK);
    assert_int_equal(opc__acme_store_load_cert(&cfg, opc__now_s(), &ck, &eb), OPC_OK);
    assert_string_equal(opc__certkey_serial(ck), "2a");
    opc__certkey_unref(ck);
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/acme/svc.example/privkey.pem", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a certificate for another name is not used */
    cfg.domain = "other.example";
    assert_int_equal(opc__acme_store_save_cert(&cfg, chain, (size_t)chain_len, kp, kp_len, &eb),
                     OPC_OK);
    assert_int_equal(opc__acme_store_load_cert(&cfg, opc__now_s(), &ck, &eb), OPC_ERR_NOT_FOUND);
    assert_non_null(strstr(eb.msg, "is not valid for other.example"));
    /* an expired one neither */
    cfg.domain = "svc.example";
    assert_int_equal(opc__acme_store_load_cert(&cfg, opc__now_s() + 7200, &ck, &eb),
                     OPC_ERR_NOT_FOUND);
    assert_non_null(strstr(eb.msg, "expired"));
    opc__secret_free(kp, kp_len + 1);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(key);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jws_jwk_then_kid),
        cmocka_unit_test(test_thumbprint_and_key_authorization),
        cmocka_unit_test(test_parse_directory),
        cmocka_unit_test(test_parse_problem),
        cmocka_unit_test(test_parse_order),
        cmocka_unit_test(test_parse_authz),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_domain_and_url),
        cmocka_unit_test(test_store_account),
        cmocka_unit_test(test_store_cert),
    };
    return cmocka_run_group_tests(tests, opc_test_group_setup, opc_test_group_teardown);
}
