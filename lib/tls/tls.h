/*
 * tls/tls.h - HTTPS for connect-api: certificates, the TLS listener and
 * the ACME client (RFC 8555, TLS-ALPN-01 of RFC 8737).
 *
 * Depends on core and crypto only (plus OpenSSL and libcurl); lib/rest
 * drives it through opc__tls_* below. docs/tls.md has the design:
 *
 *  - certkey.c  a certificate chain and its key, loaded from PEM and
 *               checked (one refcounted, immutable object per version);
 *  - x509.c     keys, the acmeIdentifier challenge certificate, CSRs;
 *  - ctx.c      the SSL_CTX: protocol and cipher policy, and the
 *               callbacks that pick the certificate per handshake;
 *  - listener.c the TLS listener: accepts, handshakes, and relays the
 *               plaintext to the HTTP listener (civetweb) over loopback;
 *  - acme_msg.c JWS and the parsers of ACME responses (fuzzed);
 *  - acme.c     the ACME protocol over libcurl;
 *  - store.c    the files in the data directory;
 *  - tls.c      the manager: its background thread reloads files and
 *               obtains and renews certificates.
 */
#ifndef OPC_TLS_TLS_H
#define OPC_TLS_TLS_H

#include "core/err.h"
#include "core/httpd.h"
#include "internal.h"

/* ---- certkey.c: a certificate chain with its private key ---- */

/* Largest PEM file read (certificate chain or key). */
#define OPC_TLS_PEM_MAX ((size_t)256 * 1024)
/* Most certificates in a chain. */
#define OPC_TLS_CHAIN_MAX 10

typedef struct opc__certkey opc__certkey;

/*
 * Load and check a chain (leaf first) and its key from PEM text. cert_name
 * and key_name name the sources in messages ("certificate file /x.pem").
 * Errors (one line in eb, naming the source and the problem):
 * OPC_ERR_PARSE no PEM data / bad PEM, OPC_ERR_KEY key and certificate do
 * not match, OPC_ERR_RANGE expired at now (Unix seconds), OPC_ERR_TOO_LARGE.
 */
opc_err opc__certkey_from_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                              size_t key_len, const char *cert_name, const char *key_name,
                              int64_t now, opc__certkey **out, opc__ebuf *eb);
/* As above from two files; OPC_ERR_IO when a file cannot be read. */
opc_err opc__certkey_load_files(const char *cert_path, const char *key_path, int64_t now,
                                opc__certkey **out, opc__ebuf *eb);
/* From OpenSSL objects (X509 *, EVP_PKEY *, STACK_OF(X509) * or NULL):
 * takes new references, the caller keeps its own. */
opc_err opc__certkey_from_objects(void *leaf, void *key, void *chain, opc__certkey **out);

void opc__certkey_ref(opc__certkey *ck);
void opc__certkey_unref(opc__certkey *ck); /* NULL ok */

int64_t opc__certkey_not_before(const opc__certkey *ck); /* Unix seconds */
int64_t opc__certkey_not_after(const opc__certkey *ck);
const char *opc__certkey_serial(const opc__certkey *ck); /* lower-case hex, no leading 0 */
/* True when the leaf is valid for DNS name host (SAN, or CN without SANs). */
bool opc__certkey_matches_host(const opc__certkey *ck, const char *host);
/* Install leaf, chain and key on an SSL (SSL *); 1 on success. */
int opc__certkey_use(const opc__certkey *ck, void *ssl);

/* ---- x509.c: keys, the challenge certificate, CSRs ---- */

/* A fresh P-256 key (EVP_PKEY *). */
opc_err opc__tls_ec_key_new(void **out);
/* PEM of a private key (PKCS#8, unencrypted); wipe with opc__secret_free. */
opc_err opc__tls_key_pem(void *key, char **out, size_t *out_len);
/*
 * The TLS-ALPN-01 certificate (RFC 8737 §3): self-signed with key, one
 * dNSName SAN = domain, and the critical id-pe-acmeIdentifier extension
 * whose value is the DER OCTET STRING of SHA-256(key_authorization).
 */
opc_err opc__tls_alpn_cert(const char *domain, const char *key_authorization, void *key,
                           int64_t now, opc__certkey **out);
/* A CSR (DER) for domain (CN and one dNSName SAN), signed by key. */
opc_err opc__tls_csr_der(const char *domain, void *key, unsigned char **out, size_t *out_len);

/* ---- ctx.c: the SSL_CTX and the certificate picked per handshake ---- */

/* The ALPN protocol of RFC 8737, as on the wire (length-prefixed). */
#define OPC_ACME_TLS_ALPN "\x0a" "acme-tls/1"

typedef struct opc__tls_certs opc__tls_certs; /* current cert + challenges */

opc_err opc__tls_certs_create(opc__tls_certs **out);
void opc__tls_certs_free(opc__tls_certs *c);
/* Swap the served certificate (takes a new reference; NULL clears). */
void opc__tls_certs_set(opc__tls_certs *c, opc__certkey *ck);
/* A new reference to the served certificate, or NULL. */
opc__certkey *opc__tls_certs_get(opc__tls_certs *c);
/* Answer acme-tls/1 handshakes for domain with ck (NULL removes). */
opc_err opc__tls_certs_set_challenge(opc__tls_certs *c, const char *domain, opc__certkey *ck);

/*
 * A server SSL_CTX (SSL_CTX *): TLS 1.2 minimum (1.3 preferred), ECDHE
 * with AEAD ciphers only, no compression, no renegotiation, tickets on;
 * per handshake: acme-tls/1 with a challenge for the SNI name gets the
 * challenge certificate, everything else the current one.
 */
opc_err opc__tls_ctx_new(opc__tls_certs *c, void **out, opc__ebuf *eb);

/* ---- tls.c: the manager ---- */

typedef struct opc__tls opc__tls;

typedef struct opc__acme_config {
    const char *domain;        /* DNS name to certify */
    const char *directory_url; /* https:// URL of the ACME directory; NULL or "":
                                * OPC_ACME_DIRECTORY_LETSENCRYPT */
    const char *ca_file;       /* PEM trust for the directory's TLS, or NULL */
    const char *email;         /* account contact, or NULL */
    const char *data_dir;      /* where account, key and certificate live */
} opc__acme_config;

opc_err opc__tls_create(opc__tls **out);
/* Own certificate: load and check the files now (errors as certkey). */
opc_err opc__tls_set_files(opc__tls *t, const char *cert_path, const char *key_path,
                           opc__ebuf *eb);
/* ACME: validate and copy the configuration; nothing is fetched yet. */
opc_err opc__tls_set_acme(opc__tls *t, const opc__acme_config *cfg, opc__ebuf *eb);
bool opc__tls_configured(const opc__tls *t);
/*
 * Before the HTTPS listener starts: load a stored ACME certificate, make
 * the SSL_CTX (the SNI/ALPN certificate choice of opc__tls_ctx_new) and
 * hand it out in *ssl_ctx (SSL_CTX *, owned by t, valid until
 * opc__tls_free). The listener serves every handshake with it.
 */
opc_err opc__tls_prepare(opc__tls *t, void **ssl_ctx, opc__ebuf *eb);
/* Once the listener serves on addr:port: start the background thread
 * (file checks or ACME orders, which need the port up). */
opc_err opc__tls_run(opc__tls *t, const char *addr, int port, opc__ebuf *eb);
/*
 * Start cfg's listeners (opc__httpd_start: *ctx, *port, *tls_port) with
 * t's HTTPS on https_port (0 any free port) when t is configured, else
 * plain HTTP only (t may be NULL): opc__tls_prepare, the listeners, then
 * opc__tls_run on the bound HTTPS port. Sets cfg->tls_port and
 * cfg->ssl_ctx. On failure the caller stops what started (opc__tls_stop,
 * opc__httpd_stop).
 */
opc_err opc__tls_httpd_start(opc__tls *t, int https_port, opc__httpd_config *cfg,
                             struct mg_context **ctx, int *port, int *tls_port, opc__ebuf *eb);
int opc__tls_port(const opc__tls *t); /* -1 when not running */
/* Re-read the files / re-check the ACME certificate now (any thread). */
void opc__tls_reload(opc__tls *t);
void opc__tls_stop(opc__tls *t);
void opc__tls_free(opc__tls *t);

#endif
