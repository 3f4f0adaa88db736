/*
 * tls/certkey.c - a certificate chain and its private key, loaded from PEM
 * and checked once; then immutable and shared by reference count, so a
 * handshake in progress keeps the version it started with while a new one
 * is swapped in.
 */
#include "internal.h"

#include <stdatomic.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/strparse.h"
#include "core/time.h"
#include "tls/tls.h"

struct opc__certkey {
    atomic_int refs;
    X509 *leaf;
    STACK_OF(X509) *chain; /* intermediates, may be empty */
    EVP_PKEY *key;
    int64_t not_before;
    int64_t not_after;
    char serial[80];
};

/* ASN1_TIME -> Unix seconds. */
static bool asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return false;
    }
    int64_t days =
        opc__days_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
    *out = days * 86400 + (int64_t)tm.tm_hour * 3600 + (int64_t)tm.tm_min * 60 + tm.tm_sec;
    return true;
}

static void certkey_destroy(opc__certkey *ck)
{
    X509_free(ck->leaf);
    sk_X509_pop_free(ck->chain, X509_free);
    EVP_PKEY_free(ck->key);
    opc__free(ck);
}

/* Fill the derived fields; the objects are in place. */
static opc_err certkey_finish(opc__certkey *ck)
{
    if (!asn1_time_unix(X509_get0_notBefore(ck->leaf), &ck->not_before) ||
        !asn1_time_unix(X509_get0_notAfter(ck->leaf), &ck->not_after)) {
        return OPC_ERR_PARSE;
    }
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(ck->leaf), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    if (hex == NULL) {
        return OPC_ERR_NOMEM;
    }
    /* lower-case hex without leading zeros ("0" for zero) */
    const char *h = hex;
    while (h[0] == '0' && h[1] != '\0') {
        h++;
    }
    size_t i = 0;
    for (; h[i] != '\0' && i + 1 < sizeof ck->serial; i++) {
        ck->serial[i] = (char)opc__to_lower((unsigned char)h[i]);
    }
    ck->serial[i] = '\0';
    OPENSSL_free(hex);
    return OPC_OK;
}

static opc__certkey *certkey_new(void)
{
    opc__certkey *ck = opc__calloc(1, sizeof *ck);
    if (ck == NULL) {
        return NULL;
    }
    atomic_init(&ck->refs, 1);
    ck->chain = sk_X509_new_null();
    if (ck->chain == NULL) {
        opc__free(ck);
        return NULL;
    }
    return ck;
}

/* Every certificate of the PEM text; OPC_ERR_PARSE with the reason. */
static opc_err read_chain(const char *pem, size_t len, const char *name, opc__certkey *ck,
                          opc__ebuf *eb)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    opc_err rc = OPC_OK;
    int count = 0;
    for (;;) {
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (x == NULL) {
            unsigned long e = ERR_peek_last_error();
            bool eof = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
            ERR_clear_error();
            if (!eof) {
                rc = opc__fail(eb, OPC_ERR_PARSE, "%s: malformed PEM certificate (block %d)", name,
                               count + 1);
            }
            break;
        }
        if (++count > OPC_TLS_CHAIN_MAX) {
            X509_free(x);
            rc = opc__fail(eb, OPC_ERR_TOO_LARGE, "%s: more than %d certificates", name,
                           OPC_TLS_CHAIN_MAX);
            break;
        }
        if (ck->leaf == NULL) {
            ck->leaf = x;
        } else if (sk_X509_push(ck->chain, x) <= 0) {
            X509_free(x);
            rc = opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
            break;
        }
    }
    BIO_free(bio);
    if (rc == OPC_OK && ck->leaf == NULL) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "%s: no PEM certificate data", name);
    }
    return rc;
}

/* Refuse a passphrase prompt: encrypted keys are not supported. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* needle within p[0..n) (p need not be NUL-terminated). */
static bool contains(const char *p, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++) {
        if (memcmp(p + i, needle, m) == 0) {
            return true;
        }
    }
    return false;
}

static opc_err read_key(const char *pem, size_t len, const char *name, opc__certkey *ck,
                        opc__ebuf *eb)
{
    if (!contains(pem, len, "-----BEGIN")) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: no PEM private key data", name);
    }
    if (contains(pem, len, "ENCRYPTED")) {
        return opc__fail(eb, OPC_ERR_UNSUPPORTED,
                         "%s: the private key is encrypted (a passphrase is not supported)", name);
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    ck->key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (ck->key == NULL) {
        ERR_clear_error();
        return opc__fail(eb, OPC_ERR_PARSE, "%s: no PEM private key data", name);
    }
    int type = EVP_PKEY_get_base_id(ck->key);
    if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
        return opc__fail(eb, OPC_ERR_UNSUPPORTED, "%s: only RSA and EC keys are supported", name);
    }
    return OPC_OK;
}

opc_err opc__certkey_from_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                              size_t key_len, const char *cert_name, const char *key_name,
                              int64_t now, opc__certkey **out, opc__ebuf *eb)
{
    *out = NULL;
    if (cert_len > OPC_TLS_PEM_MAX || key_len > OPC_TLS_PEM_MAX) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "%s: larger than %zu bytes",
                         cert_len > OPC_TLS_PEM_MAX ? cert_name : key_name, OPC_TLS_PEM_MAX);
    }
    opc__certkey *ck = certkey_new();
    if (ck == NULL) {
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    opc_err rc = read_chain(cert_pem, cert_len, cert_name, ck, eb);
    if (rc == OPC_OK) {
        rc = read_key(key_pem, key_len, key_name, ck, eb);
    }
    if (rc == OPC_OK && X509_check_private_key(ck->leaf, ck->key) != 1) {
        ERR_clear_error();
        rc = opc__fail(eb, OPC_ERR_KEY, "%s does not match the certificate in %s", key_name,
                       cert_name);
    }
    if (rc == OPC_OK && certkey_finish(ck) != OPC_OK) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "%s: unreadable validity or serial number", cert_name);
    }
    if (rc == OPC_OK && ck->not_after <= now) {
        char when[OPC_TIME_STRLEN] = "?";
        (void)opc__time_format(ck->not_after, when);
        rc = opc__fail(eb, OPC_ERR_RANGE, "%s: the certificate expired on %s", cert_name, when);
    }
    ERR_clear_error();
    if (rc != OPC_OK) {
        certkey_destroy(ck);
        return rc;
    }
    *out = ck;
    return OPC_OK;
}

opc_err opc__certkey_load_files(const char *cert_path, const char *key_path, int64_t now,
                                opc__certkey **out, opc__ebuf *eb)
{
    *out = NULL;
    char cert_name[OPC_ERRBUF_SIZE / 2];
    char key_name[OPC_ERRBUF_SIZE / 2];
    (void)snprintf(cert_name, sizeof cert_name, "certificate file %s", cert_path);
    (void)snprintf(key_name, sizeof key_name, "key file %s", key_path);
    char *cert = NULL;
    char *key = NULL;
    size_t cert_len = 0;
    size_t key_len = 0;
    opc_err rc = opc__file_read(cert_path, OPC_TLS_PEM_MAX, &cert, &cert_len, eb);
    if (rc != OPC_OK) {
        opc__ebuf_prefix(eb, "%s", cert_name);
        return rc;
    }
    rc = opc__file_read(key_path, OPC_TLS_PEM_MAX, &key, &key_len, eb);
    if (rc != OPC_OK) {
        opc__ebuf_prefix(eb, "%s", key_name);
        opc__free(cert);
        return rc;
    }
    rc = opc__certkey_from_pem(cert, cert_len, key, key_len, cert_name, key_name, now, out, eb);
    opc__free(cert);
    opc__secret_free(key, key_len + 1);
    return rc;
}

opc_err opc__certkey_from_objects(void *leaf, void *key, void *chain, opc__certkey **out)
{
    *out = NULL;
    opc__certkey *ck = certkey_new();
    if (ck == NULL) {
        return OPC_ERR_NOMEM;
    }
    STACK_OF(X509) *in = chain;
    for (int i = 0; in != NULL && i < sk_X509_num(in); i++) {
        X509 *x = sk_X509_value(in, i);
        if (X509_up_ref(x) != 1 || sk_X509_push(ck->chain, x) <= 0) {
            certkey_destroy(ck);
            return OPC_ERR_NOMEM;
        }
    }
    if (X509_up_ref(leaf) != 1) {
        certkey_destroy(ck);
        return OPC_ERR_NOMEM;
    }
    ck->leaf = leaf;
    if (EVP_PKEY_up_ref(key) != 1) {
        certkey_destroy(ck);
        return OPC_ERR_NOMEM;
    }
    ck->key = key;
    opc_err rc = certkey_finish(ck);
    if (rc != OPC_OK) {
        certkey_destroy(ck);
        return rc;
    }
    *out = ck;
    return OPC_OK;
}

void opc__certkey_ref(opc__certkey *ck)
{
    if (ck != NULL) {
        atomic_fetch_add(&ck->refs, 1);
    }
}

void opc__certkey_unref(opc__certkey *ck)
{
    if (ck != NULL && atomic_fetch_sub(&ck->refs, 1) == 1) {
        certkey_destroy(ck);
    }
}

int64_t opc__certkey_not_before(const opc__certkey *ck)
{
    return ck->not_before;
}

int64_t opc__certkey_not_after(const opc__certkey *ck)
{
    return ck->not_after;
}

const char *opc__certkey_serial(const opc__certkey *ck)
{
    return ck->serial;
}

bool opc__certkey_matches_host(const opc__certkey *ck, const char *host)
{
    bool ok = X509_check_host(ck->leaf, host, 0, 0, NULL) == 1;
    ERR_clear_error();
    return ok;
}

int opc__certkey_use(const opc__certkey *ck, void *ssl)
{
    /* override = 1: replaces whatever the SSL inherited from its SSL_CTX. */
    int ok = SSL_use_cert_and_key(ssl, ck->leaf, ck->key, ck->chain, 1);
    if (ok != 1) {
        ERR_clear_error();
    }
    return ok;
}
