/*
 * tests/unit/test_tls.c - certificates and the per-handshake choice of
 * lib/tls: PEM loading and its one-line errors (no PEM data, malformed,
 * key mismatch, expired, unreadable, encrypted key), chains, reference
 * counting, the TLS-ALPN-01 certificate, the CSR, and real handshakes over
 * memory BIOs against the SSL_CTX of ctx.c (acme-tls/1 gets the challenge
 * certificate, everything else the current one; TLS 1.1 is refused).
 */
#include "harness.h"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/time.h"
#include "tls/tls.h"

/* ---- helpers: keys and certificates made with OpenSSL ---- */

typedef struct pem_pair {
    char cert[8192];
    char key[4096];
} pem_pair;

static EVP_PKEY *new_key(bool rsa)
{
    EVP_PKEY *k = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    assert_non_null(k);
    return k;
}

/* A certificate for host valid [now+nb_off, now+na_off], signed by
 * issuer_key (NULL: self-signed) with issuer name issuer_cn. */
static X509 *make_cert(EVP_PKEY *key, const char *host, long nb_off, long na_off,
                       EVP_PKEY *issuer_key, const char *issuer_cn, long serial)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), nb_off);
    X509_gmtime_adj(X509_getm_notAfter(x), na_off);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)host, -1, -1, 0);
    X509_NAME *iss = X509_NAME_new();
    X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_ASC,
                               (const unsigned char *)(issuer_cn != NULL ? issuer_cn : host), -1,
                               -1, 0);
    X509_set_issuer_name(x, iss);
    X509_NAME_free(iss);
    X509_set_pubkey(x, key);
    char san[300];
    snprintf(san, sizeof san, "DNS:%s", host);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    assert_non_null(e);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void append_cert_pem(char *out, size_t cap, X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    size_t have = strlen(out);
    assert_true(have + (size_t)n + 1 < cap);
    memcpy(out + have, p, (size_t)n);
    out[have + (size_t)n] = '\0';
    BIO_free(b);
}

static void key_pem(char *out, size_t cap, EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    assert_true((size_t)n + 1 < cap);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    BIO_free(b);
}

/* A self-signed pair for host with the given validity offsets. */
static void make_pair(pem_pair *pp, bool rsa, const char *host, long nb_off, long na_off)
{
    EVP_PKEY *k = new_key(rsa);
    X509 *x = make_cert(k, host, nb_off, na_off, NULL, NULL, 1);
    pp->cert[0] = '\0';
    append_cert_pem(pp->cert, sizeof pp->cert, x);
    key_pem(pp->key, sizeof pp->key, k);
    X509_free(x);
    EVP_PKEY_free(k);
}

static opc_err load(const char *cert, const char *key, opc__certkey **ck, opc__ebuf *eb)
{
    opc__ebuf_clear(eb);
    return opc__certkey_from_pem(cert, strlen(cert), key, strlen(key), "certificate file c.pem",
                                 "key file k.pem", opc__now_s(), ck, eb);
}

/* ---- PEM loading ---- */

static void test_load_valid_ec_and_rsa(void **state)
{
    (void)state;
    for (int rsa = 0; rsa <= 1; rsa++) {
        pem_pair pp;
        make_pair(&pp, rsa != 0, "svc.example", -60, 86400);
        opc__certkey *ck = NULL;
        opc__ebuf eb;
        assert_int_equal(load(pp.cert, pp.key, &ck, &eb), OPC_OK);
        assert_non_null(ck);
        assert_true(opc__certkey_matches_host(ck, "svc.example"));
        assert_false(opc__certkey_matches_host(ck, "other.example"));
        assert_string_equal(opc__certkey_serial(ck), "1");
        int64_t now = opc__now_s();
        assert_true(opc__certkey_not_after(ck) > now + 86000);
        assert_true(opc__certkey_not_before(ck) <= now);
        opc__certkey_ref(ck);
        opc__certkey_unref(ck);
        opc__certkey_unref(ck);
    }
}

static void expect_error(const char *cert, const char *key, opc_err want, const char *substr)
{
    opc__certkey *ck = NULL;
    opc__ebuf eb;
    opc_err rc = load(cert, key, &ck, &eb);
    if (rc != want || strstr(eb.msg, substr) == NULL || strchr(eb.msg, '\n') != NULL) {
        fail_msg("want %s with \"%s\", got %s: \"%s\"", opc_errname(want), substr,
                 opc_errname(rc), eb.msg);
    }
    assert_null(ck);
}

static void test_load_errors(void **state)
{
    (void)state;
    pem_pair a;
    pem_pair b;
    make_pair(&a, false, "a.example", -60, 86400);
    make_pair(&b, false, "b.example", -60, 86400);
    /* no PEM data at all, in either file */
    expect_error("just some text\n", a.key, OPC_ERR_PARSE,
                 "certificate file c.pem: no PEM certificate data");
    expect_error("", a.key, OPC_ERR_PARSE, "certificate file c.pem: no PEM certificate data");
    expect_error(a.cert, "nothing here", OPC_ERR_PARSE, "key file k.pem: no PEM private key data");
    /* the key where the certificate belongs */
    expect_error(a.key, a.key, OPC_ERR_PARSE, "certificate file c.pem: no PEM certificate data");
    /* a certificate where the key belongs */
    expect_error(a.cert, a.cert, OPC_ERR_PARSE, "key file k.pem: no PEM private key data");
    /* a damaged base64 body */
    char broken[sizeof a.cert];
    memcpy(broken, a.cert, sizeof broken);
    char *mid = strstr(broken, "\n") + 10;
    mid[0] = '*';
    mid[1] = '*';
    expect_error(broken, a.key, OPC_ERR_PARSE, "malformed PEM certificate");
    /* key of another certificate */
    expect_error(a.cert, b.key, OPC_ERR_KEY,
                 "key file k.pem does not match the certificate in certificate file c.pem");
    /* expired yesterday */
    pem_pair old;
    make_pair(&old, false, "old.example", -86400 * 10, -86400);
    expect_error(old.cert, old.key, OPC_ERR_RANGE, "certificate file c.pem: the certificate expired on ");
    /* an encrypted key */
    expect_error(a.cert,
                 "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
                 OPC_ERR_UNSUPPORTED, "encrypted");
}

static void test_load_chain_order_and_limit(void **state)
{
    (void)state;
    EVP_PKEY *ca = new_key(false);
    EVP_PKEY *leafk = new_key(false);
    X509 *cax = make_cert(ca, "Test CA", -60, 86400, NULL, NULL, 7);
    X509 *leaf = make_cert(leafk, "leaf.example", -60, 86400, ca, "Test CA", 8);
    char chain[16384] = "";
    append_cert_pem(chain, sizeof chain, leaf);
    append_cert_pem(chain, sizeof chain, cax);
    char key[4096];
    key_pem(key, sizeof key, leafk);
    opc__certkey *ck = NULL;
    opc__ebuf eb;
    assert_int_equal(load(chain, key, &ck, &eb), OPC_OK);
    assert_string_equal(opc__certkey_serial(ck), "8");
    opc__certkey_unref(ck);
    /* the CA first: its key is not the leaf key */
    char swapped[16384] = "";
    append_cert_pem(swapped, sizeof swapped, cax);
    append_cert_pem(swapped, sizeof swapped, leaf);
    expect_error(swapped, key, OPC_ERR_KEY, "does not match");
    /* more than OPC_TLS_CHAIN_MAX certificates */
    static char many[65536];
    many[0] = '\0';
    for (int i = 0; i <= OPC_TLS_CHAIN_MAX; i++) {
        append_cert_pem(many, sizeof many, i == 0 ? leaf : cax);
    }
    expect_error(many, key, OPC_ERR_TOO_LARGE, "more than");
    X509_free(cax);
    X509_free(leaf);
    EVP_PKEY_free(ca);
    EVP_PKEY_free(leafk);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_load_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/opc_tls_test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cert[256];
    char key[256];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    pem_pair pp;
    make_pair(&pp, false, "files.example", -60, 86400);
    write_file(cert, pp.cert, 0644);
    write_file(key, pp.key, 0600);
    opc__certkey *ck = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__certkey_load_files(cert, key, opc__now_s(), &ck, &eb), OPC_OK);
    opc__certkey_unref(ck);
    /* missing file: named, with the reason */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope.pem", dir);
    assert_int_equal(opc__certkey_load_files(missing, key, opc__now_s(), &ck, &eb), OPC_ERR_IO);
    assert_non_null(strstr(eb.msg, "certificate file "));
    assert_non_null(strstr(eb.msg, "nope.pem: cannot read: No such file or directory"));
    assert_int_equal(opc__certkey_load_files(cert, missing, opc__now_s(), &ck, &eb), OPC_ERR_IO);
    assert_non_null(strstr(eb.msg, "key file "));
    /* a directory is not a file */
    assert_int_equal(opc__certkey_load_files(dir, key, opc__now_s(), &ck, &eb), OPC_ERR_IO);
    assert_non_null(strstr(eb.msg, "not a regular file"));
    /* unreadable (only meaningful when not root) */
    if (geteuid() != 0) {
        chmod(key, 0);
        assert_int_equal(opc__certkey_load_files(cert, key, opc__now_s(), &ck, &eb), OPC_ERR_IO);
        assert_non_null(strstr(eb.msg, "Permission denied"));
    }
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

/* ---- the TLS-ALPN-01 certificate and the CSR ---- */

static void test_alpn_cert(void **state)
{
    (void)state;
    void *key = NULL;
    assert_int_equal(opc__tls_ec_key_new(&key), OPC_OK);
    const char *ka = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
    opc__certkey *ck = NULL;
    int64_t now = opc__now_s();
    assert_int_equal(opc__tls_alpn_cert("Acme.example", ka, key, now, &ck), OPC_OK);
    assert_true(opc__certkey_not_before(ck) <= now);
    assert_true(opc__certkey_not_after(ck) > now + 86400);
    /* Install it on an SSL to get the X509 back, then inspect. */
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL *ssl = SSL_new(ctx);
    assert_int_equal(opc__certkey_use(ck, ssl), 1);
    X509 *x = SSL_get_certificate(ssl);
    assert_non_null(x);
    /* exactly one dNSName SAN equal to the domain */
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(names);
    assert_int_equal(sk_GENERAL_NAME_num(names), 1);
    GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, 0);
    assert_int_equal(gn->type, GEN_DNS);
    assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.dNSName), "Acme.example");
    GENERAL_NAMES_free(names);
    /* the critical acmeIdentifier extension: OCTET STRING of SHA-256(ka) */
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    int pos = X509_get_ext_by_OBJ(x, oid, -1);
    assert_true(pos >= 0);
    X509_EXTENSION *ext = X509_get_ext(x, pos);
    assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
    ASN1_OCTET_STRING *val = X509_EXTENSION_get_data(ext);
    assert_int_equal(ASN1_STRING_length(val), 34);
    const unsigned char *d = ASN1_STRING_get0_data(val);
    assert_int_equal(d[0], 0x04);
    assert_int_equal(d[1], 32);
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_Digest(ka, strlen(ka), h, &hl, EVP_sha256(), NULL);
    assert_memory_equal(d + 2, h, 32);
    ASN1_OBJECT_free(oid);
    /* self-signed: verifies with its own key */
    assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    opc__certkey_unref(ck);
    EVP_PKEY_free(key);
}

static void test_csr(void **state)
{
    (void)state;
    void *key = NULL;
    assert_int_equal(opc__tls_ec_key_new(&key), OPC_OK);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(opc__tls_csr_der("csr.example", key, &der, &len), OPC_OK);
    const unsigned char *p = der;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
    assert_non_null(req);
    assert_int_equal((size_t)(p - der), len);
    assert_int_equal(X509_REQ_verify(req, key), 1);
    assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key), 1);
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    assert_non_null(exts);
    int idx = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
    assert_true(idx >= 0);
    GENERAL_NAMES *names = X509V3_EXT_d2i(sk_X509_EXTENSION_value(exts, idx));
    assert_int_equal(sk_GENERAL_NAME_num(names), 1);
    assert_string_equal(
        (const char *)ASN1_STRING_get0_data(sk_GENERAL_NAME_value(names, 0)->d.dNSName),
        "csr.example");
    GENERAL_NAMES_free(names);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    opc__free(der);
    char *pem = NULL;
    size_t pem_len = 0;
    assert_int_equal(opc__tls_key_pem(key, &pem, &pem_len), OPC_OK);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    opc__secret_free(pem, pem_len + 1);
    EVP_PKEY_free(key);
}

/* ---- handshakes against ctx.c over memory BIOs ---- */

typedef struct hs_result {
    bool ok;
    char alpn[32];
    long serial;
} hs_result;

/* One handshake; the client offers alpn (wire form, or NULL) and SNI. */
static hs_result handshake(SSL_CTX *server_ctx, const char *sni, const unsigned char *alpn,
                           unsigned alpn_len, int max_version)
{
    hs_result r;
    memset(&r, 0, sizeof r);
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cctx);
    if (max_version != 0) {
        SSL_CTX_set_min_proto_version(cctx, max_version);
        SSL_CTX_set_max_proto_version(cctx, max_version);
        SSL_CTX_set_security_level(cctx, 0);
        SSL_CTX_set_cipher_list(cctx, "ALL:@SECLEVEL=0");
    }
    SSL *c = SSL_new(cctx);
    SSL *s = SSL_new(server_ctx);
    BIO *cb = NULL;
    BIO *sb = NULL;
    BIO_new_bio_pair(&cb, 0, &sb, 0);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    if (sni != NULL) {
        SSL_set_tlsext_host_name(c, sni);
    }
    if (alpn != NULL) {
        SSL_set_alpn_protos(c, alpn, alpn_len);
    }
    int cdone = 0;
    int sdone = 0;
    for (int i = 0; i < 100 && !(cdone == 1 && sdone == 1); i++) {
        if (cdone != 1) {
            cdone = SSL_do_handshake(c);
            if (cdone <= 0 && SSL_get_error(c, cdone) != SSL_ERROR_WANT_READ) {
                break;
            }
        }
        if (sdone != 1) {
            sdone = SSL_do_handshake(s);
            if (sdone <= 0 && SSL_get_error(s, sdone) != SSL_ERROR_WANT_READ &&
                SSL_get_error(s, sdone) != SSL_ERROR_WANT_WRITE) {
                break;
            }
        }
    }
    r.ok = cdone == 1 && sdone == 1;
    if (r.ok) {
        const unsigned char *p = NULL;
        unsigned n = 0;
        SSL_get0_alpn_selected(c, &p, &n);
        if (n > 0 && n < sizeof r.alpn) { /* no ALPN: p is NULL */
            memcpy(r.alpn, p, n);
        }
        X509 *peer = SSL_get1_peer_certificate(c);
        r.serial = ASN1_INTEGER_get(X509_get0_serialNumber(peer));
        X509_free(peer);
    }
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    return r;
}

static opc__certkey *pair_with_serial(const char *host, long serial)
{
    EVP_PKEY *k = new_key(false);
    X509 *x = make_cert(k, host, -60, 86400, NULL, NULL, serial);
    opc__certkey *ck = NULL;
    assert_int_equal(opc__certkey_from_objects(x, k, NULL, &ck), OPC_OK);
    X509_free(x);
    EVP_PKEY_free(k);
    return ck;
}

static void test_handshake_selection(void **state)
{
    (void)state;
    opc__tls_certs *certs = NULL;
    assert_int_equal(opc__tls_certs_create(&certs), OPC_OK);
    void *ctx = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__tls_ctx_new(certs, &ctx, &eb), OPC_OK);
    static const unsigned char acme[] = "\x0a" "acme-tls/1";
    static const unsigned char h11[] = "\x08" "http/1.1";
    static const unsigned char both[] = "\x08" "http/1.1" "\x0a" "acme-tls/1";

    /* no certificate yet: every ordinary handshake fails */
    assert_false(handshake(ctx, "svc.example", NULL, 0, 0).ok);

    opc__certkey *cur = pair_with_serial("svc.example", 100);
    opc__tls_certs_set(certs, cur);
    opc__certkey_unref(cur);
    hs_result r = handshake(ctx, "svc.example", h11, sizeof h11 - 1, 0);
    assert_true(r.ok);
    assert_int_equal(r.serial, 100);
    assert_string_equal(r.alpn, "http/1.1");
    r = handshake(ctx, NULL, NULL, 0, 0); /* no SNI, no ALPN */
    assert_true(r.ok);
    assert_int_equal(r.serial, 100);
    assert_string_equal(r.alpn, "");

    /* acme-tls/1 without a pending challenge: the ordinary certificate */
    r = handshake(ctx, "svc.example", both, sizeof both - 1, 0);
    assert_true(r.ok);
    assert_int_equal(r.serial, 100);
    assert_string_equal(r.alpn, "http/1.1");

    /* with a challenge for the SNI name (matched without regard to case) */
    opc__certkey *ch = pair_with_serial("svc.example", 200);
    assert_int_equal(opc__tls_certs_set_challenge(certs, "svc.example", ch), OPC_OK);
    opc__certkey_unref(ch);
    r = handshake(ctx, "SVC.example", acme, sizeof acme - 1, 0);
    assert_true(r.ok);
    assert_int_equal(r.serial, 200);
    assert_string_equal(r.alpn, "acme-tls/1");
    /* another name, or no acme-tls/1: the ordinary certificate */
    assert_int_equal(handshake(ctx, "other.example", both, sizeof both - 1, 0).serial, 100);
    assert_int_equal(handshake(ctx, "svc.example", h11, sizeof h11 - 1, 0).serial, 100);

    /* swap the current certificate: the next handshake sees it */
    cur = pair_with_serial("svc.example", 300);
    opc__tls_certs_set(certs, cur);
    opc__certkey_unref(cur);
    assert_int_equal(handshake(ctx, "svc.example", NULL, 0, 0).serial, 300);
    opc__certkey *got = opc__tls_certs_get(certs);
    assert_string_equal(opc__certkey_serial(got), "12c");
    opc__certkey_unref(got);

    /* the challenge removed: acme-tls/1 is not negotiated any more */
    assert_int_equal(opc__tls_certs_set_challenge(certs, "svc.example", NULL), OPC_OK);
    r = handshake(ctx, "svc.example", acme, sizeof acme - 1, 0);
    assert_int_equal(r.serial, 300);
    assert_string_equal(r.alpn, "");

    /* TLS 1.1 and 1.0 are refused, 1.2 and 1.3 work */
    assert_false(handshake(ctx, "svc.example", NULL, 0, TLS1_1_VERSION).ok);
    assert_false(handshake(ctx, "svc.example", NULL, 0, TLS1_VERSION).ok);
    assert_true(handshake(ctx, "svc.example", NULL, 0, TLS1_2_VERSION).ok);
    assert_true(handshake(ctx, "svc.example", NULL, 0, TLS1_3_VERSION).ok);

    SSL_CTX_free(ctx);
    opc__tls_certs_free(certs);
}

static void test_challenge_slots(void **state)
{
    (void)state;
    opc__tls_certs *certs = NULL;
    assert_int_equal(opc__tls_certs_create(&certs), OPC_OK);
    opc__certkey *ck = pair_with_serial("x.example", 1);
    char name[32];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "n%d.example", i);
        assert_int_equal(opc__tls_certs_set_challenge(certs, name, ck), OPC_OK);
    }
    assert_int_equal(opc__tls_certs_set_challenge(certs, "full.example", ck), OPC_ERR_TOO_LARGE);
    /* replacing an existing name needs no new slot */
    assert_int_equal(opc__tls_certs_set_challenge(certs, "n3.example", ck), OPC_OK);
    assert_int_equal(opc__tls_certs_set_challenge(certs, "", ck), OPC_ERR_INVALID_ARG);
    opc__certkey_unref(ck);
    opc__tls_certs_free(certs); /* releases the challenges */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_valid_ec_and_rsa),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_chain_order_and_limit),
        cmocka_unit_test(test_load_files),
        cmocka_unit_test(test_alpn_cert),
        cmocka_unit_test(test_csr),
        cmocka_unit_test(test_handshake_selection),
        cmocka_unit_test(test_challenge_slots),
    };
    return cmocka_run_group_tests(tests, opc_test_group_setup, opc_test_group_teardown);
}
