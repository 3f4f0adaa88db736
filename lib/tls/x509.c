/*
 * tls/x509.c - what the ACME client makes with OpenSSL: P-256 keys, the
 * TLS-ALPN-01 challenge certificate (RFC 8737 §3) and the CSR of the
 * finalize request (RFC 8555 §7.4).
 */
#include "internal.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/rand.h"
#include "tls/tls.h"

/* id-pe-acmeIdentifier (RFC 8737 §6.1). */
#define ACME_IDENTIFIER_OID "1.3.6.1.5.5.7.1.31"

opc_err opc__tls_ec_key_new(void **out)
{
    *out = NULL;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (k == NULL) {
        ERR_clear_error();
        return OPC_ERR_CRYPTO;
    }
    *out = k;
    return OPC_OK;
}

opc_err opc__tls_key_pem(void *key, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    BIO *bio = BIO_new(BIO_s_secmem());
    if (bio == NULL) {
        return OPC_ERR_NOMEM;
    }
    opc_err rc = OPC_ERR_CRYPTO;
    char *data = NULL;
    if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1) {
        long n = BIO_get_mem_data(bio, &data);
        if (n > 0 && data != NULL) {
            *out = opc__strndup(data, (size_t)n);
            *out_len = (size_t)n;
            rc = *out != NULL ? OPC_OK : OPC_ERR_NOMEM;
        }
    }
    BIO_free(bio); /* secure memory: wiped */
    ERR_clear_error();
    return rc;
}

/* subjectAltName = DNS:domain, as an extension of the given criticality. */
static X509_EXTENSION *san_ext(const char *domain)
{
    GENERAL_NAMES *names = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    X509_EXTENSION *ext = NULL;
    if (names == NULL || gn == NULL || ia5 == NULL ||
        ASN1_STRING_set(ia5, domain, (int)strlen(domain)) != 1) {
        goto done;
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
    ia5 = NULL;
    if (sk_GENERAL_NAME_push(names, gn) <= 0) {
        goto done;
    }
    gn = NULL;
    ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names);
done:
    ASN1_IA5STRING_free(ia5);
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(names);
    return ext;
}

/* The critical acmeIdentifier extension: extnValue = DER(OCTET STRING(h)). */
static X509_EXTENSION *acme_ext(const unsigned char hash[32])
{
    unsigned char der[34];
    der[0] = 0x04; /* OCTET STRING */
    der[1] = 32;
    memcpy(der + 2, hash, 32);
    ASN1_OBJECT *obj = OBJ_txt2obj(ACME_IDENTIFIER_OID, 1);
    ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    if (obj != NULL && val != NULL && ASN1_OCTET_STRING_set(val, der, (int)sizeof der) == 1) {
        ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, val);
    }
    ASN1_OBJECT_free(obj);
    ASN1_OCTET_STRING_free(val);
    return ext;
}

static bool set_cn(X509_NAME *name, const char *domain)
{
    return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)domain,
                                      -1, -1, 0) == 1;
}

opc_err opc__tls_alpn_cert(const char *domain, const char *key_authorization, void *key,
                           int64_t now, opc__certkey **out)
{
    *out = NULL;
    unsigned char hash[32];
    unsigned int hlen = 0;
    if (EVP_Digest(key_authorization, strlen(key_authorization), hash, &hlen, EVP_sha256(),
                   NULL) != 1 ||
        hlen != sizeof hash) {
        ERR_clear_error();
        return OPC_ERR_CRYPTO;
    }
    unsigned char serial[16];
    opc_err rc = opc__rand_bytes(serial, sizeof serial);
    if (rc != OPC_OK) {
        return rc;
    }
    serial[0] &= 0x7f; /* positive */
    rc = OPC_ERR_CRYPTO;
    time_t t = (time_t)now;
    X509 *x = X509_new();
    X509_EXTENSION *san = san_ext(domain);
    X509_EXTENSION *acme = acme_ext(hash);
    BIGNUM *bn = BN_bin2bn(serial, (int)sizeof serial, NULL);
    ASN1_INTEGER *sn = bn != NULL ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    if (x == NULL || san == NULL || acme == NULL || sn == NULL || X509_set_version(x, 2) != 1 ||
        X509_set_serialNumber(x, sn) != 1 ||
        X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, &t) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), 7, 0, &t) == NULL ||
        !set_cn(X509_get_subject_name(x), domain) ||
        X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 || X509_set_pubkey(x, key) != 1 ||
        X509_add_ext(x, san, -1) != 1 || X509_add_ext(x, acme, -1) != 1 ||
        X509_sign(x, key, EVP_sha256()) <= 0) {
        goto done;
    }
    rc = opc__certkey_from_objects(x, key, NULL, out);
done:
    ERR_clear_error();
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    X509_EXTENSION_free(san);
    X509_EXTENSION_free(acme);
    X509_free(x);
    return rc;
}

opc_err opc__tls_csr_der(const char *domain, void *key, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    opc_err rc = OPC_ERR_CRYPTO;
    X509_REQ *req = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *san = san_ext(domain);
    unsigned char *der = NULL;
    if (req == NULL || exts == NULL || san == NULL || X509_REQ_set_version(req, 0) != 1 ||
        !set_cn(X509_REQ_get_subject_name(req), domain) || X509_REQ_set_pubkey(req, key) != 1 ||
        sk_X509_EXTENSION_push(exts, san) <= 0) {
        goto done;
    }
    san = NULL; /* owned by exts */
    if (X509_REQ_add_extensions(req, exts) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
        goto done;
    }
    int n = i2d_X509_REQ(req, &der);
    if (n <= 0) {
        goto done;
    }
    *out = opc__memdup(der, (size_t)n);
    *out_len = (size_t)n;
    rc = *out != NULL ? OPC_OK : OPC_ERR_NOMEM;
done:
    ERR_clear_error();
    OPENSSL_free(der);
    X509_EXTENSION_free(san);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    return rc;
}
